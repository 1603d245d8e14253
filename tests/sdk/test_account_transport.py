"""Transport pieces the accounts need: no waiting on a 429, the error mapping, the cookie jar."""

from __future__ import annotations

import datetime as dt
import email.utils
import http.cookiejar
import sys
import time
from pathlib import Path

import pytest

from sdk import SdkConfig
from sdk.transport import ApiClient, make_session
from sdk.transport.client import _retry_after


def test_a_429_with_retry_after_is_not_retried(tmp_path: Path) -> None:
    """urllib3 would otherwise sleep Retry-After seconds (up to 15 min) before telling the user."""
    session = make_session(SdkConfig(data_dir=tmp_path, endpoint="https://api.example.cn"))
    retry = session.get_adapter("https://api.example.cn").max_retries
    assert not retry.is_retry("POST", 429, has_retry_after=True)
    assert not retry.is_retry("POST", 413, has_retry_after=True)
    assert retry.is_retry("GET", 503, has_retry_after=True)
    assert not retry.new().is_retry("POST", 429, has_retry_after=True)  # a new Retry per attempt


@pytest.mark.parametrize(
    ("header", "expected"),
    [("120", 120), ("0", 1), (" 7 ", 7), (None, 60), ("soon", 60), ("-5", 60)],
)
def test_retry_after_header(header: str | None, expected: int) -> None:
    assert _retry_after(header) == expected


def test_retry_after_as_http_date() -> None:
    when = email.utils.format_datetime(dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=300), usegmt=True)
    assert 295 <= _retry_after(when) <= 301


def test_cookie_jar_is_pluggable(tmp_path: Path) -> None:
    config = SdkConfig(data_dir=tmp_path, endpoint="https://localhost:8443")
    jar = http.cookiejar.CookieJar()
    client = ApiClient(config, cookie_jar=jar)
    assert client.session.cookies is jar
    other = http.cookiejar.CookieJar()
    client.use_cookie_jar(other)
    assert client.session.cookies is other and client.cookie_jar is other
    client.close()


def test_clear_cookie_removes_only_the_endpoints_session_cookie(tmp_path: Path) -> None:
    config = SdkConfig(data_dir=tmp_path, endpoint="https://localhost:8443")
    client = ApiClient(config)

    def cookie(name: str, domain: str) -> http.cookiejar.Cookie:
        return http.cookiejar.Cookie(
            0, name, "v", None, False, domain, False, False, "/", True, True, None, False, None, None, {}
        )

    jar = client.cookie_jar
    jar.set_cookie(cookie("sid", "localhost.local"))  # how http.cookiejar files a dotless host
    jar.set_cookie(cookie("sid", "api.example.cn"))
    jar.set_cookie(cookie("lang", "localhost.local"))
    assert client.has_cookie()
    assert client.clear_cookie() == 1
    assert not client.has_cookie()
    assert sorted((c.name, c.domain) for c in jar) == [("lang", "localhost.local"), ("sid", "api.example.cn")]
    client.close()


def test_importing_the_account_package_is_cheap() -> None:
    import subprocess

    code = (
        "import sys, sdk.account\n"
        "heavy = ('phonenumbers', 'email_validator', 'zxcvbn', 'requests', 'urllib3', 'argon2')\n"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert time.perf_counter() - started < 10
