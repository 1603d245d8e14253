"""Customer service, notification channel, counter-signer invitations and notices of the stub
(issue #7; tables in ``stub.db``).

Tables (in ``<data_dir>/stub.db``, next to :mod:`server_stub.store`'s; the same WAL database,
so a write here can share a transaction of :meth:`Store.run_idempotent`)::

    support_messages(message_id PRIMARY KEY, account_id, text, contact, received_at,
                     answer, answered_at, idempotency_key)
        OBL-CS-1, manifest item ``cs_message`` (retention P2Y). text: as sent (1..2000
        characters); contact: None, an E.164 phone number or a lower-case email address
        (normalised by sdk.account.identifiers); answer: staff's answer (None until then).
        The stub keeps them in clear; a production backend encrypts them.
    notification_preferences(account_id PRIMARY KEY, channel, email, updated_at)
        OBL-MAIL-1, manifest item ``notification_email``. No row means the default:
        channel ``sms``, no email. ``channel = 'sms'`` without an email deletes the row.
    invitations(invitation_id PRIMARY KEY, account_id, template_id, phone, attestation,
                attested_at, idempotency_key)
        OBL-PHONE-1, manifest item ``counter_signer_phone`` (retention P5Y). phone: E.164;
        answered only masked (``138****8000``), except in the account's own export.
    notices(notice_id PRIMARY KEY, kind, title, parts, published_at)
        OBL-BR-1 / OBL-END-1. kind: ``breach`` | ``service_ending``; parts: JSON object of the
        kind's parts (:data:`NOTICE_PARTS`).
    notice_acknowledgements(notice_id, subject_id, account_id, acknowledged_at,
                            PRIMARY KEY (notice_id, subject_id))
        one row per install id (subject_id, uuid4) and notice; account_id when a session was
        present (else None). The same subject acknowledging again keeps the first row.

``idempotency_key`` is the key of the POST that stored the row: :meth:`ServicesStore.erase`
also deletes the stored answer of that POST (it repeats the text, contact or phone) from the
``idempotency`` table of :class:`server_stub.store.Store`.

For the other issue #7 flows: :meth:`ServicesStore.export` (the portability export, values
included) and :meth:`ServicesStore.erase` (deletion request and cancellation).
"""

from __future__ import annotations

import datetime as _dt
import json
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .app_state import per_app
from .db import SqliteStore
from .store import DB_NAME, parse_time, rfc3339
from .uploads import PURGE_INTERVAL as UPLOADS_PURGE_INTERVAL

if TYPE_CHECKING:  # pragma: no cover
    from sdk.policy.manifest import Retention

__all__ = [
    "ATTESTATION",
    "CHANNELS",
    "DEFAULT_RETENTION",
    "ENDPOINT_INVITATION",
    "ENDPOINT_SUPPORT_MESSAGE",
    "ITEM_COUNTER_SIGNER_PHONE",
    "ITEM_CS_MESSAGE",
    "ITEM_NOTIFICATION_EMAIL",
    "NOTICE_KINDS",
    "NOTICE_PARTS",
    "ServicesStore",
    "for_app",
]

#: Manifest item ids (demo_app/policy/manifest.toml) of what these tables hold.
ITEM_CS_MESSAGE = "cs_message"
ITEM_COUNTER_SIGNER_PHONE = "counter_signer_phone"
ITEM_NOTIFICATION_EMAIL = "notification_email"

#: Retention used when the served manifest does not declare the item (ISO 8601 durations,
#: the demo manifest's values).
DEFAULT_RETENTION: Mapping[str, str] = {ITEM_CS_MESSAGE: "P2Y", ITEM_COUNTER_SIGNER_PHONE: "P5Y"}

#: Notification channels (OBL-MAIL-1); ``sms`` is the default and needs nothing more.
CHANNELS: tuple[str, ...] = ("sms", "email")

#: The statement the user attests to when inviting a counter-signer (OBL-PHONE-1), versioned.
ATTESTATION = "v1: 我已取得对方同意，向其提供手机号码用于邀请签署"

#: Notice kinds and the parts each must carry besides ``title`` (OBL-BR-1: PIPL art. 57
#: lists what a breach notice tells; OBL-END-1: when the service ends and what happens to
#: the data).
NOTICE_PARTS: Mapping[str, tuple[str, ...]] = {
    "breach": ("what_happened", "impact", "actions_taken", "how_to_protect", "remedies"),
    "service_ending": ("ends_at", "data_handling"),
}
NOTICE_KINDS: tuple[str, ...] = tuple(NOTICE_PARTS)

#: The ``endpoint`` values under which the POSTs storing these rows keep their answers
#: (:meth:`Store.run_idempotent`).
ENDPOINT_SUPPORT_MESSAGE = "POST /v1/me/support-messages"
ENDPOINT_INVITATION = "POST /v1/me/invitations"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS support_messages (
    message_id      TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL,
    text            TEXT NOT NULL,
    contact         TEXT,
    received_at     TEXT NOT NULL,
    answer          TEXT,
    answered_at     TEXT,
    idempotency_key TEXT
);
CREATE INDEX IF NOT EXISTS support_messages_by_account ON support_messages (account_id, received_at);
CREATE TABLE IF NOT EXISTS notification_preferences (
    account_id TEXT PRIMARY KEY,
    channel    TEXT NOT NULL,
    email      TEXT,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS invitations (
    invitation_id   TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL,
    template_id     TEXT NOT NULL,
    phone           TEXT NOT NULL,
    attestation     TEXT NOT NULL,
    attested_at     TEXT NOT NULL,
    idempotency_key TEXT
);
CREATE INDEX IF NOT EXISTS invitations_by_account ON invitations (account_id, attested_at);
CREATE TABLE IF NOT EXISTS notices (
    notice_id    TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    title        TEXT NOT NULL,
    parts        TEXT NOT NULL,
    published_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS notice_acknowledgements (
    notice_id       TEXT NOT NULL,
    subject_id      TEXT NOT NULL,
    account_id      TEXT,
    acknowledged_at TEXT NOT NULL,
    PRIMARY KEY (notice_id, subject_id)
);
CREATE INDEX IF NOT EXISTS notice_acknowledgements_by_account ON notice_acknowledgements (account_id);
"""


#: At most one purge of every account's expired rows per this many seconds of requests
#: (:meth:`ServicesStore.maybe_purge_expired`), as for uploads.
PURGE_INTERVAL = UPLOADS_PURGE_INTERVAL

#: (item, table, key column, column its retention counts from) of the rows kept by time.
_RETAINED = (
    (ITEM_CS_MESSAGE, "support_messages", "message_id", "received_at"),
    (ITEM_COUNTER_SIGNER_PHONE, "invitations", "invitation_id", "attested_at"),
)


def _retention(retentions: Mapping[str, Retention | None], item: str) -> Retention:
    """The item's retention in *retentions*, else :data:`DEFAULT_RETENTION`'s."""
    from sdk.policy.manifest import parse_retention

    found = retentions.get(item)
    return found if found is not None else parse_retention(DEFAULT_RETENTION[item])


def _expired(retention: Retention, start_text: str, now: _dt.datetime) -> bool:
    """True when a row kept from *start_text* (RFC 3339) is past *retention* at *now*."""
    start = parse_time(start_text)
    end = retention.expires(start) if start is not None else None
    return end is not None and end <= now


def _mask_phone(e164: str) -> str:
    from sdk.account.identifiers import mask_identifier

    return mask_identifier("phone", e164)


class ServicesStore(SqliteStore):
    """The issue #7 service tables of ``<data_dir>/stub.db`` (see the module docstring).

    Each call opens its own connection (safe from uvicorn's threadpool), like
    :class:`server_stub.store.Store`. Methods taking ``conn`` write inside the caller's
    transaction (e.g. the ``action`` of :meth:`Store.run_idempotent`).

    Args:
        data_dir: the stub's data folder; must exist.

    Raises:
        sqlite3.Error: the database cannot be opened.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self._last_purge: _dt.datetime | None = None
        self._purge_lock = threading.Lock()
        super().__init__(self.data_dir / DB_NAME, _SCHEMA)

    @contextmanager
    def _shared(self, conn: sqlite3.Connection | None) -> Iterator[sqlite3.Connection]:
        """*conn* as it is (the caller's transaction), else a new write transaction."""
        if conn is not None:
            yield conn
        else:
            with self.transaction() as own:
                yield own

    # -- support messages (OBL-CS-1) ----------------------------------------------------------

    @staticmethod
    def insert_message(conn: sqlite3.Connection, account_id: str, text: str,
                       contact: str | None, now: _dt.datetime,
                       idempotency_key: str | None = None) -> dict[str, Any]:
        """Store one support message; returns its wire form ``{"message_id", "received_at",
        "text", "contact", "answer": None}``.

        Args:
            text: the message, already checked (1..2000 characters).
            contact: None, or a normalised phone number (E.164) or email address.
            idempotency_key: the POST's key (its stored answer goes with :meth:`erase`).
        """
        message_id = str(uuid.uuid4())
        received_at = rfc3339(now)
        conn.execute(
            "INSERT INTO support_messages (message_id, account_id, text, contact, received_at,"
            " idempotency_key) VALUES (?, ?, ?, ?, ?, ?)",
            (message_id, account_id, text, contact, received_at, idempotency_key))
        return {"message_id": message_id, "received_at": received_at, "text": text,
                "contact": contact, "answer": None}

    def messages(self, account_id: str, now: _dt.datetime | None = None,
                 retentions: Mapping[str, Retention | None] | None = None) -> list[dict[str, Any]]:
        """The account's support messages, newest first, in wire form (values included: the
        owner reads them); given *now*, without those past their retention (as
        :meth:`purge_expired`)."""
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT message_id, received_at, text, contact, answer FROM support_messages"
                " WHERE account_id = ? ORDER BY received_at DESC, rowid DESC", (account_id,)
            ).fetchall()
        retention = _retention(retentions or {}, ITEM_CS_MESSAGE)
        return [{"message_id": r[0], "received_at": r[1], "text": r[2], "contact": r[3],
                 "answer": r[4]} for r in rows
                if now is None or not _expired(retention, r[1], now)]

    # -- notification channel (OBL-MAIL-1) ----------------------------------------------------

    def preference(self, account_id: str) -> dict[str, Any]:
        """``{"channel": "sms"|"email", "email": str|None}``; the default is sms, no email."""
        with self.connect() as conn:
            row = conn.execute(
                "SELECT channel, email FROM notification_preferences WHERE account_id = ?",
                (account_id,)).fetchone()
        if row is None:
            return {"channel": "sms", "email": None}
        return {"channel": row[0], "email": row[1]}

    def set_preference(self, account_id: str, channel: str, email: str | None,
                       now: _dt.datetime) -> dict[str, Any]:
        """Set the account's channel; returns the new preference (as :meth:`preference`).

        ``sms`` without an email deletes the stored email (the row goes: back to the default).

        Raises:
            ValueError: unknown channel, or ``email`` without an email address.
        """
        if channel not in CHANNELS:
            raise ValueError(f"channel must be one of {', '.join(CHANNELS)}")
        if channel == "email" and not email:
            raise ValueError("the email channel needs an email address")
        with self.transaction() as conn:
            if channel == "sms" and not email:
                conn.execute("DELETE FROM notification_preferences WHERE account_id = ?",
                             (account_id,))
            else:
                conn.execute(
                    "INSERT INTO notification_preferences (account_id, channel, email, updated_at)"
                    " VALUES (?, ?, ?, ?) ON CONFLICT (account_id) DO UPDATE SET"
                    " channel = excluded.channel, email = excluded.email,"
                    " updated_at = excluded.updated_at",
                    (account_id, channel, email, rfc3339(now)))
        return {"channel": channel, "email": email or None}

    # -- invitations (OBL-PHONE-1) ------------------------------------------------------------

    @staticmethod
    def _invitation_wire(invitation_id: str, template_id: str, phone: str, attested_at: str,
                         attestation: str) -> dict[str, Any]:
        return {"invitation_id": invitation_id, "template_id": template_id,
                "phone_masked": _mask_phone(phone), "attested_at": attested_at,
                "attestation": attestation}

    @classmethod
    def insert_invitation(cls, conn: sqlite3.Connection, account_id: str, template_id: str,
                          phone: str, now: _dt.datetime,
                          idempotency_key: str | None = None) -> dict[str, Any]:
        """Store an invitation the user attested to (:data:`ATTESTATION`, at *now*); returns
        its wire form ``{"invitation_id", "template_id", "phone_masked", "attested_at",
        "attestation"}`` (never the full number).

        Args:
            phone: the counter-signer's number, E.164 (checked by the caller).
        """
        invitation_id = str(uuid.uuid4())
        attested_at = rfc3339(now)
        conn.execute(
            "INSERT INTO invitations (invitation_id, account_id, template_id, phone, attestation,"
            " attested_at, idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (invitation_id, account_id, template_id, phone, ATTESTATION, attested_at,
             idempotency_key))
        return cls._invitation_wire(invitation_id, template_id, phone, attested_at, ATTESTATION)

    def invitations(self, account_id: str, now: _dt.datetime | None = None,
                    retentions: Mapping[str, Retention | None] | None = None
                    ) -> list[dict[str, Any]]:
        """The account's invitations, newest first, in wire form (phone masked); given *now*,
        without those past their retention (as :meth:`purge_expired`)."""
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT invitation_id, template_id, phone, attested_at, attestation FROM invitations"
                " WHERE account_id = ? ORDER BY attested_at DESC, rowid DESC", (account_id,)
            ).fetchall()
        retention = _retention(retentions or {}, ITEM_COUNTER_SIGNER_PHONE)
        return [self._invitation_wire(*row) for row in rows
                if now is None or not _expired(retention, row[3], now)]

    # -- retention -----------------------------------------------------------------------------

    def purge_expired(self, account_id: str | None, now: _dt.datetime,
                      retentions: Mapping[str, Retention | None]) -> int:
        """Delete the account's (None: every account's) support messages and invitations past
        their item's retention (``cs_message`` from ``received_at``, ``counter_signer_phone``
        from ``attested_at``); an item missing from *retentions* (or None) uses
        :data:`DEFAULT_RETENTION`.

        Returns:
            how many rows were deleted.
        """
        with self._purge_lock:
            self._last_purge = now
        deleted = 0
        with self.transaction() as conn:
            for item, table, key, column in _RETAINED:
                retention = _retention(retentions, item)
                rows = conn.execute(
                    f"SELECT {key}, {column} FROM {table}"
                    + ("" if account_id is None else " WHERE account_id = ?"),
                    () if account_id is None else (account_id,)).fetchall()
                expired = [(row_id,) for row_id, start in rows
                           if _expired(retention, start, now)]
                deleted += conn.executemany(f"DELETE FROM {table} WHERE {key} = ?",
                                            expired).rowcount
        return deleted

    def maybe_purge_expired(self, now: _dt.datetime, retentions: Mapping[str, Retention | None],
                            interval: float = PURGE_INTERVAL) -> int:
        """:meth:`purge_expired` of every account unless one ran less than *interval* seconds
        before *now* (the cheap trigger on requests, as :meth:`UploadStore.maybe_purge`; the
        lists hide expired rows meanwhile). Returns what it deleted, or 0."""
        with self._purge_lock:
            last = self._last_purge
            if last is not None and last <= now < last + _dt.timedelta(seconds=interval):
                return 0
        return self.purge_expired(None, now, retentions)

    # -- notices (OBL-BR-1, OBL-END-1) -------------------------------------------------------

    def publish_notice(self, kind: str, title: str, parts: Mapping[str, str],
                       now: _dt.datetime, conn: sqlite3.Connection | None = None) -> dict[str, Any]:
        """Publish a notice; returns its wire form (``acknowledged`` False).

        Args:
            kind: one of :data:`NOTICE_KINDS`.
            title: a short title.
            parts: exactly the kind's :data:`NOTICE_PARTS` (checked by the caller: non-empty
                strings; ``ends_at`` RFC 3339).
            conn: a transaction to write in (e.g. a :meth:`Store.run_idempotent` action);
                None: a connection of its own.

        Raises:
            ValueError: unknown kind, or parts missing or extra (names only in the message).
        """
        expected = NOTICE_PARTS.get(kind)
        if expected is None:
            raise ValueError(f"kind must be one of {', '.join(NOTICE_KINDS)}")
        if set(parts) != set(expected):
            raise ValueError(f"a {kind} notice has exactly the parts {', '.join(expected)}")
        notice_id = str(uuid.uuid4())
        published_at = rfc3339(now)
        ordered = {name: parts[name] for name in expected}
        with self._shared(conn) as c:
            c.execute(
                "INSERT INTO notices (notice_id, kind, title, parts, published_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (notice_id, kind, title, json.dumps(ordered, ensure_ascii=False), published_at))
        return self._notice_wire(notice_id, kind, title, ordered, published_at, False)

    def find_notice(self, kind: str, title: str) -> dict[str, Any] | None:
        """The newest notice of *kind* with exactly this *title* (wire form, not
        acknowledged), or None: lets a sample be published once only."""
        with self.connect() as conn:
            row = conn.execute(
                "SELECT notice_id, kind, title, parts, published_at FROM notices"
                " WHERE kind = ? AND title = ? ORDER BY published_at DESC, rowid DESC LIMIT 1",
                (kind, title)).fetchone()
        if row is None:
            return None
        return self._notice_wire(row[0], row[1], row[2], json.loads(row[3]), row[4], False)

    @staticmethod
    def _notice_wire(notice_id: str, kind: str, title: str, parts: Mapping[str, Any],
                     published_at: str, acknowledged: bool) -> dict[str, Any]:
        return {"notice_id": notice_id, "kind": kind, "published_at": published_at,
                "title": title, **parts, "acknowledged": acknowledged}

    def notices(self, account_id: str | None = None,
                subject_id: str | None = None) -> list[dict[str, Any]]:
        """Every notice, newest first, in wire form; ``acknowledged`` is True when the
        account (any of its install ids) or the subject acknowledged it."""
        with self.connect() as conn:
            conn.execute("BEGIN")
            rows = conn.execute(
                "SELECT notice_id, kind, title, parts, published_at FROM notices"
                " ORDER BY published_at DESC, rowid DESC").fetchall()
            acked = {r[0] for r in conn.execute(
                "SELECT notice_id FROM notice_acknowledgements"
                " WHERE (account_id IS NOT NULL AND account_id = ?) OR subject_id = ?",
                (account_id, subject_id)).fetchall()} if (account_id or subject_id) else set()
            conn.execute("COMMIT")
        return [self._notice_wire(r[0], r[1], r[2], json.loads(r[3]), r[4], r[0] in acked)
                for r in rows]

    @staticmethod
    def notice_exists(conn: sqlite3.Connection, notice_id: str) -> bool:
        """True when a notice with this id is published."""
        return conn.execute("SELECT 1 FROM notices WHERE notice_id = ?",
                            (notice_id,)).fetchone() is not None

    @staticmethod
    def acknowledge(conn: sqlite3.Connection, notice_id: str, subject_id: str,
                    account_id: str | None, now: _dt.datetime) -> tuple[bool, str]:
        """Record that *subject_id* acknowledged the notice (inside the caller's transaction).

        Idempotent: when the subject already acknowledged it the first row stays (its
        ``acknowledged_at``); a row recorded without an account gets *account_id* now.

        Returns:
            ``(created, acknowledged_at)``: created is False when the row already existed.
        """
        row = conn.execute(
            "SELECT acknowledged_at, account_id FROM notice_acknowledgements"
            " WHERE notice_id = ? AND subject_id = ?", (notice_id, subject_id)).fetchone()
        if row is not None:
            if row[1] is None and account_id is not None:
                conn.execute(
                    "UPDATE notice_acknowledgements SET account_id = ?"
                    " WHERE notice_id = ? AND subject_id = ?", (account_id, notice_id, subject_id))
            return False, str(row[0])
        acknowledged_at = rfc3339(now)
        conn.execute(
            "INSERT INTO notice_acknowledgements (notice_id, subject_id, account_id,"
            " acknowledged_at) VALUES (?, ?, ?, ?)",
            (notice_id, subject_id, account_id, acknowledged_at))
        return True, acknowledged_at

    # -- export and erase (issue #7 rights, cancellation) ------------------------------------

    def export(self, account_id: str) -> dict[str, Any]:
        """What these tables hold about the account, values included (the portability export
        of docs/protocol.md, "Export / access report document"; it is the user's own data)::

            {"support_messages": [{"message_id", "text", "contact", "received_at", "answer"}],
             "invitations": [{"invitation_id", "template_id", "phone" (E.164), "attested_at"}],
             "notice_acknowledgements": [{"notice_id", "acknowledged_at"}],
             "notification_preference": {"channel": "sms"|"email", "email": str|None}}

        Lists are oldest first; one acknowledgement per notice (the first, whichever of the
        account's install ids sent it).
        """
        with self.connect() as conn:
            conn.execute("BEGIN")
            messages = conn.execute(
                "SELECT message_id, text, contact, received_at, answer FROM support_messages"
                " WHERE account_id = ? ORDER BY received_at, rowid", (account_id,)).fetchall()
            invitations = conn.execute(
                "SELECT invitation_id, template_id, phone, attested_at FROM invitations"
                " WHERE account_id = ? ORDER BY attested_at, rowid", (account_id,)).fetchall()
            acks = conn.execute(
                "SELECT notice_id, MIN(acknowledged_at) FROM notice_acknowledgements"
                " WHERE account_id = ? GROUP BY notice_id ORDER BY MIN(acknowledged_at), notice_id",
                (account_id,)).fetchall()
            pref = conn.execute(
                "SELECT channel, email FROM notification_preferences WHERE account_id = ?",
                (account_id,)).fetchone()
            conn.execute("COMMIT")
        return {
            "support_messages": [
                {"message_id": r[0], "text": r[1], "contact": r[2], "received_at": r[3],
                 "answer": r[4]} for r in messages],
            "invitations": [
                {"invitation_id": r[0], "template_id": r[1], "phone": r[2], "attested_at": r[3]}
                for r in invitations],
            "notice_acknowledgements": [
                {"notice_id": r[0], "acknowledged_at": r[1]} for r in acks],
            "notification_preference": (
                {"channel": pref[0], "email": pref[1]} if pref is not None
                else {"channel": "sms", "email": None}),
        }

    def erase(self, account_id: str, conn: sqlite3.Connection | None = None) -> list[str]:
        """Delete the account's support messages, invitations (with the counter-signers'
        phone numbers) and notification email (the channel goes back to ``sms``), with the
        stored answers of the POSTs that sent them (``idempotency`` rows, which repeat the
        values). Notice acknowledgements stay: they hold no value the user gave, and prove
        that the notice reached the user (PIPL art. 57).

        Args:
            conn: a transaction to run in (e.g. the cancellation's); None: one of its own.

        Returns:
            the manifest item ids of which something was deleted, in the order ``cs_message``,
            ``counter_signer_phone``, ``notification_email`` (empty when nothing was held).
        """
        deleted: list[str] = []
        with self._shared(conn) as c:
            has_idempotency = c.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'idempotency'"
            ).fetchone() is not None
            for item, table, endpoint in (
                (ITEM_CS_MESSAGE, "support_messages", ENDPOINT_SUPPORT_MESSAGE),
                (ITEM_COUNTER_SIGNER_PHONE, "invitations", ENDPOINT_INVITATION),
            ):
                keys = [r[0] for r in c.execute(
                    f"SELECT idempotency_key FROM {table} WHERE account_id = ?"
                    " AND idempotency_key IS NOT NULL", (account_id,)).fetchall()]
                if c.execute(f"DELETE FROM {table} WHERE account_id = ?",
                             (account_id,)).rowcount:
                    deleted.append(item)
                if has_idempotency:
                    c.executemany("DELETE FROM idempotency WHERE key = ? AND endpoint = ?",
                                  [(key, endpoint) for key in keys])
            if c.execute("DELETE FROM notification_preferences WHERE account_id = ?"
                         " AND email IS NOT NULL", (account_id,)).rowcount:
                deleted.append(ITEM_NOTIFICATION_EMAIL)
            c.execute("DELETE FROM notification_preferences WHERE account_id = ?", (account_id,))
        return deleted


def for_app(app: Any) -> ServicesStore:
    """The :class:`ServicesStore` of a stub app (``app.state.services``), made on first use
    from ``app.state.settings.data_dir``."""
    return per_app(app, "services", lambda state: ServicesStore(state.settings.data_dir))
