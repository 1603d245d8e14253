"""What a capture hands out: :class:`Capture`, the media in memory or in a file the caller
named. The SDK never leaves a plain file of its own behind (docs/permissions.md, "Camera
capture": the contract with the upload step, issue #6)."""

from __future__ import annotations

import os
from pathlib import Path

from .backend import Media
from .errors import CaptureError

__all__ = ["Capture", "write_private"]


class Capture:
    """One captured image or video, ready for the upload step.

    Where the bytes are:

    - no ``dest`` given: in memory only (:attr:`data`, :attr:`buffer`); :meth:`discard` (or
      leaving a ``with`` block) overwrites them with zeros;
    - ``dest`` given (a temp path the caller chose, e.g. from ``tempfile.mkstemp`` in the app's
      cache dir): written there with mode 0600 when the capture completed, never before;
      :attr:`path` names it and :meth:`discard` deletes it. The caller owns that file.

    The upload step (issue #6) takes :attr:`data` (or reads :attr:`path`), encrypts and sends
    it, then calls :meth:`discard`. Nothing else keeps a copy: no cache, no gallery, no log.
    ``repr`` never shows the bytes.

    Attributes:
        item, purpose, feature: the manifest ids it was collected under.
        kind: ``video`` or ``photo``; media_type: e.g. ``video/mp4``, ``image/jpeg``.
        backend: the backend that produced it (``synthetic``, ``plyer``, ...).
        size: bytes; frames (count), duration (seconds), width, height (pixels, as stored,
            before any rotation metadata): when the backend knows them, else ``None``.
        audit_seq: ``seq`` of the audit entry the gate wrote (``privacy.audit``).
    """

    def __init__(self, media: Media, *, item: str, purpose: str, feature: str | None,
                 kind: str, backend: str, audit_seq: int | None,
                 path: Path | None = None) -> None:
        self.item, self.purpose, self.feature = item, purpose, feature
        self.kind, self.backend, self.audit_seq = kind, backend, audit_seq
        self.media_type = media.media_type
        self.size = len(media.data)
        self.frames, self.duration = media.frames, media.duration
        self.width, self.height = media.width, media.height
        self.path = path
        self._buffer: bytearray | None = None if path is not None else bytearray(media.data)
        self.discarded = False

    @property
    def buffer(self) -> memoryview:
        """The bytes without a copy (read-only view; in memory only)."""
        self._check()
        if self._buffer is None:
            raise CaptureError("this capture is in a file: read it from .path (or use .data)")
        return memoryview(self._buffer).toreadonly()

    @property
    def data(self) -> bytes:
        """The bytes (a copy; from memory, or read from :attr:`path`)."""
        self._check()
        if self._buffer is not None:
            return bytes(self._buffer)
        assert self.path is not None
        return self.path.read_bytes()

    def discard(self) -> None:
        """Forget the media: zero the memory (best effort: Python may hold other copies, e.g.
        of :attr:`data`), delete :attr:`path`. Idempotent."""
        if self._buffer is not None:
            self._buffer[:] = bytes(len(self._buffer))
            self._buffer = None
        if self.path is not None:
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass
        self.discarded = True

    def _check(self) -> None:
        if self.discarded:
            raise CaptureError("this capture was discarded")

    def __enter__(self) -> Capture:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()

    def __repr__(self) -> str:
        where = "file" if self.path is not None else "memory"
        return (f"<Capture {self.item} {self.media_type} {self.size} bytes in {where} "
                f"backend={self.backend}{' discarded' if self.discarded else ''}>")


def check_dest(dest: Path) -> None:
    """Check *dest* before anything is captured (no personal data involved): not a symlink,
    an existing one is an empty regular file, else its folder exists and is writable.

    Raises:
        CaptureError: *dest* cannot take the capture (the message says why).
    """
    import stat as _stat

    try:
        info = os.lstat(dest)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise CaptureError(f"the capture's dest cannot be checked ({exc.strerror or 'error'}); "
                           "pass a path in a writable temp folder") from exc
    if info is not None:
        if _stat.S_ISLNK(info.st_mode):
            raise CaptureError("the capture's dest is a symbolic link; pass a new or empty file")
        if not _stat.S_ISREG(info.st_mode):
            raise CaptureError("the capture's dest is not a regular file; pass a new or empty file")
        if info.st_size:
            raise CaptureError("the capture's dest already holds data; pass a new or empty file")
        if not os.access(dest, os.W_OK):
            raise CaptureError("the capture's dest is not writable; pass a path in a writable "
                               "temp folder")
        return
    folder = dest.parent
    if not folder.is_dir():
        raise CaptureError("the capture's dest folder does not exist; pass a path in a "
                           "writable temp folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise CaptureError("the capture's dest folder is not writable; pass a path in a "
                           "writable temp folder")


def write_private(dest: Path, data: bytes) -> None:
    """Write *data* to *dest* (the caller's path) with mode 0600; no symlink is followed.

    An existing empty file (``mkstemp``) is reused; an existing non-empty one is refused so
    nothing of the user's is overwritten. A failed write leaves no partial file.
    """
    flags = (os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
             | getattr(os, "O_NONBLOCK", 0))  # a FIFO put there meanwhile: ENXIO, no hang
    try:
        fd = os.open(dest, flags, 0o600)
    except OSError as exc:
        raise CaptureError(f"the capture's dest cannot be written ({exc.strerror or 'error'}); "
                           "pass a path in a writable temp folder") from exc
    import stat as _stat

    info = os.fstat(fd)
    if not _stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise CaptureError("the capture's dest is not a regular file; pass a new or empty file")
    if info.st_size:
        os.close(fd)
        raise CaptureError("the capture's dest already holds data; pass a new or empty file")
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)  # an mkstemp file is 0600 already; a new one is by the mode
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except BaseException as exc:
        os.close(fd)
        try:
            os.unlink(dest)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise CaptureError(f"the capture could not be written ({exc.strerror or 'error'})") from exc
        raise
    os.close(fd)
