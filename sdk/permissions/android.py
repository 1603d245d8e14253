"""Android backend: python-for-android's ``android.permissions`` (check and request), and
pyjnius for what it lacks: ``Activity.shouldShowRequestPermissionRationale`` and the app's
settings screen (``Settings.ACTION_APPLICATION_DETAILS_SETTINGS``).

Permissions (Android "dangerous" permissions, checked at run time from API 23)::

    camera       android.permission.CAMERA
    photos       API 34+: READ_MEDIA_IMAGES, plus READ_MEDIA_VISUAL_USER_SELECTED when the app
                 declares it (partial access: ``limited``); API 33: READ_MEDIA_IMAGES;
                 API <= 32: READ_EXTERNAL_STORAGE
    phone_state  android.permission.READ_PHONE_STATE

Each must be declared in the app's manifest (buildozer.spec ``android.permissions``); an
undeclared one is refused by the system without a prompt, so :meth:`AndroidBackend.request`
raises :class:`~sdk.errors.PermissionsError` saying what to declare instead. For documents
the system photo picker needs no permission at all (Android docs, "Photo picker"); the SDK
still gates the feature by the manifest.

Android tells only "granted or not", plus a rationale hint (Android docs, "Request runtime
permissions"): ``shouldShowRequestPermissionRationale`` is true after a refusal when a
prompt can still be shown, and false both before the first request and after "don't ask
again" (or a second refusal, Android 11+). So:

- ``check``: granted -> ``granted``; rationale hint -> ``denied``; otherwise
  ``not_determined``, which the facade reads with its history (a refusal on record makes it
  ``permanently_denied``);
- an answer to a request: granted -> ``granted``; refused with the hint now on ->
  ``denied``; refused with the hint off now but on before the request -> ``permanently_denied``
  (the user chose "don't ask again"); refused with the hint off before and after -> ``denied``
  (a first refusal that Android did not flag, a dismissed dialog, or a permission already
  permanently denied that the SDK had no record of: the next ``check`` then reads
  ``permanently_denied`` from the history, so the user is led to the settings, never into a
  loop of silent requests).

The request's callback arrives on python-for-android's thread, not the Kivy main thread; the
facade moves it to the app's dispatcher. ``jnius`` and ``android`` are imported only inside
this backend's calls.

Not exercised by the test suite (it needs a device; here the backend is only checked for
its viability); written from python-for-android's ``android/permissions.py`` and the Android
documentation of ``Activity``, ``PackageManager`` and ``Settings``.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

from ..errors import PermissionsError
from ._platform import has_module, on_android
from .backend import AnswerCallback, PermissionBackend
from .status import PermissionStatus

__all__ = ["AndroidBackend"]

S = PermissionStatus

_CAMERA = "android.permission.CAMERA"
_READ_MEDIA_IMAGES = "android.permission.READ_MEDIA_IMAGES"
_READ_MEDIA_SELECTED = "android.permission.READ_MEDIA_VISUAL_USER_SELECTED"
_READ_EXTERNAL_STORAGE = "android.permission.READ_EXTERNAL_STORAGE"
_READ_PHONE_STATE = "android.permission.READ_PHONE_STATE"
_CAMERA_FEATURE = "android.hardware.camera.any"


class _Android:
    """pyjnius classes, python-for-android's module and the activity, loaded once."""

    _lock = threading.Lock()
    _loaded: ClassVar[dict[str, Any]] = {}

    @classmethod
    def get(cls) -> dict[str, Any]:
        with cls._lock:
            if not cls._loaded:
                # python-for-android's 'android' recipe, and pyjnius
                from android import permissions as p4a
                from jnius import autoclass

                from .._android import current_activity

                activity = current_activity(autoclass)
                cls._loaded.update(
                    p4a=p4a,
                    activity=activity,
                    sdk_int=int(autoclass("android.os.Build$VERSION").SDK_INT),
                    PackageManager=autoclass("android.content.pm.PackageManager"),
                    Intent=autoclass("android.content.Intent"),
                    Settings=autoclass("android.provider.Settings"),
                    Uri=autoclass("android.net.Uri"),
                )
            return cls._loaded


class AndroidBackend(PermissionBackend):
    """OS permissions on Android (module documentation)."""

    name: ClassVar[str] = "android"

    def __init__(self) -> None:
        super().__init__()
        self._declared: frozenset[str] | None = None

    @classmethod
    def viable(cls) -> tuple[bool, str]:
        """Viable on Android with pyjnius and python-for-android's ``android`` module."""
        if not on_android():
            return False, "not running on Android"
        if not has_module("jnius"):
            return False, "pyjnius is not in the app (add 'pyjnius' to the buildozer requirements)"
        if not has_module("android"):
            return False, ("python-for-android's 'android' module is missing (add 'android' to "
                           "the buildozer requirements)")
        return True, ""

    # -- helpers -------------------------------------------------------------------------

    def _names(self, permission: str) -> tuple[str, ...]:
        """The Android permission(s) behind *permission*; the first one decides ``granted``."""
        if permission == "camera":
            return (_CAMERA,)
        if permission == "phone_state":
            return (_READ_PHONE_STATE,)
        level = _Android.get()["sdk_int"]
        if level >= 34:
            return (_READ_MEDIA_IMAGES, _READ_MEDIA_SELECTED)
        if level >= 33:
            return (_READ_MEDIA_IMAGES,)
        return (_READ_EXTERNAL_STORAGE,)

    def _granted(self, name: str) -> bool:
        return bool(_Android.get()["p4a"].check_permission(name))

    def _hint(self, name: str) -> bool:
        if _Android.get()["sdk_int"] < 23:
            return False
        return bool(_Android.get()["activity"].shouldShowRequestPermissionRationale(name))

    def _declared_permissions(self) -> frozenset[str]:
        if self._declared is None:
            java = _Android.get()
            activity = java["activity"]
            info = activity.getPackageManager().getPackageInfo(
                activity.getPackageName(), java["PackageManager"].GET_PERMISSIONS)
            self._declared = frozenset(str(p) for p in (info.requestedPermissions or ()))
        return self._declared

    # -- hooks ---------------------------------------------------------------------------

    def _check(self, permission: str) -> PermissionStatus:
        if permission == "camera":
            manager = _Android.get()["activity"].getPackageManager()
            if not manager.hasSystemFeature(_CAMERA_FEATURE):
                return S.UNAVAILABLE
        names = self._names(permission)
        if self._granted(names[0]):
            return S.GRANTED
        if len(names) > 1 and self._granted(names[1]):
            return S.LIMITED
        if self._hint(names[0]):
            return S.DENIED
        return S.NOT_DETERMINED

    def _should_show_rationale(self, permission: str) -> bool:
        return self._hint(self._names(permission)[0])

    def _preflight(self, permissions: tuple[str, ...]) -> None:
        declared = self._declared_permissions()
        for permission in permissions:
            name = self._names(permission)[0]
            if name not in declared:
                self._undeclared(name)

    @staticmethod
    def _undeclared(name: str) -> None:
        short = name.rsplit(".", 1)[-1]
        raise PermissionsError(
            f"{name} is not declared in the app's AndroidManifest.xml, so Android refuses it "
            f"without a prompt; add {short} to android.permissions in buildozer.spec and "
            "rebuild")

    def _request(self, permissions: tuple[str, ...], callback: AnswerCallback) -> None:
        answers: dict[str, PermissionStatus] = {}
        hint_before: dict[str, bool] = {}
        wanted: list[str] = []
        declared = self._declared_permissions()
        for permission in permissions:
            current = self._check(permission)
            if not current.promptable:
                answers[permission] = current
                continue
            names = self._names(permission)
            if names[0] not in declared:
                self._undeclared(names[0])
            wanted.extend(n for n in names if n in declared)
            hint_before[permission] = self._hint(names[0])
        if not wanted:
            callback(answers)
            return

        def on_result(names: Any, grants: Any) -> None:  # python-for-android's thread
            try:
                result = {str(n): bool(g) for n, g in zip(list(names or ()), list(grants or ()))}
                for permission, before in hint_before.items():
                    answers[permission] = self._answer(permission, result, before)
            finally:
                callback(answers)

        _Android.get()["p4a"].request_permissions(wanted, on_result)

    def _answer(self, permission: str, result: dict[str, bool],
                hint_before: bool) -> PermissionStatus:
        names = self._names(permission)
        if not any(n in result for n in names):
            return S.NOT_DETERMINED  # interrupted: the system gave no answer
        if result.get(names[0]):
            return S.GRANTED
        if len(names) > 1 and result.get(names[1]):
            return S.LIMITED
        if self._hint(names[0]):
            return S.DENIED
        return S.PERMANENTLY_DENIED if hint_before else S.DENIED

    def _open_settings(self, permission: str | None) -> bool:
        java = _Android.get()
        activity = java["activity"]
        intent = java["Intent"](java["Settings"].ACTION_APPLICATION_DETAILS_SETTINGS,
                                java["Uri"].fromParts("package", activity.getPackageName(), None))
        intent.addFlags(java["Intent"].FLAG_ACTIVITY_NEW_TASK)
        activity.startActivity(intent)
        return True
