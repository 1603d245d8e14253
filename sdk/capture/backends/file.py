"""The ``file`` source: an existing image or video the user chose (the photo library, a file
picker). The file is read into memory and never changed, moved or deleted: it is the user's.

The app shows its own picker (``plyer.filechooser``, Kivy's ``FileChooser``, the Android/iOS
photo picker) and passes the chosen path as ``source=``. Before the gate (and before any
``allowed`` entry) the path is checked with ``lstat`` (a regular file, not a symlink, folder,
FIFO or device; not empty; within the size limit), then opened with ``O_NONBLOCK |
O_NOFOLLOW`` and its first 64 bytes compared with the accepted formats' signatures. That
check is the signature only: it tells a JPEG from a PDF, not a valid JPEG from a damaged or
crafted one, so whatever decodes the media later must still treat it as untrusted input.
The type is never taken from the name.

The media's width and height (pixels) are read with PyAV when it is installed (extra
``synthetic`` or ``webcam``; :func:`sdk.capture.backends._av.media_size`); without it, and for
HEIC, ``Media.width`` / ``Media.height`` stay ``None``. Pillow is not a dependency, and image
headers are never parsed by hand here.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import ClassVar

from ..backend import CameraBackend, CaptureRequest, Media, StopSignal
from ..errors import CameraUnavailable, InvalidMedia

__all__ = ["MAX_PHOTO_BYTES", "PHOTO_TYPES", "VIDEO_TYPES", "FileSource", "open_regular",
           "sniff"]

#: Accepted media types.
PHOTO_TYPES = frozenset({"image/jpeg", "image/png", "image/heic", "image/webp"})
VIDEO_TYPES = frozenset({"video/mp4", "video/quicktime", "video/3gpp", "video/webm",
                         "video/x-matroska"})
#: The largest photo accepted (a video's limit is ``CaptureRequest.max_bytes``).
MAX_PHOTO_BYTES = 20 * 1024 * 1024

_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"heim", b"heis", b"hevm", b"mif1", b"msf1"}
_READ = 64 * 1024


def sniff(head: bytes) -> str | None:
    """The media type of a file from its first bytes (at least 32), or ``None``."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _HEIF_BRANDS:
            return "image/heic"
        if brand == b"qt  ":
            return "video/quicktime"
        if brand.startswith(b"3g"):
            return "video/3gpp"
        return "video/mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm" if b"webm" in head[:64] else "video/x-matroska"
    return None


def _stat_ok(info: os.stat_result, limit: int) -> None:
    if stat.S_ISLNK(info.st_mode):
        raise InvalidMedia("the chosen item is a symbolic link, not the file itself")
    if stat.S_ISDIR(info.st_mode):
        raise InvalidMedia("the chosen item is a folder, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise InvalidMedia("the chosen item is not a regular file")
    if info.st_size == 0:
        raise InvalidMedia("the chosen file is empty")
    if info.st_size > limit:
        raise InvalidMedia(f"the chosen file is larger than {limit} bytes")


def open_regular(source: str | os.PathLike[str], limit: int) -> int:
    """Open a file the user chose, read-only: check with ``lstat`` first (nothing is opened
    for a FIFO, a device, a folder or a symlink; not empty; at most *limit* bytes), then open
    without blocking and without following a symlink, and check that the file opened is the
    one checked. Returns the descriptor (the caller closes it). The one check of chosen files
    (the ``file`` source, and the real-name media of :mod:`sdk.realname`).

    Raises:
        InvalidMedia: the message says why (never the path).
    """
    try:
        before = os.lstat(source)
    except OSError as exc:
        raise InvalidMedia(f"the chosen file cannot be found ({exc.strerror or 'error'})") from exc
    _stat_ok(before, limit)
    flags = (os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
             | getattr(os, "O_NOFOLLOW", 0))
    try:
        fd = os.open(source, flags)
    except OSError as exc:
        raise InvalidMedia(f"the chosen file cannot be opened ({exc.strerror or 'error'})") from exc
    try:
        after = os.fstat(fd)
        if (after.st_dev, after.st_ino) != (before.st_dev, before.st_ino):
            raise InvalidMedia("the chosen file changed while it was being opened")
        _stat_ok(after, limit)
    except BaseException:
        os.close(fd)
        raise
    return fd


class FileSource(CameraBackend):
    """Reads the image or video the user chose (``CaptureRequest.source``)."""

    name: ClassVar[str] = "file"
    source: ClassVar[str] = "library"  # type: ignore[assignment]

    @classmethod
    def viable(cls) -> tuple[bool, str]:
        return True, ""

    def check(self, request: CaptureRequest) -> None:
        """Everything about the chosen file that needs none of its contents, before the gate:
        a path was given; it is a regular file (not a symlink, folder, FIFO or device), not
        empty, within the size limit; and its first bytes are an accepted type. Only the
        first 64 bytes (the format's signature) are read here."""
        super().check(request)
        if request.source is None:
            raise CameraUnavailable(
                f"the 'file' source needs the {request.kind} the user chose: show a picker and "
                "pass its path as source=")
        limit, accepted = self._limits(request)
        fd = self._open(request.source, limit)
        try:
            head = os.read(fd, 64)
        except OSError as exc:
            raise InvalidMedia(f"the chosen file cannot be read ({exc.strerror or 'error'})") from exc
        finally:
            os.close(fd)
        self._check_type(head, accepted, request.kind)

    @staticmethod
    def _limits(request: CaptureRequest) -> tuple[int, frozenset[str]]:
        limit = MAX_PHOTO_BYTES if request.kind == "photo" else request.max_bytes
        return limit, (PHOTO_TYPES if request.kind == "photo" else VIDEO_TYPES)

    @staticmethod
    def _check_type(head: bytes, accepted: frozenset[str], kind: str) -> str:
        media_type = sniff(head)
        if media_type not in accepted:
            kinds = ", ".join(sorted(accepted))
            raise InvalidMedia(f"the chosen file is not an accepted {kind} ({kinds})")
        return media_type

    @staticmethod
    def _stat_ok(info: os.stat_result, limit: int) -> None:
        _stat_ok(info, limit)

    def _open(self, source: Path, limit: int) -> int:
        """:func:`open_regular`."""
        return open_regular(source, limit)

    def capture(self, request: CaptureRequest, stop: StopSignal) -> Media:
        """Read the chosen file into memory.

        Returns:
            :class:`Media` with the bytes, the media type found from them, and ``width`` /
            ``height`` in pixels when PyAV can read them (else ``None``; see the module
            documentation). ``frames`` and ``duration`` are ``None``.

        Raises:
            CameraUnavailable: no file was chosen. InvalidMedia: the file is not accepted (see
            :meth:`check`), or changed while it was read. CaptureInterrupted: *stop* was set.
        """
        if request.source is None:
            self.check(request)
        if stop.is_set():
            raise stop.interrupted(0)
        limit, accepted = self._limits(request)
        assert request.source is not None
        fd = self._open(request.source, limit)
        with os.fdopen(fd, "rb") as handle:
            chunks, size = [], 0
            while True:
                if stop.is_set():
                    raise stop.interrupted(0)
                chunk = handle.read(_READ)
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    raise InvalidMedia(f"the chosen file is larger than {limit} bytes")
                chunks.append(chunk)
        data = b"".join(chunks)
        if not data:
            raise InvalidMedia("the chosen file is empty")
        media_type = self._check_type(data[:64], accepted, request.kind)
        if stop.is_set():
            raise stop.interrupted(0)
        from ._av import media_size  # imports PyAV only when it is installed

        width, height = media_size(data, media_type)
        return Media(data, media_type, width=width, height=height)
