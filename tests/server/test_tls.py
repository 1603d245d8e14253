"""The stub speaks HTTPS only, with a certificate that only its own CA vouches for."""

from __future__ import annotations

import requests
import pytest

from server_stub.runner import RunningServer


def test_health_over_https_verified_by_the_stub_ca(stub: RunningServer) -> None:
    answer = requests.get(f"{stub.url}/v1/health", verify=stub.ca_path, timeout=10)
    assert answer.status_code == 200
    assert answer.json()["status"] == "ok"
    assert answer.json()["version"]
    assert stub.url == f"https://127.0.0.1:{stub.port}"


def test_system_trust_store_does_not_trust_the_stub(stub: RunningServer) -> None:
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{stub.url}/v1/health", verify=True, timeout=10)


def test_plain_http_gets_no_answer(stub: RunningServer) -> None:
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"http://127.0.0.1:{stub.port}/v1/health", timeout=10)
