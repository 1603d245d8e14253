"""Fixtures shared by the SDK tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from .clock import Clock

if TYPE_CHECKING:
    from sdk import PrivacySdk

    from .certificates import Device

#: Nothing listens there: a request that goes out fails fast (ServerUnavailable).
CLOSED_PORT = "https://127.0.0.1:9"


@pytest.fixture
def clock() -> Clock:
    """A clock at :data:`tests.sdk.clock.T0` that moves only on ``tick()``."""
    return Clock()


@pytest.fixture
def offline_privacy(tmp_path: Path) -> Iterator[PrivacySdk]:
    """A PrivacySdk that agreed to the demo policy (not synced), with a memory keystore and
    :data:`CLOSED_PORT` as its endpoint (no retries, 1 s timeouts); closed after the test."""
    from sdk import PrivacySdk, SdkConfig
    from sdk.testing.keystore import MemoryKeystore

    from .policies import demo_policy

    config = SdkConfig(data_dir=tmp_path / "device", endpoint=CLOSED_PORT, retries=0,
                       backoff=0.0, connect_timeout=1.0, read_timeout=1.0)
    with PrivacySdk.open(config, demo_policy(), keystore=MemoryKeystore()) as sdk:
        sdk.agree(sync=False)
        yield sdk


@pytest.fixture
def device(tmp_path: Path, clock: Clock) -> Iterator[Device]:
    """A PrivacySdk with a CertificateManager over an offline edge
    (:class:`tests.sdk.certificates.Device`); closed after the test."""
    from .certificates import Device

    made = Device(tmp_path, clock)
    yield made
    made.close()


@pytest.fixture
def certified(device: Device) -> Device:
    """*device* with every certificate consent granted and a valid certificate installed;
    nothing sent yet."""
    from sdk.realname.certificate import STORE_NAMESPACE

    from .certificates import CERT_SCOPES

    device.consent(*CERT_SCOPES)
    device.with_certificate()
    assert device.privacy.store.entries(STORE_NAMESPACE)
    return device
