"""Fixtures for the doc tests: a display (Xvfb when there is none) and a stub over HTTPS,
the same fixtures as the UI tests'."""

from __future__ import annotations

from tests.ui.conftest import display, stub  # noqa: F401  (fixtures, used by name)
