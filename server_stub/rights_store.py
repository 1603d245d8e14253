"""Data-subject rights of the stub: identity checks, rights requests, the account's contact
profile and cancellation (issue #7; tables in ``stub.db``; docs/protocol.md, "Data-subject
rights and cancellation").

Tables (in ``<data_dir>/stub.db``, next to :mod:`server_stub.store`'s; the same WAL database,
so a write here shares a transaction of :meth:`Store.run_idempotent` with the account, the
real-name tables and :mod:`server_stub.services_store`)::

    identity_checks(token_sha256 PRIMARY KEY, account_id, verified_at, expires_at)
        a step-up identity check (OBL-DSR-1): hex SHA-256 of the token, never the token;
        times in seconds since the epoch (the server's clock); valid
        :data:`IDENTITY_TOKEN_TTL` seconds, usable for several requests meanwhile; expired
        rows are deleted when a new check is made
    profiles(account_id PRIMARY KEY, phone, email, updated_at)
        the account's contact details (E.164 / lower-case email, or NULL): made from the login
        identifier on first read, changed by a correction request; deleted by cancellation
    rights_requests(seq, request_id UNIQUE, account_id, kind, status, created_at,
                    identity_verified_at, answered_at, answer, details, provided, outcome)
        one row per rights request. details: JSON object without any value (the field, the
        case, the purpose); provided: JSON object of what the user gave that staff needs to
        handle it (the new real name, the objection's text, the evidence report's requester
        name, reason, mailbox and only a keyed pseudonym of the requester's ID number), NULL
        when nothing is kept. It is kept only while the request is open: it goes when staff
        answer it (:meth:`RightsStore.answer_in`), at a deletion request for the requests
        already answered (:meth:`RightsStore.erase_provided`), and at cancellation, which
        ends the open requests with status ``closed`` (:meth:`RightsStore.forget_account`).
        One exception: an evidence report request's fields (manifest item
        ``evidence_request``, retention P5Y; the policy keeps them five years from the
        application, Electronic Signature Law) stay until ``created_at`` +
        :data:`EVIDENCE_REQUEST_YEARS` years, whatever happens. outcome: JSON object or NULL.
    cancellation_tokens(token_sha256 PRIMARY KEY, account_id, expires_at)
        step 1 of a cancellation (OBL-DSR-7); valid :data:`CANCELLATION_TOKEN_TTL` seconds,
        used once
    cancelled_accounts(account_id PRIMARY KEY, cancelled_at, evidence_kept_until)
        when each account was cancelled and until when its signing records are kept

The deadline of a request (15 PRC working days after the identity check, OBL-DSR-6/8) is
worked out on each read from ``identity_verified_at`` by :func:`sdk.rights.deadline.deadline_after`
(so a newer ``chinesecalendar`` firms up a provisional date); ``overdue`` compares it with the
server's clock.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import secrets
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .app_state import per_app
from .db import SqliteStore
from .realname_store import add_years
from .store import DB_NAME, Store, epoch_rfc3339, parse_time, rfc3339

__all__ = [
    "CANCELLATION_TOKEN_TTL",
    "CLOSED_ANSWER",
    "EVIDENCE_REQUEST_YEARS",
    "IDENTITY_TOKEN_TTL",
    "KINDS",
    "OPEN_STATUSES",
    "STATUSES",
    "RequestsErasure",
    "RightsStore",
    "for_app",
]

#: Seconds an identity token is valid (docs/protocol.md: 10 minutes).
IDENTITY_TOKEN_TTL = 600
#: Seconds a cancellation token is valid (10 minutes).
CANCELLATION_TOKEN_TTL = 600
#: The kinds of rights requests.
KINDS: tuple[str, ...] = ("access", "export", "correction", "deletion", "objection",
                          "evidence_report")
#: Statuses of a rights request (``closed``: ended unanswered by the account's cancellation).
STATUSES: tuple[str, ...] = ("received", "in_progress", "completed", "rejected", "closed")
#: The answer of a request the cancellation ended.
CLOSED_ANSWER = "账号已注销，请求随之终止"
#: Years an evidence report request's fields are kept after it was made (manifest item
#: ``evidence_request``, retention P5Y; the policy: five years from the application).
EVIDENCE_REQUEST_YEARS = 5
_EVIDENCE = "evidence_report"
#: Statuses of a request still waiting for its answer (the only ones that can be overdue).
OPEN_STATUSES: tuple[str, ...] = ("received", "in_progress")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS identity_checks (
    token_sha256 TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL,
    verified_at  REAL NOT NULL,
    expires_at   REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS identity_checks_by_expiry ON identity_checks (expires_at);
CREATE TABLE IF NOT EXISTS profiles (
    account_id TEXT PRIMARY KEY,
    phone      TEXT,
    email      TEXT,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rights_requests (
    seq                  INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id           TEXT NOT NULL UNIQUE,
    account_id           TEXT NOT NULL,
    kind                 TEXT NOT NULL,
    status               TEXT NOT NULL,
    created_at           TEXT NOT NULL,
    identity_verified_at TEXT NOT NULL,
    answered_at          TEXT,
    answer               TEXT,
    details              TEXT NOT NULL,
    provided             TEXT,
    outcome              TEXT
);
CREATE INDEX IF NOT EXISTS rights_requests_by_account ON rights_requests (account_id, seq);
CREATE TABLE IF NOT EXISTS cancellation_tokens (
    token_sha256 TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL,
    expires_at   REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS cancelled_accounts (
    account_id          TEXT PRIMARY KEY,
    cancelled_at        TEXT NOT NULL,
    evidence_kept_until TEXT NOT NULL
);
"""

_REQUEST_COLUMNS = ("request_id, kind, status, created_at, identity_verified_at, answered_at,"
                    " answer, details, outcome")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _plausible(token: Any) -> bool:
    """A token worth looking up: a short visible-ASCII string (a real one is 43 characters)."""
    return isinstance(token, str) and 0 < len(token) <= 128 and token.isascii()


def login_kind(identifier: str) -> str | None:
    """``"phone"`` or ``"email"`` for a normalised login identifier; None for a cancelled
    account's placeholder."""
    if identifier.startswith("+"):
        return "phone"
    if "@" in identifier and not identifier.startswith("cancelled:"):
        return "email"
    return None


class RightsStore(SqliteStore):
    """The rights tables of ``<data_dir>/stub.db`` (see the module docstring).

    Args:
        data_dir: the stub's data folder; must exist.
        clock: the server's clock, seconds since the epoch (``Settings.clock``).

    Raises:
        sqlite3.Error: the database cannot be opened.
    """

    def __init__(self, data_dir: Path, clock: Callable[[], float]) -> None:
        self.data_dir = Path(data_dir)
        self.clock = clock
        super().__init__(self.data_dir / DB_NAME, _SCHEMA)

    def now(self) -> float:
        """The server's time, seconds since the epoch."""
        return float(self.clock())

    # -- identity checks (step-up, OBL-DSR-1) ---------------------------------------------------

    def create_identity_check(self, account_id: str) -> tuple[str, float, float]:
        """A new identity token for the account (after its password was checked).

        Returns:
            ``(token, verified_at, expires_at)``: the token (43 characters, URL-safe base64
            of 256 random bits; only its SHA-256 is stored) and the times in seconds.
        """
        now = self.now()
        token = secrets.token_urlsafe(32)
        with self.transaction() as conn:
            conn.execute("DELETE FROM identity_checks WHERE expires_at <= ?", (now,))
            conn.execute(
                "INSERT INTO identity_checks (token_sha256, account_id, verified_at, expires_at)"
                " VALUES (?, ?, ?, ?)", (_digest(token), account_id, now, now + IDENTITY_TOKEN_TTL))
        return token, now, now + IDENTITY_TOKEN_TTL

    def identity_verified_at(self, account_id: str, token: str | None) -> float | None:
        """When the account's identity was checked with this token (seconds), or None when the
        token is missing, unknown, expired or another account's."""
        if not _plausible(token):
            return None
        assert token is not None
        with self.connect() as conn:
            row = conn.execute(
                "SELECT verified_at FROM identity_checks WHERE token_sha256 = ? AND account_id = ?"
                " AND expires_at > ?", (_digest(token), account_id, self.now())).fetchone()
        return None if row is None else float(row[0])

    # -- the contact profile -----------------------------------------------------------------

    @staticmethod
    def _ensure_profile(conn: sqlite3.Connection, account_id: str, stamp: str) -> None:
        """Make the profile row from the login identifier unless it exists."""
        if conn.execute("SELECT 1 FROM profiles WHERE account_id = ?", (account_id,)).fetchone():
            return
        row = conn.execute("SELECT identifier FROM accounts WHERE account_id = ?",
                           (account_id,)).fetchone()
        kind = login_kind(row[0]) if row else None
        conn.execute(
            "INSERT INTO profiles (account_id, phone, email, updated_at) VALUES (?, ?, ?, ?)",
            (account_id, row[0] if kind == "phone" else None,
             row[0] if kind == "email" else None, stamp))

    def profile(self, account_id: str) -> dict[str, str | None]:
        """``{"phone": E.164 or None, "email": str or None}``; made from the login
        identifier on first read."""
        with self.transaction() as conn:
            self._ensure_profile(conn, account_id, epoch_rfc3339(self.now()))
            row = conn.execute("SELECT phone, email FROM profiles WHERE account_id = ?",
                               (account_id,)).fetchone()
        return {"phone": row[0], "email": row[1]}

    @classmethod
    def correct_contact(cls, conn: sqlite3.Connection, account_id: str, field: str, value: str,
                        stamp: str) -> bool:
        """Apply a correction of ``phone`` or ``email`` (a normalised value) inside the
        caller's transaction; when the account logs in with that kind of identifier, the login
        identifier changes too.

        Returns:
            True when the login identifier changed.

        Raises:
            AccountExists: another account logs in with *value*.
        """
        if field not in ("phone", "email"):
            raise ValueError("field must be phone or email")
        cls._ensure_profile(conn, account_id, stamp)
        conn.execute(f"UPDATE profiles SET {field} = ?, updated_at = ? WHERE account_id = ?",
                     (value, stamp, account_id))
        row = conn.execute("SELECT identifier FROM accounts WHERE account_id = ?",
                           (account_id,)).fetchone()
        if row is not None and login_kind(row[0]) == field:
            return Store.change_identifier(conn, account_id, value)
        return False

    # -- rights requests --------------------------------------------------------------------

    @staticmethod
    def insert_request(conn: sqlite3.Connection, *, account_id: str, kind: str, status: str,
                       created_at: str, identity_verified_at: str, details: dict[str, Any],
                       provided: dict[str, Any] | None = None,
                       outcome: dict[str, Any] | None = None, answer: str | None = None,
                       answered_at: str | None = None) -> str:
        """Insert a request inside the caller's transaction; returns its ``request_id``."""
        if kind not in KINDS or status not in STATUSES:
            raise ValueError("unknown kind or status")
        request_id = str(uuid.uuid4())
        conn.execute(
            "INSERT INTO rights_requests (request_id, account_id, kind, status, created_at,"
            " identity_verified_at, answered_at, answer, details, provided, outcome)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (request_id, account_id, kind, status, created_at, identity_verified_at,
             answered_at, answer, json.dumps(details, ensure_ascii=False),
             None if provided is None else json.dumps(provided, ensure_ascii=False),
             None if outcome is None else json.dumps(outcome, ensure_ascii=False)))
        return request_id

    def wire(self, row: tuple[Any, ...]) -> dict[str, Any]:
        """The wire form of a row of :data:`_REQUEST_COLUMNS` (docs/protocol.md): with the
        deadline and ``overdue`` by the server's clock now."""
        from sdk.rights.deadline import deadline_after

        (request_id, kind, status, created_at, verified_at, answered_at, answer, details,
         outcome) = row[:9]
        verified = parse_time(verified_at)
        assert verified is not None and verified.tzinfo is not None
        deadline = deadline_after(verified)
        now = _dt.datetime.fromtimestamp(self.now(), _dt.timezone.utc)
        return {
            "request_id": request_id,
            "kind": kind,
            "status": status,
            "created_at": created_at,
            "identity_verified_at": verified_at,
            **deadline.to_json(),
            "overdue": status in OPEN_STATUSES and deadline.is_overdue(now),
            "answered_at": answered_at,
            "answer": answer,
            "details": json.loads(details),
            "outcome": None if outcome is None else json.loads(outcome),
        }

    def request_in(self, conn: sqlite3.Connection, request_id: str,
                   account_id: str | None) -> dict[str, Any] | None:
        """The request's wire form read on *conn*; None when unknown or (with *account_id*)
        another account's."""
        query = f"SELECT {_REQUEST_COLUMNS} FROM rights_requests WHERE request_id = ?"
        args: tuple[Any, ...] = (request_id,)
        if account_id is not None:
            query += " AND account_id = ?"
            args += (account_id,)
        row = conn.execute(query, args).fetchone()
        return None if row is None else self.wire(row)

    def request(self, account_id: str, request_id: str) -> dict[str, Any] | None:
        """The account's request (wire form), or None when unknown or another account's."""
        with self.connect() as conn:
            return self.request_in(conn, request_id, account_id)

    def requests(self, account_id: str, *, provided: bool = False) -> list[dict[str, Any]]:
        """The account's requests, newest first (wire form). With *provided*, each also has
        ``"provided"``: what the user gave that is still kept (the export), or None."""
        with self.connect() as conn:
            rows = conn.execute(
                f"SELECT {_REQUEST_COLUMNS}, provided FROM rights_requests WHERE account_id = ?"
                " ORDER BY seq DESC", (account_id,)).fetchall()
        answers = []
        for row in rows:
            body = self.wire(row)
            if provided:
                body["provided"] = None if row[9] is None else json.loads(row[9])
            answers.append(body)
        return answers

    def answer_in(self, conn: sqlite3.Connection, request_id: str, status: str,
                  answer: str) -> dict[str, Any] | None:
        """Staff's answer (the dev endpoint), inside the caller's transaction: the new status
        and text; ``answered_at`` is set for ``completed`` and ``rejected``, and what the
        user gave goes then (it was kept only to answer), except an evidence report request's
        fields (kept :data:`EVIDENCE_REQUEST_YEARS` years, module docstring).

        Returns:
            the request's wire form after the change; None when the request is unknown.

        Raises:
            ValueError: the request is already ``completed``, ``rejected`` or ``closed``.
        """
        row = conn.execute("SELECT status FROM rights_requests WHERE request_id = ?",
                           (request_id,)).fetchone()
        if row is None:
            return None
        if row[0] not in OPEN_STATUSES:
            raise ValueError("the request is already answered")
        final = status not in OPEN_STATUSES
        conn.execute(
            "UPDATE rights_requests SET status = ?, answer = ?, answered_at = ?,"
            " provided = CASE WHEN ? AND kind != ? THEN NULL ELSE provided END"
            " WHERE request_id = ?",
            (status, answer, epoch_rfc3339(self.now()) if final else None, final, _EVIDENCE,
             request_id))
        return self.request_in(conn, request_id, None)

    def purge_expired_evidence(self) -> int:
        """Delete what the requester gave in evidence report requests made more than
        :data:`EVIDENCE_REQUEST_YEARS` years ago (their retention, manifest item
        ``evidence_request``, P5Y), by the server's clock; the request record (kind, status,
        times) stays. Returns how many requests lost their values."""
        cutoff = rfc3339(add_years(_dt.datetime.fromtimestamp(self.now(), _dt.timezone.utc),
                                   -EVIDENCE_REQUEST_YEARS))
        with self.connect() as conn:
            return conn.execute(
                "UPDATE rights_requests SET provided = NULL WHERE kind = ? AND"
                " provided IS NOT NULL AND created_at <= ?", (_EVIDENCE, cutoff)).rowcount

    def request_owner(self, request_id: str) -> str | None:
        """The account a request belongs to, or None when unknown."""
        with self.connect() as conn:
            row = conn.execute("SELECT account_id FROM rights_requests WHERE request_id = ?",
                               (request_id,)).fetchone()
        return None if row is None else str(row[0])

    def has_open_requests(self, account_id: str) -> bool:
        """True when the account has a request still waiting for its answer."""
        with self.connect() as conn:
            return conn.execute(
                "SELECT 1 FROM rights_requests WHERE account_id = ? AND status IN (?, ?)"
                " LIMIT 1", (account_id, *OPEN_STATUSES)).fetchone() is not None

    @staticmethod
    def evidence_kept_until(conn: sqlite3.Connection, account_id: str) -> str | None:
        """Until when the account's evidence report request fields are kept (the latest
        ``created_at`` of a request that keeps them, plus :data:`EVIDENCE_REQUEST_YEARS`
        years; RFC 3339), or None when none keeps any."""
        latest = conn.execute(
            "SELECT MAX(created_at) FROM rights_requests WHERE account_id = ? AND kind = ?"
            " AND provided IS NOT NULL", (account_id, _EVIDENCE)).fetchone()[0]
        moment = parse_time(latest)
        return None if moment is None else rfc3339(add_years(moment, EVIDENCE_REQUEST_YEARS))

    @classmethod
    def erase_provided(cls, conn: sqlite3.Connection, account_id: str) -> RequestsErasure:
        """A deletion request's part in these tables, inside its transaction: what the user
        gave in requests already answered (``completed``, ``rejected``, ``closed``) goes; the
        open requests keep theirs until they are answered (needed to answer them); evidence
        report requests keep their fields (module docstring)."""
        deleted = conn.execute(
            "UPDATE rights_requests SET provided = NULL WHERE account_id = ? AND kind != ?"
            " AND provided IS NOT NULL AND status NOT IN (?, ?)",
            (account_id, _EVIDENCE, *OPEN_STATUSES)).rowcount
        still_open = conn.execute(
            "SELECT COUNT(*) FROM rights_requests WHERE account_id = ? AND kind != ?"
            " AND provided IS NOT NULL AND status IN (?, ?)",
            (account_id, _EVIDENCE, *OPEN_STATUSES)).fetchone()[0]
        return RequestsErasure(deleted=int(deleted), open_kept=int(still_open),
                               evidence_kept_until=cls.evidence_kept_until(conn, account_id))

    # -- cancellation (OBL-DSR-7) -------------------------------------------------------------

    def create_cancellation(self, account_id: str) -> tuple[str, float]:
        """Step 1: a cancellation token (only its SHA-256 is stored). Returns
        ``(token, expires_at)`` (seconds); the account's earlier tokens end."""
        now = self.now()
        token = secrets.token_urlsafe(32)
        with self.transaction() as conn:
            conn.execute("DELETE FROM cancellation_tokens WHERE expires_at <= ? OR account_id = ?",
                         (now, account_id))
            conn.execute(
                "INSERT INTO cancellation_tokens (token_sha256, account_id, expires_at)"
                " VALUES (?, ?, ?)", (_digest(token), account_id, now + CANCELLATION_TOKEN_TTL))
        return token, now + CANCELLATION_TOKEN_TTL

    def cancellation_token_valid(self, account_id: str, token: Any,
                                 conn: sqlite3.Connection | None = None) -> bool:
        """True when *token* is the account's unexpired cancellation token (read on *conn*
        when given)."""
        if not _plausible(token):
            return False
        query = ("SELECT 1 FROM cancellation_tokens WHERE token_sha256 = ? AND account_id = ?"
                 " AND expires_at > ?")
        args = (_digest(token), account_id, self.now())
        if conn is not None:
            return conn.execute(query, args).fetchone() is not None
        with self.connect() as own:
            return own.execute(query, args).fetchone() is not None

    @staticmethod
    def forget_account(conn: sqlite3.Connection, account_id: str, cancelled_at: str,
                       evidence_kept_until: str) -> None:
        """The rights tables' part of a cancellation, inside its transaction: tokens and the
        profile go; every open request ends with status ``closed`` (answer
        :data:`CLOSED_ANSWER`, ``answered_at`` = *cancelled_at*: nobody can answer it any
        more); the requests keep only their metadata (what the user gave goes, except an
        evidence report request's fields, module docstring); the cancellation is
        recorded."""
        conn.execute("DELETE FROM cancellation_tokens WHERE account_id = ?", (account_id,))
        conn.execute("DELETE FROM identity_checks WHERE account_id = ?", (account_id,))
        conn.execute("DELETE FROM profiles WHERE account_id = ?", (account_id,))
        conn.execute(
            "UPDATE rights_requests SET status = 'closed', answer = ?, answered_at = ?"
            " WHERE account_id = ? AND status IN (?, ?)",
            (CLOSED_ANSWER, cancelled_at, account_id, *OPEN_STATUSES))
        conn.execute("UPDATE rights_requests SET provided = NULL WHERE account_id = ?"
                     " AND kind != ?", (account_id, _EVIDENCE))
        conn.execute(
            "INSERT OR REPLACE INTO cancelled_accounts (account_id, cancelled_at,"
            " evidence_kept_until) VALUES (?, ?, ?)",
            (account_id, cancelled_at, evidence_kept_until))

    # -- what is held, for GET /v1/me/personal-information ------------------------------------

    def held_items(self, account_id: str) -> list[dict[str, Any]]:
        """The entries of ``GET /v1/me/personal-information`` for these tables (counts, never
        a value): the rights requests, and the profile's contact details when they differ
        from the login identifier. Empty when nothing is held."""
        with self.transaction(write=False) as conn:
            count, last, kept = conn.execute(
                "SELECT COUNT(*), MAX(created_at), COALESCE(SUM(provided IS NOT NULL), 0)"
                " FROM rights_requests WHERE account_id = ?", (account_id,)).fetchone()
            profile = conn.execute(
                "SELECT p.phone, p.email, p.updated_at, a.identifier FROM profiles p"
                " JOIN accounts a ON a.account_id = p.account_id WHERE p.account_id = ?",
                (account_id,)).fetchone()
        items: list[dict[str, Any]] = []
        if count:
            items.append({
                "item": "rights_requests", "purpose": "data_subject_rights", "count": int(count),
                "last_at": last,
                "held": "one record per rights request: kind, status, times, the deadline, the "
                        f"answer; {int(kept)} keep what the user gave: an open request until "
                        "it is answered (a new real name, an objection's text), an evidence "
                        "report request 5 years (requester name, reason, mailbox and a keyed "
                        "pseudonym of the ID number)",
            })
        if profile is not None:
            extra = [field for field, value in (("phone", profile[0]), ("email", profile[1]))
                     if value is not None and value != profile[3]]
            if extra:
                items.append({
                    "item": "contact_details", "purpose": "account", "count": len(extra),
                    "last_at": profile[2],
                    "held": f"the account's {' and '.join(extra)} (corrected by the user), "
                            "besides the login identifier",
                })
        return items


@dataclass(frozen=True)
class RequestsErasure:
    """What :meth:`RightsStore.erase_provided` did.

    Attributes:
        deleted: answered requests whose values were deleted.
        open_kept: open requests (not evidence reports) still keeping values until answered.
        evidence_kept_until: until when evidence report request fields are kept (RFC 3339),
            None when no request keeps any.
    """

    deleted: int
    open_kept: int
    evidence_kept_until: str | None


def for_app(app: Any) -> RightsStore:
    """The :class:`RightsStore` of a stub app (``app.state.rights``), made on first use from
    ``app.state.settings`` (data dir and clock)."""
    return per_app(app, "rights",
                   lambda state: RightsStore(state.settings.data_dir, state.settings.clock))
