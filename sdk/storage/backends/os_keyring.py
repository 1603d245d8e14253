"""Desktop backend: the wrapping key in the OS keyring, through the ``keyring`` package.

The KEK (32 random bytes, base64) is the "password" of user ``<key_id>`` under service
``privacy-sdk:<app_id>``: the Secret Service (GNOME Keyring, KWallet) on Linux, the Keychain
on macOS, the Credential Locker on Windows.

Every keyring call runs in a worker thread with a timeout (:data:`DEFAULT_TIMEOUT`, 10 s):
a locked keyring can block forever waiting for an unlock prompt, and the UI must not
freeze. Backends that are not real keystores are refused: ``keyring``'s fail and null
backends (headless Linux: "No recommended backend was available") and everything from
``keyrings.alt``, whose file backends keep secrets in a plaintext or weakly protected file.
"""

from __future__ import annotations

import base64
import binascii
import threading
from typing import Any, ClassVar

from ...errors import KeystoreError, KeystoreTimeout, KeystoreUnavailable
from ..keystore import DEFAULT_TIMEOUT, call_with_timeout
from ._kek import KEK_BYTES, KekWrapBackend, new_kek

__all__ = ["KeyringKeystore", "SERVICE_PREFIX"]

#: Keyring service name is this prefix followed by the app id.
SERVICE_PREFIX = "privacy-sdk:"

_WHAT = "the OS keyring"
_HINT = (
    "it may be locked: unlock it (log in to the desktop session, or unlock the 'login' "
    "keyring in Seahorse / KWalletManager) and retry"
)
_INSTALL = (
    "install and start a Secret Service keyring (e.g. 'apt install gnome-keyring' and run "
    "'gnome-keyring-daemon' inside a D-Bus session) or KWallet; or opt into the passphrase "
    "backend"
)


def _unsafe_reason(backend: Any) -> str | None:
    """Why *backend* (a keyring.backend.KeyringBackend) must not hold our KEK, or None."""
    from keyring.backends import fail, null

    module = type(backend).__module__
    if isinstance(backend, fail.Keyring):
        try:
            backend.get_password("privacy-sdk", "probe")
        except Exception as exc:  # NoKeyringError: its message is the useful reason
            return f"keyring reports: {exc}"
        return "keyring has no usable backend"  # pragma: no cover
    if isinstance(backend, null.Keyring):
        return "keyring is disabled (its null backend is configured)"
    if module.startswith("keyrings.alt") or module.startswith("keyrings_alt"):
        return (
            f"refusing the keyrings.alt backend {type(backend).__name__}: it keeps secrets in "
            "a plaintext or weakly protected file"
        )
    return None


def _resolve(current: Any) -> tuple[Any | None, str]:
    """The concrete keyring backend to use, or ``(None, reason)``.

    A ``ChainerBackend`` is looked through: its first safe member is used directly, so a
    write can never land in an unsafe member of the chain.
    """
    from keyring.backends import chainer

    if isinstance(current, chainer.ChainerBackend):
        members = list(current.backends)
        if not members:
            return None, (
                "keyring reports: No recommended backend was available (no keyring backend "
                "is installed or running)"
            )
    else:
        members = [current]
    reasons = []
    for member in members:
        reason = _unsafe_reason(member)
        if reason is None:
            return member, ""
        reasons.append(reason)
    return None, "; ".join(reasons)


def _current_backend() -> Any:
    import keyring

    return keyring.get_keyring()


class KeyringKeystore(KekWrapBackend):
    """The wrapping key in the desktop OS keyring.

    Args:
        app_id: names the keyring service ``privacy-sdk:<app_id>``.
        timeout: seconds each keyring call may take before :class:`KeystoreTimeout`.

    Every method may raise :class:`KeystoreUnavailable` (no safe keyring backend),
    :class:`KeystoreTimeout` (the keyring did not answer, e.g. locked) or
    :class:`KeystoreError` (the keyring refused).
    """

    name: ClassVar[str] = "keyring"

    def __init__(self, app_id: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        if not app_id:
            raise ValueError("app_id must be a non-empty string")
        self.service = SERVICE_PREFIX + app_id
        self.timeout = float(timeout)
        self._backend: Any | None = None
        self._lock = threading.Lock()

    @classmethod
    def viable(cls) -> tuple[bool, str]:
        """Viable when ``keyring`` is installed and its backend is a real, safe keystore."""
        try:
            import keyring  # noqa: F401
        except ImportError:
            return False, "the 'keyring' package is not installed (pip install keyring)"
        try:
            current = call_with_timeout(_current_backend, DEFAULT_TIMEOUT, _WHAT)
            backend, reason = _resolve(current)
        except KeystoreTimeout:
            return False, f"{_WHAT} did not answer within {DEFAULT_TIMEOUT:g} s ({_HINT})"
        except Exception as exc:  # a broken keyring configuration must not crash selection
            return False, f"keyring could not be initialised ({type(exc).__name__}: {exc})"
        if backend is None:
            return False, reason
        return True, ""

    # -- plumbing -------------------------------------------------------------------------

    def _call(self, fn: Any) -> Any:
        """Run *fn* off this thread with the timeout; convert keyring errors."""
        try:
            return call_with_timeout(fn, self.timeout, _WHAT, hint=_HINT)
        except KeystoreError:
            raise
        except Exception as exc:
            kind = type(exc).__name__
            if "locked" in kind.lower():
                raise KeystoreError(f"{_WHAT} is locked ({kind}); {_HINT}") from exc
            raise KeystoreError(
                f"{_WHAT} refused the request ({kind}); see the chained cause"
            ) from exc

    def _keyring(self) -> Any:
        if self._backend is None:
            backend, reason = _resolve(self._call(_current_backend))
            if backend is None:
                raise KeystoreUnavailable(f"no usable OS keyring: {reason}; {_INSTALL}")
            self._backend = backend
        return self._backend

    def _read(self, backend: Any, key_id: str) -> bytes | None:
        text = self._call(lambda: backend.get_password(self.service, key_id))
        if text is None:
            return None
        try:
            kek = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError, TypeError) as exc:
            raise KeystoreError(
                f"the wrapping key '{key_id}' in {_WHAT} (service '{self.service}') is not "
                "valid base64; it was changed outside the SDK: delete it and start again"
            ) from exc
        return kek

    # -- KekWrapBackend hooks ------------------------------------------------------------

    def _load_kek(self, key_id: str, create: bool) -> bytes | None:
        if not self._lock.acquire(timeout=self.timeout):
            raise KeystoreTimeout(f"{_WHAT} is busy with another call for over {self.timeout:g} s")
        try:
            backend = self._keyring()
            kek = self._read(backend, key_id)
            if kek is not None or not create:
                return kek
            fresh = base64.b64encode(new_kek()).decode("ascii")
            self._call(lambda: backend.set_password(self.service, key_id, fresh))
            # Read back: if another process created the key at the same moment, both use
            # whichever one the keyring kept.
            kek = self._read(backend, key_id)
            if kek is None:
                raise KeystoreError(
                    f"{_WHAT} accepted the wrapping key '{key_id}' but does not return it; "
                    "the keyring backend is not persistent"
                )
            if len(kek) != KEK_BYTES:
                raise KeystoreError(f"the wrapping key '{key_id}' in {_WHAT} is malformed")
            return kek
        finally:
            self._lock.release()

    def _delete_kek(self, key_id: str) -> None:
        if not self._lock.acquire(timeout=self.timeout):
            raise KeystoreTimeout(f"{_WHAT} is busy with another call for over {self.timeout:g} s")
        try:
            backend = self._keyring()
            if self._read(backend, key_id) is None:
                return
            self._call(lambda: backend.delete_password(self.service, key_id))
        finally:
            self._lock.release()
