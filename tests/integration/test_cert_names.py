"""A stub reached at another address than localhost (a phone on the local network): the
certificate must name that address, and the SDK checks it (RFC 6125 / RFC 2818 section 3.1).
127.0.0.2 stands in for the computer's network address: loopback, so nothing leaves the machine.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sdk import TlsError
from sdk.transport import ApiClient
from server_stub.runner import start_in_thread
from server_stub.settings import Settings

from .conftest import DEMO_POLICY_DIR

ADDRESS = "127.0.0.2"


def _serve(tmp_path: Path, *names: str):
    return start_in_thread(Settings(data_dir=tmp_path / "stub-data", policy_dir=DEMO_POLICY_DIR,
                                    host=ADDRESS, cert_names=names))


def test_an_address_named_by_cert_name_is_trusted(tmp_path: Path, make_config) -> None:  # OBL-SEC-1
    with _serve(tmp_path, ADDRESS) as server:
        assert server.url.startswith(f"https://{ADDRESS}:")
        with ApiClient(make_config(server)) as client:
            assert client.health()["status"] == "ok"


def test_an_address_the_certificate_does_not_name_is_refused(tmp_path: Path, make_config) -> None:  # OBL-SEC-1
    with _serve(tmp_path) as server, ApiClient(make_config(server)) as client:
        with pytest.raises(TlsError):
            client.health()


def test_the_refusal_names_the_host_and_the_fix(tmp_path: Path, make_config) -> None:  # OBL-SEC-1
    with _serve(tmp_path) as server, ApiClient(make_config(server)) as client:
        with pytest.raises(TlsError, match=f"does not name {ADDRESS}.*--cert-name {ADDRESS}"):
            client.health()


def test_the_refusal_says_it_is_a_name_mismatch(tmp_path: Path, make_config) -> None:  # OBL-SEC-1
    with _serve(tmp_path) as server, ApiClient(make_config(server)) as client:
        with pytest.raises(TlsError) as refused:
            client.health()
    assert refused.value.reason == "name_mismatch"


def test_another_ca_is_untrusted_not_a_name_mismatch(tmp_path: Path, make_config) -> None:  # OBL-SEC-1
    from server_stub.ca import ensure_dev_ca

    other_ca = ensure_dev_ca(tmp_path / "other-ca").ca_path
    with _serve(tmp_path, ADDRESS) as server, \
            ApiClient(make_config(server, ca_bundle=other_ca)) as client:
        with pytest.raises(TlsError) as refused:
            client.health()
    assert refused.value.reason == "untrusted"
