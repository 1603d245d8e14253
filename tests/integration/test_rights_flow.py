"""Data-subject rights and the cancellation of the account end to end (issue #7): the SDK's
``privacy.rights`` against the real stub over HTTPS (own SQLite, own dev CA per test), with a
device that agreed to the policy, registered and logged in (OBL-DSR-1..8, OBL-EVI-1)."""

from __future__ import annotations

import datetime as _dt
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sdk import (
    AccountExists,
    AuthenticationFailed,
    CancellationTokenInvalid,
    IdentityCheckRequired,
    InvalidInput,
    NotLoggedIn,
    PrivacySdk,
    RequestNotFound,
    ServerUnavailable,
)
from sdk.rights.deadline import deadline_after
from sdk.rights.models import CancellationNotice, IdentityCheck
from server_stub.testing import https_session

from .devices import EMAIL, NAME, PASSWORD

ID_NUMBER = "11010519491231002X"


@pytest.fixture
def alice(open_device: Callable[..., PrivacySdk]) -> PrivacySdk:
    return open_device()


@pytest.fixture
def check(alice: PrivacySdk) -> IdentityCheck:
    return alice.rights.verify_identity(PASSWORD)


def forged_check() -> IdentityCheck:
    """Valid on the device, unknown to the server."""
    now = _dt.datetime.now(_dt.timezone.utc)
    return IdentityCheck("x" * 43, now, now + _dt.timedelta(minutes=10), None,
                         time.monotonic() + 600)


def staff_answer(stub: Any, request_id: str, status: str, answer: str) -> None:
    with https_session(stub) as session:
        reply = session.post(f"{stub.url}/v1/dev/rights-requests/{request_id}/answer",
                             json={"status": status, "answer": answer}, timeout=10,
                             headers={"Idempotency-Key": str(uuid.uuid4())})
    assert reply.status_code == 200, reply.text


def device_files_contain(privacy: PrivacySdk, needle: str) -> bool:
    data = needle.encode("utf-8")
    return any(data in p.read_bytes() for p in Path(privacy.config.data_dir).rglob("*")
               if p.is_file())


def device_state(privacy: PrivacySdk) -> tuple[Any, ...]:
    return (privacy.mode, privacy.current_account_id(), privacy.subject_id,
            [r.record_id for r in privacy.ledger.history()],
            sorted((e.namespace, e.key) for e in privacy.store.entries()),
            len(privacy.audit.entries()))


# -- identity check again (OBL-DSR-1) ------------------------------------------------------


def test_the_password_gives_an_identity_check_valid_ten_minutes(alice: PrivacySdk) -> None:  # OBL-DSR-1
    check = alice.rights.verify_identity(PASSWORD)
    assert check.valid and check.expires_at - check.verified_at == _dt.timedelta(minutes=10)
    assert check.account_id == alice.current_account_id()


def test_a_wrong_password_is_authentication_failed(alice: PrivacySdk) -> None:  # OBL-DSR-1
    with pytest.raises(AuthenticationFailed):
        alice.rights.verify_identity("not-the-password-1A!")


def test_a_token_the_server_never_gave_is_identity_check_required(alice: PrivacySdk) -> None:  # OBL-DSR-1
    with pytest.raises(IdentityCheckRequired):
        alice.rights.delete(forged_check(), "no_consent")


def test_one_identity_check_serves_several_requests(alice: PrivacySdk,
                                                    check: IdentityCheck) -> None:  # OBL-DSR-1
    first = alice.rights.object(check, "请停止营销信息", purpose="marketing")
    second = alice.rights.delete(check, "stopped_using")
    assert first.identity_verified_at == second.identity_verified_at == check.verified_at


# -- access and export (OBL-DSR-1, OBL-DSR-3) ------------------------------------------------


def test_the_access_report_shows_the_account_in_chinese_sections(alice: PrivacySdk,
                                                                 check: IdentityCheck) -> None:  # OBL-DSR-1
    report = alice.rights.access_report(check)
    assert report.titles[:3] == ("账号信息", "同意记录", "个人信息清单")
    assert report.section("account").records[0]["account_id"] == alice.current_account_id()
    assert report.section("consent_records").records  # the agreement, synced at login
    assert (report.request.kind, report.request.status) == ("access", "completed")


def test_the_export_holds_the_values_and_is_never_written_to_a_file(
        alice: PrivacySdk, check: IdentityCheck) -> None:  # OBL-DSR-3
    document = alice.rights.export(check)
    assert document.format == "privacy-sdk.export/1"
    assert document.data["account"]["identifier_kind"] == "email"
    assert EMAIL.encode() in document.to_json()
    assert document.filename == "personal-information-export.json"
    assert not device_files_contain(alice, EMAIL)


def test_the_export_needs_the_identity_checked_again(alice: PrivacySdk) -> None:  # OBL-DSR-3
    with pytest.raises(IdentityCheckRequired):
        alice.rights.export(forged_check())


# -- correction (OBL-DSR-2) ----------------------------------------------------------------


def test_a_corrected_login_email_replaces_the_old_one(alice: PrivacySdk, check: IdentityCheck,
                                                      open_device: Callable[..., PrivacySdk]) -> None:  # OBL-DSR-1
    request = alice.rights.correct(check, "email", "Alice.New@Example.com")
    assert (request.status, dict(request.details)) == ("completed", {"field": "email"})
    open_device("alice.new@example.com", register=False).logout()
    with pytest.raises(AuthenticationFailed):
        open_device(EMAIL, register=False)


def test_a_corrected_phone_is_stored_in_e164(alice: PrivacySdk, check: IdentityCheck) -> None:  # OBL-DSR-1
    alice.rights.correct(check, "phone", "138 0013 8000")
    assert alice.rights.export(check).data["account"]["phone"] == "+8613800138000"


def test_a_name_correction_goes_to_staff_without_the_value_in_the_request(
        alice: PrivacySdk, check: IdentityCheck) -> None:  # OBL-DSR-1
    request = alice.rights.correct(check, "name", NAME)
    assert (request.status, request.status_label) == ("received", "已受理")
    assert dict(request.details) == {"field": "name"} and NAME not in repr(request)


def test_an_email_of_another_account_is_refused_as_taken_not_log_in_instead(
        alice: PrivacySdk, check: IdentityCheck, open_device: Callable[..., PrivacySdk]) -> None:  # OBL-DSR-1
    open_device("bob@example.com").logout()
    with pytest.raises(AccountExists) as caught:
        alice.rights.correct(check, "email", "bob@example.com")
    message = str(caught.value)
    assert caught.value.field == "email"  # type: ignore[attr-defined]
    assert "already used by another account" in message and "choose another" in message
    assert "log in" not in message and "bob" not in message


def test_a_bad_correction_is_refused_before_sending(alice: PrivacySdk,
                                                    check: IdentityCheck) -> None:  # OBL-DSR-1
    with pytest.raises(InvalidInput) as caught:
        alice.rights.correct(check, "email", "no-at-sign")
    assert caught.value.field == "email" and alice.rights.requests() == []


# -- deletion and objection (OBL-DSR-2) ----------------------------------------------------


def test_a_deletion_says_what_was_deleted_and_what_is_kept(alice: PrivacySdk,
                                                           check: IdentityCheck) -> None:  # OBL-DSR-2
    request = alice.rights.delete(check, "no_consent")
    assert request.status == "completed" and dict(request.details) == {"case": "no_consent"}
    kept = {k["item"] for k in request.outcome["kept"]}  # type: ignore[index]
    assert {"consent_records", "operation_log"} <= kept


def test_a_deletion_leaves_the_account(alice: PrivacySdk, check: IdentityCheck) -> None:  # OBL-DSR-2
    alice.rights.delete(check, "stopped_using")
    assert alice.me().account_id == alice.current_account_id()


def test_an_objection_is_received_for_staff(alice: PrivacySdk, check: IdentityCheck) -> None:  # OBL-DSR-6
    request = alice.rights.object(check, "请停止用我的邮箱发送营销信息", purpose="marketing")
    assert (request.kind, request.status) == ("objection", "received")
    assert dict(request.details) == {"purpose": "marketing"}


# -- evidence report (OBL-EVI-1) -----------------------------------------------------------


def test_an_evidence_report_request_passes_the_consent_gate(alice: PrivacySdk,
                                                            check: IdentityCheck) -> None:  # OBL-EVI-1
    request = alice.rights.request_evidence_report(check, NAME, ID_NUMBER, "诉讼举证需要",
                                                   "lawyer@example.com")
    assert (request.kind, request.status) == ("evidence_report", "received")
    gate = [e for e in alice.audit.entries() if e.item == "evidence_request"]
    assert [(e.purpose, e.outcome) for e in gate] == [("evidence_report", "allowed")]


def test_an_evidence_report_about_an_unknown_signature_is_refused(
        alice: PrivacySdk, check: IdentityCheck) -> None:  # OBL-EVI-1
    with pytest.raises(InvalidInput) as caught:
        alice.rights.request_evidence_report(check, NAME, ID_NUMBER, "诉讼举证需要",
                                             "lawyer@example.com", signature_id=str(uuid.uuid4()))
    assert caught.value.field == "signature_id"


# -- tracking: deadline, status, answers (OBL-DSR-6, OBL-DSR-8) ------------------------------


def test_each_request_is_due_15_prc_working_days_after_the_check(
        alice: PrivacySdk, check: IdentityCheck) -> None:  # OBL-DSR-8
    alice.rights.object(check, "反对")
    (request,) = alice.rights.requests()
    due = deadline_after(check.verified_at)
    assert (request.deadline, request.deadline_provisional) == (due.due, due.provisional)
    assert not request.overdue


def test_requests_are_listed_newest_first(alice: PrivacySdk, check: IdentityCheck) -> None:  # OBL-DSR-8
    first = alice.rights.object(check, "第一")
    second = alice.rights.delete(check, "no_consent")
    assert [r.request_id for r in alice.rights.requests()] == [second.request_id, first.request_id]


def test_staffs_answer_shows_on_the_request(stub: Any, alice: PrivacySdk,
                                           check: IdentityCheck) -> None:  # OBL-DSR-8
    made = alice.rights.object(check, "反对营销")
    staff_answer(stub, made.request_id, "completed", "已停止营销信息")
    request = alice.rights.request(made.request_id)
    assert (request.status_label, request.answer, request.open) == ("已完成", "已停止营销信息", False)
    assert request.answered_at is not None


def test_an_unknown_request_id_is_request_not_found(alice: PrivacySdk) -> None:  # OBL-DSR-1
    with pytest.raises(RequestNotFound):
        alice.rights.request(str(uuid.uuid4()))


def test_another_accounts_request_is_request_not_found(
        alice: PrivacySdk, check: IdentityCheck, open_device: Callable[..., PrivacySdk]) -> None:  # OBL-DSR-1
    made = alice.rights.object(check, "反对")
    bob = open_device("bob@example.com")
    with pytest.raises(RequestNotFound):
        bob.rights.request(made.request_id)


def test_requests_need_a_session(alice: PrivacySdk) -> None:  # OBL-DSR-1
    alice.logout()
    with pytest.raises(NotLoggedIn):
        alice.rights.requests()


# -- cancellation (OBL-DSR-7) --------------------------------------------------------------


def test_beginning_the_cancellation_says_what_is_lost_and_kept(alice: PrivacySdk,
                                                               check: IdentityCheck) -> None:  # OBL-DSR-7
    notice = alice.rights.begin_cancellation(check)
    assert [w.code for w in notice.will_lose] == ["contract_download", "evidence_reports",
                                                  "certificates", "realname", "account_login"]
    assert notice.kept == ()  # nothing is kept for an account that never signed
    assert "用此账号登录" in notice.warning


def test_beginning_the_cancellation_changes_nothing(alice: PrivacySdk,
                                                    check: IdentityCheck) -> None:  # OBL-DSR-7
    before = device_state(alice)
    alice.rights.begin_cancellation(check)
    assert device_state(alice) == before and alice.me().account_id == before[1]


def test_the_cancellation_needs_the_identity_checked_again(alice: PrivacySdk) -> None:  # OBL-DSR-7
    with pytest.raises(IdentityCheckRequired):
        alice.rights.begin_cancellation(forged_check())


def test_after_the_confirmation_the_device_forgets_the_account(alice: PrivacySdk,
                                                               check: IdentityCheck) -> None:  # OBL-DSR-7
    old_subject = alice.subject_id
    notice = alice.rights.begin_cancellation(check)
    receipt = alice.rights.confirm_cancellation(notice)
    assert receipt.device_wiped and receipt.evidence_kept_until is not None
    assert alice.mode == "undecided" and alice.current_account_id() is None
    assert alice.subject_id != old_subject and alice.ledger.history() == []
    assert alice.store.entries() == [] and alice.audit.entries() == []
    assert not alice._session_api().has_cookie()


def test_the_cancelled_accounts_operation_log_rows_leave_the_device(
        alice: PrivacySdk, check: IdentityCheck) -> None:  # OBL-DSR-7
    import sqlite3

    account_id = alice.current_account_id()
    alice.operation_log.write("operation", "export_requested")
    assert any(e.account_id == account_id for e in alice.operation_log.entries())
    alice.rights.confirm_cancellation(alice.rights.begin_cancellation(check))
    path = Path(alice.config.data_dir) / "oplog.db"
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        (left,) = conn.execute("SELECT count(*) FROM oplog_entries WHERE account_id = ?",
                               (account_id,)).fetchone()
    finally:
        conn.close()
    assert left == 0


def test_a_refused_confirmation_leaves_the_device_as_it_was(alice: PrivacySdk,
                                                            check: IdentityCheck) -> None:  # OBL-DSR-7
    real = alice.rights.begin_cancellation(check)
    forged = CancellationNotice("y" * 43, real.expires_at, real.will_lose, real.kept,
                                real.warning, real.account_id, str(uuid.uuid4()),
                                time.monotonic() + 600)
    before = device_state(alice)
    with pytest.raises(CancellationTokenInvalid):
        alice.rights.confirm_cancellation(forged)
    assert device_state(alice) == before and alice.me().account_id == before[1]


def test_an_unreachable_server_leaves_the_device_as_it_was(stub: Any, alice: PrivacySdk,
                                                           check: IdentityCheck) -> None:  # OBL-DSR-7
    notice = alice.rights.begin_cancellation(check)
    before = device_state(alice)
    stub.stop()
    with pytest.raises(ServerUnavailable):
        alice.rights.confirm_cancellation(notice)
    assert device_state(alice) == before


def test_after_the_cancellation_the_old_identifier_no_longer_logs_in(
        alice: PrivacySdk, check: IdentityCheck) -> None:  # OBL-DSR-7
    alice.rights.confirm_cancellation(alice.rights.begin_cancellation(check))
    alice.agree()
    with pytest.raises(AuthenticationFailed):
        alice.login(EMAIL, PASSWORD)


def test_the_synced_consent_records_stay_on_the_server_as_proof(
        stub: Any, alice: PrivacySdk, check: IdentityCheck) -> None:  # OBL-DSR-7
    old_subject = alice.subject_id
    alice.rights.confirm_cancellation(alice.rights.begin_cancellation(check))
    with https_session(stub) as session:
        answer = session.get(f"{stub.url}/v1/consent-records",
                             params={"subject_id": old_subject}, timeout=10)
    assert answer.status_code == 200 and answer.json()["records"]


def test_the_identifier_may_register_a_new_account_after_the_cancellation(
        alice: PrivacySdk, check: IdentityCheck) -> None:  # OBL-DSR-7
    old_account = alice.current_account_id()
    alice.rights.confirm_cancellation(alice.rights.begin_cancellation(check))
    alice.agree()
    alice.register(EMAIL, PASSWORD)
    alice.login(EMAIL, PASSWORD)
    assert alice.current_account_id() not in (None, old_account)
