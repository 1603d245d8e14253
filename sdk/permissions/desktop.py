"""The desktop backend (Linux, macOS, Windows): real camera availability, and the app's own
dialog as the "grant".

A desktop has no runtime permission prompt for the app (macOS asks for the camera itself
when a capture starts; Linux never asks), so the user's answer is the app's own dialog, and
the SDK remembers it:

- **where**: in the SDK's audit trail, the same history the facade keeps for every platform
  (the last ``granted`` / ``denied`` / ``permanently_denied`` / ``revoked`` answer,
  :data:`~sdk.permissions.backend.Recall`). It is append-only, already on the device, and
  holds no personal data: a permission answer is not personal information, and the trail
  never holds a value. No extra file, nothing to keep in sync. A backend made without
  ``recall`` (tests, the contract) remembers for the life of the object only.
- **the dialog**: by default the rationale dialog the facade shows before every request *is*
  the app's dialog: the user's "continue" there is the grant, so the request is granted
  without a second dialog. An app that wants a separate yes/no dialog passes ``ask``.
- **switching it off**: the app's permissions page calls :meth:`DesktopBackend.set_answer`
  (e.g. ``set_answer("camera", "denied")``); the facade records ``revoked`` and announces it,
  so a running capture stops.

Camera availability, as far as it can be checked without heavy dependencies
(:func:`probe_camera`): Linux opens each ``/dev/video*`` node read-only, non-blocking, and
asks ``VIDIOC_QUERYCAP`` (no frame is read, the camera does not switch on) for the
video-capture capability; a node this user may not open (not in the ``video`` group) is
``restricted``. macOS uses AVFoundation's authorization status and default device when
``pyobjc-framework-AVFoundation`` is installed (it is not a dependency). Windows reads the
camera privacy switches (``CapabilityAccessManager\\ConsentStore\\webcam``) from the
registry. Where nothing can be checked the camera counts as present: the capture module's
"no camera" fallback then applies when it opens it.
"""

from __future__ import annotations

import glob
import logging
import os
import stat
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import ClassVar, Literal

from ._platform import has_module, on_android, on_ios
from .backend import AnswerCallback, PermissionBackend, Recall
from .status import PermissionStatus, check_permission, to_status

__all__ = ["CameraProbe", "DesktopBackend", "probe_camera"]

log = logging.getLogger(__name__)

S = PermissionStatus

#: ``(state, reason)``: ``present``, ``absent``, ``no_access`` (exists, this user may not open
#: it), ``os_denied`` (switched off in the OS privacy settings), ``os_restricted`` (switched
#: off for the whole device by an administrator or policy) or ``unknown``.
CameraState = Literal["present", "absent", "no_access", "os_denied", "os_restricted", "unknown"]
CameraProbe = Callable[[], tuple[CameraState, str]]
#: The app's own dialog: ``ask(permissions, done)``; ``done({permission: True/False or a
#: status})`` from any thread.
Ask = Callable[[Sequence[str], Callable[[Mapping[str, object]], None]], None]

# VIDIOC_QUERYCAP = _IOR('V', 0, struct v4l2_capability) (linux/videodev2.h): 104 bytes:
# driver[16] card[32] bus_info[32] version capabilities device_caps reserved[3] (u32 each).
_VIDIOC_QUERYCAP = 0x80685600
_CAP_VIDEO_CAPTURE = 0x00000001
_CAP_VIDEO_CAPTURE_MPLANE = 0x00001000
_CAP_DEVICE_CAPS = 0x80000000
#: Seconds a camera probe result is reused by default.
_PROBE_TTL = 2.0
#: The macOS camera privacy pane.
_MACOS_CAMERA_PANE = "x-apple.systempreferences:com.apple.preference.security?Privacy_Camera"

_ANSWER_TO_STATUS = {
    "granted": S.GRANTED,
    "denied": S.DENIED,
    "permanently_denied": S.PERMANENTLY_DENIED,
    "revoked": S.DENIED,
}


def _probe_linux(pattern: str = "/dev/video*") -> tuple[CameraState, str]:
    import fcntl  # POSIX only

    nodes = [n for n in sorted(glob.glob(pattern)) if _is_char_device(n)]
    if not nodes:
        return "absent", "no /dev/video* device: no camera attached, or no driver loaded"
    refused = 0
    for node in nodes:
        try:
            fd = os.open(node, os.O_RDONLY | os.O_NONBLOCK)
        except PermissionError:
            refused += 1
            continue
        except OSError:
            continue
        try:
            caps = bytearray(104)
            fcntl.ioctl(fd, _VIDIOC_QUERYCAP, caps, True)
            capabilities, device_caps = struct.unpack_from("=II", caps, 84)
            effective = device_caps if capabilities & _CAP_DEVICE_CAPS else capabilities
            if effective & (_CAP_VIDEO_CAPTURE | _CAP_VIDEO_CAPTURE_MPLANE):
                return "present", ""
        except OSError:
            return "present", ""  # a video node that does not answer QUERYCAP: assume a camera
        finally:
            os.close(fd)
    if refused:
        return "no_access", ("a camera device exists but this user may not open it; add the "
                             "user to the 'video' group (sudo usermod -aG video $USER) and "
                             "log in again")
    return "absent", "the /dev/video* devices here cannot capture video (metadata or output nodes)"


def _is_char_device(path: str) -> bool:
    try:
        return stat.S_ISCHR(os.stat(path).st_mode)
    except OSError:
        return False


def _probe_macos() -> tuple[CameraState, str]:
    if not has_module("AVFoundation"):
        return "unknown", ("camera presence is not checked without pyobjc-framework-AVFoundation; "
                           "the capture finds out when it opens the camera")
    try:
        import AVFoundation  # pyobjc, optional

        device_class = AVFoundation.AVCaptureDevice
        video = AVFoundation.AVMediaTypeVideo
        if device_class.defaultDeviceWithMediaType_(video) is None:
            return "absent", "macOS reports no video capture device"
        status = int(device_class.authorizationStatusForMediaType_(video))
    except Exception as exc:  # noqa: BLE001  # pragma: no cover - macOS only, never breaks status()
        return "unknown", f"AVFoundation could not be asked ({type(exc).__name__})"
    if status == 1:  # AVAuthorizationStatusRestricted
        return "os_restricted", "camera access is restricted on this Mac (Screen Time or MDM)"
    if status == 2:  # AVAuthorizationStatusDenied
        return "os_denied", ("camera access for this app is off in System Settings > Privacy & "
                             "Security > Camera")
    return "present", ""


_WEBCAM_KEY = (r"Software\Microsoft\Windows\CurrentVersion\CapabilityAccessManager"
               r"\ConsentStore\webcam")


def _probe_windows() -> tuple[CameraState, str]:  # pragma: no cover - Windows only
    try:
        import winreg
    except ImportError:
        return "unknown", "the Windows registry cannot be read"

    def value(root: int, key: str) -> str | None:
        try:
            with winreg.OpenKey(root, key) as handle:
                return str(winreg.QueryValueEx(handle, "Value")[0])
        except OSError:
            return None

    if value(winreg.HKEY_LOCAL_MACHINE, _WEBCAM_KEY) == "Deny":
        return "os_restricted", "camera access is off for this device (Settings > Privacy > Camera)"
    if (value(winreg.HKEY_CURRENT_USER, _WEBCAM_KEY) == "Deny"
            or value(winreg.HKEY_CURRENT_USER, _WEBCAM_KEY + r"\NonPackaged") == "Deny"):
        return "os_denied", ("camera access for desktop apps is off in Settings > Privacy & "
                             "security > Camera")
    return "unknown", "camera presence is not checked on Windows; the capture finds out"


#: The capture module's backend override (``sdk.capture.backend.ENV_VAR``); not imported
#: from there so that this module stays light.
_CAMERA_ENV_VAR = "PRIVACY_SDK_CAMERA"


def probe_camera() -> tuple[CameraState, str]:
    """Is there a camera this user can use? ``(state, reason)`` (see :data:`CameraState`);
    never raises, never switches a camera on.

    ``PRIVACY_SDK_CAMERA=synthetic`` (QA, headless machines) makes the generated camera the
    camera: it counts as present, so the app's own dialog can grant it as it would a webcam.
    """
    if os.environ.get(_CAMERA_ENV_VAR, "").strip().lower() == "synthetic":
        return "present", f"the synthetic camera ({_CAMERA_ENV_VAR}=synthetic) stands in"
    try:
        if sys.platform.startswith("linux"):
            return _probe_linux()
        if sys.platform == "darwin":
            return _probe_macos()
        if sys.platform == "win32":
            return _probe_windows()
    except Exception as exc:  # noqa: BLE001  # pragma: no cover - a probe never breaks status()
        log.warning("camera probe failed (%s)", type(exc).__name__)
    return "unknown", "camera presence is not checked on this platform"


class DesktopBackend(PermissionBackend):
    """The app's own dialog as the grant, remembered in the SDK; real camera availability
    (module documentation).

    Args:
        ask: the app's own yes/no dialog; ``None``: the facade's rationale dialog was it, so
            a request is granted at once.
        recall: the SDK's memory of the last answer per permission (the facade passes the
            audit trail's); ``None``: remembered in this object only.
        settings: opens the app's own permissions page (``settings(permission)``); used by
            :meth:`open_settings` before the OS privacy pane.
        camera_probe: replaces :func:`probe_camera` (tests, or an app that knows better).
        probe_ttl: seconds a camera probe result is reused (``status()`` may be called every
            frame); 0 probes every time.
    """

    name: ClassVar[str] = "desktop"
    #: The grant is the app's own dialog, switched off on the app's own permissions page.
    settings_place: ClassVar[str] = "app"

    def __init__(self, *, ask: Ask | None = None, recall: Recall | None = None,
                 settings: Callable[[str | None], object] | None = None,
                 camera_probe: CameraProbe | None = None,
                 probe_ttl: float = _PROBE_TTL) -> None:
        super().__init__()
        self._ask = ask
        self._recall = recall
        self._settings = settings
        self._probe = camera_probe or probe_camera
        self._probe_ttl = float(probe_ttl)
        self._answers: dict[str, PermissionStatus] = {}
        self._lock = threading.Lock()
        self._probed: tuple[float, tuple[CameraState, str]] | None = None

    @classmethod
    def viable(cls) -> tuple[bool, str]:
        """Viable on a desktop: not on Android or iOS, whose own backends must be used."""
        if on_android():
            return False, "running on Android: use the android backend"
        if on_ios():
            return False, "running on iOS: use the ios backend"
        return True, ""

    def camera(self) -> tuple[CameraState, str]:
        """The camera probe's ``(state, reason)``, reused for a couple of seconds."""
        now = time.monotonic()
        with self._lock:
            if self._probed is not None and now - self._probed[0] < self._probe_ttl:
                return self._probed[1]
        found = self._probe()
        with self._lock:
            self._probed = (now, found)
        return found

    def use_history(self, recall: Recall) -> None:
        """Remember through the SDK's history (the facade calls this), unless a ``recall`` was
        given when the backend was made."""
        if self._recall is None:
            self._recall = recall

    def set_answer(self, permission: str, status: str) -> None:
        """Record the user's answer given on the app's own permissions page (e.g. a switch
        turned off: ``"denied"``) and tell the facade, which records ``revoked`` when a grant
        was switched off."""
        check_permission(permission)
        with self._lock:
            self._answers[permission] = to_status(status)
        self._changed(permission)

    def _answer(self, permission: str) -> PermissionStatus:
        with self._lock:
            if permission in self._answers:
                return self._answers[permission]
        last = self._recall(permission) if self._recall is not None else None
        return _ANSWER_TO_STATUS.get(str(last), S.NOT_DETERMINED)

    def _check(self, permission: str) -> PermissionStatus:
        if permission == "camera":
            state, _ = self.camera()
            if state == "absent":
                return S.UNAVAILABLE
            if state in ("no_access", "os_restricted"):
                return S.RESTRICTED
            if state == "os_denied":
                return S.PERMANENTLY_DENIED
        return self._answer(permission)

    def _should_show_rationale(self, permission: str) -> bool:
        return self._check(permission) is S.DENIED

    def _request(self, permissions: tuple[str, ...], callback: AnswerCallback) -> None:
        answers: dict[str, PermissionStatus] = {}
        to_ask: list[str] = []
        for permission in permissions:
            current = self._check(permission)
            if current.promptable:
                to_ask.append(permission)
            else:
                answers[permission] = current
        if not to_ask:
            callback(answers)
            return

        def done(given: Mapping[str, object]) -> None:
            for permission in to_ask:
                value = given.get(permission)
                if isinstance(value, bool):
                    status = S.GRANTED if value else S.DENIED
                elif value is None:
                    status = S.NOT_DETERMINED
                else:
                    status = to_status(value)
                if status is not S.NOT_DETERMINED:
                    with self._lock:
                        self._answers[permission] = status
                answers[permission] = status
            callback(answers)

        if self._ask is None:
            done({p: True for p in to_ask})
        else:
            self._ask(tuple(to_ask), done)

    def _open_settings(self, permission: str | None) -> bool:
        if self._settings is not None:
            self._settings(permission)
            return True
        if permission not in (None, "camera"):
            return False
        try:
            if sys.platform == "darwin":
                subprocess.Popen(["open", _MACOS_CAMERA_PANE])
                return True
            if sys.platform == "win32":  # pragma: no cover - Windows only
                os.startfile("ms-settings:privacy-webcam")  # type: ignore[attr-defined]
                return True
        except OSError as exc:  # pragma: no cover - platform only
            log.warning("could not open the camera privacy settings (%s)", type(exc).__name__)
        return False
