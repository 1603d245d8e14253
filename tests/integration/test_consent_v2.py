"""ApiClient against the real stub over HTTPS: signed version 2 records, linking install ids to
an account, pulling the account's records on another device (cross-device withdrawal), and the
lists of what the server holds and gave away."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sdk import SdkConfig
from sdk.consent.proof import verify_record
from sdk.errors import NotLoggedIn, ServerError
from sdk.transport import ApiClient
from server_stub.store import Store
from server_stub.testing import SigningDevice

PASSWORD = "Xk9#mQ2vLp8w-river"

Devices = Callable[[], ApiClient]


@pytest.fixture
def new_client(stub: Any, make_config: Callable[..., SdkConfig]) -> Iterator[Devices]:
    """``new_client()``: an ApiClient of its own (own cookie jar), like another device."""
    clients: list[ApiClient] = []

    def make() -> ApiClient:
        client = ApiClient(make_config(stub))
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def _account(client: ApiClient, identifier: str | None = None) -> str:
    """Log *client* in to the account *identifier*, or to a new account when None; return
    the identifier."""
    if identifier is None:
        identifier = f"user-{uuid.uuid4().hex[:8]}@example.com"
        client.create_account(identifier, PASSWORD)
    client.create_session(identifier, PASSWORD)
    return identifier


def test_a_signed_v2_record_round_trips(new_client: Devices) -> None:
    client = new_client()
    device = SigningDevice()
    record = device.record()
    stored = client.post_consent_record(record)
    assert {k: v for k, v in stored.items() if k != "received_at"} == record
    assert client.post_consent_record(record) == stored  # a retry is replayed
    [listed] = client.list_consent_records(device.subject_id)
    assert verify_record({k: v for k, v in listed.items() if k != "received_at"}) == []


def test_a_tampered_record_is_refused(new_client: Devices) -> None:
    record = SigningDevice().record()
    record["decision"] = "withdrawn"
    with pytest.raises(ServerError) as caught:
        new_client().post_consent_record(record)
    assert (caught.value.status, caught.value.code) == (422, "invalid_consent_record")


def test_another_key_for_a_known_subject_is_refused(new_client: Devices) -> None:
    client = new_client()
    device = SigningDevice()
    client.post_consent_record(device.record())
    with pytest.raises(ServerError) as caught:
        client.post_consent_record(SigningDevice(subject_id=device.subject_id).record())
    assert (caught.value.status, caught.value.code) == (409, "subject_key_mismatch")


def test_withdrawal_on_one_device_reaches_the_other(new_client: Devices) -> None:  # OBL-DSR-4
    phone_api, tablet_api = new_client(), new_client()
    phone, tablet = SigningDevice(), SigningDevice()
    identifier = _account(phone_api)
    _account(tablet_api, identifier)
    phone_api.link_subject(phone.subject_id)
    tablet_api.link_subject(tablet.subject_id)

    grant = phone_api.post_consent_record(phone.record())
    records, cursor = tablet_api.my_consent_records()
    assert [r["record_id"] for r in records] == [grant["record_id"]]
    assert isinstance(cursor, int) and cursor == records[-1]["cursor"]

    withdrawal = phone.record(decision="withdrawn")
    phone_api.post_consent_record(withdrawal)
    later, next_cursor = tablet_api.my_consent_records(after=cursor)
    assert [r["record_id"] for r in later] == [withdrawal["record_id"]]
    assert next_cursor is not None and next_cursor > cursor
    pulled = {k: v for k, v in later[0].items() if k not in ("received_at", "cursor")}
    assert pulled == withdrawal and verify_record(pulled) == []
    assert tablet_api.my_consent_records(after=next_cursor) == ([], next_cursor)


def test_link_subject_maps_the_errors(new_client: Devices) -> None:  # OBL-SEC-2
    alice, bob = new_client(), new_client()
    subject = str(uuid.uuid4())
    with pytest.raises(NotLoggedIn):
        alice.link_subject(subject)
    _account(alice)
    _account(bob)
    alice.link_subject(subject)
    alice.link_subject(subject)  # idempotent
    with pytest.raises(ServerError) as caught:
        bob.link_subject(subject)
    assert (caught.value.status, caught.value.code) == (409, "subject_linked_elsewhere")
    assert subject not in str(caught.value)
    with pytest.raises(ServerError) as caught:
        alice.link_subject("not-a-uuid")
    assert (caught.value.status, caught.value.code) == (422, "invalid_request")


def test_the_lists_of_what_the_server_holds_and_gave_away(stub: Any, new_client: Devices) -> None:  # OBL-DSR-1
    client = new_client()
    _account(client)
    device = SigningDevice()
    client.link_subject(device.subject_id)
    client.post_consent_record(device.record())
    items = {entry["item"]: entry for entry in client.my_personal_information()}
    assert items["login_account"]["count"] == 1
    assert items["password"]["held"] == "Argon2id hash only"
    assert items["consent_records"]["count"] == 1
    assert client.my_third_party_transfers() == []
    account_id = client.get_me()["account_id"]
    Store(Path(stub.data_dir)).record_transfer(
        account_id, "ca", ["real_name", "id_number"], "certificate", "HTTPS API", time="2026-12-01T08:00:00Z"
    )
    assert client.my_third_party_transfers() == [{
        "recipient": "ca", "items": ["real_name", "id_number"], "purpose": "certificate",
        "method": "HTTPS API", "time": "2026-12-01T08:00:00Z",
    }]


def test_the_me_calls_need_a_login(new_client: Devices) -> None:  # OBL-SEC-2
    client = new_client()
    for call in (client.my_consent_records, client.my_personal_information, client.my_third_party_transfers):
        with pytest.raises(NotLoggedIn):
            call()


def test_account_b_never_sees_account_a(stub: Any, new_client: Devices) -> None:  # OBL-SEC-2
    alice, bob = new_client(), new_client()
    _account(alice)
    _account(bob)
    device = SigningDevice()
    alice.link_subject(device.subject_id)
    alice.post_consent_record(device.record())
    alice.post_consent_record(device.record(decision="withdrawn"))
    Store(Path(stub.data_dir)).record_transfer(
        alice.get_me()["account_id"], "ca", ["real_name"], "certificate", "HTTPS API"
    )
    assert len(alice.my_consent_records()[0]) == 2
    assert bob.my_consent_records() == ([], None)
    assert bob.my_consent_records(after=0) == ([], 0)
    assert bob.my_third_party_transfers() == []
    bob_items = {entry["item"]: entry["count"] for entry in bob.my_personal_information()}
    assert bob_items["consent_records"] == 0 and bob_items["install_ids"] == 0
