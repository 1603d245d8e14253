"""Network security (MASVS-NETWORK-1, MASVS-NETWORK-2; OBL-SEC-1).

TLS is verified against ``SdkConfig.ca_bundle`` (or the bundled store when it is unset),
whatever the environment says: none of ``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``,
``SSL_CERT_FILE`` or ``SSL_CERT_DIR`` may break trust in the configured CA, make an untrusted
server trusted, or switch verification off when set to ``''``. Plain ``http://`` is refused,
except to a loopback address in explicit ``dev_mode``, and a URL the server names (a tus
``Location``) on plain HTTP is refused even then.

Against the real stub over HTTPS on a loopback port, and a real plain-HTTP server; the
environment is changed with ``monkeypatch`` and restored after each test.
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sdk import SdkConfig
from sdk.errors import ConfigError, TlsError, TransportError
from sdk.transport import ApiClient

from .conftest import BOUNDED

CA_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The PEM of a CA that signed nothing the stub serves."""
    from server_stub.ca import ensure_dev_ca

    return Path(ensure_dev_ca(tmp_path_factory.mktemp("other-ca")).ca_path)


def _hashed_dir(ca: Path, folder: Path) -> Path:
    """An OpenSSL CA directory (``SSL_CERT_DIR``) holding *ca* under its subject hash."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to name a CA directory entry")
    digest = subprocess.run(["openssl", "x509", "-hash", "-noout", "-in", str(ca)],
                            capture_output=True, text=True, check=True).stdout.strip()
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(ca, folder / f"{digest}.0")
    return folder


def _point(variable: str, ca: Path, tmp_path: Path) -> str:
    """What *variable* is set to so that it names *ca* (a file, or a hashed directory)."""
    if variable == "SSL_CERT_DIR":
        return str(_hashed_dir(ca, tmp_path / "certs"))
    return str(ca)


def _config(stub: Any, tmp_path: Path, **changes: Any) -> SdkConfig:
    settings: dict[str, Any] = {"data_dir": tmp_path / "device", "endpoint": stub.url,
                                "ca_bundle": stub.ca_path, "retries": 0}
    settings.update(changes)
    return SdkConfig(**settings)


# -- TLS trust comes only from the configuration ----------------------------------------------


@pytest.mark.parametrize("variable", CA_VARIABLES)
@pytest.mark.parametrize("value", ["other_ca", "empty", "missing"])
def test_the_environment_cannot_break_trust_in_the_configured_ca(
        stub: Any, other_ca: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        variable: str, value: str) -> None:  # MASVS-NETWORK-1, OBL-SEC-1
    setting = {"other_ca": lambda: _point(variable, other_ca, tmp_path), "empty": lambda: "",
               "missing": lambda: str(tmp_path / "no-such-ca.pem")}[value]()
    monkeypatch.setenv(variable, setting)
    with ApiClient(_config(stub, tmp_path)) as client:
        assert client.health()["status"] == "ok"


@pytest.mark.parametrize("variable", CA_VARIABLES)
@pytest.mark.parametrize("value", ["stub_ca", "empty"])
def test_the_environment_cannot_make_an_untrusted_server_trusted(
        stub: Any, other_ca: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        variable: str, value: str) -> None:  # MASVS-NETWORK-1, OBL-SEC-1
    setting = _point(variable, Path(stub.ca_path), tmp_path) if value == "stub_ca" else ""
    monkeypatch.setenv(variable, setting)
    with ApiClient(_config(stub, tmp_path, ca_bundle=other_ca)) as client, \
            pytest.raises(TlsError):
        client.health()


@pytest.mark.parametrize("variable", CA_VARIABLES)
def test_the_environment_cannot_add_a_ca_to_the_bundled_store(
        stub: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        variable: str) -> None:  # MASVS-NETWORK-1, OBL-SEC-1
    monkeypatch.setenv(variable, _point(variable, Path(stub.ca_path), tmp_path))
    with ApiClient(_config(stub, tmp_path, ca_bundle=None)) as client, pytest.raises(TlsError):
        client.health()


# -- plain HTTP ---------------------------------------------------------------------------------


class _Health(BaseHTTPRequestHandler):
    seen: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        type(self).seen.append(self.path)
        body = json.dumps({"status": "ok", "version": "plain"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Data-Region", "CN")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def plain_http() -> Iterator[tuple[str, list[str]]]:
    """A real plain-HTTP server on 127.0.0.1: its URL and the paths it was asked for."""
    handler = type("Health", (_Health,), {"seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler.seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_plain_http_to_loopback_is_used_in_dev_mode(plain_http, tmp_path: Path) -> None:  # MASVS-NETWORK-1, OBL-SEC-1
    url, seen = plain_http
    config = SdkConfig(data_dir=tmp_path, endpoint=url, dev_mode=True, retries=0)
    with ApiClient(config) as client:
        assert client.health()["version"] == "plain"
    assert seen == ["/v1/health"]


def test_plain_http_to_loopback_is_refused_without_dev_mode(plain_http, tmp_path: Path) -> None:  # MASVS-NETWORK-1, OBL-SEC-1
    url, seen = plain_http
    with pytest.raises(ConfigError, match="plain http"):
        SdkConfig(data_dir=tmp_path, endpoint=url, retries=0)
    assert seen == []


def test_a_plain_http_url_named_by_the_server_is_refused_even_in_dev_mode(
        stub: Any, plain_http, tmp_path: Path) -> None:  # MASVS-NETWORK-1, OBL-SEC-1
    """A tus ``Location`` (or any URL the server names) on plain HTTP is another origin."""
    url, seen = plain_http
    with ApiClient(_config(stub, tmp_path, dev_mode=True)) as client:
        with pytest.raises(TransportError, match="another origin"):
            client.request("GET", url + "/v1/health")
    assert seen == []


def _is_loopback_literal(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _resolves_only_to_loopback(host: str) -> bool:
    """What the OS resolver says, without DNS (IP literals and ``localhost`` only)."""
    if host != "localhost" and not _is_loopback_literal(host):
        return False
    flags = 0 if host == "localhost" else socket.AI_NUMERICHOST
    infos = socket.getaddrinfo(host, 80, type=socket.SOCK_STREAM, flags=flags)
    return all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos)


_HOSTS = st.one_of(
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(lambda ip: f"[{ip}]"),
    st.sampled_from(["localhost", "LOCALHOST", "localhost.", "127.0.0.1", "127.255.255.254",
                     "[::1]", "[::ffff:127.0.0.1]", "0x7f000001", "127.1", "2130706433",
                     "localhost.example.com", "127.0.0.1.nip.io", "0.0.0.0", "[::]"]),
    st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,10}){0,3}", fullmatch=True),
)


@BOUNDED
@given(host=_HOSTS, port=st.none() | st.integers(1, 65535), dev_mode=st.booleans())
def test_plain_http_is_accepted_only_for_a_loopback_host_in_dev_mode(
        tmp_path: Path, host: str, port: int | None, dev_mode: bool) -> None:  # MASVS-NETWORK-1, OBL-SEC-1
    endpoint = f"http://{host}" + (f":{port}" if port else "")
    try:
        SdkConfig(data_dir=tmp_path, endpoint=endpoint, dev_mode=dev_mode)
    except ConfigError:
        accepted = False
    else:
        accepted = True
    bare = host.strip("[]").lower()
    if accepted:
        assert dev_mode and _resolves_only_to_loopback(bare), endpoint
    if dev_mode and (bare == "localhost" or _is_loopback_literal(bare)):
        assert accepted, endpoint
