"""iOS backend: the wrapping key in the iOS Keychain, as a generic-password item.

The KEK (32 random bytes) is the ``kSecValueData`` of a ``kSecClassGenericPassword`` item
with service ``privacy-sdk:<app_id>`` and account ``<key_id>``, accessible
``kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly``: readable by background work once the
device has been unlocked after boot, never included in backups or migrated to another
device. Wrapping is AES key wrap (RFC 3394), as for the desktop keyring.

The Keychain API (``SecItemAdd``, ``SecItemCopyMatching``, ``SecItemDelete``) is plain C in
Security.framework, with CoreFoundation dictionaries as arguments. pyobjus bridges
Objective-C *messages*, not C functions, so the calls go through ``ctypes`` (part of the
Python that kivy-ios builds), loaded only when this backend is used; the same approach as
``keyring``'s macOS backend.

Not exercised by the test suite (it needs a device or simulator); written from Apple's
Keychain Services documentation.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from typing import Any, ClassVar

from ...errors import KeystoreError
from ..keystore import DEFAULT_TIMEOUT, call_with_timeout
from ._kek import KekWrapBackend, new_kek

__all__ = ["IosKeychainKeystore"]

_SECURITY = "/System/Library/Frameworks/Security.framework/Security"
_CORE_FOUNDATION = "/System/Library/Frameworks/CoreFoundation.framework/CoreFoundation"
_UTF8 = 0x08000100  # kCFStringEncodingUTF8

# OSStatus values (Security/SecBase.h)
_OK = 0
_NOT_FOUND = -25300  # errSecItemNotFound
_DUPLICATE = -25299  # errSecDuplicateItem
_INTERACTION_NOT_ALLOWED = -25308  # errSecInteractionNotAllowed (locked since boot)
_WHAT = "the iOS Keychain"


def _on_ios() -> bool:
    if sys.platform == "ios" or os.environ.get("KIVY_BUILD") == "ios":
        return True
    if sys.platform != "darwin":
        return False
    try:
        from pyobjus import autoclass

        autoclass("UIDevice")  # only present where UIKit is loaded, i.e. on iOS
    except Exception:
        return False
    return True


class _Api:
    """Security.framework and CoreFoundation through ctypes, loaded once."""

    _lock = threading.Lock()
    _instance: ClassVar[_Api | None] = None

    def __init__(self) -> None:
        c_void_p, c_long, c_int32 = ctypes.c_void_p, ctypes.c_long, ctypes.c_int32
        self.sec = sec = ctypes.CDLL(_SECURITY)
        self.cf = cf = ctypes.CDLL(_CORE_FOUNDATION)
        cf.CFDictionaryCreate.restype = c_void_p
        cf.CFDictionaryCreate.argtypes = [c_void_p, c_void_p, c_void_p, c_long, c_void_p, c_void_p]
        cf.CFStringCreateWithCString.restype = c_void_p
        cf.CFStringCreateWithCString.argtypes = [c_void_p, ctypes.c_char_p, ctypes.c_uint32]
        cf.CFDataCreate.restype = c_void_p
        cf.CFDataCreate.argtypes = [c_void_p, ctypes.c_char_p, c_long]
        cf.CFDataGetBytePtr.restype = c_void_p
        cf.CFDataGetBytePtr.argtypes = [c_void_p]
        cf.CFDataGetLength.restype = c_long
        cf.CFDataGetLength.argtypes = [c_void_p]
        cf.CFRelease.restype = None
        cf.CFRelease.argtypes = [c_void_p]
        for name, args in (
            ("SecItemAdd", [c_void_p, c_void_p]),
            ("SecItemCopyMatching", [c_void_p, c_void_p]),
            ("SecItemDelete", [c_void_p]),
        ):
            fn = getattr(sec, name)
            fn.restype = c_int32
            fn.argtypes = args

    @classmethod
    def get(cls) -> _Api:
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def const(self, name: str) -> int:
        """Value of a ``CFStringRef``/``CFBooleanRef`` global such as ``kSecClass``."""
        lib = self.cf if name.startswith("kCF") else self.sec
        value = ctypes.c_void_p.in_dll(lib, name).value
        if not value:
            raise KeystoreError(f"{_WHAT}: the constant {name} is missing")
        return value

    def string(self, text: str) -> int:
        return self.cf.CFStringCreateWithCString(None, text.encode("utf-8"), _UTF8)  # type: ignore[no-any-return]

    def data(self, raw: bytes) -> int:
        return self.cf.CFDataCreate(None, raw, len(raw))  # type: ignore[no-any-return]

    def dictionary(self, items: list[tuple[int, int]]) -> int:
        keys = (ctypes.c_void_p * len(items))(*(k for k, _ in items))
        values = (ctypes.c_void_p * len(items))(*(v for _, v in items))
        key_callbacks = ctypes.addressof(ctypes.c_void_p.in_dll(self.cf, "kCFTypeDictionaryKeyCallBacks"))
        value_callbacks = ctypes.addressof(
            ctypes.c_void_p.in_dll(self.cf, "kCFTypeDictionaryValueCallBacks")
        )
        return self.cf.CFDictionaryCreate(  # type: ignore[no-any-return]
            None, keys, values, len(items), key_callbacks, value_callbacks
        )

    def release(self, *objects: int | None) -> None:
        for obj in objects:
            if obj:
                self.cf.CFRelease(obj)


def _check(status: int, action: str) -> None:
    if status == _OK:
        return
    if status == _INTERACTION_NOT_ALLOWED:
        raise KeystoreError(
            f"{_WHAT} is not available until the device is unlocked once after starting "
            f"(OSStatus {status} while trying to {action}); retry after the user unlocks it"
        )
    raise KeystoreError(f"{_WHAT} refused to {action} (OSStatus {status})")


class IosKeychainKeystore(KekWrapBackend):
    """The wrapping key in the iOS Keychain (this device only, after first unlock).

    Args:
        app_id: names the item's service ``privacy-sdk:<app_id>``.
        timeout: seconds each Keychain call may take before :class:`KeystoreTimeout`.
    """

    name: ClassVar[str] = "ios"

    def __init__(self, app_id: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        if not app_id:
            raise ValueError("app_id must be a non-empty string")
        self.service = f"privacy-sdk:{app_id}"
        self.timeout = float(timeout)
        self._lock = threading.Lock()

    @classmethod
    def viable(cls) -> tuple[bool, str]:
        """Viable when running on iOS."""
        if not _on_ios():
            return False, "not running on iOS"
        if not os.path.exists(_SECURITY) and sys.platform != "ios":
            return False, "Security.framework was not found"  # pragma: no cover
        return True, ""

    def _run(self, fn: Any) -> Any:
        def guarded() -> Any:
            try:
                return fn()
            except KeystoreError:
                raise
            except (OSError, AttributeError, ValueError) as exc:  # ctypes loading failures
                raise KeystoreError(
                    f"{_WHAT} could not be reached ({type(exc).__name__}); see the chained cause"
                ) from exc

        with self._lock:
            return call_with_timeout(guarded, self.timeout, _WHAT)

    def _base(self, api: _Api, key_id: str) -> tuple[list[tuple[int, int]], list[int]]:
        service, account = api.string(self.service), api.string(key_id)
        items = [
            (api.const("kSecClass"), api.const("kSecClassGenericPassword")),
            (api.const("kSecAttrService"), service),
            (api.const("kSecAttrAccount"), account),
        ]
        return items, [service, account]

    def _copy(self, key_id: str) -> bytes | None:
        api = _Api.get()
        items, owned = self._base(api, key_id)
        items += [
            (api.const("kSecReturnData"), api.const("kCFBooleanTrue")),
            (api.const("kSecMatchLimit"), api.const("kSecMatchLimitOne")),
        ]
        query = api.dictionary(items)
        result = ctypes.c_void_p()
        try:
            status = api.sec.SecItemCopyMatching(query, ctypes.byref(result))
            if status == _NOT_FOUND:
                return None
            _check(status, "read the wrapping key")
            pointer, length = api.cf.CFDataGetBytePtr(result), api.cf.CFDataGetLength(result)
            return ctypes.string_at(pointer, length)
        finally:
            api.release(query, result.value, *owned)

    def _add(self, key_id: str, kek: bytes) -> int:
        api = _Api.get()
        items, owned = self._base(api, key_id)
        value = api.data(kek)
        owned.append(value)
        items += [
            (api.const("kSecValueData"), value),
            (api.const("kSecAttrAccessible"), api.const("kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly")),
        ]
        query = api.dictionary(items)
        try:
            return api.sec.SecItemAdd(query, None)  # type: ignore[no-any-return]
        finally:
            api.release(query, *owned)

    def _remove(self, key_id: str) -> None:
        api = _Api.get()
        items, owned = self._base(api, key_id)
        query = api.dictionary(items)
        try:
            status = api.sec.SecItemDelete(query)
            if status != _NOT_FOUND:
                _check(status, "delete the wrapping key")
        finally:
            api.release(query, *owned)

    # -- KekWrapBackend hooks ------------------------------------------------------------

    def _load_kek(self, key_id: str, create: bool) -> bytes | None:
        def call() -> bytes | None:
            kek = self._copy(key_id)
            if kek is not None or not create:
                return kek
            status = self._add(key_id, new_kek())
            if status not in (_OK, _DUPLICATE):  # duplicate: created concurrently; use it
                _check(status, "store the wrapping key")
            return self._copy(key_id)

        return self._run(call)  # type: ignore[no-any-return]

    def _delete_kek(self, key_id: str) -> None:
        self._run(lambda: self._remove(key_id))
