"""Keystore backends and their selection.

Fakes sit only at the OS edge: an in-memory ``keyring`` backend set with
``keyring.set_keyring`` stands in for the Secret Service. The passphrase backend runs for
real (scrypt, salt file). Android and iOS need a device; here we check only that they say
so and that importing them loads neither pyjnius nor pyobjus.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backend
import keyring.errors
import pytest
from keyring.backends import chainer, fail
from keyring.compat import properties

from sdk.errors import ConfigError, KeystoreError, KeystoreTimeout, KeystoreUnavailable
from sdk.storage.backends.fail import FailKeystore
from sdk.storage.backends.os_keyring import KeyringKeystore
from sdk.storage.backends.passphrase import SALT_FILENAME, PassphraseKeystore
from sdk.storage.keystore import ENV_VAR, select_backend
from sdk.testing.keystore import MemoryKeystore
from sdk.testing.keystore_contract import KeystoreContract

APP_ID = "cn.example.esign"


# -- fakes at the OS edge ----------------------------------------------------------------


class InMemoryKeyring(keyring.backend.KeyringBackend):
    """A keyring backend holding passwords in a dict (stands in for the Secret Service).

    Its priority raises, so keyring's own discovery (``get_all_keyring``) never picks these
    fakes up for other tests: they are used only where a test sets them explicitly.
    """

    @properties.classproperty
    def priority(cls) -> float:
        raise RuntimeError("test fake: used only when a test sets it with set_keyring")

    def __init__(self) -> None:
        super().__init__()
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        try:
            del self.passwords[(service, username)]
        except KeyError:
            raise keyring.errors.PasswordDeleteError("not found") from None


class BlockingKeyring(InMemoryKeyring):
    """A locked keyring: every read waits for an unlock that never comes."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def get_password(self, service: str, username: str) -> str | None:
        self.release.wait()  # "forever" (until the test ends)
        return None


class LockedKeyring(InMemoryKeyring):
    def get_password(self, service: str, username: str) -> str | None:
        raise keyring.errors.KeyringLocked("the collection is locked")


class PlaintextFileKeyring(InMemoryKeyring):
    """Looks like keyrings.alt's plaintext file backend."""


PlaintextFileKeyring.__module__ = "keyrings.alt.file"


@pytest.fixture
def use_keyring() -> Iterator:
    """``use_keyring(backend)`` makes *backend* keyring's current backend for this test."""
    previous = keyring.core._keyring_backend  # restored afterwards, even if None

    def use(backend: keyring.backend.KeyringBackend) -> keyring.backend.KeyringBackend:
        keyring.set_keyring(backend)
        return backend

    yield use
    keyring.core._keyring_backend = previous


@pytest.fixture
def fake_keyring(use_keyring) -> InMemoryKeyring:
    return use_keyring(InMemoryKeyring())


@pytest.fixture
def headless(use_keyring) -> None:
    """What keyring gives on headless Linux: its fail backend."""
    use_keyring(fail.Keyring())


@pytest.fixture(autouse=True)
def no_env_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)


# -- the contract, for every backend that can run here ----------------------------------


class TestMemoryKeystoreContract(KeystoreContract):
    @pytest.fixture
    def backend(self) -> MemoryKeystore:
        return MemoryKeystore()


class TestPassphraseKeystoreContract(KeystoreContract):
    @pytest.fixture
    def backend(self, tmp_path: Path) -> PassphraseKeystore:
        return PassphraseKeystore(tmp_path, "correct horse battery staple")


class TestKeyringKeystoreContract(KeystoreContract):
    @pytest.fixture
    def backend(self, fake_keyring: InMemoryKeyring) -> KeyringKeystore:
        return KeyringKeystore(APP_ID, timeout=5)


# -- keyring backend ---------------------------------------------------------------------


def test_keyring_holds_only_a_base64_kek_under_the_app_service(fake_keyring) -> None:  # OBL-SEC-2
    data_key = os.urandom(32)
    KeyringKeystore(APP_ID).wrap("store-v1", data_key)
    assert list(fake_keyring.passwords) == [(f"privacy-sdk:{APP_ID}", "store-v1")]
    kek = base64.b64decode(fake_keyring.passwords[(f"privacy-sdk:{APP_ID}", "store-v1")])
    assert len(kek) == 32 and kek != data_key


def test_keyring_kek_survives_a_new_instance(fake_keyring) -> None:
    data_key = os.urandom(32)
    blob = KeyringKeystore(APP_ID).wrap("store-v1", data_key)
    assert KeyringKeystore(APP_ID).unwrap("store-v1", blob) == data_key


def test_keyring_apps_do_not_share_keys(fake_keyring) -> None:
    blob = KeyringKeystore(APP_ID).wrap("store-v1", os.urandom(32))
    with pytest.raises(KeystoreError):
        KeyringKeystore("cn.example.other").unwrap("store-v1", blob)


def test_blocked_keyring_times_out_quickly(use_keyring) -> None:
    blocking = use_keyring(BlockingKeyring())
    try:
        started = time.monotonic()
        with pytest.raises(KeystoreTimeout, match="did not answer within 0.3 s"):
            KeyringKeystore(APP_ID, timeout=0.3).wrap("store-v1", os.urandom(32))
        assert time.monotonic() - started < 2
    finally:
        blocking.release.set()


def test_locked_keyring_raises_keystore_error(use_keyring) -> None:
    use_keyring(LockedKeyring())
    with pytest.raises(KeystoreError, match="locked"):
        KeyringKeystore(APP_ID).wrap("store-v1", os.urandom(32))


def test_headless_keyring_is_not_viable_and_says_why(headless) -> None:
    ok, reason = KeyringKeystore.viable()
    assert not ok
    assert "No recommended backend was available" in reason


def test_empty_keyring_chain_is_not_viable(use_keyring, monkeypatch) -> None:
    monkeypatch.setattr(chainer.ChainerBackend, "backends", [])
    use_keyring(chainer.ChainerBackend())
    ok, reason = KeyringKeystore.viable()
    assert not ok and "No recommended backend was available" in reason


def test_plaintext_keyrings_alt_backend_is_refused(use_keyring) -> None:
    use_keyring(PlaintextFileKeyring())
    ok, reason = KeyringKeystore.viable()
    assert not ok and "keyrings.alt" in reason
    with pytest.raises(KeystoreUnavailable, match="keyrings.alt"):
        KeyringKeystore(APP_ID).wrap("store-v1", os.urandom(32))


def test_keyring_chain_skips_plaintext_member(use_keyring, monkeypatch) -> None:
    plaintext, safe = PlaintextFileKeyring(), InMemoryKeyring()
    monkeypatch.setattr(chainer.ChainerBackend, "backends", [plaintext, safe])
    use_keyring(chainer.ChainerBackend())
    assert KeyringKeystore.viable() == (True, "")
    KeyringKeystore(APP_ID).wrap("store-v1", os.urandom(32))
    assert plaintext.passwords == {} and len(safe.passwords) == 1


# -- passphrase backend ------------------------------------------------------------------


def test_wrong_passphrase_is_detected(tmp_path: Path) -> None:
    blob = PassphraseKeystore(tmp_path, "right passphrase").wrap("store-v1", os.urandom(32))
    with pytest.raises(KeystoreError, match="wrong passphrase"):
        PassphraseKeystore(tmp_path, "wrong passphrase").unwrap("store-v1", blob)


def test_passphrase_key_survives_a_new_instance(tmp_path: Path) -> None:
    data_key = os.urandom(32)
    blob = PassphraseKeystore(tmp_path, "pw-1").wrap("store-v1", data_key)
    assert PassphraseKeystore(tmp_path, "pw-1").unwrap("store-v1", blob) == data_key


def test_passphrase_callable_is_asked_once(tmp_path: Path) -> None:
    asked = []

    def ask() -> str:
        asked.append(1)
        return "from the user"

    backend = PassphraseKeystore(tmp_path, ask)
    assert asked == []  # not asked before a key is needed
    data_key = os.urandom(32)
    blob = backend.wrap("store-v1", data_key)
    assert backend.unwrap("store-v1", blob) == data_key
    assert asked == [1]


def test_passphrase_salt_file_is_private_and_holds_no_secret(tmp_path: Path) -> None:  # OBL-SEC-2
    passphrase = "a passphrase to look for"
    data_key = os.urandom(32)
    PassphraseKeystore(tmp_path, passphrase).wrap("store-v1", data_key)
    path = tmp_path / SALT_FILENAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    raw = path.read_bytes()
    assert passphrase.encode() not in raw and data_key not in raw
    entry = json.loads(raw)["keys"]["store-v1"]
    assert (entry["n"], entry["r"], entry["p"]) == (2**15, 8, 1)
    assert len(base64.b64decode(entry["salt"])) == 16


def test_empty_passphrase_is_rejected(tmp_path: Path) -> None:
    from sdk.errors import ConfigError

    with pytest.raises(ConfigError):
        PassphraseKeystore(tmp_path, "")


# -- fail backend and selection ----------------------------------------------------------


def test_fail_backend_explains_every_backend_and_the_fixes(tmp_path: Path, headless) -> None:
    backend = select_backend(APP_ID, tmp_path)
    assert isinstance(backend, FailKeystore)
    with pytest.raises(KeystoreUnavailable) as caught:
        backend.wrap("store-v1", os.urandom(32))
    message = str(caught.value)
    for expected in (
        "[android] not running on Android",
        "[ios] not running on iOS",
        "No recommended backend was available",
        "[passphrase]",
        "gnome-keyring",
        ENV_VAR,
        "plaintext",
    ):
        assert expected in message
    for call in (lambda: backend.unwrap("store-v1", b"x" * 40), lambda: backend.delete("store-v1")):
        with pytest.raises(KeystoreUnavailable):
            call()


def test_headless_without_opt_in_never_writes_a_key_file(tmp_path: Path, headless) -> None:
    backend = select_backend(APP_ID, tmp_path)
    with pytest.raises(KeystoreUnavailable):
        backend.wrap("store-v1", os.urandom(32))
    assert list(tmp_path.iterdir()) == []


def test_headless_with_passphrase_uses_the_passphrase_backend(tmp_path: Path, headless) -> None:
    backend = select_backend(APP_ID, tmp_path, passphrase="opted in")
    assert isinstance(backend, PassphraseKeystore)


def test_viable_keyring_is_preferred_over_the_passphrase(tmp_path: Path, fake_keyring) -> None:
    assert isinstance(select_backend(APP_ID, tmp_path, passphrase="pw"), KeyringKeystore)


def test_env_var_forces_passphrase(tmp_path: Path, fake_keyring, monkeypatch) -> None:
    monkeypatch.setenv(ENV_VAR, "passphrase")
    assert isinstance(select_backend(APP_ID, tmp_path, passphrase="pw"), PassphraseKeystore)


def test_env_var_passphrase_without_one_fails_loudly(tmp_path: Path, fake_keyring, monkeypatch) -> None:
    monkeypatch.setenv(ENV_VAR, "passphrase")
    backend = select_backend(APP_ID, tmp_path)
    with pytest.raises(KeystoreUnavailable, match=f"chosen by the environment variable {ENV_VAR}"):
        backend.wrap("store-v1", os.urandom(32))


def test_env_var_fail_disables_the_keystore(tmp_path: Path, fake_keyring, monkeypatch) -> None:
    monkeypatch.setenv(ENV_VAR, "fail")
    backend = select_backend(APP_ID, tmp_path, passphrase="pw")
    with pytest.raises(KeystoreUnavailable, match="disabled"):
        backend.wrap("store-v1", os.urandom(32))


def test_env_var_naming_a_non_viable_backend_is_not_swapped(tmp_path: Path, headless, monkeypatch) -> None:
    monkeypatch.setenv(ENV_VAR, "keyring")
    backend = select_backend(APP_ID, tmp_path, passphrase="pw")
    assert isinstance(backend, FailKeystore)
    with pytest.raises(KeystoreUnavailable, match="No recommended backend was available"):
        backend.wrap("store-v1", os.urandom(32))


def test_env_var_overrides_preferred(tmp_path: Path, fake_keyring, monkeypatch) -> None:
    monkeypatch.setenv(ENV_VAR, "passphrase")
    backend = select_backend(APP_ID, tmp_path, passphrase="pw", preferred="keyring")
    assert isinstance(backend, PassphraseKeystore)


def test_preferred_backend_is_used(tmp_path: Path, fake_keyring) -> None:
    backend = select_backend(APP_ID, tmp_path, passphrase="pw", preferred="passphrase")
    assert isinstance(backend, PassphraseKeystore)


def test_unknown_backend_name_is_a_config_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(ENV_VAR, "plaintext")
    with pytest.raises(ConfigError, match="unknown keystore backend 'plaintext'"):
        select_backend(APP_ID, tmp_path)


def test_empty_app_id_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        select_backend("", tmp_path)


def test_selection_timeout_reaches_the_keyring_backend(tmp_path: Path, fake_keyring) -> None:
    backend = select_backend(APP_ID, tmp_path, timeout=1.5)
    assert isinstance(backend, KeyringKeystore) and backend.timeout == 1.5


# -- platform backends off their platform ------------------------------------------------


def test_android_and_ios_are_not_viable_here_and_say_why() -> None:
    from sdk.storage.backends.android import AndroidKeystore
    from sdk.storage.backends.ios import IosKeychainKeystore

    assert AndroidKeystore.viable() == (False, "not running on Android")
    assert IosKeychainKeystore.viable() == (False, "not running on iOS")


def test_env_var_android_off_android_fails_loudly(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(ENV_VAR, "android")
    with pytest.raises(KeystoreUnavailable, match="not running on Android"):
        select_backend(APP_ID, tmp_path).wrap("store-v1", os.urandom(32))


def test_platform_libraries_are_imported_only_when_used() -> None:
    code = (
        "import sys, pathlib, tempfile\n"
        "import sdk.storage, sdk.storage.keystore, sdk.storage.store, sdk.storage.cookies\n"
        "import sdk.storage.backends.android, sdk.storage.backends.ios\n"
        "import sdk.storage.backends.os_keyring, sdk.storage.backends.passphrase\n"
        "heavy = ('jnius', 'pyobjus', 'keyring', 'requests', 'kivy')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_import_sdk_storage_is_cheap() -> None:
    code = "import sys, sdk.storage\nprint('cryptography' in sys.modules)\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
