"""OS permissions (camera, photos, phone state) behind the consent rules (issue #5;
docs/permissions.md).

Apps use the facade, ``privacy.permissions`` (a :class:`Permissions`)::

    perms = privacy.permissions
    perms.status("camera")              # PermissionState(status, last_asked_at, last_answer, ...)
    perms.request("camera", feature="face_signing", rationale=show_rationale,
                  on_result=done, user_initiated=True)
    perms.refresh()                     # on resume: a revoked permission is recorded, announced
    perms.open_settings("camera")
    perms.add_listener(on_change)       # PermissionChange(permission, before, after, entry)

Modules: :mod:`~sdk.permissions.status` (statuses and value types, dependency-free),
:mod:`~sdk.permissions.backend` (the backend interface and ``select_backend``),
:mod:`~sdk.permissions.facade` (the rules), and the backends ``android``, ``ios``,
``desktop``, ``scripted`` and ``fail``; each platform library is imported only on its
platform. :mod:`sdk.testing.permissions_contract` is the contract every backend passes.

Importing this package imports only :mod:`~sdk.permissions.status`; the other names are
loaded on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports
from .status import (
    PERMISSIONS,
    STATUSES,
    PermissionChange,
    PermissionResult,
    PermissionState,
    PermissionStatus,
    Rationale,
)

__all__ = [
    "PERMISSIONS",
    "STATUSES",
    "DesktopBackend",
    "PermissionBackend",
    "PermissionChange",
    "PermissionResult",
    "PermissionState",
    "PermissionStatus",
    "Permissions",
    "Rationale",
    "ScriptedBackend",
    "select_backend",
]

_LAZY: dict[str, str] = {
    "Permissions": "sdk.permissions.facade",
    "PermissionBackend": "sdk.permissions.backend",
    "select_backend": "sdk.permissions.backend",
    "ScriptedBackend": "sdk.permissions.scripted",
    "DesktopBackend": "sdk.permissions.desktop",
}

if TYPE_CHECKING:  # pragma: no cover
    from .backend import PermissionBackend, select_backend
    from .desktop import DesktopBackend
    from .facade import Permissions
    from .scripted import ScriptedBackend


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
