"""The on-device consent ledger: every decision of the user, in order, in SQLite.

The ledger is the device's source of truth for consent ("offline first"): a decision takes
effect as soon as :meth:`ConsentLedger.record` returns, which happens only after the record
is committed and on disk (WAL journal, ``synchronous=FULL``). Records are append-only; the
only later change is the sync bookkeeping (``synced_at``/``received_at``).

The same database holds the install id (``subject_id``): a random uuid4 made on first use,
never derived from a device identifier, and gone when the app's data is wiped.

All ``sqlite3`` errors become :class:`sdk.errors.StorageError` at this boundary.
"""

from __future__ import annotations

import datetime as _dt
import json
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from .._sqlite import SqliteOwner, connect
from ..errors import ConfigError, ConsentError, StorageError
from .record import DECISIONS, ConsentRecord, Notice

__all__ = ["ConsentLedger", "LEDGER_FILENAME"]

#: File name of the ledger inside ``SdkConfig.data_dir``.
LEDGER_FILENAME = "consent.db"

_SCHEMA_VERSION = 1
_WHAT = "consent ledger"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS consent_records (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    record_id      TEXT NOT NULL UNIQUE,
    subject_id     TEXT NOT NULL,
    decision       TEXT NOT NULL CHECK (decision IN ('granted', 'denied', 'withdrawn')),
    policy_version TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    record_json    TEXT NOT NULL,
    synced_at      TEXT,
    received_at    TEXT,
    -- a refusal never leaves the device (docs/protocol.md), so it can never be synced
    CHECK (decision != 'denied' OR synced_at IS NULL)
);
CREATE INDEX IF NOT EXISTS consent_records_pending
    ON consent_records (seq) WHERE synced_at IS NULL AND decision != 'denied';
CREATE TRIGGER IF NOT EXISTS consent_records_append_only
    BEFORE UPDATE OF seq, record_id, subject_id, decision, policy_version, created_at, record_json
    ON consent_records
BEGIN
    SELECT RAISE(ABORT, 'consent records are append-only');
END;
"""

_COLUMNS = "record_json, synced_at, received_at"


def _rfc3339(moment: _dt.datetime) -> str:
    if moment.tzinfo is None:
        raise ConfigError("SdkConfig.clock must return an aware datetime (UTC), not a naive one")
    return moment.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


class ConsentLedger(SqliteOwner):
    """Append-only store of consent records, safe to share between threads.

    Args:
        path: the SQLite file, usually ``data_dir / "consent.db"``; created if missing.
        clock: returns the current time as an aware UTC datetime.
        jurisdiction: written into every record (``SdkConfig.region``).

    Raises:
        StorageError: the file cannot be opened, is locked, corrupt, or from a newer SDK.
    """

    _WHAT = _WHAT
    _CLOSED = "the consent ledger is closed; open the SDK again (PrivacySdk.open)"

    def __init__(
        self,
        path: Path | str,
        clock: Callable[[], _dt.datetime] = _utcnow,
        *,
        jurisdiction: str = "CN",
    ) -> None:
        self.path = Path(path)
        self._clock = clock
        self._jurisdiction = jurisdiction
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = connect(self.path, _WHAT)
        try:
            self._subject_id = self._initialise()
        except BaseException:
            self._conn.close()
            self._conn = None
            raise

    # -- plumbing -------------------------------------------------------------------------

    def _initialise(self) -> str:
        with self._transaction() as conn:
            self._apply_schema(conn, _split_sql(_SCHEMA), _SCHEMA_VERSION)
            row = conn.execute("SELECT value FROM meta WHERE key = 'subject_id'").fetchone()
            if row is None:
                subject_id = str(uuid.uuid4())
                conn.execute("INSERT INTO meta (key, value) VALUES ('subject_id', ?)", (subject_id,))
                return subject_id
            return str(row[0])

    def _from_row(self, row: tuple[str, str | None, str | None]) -> ConsentRecord:
        try:
            data = json.loads(row[0])
            return ConsentRecord.from_dict(data, synced_at=row[1], received_at=row[2])
        except (ValueError, TypeError, ConsentError) as exc:
            raise StorageError(
                f"a record in the consent ledger at '{self.path}' cannot be read; the file is "
                "corrupt: move it aside and start again (consent will be asked again)"
            ) from exc

    # -- public API -----------------------------------------------------------------------

    @property
    def subject_id(self) -> str:
        """The pseudonymous install id: a random uuid4 made on first use of this ledger."""
        return self._subject_id

    def record(
        self,
        decision: str,
        purposes: Iterable[str],
        notice: Notice | Mapping[str, Any],
        controller: str,
        method: str,
    ) -> ConsentRecord:
        """Store one decision and return it; it is committed and on disk when this returns.

        Args:
            decision: ``granted``, ``denied`` or ``withdrawn``.
            purposes: purpose ids the decision covers (at least one unless ``denied``).
            notice: the policy version, text digest and language the user saw.
            controller: the personal information handler named in the policy.
            method: the affirmative action the user took, e.g. ``explicit_button``.

        Raises:
            ConsentError: an argument is invalid (the message names it).
            StorageError: the record could not be stored; nothing was recorded.
        """
        if decision not in DECISIONS:
            raise ConsentError(f"decision must be one of {', '.join(DECISIONS)}")
        if isinstance(purposes, str):
            raise ConsentError("purposes must be a list of purpose ids, not a single string")
        purpose_ids = tuple(purposes)
        if not all(isinstance(p, str) and p for p in purpose_ids):
            raise ConsentError("purposes must be non-empty strings (purpose ids from the manifest)")
        if len(set(purpose_ids)) != len(purpose_ids):
            raise ConsentError("purposes must not repeat a purpose id")
        if decision != "denied" and not purpose_ids:
            raise ConsentError(f"a '{decision}' record needs at least one purpose")
        if not isinstance(notice, Notice):
            notice = Notice.from_dict(notice)
        if not controller:
            raise ConsentError("controller must name the personal information handler")
        if not method:
            raise ConsentError("method must name the affirmative action the user took")
        created_at = _rfc3339(self._clock())
        rec = ConsentRecord(
            record_id=str(uuid.uuid4()),
            subject_id=self._subject_id,
            decision=decision,  # type: ignore[arg-type]
            purposes=purpose_ids,
            notice=notice,
            controller=controller,
            method=method,
            created_at=created_at,
            jurisdiction=self._jurisdiction,
        )
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO consent_records "
                "(record_id, subject_id, decision, policy_version, created_at, record_json) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    rec.record_id,
                    rec.subject_id,
                    rec.decision,
                    rec.notice.policy_version,
                    rec.created_at,
                    rec.to_json(),
                ),
            )
        return rec

    def get(self, record_id: str) -> ConsentRecord | None:
        """The record with this id, or ``None``."""
        with self._reading() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM consent_records WHERE record_id = ?", (record_id,)
            ).fetchone()
        return None if row is None else self._from_row(row)

    def latest(self) -> ConsentRecord | None:
        """The most recent decision, or ``None`` when the user has not decided yet."""
        with self._reading() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM consent_records ORDER BY seq DESC LIMIT 1"
            ).fetchone()
        return None if row is None else self._from_row(row)

    def history(self) -> list[ConsentRecord]:
        """Every decision, oldest first."""
        with self._reading() as conn:
            rows = conn.execute(f"SELECT {_COLUMNS} FROM consent_records ORDER BY seq").fetchall()
        return [self._from_row(r) for r in rows]

    def pending(self) -> list[ConsentRecord]:
        """Granted/withdrawn records the server has not acknowledged yet, oldest first.

        ``denied`` records are never pending: they stay on the device (docs/protocol.md).
        """
        with self._reading() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM consent_records "
                "WHERE synced_at IS NULL AND decision != 'denied' ORDER BY seq"
            ).fetchall()
        return [self._from_row(r) for r in rows]

    def pending_count(self) -> int:
        """How many records :meth:`pending` would return."""
        with self._reading() as conn:
            row = conn.execute(
                "SELECT COUNT(*) FROM consent_records WHERE synced_at IS NULL AND decision != 'denied'"
            ).fetchone()
        return int(row[0])

    def mark_synced(self, record_id: str, received_at: str | None) -> None:
        """Note that the server stored the record (its ``received_at``). Idempotent.

        Raises:
            ConsentError: no such record, or it is a ``denied`` record (never sent).
        """
        synced_at = _rfc3339(self._clock())
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT decision, synced_at FROM consent_records WHERE record_id = ?", (record_id,)
            ).fetchone()
            if row is None:
                raise ConsentError("no consent record with that record_id in the ledger")
            if row[0] == "denied":
                raise ConsentError("a 'denied' record stays on the device and is never synced")
            if row[1] is None:
                conn.execute(
                    "UPDATE consent_records SET synced_at = ?, received_at = ? WHERE record_id = ?",
                    (synced_at, received_at, record_id),
                )



def _split_sql(script: str) -> list[str]:
    """Split the schema script into statements (``sqlite3.complete_statement`` aware)."""
    statements: list[str] = []
    buf = ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                statements.append(buf.strip())
            buf = ""
    if buf.strip():
        statements.append(buf.strip())
    return statements
