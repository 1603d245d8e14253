"""Writing a file whole or not at all (standard library only)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["write_atomically"]


def write_atomically(path: Path, data: bytes, *, prefix: str | None = None,
                     sync_dir: bool = False) -> None:
    """Write *data* to *path* so that it is either the old file or the new one, never a part.

    The folder is made when missing; the bytes go to a temporary file next to *path* (made by
    ``mkstemp``: readable and writable by its owner only, 0600), are flushed and fsynced, then
    renamed over *path*; on any failure the temporary file is removed and the error raised.

    Args:
        prefix: of the temporary file's name; ``.<name>.`` by default.
        sync_dir: also fsync the folder after the rename (where the OS allows it), so the
            rename itself survives a power loss.

    Raises:
        OSError: the folder or the file could not be written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=prefix or f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    if sync_dir and hasattr(os, "O_DIRECTORY"):
        dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
