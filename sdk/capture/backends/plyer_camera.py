"""The ``plyer`` camera: the OS camera app on Android (photo and video) and iOS (photo; plyer
has no iOS video), through ``plyer.camera``. plyer has no camera on Linux, macOS or Windows:
there this backend is not viable and the selection falls back (never a crash).

The OS camera app writes the media to a file; this backend gives it a fresh scratch file
(``tempfile.mkstemp`` in ``scratch_dir``, mode 0600), reads the bytes back as soon as the app
reports it, and deletes the file at once, also when the capture is stopped or fails. plyer
hands the camera app a ``file://`` URI, so on Android ``scratch_dir`` must be a folder the
camera app may write (the app's external cache dir); the file lives only until it is read.
On Android plyer needs the ``CAMERA`` permission (ask through ``privacy.permissions``).

plyer reports the result through a callback from the platform's activity-result thread;
:meth:`PlyerCamera.capture` blocks until then (call it from a worker thread, not the UI
thread) and returns as soon as the capture is stopped.
"""

from __future__ import annotations

import os
import tempfile
import threading
from typing import ClassVar

from .. import _platform
from ..backend import CameraBackend, CaptureRequest, Media, StopSignal
from ..errors import CameraUnavailable
from .file import sniff

__all__ = ["PlyerCamera"]


class PlyerCamera(CameraBackend):
    """``plyer.camera`` (Android, iOS).

    Args:
        timeout: seconds to wait for the OS camera app (the user may take their time).
        scratch_dir: where the OS camera app writes (default: ``tempfile.gettempdir()``);
            on Android pass the app's external cache dir.
    """

    name: ClassVar[str] = "plyer"
    source: ClassVar[str] = "camera"  # type: ignore[assignment]

    def __init__(self, timeout: float = 300.0, scratch_dir: str | None = None) -> None:
        self.timeout = timeout
        self.scratch_dir = scratch_dir

    @classmethod
    def viable(cls) -> tuple[bool, str]:
        where = _platform.platform()
        if where not in ("android", "ios"):
            return False, (f"plyer has no camera on this platform ({where}): its camera facade "
                           "covers Android and iOS only")
        if not _platform.has_module("plyer"):
            return False, "plyer is not in the app (add 'plyer' to the buildozer/kivy-ios requirements)"
        return True, ""

    def check(self, request: CaptureRequest) -> None:
        super().check(request)
        if request.kind == "video" and _platform.on_ios():
            raise CameraUnavailable("plyer records no video on iOS (take_video is not implemented there)")

    def capture(self, request: CaptureRequest, stop: StopSignal) -> Media:
        self.check(request)
        if stop.is_set():
            raise stop.interrupted(0)
        from plyer import camera  # the platform's implementation, imported only now

        suffix = ".mp4" if request.kind == "video" else ".jpg"
        fd, path = tempfile.mkstemp(prefix="capture-", suffix=suffix, dir=self.scratch_dir)
        os.close(fd)
        done = threading.Event()

        def on_complete(_filename: str) -> bool:
            done.set()
            return stop.is_set()  # True: plyer deletes the file itself (stopped meanwhile)

        try:
            try:
                if request.kind == "video":
                    camera.take_video(filename=path, on_complete=on_complete)
                else:
                    camera.take_picture(filename=path, on_complete=on_complete)
            except NotImplementedError as exc:
                raise CameraUnavailable("plyer has no camera implementation here") from exc
            waited = 0.0
            while not done.wait(0.1):
                if stop.is_set():
                    raise stop.interrupted(0)
                waited += 0.1
                if waited >= self.timeout:
                    raise CameraUnavailable(
                        f"the camera app did not answer within {self.timeout:g} s")
            if stop.is_set():
                raise stop.interrupted(0)
            with open(path, "rb") as handle:
                data = handle.read(request.max_bytes + 1)
            if not data:
                raise CameraUnavailable("the camera app returned nothing (cancelled)")
            if len(data) > request.max_bytes:
                raise CameraUnavailable(f"the captured media is larger than {request.max_bytes} bytes")
            media_type = sniff(data[:64]) or ("video/mp4" if request.kind == "video" else "image/jpeg")
            return Media(data, media_type)
        finally:
            try:
                os.unlink(path)
            except OSError:
                pass
