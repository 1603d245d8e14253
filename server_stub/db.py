"""The SQLite access every store of the stub shares (:class:`SqliteStore`).

One rule for all of them: the file is created owner-only (0600) before SQLite first opens it,
the database runs in WAL mode, each operation opens its own connection and closes it (safe from
uvicorn's threadpool: no connection is shared between threads), every connection waits up to
:data:`BUSY_TIMEOUT_MS` for a lock held by another connection, and writes that must be atomic
run in ``BEGIN IMMEDIATE`` transactions (:meth:`SqliteStore.transaction`).

Deleting means deleting: every connection runs ``PRAGMA secure_delete=ON`` (SQLite overwrites
the bytes of a deleted or updated value with zeros instead of leaving them in free space), and
after an erasure (a deletion request, a staff answer, a cancellation) the caller runs
:meth:`SqliteStore.checkpoint`, which copies the WAL into the database and truncates it, so
the old pages in the ``-wal`` file go too.

Used by :class:`server_stub.store.Store`, :class:`server_stub.realname_store.RealnameStore`,
:class:`server_stub.realname_agency.VerificationStore` (all three in ``stub.db``) and
:class:`server_stub.uploads.UploadStore` (``uploads.db``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["BUSY_TIMEOUT_MS", "SqliteStore"]

#: How long (milliseconds) a connection waits for a lock held by another connection.
BUSY_TIMEOUT_MS = 5000


class SqliteStore:
    """Base of the stub's stores: one SQLite file in WAL mode, one connection per operation.

    Args:
        path: the database file; its folder must exist. Created with mode 0600 when missing.
        schema: SQL run with ``executescript`` on every start (``CREATE ... IF NOT EXISTS``).

    Raises:
        sqlite3.Error: the database cannot be opened or created.
    """

    #: Extra ``PRAGMA`` statements run on each new connection, after the busy timeout.
    PRAGMAS: tuple[str, ...] = ()

    def __init__(self, path: Path, schema: str) -> None:
        self.path = Path(path)
        if not self.path.exists():  # identifiers live here: owner-only from the first byte
            self.path.touch(mode=0o600)
        with self.connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(schema)

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A connection to :attr:`path` in autocommit mode (``isolation_level=None``: each
        statement commits unless the caller opens a transaction), closed afterwards."""
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        try:
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA secure_delete=ON")
            for pragma in self.PRAGMAS:
                conn.execute(pragma)
            yield conn
        finally:
            conn.close()

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[sqlite3.Connection]:
        """:meth:`connect` with one transaction around the block.

        Args:
            write: True: ``BEGIN IMMEDIATE`` (takes the write lock at once, so a check and the
                write that depends on it are atomic); False: ``BEGIN`` (a consistent snapshot
                for several reads).

        The transaction is committed when the block ends normally (unless the block already
        ended it, e.g. with ``ROLLBACK``) and rolled back when the block raises; the exception
        is re-raised.
        """
        with self.connect() as conn:
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield conn
                if conn.in_transaction:
                    conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def checkpoint(self) -> bool:
        """Copy the WAL into the database and truncate the ``-wal`` file (after an erasure:
        the WAL still holds the pages as they were before it). Best effort: False when a
        reader kept it from completing (the next checkpoint finishes the job)."""
        with self.connect() as conn:
            busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        return busy == 0
