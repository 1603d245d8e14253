"""The SDK's cookie jar against the cookie cases real apps hit (issue 3, "Cookie jar").

Real stub over HTTPS on 127.0.0.1 with its dev-only endpoints (``/v1/dev/cookies/...``,
server_stub/routes/dev_cookies.py), real SQLite; the jar is a
:class:`~sdk.storage.cookies.PersistentCookieJar` on an
:class:`~sdk.storage.store.EncryptedStore` plugged into a plain ``requests.Session``.
"What is on disk" is read from the database file with sqlite3 (the store's key column names
domain, path and cookie name in clear; values are sealed), plus a raw byte scan for values.

What IP / localhost hosts cannot test: a domain cookie reaching a *sub*domain
(``Domain=example.com`` sent to ``api.example.com``), public-suffix refusal
(``Domain=com``) and a cookie for a sibling domain being refused all need real DNS names;
127.0.0.1 has no subdomains and ``localhost`` has only itself here. What is tested: host-only
cookies are not sent to the other loopback name, ``Domain=127.0.0.1`` stays on that IP, and
``Domain=localhost`` is sent back to localhost.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from sdk.policy import Policy
from sdk.storage.backends.passphrase import PassphraseKeystore
from sdk.storage.cookies import COOKIE_NAMESPACE, PersistentCookieJar
from sdk.storage.store import EncryptedStore
from sdk.testing.keystore import MemoryKeystore

REPO = Path(__file__).resolve().parents[2]
NAMES = ("ck_persist", "ck_session", "ck_host", "ck_domain", "ck_flags", "ck_path", "ck_redirect")
PURPOSES = {name: "account" for name in NAMES}
PASSPHRASE = "cookie-cases test passphrase"
BASE = "/v1/dev/cookies"


@contextmanager
def _jar(device_dir: Path, policy: Policy, keystore: Any, **kwargs: Any) -> Iterator[PersistentCookieJar]:
    device_dir.mkdir(parents=True, exist_ok=True)
    with EncryptedStore(device_dir / "store.db", keystore, policy.manifest) as store:
        yield PersistentCookieJar(store, PURPOSES, **kwargs)


@contextmanager
def _session(jar: PersistentCookieJar, stub: Any) -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.trust_env = False
        session.verify = str(stub.ca_path)
        session.cookies = jar  # type: ignore[assignment]
        yield session


def _url(stub: Any, path: str, host: str = "127.0.0.1") -> str:
    return f"https://{host}:{stub.port}{BASE}{path}"


def _set(session: requests.Session, stub: Any, case: str, host: str = "127.0.0.1") -> None:
    answer = session.get(_url(stub, "/set", host), params={"case": case}, timeout=10)
    assert answer.status_code == 200, answer.text


def _echo(session: requests.Session, stub: Any, host: str = "127.0.0.1") -> list[str]:
    answer = session.get(_url(stub, "/echo", host), timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["names"]


def _on_disk(device_dir: Path) -> list[tuple[str, str, str]]:
    """(domain, path, name) of every cookie row in the database file, read with sqlite3."""
    conn = sqlite3.connect(f"file:{device_dir / 'store.db'}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT key FROM items WHERE namespace = ?", (COOKIE_NAMESPACE,)).fetchall()
    finally:
        conn.close()
    return sorted(tuple(json.loads(key)) for (key,) in rows)


def _disk_bytes(device_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(device_dir.rglob("*")) if p.is_file())


def _value(jar: PersistentCookieJar, name: str) -> str:
    (value,) = [c.value for c in jar if c.name == name]
    assert value
    return value


# -- localhost / 127.0.0.1 ----------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_cookie_from_loopback_host_is_kept_and_sent_back(stub, bundled_policy, device_dir, host) -> None:  # OBL-CK-1
    with _jar(device_dir, bundled_policy, MemoryKeystore()) as jar, _session(jar, stub) as session:
        _set(session, stub, "persistent", host)
        assert _echo(session, stub, host) == ["ck_persist"]
        assert [name for _, _, name in _on_disk(device_dir)] == ["ck_persist"]


# -- persistence across a restart in a new process ----------------------------------------

_REOPEN = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import requests
    from sdk.policy import load_policy
    from sdk.storage.backends.passphrase import PassphraseKeystore
    from sdk.storage.cookies import PersistentCookieJar
    from sdk.storage.store import EncryptedStore

    device, policy_md, passphrase, names, echo_url, ca = sys.argv[1:7]
    policy = load_policy(Path(policy_md))
    keystore = PassphraseKeystore(device, passphrase)
    with EncryptedStore(Path(device) / "store.db", keystore, policy.manifest) as store:
        jar = PersistentCookieJar(store, {n: "account" for n in json.loads(names)})
        cookies = [
            {"name": i.name, "domain": i.domain, "path": i.path, "secure": i.secure,
             "http_only": i.http_only, "same_site": i.same_site, "persistent": i.persistent,
             "expires": None if i.expires is None else int(i.expires.timestamp())}
            for i in jar.list()
        ]
        with requests.Session() as session:
            session.trust_env = False
            session.verify = ca
            session.cookies = jar
            echoed = session.get(echo_url, timeout=10).json()["names"]
    print(json.dumps({"cookies": cookies, "echo": echoed}))
    """
)


def test_persistent_cookie_and_its_flags_survive_a_restart_in_a_new_process(
        stub, bundled_policy, device_dir) -> None:  # OBL-CK-1
    keystore = PassphraseKeystore(device_dir, PASSPHRASE)
    with _jar(device_dir, bundled_policy, keystore) as jar, _session(jar, stub) as session:
        for case in ("persistent", "secure_flags", "session"):
            _set(session, stub, case)
        expiry = {c.name: c.expires for c in jar}
    from tests.integration.conftest import DEMO_POLICY

    done = subprocess.run(
        [sys.executable, "-c", _REOPEN, str(device_dir), str(DEMO_POLICY), PASSPHRASE,
         json.dumps(NAMES), _url(stub, "/echo"), str(stub.ca_path)],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["echo"] == ["ck_flags", "ck_persist"]  # the session cookie died with the process
    by_name = {c["name"]: c for c in result["cookies"]}
    assert by_name["ck_persist"] == {
        "name": "ck_persist", "domain": "127.0.0.1", "path": "/", "secure": True, "http_only": True,
        "same_site": "Strict", "persistent": True, "expires": expiry["ck_persist"],
    }
    assert by_name["ck_flags"] == {
        "name": "ck_flags", "domain": "127.0.0.1", "path": "/", "secure": True, "http_only": True,
        "same_site": "None", "persistent": True, "expires": expiry["ck_flags"],
    }
    assert set(by_name) == {"ck_persist", "ck_flags"}


# -- session cookies ----------------------------------------------------------------------


def test_session_cookie_is_sent_back_but_not_written_to_disk(stub, bundled_policy, device_dir) -> None:  # OBL-CK-1
    keystore = MemoryKeystore()
    with _jar(device_dir, bundled_policy, keystore) as jar, _session(jar, stub) as session:
        _set(session, stub, "session")
        assert _echo(session, stub) == ["ck_session"]
        value = _value(jar, "ck_session")
        assert _on_disk(device_dir) == []
    assert value.encode() not in _disk_bytes(device_dir)
    with _jar(device_dir, bundled_policy, keystore) as again:
        assert list(again) == []


# -- Max-Age=0 ----------------------------------------------------------------------------


def test_max_age_0_deletes_a_stored_cookie_from_memory_and_disk(stub, bundled_policy, device_dir) -> None:  # OBL-CK-1
    keystore = MemoryKeystore()
    with _jar(device_dir, bundled_policy, keystore) as jar, _session(jar, stub) as session:
        _set(session, stub, "persistent")
        assert _on_disk(device_dir) == [("127.0.0.1", "/", "ck_persist")]
        _set(session, stub, "expire")
        assert list(jar) == []
        assert _on_disk(device_dir) == []
        assert _echo(session, stub) == []
    with _jar(device_dir, bundled_policy, keystore) as again:
        assert list(again) == []


def test_max_age_0_deletes_a_cookie_stored_by_an_earlier_run(stub, bundled_policy, device_dir) -> None:  # OBL-CK-1
    keystore = MemoryKeystore()
    with _jar(device_dir, bundled_policy, keystore) as jar, _session(jar, stub) as session:
        _set(session, stub, "persistent")
    with _jar(device_dir, bundled_policy, keystore) as jar, _session(jar, stub) as session:
        assert _echo(session, stub) == ["ck_persist"]
        _set(session, stub, "expire")
        assert _on_disk(device_dir) == []


# -- redirects ----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [302, 307])
def test_cookie_set_on_a_redirect_response_is_kept(stub, bundled_policy, device_dir, status) -> None:  # OBL-CK-1
    with _jar(device_dir, bundled_policy, MemoryKeystore()) as jar, _session(jar, stub) as session:
        answer = session.get(_url(stub, "/redirect"), params={"status": status}, timeout=10)
        assert [r.status_code for r in answer.history] == [status]
        assert answer.json()["names"] == ["ck_redirect"]  # sent on the redirected request itself
        assert [c.name for c in jar] == ["ck_redirect"]
        assert _on_disk(device_dir) == [("127.0.0.1", "/", "ck_redirect")]


# -- host-only and domain cookies ---------------------------------------------------------


def test_host_only_cookie_is_not_sent_to_another_host_name(stub, bundled_policy, device_dir) -> None:  # OBL-CK-1
    with _jar(device_dir, bundled_policy, MemoryKeystore()) as jar, _session(jar, stub) as session:
        _set(session, stub, "host_only", "127.0.0.1")
        assert _echo(session, stub, "localhost") == []
        assert _echo(session, stub, "127.0.0.1") == ["ck_host"]


def test_host_only_cookie_from_localhost_is_not_sent_to_the_ip(stub, bundled_policy, device_dir) -> None:  # OBL-CK-1
    with _jar(device_dir, bundled_policy, MemoryKeystore()) as jar, _session(jar, stub) as session:
        _set(session, stub, "host_only", "localhost")
        assert _echo(session, stub, "127.0.0.1") == []
        assert _echo(session, stub, "localhost") == ["ck_host"]


def test_domain_cookie_for_an_ip_stays_on_that_ip(stub, bundled_policy, device_dir) -> None:  # OBL-CK-1
    with _jar(device_dir, bundled_policy, MemoryKeystore()) as jar, _session(jar, stub) as session:
        _set(session, stub, "domain", "127.0.0.1")
        assert _echo(session, stub, "127.0.0.1") == ["ck_domain"]
        assert _echo(session, stub, "localhost") == []


def test_domain_cookie_for_localhost_is_sent_back_to_localhost(stub, bundled_policy, device_dir) -> None:  # OBL-CK-1
    keystore = MemoryKeystore()
    with _jar(device_dir, bundled_policy, keystore) as jar, _session(jar, stub) as session:
        _set(session, stub, "domain", "localhost")
        assert _echo(session, stub, "localhost") == ["ck_domain"]
        assert _echo(session, stub, "127.0.0.1") == []
    with _jar(device_dir, bundled_policy, keystore) as jar, _session(jar, stub) as session:
        assert _echo(session, stub, "localhost") == ["ck_domain"]  # also after a reload


def test_path_cookie_is_sent_only_under_its_path(stub, bundled_policy, device_dir) -> None:  # OBL-CK-1
    with _jar(device_dir, bundled_policy, MemoryKeystore()) as jar, _session(jar, stub) as session:
        _set(session, stub, "path")
        assert _echo(session, stub) == ["ck_path"]
        prepared = session.prepare_request(requests.Request("GET", _url(stub, "/set")))
        assert "ck_path" not in prepared.headers.get("Cookie", "")


# -- session-only mode (OBL-CK-3) ---------------------------------------------------------


def test_session_only_mode_writes_no_cookie_to_disk(stub, bundled_policy, device_dir) -> None:  # OBL-CK-3
    with _jar(device_dir, bundled_policy, MemoryKeystore(), session_only=True) as jar, \
            _session(jar, stub) as session:
        for case in ("persistent", "secure_flags", "host_only"):
            _set(session, stub, case)
        session.get(_url(stub, "/redirect"), timeout=10)
        assert _echo(session, stub) == ["ck_flags", "ck_host", "ck_persist", "ck_redirect"]
        values = [c.value.encode() for c in jar]
        assert _on_disk(device_dir) == []
    raw = _disk_bytes(device_dir)
    assert not [v for v in values if v in raw]


def test_switching_session_only_on_deletes_stored_cookies_and_is_remembered(
        stub, bundled_policy, device_dir) -> None:  # OBL-CK-3
    keystore = MemoryKeystore()
    with _jar(device_dir, bundled_policy, keystore) as jar, _session(jar, stub) as session:
        _set(session, stub, "persistent")
        assert _on_disk(device_dir) != []
        jar.set_session_only(True)
        assert _on_disk(device_dir) == []
        assert _echo(session, stub) == ["ck_persist"]  # in memory until the process ends
    with _jar(device_dir, bundled_policy, keystore) as jar, _session(jar, stub) as session:
        assert jar.session_only
        _set(session, stub, "persistent")
        assert _on_disk(device_dir) == []
