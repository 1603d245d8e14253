"""Fixtures shared by the SDK tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from .clock import Clock

if TYPE_CHECKING:
    from .certificates import Device


@pytest.fixture
def clock() -> Clock:
    """A clock at :data:`tests.sdk.clock.T0` that moves only on ``tick()``."""
    return Clock()


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
