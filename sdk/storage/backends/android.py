"""Android backend: a non-exportable AES-256 key in the Android Keystore, through pyjnius.

The wrapping key is generated *inside* the ``AndroidKeyStore`` provider (TEE or StrongBox
hardware where the device has it) under the alias ``privacy-sdk:<app_id>:<key_id>``, for
``AES/GCM/NoPadding`` encryption and decryption only; its bytes never reach the app. A data
key is wrapped with that cipher: the Keystore picks a fresh 96-bit IV (randomised
encryption is required by default) and the key id is bound as associated data, so a blob
presented under another key id fails authentication (AES-GCM, NIST SP 800-38D).

Blob: ``b"\\x02"`` + IV (12 bytes) + ciphertext + 16-byte tag.

Requires Android 6.0 (API 23) or later, for ``KeyGenParameterSpec``. ``jnius`` is imported
only inside this backend's calls. Calls run in a worker thread with a timeout, and that
thread detaches from the JVM before it ends (pyjnius requires it).

Not exercised by the test suite (it needs a device); written from the Android
documentation of ``KeyGenParameterSpec``, ``KeyStore`` and ``Cipher``.
"""

from __future__ import annotations

import os
import threading
from typing import Any, ClassVar

from ...errors import KeystoreError
from ..keystore import DEFAULT_TIMEOUT, KeystoreBackend, call_with_timeout

__all__ = ["AndroidKeystore"]

_FORMAT_GCM = b"\x02"
_IV_BYTES = 12
_TAG_BITS = 128
_PROVIDER = "AndroidKeyStore"
_WHAT = "the Android Keystore"


def _on_android() -> bool:
    if "ANDROID_ARGUMENT" in os.environ or "ANDROID_PRIVATE" in os.environ:
        return True
    try:
        import android  # noqa: F401  (python-for-android's bootstrap module)
    except ImportError:
        return False
    return True


def _to_bytes(value: Any) -> bytes:
    """A Java ``byte[]`` as returned by pyjnius (ByteArray, bytes or a list of ints)."""
    if value is None:
        return b""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    tostring = getattr(value, "tostring", None)
    if callable(tostring):
        return bytes(tostring())
    return bytes(b & 0xFF for b in value)


def _detach() -> None:
    from jnius import detach

    detach()


class _Java:
    """The Java classes used, loaded once (pyjnius ``autoclass``)."""

    _lock = threading.Lock()
    _loaded: ClassVar[dict[str, Any]] = {}

    @classmethod
    def get(cls) -> dict[str, Any]:
        with cls._lock:
            if not cls._loaded:
                from jnius import autoclass

                cls._loaded.update(
                    KeyStore=autoclass("java.security.KeyStore"),
                    KeyGenerator=autoclass("javax.crypto.KeyGenerator"),
                    Cipher=autoclass("javax.crypto.Cipher"),
                    GCMParameterSpec=autoclass("javax.crypto.spec.GCMParameterSpec"),
                    KeyProperties=autoclass("android.security.keystore.KeyProperties"),
                    Builder=autoclass("android.security.keystore.KeyGenParameterSpec$Builder"),
                )
            return cls._loaded


class AndroidKeystore(KeystoreBackend):
    """Wrapping keys that never leave the Android Keystore.

    Args:
        app_id: part of each key alias, ``privacy-sdk:<app_id>:<key_id>``.
        timeout: seconds each Keystore call may take before :class:`KeystoreTimeout`.
    """

    name: ClassVar[str] = "android"

    def __init__(self, app_id: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        if not app_id:
            raise ValueError("app_id must be a non-empty string")
        self.app_id = app_id
        self.timeout = float(timeout)
        self._lock = threading.Lock()

    @classmethod
    def viable(cls) -> tuple[bool, str]:
        """Viable when running on Android with pyjnius available."""
        if not _on_android():
            return False, "not running on Android"
        try:
            import jnius  # noqa: F401
        except ImportError:
            return False, "pyjnius is not in the app (add 'pyjnius' to the buildozer requirements)"
        return True, ""

    def _alias(self, key_id: str) -> str:
        return f"privacy-sdk:{self.app_id}:{key_id}"

    def _run(self, fn: Any) -> Any:
        def guarded() -> Any:
            try:
                return fn()
            except KeystoreError:
                raise
            except Exception as exc:  # jnius.JavaException and friends
                java = getattr(exc, "classname", None) or type(exc).__name__
                raise KeystoreError(
                    f"{_WHAT} refused the request ({java}); see the chained cause"
                ) from exc

        with self._lock:
            return call_with_timeout(
                guarded, self.timeout, _WHAT, hint="the device may be busy; retry",
                on_thread_exit=_detach,
            )

    @staticmethod
    def _keystore(j: dict[str, Any]) -> Any:
        ks = j["KeyStore"].getInstance(_PROVIDER)
        ks.load(None)
        return ks

    def _key(self, key_id: str, create: bool) -> Any:
        j = _Java.get()
        ks = self._keystore(j)
        alias = self._alias(key_id)
        if not ks.containsAlias(alias):
            if not create:
                return None
            props = j["KeyProperties"]
            spec = (
                j["Builder"](alias, props.PURPOSE_ENCRYPT | props.PURPOSE_DECRYPT)
                .setBlockModes(props.BLOCK_MODE_GCM)
                .setEncryptionPaddings(props.ENCRYPTION_PADDING_NONE)
                .setKeySize(256)
                .build()
            )
            generator = j["KeyGenerator"].getInstance(props.KEY_ALGORITHM_AES, _PROVIDER)
            generator.init(spec)
            generator.generateKey()
        return ks.getKey(alias, None)

    @staticmethod
    def _aad(key_id: str) -> bytes:
        return b"privacy-sdk/keystore/v1\x00" + key_id.encode("utf-8")

    # -- hooks ---------------------------------------------------------------------------

    def _wrap(self, key_id: str, data_key: bytes) -> bytes:
        def call() -> bytes:
            j = _Java.get()
            key = self._key(key_id, True)
            cipher = j["Cipher"].getInstance("AES/GCM/NoPadding")
            cipher.init(j["Cipher"].ENCRYPT_MODE, key)
            cipher.updateAAD(self._aad(key_id))
            sealed = _to_bytes(cipher.doFinal(data_key))
            iv = _to_bytes(cipher.getIV())
            if len(iv) != _IV_BYTES:
                raise KeystoreError(f"{_WHAT} chose an unexpected IV size ({len(iv)} bytes)")
            return _FORMAT_GCM + iv + sealed

        return self._run(call)  # type: ignore[no-any-return]

    def _unwrap(self, key_id: str, blob: bytes) -> bytes:
        if not blob.startswith(_FORMAT_GCM) or len(blob) < 1 + _IV_BYTES + _TAG_BITS // 8:
            raise KeystoreError(
                f"the wrapped data key for key id '{key_id}' is not in a format this SDK knows"
            )
        iv, sealed = blob[1 : 1 + _IV_BYTES], blob[1 + _IV_BYTES :]

        def call() -> bytes:
            j = _Java.get()
            key = self._key(key_id, False)
            if key is None:
                raise KeystoreError(
                    f"{_WHAT} has no wrapping key with id '{key_id}' (deleted, or the app was "
                    "reinstalled); the data it protects cannot be decrypted: wipe it"
                )
            cipher = j["Cipher"].getInstance("AES/GCM/NoPadding")
            cipher.init(j["Cipher"].DECRYPT_MODE, key, j["GCMParameterSpec"](_TAG_BITS, iv))
            cipher.updateAAD(self._aad(key_id))
            try:
                return _to_bytes(cipher.doFinal(sealed))
            except Exception as exc:  # javax.crypto.AEADBadTagException
                raise KeystoreError(
                    f"the wrapped data key for key id '{key_id}' does not authenticate under "
                    f"its wrapping key in {_WHAT}: altered, or wrapped under another key id"
                ) from exc

        return self._run(call)  # type: ignore[no-any-return]

    def _delete(self, key_id: str) -> None:
        def call() -> None:
            j = _Java.get()
            ks = self._keystore(j)
            alias = self._alias(key_id)
            if ks.containsAlias(alias):
                ks.deleteEntry(alias)

        self._run(call)
