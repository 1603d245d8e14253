"""Expiry of resumable uploads on the stub (docs/protocol.md "Resumable upload", tus 1.0.0
"expiration"): an unfinished upload expires 24 hours after its creation, a complete one after
its data item's retention in the manifest the stub serves (``face_video``: P30D), or 24 hours
after it completed when no verification uses it. A real
stub over real HTTPS whose clock the test moves (``Settings.clock``)."""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
import requests

from server_stub.runner import RunningServer

from .clocked import (
    DAY,
    DEMO_POLICY_DIR,
    Clock,
    clocked_stub,
    create_upload,
    login_again,
    patch_upload,
    sealed_file,
    upload_state,
)
from .test_realname_verification import AUTOMATIC, FACE, Person

HOUR = 3600


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def served_policy(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """The demo policy; parametrized indirectly with a retention, a copy whose manifest keeps
    ``face_video`` that long instead of P30D."""
    retention = getattr(request, "param", None)
    if retention is None:
        return DEMO_POLICY_DIR
    folder = tmp_path / "policy"
    shutil.copytree(DEMO_POLICY_DIR, folder)
    manifest = folder / "manifest.toml"
    text = manifest.read_text(encoding="utf-8")
    start = text.index('id = "face_video"')
    end = text.index("[[data_items]]", start)
    block = text[start:end]
    assert 'retention = "P30D"' in block
    manifest.write_text(text[:start] + block.replace('"P30D"', f'"{retention}"') + text[end:],
                        encoding="utf-8")
    return folder


@pytest.fixture
def stub(tmp_path: Path, clock: Clock, served_policy: Path) -> Iterator[RunningServer]:
    """The stub of this test: its own data dir, the served policy, the test's clock."""
    with clocked_stub(tmp_path / "stub-data", clock, policy_dir=served_policy) as server:
        yield server


@pytest.fixture
def alice(stub: RunningServer, new_account: Callable[[], requests.Session]) -> Person:
    """An account whose device granted everything an automatic verification needs."""
    return Person(stub, new_account()).grant(*AUTOMATIC)


def _at(clock: Clock, seconds: float = 0) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(clock.now + seconds), dt.timezone.utc)


def _started(alice: Person) -> str:
    """An upload of FACE (3 records) with its first record sent; its id."""
    created = create_upload(alice, FACE)
    assert created.status_code == 201, created.text
    upload_id = created.json()["upload_id"]
    assert patch_upload(alice, upload_id, FACE, 0, 1).status_code == 204
    return str(upload_id)


# -- Upload-Expires -----------------------------------------------------------------------------


def test_creation_answers_when_the_unfinished_upload_expires(alice: Person, clock: Clock) -> None:  # OBL-SEC-3
    created = create_upload(alice, FACE)
    assert created.status_code == 201, created.text
    expires = parsedate_to_datetime(created.headers["Upload-Expires"])
    assert abs((expires - _at(clock, 24 * HOUR)).total_seconds()) <= 1
    assert created.headers["Upload-Expires"].endswith(" GMT")  # RFC 9110 IMF-fixdate


def test_patch_and_head_answer_upload_expires_while_the_upload_is_open(alice: Person) -> None:  # OBL-SEC-3
    upload_id = _started(alice)
    head = alice.session.head(f"{alice.stub.url}/v1/uploads/{upload_id}", timeout=10,
                              headers={"Tus-Resumable": "1.0.0"})
    middle = patch_upload(alice, upload_id, FACE, 1, 2)
    assert "Upload-Expires" in head.headers and "Upload-Expires" in middle.headers
    last = patch_upload(alice, upload_id, FACE, 2, 3)
    assert last.status_code == 204 and "Upload-Expires" not in last.headers  # complete now


def test_an_unfinished_upload_expires_24_hours_after_its_creation(alice: Person, clock: Clock) -> None:  # OBL-SEC-3
    upload_id = _started(alice)
    clock.advance(24 * HOUR + 1)
    login_again(alice.stub, alice.session)
    state = upload_state(alice, upload_id)
    assert (state.status_code, state.json()["reason"]) == (410, "expired")
    assert not sealed_file(alice.stub, upload_id).exists()
    assert patch_upload(alice, upload_id, FACE, 1, 2).status_code == 410


def test_an_unfinished_upload_is_kept_until_it_expires(alice: Person, clock: Clock) -> None:  # OBL-SEC-3
    upload_id = _started(alice)
    clock.advance(23 * HOUR)
    login_again(alice.stub, alice.session)
    assert patch_upload(alice, upload_id, FACE, 1, 3).status_code == 204
    assert upload_state(alice, upload_id).json()["status"] == "complete"


def test_an_expired_upload_is_forgotten_a_day_later(alice: Person, clock: Clock) -> None:  # OBL-SEC-3
    upload_id = _started(alice)
    clock.advance(24 * HOUR + 1)
    login_again(alice.stub, alice.session)
    assert upload_state(alice, upload_id).status_code == 410
    clock.advance(24 * HOUR)
    login_again(alice.stub, alice.session)
    assert upload_state(alice, upload_id).status_code == 404


# -- retention of complete uploads --------------------------------------------------------------


def test_a_complete_face_video_is_kept_for_its_retention(alice: Person, clock: Clock) -> None:  # OBL-SEC-3
    upload_id = alice.upload(FACE)
    # a verification uses it (one no verification uses goes after 24 hours)
    assert alice.submit(alice.body(face=upload_id)).status_code == 201
    state = upload_state(alice, upload_id).json()
    assert state["expires_at"] == _at(clock, 30 * DAY).strftime("%Y-%m-%dT%H:%M:%SZ")
    clock.advance(30 * DAY - 60)
    login_again(alice.stub, alice.session)
    assert upload_state(alice, upload_id).json()["status"] == "complete"
    assert sealed_file(alice.stub, upload_id).exists()


def test_a_complete_face_video_is_deleted_after_its_retention(alice: Person, clock: Clock) -> None:  # OBL-SEC-3
    upload_id = alice.upload(FACE)
    clock.advance(30 * DAY + 1)
    login_again(alice.stub, alice.session)
    assert upload_state(alice, upload_id).status_code == 404
    assert not sealed_file(alice.stub, upload_id).exists()


@pytest.mark.parametrize("served_policy", ["P1D"], indirect=True)
def test_the_retention_is_the_one_of_the_manifest_the_stub_serves(alice: Person, clock: Clock) -> None:  # OBL-SEC-3
    upload_id = alice.upload(FACE)
    clock.advance(DAY + 1)
    login_again(alice.stub, alice.session)
    assert upload_state(alice, upload_id).status_code == 404


def test_expired_uploads_are_purged_when_the_stub_starts(alice: Person, stub: RunningServer,
                                                         clock: Clock) -> None:  # OBL-SEC-3
    upload_id = alice.upload(FACE)
    alice.session.close()
    stub.stop()
    clock.advance(30 * DAY + 1)
    with clocked_stub(Path(stub.data_dir), clock):
        with sqlite3.connect(Path(stub.data_dir) / "uploads.db") as conn:
            rows = conn.execute("SELECT COUNT(*) FROM uploads").fetchone()[0]
        assert rows == 0  # before any request
        assert not sealed_file(stub, upload_id).exists()
