"""The on-device consent ledger, on real SQLite files (no mocks)."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import stat
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest

from sdk.consent import ConsentLedger, ConsentRecord, Notice
from sdk.errors import ConfigError, ConsentError, StorageError

NOTICE = Notice(policy_version="2026.11", sha256="ab" * 32, language="zh-CN")
CONTROLLER = "示例电子签 (Demo e-Sign Ltd.)"


class FakeClock:
    """A clock that moves one second per call (deterministic created_at values)."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 30, 3, 22, 25, tzinfo=dt.timezone.utc)
        self._lock = threading.Lock()

    def __call__(self) -> dt.datetime:
        with self._lock:
            self.now += dt.timedelta(seconds=1)
            return self.now


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "consent.db"


@pytest.fixture
def ledger(db_path: Path):
    with ConsentLedger(db_path, FakeClock()) as led:
        yield led


def grant(led: ConsentLedger, purposes=("account", "esign_service")) -> ConsentRecord:
    return led.record("granted", purposes, NOTICE, CONTROLLER, "explicit_button")


def test_round_trip(ledger: ConsentLedger) -> None:
    rec = grant(ledger)
    assert rec.decision == "granted"
    assert rec.purposes == ("account", "esign_service")
    assert rec.notice == NOTICE
    assert rec.controller == CONTROLLER
    assert rec.created_at == "2026-11-30T03:22:26Z"
    assert rec.lawful_basis == "consent" and rec.jurisdiction == "CN"
    assert rec.subject_id == ledger.subject_id
    assert uuid.UUID(rec.record_id).version == 4
    assert ledger.latest() == rec
    assert ledger.history() == [rec]
    assert ledger.get(rec.record_id) == rec
    assert ConsentRecord.from_json(rec.to_json()) == rec


def test_wire_form_matches_protocol(ledger: ConsentLedger) -> None:
    wire = grant(ledger).to_dict()
    assert set(wire) == {  # docs/protocol.md, schema version 2 (ISO/IEC TS 27560 fields)
        "schema_version", "record_id", "subject_id", "notice", "controller", "decision",
        "purposes", "lawful_basis", "method", "jurisdiction", "created_at", "scope",
        "consent_type", "pi_categories", "recipients", "retention", "withdrawal", "guardian",
        "proof",
    }
    assert wire["schema_version"] == 2 and wire["scope"] == "policy"
    assert set(wire["proof"]) == {"type", "public_key", "seq", "prev_hash", "signature"}
    assert wire["notice"] == {"policy_version": "2026.11", "sha256": "ab" * 32, "language": "zh-CN"}
    assert wire["purposes"] == ["account", "esign_service"]
    assert "synced_at" not in wire  # local bookkeeping never leaves the device


def test_history_keeps_order_and_latest_is_last(ledger: ConsentLedger) -> None:
    first = grant(ledger)
    second = ledger.record("withdrawn", ["esign_service"], NOTICE, CONTROLLER, "settings_toggle")
    third = ledger.record("denied", [], NOTICE, CONTROLLER, "explicit_button")
    assert ledger.history() == [first, second, third]
    assert ledger.latest() == third


def test_empty_ledger_has_no_decision(ledger: ConsentLedger) -> None:
    assert ledger.latest() is None
    assert ledger.history() == [] and ledger.pending() == []


def test_survives_reopen(db_path: Path) -> None:
    led = ConsentLedger(db_path, FakeClock())
    subject = led.subject_id
    rec = grant(led)
    led.close()
    with ConsentLedger(db_path, FakeClock()) as again:
        assert again.subject_id == subject
        assert again.history() == [rec]
        assert again.pending() == [rec]


def test_subject_id_is_random_per_install(tmp_path: Path) -> None:
    with ConsentLedger(tmp_path / "a.db") as a, ConsentLedger(tmp_path / "b.db") as b:
        assert uuid.UUID(a.subject_id).version == 4
        assert a.subject_id != b.subject_id


def test_pending_until_marked_synced(ledger: ConsentLedger) -> None:
    rec = grant(ledger)
    assert ledger.pending() == [rec] and ledger.pending_count() == 1
    ledger.mark_synced(rec.record_id, "2026-11-30T03:30:00Z")
    assert ledger.pending() == [] and ledger.pending_count() == 0
    stored = ledger.get(rec.record_id)
    assert stored is not None and stored.is_synced
    assert stored.received_at == "2026-11-30T03:30:00Z"
    # idempotent: a second acknowledgement changes nothing
    ledger.mark_synced(rec.record_id, "2027-01-01T00:00:00Z")
    assert ledger.get(rec.record_id).received_at == "2026-11-30T03:30:00Z"


def test_pending_is_oldest_first(ledger: ConsentLedger) -> None:
    a = grant(ledger)
    b = ledger.record("withdrawn", ["esign_service"], NOTICE, CONTROLLER, "settings_toggle")
    c = grant(ledger, ["esign_service"])
    ledger.mark_synced(b.record_id, None)
    assert [r.record_id for r in ledger.pending()] == [a.record_id, c.record_id]


def test_denied_is_never_pending(ledger: ConsentLedger) -> None:
    """A refusal stays on the device (docs/protocol.md): never queued for the server."""
    ledger.record("denied", ["account"], NOTICE, CONTROLLER, "explicit_button")
    assert ledger.pending() == [] and ledger.pending_count() == 0
    denied = ledger.latest()
    with pytest.raises(ConsentError, match="never synced"):
        ledger.mark_synced(denied.record_id, "2026-11-30T03:30:00Z")


def test_schema_refuses_to_sync_a_denied_record(ledger: ConsentLedger, db_path: Path) -> None:
    rec = ledger.record("denied", [], NOTICE, CONTROLLER, "explicit_button")
    raw = sqlite3.connect(db_path)
    try:
        with pytest.raises(sqlite3.IntegrityError):
            raw.execute("UPDATE consent_records SET synced_at = 'x' WHERE record_id = ?", (rec.record_id,))
    finally:
        raw.close()


def test_records_are_append_only(ledger: ConsentLedger, db_path: Path) -> None:
    rec = grant(ledger)
    raw = sqlite3.connect(db_path)
    try:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            raw.execute("UPDATE consent_records SET decision = 'denied' WHERE record_id = ?", (rec.record_id,))
    finally:
        raw.close()


def test_mark_synced_unknown_record(ledger: ConsentLedger) -> None:
    with pytest.raises(ConsentError, match="no consent record"):
        ledger.mark_synced(str(uuid.uuid4()), None)


def test_record_is_durable_when_record_returns(ledger: ConsentLedger, db_path: Path) -> None:
    """Consent is stored before the UI says it is done: a separate connection sees it at once."""
    rec = grant(ledger)
    raw = sqlite3.connect(db_path)
    try:
        rows = raw.execute("SELECT record_id, decision, synced_at FROM consent_records").fetchall()
        assert rows == [(rec.record_id, "granted", None)]
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        raw.close()


def test_connection_settings(ledger: ConsentLedger) -> None:
    conn = ledger._conn  # the pragmas are per connection: check the ledger's own
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_record_survives_a_crash(db_path: Path) -> None:
    """The process dies right after record() returned (no close, no cleanup): the record is there."""
    code = (
        "import os, sys\n"
        "from sdk.consent import ConsentLedger, Notice\n"
        "led = ConsentLedger(sys.argv[1])\n"
        "rec = led.record('granted', ['account'], Notice('1', 'x', 'zh-CN'), 'C', 'explicit_button')\n"
        "print(rec.record_id, flush=True)\n"
        "os._exit(0)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(db_path)], capture_output=True, text=True, check=True
    )
    record_id = out.stdout.strip()
    with ConsentLedger(db_path) as led:
        assert [r.record_id for r in led.history()] == [record_id]
        assert led.pending_count() == 1


def test_concurrent_writes_from_8_threads_lose_nothing(ledger: ConsentLedger) -> None:
    per_thread = 25
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait()
            for _ in range(per_thread):
                grant(ledger, ["account"])
                ledger.pending_count()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    history = ledger.history()
    assert len(history) == 8 * per_thread
    assert len({r.record_id for r in history}) == 8 * per_thread
    assert ledger.pending_count() == 8 * per_thread


def test_concurrent_writers_with_separate_connections(db_path: Path) -> None:
    """Eight ledgers (eight connections) on one file: the busy timeout serialises them."""
    ConsentLedger(db_path).close()
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            with ConsentLedger(db_path) as led:
                barrier.wait()
                for _ in range(10):
                    grant(led, ["account"])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with ConsentLedger(db_path) as led:
        assert len(led.history()) == 80


def test_not_a_database_is_storage_error(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(b"this is not an SQLite file, just some text written over it\n" * 100)
    with pytest.raises(StorageError) as info:
        ConsentLedger(db_path)
    message = str(info.value)
    assert "corrupt" in message and str(db_path) in message
    assert "move the file" in message  # says what to do about it
    assert isinstance(info.value.__cause__, sqlite3.DatabaseError)


def test_damaged_pages_are_storage_error(db_path: Path) -> None:
    led = ConsentLedger(db_path)
    for _ in range(200):
        grant(led)
    led.close()
    data = bytearray(db_path.read_bytes())
    assert len(data) > 3 * 4096
    data[4096 : len(data) - 100] = b"\xde\xad\xbe\xef" * ((len(data) - 100 - 4096) // 4)
    db_path.write_bytes(bytes(data))
    with pytest.raises(StorageError, match="corrupt"):
        with ConsentLedger(db_path) as again:
            again.history()


def test_newer_schema_is_refused(db_path: Path) -> None:
    ConsentLedger(db_path).close()
    raw = sqlite3.connect(db_path)
    raw.execute("PRAGMA user_version = 99")
    raw.commit()
    raw.close()
    with pytest.raises(StorageError, match="newer SDK"):
        ConsentLedger(db_path)


def test_closed_ledger_raises_storage_error(db_path: Path) -> None:
    led = ConsentLedger(db_path)
    led.close()
    led.close()  # idempotent
    with pytest.raises(StorageError, match="closed"):
        led.latest()


def test_unwritable_folder_is_storage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StorageError, match="data_dir"):
        ConsentLedger(blocker / "consent.db")


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_ledger_file_is_private(ledger: ConsentLedger, db_path: Path) -> None:
    assert stat.S_IMODE(db_path.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("decision", "purposes", "match"),
    [
        ("maybe", ["account"], "decision must be one of"),
        ("granted", ["account"], "scope must be"),
        ("granted", "account", "not a single string"),
        ("granted", ["account", ""], "non-empty strings"),
        ("granted", ["account", "account"], "must not repeat"),
    ],
)
def test_invalid_record_is_refused(ledger: ConsentLedger, decision, purposes, match) -> None:
    scope = "purpose:Bad Id" if match == "scope must be" else "policy"
    with pytest.raises(ConsentError, match=match):
        ledger.record(decision, purposes, NOTICE, CONTROLLER, "explicit_button", scope=scope)
    assert ledger.history() == []


def test_naive_clock_is_config_error(db_path: Path) -> None:
    with ConsentLedger(db_path, clock=lambda: dt.datetime(2026, 1, 1)) as led:
        with pytest.raises(ConfigError, match="aware"):
            grant(led)
        assert led.history() == []


def test_record_from_json_rejects_bad_input() -> None:
    with pytest.raises(ConsentError, match="not valid JSON"):
        ConsentRecord.from_json("{nope")
    with pytest.raises(ConsentError, match="missing field"):
        ConsentRecord.from_json('{"schema_version": 2, "record_id": "x"}')


# -- hash chain, signatures, remote records (docs/protocol.md "Proof", docs/consent.md "Sync") --

from sdk.consent.proof import DeviceKey, verify_chain  # noqa: E402
from sdk.testing.keystore import MemoryKeystore  # noqa: E402


def other_device_record(decision: str, created_at: str, scope: str = "purpose:marketing",
                        key: DeviceKey | None = None) -> dict:
    """A signed record made on another device of the same user."""
    record = ConsentRecord(
        record_id=str(uuid.uuid4()), subject_id=str(uuid.uuid4()), decision=decision,
        purposes=("marketing",), notice=NOTICE, controller=CONTROLLER, method="settings_toggle",
        created_at=created_at, scope=scope, consent_type="separate")
    return (key or DeviceKey.generate()).sign(record.unsigned_dict(), seq=1, prev_hash="0" * 64)


def test_records_are_signed_and_chained_with_a_keystore(db_path: Path) -> None:  # OBL-DSR-1
    keystore = MemoryKeystore()
    with ConsentLedger(db_path, FakeClock()) as led:
        led.use_keystore(lambda: keystore)
        grant(led)
        led.record("withdrawn", ["esign_service"], NOTICE, CONTROLLER, "settings_toggle")
        records = led.export_records()
        report = verify_chain(records)
        assert report.ok and report.count == 2 and report.public_key == led.public_key
        assert [r["proof"]["seq"] for r in records] == [1, 2]


def test_the_device_key_survives_a_restart(db_path: Path) -> None:
    keystore = MemoryKeystore()
    with ConsentLedger(db_path, FakeClock()) as led:
        led.use_keystore(lambda: keystore)
        grant(led)
        first_key = led.public_key
    with ConsentLedger(db_path, FakeClock()) as led:
        led.use_keystore(lambda: keystore)
        grant(led)
        assert led.public_key == first_key
        assert verify_chain(led.export_records()).ok


def test_without_a_keystore_records_are_chained_but_reported_unsigned(ledger) -> None:
    grant(ledger)  # consent is never lost for want of a keystore
    report = verify_chain(ledger.export_records())
    assert not report.ok and {p.kind for p in report.problems} == {"unsigned"}


def test_a_tampered_export_is_detected(db_path: Path) -> None:  # OBL-DSR-4
    keystore = MemoryKeystore()
    with ConsentLedger(db_path, FakeClock()) as led:
        led.use_keystore(lambda: keystore)
        grant(led)
        led.record("withdrawn", ["esign_service"], NOTICE, CONTROLLER, "settings_toggle")
        records = led.export_records()
    records[1]["decision"] = "granted"  # turn the withdrawal into a grant
    kinds = {p.kind for p in verify_chain(records).problems}
    assert "bad_signature" in kinds


def test_the_policy_shown_is_kept_by_digest(ledger) -> None:  # OBL-UPD-1
    ledger.record("granted", ["account"], NOTICE, CONTROLLER, "explicit_button",
                  policy_json='{"version": "2026.11"}')
    assert ledger.notice_policy(NOTICE.sha256) == {"version": "2026.11"}
    assert ledger.notice_policy("cd" * 32) is None


def test_a_schema_1_ledger_is_upgraded_in_place(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    conn = sqlite3.connect(db_path)
    conn.executescript("""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE consent_records (seq INTEGER PRIMARY KEY AUTOINCREMENT,
            record_id TEXT NOT NULL UNIQUE, subject_id TEXT NOT NULL, decision TEXT NOT NULL,
            policy_version TEXT NOT NULL, created_at TEXT NOT NULL, record_json TEXT NOT NULL,
            synced_at TEXT, received_at TEXT);
        PRAGMA user_version = 1;
    """)
    v1 = ('{"schema_version":1,"record_id":"6f1c2a4e-1111-4aaa-8bbb-123456789abc",'
          '"subject_id":"3b9a2a4e-1111-4aaa-8bbb-123456789abc","notice":{"policy_version":'
          '"2026.11","sha256":"' + "ab" * 32 + '","language":"zh-CN"},"controller":"c",'
          '"decision":"granted","purposes":["account"],"lawful_basis":"consent","method":"m",'
          '"jurisdiction":"CN","created_at":"2026-11-30T03:22:25Z"}')
    conn.execute("INSERT INTO meta VALUES ('subject_id', '3b9a2a4e-1111-4aaa-8bbb-123456789abc')")
    conn.execute("INSERT INTO consent_records (record_id, subject_id, decision, policy_version, "
                 "created_at, record_json) VALUES ('6f1c2a4e-1111-4aaa-8bbb-123456789abc', "
                 "'3b9a2a4e-1111-4aaa-8bbb-123456789abc', 'granted', '2026.11', "
                 "'2026-11-30T03:22:25Z', ?)", (v1,))
    conn.commit()
    conn.close()
    with ConsentLedger(db_path, FakeClock()) as led:
        old = led.deciding("policy")
        assert old is not None and old.schema_version == 1 and old.scope == "policy"
        new = grant(led)
        assert new.schema_version == 2 and new.proof["seq"] == 2


def test_a_later_withdrawal_from_another_device_wins(ledger) -> None:  # OBL-DSR-4
    mine = ledger.record("granted", ["marketing"], NOTICE, CONTROLLER, "explicit_button",
                         scope="purpose:marketing", consent_type="separate")
    later = dt.datetime.fromisoformat(mine.created_at.replace("Z", "+00:00")) + dt.timedelta(1)
    ledger.add_remote([other_device_record("withdrawn", later.strftime("%Y-%m-%dT%H:%M:%SZ"))], 7)
    assert ledger.deciding("purpose:marketing").decision == "withdrawn"
    assert ledger.remote_cursor == 7


def test_a_withdrawal_wins_a_tie(ledger) -> None:  # OBL-DSR-4
    mine = ledger.record("granted", ["marketing"], NOTICE, CONTROLLER, "explicit_button",
                         scope="purpose:marketing", consent_type="separate")
    ledger.add_remote([other_device_record("withdrawn", mine.created_at)], 1)
    assert ledger.deciding("purpose:marketing").decision == "withdrawn"


def test_an_earlier_remote_record_does_not_override(ledger) -> None:
    ledger.add_remote([other_device_record("withdrawn", "2026-01-01T00:00:00Z")], 1)
    ledger.record("granted", ["marketing"], NOTICE, CONTROLLER, "explicit_button",
                  scope="purpose:marketing", consent_type="separate")
    assert ledger.deciding("purpose:marketing").decision == "granted"


def test_a_remote_grant_that_does_not_verify_grants_nothing(ledger) -> None:
    forged = other_device_record("granted", "2027-01-01T00:00:00Z")
    forged["purposes"] = ["marketing", "customer_service"]  # altered after signing
    ledger.add_remote([forged], 1)
    assert ledger.deciding("purpose:marketing") is None
    assert len(ledger.remote_history()) == 1  # kept, and reported, but never trusted


def test_a_remote_withdrawal_applies_even_unverified(ledger) -> None:  # OBL-DSR-4
    ledger.record("granted", ["marketing"], NOTICE, CONTROLLER, "explicit_button",
                  scope="purpose:marketing", consent_type="separate")
    withdrawal = other_device_record("withdrawn", "2027-01-01T00:00:00Z")
    withdrawal["method"] = "changed"  # signature no longer verifies
    ledger.add_remote([withdrawal], 1)
    assert ledger.deciding("purpose:marketing").decision == "withdrawn"


def test_own_records_coming_back_from_the_server_are_skipped(ledger) -> None:
    mine = grant(ledger)
    assert ledger.add_remote([mine.to_dict()], 3) == []
    assert ledger.remote_history() == []


def test_a_decision_made_here_after_a_remote_record_arrived_wins(ledger) -> None:  # OBL-DSR-4
    """Another device's clock runs years ahead: its grant must not outlive a later withdrawal
    made here (the user saw the grant and chose again)."""
    future = other_device_record("granted", "2031-01-01T00:00:00Z")
    ledger.add_remote([{**future, "received_at": "2026-11-30T03:22:00Z"}], 1)
    assert ledger.deciding("purpose:marketing").decision == "granted"
    ledger.record("withdrawn", ["marketing"], NOTICE, CONTROLLER, "settings_toggle",
                  scope="purpose:marketing", consent_type="separate")
    assert ledger.deciding("purpose:marketing").decision == "withdrawn"


def test_a_remote_record_counts_from_when_the_server_received_it(ledger) -> None:  # OBL-DSR-4
    mine = ledger.record("withdrawn", ["marketing"], NOTICE, CONTROLLER, "explicit_button",
                         scope="purpose:marketing", consent_type="separate")
    # made on a device whose clock runs ahead, but received before this withdrawal was made
    skewed = other_device_record("granted", "2031-01-01T00:00:00Z")
    ledger.add_remote([{**skewed, "received_at": "2026-11-30T00:00:00Z"}], 1)
    assert ledger.deciding("purpose:marketing").record_id == mine.record_id
