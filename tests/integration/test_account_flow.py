"""The SDK's accounts against the real stub over HTTPS: register, log in, me, log out."""

from __future__ import annotations

import base64
import http.cookiejar
import inspect
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sdk import PrivacySdk, SdkConfig
from sdk.account import REMEMBER_ME_WARNING, AccountClient
from sdk.errors import (
    AuthenticationFailed,
    ConsentRequired,
    InvalidIdentifier,
    LoginThrottled,
    NotLoggedIn,
    WeakPassword,
)
from sdk.policy import Policy

from .conftest import DEMO_POLICY_DIR

PHONE = "138 0013 8000"
EMAIL = "Alice.Zhang@example.com"
PASSWORD = "Xk9#mQ2vLp8w-river"


@pytest.fixture
def agreed(privacy: PrivacySdk) -> PrivacySdk:
    """A PrivacySdk whose user agreed to the policy (accounts need purpose ``account``)."""
    privacy.agree()
    return privacy


def _session_cookies(privacy: PrivacySdk) -> list[http.cookiejar.Cookie]:
    return [c for c in privacy._api().cookie_jar if c.name == "sid"]


def _stub_accounts(stub: Any) -> int:
    with sqlite3.connect(Path(stub.data_dir) / "stub.db") as conn:
        return int(conn.execute("SELECT COUNT(*) FROM accounts").fetchone()[0])


def test_register_login_me_logout(agreed: PrivacySdk) -> None:  # OBL-ACC-1
    account = agreed.register(PHONE, PASSWORD)
    assert account.identifier_kind == "phone"
    assert account.identifier_masked == "138****8000"
    with pytest.raises(NotLoggedIn):
        agreed.me()  # registering does not log in
    session = agreed.login("+86 13800138000", PASSWORD)
    assert session.account == account
    assert session.remember_me is False
    assert session.expires_at is not None and session.expires_at.tzinfo is not None
    assert agreed.me() == account
    assert agreed.logout() is True
    assert _session_cookies(agreed) == []
    with pytest.raises(NotLoggedIn):
        agreed.me()


def test_email_account(agreed: PrivacySdk) -> None:  # OBL-ACC-1
    account = agreed.register(EMAIL, PASSWORD)
    assert account.identifier_kind == "email"
    agreed.login("alice.zhang@EXAMPLE.com", PASSWORD)
    assert agreed.me().identifier_masked == "a***@example.com"


def test_accounts_need_the_users_agreement(privacy: PrivacySdk, stub: Any) -> None:
    with pytest.raises(ConsentRequired):
        privacy.register(PHONE, PASSWORD)
    privacy.disagree()
    with pytest.raises(ConsentRequired):  # basic mode: no account (OBL-ACC-2)
        privacy.login(PHONE, PASSWORD)
    assert _stub_accounts(stub) == 0


def test_invalid_input_is_refused_before_anything_is_sent(agreed: PrivacySdk, stub: Any) -> None:
    with pytest.raises(InvalidIdentifier) as bad_id:
        agreed.register("010 1234 5678", PASSWORD)
    assert "1234" not in str(bad_id.value)
    with pytest.raises(WeakPassword) as weak:
        agreed.register(PHONE, "13800138000")
    assert "不要使用手机号或邮箱作为密码" in weak.value.reasons
    with pytest.raises(WeakPassword) as short:
        agreed.register(PHONE, "Kq8!x")
    assert "至少 10 个字符" in short.value.reasons
    assert _stub_accounts(stub) == 0


def test_server_checks_again_and_the_sdk_maps_its_answers(agreed: PrivacySdk) -> None:
    api = agreed._api()
    with pytest.raises(WeakPassword) as weak:
        api.create_account("+8613800138000", "password123")  # bypasses the SDK's own check
    assert any("常见密码" in r for r in weak.value.reasons)
    with pytest.raises(InvalidIdentifier):
        api.create_account("+86101234567", PASSWORD)


def test_duplicate_registration(agreed: PrivacySdk) -> None:  # OBL-ACC-1
    from sdk import AccountExists

    agreed.register(PHONE, PASSWORD)
    with pytest.raises(AccountExists) as info:
        agreed.register("13800138000", "Tz4!plum-Harbor-77")
    assert "13800138000" not in str(info.value)


def test_wrong_password_and_unknown_account_raise_the_same_error(agreed: PrivacySdk) -> None:
    agreed.register(PHONE, PASSWORD)
    with pytest.raises(AuthenticationFailed) as wrong:
        agreed.login(PHONE, "Tz4!plum-Harbor-77")
    with pytest.raises(AuthenticationFailed) as unknown:
        agreed.login("13900139000", PASSWORD)
    assert str(wrong.value) == str(unknown.value)
    assert _session_cookies(agreed) == []


def test_remember_me_is_off_by_default_and_warns_about_shared_devices(agreed: PrivacySdk) -> None:  # OBL-SEC-4
    for method in (PrivacySdk.login, AccountClient.login):
        assert inspect.signature(method).parameters["remember_me"].default is False
        assert "shared devices" in (method.__doc__ or "")
    assert REMEMBER_ME_WARNING == "请勿在公用或他人的设备上勾选“记住我”"
    agreed.register(PHONE, PASSWORD)
    agreed.login(PHONE, PASSWORD)
    (cookie,) = _session_cookies(agreed)
    assert cookie.expires is None and cookie.discard  # a session cookie: gone with the app
    assert cookie.secure and cookie.has_nonstandard_attr("HttpOnly")
    agreed.login(PHONE, PASSWORD, remember_me=True)
    (cookie,) = _session_cookies(agreed)
    assert cookie.expires is not None and not cookie.discard
    assert 29 * 86400 < cookie.expires - time.time() <= 30 * 86400


def test_login_rotates_the_session(agreed: PrivacySdk, stub: Any) -> None:
    from server_stub.testing import https_session

    agreed.register(PHONE, PASSWORD)
    agreed.login(PHONE, PASSWORD)
    (first,) = _session_cookies(agreed)
    agreed.login(PHONE, PASSWORD)
    (second,) = _session_cookies(agreed)
    assert first.value != second.value
    with https_session(stub) as other:
        answer = other.get(f"{stub.url}/v1/me", headers={"Cookie": f"sid={first.value}"}, timeout=10)
    assert answer.status_code == 401
    assert agreed.me().identifier_masked == "138****8000"


def test_cookie_jar_is_pluggable(agreed: PrivacySdk) -> None:
    jar = http.cookiejar.CookieJar()
    agreed.account.use_cookie_jar(jar)
    agreed.register(PHONE, PASSWORD)
    agreed.login(PHONE, PASSWORD)
    assert [c.name for c in jar] == ["sid"]
    agreed.logout()
    assert list(jar) == []


def test_logout_forgets_the_session_even_when_the_server_is_unreachable(
    stub: Any, make_config: Callable[..., SdkConfig], bundled_policy: Policy
) -> None:
    with PrivacySdk.open(make_config(stub, retries=0, connect_timeout=2.0), bundled_policy) as privacy:
        privacy.agree()
        privacy.register(PHONE, PASSWORD)
        privacy.login(PHONE, PASSWORD)
        assert privacy.account.has_session_cookie
        stub.stop()
        assert privacy.logout() is False
        assert not privacy.account.has_session_cookie
        assert _session_cookies(privacy) == []


@pytest.fixture
def strict_stub(tmp_path: Path) -> Iterator[Any]:
    """A stub that throttles after 2 failed logins per account within 10 minutes."""
    from server_stub.runner import start_in_thread
    from server_stub.settings import Settings

    settings = Settings(
        data_dir=tmp_path / "strict-stub",
        policy_dir=DEMO_POLICY_DIR,
        login_max_failures_per_account=2,
        login_window_seconds=600,
    )
    with start_in_thread(settings) as server:
        yield server


def test_throttled_login_raises_login_throttled_at_once(
    strict_stub: Any, make_config: Callable[..., SdkConfig], bundled_policy: Policy
) -> None:
    with PrivacySdk.open(make_config(strict_stub, retries=3), bundled_policy) as privacy:
        privacy.agree()
        privacy.register(PHONE, PASSWORD)
        for _ in range(2):
            with pytest.raises(AuthenticationFailed):
                privacy.login(PHONE, "Tz4!plum-Harbor-77")
        started = time.monotonic()
        with pytest.raises(LoginThrottled) as info:
            privacy.login(PHONE, PASSWORD)
        assert time.monotonic() - started < 5  # not retried after Retry-After
        assert 0 < info.value.retry_after <= 600
        assert str(info.value.retry_after) in str(info.value)


def test_no_trace_of_the_credentials_on_the_device_or_in_the_logs(
    stub: Any, make_config: Callable[..., SdkConfig], bundled_policy: Policy, device_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with PrivacySdk.open(make_config(stub), bundled_policy) as privacy:
        privacy.agree()
        privacy.register(PHONE, PASSWORD)
        privacy.register(EMAIL, PASSWORD)
        with pytest.raises(AuthenticationFailed):
            privacy.login(EMAIL, "Tz4!plum-Harbor-77")
        privacy.login(EMAIL, PASSWORD, remember_me=True)
        privacy.me()
        privacy.logout()
    stub_db = b"".join(p.read_bytes() for p in Path(stub.data_dir).glob("stub.db*"))
    device = b"".join(p.read_bytes() for p in device_dir.rglob("*") if p.is_file())
    logs = "\n".join(r.getMessage() for r in caplog.records).encode("utf-8")
    secrets_ = {"13800138000", "+8613800138000", EMAIL, EMAIL.lower(), PASSWORD, "Tz4!plum-Harbor-77"}
    for secret in secrets_:
        raw = secret.encode("utf-8")
        for encoded in (raw, secret.encode("utf-16-le"), base64.b64encode(raw), raw.hex().encode()):
            assert encoded not in device, secret
            assert encoded not in logs, secret
    for password in (PASSWORD, "Tz4!plum-Harbor-77"):  # the server keeps identifiers, never passwords
        raw = password.encode("utf-8")
        for encoded in (raw, password.encode("utf-16-le"), base64.b64encode(raw), raw.hex().encode()):
            assert encoded not in stub_db
