"""/v1/me/notification-preference: the notification channel (OBL-MAIL-1; docs/protocol.md,
"Customer service, notifications, invitations, notices, data region")."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import requests

from server_stub.runner import RunningServer
from server_stub.testing import https_session

NewAccount = Callable[[], requests.Session]
PATH = "/v1/me/notification-preference"
EMAIL = "notify.me@example.com"


def _get(session: requests.Session, url: str) -> requests.Response:
    return session.get(f"{url}{PATH}", timeout=10)


def _put(session: requests.Session, url: str, body: Any) -> requests.Response:
    return session.put(f"{url}{PATH}", json=body, timeout=10)


def test_the_default_channel_is_sms_without_an_email(stub: RunningServer, new_account: NewAccount) -> None:  # OBL-MAIL-1
    # OBL-MAIL-1
    answer = _get(new_account(), stub.url)
    assert answer.status_code == 200
    assert answer.json() == {"channel": "sms", "email": None}
    assert answer.headers["Cache-Control"] == "no-store"


def test_the_email_channel_stores_the_email(stub: RunningServer, new_account: NewAccount) -> None:  # OBL-MAIL-1
    # OBL-MAIL-1
    session = new_account()
    answer = _put(session, stub.url, {"channel": "email", "email": "Notify.Me@Example.com"})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"channel": "email", "email": EMAIL}
    assert _get(session, stub.url).json() == {"channel": "email", "email": EMAIL}


def test_the_email_channel_without_an_email_is_422_email_required(
    stub: RunningServer, new_account: NewAccount
) -> None:  # OBL-MAIL-1
    # OBL-MAIL-1
    session = new_account()
    for body in ({"channel": "email"}, {"channel": "email", "email": None}, {"channel": "email", "email": ""}):
        answer = _put(session, stub.url, body)
        assert answer.status_code == 422, body
        assert answer.json()["error"] == "email_required"
    assert _get(session, stub.url).json() == {"channel": "sms", "email": None}


def test_an_invalid_email_is_422_naming_the_field(stub: RunningServer, new_account: NewAccount) -> None:  # OBL-MAIL-1
    # OBL-MAIL-1
    session = new_account()
    for bad in ("no-at-sign", "13800138000", "a@b@c"):
        answer = _put(session, stub.url, {"channel": "email", "email": bad})
        assert answer.status_code == 422, bad
        assert answer.json()["error"] == "invalid_request"
        assert "'email'" in answer.json()["message"]
        assert bad not in answer.text


def test_an_unknown_channel_is_422(stub: RunningServer, new_account: NewAccount) -> None:  # OBL-MAIL-1
    # OBL-MAIL-1
    answer = _put(new_account(), stub.url, {"channel": "wechat"})
    assert answer.status_code == 422
    assert "'channel'" in answer.json()["message"]


def test_switching_back_to_sms_deletes_the_email(stub: RunningServer, new_account: NewAccount) -> None:  # OBL-MAIL-1
    # OBL-MAIL-1
    session = new_account()
    assert _put(session, stub.url, {"channel": "email", "email": EMAIL}).status_code == 200
    answer = _put(session, stub.url, {"channel": "sms"})
    assert answer.status_code == 200
    assert answer.json() == {"channel": "sms", "email": None}
    assert _get(session, stub.url).json() == {"channel": "sms", "email": None}


def test_the_preference_is_the_accounts_own(stub: RunningServer, new_account: NewAccount) -> None:  # OBL-MAIL-1, OBL-SEC-2
    # OBL-MAIL-1, OBL-SEC-2
    owner, other = new_account(), new_account()
    assert _put(owner, stub.url, {"channel": "email", "email": EMAIL}).status_code == 200
    assert _get(other, stub.url).json() == {"channel": "sms", "email": None}


def test_the_preference_needs_a_session(stub: RunningServer, client: requests.Session) -> None:  # OBL-MAIL-1, OBL-SEC-2
    # OBL-MAIL-1, OBL-SEC-2
    assert _get(client, stub.url).status_code == 401
    assert _put(client, stub.url, {"channel": "sms"}).status_code == 401


def test_every_other_flow_works_without_an_email(stub: RunningServer) -> None:  # OBL-MAIL-1
    # OBL-MAIL-1: a phone account that never gave an email uses customer service, invitations
    # and notices
    with https_session(stub) as session:
        password = "Xk9#mQ2vLp8w-river"
        account = {"identifier": "13900139000", "password": password}
        created = session.post(f"{stub.url}/v1/accounts", json=account,
                               headers={"Idempotency-Key": str(uuid.uuid4())}, timeout=10)
        assert created.status_code == 201, created.text
        assert session.post(f"{stub.url}/v1/sessions", json=account, timeout=10).status_code == 200
        key = {"Idempotency-Key": str(uuid.uuid4())}
        sent = session.post(f"{stub.url}/v1/me/support-messages", json={"text": "你好"},
                            headers=key, timeout=10)
        assert sent.status_code == 201, sent.text
        invited = session.post(
            f"{stub.url}/v1/me/invitations",
            json={"template_id": "loan", "phone": "13800138000", "authorisation_attested": True},
            headers={"Idempotency-Key": str(uuid.uuid4())}, timeout=10)
        assert invited.status_code == 201, invited.text
        assert session.get(f"{stub.url}/v1/notices", timeout=10).status_code == 200
        assert _get(session, stub.url).json() == {"channel": "sms", "email": None}


def test_sms_with_an_email_keeps_the_email_for_later(stub: RunningServer, new_account: NewAccount) -> None:  # OBL-MAIL-1
    # OBL-MAIL-1: only sms *without* an email deletes it
    session = new_account()
    answer = _put(session, stub.url, {"channel": "sms", "email": EMAIL})
    assert answer.status_code == 200
    assert _get(session, stub.url).json() == {"channel": "sms", "email": EMAIL}
