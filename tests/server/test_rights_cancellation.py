"""Cancelling an account on the stub: ``POST /v1/me/cancellation`` then
``POST /v1/me/cancellation/confirm`` (docs/protocol.md, "Data-subject rights and
cancellation"; OBL-DSR-7)."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from pathlib import Path
from typing import Any

import requests

from server_stub.app import create_app
from server_stub.realname_store import RealnameStore
from server_stub.rights_store import RightsStore
from server_stub.runner import RunningServer
from server_stub.settings import Settings
from server_stub.services_store import ServicesStore
from server_stub.store import Store
from server_stub.testing import https_session

from .conftest import ACCOUNT_PASSWORD
from .test_certificates import (
    ID_NUMBER,
    NAME,
    SCOPES,
    Holder,
    consent,
    verified_account,
    verify,
)
from .test_rights_identity import (
    Clock,
    NewAccount,
    account_on,
    clocked,
    identity_token,
    rights_request,
)

_EVIDENCE = {"kind": "evidence_report", "requester_name": NAME,
             "requester_id_number": ID_NUMBER, "reason": "诉讼需要",
             "mailbox": "lawyer@example.com"}


def _begin(session: requests.Session, url: str, token: str | None = None) -> requests.Response:
    token = token if token is not None else identity_token(session, url)
    return session.post(f"{url}/v1/me/cancellation", timeout=10, headers={
        "Identity-Token": token, "Idempotency-Key": str(uuid.uuid4())})


def _confirm(session: requests.Session, url: str, token: str,
             key: str | None = None) -> requests.Response:
    return session.post(f"{url}/v1/me/cancellation/confirm", timeout=10,
                        json={"cancellation_token": token},
                        headers={"Idempotency-Key": key or str(uuid.uuid4())})


def _cancel(session: requests.Session, url: str) -> dict[str, Any]:
    begun = _begin(session, url)
    assert begun.status_code == 200, begun.text
    done = _confirm(session, url, begun.json()["cancellation_token"])
    assert done.status_code == 200, done.text
    return dict(done.json())


def _time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _login(server: RunningServer, identifier: str) -> requests.Response:
    with https_session(server) as session:
        return session.post(f"{server.url}/v1/sessions", timeout=10,
                            json={"identifier": identifier, "password": ACCOUNT_PASSWORD})


def test_step_one_tells_what_is_lost_and_kept_and_changes_nothing(  # OBL-DSR-7
        stub: RunningServer, new_account: NewAccount) -> None:
    session = new_account()
    answer = _begin(session, stub.url)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [entry["code"] for entry in body["will_lose"]] == [
        "contract_download", "evidence_reports", "certificates", "realname", "account_login"]
    assert body["will_lose"][0]["text"].startswith("合同下载")
    assert answer.headers["Cache-Control"] == "no-store"
    assert session.get(f"{stub.url}/v1/me", timeout=10).status_code == 200


def test_step_one_keeps_nothing_for_an_account_without_signing_records(  # OBL-DSR-7
        stub: RunningServer, new_account: NewAccount) -> None:
    answer = _begin(new_account(), stub.url)
    assert answer.status_code == 200, answer.text
    assert answer.json()["kept"] == []


def test_step_one_lists_the_signing_records_and_the_certificates_backing_them(  # OBL-DSR-7
        stub: RunningServer, new_account: NewAccount) -> None:
    session = verified_account(stub, new_account)
    assert Holder(stub, session).sign().status_code == 201
    body = _begin(session, stub.url).json()
    assert [k["item"] for k in body["kept"]] == ["signing_record", "certificate_info"]
    for kept in body["kept"]:
        assert "电子签名法" in kept["reason"] and "如有" not in kept["reason"]
        years = _time(kept["keep_until"]) - _time(body["expires_at"])
        assert dt.timedelta(days=5 * 365) <= years <= dt.timedelta(days=5 * 366)


def test_step_one_warns_that_open_requests_end(  # OBL-DSR-7
        stub: RunningServer, new_account: NewAccount) -> None:
    session = new_account()
    rights_request(session, stub.url, {"kind": "objection", "text": "不同意"})
    losses = _begin(session, stub.url).json()["will_lose"]
    assert losses[-1] == {"code": "open_requests",
                          "text": "未完成的个人信息权利请求和出证申请将终止"}


def test_step_one_lists_the_evidence_request_fields_kept(  # OBL-DSR-7, OBL-EVI-1
        stub: RunningServer, new_account: NewAccount) -> None:
    session = new_account()
    made = rights_request(session, stub.url, _EVIDENCE).json()
    (kept,) = _begin(session, stub.url).json()["kept"]
    created = _time(made["created_at"])
    assert kept["item"] == "evidence_request"
    assert _time(kept["keep_until"]) == created.replace(year=created.year + 5)


def test_the_confirmation_closes_the_open_requests(tmp_path: Path) -> None:  # OBL-DSR-7, OBL-DSR-6
    clock = Clock()
    with clocked(tmp_path, clock) as server, account_on(server) as session:
        account_id = session.account_id  # type: ignore[attr-defined]
        made = rights_request(session, server.url, {"kind": "objection", "text": "不同意"}).json()
        done = _cancel(session, server.url)
        clock.advance(60 * 24 * 3600)  # long past the deadline
        closed = RightsStore(server.data_dir, clock).request(account_id, made["request_id"])
    assert closed is not None
    assert (closed["status"], closed["answer"], closed["answered_at"], closed["overdue"]) == (
        "closed", "账号已注销，请求随之终止", done["cancelled_at"], False)


def test_the_confirmation_keeps_only_the_evidence_request_fields(  # OBL-DSR-7, OBL-EVI-1
        stub: RunningServer, new_account: NewAccount) -> None:
    session = new_account()
    account_id = session.account_id  # type: ignore[attr-defined]
    text = f"不同意 objection-{uuid.uuid4().hex}"
    rights_request(session, stub.url, {"kind": "objection", "text": text})
    rights_request(session, stub.url, _EVIDENCE)
    _cancel(session, stub.url)
    kept = RightsStore(Path(stub.data_dir), time.time).requests(account_id, provided=True)
    assert [(r["kind"], r["provided"] is not None) for r in kept] == [
        ("evidence_report", True), ("objection", False)]
    stored = b"".join(p.read_bytes() for p in Path(stub.data_dir).glob("stub.db*"))
    assert text.encode() not in stored


def test_step_one_needs_an_identity_check(  # OBL-DSR-7
        stub: RunningServer, new_account: NewAccount) -> None:
    answer = _begin(new_account(), stub.url, token="")
    assert answer.status_code == 403
    assert answer.json()["error"] == "identity_check_required"


def test_a_wrong_cancellation_token_is_refused(  # OBL-DSR-7
        stub: RunningServer, new_account: NewAccount) -> None:
    session = new_account()
    assert _begin(session, stub.url).status_code == 200
    answer = _confirm(session, stub.url, "not-the-token")
    assert answer.status_code == 403
    assert answer.json()["error"] == "cancellation_token_invalid"
    assert session.get(f"{stub.url}/v1/me", timeout=10).status_code == 200


def test_another_accounts_cancellation_token_is_refused(  # OBL-DSR-7
        stub: RunningServer, new_account: NewAccount) -> None:
    mine, theirs = new_account(), new_account()
    their_token = _begin(theirs, stub.url).json()["cancellation_token"]
    assert _confirm(mine, stub.url, their_token).status_code == 403
    assert theirs.get(f"{stub.url}/v1/me", timeout=10).status_code == 200


def test_an_expired_cancellation_token_is_refused(tmp_path: Path) -> None:  # OBL-DSR-7
    clock = Clock()
    with clocked(tmp_path, clock) as server, account_on(server) as session:
        token = _begin(session, server.url).json()["cancellation_token"]
        clock.advance(10 * 60 + 1)
        answer = _confirm(session, server.url, token)
        assert answer.status_code == 403
        assert answer.json()["error"] == "cancellation_token_invalid"


def test_after_cancellation_the_old_login_and_session_are_refused(  # OBL-DSR-7
        tmp_path: Path) -> None:
    with clocked(tmp_path, Clock()) as server, account_on(server) as session:
        done = _cancel(session, server.url)
        assert _time(done["evidence_kept_until"]).year == _time(done["cancelled_at"]).year + 5
        login = _login(server, session.identifier)  # type: ignore[attr-defined]
        assert (login.status_code, login.json()["error"]) == (401, "invalid_credentials")
        again = session.get(f"{server.url}/v1/me", timeout=10)
        assert (again.status_code, again.json()["error"]) == (401, "not_logged_in")


def test_the_old_session_cookie_is_refused_even_when_sent_again(  # OBL-DSR-7
        tmp_path: Path) -> None:
    with clocked(tmp_path, Clock()) as server, account_on(server) as session:
        cookie = session.cookies.get("sid")
        _cancel(session, server.url)
        with https_session(server) as other:
            other.cookies.set("sid", cookie)
            answer = other.get(f"{server.url}/v1/me/rights-requests", timeout=10)
            assert (answer.status_code, answer.json()["error"]) == (401, "not_logged_in")


def test_the_identifier_can_register_again_as_a_new_account(  # OBL-DSR-7
        tmp_path: Path) -> None:
    with clocked(tmp_path, Clock()) as server, account_on(server) as session:
        _cancel(session, server.url)
        with account_on(server, session.identifier) as fresh:  # type: ignore[attr-defined]
            assert fresh.account_id != session.account_id  # type: ignore[attr-defined]
            assert _login(server, session.identifier).status_code == 200  # type: ignore[attr-defined]


def test_a_retry_of_the_confirmation_replays_without_the_session(  # OBL-DSR-7
        stub: RunningServer, new_account: NewAccount) -> None:
    session = new_account()
    token, key = _begin(session, stub.url).json()["cancellation_token"], str(uuid.uuid4())
    first = _confirm(session, stub.url, token, key)
    again = _confirm(session, stub.url, token, key)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()


def test_cancellation_keeps_signing_evidence_and_erases_the_rest(  # OBL-DSR-7
        stub: RunningServer, new_account: NewAccount) -> None:
    session = new_account()
    account_id = session.account_id  # type: ignore[attr-defined]
    device = consent(session, stub, *SCOPES)
    verify(stub, account_id)
    holder = Holder(stub, session)
    signature_id = holder.sign().json()["signature_id"]
    sent = session.post(f"{stub.url}/v1/me/support-messages", json={"text": "我要注销"},
                        headers={"Idempotency-Key": str(uuid.uuid4())}, timeout=10)
    assert sent.status_code == 201
    done = _cancel(session, stub.url)
    realname = RealnameStore(Path(stub.data_dir))
    records = realname.signing_records(account_id)
    assert [r["signature_id"] for r in records] == [signature_id]
    kept = realname.account_export(account_id, dt.datetime.now(dt.timezone.utc))
    assert kept["signing_records"][0]["keep_until"] == done["evidence_kept_until"]
    assert [c["revoked"] for c in kept["certificates"]] == [True]
    assert kept["realname"] == {"status": None, "real_name": None, "verifications": []}
    store = Store(Path(stub.data_dir))
    assert store.consent_records(device.subject_id)  # proof of consent stays ...
    assert store.account_consent_records(account_id) == []  # ... unlinked from the account
    account = store.account_by_id(account_id)
    assert account is not None and account.identifier.startswith("cancelled:")
    assert ServicesStore(Path(stub.data_dir)).export(account_id)["support_messages"] == []


def test_evidence_kept_after_the_cancellation_goes_once_its_keep_until_passed(  # OBL-DSR-7, OBL-EVI-1
        stub: RunningServer, new_account: NewAccount, policy_dir: Path) -> None:
    session = verified_account(stub, new_account)
    account_id = session.account_id  # type: ignore[attr-defined]
    assert Holder(stub, session).sign().status_code == 201
    rights_request(session, stub.url, _EVIDENCE)
    _cancel(session, stub.url)
    data_dir = Path(stub.data_dir)
    day = 24 * 3600
    for years_later, kept in ((5 * 365 - 2, True), (5 * 366 + 2, False)):
        def later(offset: float = years_later * day) -> float:
            return time.time() + offset
        # the stub purges what is past its keep-until date when it starts
        create_app(Settings(data_dir=data_dir, clock=later, policy_dir=policy_dir))
        realname = RealnameStore(data_dir)
        with realname.connect() as conn:
            rows = [conn.execute(f"SELECT COUNT(*) FROM {table} WHERE account_id = ?",
                                 (account_id,)).fetchone()[0]
                    for table in ("signing_records", "user_certificates")]
        (evidence,) = RightsStore(data_dir, later).requests(account_id, provided=True)
        assert (rows == [1, 1], evidence["provided"] is not None) == (kept, kept)
