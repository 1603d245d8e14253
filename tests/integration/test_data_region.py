"""OBL-RES-1, SDK half: the SDK sends personal information only to an endpoint that declares
(``Data-Region`` answer header) the region the app declares (``SdkConfig.region``). The real
stub over HTTPS, started with ``Settings.data_region``; its SQLite file shows what it got."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sdk import PrivacySdk, RegionMismatch, SdkConfig
from sdk.policy import Policy
from sdk.transport import ApiClient

PHONE = "13812345678"
PASSWORD = "Correct-Horse-Battery-9"


@pytest.fixture
def sg_stub(tmp_path: Path) -> Iterator[Any]:
    """A stub that declares it stores data in Singapore."""
    from server_stub.runner import start_in_thread
    from server_stub.settings import Settings

    settings = Settings(data_dir=tmp_path / "stub-sg", dev_mode=True, data_region="SG")
    with start_in_thread(settings) as server:
        yield server


def _stub_rows(server: Any, table: str) -> int:
    conn = sqlite3.connect(Path(server.data_dir) / "stub.db")
    try:
        return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    finally:
        conn.close()


def _stub_bytes(server: Any) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(Path(server.data_dir).glob("stub.db*")))


def test_a_body_is_not_sent_to_an_endpoint_in_another_region(
        sg_stub: Any, make_config: Callable[..., SdkConfig]) -> None:  # OBL-RES-1
    # OBL-RES-1: SDK region CN, endpoint SG: RegionMismatch before the POST body leaves
    with ApiClient(make_config(sg_stub)) as client:
        with pytest.raises(RegionMismatch) as caught:
            client.create_account(PHONE, PASSWORD)

    assert (caught.value.endpoint_region, caught.value.declared_region) == ("SG", "CN")
    assert _stub_rows(sg_stub, "accounts") == 0
    assert PHONE.encode() not in _stub_bytes(sg_stub)


def test_the_mismatch_message_names_both_regions_and_the_fix(
        sg_stub: Any, make_config: Callable[..., SdkConfig]) -> None:  # OBL-RES-1
    # OBL-RES-1
    with ApiClient(make_config(sg_stub)) as client:
        with pytest.raises(RegionMismatch, match=r"region SG, the app declares CN "
                                                 r"\(SdkConfig\.region\); use an endpoint in CN"):
            client.create_account(PHONE, PASSWORD)


def test_the_sdk_keeps_consent_on_the_device_and_sends_nothing_to_another_region(
        sg_stub: Any, make_config: Callable[..., SdkConfig], bundled_policy: Policy) -> None:  # OBL-RES-1
    # OBL-RES-1: agree() still takes effect locally; the record stays pending, never sent
    with PrivacySdk.open(make_config(sg_stub), bundled_policy) as privacy:
        privacy.agree()
        assert privacy.pending_sync() == 1
        with pytest.raises(RegionMismatch):
            privacy.sync()

    assert _stub_rows(sg_stub, "consent_records") == 0


def test_login_to_another_region_is_refused(
        sg_stub: Any, make_config: Callable[..., SdkConfig], bundled_policy: Policy) -> None:  # OBL-RES-1
    # OBL-RES-1: the identifier and password never leave for the SG endpoint
    with PrivacySdk.open(make_config(sg_stub), bundled_policy) as privacy:
        privacy.agree()
        with pytest.raises(RegionMismatch):
            privacy.login(PHONE, PASSWORD)

    assert _stub_rows(sg_stub, "sessions") == 0
    assert PHONE.encode() not in _stub_bytes(sg_stub)


def test_reading_from_another_region_is_refused_too(
        sg_stub: Any, make_config: Callable[..., SdkConfig]) -> None:  # OBL-RES-1
    # OBL-RES-1: every answer is checked, not only before a body
    with ApiClient(make_config(sg_stub)) as client:
        with pytest.raises(RegionMismatch):
            client.list_templates()


def test_the_same_region_works(stub: Any, make_config: Callable[..., SdkConfig]) -> None:  # OBL-RES-1
    # OBL-RES-1: the stub declares CN, the SDK declares CN
    with ApiClient(make_config(stub)) as client:
        created = client.create_account(PHONE, PASSWORD)
        assert client.data_region == "CN"

    assert created["identifier_kind"] == "phone"
    assert _stub_rows(stub, "accounts") == 1


def test_regions_compare_case_insensitively(
        stub: Any, make_config: Callable[..., SdkConfig]) -> None:  # OBL-RES-1
    # OBL-RES-1: SdkConfig.region "cn" matches Data-Region "CN" (ISO 3166-1 alpha-2)
    with ApiClient(make_config(stub, region="cn")) as client:
        client.create_account(PHONE, PASSWORD)

    assert _stub_rows(stub, "accounts") == 1
