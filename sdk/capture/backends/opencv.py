"""The ``opencv`` camera: a desktop webcam through OpenCV (``cv2.VideoCapture``), optional
extra ``webcam`` (``opencv-python-headless`` and ``av``). ``cv2`` is imported only when a
capture starts. Frames are encoded in memory: video with PyAV (H.264/MP4), photos with
``cv2.imencode`` (JPEG); OpenCV's ``VideoWriter`` is not used because it writes a file.
"""

from __future__ import annotations

import glob
import sys
import time
from collections.abc import Iterator
from typing import Any, ClassVar

from .. import _platform
from ..backend import CameraBackend, CaptureRequest, Media, StopSignal
from ..errors import CameraUnavailable
from . import _av

__all__ = ["OpenCvCamera"]

_EXTRA = "install the extra: pip install 'privacy-sdk[webcam]'"


class OpenCvCamera(CameraBackend):
    """A webcam through OpenCV.

    Args:
        index: the camera index for ``cv2.VideoCapture`` (0: the first camera).
        fps: frames per second of the recorded clip.
        open_timeout: seconds to wait for the first frame.
    """

    name: ClassVar[str] = "opencv"
    source: ClassVar[str] = "camera"  # type: ignore[assignment]

    def __init__(self, index: int = 0, fps: int = 15, open_timeout: float = 5.0) -> None:
        self.index, self.fps, self.open_timeout = index, fps, open_timeout

    @classmethod
    def viable(cls) -> tuple[bool, str]:
        if _platform.platform() in ("android", "ios"):
            return False, "OpenCV's camera is for desktops; plyer is used on Android and iOS"
        if not _platform.has_module("cv2"):
            return False, f"OpenCV (cv2) is not installed; {_EXTRA}"
        if sys.platform.startswith("linux") and not glob.glob("/dev/video*"):
            return False, "no camera device (/dev/video*) on this machine"
        return True, ""

    def _open(self) -> Any:
        try:
            import cv2
        except ImportError as exc:
            raise CameraUnavailable(f"OpenCV (cv2) cannot be imported; {_EXTRA}") from exc
        device = cv2.VideoCapture(self.index)
        if not device.isOpened():
            device.release()
            raise CameraUnavailable(f"the camera {self.index} cannot be opened (in use, or none)")
        return device

    def _frames(self, device: Any, count: int, stop: StopSignal) -> Iterator[Any]:
        av = _av.import_av()
        deadline = time.monotonic() + self.open_timeout
        taken = 0
        while taken < count:
            if stop.is_set():
                return
            ok, image = device.read()
            if not ok:
                if taken == 0 and time.monotonic() < deadline:
                    continue
                raise CameraUnavailable("the camera stopped delivering frames")
            taken += 1
            yield av.VideoFrame.from_ndarray(image, format="bgr24")

    def capture(self, request: CaptureRequest, stop: StopSignal) -> Media:
        self.check(request)
        if stop.is_set():
            raise stop.interrupted(0)
        device = self._open()
        try:
            if request.kind == "photo":
                import cv2

                ok, image = device.read()
                if not ok:
                    raise CameraUnavailable("the camera delivered no frame")
                if stop.is_set():
                    raise stop.interrupted(0)
                ok, encoded = cv2.imencode(".jpg", image)
                if not ok:
                    raise CameraUnavailable("the frame could not be encoded as JPEG")
                height, width = image.shape[:2]
                return Media(encoded.tobytes(), "image/jpeg", width=width, height=height)
            width = int(device.get(3)) or 640  # CAP_PROP_FRAME_WIDTH
            height = int(device.get(4)) or 480  # CAP_PROP_FRAME_HEIGHT
            count = max(1, round(request.seconds * self.fps))
            return _av.encode_video(self._frames(device, count, stop), width=width - width % 2,
                                    height=height - height % 2, fps=self.fps, stop=stop,
                                    on_frame=request.on_frame, max_bytes=request.max_bytes)
        finally:
            device.release()

    def check(self, request: CaptureRequest) -> None:
        super().check(request)
        if request.kind == "video":
            ok, reason = _av.av_viable()
            if not ok:
                raise CameraUnavailable(f"recording video from the webcam needs PyAV: {reason}")
