"""Identity check again (step-up) on the stub: ``POST /v1/me/identity-checks`` and the
``Identity-Token`` header (docs/protocol.md, "Data-subject rights and cancellation"; OBL-DSR-1).

The helpers at the top are shared by the other ``test_rights_*`` files."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from server_stub.runner import RunningServer, start_in_thread
from server_stub.settings import Settings
from server_stub.testing import https_session, write_policy_dir

from .conftest import ACCOUNT_PASSWORD

NewAccount = Callable[[], requests.Session]


# -- helpers (shared) ------------------------------------------------------------------------


def check_identity(session: requests.Session, url: str,
                   password: str = ACCOUNT_PASSWORD) -> requests.Response:
    """``POST /v1/me/identity-checks``."""
    return session.post(f"{url}/v1/me/identity-checks", json={"password": password}, timeout=10)


def identity_token(session: requests.Session, url: str) -> str:
    answer = check_identity(session, url)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["identity_token"])


def rights_request(session: requests.Session, url: str, body: dict[str, Any],
                   token: str | None = None, key: str | None = None) -> requests.Response:
    """``POST /v1/me/rights-requests`` with a fresh identity token unless *token* is given."""
    headers = {"Idempotency-Key": key or str(uuid.uuid4()),
               "Identity-Token": token if token is not None else identity_token(session, url)}
    return session.post(f"{url}/v1/me/rights-requests", json=body, headers=headers, timeout=10)


def export(session: requests.Session, url: str, token: str | None = None) -> requests.Response:
    token = token if token is not None else identity_token(session, url)
    return session.get(f"{url}/v1/me/export", headers={"Identity-Token": token}, timeout=10)


class Clock:
    """The server's clock (``Settings.clock``), seconds; moved by the test."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self.now = start.timestamp() if start is not None else time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@contextmanager
def clocked(tmp_path: Path, clock: Clock) -> Iterator[RunningServer]:
    """A dev-mode stub with *clock*; sessions last a year so the clock can move far."""
    settings = Settings(data_dir=tmp_path / "stub-data", dev_mode=True, clock=clock,
                        policy_dir=write_policy_dir(tmp_path / "policy"),
                        session_ttl_seconds=400 * 24 * 3600)
    with start_in_thread(settings) as server:
        yield server


@contextmanager
def account_on(server: RunningServer, identifier: str | None = None) -> Iterator[requests.Session]:
    """A session logged in to a new account (email unless *identifier* is given)."""
    identifier = identifier or f"user-{uuid.uuid4().hex[:10]}@example.com"
    with https_session(server) as session:
        created = session.post(f"{server.url}/v1/accounts", timeout=10,
                               json={"identifier": identifier, "password": ACCOUNT_PASSWORD},
                               headers={"Idempotency-Key": str(uuid.uuid4())})
        assert created.status_code == 201, created.text
        login = session.post(f"{server.url}/v1/sessions", timeout=10,
                             json={"identifier": identifier, "password": ACCOUNT_PASSWORD})
        assert login.status_code == 200, login.text
        session.account_id = created.json()["account_id"]  # type: ignore[attr-defined]
        session.identifier = identifier  # type: ignore[attr-defined]
        yield session


# -- POST /v1/me/identity-checks -------------------------------------------------------------


def test_identity_check_with_the_right_password_gives_a_token(  # OBL-DSR-1
        stub: RunningServer, new_account: NewAccount) -> None:
    answer = check_identity(new_account(), stub.url)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert len(body["identity_token"]) >= 43
    verified = dt.datetime.fromisoformat(body["verified_at"].replace("Z", "+00:00"))
    expires = dt.datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert expires - verified == dt.timedelta(minutes=10)
    assert answer.headers["Cache-Control"] == "no-store"


def test_identity_check_with_a_wrong_password_is_refused(  # OBL-DSR-1
        stub: RunningServer, new_account: NewAccount) -> None:
    answer = check_identity(new_account(), stub.url, "Wrong-password-123!")
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_credentials"
    assert "Wrong-password" not in answer.text


def test_identity_check_needs_a_session(stub: RunningServer,  # OBL-DSR-1
                                        client: requests.Session) -> None:
    answer = check_identity(client, stub.url)
    assert answer.status_code == 401
    assert answer.json()["error"] == "not_logged_in"


def test_identity_checks_are_throttled_like_login(  # OBL-DSR-1
        stub: RunningServer, new_account: NewAccount) -> None:
    session = new_account()
    for _ in range(5):  # Settings.login_max_failures_per_account
        assert check_identity(session, stub.url, "Wrong-password-123!").status_code == 401
    answer = check_identity(session, stub.url)  # even the right password waits now
    assert answer.status_code == 429
    assert answer.json()["error"] == "too_many_attempts"
    assert int(answer.headers["Retry-After"]) > 0


def test_a_request_without_identity_token_is_refused(  # OBL-DSR-1
        stub: RunningServer, new_account: NewAccount) -> None:
    session = new_account()
    answer = session.post(f"{stub.url}/v1/me/rights-requests", json={"kind": "access"},
                          headers={"Idempotency-Key": str(uuid.uuid4())}, timeout=10)
    assert answer.status_code == 403
    assert answer.json()["error"] == "identity_check_required"
    assert "/v1/me/identity-checks" in answer.json()["message"]


def test_an_expired_identity_token_is_refused(tmp_path: Path) -> None:  # OBL-DSR-1
    clock = Clock()
    with clocked(tmp_path, clock) as server, account_on(server) as session:
        token = identity_token(session, server.url)
        assert rights_request(session, server.url, {"kind": "access"}, token).status_code == 201
        clock.advance(10 * 60 + 1)
        answer = rights_request(session, server.url, {"kind": "access"}, token)
        assert answer.status_code == 403
        assert answer.json()["error"] == "identity_check_required"


def test_a_token_serves_several_requests_within_its_time(  # OBL-DSR-1
        stub: RunningServer, new_account: NewAccount) -> None:
    session = new_account()
    token = identity_token(session, stub.url)
    for kind in ("access", "export"):
        assert rights_request(session, stub.url, {"kind": kind}, token).status_code == 201
    assert export(session, stub.url, token).status_code == 200


def test_another_accounts_identity_token_is_refused(  # OBL-DSR-1
        stub: RunningServer, new_account: NewAccount) -> None:
    mine, theirs = new_account(), new_account()
    their_token = identity_token(theirs, stub.url)
    answer = rights_request(mine, stub.url, {"kind": "access"}, their_token)
    assert answer.status_code == 403
    assert answer.json()["error"] == "identity_check_required"
    assert export(mine, stub.url, their_token).status_code == 403


def test_the_identity_token_is_stored_only_as_a_hash(  # OBL-DSR-1
        stub: RunningServer, new_account: NewAccount) -> None:
    token = identity_token(new_account(), stub.url)
    database = Path(stub.data_dir) / "stub.db"
    stored = b"".join(p.read_bytes() for p in database.parent.glob("stub.db*"))
    assert token.encode() not in stored
