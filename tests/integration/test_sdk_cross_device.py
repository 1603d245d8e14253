"""Two devices of one user, each with its own data dir, against the real stub over HTTPS:
consent given or withdrawn on one reaches the other (docs/consent.md "Sync")."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sdk import PrivacySdk, SdkConfig
from sdk.policy import Policy
from sdk.testing.keystore import MemoryKeystore

PHONE = "13800138000"
PASSWORD = "correct horse battery staple 9"


@pytest.fixture
def devices(stub: Any, make_config: Callable[..., SdkConfig], bundled_policy: Policy,
            tmp_path: Path) -> Iterator[tuple[PrivacySdk, PrivacySdk]]:
    """Two logged-in devices of the same account, both agreed to the policy."""
    opened = []
    for name in ("phone", "tablet"):
        config = make_config(stub, data_dir=tmp_path / name)
        privacy = PrivacySdk.open(config, bundled_policy, keystore=MemoryKeystore())
        privacy.agree()
        opened.append(privacy)
    opened[0].register(PHONE, PASSWORD)
    for privacy in opened:
        privacy.login(PHONE, PASSWORD)
    yield opened[0], opened[1]
    for privacy in opened:
        privacy.close()


def test_a_withdrawal_on_one_device_reaches_the_other(devices) -> None:  # OBL-DSR-4
    phone, tablet = devices
    phone.grant("marketing")
    tablet.sync()
    assert tablet.state("marketing").granted  # a signed grant from the same account
    heard = []
    tablet.add_listener(heard.append)
    phone.withdraw("marketing")
    tablet.sync()
    assert tablet.state("marketing").status == "withdrawn"
    assert [(c.scope, c.after) for c in heard] == [("purpose:marketing", "withdrawn")]


def test_a_withdrawal_made_offline_reaches_the_server_once(devices, stub) -> None:  # OBL-DSR-4
    phone, tablet = devices
    phone.grant("marketing")
    stub.stop()  # the network drops
    phone.withdraw("marketing")  # takes effect on the device at once
    assert phone.state("marketing").status == "withdrawn" and phone.pending_sync() == 1
    from tests.integration.conftest import restart

    with restart(stub):
        phone.sync()
        phone.sync()  # again: nothing is sent twice
        tablet.sync()
        assert tablet.state("marketing").status == "withdrawn"
        records, _ = tablet._api().my_consent_records()
        marketing = [r for r in records if r["scope"] == "purpose:marketing"]
        assert [r["decision"] for r in marketing] == ["granted", "withdrawn"]
