"""iOS backend: the camera through ``AVCaptureDevice`` and the photo library through
``PHPhotoLibrary`` (iOS 14+), via pyobjus.

Statuses (Apple docs, ``AVAuthorizationStatus`` / ``PHAuthorizationStatus``)::

    notDetermined (0) -> not_determined     authorized (3) -> granted
    restricted (1)    -> restricted         limited (4, photos) -> limited
    denied (2)        -> permanently_denied (iOS prompts once per app install; after a refusal
                         only the Settings app can change it)

``phone_state`` is ``unavailable``: iOS has no such permission (the device identifier an app
may read, ``identifierForVendor``, needs none).

pyobjus reads the statuses, the default camera and the ``Info.plist`` usage descriptions.
It cannot pass an Objective-C *block* (kivy/pyobjus#32), and both requests take a completion
block (``requestAccessForMediaType:completionHandler:``,
``requestAuthorizationForAccessLevel:handler:``), as does
``openURL:options:completionHandler:``. Those three messages go through ``ctypes``
(``objc_msgSend`` with a global block literal laid out as the Clang block ABI specifies),
the approach of ``keyring``'s macOS backend and of ``sdk.storage.backends.ios``. The
completion block is called on an arbitrary dispatch queue: another thread; the facade moves
the answer to the app's dispatcher.

A missing usage description (``NSCameraUsageDescription``, ``NSPhotoLibraryUsageDescription``)
makes iOS end the app at the request; :meth:`IosBackend.request` raises
:class:`~sdk.errors.PermissionsError` saying what to add instead.

Not exercised by the test suite (it needs a device or simulator; here the backend is only
checked for its viability); written from Apple's AVFoundation, Photos and UIKit
documentation and the Clang "Block Implementation Specification".
"""

from __future__ import annotations

import ctypes
import itertools
import threading
from collections.abc import Callable
from typing import Any, ClassVar

from ..errors import PermissionsError
from ._platform import has_module, on_ios
from .backend import AnswerCallback, PermissionBackend
from .status import PermissionStatus

__all__ = ["IosBackend"]

S = PermissionStatus

_LIBOBJC = "/usr/lib/libobjc.A.dylib"
_LIBSYSTEM = "/usr/lib/libSystem.B.dylib"
_AVFOUNDATION = "/System/Library/Frameworks/AVFoundation.framework"
_PHOTOS = "/System/Library/Frameworks/Photos.framework"
_MEDIA_VIDEO = "vide"  # the value of AVMediaTypeVideo
_SETTINGS_URL = b"app-settings:"  # the value of UIApplicationOpenSettingsURLString
_PH_ACCESS_READ_WRITE = 2  # PHAccessLevelReadWrite
_USAGE_KEYS = {"camera": "NSCameraUsageDescription",
               "photos": "NSPhotoLibraryUsageDescription"}

_AV_STATUS = {0: S.NOT_DETERMINED, 1: S.RESTRICTED, 2: S.PERMANENTLY_DENIED, 3: S.GRANTED}
_PH_STATUS = {**_AV_STATUS, 4: S.LIMITED}


class _ObjC:
    """pyobjus for reading; ctypes ``objc_msgSend`` for the messages that take a block."""

    _lock = threading.Lock()
    _loaded: ClassVar[dict[str, Any]] = {}

    @classmethod
    def get(cls) -> dict[str, Any]:
        with cls._lock:
            if not cls._loaded:
                from pyobjus import autoclass, objc_str
                from pyobjus.dylib_manager import load_framework

                load_framework(_AVFOUNDATION)
                load_framework(_PHOTOS)
                objc = ctypes.CDLL(_LIBOBJC)
                objc.objc_getClass.restype = ctypes.c_void_p
                objc.objc_getClass.argtypes = [ctypes.c_char_p]
                objc.sel_registerName.restype = ctypes.c_void_p
                objc.sel_registerName.argtypes = [ctypes.c_char_p]
                cls._loaded.update(
                    autoclass=autoclass, objc_str=objc_str, objc=objc,
                    AVCaptureDevice=autoclass("AVCaptureDevice"),
                    PHPhotoLibrary=autoclass("PHPhotoLibrary"),
                    NSBundle=autoclass("NSBundle"),
                    global_block=ctypes.addressof(
                        ctypes.c_void_p.in_dll(ctypes.CDLL(_LIBSYSTEM), "_NSConcreteGlobalBlock")),
                )
            return cls._loaded


def _send(receiver: int | None, selector: bytes, *args: Any, argtypes: list[Any],
          restype: Any = None) -> Any:
    """``objc_msgSend(receiver, selector, *args)`` with an exact (non-variadic) prototype."""
    objc = _ObjC.get()["objc"]
    prototype = ctypes.CFUNCTYPE(restype, ctypes.c_void_p, ctypes.c_void_p, *argtypes)
    send = prototype(("objc_msgSend", objc))
    return send(receiver, objc.sel_registerName(selector), *args)


def _class(name: bytes) -> int:
    return int(_ObjC.get()["objc"].objc_getClass(name))


class _BlockDescriptor(ctypes.Structure):
    _fields_ = [("reserved", ctypes.c_ulong), ("size", ctypes.c_ulong)]


class _BlockLiteral(ctypes.Structure):
    _fields_ = [("isa", ctypes.c_void_p), ("flags", ctypes.c_int), ("reserved", ctypes.c_int),
                ("invoke", ctypes.c_void_p), ("descriptor", ctypes.c_void_p)]


_BLOCK_IS_GLOBAL = 1 << 28
_blocks: dict[int, tuple[Any, ...]] = {}  # kept alive: the framework calls them later
_called: set[int] = set()
_block_ids = itertools.count(1)
_blocks_lock = threading.Lock()


def _block(fn: Callable[[Any], None], argtype: Any) -> Any:
    """A global block ``void (^)(argtype)`` calling *fn* once. ``Block_copy`` of a global block
    returns it as it is, so it must stay alive until called: it is kept here, and dropped
    when the next block is made after it was called (never while it runs)."""
    invoke_type = ctypes.CFUNCTYPE(None, ctypes.c_void_p, argtype)
    key = next(_block_ids)

    def invoke(_literal: int, value: Any) -> None:
        with _blocks_lock:
            _called.add(key)
        fn(value)

    c_invoke = invoke_type(invoke)
    descriptor = _BlockDescriptor(0, ctypes.sizeof(_BlockLiteral))
    literal = _BlockLiteral(_ObjC.get()["global_block"], _BLOCK_IS_GLOBAL, 0,
                            ctypes.cast(c_invoke, ctypes.c_void_p), ctypes.addressof(descriptor))
    with _blocks_lock:
        for done in list(_called):
            _blocks.pop(done, None)
        _called.clear()
        _blocks[key] = (literal, descriptor, c_invoke)
    return ctypes.addressof(literal)


class IosBackend(PermissionBackend):
    """OS permissions on iOS (module documentation)."""

    name: ClassVar[str] = "ios"

    @classmethod
    def viable(cls) -> tuple[bool, str]:
        """Viable on iOS with pyobjus."""
        if not on_ios():
            return False, "not running on iOS"
        if not has_module("pyobjus"):
            return False, "pyobjus is not in the app (add 'pyobjus' to the kivy-ios build)"
        return True, ""

    def _check(self, permission: str) -> PermissionStatus:
        objc = _ObjC.get()
        if permission == "phone_state":
            return S.UNAVAILABLE
        if permission == "camera":
            video = objc["objc_str"](_MEDIA_VIDEO)
            if objc["AVCaptureDevice"].defaultDeviceWithMediaType_(video) is None:
                return S.UNAVAILABLE  # e.g. the simulator
            return _AV_STATUS.get(
                int(objc["AVCaptureDevice"].authorizationStatusForMediaType_(video)),
                S.NOT_DETERMINED)
        return _PH_STATUS.get(
            int(objc["PHPhotoLibrary"].authorizationStatusForAccessLevel_(_PH_ACCESS_READ_WRITE)),
            S.NOT_DETERMINED)

    def _check_usage_description(self, permission: str) -> None:
        objc = _ObjC.get()
        key = _USAGE_KEYS[permission]
        value = objc["NSBundle"].mainBundle().objectForInfoDictionaryKey_(objc["objc_str"](key))
        if value is None:
            raise PermissionsError(
                f"the app's Info.plist has no {key}; iOS ends an app that asks without it. Add "
                f"{key} with the purpose text (the same purpose the rationale states) and rebuild")

    def _request(self, permissions: tuple[str, ...], callback: AnswerCallback) -> None:
        answers: dict[str, PermissionStatus] = {}
        queue: list[str] = []
        for permission in permissions:
            current = self._check(permission)
            if current.promptable:
                self._check_usage_description(permission)
                queue.append(permission)
            else:
                answers[permission] = current

        def next_prompt() -> None:  # one system alert at a time, as iOS shows them
            if not queue:
                callback(answers)
                return
            permission = queue.pop(0)

            def answered(value: Any) -> None:  # an arbitrary dispatch queue's thread
                try:
                    if permission == "camera":
                        answers[permission] = S.GRANTED if value else self._check("camera")
                    else:
                        answers[permission] = _PH_STATUS.get(int(value), S.NOT_DETERMINED)
                except Exception:  # noqa: BLE001 - never into the dispatch queue
                    answers[permission] = S.NOT_DETERMINED
                next_prompt()

            if permission == "camera":
                media = ctypes.c_void_p.in_dll(ctypes.CDLL(_AVFOUNDATION + "/AVFoundation"),
                                               "AVMediaTypeVideo").value
                _send(_class(b"AVCaptureDevice"), b"requestAccessForMediaType:completionHandler:",
                      media, _block(answered, ctypes.c_bool),
                      argtypes=[ctypes.c_void_p, ctypes.c_void_p])
            else:
                _send(_class(b"PHPhotoLibrary"), b"requestAuthorizationForAccessLevel:handler:",
                      _PH_ACCESS_READ_WRITE, _block(answered, ctypes.c_long),
                      argtypes=[ctypes.c_long, ctypes.c_void_p])

        next_prompt()

    def _open_settings(self, permission: str | None) -> bool:
        text = _send(_class(b"NSString"), b"stringWithUTF8String:", _SETTINGS_URL,
                     argtypes=[ctypes.c_char_p], restype=ctypes.c_void_p)
        url = _send(_class(b"NSURL"), b"URLWithString:", text,
                    argtypes=[ctypes.c_void_p], restype=ctypes.c_void_p)
        app = _send(_class(b"UIApplication"), b"sharedApplication", argtypes=[],
                    restype=ctypes.c_void_p)
        options = _send(_class(b"NSDictionary"), b"dictionary", argtypes=[],
                        restype=ctypes.c_void_p)
        _send(app, b"openURL:options:completionHandler:", url, options, None,
              argtypes=[ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p])
        return True
