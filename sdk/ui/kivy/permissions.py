"""Permissions in a Kivy app: callbacks on the main thread, and how statuses read in Chinese.

python-for-android and iOS answer a permission request on their own thread, and Kivy
widgets may only be touched on the main thread. Give the permission facade this
dispatcher, and every ``on_result`` and listener call runs on the next frame, on the main
thread::

    from sdk.ui.kivy.permissions import kivy_dispatcher
    privacy.permissions.dispatcher = kivy_dispatcher

For an app's permissions page: :data:`PERMISSION_NAMES`, :data:`PERMISSION_STATUS_TEXT`
(every :class:`~sdk.permissions.PermissionStatus`), :data:`ANSWER_TEXT` (the answers the SDK
keeps in its history) and :func:`state_lines`, which turns a
:class:`~sdk.permissions.PermissionState` into the lines such a page shows (status, when last
asked, the last answer, the quiet window, purpose and features). The rationale dialog is
:class:`sdk.ui.kivy.RationaleDialog`.

Where a permission is switched on or off depends on the platform, and the hints say so: the
system settings on Android and iOS (and with the scripted QA backend, which stands in for a
phone); on a desktop the grant is the app's own dialog and the app's own permissions page
switches it off (:class:`~sdk.permissions.desktop.DesktopBackend`), while the camera can also
be switched off in the OS privacy settings (macOS, Windows). Pass ``backend=`` (the permission
backend in use, ``privacy.permissions.backend``) to :func:`state_lines`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kivy.clock import Clock

from .common import format_time

__all__ = [
    "ANSWER_TEXT",
    "PERMISSION_NAMES",
    "PERMISSION_STATUS_TEXT",
    "answer_text",
    "kivy_dispatcher",
    "permission_name",
    "state_lines",
    "status_hint",
    "status_text",
]


def kivy_dispatcher(fn: Callable[[], None]) -> None:
    """Run *fn* on Kivy's main thread at the next frame (``Clock.schedule_once``, which is
    safe to call from any thread, as ``kivy.clock.mainthread`` does)."""
    Clock.schedule_once(lambda _dt: fn(), 0)


#: The permissions' names as the user reads them.
PERMISSION_NAMES: dict[str, str] = {
    "camera": "相机",
    "photos": "相册（照片）",
    "phone_state": "电话（设备信息）",
}

#: Each :class:`~sdk.permissions.PermissionStatus` as the user reads it.
PERMISSION_STATUS_TEXT: dict[str, str] = {
    "not_determined": "未询问",
    "granted": "已允许",
    "denied": "已拒绝",
    "permanently_denied": "已拒绝（不再询问）",
    "restricted": "受限制",
    "limited": "部分允许（所选照片）",
    "unavailable": "不可用",
}

#: The answers the SDK keeps per permission (``PermissionState.last_answer``).
ANSWER_TEXT: dict[str, str] = {
    "granted": "允许",
    "denied": "拒绝",
    "permanently_denied": "拒绝且不再询问",
    "revoked": "在设置中关闭",
}

#: One sentence per status that needs one: why nothing is asked, or what to do. For Android
#: and iOS (the permission is switched in the system settings).
_STATUS_HINT: dict[str, str] = {
    "permanently_denied": "系统不会再弹出授权框；如需使用，请到系统设置中开启。",
    "restricted": "受家长控制、设备管理或系统账户权限限制，本应用无法申请。",
    "unavailable": "本设备没有此功能（例如没有可用的相机）。",
}

#: The same on a desktop, where the app's own dialog is the grant. ``permanently_denied``
#: there is either the OS camera privacy switch (macOS, Windows; :func:`_desktop_hint`) or an
#: app dialog's "do not ask again" (``last_answer``).
_DESKTOP_HINT: dict[str, str] = {
    "permanently_denied_os": "已在系统的隐私设置中关闭{name}访问，本应用无法申请；如需使用，"
                             "请在系统设置的隐私设置中允许本应用使用{name}。",
    "permanently_denied_app": "您已选择不再询问；如需使用，请在本应用内的权限管理中开启。",
    "restricted": _STATUS_HINT["restricted"],
    "unavailable": _STATUS_HINT["unavailable"],
}


def permission_name(permission: str) -> str:
    """``相机`` for ``camera``; the id itself for one this module does not know."""
    return PERMISSION_NAMES.get(permission, permission)


def status_text(status: Any) -> str:
    """``已拒绝`` for ``PermissionStatus.DENIED`` (or its string)."""
    return PERMISSION_STATUS_TEXT.get(str(status), str(status))


def answer_text(state: Any) -> str:
    """The last answer on record with its time, e.g. ``拒绝（2026-12-01 16:00）``; ``无`` when
    the user never answered."""
    if not state.last_answer:
        return "无"
    text = ANSWER_TEXT.get(state.last_answer, state.last_answer)
    when = format_time(state.last_answer_at)
    return f"{text}（{when}）" if when else text


def status_hint(state: Any, backend: Any = None) -> str:
    """The hint for *state* on a permissions page: why nothing is asked, or where the user
    can switch the permission on (``""`` when there is nothing to say).

    Args:
        state: a :class:`~sdk.permissions.PermissionState`.
        backend: the permission backend in use (``privacy.permissions.backend``) or its
            name (``"android"``, ``"ios"``, ``"desktop"``, ...); it decides where the
            permission is switched: the system settings (Android, iOS, scripted) or the app's
            own permissions page (desktop). ``None``: this platform's (see
            :func:`sdk.permissions.backend.settings_place_of`).

    Raises:
        ConfigError: *backend* is a name no permission backend has.
    """
    from ...permissions.backend import settings_place_of

    status = str(state.status)
    if settings_place_of(backend) == "system":
        return _STATUS_HINT.get(status, "")
    if status == "permanently_denied":
        key = ("permanently_denied_app" if state.last_answer == "permanently_denied"
               else "permanently_denied_os")
        return _DESKTOP_HINT[key].format(name=permission_name(state.permission))
    return _DESKTOP_HINT.get(status, "")


def state_lines(state: Any, feature_names: dict[str, str] | None = None, *,
                backend: Any = None) -> dict[str, str]:
    """What a permissions page shows for one :class:`~sdk.permissions.PermissionState`.

    Args:
        state: ``privacy.permissions.status(p)`` (or an entry of ``statuses()``).
        feature_names: feature id -> display name (from the manifest); ids are shown without.
        backend: the permission backend in use (``privacy.permissions.backend``) or its
            name, for the hint (:func:`status_hint`); ``None``: this platform's.

    Returns:
        ``{"name", "status", "asked", "answer", "quiet", "purpose", "features", "hint"}``,
        each a short text (``quiet`` and ``hint`` may be ``""``).
    """
    names = feature_names or {}
    name = permission_name(state.permission)
    purpose = str(state.purpose)
    for prefix in (f"{name}：", f"{name.split('（')[0]}："):
        if purpose.startswith(prefix):
            purpose = purpose[len(prefix):]
            break
    asked = format_time(state.last_asked_at) or (
        "未弹出系统授权框" if state.last_answer else "从未询问")
    quiet = ""
    # permanently denied: the system shows no prompt at all, so a "we will ask again later"
    # line would be untrue; the hint sends the user to the settings instead
    if state.quiet_until is not None and str(state.status) != "permanently_denied":
        after = "您在设置中关闭后" if state.last_answer == "revoked" else "您拒绝后"
        quiet = (f"{after}，本应用在 {format_time(state.quiet_until.isoformat())} 前不会主动再次"
                 "申请；只有您再次主动发起相关功能时才会重新询问。")
    if state.features:
        features = "、".join(f"「{names.get(f, f)}」" for f in state.features)
    else:
        features = "无（本应用不会申请此权限）"
    return {
        "name": name,
        "status": status_text(state.status),
        "asked": asked,
        "answer": answer_text(state),
        "quiet": quiet,
        "purpose": purpose,
        "features": features,
        "hint": status_hint(state, backend),
    }
