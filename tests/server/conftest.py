"""Fixtures for the stub server tests: a real server over real HTTPS on a free port."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from server_stub.runner import RunningServer
from server_stub.settings import Settings
from server_stub.testing import https_session, running_stub, write_policy_dir

#: What the small policy's manifest adds to the sample one: the ``account`` purpose.
MANIFEST_EXTRA = '\n[[purposes]]\nid = "account"\n'


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    """A small policy folder of its own (the demo app's policy may not exist yet)."""
    return write_policy_dir(tmp_path / "policy", manifest_extra=MANIFEST_EXTRA)


def module_stub_settings(tmp: Path) -> Settings:
    """The settings of a stub serving a whole module: the small policy in *tmp*, the data in
    *tmp*/stub-data, dev mode off, the agency stand-in answering at once."""
    policy = write_policy_dir(tmp / "policy", manifest_extra=MANIFEST_EXTRA)
    return Settings(data_dir=tmp / "stub-data", policy_dir=policy, dev_mode=False,
                    realname_agency_delay_seconds=0)


@contextmanager
def throwaway_app() -> Iterator[Any]:
    """A stub app (FastAPI) built in a temporary folder with the small policy; nothing is
    served. For reading its OpenAPI document and routes at collection."""
    from server_stub.app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        policy = write_policy_dir(Path(tmp) / "policy", manifest_extra=MANIFEST_EXTRA)
        yield create_app(Settings(data_dir=Path(tmp) / "data", policy_dir=policy,
                                  hpke_kem="X25519"))


def openapi_operations(app: Any) -> list[str]:
    """``"METHOD /path"`` of every operation of ``app.openapi()``."""
    return [f"{method.upper()} {path}" for path, item in app.openapi()["paths"].items()
            for method in item]


@pytest.fixture
def stub(tmp_path: Path, policy_dir: Path) -> Iterator[RunningServer]:
    """A running stub with its own data dir in ``tmp_path``."""
    with running_stub(tmp_path, policy_dir) as server:
        yield server


@pytest.fixture
def client(stub: RunningServer) -> Iterator[requests.Session]:
    """A session that trusts only the stub's CA; closed before the stub stops."""
    with https_session(stub) as session:
        yield session


@pytest.fixture
def make_record() -> Callable[..., dict[str, Any]]:
    """Build a valid consent record; keyword arguments override fields."""

    def make(**overrides: Any) -> dict[str, Any]:
        record: dict[str, Any] = {
            "schema_version": 1,
            "record_id": str(uuid.uuid4()),
            "subject_id": str(uuid.uuid4()),
            "notice": {"policy_version": "2026.11", "sha256": "ab" * 32, "language": "zh-CN"},
            "controller": "示例电子签 (Demo e-Sign Ltd.)",
            "decision": "granted",
            "purposes": ["account", "esign_service"],
            "lawful_basis": "consent",
            "method": "explicit_button",
            "jurisdiction": "CN",
            "created_at": "2026-11-30T03:22:25Z",
        }
        record.update(overrides)
        return record

    return make


ACCOUNT_PASSWORD = "Xk9#mQ2vLp8w-river"


@pytest.fixture
def make_device() -> Callable[..., Any]:
    """``make_device(subject_id=None, key=None)``: a :class:`SigningDevice` writing signed,
    chained version 2 records."""
    from server_stub.testing import SigningDevice

    return SigningDevice


@pytest.fixture
def new_account(stub: RunningServer) -> Iterator[Callable[[], requests.Session]]:
    """``new_account()``: registers a fresh email account and returns an HTTPS session logged
    in to it (``session.account_id`` holds its id). Sessions close before the stub stops."""
    sessions: list[requests.Session] = []

    def make() -> requests.Session:
        session = https_session(stub)
        sessions.append(session)
        identifier = f"user{len(sessions)}-{uuid.uuid4().hex[:8]}@example.com"
        created = session.post(
            f"{stub.url}/v1/accounts",
            json={"identifier": identifier, "password": ACCOUNT_PASSWORD},
            headers={"Idempotency-Key": str(uuid.uuid4())},
            timeout=10,
        )
        assert created.status_code == 201, created.text
        login = session.post(
            f"{stub.url}/v1/sessions",
            json={"identifier": identifier, "password": ACCOUNT_PASSWORD},
            timeout=10,
        )
        assert login.status_code == 200, login.text
        session.account_id = created.json()["account_id"]  # type: ignore[attr-defined]
        return session

    yield make
    for session in sessions:
        session.close()
