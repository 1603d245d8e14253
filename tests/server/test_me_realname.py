"""``GET /v1/me/personal-information`` and ``/v1/me/third-party-transfers`` list the real-name
data the stub holds (OBL-DSR-1; issue 6): the real-name status (the real name, only a
pseudonym of the ID number), the verifications, the sealed uploads, certificates and signing
records, as counts and descriptions, never a value. A real stub over real HTTPS serving the
demo policy; the real verification flow with the agency stand-in answering at once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from server_stub.realname_store import RealnameStore
from server_stub.runner import RunningServer

from .clocked import DAY, Clock, clocked_stub, create_upload, login_again, patch_upload
from .test_certificates import Holder
from .test_realname_verification import (
    AUTOMATIC,
    FACE,
    ID_NUMBER,
    NAME,
    PHONE,
    Person,
    choose,
)

CERTIFICATE = ("purpose:certificate", "item:certificate_info", "recipient:ca")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def stub(tmp_path: Path, clock: Clock) -> Iterator[RunningServer]:
    """This test's own stub, serving the demo policy, with the test's clock."""
    with clocked_stub(tmp_path / "stub-data", clock) as server:
        choose(server, delay_seconds=0)
        yield server


@pytest.fixture
def alice(stub: RunningServer, new_account: Callable[[], requests.Session]) -> Person:
    return Person(stub, new_account()).grant(*AUTOMATIC, *CERTIFICATE)


def _items(person: Person) -> dict[str, dict[str, Any]]:
    answer = person.session.get(f"{person.stub.url}/v1/me/personal-information", timeout=10)
    assert answer.status_code == 200, answer.text
    return {entry["item"]: entry for entry in answer.json()["items"]}


def _raw(person: Person) -> str:
    return person.session.get(f"{person.stub.url}/v1/me/personal-information", timeout=10).text


def _verified(person: Person) -> dict[str, Any]:
    body = person.body()
    assert person.wait(person.submit(body).json()["id"])["status"] == "verified"
    return body


def test_the_realname_status_is_listed_without_its_values(alice: Person) -> None:  # OBL-DSR-1
    _verified(alice)
    items = _items(alice)
    assert (items["real_name"]["purpose"], items["real_name"]["count"]) == ("realname_verification", 1)
    assert "pseudonym" in items["id_number"]["held"] and items["id_number"]["count"] == 1
    raw = _raw(alice)
    pseudonym = RealnameStore(alice.stub.data_dir).pseudonym(ID_NUMBER)
    for value in (NAME, ID_NUMBER, PHONE, pseudonym):
        assert value not in raw and value.encode("unicode_escape").decode() not in raw


def test_the_verifications_are_listed(alice: Person) -> None:  # OBL-DSR-1
    _verified(alice)
    entry = _items(alice)["realname_verifications"]
    assert (entry["purpose"], entry["count"]) == ("realname_verification", 1)
    assert entry["last_at"].endswith("Z")


def test_the_sealed_uploads_are_listed_per_item_with_their_retention(alice: Person) -> None:  # OBL-DSR-1
    alice.upload(FACE)
    alice.upload(FACE)
    entry = _items(alice)["face_video"]
    assert (entry["purpose"], entry["count"]) == ("realname_verification", 2)
    assert "ciphertext only" in entry["held"] and "P30D" in entry["held"]


def test_an_unfinished_upload_is_listed_as_held(alice: Person) -> None:  # OBL-DSR-1
    upload_id = create_upload(alice, FACE).json()["upload_id"]
    assert patch_upload(alice, upload_id, FACE, 0, 1).status_code == 204
    entry = _items(alice)["face_video"]
    assert entry["count"] == 1 and "1 unfinished" in entry["held"]


def test_an_upload_past_its_retention_leaves_the_list(alice: Person, clock: Clock) -> None:  # OBL-DSR-1, OBL-SEC-3
    alice.upload(FACE)
    clock.advance(30 * DAY + 1)
    login_again(alice.stub, alice.session)
    assert "face_video" not in _items(alice)


def test_certificates_and_signing_records_are_listed(alice: Person) -> None:  # OBL-DSR-1, OBL-CERT-1
    _verified(alice)
    holder = Holder(alice.stub, alice.session)
    assert holder.sign().status_code == 201
    items = _items(alice)
    assert (items["certificate_info"]["purpose"], items["certificate_info"]["count"]) == ("certificate", 1)
    assert "1 not revoked" in items["certificate_info"]["held"]
    assert (items["signing_record"]["purpose"], items["signing_record"]["count"]) == ("esign_service", 1)
    assert holder.answer["certificate"].splitlines()[1] not in _raw(alice)


def test_the_transfers_list_the_agency_then_the_ca(alice: Person) -> None:  # OBL-DSR-1
    _verified(alice)
    Holder(alice.stub, alice.session)
    answer = alice.session.get(f"{alice.stub.url}/v1/me/third-party-transfers", timeout=10).json()
    assert [(t["recipient"], t["items"], t["purpose"]) for t in answer["transfers"]] == [
        ("realname_agency", ["real_name", "id_number", "phone", "face_video"], "realname_verification"),
        ("ca", ["real_name", "id_number"], "certificate")]
