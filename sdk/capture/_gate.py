"""The consent + permission gate in front of the camera and the device collectors.

Order (docs/permissions.md, "Camera capture" and "Device information"):

1. consent: when :meth:`sdk.PrivacySdk.require` (and, for a sensitive item, ``item:<id>``)
   says consent is missing, :meth:`sdk.PrivacySdk.collect` is called so the refusal is written
   to the audit trail, and it raises :class:`sdk.ConsentRequired`;
2. the OS permission the item needs (``privacy.permissions.status(p).status``) must be
   usable (``granted``, or ``limited`` for selected photos), else :class:`PermissionNotGranted`. The gate never prompts: the app asks
   through ``privacy.permissions.request`` inside the feature. The permission facade's own
   events (``requested``, ``denied``, ``revoked``) are the audit of the permission side;
3. :meth:`sdk.PrivacySdk.collect` (allowed, written to the audit trail) right before the
   camera is opened or the value read.

So an ``allowed`` collection entry is written only when the read really follows: the
privacy centre's "personal information collected" never lists a capture the permission
stopped.
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError, ConsentError
from .errors import PermissionNotGranted

__all__ = ["consent_missing", "gate", "permissions_of", "status_text"]


def status_text(value: Any) -> str:
    """A permission status (``PermissionStatus`` enum or str) as its plain name."""
    value = getattr(value, "value", value)
    return str(value)


def permissions_of(privacy: Any) -> Any:
    """``privacy.permissions``, or a ConfigError saying it is missing."""
    try:
        return privacy.permissions
    except AttributeError as exc:
        raise ConfigError(
            "privacy.permissions is not available: the permission facade (sdk.permissions) "
            "is needed to check the OS permission before collecting") from exc


#: Statuses under which the permission may be used (``limited``: iOS/Android selected photos).
USABLE = frozenset({"granted", "limited"})


def permission_status(permissions: Any, permission: str) -> str:
    return status_text(permissions.status(permission).status)


def usable(status: Any) -> bool:
    return status_text(status) in USABLE


def consent_missing(privacy: Any, item: str, purpose: str) -> bool:
    """Whether :meth:`collect` would refuse for consent (no audit entry written)."""
    try:
        privacy.require(purpose)
    except ConsentError:
        return True
    items = {str(i.id): i for i in privacy.policy.manifest.data_items}
    declared = items.get(item)
    if declared is None or purpose not in tuple(declared.purposes):
        return True  # collect() refuses it and writes why
    return bool(declared.sensitive) and not privacy.state(f"item:{item}").granted


def gate(privacy: Any, permissions: Any | None, item: str, purpose: str, feature: str | None,
         permission: str | None) -> Any:
    """Pass the gate for one collection; return the ``allowed`` audit entry.

    Raises:
        ConsentRequired, UndeclaredPurpose, UndeclaredDataItem, ConsentError: from
            :meth:`sdk.PrivacySdk.collect` (refusal written to the audit trail).
        PermissionNotGranted: the permission is not granted (no collection entry written).
    """
    entry = None
    if permission is not None:
        if consent_missing(privacy, item, purpose):
            entry = privacy.collect(item, purpose, feature=feature)  # raises; refusal audited
        assert permissions is not None
        status = permission_status(permissions, permission)
        if status not in USABLE:
            raise PermissionNotGranted(permission, status, item, feature)
    return entry if entry is not None else privacy.collect(item, purpose, feature=feature)
