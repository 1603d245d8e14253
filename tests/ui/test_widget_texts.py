"""What the consent widgets say, computed without a window: the text of a consent dialog, what a
policy update pauses, and the state labels."""

from __future__ import annotations

import pytest

from tests.sdk.policies import demo_policy, edited_policy, new_contact


@pytest.fixture(autouse=True)
def _kivy_quiet(monkeypatch):
    monkeypatch.setenv("KIVY_NO_ARGS", "1")
    monkeypatch.setenv("KIVY_LOG_MODE", "PYTHON")


@pytest.fixture
def privacy(tmp_path):
    from sdk import PrivacySdk, SdkConfig

    with PrivacySdk.open(SdkConfig(data_dir=tmp_path / "sdk"), demo_policy()) as sdk:
        sdk.agree(sync=False)
        yield sdk


def _reopen(sdk, policy):
    from sdk import PrivacySdk, SdkConfig

    return PrivacySdk.open(SdkConfig(data_dir=sdk.config.data_dir), policy)


def test_a_separate_scope_gets_the_sdks_own_text(privacy):
    from sdk.ui.kivy.separate_consent import consent_text

    text = consent_text(privacy, "item:id_number")
    assert text == privacy.separate_consent("item:id_number")
    assert text.title == "单独同意：身份证号码"


def test_a_purpose_without_separate_consent_gets_a_dialog_of_the_same_shape(privacy):
    from sdk.ui.kivy.separate_consent import consent_text

    text = consent_text(privacy, "notifications")
    assert (text.scope, text.title) == ("purpose:notifications", "同意：服务通知")
    assert "通过邮件或短信发送与服务有关的通知" in text.body[0]
    assert "「服务通知」无法使用" in text.body[1]


@pytest.mark.parametrize("scope", ["policy", "guardian", "purpose:account", "purpose:nope"])
def test_scopes_no_dialog_can_ask_are_refused(privacy, scope):
    from sdk.errors import ConsentError
    from sdk.ui.kivy.separate_consent import consent_text

    with pytest.raises(ConsentError):
        consent_text(privacy, scope)


def test_a_new_and_a_changed_purpose_are_paused_until_agreed(privacy):
    from sdk.ui.kivy.policy_update import update_effects
    from tests.sdk.policies import add_purpose, longer_face_video_retention

    privacy.grant("item:face_video")
    newer = edited_policy(lambda t: longer_face_video_retention(add_purpose(t)))
    with _reopen(privacy, newer) as sdk:
        effects = update_effects(sdk, sdk.policy_update())
    assert effects.paused == ("使用情况分析",)  # new; face video is separate consent
    assert effects.reask == ("面部视频",)
    assert "客服" in effects.covers and "使用情况分析" in effects.covers
    assert effects.basic_only is False


def test_a_contact_change_leaves_only_basic_mode(privacy):
    from sdk.ui.kivy.policy_update import update_effects

    newer = edited_policy(new_contact)
    with _reopen(privacy, newer) as sdk:
        assert sdk.mode == "undecided"  # the prompt asks again; the dialog would say so
        assert update_effects(sdk, sdk.policy_update()).basic_only is True


def test_state_labels_name_the_time_only_of_a_decision(privacy):
    from sdk.ui.kivy.common import status_text

    assert status_text(privacy.state("customer_service")).startswith("已同意（")
    assert status_text(privacy.state("marketing")) == "未同意"


def test_a_major_change_to_a_separate_consent_alone_never_says_nothing_is_paused(privacy):  # OBL-UPD-2
    from sdk.ui.kivy.policy_update import consequences, update_effects
    from tests.sdk.policies import longer_face_video_retention

    privacy.grant("item:face_video")
    with _reopen(privacy, edited_policy(longer_face_video_retention)) as sdk:
        effects = update_effects(sdk, sdk.policy_update())
        assert (effects.paused, effects.reask) == ((), ("面部视频",))  # the reviewer's case
        text = "".join(consequences(effects))
    assert "没有暂停" not in text
    assert "「面部视频」受变更影响，已暂停" in text  # which separate consent is asked again


@pytest.mark.parametrize("paused", [(), ("使用情况分析",)])
@pytest.mark.parametrize("reask", [(), ("面部视频",)])
@pytest.mark.parametrize("basic_only", [False, True])
def test_the_update_dialog_says_what_is_paused_or_that_nothing_is_never_both(paused, reask, basic_only):  # OBL-UPD-2
    from sdk.ui.kivy.policy_update import UpdateEffects, consequences

    paragraphs = consequences(UpdateEffects(paused, reask, ("客服",), basic_only))
    text = "".join(paragraphs)
    nothing_paused = "没有暂停" in text
    assert nothing_paused == (not paused and not reask and not basic_only)
    if nothing_paused:
        assert "已暂停" not in text and "保持暂停" not in text
    if paused and not basic_only:
        assert "以下用途的处理保持暂停：「使用情况分析」" in text
    if reask:  # said apart from the paused purposes, in its own paragraph
        assert [p for p in paragraphs if "面部视频" in p and "使用情况分析" not in p]
    assert not any("使用情况分析" in p for p in paragraphs) or paused


def test_email_addresses_and_urls_stay_on_one_line_in_reflowed_text():
    from sdk.policy.document import Span
    from sdk.ui.kivy.markup import RenderedBlock, line_breaks

    text = "如有疑问请发邮件至 privacy@demo-esign.example 或访问 https://demo-esign.example/privacy-centre/contact-us 联系我们。"
    block = RenderedBlock("paragraph", text, 15, 0, None, 0, text, (Span(text),))
    runs = [(text.index(s), text.index(s) + len(s)) for s in
            ("privacy@demo-esign.example", "https://demo-esign.example/privacy-centre/contact-us")]
    def measure(run: str, _bold: bool) -> float:  # 8 px a character
        return 8.0 * len(run)

    for width in range(8 * 52, 8 * 14, -8):  # every width at which each address still fits
        breaks = line_breaks(block, width, measure)
        inside = [b for b in breaks for start, end in runs if start < b < end]
        assert not inside, (width, [text[b - 8:b] + "|" + text[b:b + 8] for b in inside])


def test_every_permission_status_and_answer_reads_in_chinese():
    from sdk.permissions import PERMISSIONS, STATUSES
    from sdk.ui.kivy.permissions import (
        ANSWER_TEXT,
        PERMISSION_NAMES,
        PERMISSION_STATUS_TEXT,
    )

    assert set(PERMISSION_STATUS_TEXT) == set(STATUSES)
    assert set(PERMISSION_NAMES) == set(PERMISSIONS)
    assert set(ANSWER_TEXT) == {"granted", "denied", "permanently_denied", "revoked"}


def test_a_permission_row_says_status_when_asked_the_answer_and_the_quiet_window():
    import datetime as dt

    from sdk.permissions import PermissionState, PermissionStatus
    from sdk.ui.kivy.common import format_time
    from sdk.ui.kivy.permissions import state_lines

    until = dt.datetime(2026, 12, 3, 8, 0, 5, tzinfo=dt.timezone.utc)
    state = PermissionState(
        "camera", PermissionStatus.DENIED, "2026-12-01T08:00:00Z", "revoked",
        "2026-12-01T08:00:05Z", until,
        "相机：用于实名认证（面部视频），仅在「实名签署」「刷脸签署」中申请",
        ("realname_signing", "face_signing"))
    lines = state_lines(state, {"realname_signing": "实名签署", "face_signing": "刷脸签署"})
    assert lines["name"] == "相机" and lines["status"] == "已拒绝"
    assert lines["purpose"] == "用于实名认证（面部视频），仅在「实名签署」「刷脸签署」中申请"
    assert lines["features"] == "「实名签署」、「刷脸签署」"
    assert lines["asked"] == format_time("2026-12-01T08:00:00Z")
    assert lines["answer"] == f"在设置中关闭（{format_time('2026-12-01T08:00:05Z')}）"
    assert format_time(until.isoformat()) in lines["quiet"] and "关闭后" in lines["quiet"]
    assert lines["hint"] == ""


def test_a_permission_never_asked_and_one_only_settings_can_change():
    from sdk.permissions import PermissionState, PermissionStatus
    from sdk.ui.kivy.permissions import state_lines

    never = state_lines(PermissionState("phone_state", PermissionStatus.NOT_DETERMINED,
                                        purpose="电话（设备信息）：用于账号和服务安全（设备标识符），不会向您申请"))
    assert (never["status"], never["asked"], never["answer"], never["quiet"]) == (
        "未询问", "从未询问", "无", "")
    assert never["purpose"].startswith("用于账号和服务安全")
    assert never["features"] == "无（本应用不会申请此权限）"
    stuck = state_lines(PermissionState("photos", PermissionStatus.PERMANENTLY_DENIED,
                                        last_answer="permanently_denied",
                                        purpose="相册：用于实名认证（人工审核材料）"),
                        backend="android")
    assert stuck["status"] == "已拒绝（不再询问）" and "系统设置" in stuck["hint"]
    assert stuck["purpose"] == "用于实名认证（人工审核材料）"


def test_a_permanently_denied_row_never_promises_to_ask_again():  # OBL-PERM-4
    """The system shows no prompt any more: only the settings can help, so no quiet-window line
    saying the app will ask again later; an answer with no prompt shown says so."""
    import datetime as dt

    from sdk.permissions import PermissionState, PermissionStatus
    from sdk.ui.kivy.permissions import state_lines

    until = dt.datetime(2026, 12, 3, 8, 0, 5, tzinfo=dt.timezone.utc)
    stuck = state_lines(PermissionState(
        "photos", PermissionStatus.PERMANENTLY_DENIED, None, "permanently_denied",
        "2026-12-01T08:00:05Z", until, "相册：用于实名认证（人工审核材料）", ("manual_review",)),
        backend="android")
    assert stuck["quiet"] == "" and "系统设置" in stuck["hint"]
    assert stuck["asked"] == "未弹出系统授权框"


# -- where a permission is switched, per platform: system settings (phone) or the app (desktop) --

#: The texts Android and iOS keep (the system settings switch the permission).
PHONE_HINT = "系统不会再弹出授权框；如需使用，请到系统设置中开启。"
PHONE_RATIONALE_END = "您可随时在系统设置中开启或关闭该权限。"


def _stuck(permission="camera", last_answer=None):
    from sdk.permissions import PermissionState, PermissionStatus

    return PermissionState(permission, PermissionStatus.PERMANENTLY_DENIED,
                           last_answer=last_answer, purpose="相机：用于实名认证（面部视频）")


@pytest.mark.parametrize("backend", ["android", "ios", "scripted"])
def test_on_a_phone_permanently_denied_keeps_the_system_settings_hint(backend):  # OBL-PERM-3
    from sdk.ui.kivy.permissions import state_lines

    assert state_lines(_stuck(), backend=backend)["hint"] == PHONE_HINT


def test_on_a_desktop_the_os_camera_switch_points_to_the_os_privacy_settings():  # OBL-PERM-3
    """A desktop's permanently denied camera with no such answer on record is the macOS /
    Windows camera privacy switch: the OS settings are where it is switched on."""
    from sdk.permissions.desktop import DesktopBackend
    from sdk.ui.kivy.permissions import state_lines

    hint = state_lines(_stuck(), backend=DesktopBackend())["hint"]
    assert hint.startswith("已在系统的隐私设置中关闭相机访问") and "系统不会再弹出授权框" not in hint


def test_on_a_desktop_do_not_ask_again_points_to_the_apps_own_permission_page():  # OBL-PERM-3
    from sdk.permissions.desktop import DesktopBackend
    from sdk.ui.kivy.permissions import state_lines

    hint = state_lines(_stuck("photos", "permanently_denied"), backend=DesktopBackend())["hint"]
    assert "本应用内的权限管理" in hint and "系统设置" not in hint


def test_without_a_backend_the_hint_follows_the_platform(monkeypatch):  # OBL-PERM-3
    from sdk.permissions import _platform
    from sdk.ui.kivy.permissions import state_lines

    monkeypatch.setattr(_platform, "on_android", lambda: False)
    monkeypatch.setattr(_platform, "on_ios", lambda: False)
    assert "本应用内的权限管理" in state_lines(_stuck("photos", "permanently_denied"))["hint"]
    monkeypatch.setattr(_platform, "on_android", lambda: True)
    assert state_lines(_stuck("photos", "permanently_denied"))["hint"] == PHONE_HINT


def test_an_unknown_backend_name_for_the_texts_is_a_config_error():
    from sdk.errors import ConfigError
    from sdk.ui.kivy.permissions import state_lines

    with pytest.raises(ConfigError, match="unknown permission backend 'symbian'"):
        state_lines(_stuck(), backend="symbian")


def test_the_rationale_on_a_phone_keeps_the_system_settings_text(privacy):  # OBL-PERM-3
    from sdk.permissions.facade import Permissions
    from sdk.permissions.scripted import ScriptedBackend

    privacy.permissions = Permissions(privacy, ScriptedBackend())
    body = privacy.permissions.rationale("camera", "face_signing").body
    assert body[-1] == "如您拒绝，仅「刷脸签署」无法使用，其他功能不受影响；" + PHONE_RATIONALE_END


def test_the_rationale_on_a_desktop_points_to_the_apps_own_permission_page(privacy):  # OBL-PERM-3
    from sdk.permissions.desktop import DesktopBackend
    from sdk.permissions.facade import Permissions

    privacy.permissions = Permissions(privacy, DesktopBackend(camera_probe=lambda: ("present", "")))
    last = privacy.permissions.rationale("camera", "face_signing").body[-1]
    assert "本应用内的权限管理中关闭该权限" in last and "系统设置" not in last
    assert "再次使用「刷脸签署」时会重新征求您的同意" in last
