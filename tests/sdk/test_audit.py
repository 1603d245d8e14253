"""The one gate for personal data (PrivacySdk.collect) and its audit trail, on real SQLite.

Uses the demo policy (demo_app/policy/manifest.toml) offline: no endpoint, ``agree(sync=False)``.
"""

from __future__ import annotations

import datetime as _dt
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
from sdk.audit import AUDIT_FILENAME, AuditEntry, AuditTrail, UndeclaredDataItem

T0 = _dt.datetime(2026, 12, 1, 8, 0, 0, tzinfo=_dt.timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> _dt.datetime:
        return self.now

    def tick(self, seconds: int = 1) -> None:
        self.now += _dt.timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


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
    assert (entry.outcome, entry.reason) == ("refused", "consent_required")


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
    assert columns == ["seq", "time", "item", "purpose", "lawful_basis", "outcome", "reason"]


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
