"""Fixes from the fresh-user review of issue #6 (server side): one upload backs one
verification (M3), complete uploads no verification uses go after 24 hours (M2), stored
idempotent answers go after 24 hours (L1), uploads parse ASCII digits only (L2), and the
same signature is recorded once (L7). A real stub over real HTTPS whose clock the test
moves (``Settings.clock``)."""

from __future__ import annotations

import base64
import hashlib
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from sdk.errors import UploadError
from sdk.transport.tus import TusUploader
from server_stub.realname_store import RealnameStore
from server_stub.runner import RunningServer
from server_stub.store import Store

from .clocked import (
    DAY,
    Clock,
    clocked_stub,
    create_upload,
    login_again,
    sealed_file,
    upload_state,
)
from .test_certificates import SCOPES, TEMPLATE, Holder, consent, template_bytes, verify
from .test_realname_verification import AUTOMATIC, FACE, Person, choose

HOUR = 3600
IDEMPOTENCY_TTL = 24 * HOUR  # the replay window (server_stub.store.IDEMPOTENCY_TTL)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def stub(tmp_path: Path, clock: Clock) -> Iterator[RunningServer]:
    """The stub of this module: its own data dir, the demo policy, the test's clock."""
    with clocked_stub(tmp_path / "stub-data", clock) as server:
        yield server


@pytest.fixture
def alice(stub: RunningServer, new_account: Callable[[], requests.Session]) -> Person:
    """An account whose device granted everything an automatic verification and a manual
    review need."""
    return Person(stub, new_account()).grant(*AUTOMATIC, "item:review_document")


def _verifications(stub: RunningServer) -> int:
    with sqlite3.connect(Path(stub.data_dir) / "stub.db") as conn:
        return int(conn.execute("SELECT COUNT(*) FROM realname_verifications").fetchone()[0])


# -- M3: one upload backs one verification ---------------------------------------------------


def test_a_face_upload_backs_one_verification_only(alice: Person, stub: RunningServer) -> None:
    face = alice.upload(FACE)
    first = alice.submit(alice.body(face=face))
    assert first.status_code == 201, first.text
    again = alice.submit(alice.body(face=face))  # a new submission naming the same upload
    assert again.status_code == 409, again.text
    assert again.json()["error"] == "upload_used"
    assert "face_upload" in again.json()["message"]
    assert _verifications(stub) == 1
    # the first verification is untouched (not superseded by the refused one)
    assert alice.status(first.json()["id"]).json()["reason"] != "superseded"


def test_a_replay_of_the_same_submission_still_answers_its_verification(alice: Person) -> None:
    body = alice.body()
    first = alice.submit(body)
    replay = alice.submit(body)
    assert (first.status_code, replay.status_code) == (201, 200), replay.text
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == first.json()["id"]


def test_a_review_image_backs_one_review_only(alice: Person, stub: RunningServer,
                                              clock: Clock) -> None:
    choose(stub, outcome="fail:face_mismatch", delay_seconds=0)
    failed = alice.submit().json()["id"]
    clock.advance(1)
    assert alice.wait(failed)["status"] == "failed"
    page = alice.upload(b"\xff\xd8 page " * 300, "review_document")
    review = alice.review(failed, uploads=[page])
    assert review.status_code == 201, review.text
    second = alice.review(review.json()["id"], uploads=[page])
    assert (second.status_code, second.json()["error"]) == (409, "upload_used")
    assert "document.uploads[0]" in second.json()["message"]


# -- M2: a complete upload no verification uses goes after 24 hours ------------------------------


def test_a_complete_upload_no_verification_uses_is_deleted_after_24_hours(
        alice: Person, stub: RunningServer, clock: Clock) -> None:
    upload_id = alice.upload(FACE)
    state = upload_state(alice, upload_id).json()
    expected = clock.now + 24 * HOUR
    assert abs(_epoch(state["expires_at"]) - expected) <= 1
    clock.advance(24 * HOUR + 1)
    login_again(stub, alice.session)
    assert upload_state(alice, upload_id).status_code == 404
    assert not sealed_file(stub, upload_id).exists()
    answer = alice.submit(alice.body(face=upload_id))
    assert (answer.status_code, answer.json()["error"]) == (422, "upload_not_found")


def test_an_unused_complete_upload_is_purged_without_being_read(
        alice: Person, stub: RunningServer, clock: Clock) -> None:
    upload_id = alice.upload(FACE)
    clock.advance(24 * HOUR + 61)
    login_again(stub, alice.session)
    assert create_upload(alice, FACE).status_code == 201  # the cheap trigger: a purge
    with sqlite3.connect(Path(stub.data_dir) / "uploads.db") as conn:
        left = conn.execute("SELECT COUNT(*) FROM uploads WHERE upload_id = ?", (upload_id,))
        assert left.fetchone()[0] == 0
    assert not sealed_file(stub, upload_id).exists()


def test_an_upload_a_verification_used_is_kept_past_24_hours(
        alice: Person, stub: RunningServer, clock: Clock) -> None:
    upload_id = alice.upload(FACE)
    assert alice.submit(alice.body(face=upload_id)).status_code == 201
    state = upload_state(alice, upload_id).json()
    assert abs(_epoch(state["expires_at"]) - (clock.now + 30 * DAY)) <= 1  # the retention
    clock.advance(2 * DAY)
    login_again(stub, alice.session)
    assert create_upload(alice, FACE).status_code == 201  # a purge ran
    assert upload_state(alice, upload_id).json()["status"] == "complete"
    assert sealed_file(stub, upload_id).exists()


def _epoch(text: str) -> float:
    import datetime as dt

    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# -- L1: stored idempotent answers go after 24 hours ---------------------------------------------


def _idempotency_rows(stub: RunningServer, endpoint: str) -> list[str]:
    with sqlite3.connect(Path(stub.data_dir) / "stub.db") as conn:
        return [r[0] for r in conn.execute(
            "SELECT response FROM idempotency WHERE endpoint = ?", (endpoint,))]


def _certificate_entry(session: requests.Session, stub: RunningServer) -> dict[str, Any]:
    answer = session.get(f"{stub.url}/v1/me/personal-information", timeout=10)
    assert answer.status_code == 200, answer.text
    return next(e for e in answer.json()["items"] if e["item"] == "certificate_info")


def test_the_stored_certificate_answer_is_listed_then_deleted_after_24_hours(
        stub: RunningServer, clock: Clock, new_account: Callable[[], requests.Session]) -> None:
    session = new_account()
    consent(session, stub, *SCOPES)
    verify(stub, session.account_id)  # type: ignore[attr-defined]
    holder = Holder(stub, session)
    rows = _idempotency_rows(stub, "POST /v1/certificates")
    assert len(rows) == 1 and holder.answer["subject"]["common_name"] in rows[0]
    assert "Idempotency-Key" in _certificate_entry(session, stub)["held"]  # listed while kept
    clock.advance(IDEMPOTENCY_TTL + 61)
    login_again(stub, session)
    entry = _certificate_entry(session, stub)
    assert _idempotency_rows(stub, "POST /v1/certificates") == []  # the real name is gone
    assert "Idempotency-Key" not in entry["held"]


def test_idempotency_rows_expire_by_the_store_clock(tmp_path: Path) -> None:
    clock = Clock()
    store = Store(tmp_path, clock=clock)
    calls: list[int] = []

    def action(conn: sqlite3.Connection) -> tuple[int, dict[str, Any]]:
        calls.append(1)
        return 201, {"n": len(calls)}

    assert store.run_idempotent("k", "POST /x", "f", action).replayed is False
    clock.advance(IDEMPOTENCY_TTL - 60)
    assert store.run_idempotent("k", "POST /x", "f", action).replayed is True  # in the window
    clock.advance(120)
    again = store.run_idempotent("k", "POST /x", "f", action)  # past it: a new request
    assert (again.replayed, again.body) == (False, {"n": 2})
    store.run_idempotent("other", "POST /x", "f", action)
    clock.advance(IDEMPOTENCY_TTL + 1)
    assert store.purge_idempotency() == 2
    with store.connect() as conn:
        assert conn.execute("SELECT COUNT(*) FROM idempotency").fetchone()[0] == 0


# -- L2: ASCII digits only -------------------------------------------------------------------------


def _tus(person: Person, **headers: str) -> dict[str, str]:
    return {"Tus-Resumable": "1.0.0", "Idempotency-Key": str(uuid.uuid4()), **headers}


@pytest.mark.parametrize("value", ["\u00b2", "\u00b3\u00b9"])  # digits to isdigit(), not ASCII
def test_a_non_ascii_upload_length_is_a_clear_400(alice: Person, value: str) -> None:
    answer = alice.session.post(f"{alice.stub.url}/v1/uploads", timeout=10, headers=_tus(
        alice, **{"Upload-Length": value, "Upload-Metadata": "a Yg=="}))
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "invalid_upload_request"
    assert "Upload-Length" in answer.json()["message"]


@pytest.mark.parametrize("key", ["chunk_size", "plaintext_length"])
def test_non_ascii_digits_in_the_metadata_are_a_clear_400(alice: Person, key: str) -> None:
    metadata = {"kid": alice.key.kid, "purpose": "realname_verification",
                "consent": alice.grant_id, "chunk_size": "1024", "plaintext_length": "10",
                "item": "face_video", "content_type": "video/mp4", key: "\u00b2"}
    header = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in metadata.items())
    answer = alice.session.post(f"{alice.stub.url}/v1/uploads", timeout=10, headers=_tus(
        alice, **{"Upload-Length": "100", "Upload-Metadata": header}))
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "invalid_upload_request"
    assert key in answer.json()["message"]


def test_a_non_ascii_upload_offset_is_a_clear_400(alice: Person) -> None:
    upload_id = create_upload(alice, FACE).json()["upload_id"]
    answer = alice.session.patch(
        f"{alice.stub.url}/v1/uploads/{upload_id}", data=b"x", timeout=10,
        headers={"Tus-Resumable": "1.0.0", "Upload-Offset": "\u00b2",
                 "Content-Type": "application/offset+octet-stream"})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "invalid_upload_request"
    assert "Upload-Offset" in answer.json()["message"]


@pytest.mark.parametrize("header", ["\u00b2", "\u0661", "+0", None])
def test_the_client_refuses_a_non_ascii_offset_as_bad_offset(header: str | None) -> None:
    state = SimpleNamespace(upload_id="u", length=4096, record_size=1024)
    with pytest.raises(UploadError) as raised:
        TusUploader._offset(None, state, header)  # type: ignore[arg-type]
    assert raised.value.code == "bad_offset"


# -- L7: the same signature is recorded once -------------------------------------------------------


def test_the_same_signature_posted_again_answers_the_original_record(
        stub: RunningServer, new_account: Callable[[], requests.Session]) -> None:
    session = new_account()
    consent(session, stub, *SCOPES)
    verify(stub, session.account_id)  # type: ignore[attr-defined]
    holder = Holder(stub, session)
    data = template_bytes()
    signature = base64.urlsafe_b64encode(holder.key.sign(data, ec.ECDSA(hashes.SHA256())))
    body = {"template_id": TEMPLATE, "sha256": hashlib.sha256(data).hexdigest(),
            "signature": signature.rstrip(b"=").decode(), "certificate_serial": holder.serial}
    url = f"{stub.url}/v1/signatures"
    first = session.post(url, json=body, headers={"Idempotency-Key": str(uuid.uuid4())}, timeout=10)
    again = session.post(url, json=body, headers={"Idempotency-Key": str(uuid.uuid4())}, timeout=10)
    assert (first.status_code, again.status_code) == (201, 200), again.text
    assert again.json() == first.json()
    records = RealnameStore(stub.data_dir).signing_records(session.account_id)  # type: ignore[attr-defined]
    assert [r["signature_id"] for r in records] == [first.json()["signature_id"]]
    other = holder.sign()  # a new signature of the same template is a new signing act
    assert other.status_code == 201
    assert len(RealnameStore(stub.data_dir).signing_records(session.account_id)) == 2  # type: ignore[attr-defined]


def test_a_consent_record_sent_again_after_the_replay_window_is_still_a_replay(
        stub: RunningServer, clock: Clock, new_account: Callable[[], requests.Session]) -> None:
    """A device whose first answer was lost and that comes back after 24 hours sends the same
    record under its record_id again: a replay (200), not 409 (which the SDK would take as a
    refusal for good and set the record aside)."""
    from server_stub.testing import SigningDevice

    session = new_account()
    record = SigningDevice().record()
    url = f"{stub.url}/v1/consent-records"
    first = session.post(url, json=record, headers={"Idempotency-Key": record["record_id"]},
                         timeout=10)
    assert first.status_code == 201, first.text
    clock.advance(IDEMPOTENCY_TTL + 61)
    again = session.post(url, json=record, headers={"Idempotency-Key": record["record_id"]},
                         timeout=10)
    assert (again.status_code, again.headers.get("Idempotent-Replayed")) == (200, "true"), again.text
    assert again.json() == first.json()
    other_key = session.post(url, json=record, headers={"Idempotency-Key": str(uuid.uuid4())},
                             timeout=10)
    assert (other_key.status_code, other_key.json()["error"]) == (409, "consent_record_exists")
