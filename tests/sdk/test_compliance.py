"""sdk.compliance: findings over the real audit trail and consent ledger in a data_dir.

Violations the gate itself never allows (e.g. an app writing around it, or another process)
are written straight into the AuditTrail with the same injected clock.
"""

from __future__ import annotations

import datetime as _dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

from demo_app.policy import MANIFEST_PATH, load_demo_policy
from sdk import (
    ComplianceViolation,
    ConfigError,
    ConsentError,
    ConsentRequired,
    PrivacySdk,
    SdkConfig,
)
from sdk.audit import AUDIT_FILENAME, AuditEntry, AuditTrail
from sdk.compliance import (
    KINDS,
    POLICY_FILENAME,
    Finding,
    check,
    enforce,
    features_needing,
    main,
    violation,
)
from sdk.consent.ledger import LEDGER_FILENAME, ConsentLedger

from .clock import Clock

REPO = Path(__file__).resolve().parents[2]




@pytest.fixture(scope="module")
def manifest():
    return load_demo_policy().manifest


NOTICE = {"policy_version": "2026.11", "sha256": "0" * 64, "language": "zh-CN"}
CONSENT_PURPOSES = ("customer_service", "notifications", "invite_signer")


def decide(data_dir: Path, clock: Clock, decision: str, scope: str = "policy",
           purposes: tuple[str, ...] = CONSENT_PURPOSES) -> None:
    """A consent record straight into the ledger, at the clock's time."""
    with ConsentLedger(data_dir / LEDGER_FILENAME, clock) as ledger:
        ledger.record(decision, list(purposes), NOTICE, "Demo e-Sign", "explicit_button",
                      scope=scope)


def permission(data_dir: Path, clock: Clock, name: str, feature: str | None, outcome: str,
               user_initiated: bool = False) -> AuditEntry:
    with AuditTrail(data_dir / AUDIT_FILENAME, clock) as trail:
        return trail.record_permission(name, feature, outcome, user_initiated=user_initiated)


def transfer(data_dir: Path, clock: Clock, recipient: str = "realname_agency",
             item: str = "phone", purpose: str = "realname_verification") -> None:
    with AuditTrail(data_dir / AUDIT_FILENAME, clock) as trail:
        trail.record_transfer(recipient, item, purpose, "allowed", "consent_granted")


def kinds(data_dir: Path, **options) -> list[str]:
    return [f.kind for f in check(data_dir, **options)]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sdk.compliance", *args],
        check=False, cwd=REPO, capture_output=True, text=True, timeout=60,
    )


def open_sdk(data_dir: Path, clock: Clock) -> PrivacySdk:
    return PrivacySdk.open(SdkConfig(data_dir=data_dir, clock=clock), load_demo_policy())


def write_allowed(data_dir: Path, clock: Clock, item: str = "device_ip",
                  purpose: str = "device_security") -> None:
    """An allowed entry as a collection that bypassed the consent state would leave."""
    with AuditTrail(data_dir / AUDIT_FILENAME, clock) as trail:
        trail.record(item, purpose, "legal_obligation", "allowed", "lawful_basis")


def test_collection_after_agree_is_clean(tmp_path: Path, clock: Clock) -> None:  # OBL-PURP-1
    privacy = open_sdk(tmp_path, clock)
    privacy.agree(sync=False)
    clock.tick()
    privacy.collect("device_ip", "device_security")
    privacy.audit.close()
    privacy.close()
    assert check(tmp_path) == []


def test_collection_before_first_grant_is_found(tmp_path: Path, clock: Clock) -> None:  # OBL-PURP-1
    write_allowed(tmp_path, clock)
    clock.tick(5)
    with open_sdk(tmp_path, clock) as privacy:
        privacy.agree(sync=False)
    assert check(tmp_path) == [
        Finding("collection_before_consent", "device_ip", "device_security", "2026-12-01T08:00:00Z")
    ]


def test_collection_without_any_grant_is_found(tmp_path: Path, clock: Clock) -> None:  # OBL-PURP-1
    write_allowed(tmp_path, clock, "cs_message", "customer_service")
    [finding] = check(tmp_path)
    assert (finding.kind, finding.item, finding.purpose) == (
        "collection_before_consent", "cs_message", "customer_service")


def test_collection_after_withdrawal_is_found(tmp_path: Path, clock: Clock) -> None:  # OBL-DSR-4
    with open_sdk(tmp_path, clock) as privacy:
        privacy.agree(sync=False)
        clock.tick()
        privacy.withdraw(sync=False)
    clock.tick()
    write_allowed(tmp_path, clock)
    assert check(tmp_path) == [
        Finding("collection_after_withdrawal", "device_ip", "device_security", "2026-12-01T08:00:02Z")
    ]


def test_collection_after_new_grant_following_withdrawal_is_clean(
        tmp_path: Path, clock: Clock) -> None:  # OBL-DSR-4
    with open_sdk(tmp_path, clock) as privacy:
        privacy.agree(sync=False)
        clock.tick()
        privacy.withdraw(sync=False)
        clock.tick()
        privacy.agree(sync=False)
    clock.tick()
    write_allowed(tmp_path, clock)
    assert check(tmp_path) == []


def test_refused_collections_are_not_findings(tmp_path: Path, clock: Clock) -> None:  # OBL-PURP-1
    privacy = open_sdk(tmp_path, clock)
    with pytest.raises(ConsentRequired):
        privacy.collect("device_ip", "device_security")
    privacy.audit.close()
    privacy.close()
    assert check(tmp_path) == []


def test_folder_without_audit_trail_is_clean(tmp_path: Path) -> None:  # OBL-PURP-1
    assert check(tmp_path) == []


def test_main_exits_0_when_clean(tmp_path: Path, capsys) -> None:  # OBL-PURP-1
    ConsentLedger(tmp_path / LEDGER_FILENAME).close()  # an SDK data dir where nothing happened
    assert main([str(tmp_path)]) == 0
    assert "no findings" in capsys.readouterr().out


def test_main_exits_1_and_prints_findings(tmp_path: Path, clock: Clock, capsys) -> None:  # OBL-PURP-1
    write_allowed(tmp_path, clock)
    assert main([str(tmp_path)]) == 1
    assert "collection_before_consent" in capsys.readouterr().out


def test_cli_bad_path_exits_2_with_one_line(tmp_path: Path) -> None:  # OBL-PURP-1
    result = subprocess.run(
        [sys.executable, "-m", "sdk.compliance", str(tmp_path / "missing")],
        check=False, cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "missing" in result.stderr


def test_cli_corrupt_trail_exits_2_without_traceback(tmp_path: Path) -> None:  # OBL-SEC-3
    (tmp_path / AUDIT_FILENAME).write_bytes(b"not sqlite" * 200)
    result = subprocess.run(
        [sys.executable, "-m", "sdk.compliance", str(tmp_path)],
        check=False, cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "corrupt" in result.stderr


# -- collection before consent (the policy scope) ---------------------------------------------


def test_collection_in_the_same_second_as_the_grant_is_clean(tmp_path: Path, clock: Clock) -> None:  # OBL-PURP-1
    decide(tmp_path, clock, "granted")
    write_allowed(tmp_path, clock)
    assert check(tmp_path) == []


def test_a_denied_policy_is_no_consent(tmp_path: Path, clock: Clock) -> None:  # OBL-PURP-1
    decide(tmp_path, clock, "denied")
    clock.tick()
    write_allowed(tmp_path, clock)
    assert kinds(tmp_path) == ["collection_before_consent"]


def test_a_purpose_grant_alone_is_not_the_privacy_consent(tmp_path: Path, clock: Clock) -> None:  # OBL-PURP-1
    decide(tmp_path, clock, "granted", scope="purpose:customer_service",
           purposes=("customer_service",))
    clock.tick()
    write_allowed(tmp_path, clock, "cs_message", "customer_service")
    assert kinds(tmp_path) == ["collection_before_consent"]


def test_transfer_before_consent_is_found(tmp_path: Path, clock: Clock) -> None:  # OBL-TR-1
    transfer(tmp_path, clock)
    [finding] = check(tmp_path)
    assert (finding.kind, finding.item, finding.subject) == (
        "transfer_before_consent", "phone", "realname_agency")


# -- collection after withdrawal: the deciding record per purpose (docs/consent.md) ------------


def test_per_purpose_withdrawal_flags_that_purpose_only(tmp_path: Path, clock: Clock) -> None:  # OBL-DSR-4
    decide(tmp_path, clock, "granted")
    clock.tick()
    decide(tmp_path, clock, "withdrawn", scope="purpose:customer_service",
           purposes=("customer_service",))
    clock.tick()
    write_allowed(tmp_path, clock, "cs_message", "customer_service")
    write_allowed(tmp_path, clock, "notification_email", "notifications")
    assert check(tmp_path) == [
        Finding("collection_after_withdrawal", "cs_message", "customer_service",
                "2026-12-01T08:00:02Z")
    ]


def test_per_purpose_withdrawal_leaves_other_lawful_bases_clean(tmp_path: Path, clock: Clock) -> None:  # OBL-DSR-4
    decide(tmp_path, clock, "granted")
    clock.tick()
    decide(tmp_path, clock, "withdrawn", scope="purpose:customer_service",
           purposes=("customer_service",))
    clock.tick()
    write_allowed(tmp_path, clock, "device_ip", "device_security")
    assert check(tmp_path) == []


def test_per_purpose_grant_after_its_withdrawal_is_clean(tmp_path: Path, clock: Clock) -> None:  # OBL-DSR-4
    decide(tmp_path, clock, "granted")
    clock.tick()
    decide(tmp_path, clock, "withdrawn", scope="purpose:customer_service",
           purposes=("customer_service",))
    clock.tick()
    decide(tmp_path, clock, "granted", scope="purpose:customer_service",
           purposes=("customer_service",))
    clock.tick()
    write_allowed(tmp_path, clock, "cs_message", "customer_service")
    assert check(tmp_path) == []


def test_later_policy_grant_covering_the_purpose_decides_it_again(tmp_path: Path, clock: Clock) -> None:  # OBL-DSR-4
    decide(tmp_path, clock, "granted")
    clock.tick()
    decide(tmp_path, clock, "withdrawn", scope="purpose:customer_service",
           purposes=("customer_service",))
    clock.tick()
    decide(tmp_path, clock, "granted")
    clock.tick()
    write_allowed(tmp_path, clock, "cs_message", "customer_service")
    assert check(tmp_path) == []


def test_collection_before_the_per_purpose_withdrawal_stays_clean(tmp_path: Path, clock: Clock) -> None:  # OBL-DSR-4
    decide(tmp_path, clock, "granted")
    clock.tick()
    write_allowed(tmp_path, clock, "cs_message", "customer_service")
    clock.tick()
    decide(tmp_path, clock, "withdrawn", scope="purpose:customer_service",
           purposes=("customer_service",))
    assert check(tmp_path) == []


def test_withdrawal_in_the_same_second_as_the_collection_is_clean(tmp_path: Path, clock: Clock) -> None:  # OBL-DSR-4
    decide(tmp_path, clock, "granted")
    clock.tick()
    decide(tmp_path, clock, "withdrawn", scope="purpose:customer_service",
           purposes=("customer_service",))
    write_allowed(tmp_path, clock, "cs_message", "customer_service")
    assert check(tmp_path) == []


def test_withdrawn_item_consent_flags_a_later_collection_of_it(tmp_path: Path, clock: Clock) -> None:  # OBL-DSR-4
    decide(tmp_path, clock, "granted")
    decide(tmp_path, clock, "granted", scope="item:face_video", purposes=("realname_verification",))
    clock.tick()
    decide(tmp_path, clock, "withdrawn", scope="item:face_video",
           purposes=("realname_verification",))
    clock.tick()
    write_allowed(tmp_path, clock, "face_video", "realname_verification")
    assert kinds(tmp_path) == ["collection_after_withdrawal"]


def test_transfer_after_the_recipient_consent_is_withdrawn_is_found(tmp_path: Path, clock: Clock) -> None:  # OBL-DSR-4
    decide(tmp_path, clock, "granted")
    decide(tmp_path, clock, "granted", scope="recipient:realname_agency",
           purposes=("realname_verification",))
    clock.tick()
    decide(tmp_path, clock, "withdrawn", scope="recipient:realname_agency",
           purposes=("realname_verification",))
    clock.tick()
    transfer(tmp_path, clock)
    assert kinds(tmp_path) == ["transfer_after_withdrawal"]


# -- permissions: before consent, outside the feature (OBL-PERM-1) -----------------------------


def test_permission_request_before_consent_is_found(tmp_path: Path, clock: Clock, manifest) -> None:  # OBL-PERM-1
    permission(tmp_path, clock, "camera", "face_signing", "requested")
    assert check(tmp_path, manifest=manifest) == [
        Finding("permission_before_consent", "", "", "2026-12-01T08:00:00Z", "camera",
                "face_signing")
    ]


def test_permission_answer_alone_is_not_a_request(tmp_path: Path, clock: Clock, manifest) -> None:  # OBL-PERM-1
    permission(tmp_path, clock, "camera", "face_signing", "revoked")
    assert check(tmp_path, manifest=manifest) == []


def test_permission_request_in_a_feature_that_needs_it_is_clean(
        tmp_path: Path, clock: Clock, manifest) -> None:  # OBL-PERM-1
    decide(tmp_path, clock, "granted")
    clock.tick()
    permission(tmp_path, clock, "camera", "face_signing", "requested", user_initiated=True)
    permission(tmp_path, clock, "photos", "manual_review", "requested")
    assert check(tmp_path, manifest=manifest) == []


def test_permission_request_without_a_feature_is_outside_feature(
        tmp_path: Path, clock: Clock, manifest) -> None:  # OBL-PERM-1
    decide(tmp_path, clock, "granted")
    clock.tick()
    permission(tmp_path, clock, "camera", None, "requested")
    [finding] = check(tmp_path, manifest=manifest)
    assert (finding.kind, finding.subject, finding.feature) == (
        "permission_outside_feature", "camera", None)
    assert "with no feature" in str(finding)


def test_permission_request_for_a_feature_that_does_not_need_it_is_found(
        tmp_path: Path, clock: Clock, manifest) -> None:  # OBL-PERM-1
    decide(tmp_path, clock, "granted")
    clock.tick()
    permission(tmp_path, clock, "camera", "manual_review", "requested")
    assert kinds(tmp_path, manifest=manifest) == ["permission_outside_feature"]


def test_permission_no_feature_needs_is_always_outside(tmp_path: Path, clock: Clock, manifest) -> None:  # OBL-PERM-1
    assert features_needing(manifest, "phone_state") == frozenset()
    decide(tmp_path, clock, "granted")
    clock.tick()
    permission(tmp_path, clock, "phone_state", "account", "requested")
    assert kinds(tmp_path, manifest=manifest) == ["permission_outside_feature"]


def test_features_needing_a_permission_come_from_the_items_required_for(manifest) -> None:  # OBL-PERM-1
    assert features_needing(manifest, "camera") == {"realname_signing", "face_signing"}
    assert features_needing(manifest, "photos") == {"manual_review"}


def test_outside_feature_is_not_checked_without_a_manifest(tmp_path: Path, clock: Clock) -> None:  # OBL-PERM-1
    decide(tmp_path, clock, "granted")
    clock.tick()
    permission(tmp_path, clock, "camera", None, "requested")
    assert check(tmp_path) == []


def test_one_request_can_break_two_rules(tmp_path: Path, clock: Clock, manifest) -> None:  # OBL-PERM-1
    permission(tmp_path, clock, "camera", "manual_review", "requested")
    assert kinds(tmp_path, manifest=manifest) == [
        "permission_before_consent", "permission_outside_feature"]


# -- permissions: asked again within 48 h of a refusal (OBL-PERM-4) -----------------------------


def refused_camera(data_dir: Path, clock: Clock, outcome: str = "denied") -> None:
    decide(data_dir, clock, "granted")
    clock.tick()
    permission(data_dir, clock, "camera", "face_signing", "requested", user_initiated=True)
    permission(data_dir, clock, "camera", "face_signing", outcome, user_initiated=True)


def test_app_asking_again_within_48h_of_a_denial_is_found(tmp_path: Path, clock: Clock) -> None:  # OBL-PERM-4
    refused_camera(tmp_path, clock)
    clock.tick(47 * 3600)
    permission(tmp_path, clock, "camera", "face_signing", "requested")
    assert check(tmp_path) == [
        Finding("permission_reasked_within_48h", "", "", "2026-12-03T07:00:01Z", "camera",
                "face_signing")
    ]


def test_app_asking_again_after_48h_is_clean(tmp_path: Path, clock: Clock) -> None:  # OBL-PERM-4
    refused_camera(tmp_path, clock)
    clock.tick(48 * 3600)
    permission(tmp_path, clock, "camera", "face_signing", "requested")
    assert check(tmp_path) == []


def test_app_asking_again_after_a_permanent_denial_is_found(tmp_path: Path, clock: Clock) -> None:  # OBL-PERM-4
    refused_camera(tmp_path, clock, "permanently_denied")
    clock.tick(3600)
    permission(tmp_path, clock, "camera", "face_signing", "requested")
    assert kinds(tmp_path) == ["permission_reasked_within_48h"]


def test_user_initiated_request_within_48h_is_clean(tmp_path: Path, clock: Clock) -> None:  # OBL-PERM-4
    refused_camera(tmp_path, clock)
    clock.tick(60)
    permission(tmp_path, clock, "camera", "face_signing", "requested", user_initiated=True)
    assert check(tmp_path) == []


def test_request_for_another_permission_after_a_denial_is_clean(tmp_path: Path, clock: Clock) -> None:  # OBL-PERM-4
    refused_camera(tmp_path, clock)
    clock.tick(60)
    permission(tmp_path, clock, "photos", "manual_review", "requested")
    assert check(tmp_path) == []


def test_a_later_grant_ends_the_reask_window(tmp_path: Path, clock: Clock) -> None:  # OBL-PERM-4
    refused_camera(tmp_path, clock)
    clock.tick(60)
    permission(tmp_path, clock, "camera", "face_signing", "requested", user_initiated=True)
    permission(tmp_path, clock, "camera", "face_signing", "granted", user_initiated=True)
    clock.tick(60)
    permission(tmp_path, clock, "camera", "face_signing", "requested")
    assert check(tmp_path) == []


def test_reask_window_is_configurable(tmp_path: Path, clock: Clock) -> None:  # OBL-PERM-4
    refused_camera(tmp_path, clock)
    clock.tick(50 * 3600)
    permission(tmp_path, clock, "camera", "face_signing", "requested")
    assert check(tmp_path) == []
    assert kinds(tmp_path, reask_window=_dt.timedelta(hours=72)) == [
        "permission_reasked_within_48h"]


# -- undeclared items (OBL-SEC-3) --------------------------------------------------------------


def test_refused_undeclared_item_is_a_finding(tmp_path: Path, clock: Clock) -> None:  # OBL-SEC-3
    with open_sdk(tmp_path, clock) as privacy:
        privacy.agree(sync=False)
        clock.tick()
        with pytest.raises(ConsentError):
            privacy.collect("contacts_list", "device_security")
        privacy.audit.close()
    assert check(tmp_path) == [
        Finding("undeclared_item", "contacts_list", "device_security", "2026-12-01T08:00:01Z")
    ]


def test_refused_undeclared_purpose_is_a_finding(tmp_path: Path, clock: Clock) -> None:  # OBL-SEC-3
    with AuditTrail(tmp_path / AUDIT_FILENAME, clock) as trail:
        trail.record("device_ip", "advertising", None, "refused", "undeclared_purpose")
    assert kinds(tmp_path) == ["undeclared_item"]


def test_transfer_to_an_undeclared_recipient_is_a_finding(tmp_path: Path, clock: Clock) -> None:  # OBL-SEC-3
    with AuditTrail(tmp_path / AUDIT_FILENAME, clock) as trail:
        trail.record_transfer("ad_network", "phone", "marketing", "refused",
                              "undeclared_recipient")
    [finding] = check(tmp_path)
    assert (finding.kind, finding.subject) == ("undeclared_item", "ad_network")


# -- strict mode: the same rules, one entry at a time -------------------------------------------


def test_violation_names_a_request_before_consent(tmp_path: Path, clock: Clock, manifest) -> None:  # OBL-PERM-1
    with AuditTrail(tmp_path / AUDIT_FILENAME, clock) as trail, \
            ConsentLedger(tmp_path / LEDGER_FILENAME, clock) as ledger:
        entry = trail.record_permission("camera", "face_signing", "requested")
        found = violation(entry, trail, ledger, manifest=manifest)
    assert found == Finding("permission_before_consent", "", "", "2026-12-01T08:00:00Z",
                            "camera", "face_signing")


def test_violation_is_none_for_a_clean_request(tmp_path: Path, clock: Clock, manifest) -> None:  # OBL-PERM-1
    decide(tmp_path, clock, "granted")
    clock.tick()
    with AuditTrail(tmp_path / AUDIT_FILENAME, clock) as trail, \
            ConsentLedger(tmp_path / LEDGER_FILENAME, clock) as ledger:
        entry = trail.record_permission("camera", "face_signing", "requested")
        assert violation(entry, trail, ledger, manifest=manifest) is None


def test_violation_sees_the_refusal_earlier_in_the_trail(tmp_path: Path, clock: Clock) -> None:  # OBL-PERM-4
    refused_camera(tmp_path, clock)
    clock.tick(60)
    with AuditTrail(tmp_path / AUDIT_FILENAME, clock) as trail, \
            ConsentLedger(tmp_path / LEDGER_FILENAME, clock) as ledger:
        entry = trail.record_permission("camera", "face_signing", "requested")
        assert violation(entry, trail, ledger).kind == "permission_reasked_within_48h"


def test_enforce_raises_compliance_violation_after_the_entry_is_written(
        tmp_path: Path, clock: Clock) -> None:  # OBL-PERM-1
    with AuditTrail(tmp_path / AUDIT_FILENAME, clock) as trail, \
            ConsentLedger(tmp_path / LEDGER_FILENAME, clock) as ledger:
        entry = trail.record_permission("camera", "face_signing", "requested")
        with pytest.raises(ComplianceViolation) as info:
            enforce(entry, trail, ledger)
        assert trail.entries() == [entry]
    assert isinstance(info.value, ConsentError)
    assert info.value.finding.kind == "permission_before_consent"
    assert "camera" in str(info.value)


def test_enforce_checks_collections_per_purpose(tmp_path: Path, clock: Clock) -> None:  # OBL-DSR-4
    decide(tmp_path, clock, "granted")
    clock.tick()
    decide(tmp_path, clock, "withdrawn", scope="purpose:customer_service",
           purposes=("customer_service",))
    clock.tick()
    with AuditTrail(tmp_path / AUDIT_FILENAME, clock) as trail, \
            ConsentLedger(tmp_path / LEDGER_FILENAME, clock) as ledger:
        clean = trail.record("notification_email", "notifications", "consent", "allowed",
                             "consent_granted")
        enforce(clean, trail, ledger)
        late = trail.record("cs_message", "customer_service", "consent", "allowed",
                            "consent_granted")
        with pytest.raises(ComplianceViolation) as info:
            enforce(late, trail, ledger)
    assert info.value.finding.kind == "collection_after_withdrawal"


def test_strict_check_and_batch_check_agree(tmp_path: Path, clock: Clock, manifest) -> None:  # OBL-PURP-1
    """Entry by entry (one second apart), strict mode raises the first finding check() reports."""
    permission(tmp_path, clock, "camera", None, "requested")
    clock.tick()
    write_allowed(tmp_path, clock)
    clock.tick()
    decide(tmp_path, clock, "granted")
    clock.tick()
    permission(tmp_path, clock, "camera", "face_signing", "denied")
    clock.tick()
    permission(tmp_path, clock, "camera", "face_signing", "requested")
    clock.tick()
    permission(tmp_path, clock, "photos", "manual_review", "requested")
    batch = check(tmp_path, manifest=manifest)
    with AuditTrail(tmp_path / AUDIT_FILENAME, clock) as trail, \
            ConsentLedger(tmp_path / LEDGER_FILENAME, clock) as ledger:
        strict = [violation(e, trail, ledger, manifest=manifest) for e in trail.entries()]
    first_per_entry: dict[str, Finding] = {}
    for finding in batch:
        first_per_entry.setdefault(finding.time, finding)
    assert [f for f in strict if f is not None] == list(first_per_entry.values())
    assert [f.kind for f in batch] == [
        "permission_before_consent", "permission_outside_feature", "collection_before_consent",
        "permission_reasked_within_48h"]


def test_every_finding_kind_is_listed() -> None:  # OBL-PURP-1
    assert len(KINDS) == len(set(KINDS)) == 8


def test_strict_is_off_by_default_and_must_be_a_bool(tmp_path: Path) -> None:  # OBL-PURP-1
    assert SdkConfig(data_dir=tmp_path).strict is False
    assert SdkConfig(data_dir=tmp_path, strict=True).strict is True
    with pytest.raises(ConfigError, match="strict"):
        SdkConfig(data_dir=tmp_path, strict="yes")


# -- the CLI and the policy manifest -----------------------------------------------------------


def test_cli_reads_the_policy_json_in_data_dir(tmp_path: Path, clock: Clock) -> None:  # OBL-PERM-1
    (tmp_path / POLICY_FILENAME).write_text(json.dumps(load_demo_policy().to_json()),
                                            encoding="utf-8")
    decide(tmp_path, clock, "granted")
    clock.tick()
    permission(tmp_path, clock, "camera", "manual_review", "requested")
    result = run_cli(str(tmp_path))
    assert result.returncode == 1
    assert "permission_outside_feature: permission 'camera' in feature 'manual_review'" in result.stdout
    assert "not checked" not in result.stderr


def test_cli_reads_a_manifest_given_with_the_option(tmp_path: Path, clock: Clock) -> None:  # OBL-PERM-1
    decide(tmp_path, clock, "granted")
    clock.tick()
    permission(tmp_path, clock, "camera", None, "requested")
    result = run_cli(str(tmp_path), "--manifest", str(MANIFEST_PATH))
    assert result.returncode == 1
    assert "permission_outside_feature" in result.stdout


def test_cli_notes_that_features_are_not_checked_without_a_manifest(
        tmp_path: Path, clock: Clock) -> None:  # OBL-PERM-1
    decide(tmp_path, clock, "granted")
    clock.tick()
    permission(tmp_path, clock, "camera", None, "requested")
    result = run_cli(str(tmp_path))
    assert result.returncode == 0
    assert "permission_outside_feature not checked" in result.stderr
    assert "no findings" in result.stdout


def test_cli_invalid_policy_json_exits_2_without_traceback(tmp_path: Path) -> None:  # OBL-PERM-1
    ConsentLedger(tmp_path / LEDGER_FILENAME).close()
    (tmp_path / POLICY_FILENAME).write_text("{not json", encoding="utf-8")
    result = run_cli(str(tmp_path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert POLICY_FILENAME in result.stderr


def test_main_prints_one_line_per_finding(tmp_path: Path, clock: Clock, capsys) -> None:  # OBL-PERM-4
    refused_camera(tmp_path, clock)
    permission(tmp_path, clock, "camera", "face_signing", "requested")
    permission(tmp_path, clock, "camera", "face_signing", "requested")
    assert main([str(tmp_path)]) == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 2 and all("permission_reasked_within_48h" in line for line in out)


def test_main_refuses_a_folder_without_sdk_data(tmp_path: Path, capsys) -> None:  # OBL-SEC-3
    """A mistyped path must not pass as clean."""
    assert main([str(tmp_path)]) == 2
    assert "holds no SDK data" in capsys.readouterr().err
