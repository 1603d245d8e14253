"""Item-level consent at upload creation (docs/protocol.md "Resumable upload"): the face video
and the review images are sensitive items with a separate consent of their own
(``item:face_video``, ``item:review_document``), which the stub checks in its own records
besides the purpose's grant. A real stub over real HTTPS serving the demo policy."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from server_stub.runner import RunningServer

from .clocked import Clock, clocked_stub, create_upload, patch_upload
from .test_realname_verification import FACE, Person


@pytest.fixture
def stub(tmp_path: Path) -> Iterator[RunningServer]:
    """This test's own stub, serving the demo policy."""
    with clocked_stub(tmp_path / "stub-data", Clock()) as server:
        yield server


@pytest.fixture
def person(stub: RunningServer, new_account: Callable[[], requests.Session]) -> Callable[..., Person]:
    """``person(*scopes)``: an account whose device agreed to the policy and granted *scopes*."""
    return lambda *scopes: Person(stub, new_account()).grant(*scopes)


def _uploads(stub: RunningServer) -> int:
    with sqlite3.connect(Path(stub.data_dir) / "uploads.db") as conn:
        return int(conn.execute("SELECT COUNT(*) FROM uploads").fetchone()[0])


def test_a_face_video_upload_needs_the_face_video_consent(stub, person) -> None:  # OBL-RN-1
    alice = person("purpose:realname_verification")
    answer = create_upload(alice, FACE)
    assert (answer.status_code, answer.json()["error"]) == (403, "consent_required")
    assert answer.json()["scopes"] == ["item:face_video"]
    assert _uploads(stub) == 0


def test_a_review_image_upload_needs_its_own_consent(stub, person) -> None:  # OBL-RN-2
    alice = person("purpose:realname_verification", "item:face_video")
    answer = create_upload(alice, b"\xff\xd8 page" * 200, "review_document")
    assert (answer.status_code, answer.json()["scopes"]) == (403, ["item:review_document"])
    assert _uploads(stub) == 0


def test_the_item_consent_is_enough_with_the_purpose_grant(person) -> None:  # OBL-RN-1
    alice = person("purpose:realname_verification", "item:face_video")
    assert create_upload(alice, FACE).status_code == 201


def test_a_withdrawn_item_consent_is_refused_at_creation(person) -> None:  # OBL-RN-1
    alice = person("purpose:realname_verification", "item:face_video")
    alice.decide("item:face_video", "withdrawn", created_at="2026-11-30T04:00:00Z")
    answer = create_upload(alice, FACE)
    assert (answer.status_code, answer.json()["scopes"]) == (403, ["item:face_video"])


def test_an_item_the_policy_does_not_declare_needs_its_own_consent(person) -> None:  # OBL-RN-1
    alice = person("purpose:realname_verification", "item:face_video")
    answer = create_upload(alice, FACE, "selfie_photo")  # fails closed: not in the manifest
    assert (answer.status_code, answer.json()["scopes"]) == (403, ["item:selfie_photo"])


def test_a_missing_purpose_and_item_are_both_named(person) -> None:  # OBL-RN-1
    alice = person()  # the policy only
    alice.grant_id = alice.decide("item:id_number")  # a grant, but not of the purpose
    answer = create_upload(alice, FACE)
    assert answer.json()["scopes"] == ["purpose:realname_verification", "item:face_video"]


def test_an_upload_in_progress_is_refused_once_the_item_consent_is_withdrawn(person) -> None:  # OBL-RN-1
    alice = person("purpose:realname_verification", "item:face_video")
    upload_id = create_upload(alice, FACE).json()["upload_id"]
    assert patch_upload(alice, upload_id, FACE, 0, 1).status_code == 204
    alice.decide("item:face_video", "withdrawn", created_at="2026-11-30T04:00:00Z")
    answer = patch_upload(alice, upload_id, FACE, 1, 2)
    assert (answer.status_code, answer.json()["error"]) == (403, "consent_required")
    assert answer.json()["scopes"] == ["item:face_video"]


def test_the_patch_itself_checks_the_item_consent(stub, person) -> None:  # OBL-RN-1
    alice = person("purpose:realname_verification", "item:face_video")
    upload_id = create_upload(alice, FACE).json()["upload_id"]
    assert patch_upload(alice, upload_id, FACE, 0, 1).status_code == 204
    withdrawal = alice.device.record(scope="item:face_video", decision="withdrawn",
                                     consent_type="separate", created_at="2026-11-30T04:00:00Z")
    with sqlite3.connect(Path(stub.data_dir) / "stub.db") as conn:  # stored, never swept
        conn.execute("INSERT INTO consent_records (record_id, subject_id, received_at, record)"
                     " VALUES (?, ?, ?, ?)", (withdrawal["record_id"], alice.device.subject_id,
                                              "2026-11-30T04:00:01Z", json.dumps(withdrawal)))
    answer = patch_upload(alice, upload_id, FACE, 1, 2)
    assert (answer.status_code, answer.json()["scopes"]) == (403, ["item:face_video"])
    assert not (Path(stub.data_dir) / "uploads" / f"{upload_id}.sealed").exists()
