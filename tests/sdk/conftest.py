"""Fixtures shared by the SDK tests."""

from __future__ import annotations

import pytest

from .clock import Clock


@pytest.fixture
def clock() -> Clock:
    """A clock at :data:`tests.sdk.clock.T0` that moves only on ``tick()``."""
    return Clock()
