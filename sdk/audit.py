"""The on-device audit trail of personal-data processing (OBL-PURP-1, OBL-SEC-3, OBL-BASIS-1,
OBL-PERM-1, OBL-PERM-4, OBL-SH-1).

Every pass through one of the SDK's gates leaves one entry here, allowed or refused. An entry
has a **kind**:

``collect``
    :meth:`sdk.PrivacySdk.collect`: which data item, for which purpose, in which app feature
    (if the app said), under which lawful basis, the outcome (``allowed`` / ``refused``) and
    a reason code. Written with :meth:`AuditTrail.record`.
``transfer``
    :meth:`sdk.PrivacySdk.share`: one entry per item given to a third party; ``subject`` is
    the recipient id. Written with :meth:`AuditTrail.record_transfer`.
``permission``
    an OS permission event (``requested``, ``granted``, ``denied``, ``permanently_denied``,
    ``revoked``); ``subject`` is the permission (a key of :data:`sdk.policy.PERMISSIONS`),
    ``feature`` the app feature it was asked for. A permission is not a data item and has no
    purpose of its own, so ``item`` and ``purpose`` are the empty string ``""`` ("not
    applicable"). ``reason`` says who started the request: ``user_initiated`` (the user
    tapped something that needs it) or ``app_initiated``. Written with
    :meth:`AuditTrail.record_permission`.
``deletion``
    data of an item (for a purpose) was deleted; outcome ``deleted``, reason why. Written with
    :meth:`AuditTrail.record_deletion`.

The value collected, shared or deleted is never passed to the trail and never stored.

Entries are append-only (SQLite triggers refuse ``UPDATE`` and ``DELETE``). The file is
``data_dir/audit.db``; all ``sqlite3`` errors become :class:`sdk.errors.StorageError`.
A file written by an older SDK (schema 1: collections only) is migrated in place when it is
opened: its entries keep their ``seq`` and become ``collect`` entries without a feature.

:meth:`AuditTrail.collected_summary` and :meth:`AuditTrail.transfer_summary` give the
"personal information collected" and "shared with third parties" lists of the privacy centre;
:mod:`sdk.compliance` checks the trail against the consent ledger.
"""

from __future__ import annotations

import datetime as _dt
import sqlite3
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ._sqlite import SqliteOwner, connect
from .consent.ledger import _rfc3339, _utcnow
from .errors import UndeclaredDataItem

__all__ = [
    "AUDIT_FILENAME",
    "KINDS",
    "OUTCOMES",
    "OUTCOMES_BY_KIND",
    "PERMISSION_OUTCOMES",
    "REASONS",
    "REASONS_BY_KIND",
    "AuditEntry",
    "AuditTrail",
    "CollectedRow",
    "TransferRow",
    "UndeclaredDataItem",
]

#: File name of the audit trail inside ``SdkConfig.data_dir``.
AUDIT_FILENAME = "audit.db"

Kind = Literal["collect", "permission", "transfer", "deletion"]
#: Kinds of entry (see the module documentation).
KINDS: tuple[str, ...] = ("collect", "permission", "transfer", "deletion")

Outcome = Literal["allowed", "refused", "requested", "granted", "denied", "permanently_denied",
                  "revoked", "deleted"]

#: Outcomes of a permission event: the app asked (``requested``), the user answered
#: (``granted``, ``denied``, ``permanently_denied`` = "deny, don't ask again"), or the user
#: switched it off later in the system settings (``revoked``).
PERMISSION_OUTCOMES: tuple[str, ...] = (
    "requested", "granted", "denied", "permanently_denied", "revoked")

#: Outcomes allowed for each kind.
OUTCOMES_BY_KIND: Mapping[str, tuple[str, ...]] = {
    "collect": ("allowed", "refused"),
    "transfer": ("allowed", "refused"),
    "permission": PERMISSION_OUTCOMES,
    "deletion": ("deleted",),
}

#: Every outcome an entry can carry.
OUTCOMES: tuple[str, ...] = ("allowed", "refused", *PERMISSION_OUTCOMES, "deleted")

#: Reason codes for each kind of entry.
REASONS_BY_KIND: Mapping[str, tuple[str, ...]] = {
    "collect": (
        "consent_granted",  # allowed: lawful basis consent, and the user granted it
        "lawful_basis",  # allowed: another lawful basis (contract, legal_obligation, ...), full mode
        "undeclared_purpose",  # refused: the manifest declares no such purpose (OBL-PURP-1)
        "undeclared_item",  # refused: the manifest declares no such data item (OBL-SEC-3)
        "item_not_for_purpose",  # refused: the item is not declared for that purpose (OBL-PURP-1)
        "policy_not_accepted",  # refused: the user has not agreed to the policy (any basis)
        "consent_required",  # refused: lawful basis consent, the purpose is not granted
        "separate_consent_required",  # refused: a sensitive item's item:<id> consent is missing
        "guardian_consent_required",  # refused: a user under 14 without guardian consent
    ),
    "transfer": (
        "consent_granted",  # allowed: the recipient's separate consent (and the item's) granted
        "lawful_basis",  # allowed: another lawful basis, full mode
        "undeclared_recipient",  # refused: the manifest declares no such recipient (OBL-SH-1)
        "undeclared_purpose",  # refused: the manifest declares no such purpose
        "undeclared_item",  # refused: the manifest declares no such data item (OBL-SEC-3)
        "item_not_for_recipient",  # refused: the recipient is not declared to receive the item
        "policy_not_accepted",  # refused: the user has not agreed to the policy
        "consent_required",  # refused: the purpose's consent is missing
        "separate_consent_required",  # refused: recipient:<id> or item:<id> consent is missing
        "guardian_consent_required",  # refused: a user under 14 without guardian consent
    ),
    "permission": (
        "user_initiated",  # the user's own action needs the permission (tapped "scan face")
        "app_initiated",  # the app asked on its own (at start-up, on a timer, ...)
    ),
    "deletion": (
        "retention_expired",  # the item's retention period ended (OBL-SEC-3)
        "consent_withdrawn",  # the consent the item was processed under was withdrawn (OBL-DSR-4)
        "user_request",  # the user asked for deletion (privacy centre, OBL-DSR-*)
        "account_cancelled",  # the account was cancelled
        "guardian_consent_missing",  # a user under 14 without guardian consent (OBL-MIN-1)
    ),
}

#: Every reason code an entry can carry (the union of :data:`REASONS_BY_KIND`).
REASONS: tuple[str, ...] = tuple(dict.fromkeys(
    reason for reasons in REASONS_BY_KIND.values() for reason in reasons))

_SCHEMA_VERSION = 2
_WHAT = "audit trail"


def _sql_list(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


_TABLE = f"""CREATE TABLE IF NOT EXISTS audit_entries (
        seq          INTEGER PRIMARY KEY AUTOINCREMENT,
        time         TEXT NOT NULL,
        kind         TEXT NOT NULL DEFAULT 'collect' CHECK (kind IN ({_sql_list(KINDS)})),
        item         TEXT NOT NULL,
        purpose      TEXT NOT NULL,
        feature      TEXT,
        subject      TEXT,
        lawful_basis TEXT,
        outcome      TEXT NOT NULL,
        reason       TEXT NOT NULL,
        CHECK ({' OR '.join(
            f"(kind = '{kind}' AND outcome IN ({_sql_list(outcomes)}))"
            for kind, outcomes in OUTCOMES_BY_KIND.items())}),
        CHECK (kind NOT IN ('permission', 'transfer') OR subject IS NOT NULL)
    )"""

_TRIGGERS = (
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

_SCHEMA = (
    _TABLE,
    *_TRIGGERS,
    "CREATE INDEX IF NOT EXISTS audit_entries_kind ON audit_entries (kind, subject, seq)",
)

#: Upgrades of a file written by an older SDK (``_apply_schema``). Schema 1 -> 2 (kinds,
#: feature, subject): SQLite cannot change a CHECK constraint, so the table is rebuilt inside
#: the opening transaction (all or nothing); every entry keeps its seq, time and values and
#: becomes a ``collect`` entry without a feature. The triggers come back with ``_SCHEMA``.
_MIGRATIONS = {
    2: (
        "DROP TRIGGER IF EXISTS audit_entries_no_update",
        "DROP TRIGGER IF EXISTS audit_entries_no_delete",
        "ALTER TABLE audit_entries RENAME TO audit_entries_v1",
        _TABLE,
        (
            "INSERT INTO audit_entries (seq, time, kind, item, purpose, feature, subject, "
            "lawful_basis, outcome, reason) SELECT seq, time, 'collect', item, purpose, NULL, "
            "NULL, lawful_basis, outcome, reason FROM audit_entries_v1 ORDER BY seq"
        ),
        "DROP TABLE audit_entries_v1",
    ),
}

_COLUMNS = "seq, time, item, purpose, lawful_basis, outcome, reason, kind, feature, subject"


@dataclass(frozen=True)
class AuditEntry:
    """One pass through a gate. Never holds a value.

    Attributes:
        seq: position in the trail (increasing).
        time: RFC 3339 UTC, e.g. ``2026-12-01T08:00:00Z``.
        item: data item id, as the app passed it; ``""`` for a permission event.
        purpose: purpose id, as the app passed it; ``""`` for a permission event.
        lawful_basis: the purpose's lawful basis from the manifest; ``None`` when the purpose
            is not declared, and for permission events.
        outcome: one of :data:`OUTCOMES_BY_KIND` for the entry's kind.
        reason: one of :data:`REASONS_BY_KIND` for the entry's kind.
        kind: ``collect``, ``permission``, ``transfer`` or ``deletion``.
        feature: the app feature (a manifest feature id) the processing or permission request
            was for, ``None`` when the app did not say.
        subject: the permission of a permission event, the recipient id of a transfer, else
            ``None``.
    """

    seq: int
    time: str
    item: str
    purpose: str
    lawful_basis: str | None
    outcome: Outcome
    reason: str
    kind: Kind = "collect"
    feature: str | None = None
    subject: str | None = None

    @property
    def allowed(self) -> bool:
        return self.outcome == "allowed"

    @property
    def user_initiated(self) -> bool:
        """A permission event started by the user's own action (reason ``user_initiated``)."""
        return self.reason == "user_initiated"


@dataclass(frozen=True)
class CollectedRow:
    """One line of "personal information collected": an item collected for a purpose.

    Attributes:
        item: data item id.
        purpose: purpose id.
        features: the app features (scenarios) it was collected in, sorted; collections made
            without naming a feature add nothing here.
        count: how many allowed collections.
        first_at: RFC 3339 time of the first one.
        last_at: RFC 3339 time of the last one.
    """

    item: str
    purpose: str
    features: tuple[str, ...]
    count: int
    first_at: str
    last_at: str


@dataclass(frozen=True)
class TransferRow:
    """One line of "shared with third parties": an item actually given to a recipient.

    Attributes:
        recipient: recipient id (manifest ``recipients``).
        item: data item id.
        purpose: purpose id.
        count: how many allowed transfers.
        last_at: RFC 3339 time of the last one.
    """

    recipient: str
    item: str
    purpose: str
    count: int
    last_at: str


class AuditTrail(SqliteOwner):
    """Append-only store of :class:`AuditEntry`, safe to share between threads.

    Args:
        path: the SQLite file, usually ``data_dir / "audit.db"``; created if missing, migrated
            in place when written by an older SDK.
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
            self._apply_schema(conn, _SCHEMA, _SCHEMA_VERSION, _MIGRATIONS)

    # -- writing --------------------------------------------------------------------------

    def _append(self, kind: str, item: str, purpose: str, feature: str | None,
                subject: str | None, lawful_basis: str | None, outcome: str,
                reason: str) -> AuditEntry:
        if outcome not in OUTCOMES_BY_KIND[kind]:
            raise ValueError(
                f"outcome of a '{kind}' entry must be one of {', '.join(OUTCOMES_BY_KIND[kind])}")
        if reason not in REASONS_BY_KIND[kind]:
            raise ValueError(
                f"reason of a '{kind}' entry must be one of {', '.join(REASONS_BY_KIND[kind])}")
        item, purpose = str(item), str(purpose)
        feature = None if feature is None else str(feature)
        subject = None if subject is None else str(subject)
        time = _rfc3339(self._clock())
        with self._transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO audit_entries (time, kind, item, purpose, feature, subject, "
                "lawful_basis, outcome, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (time, kind, item, purpose, feature, subject, lawful_basis, outcome, reason),
            )
            seq = int(cursor.lastrowid or 0)
        return AuditEntry(seq, time, item, purpose, lawful_basis, outcome,  # type: ignore[arg-type]
                          reason, kind, feature, subject)  # type: ignore[arg-type]

    def record(self, item: str, purpose: str, lawful_basis: str | None,
               outcome: str, reason: str, feature: str | None = None) -> AuditEntry:
        """Append one ``collect`` entry; it is committed and on disk when this returns.

        Args:
            item: data item id.
            purpose: purpose id.
            lawful_basis: the purpose's lawful basis, ``None`` when it is not declared.
            outcome: ``allowed`` or ``refused``.
            reason: a ``collect`` code of :data:`REASONS_BY_KIND`.
            feature: the app feature the collection is for, if the app said.

        Raises:
            ValueError: *outcome* or *reason* is not a known code for a collection.
            StorageError: the entry could not be stored; nothing was recorded.
        """
        return self._append("collect", item, purpose, feature, None, lawful_basis, outcome,
                            reason)

    def record_permission(self, permission: str, feature: str | None, outcome: str, *,
                          user_initiated: bool = False) -> AuditEntry:
        """Append one ``permission`` event (``item`` and ``purpose`` are ``""``).

        Args:
            permission: the OS permission, a key of :data:`sdk.policy.PERMISSIONS`.
            feature: the app feature it is asked for (``None``: the app did not say, which
                :mod:`sdk.compliance` reports as a request outside any feature).
            outcome: one of :data:`PERMISSION_OUTCOMES`.
            user_initiated: the user's own action started the request (stored as reason
                ``user_initiated``, else ``app_initiated``).

        Raises:
            ValueError: *outcome* is not a permission outcome, or *permission* is empty.
            StorageError: the entry could not be stored; nothing was recorded.
        """
        if not permission:
            raise ValueError("permission must name the OS permission, e.g. 'camera'")
        reason = "user_initiated" if user_initiated else "app_initiated"
        return self._append("permission", "", "", feature, permission, None, outcome, reason)

    def record_transfer(self, recipient: str, item: str, purpose: str, outcome: str,
                        reason: str, *, lawful_basis: str | None = None,
                        feature: str | None = None) -> AuditEntry:
        """Append one ``transfer`` entry: *item* given (or refused) to third party *recipient*.

        Raises:
            ValueError: *outcome* or *reason* is not a known code for a transfer, or
                *recipient* is empty.
            StorageError: the entry could not be stored; nothing was recorded.
        """
        if not recipient:
            raise ValueError("recipient must name the third party (a manifest recipient id)")
        return self._append("transfer", item, purpose, feature, recipient, lawful_basis,
                            outcome, reason)

    def record_deletion(self, item: str, purpose: str, reason: str) -> AuditEntry:
        """Append one ``deletion`` entry (outcome ``deleted``).

        Raises:
            ValueError: *reason* is not a deletion reason of :data:`REASONS_BY_KIND`.
            StorageError: the entry could not be stored; nothing was recorded.
        """
        return self._append("deletion", item, purpose, None, None, None, "deleted", reason)

    # -- reading --------------------------------------------------------------------------

    def entries(self, kind: str | None = None) -> list[AuditEntry]:
        """Every entry (of *kind*, when given), oldest first."""
        with self._reading() as conn:
            if kind is None:
                rows = conn.execute(
                    f"SELECT {_COLUMNS} FROM audit_entries ORDER BY seq").fetchall()
            else:
                rows = conn.execute(
                    f"SELECT {_COLUMNS} FROM audit_entries WHERE kind = ? ORDER BY seq",
                    (kind,)).fetchall()
        return [AuditEntry(*row) for row in rows]

    def permission_events(self, permission: str | None = None) -> list[AuditEntry]:
        """The permission events (of *permission*, when given), oldest first."""
        with self._reading() as conn:
            if permission is None:
                rows = conn.execute(
                    f"SELECT {_COLUMNS} FROM audit_entries WHERE kind = 'permission' "
                    "ORDER BY seq").fetchall()
            else:
                rows = conn.execute(
                    f"SELECT {_COLUMNS} FROM audit_entries WHERE kind = 'permission' "
                    "AND subject = ? ORDER BY seq", (permission,)).fetchall()
        return [AuditEntry(*row) for row in rows]

    def collected_summary(self) -> list[CollectedRow]:
        """"Personal information collected": allowed collections per (item, purpose), with the
        features they happened in, how many and when (first, last); sorted by item, purpose."""
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT item, purpose, feature, COUNT(*), MIN(time), MAX(time) "
                "FROM audit_entries WHERE kind = 'collect' AND outcome = 'allowed' "
                "GROUP BY item, purpose, feature").fetchall()
        merged: dict[tuple[str, str], list] = {}
        for item, purpose, feature, count, first_at, last_at in rows:
            row = merged.setdefault((item, purpose), [set(), 0, first_at, last_at])
            if feature is not None:
                row[0].add(feature)
            row[1] += count
            row[2], row[3] = min(row[2], first_at), max(row[3], last_at)
        return [
            CollectedRow(item, purpose, tuple(sorted(features)), count, first_at, last_at)
            for (item, purpose), (features, count, first_at, last_at) in sorted(merged.items())
        ]

    def transfer_summary(self) -> list[TransferRow]:
        """"Shared with third parties": allowed transfers per (recipient, item, purpose), how
        many and when last; sorted by recipient, item, purpose."""
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT subject, item, purpose, COUNT(*), MAX(time) FROM audit_entries "
                "WHERE kind = 'transfer' AND outcome = 'allowed' "
                "GROUP BY subject, item, purpose ORDER BY subject, item, purpose").fetchall()
        return [TransferRow(*row) for row in rows]
