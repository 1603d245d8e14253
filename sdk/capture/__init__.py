"""Camera capture behind consent and permissions (issue #5; docs/permissions.md, "Camera
capture").

::

    camera = privacy.camera                       # a Camera; backend chosen like the keystore
    privacy.permissions.request("camera", feature="face_signing", rationale=..., on_result=...)
    with camera.record_video(feature="face_signing", seconds=2) as clip:   # face_video
        upload(clip.data)                         # issue #6; the with block discards it

Backends: ``android`` (the OS camera app with a FileProvider ``content://`` URI; build files in
:mod:`sdk.capture.android`), ``plyer`` (Android without that provider, iOS), ``opencv`` (desktop
webcam, extra ``webcam``), ``file`` (an existing image or video), ``synthetic`` (a generated
clip, extra ``synthetic``), ``fail``.
Names are loaded on first use: ``import sdk.capture`` imports no camera library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports
from .errors import (
    CameraUnavailable,
    CaptureError,
    CaptureInterrupted,
    InvalidMedia,
    PermissionNotGranted,
)

__all__ = [
    "BACKEND_NAMES",
    "ENV_VAR",
    "Camera",
    "CameraBackend",
    "CameraUnavailable",
    "Capture",
    "CaptureError",
    "CaptureInterrupted",
    "CaptureRequest",
    "InvalidMedia",
    "Media",
    "PermissionNotGranted",
    "Selection",
    "select_backend",
]

_LAZY = {
    "Camera": "sdk.capture.facade",
    "Capture": "sdk.capture.media",
    "BACKEND_NAMES": "sdk.capture.backend",
    "ENV_VAR": "sdk.capture.backend",
    "CameraBackend": "sdk.capture.backend",
    "CaptureRequest": "sdk.capture.backend",
    "Media": "sdk.capture.backend",
    "Selection": "sdk.capture.backend",
    "select_backend": "sdk.capture.backend",
}

if TYPE_CHECKING:  # pragma: no cover
    from .backend import (
        BACKEND_NAMES,
        ENV_VAR,
        CameraBackend,
        CaptureRequest,
        Media,
        Selection,
        select_backend,
    )
    from .facade import Camera
    from .media import Capture


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
