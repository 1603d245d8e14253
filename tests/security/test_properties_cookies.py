"""Property-based tests of the persistent cookie jar (MASVS-STORAGE-1, MASVS-PRIVACY-4;
OBL-CK-1, OBL-CK-2, OBL-SEC-2, OBL-SEC-3).

Arbitrary sequences of cookies (any value text, host-only and domain cookies, paths, flags;
persistent, session and already expired; names with and without a declared purpose) go
through :class:`sdk.storage.cookies.PersistentCookieJar` as a response would set them, on a
real :class:`~sdk.storage.store.EncryptedStore` with the real passphrase keystore backend.
After a restart (a new store and jar on the same file) exactly the live persistent cookies
with a declared purpose come back, each as it was set last (value, expiry, flags); a restart
after some of them expired brings back only the others; and no value is in clear in any file.
"""

from __future__ import annotations

import datetime as dt
import http.cookiejar
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from sdk.policy.manifest import load_manifest
from sdk.storage.backends.passphrase import PassphraseKeystore
from sdk.storage.cookies import COOKIE_NAMESPACE, PersistentCookieJar
from sdk.storage.store import EncryptedStore

from .conftest import BOUNDED, DEMO_POLICY_DIR

MANIFEST = load_manifest(DEMO_POLICY_DIR / "manifest.toml")
PURPOSES = {"sid": "account", "did": "device_security"}
_DAY = 86400


@pytest.fixture(scope="module")
def keystore(tmp_path_factory: pytest.TempPathFactory) -> PassphraseKeystore:
    """One real passphrase keystore (its scrypt key is derived once, not per example)."""
    return PassphraseKeystore(tmp_path_factory.mktemp("keystore"), "cookie-property-passphrase")


@pytest.fixture
def folders() -> Iterator[Any]:
    """``new()``: a fresh folder per example, all removed after the test; on a RAM file system
    where there is one (the store fsyncs every put: on a shared disk that, not the code, would
    take most of the time)."""
    made: list[str] = []
    ram = "/dev/shm" if Path("/dev/shm").is_dir() and os.access("/dev/shm", os.W_OK) else None

    def new() -> Path:
        made.append(tempfile.mkdtemp(prefix="cookie-prop-", dir=ram))
        return Path(made[-1])

    yield new
    for folder in made:
        shutil.rmtree(folder, ignore_errors=True)


_VALUE_TEXT = st.text(alphabet=st.characters(min_codepoint=0x20, exclude_categories=("Cs",)),
                      max_size=30)


@st.composite
def cookies(draw: st.DrawFn, now: float) -> http.cookiejar.Cookie:
    name = draw(st.sampled_from(["sid", "did", "tracker"]))
    marker = draw(st.from_regex(r"[0-9a-f]{16}", fullmatch=True))
    domain = draw(st.sampled_from(["api.example.cn", ".example.cn", "localhost.local",
                                   ".localhost.local"]))
    path = draw(st.sampled_from(["/", "/v1", "/v1/me"]))
    kind = draw(st.sampled_from(["persistent", "persistent", "session", "expired"]))
    expires = {"persistent": lambda: int(now) + draw(st.integers(600, 10 * _DAY)),
               "session": lambda: None,
               "expired": lambda: int(now) - draw(st.integers(1, 10 * _DAY))}[kind]()
    rest = draw(st.fixed_dictionaries({}, optional={
        "HttpOnly": st.none(), "SameSite": st.sampled_from(["Lax", "Strict", "None"])}))
    return http.cookiejar.Cookie(
        version=0, name=name, value=f"val-{marker}-" + draw(_VALUE_TEXT), port=None,
        port_specified=False, domain=domain, domain_specified=domain.startswith("."),
        domain_initial_dot=domain.startswith("."), path=path, path_specified=True,
        secure=draw(st.booleans()), expires=expires, discard=expires is None, comment=None,
        comment_url=None, rest=rest, rfc2109=False)


NOW = time.time()
SEQUENCES = st.lists(cookies(NOW), min_size=1, max_size=8)


def _shape(cookie: http.cookiejar.Cookie) -> tuple[Any, ...]:
    rest = dict(getattr(cookie, "_rest", {}) or {})
    return (cookie.value, cookie.expires, cookie.secure, rest.get("SameSite"),
            "HttpOnly" in rest)


def _expected(sequence: list[http.cookiejar.Cookie]) -> dict[tuple[str, str, str], tuple]:
    """What a restart must bring back: the last cookie set per (domain, path, name), if its
    name has a purpose, it is persistent and not expired."""
    last: dict[tuple[str, str, str], http.cookiejar.Cookie] = {}
    for cookie in sequence:
        if cookie.name not in PURPOSES:
            continue  # refused: changes nothing
        key = (cookie.domain, cookie.path, cookie.name)
        if cookie.expires is not None and cookie.expires <= NOW:
            last.pop(key, None)  # an expired Set-Cookie deletes the cookie
        else:
            last[key] = cookie
    return {k: _shape(c) for k, c in last.items() if c.expires is not None}


def _set_all(folder: Path, keystore: PassphraseKeystore, sequence: list[http.cookiejar.Cookie]) -> None:
    store = EncryptedStore(folder / "store.db", keystore, MANIFEST)
    try:
        jar = PersistentCookieJar(store, PURPOSES)
        for cookie in sequence:
            jar.set_cookie(cookie)
    finally:
        store.close()


def _restart(folder: Path, keystore: PassphraseKeystore, shift: float = 0.0) -> dict[tuple[str, str, str], tuple]:
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=shift)
    store = EncryptedStore(folder / "store.db", keystore, MANIFEST, clock=lambda: later)
    try:
        jar = PersistentCookieJar(store, PURPOSES)
        assert len(store.entries(COOKIE_NAMESPACE)) == len(jar)
        return {(c.domain, c.path, c.name): _shape(c) for c in jar}
    finally:
        store.close()


@BOUNDED
@given(sequence=SEQUENCES)
def test_live_persistent_cookies_round_trip_through_a_restart(
        keystore: PassphraseKeystore, folders: Any, sequence: list) -> None:  # MASVS-STORAGE-1, OBL-CK-1, OBL-CK-2
    folder = folders()
    _set_all(folder, keystore, sequence)
    assert _restart(folder, keystore) == _expected(sequence)


@BOUNDED
@given(sequence=SEQUENCES, shift=st.integers(0, 11 * _DAY))
def test_cookies_expired_by_the_restart_are_dropped(
        keystore: PassphraseKeystore, folders: Any, sequence: list, shift: int) -> None:  # MASVS-STORAGE-1, OBL-SEC-3
    expected = _expected(sequence)
    # no expiry within a minute of the restart: the store's clock and the jar's may differ
    assume(all(abs(shape[1] - (NOW + shift)) > 60 for shape in expected.values()))
    folder = folders()
    _set_all(folder, keystore, sequence)
    survivors = {k: v for k, v in expected.items() if v[1] > time.time() + shift}
    assert _restart(folder, keystore, shift) == survivors


@BOUNDED
@given(sequence=SEQUENCES)
def test_no_cookie_value_is_in_clear_in_any_file(
        keystore: PassphraseKeystore, folders: Any, sequence: list) -> None:  # MASVS-STORAGE-1, OBL-SEC-2
    folder = folders()
    _set_all(folder, keystore, sequence)
    files = [p for p in [*folder.rglob("*"), *Path(keystore.path).parent.rglob("*")] if p.is_file()]
    assert any(p.name == "store.db" for p in files)
    for path in files:
        data = path.read_bytes()
        for cookie in sequence:
            marker = cookie.value.split("-")[1]
            for form in (cookie.value.encode("utf-8"), marker.encode("ascii"),
                         marker.encode("utf-16-le")):
                assert form not in data, (path.name, cookie.name)
