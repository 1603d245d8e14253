"""Accounts on the stub over real HTTPS: register, log in, sessions, throttling, log out.

Each test runs its own stub (own SQLite, own dev CA) in its own ``tmp_path``.
"""

from __future__ import annotations

import re
import sqlite3
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from argon2 import PasswordHasher

from server_stub.runner import RunningServer, start_in_thread
from server_stub.settings import Settings
from server_stub.testing import https_session

PHONE = "13800138000"
PHONE_E164 = "+8613800138000"
EMAIL = "Alice.Zhang@Example.com"
PASSWORD = "Xk9#mQ2vLp8w-river"
OTHER_PASSWORD = "Tz4!plum-Harbor-77"


class FakeClock:
    """Wall-clock seconds that a test moves forward by hand."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def start_stub(tmp_path: Path, policy_dir: Path) -> Iterator[Callable[..., RunningServer]]:
    """``start_stub(**settings)``: a stub with these Settings fields; stopped after the test."""
    servers: list[RunningServer] = []

    def start(**overrides: Any) -> RunningServer:
        settings = Settings(data_dir=tmp_path / f"stub-data-{len(servers)}", policy_dir=policy_dir, **overrides)
        server = start_in_thread(settings)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def _register(client: requests.Session, url: str, identifier: str = PHONE, password: str = PASSWORD,
              key: str | None = None) -> requests.Response:
    return client.post(
        f"{url}/v1/accounts",
        json={"identifier": identifier, "password": password},
        headers={"Idempotency-Key": key or str(uuid.uuid4())},
        timeout=10,
    )


def _login(client: requests.Session, url: str, identifier: str = PHONE, password: str = PASSWORD,
           **extra: Any) -> requests.Response:
    return client.post(
        f"{url}/v1/sessions",
        json={"identifier": identifier, "password": password, **extra},
        timeout=10,
    )


def _cookie_parts(set_cookie: str) -> dict[str, str]:
    """``"sid=x; Path=/; Secure"`` -> ``{"sid": "x", "path": "/", "secure": ""}`` (names lower-cased
    except the first)."""
    first, *rest = [p.strip() for p in set_cookie.split(";")]
    name, _, value = first.partition("=")
    parts = {name: value}
    for attribute in rest:
        key, _, val = attribute.partition("=")
        parts[key.lower()] = val
    return parts


def _me_with(server: RunningServer, token: str) -> requests.Response:
    """``GET /v1/me`` from a fresh client that sends exactly this session cookie."""
    with https_session(server) as other:
        return other.get(f"{server.url}/v1/me", headers={"Cookie": f"sid={token}"}, timeout=10)


def _db_bytes(server: RunningServer) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(Path(server.data_dir).glob("stub.db*")))


# -- registration ----------------------------------------------------------------------------


def test_register_phone_answers_201_with_id_and_kind(stub: RunningServer, client: requests.Session) -> None:  # OBL-ACC-1
    response = _register(client, stub.url)
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"account_id", "identifier_kind"}
    assert body["identifier_kind"] == "phone"
    assert uuid.UUID(body["account_id"]).version == 4
    assert "set-cookie" not in response.headers  # registering does not log in


def test_register_email(stub: RunningServer, client: requests.Session) -> None:  # OBL-ACC-1
    response = _register(client, stub.url, EMAIL)
    assert response.status_code == 201
    assert response.json()["identifier_kind"] == "email"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("13800138000", "+86 138 0013 8000"),
        ("138-0013-8000", "008613800138000"),
        ("Alice.Zhang@Example.com", "alice.zhang@example.COM"),
    ],
)
def test_register_twice_with_the_same_identifier_spelled_differently_is_409(
    stub: RunningServer, client: requests.Session, first: str, second: str
) -> None:
    assert _register(client, stub.url, first).status_code == 201
    response = _register(client, stub.url, second, OTHER_PASSWORD)
    assert response.status_code == 409
    assert response.json()["error"] == "account_exists"
    assert "138" not in response.text and "alice" not in response.text.lower()


def test_register_replay_and_reused_key(stub: RunningServer, client: requests.Session) -> None:
    key = str(uuid.uuid4())
    first = _register(client, stub.url, key=key)
    assert first.status_code == 201
    again = _register(client, stub.url, "+86 138 0013 8000", key=key)  # same request, other spelling
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    other_password = _register(client, stub.url, password=OTHER_PASSWORD, key=key)
    assert other_password.status_code == 409
    assert other_password.json()["error"] == "idempotency_key_reused"
    other_identifier = _register(client, stub.url, EMAIL, key=key)
    assert other_identifier.status_code == 409
    assert other_identifier.json()["error"] == "idempotency_key_reused"


def test_register_needs_an_idempotency_key(stub: RunningServer, client: requests.Session) -> None:
    response = client.post(
        f"{stub.url}/v1/accounts", json={"identifier": PHONE, "password": PASSWORD}, timeout=10
    )
    assert response.status_code == 400
    assert response.json()["error"] == "idempotency_key_required"


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("Ab3$xyz", "至少 10 个字符"),
        ("password123", "避免常见密码或键盘序列"),
        ("qwertyuiop", "避免常见密码或键盘序列"),
        ("13800138000", "不要使用手机号或邮箱作为密码"),
        ("x" + PHONE + "!Q", "不要使用手机号或邮箱作为密码"),
    ],
)
def test_weak_password_is_422_with_reasons(
    stub: RunningServer, client: requests.Session, password: str, reason: str
) -> None:  # OBL-SEC-4
    response = _register(client, stub.url, PHONE, password)
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "weak_password"
    assert any(r.startswith(reason) for r in body["reasons"]), body["reasons"]
    assert password not in response.text


@pytest.mark.parametrize(
    ("identifier", "field_hint"),
    [
        ("12345", "phone"),
        ("1390013900", "phone"),  # one digit short
        ("23800138000", "phone"),  # no such CN range
        ("010 1234 5678", "phone"),  # a landline cannot receive an SMS
        ("13800138000abc", "phone"),  # letters are not read as a keypad number
        ("alice@@example.com", "email"),
        ("alice@localhost", "email"),
        ("alice.@example.com", "email"),
        ("   ", "identifier"),
    ],
)
def test_invalid_identifier_is_422_without_echo(
    stub: RunningServer, client: requests.Session, identifier: str, field_hint: str
) -> None:
    response = _register(client, stub.url, identifier)
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_identifier"
    assert set(body) == {"error", "message"}
    assert "expected" in body["message"]
    if identifier.strip():
        assert identifier not in response.text
        assert identifier.split("@")[0] not in response.text


@pytest.mark.parametrize(
    "body",
    [
        {"identifier": PHONE, "password": PASSWORD, "name": "张伟"},
        {"identifier": PHONE, "password": PASSWORD, "id_number": "110101199003077777"},
        {"identifier": PHONE},
        {"identifier": 13800138000, "password": PASSWORD},
        ["not", "an", "object"],
    ],
)
def test_register_takes_nothing_but_identifier_and_password(
    stub: RunningServer, client: requests.Session, body: Any
) -> None:  # OBL-ACC-1
    response = client.post(
        f"{stub.url}/v1/accounts", json=body, headers={"Idempotency-Key": str(uuid.uuid4())}, timeout=10
    )
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"
    for secret in ("张伟", "110101199003077777", "id_number", "13800138000", PASSWORD):
        assert secret not in response.text


def test_password_is_stored_only_as_argon2id_hash(stub: RunningServer, client: requests.Session) -> None:  # OBL-ACC-1
    assert _register(client, stub.url).status_code == 201
    assert _login(client, stub.url).status_code == 200
    with sqlite3.connect(Path(stub.data_dir) / "stub.db") as conn:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(accounts)")]
        rows = conn.execute("SELECT identifier, password_hash, created_at FROM accounts").fetchall()
        session_columns = [row[1] for row in conn.execute("PRAGMA table_info(sessions)")]
    assert columns == ["account_id", "identifier", "password_hash", "created_at"]
    assert session_columns == ["token_sha256", "account_id", "expires_at"]
    assert len(rows) == 1
    identifier, password_hash, created_at = rows[0]
    assert identifier == PHONE_E164
    assert password_hash.startswith("$argon2id$")
    assert PasswordHasher().verify(password_hash, PASSWORD)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", created_at)
    raw = _db_bytes(stub)
    for encoded in (PASSWORD.encode("utf-8"), PASSWORD.encode("utf-16-le"), PASSWORD.encode("utf-8").hex().encode()):
        assert encoded not in raw
    token = client.cookies["sid"]
    assert token.encode() not in raw  # only the token's SHA-256 is stored


def test_login_rehashes_when_argon2_parameters_changed(stub: RunningServer, client: requests.Session) -> None:
    assert _register(client, stub.url).status_code == 201
    weak_hash = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    db = Path(stub.data_dir) / "stub.db"
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE accounts SET password_hash = ?", (weak_hash,))
    assert _login(client, stub.url).status_code == 200
    with sqlite3.connect(db) as conn:
        (stored,) = conn.execute("SELECT password_hash FROM accounts").fetchone()
    assert stored != weak_hash
    assert not PasswordHasher().check_needs_rehash(stored)
    assert _login(client, stub.url).status_code == 200


# -- login and the session cookie --------------------------------------------------------------


def test_login_sets_a_secure_httponly_samesite_session_cookie(
    stub: RunningServer, client: requests.Session
) -> None:  # OBL-SEC-4
    _register(client, stub.url)
    response = _login(client, stub.url, "+86 138-0013-8000")
    assert response.status_code == 200
    body = response.json()
    assert body["identifier_masked"] == "138****8000"
    assert body["remember_me"] is False
    assert "sid" not in response.text  # the token travels only in Set-Cookie
    assert len(response.raw.headers.getlist("set-cookie")) == 1
    cookie = _cookie_parts(response.headers["set-cookie"])
    assert set(cookie) == {"sid", "path", "secure", "httponly", "samesite"}  # no Max-Age, no Expires
    assert cookie["path"] == "/"
    assert cookie["samesite"].lower() == "strict"
    assert len(cookie["sid"]) >= 43  # 256 bits, base64url
    assert response.headers["cache-control"] == "no-store"


def test_remember_me_adds_max_age_of_30_days(stub: RunningServer, client: requests.Session) -> None:  # OBL-SEC-4
    _register(client, stub.url)
    response = _login(client, stub.url, remember_me=True)
    assert response.status_code == 200
    assert response.json()["remember_me"] is True
    cookie = _cookie_parts(response.headers["set-cookie"])
    assert cookie["max-age"] == "2592000"
    assert {"secure", "httponly"} <= set(cookie) and cookie["samesite"].lower() == "strict"


def test_remember_me_must_be_a_boolean(stub: RunningServer, client: requests.Session) -> None:
    _register(client, stub.url)
    response = _login(client, stub.url, remember_me="yes")
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"


def test_every_login_rotates_the_session_of_that_client(stub: RunningServer, client: requests.Session) -> None:
    _register(client, stub.url)
    assert _login(client, stub.url).status_code == 200
    first = client.cookies["sid"]
    with https_session(stub) as other_device:
        assert _login(other_device, stub.url).status_code == 200
        other = other_device.cookies["sid"]
    assert _login(client, stub.url).status_code == 200  # sends the first cookie along
    second = client.cookies["sid"]
    assert len({first, second, other}) == 3
    assert _me_with(stub, first).status_code == 401  # the client's old session ended
    assert _me_with(stub, second).status_code == 200
    assert _me_with(stub, other).status_code == 200  # another device's session is untouched


def test_login_is_not_replayed_by_idempotency_key(stub: RunningServer, client: requests.Session) -> None:
    _register(client, stub.url)
    key = {"Idempotency-Key": str(uuid.uuid4())}
    tokens = set()
    for _ in range(2):
        with https_session(stub) as device:
            response = device.post(
                f"{stub.url}/v1/sessions", json={"identifier": PHONE, "password": PASSWORD}, headers=key, timeout=10
            )
            assert response.status_code == 200
            tokens.add(device.cookies["sid"])
    assert len(tokens) == 2


def test_unknown_account_and_wrong_password_answer_the_same(
    stub: RunningServer, client: requests.Session
) -> None:
    _register(client, stub.url)
    wrong = _login(client, stub.url, PHONE, OTHER_PASSWORD)
    unknown = _login(client, stub.url, "13900139000", PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {
        "error": "invalid_credentials",
        "message": "the identifier or the password is wrong",
    }
    assert "set-cookie" not in wrong.headers and "set-cookie" not in unknown.headers


def test_unknown_account_takes_about_as_long_as_a_wrong_password(
    stub: RunningServer, client: requests.Session
) -> None:
    _register(client, stub.url)

    def median(identifier: str) -> float:
        times = []
        for _ in range(3):
            started = time.perf_counter()
            assert _login(client, stub.url, identifier, OTHER_PASSWORD).status_code == 401
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    wrong, unknown = median(PHONE), median("13900139000")
    # Both verify one Argon2id hash; without the dummy hash the unknown case would be ~100x faster.
    assert unknown > 0.5 * wrong, (unknown, wrong)


def test_login_with_a_malformed_identifier_is_422(stub: RunningServer, client: requests.Session) -> None:
    response = _login(client, stub.url, "not a number")
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_identifier"
    assert "not a number" not in response.text


# -- throttling --------------------------------------------------------------------------------


def test_login_is_throttled_per_account(start_stub: Callable[..., RunningServer], clock: FakeClock) -> None:
    server = start_stub(
        login_max_failures_per_account=3, login_max_failures_per_address=100, login_window_seconds=600, clock=clock
    )
    with https_session(server) as client:
        _register(client, server.url)
        _register(client, server.url, EMAIL)
        for _ in range(3):
            assert _login(client, server.url, PHONE, OTHER_PASSWORD).status_code == 401
            clock.advance(10)
        throttled = _login(client, server.url, PHONE, PASSWORD)  # even the right password
        assert throttled.status_code == 429
        assert throttled.json()["error"] == "too_many_attempts"
        retry_after = int(throttled.headers["Retry-After"])
        assert retry_after == 600 - 30  # until the first failure leaves the window
        assert "set-cookie" not in throttled.headers
        # another account from the same address is not affected
        assert _login(client, server.url, EMAIL, PASSWORD).status_code == 200
        clock.advance(retry_after)
        assert _login(client, server.url, PHONE, PASSWORD).status_code == 200


def test_unknown_identifiers_are_throttled_like_known_ones(
    start_stub: Callable[..., RunningServer], clock: FakeClock
) -> None:
    server = start_stub(login_max_failures_per_account=2, login_max_failures_per_address=100, clock=clock)
    with https_session(server) as client:
        _register(client, server.url)
        answers = {}
        for identifier in (PHONE, "13900139000"):
            for _ in range(2):
                _login(client, server.url, identifier, OTHER_PASSWORD)
            third = _login(client, server.url, identifier, OTHER_PASSWORD)
            answers[identifier] = (third.status_code, third.json(), third.headers["Retry-After"])
    assert answers[PHONE] == answers["13900139000"]
    assert answers[PHONE][0] == 429


def test_a_success_resets_the_account_counter(start_stub: Callable[..., RunningServer], clock: FakeClock) -> None:
    server = start_stub(login_max_failures_per_account=3, login_max_failures_per_address=100, clock=clock)
    with https_session(server) as client:
        _register(client, server.url)
        for _ in range(2):
            assert _login(client, server.url, PHONE, OTHER_PASSWORD).status_code == 401
        assert _login(client, server.url).status_code == 200
        for _ in range(2):
            assert _login(client, server.url, PHONE, OTHER_PASSWORD).status_code == 401
        assert _login(client, server.url).status_code == 200


def test_login_is_throttled_per_address(start_stub: Callable[..., RunningServer], clock: FakeClock) -> None:
    server = start_stub(
        login_max_failures_per_account=100, login_max_failures_per_address=3, login_window_seconds=900, clock=clock
    )
    with https_session(server) as client:
        _register(client, server.url)
        for identifier in ("13900139000", "13700137000", "bob@example.com"):
            assert _login(client, server.url, identifier, OTHER_PASSWORD).status_code == 401
        throttled = _login(client, server.url)  # a new identifier, right password: same address
        assert throttled.status_code == 429
        assert 0 < int(throttled.headers["Retry-After"]) <= 900
        # registrations refused as account_exists count too, so probing for accounts is limited
        assert _register(client, server.url).status_code == 429
        clock.advance(901)
        assert _login(client, server.url).status_code == 200


# -- session lifetime, /me, logout -----------------------------------------------------------


def test_me_needs_a_valid_session(stub: RunningServer, client: requests.Session) -> None:
    response = client.get(f"{stub.url}/v1/me", timeout=10)
    assert response.status_code == 401
    assert response.json()["error"] == "not_logged_in"
    assert "set-cookie" not in response.headers
    forged = _me_with(stub, "A" * 43)
    assert forged.status_code == 401
    assert _cookie_parts(forged.headers["set-cookie"])["max-age"] == "0"  # a stale cookie is cleared


def test_me_answers_the_masked_identifier(stub: RunningServer, client: requests.Session) -> None:
    _register(client, stub.url, EMAIL)
    _login(client, stub.url, EMAIL)
    response = client.get(f"{stub.url}/v1/me", timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert body == {**body, "identifier_kind": "email", "identifier_masked": "a***@example.com"}
    assert set(body) == {"account_id", "identifier_kind", "identifier_masked"}
    assert "alice" not in response.text.lower()


def test_sessions_expire_on_the_server(start_stub: Callable[..., RunningServer], clock: FakeClock) -> None:
    server = start_stub(session_ttl_seconds=3600, remember_me_seconds=7200, clock=clock)
    with https_session(server) as client:
        _register(client, server.url)
        _login(client, server.url)
        short = client.cookies["sid"]
        with https_session(server) as other:
            _login(other, server.url, remember_me=True)
            long = other.cookies["sid"]
        clock.advance(3601)
        assert _me_with(server, short).status_code == 401
        assert _me_with(server, long).status_code == 200
        clock.advance(3600)
        assert _me_with(server, long).status_code == 401


def test_logout_ends_the_session_and_expires_the_cookie(stub: RunningServer, client: requests.Session) -> None:
    _register(client, stub.url)
    _login(client, stub.url)
    token = client.cookies["sid"]
    assert client.get(f"{stub.url}/v1/me", timeout=10).status_code == 200
    response = client.delete(f"{stub.url}/v1/sessions/current", timeout=10)
    assert response.status_code == 204
    cookie = _cookie_parts(response.headers["set-cookie"])
    assert cookie["sid"] == "" and cookie["max-age"] == "0"
    assert {"secure", "httponly"} <= set(cookie)
    assert "sid" not in client.cookies  # the client's jar dropped it
    assert client.get(f"{stub.url}/v1/me", timeout=10).status_code == 401
    assert _me_with(stub, token).status_code == 401  # ended on the server, not only forgotten
    assert client.delete(f"{stub.url}/v1/sessions/current", timeout=10).status_code == 204  # twice is fine


def test_nothing_about_the_caller_is_logged(
    stub: RunningServer, client: requests.Session, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    _register(client, stub.url, EMAIL)
    _register(client, stub.url, PHONE, "weak")
    _login(client, stub.url, EMAIL, OTHER_PASSWORD)
    _login(client, stub.url, EMAIL)
    client.get(f"{stub.url}/v1/me", timeout=10)
    client.delete(f"{stub.url}/v1/sessions/current", timeout=10)
    server_lines = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith(("server_stub", "uvicorn")))
    for secret in (EMAIL, EMAIL.lower(), "alice", PHONE, PASSWORD, OTHER_PASSWORD, "weak"):
        assert secret.lower() not in server_lines.lower()


def test_openapi_documents_the_account_endpoints(stub: RunningServer, client: requests.Session) -> None:
    doc = client.get(f"{stub.url}/openapi.json", timeout=10).json()
    paths = doc["paths"]
    assert set(paths["/v1/accounts"]) == {"post"}
    assert set(paths["/v1/sessions"]) == {"post"}
    assert set(paths["/v1/sessions/current"]) == {"delete"}
    assert set(paths["/v1/me"]) == {"get"}
    weak = paths["/v1/accounts"]["post"]["responses"]["422"]["content"]["application/json"]["schema"]
    assert weak["$ref"].endswith("/WeakPasswordBody")
    key = next(p for p in paths["/v1/accounts"]["post"]["parameters"] if p["name"] == "Idempotency-Key")
    assert key["required"] is True


def test_a_burst_of_parallel_guesses_stays_within_the_limit(
    start_stub: Callable[..., RunningServer], clock: FakeClock
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    server = start_stub(login_max_failures_per_account=3, login_max_failures_per_address=100, clock=clock)
    with https_session(server) as client:
        _register(client, server.url)

    def guess(i: int) -> int:
        with https_session(server) as device:
            return _login(device, server.url, PHONE, f"Tz4!plum-Harbor-{i}").status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(guess, range(10)))
    assert sorted(statuses) == [401] * 3 + [429] * 7
