"""What a withdrawal stops on the stub as soon as its consent record arrives (PIPL art. 15, 47;
docs/protocol.md "Resumable upload" and "Certificates and signing"): uploads no verification
used lose their data, an upload in progress is refused, and the certificates are revoked when
keeping the certificate information is no longer granted (OBL-CERT-2). A real stub over real
HTTPS serving the demo policy; consent records signed like a device's."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from server_stub.realname_store import CertificateRow, RealnameStore
from server_stub.runner import RunningServer
from server_stub.testing import SigningDevice, https_session

from .clocked import (
    Clock,
    clocked_stub,
    create_upload,
    patch_upload,
    sealed_file,
    upload_state,
)
from .test_certificates import SCOPES as CERTIFICATE_SCOPES
from .test_certificates import Holder, consent, decide, verify
from .test_realname_verification import AUTOMATIC, FACE, Person, choose

LATER = "2026-11-30T04:00:00Z"  # after the grants (2026-11-30T03:22:25Z)
PAGE = b"\xff\xd8 passport page " * 100


@pytest.fixture
def stub(tmp_path: Path) -> Iterator[RunningServer]:
    """This test's own stub, serving the demo policy."""
    with clocked_stub(tmp_path / "stub-data", Clock()) as server:
        yield server


@pytest.fixture
def alice(stub: RunningServer, new_account: Callable[[], requests.Session]) -> Person:
    """Everything an automatic verification and a manual review need is granted."""
    return Person(stub, new_account()).grant(*AUTOMATIC, "item:review_document")


def _withdraw(person: Person, scope: str) -> None:
    person.decide(scope, "withdrawn", created_at=LATER)


# -- uploads ------------------------------------------------------------------------------------


def test_withdrawing_the_purpose_deletes_an_unused_upload(alice: Person) -> None:  # OBL-DSR-4
    upload_id = alice.upload(FACE)
    _withdraw(alice, "purpose:realname_verification")
    assert not sealed_file(alice.stub, upload_id).exists()
    state = upload_state(alice, upload_id)
    assert (state.status_code, state.json()["reason"]) == (410, "consent_required")


def test_withdrawing_the_policy_deletes_an_unused_upload(alice: Person) -> None:  # OBL-DSR-4
    upload_id = alice.upload(FACE)
    _withdraw(alice, "policy")
    assert not sealed_file(alice.stub, upload_id).exists()


def test_withdrawing_the_face_video_consent_keeps_the_review_images(alice: Person) -> None:  # OBL-DSR-4
    face, page = alice.upload(FACE), alice.upload(PAGE, "review_document")
    _withdraw(alice, "item:face_video")
    assert not sealed_file(alice.stub, face).exists()
    assert sealed_file(alice.stub, page).exists()
    assert upload_state(alice, page).json()["status"] == "complete"


def test_an_upload_in_progress_is_refused_after_the_withdrawal(alice: Person) -> None:  # OBL-DSR-4
    upload_id = create_upload(alice, FACE).json()["upload_id"]
    assert patch_upload(alice, upload_id, FACE, 0, 1).status_code == 204
    _withdraw(alice, "purpose:realname_verification")
    assert not sealed_file(alice.stub, upload_id).exists()  # at once, not at the next PATCH
    answer = patch_upload(alice, upload_id, FACE, 1, 2)
    assert (answer.status_code, answer.json()["error"]) == (403, "consent_required")
    assert patch_upload(alice, upload_id, FACE, 1, 2).status_code == 410  # from then on


def test_the_face_video_of_a_decided_verification_is_deleted_on_withdrawal(alice: Person) -> None:  # OBL-SEC-3
    choose(alice.stub, delay_seconds=0)
    body = alice.body()
    assert alice.wait(alice.submit(body).json()["id"])["status"] == "verified"
    _withdraw(alice, "purpose:realname_verification")
    assert not sealed_file(alice.stub, body["face_upload"]).exists()  # PIPL art. 47, at once
    assert upload_state(alice, body["face_upload"]).status_code == 410


def test_a_withdrawal_ends_a_verification_still_pending(alice: Person) -> None:  # OBL-SEC-3
    choose(alice.stub, outcome="timeout")
    body = alice.body()
    verification_id = alice.submit(body).json()["id"]
    _withdraw(alice, "item:face_video")
    answer = alice.status(verification_id).json()
    assert (answer["status"], answer["reason"]) == ("failed", "consent_withdrawn")
    assert not sealed_file(alice.stub, body["face_upload"]).exists()


def test_a_withdrawal_of_another_consent_leaves_a_pending_verification(alice: Person) -> None:
    choose(alice.stub, outcome="timeout")
    body = alice.body()
    verification_id = alice.submit(body).json()["id"]
    _withdraw(alice, "item:review_document")  # never granted here: not the automatic check's
    assert alice.status(verification_id).json()["status"] == "pending"
    assert sealed_file(alice.stub, body["face_upload"]).exists()


def test_a_withdrawal_sent_without_a_session_is_applied(alice: Person) -> None:  # OBL-DSR-4
    upload_id = alice.upload(FACE)
    record = alice.device.record(scope="purpose:realname_verification", decision="withdrawn",
                                 consent_type="separate", created_at=LATER)
    with https_session(alice.stub) as anonymous:  # e.g. sent after the logout a withdrawal makes
        answer = anonymous.post(f"{alice.stub.url}/v1/consent-records", json=record, timeout=10,
                                headers={"Idempotency-Key": record["record_id"]})
    assert answer.status_code == 201, answer.text
    assert not sealed_file(alice.stub, upload_id).exists()


def test_a_withdrawal_from_a_device_linked_later_is_applied_on_linking(alice: Person) -> None:  # OBL-DSR-4
    upload_id = alice.upload(FACE)
    tablet = SigningDevice()
    record = tablet.record(scope="purpose:realname_verification", decision="withdrawn",
                           consent_type="separate", created_at=LATER)
    with https_session(alice.stub) as anonymous:
        anonymous.post(f"{alice.stub.url}/v1/consent-records", json=record, timeout=10,
                       headers={"Idempotency-Key": record["record_id"]})
    assert sealed_file(alice.stub, upload_id).exists()  # not the account's record yet
    linked = alice.session.put(f"{alice.stub.url}/v1/me/subjects/{tablet.subject_id}", timeout=10)
    assert linked.status_code == 204
    assert not sealed_file(alice.stub, upload_id).exists()


def test_withdrawing_another_scope_keeps_the_uploads(alice: Person) -> None:
    upload_id = alice.upload(FACE)
    _withdraw(alice, "recipient:realname_agency")  # refused later by the verification itself
    assert upload_state(alice, upload_id).json()["status"] == "complete"


# -- certificates (OBL-CERT-2) ------------------------------------------------------------------


class Certified:
    """An account holding a certificate (``holder``) and the device that granted its consents."""

    def __init__(self, stub: RunningServer, session: requests.Session) -> None:
        self.device = consent(session, stub, *CERTIFICATE_SCOPES)
        verify(stub, session.account_id)  # type: ignore[attr-defined]
        self.holder = Holder(stub, session)
        self.stub, self.session = stub, session

    def withdraw(self, scope: str) -> None:
        decide(self.session, self.stub, self.device, scope, "withdrawn", created_at=LATER)

    def certificate(self) -> CertificateRow:
        (row,) = RealnameStore(self.stub.data_dir).certificates(self.session.account_id)  # type: ignore[attr-defined]
        return row


@pytest.fixture
def certified(stub: RunningServer, new_account: Callable[[], requests.Session]) -> Certified:
    return Certified(stub, new_account())


@pytest.mark.parametrize("scope", ["purpose:certificate", "item:certificate_info", "policy"])
def test_withdrawing_the_certificate_consent_revokes_the_certificate(certified: Certified, scope: str) -> None:  # OBL-CERT-2
    certified.withdraw(scope)
    row = certified.certificate()
    assert (row.revoked_at is not None, row.revocation_reason) == (True, "consent_withdrawn")
    listed = certified.session.get(f"{certified.stub.url}/v1/certificates", timeout=10).json()
    assert [c["status"] for c in listed["certificates"]] == ["revoked"]


def test_withdrawing_the_ca_recipient_keeps_the_certificate(certified: Certified) -> None:  # OBL-CERT-2
    certified.withdraw("recipient:ca")  # only issuing needs it
    assert certified.certificate().revoked_at is None
    assert certified.holder.sign().status_code == 201
