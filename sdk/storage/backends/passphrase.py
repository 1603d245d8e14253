"""Explicit opt-in fallback: the wrapping key derived from a passphrase the app supplies.

For headless machines with no OS keyring (servers, kiosks, CI). The app must opt in by
passing a passphrase (a string, or a callable asked when the key is first needed); the SDK
never picks this backend on its own, and never writes a key to disk.

For each key id, KEK = scrypt(passphrase, salt, n=2**15, r=8, p=1, 32 bytes) with a random
16-byte salt (``cryptography``'s ``Scrypt``; RFC 7914). The salt and scrypt parameters are
not secret and are kept in ``<data_dir>/keystore-passphrase.json`` (mode 0600), together
with a check value (HMAC-SHA256 of a fixed label under the KEK), so a wrong passphrase is
reported as such instead of yielding garbage. Deleting a key id deletes its salt, after
which nothing wrapped under it can be unwrapped, even with the right passphrase. The file is
read, changed and written under an exclusive ``flock`` of the data dir, so two app processes
making keys at once both keep theirs (POSIX; on Windows only within one process).

Caveat: the data is only as safe as the passphrase; an attacker who copies the data dir can
guess passphrases offline (scrypt makes each guess cost about 0.1 s and 32 MiB).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from ..._files import write_atomically
from ...errors import KeystoreError
from ._kek import KEK_BYTES, KekWrapBackend

__all__ = ["PassphraseKeystore", "SALT_FILENAME", "SCRYPT_N", "SCRYPT_R", "SCRYPT_P"]

#: File (inside the data dir) holding each key id's salt, scrypt parameters and check value.
SALT_FILENAME = "keystore-passphrase.json"
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
_SALT_BYTES = 16
_CHECK_LABEL = b"privacy-sdk passphrase check v1"
_FILE_VERSION = 1


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: Any) -> bytes:
    if not isinstance(text, str):
        raise ValueError("not a string")
    return base64.b64decode(text, validate=True)


class PassphraseKeystore(KekWrapBackend):
    """Wrapping keys derived from an app-supplied passphrase with scrypt.

    Args:
        data_dir: folder for :data:`SALT_FILENAME` (created if missing).
        passphrase: the passphrase, or a callable returning it (asked once, when a key is
            first needed; e.g. a prompt). Must not be empty.

    Raises (from the methods):
        KeystoreError: "wrong passphrase"; the salt file is unreadable or corrupt; or the
            passphrase callable failed.
    """

    name: ClassVar[str] = "passphrase"

    def __init__(self, data_dir: Path | str, passphrase: str | Callable[[], str]) -> None:
        if not callable(passphrase) and not (isinstance(passphrase, str) and passphrase):
            from ...errors import ConfigError

            raise ConfigError("passphrase must be a non-empty string or a callable returning one")
        self.path = Path(data_dir) / SALT_FILENAME
        self._passphrase = passphrase
        self._keks: dict[str, bytes] = {}  # derived KEKs, this process only
        self._lock = threading.RLock()

    @classmethod
    def viable(cls) -> tuple[bool, str]:
        """Always viable; it is used only when the app opts in with a passphrase."""
        return True, ""

    # -- the salt file --------------------------------------------------------------------

    def _read_file(self) -> dict[str, Any]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {"version": _FILE_VERSION, "keys": {}}
        except OSError as exc:
            raise KeystoreError(
                f"cannot read the passphrase keystore file '{self.path}' ({exc.strerror})"
            ) from exc
        try:
            data = json.loads(raw.decode("utf-8"))
            if not isinstance(data, dict) or not isinstance(data.get("keys"), dict):
                raise ValueError("unexpected shape")
            if data.get("version") != _FILE_VERSION:
                raise ValueError("unknown version")
        except ValueError as exc:
            raise KeystoreError(
                f"the passphrase keystore file '{self.path}' is corrupt; without it the data "
                "it protects cannot be decrypted: move it aside and start again"
            ) from exc
        return data

    def _write_file(self, data: dict[str, Any]) -> None:
        payload = json.dumps(data, indent=1, sort_keys=True).encode("utf-8")
        try:
            # the temporary file is readable and writable by its owner only (0600)
            write_atomically(self.path, payload, prefix=".keystore-", sync_dir=True)
        except OSError as exc:
            raise KeystoreError(
                f"cannot write the passphrase keystore file '{self.path}' ({exc.strerror}); "
                "check that the data dir is writable"
            ) from exc

    # -- derivation -----------------------------------------------------------------------

    def _secret(self) -> bytes:
        value = self._passphrase
        if callable(value):
            try:
                value = value()
            except Exception as exc:
                raise KeystoreError(
                    f"the app's passphrase callable failed ({type(exc).__name__})"
                ) from exc
        if not isinstance(value, str) or not value:
            raise KeystoreError("the app's passphrase is empty or not a string")
        return value.encode("utf-8")

    @staticmethod
    def _check_value(kek: bytes) -> bytes:
        return hmac.new(kek, _CHECK_LABEL, hashlib.sha256).digest()

    def _derive(self, entry: dict[str, Any], key_id: str) -> bytes:
        try:
            salt = _unb64(entry["salt"])
            n, r, p = int(entry["n"]), int(entry["r"]), int(entry["p"])
            check = _unb64(entry["check"])
        except (KeyError, TypeError, ValueError) as exc:
            raise KeystoreError(
                f"the entry for key id '{key_id}' in '{self.path}' is corrupt"
            ) from exc
        kek = Scrypt(salt=salt, length=KEK_BYTES, n=n, r=r, p=p).derive(self._secret())
        if not hmac.compare_digest(self._check_value(kek), check):
            raise KeystoreError(
                f"wrong passphrase for key id '{key_id}': it does not match the one the data "
                "was protected with; ask the user again (the data cannot be read without it)"
            )
        return kek

    # -- KekWrapBackend hooks ------------------------------------------------------------

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Hold an exclusive lock on the data dir, across processes, while the salt file is
        read, changed and written: two app processes making their first keys at once would
        otherwise each write the file without the other's new key, losing a wrapping key and
        the data under it. POSIX ``flock`` on the folder (no extra file); where there is no
        ``fcntl`` (Windows) only this process's lock is held."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            yield
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path.parent, os.O_RDONLY)
        except OSError as exc:
            raise KeystoreError(
                f"cannot open the folder of the passphrase keystore file '{self.path}' "
                f"({exc.strerror}); check that the data dir exists and is readable"
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _load_kek(self, key_id: str, create: bool) -> bytes | None:
        with self._lock:
            data = self._read_file()
            entry = data["keys"].get(key_id)
            if entry is None:
                self._keks.pop(key_id, None)
                if not create:
                    return None
                with self._exclusive():
                    data = self._read_file()  # again: another process may have made it
                    entry = data["keys"].get(key_id)
                    if entry is None:
                        return self._create_kek(data, key_id)
            cached = self._keks.get(key_id)
            if cached is not None:
                try:
                    same = hmac.compare_digest(self._check_value(cached), _unb64(entry["check"]))
                except (KeyError, TypeError, ValueError):
                    same = False
                if same:  # the salt file still describes the key we derived earlier
                    return cached
            kek = self._derive(entry, key_id)
            self._keks[key_id] = kek
            return kek

    def _create_kek(self, data: dict[str, Any], key_id: str) -> bytes:
        """A new salt and KEK for *key_id*, added to *data* (the salt file just read, under
        :meth:`_exclusive`) and written."""
        salt = os.urandom(_SALT_BYTES)
        kek = Scrypt(
            salt=salt, length=KEK_BYTES, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P
        ).derive(self._secret())
        data["keys"][key_id] = {
            "salt": _b64(salt),
            "n": SCRYPT_N,
            "r": SCRYPT_R,
            "p": SCRYPT_P,
            "check": _b64(self._check_value(kek)),
        }
        self._write_file(data)
        self._keks[key_id] = kek
        return kek

    def _delete_kek(self, key_id: str) -> None:
        with self._lock, self._exclusive():
            self._keks.pop(key_id, None)
            data = self._read_file()
            if data["keys"].pop(key_id, None) is not None:
                self._write_file(data)

    def _unwrap_failed(self, key_id: str) -> str:
        return (
            f"the wrapped data key for key id '{key_id}' does not match the passphrase-derived "
            "wrapping key although the passphrase is right: the wrapped key was altered or "
            "belongs to another key id"
        )
