"""The collection and transfer gates, the two lists, and the minors rules, on the real demo
policy with real SQLite files and the in-memory keystore (the OS edge)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from stdnum.cn.ric import calc_check_digit

from sdk import ConsentError, ConsentRequired, PrivacySdk, SdkConfig
from sdk.testing.keystore import MemoryKeystore

from .policies import demo_policy

NOW = dt.datetime(2026, 11, 30, 8, 0, 0, tzinfo=dt.timezone.utc)
REALNAME_ITEMS = ("real_name", "id_number", "phone", "face_video")


def make_id(birth: dt.date) -> str:
    """A resident ID number with a valid GB 11643 check digit for *birth* (not a real person)."""
    body = f"110101{birth:%Y%m%d}123"
    return body + calc_check_digit(body + "0")


def years_ago(years: int, days: int = 0) -> dt.date:
    return NOW.date().replace(year=NOW.year - years) - dt.timedelta(days=days)


@pytest.fixture
def privacy(tmp_path: Path):
    config = SdkConfig(data_dir=tmp_path / "data", clock=lambda: NOW)
    with PrivacySdk.open(config, demo_policy(), keystore=MemoryKeystore()) as sdk:
        sdk.agree()
        yield sdk


def grant_realname(privacy: PrivacySdk) -> None:
    for scope in privacy.missing_for_feature("realname_signing"):
        privacy.grant(scope)


# -- collection gate -----------------------------------------------------------------------------


def test_a_sensitive_item_needs_its_own_consent(privacy: PrivacySdk) -> None:  # OBL-RN-1
    privacy.grant("realname_verification")
    with pytest.raises(ConsentRequired) as info:
        privacy.collect("id_number", "realname_verification", feature="realname_signing")
    assert info.value.scopes == ("item:id_number",)
    assert privacy.audit.entries()[-1].reason == "separate_consent_required"


def test_collection_with_every_consent_is_allowed_and_audited(privacy: PrivacySdk) -> None:  # OBL-SEC-3
    grant_realname(privacy)
    entry = privacy.collect("face_video", "realname_verification", feature="face_signing")
    assert entry.outcome == "allowed" and entry.feature == "face_signing"


def test_withdrawing_an_item_consent_stops_its_collection(privacy: PrivacySdk) -> None:  # OBL-DSR-4
    grant_realname(privacy)
    privacy.collect("face_video", "realname_verification")
    privacy.withdraw("item:face_video")
    with pytest.raises(ConsentRequired):
        privacy.collect("face_video", "realname_verification")
    privacy.collect("id_number", "realname_verification")  # the others stay allowed


# -- transfer gate (PIPL art. 23, OBL-SH-1) ------------------------------------------------------


def test_sharing_needs_the_recipients_separate_consent(privacy: PrivacySdk) -> None:  # OBL-SH-1
    privacy.grant("certificate")
    privacy.grant("item:id_number")
    with pytest.raises(ConsentRequired) as info:
        privacy.share("ca", ["real_name", "id_number"])
    assert info.value.scopes == ("recipient:ca",)
    assert {e.outcome for e in privacy.audit.entries("transfer")} == {"refused"}


def test_sharing_an_item_the_recipient_does_not_receive_is_refused(privacy: PrivacySdk) -> None:  # OBL-SH-1
    grant_realname(privacy)
    with pytest.raises(ConsentError, match="not declared to receive face_video"):
        privacy.share("ca", ["face_video"])


def test_sharing_with_an_undeclared_recipient_is_refused(privacy: PrivacySdk) -> None:  # OBL-SH-2
    with pytest.raises(ConsentError, match="not declared"):
        privacy.share("ad_network", ["phone"])


def test_an_allowed_transfer_shows_in_the_sharing_list(privacy: PrivacySdk) -> None:  # OBL-SH-1
    grant_realname(privacy)
    privacy.share("realname_agency", REALNAME_ITEMS, feature="realname_signing")
    rows = {r["recipient"]: r for r in privacy.third_party_sharing()}
    agency = rows["realname_agency"]
    assert agency["transfers"] == 4 and agency["consent"] == "granted"
    assert agency["name"] == "示例实名核验服务中心" and "HTTPS" in agency["method"]
    assert rows["ca"]["transfers"] == 0 and rows["ca"]["last_at"] is None


# -- the two lists and the contact (OBL-DSR-1, OBL-CON-1) ----------------------------------------


def test_collected_list_counts_collections_by_item_and_purpose(privacy: PrivacySdk) -> None:  # OBL-DSR-1
    for _ in range(3):
        privacy.collect("device_ip", "device_security", feature="account")
    privacy.collect("cs_message", "customer_service")
    rows = privacy.collected_personal_information()
    ip = next(r for r in rows if r["item"] == "device_ip")
    assert ip["count"] == 3 and ip["item_name"] == "设备IP地址"
    assert ip["purpose_name"] == "账号和服务安全" and ip["scenarios"] == ("账号",)
    assert ip["last_at"] == "2026-11-30T08:00:00Z"
    assert [r["item"] for r in rows] == ["device_ip", "cs_message"]  # manifest order


def test_refused_collections_are_not_in_the_collected_list(privacy: PrivacySdk) -> None:  # OBL-DSR-1
    with pytest.raises(ConsentRequired):
        privacy.collect("notification_email", "marketing")
    assert privacy.collected_personal_information() == []


def test_controller_contact_comes_from_the_manifest(privacy: PrivacySdk) -> None:  # OBL-CON-1
    assert privacy.controller.contact_email == "privacy@demo-esign.example"
    assert "示例电子签" in privacy.controller.name


# -- minors (OBL-MIN-1, PIPL art. 31) -------------------------------------------------------------


def test_an_adult_needs_nothing_more(privacy: PrivacySdk) -> None:  # OBL-MIN-1
    grant_realname(privacy)
    check = privacy.check_age(make_id(years_ago(30)))
    assert check.band == "adult"
    assert not privacy.needs_guardian_consent() and not privacy.needs_minors_notice()


def test_age_check_needs_realname_consent(privacy: PrivacySdk) -> None:  # OBL-MIN-1
    with pytest.raises(ConsentRequired):
        privacy.check_age(make_id(years_ago(30)))


def test_a_child_is_held_to_basic_mode_until_a_guardian_consents(privacy: PrivacySdk) -> None:  # OBL-MIN-1
    grant_realname(privacy)
    privacy.check_age(make_id(years_ago(12)))
    assert privacy.needs_guardian_consent()
    with pytest.raises(ConsentRequired) as info:
        privacy.require("customer_service")
    assert info.value.scopes == ("guardian",)
    record = privacy.record_guardian_consent(make_id(years_ago(40)), "parent")
    assert record.consent_type == "guardian" and record.guardian["relationship"] == "parent"
    privacy.require("customer_service")


def test_the_guardian_id_number_is_never_kept(privacy: PrivacySdk) -> None:  # OBL-MIN-1
    grant_realname(privacy)
    privacy.check_age(make_id(years_ago(12)))
    guardian_id = make_id(years_ago(40))
    record = privacy.record_guardian_consent(guardian_id, "parent")
    assert guardian_id not in record.to_json()
    for path in privacy.config.data_dir.rglob("*"):
        if path.is_file():
            assert guardian_id.encode() not in path.read_bytes()


def test_data_collected_from_a_child_without_guardian_is_deleted(privacy: PrivacySdk) -> None:  # OBL-MIN-1
    grant_realname(privacy)
    privacy.store.put("realname", "draft", b"x", purpose="realname_verification")
    privacy.check_age(make_id(years_ago(10)))
    assert privacy.store.get("realname", "draft") is None
    assert [e.reason for e in privacy.audit.entries("deletion")] == ["guardian_consent_missing"]


def test_a_minor_sees_the_notice_once(privacy: PrivacySdk) -> None:  # OBL-MIN-1
    grant_realname(privacy)
    privacy.check_age(make_id(years_ago(16)))
    assert privacy.needs_minors_notice() and not privacy.needs_guardian_consent()
    privacy.acknowledge_minors_notice()
    assert not privacy.needs_minors_notice()


def test_the_birth_date_is_not_in_a_plain_file(privacy: PrivacySdk) -> None:  # OBL-SEC-2
    grant_realname(privacy)
    birth = years_ago(16)
    privacy.check_age(make_id(birth))
    for path in privacy.config.data_dir.rglob("*"):
        if path.is_file():
            assert birth.isoformat().encode() not in path.read_bytes()


# -- permission events and strict mode (OBL-PERM-1, OBL-PERM-4) ----------------------------------

from sdk.errors import ComplianceViolation  # noqa: E402


def strict_sdk(data_dir: Path, clock=lambda: NOW) -> PrivacySdk:
    config = SdkConfig(data_dir=data_dir, clock=clock, strict=True)
    return PrivacySdk.open(config, demo_policy(), keystore=MemoryKeystore())


def test_strict_mode_raises_for_a_permission_before_consent(tmp_path: Path) -> None:  # OBL-PERM-1
    with strict_sdk(tmp_path) as sdk:
        with pytest.raises(ComplianceViolation) as info:
            sdk.record_permission("camera", "face_signing", "requested")
        assert info.value.finding.kind == "permission_before_consent"
        assert sdk.audit.permission_events("camera")  # written first, then raised


def test_a_permission_outside_its_feature_is_a_violation(tmp_path: Path) -> None:  # OBL-PERM-1
    with strict_sdk(tmp_path) as sdk:
        sdk.agree()
        with pytest.raises(ComplianceViolation) as info:
            sdk.record_permission("camera", "notifications", "requested")
        assert info.value.finding.kind == "permission_outside_feature"


def test_asking_again_within_48_hours_is_a_violation(tmp_path: Path) -> None:  # OBL-PERM-4
    times = iter([NOW, NOW, NOW + dt.timedelta(hours=1)])
    with strict_sdk(tmp_path, clock=lambda: next(times, NOW + dt.timedelta(hours=2))) as sdk:
        sdk.agree()
        sdk.record_permission("camera", "face_signing", "requested")
        sdk.record_permission("camera", "face_signing", "denied")
        with pytest.raises(ComplianceViolation) as info:
            sdk.record_permission("camera", "face_signing", "requested")
        assert info.value.finding.kind == "permission_reasked_within_48h"


def test_the_user_starting_the_action_again_may_ask_again(tmp_path: Path) -> None:  # OBL-PERM-4
    with strict_sdk(tmp_path) as sdk:
        sdk.agree()
        sdk.record_permission("camera", "face_signing", "requested")
        sdk.record_permission("camera", "face_signing", "denied")
        sdk.record_permission("camera", "face_signing", "requested", user_initiated=True)


def test_without_strict_mode_a_violation_is_logged(privacy: PrivacySdk, caplog) -> None:  # OBL-PERM-1
    privacy.record_permission("camera", None, "requested")
    assert "permission_outside_feature" in caplog.text


def test_a_child_cannot_grant_anything_before_a_guardian(privacy: PrivacySdk) -> None:  # OBL-MIN-1
    grant_realname(privacy)
    privacy.check_age(make_id(years_ago(12)))
    assert privacy.mode == "basic"
    with pytest.raises(ConsentRequired) as info:
        privacy.grant("marketing")
    assert info.value.scopes == ("guardian",)


def test_a_child_can_correct_a_mistyped_id_number(privacy: PrivacySdk) -> None:  # OBL-MIN-1
    grant_realname(privacy)
    privacy.check_age(make_id(years_ago(12)))
    assert privacy.check_age(make_id(years_ago(30))).band == "adult"
    assert privacy.mode == "full" and not privacy.needs_guardian_consent()


def test_a_guardian_consent_can_be_withdrawn(privacy: PrivacySdk) -> None:  # OBL-MIN-1
    grant_realname(privacy)
    privacy.check_age(make_id(years_ago(12)))
    privacy.record_guardian_consent(make_id(years_ago(40)), "parent")
    privacy.withdraw("guardian")
    assert privacy.needs_guardian_consent() and privacy.mode == "basic"
