"""The stub's login throttle and token helpers, without a server."""

from __future__ import annotations

import hashlib

import pytest

from server_stub.accounts import (
    LoginThrottle,
    expired_session_cookie,
    session_cookie,
    token_digest,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_sliding_window_and_retry_after(clock: Clock) -> None:
    throttle = LoginThrottle(per_account=3, per_address=100, window=60, clock=clock)
    for step in (0, 10, 20):
        clock.now = 1000 + step
        assert throttle.begin_attempt("+8613800138000", "127.0.0.1")[0] is None
    clock.now = 1025
    wait, _ = throttle.begin_attempt("+8613800138000", "127.0.0.1")
    assert wait == 35  # the failure at 1000 leaves the window at 1060
    clock.now = 1060
    assert throttle.retry_after("+8613800138000", None) is None  # 2 failures left in the window
    assert throttle.begin_attempt("+8613800138000", "127.0.0.1")[0] is None
    assert throttle.retry_after("+8613800138000", None) == 10  # 1010 + 60


def test_throttled_attempts_are_not_counted(clock: Clock) -> None:
    throttle = LoginThrottle(per_account=1, per_address=100, window=60, clock=clock)
    throttle.begin_attempt("a@example.com", None)
    for _ in range(5):
        clock.now += 10
        assert throttle.begin_attempt("a@example.com", None)[0] is not None
    clock.now = 1060
    assert throttle.retry_after("a@example.com", None) is None


def test_success_resets_the_account_and_takes_back_only_its_own_address_count(clock: Clock) -> None:
    throttle = LoginThrottle(per_account=2, per_address=3, window=60, clock=clock)
    throttle.begin_attempt("victim@example.com", "10.0.0.1")
    clock.now += 1
    throttle.begin_attempt("victim@example.com", "10.0.0.1")
    clock.now += 1
    _, at = throttle.begin_attempt("own@example.com", "10.0.0.1")
    assert throttle.retry_after(None, "10.0.0.1") is not None
    throttle.succeeded("own@example.com", "10.0.0.1", at)
    assert throttle.retry_after(None, "10.0.0.1") is None  # the successful attempt is taken back
    assert throttle.retry_after("victim@example.com", None) is not None  # guesses still count
    throttle.succeeded("victim@example.com")
    assert throttle.retry_after("victim@example.com", None) is None


def test_counters_hold_no_identifier_or_address_in_clear(clock: Clock) -> None:
    throttle = LoginThrottle(per_account=5, per_address=5, window=60, clock=clock)
    throttle.begin_attempt("+8613800138000", "192.0.2.7")
    keys = repr(throttle._failures)
    assert "13800138000" not in keys and "192.0.2.7" not in keys


def test_cookie_strings() -> None:
    assert session_cookie("tok", None) == "sid=tok; Path=/; Secure; HttpOnly; SameSite=Strict"
    assert session_cookie("tok", 2592000).endswith("; Max-Age=2592000")
    expired = expired_session_cookie()
    assert expired.startswith("sid=; ") and "Max-Age=0" in expired and "Secure" in expired
    assert token_digest("tok") == hashlib.sha256(b"tok").hexdigest()
