"""Persistence of the stub: SQLite in ``<data_dir>/stub.db`` (WAL mode).

Each operation opens its own connection and closes it, so the store is safe to use from
uvicorn's threadpool without sharing a connection between threads. Writes run in
``BEGIN IMMEDIATE`` transactions (both from :class:`server_stub.db.SqliteStore`): the idempotency check and the insert are atomic, so two
concurrent POSTs with the same Idempotency-Key store one record.

Tables::

    consent_records(seq, record_id UNIQUE, subject_id, received_at, record)   record: JSON text as received
    idempotency(key PRIMARY KEY, endpoint, body_sha256, status, response, created_at,
                account_id)
        the stored answer of each idempotent POST, for replays; kept
        :data:`IDEMPOTENCY_TTL` (24 h, by the store's clock) after the first request, then
        deleted (:meth:`Store.purge_idempotency`): a key older than that is new again.
        body_sha256 (the column's name is historical): the *keyed* fingerprint of the
        request, hex HMAC-SHA256 under ``<data_dir>/idempotency.key`` of the endpoint and the
        route's digest of the body (:meth:`Store.keyed_fingerprint`), never a plain hash: a
        body may hold an account id and a phone number, which a plain SHA-256 would let
        anyone reading the file brute-force. account_id: the account that sent the request
        (NULL without a session); its rows go at cancellation (:meth:`Store.anonymise_account`)
    accounts(account_id PRIMARY KEY, identifier UNIQUE, password_hash, created_at)
        identifier: normalised (E.164 or lower-case email); password_hash: Argon2id only
    sessions(token_sha256 PRIMARY KEY, account_id, expires_at)
        token_sha256: hex SHA-256 of the session cookie; the token itself is never stored
    subject_keys(subject_id PRIMARY KEY, public_key, first_seen_at)
        the first device public key seen in a version 2 record of the subject (key pinning)
    account_subjects(subject_id PRIMARY KEY, account_id, linked_at)
        which pseudonymous install ids belong to which account (cross-device sync); a subject
        belongs to at most one account
    transfers(seq, account_id, recipient, items, purpose, method, time)
        personal information given to third parties; items: JSON array of data item ids
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .db import SqliteStore
from .keyfile import load_or_create_key

__all__ = [
    "Store",
    "IdempotentAnswer",
    "IdempotencyKeyReused",
    "ConsentRecordExists",
    "AccountExists",
    "SubjectKeyMismatch",
    "SubjectLinkedElsewhere",
    "AccountRow",
    "AccountInventory",
    "epoch_rfc3339",
    "parse_time",
    "rfc3339",
    "IDEMPOTENCY_KEY_FILE",
    "IDEMPOTENCY_TTL",
    "utc_now_rfc3339",
]

DB_NAME = "stub.db"
#: Seconds the stored answer of an idempotent POST is kept for replays (the replay window).
IDEMPOTENCY_TTL = 24 * 3600
#: At most one purge of old idempotency rows per this many seconds (:meth:`Store.run_idempotent`).
IDEMPOTENCY_PURGE_INTERVAL = 60.0
#: The key of the stored idempotency fingerprints, in the data folder (32 bytes, mode 0600).
IDEMPOTENCY_KEY_FILE = "idempotency.key"
_FINGERPRINT_LABEL = b"privacy-sdk/idempotency/v1\x00"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS consent_records (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    record_id   TEXT NOT NULL UNIQUE,
    subject_id  TEXT NOT NULL,
    received_at TEXT NOT NULL,
    record      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS consent_records_by_subject ON consent_records (subject_id, seq);
CREATE TABLE IF NOT EXISTS accounts (
    account_id    TEXT PRIMARY KEY,
    identifier    TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_sha256 TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL,
    expires_at   REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_expiry ON sessions (expires_at);
CREATE TABLE IF NOT EXISTS subject_keys (
    subject_id    TEXT PRIMARY KEY,
    public_key    TEXT NOT NULL,
    first_seen_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS account_subjects (
    subject_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    linked_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS account_subjects_by_account ON account_subjects (account_id);
CREATE TABLE IF NOT EXISTS transfers (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id TEXT NOT NULL,
    recipient  TEXT NOT NULL,
    items      TEXT NOT NULL,
    purpose    TEXT NOT NULL,
    method     TEXT NOT NULL,
    time       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS transfers_by_account ON transfers (account_id, seq);
CREATE TABLE IF NOT EXISTS idempotency (
    key         TEXT PRIMARY KEY,
    endpoint    TEXT NOT NULL,
    body_sha256 TEXT NOT NULL,
    status      INTEGER NOT NULL,
    response    TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    account_id  TEXT
);
"""


def rfc3339(moment: _dt.datetime) -> str:
    """An aware datetime as RFC 3339 UTC with whole seconds, e.g. ``2026-11-30T03:22:25Z``:
    the one time format the stub writes."""
    return moment.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: Any) -> _dt.datetime | None:
    """An ISO 8601 / RFC 3339 time (``Z`` allowed) as a datetime, naive when it has no
    offset; None when *text* is not a string or not such a time."""
    if not isinstance(text, str):
        return None
    try:
        return _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def utc_now_rfc3339() -> str:
    """The current time as RFC 3339 UTC with seconds, e.g. ``2026-11-30T03:22:25Z``."""
    return rfc3339(_dt.datetime.now(_dt.timezone.utc))


def epoch_rfc3339(seconds: float) -> str:
    """*seconds* since the epoch as RFC 3339 UTC with whole seconds (the fraction dropped),
    e.g. ``2026-11-30T03:22:25Z``."""
    return rfc3339(_dt.datetime.fromtimestamp(seconds, _dt.timezone.utc))


class IdempotencyKeyReused(Exception):
    """The Idempotency-Key was already used with a different body or on another endpoint."""


class ConsentRecordExists(Exception):
    """A consent record with this ``record_id`` is already stored (under another key)."""


class AccountExists(Exception):
    """An account with this identifier already exists."""


class SubjectKeyMismatch(Exception):
    """A version 2 record of a subject carries another public key than the one pinned for it."""


class SubjectLinkedElsewhere(Exception):
    """The subject is already linked to another account."""


@dataclass(frozen=True)
class AccountInventory:
    """Counts of what the store holds about one account (no values): the source of
    ``GET /v1/me/personal-information``.

    Times are RFC 3339 UTC or None.
    """

    account_created_at: str
    registration_fingerprints: int
    sessions: int
    linked_subjects: int
    last_linked_at: str | None
    consent_records: int
    last_received_at: str | None
    pinned_keys: int
    transfers: int
    last_transfer_at: str | None


@dataclass(frozen=True)
class AccountRow:
    """One row of ``accounts``. ``repr`` leaves out the identifier and the hash."""

    account_id: str
    identifier: str = field(repr=False)
    password_hash: str = field(repr=False)


@dataclass(frozen=True)
class IdempotentAnswer:
    """The answer to give for an idempotent POST.

    Attributes:
        status: HTTP status of the first answer (e.g. 201); a replay answers 200 instead.
        body: the JSON body of the first answer.
        replayed: True when this is a stored answer given again.
    """

    status: int
    body: dict[str, Any]
    replayed: bool


#: Does the work of a POST inside the store's transaction and returns ``(status, body)``.
#: Raising aborts the transaction and nothing is stored, the key included.
Action = Callable[[sqlite3.Connection], "tuple[int, dict[str, Any]]"]


class Store(SqliteStore):
    """The stub's SQLite database (connections and transactions: :class:`SqliteStore`).

    Args:
        data_dir: folder of ``stub.db``; must exist.
        clock: the current time in seconds since the epoch (``Settings.clock``): the times
            of the idempotency rows and their expiry.
        idempotency_ttl: seconds a stored answer is kept (:data:`IDEMPOTENCY_TTL`).

    Raises:
        sqlite3.Error: when the database cannot be opened or created.
    """

    def __init__(self, data_dir: Path, *, clock: Callable[[], float] = time.time,
                 idempotency_ttl: float = IDEMPOTENCY_TTL) -> None:
        self.clock = clock
        self.idempotency_ttl = float(idempotency_ttl)
        self._last_purge: float | None = None
        self._purge_lock = threading.Lock()
        self.data_dir = Path(data_dir)
        self._key: bytes | None = None
        self._key_lock = threading.Lock()
        super().__init__(self.data_dir / DB_NAME, _SCHEMA)
        self._key_old_fingerprints()

    # -- keyed idempotency fingerprints ---------------------------------------------------------

    def _fingerprint_key(self) -> bytes:
        with self._key_lock:
            if self._key is None:
                self._key = load_or_create_key(
                    self.data_dir / IDEMPOTENCY_KEY_FILE,
                    "every stored fingerprint: retries of the last 24 hours get 409")
            return self._key

    def keyed_fingerprint(self, endpoint: str, fingerprint: str) -> str:
        """What the ``idempotency`` table stores for a request: hex HMAC-SHA256 under the
        idempotency key of ``"privacy-sdk/idempotency/v1" || 0x00 || endpoint || 0x00 ||
        fingerprint``, where *fingerprint* is the route's digest of the body (e.g.
        :func:`server_stub.routes.consent.fingerprint`). Nobody without the key can test a
        guessed body against a stored row."""
        message = _FINGERPRINT_LABEL + f"{endpoint}\0{fingerprint}".encode()
        return hmac.new(self._fingerprint_key(), message, hashlib.sha256).hexdigest()

    def _key_old_fingerprints(self) -> None:
        """A database made before the fingerprints were keyed (its ``idempotency`` table has
        no ``account_id`` column): key its stored fingerprints in place and add the column,
        in one transaction, so replays of the last 24 hours still match."""
        def keyed(conn: sqlite3.Connection) -> bool:
            return "account_id" in {r[1] for r in conn.execute("PRAGMA table_info(idempotency)")}

        with self.connect() as conn:
            if keyed(conn):
                return
        with self.transaction() as conn:
            if keyed(conn):  # another Store of the same folder did it meanwhile
                return
            rows = conn.execute("SELECT key, endpoint, body_sha256 FROM idempotency").fetchall()
            conn.executemany("UPDATE idempotency SET body_sha256 = ? WHERE key = ?",
                             [(self.keyed_fingerprint(endpoint, printed), key)
                              for key, endpoint, printed in rows])
            conn.execute("ALTER TABLE idempotency ADD COLUMN account_id TEXT")

    def _idempotency_cutoff(self, now: float) -> str:
        """Rows created before this time (RFC 3339, compared as text) are past the window."""
        return epoch_rfc3339(now - self.idempotency_ttl)

    def purge_idempotency(self) -> int:
        """Delete the idempotency rows older than the replay window (by the clock); returns
        how many. Run on start and, at most once a minute, on idempotent POSTs."""
        now = float(self.clock())
        with self._purge_lock:
            self._last_purge = now
        with self.connect() as conn:
            cursor = conn.execute("DELETE FROM idempotency WHERE created_at < ?",
                                  (self._idempotency_cutoff(now),))
        return cursor.rowcount

    def maybe_purge_idempotency(self, interval: float = IDEMPOTENCY_PURGE_INTERVAL) -> int:
        """:meth:`purge_idempotency` unless one ran less than *interval* seconds ago."""
        now = float(self.clock())
        with self._purge_lock:
            last = self._last_purge
            if last is not None and last <= now < last + interval:
                return 0
        return self.purge_idempotency()

    def run_idempotent(
        self, key: str, endpoint: str, fingerprint: str, action: Action, *,
        account_id: str | None = None,
    ) -> IdempotentAnswer:
        """Run ``action`` once per Idempotency-Key and remember its answer.

        Args:
            key: the Idempotency-Key header.
            endpoint: e.g. ``"POST /v1/consent-records"``; a key is bound to one endpoint.
            fingerprint: the route's digest of the request body; only its keyed form
                (:meth:`keyed_fingerprint`) is stored.
            action: the work; called at most once per key, inside the transaction.
            account_id: the session's account, stored with the row so that the account's
                rows go at cancellation; None without a session.

        Returns:
            the stored answer (``replayed=True``) when key, endpoint and body match an earlier
            successful request of the last :data:`IDEMPOTENCY_TTL` (24 h); otherwise the new
            answer of ``action``, stored with the key. An older row is deleted first: after
            the replay window the key counts as new.

        Raises:
            IdempotencyKeyReused: the key was used before with another body or endpoint.
            Exception: whatever ``action`` raises; then nothing is stored.
        """
        self.maybe_purge_idempotency()  # the cheap trigger (at most once a minute)
        now = float(self.clock())
        body_sha256 = self.keyed_fingerprint(endpoint, fingerprint)
        with self.transaction() as conn:
            conn.execute("DELETE FROM idempotency WHERE key = ? AND created_at < ?",
                         (key, self._idempotency_cutoff(now)))
            row = conn.execute(
                "SELECT endpoint, body_sha256, status, response FROM idempotency WHERE key = ?",
                (key,),
            ).fetchone()
            if row is not None:
                if (row[0], row[1]) != (endpoint, body_sha256):
                    raise IdempotencyKeyReused(key)
                conn.execute("ROLLBACK")
                return IdempotentAnswer(status=row[2], body=json.loads(row[3]), replayed=True)
            status, body = action(conn)
            conn.execute(
                "INSERT INTO idempotency (key, endpoint, body_sha256, status, response,"
                " created_at, account_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key, endpoint, body_sha256, status, json.dumps(body, ensure_ascii=False),
                 epoch_rfc3339(now), account_id),
            )
        return IdempotentAnswer(status=status, body=body, replayed=False)

    @staticmethod
    def insert_consent_record(
        conn: sqlite3.Connection, record_json: str, record_id: str, subject_id: str
    ) -> str:
        """Insert one consent record inside a transaction of :meth:`run_idempotent`.

        Args:
            conn: the transaction's connection (the ``action`` argument).
            record_json: the record exactly as received (JSON text).
            record_id: its ``record_id``; subject_id: its ``subject_id``.

        Returns:
            ``received_at``, RFC 3339 UTC.

        Raises:
            ConsentRecordExists: a record with this ``record_id`` is already stored.
        """
        received_at = utc_now_rfc3339()
        try:
            conn.execute(
                "INSERT INTO consent_records (record_id, subject_id, received_at, record)"
                " VALUES (?, ?, ?, ?)",
                (record_id, subject_id, received_at, record_json),
            )
        except sqlite3.IntegrityError as exc:
            raise ConsentRecordExists(record_id) from exc
        return received_at

    @staticmethod
    def pin_subject_key(conn: sqlite3.Connection, subject_id: str, public_key: str | None) -> None:
        """Remember the first public key seen for ``subject_id`` (inside a transaction of
        :meth:`run_idempotent`); a later record of the subject must carry the same key.
        ``None`` (an unsigned or version 1 record) is accepted only while no key is pinned:
        once a subject signs, nobody can add unsigned records in its name.

        Raises:
            SubjectKeyMismatch: another key, or none, for a subject with a pinned key.
        """
        row = conn.execute(
            "SELECT public_key FROM subject_keys WHERE subject_id = ?", (subject_id,)
        ).fetchone()
        if public_key is None:
            if row is not None:
                raise SubjectKeyMismatch()
            return
        if row is None:
            conn.execute(
                "INSERT INTO subject_keys (subject_id, public_key, first_seen_at) VALUES (?, ?, ?)",
                (subject_id, public_key, utc_now_rfc3339()),
            )
        elif row[0] != public_key:
            raise SubjectKeyMismatch()

    def consent_record(self, record_id: str) -> dict[str, Any] | None:
        """The stored record with this ``record_id`` (as received, plus ``received_at``), or
        None."""
        with self.connect() as conn:
            row = conn.execute(
                "SELECT record, received_at FROM consent_records WHERE record_id = ?", (record_id,)
            ).fetchone()
        return None if row is None else {**json.loads(row[0]), "received_at": row[1]}

    def consent_records(self, subject_id: str) -> list[dict[str, Any]]:
        """The subject's consent records in the order received, each with ``received_at``.

        Returns:
            ``[{...record as received..., "received_at": "2026-11-30T03:22:25Z"}, ...]``;
            empty when the subject has none.
        """
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT record, received_at FROM consent_records WHERE subject_id = ? ORDER BY seq",
                (subject_id,),
            ).fetchall()
        return [{**json.loads(record), "received_at": received_at} for record, received_at in rows]

    # -- accounts and sessions (docs/protocol.md, "Accounts") ------------------------------

    @staticmethod
    def insert_account(conn: sqlite3.Connection, identifier: str, password_hash: str) -> str:
        """Insert an account inside a transaction of :meth:`run_idempotent`; return its id.

        Only the normalised identifier, the Argon2id hash and the creation time are stored
        (OBL-ACC-1).

        Raises:
            AccountExists: the identifier is already registered.
        """
        account_id = str(uuid.uuid4())
        try:
            conn.execute(
                "INSERT INTO accounts (account_id, identifier, password_hash, created_at)"
                " VALUES (?, ?, ?, ?)",
                (account_id, identifier, password_hash, utc_now_rfc3339()),
            )
        except sqlite3.IntegrityError as exc:
            raise AccountExists() from exc
        return account_id

    def account_by_identifier(self, identifier: str) -> AccountRow | None:
        """The account registered with this normalised identifier, or None."""
        return self._account("identifier", identifier)

    def account_by_id(self, account_id: str) -> AccountRow | None:
        """The account with this id, or None."""
        return self._account("account_id", account_id)

    def _account(self, column: str, value: str) -> AccountRow | None:
        with self.connect() as conn:
            row = conn.execute(
                f"SELECT account_id, identifier, password_hash FROM accounts WHERE {column} = ?",
                (value,),
            ).fetchone()
        return AccountRow(*row) if row else None

    def replace_password_hash(self, account_id: str, old_hash: str, new_hash: str) -> bool:
        """Store a re-computed hash (new Argon2 parameters) unless the hash changed meanwhile.

        Returns:
            True when the hash was replaced.
        """
        with self.connect() as conn:
            cursor = conn.execute(
                "UPDATE accounts SET password_hash = ? WHERE account_id = ? AND password_hash = ?",
                (new_hash, account_id, old_hash),
            )
        return cursor.rowcount == 1

    def create_session(
        self, token_sha256: str, account_id: str, expires_at: float, now: float,
        replaces: str | None = None,
    ) -> None:
        """Store a new session; in the same transaction end the session it ``replaces`` (the
        caller's previous one: rotation on login) and purge expired sessions."""
        with self.transaction() as conn:
            if replaces is not None:
                conn.execute("DELETE FROM sessions WHERE token_sha256 = ?", (replaces,))
            conn.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,))
            conn.execute(
                "INSERT INTO sessions (token_sha256, account_id, expires_at) VALUES (?, ?, ?)",
                (token_sha256, account_id, expires_at),
            )

    def session_account(self, token_sha256: str, now: float) -> AccountRow | None:
        """The account of an unexpired session, or None."""
        with self.connect() as conn:
            row = conn.execute(
                "SELECT a.account_id, a.identifier, a.password_hash FROM sessions s"
                " JOIN accounts a ON a.account_id = s.account_id"
                " WHERE s.token_sha256 = ? AND s.expires_at > ?",
                (token_sha256, now),
            ).fetchone()
        return AccountRow(*row) if row else None

    @staticmethod
    def delete_sessions(conn: sqlite3.Connection, account_id: str) -> int:
        """End every session of the account inside the caller's transaction (cancellation,
        OBL-DSR-7); returns how many."""
        return conn.execute("DELETE FROM sessions WHERE account_id = ?", (account_id,)).rowcount

    @staticmethod
    def change_identifier(conn: sqlite3.Connection, account_id: str, identifier: str) -> bool:
        """Replace the account's login identifier (a normalised E.164 number or lower-case
        email) inside the caller's transaction: the old one no longer logs in (a correction,
        docs/protocol.md "Rights requests"). Returns True when it changed.

        Raises:
            AccountExists: another account logs in with *identifier*.
        """
        try:
            cursor = conn.execute(
                "UPDATE accounts SET identifier = ? WHERE account_id = ? AND identifier != ?",
                (identifier, account_id, identifier))
        except sqlite3.IntegrityError as exc:
            raise AccountExists() from exc
        return cursor.rowcount == 1

    @staticmethod
    def anonymise_account(conn: sqlite3.Connection, account_id: str) -> None:
        """Cancellation (OBL-DSR-7), inside the caller's transaction: the identifier becomes
        ``cancelled:<uuid4>`` (so it can be registered again and never logs in), the password
        hash an unusable value (no Argon2 hash: nothing verifies against it), every session
        ends, the install ids are unlinked (their consent records stay, as proof of consent)
        and the account's stored idempotent answers go (those sent with its session, and its
        registration's). The row itself, with its id and creation time, stays: kept evidence
        refers to it."""
        conn.execute(
            "UPDATE accounts SET identifier = ?, password_hash = ? WHERE account_id = ?",
            (f"cancelled:{uuid.uuid4()}", "!cancelled", account_id))
        Store.delete_sessions(conn, account_id)
        conn.execute("DELETE FROM account_subjects WHERE account_id = ?", (account_id,))
        conn.execute(
            "DELETE FROM idempotency WHERE account_id = ? OR (endpoint = 'POST /v1/accounts'"
            " AND json_extract(response, '$.account_id') = ?)", (account_id, account_id))

    def idempotency_state(self, key: str, endpoint: str, fingerprint: str) -> str:
        """Whether :meth:`run_idempotent` would run its action for this key now: ``"new"``
        (no stored answer in the replay window), ``"replay"`` (same endpoint and body) or
        ``"conflict"`` (another endpoint or body). For work outside the store's database
        that must not run again on a replay (a peek; the transaction decides)."""
        cutoff = self._idempotency_cutoff(float(self.clock()))
        body_sha256 = self.keyed_fingerprint(endpoint, fingerprint)
        with self.connect() as conn:
            row = conn.execute(
                "SELECT endpoint, body_sha256 FROM idempotency WHERE key = ? AND created_at >= ?",
                (key, cutoff)).fetchone()
        if row is None:
            return "new"
        return "replay" if (row[0], row[1]) == (endpoint, body_sha256) else "conflict"

    def delete_session(self, token_sha256: str) -> bool:
        """End a session; True when there was one."""
        with self.connect() as conn:
            cursor = conn.execute("DELETE FROM sessions WHERE token_sha256 = ?", (token_sha256,))
        return cursor.rowcount == 1

    # -- account <-> subject links, the account's records, transfers (cross-device sync, DSR) --

    def link_subject(self, subject_id: str, account_id: str) -> bool:
        """Link a pseudonymous install id to an account. Idempotent.

        Returns:
            True when the link is new, False when it already existed for this account.

        Raises:
            SubjectLinkedElsewhere: the subject is linked to another account (links never move).
        """
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT account_id FROM account_subjects WHERE subject_id = ?", (subject_id,)
            ).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO account_subjects (subject_id, account_id, linked_at)"
                    " VALUES (?, ?, ?)",
                    (subject_id, account_id, utc_now_rfc3339()),
                )
        if row is not None and row[0] != account_id:
            raise SubjectLinkedElsewhere()
        return row is None

    def account_consent_records(
        self, account_id: str, after: int | None = None
    ) -> list[dict[str, Any]]:
        """The records of every subject linked to the account, in server order.

        Args:
            after: only records whose ``seq`` is greater (a cursor from an earlier answer).

        Returns:
            ``[{...record as received..., "received_at": ..., "cursor": <seq>}, ...]``.
        """
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT c.seq, c.record, c.received_at FROM consent_records c"
                " JOIN account_subjects l ON l.subject_id = c.subject_id"
                " WHERE l.account_id = ? AND c.seq > ? ORDER BY c.seq",
                (account_id, after if after is not None else 0),
            ).fetchall()
        return [
            {**json.loads(record), "received_at": received_at, "cursor": seq}
            for seq, record, received_at in rows
        ]

    def record_transfer(
        self,
        account_id: str,
        recipient: str,
        items: list[str] | tuple[str, ...],
        purpose: str,
        method: str,
        time: str | None = None,
    ) -> int:
        """Log that personal information of the account was given to a third party.

        Args:
            account_id: whose information.
            recipient: recipient id of the policy manifest, e.g. ``"realname_agency"``.
            items: data item ids of the manifest, e.g. ``["real_name", "id_number"]``.
            purpose: purpose id of the manifest, e.g. ``"realname_verification"``.
            method: how it was transferred (the manifest's ``transfer_method``).
            time: RFC 3339 UTC; now when None.

        Returns:
            the transfer's ``seq``.

        Raises:
            ValueError: an empty id, no items, or items that are not strings.
        """
        items = list(items)
        if not all(isinstance(v, str) and v for v in (account_id, recipient, purpose, method)):
            raise ValueError("account_id, recipient, purpose and method must be non-empty strings")
        if not items or not all(isinstance(i, str) and i for i in items):
            raise ValueError("items must be a non-empty list of data item ids")
        with self.connect() as conn:
            cursor = conn.execute(
                "INSERT INTO transfers (account_id, recipient, items, purpose, method, time)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (account_id, recipient, json.dumps(items), purpose, method,
                 time or utc_now_rfc3339()),
            )
        return int(cursor.lastrowid or 0)

    def transfers(self, account_id: str) -> list[dict[str, Any]]:
        """The account's transfers in the order logged:
        ``[{"recipient", "items", "purpose", "method", "time"}, ...]``."""
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT recipient, items, purpose, method, time FROM transfers"
                " WHERE account_id = ? ORDER BY seq",
                (account_id,),
            ).fetchall()
        return [
            {"recipient": r, "items": json.loads(i), "purpose": p, "method": m, "time": t}
            for r, i, p, m, t in rows
        ]

    def account_inventory(self, account_id: str) -> AccountInventory | None:
        """What the store holds about the account, as counts and times; None when unknown.

        Read in one transaction, so the counts agree with each other.
        """
        with self.transaction(write=False) as conn:
            row = conn.execute(
                "SELECT created_at FROM accounts WHERE account_id = ?", (account_id,)
            ).fetchone()
            if row is None:
                return None
            fingerprints = conn.execute(
                "SELECT COUNT(*) FROM idempotency WHERE endpoint = 'POST /v1/accounts'"
                " AND json_extract(response, '$.account_id') = ?",
                (account_id,),
            ).fetchone()[0]
            sessions = conn.execute(
                "SELECT COUNT(*) FROM sessions WHERE account_id = ?", (account_id,)
            ).fetchone()[0]
            linked, last_linked = conn.execute(
                "SELECT COUNT(*), MAX(linked_at) FROM account_subjects WHERE account_id = ?",
                (account_id,),
            ).fetchone()
            records, last_received = conn.execute(
                "SELECT COUNT(*), MAX(c.received_at) FROM consent_records c"
                " JOIN account_subjects l ON l.subject_id = c.subject_id"
                " WHERE l.account_id = ?",
                (account_id,),
            ).fetchone()
            keys = conn.execute(
                "SELECT COUNT(*) FROM subject_keys k"
                " JOIN account_subjects l ON l.subject_id = k.subject_id"
                " WHERE l.account_id = ?",
                (account_id,),
            ).fetchone()[0]
            transfers, last_transfer = conn.execute(
                "SELECT COUNT(*), MAX(time) FROM transfers WHERE account_id = ?", (account_id,)
            ).fetchone()
        return AccountInventory(
            account_created_at=row[0],
            registration_fingerprints=fingerprints,
            sessions=sessions,
            linked_subjects=linked,
            last_linked_at=last_linked,
            consent_records=records,
            last_received_at=last_received,
            pinned_keys=keys,
            transfers=transfers,
            last_transfer_at=last_transfer,
        )
