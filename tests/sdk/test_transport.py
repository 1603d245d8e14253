"""Transport: session settings, TLS trust, error mapping, retries, downloads.

The servers here are real (``http.server`` on a loopback port, with TLS where TLS matters);
nothing is mocked. The full protocol is exercised against the stub in tests/integration/.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sdk import SdkConfig
from sdk.errors import (
    ConfigError,
    RegionMismatch,
    ServerError,
    ServerUnavailable,
    StorageError,
    TlsError,
    TransportError,
)
from sdk.transport import ApiClient, make_session

# -- a tiny real server --------------------------------------------------------------------


@dataclass
class Reply:
    status: int = 200
    body: bytes | dict | list = b""
    headers: dict[str, str | None] = field(default_factory=dict)
    delay: float = 0.0
    truncate_to: int | None = None  # send only this many body bytes, then close


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Server:
    """Answers each path from a queue of replies (the last one repeats); records requests."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.routes: dict[str, list[Reply]] = {}
        self.seen: list[Seen] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                outer.seen.append(Seen(self.command, self.path, dict(self.headers), body))
                queue = outer.routes.get(self.path.split("?")[0]) or [Reply(404, {"error": "nope", "message": "no route"})]
                reply = queue.pop(0) if len(queue) > 1 else queue[0]
                if reply.delay:
                    time.sleep(reply.delay)
                payload = reply.body
                if not isinstance(payload, bytes):
                    payload = json.dumps(payload).encode()
                self.send_response(reply.status)
                # every answer declares the data region, as the stub does (OBL-RES-1)
                headers = {"Content-Type": "application/json", "Data-Region": "CN",
                           **reply.headers}
                for key, value in headers.items():
                    if value is not None:  # None leaves a default header out
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload if reply.truncate_to is None else payload[: reply.truncate_to])
                self.wfile.flush()
                if reply.truncate_to is not None:
                    self.close_connection = True

            do_GET = do_POST = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.scheme = "https" if tls else "http"
        self.url = f"{self.scheme}://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def route(self, path: str, *replies: Reply) -> None:
        self.routes[path] = list(replies)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def make_ca(tmp: Path, name: str) -> tuple[Path, ssl.SSLContext]:
    """A CA (PEM written to *tmp*) and a server TLS context for 127.0.0.1 signed by it."""
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    import ipaddress

    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem = tmp / f"{name}-ca.pem"
    ca_pem.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    chain = tmp / f"{name}-server.pem"
    chain.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(chain)
    return ca_pem, ctx


@pytest.fixture
def http_server() -> Iterator[Server]:
    server = Server()
    yield server
    server.stop()


@pytest.fixture
def tls(tmp_path: Path) -> Iterator[tuple[Server, Path, Path]]:
    """An HTTPS server, the CA that signed it, and an unrelated CA."""
    ca, ctx = make_ca(tmp_path, "good")
    other_ca, _ = make_ca(tmp_path, "other")
    server = Server(ctx)
    server.route("/v1/health", Reply(200, {"status": "ok", "version": "test"}))
    yield server, ca, other_ca
    server.stop()


def dev_config(tmp_path: Path, server: Server, **kw) -> SdkConfig:
    kw.setdefault("retries", 2)
    kw.setdefault("backoff", 0.0)
    return SdkConfig(data_dir=tmp_path / "data", endpoint=server.url, dev_mode=True, **kw)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- session settings ----------------------------------------------------------------------


def test_session_ignores_environment(tmp_path: Path, tls, monkeypatch) -> None:  # OBL-SEC-1
    server, ca, _ = tls
    bogus = tmp_path / "does-not-exist.pem"
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bogus))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(bogus))
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("https_proxy", "http://127.0.0.1:9")
    config = SdkConfig(data_dir=tmp_path, endpoint=server.url, ca_bundle=ca)
    session = make_session(config)
    assert session.trust_env is False
    assert session.verify == str(ca)
    settings = session.merge_environment_settings(server.url, {}, None, None, None)
    assert settings["verify"] == str(ca) and settings["proxies"] == {}
    # and for real: the request verifies against the config CA and goes direct
    with ApiClient(config, session=session) as client:
        assert client.health()["status"] == "ok"
    # contrast: a default requests session lets the environment override trust
    with pytest.raises((OSError, requests.exceptions.RequestException)):
        plain = requests.Session()
        plain.verify = str(ca)
        plain.get(server.url + "/v1/health", timeout=5)


def test_session_without_ca_bundle_uses_bundled_store(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "bogus.pem"))
    session = make_session(SdkConfig(data_dir=tmp_path, endpoint="https://api.example.cn"))
    assert session.verify is True
    assert session.merge_environment_settings("https://api.example.cn", {}, None, None, None)["verify"] is True


def test_retry_settings(tmp_path: Path) -> None:
    config = SdkConfig(data_dir=tmp_path, endpoint="https://api.example.cn", retries=4, backoff=0.5)
    session = make_session(config)
    retry = session.get_adapter("https://api.example.cn").max_retries
    assert retry.total == 4 and retry.connect == 4 and retry.read == 4
    assert retry.backoff_factor == 0.5
    assert set(retry.status_forcelist) == {502, 503, 504}
    assert "POST" in retry.allowed_methods
    assert retry.respect_retry_after_header is True
    assert retry.raise_on_status is False
    assert retry.other == 0  # a TLS failure is not retried


def test_plain_http_is_not_mounted_outside_dev_mode(tmp_path: Path) -> None:  # OBL-SEC-1
    session = make_session(SdkConfig(data_dir=tmp_path, endpoint="https://api.example.cn"))
    with pytest.raises(requests.exceptions.InvalidSchema):
        session.get("http://127.0.0.1:9/", timeout=1)
    dev = make_session(SdkConfig(data_dir=tmp_path, endpoint="http://127.0.0.1:9", dev_mode=True))
    assert dev.get_adapter("http://127.0.0.1:9/")


@pytest.mark.parametrize(
    ("endpoint", "dev_mode"),
    [
        ("http://api.example.cn", False),
        ("http://api.example.cn", True),  # dev_mode allows loopback only
        ("http://10.0.0.5:8443", True),
        ("http://127.0.0.1:8443", False),
        ("ftp://api.example.cn", False),
        ("api.example.cn", False),
    ],
)
def test_config_refuses_plain_http(tmp_path: Path, endpoint: str, dev_mode: bool) -> None:  # OBL-SEC-1
    with pytest.raises(ConfigError):
        SdkConfig(data_dir=tmp_path, endpoint=endpoint, dev_mode=dev_mode)


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:8443", "http://localhost:8443", "http://[::1]:8443"])
def test_config_allows_loopback_http_in_dev_mode(tmp_path: Path, endpoint: str) -> None:  # OBL-SEC-1
    assert SdkConfig(data_dir=tmp_path, endpoint=endpoint, dev_mode=True).base_url == endpoint


def test_client_without_endpoint_is_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="endpoint"):
        ApiClient(SdkConfig(data_dir=tmp_path))


# -- TLS -----------------------------------------------------------------------------------


def test_wrong_ca_is_tls_error(tmp_path: Path, tls) -> None:  # OBL-SEC-1
    server, _, other_ca = tls
    config = SdkConfig(data_dir=tmp_path, endpoint=server.url, ca_bundle=other_ca, retries=3, backoff=1.0)
    started = time.monotonic()
    with ApiClient(config) as client, pytest.raises(TlsError) as info:
        client.health()
    assert time.monotonic() - started < 1.0  # not retried with backoff
    assert "ca_bundle" in str(info.value)
    assert isinstance(info.value.__cause__, requests.exceptions.SSLError)
    assert server.seen == []


def test_system_store_does_not_trust_a_private_ca(tmp_path: Path, tls) -> None:  # OBL-SEC-1
    server, _, _ = tls
    with ApiClient(SdkConfig(data_dir=tmp_path, endpoint=server.url)) as client:
        with pytest.raises(TlsError, match="system trust store"):
            client.health()


# -- error mapping -------------------------------------------------------------------------


def test_error_body_becomes_server_error(tmp_path: Path, http_server: Server) -> None:
    http_server.route(
        "/v1/templates/missing",
        Reply(404, {"error": "template_not_found", "message": "no template with that id"}),
    )
    with ApiClient(dev_config(tmp_path, http_server)) as client, pytest.raises(ServerError) as info:
        client.get_template("missing")
    assert info.value.status == 404 and info.value.code == "template_not_found"
    assert "no template with that id" in str(info.value)


def test_non_json_error_body(tmp_path: Path, http_server: Server) -> None:
    http_server.route("/v1/templates", Reply(418, b"teapot", {"Content-Type": "text/plain"}))
    with ApiClient(dev_config(tmp_path, http_server)) as client, pytest.raises(ServerError) as info:
        client.list_templates()
    assert info.value.status == 418 and info.value.code == "http_418"


def test_redirect_is_not_followed(tmp_path: Path, http_server: Server) -> None:
    http_server.route("/v1/templates", Reply(302, b"", {"Location": "http://example.com/"}))
    with ApiClient(dev_config(tmp_path, http_server)) as client, pytest.raises(ServerError) as info:
        client.list_templates()
    assert info.value.code == "unexpected_redirect"
    assert len(http_server.seen) == 1


def test_503_is_retried_then_server_unavailable(tmp_path: Path, http_server: Server) -> None:
    http_server.route("/v1/templates", Reply(503, {"error": "maintenance", "message": "later"}))
    with ApiClient(dev_config(tmp_path, http_server, retries=2)) as client:
        with pytest.raises(ServerUnavailable, match="503"):
            client.list_templates()
    assert len(http_server.seen) == 3  # first try + 2 retries


def test_post_is_retried_with_the_same_idempotency_key(tmp_path: Path, http_server: Server) -> None:
    record = {"record_id": "6f1c0c8e-2f8e-4c55-9d1e-0e7f3c1b2a10", "decision": "granted"}
    http_server.route(
        "/v1/consent-records",
        Reply(503, {"error": "busy", "message": "retry"}),
        Reply(201, {**record, "received_at": "2026-11-30T03:22:26Z"}),
    )
    with ApiClient(dev_config(tmp_path, http_server)) as client:
        answer = client.post_consent_record(record)
    assert answer["received_at"] == "2026-11-30T03:22:26Z"
    posts = [s for s in http_server.seen if s.method == "POST"]
    assert len(posts) == 2
    assert {p.headers["Idempotency-Key"] for p in posts} == {record["record_id"]}
    assert json.loads(posts[1].body) == record


def test_connection_refused_is_server_unavailable(tmp_path: Path) -> None:
    config = SdkConfig(
        data_dir=tmp_path, endpoint=f"http://127.0.0.1:{free_port()}", dev_mode=True, retries=1, backoff=0
    )
    with ApiClient(config) as client, pytest.raises(ServerUnavailable) as info:
        client.health()
    assert isinstance(info.value.__cause__, requests.exceptions.ConnectionError)


def test_read_timeout_is_server_unavailable(tmp_path: Path, http_server: Server) -> None:
    http_server.route("/v1/health", Reply(200, {"status": "ok"}, delay=1.0))
    config = dev_config(tmp_path, http_server, retries=0, read_timeout=0.2)
    started = time.monotonic()
    with ApiClient(config) as client, pytest.raises(ServerUnavailable):
        client.health()
    assert time.monotonic() - started < 0.9


def test_answer_that_is_not_json(tmp_path: Path, http_server: Server) -> None:
    http_server.route("/v1/policy", Reply(200, b"<html>", {"Content-Type": "text/html"}))
    with ApiClient(dev_config(tmp_path, http_server)) as client, pytest.raises(TransportError, match="not JSON"):
        client.get_policy()


def test_answer_missing_fields(tmp_path: Path, http_server: Server) -> None:
    http_server.route("/v1/templates", Reply(200, {"items": []}))
    with ApiClient(dev_config(tmp_path, http_server)) as client, pytest.raises(TransportError, match="templates"):
        client.list_templates()


def test_error_messages_do_not_echo_query_strings(tmp_path: Path, http_server: Server) -> None:
    http_server.route("/v1/consent-records", Reply(500, {"error": "boom", "message": "internal"}))
    subject = "3b9a5d3e-1111-4222-8333-944445555666"
    with ApiClient(dev_config(tmp_path, http_server)) as client, pytest.raises(ServerError) as info:
        client.list_consent_records(subject)
    assert subject not in str(info.value)
    assert http_server.seen[0].path.endswith(f"subject_id={subject}")


# -- basic mode requests: no cookie, no identifier (OBL-ACC-2) ------------------------------


def test_template_requests_send_no_cookie(tmp_path: Path, http_server: Server) -> None:  # OBL-ACC-2
    http_server.route("/v1/templates", Reply(200, {"templates": []}, {"Set-Cookie": "tracker=abc; Path=/"}))
    http_server.route("/v1/templates/t1", Reply(200, {"id": "t1", "title": "T", "body": "# T"}))
    with ApiClient(dev_config(tmp_path, http_server)) as client:
        client.session.cookies.set("sid", "login-session", domain="127.0.0.1", path="/")
        client.list_templates()
        client.list_templates()
        client.get_template("t1")
    for seen in http_server.seen:
        assert "Cookie" not in seen.headers, seen.path
        assert seen.headers["User-Agent"].startswith("privacy-sdk/")


# -- downloads -----------------------------------------------------------------------------


def test_download_template(tmp_path: Path, http_server: Server) -> None:  # OBL-ACC-2
    body = "# 租赁合同\n\n甲方……\n".encode()
    http_server.route(
        "/v1/templates/lease/download",
        Reply(200, body, {"Content-Type": "text/markdown", "Content-Disposition": 'attachment; filename="lease.md"'}),
    )
    dest = tmp_path / "downloads"
    with ApiClient(dev_config(tmp_path, http_server)) as client:
        path = client.download_template("lease", dest)
    assert path == dest / "lease.md"
    assert path.read_bytes() == body
    assert sorted(p.name for p in dest.iterdir()) == ["lease.md"]


def test_download_ignores_unsafe_filenames(tmp_path: Path, http_server: Server) -> None:
    http_server.route(
        "/v1/templates/lease/download",
        Reply(200, b"x", {"Content-Disposition": 'attachment; filename="../../.bashrc"'}),
    )
    dest = tmp_path / "downloads"
    with ApiClient(dev_config(tmp_path, http_server)) as client:
        path = client.download_template("lease", dest)
    assert path == dest / "lease.md"


def test_interrupted_download_leaves_nothing(tmp_path: Path, http_server: Server) -> None:
    dest = tmp_path / "downloads"
    dest.mkdir()
    (dest / "lease.md").write_text("previous complete copy")
    http_server.route(
        "/v1/templates/lease/download",
        Reply(200, b"A" * 100_000, {"Content-Disposition": 'attachment; filename="lease.md"'}, truncate_to=1000),
    )
    with ApiClient(dev_config(tmp_path, http_server, retries=0)) as client:
        with pytest.raises(TransportError):
            client.download_template("lease", dest)
    assert sorted(p.name for p in dest.iterdir()) == ["lease.md"]
    assert (dest / "lease.md").read_text() == "previous complete copy"


def test_download_into_unwritable_place_is_storage_error(tmp_path: Path, http_server: Server) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    http_server.route("/v1/templates/lease/download", Reply(200, b"x"))
    with ApiClient(dev_config(tmp_path, http_server)) as client, pytest.raises(StorageError):
        client.download_template("lease", blocker / "downloads")


def test_template_id_is_one_path_segment(tmp_path: Path, http_server: Server) -> None:
    http_server.route("/v1/templates/a%2F..%2Fb", Reply(200, {"id": "x"}))
    with ApiClient(dev_config(tmp_path, http_server)) as client:
        client.get_template("a/../b")
    assert http_server.seen[0].path == "/v1/templates/a%2F..%2Fb"


def test_every_call_has_a_timeout(tmp_path: Path, http_server: Server) -> None:
    """Every request passes (connect_timeout, read_timeout) to the adapter."""
    http_server.route("/v1/health", Reply(200, {"status": "ok"}))
    http_server.route("/v1/templates", Reply(200, {"templates": []}))
    http_server.route("/v1/consent-records", Reply(200, {"records": []}))
    config = dev_config(tmp_path, http_server, connect_timeout=1.5, read_timeout=2.5)
    seen: list[object] = []
    with ApiClient(config) as client:
        adapter = client.session.get_adapter(http_server.url)
        original: Callable = adapter.send

        def send(request, **kwargs):
            seen.append(kwargs.get("timeout"))
            return original(request, **kwargs)

        adapter.send = send  # a spy around the real adapter; the request still goes out
        client.health()
        client.list_templates()
        client.list_consent_records("s")
    assert seen == [(1.5, 2.5)] * 3


# -- data region (OBL-RES-1) -------------------------------------------------------------------

_RECORD = {"record_id": "2f1e4a5b-6c7d-4e8f-9a0b-1c2d3e4f5a6b", "decision": "granted"}


def test_one_health_check_learns_the_region_before_the_first_body(
        tmp_path: Path, http_server: Server) -> None:  # OBL-RES-1
    # OBL-RES-1: GET /v1/health once, then the POSTs; the region is kept for later requests
    http_server.route("/v1/health", Reply(200, {"status": "ok", "version": "t"}))
    http_server.route("/v1/consent-records", Reply(201, {"received_at": "2026-12-01T08:00:00Z"}))

    with ApiClient(dev_config(tmp_path, http_server)) as client:
        client.post_consent_record(_RECORD)
        client.post_consent_record(_RECORD)
        assert client.data_region == "CN"

    assert [(s.method, s.path) for s in http_server.seen] == [
        ("GET", "/v1/health"), ("POST", "/v1/consent-records"), ("POST", "/v1/consent-records")]


def test_an_earlier_answer_gives_the_region_without_a_health_check(
        tmp_path: Path, http_server: Server) -> None:  # OBL-RES-1
    # OBL-RES-1
    http_server.route("/v1/templates", Reply(200, {"templates": []}))
    http_server.route("/v1/consent-records", Reply(201, {"received_at": "2026-12-01T08:00:00Z"}))

    with ApiClient(dev_config(tmp_path, http_server)) as client:
        client.list_templates()
        client.post_consent_record(_RECORD)

    assert [s.method for s in http_server.seen] == ["GET", "POST"]


def test_a_missing_region_header_refuses_before_the_body_is_sent(
        tmp_path: Path, http_server: Server) -> None:  # OBL-RES-1
    # OBL-RES-1: an endpoint that declares no region gets no body
    http_server.route("/v1/health", Reply(200, {"status": "ok"}, headers={"Data-Region": None}))
    http_server.route("/v1/consent-records", Reply(201, {}))

    with ApiClient(dev_config(tmp_path, http_server)) as client:
        with pytest.raises(RegionMismatch, match="does not declare its data region") as caught:
            client.post_consent_record(_RECORD)

    assert caught.value.endpoint_region is None
    assert [s.method for s in http_server.seen] == ["GET"]


def test_a_region_header_that_is_not_a_code_is_not_echoed(
        tmp_path: Path, http_server: Server) -> None:  # OBL-RES-1
    # OBL-RES-1
    http_server.route("/v1/templates", Reply(200, {"templates": []},
                                             headers={"Data-Region": "C N; x=1"}))

    with ApiClient(dev_config(tmp_path, http_server)) as client:
        with pytest.raises(RegionMismatch, match="is not a region code") as caught:
            client.list_templates()

    assert "x=1" not in str(caught.value)


def test_a_gateway_error_without_the_header_is_server_unavailable(
        tmp_path: Path, http_server: Server) -> None:  # OBL-RES-1
    # OBL-RES-1: a 503 from a proxy is not the endpoint declaring a region; nothing is sent
    http_server.route("/v1/health", Reply(503, {"error": "down", "message": "down"},
                                          headers={"Data-Region": None}))
    http_server.route("/v1/consent-records", Reply(201, {}))

    with ApiClient(dev_config(tmp_path, http_server, retries=0)) as client:
        with pytest.raises(ServerUnavailable, match="data region is unknown"):
            client.post_consent_record(_RECORD)

    assert [s.method for s in http_server.seen] == ["GET"]
