"""device_ip "as the server sees it": the stub's ``GET /v1/client-ip`` over real HTTPS, behind
the SDK's consent gate (OBL-DEV-1)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sdk import ConsentRequired, PrivacySdk, SdkConfig
from sdk.policy import Policy
from sdk.testing.keystore import MemoryKeystore
from sdk.transport.client import ApiClient


def test_the_stub_echoes_the_client_ip_over_https(stub: Any, make_config: Callable[..., SdkConfig]) -> None:  # OBL-DEV-1
    assert stub.url.startswith("https://")
    with ApiClient(make_config(stub)) as api:
        assert api.client_ip() == "127.0.0.1"


def test_the_server_seen_ip_is_collected_after_agreement(
        stub: Any, make_config: Callable[..., SdkConfig], bundled_policy: Policy) -> None:  # OBL-DEV-1
    with PrivacySdk.open(make_config(stub), bundled_policy, keystore=MemoryKeystore()) as privacy:
        privacy.agree(sync=False)
        result = privacy.device.server_ip("operation_log", raw=True)
        assert (result.source, result.addresses, result.hashed) == ("server", ("127.0.0.1",), False)
        entry = privacy.audit.entries("collect")[-1]
        assert (entry.item, entry.purpose, entry.outcome) == ("device_ip", "operation_log", "allowed")


def test_the_server_seen_ip_is_hashed_by_default(
        stub: Any, make_config: Callable[..., SdkConfig], bundled_policy: Policy) -> None:  # OBL-DEV-1
    with PrivacySdk.open(make_config(stub), bundled_policy, keystore=MemoryKeystore()) as privacy:
        privacy.agree(sync=False)
        [value] = privacy.device.server_ip("device_security").addresses
        assert value.startswith("hmac-sha256:") and "127.0.0.1" not in value


def test_the_server_is_not_asked_before_consent(
        stub: Any, make_config: Callable[..., SdkConfig], bundled_policy: Policy,
        monkeypatch: pytest.MonkeyPatch) -> None:  # OBL-DEV-1
    asked: list[str] = []
    monkeypatch.setattr(ApiClient, "client_ip", lambda self: asked.append("client-ip") or "")
    with PrivacySdk.open(make_config(stub), bundled_policy, keystore=MemoryKeystore()) as privacy:
        with pytest.raises(ConsentRequired):
            privacy.device.server_ip("device_security")
    assert asked == []


def test_the_answer_is_not_cached(stub: Any, make_config: Callable[..., SdkConfig]) -> None:
    from server_stub.testing import https_session

    with https_session(stub) as session:
        response = session.get(f"{stub.url}/v1/client-ip", timeout=10)
    assert response.json() == {"ip": "127.0.0.1"}
    assert response.headers["Cache-Control"] == "no-store"
