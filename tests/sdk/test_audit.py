"""The one gate for personal data (PrivacySdk.collect) and its audit trail, on real SQLite.

Uses the demo policy (demo_app/policy/manifest.toml) offline: no endpoint, ``agree(sync=False)``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from demo_app.policy import load_demo_policy
from sdk import (
    ConsentError,
    ConsentRequired,
    PrivacySdk,
    SdkConfig,
    StorageError,
    UndeclaredPurpose,
)
from sdk.audit import (
    AUDIT_FILENAME,
    REASONS,
    REASONS_BY_KIND,
    AuditEntry,
    AuditTrail,
    CollectedRow,
    TransferRow,
    UndeclaredDataItem,
)

from .clock import Clock





@pytest.fixture
def sdk(tmp_path: Path, clock: Clock):
    privacy = PrivacySdk.open(SdkConfig(data_dir=tmp_path, clock=clock), load_demo_policy())
    yield privacy
    privacy.audit.close()
    privacy.close()


def test_allowed_consent_purpose_after_agree_is_recorded_with_basis(sdk) -> None:  # OBL-BASIS-1
    sdk.agree(sync=False)
    entry = sdk.collect("cs_message", "customer_service")
    assert entry.outcome == "allowed"
    assert (entry.item, entry.purpose, entry.lawful_basis) == ("cs_message", "customer_service", "consent")
    assert entry.reason == "consent_granted"
    assert sdk.audit.entries() == [entry]


def test_legal_obligation_purpose_allowed_in_full_mode_records_basis(sdk) -> None:  # OBL-BASIS-1
    sdk.agree(sync=False)
    entry = sdk.collect("device_ip", "device_security")
    assert entry.outcome == "allowed"
    assert entry.lawful_basis == "legal_obligation"
    assert entry.reason == "lawful_basis"


def test_legal_obligation_purpose_refused_before_agree_and_recorded(sdk) -> None:  # OBL-BASIS-1
    with pytest.raises(ConsentRequired) as info:
        sdk.collect("device_ip", "device_security")
    assert info.value.purpose == "device_security"
    [entry] = sdk.audit.entries()
    assert (entry.outcome, entry.reason, entry.lawful_basis) == (
        "refused", "policy_not_accepted", "legal_obligation")


def test_consent_purpose_refused_before_agree_and_recorded(sdk) -> None:  # OBL-PURP-1
    with pytest.raises(ConsentRequired):
        sdk.collect("cs_message", "customer_service")
    [entry] = sdk.audit.entries()
    # the policy scope is missing first: nothing is processed before the user agrees
    assert (entry.outcome, entry.reason) == ("refused", "policy_not_accepted")


def test_separate_consent_purpose_not_covered_by_agree(sdk) -> None:  # OBL-PURP-1
    sdk.agree(sync=False)
    with pytest.raises(ConsentRequired):
        sdk.collect("face_video", "realname_verification")
    assert sdk.audit.entries()[-1].reason == "consent_required"


def test_collection_refused_after_withdrawal(sdk) -> None:  # OBL-DSR-4
    sdk.agree(sync=False)
    sdk.withdraw(sync=False)
    with pytest.raises(ConsentRequired):
        sdk.collect("device_ip", "device_security")
    assert sdk.audit.entries()[-1].outcome == "refused"


def test_undeclared_purpose_raises_and_is_recorded(sdk) -> None:  # OBL-PURP-1
    sdk.agree(sync=False)
    with pytest.raises(UndeclaredPurpose) as info:
        sdk.collect("device_ip", "advertising")
    assert info.value.purpose == "advertising"
    [entry] = sdk.audit.entries()
    assert (entry.outcome, entry.reason, entry.lawful_basis) == ("refused", "undeclared_purpose", None)


def test_undeclared_item_raises_consent_error_naming_it(sdk) -> None:  # OBL-SEC-3
    sdk.agree(sync=False)
    with pytest.raises(UndeclaredDataItem) as info:
        sdk.collect("contacts_list", "device_security")
    assert isinstance(info.value, ConsentError)
    assert info.value.item == "contacts_list"
    assert "contacts_list" in str(info.value)
    assert sdk.audit.entries()[-1].reason == "undeclared_item"


def test_item_not_declared_for_purpose_raises(sdk) -> None:  # OBL-PURP-1
    sdk.agree(sync=False)
    with pytest.raises(ConsentError) as info:
        sdk.collect("id_number", "device_security")
    assert "id_number" in str(info.value) and "device_security" in str(info.value)
    assert sdk.audit.entries()[-1].reason == "item_not_for_purpose"


def test_entry_time_is_rfc3339_utc_from_the_clock(sdk, clock: Clock) -> None:  # OBL-BASIS-1
    sdk.agree(sync=False)
    clock.tick(5)
    entry = sdk.collect("device_ip", "operation_log")
    assert entry.time == "2026-12-01T08:00:05Z"


def test_trail_never_holds_a_value(sdk, tmp_path: Path) -> None:  # OBL-SEC-3
    sdk.agree(sync=False)
    sdk.collect("device_ip", "device_security")
    conn = sqlite3.connect(tmp_path / AUDIT_FILENAME)
    try:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(audit_entries)")]
    finally:
        conn.close()
    assert columns == ["seq", "time", "kind", "item", "purpose", "feature", "subject",
                       "lawful_basis", "outcome", "reason"]


def test_trail_is_append_only(tmp_path: Path, clock: Clock) -> None:  # OBL-BASIS-1
    with AuditTrail(tmp_path / AUDIT_FILENAME, clock) as trail:
        trail.record("device_ip", "device_security", "legal_obligation", "allowed", "lawful_basis")
        with pytest.raises(StorageError), trail._transaction() as conn:
            conn.execute("UPDATE audit_entries SET outcome = 'refused'")
        with pytest.raises(StorageError), trail._transaction() as conn:
            conn.execute("DELETE FROM audit_entries")
        assert len(trail.entries()) == 1


def test_trail_persists_across_reopen(tmp_path: Path, clock: Clock) -> None:  # OBL-BASIS-1
    with AuditTrail(tmp_path / AUDIT_FILENAME, clock) as trail:
        first = trail.record("cs_message", "customer_service", "consent", "refused",
                             "consent_required")
    with AuditTrail(tmp_path / AUDIT_FILENAME, clock) as trail:
        assert trail.entries() == [first]
        assert isinstance(first, AuditEntry) and first.seq == 1


def test_record_rejects_unknown_outcome(tmp_path: Path, clock: Clock) -> None:  # OBL-BASIS-1
    with AuditTrail(tmp_path / AUDIT_FILENAME, clock) as trail:
        with pytest.raises(ValueError):
            trail.record("device_ip", "device_security", "legal_obligation", "maybe", "lawful_basis")
        assert trail.entries() == []


def test_corrupt_trail_refuses_collection(tmp_path: Path, clock: Clock) -> None:  # OBL-SEC-3
    (tmp_path / AUDIT_FILENAME).write_bytes(b"this is not sqlite" * 100)
    with PrivacySdk.open(SdkConfig(data_dir=tmp_path, clock=clock), load_demo_policy()) as privacy:
        privacy.agree(sync=False)
        with pytest.raises(StorageError):
            privacy.collect("device_ip", "device_security")


# -- schema 2: kinds, feature, subject ---------------------------------------------------------

_V1_SCHEMA = (
    """CREATE TABLE audit_entries (
        seq          INTEGER PRIMARY KEY AUTOINCREMENT,
        time         TEXT NOT NULL,
        item         TEXT NOT NULL,
        purpose      TEXT NOT NULL,
        lawful_basis TEXT,
        outcome      TEXT NOT NULL CHECK (outcome IN ('allowed', 'refused')),
        reason       TEXT NOT NULL
    )""",
    """CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
    BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END""",
    """CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
    BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END""",
)


def write_v1_trail(path: Path) -> None:
    """An audit.db exactly as the schema-1 SDK left it: two entries, the first one refused."""
    conn = sqlite3.connect(path)
    try:
        for statement in _V1_SCHEMA:
            conn.execute(statement)
        conn.execute("INSERT INTO audit_entries (time, item, purpose, lawful_basis, outcome, reason) "
                     "VALUES ('2026-11-30T08:00:00Z', 'device_ip', 'device_security', "
                     "'legal_obligation', 'refused', 'policy_not_accepted')")
        conn.execute("INSERT INTO audit_entries (time, item, purpose, lawful_basis, outcome, reason) "
                     "VALUES ('2026-11-30T08:00:05Z', 'cs_message', 'customer_service', "
                     "'consent', 'allowed', 'consent_granted')")
        conn.execute("PRAGMA user_version = 1")
        conn.commit()
    finally:
        conn.close()


@pytest.fixture
def trail(tmp_path: Path, clock: Clock):
    with AuditTrail(tmp_path / AUDIT_FILENAME, clock) as opened:
        yield opened


def test_v1_trail_is_migrated_in_place_keeping_every_entry(tmp_path: Path, clock: Clock) -> None:  # OBL-PURP-1
    write_v1_trail(tmp_path / AUDIT_FILENAME)
    with AuditTrail(tmp_path / AUDIT_FILENAME, clock) as trail:
        assert trail.entries() == [
            AuditEntry(1, "2026-11-30T08:00:00Z", "device_ip", "device_security",
                       "legal_obligation", "refused", "policy_not_accepted", "collect", None, None),
            AuditEntry(2, "2026-11-30T08:00:05Z", "cs_message", "customer_service",
                       "consent", "allowed", "consent_granted", "collect", None, None),
        ]
        assert trail.record_permission("camera", "face_signing", "requested").seq == 3
    conn = sqlite3.connect(tmp_path / AUDIT_FILENAME)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        conn.close()
    assert "audit_entries_v1" not in tables


def test_migrated_trail_is_still_append_only(tmp_path: Path, clock: Clock) -> None:  # OBL-PURP-1
    write_v1_trail(tmp_path / AUDIT_FILENAME)
    with AuditTrail(tmp_path / AUDIT_FILENAME, clock) as trail:
        with pytest.raises(StorageError), trail._transaction() as conn:
            conn.execute("DELETE FROM audit_entries")
        with pytest.raises(StorageError), trail._transaction() as conn:
            conn.execute("UPDATE audit_entries SET outcome = 'allowed'")
        assert len(trail.entries()) == 2


def test_trail_from_a_newer_sdk_is_refused(tmp_path: Path, clock: Clock) -> None:  # OBL-SEC-3
    conn = sqlite3.connect(tmp_path / AUDIT_FILENAME)
    conn.execute("PRAGMA user_version = 3")
    conn.close()
    with pytest.raises(StorageError, match="newer SDK"):
        AuditTrail(tmp_path / AUDIT_FILENAME, clock)


def test_collection_records_its_feature(trail: AuditTrail) -> None:  # OBL-PURP-1
    entry = trail.record("face_video", "realname_verification", "consent", "allowed",
                         "consent_granted", feature="face_signing")
    assert (entry.kind, entry.feature, entry.subject) == ("collect", "face_signing", None)
    assert trail.entries() == [entry]


def test_permission_event_names_permission_and_feature_never_an_item(trail: AuditTrail) -> None:  # OBL-PERM-1
    entry = trail.record_permission("camera", "face_signing", "requested", user_initiated=True)
    assert (entry.kind, entry.subject, entry.feature) == ("permission", "camera", "face_signing")
    assert (entry.item, entry.purpose, entry.lawful_basis) == ("", "", None)
    assert entry.user_initiated and entry.reason == "user_initiated"
    assert trail.entries() == [entry]


def test_permission_event_is_app_initiated_by_default(trail: AuditTrail) -> None:  # OBL-PERM-4
    entry = trail.record_permission("camera", "face_signing", "denied")
    assert not entry.user_initiated and entry.reason == "app_initiated"


def test_permission_event_rejects_a_collection_outcome(trail: AuditTrail) -> None:  # OBL-PERM-1
    with pytest.raises(ValueError):
        trail.record_permission("camera", "face_signing", "allowed")
    assert trail.entries() == []


def test_collection_rejects_a_permission_outcome(trail: AuditTrail) -> None:  # OBL-PURP-1
    with pytest.raises(ValueError):
        trail.record("device_ip", "device_security", "legal_obligation", "granted", "lawful_basis")
    assert trail.entries() == []


def test_permission_events_filter_by_permission(trail: AuditTrail, clock: Clock) -> None:  # OBL-PERM-4
    camera = trail.record_permission("camera", "face_signing", "requested")
    clock.tick()
    photos = trail.record_permission("photos", "manual_review", "requested")
    trail.record("device_ip", "device_security", "legal_obligation", "allowed", "lawful_basis")
    assert trail.permission_events("camera") == [camera]
    assert trail.permission_events() == [camera, photos]


def test_transfer_names_the_recipient(trail: AuditTrail) -> None:  # OBL-SH-1
    entry = trail.record_transfer("ca", "id_number", "certificate", "allowed", "consent_granted")
    assert (entry.kind, entry.subject, entry.item, entry.purpose) == (
        "transfer", "ca", "id_number", "certificate")


def test_deletion_is_recorded_with_its_reason(trail: AuditTrail) -> None:  # OBL-SEC-3
    entry = trail.record_deletion("face_video", "realname_verification", "retention_expired")
    assert (entry.kind, entry.outcome, entry.reason) == ("deletion", "deleted", "retention_expired")


def test_deletion_rejects_a_collection_reason(trail: AuditTrail) -> None:  # OBL-SEC-3
    with pytest.raises(ValueError):
        trail.record_deletion("face_video", "realname_verification", "consent_granted")


def test_every_reason_code_is_listed_once() -> None:  # OBL-PURP-1
    assert len(REASONS) == len(set(REASONS))
    assert set(REASONS) == {r for reasons in REASONS_BY_KIND.values() for r in reasons}


def test_collected_summary_counts_allowed_collections_per_item_and_purpose(
        trail: AuditTrail, clock: Clock) -> None:  # OBL-PURP-1
    trail.record("face_video", "realname_verification", "consent", "allowed", "consent_granted",
                 feature="realname_signing")
    clock.tick(60)
    trail.record("face_video", "realname_verification", "consent", "allowed", "consent_granted",
                 feature="face_signing")
    clock.tick(60)
    trail.record("face_video", "realname_verification", "consent", "allowed", "consent_granted")
    trail.record("cs_message", "customer_service", "consent", "refused", "consent_required")
    trail.record_transfer("realname_agency", "face_video", "realname_verification", "allowed",
                          "consent_granted")
    assert trail.collected_summary() == [
        CollectedRow("face_video", "realname_verification", ("face_signing", "realname_signing"),
                     3, "2026-12-01T08:00:00Z", "2026-12-01T08:02:00Z"),
    ]


def test_collected_summary_separates_purposes_of_one_item(trail: AuditTrail) -> None:  # OBL-PURP-1
    trail.record("device_ip", "device_security", "legal_obligation", "allowed", "lawful_basis")
    trail.record("device_ip", "operation_log", "legal_obligation", "allowed", "lawful_basis")
    assert [(r.item, r.purpose, r.count) for r in trail.collected_summary()] == [
        ("device_ip", "device_security", 1), ("device_ip", "operation_log", 1)]


def test_transfer_summary_lists_actual_allowed_transfers(trail: AuditTrail, clock: Clock) -> None:  # OBL-SH-1
    trail.record_transfer("ca", "id_number", "certificate", "allowed", "consent_granted")
    clock.tick(30)
    trail.record_transfer("ca", "id_number", "certificate", "allowed", "consent_granted")
    trail.record_transfer("realname_agency", "phone", "realname_verification", "refused",
                          "consent_required")
    assert trail.transfer_summary() == [
        TransferRow("ca", "id_number", "certificate", 2, "2026-12-01T08:00:30Z")]
