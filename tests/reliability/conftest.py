"""Fixtures of the reliability suite: the real stub over HTTPS and device configs, shared with
the SDK <-> stub tests (tests/integration/conftest.py)."""

from tests.integration.conftest import (  # noqa: F401 - pytest fixtures, used by name
    bundled_policy,
    device_dir,
    make_config,
    stub,
)
