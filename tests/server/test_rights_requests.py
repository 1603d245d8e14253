"""Rights requests on the stub: ``POST /v1/me/rights-requests``, the GETs and the dev answer
(docs/protocol.md, "Data-subject rights and cancellation"; OBL-DSR-1/2/3/6/8, OBL-EVI-1)."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import requests

from sdk.rights.deadline import deadline_after
from server_stub.runner import RunningServer
from server_stub.testing import https_session

from .conftest import ACCOUNT_PASSWORD
from .test_certificates import ID_NUMBER, NAME, Holder, verified_account
from .test_rights_identity import (
    Clock,
    NewAccount,
    account_on,
    clocked,
    export,
    identity_token,
    rights_request,
)

CST = dt.timezone(dt.timedelta(hours=8))


def _time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _login(server: RunningServer, identifier: str) -> int:
    with https_session(server) as session:
        return session.post(f"{server.url}/v1/sessions", timeout=10, json={
            "identifier": identifier, "password": ACCOUNT_PASSWORD}).status_code


def _answer(session: requests.Session, url: str, request_id: str, status: str,
            text: str = "已处理") -> requests.Response:
    return session.post(f"{url}/v1/dev/rights-requests/{request_id}/answer", timeout=10,
                        json={"status": status, "answer": text},
                        headers={"Idempotency-Key": str(uuid.uuid4())})


def _phone() -> str:
    return f"1380013{uuid.uuid4().int % 10000:04d}"


# -- the kinds -------------------------------------------------------------------------------


def test_access_is_completed_at_once_and_points_to_the_export(  # OBL-DSR-1
        stub: RunningServer, new_account: NewAccount) -> None:
    answer = rights_request(new_account(), stub.url, {"kind": "access"})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert (body["kind"], body["status"], body["details"]) == ("access", "completed", {})
    assert body["answered_at"] is not None and body["overdue"] is False
    assert body["outcome"] == {"report": "/v1/me/export"}
    assert answer.headers["Cache-Control"] == "no-store"


def test_export_request_is_completed_at_once(  # OBL-DSR-3
        stub: RunningServer, new_account: NewAccount) -> None:
    answer = rights_request(new_account(), stub.url, {"kind": "export"})
    assert answer.status_code == 201
    assert answer.json()["status"] == "completed"


def test_a_correction_of_the_phone_changes_the_login(tmp_path: Path) -> None:  # OBL-DSR-2
    old, new = _phone(), _phone()
    with clocked(tmp_path, Clock()) as server, account_on(server, old) as session:
        answer = rights_request(session, server.url,
                                {"kind": "correction", "field": "phone", "value": new})
        assert answer.status_code == 201, answer.text
        body = answer.json()
        assert (body["status"], body["details"]) == ("completed", {"field": "phone"})
        assert body["outcome"] == {"applied": True, "login_identifier_changed": True}
        assert new not in answer.text
        assert _login(server, new) == 200
        assert _login(server, old) == 401
        assert export(session, server.url).json()["account"]["phone"] == "+86" + new


def test_a_correction_to_another_accounts_phone_is_refused(tmp_path: Path) -> None:  # OBL-DSR-2
    taken = _phone()
    with clocked(tmp_path, Clock()) as server, account_on(server, _phone()) as session, \
            account_on(server, taken):
        answer = rights_request(session, server.url,
                                {"kind": "correction", "field": "phone", "value": taken})
        assert answer.status_code == 409
        assert answer.json()["error"] == "account_exists"
        assert taken not in answer.text


def test_a_correction_of_the_email_of_a_phone_account_keeps_the_login(  # OBL-DSR-2
        tmp_path: Path) -> None:
    phone = _phone()
    with clocked(tmp_path, Clock()) as server, account_on(server, phone) as session:
        answer = rights_request(session, server.url, {
            "kind": "correction", "field": "email", "value": "New.Mail@Example.com"})
        assert answer.json()["outcome"]["login_identifier_changed"] is False
        assert export(session, server.url).json()["account"]["email"] == "new.mail@example.com"
        assert _login(server, phone) == 200


def test_a_bad_correction_value_is_refused_naming_the_field(  # OBL-DSR-2
        stub: RunningServer, new_account: NewAccount) -> None:
    answer = rights_request(new_account(), stub.url,
                            {"kind": "correction", "field": "phone", "value": "12345"})
    assert answer.status_code == 422
    assert answer.json()["error"] == "invalid_request"
    assert "'value'" in answer.json()["message"] and "12345" not in answer.text


def test_a_name_correction_waits_for_staff_and_keeps_the_value(  # OBL-DSR-2
        stub: RunningServer, new_account: NewAccount) -> None:
    session = new_account()
    answer = rights_request(session, stub.url,
                            {"kind": "correction", "field": "name", "value": NAME})
    body = answer.json()
    assert (body["status"], body["details"], body["answered_at"]) == (
        "received", {"field": "name"}, None)
    assert NAME not in answer.text
    kept = export(session, stub.url).json()["rights_requests"][0]["provided"]
    assert kept == {"value": NAME}


def test_an_unknown_kind_is_refused_naming_the_field(  # OBL-DSR-1
        stub: RunningServer, new_account: NewAccount) -> None:
    answer = rights_request(new_account(), stub.url, {"kind": "sell_my_data"})
    assert answer.status_code == 422
    assert "'kind'" in answer.json()["message"] and "sell_my_data" not in answer.text


def test_a_deletion_needs_one_of_the_five_cases(  # OBL-DSR-2
        stub: RunningServer, new_account: NewAccount) -> None:
    answer = rights_request(new_account(), stub.url, {"kind": "deletion", "case": "because"})
    assert answer.status_code == 422
    assert "'case'" in answer.json()["message"]


def test_a_deletion_deletes_what_it_may_and_lists_what_it_keeps(  # OBL-DSR-2
        stub: RunningServer, new_account: NewAccount) -> None:
    session = verified_account(stub, new_account)
    holder = Holder(stub, session)
    signed = holder.sign()
    assert signed.status_code == 201, signed.text
    sent = session.post(f"{stub.url}/v1/me/support-messages", json={"text": "合同打不开"},
                        headers={"Idempotency-Key": str(uuid.uuid4())}, timeout=10)
    assert sent.status_code == 201, sent.text
    answer = rights_request(session, stub.url, {"kind": "deletion", "case": "stopped_using"})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert (body["status"], body["details"]) == ("completed", {"case": "stopped_using"})
    assert {"real_name", "id_number", "cs_message"} <= set(body["outcome"]["deleted"])
    kept = {entry["item"]: entry for entry in body["outcome"]["kept"]}
    assert {"consent_records", "signing_record", "certificate_info", "operation_log"} <= set(kept)
    signed_at = _time(signed.json()["signed_at"])
    assert _time(kept["signing_record"]["keep_until"]) == signed_at.replace(year=signed_at.year + 5)
    assert "电子签名法" in kept["signing_record"]["reason"]
    document = export(session, stub.url).json()
    assert document["realname"]["real_name"] is None and document["support_messages"] == []
    assert [r["signature_id"] for r in document["signing_records"]] == [
        signed.json()["signature_id"]]
    assert document["consent_records"]  # proof of consent stays


def _stored(server: RunningServer) -> bytes:
    """The bytes of ``stub.db`` and its WAL, as someone with the disk reads them."""
    return b"".join(p.read_bytes() for p in sorted(Path(server.data_dir).glob("stub.db*")))


def test_answering_a_request_deletes_what_the_user_gave(  # OBL-DSR-2, OBL-SEC-3
        stub: RunningServer, new_account: NewAccount) -> None:
    session = new_account()
    text = f"请停止营销 objection-{uuid.uuid4().hex}"
    body = rights_request(session, stub.url, {"kind": "objection", "text": text}).json()
    assert text.encode() in _stored(stub)  # kept while open: staff need it
    assert _answer(session, stub.url, body["request_id"], "completed").status_code == 200
    assert text.encode() not in _stored(stub)
    assert export(session, stub.url).json()["rights_requests"][0]["provided"] is None


def test_a_deletion_deletes_the_values_of_answered_requests(  # OBL-DSR-2, OBL-SEC-3
        stub: RunningServer, new_account: NewAccount) -> None:
    import sqlite3

    session = new_account()
    text = f"不同意 objection-{uuid.uuid4().hex}"
    made = rights_request(session, stub.url, {"kind": "objection", "text": text}).json()
    with sqlite3.connect(Path(stub.data_dir) / "stub.db") as conn:  # answered, value still kept
        conn.execute("UPDATE rights_requests SET status = 'rejected' WHERE request_id = ?",
                     (made["request_id"],))
    conn.close()
    deletion = rights_request(session, stub.url, {"kind": "deletion", "case": "stopped_using"})
    assert "rights_requests" in deletion.json()["outcome"]["deleted"]
    assert "rights_requests" not in {k["item"] for k in deletion.json()["outcome"]["kept"]}
    assert text.encode() not in _stored(stub)


def test_a_deletion_lists_the_values_open_requests_keep_until_answered(  # OBL-DSR-2
        stub: RunningServer, new_account: NewAccount) -> None:
    session = new_account()
    rights_request(session, stub.url, {"kind": "correction", "field": "name", "value": NAME})
    deletion = rights_request(session, stub.url, {"kind": "deletion", "case": "stopped_using"})
    kept = {entry["item"]: entry for entry in deletion.json()["outcome"]["kept"]}
    assert kept["rights_requests"]["keep_until"] is None
    assert "答复后即删除" in kept["rights_requests"]["reason"]
    assert NAME not in deletion.text
    requests_ = export(session, stub.url).json()["rights_requests"]
    assert [r["provided"] for r in requests_ if r["kind"] == "correction"] == [{"value": NAME}]


def test_a_deletion_lists_the_evidence_request_fields_kept_five_years(  # OBL-EVI-1, OBL-DSR-2
        stub: RunningServer, new_account: NewAccount) -> None:
    session = new_account()
    made = rights_request(session, stub.url, {
        "kind": "evidence_report", "requester_name": NAME, "requester_id_number": ID_NUMBER,
        "reason": "诉讼需要", "mailbox": "lawyer@example.com"}).json()
    assert _answer(session, stub.url, made["request_id"], "completed").status_code == 200
    deletion = rights_request(session, stub.url, {"kind": "deletion", "case": "stopped_using"})
    kept = {entry["item"]: entry for entry in deletion.json()["outcome"]["kept"]}
    created = _time(made["created_at"])
    assert _time(kept["evidence_request"]["keep_until"]) == created.replace(year=created.year + 5)
    assert "电子签名法" in kept["evidence_request"]["reason"]
    assert "rights_requests" not in kept  # nothing else is kept
    provided = export(session, stub.url).json()["rights_requests"][-1]["provided"]
    assert provided["requester_name"] == NAME


def test_an_objection_is_received_with_its_deadline(  # OBL-DSR-6, OBL-DSR-8
        stub: RunningServer, new_account: NewAccount) -> None:
    answer = rights_request(new_account(), stub.url,
                            {"kind": "objection", "text": "请停止营销推送", "purpose": "marketing"})
    body = answer.json()
    assert (body["status"], body["details"]) == ("received", {"purpose": "marketing"})
    expected = deadline_after(_time(body["identity_verified_at"]))
    assert body["deadline"] == expected.due.isoformat()
    assert body["deadline_provisional"] is expected.provisional
    assert body["overdue"] is False and "请停止" not in answer.text


def test_a_deadline_in_an_unpublished_year_is_provisional(tmp_path: Path) -> None:  # OBL-DSR-8
    clock = Clock(dt.datetime(2027, 6, 1, 10, 0, tzinfo=CST))
    with clocked(tmp_path, clock) as server, account_on(server) as session:
        body = rights_request(session, server.url, {"kind": "objection", "text": "不同意"}).json()
        assert body["identity_verified_at"] == "2027-06-01T02:00:00Z"
        assert body["deadline_provisional"] is True
        assert body["deadline"] == "2027-06-22"  # 15 days Monday to Friday


def test_a_request_past_its_deadline_is_flagged_overdue(tmp_path: Path) -> None:  # OBL-DSR-6
    clock = Clock()
    with clocked(tmp_path, clock) as server, account_on(server) as session:
        body = rights_request(session, server.url, {"kind": "objection", "text": "不同意"}).json()
        due = dt.date.fromisoformat(body["deadline"])
        last_moment = dt.datetime.combine(due, dt.time(23, 59, 59), tzinfo=CST)
        clock.now = last_moment.timestamp()
        url = f"{server.url}/v1/me/rights-requests/{body['request_id']}"
        assert session.get(url, timeout=10).json()["overdue"] is False
        clock.advance(1)
        assert session.get(url, timeout=10).json()["overdue"] is True
        listed = session.get(f"{server.url}/v1/me/rights-requests", timeout=10).json()
        assert listed["requests"][0]["overdue"] is True


def test_an_answered_request_is_never_overdue(tmp_path: Path) -> None:  # OBL-DSR-6
    clock = Clock()
    with clocked(tmp_path, clock) as server, account_on(server) as session:
        body = rights_request(session, server.url, {"kind": "objection", "text": "不同意"}).json()
        assert _answer(session, server.url, body["request_id"], "completed").status_code == 200
        clock.advance(60 * 24 * 3600)
        got = session.get(f"{server.url}/v1/me/rights-requests/{body['request_id']}", timeout=10)
        assert got.json()["overdue"] is False


def test_an_evidence_report_request_is_received_without_keeping_the_id_number(  # OBL-EVI-1
        stub: RunningServer, new_account: NewAccount) -> None:
    session = new_account()
    answer = rights_request(session, stub.url, {
        "kind": "evidence_report", "requester_name": NAME, "requester_id_number": ID_NUMBER,
        "reason": "诉讼需要", "mailbox": "lawyer@example.com"})
    assert answer.status_code == 201, answer.text
    assert (answer.json()["status"], answer.json()["details"]) == ("received", {})
    assert ID_NUMBER not in answer.text and NAME not in answer.text
    stored = b"".join(p.read_bytes() for p in Path(stub.data_dir).glob("stub.db*"))
    assert ID_NUMBER.encode() not in stored
    kept = export(session, stub.url).json()["rights_requests"][0]["provided"]
    assert (kept["requester_name"], kept["mailbox"]) == (NAME, "lawyer@example.com")
    assert len(kept["requester_id_pseudonym"]) == 64


def test_an_evidence_report_with_a_bad_id_number_names_the_field(  # OBL-EVI-1
        stub: RunningServer, new_account: NewAccount) -> None:
    answer = rights_request(new_account(), stub.url, {
        "kind": "evidence_report", "requester_name": NAME, "requester_id_number": "110105194912310021",
        "reason": "诉讼需要", "mailbox": "lawyer@example.com"})
    assert answer.status_code == 422
    assert "requester_id_number" in answer.json()["message"]
    assert "110105194912310021" not in answer.text


# -- replay, lists, authorisation, the dev answer --------------------------------------------


def test_a_retry_with_the_same_key_replays_the_request(  # OBL-DSR-1
        stub: RunningServer, new_account: NewAccount) -> None:
    session = new_account()
    token, key = identity_token(session, stub.url), str(uuid.uuid4())
    first = rights_request(session, stub.url, {"kind": "access"}, token, key)
    again = rights_request(session, stub.url, {"kind": "access"}, token, key)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["request_id"] == first.json()["request_id"]
    listed = session.get(f"{stub.url}/v1/me/rights-requests", timeout=10).json()["requests"]
    assert len(listed) == 1


def test_the_list_is_newest_first(stub: RunningServer, new_account: NewAccount) -> None:  # OBL-DSR-1
    session = new_account()
    token = identity_token(session, stub.url)
    ids = [rights_request(session, stub.url, {"kind": k}, token).json()["request_id"]
           for k in ("access", "export")]
    listed = session.get(f"{stub.url}/v1/me/rights-requests", timeout=10)
    assert [r["request_id"] for r in listed.json()["requests"]] == ids[::-1]
    assert listed.headers["Cache-Control"] == "no-store"


def test_another_accounts_request_answers_like_an_unknown_one(  # OBL-DSR-1, OBL-SEC-2
        stub: RunningServer, new_account: NewAccount) -> None:
    mine, theirs = new_account(), new_account()
    their_id = rights_request(theirs, stub.url, {"kind": "access"}).json()["request_id"]
    other = mine.get(f"{stub.url}/v1/me/rights-requests/{their_id}", timeout=10)
    unknown = mine.get(f"{stub.url}/v1/me/rights-requests/{uuid.uuid4()}", timeout=10)
    assert (other.status_code, unknown.status_code) == (404, 404)
    assert other.json() == unknown.json() == {
        "error": "request_not_found", "message": unknown.json()["message"]}
    assert mine.get(f"{stub.url}/v1/me/rights-requests", timeout=10).json() == {"requests": []}


def test_the_lists_need_a_session(stub: RunningServer, client: requests.Session) -> None:  # OBL-SEC-2
    for path in ("/v1/me/rights-requests", f"/v1/me/rights-requests/{uuid.uuid4()}"):
        assert client.get(f"{stub.url}{path}", timeout=10).status_code == 401


def test_staff_answer_through_the_dev_endpoint(  # OBL-DSR-2, OBL-DSR-6
        stub: RunningServer, new_account: NewAccount) -> None:
    session = new_account()
    body = rights_request(session, stub.url,
                          {"kind": "correction", "field": "name", "value": NAME}).json()
    working = _answer(session, stub.url, body["request_id"], "in_progress", "核实中")
    assert working.status_code == 200, working.text
    assert (working.json()["status"], working.json()["answered_at"]) == ("in_progress", None)
    done = _answer(session, stub.url, body["request_id"], "completed", "已更正")
    assert (done.json()["status"], done.json()["answer"]) == ("completed", "已更正")
    assert done.json()["answered_at"] is not None
    assert export(session, stub.url).json()["rights_requests"][0]["provided"] is None
    again = _answer(session, stub.url, body["request_id"], "rejected")
    assert (again.status_code, again.json()["error"]) == (409, "request_closed")


def test_the_dev_answer_of_an_unknown_request_is_404(  # OBL-DSR-6
        stub: RunningServer, client: requests.Session) -> None:
    answer = _answer(client, stub.url, str(uuid.uuid4()), "completed")
    assert (answer.status_code, answer.json()["error"]) == (404, "request_not_found")


def test_the_dev_answer_is_absent_outside_dev_mode(tmp_path: Path) -> None:  # OBL-DSR-6
    from server_stub.runner import start_in_thread
    from server_stub.settings import Settings
    from server_stub.testing import write_policy_dir

    settings = Settings(data_dir=tmp_path / "data", policy_dir=write_policy_dir(tmp_path / "p"))
    with start_in_thread(settings) as server, https_session(server) as session:
        answer = _answer(session, server.url, str(uuid.uuid4()), "completed")
        assert answer.status_code == 404
        assert answer.json()["error"] == "not_found"
