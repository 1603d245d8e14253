"""Shared SQLite helpers for the SDK's on-device stores (private module).

Every store opens its file through :func:`connect` (WAL journal, ``synchronous=FULL`` so a
commit is on disk before it returns, a busy timeout) and wraps each use of the connection in
:func:`storage_errors`, the single place where ``sqlite3`` errors become
:class:`sdk.errors.StorageError` (with ``raise ... from`` so the cause stays attached).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from .errors import StorageError

__all__ = ["BUSY_TIMEOUT_MS", "SqliteOwner", "connect", "storage_errors"]

#: How long a writer waits for another process holding the database lock.
BUSY_TIMEOUT_MS = 5000


def _explain(exc: sqlite3.Error, path: Path, what: str) -> str:
    """An actionable message for *exc*; never includes stored values."""
    text = str(exc).lower()
    if isinstance(exc, sqlite3.DatabaseError) and (
        "not a database" in text or "malformed" in text or "corrupt" in text
    ):
        return (
            f"the {what} at '{path}' is corrupt or is not an SQLite database; "
            "close the app, move the file (and any '-wal'/'-shm' files next to it) aside, "
            "and start again: a fresh, empty store is created"
        )
    if "locked" in text or "busy" in text:
        return (
            f"the {what} at '{path}' is locked by another process for longer than "
            f"{BUSY_TIMEOUT_MS} ms; make sure only one app instance uses this data_dir"
        )
    if "unable to open" in text or "readonly" in text or "read-only" in text:
        return (
            f"the {what} at '{path}' cannot be opened for writing; check that the folder "
            "exists and that the app may write to it (SdkConfig.data_dir)"
        )
    if "disk" in text or "full" in text or "i/o" in text:
        return f"the {what} at '{path}' could not be written (disk full or I/O error); free space and retry"
    return f"the {what} at '{path}' failed ({type(exc).__name__}); see the chained cause"


@contextmanager
def storage_errors(path: Path, what: str) -> Iterator[None]:
    """Convert any ``sqlite3.Error`` raised inside the block into :class:`StorageError`."""
    try:
        yield
    except sqlite3.Error as exc:
        raise StorageError(_explain(exc, path, what)) from exc


def connect(path: Path, what: str) -> sqlite3.Connection:
    """Open (creating if needed) the database at *path* for use from several threads.

    The connection is in autocommit mode (``isolation_level=None``): callers open their own
    transactions with ``BEGIN IMMEDIATE`` and must serialise use of the connection with a lock.
    The file is readable by its owner only where the OS supports it.

    Raises:
        StorageError: the file cannot be opened, is locked, or is corrupt.
    """
    path = Path(path)
    with storage_errors(path, what):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(
                f"cannot create the folder '{path.parent}' for the {what}; "
                "check SdkConfig.data_dir and its permissions"
            ) from exc
        if not path.exists():
            # Create the file owner-only before SQLite does; the -wal/-shm files it creates later
            # copy these permissions.
            try:
                fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
                os.close(fd)
            except OSError as exc:
                raise StorageError(
                    f"cannot create the {what} at '{path}'; check that the app may write there"
                ) from exc
        conn = sqlite3.connect(
            str(path),
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,
            check_same_thread=False,
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            mode = _switch_to_wal(conn)
            if str(mode).lower() != "wal":
                raise StorageError(
                    f"the {what} at '{path}' could not switch to WAL mode (got '{mode}'); "
                    "put SdkConfig.data_dir on a local file system"
                )
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            result = conn.execute("PRAGMA quick_check").fetchone()[0]
            if result != "ok":
                raise sqlite3.DatabaseError("database disk image is malformed")
        except BaseException:
            conn.close()
            raise
        return conn


def _switch_to_wal(conn: sqlite3.Connection) -> str:
    """``PRAGMA journal_mode = WAL``, retried for up to the busy timeout: when two processes
    open a new file at the same moment, SQLite may answer "database is locked" at once,
    without calling the busy handler (it would deadlock otherwise), so the timeout alone does
    not cover this step. Returns the journal mode in force."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


class SqliteOwner:
    """Transactions and reads on one connection, shared by the SDK's SQLite-backed classes.

    Subclasses set ``path``, ``_lock`` (an ``RLock``), ``_conn`` and the class attributes
    ``_WHAT`` (what the file is, for error messages) and ``_CLOSED`` (the message when used
    after ``close``).
    """

    path: Path
    _lock: threading.RLock
    _conn: sqlite3.Connection | None
    _WHAT: str = "database"
    _CLOSED: str = "the database is closed; open it again"

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; committed (and fsynced) when the block ends without error."""
        with self._lock, storage_errors(self.path, self._WHAT):
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        with self._lock, storage_errors(self.path, self._WHAT):
            yield self._connection()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StorageError(self._CLOSED)
        return self._conn

    def _apply_schema(
        self,
        conn: sqlite3.Connection,
        statements: Iterable[str],
        version: int,
        migrations: Mapping[int, Sequence[str | Callable[[sqlite3.Connection], None]]] | None = None,
    ) -> None:
        """Create or upgrade the tables inside the caller's transaction (``PRAGMA user_version``).

        A file at schema ``n`` (``0 < n < version``) first runs ``migrations[n + 1]``, …,
        ``migrations[version]`` (SQL such as ``ALTER TABLE … ADD COLUMN``, or a function of the
        connection for a step that depends on what the file holds), then *statements*
        (``CREATE … IF NOT EXISTS``), all in the caller's transaction: an upgrade either
        completes or leaves the file as it was.

        Raises:
            StorageError: the file was written by a newer SDK (schema above ``version``).
        """
        found = conn.execute("PRAGMA user_version").fetchone()[0]
        if found > version:
            raise StorageError(
                f"the {self._WHAT} at '{self.path}' was written by a newer SDK "
                f"(schema {found}, this SDK knows {version}); update the app"
            )
        if found:
            for step in range(found + 1, version + 1):
                for statement in (migrations or {}).get(step, ()):
                    if callable(statement):
                        statement(conn)
                    else:
                        conn.execute(statement)
        for statement in statements:
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {version}")

    def _forget(self) -> None:
        """Hook for subclasses: drop in-memory secrets when closing (called under the lock)."""

    def close(self) -> None:
        """Close the database. Further calls raise :class:`StorageError`. Idempotent."""
        with self._lock:
            conn, self._conn = self._conn, None
            self._forget()
            if conn is not None:
                with storage_errors(self.path, self._WHAT):
                    conn.close()

    def __enter__(self):  # -> Self
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
