"""/v1/me/...: linking install ids to an account, the account's consent records (cross-device
sync), and the lists of what the server holds and gave away (docs/protocol.md, "Endpoints")."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from server_stub.runner import RunningServer
from server_stub.store import Store

MakeDevice = Callable[..., Any]
NewAccount = Callable[[], requests.Session]
MakeRecord = Callable[..., dict[str, Any]]

ME_GETS = ("/v1/me/consent-records", "/v1/me/personal-information", "/v1/me/third-party-transfers")


def _post(session: requests.Session, url: str, record: dict[str, Any]) -> requests.Response:
    return session.post(
        f"{url}/v1/consent-records", json=record,
        headers={"Idempotency-Key": record["record_id"]}, timeout=10,
    )


def _link(session: requests.Session, url: str, subject_id: str) -> requests.Response:
    return session.put(f"{url}/v1/me/subjects/{subject_id}", timeout=10)


def _records(session: requests.Session, url: str, after: Any = None) -> requests.Response:
    params = {"after": after} if after is not None else None
    return session.get(f"{url}/v1/me/consent-records", params=params, timeout=10)


def _items(session: requests.Session, url: str) -> dict[str, dict[str, Any]]:
    answer = session.get(f"{url}/v1/me/personal-information", timeout=10)
    assert answer.status_code == 200, answer.text
    return {entry["item"]: entry for entry in answer.json()["items"]}


def _transfers(session: requests.Session, url: str) -> list[dict[str, Any]]:
    answer = session.get(f"{url}/v1/me/third-party-transfers", timeout=10)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["transfers"])


# -- PUT /v1/me/subjects/{subject_id} --------------------------------------------------------


def test_link_needs_a_session(stub: RunningServer, client: requests.Session) -> None:  # OBL-SEC-2
    answer = _link(client, stub.url, str(uuid.uuid4()))
    assert answer.status_code == 401
    assert answer.json()["error"] == "not_logged_in"


def test_link_answers_204_and_is_idempotent(stub: RunningServer, new_account: NewAccount) -> None:  # OBL-DSR-4
    session = new_account()
    subject = str(uuid.uuid4())
    first, again = _link(session, stub.url, subject), _link(session, stub.url, subject)
    assert (first.status_code, again.status_code) == (204, 204)
    assert first.content == b""
    assert _items(session, stub.url)["install_ids"]["count"] == 1


def test_link_needs_a_uuid4(stub: RunningServer, new_account: NewAccount) -> None:
    session = new_account()
    for bad in ("not-an-id", str(uuid.uuid1()), str(uuid.uuid4()).upper()):
        answer = _link(session, stub.url, bad)
        assert answer.status_code == 422
        assert answer.json()["error"] == "invalid_request"
        assert bad not in answer.text


def test_a_subject_linked_to_one_account_cannot_be_linked_to_another(
    stub: RunningServer, new_account: NewAccount
) -> None:  # OBL-SEC-2
    alice, bob = new_account(), new_account()
    subject = str(uuid.uuid4())
    assert _link(alice, stub.url, subject).status_code == 204
    answer = _link(bob, stub.url, subject)
    assert answer.status_code == 409
    assert answer.json()["error"] == "subject_linked_elsewhere"
    assert subject not in answer.text


# -- linking by POST /v1/consent-records ----------------------------------------------------


def test_posting_a_record_with_a_session_links_its_subject(
    stub: RunningServer, new_account: NewAccount, make_device: MakeDevice
) -> None:  # OBL-DSR-4
    session = new_account()
    record = make_device().record()
    assert _post(session, stub.url, record).status_code == 201
    assert [r["record_id"] for r in _records(session, stub.url).json()["records"]] == [record["record_id"]]


def test_posting_without_a_session_links_nothing(
    stub: RunningServer, client: requests.Session, new_account: NewAccount, make_device: MakeDevice
) -> None:
    session = new_account()
    assert _post(client, stub.url, make_device().record()).status_code == 201
    assert _records(session, stub.url).json() == {"records": [], "cursor": None}


def test_a_record_of_a_subject_linked_elsewhere_is_stored_but_not_relinked(
    stub: RunningServer, new_account: NewAccount, make_device: MakeDevice
) -> None:  # OBL-DSR-4: a withdrawal is never refused because of account links
    alice, bob = new_account(), new_account()
    device = make_device()
    assert _post(alice, stub.url, device.record()).status_code == 201
    withdrawal = device.record(decision="withdrawn")
    assert _post(bob, stub.url, withdrawal).status_code == 201
    assert [r["decision"] for r in _records(alice, stub.url).json()["records"]] == ["granted", "withdrawn"]
    assert _records(bob, stub.url).json()["records"] == []


# -- GET /v1/me/consent-records ---------------------------------------------------------------


def test_records_of_every_linked_device_in_server_order_with_cursors(
    stub: RunningServer, client: requests.Session, new_account: NewAccount,
    make_device: MakeDevice, make_record: MakeRecord,
) -> None:  # OBL-DSR-4
    session = new_account()
    phone, tablet, stranger = make_device(), make_device(), make_device()
    for device in (phone, tablet):
        assert _link(session, stub.url, device.subject_id).status_code == 204
    legacy = make_record(subject_id=phone.subject_id)  # a v1 record sent before the update
    sent = [legacy, phone.record(), tablet.record(), stranger.record(), phone.record(decision="withdrawn")]
    for record in sent:
        assert _post(client, stub.url, record).status_code == 201  # no session: linked by PUT
    answer = _records(session, stub.url)
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    body = answer.json()
    mine = [sent[0], sent[1], sent[2], sent[4]]
    assert [r["record_id"] for r in body["records"]] == [r["record_id"] for r in mine]
    cursors = [r["cursor"] for r in body["records"]]
    assert all(isinstance(c, int) for c in cursors) and cursors == sorted(set(cursors))
    assert body["cursor"] == cursors[-1]
    for got, record in zip(body["records"], mine):
        assert {k: v for k, v in got.items() if k not in ("received_at", "cursor")} == record
        assert got["received_at"].endswith("Z")


def test_after_returns_only_later_records(
    stub: RunningServer, new_account: NewAccount, make_device: MakeDevice
) -> None:  # OBL-DSR-4
    session = new_account()
    device = make_device()
    _post(session, stub.url, device.record())
    first = _records(session, stub.url).json()
    _post(session, stub.url, device.record(decision="withdrawn"))
    later = _records(session, stub.url, after=first["cursor"]).json()
    assert [r["decision"] for r in later["records"]] == ["withdrawn"]
    assert later["cursor"] > first["cursor"]
    nothing_new = _records(session, stub.url, after=later["cursor"]).json()
    assert nothing_new == {"records": [], "cursor": later["cursor"]}


def test_cursor_is_null_without_records_and_after(stub: RunningServer, new_account: NewAccount) -> None:
    assert _records(new_account(), stub.url).json() == {"records": [], "cursor": None}


@pytest.mark.parametrize("after", ["-1", "abc", "1.5"])
def test_after_must_be_a_non_negative_integer(
    stub: RunningServer, new_account: NewAccount, after: str
) -> None:
    answer = _records(new_account(), stub.url, after=after)
    assert answer.status_code == 422
    assert answer.json()["error"] == "invalid_request"


# -- session required -------------------------------------------------------------------------


@pytest.mark.parametrize("path", ME_GETS)
def test_me_lists_need_a_session(stub: RunningServer, client: requests.Session, path: str) -> None:  # OBL-SEC-2
    answer = client.get(f"{stub.url}{path}", timeout=10)
    assert answer.status_code == 401
    assert answer.json()["error"] == "not_logged_in"


@pytest.mark.parametrize("path", ME_GETS)
def test_an_ended_session_is_401_and_clears_the_cookie(
    stub: RunningServer, new_account: NewAccount, path: str
) -> None:  # OBL-SEC-2
    session = new_account()
    token = session.cookies["sid"]
    session.delete(f"{stub.url}/v1/sessions/current", timeout=10)
    answer = session.get(f"{stub.url}{path}", headers={"Cookie": f"sid={token}"}, timeout=10)
    assert answer.status_code == 401
    assert "Max-Age=0" in answer.headers["Set-Cookie"]


# -- GET /v1/me/personal-information --------------------------------------------------------


def test_personal_information_lists_what_is_held_with_counts_and_no_values(
    stub: RunningServer, new_account: NewAccount, make_device: MakeDevice
) -> None:  # OBL-DSR-1
    session = new_account()
    device = make_device()
    _post(session, stub.url, device.record())
    _post(session, stub.url, device.record(decision="withdrawn"))
    answer = session.get(f"{stub.url}/v1/me/personal-information", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    items = {e["item"]: e for e in answer.json()["items"]}
    assert set(items) == {"login_account", "password", "cookies", "install_ids", "consent_records"}
    for entry in items.values():
        assert set(entry) == {"item", "purpose", "count", "last_at", "held"}
        assert isinstance(entry["held"], str) and entry["held"]
    assert items["login_account"]["purpose"] == "account"
    assert items["login_account"]["count"] == 1
    assert items["login_account"]["last_at"].endswith("Z")
    assert items["password"]["held"] == "Argon2id hash only"
    assert items["cookies"]["count"] == 1
    assert items["install_ids"]["count"] == 1
    assert items["consent_records"]["count"] == 2
    assert items["consent_records"]["last_at"].endswith("Z")
    assert "1 device public key(s) pinned" in items["consent_records"]["held"]
    assert "@example.com" not in answer.text
    assert device.subject_id not in answer.text and device.public_key not in answer.text


def test_personal_information_counts_every_session(
    stub: RunningServer, new_account: NewAccount
) -> None:  # OBL-DSR-1
    from server_stub.testing import https_session

    from .conftest import ACCOUNT_PASSWORD

    session = new_account()
    identifier = Store(Path(stub.data_dir)).account_by_id(session.account_id).identifier  # type: ignore[attr-defined,union-attr]
    with https_session(stub) as other_device:
        login = other_device.post(
            f"{stub.url}/v1/sessions",
            json={"identifier": identifier, "password": ACCOUNT_PASSWORD}, timeout=10,
        )
        assert login.status_code == 200
    assert _items(session, stub.url)["cookies"]["count"] == 2


# -- GET /v1/me/third-party-transfers -------------------------------------------------------


def test_transfers_are_empty_until_something_is_given_away(stub: RunningServer, new_account: NewAccount) -> None:  # OBL-DSR-1
    assert _transfers(new_account(), stub.url) == []


def test_transfers_list_what_record_transfer_logged(stub: RunningServer, new_account: NewAccount) -> None:  # OBL-DSR-1
    session = new_account()
    store = Store(Path(stub.data_dir))
    store.record_transfer(
        session.account_id, "realname_agency", ["real_name", "id_number", "face_video"],  # type: ignore[attr-defined]
        "realname_verification", "HTTPS API（TLS 1.2+），实名数据端到端加密", time="2026-11-30T03:22:25Z",
    )
    store.record_transfer(
        session.account_id, "ca", ("real_name", "id_number"), "certificate",  # type: ignore[attr-defined]
        "HTTPS API（TLS 1.2+），证书申请数据端到端加密",
    )
    transfers = _transfers(session, stub.url)
    assert transfers[0] == {
        "recipient": "realname_agency",
        "items": ["real_name", "id_number", "face_video"],
        "purpose": "realname_verification",
        "method": "HTTPS API（TLS 1.2+），实名数据端到端加密",
        "time": "2026-11-30T03:22:25Z",
    }
    assert transfers[1]["recipient"] == "ca" and transfers[1]["time"].endswith("Z")


def test_record_transfer_refuses_empty_ids(stub: RunningServer) -> None:
    store = Store(Path(stub.data_dir))
    with pytest.raises(ValueError):
        store.record_transfer(str(uuid.uuid4()), "ca", [], "certificate", "HTTPS")
    with pytest.raises(ValueError):
        store.record_transfer(str(uuid.uuid4()), "", ["real_name"], "certificate", "HTTPS")


# -- isolation between accounts ---------------------------------------------------------------


def test_account_b_never_sees_account_a_records_or_lists(
    stub: RunningServer, new_account: NewAccount, make_device: MakeDevice
) -> None:  # OBL-SEC-2
    alice, bob = new_account(), new_account()
    device = make_device()
    _post(alice, stub.url, device.record())
    _post(alice, stub.url, device.record(decision="withdrawn"))
    Store(Path(stub.data_dir)).record_transfer(
        alice.account_id, "ca", ["real_name"], "certificate", "HTTPS",  # type: ignore[attr-defined]
    )
    alice_records = _records(alice, stub.url).json()
    assert len(alice_records["records"]) == 2
    # Bob, even paging from before Alice's first record, gets nothing of hers.
    assert _records(bob, stub.url).json() == {"records": [], "cursor": None}
    assert _records(bob, stub.url, after=0).json() == {"records": [], "cursor": 0}
    assert _transfers(bob, stub.url) == []
    bob_items = _items(bob, stub.url)
    assert bob_items["consent_records"]["count"] == 0
    assert bob_items["install_ids"]["count"] == 0
    assert bob_items["cookies"]["count"] == 1
    # ... and cannot take her install id over.
    assert _link(bob, stub.url, device.subject_id).status_code == 409
    assert _records(bob, stub.url).json()["records"] == []
    assert len(_records(alice, stub.url).json()["records"]) == 2
