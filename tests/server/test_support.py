"""/v1/me/support-messages: messages to customer service (OBL-CS-1; docs/protocol.md,
"Customer service, notifications, invitations, notices, data region")."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import requests

from server_stub.runner import RunningServer

NewAccount = Callable[[], requests.Session]

PHONE = "13800138000"
EMAIL = "Zhang.Wei@Example.com"


def _send(session: requests.Session, url: str, body: Any, key: str | None = None) -> requests.Response:
    return session.post(f"{url}/v1/me/support-messages", json=body,
                        headers={"Idempotency-Key": key or str(uuid.uuid4())}, timeout=10)


def _messages(session: requests.Session, url: str) -> list[dict[str, Any]]:
    answer = session.get(f"{url}/v1/me/support-messages", timeout=10)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["messages"])


def test_a_message_is_stored_and_answered_201(stub: RunningServer, new_account: NewAccount) -> None:  # OBL-CS-1
    # OBL-CS-1
    session = new_account()
    answer = _send(session, stub.url, {"text": "合同下载失败，请协助处理。"})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert set(body) == {"message_id", "received_at", "text", "contact", "answer"}
    assert body["text"] == "合同下载失败，请协助处理。"
    assert (body["contact"], body["answer"]) == (None, None)
    assert uuid.UUID(body["message_id"]).version == 4
    assert body["received_at"].endswith("Z")
    assert answer.headers["Cache-Control"] == "no-store"


def test_the_owner_lists_the_message(stub: RunningServer, new_account: NewAccount) -> None:  # OBL-CS-1
    # OBL-CS-1
    session = new_account()
    sent = _send(session, stub.url, {"text": "请问如何修改手机号？"}).json()
    assert _messages(session, stub.url) == [sent]


def test_another_account_does_not_see_the_message(stub: RunningServer, new_account: NewAccount) -> None:  # OBL-CS-1
    # OBL-CS-1 (only its owner)
    owner, other = new_account(), new_account()
    assert _send(owner, stub.url, {"text": "私密留言"}).status_code == 201
    assert _messages(other, stub.url) == []


def test_messages_are_listed_newest_first(stub: RunningServer, new_account: NewAccount) -> None:  # OBL-CS-1
    # OBL-CS-1
    session = new_account()
    first = _send(session, stub.url, {"text": "第一条"}).json()
    second = _send(session, stub.url, {"text": "第二条"}).json()
    assert [m["message_id"] for m in _messages(session, stub.url)] == [
        second["message_id"], first["message_id"]]


def test_a_phone_contact_is_stored_as_e164(stub: RunningServer, new_account: NewAccount) -> None:  # OBL-CS-1
    # OBL-CS-1
    session = new_account()
    answer = _send(session, stub.url, {"text": "请回电", "contact": PHONE})
    assert answer.status_code == 201, answer.text
    assert answer.json()["contact"] == "+8613800138000"


def test_an_email_contact_is_stored_normalised(stub: RunningServer, new_account: NewAccount) -> None:  # OBL-CS-1
    # OBL-CS-1
    session = new_account()
    answer = _send(session, stub.url, {"text": "请邮件回复", "contact": EMAIL})
    assert answer.status_code == 201, answer.text
    assert answer.json()["contact"] == "zhang.wei@example.com"


def test_an_invalid_contact_is_422_naming_the_field(stub: RunningServer, new_account: NewAccount) -> None:  # OBL-CS-1
    # OBL-CS-1
    session = new_account()
    for bad in ("12345", "not-an-address@", "010-12345678"):
        answer = _send(session, stub.url, {"text": "你好", "contact": bad})
        assert answer.status_code == 422, bad
        assert answer.json()["error"] == "invalid_request"
        assert "'contact'" in answer.json()["message"]
        assert bad not in answer.text
    assert _messages(session, stub.url) == []


def test_a_blank_text_is_422(stub: RunningServer, new_account: NewAccount) -> None:  # OBL-CS-1
    # OBL-CS-1
    session = new_account()
    for body in ({"text": "   "}, {"text": ""}, {}, {"text": 5}):
        answer = _send(session, stub.url, body)
        assert answer.status_code == 422, body
        assert "'text'" in answer.json()["message"]


def test_a_text_over_2000_characters_is_422(stub: RunningServer, new_account: NewAccount) -> None:  # OBL-CS-1
    # OBL-CS-1
    session = new_account()
    assert _send(session, stub.url, {"text": "字" * 2000}).status_code == 201
    answer = _send(session, stub.url, {"text": "字" * 2001})
    assert answer.status_code == 422
    assert "'text'" in answer.json()["message"] and "2000" in answer.json()["message"]


def test_an_unknown_field_is_422(stub: RunningServer, new_account: NewAccount) -> None:  # OBL-CS-1
    # OBL-CS-1 (nothing else is collected)
    session = new_account()
    answer = _send(session, stub.url, {"text": "你好", "id_number": "11010519491231002X"})
    assert answer.status_code == 422
    assert answer.json()["error"] == "invalid_request"
    assert "11010519491231002X" not in answer.text


def test_sending_needs_a_session(stub: RunningServer, client: requests.Session) -> None:  # OBL-CS-1, OBL-SEC-2
    # OBL-CS-1, OBL-SEC-2
    answer = _send(client, stub.url, {"text": "你好"})
    assert answer.status_code == 401
    assert answer.json()["error"] == "not_logged_in"


def test_listing_needs_a_session(stub: RunningServer, client: requests.Session) -> None:  # OBL-CS-1, OBL-SEC-2
    # OBL-CS-1, OBL-SEC-2
    answer = client.get(f"{stub.url}/v1/me/support-messages", timeout=10)
    assert answer.status_code == 401


def test_sending_needs_an_idempotency_key(stub: RunningServer, new_account: NewAccount) -> None:  # OBL-CS-1
    # OBL-CS-1
    session = new_account()
    answer = session.post(f"{stub.url}/v1/me/support-messages", json={"text": "你好"}, timeout=10)
    assert answer.status_code == 400
    assert answer.json()["error"] == "idempotency_key_required"


def test_a_retry_is_replayed_and_stores_one_message(stub: RunningServer, new_account: NewAccount) -> None:  # OBL-CS-1
    # OBL-CS-1
    session = new_account()
    key = str(uuid.uuid4())
    first = _send(session, stub.url, {"text": "重试的留言"}, key)
    again = _send(session, stub.url, {"text": "重试的留言"}, key)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert len(_messages(session, stub.url)) == 1


def test_openapi_documents_the_service_endpoints(stub: RunningServer, client: requests.Session) -> None:  # OBL-CS-1, OBL-MAIL-1, OBL-PHONE-1, OBL-BR-1, OBL-END-1
    # OBL-CS-1, OBL-MAIL-1, OBL-PHONE-1, OBL-BR-1, OBL-END-1: the protocol an app's backend implements
    paths = client.get(f"{stub.url}/openapi.json", timeout=10).json()["paths"]
    assert set(paths["/v1/me/support-messages"]) == {"get", "post"}
    assert set(paths["/v1/me/notification-preference"]) == {"get", "put"}
    assert set(paths["/v1/me/invitations"]) == {"get", "post"}
    assert set(paths["/v1/notices"]) == {"get"}
    assert set(paths["/v1/notices/{notice_id}/acknowledgements"]) == {"post"}
    invite = paths["/v1/me/invitations"]["post"]
    body = invite["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["template_id", "phone", "authorisation_attested"]
    assert {"404", "422"} <= set(invite["responses"])
    keys = [p for p in invite["parameters"] if p["name"] == "Idempotency-Key"]
    assert keys and keys[0]["required"] is True
