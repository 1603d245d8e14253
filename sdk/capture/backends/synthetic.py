"""The ``synthetic`` camera: a short, real, decodable video clip (or a JPEG photo) of
generated frames, so the whole capture flow runs on a headless machine (CI, the demo without
a camera, QA). Needs PyAV (extra ``synthetic``); no numpy.

It is never chosen automatically: pick it with ``PRIVACY_SDK_CAMERA=synthetic``,
``select_backend(preferred="synthetic")`` or ``fallback="synthetic"``. A generated face video
must never reach a real verification service; the frames carry no face and the clip says
what it is in its MP4 metadata (``comment``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, ClassVar

from ..backend import CameraBackend, CaptureRequest, Media, StopSignal
from . import _av

__all__ = ["COMMENT", "SyntheticCamera"]

#: The MP4 ``comment`` of every synthetic clip.
COMMENT = "privacy-sdk synthetic camera: generated test frames, not a recording"


class SyntheticCamera(CameraBackend):
    """Generated frames: a moving gradient with a bright square sweeping across.

    Args:
        width, height: frame size (even numbers; 320 x 240 by default).
        fps: frames per second (15 by default: a 2 s clip has 30 frames).
        realtime: pace frames like a real camera (a 2 s clip takes 2 s); off by default so
            tests run fast. The demo turns it on.
    """

    name: ClassVar[str] = "synthetic"
    source: ClassVar[str] = "camera"  # type: ignore[assignment]

    def __init__(self, width: int = 320, height: int = 240, fps: int = 15, *,
                 realtime: bool = False) -> None:
        if width < 16 or height < 16 or width % 2 or height % 2:
            raise ValueError("width and height must be even numbers of at least 16 pixels")
        if not 1 <= fps <= 60:
            raise ValueError("fps must be between 1 and 60")
        self.width, self.height, self.fps, self.realtime = width, height, fps, realtime

    @classmethod
    def viable(cls) -> tuple[bool, str]:
        return _av.av_viable()

    def capture(self, request: CaptureRequest, stop: StopSignal) -> Media:
        if stop.is_set():
            raise stop.interrupted(0)
        if request.kind == "photo":
            frame = next(self._frames(1))
            return Media(_av.encode_jpeg(frame), "image/jpeg", width=self.width, height=self.height)
        count = max(1, round(request.seconds * self.fps))
        return _av.encode_video(self._frames(count, stop), width=self.width, height=self.height,
                                fps=self.fps, stop=stop, on_frame=request.on_frame,
                                max_bytes=request.max_bytes, comment=COMMENT)

    def _frames(self, count: int, stop: StopSignal | None = None) -> Iterator[Any]:
        av = _av.import_av()
        w, h = self.width, self.height
        ramp = bytes(i & 0xFF for i in range(2 * (w + h) + 512))
        side = max(8, h // 4)
        start = time.monotonic()
        for n in range(count):
            if self.realtime and n:
                delay = start + n / self.fps - time.monotonic()
                if delay > 0 and stop is not None:
                    stop.wait(delay)  # wakes at once when the capture is stopped
                elif delay > 0:
                    time.sleep(delay)
            frame = av.VideoFrame(w, h, "yuv420p")
            luma, cb, cr = frame.planes
            shift = (n * 6) % 256
            x0 = (n * 7) % max(1, w - side)
            y0 = (h - side) // 2
            pad = bytes(luma.line_size - w)
            rows = []
            for y in range(h):
                row = ramp[shift + y: shift + y + w]
                if y0 <= y < y0 + side:
                    row = row[:x0] + b"\xeb" * side + row[x0 + side:]
                rows.append(row + pad)
            luma.update(b"".join(rows))
            cb.update(bytes([(96 + n * 3) & 0xFF]) * cb.buffer_size)
            cr.update(bytes([160]) * cr.buffer_size)
            yield frame
