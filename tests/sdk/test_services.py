"""Customer service, notification channel, invitations and notices (sdk/rights/services.py):
validation, the consent gate and the service-ending gate, on the real demo policy with real
SQLite files, no network (no endpoint configured: anything that tried to send would raise
ConfigError)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sdk import (
    ConfigError,
    ConsentError,
    ConsentRequired,
    InvalidInput,
    PrivacySdk,
    SdkConfig,
    ServiceEnded,
    TransportError,
)
from sdk.rights.services import (
    NOTICES_FILENAME,
    SERVICE_ENDING_FILENAME,
    Notice,
)
from sdk.testing.keystore import MemoryKeystore

from .clock import Clock
from .policies import demo_policy

PHONE = "13900139000"
EMAIL = "alice@example.com"
BREACH = {"notice_id": "n-breach-1", "kind": "breach", "published_at": "2026-12-01T08:00:00Z",
          "title": "关于个人信息安全事件的告知", "what_happened": "部分账号数据被未授权访问。",
          "impact": "可能泄露您的登录账号。", "actions_taken": "已修复漏洞并报告主管部门。",
          "how_to_protect": "请修改密码，警惕诈骗短信。", "remedies": "如有损失请联系客服。",
          "acknowledged": False}
ENDING = {"notice_id": "n-end-1", "kind": "service_ending", "published_at": "2026-12-01T08:00:00Z",
          "title": "服务终止公告", "ends_at": "2027-01-31T16:00:00Z",
          "data_handling": "服务终止后 30 日内删除或匿名化您的个人信息。", "acknowledged": False}


def open_sdk(data_dir: Path, *, agree: bool = True) -> PrivacySdk:
    privacy = PrivacySdk.open(SdkConfig(data_dir=data_dir, clock=Clock()), demo_policy(),
                              keystore=MemoryKeystore())
    if agree:
        privacy.agree(sync=False)
    return privacy


@pytest.fixture
def privacy(tmp_path: Path):
    with open_sdk(tmp_path / "data") as sdk:
        yield sdk


def keep_service_ending(data_dir: Path) -> None:
    """What ``privacy.notices.fetch()`` leaves on disk when it received a service-ending notice."""
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / SERVICE_ENDING_FILENAME).write_text(json.dumps(ENDING, ensure_ascii=False),
                                                    encoding="utf-8")


def collected(privacy: PrivacySdk) -> list[tuple[str, str]]:
    return [(e.item, e.outcome) for e in privacy.audit.entries()]


# -- invitations (OBL-PHONE-1) ----------------------------------------------------------------


def test_inviting_without_the_attestation_is_refused_before_anything(privacy) -> None:  # OBL-PHONE-1
    with pytest.raises(InvalidInput) as info:
        privacy.invite_signer("lease", PHONE, attested=False)
    assert info.value.field == "attested"
    assert "已取得对方同意" in str(info.value)
    assert collected(privacy) == []


def test_a_truthy_attestation_that_is_not_true_is_refused(privacy) -> None:  # OBL-PHONE-1
    with pytest.raises(InvalidInput) as info:
        privacy.invite_signer("lease", PHONE, attested="yes")  # type: ignore[arg-type]
    assert info.value.field == "attested"


def test_an_invalid_counter_signer_phone_is_refused_without_echoing_it(privacy) -> None:  # OBL-PHONE-1
    with pytest.raises(InvalidInput) as info:
        privacy.invite_signer("lease", "12345", attested=True)
    assert info.value.field == "phone" and "12345" not in str(info.value)
    assert collected(privacy) == []


def test_an_email_is_not_a_counter_signer_phone(privacy) -> None:  # OBL-PHONE-1
    with pytest.raises(InvalidInput) as info:
        privacy.invite_signer("lease", EMAIL, attested=True)
    assert info.value.field == "phone"


def test_inviting_needs_the_invite_signer_consent(privacy) -> None:  # OBL-PHONE-1
    privacy.withdraw("invite_signer")
    with pytest.raises(ConsentRequired) as info:
        privacy.invite_signer("lease", PHONE, attested=True)
    assert info.value.scopes == ("purpose:invite_signer",)
    assert collected(privacy) == [("counter_signer_phone", "refused")]


# -- customer service (OBL-CS-1) --------------------------------------------------------------


def test_an_empty_support_message_is_refused(privacy) -> None:  # OBL-CS-1
    with pytest.raises(InvalidInput) as info:
        privacy.support.send("   ")
    assert info.value.field == "text"


def test_a_support_message_over_2000_characters_is_refused(privacy) -> None:  # OBL-CS-1
    with pytest.raises(InvalidInput) as info:
        privacy.support.send("字" * 2001)
    assert info.value.field == "text" and "2000" in str(info.value)


def test_an_invalid_support_contact_is_refused_without_echoing_it(privacy) -> None:  # OBL-CS-1
    with pytest.raises(InvalidInput) as info:
        privacy.support.send("合同无法下载", contact="call me maybe")
    assert info.value.field == "contact" and "call me" not in str(info.value)
    assert collected(privacy) == []


def test_a_support_message_needs_the_customer_service_consent(privacy) -> None:  # OBL-CS-1
    privacy.withdraw("customer_service")
    with pytest.raises(ConsentRequired) as info:
        privacy.support.send("合同无法下载")
    assert info.value.scopes == ("purpose:customer_service",)
    message = str(info.value)
    assert "privacy.grant('customer_service')" in message and "Nothing was sent" in message
    assert "合同" not in message


def test_a_support_message_before_the_policy_agreement_asks_for_it(tmp_path) -> None:  # OBL-CS-1
    with open_sdk(tmp_path / "data", agree=False) as privacy, \
            pytest.raises(ConsentRequired) as info:
        privacy.support.send("合同无法下载")
    assert "policy" in info.value.scopes and "privacy policy" in str(info.value)


def test_a_support_message_with_consent_passes_the_gate_then_needs_the_server(privacy) -> None:  # OBL-CS-1
    with pytest.raises(ConfigError):  # no endpoint here: the message would be sent next
        privacy.support.send("合同无法下载", contact=PHONE)
    entry = privacy.audit.entries()[-1]
    assert (entry.item, entry.purpose, entry.outcome, entry.reason) == (
        "cs_message", "customer_service", "allowed", "consent_granted")


# -- notification channel (OBL-MAIL-1) ----------------------------------------------------------


def test_the_email_channel_without_an_email_is_refused(privacy) -> None:  # OBL-MAIL-1
    with pytest.raises(InvalidInput) as info:
        privacy.notifications.set("email")
    assert info.value.field == "email" and "sms" in str(info.value)


def test_an_unknown_notification_channel_is_refused(privacy) -> None:  # OBL-MAIL-1
    with pytest.raises(InvalidInput) as info:
        privacy.notifications.set("fax")
    assert info.value.field == "channel"


def test_an_invalid_notification_email_is_refused_without_echoing_it(privacy) -> None:  # OBL-MAIL-1
    with pytest.raises(InvalidInput) as info:
        privacy.notifications.set("email", "alice@@example")
    assert info.value.field == "email" and "alice" not in str(info.value)


def test_giving_a_notification_email_needs_the_notifications_consent(privacy) -> None:  # OBL-MAIL-1
    privacy.withdraw("notifications")
    with pytest.raises(ConsentRequired) as info:
        privacy.notifications.set("email", EMAIL)
    assert info.value.scopes == ("purpose:notifications",)


def test_choosing_sms_collects_nothing_and_needs_no_consent(privacy) -> None:  # OBL-MAIL-1
    privacy.withdraw("notifications")
    with pytest.raises(ConfigError):  # it goes straight to the server (none configured here)
        privacy.notifications.set("sms")
    assert collected(privacy) == []


# -- the service-ending gate (OBL-END-1) --------------------------------------------------------


def test_a_kept_service_ending_notice_stops_collection_after_a_restart(tmp_path) -> None:  # OBL-END-1
    data_dir = tmp_path / "data"
    with open_sdk(data_dir) as privacy:
        privacy.collect("device_ip", "device_security")
    keep_service_ending(data_dir)
    # offline: no endpoint at all
    with open_sdk(data_dir, agree=False) as privacy, pytest.raises(ServiceEnded) as info:
        privacy.collect("device_ip", "device_security")
    assert isinstance(info.value, ConsentError) and info.value.notice_id == "n-end-1"


def test_a_kept_service_ending_notice_stops_sharing(tmp_path) -> None:  # OBL-END-1
    data_dir = tmp_path / "data"
    keep_service_ending(data_dir)
    with open_sdk(data_dir) as privacy:
        for scope in ("certificate", "item:id_number", "recipient:ca"):
            privacy.grant(scope, sync=False)
        with pytest.raises(ServiceEnded):
            privacy.share("ca", ["real_name", "id_number"])


def test_the_service_ending_refusal_says_collection_has_stopped(tmp_path) -> None:  # OBL-END-1
    data_dir = tmp_path / "data"
    keep_service_ending(data_dir)
    with open_sdk(data_dir) as privacy, pytest.raises(ServiceEnded) as info:
        privacy.collect("cs_message", "customer_service")
    message = str(info.value)
    assert "service is ending" in message and "collection of personal information has stopped" in message
    assert info.value.ends_at == ENDING["ends_at"]


def test_every_service_passes_the_service_ending_gate(tmp_path) -> None:  # OBL-END-1
    data_dir = tmp_path / "data"
    keep_service_ending(data_dir)
    with open_sdk(data_dir) as privacy:
        with pytest.raises(ServiceEnded):
            privacy.invite_signer("lease", PHONE, attested=True)
        with pytest.raises(ServiceEnded):
            privacy.support.send("合同无法下载")
        with pytest.raises(ServiceEnded):
            privacy.notifications.set("email", EMAIL)


def test_the_kept_service_ending_notice_is_offered_to_the_app(tmp_path) -> None:  # OBL-END-1
    data_dir = tmp_path / "data"
    keep_service_ending(data_dir)
    with open_sdk(data_dir) as privacy:
        notice = privacy.notices.service_ending
    assert notice is not None and notice.kind == "service_ending"
    assert notice.data_handling == ENDING["data_handling"]


def test_no_service_ending_notice_means_none_and_collection_goes_on(privacy) -> None:  # OBL-END-1
    assert privacy.notices.service_ending is None
    privacy.collect("device_ip", "device_security")


def test_an_unreadable_service_ending_file_keeps_collection_stopped(tmp_path) -> None:  # OBL-END-1
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / SERVICE_ENDING_FILENAME).write_text("{not json", encoding="utf-8")
    with open_sdk(data_dir) as privacy, pytest.raises(ServiceEnded):
        privacy.collect("device_ip", "device_security")


# -- notices (OBL-BR-1) -------------------------------------------------------------------------


def test_a_breach_notice_has_its_five_parts_in_order() -> None:  # OBL-BR-1
    notice = Notice.from_json(BREACH)
    assert [heading for heading, _ in notice.parts] == [
        "发生了什么", "可能造成的影响", "我们已采取的措施", "您可以如何保护自己", "补救措施与联系方式"]
    assert [text for _, text in notice.parts] == [
        BREACH[k] for k in ("what_happened", "impact", "actions_taken", "how_to_protect",
                            "remedies")]


def test_a_breach_notice_missing_a_part_is_refused_naming_it() -> None:  # OBL-BR-1
    broken = {k: v for k, v in BREACH.items() if k != "how_to_protect"}
    with pytest.raises(TransportError, match="how_to_protect"):
        Notice.from_json(broken)


def test_an_acknowledgement_offline_is_kept_on_the_device(privacy) -> None:  # OBL-BR-1
    data_dir = privacy.config.data_dir
    (data_dir / NOTICES_FILENAME).write_text(json.dumps({"notices": [BREACH, ENDING]}),
                                             encoding="utf-8")  # as fetch() left them
    assert [n.notice_id for n in privacy.notices.unacknowledged()] == ["n-breach-1", "n-end-1"]
    ack = privacy.notices.acknowledge(Notice.from_json(BREACH))
    assert (ack.notice_id, ack.sent) == ("n-breach-1", False)
    assert [n.notice_id for n in privacy.notices.unacknowledged()] == ["n-end-1"]


def test_the_notices_file_holds_no_install_id(privacy) -> None:  # OBL-BR-1
    privacy.notices.acknowledge("n-breach-1")
    text = (privacy.config.data_dir / NOTICES_FILENAME).read_text(encoding="utf-8")
    assert privacy.subject_id not in text


# -- what the user types is registered for redaction (OBL-LOG-1) -----------------------------


@pytest.fixture
def no_registered_values():
    from sdk.oplog import forget_redacted_values

    forget_redacted_values()
    yield
    forget_redacted_values()


def test_a_support_contact_is_registered_for_redaction(privacy, no_registered_values) -> None:  # OBL-LOG-1
    from sdk.oplog import redact

    with pytest.raises(ConfigError):  # no endpoint: refused after the contact reached the SDK
        privacy.support.send("请回电", contact="carol@example.com")
    assert redact("reply to carol@example.com") == "reply to [redacted:value]"


def test_a_notification_email_is_registered_for_redaction(privacy, no_registered_values) -> None:  # OBL-LOG-1
    from sdk.oplog import redact

    with pytest.raises(ConfigError):
        privacy.notifications.set("email", "dave@example.com")
    assert redact("notify dave@example.com") == "notify [redacted:value]"


def test_a_counter_signers_phone_is_registered_for_redaction(privacy, no_registered_values) -> None:  # OBL-LOG-1
    from sdk.oplog import redact

    with pytest.raises(ConfigError):
        privacy.invite_signer("lease", PHONE, attested=True)
    assert redact(f"invite {PHONE}") == "invite [redacted:value]"
