"""The on-device audit trail of personal-data collection (OBL-PURP-1, OBL-SEC-3, OBL-BASIS-1).

Every call of :meth:`sdk.PrivacySdk.collect` (the one gate in front of personal data) leaves
one entry here, allowed or refused: which data item, for which purpose, under which lawful
basis, when, the outcome and a reason code. The value collected is never passed to the gate
and never stored.

Entries are append-only (SQLite triggers refuse ``UPDATE`` and ``DELETE``). The file is
``data_dir/audit.db``; all ``sqlite3`` errors become :class:`sdk.errors.StorageError`.
"""

from __future__ import annotations

import datetime as _dt
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ._sqlite import SqliteOwner, connect
from .consent.ledger import _rfc3339, _utcnow
from .errors import UndeclaredDataItem

__all__ = [
    "AUDIT_FILENAME",
    "OUTCOMES",
    "REASONS",
    "AuditEntry",
    "AuditTrail",
    "UndeclaredDataItem",
]

#: File name of the audit trail inside ``SdkConfig.data_dir``.
AUDIT_FILENAME = "audit.db"

Outcome = Literal["allowed", "refused"]
OUTCOMES: tuple[str, ...] = ("allowed", "refused")

#: Reason codes an entry carries.
REASONS: tuple[str, ...] = (
    "consent_granted",  # allowed: lawful basis consent, and the user granted it
    "lawful_basis",  # allowed: another lawful basis (contract, legal_obligation, ...), full mode
    "undeclared_purpose",  # refused: the manifest declares no such purpose (OBL-PURP-1)
    "undeclared_item",  # refused: the manifest declares no such data item (OBL-SEC-3)
    "item_not_for_purpose",  # refused: the item is not declared for that purpose (OBL-PURP-1)
    "consent_required",  # refused: lawful basis consent, not granted
    "policy_not_accepted",  # refused: another lawful basis, but the user has not agreed (not full)
)

_SCHEMA_VERSION = 1
_WHAT = "audit trail"

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS audit_entries (
        seq          INTEGER PRIMARY KEY AUTOINCREMENT,
        time         TEXT NOT NULL,
        item         TEXT NOT NULL,
        purpose      TEXT NOT NULL,
        lawful_basis TEXT,
        outcome      TEXT NOT NULL CHECK (outcome IN ('allowed', 'refused')),
        reason       TEXT NOT NULL
    )""",
    """CREATE TRIGGER IF NOT EXISTS audit_entries_no_update
        BEFORE UPDATE ON audit_entries
    BEGIN
        SELECT RAISE(ABORT, 'audit entries are append-only');
    END""",
    """CREATE TRIGGER IF NOT EXISTS audit_entries_no_delete
        BEFORE DELETE ON audit_entries
    BEGIN
        SELECT RAISE(ABORT, 'audit entries are append-only');
    END""",
)

_COLUMNS = "seq, time, item, purpose, lawful_basis, outcome, reason"


@dataclass(frozen=True)
class AuditEntry:
    """One pass through the gate. Never holds the value collected.

    Attributes:
        seq: position in the trail (increasing).
        time: RFC 3339 UTC, e.g. ``2026-12-01T08:00:00Z``.
        item: data item id, as the app passed it.
        purpose: purpose id, as the app passed it.
        lawful_basis: the purpose's lawful basis from the manifest; ``None`` when the purpose
            is not declared.
        outcome: ``allowed`` or ``refused``.
        reason: one of :data:`REASONS`.
    """

    seq: int
    time: str
    item: str
    purpose: str
    lawful_basis: str | None
    outcome: Outcome
    reason: str

    @property
    def allowed(self) -> bool:
        return self.outcome == "allowed"


class AuditTrail(SqliteOwner):
    """Append-only store of :class:`AuditEntry`, safe to share between threads.

    Args:
        path: the SQLite file, usually ``data_dir / "audit.db"``; created if missing.
        clock: returns the current time as an aware UTC datetime.

    Raises:
        StorageError: the file cannot be opened, is locked, corrupt, or from a newer SDK.
    """

    _WHAT = _WHAT
    _CLOSED = "the audit trail is closed; open the SDK again (PrivacySdk.open)"

    def __init__(self, path: Path | str,
                 clock: Callable[[], _dt.datetime] = _utcnow) -> None:
        self.path = Path(path)
        self._clock = clock
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = connect(self.path, _WHAT)
        try:
            self._initialise()
        except BaseException:
            self._conn.close()
            self._conn = None
            raise

    def _initialise(self) -> None:
        with self._transaction() as conn:
            self._apply_schema(conn, _SCHEMA, _SCHEMA_VERSION)

    def record(self, item: str, purpose: str, lawful_basis: str | None,
               outcome: str, reason: str) -> AuditEntry:
        """Append one entry; it is committed and on disk when this returns.

        Raises:
            ValueError: *outcome* or *reason* is not a known code.
            StorageError: the entry could not be stored; nothing was recorded.
        """
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}")
        if reason not in REASONS:
            raise ValueError(f"reason must be one of {', '.join(REASONS)}")
        time = _rfc3339(self._clock())
        with self._transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO audit_entries (time, item, purpose, lawful_basis, outcome, reason) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (time, str(item), str(purpose), lawful_basis, outcome, reason),
            )
            seq = int(cursor.lastrowid or 0)
        return AuditEntry(seq, time, str(item), str(purpose), lawful_basis,
                          outcome, reason)  # type: ignore[arg-type]

    def entries(self) -> list[AuditEntry]:
        """Every entry, oldest first."""
        with self._reading() as conn:
            rows = conn.execute(f"SELECT {_COLUMNS} FROM audit_entries ORDER BY seq").fetchall()
        return [AuditEntry(*row) for row in rows]

