"""``privacy.rights`` on the device alone (issue #7): input validation refuses before anything
is audited or sent, identity checks and cancellation notices stay in memory, the wire objects
parse into the dataclasses the app shows. The endpoint is a closed loopback port: a request
that went out would raise ServerUnavailable, never the error a test expects."""

from __future__ import annotations

import datetime as _dt
import json
import pickle
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sdk import (
    CancellationTokenInvalid,
    IdentityCheckRequired,
    InvalidInput,
    NotLoggedIn,
    PrivacySdk,
)
from sdk.rights.facade import DELETION_CASES, Rights, cancellation_warning
from sdk.rights.models import (
    AccessReport,
    CancellationNotice,
    ExportDocument,
    IdentityCheck,
    KeptRecord,
    Loss,
    RightsRequest,
)

NAME = "阿依古丽·买买提"
ID_NUMBER = "11010519491231002X"
TOKEN = "tok-" + "A" * 43


@pytest.fixture
def privacy(offline_privacy: PrivacySdk) -> PrivacySdk:
    return offline_privacy


@pytest.fixture
def rights(privacy: PrivacySdk) -> Rights:
    return privacy.rights


def identity(valid_for_s: float = 600.0) -> IdentityCheck:
    now = _dt.datetime.now(_dt.timezone.utc)
    return IdentityCheck(TOKEN, now, now + _dt.timedelta(minutes=10), None,
                         time.monotonic() + valid_for_s)


def nothing_collected(privacy: PrivacySdk) -> bool:
    return privacy.audit.entries() == []


def refused_field(call, *args, **kwargs) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        call(*args, **kwargs)
    return caught.value


# -- the facade is the one the SDK wires ---------------------------------------------------


def test_privacy_rights_is_one_rights_facade(privacy: PrivacySdk) -> None:  # OBL-DSR-1
    assert isinstance(privacy.rights, Rights) and privacy.rights is privacy.rights


# -- correction (OBL-DSR-2) ----------------------------------------------------------------


def test_correct_refuses_an_unknown_field(rights: Rights, privacy: PrivacySdk) -> None:  # OBL-DSR-1
    error = refused_field(rights.correct, identity(), "address", "somewhere")
    assert error.field == "field" and nothing_collected(privacy)


def test_correct_refuses_an_invalid_phone_without_echoing_it(rights: Rights,
                                                             privacy: PrivacySdk) -> None:  # OBL-DSR-1
    error = refused_field(rights.correct, identity(), "phone", "12345")
    assert error.field == "phone" and "12345" not in str(error) and nothing_collected(privacy)


def test_correct_refuses_a_landline(rights: Rights) -> None:  # OBL-DSR-1
    assert refused_field(rights.correct, identity(), "phone", "010 6552 9988").field == "phone"


def test_correct_refuses_an_invalid_email(rights: Rights, privacy: PrivacySdk) -> None:  # OBL-DSR-1
    error = refused_field(rights.correct, identity(), "email", "alice.example.com")
    assert error.field == "email" and "alice" not in str(error) and nothing_collected(privacy)


def test_correct_refuses_a_name_not_in_chinese_characters(rights: Rights,
                                                          privacy: PrivacySdk) -> None:  # OBL-DSR-1
    error = refused_field(rights.correct, identity(), "name", "Alice Smith")
    assert error.field == "name" and "Alice" not in str(error) and nothing_collected(privacy)


def test_correct_refuses_a_value_that_is_not_text(rights: Rights) -> None:  # OBL-DSR-1
    assert refused_field(rights.correct, identity(), "email", None).field == "email"


# -- deletion (OBL-DSR-2) ------------------------------------------------------------------


def test_deletion_cases_are_the_five_of_the_protocol_with_chinese_labels() -> None:  # OBL-DSR-2
    assert tuple(DELETION_CASES) == ("unlawful_processing", "no_consent", "breach_of_agreement",
                                     "stopped_using", "service_ended")
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in label) for label in DELETION_CASES.values())


def test_delete_refuses_a_case_that_is_not_one_of_the_five(rights: Rights,
                                                           privacy: PrivacySdk) -> None:  # OBL-DSR-2
    error = refused_field(rights.delete, identity(), "just_because")
    assert error.field == "case" and "no_consent" in str(error) and nothing_collected(privacy)


# -- objection (OBL-DSR-2) -----------------------------------------------------------------


def test_object_refuses_empty_text(rights: Rights) -> None:  # OBL-DSR-6
    assert refused_field(rights.object, identity(), "   ").field == "text"


def test_object_refuses_text_over_2000_characters(rights: Rights) -> None:  # OBL-DSR-6
    error = refused_field(rights.object, identity(), "不" * 2001)
    assert error.field == "text" and "2000" in str(error)


def test_object_refuses_a_purpose_the_policy_does_not_declare(rights: Rights) -> None:  # OBL-DSR-6
    error = refused_field(rights.object, identity(), "请停止发送营销信息", purpose="ads")
    assert error.field == "purpose" and "marketing" in str(error)


# -- evidence report (OBL-EVI-1) -----------------------------------------------------------


def evidence(rights: Rights, **changes: object) -> None:
    values: dict[str, object] = {"requester_name": NAME, "requester_id_number": ID_NUMBER,
                                 "reason": "诉讼需要", "mailbox": "lawyer@example.com"}
    values.update(changes)
    rights.request_evidence_report(identity(), **values)  # type: ignore[arg-type]


def test_evidence_report_refuses_an_invalid_requester_name(rights: Rights,
                                                           privacy: PrivacySdk) -> None:  # OBL-EVI-1
    error = refused_field(evidence, rights, requester_name="Bob1")
    assert error.field == "requester_name" and nothing_collected(privacy)


def test_evidence_report_refuses_an_id_number_with_a_wrong_check_digit(
        rights: Rights, privacy: PrivacySdk) -> None:  # OBL-EVI-1
    error = refused_field(evidence, rights, requester_id_number="110105194912310021")
    assert error.field == "requester_id_number" and "110105" not in str(error)
    assert nothing_collected(privacy)


def test_evidence_report_refuses_an_invalid_mailbox(rights: Rights) -> None:  # OBL-EVI-1
    error = refused_field(evidence, rights, mailbox="lawyer-at-example")
    assert error.field == "mailbox" and "lawyer" not in str(error)


def test_evidence_report_refuses_an_empty_reason(rights: Rights) -> None:  # OBL-EVI-1
    assert refused_field(evidence, rights, reason="").field == "reason"


def test_evidence_report_refuses_a_reason_over_500_characters(rights: Rights) -> None:  # OBL-EVI-1
    assert refused_field(evidence, rights, reason="因" * 501).field == "reason"


def test_evidence_report_refuses_an_empty_signature_id(rights: Rights) -> None:  # OBL-EVI-1
    assert refused_field(evidence, rights, signature_id=" ").field == "signature_id"


# -- identity check again (OBL-DSR-1) ------------------------------------------------------


def test_verify_identity_refuses_an_empty_password(rights: Rights, privacy: PrivacySdk) -> None:  # OBL-DSR-1
    assert refused_field(rights.verify_identity, "").field == "password"
    assert nothing_collected(privacy)


def test_verify_identity_needs_a_session(rights: Rights) -> None:  # OBL-DSR-1
    with pytest.raises(NotLoggedIn):
        rights.verify_identity("Xk9#mQ2vLp8w-river")


def test_a_request_without_an_identity_check_is_refused(rights: Rights) -> None:  # OBL-DSR-1
    with pytest.raises(IdentityCheckRequired):
        rights.delete(None, "no_consent")  # type: ignore[arg-type]


def test_an_expired_identity_check_is_refused_before_sending(rights: Rights,
                                                             privacy: PrivacySdk) -> None:  # OBL-DSR-1
    with pytest.raises(IdentityCheckRequired, match="expired"):
        rights.delete(identity(valid_for_s=-1), "no_consent")
    assert nothing_collected(privacy)


def test_a_valid_request_needs_a_session(rights: Rights, privacy: PrivacySdk) -> None:  # OBL-DSR-1
    with pytest.raises(NotLoggedIn):
        evidence(rights)
    assert nothing_collected(privacy)  # the gate is passed only right before sending


def test_requests_need_a_session(rights: Rights) -> None:  # OBL-DSR-1
    with pytest.raises(NotLoggedIn):
        rights.requests()


def test_request_refuses_an_empty_id(rights: Rights) -> None:  # OBL-DSR-1
    assert refused_field(rights.request, "").field == "request_id"


def test_an_identity_check_never_shows_its_token(rights: Rights) -> None:  # OBL-DSR-1
    check = identity()
    assert TOKEN not in repr(check) and TOKEN not in str(check) and check.valid


def test_an_identity_check_cannot_be_pickled(rights: Rights) -> None:  # OBL-DSR-1
    with pytest.raises(TypeError, match="memory only"):
        pickle.dumps(identity())


def test_an_identity_check_expires_on_the_monotonic_clock() -> None:  # OBL-DSR-1
    now = _dt.datetime.now(_dt.timezone.utc)
    check = IdentityCheck.from_answer({"identity_token": TOKEN, "verified_at": now.isoformat(),
                                       "expires_at": (now + _dt.timedelta(seconds=6)).isoformat()},
                                      margin_s=5.0)
    assert check.valid and 0 < check.remaining_s <= 1.0
    time.sleep(check.remaining_s + 0.05)
    assert not check.valid


# -- cancellation (OBL-DSR-7) --------------------------------------------------------------


def notice(valid_for_s: float = 600.0) -> CancellationNotice:
    expires = _dt.datetime.now(_dt.timezone.utc) + _dt.timedelta(minutes=10)
    return CancellationNotice(TOKEN, expires, (Loss("account_login", "用此账号登录"),), (),
                              "warning", None, "5b0c3d0e-0000-4000-8000-000000000000",
                              time.monotonic() + valid_for_s)


def test_an_expired_cancellation_notice_changes_nothing(rights: Rights,
                                                        privacy: PrivacySdk) -> None:  # OBL-DSR-7
    subject, history = privacy.subject_id, privacy.ledger.history()
    with pytest.raises(CancellationTokenInvalid):
        rights.confirm_cancellation(notice(valid_for_s=-1))
    assert privacy.mode == "full" and privacy.subject_id == subject
    assert privacy.ledger.history() == history


def test_confirm_cancellation_needs_a_notice(rights: Rights) -> None:  # OBL-DSR-7
    with pytest.raises(CancellationTokenInvalid):
        rights.confirm_cancellation({"cancellation_token": TOKEN})  # type: ignore[arg-type]


def test_a_cancellation_notice_never_shows_its_token() -> None:  # OBL-DSR-7
    assert TOKEN not in repr(notice())
    with pytest.raises(TypeError):
        pickle.dumps(notice())


def test_the_cancellation_warning_says_what_is_lost_and_kept_until_when() -> None:  # OBL-DSR-7
    kept = (KeptRecord("signing_record", _dt.datetime(2031, 12, 1, 2, tzinfo=_dt.timezone.utc),
                       "《中华人民共和国电子签名法》第三十一条"),)
    losses = (Loss("contract_download", "合同下载"), Loss("account_login", "用此账号登录"))
    text = cancellation_warning(losses, kept)
    assert "· 合同下载\n· 用此账号登录\n" in text and "保存至2031年12月01日" in text
    assert "电子签名法" in text and "无法恢复" in text


# -- the wire objects ----------------------------------------------------------------------

WIRE_REQUEST = {
    "request_id": "7b0e0c57-5d8e-4a40-9a6e-3f0e6f1f9a11", "kind": "objection",
    "status": "received", "created_at": "2026-12-01T08:00:00Z",
    "identity_verified_at": "2026-12-01T07:59:00Z", "deadline": "2026-12-22",
    "deadline_provisional": False, "overdue": False, "answered_at": None, "answer": None,
    "details": {"purpose": "marketing"}, "outcome": None,
}


def test_a_request_carries_its_deadline_as_a_date_and_a_chinese_status() -> None:  # OBL-DSR-8
    request = RightsRequest.from_answer(WIRE_REQUEST, "test")
    assert request.deadline == _dt.date(2026, 12, 22) and not request.deadline_provisional
    assert (request.status_label, request.kind_label, request.open) == ("已受理", "拒绝或限制处理", True)
    assert request.identity_verified_at.tzinfo is not None


def test_a_malformed_request_object_is_a_transport_error() -> None:  # OBL-DSR-8
    from sdk import TransportError

    with pytest.raises(TransportError, match="deadline"):
        RightsRequest.from_answer({**WIRE_REQUEST, "deadline": "22/12/2026"}, "test")


DOCUMENT = {
    "format": "privacy-sdk.export/1", "generated_at": "2026-12-01T08:00:00Z",
    "account": {"account_id": "a", "created_at": "2026-11-30T08:00:00Z",
                "identifier_kind": "email", "phone": None, "email": "alice@example.com"},
    "notification_preference": {"channel": "sms", "email": None},
    "consent_records": [{"record_id": "r1"}], "personal_information": [],
    "third_party_transfers": [], "realname": {"status": "none", "real_name": None,
                                              "verifications": []},
    "certificates": [], "signing_records": [], "rights_requests": [], "support_messages": [],
    "invitations": [], "notice_acknowledgements": [],
}


def test_the_access_report_has_the_chinese_sections_in_order() -> None:  # OBL-DSR-1
    report = AccessReport.from_document(ExportDocument(DOCUMENT))
    assert report.titles == ("账号信息", "同意记录", "个人信息清单", "对外提供", "实名认证",
                             "数字证书", "签署记录", "权利请求", "客服沟通", "邀请记录",
                             "通知偏好", "公告确认记录")
    assert len(report.section("consent_records")) == 1 and report.section("certificates").empty


def test_a_section_the_sdk_does_not_know_is_shown_not_hidden() -> None:  # OBL-DSR-1
    report = AccessReport.from_document(ExportDocument({**DOCUMENT, "loyalty_points": [{"n": 1}]}))
    assert report.sections[-1].key == "loyalty_points"


def test_the_export_is_json_bytes_in_memory_and_never_a_file(tmp_path: Path) -> None:  # OBL-DSR-3
    before = sorted(tmp_path.rglob("*"))
    document = ExportDocument(DOCUMENT)
    data = document.to_json()
    assert isinstance(data, bytes) and json.loads(data.decode("utf-8")) == DOCUMENT
    assert "alice@example.com" not in repr(document)
    assert sorted(tmp_path.rglob("*")) == before


# -- what the user types is registered for redaction (OBL-LOG-1) ----------------------------

CORRECTED_NAME = "司马相如"
REQUESTER_NAME = "欧阳修"


@pytest.fixture
def no_registered_values() -> Iterator[None]:
    from sdk.oplog import forget_redacted_values

    forget_redacted_values()
    yield
    forget_redacted_values()


def test_a_corrected_name_is_stored_redacted_in_the_operation_log(
        rights: Rights, privacy: PrivacySdk, no_registered_values: None) -> None:  # OBL-LOG-1
    with pytest.raises(NotLoggedIn):  # refused after the name reached the SDK
        rights.correct(identity(), "name", CORRECTED_NAME)
    privacy.operation_log.write("service", "sdk_log", note=f"更正为{CORRECTED_NAME}")
    data = b"".join(p.read_bytes() for p in privacy.operation_log.path.parent.glob("oplog.db*"))
    assert CORRECTED_NAME.encode("utf-8") not in data
    assert privacy.operation_log.entries()[-1].detail["note"] == "更正为[redacted:value]"


def test_a_corrected_name_is_redacted_in_an_sdk_log_line(
        rights: Rights, no_registered_values: None, caplog: pytest.LogCaptureFixture) -> None:  # OBL-LOG-1
    import logging

    from sdk.oplog import install_log_redaction

    install_log_redaction("sdk")
    caplog.set_level(logging.INFO, logger="sdk")
    with pytest.raises(NotLoggedIn):
        rights.correct(identity(), "name", CORRECTED_NAME)
    logging.getLogger("sdk.rights").warning("correction of %s", CORRECTED_NAME)
    assert CORRECTED_NAME not in caplog.text and "correction of [redacted:value]" in caplog.text


def test_an_evidence_requesters_name_is_registered_for_redaction(
        rights: Rights, no_registered_values: None) -> None:  # OBL-LOG-1
    from sdk.oplog import redact

    with pytest.raises(NotLoggedIn):
        evidence(rights, requester_name=REQUESTER_NAME)
    assert redact(f"申请人{REQUESTER_NAME}") == "申请人[redacted:value]"
