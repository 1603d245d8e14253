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

import base64
import datetime as _dt
import json
import logging
import re
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from .._sqlite import SqliteOwner, connect
from ..errors import ConfigError, ConsentError, StorageError
from .record import CONSENT_TYPES, DECISIONS, ConsentRecord, Notice, consent_type_of

__all__ = ["ConsentLedger", "LEDGER_FILENAME"]

#: File name of the ledger inside ``SdkConfig.data_dir``.
LEDGER_FILENAME = "consent.db"

_SCHEMA_VERSION = 3
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
    scope          TEXT NOT NULL DEFAULT 'policy',
    record_hash    TEXT,
    rejected       TEXT,   -- the server refused it for good (its error code): not sent again
    -- a refusal never leaves the device (docs/protocol.md), so it can never be synced
    CHECK (decision != 'denied' OR synced_at IS NULL)
);
CREATE INDEX IF NOT EXISTS consent_records_pending
    ON consent_records (seq) WHERE synced_at IS NULL AND decision != 'denied';
CREATE INDEX IF NOT EXISTS consent_records_scope ON consent_records (scope, seq);
CREATE TRIGGER IF NOT EXISTS consent_records_append_only
    BEFORE UPDATE OF seq, record_id, subject_id, decision, policy_version, created_at, record_json,
        scope, record_hash
    ON consent_records
BEGIN
    SELECT RAISE(ABORT, 'consent records are append-only');
END;
CREATE TRIGGER IF NOT EXISTS consent_records_no_delete
    BEFORE DELETE ON consent_records
BEGIN
    SELECT RAISE(ABORT, 'consent records are append-only');
END;
-- the exact policy (GET /v1/policy wire form) the user saw, by Notice.key (text and manifest digests)
CREATE TABLE IF NOT EXISTS notices (
    sha256         TEXT PRIMARY KEY,
    policy_version TEXT NOT NULL,
    policy_json    TEXT NOT NULL
);
-- records of the user's other devices, pulled from GET /v1/me/consent-records
CREATE TABLE IF NOT EXISTS remote_records (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    record_id   TEXT NOT NULL UNIQUE,
    subject_id  TEXT NOT NULL,
    scope       TEXT NOT NULL,
    decision    TEXT NOT NULL CHECK (decision IN ('granted', 'denied', 'withdrawn')),
    created_at  TEXT NOT NULL,
    record_json TEXT NOT NULL,
    verified    INTEGER NOT NULL,
    received_at TEXT,            -- the server's receipt time (its clock, not the device's)
    applied_seq INTEGER NOT NULL DEFAULT 0  -- this device's last own record when it arrived
);
CREATE INDEX IF NOT EXISTS remote_records_scope ON remote_records (scope, created_at);
"""

#: Upgrades of a file written by an older SDK (``_apply_schema``): schema 1 had no scopes,
#: no hash chain, no notices and no remote records (a v1 record decides the ``policy`` scope).
_MIGRATIONS = {
    2: (
        "ALTER TABLE consent_records ADD COLUMN scope TEXT NOT NULL DEFAULT 'policy'",
        "ALTER TABLE consent_records ADD COLUMN record_hash TEXT",
        "DROP TRIGGER IF EXISTS consent_records_append_only",
        "DROP INDEX IF EXISTS consent_records_scope",
    ),
    3: (
        lambda conn: _add_columns(conn, "remote_records", (
            "received_at TEXT", "applied_seq INTEGER NOT NULL DEFAULT 0")),
        "ALTER TABLE consent_records ADD COLUMN rejected TEXT",
    ),
}


def _add_columns(conn: sqlite3.Connection, table: str, columns: tuple[str, ...]) -> None:
    """``ALTER TABLE … ADD COLUMN`` for a table a file may not have yet (a schema 1 file gets
    the whole table, columns included, from ``_SCHEMA``)."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                    (table,)).fetchone():
        for column in columns:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column}")

#: Order of decisions made in the same second: a withdrawal wins a tie (docs/consent.md).
_RANK_SQL = "CASE decision WHEN 'withdrawn' THEN 3 WHEN 'denied' THEN 2 ELSE 1 END"

_COLUMNS = "record_json, synced_at, received_at"

_METHOD_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_RFC3339_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_SCOPE_RE = re.compile(r"^(policy|guardian|minors_notice|(purpose|item|recipient):[a-z][a-z0-9_]*)$")

log = logging.getLogger(__name__)


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
        self._key_source: Callable[[], Any] | None = None
        self._device_key: Any = None
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
            self._apply_schema(conn, _split_sql(_SCHEMA), _SCHEMA_VERSION, _MIGRATIONS)
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

    # -- the device key (docs/protocol.md "Proof") -----------------------------------------

    def use_keystore(self, source: Callable[[], Any] | None) -> None:
        """Say where the device's Ed25519 signing key is kept: *source* returns a
        :class:`sdk.storage.keystore.KeystoreBackend` (called on the first record, so opening
        the ledger never waits on a keystore). ``None``: records are chained but unsigned."""
        with self._lock:
            self._key_source = source
            self._device_key = None

    @property
    def public_key(self) -> str | None:
        """The device's public signing key (base64url), ``None`` until the first signed record."""
        return self._meta("signing_public_key")

    def _meta(self, key: str) -> str | None:
        with self._reading() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _signing_key(self) -> Any:
        """The device key, made on first use and kept only wrapped by the keystore; ``None``
        (records stay unsigned, and verification reports them) when no keystore can give it."""
        if self._device_key is not None or self._key_source is None:
            return self._device_key
        from ..errors import KeystoreError
        from .proof import DeviceKey

        blob_text = self._meta("signing_key_blob")
        try:
            keystore = self._key_source()
            blob = base64.b64decode(blob_text) if blob_text else None
            key, new_blob = DeviceKey.load_or_create(keystore, blob)
        except (KeystoreError, ValueError) as exc:
            log.warning("consent records stay unsigned: the keystore cannot give the device key "
                        "(%s)", type(exc).__name__)
            return None
        if blob is None:
            mine = base64.b64encode(new_blob).decode("ascii")
            with self._transaction() as conn:
                # another process on this data dir may have stored its new key meanwhile:
                # the first one stored is the device key (never two keys in one chain)
                conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
                             ("signing_key_blob", mine))
                conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
                             ("signing_public_key", key.public_key))
                stored = conn.execute("SELECT value FROM meta WHERE key = 'signing_key_blob'"
                                      ).fetchone()[0]
            if stored != mine:
                try:
                    key, _ = DeviceKey.load_or_create(keystore, base64.b64decode(stored))
                except (KeystoreError, ValueError) as exc:
                    log.warning("consent records stay unsigned: the keystore cannot give the "
                                "device key (%s)", type(exc).__name__)
                    return None
        self._device_key = key
        return key

    # -- recording ------------------------------------------------------------------------

    def record(
        self,
        decision: str,
        purposes: Iterable[str],
        notice: Notice | Mapping[str, Any],
        controller: str,
        method: str,
        *,
        scope: str = "policy",
        consent_type: str | None = None,
        pi_categories: Iterable[str] = (),
        recipients: Iterable[str] = (),
        retention: Mapping[str, str] | None = None,
        withdrawal: str = "",
        controller_contact: str = "",
        guardian: Mapping[str, str] | None = None,
        policy_json: str | None = None,
    ) -> ConsentRecord:
        """Store one decision and return it; it is committed and on disk when this returns.

        The record is appended to the device's hash chain and signed with the device key when
        a keystore can give it (docs/protocol.md "Proof").

        Args:
            decision: ``granted``, ``denied`` or ``withdrawn``.
            purposes: purpose ids the decision covers (may be empty: a ``policy`` decision is
                also about the policy itself, and the user may have narrowed every purpose).
            notice: the policy version, text digest and language the user saw.
            controller: the personal information handler named in the policy.
            method: the affirmative action the user took, e.g. ``explicit_button``.
            scope: what the decision covers (docs/consent.md "Scopes"): ``policy``,
                ``purpose:<id>``, ``item:<id>``, ``recipient:<id>``, ``guardian`` or
                ``minors_notice``.
            consent_type: defaults from *scope* (:func:`sdk.consent.record.consent_type_of`).
            pi_categories, recipients, retention, withdrawal, controller_contact, guardian:
                the ISO/IEC TS 27560 fields of the record (see :class:`ConsentRecord`).
            policy_json: the policy wire form (``Policy.to_json()`` as JSON text) the user saw;
                kept once per text digest so later policy versions can be compared with it.

        Raises:
            ConsentError: an argument is invalid (the message names it).
            StorageError: the record could not be stored; nothing was recorded.
        """
        if decision not in DECISIONS:
            raise ConsentError(f"decision must be one of {', '.join(DECISIONS)}")
        purpose_ids = _ids("purposes", purposes)
        if not isinstance(scope, str) or not _SCOPE_RE.match(scope):
            raise ConsentError(
                "scope must be 'policy', 'guardian', 'minors_notice' or 'purpose:<id>', "
                "'item:<id>', 'recipient:<id>' with a manifest id")
        if consent_type is None:
            consent_type = consent_type_of(scope)
        if consent_type not in CONSENT_TYPES:
            raise ConsentError(f"consent_type must be one of {', '.join(CONSENT_TYPES)}")
        if guardian is not None and consent_type != "guardian":
            raise ConsentError("guardian details go with consent_type 'guardian' only")
        if consent_type == "guardian" and decision == "granted" and guardian is None:
            raise ConsentError("a granted guardian consent needs the guardian's details "
                               "(relationship and id_digest)")
        if not isinstance(notice, Notice):
            notice = Notice.from_dict(notice)
        if not controller:
            raise ConsentError("controller must name the personal information handler")
        if not isinstance(method, str) or not _METHOD_RE.match(method):
            raise ConsentError(
                "method must name the affirmative action the user took: 1-64 characters, "
                "lowercase letters, digits and '_', e.g. 'explicit_button'")
        rec = ConsentRecord(
            record_id=str(uuid.uuid4()),
            subject_id=self._subject_id,
            decision=decision,  # type: ignore[arg-type]
            purposes=purpose_ids,
            notice=notice,
            controller=controller,
            method=method,
            created_at=_rfc3339(self._clock()),
            jurisdiction=self._jurisdiction,
            scope=scope,
            consent_type=consent_type,
            pi_categories=_ids("pi_categories", pi_categories),
            recipients=_ids("recipients", recipients),
            retention=dict(retention or {}),
            withdrawal=withdrawal,
            controller_contact=controller_contact,
            guardian=dict(guardian) if guardian is not None else None,
        )
        from .proof import GENESIS, PROOF_TYPE, record_hash

        key = self._signing_key()
        with self._transaction() as conn:
            count, last, last_hash = conn.execute(
                "SELECT COUNT(*), (SELECT record_json FROM consent_records ORDER BY seq DESC "
                "LIMIT 1), (SELECT record_hash FROM consent_records ORDER BY seq DESC LIMIT 1) "
                "FROM consent_records"
            ).fetchone()
            if last is None:
                prev_hash = GENESIS
            else:  # records of an older SDK have no stored hash
                prev_hash = last_hash or record_hash(json.loads(last))
            unsigned = rec.unsigned_dict()
            if key is not None:
                wire = key.sign(unsigned, seq=count + 1, prev_hash=prev_hash)
            else:
                wire = {**unsigned, "proof": {"type": PROOF_TYPE, "public_key": None,
                                              "seq": count + 1, "prev_hash": prev_hash,
                                              "signature": None}}
            rec = ConsentRecord.from_dict(wire)
            conn.execute(
                "INSERT INTO consent_records (record_id, subject_id, decision, policy_version, "
                "created_at, record_json, scope, record_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (rec.record_id, rec.subject_id, rec.decision, rec.notice.policy_version,
                 rec.created_at, rec.to_json(), rec.scope, record_hash(wire)),
            )
            if policy_json is not None:
                conn.execute(
                    "INSERT OR IGNORE INTO notices (sha256, policy_version, policy_json) "
                    "VALUES (?, ?, ?)", (notice.key, notice.policy_version, policy_json))
        return rec

    def notice_policy(self, key: str) -> dict[str, Any] | None:
        """The policy wire form (``GET /v1/policy`` body) the user saw, by ``Notice.key``, or
        ``None`` when the ledger does not have it (records of an older SDK)."""
        with self._reading() as conn:
            row = conn.execute("SELECT policy_json FROM notices WHERE sha256 = ?",
                               (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    # -- reading --------------------------------------------------------------------------

    def get(self, record_id: str) -> ConsentRecord | None:
        """The device's record with this id, or ``None``."""
        with self._reading() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM consent_records WHERE record_id = ?", (record_id,)
            ).fetchone()
        return None if row is None else self._from_row(row)

    def latest(self, scope: str | None = None) -> ConsentRecord | None:
        """The device's most recent decision (for *scope* when given), or ``None``."""
        where, args = ("WHERE scope = ?", (scope,)) if scope is not None else ("", ())
        with self._reading() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM consent_records {where} ORDER BY seq DESC LIMIT 1", args
            ).fetchone()
        return None if row is None else self._from_row(row)

    def deciding(self, scope: str, purpose: str | None = None) -> ConsentRecord | None:
        """The record that decides *scope* (docs/consent.md "States"): this device's latest
        record for it, unless a record pulled from the user's other devices is later (by
        ``created_at``) or as late and stronger (withdrawn beats denied beats granted).

        With *purpose*, ``policy`` records count only when their ``purposes`` contain it (the
        ``purpose:<id>`` and ``policy`` scopes both decide a purpose without separate consent).
        Remote grants whose proof did not verify are ignored (docs/consent.md "Sync").
        """
        policy_match = ("SELECT {cols} FROM {table} WHERE scope = 'policy' AND EXISTS (SELECT 1 "
                        "FROM json_each(record_json, '$.purposes') WHERE value = ?) {where} "
                        "ORDER BY {order} LIMIT 1")
        # effective time: the earlier of the device's clock and the server's receipt, so a
        # device whose clock runs ahead cannot make its decisions outlive later ones
        local_cols = (f"record_json, synced_at, received_at, "
                      f"MIN(created_at, COALESCE(received_at, created_at)), {_RANK_SQL}, seq")
        remote_cols = (f"record_json, NULL, NULL, MIN(created_at, COALESCE(received_at, "
                       f"created_at)) AS effective, {_RANK_SQL} AS rank, applied_seq")
        remote_where = "AND (verified = 1 OR decision != 'granted')"
        remote_order = "effective DESC, rank DESC, seq DESC"
        with self._reading() as conn:
            # each query walks one scope's index from its newest entry (cheap on long ledgers)
            local = conn.execute(f"SELECT {local_cols} FROM consent_records WHERE scope = ? "
                                 "ORDER BY seq DESC LIMIT 1", (scope,)).fetchone()
            remote = conn.execute(f"SELECT {remote_cols} FROM remote_records WHERE scope = ? "
                                  f"{remote_where} ORDER BY {remote_order} LIMIT 1",
                                  (scope,)).fetchone()
            if purpose is not None:
                # only policy records newer than the purpose's own latest can decide it: the
                # scan stops there (a switched-off purpose no longer walks the whole ledger)
                via_policy = conn.execute(policy_match.format(
                    cols=local_cols, table="consent_records", where="AND seq > ?",
                    order="seq DESC"), (purpose, local[5] if local is not None else 0)).fetchone()
                if via_policy is not None and (local is None or via_policy[5] > local[5]):
                    local = via_policy
                remote_policy = conn.execute(policy_match.format(
                    cols=remote_cols, table="remote_records", where=remote_where,
                    order=remote_order), (purpose,)).fetchone()
                if remote_policy is not None and (
                        remote is None or (remote_policy[3], remote_policy[4]) > (remote[3], remote[4])):
                    remote = remote_policy
        row = local
        if remote is not None and (local is None or _remote_wins(local, remote)):
            row = remote
        return None if row is None else self._from_row(row[:3])

    def history(self) -> list[ConsentRecord]:
        """Every decision made on this device, oldest first."""
        with self._reading() as conn:
            rows = conn.execute(f"SELECT {_COLUMNS} FROM consent_records ORDER BY seq").fetchall()
        return [self._from_row(r) for r in rows]

    def export_records(self) -> list[dict[str, Any]]:
        """This device's records as wire dicts (proof included), in chain order: the
        ``records`` of ``python -m sdk.consent export`` (docs/consent.md)."""
        with self._reading() as conn:
            rows = conn.execute("SELECT record_json FROM consent_records ORDER BY seq").fetchall()
        return [json.loads(r[0]) for r in rows]

    def remote_history(self) -> list[ConsentRecord]:
        """Records pulled from the user's other devices, in the order received."""
        with self._reading() as conn:
            rows = conn.execute("SELECT record_json, NULL, NULL FROM remote_records "
                                "ORDER BY seq").fetchall()
        return [self._from_row(r) for r in rows]

    # -- starting over (account cancellation, OBL-DSR-7) -----------------------------------

    def forget_all_decisions(self) -> str:
        """Back to a fresh install: every decision of this device, the records pulled from
        the user's other devices, the policies shown, the sync cursor and the wrapped device
        signing key are deleted in one transaction, and a new install id (``subject_id``) is
        made; afterwards every scope is ``not_asked`` (mode ``undecided``). The file is then
        vacuumed so the deleted rows do not linger in free pages or the WAL file.

        The only exception to "append-only", for the cancellation of the account
        (``privacy.rights.confirm_cancellation``): sync first; the server keeps the synced
        records as proof of consent (PIPL art. 47, last paragraph). A new install id means
        the records kept on the server stay with the cancelled account, never with a new one.

        Returns:
            the new ``subject_id``.

        Raises:
            StorageError: the rows could not be deleted (nothing changed).
        """
        new_id = str(uuid.uuid4())
        with self._lock:
            with self._transaction() as conn:
                conn.execute("DROP TRIGGER IF EXISTS consent_records_no_delete")
                for table in ("consent_records", "remote_records", "notices", "meta"):
                    conn.execute(f"DELETE FROM {table}")  # fixed table names
                conn.execute("INSERT INTO meta (key, value) VALUES ('subject_id', ?)", (new_id,))
                for statement in _split_sql(_SCHEMA):  # the trigger again (IF NOT EXISTS)
                    conn.execute(statement)
            with self._reading() as conn:
                conn.execute("VACUUM")
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._subject_id = new_id
            self._device_key = None
        return new_id

    # -- sync bookkeeping -----------------------------------------------------------------

    def pending(self) -> list[ConsentRecord]:
        """Granted/withdrawn records the server has not acknowledged yet, oldest first.

        ``denied`` records are never pending: they stay on the device (docs/protocol.md).
        """
        with self._reading() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM consent_records "
                "WHERE synced_at IS NULL AND decision != 'denied' AND rejected IS NULL ORDER BY seq"
            ).fetchall()
        return [self._from_row(r) for r in rows]

    def pending_count(self) -> int:
        """How many records :meth:`pending` would return."""
        with self._reading() as conn:
            row = conn.execute(
                "SELECT COUNT(*) FROM consent_records WHERE synced_at IS NULL "
                "AND decision != 'denied' AND rejected IS NULL"
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

    def mark_rejected(self, record_id: str, code: str) -> None:
        """Set aside a record the server refused for good (its error code, e.g.
        ``subject_key_mismatch``), so the records after it, withdrawals above all, still go
        out. The decision keeps its effect on this device; :meth:`rejected` lists it."""
        with self._transaction() as conn:
            conn.execute("UPDATE consent_records SET rejected = ? WHERE record_id = ? "
                         "AND synced_at IS NULL", (code or "rejected", record_id))

    def rejected(self) -> list[tuple[ConsentRecord, str]]:
        """Records the server refused for good, with its error code, oldest first."""
        with self._reading() as conn:
            rows = conn.execute(f"SELECT {_COLUMNS}, rejected FROM consent_records "
                                "WHERE rejected IS NOT NULL ORDER BY seq").fetchall()
        return [(self._from_row(r[:3]), str(r[3])) for r in rows]

    @property
    def remote_cursor(self) -> int | None:
        """The server cursor after the last pulled record (``GET /v1/me/consent-records``)."""
        value = self._meta("remote_cursor")
        return None if value is None else int(value)

    def add_remote(self, records: Iterable[Mapping[str, Any]],
                   cursor: int | None) -> list[ConsentRecord]:
        """Store records pulled from the user's other devices and move the cursor; all in one
        transaction. This device's own records and ones already stored are skipped.

        A record whose signature does not verify is stored as unverified: it never grants
        anything, but a withdrawal or refusal still applies (the privacy-protective side).

        Returns:
            the records newly stored, in the order given.

        Raises:
            ConsentError: a record is malformed (nothing is stored).
        """
        from .proof import verify_record

        parsed: list[tuple[ConsentRecord, dict[str, Any], bool, str | None]] = []
        for data in records:
            wire = {k: v for k, v in data.items() if k not in ("received_at", "cursor")}
            received_at = data.get("received_at")
            received_at = received_at if isinstance(received_at, str) and _RFC3339_RE.match(
                received_at) else None
            rec = ConsentRecord.from_dict(wire)
            if rec.subject_id == self._subject_id:
                continue
            problems = verify_record(wire)
            if problems:
                log.warning("a consent record from another device did not verify; "
                            "it cannot grant anything (%d problem(s))", len(problems))
            parsed.append((rec, wire, not problems, received_at))
        added: list[ConsentRecord] = []
        with self._transaction() as conn:
            applied_seq = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM consent_records"
                                       ).fetchone()[0]
            for rec, wire, verified, received_at in parsed:
                cur = conn.execute(
                    "INSERT OR IGNORE INTO remote_records (record_id, subject_id, scope, decision, "
                    "created_at, record_json, verified, received_at, applied_seq) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (rec.record_id, rec.subject_id, rec.scope, rec.decision, rec.created_at,
                     json.dumps(wire, ensure_ascii=False, separators=(",", ":")), int(verified),
                     received_at, applied_seq))
                if cur.rowcount:
                    added.append(rec)
            if cursor is not None:
                conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('remote_cursor', ?)",
                             (str(cursor),))
        return added


def _remote_wins(local: tuple[Any, ...], remote: tuple[Any, ...]) -> bool:
    """Whether another device's record decides over this device's latest one: never when this
    device decided after that record arrived (the user saw it and chose again); otherwise the
    later effective time wins, and on a tie the stronger decision (withdrawn > denied >
    granted); this device keeps a full tie."""
    if local[5] > remote[5]:  # local seq > the local seq when the remote record arrived
        return False
    return (remote[3], remote[4]) > (local[3], local[4])


def _ids(name: str, values: Iterable[str]) -> tuple[str, ...]:
    """Validate a list of manifest ids (non-empty strings, no repeats)."""
    if isinstance(values, str):
        raise ConsentError(f"{name} must be a list of ids, not a single string")
    ids = tuple(values)
    if not all(isinstance(v, str) and v for v in ids):
        raise ConsentError(f"{name} must be non-empty strings (ids from the manifest)")
    if len(set(ids)) != len(ids):
        raise ConsentError(f"{name} must not repeat an id")
    return ids


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
