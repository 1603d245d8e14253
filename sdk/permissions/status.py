"""Statuses and value types of the permission layer. Dependency-free: safe to import anywhere
(the capture module and the demo import it without importing a backend).

Statuses (:class:`PermissionStatus`), what each platform reports them for:

``not_determined``
    never answered: a system prompt can be shown. On Android also "not granted, and the
    platform gives no sign of a refusal" (``shouldShowRequestPermissionRationale`` is false
    both before the first request and after "don't ask again"); the facade reads it with its
    own history (a refusal on record makes it ``permanently_denied``).
``granted``
    the app may use it.
``denied``
    refused, and a system prompt can still be shown (Android after a first refusal).
``permanently_denied``
    refused, and the platform shows no more prompts: Android "don't ask again" or a second
    refusal (Android 11+), iOS after any refusal (``AVAuthorizationStatusDenied``). Only the
    system settings can change it: the app offers "open settings".
``restricted``
    the user cannot grant it: parental controls or device management (iOS
    ``AVAuthorizationStatusRestricted``), or on Linux a camera this user may not open.
``limited``
    partly granted: iOS 14+ ``PHAuthorizationStatusLimited``, Android 14+ "selected photos"
    (``READ_MEDIA_VISUAL_USER_SELECTED``). Usable, like ``granted``.
``unavailable``
    no such capability here (no camera; no telephony permission on iOS or a desktop).

:data:`PERMISSIONS` are the manifest's permission ids (``sdk.policy.PERMISSIONS``; a test
keeps the two equal).
"""

from __future__ import annotations

import datetime as _dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError

__all__ = [
    "PERMISSIONS",
    "REASONS",
    "STATUSES",
    "InvalidPermission",
    "PermissionChange",
    "PermissionResult",
    "PermissionState",
    "PermissionStatus",
    "Rationale",
    "check_permission",
    "to_status",
]

#: The permission ids the SDK knows (the keys of ``sdk.policy.PERMISSIONS``).
PERMISSIONS: tuple[str, ...] = ("camera", "photos", "phone_state")


class PermissionStatus(enum.StrEnum):
    """The status of one OS permission (module documentation). A ``str``: compares equal to
    its value, e.g. ``status == "granted"``."""

    NOT_DETERMINED = "not_determined"
    GRANTED = "granted"
    DENIED = "denied"
    PERMANENTLY_DENIED = "permanently_denied"
    RESTRICTED = "restricted"
    LIMITED = "limited"
    UNAVAILABLE = "unavailable"

    @property
    def usable(self) -> bool:
        """The app may use the capability: ``granted`` or ``limited``."""
        return self in (PermissionStatus.GRANTED, PermissionStatus.LIMITED)

    @property
    def promptable(self) -> bool:
        """A system prompt can still be shown: ``not_determined`` or ``denied``."""
        return self in (PermissionStatus.NOT_DETERMINED, PermissionStatus.DENIED)

    @property
    def settings_needed(self) -> bool:
        """Only the system settings can change it now (``permanently_denied``)."""
        return self is PermissionStatus.PERMANENTLY_DENIED


#: Every status value, in the order of :class:`PermissionStatus`.
STATUSES: tuple[str, ...] = tuple(s.value for s in PermissionStatus)


class InvalidPermission(ConfigError, ValueError):
    """Not a permission id the SDK knows (also a ``ValueError``); the message lists them."""


def check_permission(permission: object) -> str:
    """*permission* if it is one of :data:`PERMISSIONS`.

    Raises:
        InvalidPermission: it is not (the message lists the known ids); also a ValueError.
    """
    if not isinstance(permission, str) or permission not in PERMISSIONS:
        raise InvalidPermission(
            f"unknown permission {permission!r}; the SDK knows {', '.join(PERMISSIONS)} "
            "(the manifest's permission ids, sdk.policy.PERMISSIONS)")
    return permission


def to_status(value: object) -> PermissionStatus:
    """*value* (a :class:`PermissionStatus` or its string) as a :class:`PermissionStatus`.

    Raises:
        ValueError: not a status.
    """
    try:
        return PermissionStatus(value)  # type: ignore[arg-type]
    except ValueError:
        raise ValueError(f"{value!r} is not a permission status; one of "
                         f"{', '.join(STATUSES)}") from None


@dataclass(frozen=True)
class PermissionState:
    """What :meth:`sdk.permissions.Permissions.status` reports for one permission: the
    platform's status read with the SDK's own history (the audit trail), for the app's
    permissions page.

    Attributes:
        permission: the permission id, e.g. ``"camera"``.
        status: the :class:`PermissionStatus` now.
        last_asked_at: RFC 3339 UTC time of the last system prompt the SDK asked for
            (``requested`` in the audit trail), ``None`` if never.
        last_answer: the last answer on record: ``granted``, ``denied``,
            ``permanently_denied`` or ``revoked`` (switched off in the settings); ``None``.
        last_answer_at: RFC 3339 UTC time of :attr:`last_answer`.
        quiet_until: after a refusal, until when the app may not show a system prompt on its
            own (``SdkConfig.permission_reask_after``); ``None`` outside such a window.
        purpose: one sentence in the policy's language: what it is used for, in which
            features (from the manifest).
        features: the manifest features that need it (``sdk.compliance.features_needing``),
            in manifest order; empty: no feature may ask for it.
    """

    permission: str
    status: PermissionStatus
    last_asked_at: str | None = None
    last_answer: str | None = None
    last_answer_at: str | None = None
    quiet_until: _dt.datetime | None = None
    purpose: str = ""
    features: tuple[str, ...] = ()

    @property
    def granted(self) -> bool:
        """``granted`` or ``limited``."""
        return self.status.usable

    @property
    def settings_needed(self) -> bool:
        """Only "open settings" can change it (``permanently_denied``)."""
        return self.status.settings_needed


@dataclass(frozen=True)
class PermissionChange:
    """What a permission listener receives: one permission whose status changed.

    Attributes:
        permission: the permission id.
        before, after: the statuses.
        entry: the :class:`sdk.audit.AuditEntry` written for it (``revoked``, or ``granted``
            in the settings, or the answer to a prompt), ``None`` when nothing was recorded
            (e.g. a camera unplugged: ``granted`` -> ``unavailable``).
    """

    permission: str
    before: PermissionStatus
    after: PermissionStatus
    entry: Any = None

    @property
    def revoked(self) -> bool:
        """It was usable and is not any more: stop using it at once (e.g. stop capture)."""
        return self.before.usable and not self.after.usable


#: Why a permission in a :class:`PermissionResult` has its status (``reasons``).
REASONS: Mapping[str, str] = {
    "answered": "the system prompt was shown and answered",
    "already_granted": "granted (or limited) already: no prompt",
    "settings_needed": "permanently denied: no prompt; offer open_settings()",
    "restricted": "restricted by parental controls or device management: no prompt",
    "unavailable": "no such capability here: no prompt",
    "reask_window": "refused recently: no prompt until quiet_until unless the user starts "
                    "the action again (user_initiated=True)",
    "rationale_declined": "the user declined the rationale: no prompt",
    "in_progress": "a prompt for it is showing already: no second prompt",
    "consent_missing": "a consent the feature needs was withdrawn while the rationale was "
                       "showing: no prompt",
    "compliance_rule": "a prompt now would break a rule of sdk.compliance (strict mode would "
                       "raise): no prompt, nothing recorded",
    "backend_error": "the permission backend failed (logged): no prompt, or no answer",
}


@dataclass(frozen=True)
class PermissionResult:
    """What ``on_result`` receives after :meth:`sdk.permissions.Permissions.request`.

    Attributes:
        statuses: permission -> :class:`PermissionStatus`, for each permission asked.
        reasons: permission -> why (a key of :data:`REASONS`).
        prompted: permissions a system prompt was asked for (``requested`` in the audit).
        feature: the feature the request was made in.
    """

    statuses: Mapping[str, PermissionStatus]
    reasons: Mapping[str, str]
    prompted: tuple[str, ...] = ()
    feature: str = ""

    @property
    def granted(self) -> bool:
        """Every permission asked is usable (``granted`` or ``limited``)."""
        return all(s.usable for s in self.statuses.values())

    @property
    def settings_needed(self) -> bool:
        """At least one is ``permanently_denied``: offer "open settings"."""
        return any(s.settings_needed for s in self.statuses.values())

    @property
    def status(self) -> PermissionStatus:
        """The status of the one permission asked.

        Raises:
            ValueError: several were asked; read :attr:`statuses`.
        """
        if len(self.statuses) != 1:
            raise ValueError("several permissions were asked; read .statuses")
        return next(iter(self.statuses.values()))


@dataclass(frozen=True)
class Rationale:
    """The rationale shown before a system prompt (rule 4, docs/permissions.md): why the
    feature needs the permission, built from the manifest in the policy's language. The app's
    dialog shows :attr:`title` and :attr:`body` (or its own words with the same content).

    Attributes:
        permissions: the permissions about to be asked for.
        feature: the manifest feature id; ``feature_name`` its display name.
        title: e.g. ``「刷脸签署」需要使用相机``.
        body: paragraphs: what is collected and why, that it is used only in this feature,
            and what refusing means (nothing else is affected; settings at any time).
        items: data item ids that need the permission in this feature.
        purposes: purpose ids those items are processed for.
    """

    permissions: tuple[str, ...]
    feature: str
    feature_name: str
    title: str
    body: tuple[str, ...]
    items: tuple[str, ...] = ()
    purposes: tuple[str, ...] = field(default=())

    @property
    def text(self) -> str:
        """:attr:`body` as one text, one paragraph per line."""
        return "\n".join(self.body)
