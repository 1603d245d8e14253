"""The persistent cookie jar with a real requests Session against real local servers.

A small ``http.server`` on 127.0.0.1 (plain HTTP, and HTTPS with a dev-CA certificate for
``localhost``/``127.0.0.1``) sends the Set-Cookie headers; a ``requests.Session`` with
``session.cookies = jar`` talks to it. Domain semantics that need real domain names
(host-only vs ``Domain=``) go through the standard library interface
``CookieJar.extract_cookies(response, request)`` with ``urllib.request.Request``.
"""

from __future__ import annotations

import datetime as dt
import email.message
import email.utils
import http.server
import json
import logging
import os
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from sdk.errors import UndeclaredPurpose
from sdk.policy.manifest import Manifest
from sdk.storage.backends.passphrase import PassphraseKeystore
from sdk.storage.cookies import COOKIE_NAMESPACE, CookieInfo, PersistentCookieJar
from sdk.storage.store import EncryptedStore
from sdk.testing.keystore import MemoryKeystore

from .test_store import MANIFEST_TOML, make_manifest

REPO = Path(__file__).resolve().parents[2]
PURPOSES = {"sid": "account", "lang": "preferences", "csrf": "account", "redir": "account",
            "pref": "preferences"}
SID = f"sid-{uuid.uuid4().hex}"  # a value to look for on disk and in logs

# path -> (status, [Set-Cookie values], extra headers)
ROUTES: dict[str, tuple[int, list[str], dict[str, str]]] = {
    "/login": (200, [
        f"sid={SID}; Max-Age=3600; Path=/; HttpOnly; SameSite=Lax",
        "lang=zh-CN; Expires={expires}; Path=/",
        "csrf=session-only-token; Path=/",
        "tracker=track-me-123; Max-Age=3600; Path=/",
    ], {}),
    "/login-secure": (200, [
        f"sid={SID}; Max-Age=3600; Path=/; Secure; HttpOnly; SameSite=Strict",
    ], {}),
    "/logout": (200, ["sid=; Max-Age=0; Path=/"], {}),
    "/short": (200, ["lang=en; Max-Age=1; Path=/"], {}),
    "/redirect": (302, ["redir=from-redirect; Max-Age=600; Path=/"], {"Location": "/echo"}),
    "/echo": (200, [], {}),
}


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        status, cookies, headers = ROUTES.get(self.path, (404, [], {}))
        body = json.dumps({"cookie": self.headers.get("Cookie", "")}).encode()
        self.send_response(status)
        expires = email.utils.formatdate(time.time() + 86400, usegmt=True)
        for value in cookies:
            self.send_header("Set-Cookie", value.replace("{expires}", expires))
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:  # keep the test output quiet
        pass


def _serve(context: ssl.SSLContext | None) -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def http_port() -> Iterator[int]:
    yield from _serve(None)


@pytest.fixture
def dev_ca(tmp_path: Path):
    from server_stub.ca import ensure_dev_ca

    return ensure_dev_ca(tmp_path / "ca")


@pytest.fixture
def https_port(dev_ca) -> Iterator[int]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(dev_ca.cert_path, dev_ca.key_path)
    yield from _serve(context)


@pytest.fixture
def manifest() -> Manifest:
    return make_manifest()


@pytest.fixture
def keystore() -> MemoryKeystore:
    return MemoryKeystore()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "device" / "store.db"


@pytest.fixture
def open_store(db: Path, keystore: MemoryKeystore, manifest: Manifest) -> Iterator[Callable[..., EncryptedStore]]:
    """``open_store(**kwargs)``: a new EncryptedStore on this test's file (like a restart)."""
    opened: list[EncryptedStore] = []

    def open_(**kwargs) -> EncryptedStore:
        store = EncryptedStore(db, keystore, manifest, **kwargs)
        opened.append(store)
        return store

    yield open_
    for store in opened:
        store.close()


def _session(jar: PersistentCookieJar) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.cookies = jar  # type: ignore[assignment]
    return session


def _names(jar: PersistentCookieJar) -> set[str]:
    return {c.name for c in jar}


def _sent(session: requests.Session, url: str) -> str:
    return session.get(url, timeout=10).json()["cookie"]


# -- persistence ---------------------------------------------------------------------------


def test_requests_accepts_the_jar(open_store, http_port: int) -> None:
    jar = PersistentCookieJar(open_store(), PURPOSES)
    session = _session(jar)
    session.get(f"http://127.0.0.1:{http_port}/login", timeout=10)
    assert session.cookies is jar
    assert "sid" in _names(jar)


def test_cookie_is_persisted_and_sent_back_after_restart(open_store, http_port: int) -> None:  # OBL-CK-1
    first = _session(PersistentCookieJar(open_store(), PURPOSES))
    first.get(f"http://localhost:{http_port}/login", timeout=10)
    again = _session(PersistentCookieJar(open_store(), PURPOSES))  # new store + jar: a restart
    sent = _sent(again, f"http://localhost:{http_port}/echo")
    assert f"sid={SID}" in sent and "lang=zh-CN" in sent


def test_localhost_cookie_keeps_the_cookiejar_host_name(open_store, http_port: int) -> None:  # OBL-CK-1
    _session(PersistentCookieJar(open_store(), PURPOSES)).get(
        f"http://localhost:{http_port}/login", timeout=10)
    jar = PersistentCookieJar(open_store(), PURPOSES)
    assert {(c.name, c.domain) for c in jar.list()} == {
        ("sid", "localhost.local"), ("lang", "localhost.local")}


def test_cookies_are_stored_sealed_with_their_purpose(open_store, http_port: int) -> None:  # OBL-CK-2
    store = open_store()
    _session(PersistentCookieJar(store, PURPOSES)).get(f"http://127.0.0.1:{http_port}/login", timeout=10)
    stored = {json.loads(e.key)[2]: e.purpose for e in store.entries(COOKIE_NAMESPACE)}
    assert stored == {"sid": "account", "lang": "preferences"}


def test_session_cookie_is_kept_in_memory_only(open_store, http_port: int) -> None:  # OBL-CK-1
    store = open_store()
    jar = PersistentCookieJar(store, PURPOSES)
    _session(jar).get(f"http://127.0.0.1:{http_port}/login", timeout=10)
    assert "csrf" in _names(jar)
    assert "csrf" not in {json.loads(e.key)[2] for e in store.entries(COOKIE_NAMESPACE)}
    assert "csrf" not in _names(PersistentCookieJar(open_store(), PURPOSES))


def test_cookie_values_are_not_on_disk_in_clear(open_store, http_port: int, db: Path) -> None:  # OBL-SEC-2
    _session(PersistentCookieJar(open_store(), PURPOSES)).get(
        f"http://127.0.0.1:{http_port}/login", timeout=10)
    for file in db.parent.iterdir():
        assert SID.encode() not in file.read_bytes()


def test_undeclared_cookie_is_refused_and_logged_without_value(open_store, http_port: int, caplog) -> None:  # OBL-CK-2
    caplog.set_level(logging.WARNING, logger="sdk.storage")
    store = open_store()
    jar = PersistentCookieJar(store, PURPOSES)
    session = _session(jar)
    session.get(f"http://127.0.0.1:{http_port}/login", timeout=10)
    assert "tracker" not in _names(jar)
    assert "tracker" not in _sent(session, f"http://127.0.0.1:{http_port}/echo")
    assert "tracker" in caplog.text and "no declared purpose" in caplog.text
    assert "track-me-123" not in caplog.text and SID not in caplog.text


def test_mapping_to_an_undeclared_purpose_raises(open_store) -> None:  # OBL-CK-2
    with pytest.raises(UndeclaredPurpose, match="advertising"):
        PersistentCookieJar(open_store(), {"ad_id": "advertising"})


def test_max_age_zero_deletes_the_stored_cookie(open_store, http_port: int) -> None:  # OBL-CK-1
    store = open_store()
    session = _session(PersistentCookieJar(store, PURPOSES))
    session.get(f"http://127.0.0.1:{http_port}/login", timeout=10)
    session.get(f"http://127.0.0.1:{http_port}/logout", timeout=10)
    assert "sid" not in _names(session.cookies)  # type: ignore[arg-type]
    assert "sid" not in _names(PersistentCookieJar(open_store(), PURPOSES))


def test_cookie_set_on_a_redirect_is_kept(open_store, http_port: int) -> None:  # OBL-CK-1
    session = _session(PersistentCookieJar(open_store(), PURPOSES))
    response = session.get(f"http://127.0.0.1:{http_port}/redirect", timeout=10)
    assert response.history and "redir=from-redirect" in response.json()["cookie"]
    assert "redir" in _names(PersistentCookieJar(open_store(), PURPOSES))


def test_expired_cookies_are_gone_after_restart(open_store, http_port: int) -> None:  # OBL-SEC-3
    _session(PersistentCookieJar(open_store(), PURPOSES)).get(
        f"http://127.0.0.1:{http_port}/login", timeout=10)
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2)  # sid had Max-Age=3600
    jar = PersistentCookieJar(open_store(clock=lambda: later), PURPOSES)
    assert _names(jar) == {"lang"}


def test_expired_cookie_is_not_sent(open_store, http_port: int) -> None:
    session = _session(PersistentCookieJar(open_store(), PURPOSES))
    session.get(f"http://127.0.0.1:{http_port}/short", timeout=10)  # lang, Max-Age=1
    time.sleep(1.1)
    assert "lang" not in _sent(session, f"http://127.0.0.1:{http_port}/echo")
    assert "lang" not in _names(PersistentCookieJar(open_store(), PURPOSES))


def test_expiry_is_capped_at_the_purpose_retention(open_store) -> None:  # OBL-SEC-3
    store = open_store()
    jar = PersistentCookieJar(store, PURPOSES)
    request = urllib.request.Request("https://www.example.test/")
    jar.extract_cookies(_Response("lang=en; Max-Age=315360000; Path=/"), request)  # 10 years
    (entry,) = store.entries(COOKIE_NAMESPACE)
    assert entry.expires_at is not None
    assert entry.expires_at - entry.created_at <= dt.timedelta(days=366)  # preferences: P1Y


# -- domain semantics (RFC 6265 via http.cookiejar) ------------------------------------------


class _Response:
    """What ``CookieJar.extract_cookies`` reads from a response: ``info()`` headers."""

    def __init__(self, *set_cookies: str) -> None:
        self._headers = email.message.Message()
        for value in set_cookies:
            self._headers["Set-Cookie"] = value

    def info(self) -> email.message.Message:
        return self._headers


def _header_for(jar: PersistentCookieJar, url: str) -> str:
    request = urllib.request.Request(url)
    jar.add_cookie_header(request)
    return request.get_header("Cookie") or ""


def test_host_only_and_domain_cookies_survive_reload(open_store) -> None:  # OBL-CK-1
    jar = PersistentCookieJar(open_store(), PURPOSES)
    jar.extract_cookies(
        _Response("sid=host-only; Max-Age=600; Path=/",
                  "pref=whole-domain; Domain=example.test; Max-Age=600; Path=/"),
        urllib.request.Request("https://www.example.test/login"),
    )
    again = PersistentCookieJar(open_store(), PURPOSES)
    on_www = _header_for(again, "https://www.example.test/")
    on_api = _header_for(again, "https://api.example.test/")
    assert "sid=host-only" in on_www and "pref=whole-domain" in on_www
    assert "sid=" not in on_api and "pref=whole-domain" in on_api


def test_cookie_for_another_domain_is_rejected(open_store) -> None:
    jar = PersistentCookieJar(open_store(), PURPOSES)
    jar.extract_cookies(
        _Response("sid=evil; Domain=other.test; Max-Age=600; Path=/"),
        urllib.request.Request("https://www.example.test/"),
    )
    assert len(jar) == 0 and jar.list() == []


# -- the user's controls (OBL-CK-3) ----------------------------------------------------------


def test_list_shows_metadata_never_values(open_store, http_port: int) -> None:  # OBL-CK-3
    jar = PersistentCookieJar(open_store(), PURPOSES)
    _session(jar).get(f"http://127.0.0.1:{http_port}/login", timeout=10)
    listing = {c.name: c for c in jar.list()}
    assert set(listing) == {"sid", "lang", "csrf"}
    sid = listing["sid"]
    assert isinstance(sid, CookieInfo)
    assert (sid.domain, sid.path, sid.purpose) == ("127.0.0.1", "/", "account")
    assert sid.http_only and not sid.secure and sid.same_site == "Lax" and sid.persistent
    assert sid.size == len("sid") + len(SID)
    assert sid.expires is not None
    assert dt.timedelta(minutes=59) < sid.expires - dt.datetime.now(dt.timezone.utc) <= dt.timedelta(hours=1)
    assert listing["csrf"].expires is None and not listing["csrf"].persistent
    assert SID not in repr(jar.list()) and SID not in repr(jar) and SID not in str(jar)


def test_delete_one_cookie(open_store, http_port: int) -> None:  # OBL-CK-3
    jar = PersistentCookieJar(open_store(), PURPOSES)
    session = _session(jar)
    session.get(f"http://127.0.0.1:{http_port}/login", timeout=10)
    assert jar.delete("sid", "127.0.0.1", "/") is True
    assert jar.delete("sid", "127.0.0.1", "/") is False
    assert "sid=" not in _sent(session, f"http://127.0.0.1:{http_port}/echo")
    assert _names(PersistentCookieJar(open_store(), PURPOSES)) == {"lang"}


def test_clear_all_cookies(open_store, http_port: int) -> None:  # OBL-CK-3
    store = open_store()
    jar = PersistentCookieJar(store, PURPOSES)
    session = _session(jar)
    session.get(f"http://127.0.0.1:{http_port}/login", timeout=10)
    jar.clear()
    assert jar.list() == [] and store.entries(COOKIE_NAMESPACE) == []
    assert _sent(session, f"http://127.0.0.1:{http_port}/echo") == ""
    assert _names(PersistentCookieJar(open_store(), PURPOSES)) == set()


def test_session_only_mode_writes_nothing_to_disk(open_store, http_port: int) -> None:  # OBL-CK-3
    store = open_store()
    jar = PersistentCookieJar(store, PURPOSES, session_only=True)
    session = _session(jar)
    session.get(f"http://127.0.0.1:{http_port}/login", timeout=10)
    assert f"sid={SID}" in _sent(session, f"http://127.0.0.1:{http_port}/echo")  # still works
    assert store.entries() == []
    assert all(not c.persistent for c in jar.list())
    assert _names(PersistentCookieJar(open_store(), PURPOSES)) == set()


def test_switching_to_session_only_deletes_stored_cookies(open_store, http_port: int) -> None:  # OBL-CK-3
    store = open_store()
    jar = PersistentCookieJar(store, PURPOSES)
    _session(jar).get(f"http://127.0.0.1:{http_port}/login", timeout=10)
    assert store.entries(COOKIE_NAMESPACE)
    jar.set_session_only(True)
    assert jar.session_only and store.entries(COOKIE_NAMESPACE) == []
    assert "sid" in _names(jar)  # lasts until the process ends


def test_session_only_choice_is_remembered(open_store, http_port: int) -> None:  # OBL-CK-3
    PersistentCookieJar(open_store(), PURPOSES).set_session_only(True)
    store = open_store()
    jar = PersistentCookieJar(store, PURPOSES)
    assert jar.session_only
    _session(jar).get(f"http://127.0.0.1:{http_port}/login", timeout=10)
    assert store.entries() == []


def test_switching_back_to_persistent_stores_cookies_again(open_store, http_port: int) -> None:
    store = open_store()
    jar = PersistentCookieJar(store, PURPOSES, session_only=True)
    _session(jar).get(f"http://127.0.0.1:{http_port}/login", timeout=10)
    jar.set_session_only(False)
    assert {json.loads(e.key)[2] for e in store.entries(COOKIE_NAMESPACE)} == {"sid", "lang"}


def test_wipe_forgets_cookies_and_the_session_only_choice(open_store, http_port: int) -> None:  # OBL-CK-3
    store = open_store()
    jar = PersistentCookieJar(store, PURPOSES)
    _session(jar).get(f"http://127.0.0.1:{http_port}/login", timeout=10)
    jar.set_session_only(True)
    store.wipe()
    again = PersistentCookieJar(store, PURPOSES)
    assert not again.session_only and len(again) == 0


# -- HTTPS: attributes survive a new process -------------------------------------------------

_CHILD = r"""
import json, sys
from pathlib import Path
import requests
from sdk.policy.manifest import parse_manifest
from sdk.storage.backends.passphrase import PassphraseKeystore
from sdk.storage.cookies import PersistentCookieJar
from sdk.storage.store import EncryptedStore

data_dir, manifest_path, ca, https_url, http_url = sys.argv[1:6]
purposes = json.loads(sys.argv[6])
manifest = parse_manifest(Path(manifest_path).read_text(encoding="utf-8"))
store = EncryptedStore(Path(data_dir) / "store.db", PassphraseKeystore(data_dir, "cookie test"), manifest)
jar = PersistentCookieJar(store, purposes)
session = requests.Session()
session.trust_env = False
session.cookies = jar
listing = [
    {"name": c.name, "domain": c.domain, "secure": c.secure, "http_only": c.http_only,
     "same_site": c.same_site, "expires": c.expires.isoformat() if c.expires else None}
    for c in jar.list()
]
over_https = session.get(https_url, verify=ca, timeout=10).json()["cookie"]
over_http = session.get(http_url, timeout=10).json()["cookie"]
print(json.dumps({"list": listing, "https": over_https, "http": over_http}))
"""


def test_secure_httponly_samesite_and_expiry_survive_a_new_process(
    tmp_path: Path, manifest: Manifest, https_port: int, http_port: int, dev_ca
) -> None:  # OBL-CK-1
    data_dir = tmp_path / "device"
    manifest_path = tmp_path / "manifest.toml"
    manifest_path.write_text(MANIFEST_TOML, encoding="utf-8")
    store = EncryptedStore(data_dir / "store.db", PassphraseKeystore(data_dir, "cookie test"), manifest)
    jar = PersistentCookieJar(store, PURPOSES)
    session = _session(jar)
    session.get(f"https://localhost:{https_port}/login-secure", verify=str(dev_ca.ca_path), timeout=10)
    (before,) = jar.list()
    store.close()

    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(data_dir), str(manifest_path), str(dev_ca.ca_path),
         f"https://localhost:{https_port}/echo", f"http://localhost:{http_port}/echo",
         json.dumps(PURPOSES)],
        capture_output=True, text=True, timeout=60, env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout)
    assert seen["list"] == [{
        "name": "sid", "domain": "localhost.local", "secure": True, "http_only": True,
        "same_site": "Strict", "expires": before.expires.isoformat(),
    }]
    assert seen["https"] == f"sid={SID}"
    assert seen["http"] == ""  # Secure: never over plain HTTP
