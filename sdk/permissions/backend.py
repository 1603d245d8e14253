"""Permission backends: the platform edge of the permission layer, and their selection.

Backends (each platform library is imported only on its platform, when the backend is used)::

    name       what it asks                                               module
    android    python-for-android's ``android.permissions`` (check and    android
               request), pyjnius for shouldShowRequestPermissionRationale
               and the app's settings screen
    ios        pyobjus: AVCaptureDevice (camera), PHPhotoLibrary          ios
               (photos); the request's completion block through ctypes
    desktop    real camera availability (/dev/video* on Linux, AVFoundation desktop
               on macOS when pyobjc is there, the Windows privacy switch);
               the "grant" is the app's own dialog, remembered in the
               SDK's audit trail
    scripted   answers written in advance, for tests and QA (never chosen scripted
               automatically)
    fail       nothing: every call raises PermissionsError explaining      fail
               what each backend lacked and what to do

Selection (:func:`select_backend`), as for the keystore (:mod:`sdk.storage.keystore`):
the environment variable ``PRIVACY_SDK_PERMISSIONS``
(``android|ios|desktop|scripted|fail``) wins; else the app's ``preferred`` backend; else the
first *viable* of android, ios, desktop; else ``fail``. A backend chosen by name that is not
viable is **never** swapped for another one: the fail backend says why. With
``PRIVACY_SDK_PERMISSIONS=scripted`` the answers come from ``PRIVACY_SDK_PERMISSIONS_SCRIPT``
(:meth:`sdk.permissions.scripted.ScriptedBackend.from_spec`), for QA of a real app build.

Every backend honours the contract in :mod:`sdk.testing.permissions_contract`.
"""

from __future__ import annotations

import abc
import importlib
import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import ClassVar

from ..errors import ConfigError
from .status import PermissionStatus, check_permission, to_status

__all__ = [
    "BACKEND_NAMES",
    "ENV_VAR",
    "SCRIPT_ENV_VAR",
    "AnswerCallback",
    "PermissionBackend",
    "Recall",
    "backend_class",
    "select_backend",
    "settings_place_of",
]

log = logging.getLogger(__name__)

#: Environment variable that forces a backend by name (QA, CI, headless machines).
ENV_VAR = "PRIVACY_SDK_PERMISSIONS"
#: The scripted backend's answers when it is chosen through :data:`ENV_VAR`.
SCRIPT_ENV_VAR = "PRIVACY_SDK_PERMISSIONS_SCRIPT"

#: What a backend's ``request`` calls, once: permission -> status, for each one asked.
AnswerCallback = Callable[[dict[str, PermissionStatus]], None]
#: The SDK's memory of a permission: the last answer on record (``granted``, ``denied``,
#: ``permanently_denied``, ``revoked``) or ``None``. The facade passes one reading the audit
#: trail; the desktop backend keeps the app's own dialog answers there.
Recall = Callable[[str], str | None]

#: name -> "module:Class"; modules are imported only when their backend is considered.
_BACKENDS: dict[str, str] = {
    "android": "sdk.permissions.android:AndroidBackend",
    "ios": "sdk.permissions.ios:IosBackend",
    "desktop": "sdk.permissions.desktop:DesktopBackend",
    "scripted": "sdk.permissions.scripted:ScriptedBackend",
    "fail": "sdk.permissions.fail:FailBackend",
}

#: Backend names accepted by :data:`ENV_VAR` and ``preferred``.
BACKEND_NAMES: tuple[str, ...] = tuple(_BACKENDS)

#: Tried automatically, in this order (scripted never is).
_AUTO_ORDER = ("android", "ios", "desktop")


class PermissionBackend(abc.ABC):
    """One platform's OS permissions. Apps do not call a backend: they call the facade
    (:class:`sdk.permissions.Permissions`), which enforces the rules.

    Public methods check their arguments and give every backend the same guarantees; each
    backend implements the ``_check`` / ``_request`` / ``_should_show_rationale`` /
    ``_open_settings`` hooks. Backends convert their platform's errors to
    :class:`sdk.errors.PermissionsError` (set-up problems) or to an answer (user choices).

    Attributes:
        name: the name accepted by ``PRIVACY_SDK_PERMISSIONS``.
        usable: ``False`` only for the fail backend, whose every call raises
            :class:`sdk.errors.PermissionsError`.
        settings_place: where the user switches a permission on or off, for the texts the
            user reads: ``"system"`` (the OS settings: Android, iOS; the scripted backend
            stands in for a phone) or ``"app"`` (the app's own permissions page: a desktop,
            whose grant is the app's own dialog).
    """

    name: ClassVar[str] = "abstract"
    usable: ClassVar[bool] = True
    settings_place: ClassVar[str] = "system"
    #: The backend knows when it really shows a system prompt and calls
    #: ``callback.before_prompt(permissions)`` right before it does (the facade then writes
    #: ``requested`` only for a prompt that shows: a refusal without a dialog is an answer
    #: only). Other backends: the facade writes ``requested`` before calling ``request``.
    reports_prompts: ClassVar[bool] = False

    def __init__(self) -> None:
        self._change_listeners: list[Callable[[str], None]] = []
        self._change_lock = threading.Lock()

    @classmethod
    @abc.abstractmethod
    def viable(cls) -> tuple[bool, str]:
        """Whether this backend can work here: ``(True, "")`` or ``(False, reason)``; the
        reason is one actionable sentence. Never raises, never blocks for long, imports no
        platform library that is not there."""

    # -- the interface -------------------------------------------------------------------

    def check(self, permission: str) -> PermissionStatus:
        """The platform's status of *permission* now; never shows anything.

        Raises:
            ValueError: *permission* is not one of :data:`sdk.permissions.PERMISSIONS`.
            PermissionsError: the backend cannot work here (the fail backend).
        """
        check_permission(permission)
        return to_status(self._check(permission))

    def request(self, permissions: Sequence[str], callback: AnswerCallback, *,
                before_prompt: Callable[[Sequence[str]], None] | None = None) -> None:
        """Ask the platform for *permissions*: shows the system prompt(s) where the platform
        still shows one; returns at once.

        *callback* is called **exactly once**, on **any thread** (python-for-android and iOS
        call back on their own threads; the facade moves it to the app's dispatcher), with a
        dict holding exactly the permissions asked. An answer the platform did not give (an
        interrupted request) is ``not_determined``; a second call by a backend is ignored and
        logged; an exception raised by *callback* is logged, never raised into the platform's
        thread.

        Raises:
            ValueError: *permissions* is empty, a bare string, or names an unknown
                permission; *callback* is not callable.
            PermissionsError: the backend cannot work here, or the app is not set up for the
                permission (e.g. not declared in the Android manifest).
        """
        if isinstance(permissions, str) or not isinstance(permissions, Sequence):
            raise ValueError("permissions must be a list of permission ids, e.g. ['camera']")
        asked = tuple(dict.fromkeys(check_permission(p) for p in permissions))
        if not asked:
            raise ValueError("permissions must name at least one permission")
        if not callable(callback):
            raise ValueError("callback must be callable: callback(answers: dict)")
        if before_prompt is not None and not callable(before_prompt):
            raise ValueError("before_prompt must be callable: before_prompt(permissions)")
        self._request(asked, _Once(asked, callback, self.name, before_prompt))

    def preflight(self, permissions: Sequence[str]) -> None:
        """Check, without showing anything, that the app is set up to ask for *permissions*
        here (e.g. declared in the Android manifest). The facade calls it before a rationale
        is shown and again before a prompt is recorded, so a set-up problem is raised where
        the app calls ``request`` and never leaves a ``requested`` entry behind.

        Raises:
            ValueError: unknown permission.
            PermissionsError: the backend cannot work here, or the app is not set up for it.
        """
        asked = tuple(dict.fromkeys(check_permission(p) for p in permissions))
        self._preflight(asked)

    def should_show_rationale(self, permission: str) -> bool:
        """The platform's hint that the user refused before and can still be asked, so a
        fuller explanation helps (Android ``shouldShowRequestPermissionRationale``);
        ``False`` where the platform has no such notion. The facade shows a rationale before
        every prompt regardless (docs/permissions.md, rule 4).

        Raises:
            ValueError: unknown permission. PermissionsError: as for :meth:`check`.
        """
        check_permission(permission)
        return bool(self._should_show_rationale(permission))

    def open_settings(self, permission: str | None = None) -> bool:
        """Open the screen where the user can switch *permission* (or the app's permissions)
        on or off: the app's page in the system settings on Android and iOS, the system
        privacy pane for the camera on macOS and Windows, the app's own page on a desktop
        when the app provides one. Returns at once.

        Returns:
            ``True`` when a screen was opened, ``False`` when there is none here.

        Raises:
            ValueError: unknown permission. PermissionsError: as for :meth:`check`.
        """
        if permission is not None:
            check_permission(permission)
        return bool(self._open_settings(permission))

    def on_change(self, listener: Callable[[str], None]) -> Callable[[], None]:
        """Call *listener(permission)* when this backend learns, by itself, that a status may
        have changed while the app runs (the scripted backend's ``revoke``, the desktop's
        ``set_answer``). Android and iOS never do: they end the app's process when the user
        switches a permission off, and the facade's ``refresh()`` on resume finds it.

        Returns:
            a function that removes the listener.
        """
        if not callable(listener):
            raise ValueError("listener must be callable: listener(permission)")
        with self._change_lock:
            self._change_listeners.append(listener)

        def remove() -> None:
            with self._change_lock:
                if listener in self._change_listeners:
                    self._change_listeners.remove(listener)

        return remove

    def use_history(self, recall: Recall) -> None:
        """The facade hands every backend the SDK's memory of the last answer per permission
        (the audit trail). Platforms that remember by themselves ignore it (this default);
        the desktop backend keeps the app's own dialog answers there."""

    def _changed(self, permission: str) -> None:
        """Tell the :meth:`on_change` listeners (backends call this)."""
        with self._change_lock:
            listeners = list(self._change_listeners)
        for listener in listeners:
            try:
                listener(permission)
            except Exception:  # a listener's bug must not break the backend
                log.exception("a permission change listener raised")

    # -- hooks ---------------------------------------------------------------------------

    @abc.abstractmethod
    def _check(self, permission: str) -> PermissionStatus | str: ...

    @abc.abstractmethod
    def _request(self, permissions: tuple[str, ...], callback: AnswerCallback) -> None: ...

    def _should_show_rationale(self, permission: str) -> bool:
        return False

    def _preflight(self, permissions: tuple[str, ...]) -> None:
        return None

    def _open_settings(self, permission: str | None) -> bool:
        return False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"


class _Once:
    """The callback guarantee of :meth:`PermissionBackend.request`: exactly one delivery, a
    status for each permission asked (missing ones ``not_determined``), errors logged."""

    def __init__(self, asked: tuple[str, ...], callback: AnswerCallback, backend: str,
                 before_prompt: Callable[[Sequence[str]], None] | None = None) -> None:
        self._before_prompt = before_prompt
        self._asked = asked
        self._callback = callback
        self._backend = backend
        self._lock = threading.Lock()
        self._done = False

    def before_prompt(self, permissions: Sequence[str]) -> None:
        """A backend with ``reports_prompts`` calls this right before it shows a system
        prompt for *permissions* (may raise: then the backend shows nothing)."""
        if self._before_prompt is not None and permissions:
            self._before_prompt(tuple(permissions))

    def __call__(self, answers: Mapping[str, object] | None) -> None:
        with self._lock:
            if self._done:
                log.warning("permission backend '%s' answered a request twice; the second "
                            "answer is ignored", self._backend)
                return
            self._done = True
        if answers is None:
            given: dict[object, object] = {}
        elif isinstance(answers, Mapping):
            given = dict(answers)
        else:  # a backend bug: never an exception into the platform's thread
            log.warning("permission backend '%s' answered with a %s, not a dict; every "
                        "permission asked counts as not answered", self._backend,
                        type(answers).__name__)
            given = {}
        result: dict[str, PermissionStatus] = {}
        for permission in self._asked:
            try:
                result[permission] = to_status(given.get(permission,
                                                         PermissionStatus.NOT_DETERMINED))
            except ValueError:
                log.warning("permission backend '%s' gave an unknown status for %s",
                            self._backend, permission)
                result[permission] = PermissionStatus.NOT_DETERMINED
        try:
            self._callback(result)
        except Exception:  # never into the platform's thread
            log.exception("a permission answer callback raised")


# --------------------------------------------------------------------------------------
# Selection
# --------------------------------------------------------------------------------------


def settings_place_of(backend: PermissionBackend | str | None = None) -> str:
    """Where the user switches a permission on or off with *backend* (a backend, or its name
    as in :data:`BACKEND_NAMES`): its :attr:`PermissionBackend.settings_place`, ``"system"``
    or ``"app"``. ``None`` (no backend chosen yet): this platform's, without choosing one:
    ``"system"`` on Android and iOS, ``"app"`` elsewhere (the desktop backend).

    Raises:
        ConfigError: *backend* is a name no backend has.
    """
    if isinstance(backend, str):
        backend = backend_class(backend.strip().lower())  # type: ignore[assignment]
    if backend is not None:
        place = getattr(backend, "settings_place", "system")
        return "app" if place == "app" else "system"
    from ._platform import on_android, on_ios

    return "system" if on_android() or on_ios() else "app"


def backend_class(name: str) -> type[PermissionBackend]:
    """The backend class called *name* (imports its module, not its platform library).

    Raises:
        ConfigError: no backend has that name.
    """
    target = _BACKENDS.get(name)
    if target is None:
        raise ConfigError(
            f"unknown permission backend '{name}'; choose one of {', '.join(BACKEND_NAMES)}")
    module, _, cls = target.partition(":")
    return getattr(importlib.import_module(module), cls)  # type: ignore[no-any-return]


def _make(name: str, recall: Recall | None) -> PermissionBackend:
    cls = backend_class(name)
    if name == "desktop":
        return cls(recall=recall)  # type: ignore[call-arg]
    if name == "scripted":
        spec = os.environ.get(SCRIPT_ENV_VAR, "")
        return cls.from_spec(spec)  # type: ignore[attr-defined,no-any-return]
    return cls()


def _fail(reasons: Mapping[str, str], chosen: str | None = None, by: str = "") -> PermissionBackend:
    from .fail import FailBackend

    return FailBackend(reasons, chosen=chosen, chosen_by=by)


def select_backend(preferred: str | None = None, *,
                   recall: Recall | None = None) -> PermissionBackend:
    """Choose the permission backend for this app on this machine.

    Order: ``PRIVACY_SDK_PERMISSIONS`` if set; else *preferred* if given; else the first
    viable of ``android``, ``ios``, ``desktop``; else ``fail``. A backend chosen by name that
    is not viable is not replaced: the fail backend returned explains why.

    Args:
        preferred: a backend name the app prefers (the environment variable still wins).
        recall: the SDK's memory of each permission's last answer (the facade passes one
            reading the audit trail); the desktop backend remembers the app's own dialog
            answers through it.

    Returns:
        A backend. The ``fail`` backend is returned, not raised, so the error surfaces where
        a permission is first needed, with the full explanation.

    Raises:
        ConfigError: a backend name (environment or *preferred*) is unknown.
    """
    forced = os.environ.get(ENV_VAR, "").strip().lower() or None
    by = f"the environment variable {ENV_VAR}" if forced else "the app (preferred=)"
    chosen = forced or (preferred.strip().lower() if preferred else None)
    if chosen is not None:
        cls = backend_class(chosen)  # ConfigError for an unknown name
        if chosen == "fail":
            return _fail(_reasons(), chosen="fail", by=by)
        ok, reason = cls.viable()
        if not ok:
            return _fail({chosen: reason}, chosen=chosen, by=by)
        return _make(chosen, recall)
    reasons: dict[str, str] = {}
    for name in _AUTO_ORDER:
        ok, reason = backend_class(name).viable()
        if ok:
            return _make(name, recall)
        reasons[name] = reason
    return _fail(reasons)


def _reasons() -> dict[str, str]:
    reasons: dict[str, str] = {}
    for name in _AUTO_ORDER:
        ok, reason = backend_class(name).viable()
        reasons[name] = "viable" if ok else reason
    return reasons
