"""The ``file`` source: an existing image or video the user chose (the photo library, a file
picker). The file is read into memory and never changed, moved or deleted: it is the user's.

The app shows its own picker (``plyer.filechooser``, Kivy's ``FileChooser``, the Android/iOS
photo picker) and passes the chosen path as ``source=``. The type is taken from the file's
first bytes, never from its name; the size is checked before it is read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import ClassVar

from ..backend import CameraBackend, CaptureRequest, Media, StopSignal
from ..errors import CameraUnavailable, InvalidMedia

__all__ = ["MAX_PHOTO_BYTES", "PHOTO_TYPES", "VIDEO_TYPES", "FileSource", "sniff"]

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


class FileSource(CameraBackend):
    """Reads the image or video the user chose (``CaptureRequest.source``)."""

    name: ClassVar[str] = "file"
    source: ClassVar[str] = "library"  # type: ignore[assignment]

    @classmethod
    def viable(cls) -> tuple[bool, str]:
        return True, ""

    def check(self, request: CaptureRequest) -> None:
        super().check(request)
        if request.source is None:
            raise CameraUnavailable(
                f"the 'file' source needs the {request.kind} the user chose: show a picker and "
                "pass its path as source=")

    def capture(self, request: CaptureRequest, stop: StopSignal) -> Media:
        if request.source is None:
            self.check(request)
        if stop.is_set():
            raise stop.interrupted(0)
        limit = MAX_PHOTO_BYTES if request.kind == "photo" else request.max_bytes
        accepted = PHOTO_TYPES if request.kind == "photo" else VIDEO_TYPES
        try:
            fd = os.open(Path(request.source), os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))  # type: ignore[arg-type]
        except OSError as exc:
            raise InvalidMedia(f"the chosen file cannot be opened ({exc.strerror or 'error'})") from exc
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise InvalidMedia("the chosen item is not a regular file")
            if info.st_size == 0:
                raise InvalidMedia("the chosen file is empty")
            if info.st_size > limit:
                raise InvalidMedia(f"the chosen file is larger than {limit} bytes")
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
        media_type = sniff(data[:64])
        if media_type not in accepted:
            kinds = ", ".join(sorted(accepted))
            raise InvalidMedia(f"the chosen file is not an accepted {request.kind} ({kinds})")
        return Media(data, media_type)
