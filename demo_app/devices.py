"""Which camera and which permission backend the demo uses here (docs/permissions.md, "Kivy and
the demo").

- **Camera**: ``sdk.camera``, the SDK's own, when it finds a real one (plyer on Android/iOS,
  OpenCV with a webcam on a desktop). Without one (a desktop with no webcam, Xvfb, CI) the demo
  assigns ``sdk.camera = Camera(sdk, backend=SyntheticCamera(realtime=True))``: the SDK's
  ``synthetic`` camera, paced like a real one (a 3 s clip takes 3 s), and says so on screen:
  "演示用合成摄像头". ``PRIVACY_SDK_CAMERA`` still wins (``synthetic`` forces the paced synthetic
  camera; any other name is the SDK's choice as it is). The screens always use ``sdk.camera``.
- **Permissions**: ``--permissions-script SPEC`` (QA) uses the SDK's scripted backend with
  those answers; else ``PRIVACY_SDK_PERMISSIONS`` (and ``PRIVACY_SDK_PERMISSIONS_SCRIPT``) as the
  SDK reads them; else the platform's backend. On a desktop whose camera is the synthetic one
  the desktop backend is told the camera is present (its own probe would report "no camera"):
  the user still grants it in the rationale dialog, and can switch it off on the permissions
  page.

Every callback of the permission facade runs on Kivy's main thread (``kivy_dispatcher``).
Nothing here opens a camera, reads a value or asks for anything.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("demo_app")

#: The environment variables the SDK reads (sdk.capture.backend / sdk.permissions.backend).
CAMERA_ENV = "PRIVACY_SDK_CAMERA"
PERMISSIONS_ENV = "PRIVACY_SDK_PERMISSIONS"
SCRIPT_ENV = "PRIVACY_SDK_PERMISSIONS_SCRIPT"

#: Seconds of the demo's face video.
CLIP_SECONDS = 3.0


@dataclass
class Devices:
    """What the demo captures with and how it asks.

    The camera itself is ``sdk.camera`` (set by :func:`setup_devices`), not kept here.

    Attributes:
        synthetic: the camera is the SDK's synthetic one (no real camera here).
        camera_note: one sentence for the screen about the camera.
        scripted: permissions come from the scripted backend (QA).
        permissions_note: one sentence for the permissions page about the backend.
    """

    synthetic: bool
    camera_note: str
    scripted: bool
    permissions_note: str


def check_permissions_script(spec: str | None) -> str | None:
    """The problem with ``--permissions-script`` or with the SDK's environment overrides
    (``PRIVACY_SDK_PERMISSIONS`` and its script, ``PRIVACY_SDK_CAMERA``), or ``None``.
    Checked before anything starts (no data dir made, no server, no window)."""
    from sdk.capture.backend import BACKEND_NAMES as CAMERAS
    from sdk.errors import ConfigError
    from sdk.permissions.backend import BACKEND_NAMES
    from sdk.permissions.scripted import ScriptedBackend

    forced = os.environ.get(PERMISSIONS_ENV, "").strip().lower()
    if forced and forced not in BACKEND_NAMES:
        return (f"{PERMISSIONS_ENV}={forced} is not a permission backend; use one of "
                f"{', '.join(BACKEND_NAMES)}, or unset it")
    camera = os.environ.get(CAMERA_ENV, "").strip().lower()
    if camera and camera not in CAMERAS:
        return f"{CAMERA_ENV}={camera} is not a camera backend; use one of {', '.join(CAMERAS)}, or unset it"

    if spec is not None:
        if forced and forced != "scripted":
            return (f"--permissions-script uses the scripted permission backend, but {PERMISSIONS_ENV}"
                    f"={forced} asks for another one; unset {PERMISSIONS_ENV} or drop the option")
        try:
            ScriptedBackend.from_spec(spec)
        except ConfigError as exc:
            return "--permissions-script: " + str(exc).replace(
                "PRIVACY_SDK_PERMISSIONS_SCRIPT is malformed: ", "")
        return None
    if forced == "scripted":
        try:
            ScriptedBackend.from_spec(os.environ.get(SCRIPT_ENV, ""))
        except ConfigError as exc:
            return str(exc)
    return None


def _use_synthetic_camera(sdk: Any) -> bool:
    """Make the paced synthetic camera ``sdk.camera``; ``False`` when it cannot work here."""
    from sdk.capture import Camera
    from sdk.capture.backends.synthetic import SyntheticCamera

    ok, reason = SyntheticCamera.viable()
    if not ok:
        log.warning("demo: the synthetic camera cannot be used either: %s", reason)
        return False
    sdk.camera = Camera(sdk, backend=SyntheticCamera(realtime=True))
    return True


def choose_camera(sdk: Any) -> tuple[bool, str]:
    """Set ``sdk.camera`` up: the SDK's own when it found a real camera, else the paced
    synthetic camera (module documentation). Returns ``(synthetic, note)``."""
    forced = os.environ.get(CAMERA_ENV, "").strip().lower()
    if forced == "synthetic" and _use_synthetic_camera(sdk):
        return True, f"演示用合成摄像头（{CAMERA_ENV}=synthetic）：画面由程序生成，不是真实拍摄。"
    camera = sdk.camera  # the SDK's choice; choosing a backend opens no camera
    if forced or not camera.selection.fallback:
        return False, f"摄像头：{camera.backend.name}"
    if not _use_synthetic_camera(sdk):
        return False, ("本机没有可用的摄像头，合成摄像头也无法使用（需要 PyAV："
                       "pip install 'privacy-sdk[synthetic]'），刷脸签署无法录制。")
    log.info("demo: no camera here; the demo uses the synthetic camera")
    return True, "演示用合成摄像头：本机没有可用的摄像头，画面由程序生成，不是真实拍摄。"


def setup_devices(sdk: Any, permissions_script: str | None = None) -> Devices:
    """Choose the camera and the permission backend for *sdk* (module documentation)."""
    from sdk.permissions.desktop import DesktopBackend
    from sdk.permissions.facade import Permissions
    from sdk.permissions.scripted import ScriptedBackend
    from sdk.ui.kivy.permissions import kivy_dispatcher

    synthetic, camera_note = choose_camera(sdk)
    forced = os.environ.get(PERMISSIONS_ENV, "").strip().lower()
    scripted = False
    if permissions_script is not None:
        backend = ScriptedBackend.from_spec(permissions_script)
        sdk.permissions = Permissions(sdk, backend, dispatcher=kivy_dispatcher)
        scripted = True
        note = f"权限后端：脚本（QA，--permissions-script「{permissions_script}」），不会弹出真实的系统授权框。"
    elif forced:
        sdk.permissions.dispatcher = kivy_dispatcher  # the SDK reads the environment
        scripted = forced == "scripted"
        note = f"权限后端：{forced}（由环境变量 {PERMISSIONS_ENV} 选择）。"
    elif synthetic and DesktopBackend.viable()[0]:
        # The synthetic camera stands in for the missing one: tell the desktop backend it is
        # there (its own probe would say "unavailable"); the grant is still the user's.
        backend = DesktopBackend(camera_probe=lambda: ("present", ""))
        sdk.permissions = Permissions(sdk, backend, dispatcher=kivy_dispatcher)
        note = ("权限后端：桌面（没有系统授权框：在说明对话框中点击「继续」即允许，"
                "可在本页关闭）。")
    else:
        sdk.permissions.dispatcher = kivy_dispatcher
        note = ""
    return Devices(synthetic, camera_note, scripted, note)


def backend_of(sdk: Any) -> Any:
    """The permission backend in use (chosen on first use by the SDK)."""
    return sdk.permissions.backend


def backend_facts(sdk: Any) -> dict[str, Any]:
    """For the autopilot's probe: the backend's name and, for the scripted backend, the
    system prompts it showed (``[permission, answer]``), the requests it received and the
    settings screens it opened."""
    backend = backend_of(sdk)
    facts: dict[str, Any] = {"permission_backend": getattr(backend, "name", "")}
    if hasattr(backend, "prompts"):
        facts["permission_prompts"] = [[p.permission, p.answer] for p in list(backend.prompts)]
        facts["permission_requests"] = [list(r) for r in list(backend.requests)]
        facts["settings_opened"] = list(backend.settings_opened)
    return facts


def set_permission(sdk: Any, permission: str, status: str) -> None:
    """Change *permission* "in the system settings" while the app runs (QA and UI tests): the
    scripted backend's ``set_status``, the desktop backend's ``set_answer``. The facade records
    and announces it (a revoked camera stops a running capture).

    Raises:
        ValueError: the backend cannot be changed this way, or an unknown permission/status.
    """
    backend = backend_of(sdk)
    if hasattr(backend, "set_status"):
        backend.set_status(permission, status)
    elif hasattr(backend, "set_answer"):
        backend.set_answer(permission, status)
    else:
        raise ValueError(f"the '{getattr(backend, 'name', '?')}' permission backend cannot be "
                         "changed from the app; run with --permissions-script")
