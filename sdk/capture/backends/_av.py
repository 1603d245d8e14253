"""PyAV (``av``, the FFmpeg bindings): encoding for the ``synthetic`` and ``opencv`` backends,
and :func:`media_size` (an image's or video's width and height) for the ``file`` source.
Everything happens in memory (``io.BytesIO``); nothing touches the disk. ``av`` is imported
only inside the functions that use it."""

from __future__ import annotations

import importlib.util
import io
import logging
from collections.abc import Callable, Iterator
from fractions import Fraction
from typing import Any

from ..backend import Media, StopSignal
from ..errors import CameraUnavailable

log = logging.getLogger(__name__)

#: Video codecs tried in order (first one this FFmpeg build can encode): H.264 in MP4 is what
#: verification services take; MPEG-4 part 2 is in every FFmpeg build.
VIDEO_CODECS: tuple[tuple[str, str, str], ...] = (
    ("h264", "mp4", "video/mp4"),
    ("mpeg4", "mp4", "video/mp4"),
)

INSTALL_HINT = "install the extra: pip install 'privacy-sdk[synthetic]' (PyAV, the FFmpeg bindings)"


def av_viable() -> tuple[bool, str]:
    """Whether PyAV is installed (checked without importing it)."""
    if importlib.util.find_spec("av") is None:
        return False, f"PyAV ('av') is not installed; {INSTALL_HINT}"
    return True, ""


def import_av() -> Any:
    try:
        import av
    except ImportError as exc:  # pragma: no cover - viable() says so first
        raise CameraUnavailable(f"PyAV ('av') cannot be imported; {INSTALL_HINT}") from exc
    return av


def _open_video(av: Any, buffer: io.BytesIO, width: int, height: int, fps: int) -> tuple[Any, Any, str]:
    problems = []
    for codec, fmt, media_type in VIDEO_CODECS:
        container = av.open(buffer, mode="w", format=fmt)
        try:
            stream = container.add_stream(codec, rate=fps)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            stream.codec_context.open()
            return container, stream, media_type
        except Exception as exc:  # av.FFmpegError, ValueError: this build lacks the encoder
            problems.append(f"{codec}: {type(exc).__name__}")
            try:
                container.close()
            except Exception:  # nothing was written; closing may complain
                pass
            buffer.seek(0)
            buffer.truncate()
    raise CameraUnavailable(
        "this FFmpeg build (PyAV) has none of the video encoders the SDK uses "
        f"({'; '.join(problems)}); install the PyAV wheel from PyPI")


def encode_video(frames: Iterator[Any], *, width: int, height: int, fps: int,
                 stop: StopSignal, on_frame: Callable[[int], None] | None = None,
                 max_bytes: int | None = None, comment: str | None = None) -> Media:
    """Encode the ``av.VideoFrame`` objects *frames* yields into an MP4 in memory.

    *stop* is checked before each frame is taken and again before the file is finished: once
    it is set nothing more is encoded or written, the partial buffer is dropped and
    ``stop.interrupted(n)`` is raised.
    """
    av = import_av()
    buffer = io.BytesIO()
    container, stream, media_type = _open_video(av, buffer, width, height, fps)
    if comment:
        container.metadata["comment"] = comment
    count = 0
    finished = False
    try:
        for frame in frames:
            if stop.is_set():
                raise stop.interrupted(count)
            frame.pts = count
            frame.time_base = Fraction(1, fps)
            for packet in stream.encode(frame):
                container.mux(packet)
            count += 1
            if max_bytes is not None and buffer.tell() > max_bytes:
                raise CameraUnavailable(f"the video grew beyond {max_bytes} bytes; record less")
            if on_frame is not None:
                on_frame(count)
        if stop.is_set():
            raise stop.interrupted(count)
        for packet in stream.encode():
            container.mux(packet)
        container.close()
        finished = True
        return Media(buffer.getvalue(), media_type, frames=count, duration=count / fps,
                     width=width, height=height)
    finally:
        if not finished:
            _abandon(container, buffer)


def _abandon(container: Any, buffer: io.BytesIO) -> None:
    """Drop a partial encoding: empty the buffer first so closing writes only into nothing."""
    buffer.seek(0)
    buffer.truncate()
    try:
        container.close()
    except Exception:  # pragma: no cover - best effort on an abandoned encoder
        pass
    buffer.seek(0)
    buffer.truncate()


def encode_jpeg(frame: Any) -> bytes:
    """One ``av.VideoFrame`` as a JPEG (FFmpeg's mjpeg encoder), in memory."""
    av = import_av()
    codec = av.CodecContext.create("mjpeg", "w")
    codec.width, codec.height, codec.pix_fmt = frame.width, frame.height, "yuvj420p"
    codec.time_base = Fraction(1, 1)
    if frame.format.name != "yuvj420p":
        frame = frame.reformat(format="yuvj420p")
    frame.pts = 0
    packets = list(codec.encode(frame)) + list(codec.encode())
    return b"".join(bytes(p) for p in packets)


#: The FFmpeg demuxer for each media type :func:`sdk.capture.backends.file.sniff` accepts: the
#: format is chosen from the type already checked, never guessed again by FFmpeg. HEIC is
#: missing on purpose: most HEIC photos are a grid of tiles, and PyAV exposes only the tiles'
#: streams (512x512), not the grid, so its size would be wrong.
_DEMUXERS: dict[str, str] = {
    "image/jpeg": "jpeg_pipe",
    "image/png": "png_pipe",
    "image/webp": "webp_pipe",
    "video/mp4": "mov",
    "video/quicktime": "mov",
    "video/3gpp": "mov",
    "video/webm": "matroska",
    "video/x-matroska": "matroska",
}

#: The largest picture (width x height, pixels) whose size :func:`media_size` reads. FFmpeg
#: learns an image's size by decoding its first frame, so a small file declaring a huge
#: picture would make it allocate that frame (a 20000 x 20000 PNG: 1.6 GB); FFmpeg's own
#: ``max_pixels`` limit refuses larger ones before allocating. 50 million covers a 48 MP
#: phone photo and 8K video.
MAX_PROBE_PIXELS = 50_000_000


def media_size(data: bytes, media_type: str) -> tuple[int | None, int | None]:
    """Width and height in pixels of the image or video *data*, as FFmpeg reads them.

    Args:
        data: the whole file, in memory.
        media_type: its type as :func:`~sdk.capture.backends.file.sniff` found it (the
            demuxer is chosen from it).

    Returns:
        ``(width, height)`` of the first video stream (for an image: the picture), as stored:
        before any rotation metadata (EXIF orientation, an MP4 display matrix), so a portrait
        phone photo or video may read as landscape. ``(None, None)`` when PyAV is not
        installed (extra ``synthetic`` or ``webcam``), for HEIC (see :data:`_DEMUXERS`), for a
        picture larger than :data:`MAX_PROBE_PIXELS`, or when FFmpeg cannot read the file
        (damaged, or a type only by its signature). Never raises.

    FFmpeg parses the user's file to find this (the container, and the first frame's
    headers): the same untrusted input as for any later decoding, in this process. Keep
    PyAV up to date; its wheels bundle FFmpeg.
    """
    demuxer = _DEMUXERS.get(media_type)
    if demuxer is None or importlib.util.find_spec("av") is None:
        return None, None
    try:
        import av

        with av.open(io.BytesIO(data), mode="r", format=demuxer,
                     options={"max_pixels": str(MAX_PROBE_PIXELS)}) as container:
            streams = container.streams.video
            if not streams:
                return None, None
            codec = streams[0].codec_context
            width, height = int(codec.width or 0), int(codec.height or 0)
    except Exception as exc:  # noqa: BLE001 - av.FFmpegError, ValueError...: size unknown
        log.debug("media size not read (%s)", type(exc).__name__)
        return None, None
    if width <= 0 or height <= 0:
        return None, None
    return width, height
