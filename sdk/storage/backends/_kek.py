"""Shared base of the backends that hold a 256-bit wrapping key (KEK) in software while
wrapping: keyring, iOS Keychain, passphrase, and the in-memory test fake.

Blob format: one version byte ``0x01`` followed by the RFC 3394 AES key wrap of the data key
under the KEK (``cryptography``'s ``aes_key_wrap``; 8 bytes longer than the data key). Each
key id has its own KEK, so a blob unwrapped under another key id fails RFC 3394's integrity
check instead of yielding garbage.
"""

from __future__ import annotations

import abc
import os

from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from ...errors import KeystoreError
from ..keystore import KeystoreBackend

__all__ = ["KEK_BYTES", "KekWrapBackend", "new_kek"]

#: Size of a wrapping key: AES-256.
KEK_BYTES = 32

_FORMAT_AES_KW = b"\x01"


def new_kek() -> bytes:
    """32 random bytes from the OS CSPRNG."""
    return os.urandom(KEK_BYTES)


class KekWrapBackend(KeystoreBackend):
    """A backend whose hooks are "get (or create) the KEK for a key id" and "delete it";
    wrapping is AES key wrap (RFC 3394) here, once for all of them."""

    @abc.abstractmethod
    def _load_kek(self, key_id: str, create: bool) -> bytes | None:
        """The KEK for *key_id*; when missing, a new one if *create* else ``None``.

        Must raise :class:`KeystoreError` (or a subclass) for anything but "missing".
        """

    @abc.abstractmethod
    def _delete_kek(self, key_id: str) -> None:
        """Forget the KEK for *key_id*; nothing happens when it does not exist."""

    def _unwrap_failed(self, key_id: str) -> str:
        """Message when the blob does not authenticate under the KEK (override to refine)."""
        return (
            f"the wrapped data key for key id '{key_id}' does not match its wrapping key in "
            f"the {self.name} keystore: it was altered, or was wrapped under another key id "
            "or another keystore; the data it protects cannot be decrypted"
        )

    # -- hooks ---------------------------------------------------------------------------

    def _wrap(self, key_id: str, data_key: bytes) -> bytes:
        kek = self._checked(self._load_kek(key_id, True), key_id)
        return _FORMAT_AES_KW + aes_key_wrap(kek, data_key)

    def _unwrap(self, key_id: str, blob: bytes) -> bytes:
        if not blob.startswith(_FORMAT_AES_KW) or len(blob) < 1 + 24:
            raise KeystoreError(
                f"the wrapped data key for key id '{key_id}' is not in a format this SDK "
                "knows (corrupt, or written by another program)"
            )
        kek = self._load_kek(key_id, False)
        if kek is None:
            raise KeystoreError(
                f"the {self.name} keystore has no wrapping key with id '{key_id}' (it was "
                "deleted, or the data comes from another device or user); the data it "
                "protects cannot be decrypted: wipe it and start again"
            )
        kek = self._checked(kek, key_id)
        try:
            return aes_key_unwrap(kek, blob[1:])
        except (InvalidUnwrap, ValueError) as exc:  # ValueError: not a multiple of 8 bytes
            raise KeystoreError(self._unwrap_failed(key_id)) from exc

    def _delete(self, key_id: str) -> None:
        self._delete_kek(key_id)

    def _checked(self, kek: bytes | None, key_id: str) -> bytes:
        if kek is None or len(kek) != KEK_BYTES:
            raise KeystoreError(
                f"the wrapping key '{key_id}' in the {self.name} keystore is malformed "
                f"(expected {KEK_BYTES} bytes); delete it and start again"
            )
        return kek
