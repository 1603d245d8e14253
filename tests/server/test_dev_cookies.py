"""The dev-only cookie endpoints (``/v1/dev/cookies/...``): what they send, and that they
exist only in dev mode. The SDK side is tested in tests/integration/test_cookie_cases.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from server_stub.__main__ import build_parser
from server_stub.routes.dev_cookies import CASES, COOKIE_NAMES, REDIRECT_COOKIE
from server_stub.runner import RunningServer, start_in_thread
from server_stub.settings import Settings
from server_stub.testing import https_session

BASE = "/v1/dev/cookies"

EXPECTED_ATTRIBUTES = {
    "persistent": ("Max-Age=3600", "Path=/", "Secure", "HttpOnly", "SameSite=Strict"),
    "session": ("Path=/", "Secure", "HttpOnly", "SameSite=Lax"),
    "host_only": ("Max-Age=3600", "Path=/"),
    "domain": ("Max-Age=3600", "Path=/", "Domain=127.0.0.1"),
    "expire": ("Max-Age=0", "Path=/"),
    "secure_flags": ("Expires=", "GMT", "Secure", "HttpOnly", "SameSite=None"),
    "path": ("Max-Age=3600", "Path=/v1/dev/cookies/echo"),
}


@pytest.mark.parametrize("case", CASES)
def test_each_case_sets_its_cookie(client: requests.Session, stub: RunningServer, case: str) -> None:
    answer = client.get(f"{stub.url}{BASE}/set", params={"case": case}, timeout=10)
    assert answer.status_code == 200
    assert answer.json() == {"case": case, "name": COOKIE_NAMES[case]}
    header = answer.headers["Set-Cookie"]
    assert header.startswith(f"{COOKIE_NAMES[case]}=")
    for attribute in EXPECTED_ATTRIBUTES[case]:
        assert attribute in header
    if case in ("session", "host_only"):
        assert "Expires" not in header and ("Max-Age" in header) == (case == "host_only")
    if case != "domain":
        assert "Domain" not in header


def test_unknown_case_is_refused(client: requests.Session, stub: RunningServer) -> None:
    answer = client.get(f"{stub.url}{BASE}/set", params={"case": "nope"}, timeout=10)
    assert answer.status_code == 422
    assert answer.json()["error"] == "invalid_request"
    assert "Set-Cookie" not in answer.headers


@pytest.mark.parametrize("status", [302, 307])
def test_redirect_sets_a_cookie_on_the_redirect_itself(client: requests.Session, stub: RunningServer,
                                                       status: int) -> None:
    answer = client.get(f"{stub.url}{BASE}/redirect", params={"status": status},
                        allow_redirects=False, timeout=10)
    assert answer.status_code == status
    assert answer.headers["Location"] == f"{BASE}/echo"
    assert answer.headers["Set-Cookie"].startswith(f"{REDIRECT_COOKIE}=")


def test_echo_answers_names_never_values(client: requests.Session, stub: RunningServer) -> None:
    answer = client.get(f"{stub.url}{BASE}/echo", headers={"Cookie": "b=secret-1; a=secret-2"}, timeout=10)
    assert answer.json() == {"names": ["a", "b"]}
    assert "secret" not in answer.text


def test_dev_endpoints_are_not_in_the_openapi_document(client: requests.Session, stub: RunningServer) -> None:
    paths = client.get(f"{stub.url}/openapi.json", timeout=10).json()["paths"]
    assert not [p for p in paths if p.startswith("/v1/dev")]


def test_dev_endpoints_answer_404_without_dev_mode(tmp_path: Path, policy_dir: Path) -> None:
    settings = Settings(data_dir=tmp_path / "prod", policy_dir=policy_dir)
    with start_in_thread(settings) as server, https_session(server) as session:
        for path in ("/set?case=persistent", "/redirect", "/echo"):
            answer = session.get(f"{server.url}{BASE}{path}", allow_redirects=False, timeout=10)
            assert answer.status_code == 404
            assert answer.json()["error"] == "not_found"
            assert "Set-Cookie" not in answer.headers


def test_dev_mode_is_off_by_default_and_dev_flag_turns_it_on(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path).dev_mode is False
    assert build_parser().parse_args(["--data-dir", str(tmp_path)]).dev is False
    assert build_parser().parse_args(["--data-dir", str(tmp_path), "--dev"]).dev is True
