"""Server secrets kept as files in the stub's data folder (:func:`load_or_create_key`).

Used for the ID-number pseudonym key (``id-pseudonym.key``,
:mod:`server_stub.realname_store`) and the idempotency fingerprint key
(``idempotency.key``, :mod:`server_stub.store`): each is 32 random bytes, made on first use
with mode 0600 (owner only, from the first byte: ``O_CREAT | O_EXCL``), and read back on
later starts.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["KEY_SIZE", "load_or_create_key"]

#: Bytes of every key file.
KEY_SIZE = 32


def load_or_create_key(path: Path, what: str) -> bytes:
    """The key in *path*, made (random, mode 0600) when the file does not exist.

    Args:
        path: the key file.
        what: what changes when the key is lost, for the error message (e.g. "every
            pseudonym").

    Raises:
        RuntimeError: the file exists but is not a :data:`KEY_SIZE`-byte key.
        OSError: the file cannot be read or made.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = Path(path).read_bytes()
        if len(key) != KEY_SIZE:
            raise RuntimeError(
                f"{path} is not a {KEY_SIZE}-byte key; restore it (deleting it changes "
                f"{what})") from None
        return key
    key = os.urandom(KEY_SIZE)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
        fh.flush()
        os.fsync(fh.fileno())
    return key
