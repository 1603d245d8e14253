"""Errors of camera capture and device information (issue #5), all under :class:`sdk.SdkError`.

Tree::

    SdkError
    └── CaptureError            capture or device collection could not go ahead
        ├── PermissionNotGranted  the OS permission the data item needs is not granted
        ├── CameraUnavailable     no usable camera / source here; the message says why and what to do
        ├── InvalidMedia (also ValueError)  a chosen file is not an accepted image or video
        └── CaptureInterrupted    the capture was stopped (permission revoked, or the app's stop())

A refusal of consent is :class:`sdk.ConsentRequired`, raised by the gate itself
(:meth:`sdk.PrivacySdk.collect`). Messages never contain personal data: no paths chosen by the
user, no device values.
"""

from __future__ import annotations

from ..errors import SdkError

__all__ = [
    "CameraUnavailable",
    "CaptureError",
    "CaptureInterrupted",
    "InvalidMedia",
    "PermissionNotGranted",
]


class CaptureError(SdkError):
    """Camera capture or a device collector could not go ahead."""


class PermissionNotGranted(CaptureError):
    """The OS permission a data item needs is not granted. Nothing was opened or read.

    The SDK never prompts by itself: ask through ``privacy.permissions.request(permission,
    feature=..., rationale=..., on_result=...)`` inside the feature, then try again.

    Attributes:
        permission: ``camera``, ``photos`` or ``phone_state``.
        status: the status found (``not_determined``, ``denied``, ``permanently_denied``, ...).
        item, feature: what was to be collected, and in which feature.
    """

    def __init__(self, permission: str, status: str, item: str, feature: str | None) -> None:
        self.permission = permission
        self.status = status
        self.item = item
        self.feature = feature
        if status == "permanently_denied":
            hint = "offer privacy.permissions.open_settings() instead of asking again"
        elif status == "unavailable":
            hint = ("there is no such capability here (e.g. no camera: see "
                    "privacy.camera.selection.message; for QA and headless machines use the "
                    "scripted permission backend with PRIVACY_SDK_CAMERA=synthetic)")
        elif status == "restricted":
            hint = "the user cannot grant it here (parental controls, device management, or no access)"
        else:
            hint = ("ask through privacy.permissions.request(...) inside the feature, after the "
                    "rationale, then try again")
        super().__init__(
            f"collecting '{item}' needs the '{permission}' permission, which is {status}; {hint}")


class CameraUnavailable(CaptureError):
    """No usable camera or media source here. Raised when a capture is attempted, never at
    selection time; the message lists each backend's reason and what to install or set."""


class InvalidMedia(CaptureError, ValueError):
    """A file chosen by the user is not an accepted image or video (type, size, emptiness)."""


class CaptureInterrupted(CaptureError):
    """The capture stopped before it was complete; nothing of it was handed out or written.

    Attributes:
        reason: ``permission_revoked`` (the permission was switched off during the capture,
            OBL-PERM-3), ``consent_withdrawn`` (the policy, the purpose's or the item's
            consent was withdrawn during it), ``unavailable`` (the camera went away, e.g. unplugged),
            ``cancelled`` (the user left the OS camera app without taking anything: the
            ``android`` backend) or ``stopped`` (the app called :meth:`sdk.capture.Camera.stop`).
        frames: video frames captured before the stop (all discarded).
    """

    def __init__(self, reason: str, frames: int = 0, permission: str | None = None) -> None:
        self.reason = reason
        self.frames = frames
        self.permission = permission
        if reason == "permission_revoked":
            text = (f"capture stopped: the '{permission}' permission was revoked during it; "
                    "nothing of this capture was kept, earlier captures are unchanged")
        elif reason == "consent_withdrawn":
            text = ("capture stopped: a consent it needs was withdrawn during it; nothing of "
                    "this capture was kept, earlier captures are unchanged")
        elif reason == "unavailable":
            text = "capture stopped: the camera became unavailable; nothing of it was kept"
        elif reason == "cancelled":
            text = "capture cancelled in the camera app: nothing was taken"
        else:
            text = "capture stopped by the app; nothing of this capture was kept"
        super().__init__(text)
