"""The device side of a user's certificate, for the SDK tests of certificates and signing: a
real PrivacySdk on a fresh data dir with a CertificateManager whose network edge records what
would be sent and fails (:class:`Offline`), and certificates from the stub's real user CA.
The fixtures ``device`` and ``certified`` (tests/sdk/conftest.py) make one."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography import x509

from sdk import PrivacySdk, SdkConfig
from sdk.errors import ServerUnavailable
from sdk.realname.certificate import CertificateInfo, CertificateManager
from sdk.testing.keystore import MemoryKeystore
from sdk.transport.client import ApiClient
from server_stub.ca import CaSigner
from server_stub.user_ca import ensure_user_ca, issue_user_certificate

from .clock import Clock
from .policies import demo_policy

__all__ = ["CERT_SCOPES", "NAME", "PSEUDONYM", "Device", "Offline"]

NAME = "阿依古丽·买买提"
PSEUDONYM = "5f" * 32
CERT_SCOPES = ("certificate", "item:certificate_info", "recipient:ca", "item:id_number")


class Offline(requests.adapters.BaseAdapter):
    """The network edge: records each request that would leave the device, then fails.

    ``GET /v1/health`` is the exception: it answers ``Data-Region: CN``, as the stub does, so
    the client knows the endpoint's region before its first body (OBL-RES-1); those checks
    carry nothing personal and are kept apart in ``health_checks``."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[requests.PreparedRequest] = []
        self.health_checks: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if request.method == "GET" and (request.path_url or "").split("?")[0] == "/v1/health":
            self.health_checks.append(request)
            answer = requests.Response()
            answer.status_code = 200
            answer.headers["Data-Region"] = "CN"
            answer.headers["Content-Type"] = "application/json"
            answer._content = b'{"status": "ok", "version": "offline-test"}'
            answer.request, answer.url = request, request.url
            return answer
        self.sent.append(request)
        raise requests.ConnectionError("offline (test)")

    def close(self) -> None:
        pass


class Device:
    """A PrivacySdk on a fresh data dir with a CertificateManager over an :class:`Offline` edge."""

    def __init__(self, tmp_path: Path, clock: Clock) -> None:
        self.clock = clock
        self.keystore = MemoryKeystore()
        self.data_dir = tmp_path / "device"
        self.privacy = PrivacySdk.open(SdkConfig(data_dir=self.data_dir, clock=clock),
                                       demo_policy(), keystore=self.keystore)
        self.edge = Offline()
        session = requests.Session()
        session.trust_env = False
        session.adapters.clear()
        session.mount("https://", self.edge)
        self.api = ApiClient(SdkConfig(data_dir=tmp_path / "api", endpoint="https://127.0.0.1:9",
                                       retries=0), session=session)
        self.verified = True
        self.manager = CertificateManager(
            self.api, self.privacy.store, self.keystore, consent=self.privacy,
            is_verified=lambda: self.verified, clock=clock)
        self._ca: CaSigner | None = None
        self._tmp = tmp_path

    def consent(self, *scopes: str) -> Device:
        self.privacy.agree()
        for scope in scopes:
            self.privacy.grant(scope)
        return self

    def attempt_request(self) -> dict[str, Any]:
        """request() up to the network; returns the JSON body that would have been sent."""
        with pytest.raises(ServerUnavailable):
            self.manager.request()
        return json.loads(self.edge.sent[-1].body)

    @property
    def ca(self) -> CaSigner:
        if self._ca is None:
            self._ca = ensure_user_ca(self._tmp / "ca")
        return self._ca

    def issue(self, csr_pem: str, *, now: dt.datetime | None = None) -> str:
        """What the server's CA would answer for *csr_pem* (the real user CA code)."""
        from cryptography.hazmat.primitives import serialization

        public_key = x509.load_pem_x509_csr(csr_pem.encode()).public_key()
        cert = issue_user_certificate(self.ca, public_key, NAME, PSEUDONYM,
                                      now=now or self.clock.now)
        return cert.public_bytes(serialization.Encoding.PEM).decode()

    def with_certificate(self) -> CertificateInfo:
        """Consents granted, a key made and a certificate for it installed."""
        body = self.attempt_request()
        self.edge.sent.clear()
        return self.manager.install(self.issue(body["csr"]))

    def close(self) -> None:
        self.api.close()
        self.privacy.close()
