"""Resumable uploads of sealed media (tus 1.0.0): the stub's upload table and files.

Persistence follows :mod:`server_stub.store`: SQLite in ``<data_dir>/uploads.db`` (WAL), one
connection per operation, writes in ``BEGIN IMMEDIATE`` transactions. The bytes of an upload
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
        both.

:func:`consent_in_force` is the consent check of docs/protocol.md ("Resumable upload"): the
consent record named by the upload is a grant of the purpose, of a subject linked to the
caller's account, with no later withdrawal.
"""

from __future__ import annotations

import datetime as _dt
import os
import sqlite3
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sdk.transport.envelope import (
    HpkeSuite,
    chunk_count,
    chunk_plaintext_length,
    open_chunk,
)

from .store import Store, utc_now_rfc3339

__all__ = [
    "UPLOADS_DB",
    "UPLOADS_DIR",
    "RecordWriter",
    "UploadRow",
    "UploadStore",
    "consent_in_force",
]

UPLOADS_DB = "uploads.db"
UPLOADS_DIR = "uploads"
BUSY_TIMEOUT_MS = 5000

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

    def to_json(self) -> dict[str, Any]:
        """``GET /v1/uploads/{id}``: no account id, no consent id."""
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
        }


class UploadStore:
    """The upload table and the sealed files of one data dir.

    Args:
        data_dir: the stub's data folder (must exist).

    Raises:
        sqlite3.Error: the database cannot be opened or created.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / UPLOADS_DB
        self.files = self.data_dir / UPLOADS_DIR
        self.files.mkdir(mode=0o700, exist_ok=True)
        if not self.path.exists():
            self.path.touch(mode=0o600)
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        try:
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            # NORMAL (in WAL mode): a power cut may lose the last commits, never corrupt. That is
            # safe here: the file is fsynced before its offset is committed, so a lost commit
            # only makes the offset smaller and the client sends those records again.
            conn.execute("PRAGMA synchronous=NORMAL")
            yield conn
        finally:
            conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def file_path(self, upload_id: str) -> Path:
        """``<data_dir>/uploads/<upload_id>.sealed``; *upload_id* is a uuid4 made here."""
        return self.files / f"{uuid.UUID(upload_id)}.sealed"

    def create(self, *, account_id: str, kid: str, kem: int, purpose: str, consent_id: str,
               item: str, content_type: str, chunk_size: int, plaintext_length: int,
               upload_length: int) -> UploadRow:
        """Add an open upload with an empty file (mode 0600); return its row."""
        upload_id = str(uuid.uuid4())
        now = utc_now_rfc3339()
        fd = os.open(self.file_path(upload_id), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        os.close(fd)
        with self._transaction() as conn:
            conn.execute(
                f"INSERT INTO uploads ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 'open', NULL, ?, ?)",
                (upload_id, account_id, kid, kem, purpose, consent_id, item, content_type,
                 chunk_size, plaintext_length, upload_length, now, now),
            )
        row = self.get(upload_id)
        assert row is not None
        return row

    def get(self, upload_id: str, account_id: str | None = None) -> UploadRow | None:
        """The upload, or None when unknown (or, with *account_id*, another account's)."""
        try:
            uuid.UUID(upload_id)
        except (ValueError, TypeError, AttributeError):
            return None
        with self._connect() as conn:
            row = conn.execute(f"SELECT {_COLUMNS} FROM uploads WHERE upload_id = ?", (upload_id,)).fetchone()
        if row is None:
            return None
        upload = UploadRow(*row)
        if account_id is not None and upload.account_id != account_id:
            return None
        return upload

    def commit_offset(self, upload_id: str, old_offset: int, new_offset: int, complete: bool) -> bool:
        """Move the offset of an open upload from *old_offset* to *new_offset* (and mark it
        complete); False when the upload changed meanwhile (terminated, failed, moved)."""
        status = "complete" if complete else "open"
        with self._transaction() as conn:
            cursor = conn.execute(
                "UPDATE uploads SET upload_offset = ?, status = ?, updated_at = ?"
                " WHERE upload_id = ? AND upload_offset = ? AND status = 'open'",
                (new_offset, status, utc_now_rfc3339(), upload_id, old_offset),
            )
        return cursor.rowcount == 1

    def fail(self, upload_id: str, code: str) -> None:
        """Mark the upload failed with *code* and delete its file (nothing partly accepted)."""
        with self._transaction() as conn:
            conn.execute(
                "UPDATE uploads SET status = 'failed', failure = ?, upload_offset = 0, updated_at = ?"
                " WHERE upload_id = ?",
                (code, utc_now_rfc3339(), upload_id),
            )
        self.file_path(upload_id).unlink(missing_ok=True)

    def terminate(self, upload_id: str) -> bool:
        """tus termination: delete the row and the file; True when there was a row."""
        with self._transaction() as conn:
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


def _parse_time(text: Any) -> _dt.datetime | None:
    if not isinstance(text, str):
        return None
    try:
        value = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=_dt.timezone.utc)


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


def consent_in_force(store: Store, account_id: str, consent_id: str, purpose: str) -> bool:
    """Is *consent_id* a granted, unwithdrawn consent for *purpose* of the account?

    The record must be among the records of the subjects linked to the account
    (``Store.account_consent_records``), have ``decision == "granted"`` and cover the purpose
    (scope ``purpose:<purpose>``, or ``policy`` listing it in ``purposes``); and no
    ``withdrawn`` record of the account for that scope, for ``purpose:<purpose>`` or for the
    policy may be as late or later (by ``created_at``; a withdrawal wins a tie, as on the
    device: docs/consent.md "States").
    """
    records = store.account_consent_records(account_id)
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
