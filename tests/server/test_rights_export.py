"""The export / access report document on the stub: ``GET /v1/me/export`` (docs/protocol.md,
"Data-subject rights and cancellation"; OBL-DSR-1, OBL-DSR-3)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import requests

from server_stub.runner import RunningServer

from .test_certificates import NAME, Holder, verified_account
from .test_rights_identity import NewAccount, export, rights_request

MakeRecord = Callable[..., dict[str, Any]]


def _post(session: requests.Session, url: str, body: dict[str, Any]) -> requests.Response:
    answer = session.post(url, json=body, headers={"Idempotency-Key": str(uuid.uuid4())},
                          timeout=10)
    assert answer.status_code == 201, answer.text
    return answer


def test_the_export_is_an_attachment_never_cached(  # OBL-DSR-3
        stub: RunningServer, new_account: NewAccount) -> None:
    answer = export(new_account(), stub.url)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["Content-Disposition"] == (
        'attachment; filename="personal-information-export.json"')
    document = answer.json()
    assert document["format"] == "privacy-sdk.export/1"
    assert set(document) == {
        "format", "generated_at", "account", "notification_preference", "consent_records",
        "personal_information", "third_party_transfers", "realname", "certificates",
        "signing_records", "rights_requests", "support_messages", "invitations",
        "notice_acknowledgements"}


def test_the_export_needs_an_identity_check(  # OBL-DSR-1
        stub: RunningServer, new_account: NewAccount) -> None:
    session = new_account()
    answer = session.get(f"{stub.url}/v1/me/export", timeout=10)
    assert answer.status_code == 403
    assert answer.json()["error"] == "identity_check_required"


def test_the_export_holds_the_account_and_its_consent_records(  # OBL-DSR-3
        stub: RunningServer, new_account: NewAccount, make_record: MakeRecord) -> None:
    session = new_account()
    record = make_record()
    assert session.put(f"{stub.url}/v1/me/subjects/{record['subject_id']}",
                       timeout=10).status_code == 204
    stored = session.post(f"{stub.url}/v1/consent-records", json=record, timeout=10,
                          headers={"Idempotency-Key": record["record_id"]})
    assert stored.status_code == 201, stored.text
    document = export(session, stub.url).json()
    account = document["account"]
    assert account["account_id"] == session.account_id  # type: ignore[attr-defined]
    assert account["identifier_kind"] == "email" and account["phone"] is None
    assert account["email"].endswith("@example.com")
    assert [r["record_id"] for r in document["consent_records"]] == [record["record_id"]]
    items = {entry["item"] for entry in document["personal_information"]}
    assert {"login_account", "consent_records"} <= items


def test_the_export_holds_what_the_user_provided_with_values(  # OBL-DSR-3
        stub: RunningServer, new_account: NewAccount) -> None:
    session = new_account()
    _post(session, f"{stub.url}/v1/me/support-messages",
          {"text": "签署页打不开", "contact": "13800138000"})
    _post(session, f"{stub.url}/v1/me/invitations", {
        "template_id": "lease", "phone": "13900139000", "authorisation_attested": True})
    rights_request(session, stub.url, {"kind": "objection", "text": "不要营销短信"})
    document = export(session, stub.url).json()
    message = document["support_messages"][0]
    assert (message["text"], message["contact"]) == ("签署页打不开", "+8613800138000")
    assert document["invitations"][0]["phone"] == "+8613900139000"
    assert document["notification_preference"] == {"channel": "sms", "email": None}
    objection = document["rights_requests"][0]
    assert objection["provided"]["text"] == "不要营销短信"
    items = {entry["item"] for entry in document["personal_information"]}
    assert "rights_requests" in items


def test_the_export_holds_the_realname_data_certificates_and_signatures(  # OBL-DSR-3
        stub: RunningServer, new_account: NewAccount) -> None:
    session = verified_account(stub, new_account)
    holder = Holder(stub, session)
    signed = holder.sign().json()
    document = export(session, stub.url).json()
    assert (document["realname"]["status"], document["realname"]["real_name"]) == (
        "verified", NAME)
    certificate = document["certificates"][0]
    assert (certificate["serial"], certificate["revoked"]) == (holder.serial, False)
    assert certificate["subject"]["common_name"] == NAME
    record = document["signing_records"][0]
    assert (record["signature_id"], record["content_sha256"]) == (
        signed["signature_id"], signed["sha256"])
    assert record["keep_until"][:4] == str(int(record["signed_at"][:4]) + 5)
    assert [t["recipient"] for t in document["third_party_transfers"]] == ["ca"]


def test_the_personal_information_list_counts_rights_requests(  # OBL-DSR-1
        stub: RunningServer, new_account: NewAccount) -> None:
    session = new_account()
    rights_request(session, stub.url, {"kind": "access"})
    answer = session.get(f"{stub.url}/v1/me/personal-information", timeout=10)
    entry = {e["item"]: e for e in answer.json()["items"]}["rights_requests"]
    assert entry["count"] == 1
