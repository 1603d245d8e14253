"""The ``Data-Region`` header on every answer of the stub (OBL-RES-1, server half; docs/protocol.md,
"Customer service, notifications, invitations, notices, data region")."""

from __future__ import annotations

import asyncio
import queue
import re
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from server_stub.app import create_app
from server_stub.runner import RunningServer, start_in_thread
from server_stub.settings import Settings
from server_stub.testing import https_session


def test_a_success_carries_the_region(stub: RunningServer, client: requests.Session) -> None:  # OBL-RES-1
    # OBL-RES-1
    answer = client.get(f"{stub.url}/v1/health", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Data-Region"] == "CN"


def test_a_post_with_a_body_carries_the_region(stub: RunningServer, client: requests.Session) -> None:  # OBL-RES-1
    # OBL-RES-1: the answers of the requests that send data say where it is kept
    answer = client.post(f"{stub.url}/v1/accounts",
                         json={"identifier": "region@example.com", "password": "Xk9#mQ2vLp8w-river"},
                         headers={"Idempotency-Key": str(uuid.uuid4())}, timeout=10)
    assert answer.status_code == 201, answer.text
    assert answer.headers["Data-Region"] == "CN"


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/v1/no-such-path", 404),
    ("GET", "/v1/me", 401),
    ("GET", "/v1/consent-records", 422),
    ("DELETE", "/v1/health", 405),
    ("POST", "/v1/me/support-messages", 400),
    ("GET", "/v1/templates/mortgage", 404),
])
def test_an_error_carries_the_region(stub: RunningServer, client: requests.Session, method: str,
                                     path: str, status: int) -> None:  # OBL-RES-1
    # OBL-RES-1 (errors included)
    answer = client.request(method, f"{stub.url}{path}", timeout=10)
    assert answer.status_code == status
    assert answer.headers["Data-Region"] == "CN"


def test_the_header_is_sent_once(stub: RunningServer, client: requests.Session) -> None:  # OBL-RES-1
    # OBL-RES-1
    answer = client.get(f"{stub.url}/v1/templates", timeout=10)
    assert answer.raw.headers.getlist("Data-Region") == ["CN"]


def test_the_configured_region_is_answered(tmp_path: Path, policy_dir: Path) -> None:  # OBL-RES-1
    # OBL-RES-1: Settings.data_region
    settings = Settings(data_dir=tmp_path / "sg", policy_dir=policy_dir, data_region="SG")
    with start_in_thread(settings) as server, https_session(server) as session:
        assert session.get(f"{server.url}/v1/health", timeout=10).headers["Data-Region"] == "SG"


@pytest.mark.parametrize("bad", ["", "cn", "C", "CN DROP", "中国", "X" * 17])
def test_a_malformed_region_is_refused_by_the_settings(tmp_path: Path, bad: str) -> None:  # OBL-RES-1
    # OBL-RES-1: the value becomes a header; nothing else goes in it
    with pytest.raises(ValueError, match="data_region"):
        Settings(data_dir=tmp_path, data_region=bad)


def _call(app: Any, path: str) -> list[dict[str, Any]]:
    """One plain ASGI GET of *path* on *app*; the messages it sent."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "https", "path": path, "raw_path": path.encode(), "query_string": b"",
             "root_path": "", "headers": [(b"host", b"127.0.0.1")],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 443)}
    try:
        asyncio.run(app(scope, receive, send))
    except RuntimeError:
        pass  # Starlette re-raises the handler's exception after answering 500
    return sent


def test_a_server_error_carries_the_region(tmp_path: Path, policy_dir: Path) -> None:  # OBL-RES-1
    # OBL-RES-1: even a 500 (answered outside every other middleware)
    app = create_app(Settings(data_dir=tmp_path / "d", policy_dir=policy_dir))

    @app.get("/v1/broken-for-this-test")
    def broken() -> None:
        raise RuntimeError("bug")

    start = next(m for m in _call(app, "/v1/broken-for-this-test") if m["type"] == "http.response.start")
    assert start["status"] == 500
    assert (b"data-region", b"CN") in start["headers"]


def test_the_command_line_sets_the_region(tmp_path: Path, policy_dir: Path) -> None:  # OBL-RES-1
    # OBL-RES-1: --data-region
    proc = subprocess.Popen(
        [sys.executable, "-m", "server_stub", "--data-dir", str(tmp_path / "cli"), "--port", "0",
         "--policy-dir", str(policy_dir), "--data-region", "sg"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: lines.put(proc.stdout.readline()),  # type: ignore[union-attr]
                         daemon=True).start()
        match = re.match(r"^server_stub listening on (\S+)  \(CA: (.+)\)$",
                         lines.get(timeout=30).rstrip("\n"))
        assert match, "listening line missing"
        answer = requests.get(f"{match.group(1)}/v1/health", verify=match.group(2), timeout=10)
        assert answer.headers["Data-Region"] == "SG"
    finally:
        proc.kill()
        proc.communicate(timeout=30)


def test_the_command_line_refuses_a_malformed_region(tmp_path: Path) -> None:  # OBL-RES-1
    # OBL-RES-1
    done = subprocess.run(
        [sys.executable, "-m", "server_stub", "--data-dir", str(tmp_path), "--data-region", "C N"],
        check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "--data-region" in done.stderr
