"""Fixtures for the doc tests: a display (Xvfb when there is none) and a stub over HTTPS."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from demo_app.xvfb import has_display, virtual_display


@pytest.fixture(scope="session")
def display():
    """A ``DISPLAY`` value; the same Xvfb for the whole session (as tests/ui/conftest.py)."""
    if has_display() and not os.environ.get("UI_TESTS_FORCE_XVFB"):
        yield os.environ.get("DISPLAY", "")
        return
    with virtual_display() as value:
        yield value


@pytest.fixture
def stub(tmp_path: Path):
    """The real stub (demo policy, dev endpoints on) on a free loopback port."""
    from server_stub.testing import running_stub

    with running_stub(tmp_path / "stub") as server:
        yield server
