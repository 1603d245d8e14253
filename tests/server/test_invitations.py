"""/v1/me/invitations: inviting a counter-signer by phone number (OBL-PHONE-1; docs/protocol.md,
"Customer service, notifications, invitations, notices, data region")."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable
from typing import Any

import requests

from server_stub.runner import RunningServer
from server_stub.services_store import ServicesStore

NewAccount = Callable[[], requests.Session]
PHONE = "13800138000"
ATTESTATION = "v1: 我已取得对方同意，向其提供手机号码用于邀请签署"


def _invite(session: requests.Session, url: str, key: str | None = None, **fields: Any) -> requests.Response:
    body = {"template_id": "loan", "phone": PHONE, "authorisation_attested": True, **fields}
    body = {k: v for k, v in body.items() if v is not ...}
    return session.post(f"{url}/v1/me/invitations", json=body,
                        headers={"Idempotency-Key": key or str(uuid.uuid4())}, timeout=10)


def _list(session: requests.Session, url: str) -> list[dict[str, Any]]:
    answer = session.get(f"{url}/v1/me/invitations", timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Cache-Control"] == "no-store"
    return list(answer.json()["invitations"])


def _stored_rows(stub: RunningServer) -> int:
    """Every invitation row in the server's database (of any account)."""
    ServicesStore(stub.data_dir)  # the tables exist from the first use on
    with sqlite3.connect(stub.data_dir / "stub.db") as conn:
        return int(conn.execute("SELECT COUNT(*) FROM invitations").fetchone()[0])


def test_an_invitation_is_stored_with_attested_at_and_a_masked_phone(
    stub: RunningServer, new_account: NewAccount
) -> None:  # OBL-PHONE-1
    # OBL-PHONE-1
    answer = _invite(new_account(), stub.url)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert set(body) == {"invitation_id", "template_id", "phone_masked", "attested_at", "attestation"}
    assert body["template_id"] == "loan"
    assert body["phone_masked"] == "138****8000"
    assert body["attested_at"].endswith("Z")
    assert body["attestation"] == ATTESTATION
    assert PHONE not in answer.text


def test_the_phone_is_stored_as_e164(stub: RunningServer, new_account: NewAccount) -> None:  # OBL-PHONE-1
    # OBL-PHONE-1
    assert _invite(new_account(), stub.url, phone="+86 138 0013 8000").status_code == 201
    with sqlite3.connect(stub.data_dir / "stub.db") as conn:
        assert conn.execute("SELECT phone FROM invitations").fetchall() == [("+8613800138000",)]


def test_the_list_shows_only_masked_numbers(stub: RunningServer, new_account: NewAccount) -> None:  # OBL-PHONE-1
    # OBL-PHONE-1
    session = new_account()
    sent = _invite(session, stub.url).json()
    answer = session.get(f"{stub.url}/v1/me/invitations", timeout=10)
    assert answer.json() == {"invitations": [sent]}
    assert PHONE not in answer.text


def test_without_attestation_it_is_refused_and_nothing_is_stored(
    stub: RunningServer, new_account: NewAccount
) -> None:  # OBL-PHONE-1
    # OBL-PHONE-1
    session = new_account()
    for attested in (False, ..., None, "true", 1):
        answer = _invite(session, stub.url, authorisation_attested=attested)
        assert answer.status_code == 422, attested
        assert answer.json()["error"] == "attestation_required"
        assert "authorisation_attested" in answer.json()["message"]
    assert _stored_rows(stub) == 0
    assert _list(session, stub.url) == []


def test_an_unknown_template_is_404(stub: RunningServer, new_account: NewAccount) -> None:  # OBL-PHONE-1
    # OBL-PHONE-1
    answer = _invite(new_account(), stub.url, template_id="mortgage")
    assert answer.status_code == 404
    assert answer.json()["error"] == "template_not_found"
    assert _stored_rows(stub) == 0


def test_an_invalid_phone_is_422_naming_the_field(stub: RunningServer, new_account: NewAccount) -> None:  # OBL-PHONE-1
    # OBL-PHONE-1
    session = new_account()
    for bad in ("12345", "010-12345678", "someone@example.com"):
        answer = _invite(session, stub.url, phone=bad)
        assert answer.status_code == 422, bad
        assert answer.json()["error"] == "invalid_request"
        assert "'phone'" in answer.json()["message"]
        assert bad not in answer.text
    assert _stored_rows(stub) == 0


def test_invitations_are_the_accounts_own(stub: RunningServer, new_account: NewAccount) -> None:  # OBL-PHONE-1, OBL-SEC-2
    # OBL-PHONE-1, OBL-SEC-2
    owner, other = new_account(), new_account()
    assert _invite(owner, stub.url).status_code == 201
    assert _list(other, stub.url) == []


def test_inviting_needs_a_session(stub: RunningServer, client: requests.Session) -> None:  # OBL-PHONE-1, OBL-SEC-2
    # OBL-PHONE-1, OBL-SEC-2
    assert _invite(client, stub.url).status_code == 401
    assert client.get(f"{stub.url}/v1/me/invitations", timeout=10).status_code == 401


def test_a_retry_is_replayed_and_stores_one_invitation(stub: RunningServer, new_account: NewAccount) -> None:  # OBL-PHONE-1
    # OBL-PHONE-1
    session = new_account()
    key = str(uuid.uuid4())
    first, again = _invite(session, stub.url, key), _invite(session, stub.url, key)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert _stored_rows(stub) == 1
