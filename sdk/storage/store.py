"""The encrypted on-device store: small values sealed with AES-256-GCM in SQLite.

Every value is sealed on its own with AES-256-GCM (NIST SP 800-38D; ``cryptography``'s
``AESGCM``) under the store's data key (DEK), with a fresh random 96-bit nonce. The
associated data binds the value to its place and time::

    ["privacy-sdk/store/v1", namespace, key, version, purpose, expires_at]

``version`` is a per-key counter that only goes up (it outlives deletes) and is kept apart
from the sealed rows, so a value moved to another key, swapped with another row, rolled back
to an older row, or given another purpose or expiry fails authentication:
:class:`~sdk.errors.IntegrityError` naming ``namespace/key``, while the other keys stay
readable. (Rolling back the *whole file* cannot be detected without trusted storage outside
it; that is out of scope.)

The DEK is 32 random bytes, kept in the same database only *wrapped* by the keystore's
wrapping key (:mod:`sdk.storage.keystore`): the OS keystore is asked once when the store
opens, and :meth:`EncryptedStore.wipe` makes every copy of the data unreadable by deleting
that wrapping key (crypto-shredding), besides deleting the rows.

Purposes (OBL-CK-2): each value is stored *for* a purpose the policy manifest declares;
anything else raises :class:`~sdk.errors.UndeclaredPurpose`.

Retention (OBL-SEC-3): the manifest's data items that list the purpose set its retention
limit: the *longest* retention among them, measured from the time of the put (``None``,
kept until wiped, when one of them is ``until_account_cancelled`` or no data item lists the
purpose). ``expires_at=None`` means "until that limit"; an explicit ``expires_at`` is
capped at it. Expired values are treated as absent and purged: on open, on read, by
:meth:`EncryptedStore.entries` and by :meth:`EncryptedStore.purge_expired`.

Durability: SQLite with WAL and ``synchronous=FULL`` (:mod:`sdk._sqlite`), one transaction
per change, so a value is on disk when :meth:`EncryptedStore.put` returns and a killed
process never leaves a half-written one. ``secure_delete`` is on, so deleted rows are
overwritten in the file. Safe to share between threads (one connection, one lock).

Names (namespaces, keys, purposes) are chosen by the app and appear in error messages and
in :meth:`EncryptedStore.entries`; values never appear in either, nor in logs.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .._sqlite import SqliteOwner, connect
from ..errors import ConfigError, IntegrityError, StorageError, UndeclaredPurpose
from ..policy.manifest import Manifest
from .keystore import KeystoreBackend

__all__ = ["EncryptedStore", "Entry", "STORE_FILENAME"]

logger = logging.getLogger("sdk.storage")

#: Suggested file name of the store inside ``SdkConfig.data_dir``.
STORE_FILENAME = "store.db"

_WHAT = "encrypted store"
_SCHEMA_VERSION = 1
_NONCE_BYTES = 12  # 96-bit nonces, the size NIST SP 800-38D recommends
_DEK_BYTES = 32  # AES-256
_AAD_LABEL = "privacy-sdk/store/v1"
_META_DEK = "dek.wrapped"
_META_KEY_ID = "dek.key_id"
_SETTING_PREFIX = "setting."

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS meta (
        key   TEXT PRIMARY KEY,
        value BLOB NOT NULL
    )""",
    # One sealed value per (namespace, key).
    """CREATE TABLE IF NOT EXISTS items (
        namespace  TEXT NOT NULL,
        key        TEXT NOT NULL,
        purpose    TEXT NOT NULL,
        version    INTEGER NOT NULL,
        nonce      BLOB NOT NULL,
        ciphertext BLOB NOT NULL,
        size       INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT,
        PRIMARY KEY (namespace, key)
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS items_expiry ON items (expires_at) WHERE expires_at IS NOT NULL",
    # The trusted per-key version counter; outlives deletes so an old row cannot come back.
    """CREATE TABLE IF NOT EXISTS versions (
        namespace TEXT NOT NULL,
        key       TEXT NOT NULL,
        version   INTEGER NOT NULL,
        PRIMARY KEY (namespace, key)
    ) WITHOUT ROWID""",
)


@dataclass(frozen=True)
class Entry:
    """What is stored under one key: metadata only, never the value.

    Attributes:
        namespace, key: where it is stored.
        purpose: the manifest purpose it is stored for.
        size: length of the value in bytes (before encryption).
        created_at: when this value was put (aware UTC datetime).
        expires_at: when it will be purged (aware UTC), or ``None``: kept until wiped.
    """

    namespace: str
    key: str
    purpose: str
    size: int
    created_at: _dt.datetime
    expires_at: _dt.datetime | None


def _utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def _stamp(moment: _dt.datetime) -> str:
    """Fixed-width UTC text (microseconds), so text order is time order in SQL."""
    return moment.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_stamp(text: str) -> _dt.datetime:
    return _dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=_dt.timezone.utc)


def _aware(moment: _dt.datetime, what: str) -> _dt.datetime:
    if not isinstance(moment, _dt.datetime):
        raise TypeError(f"{what} must be a datetime")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware (e.g. UTC), not naive")
    return moment.astimezone(_dt.timezone.utc)


def _check_name(value: object, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string")
    return value


def _aad(namespace: str, key: str, version: int, purpose: str, expires_at: str | None) -> bytes:
    return json.dumps(
        [_AAD_LABEL, namespace, key, version, purpose, expires_at],
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode("utf-8")


class EncryptedStore(SqliteOwner):
    """Small values sealed with AES-256-GCM in an SQLite file; see the module docstring.

    Args:
        path: the SQLite file (created if missing, mode 0600), e.g. ``data_dir / "store.db"``.
        keystore: holds the wrapping key of the store's data key
            (:func:`sdk.storage.keystore.select_backend`).
        manifest: the policy manifest in force: declares the purposes and retention.
        clock: returns the current time as an aware UTC datetime.
        key_id: the keystore key id of this store's wrapping key.

    Raises:
        StorageError: the file cannot be opened, is locked, corrupt, or from a newer SDK.
        KeystoreError: the data key cannot be unwrapped (wrapping key deleted, wrong
            passphrase, keystore locked or missing: :class:`KeystoreUnavailable`,
            :class:`KeystoreTimeout`). Nothing can be read then; :meth:`destroy` removes the
            unreadable file so the app can start again.
        ConfigError: the file was created with another ``key_id``.
    """

    _WHAT = _WHAT
    _CLOSED = "the encrypted store is closed; open it again"

    def __init__(
        self,
        path: Path | str,
        keystore: KeystoreBackend,
        manifest: Manifest,
        clock: Callable[[], _dt.datetime] = _utcnow,
        key_id: str = "store-v1",
    ) -> None:
        self.path = Path(path)
        self.keystore = keystore
        self.manifest = manifest
        self.key_id = key_id
        self._clock = clock
        self._purposes = frozenset(p.id for p in manifest.purposes)
        self._lock = threading.RLock()
        self._aead: AESGCM | None = None
        self._conn: sqlite3.Connection | None = connect(self.path, _WHAT)
        try:
            self._initialise()
            self._aead = self._load_or_create_dek()
            self.purge_expired()
        except BaseException:
            self._conn.close()
            self._conn = None
            raise

    # -- plumbing -------------------------------------------------------------------------

    def _now(self) -> _dt.datetime:
        now = self._clock()
        if not isinstance(now, _dt.datetime) or now.tzinfo is None:
            raise ConfigError("the store's clock must return an aware datetime (UTC), not a naive one")
        return now.astimezone(_dt.timezone.utc)

    def _initialise(self) -> None:
        with self._reading() as conn:
            conn.execute("PRAGMA secure_delete = ON")
        with self._transaction() as conn:
            self._apply_schema(conn, _SCHEMA, _SCHEMA_VERSION)

    def _load_or_create_dek(self) -> AESGCM:
        """Unwrap the stored data key, or make, wrap and store a new one."""
        with self._reading() as conn:
            rows = dict(conn.execute("SELECT key, value FROM meta WHERE key IN (?, ?)",
                                     (_META_DEK, _META_KEY_ID)).fetchall())
        if _META_DEK not in rows:
            dek = AESGCM.generate_key(bit_length=256)
            blob = self.keystore.wrap(self.key_id, dek)  # may take a while: outside the lock
            with self._transaction() as conn:
                conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
                             (_META_KEY_ID, self.key_id.encode("utf-8")))
                conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
                             (_META_DEK, blob))
                rows = dict(conn.execute("SELECT key, value FROM meta WHERE key IN (?, ?)",
                                         (_META_DEK, _META_KEY_ID)).fetchall())
            if bytes(rows[_META_DEK]) == blob:
                return AESGCM(dek)
            # another process created the store's key at the same moment: use theirs
        stored_key_id = bytes(rows.get(_META_KEY_ID, self.key_id.encode("utf-8"))).decode("utf-8")
        if stored_key_id != self.key_id:
            raise ConfigError(
                f"the encrypted store at '{self.path}' was created with key_id "
                f"'{stored_key_id}', not '{self.key_id}'; open it with the same key_id"
            )
        dek = self.keystore.unwrap(self.key_id, bytes(rows[_META_DEK]))
        if len(dek) != _DEK_BYTES:
            raise StorageError(f"the data key of the encrypted store at '{self.path}' is malformed")
        return AESGCM(dek)

    def _cipher(self) -> AESGCM:
        if self._aead is None:  # after a wipe whose keystore.delete failed
            self._aead = self._load_or_create_dek()
        return self._aead

    def _check_purpose(self, purpose: object) -> str:
        if not isinstance(purpose, str) or purpose not in self._purposes:
            raise UndeclaredPurpose(str(purpose))
        return purpose

    def retention_limit(self, purpose: str, start: _dt.datetime | None = None) -> _dt.datetime | None:
        """Latest expiry allowed for a value stored for *purpose* at *start* (default now).

        The longest retention among the manifest's data items that list *purpose*; ``None``
        (no limit: kept until wiped) when one of them is ``until_account_cancelled`` or
        none lists it.

        Raises:
            UndeclaredPurpose: the manifest does not declare *purpose*.
        """
        self._check_purpose(purpose)
        start = self._now() if start is None else _aware(start, "start")
        limits = []
        for item in self.manifest.data_items:
            if purpose in item.purposes:
                until = item.retention_period.expires(start)
                if until is None:
                    return None
                limits.append(until)
        return max(limits) if limits else None

    # -- public API -----------------------------------------------------------------------

    def put(
        self,
        namespace: str,
        key: str,
        value: bytes | str,
        *,
        purpose: str,
        expires_at: _dt.datetime | None = None,
    ) -> Entry | None:
        """Seal *value* and store it under ``namespace/key``, replacing any earlier value.

        Committed (and on disk) when this returns; a failure leaves the earlier value as it
        was.

        Args:
            namespace, key: where to store it (non-empty strings chosen by the app; they
                appear in listings and error messages, so never put personal data in them).
            value: bytes, or text (stored as UTF-8).
            purpose: the id of a purpose the manifest declares (OBL-CK-2).
            expires_at: aware datetime after which the value is purged; ``None`` uses the
                purpose's retention limit (:meth:`retention_limit`). Capped at that limit.
                A value already expired is not stored, and any earlier value is deleted.

        Returns:
            The stored value's :class:`Entry`, or ``None`` when it was already expired.

        Raises:
            UndeclaredPurpose: *purpose* is not declared in the manifest.
            ValueError, TypeError: an argument has the wrong type, or *expires_at* is naive.
            StorageError: the value could not be stored (disk full, ...); nothing changed.
        """
        namespace = _check_name(namespace, "namespace")
        key = _check_name(key, "key")
        self._check_purpose(purpose)
        if isinstance(value, str):
            plain = value.encode("utf-8")
        elif isinstance(value, (bytes, bytearray, memoryview)):
            plain = bytes(value)
        else:
            raise TypeError("value must be bytes or str")
        now = self._now()
        limit = self.retention_limit(purpose, now)
        if expires_at is None:
            expires = limit
        else:
            expires = _aware(expires_at, "expires_at")
            if limit is not None and expires > limit:
                expires = limit
        if expires is not None and expires <= now:
            self.delete(namespace, key)
            return None
        expires_text = None if expires is None else _stamp(expires)
        created_text = _stamp(now)
        cipher = self._cipher()  # before the transaction: it may need one of its own
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT version FROM versions WHERE namespace = ? AND key = ?", (namespace, key)
            ).fetchone()
            version = 1 if row is None else int(row[0]) + 1
            nonce = os.urandom(_NONCE_BYTES)
            sealed = cipher.encrypt(
                nonce, plain, _aad(namespace, key, version, purpose, expires_text)
            )
            conn.execute(
                "INSERT INTO versions (namespace, key, version) VALUES (?, ?, ?) "
                "ON CONFLICT (namespace, key) DO UPDATE SET version = excluded.version",
                (namespace, key, version),
            )
            conn.execute(
                "INSERT OR REPLACE INTO items (namespace, key, purpose, version, nonce, "
                "ciphertext, size, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (namespace, key, purpose, version, nonce, sealed, len(plain), created_text,
                 expires_text),
            )
        return Entry(namespace, key, purpose, len(plain), _parse_stamp(created_text),
                     None if expires_text is None else _parse_stamp(expires_text))

    def get(self, namespace: str, key: str) -> bytes | None:
        """The value stored under ``namespace/key``, or ``None`` (absent or expired).

        An expired value is purged when found.

        Raises:
            IntegrityError: the stored value fails authentication (tampered with, moved from
                another key, rolled back, or its purpose/expiry altered); ``.key`` names it.
                Other keys stay readable; :meth:`delete` clears the bad one.
            StorageError: the database failed.
        """
        namespace = _check_name(namespace, "namespace")
        key = _check_name(key, "key")
        with self._reading() as conn:
            row = conn.execute(
                "SELECT i.purpose, i.nonce, i.ciphertext, i.expires_at, v.version "
                "FROM items AS i LEFT JOIN versions AS v USING (namespace, key) "
                "WHERE i.namespace = ? AND i.key = ?",
                (namespace, key),
            ).fetchone()
        if row is None:
            return None
        purpose, nonce, sealed, expires_text, version = row
        if expires_text is not None and expires_text <= _stamp(self._now()):
            self._delete_expired(namespace, key)
            return None
        if version is None:
            raise IntegrityError(f"{namespace}/{key}")
        try:
            return self._cipher().decrypt(
                bytes(nonce), bytes(sealed), _aad(namespace, key, int(version), purpose, expires_text)
            )
        except (InvalidTag, ValueError, TypeError) as exc:
            logger.warning("stored value '%s/%s' failed its integrity check", namespace, key)
            raise IntegrityError(f"{namespace}/{key}") from exc

    def get_text(self, namespace: str, key: str) -> str | None:
        """:meth:`get`, decoded from UTF-8.

        Raises:
            StorageError: the value is not UTF-8 text (it was stored as bytes).
            IntegrityError, StorageError: as for :meth:`get`.
        """
        raw = self.get(namespace, key)
        if raw is None:
            return None
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise StorageError(
                f"the value '{namespace}/{key}' is not UTF-8 text; read it with get()"
            ) from exc

    def delete(self, namespace: str, key: str) -> bool:
        """Delete the value under ``namespace/key``; ``True`` if there was one.

        Its version counter is kept, so a copy of the deleted row cannot be put back.
        """
        namespace = _check_name(namespace, "namespace")
        key = _check_name(key, "key")
        with self._transaction() as conn:
            cursor = conn.execute(
                "DELETE FROM items WHERE namespace = ? AND key = ?", (namespace, key)
            )
            return cursor.rowcount > 0

    def delete_namespace(self, namespace: str) -> int:
        """Delete every value in *namespace*; returns how many were deleted."""
        namespace = _check_name(namespace, "namespace")
        with self._transaction() as conn:
            return conn.execute("DELETE FROM items WHERE namespace = ?", (namespace,)).rowcount

    def _delete_expired(self, namespace: str, key: str) -> None:
        now = _stamp(self._now())
        with self._transaction() as conn:
            conn.execute(
                "DELETE FROM items WHERE namespace = ? AND key = ? AND expires_at <= ?",
                (namespace, key, now),
            )

    def entries(self, namespace: str | None = None) -> list[Entry]:
        """What is stored (metadata only, never values), sorted by namespace and key.

        Expired values are purged first and not listed.

        Args:
            namespace: only this namespace; ``None`` for all.
        """
        self.purge_expired()
        sql = "SELECT namespace, key, purpose, size, created_at, expires_at FROM items"
        args: tuple[str, ...] = ()
        if namespace is not None:
            sql += " WHERE namespace = ?"
            args = (_check_name(namespace, "namespace"),)
        with self._reading() as conn:
            rows = conn.execute(sql + " ORDER BY namespace, key", args).fetchall()
        return [
            Entry(ns, k, purpose, int(size), _parse_stamp(created),
                  None if expires is None else _parse_stamp(expires))
            for ns, k, purpose, size, created, expires in rows
        ]

    def purge_expired(self) -> int:
        """Delete every value past its expiry (OBL-SEC-3); returns how many were deleted."""
        now = _stamp(self._now())
        with self._transaction() as conn:
            count = conn.execute(
                "DELETE FROM items WHERE expires_at IS NOT NULL AND expires_at <= ?", (now,)
            ).rowcount
        if count:
            logger.info("purged %d expired value(s) from the encrypted store", count)
        return count

    def wipe(self) -> None:
        """Delete everything: every value, every version counter, the wrapped data key and
        the store's settings, then the wrapping key in the keystore (``keystore.delete``).

        For logout, "clear all data" and account cancellation. Afterwards the store is empty
        and usable again with a fresh data key. Copies of the old file (backups) cannot be
        decrypted once the wrapping key is gone.

        Raises:
            StorageError: the rows could not be deleted (nothing changed).
            KeystoreError: the rows are gone but the keystore failed to delete the old
                wrapping key or to make the new one; the store still works (a new data key
                is made on the next put).
        """
        with self._lock:
            with self._transaction() as conn:
                conn.execute("DELETE FROM items")
                conn.execute("DELETE FROM versions")
                conn.execute("DELETE FROM meta")
            self._aead = None
            with self._reading() as conn:
                # Move the deleted pages out of the WAL file and shrink it.
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self.keystore.delete(self.key_id)
            self._aead = self._load_or_create_dek()

    # -- settings (plain, non-personal; used by the cookie jar) -----------------------------

    def _get_setting(self, name: str) -> str | None:
        with self._reading() as conn:
            row = conn.execute(
                "SELECT value FROM meta WHERE key = ?", (_SETTING_PREFIX + name,)
            ).fetchone()
        return None if row is None else bytes(row[0]).decode("utf-8")

    def _set_setting(self, name: str, value: str | None) -> None:
        with self._transaction() as conn:
            if value is None:
                conn.execute("DELETE FROM meta WHERE key = ?", (_SETTING_PREFIX + name,))
            else:
                conn.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                    (_SETTING_PREFIX + name, value.encode("utf-8")),
                )

    # -- life cycle -----------------------------------------------------------------------

    def _forget(self) -> None:
        self._aead = None  # the data key leaves memory with the connection

    @staticmethod
    def destroy(path: Path | str) -> None:
        """Delete the store's files (``path`` and its ``-wal``/``-shm``) without opening it.

        For a store whose data key can no longer be unwrapped (wrapping key lost, keyring
        reset): its contents are unrecoverable anyway. Close every store on *path* first.

        Raises:
            StorageError: a file could not be deleted.
        """
        path = Path(path)
        for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
            try:
                candidate.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise StorageError(
                    f"cannot delete '{candidate}' ({exc.strerror}); close the app and delete it"
                ) from exc
