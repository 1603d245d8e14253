"""The keystore: where the wrapping key (KEK) that protects the SDK's data keys lives.

Only a small wrapping key lives in the OS keystore; the data keys (DEKs) that actually seal
stored values are random, and are kept *wrapped* by that KEK next to the data. So the OS
keystore is asked once per store opening, never per value, and wiping the KEK makes every
copy of the data unreadable at once (crypto-shredding).

Backends (each platform library is imported only on its platform, when selected)::

    name         where the KEK lives                                   module
    keyring      desktop OS keyring (Secret Service / KWallet, macOS    backends.os_keyring
                 Keychain, Windows Credential Locker) via ``keyring``
    android      Android Keystore (non-exportable AES-256), pyjnius     backends.android
    ios          iOS Keychain generic-password item, Security.framework backends.ios
    passphrase   derived from an app-supplied passphrase (scrypt);      backends.passphrase
                 explicit opt-in for headless machines
    fail         nowhere: every call raises KeystoreUnavailable,        backends.fail
                 explaining what each backend lacked and what to do

Selection (:func:`select_backend`), modelled on ``keyring``'s: the environment variable
``PRIVACY_SDK_KEYSTORE`` (``keyring|android|ios|passphrase|fail``) wins; else the app's
``preferred`` backend; else the first *viable* of android, ios, keyring; else ``passphrase``
if and only if the app passed a passphrase (explicit opt-in); else ``fail``. There is never a
silent plaintext key file, and a named backend that is not viable is never swapped for
another one: the fail backend reports why.

Every backend honours the contract in :mod:`sdk.testing.keystore_contract` (round trip,
tamper detection, key ids independent, delete is final); :mod:`sdk.testing.keystore` has an
in-memory fake for app developers' tests.

Wrapping uses vetted primitives only: AES key wrap (RFC 3394, ``cryptography``'s
``aes_key_wrap``) where the KEK is in our hands, AES-GCM (NIST SP 800-38D) inside the
Android Keystore, whose keys never leave it.
"""

from __future__ import annotations

import abc
import importlib
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import ClassVar, TypeVar

from ..errors import ConfigError, KeystoreError, KeystoreTimeout

__all__ = [
    "BACKEND_NAMES",
    "DEFAULT_TIMEOUT",
    "ENV_VAR",
    "KeystoreBackend",
    "Passphrase",
    "backend_class",
    "load_or_create_wrapped",
    "select_backend",
]

#: Environment variable that forces a backend by name (for QA, CI and headless machines).
ENV_VAR = "PRIVACY_SDK_KEYSTORE"

#: Seconds a keystore call may take before :class:`KeystoreTimeout` (a locked keyring can
#: block forever waiting for an unlock prompt nobody sees).
DEFAULT_TIMEOUT = 10.0

#: A passphrase, or a callable that returns one when it is first needed (e.g. asks the user).
Passphrase = str | Callable[[], str]

#: name -> "module:Class"; modules are imported only when their backend is considered.
_BACKENDS: dict[str, str] = {
    "android": "sdk.storage.backends.android:AndroidKeystore",
    "ios": "sdk.storage.backends.ios:IosKeychainKeystore",
    "keyring": "sdk.storage.backends.os_keyring:KeyringKeystore",
    "passphrase": "sdk.storage.backends.passphrase:PassphraseKeystore",
    "fail": "sdk.storage.backends.fail:FailKeystore",
}

#: Backend names in the order :func:`select_backend` tries them (``fail`` is the last resort).
BACKEND_NAMES: tuple[str, ...] = tuple(_BACKENDS)

#: Platform backends tried automatically, best first.
_AUTO_ORDER = ("android", "ios", "keyring")

_MAX_KEY_ID = 128


class KeystoreBackend(abc.ABC):
    """A place for wrapping keys: wraps and unwraps data keys, one wrapping key per key id.

    Public methods check their arguments and document the behaviour; each backend implements
    the ``_wrap`` / ``_unwrap`` / ``_delete`` hooks (the plyer facade pattern, without its
    silent fallback). Backends convert their own lower-layer errors to
    :class:`~sdk.errors.KeystoreError` with ``raise ... from``.

    Attributes:
        name: the backend's name, as accepted by ``PRIVACY_SDK_KEYSTORE``.
    """

    name: ClassVar[str] = "abstract"

    @classmethod
    @abc.abstractmethod
    def viable(cls) -> tuple[bool, str]:
        """Whether this backend can work here: ``(True, "")`` or ``(False, reason)``.

        The reason is one actionable sentence (what is missing and how to get it). Never
        raises and never blocks for long.
        """

    def wrap(self, key_id: str, data_key: bytes) -> bytes:
        """Wrap *data_key* with the wrapping key named *key_id*, creating that key if needed.

        Args:
            key_id: names the wrapping key: 1-128 printable characters, e.g. ``"store-v1"``.
            data_key: the key to protect: 16 to 64 bytes, a multiple of 8 (an AES key).

        Returns:
            An opaque blob, safe to store next to the data; only :meth:`unwrap` with the same
            *key_id* on the same keystore turns it back into *data_key*.

        Raises:
            ValueError: *key_id* or *data_key* has the wrong type or size.
            KeystoreUnavailable: no keystore (the fail backend).
            KeystoreTimeout: the keystore did not answer in time.
            KeystoreError: the keystore refused (locked, denied, broken).
        """
        _check_key_id(key_id)
        _check_data_key(data_key)
        return bytes(self._wrap(key_id, bytes(data_key)))

    def unwrap(self, key_id: str, blob: bytes) -> bytes:
        """Recover the data key from a blob made by :meth:`wrap` with the same *key_id*.

        Never returns garbage: a blob that was altered, wrapped under another key id, or
        whose wrapping key was deleted or (passphrase backend) re-derived from the wrong
        passphrase raises.

        Raises:
            ValueError: *key_id* or *blob* has the wrong type.
            KeystoreError: no wrapping key with this id, or the blob does not authenticate.
            KeystoreUnavailable, KeystoreTimeout: as for :meth:`wrap`.
        """
        _check_key_id(key_id)
        if not isinstance(blob, (bytes, bytearray, memoryview)):
            raise ValueError("blob must be bytes (as returned by wrap)")
        return bytes(self._unwrap(key_id, bytes(blob)))

    def delete(self, key_id: str) -> None:
        """Delete the wrapping key *key_id*; every blob wrapped under it becomes unusable.

        Idempotent: deleting a key id that does not exist does nothing.

        Raises:
            KeystoreUnavailable, KeystoreTimeout, KeystoreError: as for :meth:`wrap`.
        """
        _check_key_id(key_id)
        self._delete(key_id)

    # -- hooks ---------------------------------------------------------------------------

    @abc.abstractmethod
    def _wrap(self, key_id: str, data_key: bytes) -> bytes: ...

    @abc.abstractmethod
    def _unwrap(self, key_id: str, blob: bytes) -> bytes: ...

    @abc.abstractmethod
    def _delete(self, key_id: str) -> None: ...

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"


def _check_key_id(key_id: object) -> None:
    if not isinstance(key_id, str) or not key_id:
        raise ValueError("key_id must be a non-empty string, e.g. 'store-v1'")
    if len(key_id) > _MAX_KEY_ID or not key_id.isprintable():
        raise ValueError(f"key_id must be at most {_MAX_KEY_ID} printable characters")


def _check_data_key(data_key: object) -> None:
    if not isinstance(data_key, (bytes, bytearray, memoryview)):
        raise ValueError("data_key must be bytes")
    size = len(data_key)
    if size < 16 or size > 64 or size % 8:
        raise ValueError(
            f"data_key must be 16 to 64 bytes long, a multiple of 8 (an AES key); got {size} bytes"
        )


# --------------------------------------------------------------------------------------
# A device secret kept only wrapped (signing keys)
# --------------------------------------------------------------------------------------


def load_or_create_wrapped(
    keystore: KeystoreBackend,
    key_id: str,
    blob: bytes | None,
    create: Callable[[], bytes],
    *,
    size: int,
    what: str,
) -> tuple[bytes, bytes]:
    """A device secret (e.g. a signing key's private scalar) that is stored only *wrapped*
    by the keystore: unwrap *blob*, or make a new secret when there is no blob yet.

    One piece of code for every such secret: the consent signing key
    (:class:`sdk.consent.proof.DeviceKey`) and the certificate key
    (:class:`sdk.realname.certificate.DeviceSigningKey`). The caller stores the blob (e.g. in
    the ledger's ``meta`` table or the encrypted store); the secret exists in clear only in
    memory.

    Args:
        keystore: the OS keystore backend (``MemoryKeystore`` in tests).
        key_id: the keystore wrapping key's id, e.g. ``"consent-signing-v1"``.
        blob: what an earlier call returned, or ``None`` on first use.
        create: makes a new secret of *size* bytes (called only when *blob* is ``None``).
        size: the secret's length in bytes: 16 to 64, a multiple of 8 (what
            :meth:`KeystoreBackend.wrap` accepts).
        what: names the secret in error messages, e.g. ``"consent signing key"``.

    Returns:
        ``(secret, blob)``: for ``blob=None`` a new secret and its new blob, which the caller
        must store before using the secret; otherwise the stored secret and the same *blob*.

    Raises:
        KeystoreError: the blob does not unwrap (altered, another key id, wrapping key
            deleted) or does not hold a secret of *size* bytes. A new secret is *never* made
            silently for an existing blob: that would replace a key others already trust.
        KeystoreUnavailable, KeystoreTimeout: from the keystore (subclasses of KeystoreError).
        ValueError: *key_id* is not a valid key id, or *create* returned the wrong size.
    """
    if blob is None:
        secret = bytes(create())
        if len(secret) != size:
            raise ValueError(f"the new {what} must be {size} bytes, got {len(secret)}")
        return secret, keystore.wrap(key_id, secret)
    secret = keystore.unwrap(key_id, bytes(blob))
    if len(secret) != size:
        raise KeystoreError(
            f"the stored {what} has the wrong size ({len(secret)} bytes, expected {size}); "
            "the key cannot be used"
        )
    return secret, bytes(blob)


# --------------------------------------------------------------------------------------
# Keystore calls off the caller's thread, with a timeout
# --------------------------------------------------------------------------------------

_T = TypeVar("_T")


def call_with_timeout(
    fn: Callable[[], _T],
    timeout: float,
    what: str,
    *,
    hint: str = "",
    on_thread_exit: Callable[[], object] | None = None,
) -> _T:
    """Run *fn* in a daemon worker thread and wait at most *timeout* seconds for it.

    A keystore can block forever (a locked keyring waiting for an unlock prompt nobody
    sees); the caller gets :class:`KeystoreTimeout` instead, and the stuck worker, a daemon
    thread, never keeps the process alive. Exceptions raised by *fn* are re-raised here.

    Args:
        fn: the keystore call.
        timeout: seconds to wait (> 0).
        what: names the keystore in the timeout message, e.g. ``"the OS keyring"``.
        hint: what the user can do, appended to the timeout message.
        on_thread_exit: called in the worker before it ends (pyjnius needs ``detach()``).

    Raises:
        KeystoreTimeout: *fn* did not finish within *timeout* seconds.
    """
    outcome: dict[str, object] = {}
    done = threading.Event()

    def worker() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # re-raised in the caller's thread
            outcome["error"] = exc
        finally:
            done.set()
            if on_thread_exit is not None:
                try:
                    on_thread_exit()
                except Exception:  # pragma: no cover - platform clean-up, best effort
                    pass

    thread = threading.Thread(target=worker, name="privacy-sdk-keystore", daemon=True)
    thread.start()
    if not done.wait(timeout):
        extra = f"; {hint}" if hint else ""
        raise KeystoreTimeout(f"{what} did not answer within {timeout:g} s{extra}")
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]


# --------------------------------------------------------------------------------------
# Selection
# --------------------------------------------------------------------------------------


def backend_class(name: str) -> type[KeystoreBackend]:
    """The backend class called *name* (imports its module, not its platform library).

    Raises:
        ConfigError: no backend has that name.
    """
    target = _BACKENDS.get(name)
    if target is None:
        raise ConfigError(
            f"unknown keystore backend '{name}'; choose one of {', '.join(BACKEND_NAMES)}"
        )
    module, _, cls = target.partition(":")
    return getattr(importlib.import_module(module), cls)  # type: ignore[no-any-return]


def _make(
    name: str,
    app_id: str,
    data_dir: Path,
    passphrase: Passphrase | None,
    timeout: float,
) -> KeystoreBackend:
    cls = backend_class(name)
    if name == "passphrase":
        assert passphrase is not None
        return cls(data_dir, passphrase)  # type: ignore[call-arg]
    if name in ("keyring", "android", "ios"):
        return cls(app_id, timeout=timeout)  # type: ignore[call-arg]
    raise AssertionError(name)  # pragma: no cover


def _fail(reasons: Mapping[str, str], chosen: str | None = None, by: str = "") -> KeystoreBackend:
    from .backends.fail import FailKeystore

    return FailKeystore(reasons, chosen=chosen, chosen_by=by)


def select_backend(
    app_id: str,
    data_dir: Path | str,
    passphrase: Passphrase | None = None,
    preferred: str | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
) -> KeystoreBackend:
    """Choose the keystore backend for this app on this machine.

    Order: ``PRIVACY_SDK_KEYSTORE`` if set; else *preferred* if given; else the first viable
    of ``android``, ``ios``, ``keyring``; else ``passphrase`` if the app passed *passphrase*
    (the explicit opt-in for headless machines); else ``fail``. A backend chosen by name
    that is not viable is **not** replaced by another: the returned fail backend explains
    why, so a misconfiguration is loud. Nothing here writes a key to disk in clear.

    Args:
        app_id: the app's id (reverse DNS, e.g. ``"cn.example.esign"``); names the keyring
            service ``privacy-sdk:<app_id>`` and the Android/iOS key aliases.
        data_dir: the app's data folder (``SdkConfig.data_dir``); the passphrase backend
            keeps its (non-secret) salts there.
        passphrase: opt into the passphrase backend: a string, or a callable asked once when
            the key is first needed. ``None`` (the default) never uses it automatically.
        preferred: a backend name the app prefers (the environment variable still wins).
        timeout: seconds each keystore call may take before :class:`KeystoreTimeout`.

    Returns:
        A backend. The ``fail`` backend is returned, not raised, so the error surfaces where
        the key is first needed (opening the encrypted store) with the full explanation.

    Raises:
        ConfigError: *app_id* is empty, or a backend name (environment or *preferred*) is
            unknown.
    """
    if not isinstance(app_id, str) or not app_id.strip():
        raise ConfigError("app_id must be a non-empty string, e.g. 'cn.example.esign'")
    if timeout <= 0:
        raise ConfigError("keystore timeout must be a positive number of seconds")
    data_dir = Path(data_dir)

    forced = os.environ.get(ENV_VAR, "").strip().lower() or None
    by = f"the environment variable {ENV_VAR}" if forced else "the app (preferred=)"
    chosen = forced or (preferred.strip().lower() if preferred else None)
    if chosen is not None:
        cls = backend_class(chosen)  # ConfigError for an unknown name
        if chosen == "fail":
            return _fail(_reasons(passphrase), chosen="fail", by=by)
        if chosen == "passphrase":
            if passphrase is None:
                return _fail(
                    {"passphrase": "the app did not pass a passphrase (select_backend(..., "
                     "passphrase=...)); the passphrase backend needs one"},
                    chosen="passphrase",
                    by=by,
                )
            return _make("passphrase", app_id, data_dir, passphrase, timeout)
        ok, reason = cls.viable()
        if not ok:
            return _fail({chosen: reason}, chosen=chosen, by=by)
        return _make(chosen, app_id, data_dir, passphrase, timeout)

    reasons: dict[str, str] = {}
    for name in _AUTO_ORDER:
        ok, reason = backend_class(name).viable()
        if ok:
            return _make(name, app_id, data_dir, passphrase, timeout)
        reasons[name] = reason
    if passphrase is not None:
        return _make("passphrase", app_id, data_dir, passphrase, timeout)
    reasons["passphrase"] = _PASSPHRASE_NOT_CHOSEN
    return _fail(reasons)


_PASSPHRASE_NOT_CHOSEN = (
    "not used unless the app opts in by passing a passphrase to select_backend()"
)


def _reasons(passphrase: Passphrase | None) -> dict[str, str]:
    reasons: dict[str, str] = {}
    for name in _AUTO_ORDER:
        ok, reason = backend_class(name).viable()
        reasons[name] = "viable" if ok else reason
    reasons["passphrase"] = "available (the app passed one)" if passphrase else _PASSPHRASE_NOT_CHOSEN
    return reasons
