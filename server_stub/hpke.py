"""The stub's HPKE key ring: the keys devices seal personal data to (docs/protocol.md,
"End-to-end encryption").

Files in the data dir::

    hpke-keys.json   every key: kid, suite (IANA codepoints), 32-byte secret (base64url),
                     status, times. Private: mode 0600, written atomically.
    hpke-pins.txt    the fingerprints of the published keys, current first, one a line
                     (``#`` lines are comments): what QA and the demo put in
                     ``SdkConfig.hpke_pins``. Mode 0644 (public values).

The first key is made when the stub first starts (:func:`ensure_hpke_keys`, called by
:func:`server_stub.app.create_app`). :func:`rotate_hpke_key` makes a new current key and marks
the old one ``retired``: it is still published and still opens what was sealed to it (an
upload in flight completes), but new uploads must use the current key. Keys are never deleted
by the stub: stored uploads stay sealed to the key they were made with. A running server
notices a rotation on its next request (the file is re-read when it changes).

Secrets are kept as ``sdk.transport.envelope.EnvelopePrivateKey`` defines them (X25519: raw
private key; MLKEM768-X25519: the 32-byte X-Wing seed). This is a development key store: the
file is not encrypted; a production backend keeps these keys in an HSM or KMS.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import secrets
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sdk.transport.envelope import (
    KEM_MLKEM768_X25519,
    KEM_X25519,
    EnvelopeKey,
    EnvelopePrivateKey,
    HpkeSuite,
    b64url_decode,
    b64url_encode,
)

from .store import utc_now_rfc3339

__all__ = [
    "HPKE_KEYS",
    "HPKE_PINS",
    "SUITE_NAMES",
    "HpkeKeyError",
    "KeyRing",
    "ensure_hpke_keys",
    "hpke_pins",
    "rotate_hpke_key",
]

logger = logging.getLogger("server_stub")

HPKE_KEYS = "hpke-keys.json"
HPKE_PINS = "hpke-pins.txt"
_FORMAT = "server_stub/hpke-keys/v1"

#: ``Settings.hpke_kem`` names -> IANA KEM ids.
SUITE_NAMES = {"MLKEM768-X25519": KEM_MLKEM768_X25519, "X25519": KEM_X25519}

_lock = threading.Lock()  # one writer at a time within this process


class HpkeKeyError(RuntimeError):
    """``hpke-keys.json`` is unusable; the message names the file and what to do."""


def _new_kid() -> str:
    return f"hpke-{_dt.datetime.now(_dt.timezone.utc):%Y%m%d}-{secrets.token_hex(4)}"


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_entries(data_dir: Path) -> list[dict[str, Any]]:
    path = data_dir / HPKE_KEYS
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise HpkeKeyError(
            f"cannot read the HPKE key file {path} ({type(exc).__name__}); restore it from a "
            "backup, or move it aside to make new keys (devices then need the new pins)"
        ) from exc
    if not isinstance(doc, dict) or doc.get("format") != _FORMAT or not isinstance(doc.get("keys"), list):
        raise HpkeKeyError(f"{path} is not an HPKE key file of this stub ({_FORMAT})")
    return list(doc["keys"])


def _entry_key(entry: dict[str, Any], path: Path) -> EnvelopePrivateKey:
    try:
        suite = HpkeSuite(int(entry["kem"]), int(entry["kdf"]), int(entry["aead"]))
        return EnvelopePrivateKey(str(entry["kid"]), suite, b64url_decode(entry["secret"], "secret"),
                                  str(entry["status"]))
    except Exception as exc:  # KeyError, EnvelopeError, ValueError: one clear line
        raise HpkeKeyError(f"{path} holds a malformed key entry ({type(exc).__name__})") from exc


def _write(data_dir: Path, entries: list[dict[str, Any]], keys: list[EnvelopePrivateKey]) -> None:
    doc = {"format": _FORMAT, "keys": entries}
    _write_atomic(data_dir / HPKE_KEYS, json.dumps(doc, indent=2).encode("utf-8"), 0o600)
    lines = ["# HPKE key pins of this stub for SdkConfig.hpke_pins (current key first)"]
    lines += [f"{k.fingerprint}" for k in _ordered(keys)]
    _write_atomic(data_dir / HPKE_PINS, ("\n".join(lines) + "\n").encode("ascii"), 0o644)


def _ordered(keys: Iterable[EnvelopePrivateKey]) -> list[EnvelopePrivateKey]:
    keys = list(keys)
    return [k for k in keys if k.status == "current"] + [k for k in keys if k.status != "current"]


def _new_entry(kem: int) -> tuple[dict[str, Any], EnvelopePrivateKey]:
    key = EnvelopePrivateKey.generate(_new_kid(), HpkeSuite(kem))
    entry = {
        "kid": key.kid, "kem": key.suite.kem, "kdf": key.suite.kdf, "aead": key.suite.aead,
        "secret": b64url_encode(key.secret), "status": "current",
        "created_at": utc_now_rfc3339(), "retired_at": None,
    }
    return entry, key


def _kem_id(kem: int | str) -> int:
    if isinstance(kem, str):
        if kem not in SUITE_NAMES:
            raise ValueError(f"unknown HPKE KEM {kem!r}; use one of {', '.join(SUITE_NAMES)}")
        return SUITE_NAMES[kem]
    return int(kem)


def ensure_hpke_keys(data_dir: Path, kem: int | str = KEM_MLKEM768_X25519) -> KeyRing:
    """Make the first HPKE key in *data_dir* if there is none; (re)write ``hpke-pins.txt``.

    Args:
        data_dir: the stub's data folder (must exist).
        kem: KEM of a new key: ``"MLKEM768-X25519"`` (0x647A, default) or ``"X25519"``
            (0x0020). An existing key ring is kept as it is.

    Returns:
        the :class:`KeyRing` over the folder.

    Raises:
        HpkeKeyError: the key file exists but is unusable.
        OSError: the files cannot be written.
    """
    data_dir = Path(data_dir)
    kem_id = _kem_id(kem)
    with _lock:
        entries = _read_entries(data_dir)
        path = data_dir / HPKE_KEYS
        if not entries:
            entry, _ = _new_entry(kem_id)
            entries = [entry]
            logger.info("created HPKE key %s", entry["kid"])
        keys = [_entry_key(e, path) for e in entries]
        if os.name == "posix" and path.exists() and path.stat().st_mode & 0o077:
            logger.warning("%s was readable by others; setting mode 0600", path)
            os.chmod(path, 0o600)
        _write(data_dir, entries, keys)
    return KeyRing(data_dir)


def rotate_hpke_key(data_dir: Path, kem: int | str | None = None) -> EnvelopePrivateKey:
    """Make a new current key and retire the current one (it still opens what was sealed to it).

    Args:
        data_dir: the stub's data folder.
        kem: KEM of the new key; ``None`` keeps the current key's KEM.

    Returns:
        the new current key (its ``fingerprint`` is the pin devices need).

    Raises:
        HpkeKeyError: there is no usable key file (start the stub once first).
    """
    data_dir = Path(data_dir)
    with _lock:
        entries = _read_entries(data_dir)
        if not entries:
            raise HpkeKeyError(f"{data_dir / HPKE_KEYS} does not exist; start the stub once first")
        current = [e for e in entries if e.get("status") == "current"]
        kem_id = _kem_id(kem) if kem is not None else int(current[0]["kem"] if current else entries[0]["kem"])
        for entry in current:
            entry["status"] = "retired"
            entry["retired_at"] = utc_now_rfc3339()
        entry, key = _new_entry(kem_id)
        entries.insert(0, entry)
        keys = [_entry_key(e, data_dir / HPKE_KEYS) for e in entries]
        _write(data_dir, entries, keys)
    logger.info("rotated HPKE key: %s is current", key.kid)
    return key


def hpke_pins(data_dir: Path) -> tuple[str, ...]:
    """The fingerprints of every published key in *data_dir*, current first (what
    ``hpke-pins.txt`` holds); empty when there are no keys yet."""
    return tuple(k.fingerprint for k in KeyRing(Path(data_dir)).keys())


class KeyRing:
    """The keys of one data dir, re-read when ``hpke-keys.json`` changes. Thread-safe.

    Args:
        data_dir: the stub's data folder.
    """

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / HPKE_KEYS
        self._mutex = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._keys: list[EnvelopePrivateKey] = []

    def keys(self) -> list[EnvelopePrivateKey]:
        """Every key, current first, then retired ones newest first.

        Raises:
            HpkeKeyError: the file became unusable.
        """
        try:
            st = self.path.stat()
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            stamp = None
        with self._mutex:
            if stamp != self._stamp:
                entries = _read_entries(self.path.parent) if stamp is not None else []
                self._keys = _ordered(_entry_key(e, self.path) for e in entries)
                self._stamp = stamp
            return list(self._keys)

    def current(self) -> EnvelopePrivateKey | None:
        """The key new uploads must use, or None when there is none."""
        return next((k for k in self.keys() if k.status == "current"), None)

    def lookup(self, kid: str) -> EnvelopePrivateKey | None:
        """The key with this id (current or retired), or None."""
        return next((k for k in self.keys() if k.kid == kid), None)

    def published(self) -> list[EnvelopeKey]:
        """The public keys, as ``GET /v1/keys/hpke`` lists them."""
        return [k.public_key() for k in self.keys()]
