"""Fixtures for SDK <-> stub tests: the real stub over HTTPS on a free loopback port.

Every test gets its own stub (own SQLite, own dev CA) and its own device data dir.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sdk import PrivacySdk, SdkConfig
from sdk.policy import Policy, load_policy

from .devices import CERT_SCOPES, EMAIL, User, open_logged_in

REPO = Path(__file__).resolve().parents[2]
DEMO_POLICY_DIR = REPO / "demo_app" / "policy"
DEMO_POLICY = DEMO_POLICY_DIR / "policy.md"


@pytest.fixture
def stub(tmp_path: Path) -> Iterator[Any]:
    """The stub server serving the demo app's policy; ``.url``, ``.ca_path``, ``.stop()``."""
    from server_stub.testing import running_stub

    with running_stub(tmp_path / "stub", policy_dir=DEMO_POLICY_DIR) as server:
        yield server


@pytest.fixture
def bundled_policy() -> Policy:
    """The policy the demo app ships with (the SDK's offline fallback)."""
    return load_policy(DEMO_POLICY)


@pytest.fixture
def device_dir(tmp_path: Path) -> Path:
    """This test's own device data dir."""
    return tmp_path / "device"


@pytest.fixture
def make_config(device_dir: Path) -> Callable[..., SdkConfig]:
    """``make_config(server, **overrides)``: an SdkConfig for *server* with fast retries."""

    def make(server: Any = None, **overrides: Any) -> SdkConfig:
        settings: dict[str, Any] = {
            "data_dir": device_dir,
            "retries": 1,
            "backoff": 0.0,
            "connect_timeout": 5.0,
            "read_timeout": 10.0,
        }
        if server is not None:
            settings["endpoint"] = server.url
            settings["ca_bundle"] = server.ca_path
        settings.update(overrides)
        return SdkConfig(**settings)

    return make


@pytest.fixture
def privacy(stub: Any, make_config: Callable[..., SdkConfig], bundled_policy: Policy) -> Iterator[PrivacySdk]:
    """A PrivacySdk on a fresh device, talking to the stub."""
    with PrivacySdk.open(make_config(stub), bundled_policy) as sdk:
        yield sdk


@pytest.fixture
def open_device(stub: Any, make_config: Callable[..., SdkConfig], bundled_policy: Policy,
                tmp_path: Path) -> Iterator[Callable[..., PrivacySdk]]:
    """``open_device(email=EMAIL, register=True, **config)``: a PrivacySdk that agreed and is
    logged in to *email* (registered first unless *register* is False), with its own data dir;
    closed after the test. (The real-name tests have their own, with the stub's pins.)"""
    devices: list[PrivacySdk] = []

    def make(email: str = EMAIL, register: bool = True, **overrides: Any) -> PrivacySdk:
        overrides.setdefault("data_dir", tmp_path / f"device-{len(devices)}")
        privacy, _keystore = open_logged_in(make_config(stub, **overrides), bundled_policy,
                                            email, register=register)
        devices.append(privacy)
        return privacy

    yield make
    for privacy in devices:
        privacy.close()


@pytest.fixture
def open_user(stub: Any, make_config: Callable[..., SdkConfig], bundled_policy: Policy,
              tmp_path: Path) -> Iterator[Callable[..., User]]:
    """``open_user(register=True, data_dir=None)``: a logged-in device of the one account
    (:class:`tests.integration.devices.User`); *data_dir* None: the test's ``device_dir``.
    Every device is closed after the test."""
    users: list[User] = []

    def make(register: bool = True, data_dir: Path | None = None) -> User:
        overrides = {"data_dir": data_dir} if data_dir is not None else {}
        user = User(stub, make_config(stub, **overrides), bundled_policy, register=register)
        users.append(user)
        return user

    yield make
    for user in users:
        user.close()


@pytest.fixture
def user(open_user: Callable[..., User]) -> User:
    """Verified on the server, every certificate consent granted and synced."""
    return open_user().consent(*CERT_SCOPES).verified_on_server()


@pytest.fixture
def newer_policy_dir(tmp_path: Path) -> Path:
    """A copy of the demo policy whose manifest declares version ``2099.01``."""
    target = tmp_path / "newer-policy"
    shutil.copytree(DEMO_POLICY_DIR, target)
    manifest = target / "manifest.toml"
    text, count = re.subn(
        r'^version\s*=\s*"[^"]*"', 'version = "2099.01"', manifest.read_text(encoding="utf-8"), count=1, flags=re.M
    )
    assert count == 1, "the demo manifest has no top-level version line"
    manifest.write_text(text, encoding="utf-8")
    return target


def restart(server: Any, policy_dir: Path = DEMO_POLICY_DIR) -> Any:
    """Start the stub again on the same port and data dir (same CA, same stored records).

    *server* must be stopped. The caller stops the returned server (``with`` or ``.stop()``).
    """
    from urllib.parse import urlsplit

    from server_stub.runner import start_in_thread
    from server_stub.settings import Settings

    port = urlsplit(server.url).port
    return start_in_thread(Settings(data_dir=Path(server.data_dir), policy_dir=policy_dir, port=port))
