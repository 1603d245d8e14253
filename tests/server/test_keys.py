"""GET /v1/keys/hpke, the key files, the pins and rotation (docs/protocol.md "End-to-end encryption")."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
import requests

from sdk.transport import envelope as e
from server_stub.hpke import (
    HPKE_KEYS,
    HPKE_PINS,
    HpkeKeyError,
    KeyRing,
    ensure_hpke_keys,
    rotate_hpke_key,
)
from server_stub.runner import RunningServer, start_in_thread
from server_stub.settings import Settings
from server_stub.testing import https_session


def _keys(client: requests.Session, stub: RunningServer) -> list[e.EnvelopeKey]:
    answer = client.get(f"{stub.url}/v1/keys/hpke", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-cache"
    return e.parse_key_list(answer.json())


def test_one_current_xwing_key_is_published(stub: RunningServer, client: requests.Session) -> None:
    (key,) = _keys(client, stub)
    assert key.status == "current"
    assert key.suite == e.SUITE_MLKEM768_X25519
    assert len(key.public_key) == 1216
    assert stub.hpke_pins == (key.fingerprint,)


def test_the_answer_is_anonymous_and_holds_no_secret(stub: RunningServer, client: requests.Session) -> None:
    answer = client.get(f"{stub.url}/v1/keys/hpke", timeout=10)
    entry = answer.json()["keys"][0]
    assert set(entry) == {"kid", "kem", "kdf", "aead", "public_key", "fingerprint", "status"}
    stored = json.loads((stub.data_dir / HPKE_KEYS).read_text())["keys"][0]
    assert stored["secret"] not in answer.text
    assert "Set-Cookie" not in answer.headers


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_key_file_is_private_and_pins_file_lists_the_fingerprints(stub: RunningServer) -> None:
    assert stat.S_IMODE((stub.data_dir / HPKE_KEYS).stat().st_mode) == 0o600
    lines = (stub.data_dir / HPKE_PINS).read_text().splitlines()
    assert tuple(line for line in lines if not line.startswith("#")) == stub.hpke_pins


def test_keys_survive_a_restart(tmp_path: Path, policy_dir: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", policy_dir=policy_dir)
    with start_in_thread(settings) as first:
        pins = first.hpke_pins
    with start_in_thread(settings) as second:
        assert second.hpke_pins == pins


def test_rotation_retires_the_old_key_and_keeps_publishing_it(stub: RunningServer, client: requests.Session) -> None:
    (old,) = _keys(client, stub)
    new = rotate_hpke_key(stub.data_dir)
    keys = _keys(client, stub)  # the running server sees the rotation at once
    assert [(k.kid, k.status) for k in keys] == [(new.kid, "current"), (old.kid, "retired")]
    assert stub.hpke_pins == (new.fingerprint, old.fingerprint)
    assert e.select_current_key(keys, stub.hpke_pins).kid == new.kid


def test_dev_rotate_endpoint(stub: RunningServer, client: requests.Session) -> None:
    (old,) = _keys(client, stub)
    answer = client.post(f"{stub.url}/v1/dev/keys/hpke/rotate", timeout=10)
    assert answer.status_code == 200
    body = answer.json()
    assert body["pins"] == [body["fingerprint"], old.fingerprint]


def test_dev_rotate_is_404_outside_dev_mode(tmp_path: Path, policy_dir: Path) -> None:
    with start_in_thread(Settings(data_dir=tmp_path / "data", policy_dir=policy_dir)) as server:
        with https_session(server) as session:
            answer = session.post(f"{server.url}/v1/dev/keys/hpke/rotate", timeout=10)
            assert answer.status_code == 404
            assert answer.json()["error"] == "not_found"
        assert len(server.hpke_pins) == 1


def test_x25519_keys_on_request(tmp_path: Path, policy_dir: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", policy_dir=policy_dir, hpke_kem="X25519")
    with start_in_thread(settings) as server, https_session(server) as session:
        (key,) = e.parse_key_list(session.get(f"{server.url}/v1/keys/hpke", timeout=10).json())
        assert key.suite == e.SUITE_X25519


def test_ring_opens_with_retired_keys(tmp_path: Path) -> None:
    tmp_path.mkdir(exist_ok=True)
    ring = ensure_hpke_keys(tmp_path)
    old = ring.current()
    assert old is not None
    sealed = e.seal_field(old.public_key(), "x", field="f", submission="s", purpose="p", consent_id="c")
    rotate_hpke_key(tmp_path)
    fresh = KeyRing(tmp_path)
    assert fresh.lookup(old.kid).status == "retired"
    assert e.open_field(fresh.lookup, sealed, kid=old.kid, field="f", submission="s",
                        purpose="p", consent_id="c") == b"x"


def test_a_damaged_key_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / HPKE_KEYS).write_text("{not json")
    with pytest.raises(HpkeKeyError, match="hpke-keys.json"):
        ensure_hpke_keys(tmp_path)
