"""The real-name verification flow end to end (issue #6 part E): the SDK's ``Realname`` against
the real stub over HTTPS: consents, validation, sealed fields, a resumable sealed upload of the
face video, the agency stand-in's outcome chosen through the stub's dev controls, the server's
answer polled; manual review with another document (OBL-RN-1, OBL-RN-2, OBL-RN-3)."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sdk import ConsentRequired, KeyPinMismatch, SdkConfig
from sdk.policy import Policy
from sdk.realname import (
    CertificateManager,
    Realname,
    RealnameValidationError,
    VerificationNotFound,
    VerificationRefused,
)
from sdk.transport.envelope import b64url_encode, fetch_current_key, seal_field
from server_stub.realname_store import RealnameStore
from server_stub.testing import https_session

from .devices import ID_NUMBER, NAME, open_logged_in

BAD_ID_NUMBER = "110105194912310021"
PHONE = "13800138000"
FACE = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40  # a small "video" in memory
PASSPORT_PAGE = b"\xff\xd8\xff\xe0 passport photo page " * 100


class Device:
    """One device: a PrivacySdk (with a keystore, so consent records are signed) logged in to
    its account, and ``privacy.realname`` as the lead wires it: ``Realname(privacy)``."""

    def __init__(self, stub: Any, config: SdkConfig, policy: Policy, email: str, *,
                 register: bool = True) -> None:
        self.stub, self.email = stub, email
        self.privacy, self.keystore = open_logged_in(config, policy, email, register=register)
        self.realname = Realname(self.privacy)

    def grant_all(self) -> Device:
        """Every consent real-name signing needs (the separate-consent dialogs' answers)."""
        for scope in self.realname.missing_consents():
            self.privacy.grant(scope)
        assert self.realname.missing_consents() == ()
        return self

    @property
    def account_id(self) -> str:
        return self.privacy.me().account_id

    def submit(self, **changes: Any) -> Any:
        values = {"name": NAME, "id_number": ID_NUMBER, "phone": PHONE, "face_video": FACE}
        values.update(changes)
        return self.realname.submit(values["name"], values["id_number"], values["phone"],
                                    values["face_video"], on_progress=changes.get("on_progress"))


@pytest.fixture
def open_device(stub: Any, make_config: Callable[..., SdkConfig], bundled_policy: Policy,
                tmp_path: Path) -> Iterator[Callable[..., Device]]:
    """``open_device(email=..., register=True, **config)``: a logged-in device with the
    stub's HPKE pins; the agency stand-in answers at once unless told otherwise."""
    devices: list[Device] = []
    agency(stub, delay_seconds=0)

    def make(email: str = "alice@example.com", register: bool = True, **overrides: Any) -> Device:
        settings = {"hpke_pins": stub.hpke_pins, "data_dir": tmp_path / f"device-{len(devices)}"}
        settings.update(overrides)
        device = Device(stub, make_config(stub, **settings), bundled_policy, email,
                        register=register)
        devices.append(device)
        return device

    yield make
    for device in devices:
        device.privacy.close()


@pytest.fixture
def choose(stub: Any) -> Callable[..., None]:
    """``choose(outcome=..., delay_seconds=..., deadline_seconds=...)``: QA's controls."""
    return lambda **config: agency(stub, **config)


def agency(stub: Any, **config: Any) -> None:
    """QA's choice of the agency stand-in's answer (dev mode)."""
    with https_session(stub) as session:
        answer = session.put(f"{stub.url}/v1/dev/realname/agency", json=config, timeout=10)
    assert answer.status_code == 200, answer.text


def decide(stub: Any, verification_id: str, decision: str) -> None:
    """A manual reviewer's decision (dev mode)."""
    with https_session(stub) as session:
        answer = session.post(f"{stub.url}/v1/dev/realname/verifications/{verification_id}/decision",
                              json={"decision": decision}, timeout=10)
    assert answer.status_code == 200, answer.text


def server_uploads(stub: Any) -> int:
    path = Path(stub.data_dir) / "uploads.db"
    if not path.exists():
        return 0
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM uploads").fetchone()[0])


def server_status(stub: Any, account_id: str) -> Any:
    return RealnameStore(stub.data_dir).get_status(account_id)


def device_files(device: Device) -> list[Path]:
    return [p for p in Path(device.privacy.config.data_dir).rglob("*") if p.is_file()]


# -- the outcomes QA chooses (only the server's answer counts) ------------------------------


def test_pass_verifies_and_a_certificate_can_then_be_issued(open_device) -> None:  # OBL-RN-1
    alice = open_device().grant_all()
    progress: list[tuple[int, int]] = []
    submitted = alice.submit(on_progress=lambda done, total, rate: progress.append((done, total)))
    assert submitted.status == "pending" and not alice.realname.is_verified()
    assert progress and progress[-1][0] == progress[-1][1]
    result = alice.realname.wait(submitted.id, timeout_s=15, poll_interval_s=0.05)
    assert (result.status, result.reason, result.verified) == ("verified", None, True)
    assert alice.realname.is_verified() and alice.realname.latest() == result
    status = server_status(alice.stub, alice.account_id)
    assert status.verified and status.verification_id == result.id
    # Part D on top: the CA issues the certificate for the verified identity
    manager = CertificateManager(alice.privacy._api(), alice.privacy.store, alice.keystore,
                                 consent=alice.privacy, is_verified=alice.realname.is_verified)
    assert manager.request().common_name == NAME


def test_fail_reports_the_reason(open_device, choose) -> None:
    choose(outcome="fail:face_mismatch")
    alice = open_device().grant_all()
    result = alice.realname.wait(alice.submit().id, timeout_s=15, poll_interval_s=0.05)
    assert (result.status, result.reason) == ("failed", "face_mismatch")
    assert not alice.realname.is_verified() and result.reviewable


def test_manual_review_outcome_shows_manual_review(open_device, choose) -> None:  # OBL-RN-2
    choose(outcome="manual_review")
    alice = open_device().grant_all()
    result = alice.realname.wait(alice.submit().id, timeout_s=15, poll_interval_s=0.05)
    assert result.status == "manual_review" and not result.decided
    assert alice.realname.status().status == "manual_review"


def test_timeout_the_agency_never_answers(open_device, choose) -> None:
    choose(outcome="timeout", deadline_seconds=0.5)
    alice = open_device().grant_all()
    submitted = alice.submit()
    assert alice.realname.wait(submitted.id, timeout_s=0).status == "pending"
    result = alice.realname.wait(submitted.id, timeout_s=15, poll_interval_s=0.05)
    assert (result.status, result.reason) == ("timed_out", "agency_timeout")
    assert not alice.realname.is_verified()


def test_wait_returns_pending_when_its_time_runs_out(open_device, choose) -> None:
    choose(outcome="pass", delay_seconds=30)
    alice = open_device().grant_all()
    result = alice.realname.wait(alice.submit().id, timeout_s=0.3, poll_interval_s=0.1)
    assert result.status == "pending" and not alice.realname.is_verified()


# -- OBL-RN-1: what arrives, and what the device keeps ---------------------------------------


def test_a_middle_dot_name_arrives_byte_identical_at_the_server(open_device) -> None:  # OBL-RN-1
    alice = open_device().grant_all()
    alice.realname.wait(alice.submit().id, timeout_s=15, poll_interval_s=0.05)
    kept = server_status(alice.stub, alice.account_id).real_name
    assert kept.encode("utf-8") == NAME.encode("utf-8")


def test_the_device_keeps_only_the_verification_id_and_status(open_device) -> None:  # OBL-RN-1
    alice = open_device().grant_all()
    alice.realname.wait(alice.submit().id, timeout_s=15, poll_interval_s=0.05)
    entries = {(e.namespace, e.key) for e in alice.privacy.store.entries()}
    from sdk.realname.certificate import account_scope

    # kept per account (a hash of the account id: none in the key name; shared devices)
    assert ("realname", f"verification:{account_scope(alice.account_id)}") in entries
    assert not [e for e in entries if e[0] == "uploads"]  # the finished upload's state is gone
    for path in device_files(alice):
        data = path.read_bytes()
        for secret in (ID_NUMBER, PHONE, "+86" + PHONE, NAME):
            assert secret.encode("utf-8") not in data, f"found in {path.name}"
        assert FACE[:64] not in data


def test_the_handover_shows_in_both_lists_of_transfers(open_device) -> None:  # OBL-RN-1
    alice = open_device().grant_all()
    alice.realname.wait(alice.submit().id, timeout_s=15, poll_interval_s=0.05)
    on_server = alice.privacy.server_third_party_transfers()
    assert [(t["recipient"], t["purpose"]) for t in on_server] == [
        ("realname_agency", "realname_verification")]
    local = {row["recipient"]: row for row in alice.privacy.third_party_sharing()}
    assert local["realname_agency"]["transfers"] == 4  # one per item given


def test_a_bad_id_number_is_refused_on_the_device_before_anything_is_sent(open_device) -> None:  # OBL-RN-1
    alice = open_device().grant_all()
    with pytest.raises(RealnameValidationError) as caught:
        alice.submit(id_number=BAD_ID_NUMBER)
    assert (caught.value.field, caught.value.reason) == ("id_number", "check_digit")
    assert BAD_ID_NUMBER not in str(caught.value)
    assert server_uploads(alice.stub) == 0


def test_the_server_refuses_a_bad_id_number_when_the_client_is_bypassed(open_device) -> None:  # OBL-RN-1
    """A client that skips validation: the same envelope, upload and request by hand."""
    alice = open_device().grant_all()
    realname, api = alice.realname, alice.privacy._api()
    key = fetch_current_key(api, alice.privacy.config.hpke_pins)
    consent = alice.privacy.state("purpose:realname_verification").record.record_id
    face = realname.uploader.upload(FACE, item="face_video", purpose="realname_verification",
                                    consent_id=consent, content_type="video/mp4").upload_id
    submission = str(uuid.uuid4())

    def seal(value: str, field: str) -> str:
        return b64url_encode(seal_field(key, value, field=field, submission=submission,
                                        purpose="realname_verification", consent_id=consent))

    body = {"submission": submission, "kid": key.kid, "consent": consent, "face_upload": face,
            "fields": {"real_name": seal(NAME, "real_name"),
                       "id_number": seal(BAD_ID_NUMBER, "id_number"), "phone": seal(PHONE, "phone")}}
    with pytest.raises(RealnameValidationError) as caught:
        realname._post(api, body, submission, [face])
    assert (caught.value.field, caught.value.reason) == ("id_number", "check_digit")
    assert "校验位" in caught.value.message_zh and BAD_ID_NUMBER not in str(caught.value)
    assert server_status(alice.stub, alice.account_id) is None
    assert server_uploads(alice.stub) == 0  # the unused face video was deleted


def test_a_key_that_is_not_pinned_sends_nothing(open_device) -> None:  # OBL-SEC-1
    alice = open_device(hpke_pins=("sha256:" + "0" * 64,)).grant_all()
    with pytest.raises(KeyPinMismatch):
        alice.submit()
    assert server_uploads(alice.stub) == 0
    assert server_status(alice.stub, alice.account_id) is None


def test_without_pins_nothing_is_collected_or_sent(open_device) -> None:  # OBL-SEC-1
    alice = open_device(hpke_pins=()).grant_all()
    with pytest.raises(KeyPinMismatch) as caught:
        alice.submit()
    assert caught.value.code == "no_pins"
    items = {row["item"] for row in alice.privacy.collected_personal_information()}
    assert not items & {"real_name", "id_number", "phone", "face_video"}
    assert server_uploads(alice.stub) == 0


# -- consent: on the device first, and again on the server ------------------------------------


@pytest.mark.parametrize("refused", ["purpose:realname_verification", "item:id_number",
                                     "item:face_video", "recipient:realname_agency",
                                     "recipient:ca"])
def test_refusing_a_consent_blocks_only_realname_signing(open_device, refused: str) -> None:  # OBL-RN-3
    alice = open_device()
    for scope in alice.realname.missing_consents():
        if scope == refused:
            alice.privacy.deny(scope)
        else:
            alice.privacy.grant(scope)
    assert alice.realname.missing_consents() == (refused,)
    with pytest.raises(ConsentRequired) as caught:
        alice.submit(id_number="not checked: consent comes first")
    assert caught.value.scopes == (refused,)
    # nothing captured, checked, kept or sent
    items = {row["item"] for row in alice.privacy.collected_personal_information()}
    assert not items & {"real_name", "id_number", "phone", "face_video"}
    assert not [e for e in alice.privacy.store.entries() if e.namespace in ("realname", "uploads")]
    assert server_uploads(alice.stub) == 0 and alice.privacy.server_third_party_transfers() == []
    # everything else still works
    assert alice.privacy.mode == "full"
    assert alice.privacy.me().identifier_kind == "email"
    assert alice.privacy.list_templates()
    alice.privacy.require("esign_service")


def test_consent_missing_on_the_server_is_refused(open_device) -> None:  # OBL-RN-3
    alice = open_device()
    for scope in alice.realname.missing_consents():
        if scope != "item:face_video":
            alice.privacy.grant(scope)
    alice.privacy.grant("item:face_video", sync=False)
    for stuck in alice.privacy.ledger.pending():  # the device believes it was sent: the
        alice.privacy.ledger.mark_synced(stuck.record_id, None)  # server never got it
    # the server refuses the face video's upload itself (item:face_video is a sensitive item
    # with its own consent, checked from the server's records at creation): the same
    # ConsentRequired, with the scope the server lacks
    with pytest.raises(ConsentRequired) as caught:
        alice.submit()
    assert caught.value.scopes == ("item:face_video",)
    assert server_status(alice.stub, alice.account_id) is None
    assert server_uploads(alice.stub) == 0


def test_a_consent_withdrawn_on_another_device_is_refused(open_device) -> None:  # OBL-RN-3
    alice = open_device().grant_all()
    other = open_device(register=False)  # the same account on a second device
    other.privacy.sync()
    other.privacy.withdraw("recipient:realname_agency")
    with pytest.raises(ConsentRequired) as caught:
        alice.submit()  # this device has not heard of the withdrawal yet
    assert caught.value.scopes == ("recipient:realname_agency",)
    assert server_status(alice.stub, alice.account_id) is None
    assert server_uploads(alice.stub) == 0  # the face video it uploaded was deleted


# -- who sees what ------------------------------------------------------------------------------


def test_another_users_verification_is_not_found(open_device) -> None:  # OBL-SEC-2
    alice = open_device().grant_all()
    verification = alice.submit().id
    bob = open_device(email="bob@example.com")
    with pytest.raises(VerificationNotFound):
        bob.realname.status(verification)
    assert alice.realname.status(verification).id == verification


def test_status_needs_a_verification(open_device) -> None:
    with pytest.raises(VerificationRefused) as caught:
        open_device().realname.status()
    assert caught.value.code == "no_verification"


# -- manual review (OBL-RN-2) -------------------------------------------------------------------


def test_manual_review_with_a_passport_number_and_an_image(open_device, choose) -> None:  # OBL-RN-2
    choose(outcome="fail:face_mismatch")
    alice = open_device().grant_all()
    alice.privacy.grant("item:review_document")
    failed = alice.realname.wait(alice.submit().id, timeout_s=15, poll_interval_s=0.05)
    review = alice.realname.submit_for_manual_review("passport", "e12345678", [PASSPORT_PAGE])
    assert (review.status, review.kind) == ("manual_review", "manual_review")
    assert alice.realname.status().status == "manual_review"
    assert alice.realname.latest().id == review.id != failed.id
    decide(alice.stub, review.id, "pass")
    assert alice.realname.wait(timeout_s=5, poll_interval_s=0.05).verified


def test_manual_review_checks_the_document_number_first(open_device, choose) -> None:  # OBL-RN-2
    choose(outcome="fail:face_mismatch")
    alice = open_device().grant_all()
    alice.privacy.grant("item:review_document")
    alice.realname.wait(alice.submit().id, timeout_s=15, poll_interval_s=0.05)
    before = server_uploads(alice.stub)
    with pytest.raises(RealnameValidationError) as caught:
        alice.realname.submit_for_manual_review("hk_macao_travel_permit", "X123", [PASSPORT_PAGE])
    assert caught.value.field == "document_number"
    assert server_uploads(alice.stub) == before


def test_manual_review_needs_its_own_consent(open_device, choose) -> None:  # OBL-RN-2
    choose(outcome="fail:face_mismatch")
    alice = open_device().grant_all()
    alice.realname.wait(alice.submit().id, timeout_s=15, poll_interval_s=0.05)
    with pytest.raises(ConsentRequired) as caught:
        alice.realname.submit_for_manual_review("passport", "E12345678", [PASSPORT_PAGE])
    assert caught.value.scopes == ("item:review_document",)


def test_a_verified_account_needs_no_manual_review(open_device) -> None:
    alice = open_device().grant_all()
    alice.privacy.grant("item:review_document")
    alice.realname.wait(alice.submit().id, timeout_s=15, poll_interval_s=0.05)
    with pytest.raises(VerificationRefused) as caught:
        alice.realname.submit_for_manual_review("passport", "E12345678", [PASSPORT_PAGE])
    assert caught.value.code == "verification_not_reviewable"


def test_cancelling_the_face_upload_submits_nothing(open_device) -> None:
    from sdk.errors import UploadCancelled

    alice = open_device().grant_all()
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(UploadCancelled):
        alice.realname.submit(NAME, ID_NUMBER, PHONE, FACE, cancel=cancel)
    assert server_status(alice.stub, alice.account_id) is None


def test_a_second_device_of_the_account_learns_it_is_verified(open_device) -> None:  # OBL-CERT-1
    phone = open_device().grant_all()
    assert phone.realname.wait(phone.submit().id, timeout_s=15, poll_interval_s=0.05).verified
    tablet = open_device(register=False).grant_all()  # the same account, another device
    assert tablet.realname.latest() is None and not tablet.realname.is_verified()
    learned = tablet.realname.status()  # asks the server for the account's newest
    assert learned.verified and learned.id == phone.realname.latest().id
    assert tablet.realname.is_verified()


def test_an_account_without_verifications_says_so(open_device) -> None:
    alice = open_device()
    with pytest.raises(VerificationRefused) as caught:
        alice.realname.status()
    assert caught.value.code == "no_verification"
