"""start_in_thread / running_stub: start, stop, and reuse of the data dir."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
import requests
from cryptography import x509

from server_stub.runner import ServerStartError, start_in_thread
from server_stub.settings import Settings
from server_stub.testing import https_session, running_stub


def test_stop_closes_the_port(tmp_path: Path, policy_dir: Path) -> None:
    with running_stub(tmp_path, policy_dir) as server:
        port = server.port
    assert not server.running
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=5):
        pass


def test_stop_is_quick_even_with_an_idle_keep_alive_connection(tmp_path: Path, policy_dir: Path) -> None:
    server = start_in_thread(Settings(tmp_path / "data", policy_dir))
    session = https_session(server)  # left open on purpose: holds a pooled TLS connection
    session.get(f"{server.url}/v1/health", timeout=10)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 3
    session.close()


def test_restarted_server_keeps_its_ca_and_records(tmp_path: Path, policy_dir: Path, make_record) -> None:
    record = make_record()
    with running_stub(tmp_path, policy_dir) as first, https_session(first) as client:
        ca_before = x509.load_pem_x509_certificate(first.ca_path.read_bytes())
        client.post(f"{first.url}/v1/consent-records", json=record,
                    headers={"Idempotency-Key": record["record_id"]}, timeout=10)
    with running_stub(tmp_path, policy_dir) as second, https_session(second) as client:
        ca_after = x509.load_pem_x509_certificate(second.ca_path.read_bytes())
        records = client.get(f"{second.url}/v1/consent-records",
                             params={"subject_id": record["subject_id"]}, timeout=10).json()["records"]
    assert ca_after == ca_before
    assert [r["record_id"] for r in records] == [record["record_id"]]


def test_port_in_use_raises_server_start_error(tmp_path: Path, policy_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ServerStartError, match=f"127.0.0.1:{port}"):
            start_in_thread(Settings(tmp_path / "data", policy_dir, port=port))


def test_two_stubs_run_side_by_side(tmp_path: Path, policy_dir: Path) -> None:
    with running_stub(tmp_path / "a", policy_dir) as a, running_stub(tmp_path / "b", policy_dir) as b:
        assert a.port != b.port
        for server in (a, b):
            assert requests.get(f"{server.url}/v1/health", verify=server.ca_path, timeout=10).ok
        # each trusts only its own CA
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(f"{a.url}/v1/health", verify=b.ca_path, timeout=10)
