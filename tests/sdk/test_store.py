"""The encrypted store, on real SQLite files, with real AES-GCM and real keystore wrapping.

The only fake is :class:`sdk.testing.keystore.MemoryKeystore` (the OS edge); the crash test
uses the real passphrase backend so that a killed child process and the test share a key.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import os
import random
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from sdk.errors import (
    ConfigError,
    IntegrityError,
    KeystoreError,
    KeystoreUnavailable,
    StorageError,
    UndeclaredPurpose,
)
from sdk.policy.manifest import Manifest, parse_manifest
from sdk.storage.backends.fail import FailKeystore
from sdk.storage.backends.passphrase import PassphraseKeystore
from sdk.storage.store import EncryptedStore, Entry
from sdk.testing.keystore import MemoryKeystore

REPO = Path(__file__).resolve().parents[2]

MANIFEST_TOML = """
version = "test.1"
effective_date = 2026-01-01
language = "en"
major_changes = []

[controller]
name = "Test Co"
contact_email = "privacy@test.example"
address = "1 Test Road"

[[purposes]]
id = "account"
name = "Account"
description = "keep you logged in"
lawful_basis = "contract"

[[purposes]]
id = "preferences"
name = "Preferences"
description = "remember your settings"
lawful_basis = "consent"

[[purposes]]
id = "otp"
name = "One-time codes"
description = "short-lived codes"
lawful_basis = "contract"

[[purposes]]
id = "analytics"
name = "Analytics"
description = "declared, but no data item lists it"
lawful_basis = "consent"

[[data_items]]
id = "login_state"
name = "Login state"
category = "account"
sensitive = false
purposes = ["account"]
lawful_basis = "contract"
retention = "until_account_cancelled"

[[data_items]]
id = "ui_prefs"
name = "UI preferences"
category = "settings"
sensitive = false
purposes = ["preferences"]
lawful_basis = "consent"
retention = "P30D"

[[data_items]]
id = "pref_history"
name = "Preference history"
category = "settings"
sensitive = false
purposes = ["preferences"]
lawful_basis = "consent"
retention = "P1Y"

[[data_items]]
id = "otp_code"
name = "One-time code"
category = "account"
sensitive = false
purposes = ["otp"]
lawful_basis = "contract"
retention = "PT1H"
"""

START = dt.datetime(2026, 12, 1, 8, 0, 0, tzinfo=dt.timezone.utc)


def make_manifest() -> Manifest:
    """The test manifest: purposes account / preferences / otp / analytics."""
    return parse_manifest(MANIFEST_TOML, "test-manifest.toml")


class Clock:
    """A settable clock; ``advance(**timedelta_kwargs)`` moves it on."""

    def __init__(self, now: dt.datetime = START) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def manifest() -> Manifest:
    return make_manifest()


@pytest.fixture
def keystore() -> MemoryKeystore:
    return MemoryKeystore()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "store.db"


@pytest.fixture
def store(path: Path, keystore: MemoryKeystore, manifest: Manifest, clock: Clock):
    with EncryptedStore(path, keystore, manifest, clock=clock) as s:
        yield s


def _sql(path: Path, statement: str, *args: object) -> list[tuple]:
    """Run SQL on the store's file directly (as an attacker with file access would)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        return conn.execute(statement, args).fetchall()
    finally:
        conn.close()


# -- basics ------------------------------------------------------------------------------


def test_round_trip_bytes(store: EncryptedStore) -> None:
    store.put("profile", "avatar", b"\x00\x01binary\xff", purpose="account")
    assert store.get("profile", "avatar") == b"\x00\x01binary\xff"


def test_round_trip_text(store: EncryptedStore) -> None:
    store.put("profile", "nickname", "小明 🙂", purpose="account")
    assert store.get_text("profile", "nickname") == "小明 🙂"


def test_missing_key_is_none(store: EncryptedStore) -> None:
    assert store.get("profile", "nothing") is None
    assert store.get_text("profile", "nothing") is None


def test_put_replaces_the_earlier_value(store: EncryptedStore) -> None:
    store.put("settings", "lang", "en", purpose="preferences")
    store.put("settings", "lang", "zh-CN", purpose="preferences")
    assert store.get_text("settings", "lang") == "zh-CN"
    assert len(store.entries()) == 1


def test_values_persist_across_reopen(path, keystore, manifest, clock) -> None:
    with EncryptedStore(path, keystore, manifest, clock=clock) as first:
        first.put("settings", "lang", "zh-CN", purpose="preferences")
    with EncryptedStore(path, keystore, manifest, clock=clock) as again:
        assert again.get_text("settings", "lang") == "zh-CN"


def test_delete(store: EncryptedStore) -> None:
    store.put("settings", "lang", "en", purpose="preferences")
    assert store.delete("settings", "lang") is True
    assert store.get("settings", "lang") is None
    assert store.delete("settings", "lang") is False


def test_delete_namespace(store: EncryptedStore) -> None:
    store.put("a", "1", "x", purpose="preferences")
    store.put("a", "2", "x", purpose="preferences")
    store.put("b", "1", "x", purpose="preferences")
    assert store.delete_namespace("a") == 2
    assert [(e.namespace, e.key) for e in store.entries()] == [("b", "1")]


def test_undeclared_purpose_raises_and_stores_nothing(store: EncryptedStore) -> None:  # OBL-CK-2
    with pytest.raises(UndeclaredPurpose) as caught:
        store.put("ads", "id", "x", purpose="advertising")
    assert caught.value.purpose == "advertising"
    assert store.entries() == []


def test_entries_list_metadata_never_values(store: EncryptedStore, clock: Clock) -> None:  # OBL-CK-3
    store.put("settings", "lang", "zh-CN", purpose="preferences")
    store.put("profile", "nickname", "secret-value-123", purpose="account")
    entries = store.entries()
    assert entries == [
        Entry("profile", "nickname", "account", 16, START, None),
        Entry("settings", "lang", "preferences", 5, START, START.replace(year=2027)),
    ]
    assert "secret-value-123" not in repr(entries)
    assert [e.key for e in store.entries("settings")] == ["lang"]


def test_bad_arguments_are_rejected(store: EncryptedStore) -> None:
    with pytest.raises(ValueError):
        store.put("", "k", "v", purpose="account")
    with pytest.raises(TypeError):
        store.put("n", "k", 42, purpose="account")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timezone-aware"):
        store.put("n", "k", "v", purpose="account", expires_at=dt.datetime(2030, 1, 1))


def test_file_is_owner_only(store: EncryptedStore, path: Path) -> None:  # OBL-SEC-2
    store.put("profile", "nickname", "x", purpose="account")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_closed_store_raises_storage_error(store: EncryptedStore) -> None:
    store.close()
    with pytest.raises(StorageError, match="closed"):
        store.get("a", "b")


# -- retention (OBL-SEC-3) -----------------------------------------------------------------


def test_default_expiry_is_the_longest_retention_of_the_purpose(store: EncryptedStore) -> None:  # OBL-SEC-3
    entry = store.put("settings", "lang", "en", purpose="preferences")  # P30D and P1Y -> P1Y
    assert entry is not None and entry.expires_at == START.replace(year=2027)


def test_until_account_cancelled_means_no_expiry(store: EncryptedStore) -> None:  # OBL-SEC-3
    entry = store.put("session", "token", "t", purpose="account")
    assert entry is not None and entry.expires_at is None


def test_purpose_without_data_items_has_no_expiry(store: EncryptedStore) -> None:
    entry = store.put("stats", "opt", "t", purpose="analytics")
    assert entry is not None and entry.expires_at is None


def test_explicit_expiry_is_kept_when_shorter(store: EncryptedStore) -> None:
    wanted = START + dt.timedelta(minutes=5)
    entry = store.put("otp", "code", "123456", purpose="otp", expires_at=wanted)
    assert entry is not None and entry.expires_at == wanted


def test_explicit_expiry_is_capped_at_the_retention(store: EncryptedStore) -> None:  # OBL-SEC-3
    entry = store.put("otp", "code", "123456", purpose="otp",
                      expires_at=START + dt.timedelta(days=30))
    assert entry is not None and entry.expires_at == START + dt.timedelta(hours=1)


def test_expired_value_is_absent_and_purged(store: EncryptedStore, clock: Clock, path: Path) -> None:  # OBL-SEC-3
    store.put("otp", "code", "123456", purpose="otp")
    clock.advance(hours=1, seconds=1)
    assert store.get("otp", "code") is None
    assert _sql(path, "SELECT COUNT(*) FROM items") == [(0,)]


def test_purge_expired_counts_and_keeps_the_rest(store: EncryptedStore, clock: Clock) -> None:  # OBL-SEC-3
    store.put("otp", "a", "1", purpose="otp")
    store.put("otp", "b", "2", purpose="otp")
    store.put("settings", "lang", "en", purpose="preferences")
    clock.advance(hours=2)
    assert store.purge_expired() == 2
    assert [e.key for e in store.entries()] == ["lang"]


def test_expired_values_are_purged_on_open(path, keystore, manifest, clock) -> None:  # OBL-SEC-3
    with EncryptedStore(path, keystore, manifest, clock=clock) as first:
        first.put("otp", "code", "1", purpose="otp")
    clock.advance(days=1)
    with EncryptedStore(path, keystore, manifest, clock=clock):
        assert _sql(path, "SELECT COUNT(*) FROM items") == [(0,)]


def test_already_expired_put_stores_nothing_and_removes_the_old_value(store: EncryptedStore) -> None:
    store.put("otp", "code", "1", purpose="otp")
    assert store.put("otp", "code", "2", purpose="otp", expires_at=START) is None
    assert store.get("otp", "code") is None


def test_naive_clock_is_a_config_error(path, keystore, manifest) -> None:
    with pytest.raises(ConfigError, match="aware"):
        EncryptedStore(path, keystore, manifest, clock=lambda: dt.datetime(2026, 1, 1))


# -- integrity ---------------------------------------------------------------------------


def _reopen(path, keystore, manifest, clock) -> EncryptedStore:
    return EncryptedStore(path, keystore, manifest, clock=clock)


def test_flipped_ciphertext_byte_names_the_key_and_spares_the_others(
    store, path, keystore, manifest, clock
) -> None:
    store.put("profile", "nickname", "alice", purpose="account")
    store.put("settings", "lang", "en", purpose="preferences")
    store.close()
    (sealed,) = _sql(path, "SELECT ciphertext FROM items WHERE key = 'nickname'")[0]
    flipped = bytearray(sealed)
    flipped[0] ^= 0x80
    _sql(path, "UPDATE items SET ciphertext = ? WHERE key = 'nickname'", bytes(flipped))
    with _reopen(path, keystore, manifest, clock) as again:
        with pytest.raises(IntegrityError) as caught:
            again.get("profile", "nickname")
        assert caught.value.key == "profile/nickname"
        assert "profile/nickname" in str(caught.value) and "alice" not in str(caught.value)
        assert again.get_text("settings", "lang") == "en"


def test_swapped_rows_fail(store, path, keystore, manifest, clock) -> None:
    store.put("profile", "a", "value-a", purpose="account")
    store.put("profile", "b", "value-b", purpose="account")
    store.close()
    rows = dict((k, (n, c)) for k, n, c in _sql(path, "SELECT key, nonce, ciphertext FROM items"))
    for key, other in (("a", "b"), ("b", "a")):
        _sql(path, "UPDATE items SET nonce = ?, ciphertext = ? WHERE key = ?", *rows[other], key)
    with _reopen(path, keystore, manifest, clock) as again:
        for key in ("a", "b"):
            with pytest.raises(IntegrityError, match=f"profile/{key}"):
                again.get("profile", key)


def test_value_moved_to_another_namespace_fails(store, path, keystore, manifest, clock) -> None:
    store.put("profile", "token", "t1", purpose="account")
    store.close()
    _sql(path, "UPDATE items SET namespace = 'other'")
    _sql(path, "INSERT INTO versions SELECT 'other', key, version FROM versions")
    with _reopen(path, keystore, manifest, clock) as again:
        with pytest.raises(IntegrityError, match="other/token"):
            again.get("other", "token")


def test_restored_older_row_is_detected(store, path, keystore, manifest, clock) -> None:
    store.put("account", "balance", "100", purpose="account")
    old = _sql(path, "SELECT * FROM items")[0]
    store.put("account", "balance", "5", purpose="account")
    store.close()
    _sql(path, "DELETE FROM items")
    _sql(path, "INSERT INTO items VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", *old)
    with _reopen(path, keystore, manifest, clock) as again:
        with pytest.raises(IntegrityError, match="account/balance"):
            again.get("account", "balance")


def test_deleted_row_cannot_be_restored(store, path, keystore, manifest, clock) -> None:
    store.put("account", "token", "t", purpose="account")
    old = _sql(path, "SELECT * FROM items")[0]
    store.delete("account", "token")
    store.put("account", "token", "t2", purpose="account")
    store.delete("account", "token")
    store.close()
    _sql(path, "INSERT INTO items VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", *old)
    with _reopen(path, keystore, manifest, clock) as again:
        with pytest.raises(IntegrityError):
            again.get("account", "token")


def test_altered_expiry_or_purpose_fails(store, path, keystore, manifest, clock) -> None:  # OBL-SEC-3
    store.put("otp", "code", "1", purpose="otp")
    store.put("otp", "other", "2", purpose="otp")
    store.close()
    _sql(path, "UPDATE items SET expires_at = NULL WHERE key = 'code'")  # keep it forever?
    _sql(path, "UPDATE items SET purpose = 'account' WHERE key = 'other'")
    with _reopen(path, keystore, manifest, clock) as again:
        with pytest.raises(IntegrityError):
            again.get("otp", "code")
        with pytest.raises(IntegrityError):
            again.get("otp", "other")


def test_integrity_failure_logs_the_name_not_the_value(store, path, keystore, manifest, clock, caplog) -> None:
    store.put("profile", "nickname", "alice-secret", purpose="account")
    store.close()
    _sql(path, "UPDATE items SET ciphertext = zeroblob(length(ciphertext))")
    caplog.set_level(logging.DEBUG)
    with _reopen(path, keystore, manifest, clock) as again:
        with pytest.raises(IntegrityError):
            again.get("profile", "nickname")
    assert "profile/nickname" in caplog.text and "alice-secret" not in caplog.text


# -- keys --------------------------------------------------------------------------------


def test_only_the_wrapped_data_key_is_in_the_file(store, path, keystore) -> None:  # OBL-SEC-2
    ((blob,),) = _sql(path, "SELECT value FROM meta WHERE key = 'dek.wrapped'")
    assert len(blob) == 1 + 40  # format byte + RFC 3394 wrap of 32 bytes
    assert keystore.key_ids == ("store-v1",)


def test_other_keystore_cannot_open_the_store(store, path, manifest, clock) -> None:
    store.put("profile", "nickname", "x", purpose="account")
    store.close()
    with pytest.raises(KeystoreError):
        EncryptedStore(path, MemoryKeystore(), manifest, clock=clock)


def test_fail_backend_refuses_to_open_a_store(path, manifest, clock) -> None:  # OBL-SEC-2
    with pytest.raises(KeystoreUnavailable):
        EncryptedStore(path, FailKeystore({"keyring": "No recommended backend was available"}),
                       manifest, clock=clock)


def test_wrong_passphrase_cannot_open_the_store(tmp_path, path, manifest, clock) -> None:
    with EncryptedStore(path, PassphraseKeystore(tmp_path, "right"), manifest, clock=clock) as s:
        s.put("profile", "nickname", "x", purpose="account")
    with pytest.raises(KeystoreError, match="wrong passphrase"):
        EncryptedStore(path, PassphraseKeystore(tmp_path, "wrong"), manifest, clock=clock)


def test_destroy_lets_an_unreadable_store_start_again(store, path, manifest, clock) -> None:
    store.put("profile", "nickname", "x", purpose="account")
    store.close()
    EncryptedStore.destroy(path)
    with EncryptedStore(path, MemoryKeystore(), manifest, clock=clock) as fresh:
        assert fresh.entries() == []


def test_key_id_mismatch_is_a_config_error(store, path, keystore, manifest, clock) -> None:
    store.close()
    with pytest.raises(ConfigError, match="store-v1"):
        EncryptedStore(path, keystore, manifest, clock=clock, key_id="store-v2")


# -- wipe ----------------------------------------------------------------------------------


def test_wipe_empties_the_store_and_deletes_its_key(store, path, keystore) -> None:
    store.put("profile", "nickname", "x", purpose="account")
    ((old_blob,),) = _sql(path, "SELECT value FROM meta WHERE key = 'dek.wrapped'")
    store.wipe()
    assert store.entries() == []
    assert _sql(path, "SELECT COUNT(*) FROM items") == [(0,)]
    assert _sql(path, "SELECT COUNT(*) FROM versions") == [(0,)]
    with pytest.raises(KeystoreError):  # the old wrapping key is gone
        keystore.unwrap("store-v1", old_blob)


def test_store_is_usable_after_wipe_with_a_fresh_data_key(store, path) -> None:
    ((old_blob,),) = _sql(path, "SELECT value FROM meta WHERE key = 'dek.wrapped'")
    store.wipe()
    store.put("settings", "lang", "en", purpose="preferences")
    assert store.get_text("settings", "lang") == "en"
    ((new_blob,),) = _sql(path, "SELECT value FROM meta WHERE key = 'dek.wrapped'")
    assert new_blob != old_blob


def test_copy_taken_before_wipe_cannot_be_read(store, path, keystore, manifest, clock, tmp_path) -> None:
    store.put("profile", "nickname", "alice", purpose="account")
    store.close()
    backup = tmp_path / "backup.db"
    shutil.copy(path, backup)
    with _reopen(path, keystore, manifest, clock) as again:
        again.wipe()
    with pytest.raises(KeystoreError):
        EncryptedStore(backup, keystore, manifest, clock=clock)


# -- no plaintext on disk (OBL-SEC-2) ------------------------------------------------------


def _encodings(marker: str) -> list[bytes]:
    raw = marker.encode("utf-8")
    return [raw, marker.encode("utf-16-le"), marker.encode("utf-16-be"),
            base64.b64encode(raw), raw.hex().encode()]


def _files(path: Path) -> list[Path]:
    return [p for p in path.parent.iterdir() if p.name.startswith(path.name)]


def test_no_plaintext_on_disk(store: EncryptedStore, path: Path) -> None:  # OBL-SEC-2
    marker = f"MARKER-{uuid.uuid4().hex}-身份证"
    for n in range(50):
        store.put("profile", f"k{n}", f"{marker} #{n}", purpose="account")
    files = _files(path)
    assert any(p.name.endswith("-wal") for p in files)
    for file in files:
        data = file.read_bytes()
        for needle in _encodings(marker):
            assert needle not in data, f"{file.name} contains the marker"
    store.close()
    for file in _files(path):
        data = file.read_bytes()
        for needle in _encodings(marker):
            assert needle not in data, f"{file.name} contains the marker after close"


def test_deleted_ciphertext_is_overwritten(store: EncryptedStore, path: Path) -> None:
    store.put("profile", "blob", os.urandom(16) * 64, purpose="account")
    ((sealed,),) = _sql(path, "SELECT ciphertext FROM items")
    store.delete("profile", "blob")
    store.close()  # checkpoints the WAL into the main file
    assert sealed[:64] not in path.read_bytes()


# -- threads -------------------------------------------------------------------------------


def test_eight_threads_share_one_store(store: EncryptedStore) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def work(t: int) -> None:
        try:
            barrier.wait()
            for i in range(200):
                store.put("load", f"t{t}-{i}", f"value {t} {i}", purpose="account")
                assert store.get_text("load", f"t{t}-{i}") == f"value {t} {i}"
                if i % 20 == 0:
                    store.entries("load")
        except BaseException as exc:  # collected and re-raised by the test
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert len(store.entries("load")) == 1600
    for t in range(8):
        for i in range(0, 200, 37):
            assert store.get_text("load", f"t{t}-{i}") == f"value {t} {i}"


# -- crash safety --------------------------------------------------------------------------

_CHILD = r"""
import sys
from pathlib import Path
from sdk.policy.manifest import parse_manifest
from sdk.storage.backends.passphrase import PassphraseKeystore
from sdk.storage.store import EncryptedStore

data_dir, run = Path(sys.argv[1]), sys.argv[2]
manifest = parse_manifest(Path(sys.argv[3]).read_text(encoding="utf-8"))
store = EncryptedStore(data_dir / "store.db", PassphraseKeystore(data_dir, "crash test"), manifest)
i = 0
while True:
    store.put("crash", f"{run}-{i}", (f"{run}-{i}|" * 50).encode(), purpose="account")
    print(i, flush=True)
    i += 1
"""


def test_sigkill_mid_put_never_loses_a_returned_put(tmp_path: Path, manifest: Manifest) -> None:
    data_dir = tmp_path / "data"
    manifest_path = tmp_path / "manifest.toml"
    manifest_path.write_text(MANIFEST_TOML, encoding="utf-8")
    keystore = PassphraseKeystore(data_dir, "crash test")
    EncryptedStore(data_dir / "store.db", keystore, manifest).close()  # creates the key
    rng = random.Random(3)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    confirmed: dict[str, list[int]] = {}
    started = time.monotonic()
    for run in range(24):
        name = f"r{run}"
        child = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(data_dir), name, str(manifest_path)],
            stdout=subprocess.PIPE, text=True, env=env,
        )
        assert child.stdout is not None
        wanted, done = rng.randint(1, 30), []
        for line in child.stdout:
            done.append(int(line))
            if len(done) >= wanted:
                break
        time.sleep(rng.uniform(0, 0.004))  # land somewhere inside a later put
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        child.stdout.close()
        confirmed[name] = done
        assert _sql(data_dir / "store.db", "PRAGMA integrity_check") == [("ok",)]
        with EncryptedStore(data_dir / "store.db", keystore, manifest) as store:
            for previous, indices in confirmed.items():
                for i in indices:
                    assert store.get("crash", f"{previous}-{i}") == (f"{previous}-{i}|" * 50).encode()
            for entry in store.entries("crash"):  # an unconfirmed last put: whole or absent
                store.get("crash", entry.key)
    assert time.monotonic() - started < 30
