"""Resumable uploads of sealed media (tus 1.0.0): the stub's upload table and files.

Persistence follows :mod:`server_stub.store` (both are :class:`server_stub.db.SqliteStore`):
SQLite in ``<data_dir>/uploads.db`` (WAL), one connection per operation, writes in
``BEGIN IMMEDIATE`` transactions. The bytes of an upload
are in ``<data_dir>/uploads/<upload_id>.sealed`` (mode 0600): the sealed records exactly as
received, **ciphertext only** (every record is opened once to check it, and the plaintext is
dropped). ``upload_offset`` is always on a record boundary and never ahead of what is on disk:
the file is fsynced before the offset is committed, and cut back to the offset before more is
appended.

Tables::

    uploads(upload_id PRIMARY KEY, account_id, kid, kem, purpose, consent_id, item,
            content_type, chunk_size, plaintext_length, upload_length, upload_offset,
            status, failure, created_at, updated_at)
        status: open | complete | failed. A failed upload keeps its row (later requests
        answer 410 with the reason) and loses its file. A terminated one (tus DELETE) loses
        both. updated_at of a complete upload is when it completed.

Expiry (docs/protocol.md "Resumable upload", tus "expiration"): times come from the store's
clock (``Settings.clock``), so tests can move it.

- an **open** upload expires :data:`OPEN_UPLOAD_TTL` (24 h) after its creation
  (``Upload-Expires``): it is failed with reason ``expired`` and its file deleted;
- a **failed** row (no file any more: only the reason for the 410 answers) is deleted the same
  time after it failed;
- a **complete** upload is deleted (row and file) once the retention of its data item in the
  policy manifest the stub serves has passed since it completed (``face_video`` and
  ``review_document``: ``P30D``). An item the manifest does not declare, or declares
  ``until_account_cancelled``, is not deleted by retention; while the manifest cannot be read
  (or is not valid for :mod:`sdk.policy.manifest`, the parser the devices use) no complete
  upload is deleted by retention;
- a **complete upload no verification uses** is deleted (row and file) :data:`UNUSED_UPLOAD_TTL`
  (24 h) after it completed, whatever its retention: the verification it was sent for was
  never recorded (say, the client's ``POST /v1/realname/verifications`` failed), so nothing
  needs it. Which uploads verifications use comes from *used_uploads*
  (:meth:`server_stub.realname_store.RealnameStore.all_used_upload_ids`: every verification,
  any status); without it (a bare :class:`UploadStore`) this rule is off.

An expired upload is treated as expired whenever it is read (:meth:`UploadStore.get`), and
:meth:`UploadStore.purge` deletes every expired one (on start and, at most once a minute, on
requests: :meth:`UploadStore.maybe_purge`). No thread of its own.

Consent: :func:`grant_in_force` is the purpose check of docs/protocol.md ("Resumable
upload"): the consent record named by the upload is a grant of the purpose, of a subject
linked to the caller's account, with no later withdrawal. :func:`missing_upload_consents`
adds the data item's own separate consent (``item:<id>``) for a sensitive item.
:meth:`UploadStore.withdraw_unused` deletes the uploads a withdrawal leaves without consent.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Container, Iterable, Iterator, Mapping
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from typing import Any

from sdk.errors import PolicyError
from sdk.policy.manifest import DataItem, Retention, load_manifest
from sdk.transport.envelope import (
    HpkeSuite,
    chunk_count,
    chunk_plaintext_length,
    open_chunk,
)

from .db import SqliteStore
from .realname_store import deciding_decisions
from .store import epoch_rfc3339, parse_time

__all__ = [
    "CONSENT_WITHDRAWN",
    "OPEN_UPLOAD_TTL",
    "UNUSED_UPLOAD_TTL",
    "UPLOADS_DB",
    "UPLOADS_DIR",
    "PolicyItems",
    "RecordWriter",
    "UploadRow",
    "UploadStore",
    "grant_in_force",
    "http_date",
    "missing_upload_consents",
]

UPLOADS_DB = "uploads.db"
UPLOADS_DIR = "uploads"
#: Seconds an unfinished upload lives after its creation (tus ``Upload-Expires``); also how
#: long a failed upload's row (the reason answered with 410) is kept.
OPEN_UPLOAD_TTL = 24 * 3600
#: Seconds a complete upload that no verification uses is kept after it completed.
UNUSED_UPLOAD_TTL = 24 * 3600
#: At most one full purge per this many seconds of requests (:meth:`UploadStore.maybe_purge`).
PURGE_INTERVAL = 60.0
#: ``failure`` of an upload deleted because a withdrawal left it without consent
#: (:meth:`UploadStore.withdraw_unused`). Answered as ``consent_required``: the next PATCH
#: gets ``403 consent_required`` (as when the PATCH itself finds the withdrawal), then 410.
CONSENT_WITHDRAWN = "consent_withdrawn"
#: ``failure`` of an open upload that passed its ``Upload-Expires``.
EXPIRED = "expired"

logger = logging.getLogger("server_stub")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS uploads (
    upload_id        TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL,
    kid              TEXT NOT NULL,
    kem              INTEGER NOT NULL,
    purpose          TEXT NOT NULL,
    consent_id       TEXT NOT NULL,
    item             TEXT NOT NULL,
    content_type     TEXT NOT NULL,
    chunk_size       INTEGER NOT NULL,
    plaintext_length INTEGER NOT NULL,
    upload_length    INTEGER NOT NULL,
    upload_offset    INTEGER NOT NULL DEFAULT 0,
    status           TEXT NOT NULL,
    failure          TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS uploads_by_account ON uploads (account_id);
"""

_COLUMNS = (
    "upload_id, account_id, kid, kem, purpose, consent_id, item, content_type, chunk_size, "
    "plaintext_length, upload_length, upload_offset, status, failure, created_at, updated_at"
)


@dataclass(frozen=True)
class UploadRow:
    """One upload. Sizes in bytes; ``upload_length``/``upload_offset`` count sealed bytes."""

    upload_id: str
    account_id: str
    kid: str
    kem: int
    purpose: str
    consent_id: str
    item: str
    content_type: str
    chunk_size: int
    plaintext_length: int
    upload_length: int
    upload_offset: int
    status: str
    failure: str | None
    created_at: str
    updated_at: str

    @property
    def suite(self) -> HpkeSuite:
        return HpkeSuite(self.kem)

    @property
    def chunks(self) -> int:
        """How many sealed records the upload has."""
        return chunk_count(self.plaintext_length, self.chunk_size)

    @property
    def record_size(self) -> int:
        """Sealed bytes of every record but the last."""
        return self.chunk_size + self.suite.overhead

    def record_length(self, index: int) -> int:
        """Sealed bytes of record *index*."""
        return chunk_plaintext_length(index, self.plaintext_length, self.chunk_size) + self.suite.overhead

    def index_at(self, offset: int) -> int:
        """The index of the record that starts at *offset* (a record boundary)."""
        return offset // self.record_size

    @property
    def public_failure(self) -> str | None:
        """The reason answered for a failed upload (``consent_withdrawn`` is answered as
        ``consent_required``: the client's remedy is the same)."""
        return "consent_required" if self.failure == CONSENT_WITHDRAWN else self.failure

    def to_json(self, expires_at: str | None = None) -> dict[str, Any]:
        """``GET /v1/uploads/{id}``: no account id, no consent id. *expires_at*: when the
        upload will be deleted (:meth:`UploadStore.expires_at`, RFC 3339), or None."""
        return {
            "upload_id": self.upload_id,
            "status": self.status,
            "offset": self.upload_offset,
            "length": self.upload_length,
            "item": self.item,
            "purpose": self.purpose,
            "kid": self.kid,
            "content_type": self.content_type,
            "created_at": self.created_at,
            "expires_at": expires_at,
        }


def http_date(moment: _dt.datetime) -> str:
    """*moment* as an HTTP date (RFC 9110 IMF-fixdate), e.g. ``Tue, 01 Dec 2026 03:22:25 GMT``:
    the form of tus's ``Upload-Expires``."""
    return formatdate(moment.timestamp(), usegmt=True)


class PolicyItems:
    """What the upload rules need from the policy manifest the stub serves
    (``<policy_dir>/manifest.toml``, the file ``GET /v1/policy`` answers): each data item's
    retention and whether it is sensitive. The manifest is read with the SDK's own parser
    (:func:`sdk.policy.manifest.load_manifest`: the checks a device applies), again when the
    file changes.

    Args:
        policy_dir: the stub's policy folder; None when there is none (nothing declared).
    """

    def __init__(self, policy_dir: Path | None) -> None:
        self.path = None if policy_dir is None else Path(policy_dir) / "manifest.toml"
        self._lock = threading.Lock()
        self._seen: tuple[int, int] | None = None
        self._items: dict[str, DataItem] | None = None
        self._warned = False

    def items(self) -> dict[str, DataItem] | None:
        """Data items by id, or None when the manifest cannot be read or is not valid."""
        if self.path is None:
            return None
        try:
            stat = self.path.stat()
        except OSError:
            return self._unreadable()
        seen = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if seen != self._seen:
                try:
                    manifest = load_manifest(self.path)
                except PolicyError:  # unreadable, not UTF-8, not TOML, or invalid content
                    return self._unreadable()
                self._items = {item.id: item for item in manifest.data_items}
                self._seen, self._warned = seen, False
            return self._items

    def _unreadable(self) -> None:
        if not self._warned:
            logger.warning("the policy manifest cannot be read or is not valid: uploads are not "
                           "deleted by retention until it can")
            self._warned = True

    def retention(self, item: str) -> Retention | None:
        """The item's :class:`sdk.policy.manifest.Retention`; None when it is not deleted by
        time (``until_account_cancelled``, not declared, or the manifest is unreadable or not
        valid)."""
        entry = (self.items() or {}).get(item)
        if entry is None:
            return None
        retention = entry.retention_period
        return None if retention.until_account_cancelled else retention

    def needs_item_consent(self, item: str) -> bool:
        """True unless the manifest declares the item ``sensitive = false``: a sensitive item
        (``face_video``, ``review_document``) needs its own separate consent ``item:<id>``
        (PIPL art. 29); an undeclared item, or an unreadable or invalid manifest, fails
        closed."""
        entry = (self.items() or {}).get(item)
        return entry is None or entry.sensitive


class UploadStore(SqliteStore):
    """The upload table and the sealed files of one data dir.

    Args:
        data_dir: the stub's data folder (must exist).
        clock: the current time in seconds since the epoch (``Settings.clock``).
        policy_dir: the policy folder the stub serves, for each item's retention and
            sensitivity (:class:`PolicyItems`); None: no retention is applied and every item
            needs its own consent.
        open_ttl: seconds an unfinished upload lives (:data:`OPEN_UPLOAD_TTL`).
        used_uploads: returns the ids of the uploads verifications use (any status); a
            complete upload not among them is deleted *unused_ttl* after it completed. None:
            no such rule (only the retention applies).
        unused_ttl: :data:`UNUSED_UPLOAD_TTL`.

    Raises:
        sqlite3.Error: the database cannot be opened or created.
    """

    # NORMAL (in WAL mode): a power cut may lose the last commits, never corrupt. That is
    # safe here: the file is fsynced before its offset is committed, so a lost commit
    # only makes the offset smaller and the client sends those records again.
    PRAGMAS = ("PRAGMA synchronous=NORMAL",)

    def __init__(self, data_dir: Path, *, clock: Callable[[], float] = time.time,
                 policy_dir: Path | None = None, open_ttl: float = OPEN_UPLOAD_TTL,
                 used_uploads: Callable[[], Container[str]] | None = None,
                 unused_ttl: float = UNUSED_UPLOAD_TTL) -> None:
        self.data_dir = Path(data_dir)
        self.used_uploads = used_uploads
        self.unused_ttl = float(unused_ttl)
        self.files = self.data_dir / UPLOADS_DIR
        self.clock = clock
        self.policy = PolicyItems(policy_dir)
        self.open_ttl = float(open_ttl)
        self._last_purge: float | None = None
        self._purge_lock = threading.Lock()
        self.files.mkdir(mode=0o700, exist_ok=True)
        super().__init__(self.data_dir / UPLOADS_DB, _SCHEMA)

    def _stamp(self) -> str:
        return epoch_rfc3339(float(self.clock()))

    def file_path(self, upload_id: str) -> Path:
        """``<data_dir>/uploads/<upload_id>.sealed``; *upload_id* is a uuid4 made here."""
        return self.files / f"{uuid.UUID(upload_id)}.sealed"

    def create(self, *, account_id: str, kid: str, kem: int, purpose: str, consent_id: str,
               item: str, content_type: str, chunk_size: int, plaintext_length: int,
               upload_length: int) -> UploadRow:
        """Add an open upload with an empty file (mode 0600); return its row."""
        upload_id = str(uuid.uuid4())
        now = self._stamp()
        fd = os.open(self.file_path(upload_id), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        os.close(fd)
        with self.transaction() as conn:
            conn.execute(
                f"INSERT INTO uploads ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 'open', NULL, ?, ?)",
                (upload_id, account_id, kid, kem, purpose, consent_id, item, content_type,
                 chunk_size, plaintext_length, upload_length, now, now),
            )
        row = self.get(upload_id)
        assert row is not None
        return row

    def get(self, upload_id: str, account_id: str | None = None) -> UploadRow | None:
        """The upload, or None when unknown (or, with *account_id*, another account's).

        Expiry is applied first (module docstring): an open upload past ``Upload-Expires``
        comes back failed (``expired``); a complete one past its item's retention, or a
        failed row past its time, is deleted and None is returned."""
        try:
            uuid.UUID(upload_id)
        except (ValueError, TypeError, AttributeError):
            return None
        with self.connect() as conn:
            row = conn.execute(f"SELECT {_COLUMNS} FROM uploads WHERE upload_id = ?", (upload_id,)).fetchone()
        if row is None:
            return None
        upload = self._expire(UploadRow(*row), self._now())
        if upload is None or (account_id is not None and upload.account_id != account_id):
            return None
        return upload

    # -- expiry --------------------------------------------------------------------------------

    def _now(self) -> _dt.datetime:
        return _dt.datetime.fromtimestamp(float(self.clock()), _dt.timezone.utc)

    def expires_at(self, row: UploadRow, used: Container[str] | None = None) -> _dt.datetime | None:
        """When *row* is deleted (or, open, fails as ``expired``): ``Upload-Expires`` of an
        open upload, the end of a failed row's time, the end of a complete upload's retention
        or, when no verification uses it, 24 hours after it completed (whichever is first);
        None when a complete upload is not deleted by time.

        Args:
            used: the ids of the uploads verifications use; None: asked from
                ``used_uploads`` when needed."""
        if row.status == "complete":
            retention = self.policy.retention(row.item)
            completed = _parse_time(row.updated_at)
            if completed is None:
                return None
            when = None if retention is None else retention.expires(completed)
            if self.used_uploads is not None:
                if used is None:
                    used = self.used_uploads()
                if row.upload_id not in used:
                    unused_end = completed + _dt.timedelta(seconds=self.unused_ttl)
                    when = unused_end if when is None else min(when, unused_end)
            return when
        start = _parse_time(row.created_at if row.status == "open" else row.updated_at)
        if start is None:
            return None
        return start + _dt.timedelta(seconds=self.open_ttl)

    def _expire(self, row: UploadRow, now: _dt.datetime,
                used: Container[str] | None = None) -> UploadRow | None:
        """Apply *row*'s expiry at *now*: the row as it is afterwards, or None when deleted.
        *used*: as for :meth:`expires_at` (not asked for while the unused rule cannot apply
        yet)."""
        if used is None and row.status == "complete":
            completed = _parse_time(row.updated_at)
            if completed is not None and now < completed + _dt.timedelta(seconds=self.unused_ttl):
                used = _EVERYTHING  # too young for the unused rule: only the retention counts
        when = self.expires_at(row, used)
        if when is None or now < when:
            return row
        if row.status == "open":
            with self.transaction() as conn:
                changed = conn.execute(
                    "UPDATE uploads SET status = 'failed', failure = ?, upload_offset = 0,"
                    " updated_at = ? WHERE upload_id = ? AND status = 'open' AND updated_at = ?",
                    (EXPIRED, epoch_rfc3339(now.timestamp()), row.upload_id, row.updated_at),
                ).rowcount
            if changed:
                self.file_path(row.upload_id).unlink(missing_ok=True)
            return self.get(row.upload_id)  # as it is now (another request may have moved it)
        self._delete(row.upload_id)
        return None

    def _delete(self, upload_id: str) -> bool:
        with self.transaction() as conn:
            cursor = conn.execute("DELETE FROM uploads WHERE upload_id = ?", (upload_id,))
        self.file_path(upload_id).unlink(missing_ok=True)
        return cursor.rowcount == 1

    def purge(self) -> int:
        """Apply expiry to every upload (module docstring); returns how many were deleted or
        failed as expired."""
        now = self._now()
        with self.connect() as conn:
            rows = [UploadRow(*r) for r in conn.execute(f"SELECT {_COLUMNS} FROM uploads").fetchall()]
        used = self.used_uploads() if self.used_uploads is not None else None
        changed = 0
        for row in rows:
            after = self._expire(row, now, used)
            if after is None or after.status != row.status:
                changed += 1
        with self._purge_lock:
            self._last_purge = float(self.clock())
        return changed

    def maybe_purge(self, interval: float = PURGE_INTERVAL) -> int:
        """:meth:`purge` unless one ran less than *interval* seconds ago (by the clock): the
        cheap trigger on requests. Returns what :meth:`purge` returned, or 0."""
        now = float(self.clock())
        with self._purge_lock:
            last = self._last_purge
            if last is not None and last <= now < last + interval:
                return 0
            self._last_purge = now
        return self.purge()

    # -- withdrawal ----------------------------------------------------------------------------

    def account_uploads(self, account_id: str) -> list[UploadRow]:
        """The account's uploads (expiry applied), oldest first."""
        with self.connect() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM uploads WHERE account_id = ? ORDER BY created_at, rowid",
                (account_id,),
            ).fetchall()
        now = self._now()
        used = self.used_uploads() if self.used_uploads is not None and rows else None
        return [after for after in (self._expire(UploadRow(*r), now, used) for r in rows)
                if after is not None]

    def withdraw_unused(self, account_id: str, in_force: Callable[[UploadRow], bool],
                        used: Container[str]) -> list[str]:
        """After a withdrawal: delete (fail, reason :data:`CONSENT_WITHDRAWN`) every open or
        complete upload of the account that no verification uses (*used*: upload ids) and
        whose consent is no longer *in_force*. Its file goes at once; an upload in progress
        is refused from its next request (``403 consent_required``, then 410).

        Returns:
            the ids of the uploads deleted.
        """
        deleted = []
        for row in self.account_uploads(account_id):
            if row.status == "failed" or row.upload_id in used or in_force(row):
                continue
            with self.transaction() as conn:
                changed = conn.execute(
                    "UPDATE uploads SET status = 'failed', failure = ?, upload_offset = 0,"
                    " updated_at = ? WHERE upload_id = ? AND status != 'failed'",
                    (CONSENT_WITHDRAWN, self._stamp(), row.upload_id),
                ).rowcount
            self.file_path(row.upload_id).unlink(missing_ok=True)
            if changed:
                deleted.append(row.upload_id)
        return deleted

    def erase_account(self, account_id: str) -> list[str]:
        """Delete every upload of the account, rows and files, whatever its status (a deletion
        request or a cancellation, issue 7; PIPL art. 47). An upload in progress is answered
        404 from its next request.

        Returns:
            the data item ids (e.g. ``face_video``) of which an upload that still held data
            (open or complete) was deleted, sorted.
        """
        with self.transaction() as conn:
            rows = conn.execute(
                "SELECT upload_id, item, status FROM uploads WHERE account_id = ?", (account_id,)
            ).fetchall()
            conn.execute("DELETE FROM uploads WHERE account_id = ?", (account_id,))
        for upload_id, _, _ in rows:
            self.file_path(upload_id).unlink(missing_ok=True)
        return sorted({item for _, item, status in rows if status in ("open", "complete")})

    def consent_withdrawn_seen(self, upload_id: str) -> None:
        """The client was told (403) that the consent of an upload deleted by
        :meth:`withdraw_unused` is gone: from now on it answers 410 like any failed upload."""
        with self.transaction() as conn:
            conn.execute("UPDATE uploads SET failure = 'consent_required' WHERE upload_id = ?"
                         " AND failure = ?", (upload_id, CONSENT_WITHDRAWN))

    def commit_offset(self, upload_id: str, old_offset: int, new_offset: int, complete: bool) -> bool:
        """Move the offset of an open upload from *old_offset* to *new_offset* (and mark it
        complete); False when the upload changed meanwhile (terminated, failed, moved)."""
        status = "complete" if complete else "open"
        with self.transaction() as conn:
            cursor = conn.execute(
                "UPDATE uploads SET upload_offset = ?, status = ?, updated_at = ?"
                " WHERE upload_id = ? AND upload_offset = ? AND status = 'open'",
                (new_offset, status, self._stamp(), upload_id, old_offset),
            )
        return cursor.rowcount == 1

    def fail(self, upload_id: str, code: str) -> None:
        """Mark the upload failed with *code* and delete its file (nothing partly accepted)."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE uploads SET status = 'failed', failure = ?, upload_offset = 0, updated_at = ?"
                " WHERE upload_id = ?",
                (code, self._stamp(), upload_id),
            )
        self.file_path(upload_id).unlink(missing_ok=True)

    def terminate(self, upload_id: str) -> bool:
        """tus termination: delete the row and the file; True when there was a row."""
        with self.transaction() as conn:
            cursor = conn.execute("DELETE FROM uploads WHERE upload_id = ?", (upload_id,))
        self.file_path(upload_id).unlink(missing_ok=True)
        return cursor.rowcount == 1

    def plaintext(self, upload_id: str, lookup: Any) -> Iterator[bytes]:
        """The plaintext chunks of a complete upload, opened one record at a time (memory:
        one record). For the verification flow (issue 6 part E).

        Args:
            lookup: kid -> ``EnvelopePrivateKey`` or None (``KeyRing.lookup``).

        Raises:
            KeyError: no complete upload with this id.
            sdk.errors.EnvelopeError: a record no longer opens (the file was altered).
        """
        row = self.get(upload_id)
        if row is None or row.status != "complete":
            raise KeyError(upload_id)
        with open(self.file_path(upload_id), "rb") as fh:
            for index in range(row.chunks):
                sealed = fh.read(row.record_length(index))
                yield open_chunk(lookup, sealed, kid=row.kid, upload_id=row.upload_id, index=index,
                                 final=index == row.chunks - 1, purpose=row.purpose,
                                 consent_id=row.consent_id, chunk_size=row.chunk_size)


class RecordWriter:
    """Appends checked records to an upload's file, starting at the committed offset.

    Used by one PATCH at a time (the route holds the upload's lock). :meth:`feed` takes body
    bytes as they arrive and returns the records completed by them; :meth:`accept` opens one
    (raising ``EnvelopeError`` when it does not) and appends it; :meth:`sync` flushes to disk.

    Args:
        row: the upload, as read after taking the lock.
        path: its file.
        lookup: kid -> private key.
    """

    def __init__(self, row: UploadRow, path: Path, lookup: Any) -> None:
        self.row = row
        self.lookup = lookup
        self.offset = row.upload_offset  # end of the accepted records
        self.index = row.index_at(row.upload_offset)
        self._buffer = bytearray()
        self._fh = open(path, "r+b")  # noqa: SIM115 - closed by close()
        self._fh.truncate(row.upload_offset)  # drop bytes a broken PATCH left past the offset
        self._fh.seek(row.upload_offset)

    @property
    def pending(self) -> int:
        """Bytes received that do not yet make a whole record."""
        return len(self._buffer)

    def feed(self, piece: bytes) -> list[tuple[int, bytes]]:
        """Buffer *piece*; return ``[(index, sealed record), ...]`` completed by it."""
        self._buffer += piece
        records = []
        index = self.index
        while index < self.row.chunks:
            need = self.row.record_length(index)
            if len(self._buffer) < need:
                break
            records.append((index, bytes(self._buffer[:need])))
            del self._buffer[:need]
            index += 1
        self.index = index
        return records

    def accept(self, index: int, record: bytes) -> None:
        """Open record *index* (the plaintext is dropped at once) and append the ciphertext.

        Raises:
            sdk.errors.EnvelopeError: the record does not open at this place of this upload.
        """
        row = self.row
        open_chunk(self.lookup, record, kid=row.kid, upload_id=row.upload_id, index=index,
                   final=index == row.chunks - 1, purpose=row.purpose,
                   consent_id=row.consent_id, chunk_size=row.chunk_size)
        self._fh.write(record)
        self.offset += len(record)

    def sync(self) -> None:
        """Flush and fsync the file (before the new offset is committed)."""
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def rollback(self) -> None:
        """Forget what this PATCH appended (cut the file back to the committed offset)."""
        self._fh.truncate(self.row.upload_offset)
        self.offset = self.row.upload_offset

    def close(self) -> None:
        self._fh.close()


class _Everything:
    """A container holding every upload id (the unused rule does not apply)."""

    def __contains__(self, item: object) -> bool:
        return True


_EVERYTHING = _Everything()


def _parse_time(text: Any) -> _dt.datetime | None:
    """:func:`server_stub.store.parse_time`, a time without offset taken as UTC."""
    value = parse_time(text)
    return value if value is None or value.tzinfo is not None else value.replace(tzinfo=_dt.timezone.utc)


def _covers(record: Mapping[str, Any], purpose: str) -> bool:
    """True when a grant record's scope gives consent for *purpose*."""
    scope = record.get("scope")
    purposes = record.get("purposes")
    if scope == f"purpose:{purpose}":
        return True
    return scope in (None, "policy") and isinstance(purposes, list) and purpose in purposes


def _withdraws(withdrawal: Mapping[str, Any], grant: Mapping[str, Any], purpose: str) -> bool:
    """True when *withdrawal* takes back *grant* for *purpose*: the same scope, the policy
    (withdrawing the agreement withdraws everything, docs/consent.md), or ``purpose:<p>``."""
    scope = withdrawal.get("scope")
    return scope in (grant.get("scope"), "policy", None, f"purpose:{purpose}")


def grant_in_force(records: list[dict[str, Any]], consent_id: str, purpose: str) -> bool:
    """Is *consent_id* a granted, unwithdrawn consent for *purpose* among the account's
    *records* (``Store.account_consent_records``, read once by the caller)?

    The record must be among *records*, have ``decision == "granted"`` and cover the purpose
    (scope ``purpose:<purpose>``, or ``policy`` listing it in ``purposes``); and no
    ``withdrawn`` record of the account for that scope, for ``purpose:<purpose>`` or for the
    policy may be as late or later (by ``created_at``; a withdrawal wins a tie, as on the
    device: docs/consent.md "States").
    """
    grant = next((r for r in records if r.get("record_id") == consent_id), None)
    if grant is None or grant.get("decision") != "granted" or not _covers(grant, purpose):
        return False
    granted_at = _parse_time(grant.get("created_at"))
    for record in records:
        if record.get("decision") != "withdrawn" or not _withdraws(record, grant, purpose):
            continue
        withdrawn_at = _parse_time(record.get("created_at"))
        if granted_at is None or withdrawn_at is None or withdrawn_at >= granted_at:
            return False
    return True


def missing_upload_consents(records: list[dict[str, Any]], consent_id: str, purpose: str,
                            item: str, needs_item_consent: bool, *,
                            decided: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The consent scopes an upload lacks, from the account's own records
    (``Store.account_consent_records``); empty when it may be created or continued.

    - ``purpose:<purpose>`` when *consent_id* is not a granted, unwithdrawn grant of the
      purpose (:func:`grant_in_force`);
    - ``item:<item>`` when the item needs its own separate consent (*needs_item_consent*,
      :meth:`PolicyItems.needs_item_consent`) and its decision in force is not ``granted``
      (:func:`server_stub.realname_store.deciding_decisions`: the latest across the
      account's devices; an unsigned grant never counts). *decided*: those decisions when
      the caller already has them (one pass over the records for many uploads).
    """
    missing = []
    if not grant_in_force(records, consent_id, purpose):
        missing.append(f"purpose:{purpose}")
    if needs_item_consent and (deciding_decisions(records) if decided is None else decided
                               ).get(f"item:{item}") != "granted":
        missing.append(f"item:{item}")
    return tuple(missing)


def held_uploads(rows: Iterable[UploadRow]) -> list[dict[str, Any]]:
    """What uploads hold, per (item, purpose), for ``GET /v1/me/personal-information``:
    ``[{"item", "purpose", "complete", "open", "last_at"}]`` counting the uploads that still
    have data (failed ones have none), ``last_at`` the latest creation (RFC 3339)."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        if row.status not in ("open", "complete"):
            continue
        entry = groups.setdefault((row.item, row.purpose), {
            "item": row.item, "purpose": row.purpose, "complete": 0, "open": 0, "last_at": None})
        entry[row.status] += 1
        if entry["last_at"] is None or row.created_at > entry["last_at"]:
            entry["last_at"] = row.created_at
    return list(groups.values())
