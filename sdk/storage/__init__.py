"""On-device storage: the keystore, the encrypted store and the persistent cookie jar.

- :mod:`sdk.storage.keystore`: where the wrapping key lives (OS keyring, Android Keystore,
  iOS Keychain, or an app-supplied passphrase) and :func:`select_backend`.
- :mod:`sdk.storage.store`: :class:`EncryptedStore`, values sealed with AES-256-GCM in SQLite,
  each tagged with its purpose and purged after its retention.
- :mod:`sdk.storage.cookies`: :class:`PersistentCookieJar`, RFC 6265 cookies (from
  ``http.cookiejar``) for the SDK's requests Session, kept in the encrypted store.

Names are loaded on first use (PEP 562): ``import sdk.storage`` imports neither
``cryptography`` nor ``keyring`` nor ``requests``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

__all__ = [
    "CookieInfo",
    "EncryptedStore",
    "Entry",
    "KeystoreBackend",
    "PersistentCookieJar",
    "select_backend",
]

_LAZY: dict[str, str] = {
    "KeystoreBackend": "sdk.storage.keystore",
    "select_backend": "sdk.storage.keystore",
    "EncryptedStore": "sdk.storage.store",
    "Entry": "sdk.storage.store",
    "CookieInfo": "sdk.storage.cookies",
    "PersistentCookieJar": "sdk.storage.cookies",
}

if TYPE_CHECKING:  # pragma: no cover
    from .cookies import CookieInfo, PersistentCookieJar
    from .keystore import KeystoreBackend, select_backend
    from .store import EncryptedStore, Entry


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
