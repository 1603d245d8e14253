"""POST /v1/consent-records with schema version 2: fields, guardian rule, proof signature, and
the public key pinned per subject_id (docs/protocol.md, "Consent record", "Proof")."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import requests

from server_stub.runner import RunningServer
from server_stub.testing import SigningDevice

MakeDevice = Callable[..., Any]
MakeRecord = Callable[..., dict[str, Any]]


def _post(client: requests.Session, url: str, record: dict[str, Any], key: str | None = None) -> requests.Response:
    return client.post(
        f"{url}/v1/consent-records",
        json=record,
        headers={"Idempotency-Key": key or record["record_id"]},
        timeout=10,
    )


def _listed(client: requests.Session, url: str, subject_id: str) -> list[dict[str, Any]]:
    answer = client.get(f"{url}/v1/consent-records", params={"subject_id": subject_id}, timeout=10)
    return list(answer.json()["records"])


def test_signed_v2_record_is_stored_as_received(
    stub: RunningServer, client: requests.Session, make_device: MakeDevice
) -> None:
    record = make_device().record()
    answer = _post(client, stub.url, record)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert {k: v for k, v in body.items() if k != "received_at"} == record
    assert _listed(client, stub.url, record["subject_id"]) == [body]


def test_v2_replay_answers_200_with_the_same_body(
    stub: RunningServer, client: requests.Session, make_device: MakeDevice
) -> None:
    record = make_device().record()
    first = _post(client, stub.url, record)
    again = _post(client, stub.url, record)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()


def test_v1_records_are_still_accepted(
    stub: RunningServer, client: requests.Session, make_record: MakeRecord
) -> None:
    record = make_record()
    assert _post(client, stub.url, record).status_code == 201


def test_schema_version_must_be_1_or_2(
    stub: RunningServer, client: requests.Session, make_device: MakeDevice
) -> None:
    record = make_device().record(schema_version=3)
    answer = _post(client, stub.url, record)
    assert answer.status_code == 422
    assert answer.json()["error"] == "invalid_consent_record"
    assert "field 'schema_version' must be 1 or 2" in answer.json()["message"]


def test_v2_requires_its_extra_fields(
    stub: RunningServer, client: requests.Session, make_device: MakeDevice
) -> None:
    record = make_device().record()
    for name in ("scope", "consent_type", "pi_categories", "recipients", "retention", "withdrawal", "proof"):
        del record[name]
    answer = _post(client, stub.url, record)
    assert answer.status_code == 422
    message = answer.json()["message"]
    for name in ("scope", "consent_type", "pi_categories", "recipients", "retention"):
        assert f"field '{name}' is required" in message
    assert "and 2 more" in message  # withdrawal and proof, past the 5 errors shown


def test_v2_controller_is_an_object_with_name_and_contact(
    stub: RunningServer, client: requests.Session, make_device: MakeDevice
) -> None:
    record = make_device().record(controller="示例电子签 (Demo e-Sign Ltd.)")
    answer = _post(client, stub.url, record)
    assert answer.status_code == 422
    assert "field 'controller' must be an object" in answer.json()["message"]


def test_v2_purposes_may_be_empty(
    stub: RunningServer, client: requests.Session, make_device: MakeDevice
) -> None:
    record = make_device().record(
        scope="item:face_video", consent_type="separate", purposes=[], pi_categories=["face_video"]
    )
    assert _post(client, stub.url, record).status_code == 201


def test_v2_scope_and_consent_type_are_checked(
    stub: RunningServer, client: requests.Session, make_device: MakeDevice
) -> None:
    device = make_device()
    bad_scope = _post(client, stub.url, device.record(scope="everything"))
    bad_type = _post(client, stub.url, device.record(consent_type="implied"))
    assert (bad_scope.status_code, bad_type.status_code) == (422, 422)
    assert "field 'scope' must be policy, guardian, minors_notice" in bad_scope.json()["message"]
    assert "field 'consent_type' must be" in bad_type.json()["message"]


def test_guardian_is_required_for_guardian_consent(
    stub: RunningServer, client: requests.Session, make_device: MakeDevice
) -> None:
    device = make_device()
    answer = _post(client, stub.url, device.record(scope="guardian", consent_type="guardian"))
    assert answer.status_code == 422
    assert answer.json() == {
        "error": "invalid_consent_record",
        "message": "invalid consent record: field 'guardian' is required for a granted guardian consent",
    }
    guardian = {"relationship": "parent", "id_digest": "cd" * 32}
    ok = _post(client, stub.url, device.record(scope="guardian", consent_type="guardian", guardian=guardian))
    assert ok.status_code == 201, ok.text


def test_guardian_must_be_null_for_other_consent_types(
    stub: RunningServer, client: requests.Session, make_device: MakeDevice
) -> None:
    guardian = {"relationship": "parent", "id_digest": "cd" * 32}
    answer = _post(client, stub.url, make_device().record(guardian=guardian))
    assert answer.status_code == 422
    assert "field 'guardian' must be null or absent" in answer.json()["message"]


def test_guardian_fields_are_checked(
    stub: RunningServer, client: requests.Session, make_device: MakeDevice
) -> None:
    guardian = {"relationship": "uncle", "id_digest": "110101201001011234"}
    record = make_device().record(scope="guardian", consent_type="guardian", guardian=guardian)
    answer = _post(client, stub.url, record)
    assert answer.status_code == 422
    message = answer.json()["message"]
    assert "field 'guardian.relationship'" in message and "field 'guardian.id_digest'" in message
    assert "110101201001011234" not in answer.text


def test_a_record_changed_after_signing_is_422_without_values(
    stub: RunningServer, client: requests.Session, make_device: MakeDevice
) -> None:
    secret = "zhang.san@example.cn"
    record = make_device().record()
    record["withdrawal"] = f"写信给 {secret}"  # changed after the device signed it
    answer = _post(client, stub.url, record)
    assert answer.status_code == 422
    body = answer.json()
    assert set(body) == {"error", "message"}
    assert body["error"] == "invalid_consent_record"
    assert "field 'proof'" in body["message"] and "signature does not verify" in body["message"]
    assert secret not in answer.text
    assert record["proof"]["signature"] not in answer.text
    assert _listed(client, stub.url, record["subject_id"]) == []


def test_a_malformed_proof_is_422_naming_the_problem(
    stub: RunningServer, client: requests.Session, make_device: MakeDevice
) -> None:
    device = make_device()
    record = device.record()
    record["proof"] = {**record["proof"], "public_key": record["proof"]["public_key"] + "AA"}
    answer = _post(client, stub.url, record)
    assert answer.status_code == 422
    assert "proof.public_key is not a base64url Ed25519 public key" in answer.json()["message"]
    zero_seq = device.unsigned()
    zero_seq["proof"] = {**record["proof"], "seq": 0}
    answer = _post(client, stub.url, zero_seq)
    assert answer.status_code == 422
    assert "field 'proof.seq' must be at least 1" in answer.json()["message"]


def test_a_rejected_signature_does_not_use_up_the_key(
    stub: RunningServer, client: requests.Session, make_device: MakeDevice
) -> None:
    record = make_device().record()
    tampered = {**record, "decision": "withdrawn"}
    assert _post(client, stub.url, tampered).status_code == 422
    assert _post(client, stub.url, record).status_code == 201  # same Idempotency-Key


def test_the_first_key_of_a_subject_is_pinned(
    stub: RunningServer, client: requests.Session, make_device: MakeDevice
) -> None:
    device = make_device()
    assert _post(client, stub.url, device.record()).status_code == 201
    assert _post(client, stub.url, device.record(decision="withdrawn")).status_code == 201
    impostor = make_device(subject_id=device.subject_id)  # another key, same subject_id
    forged = impostor.record(decision="granted")
    answer = _post(client, stub.url, forged)
    assert answer.status_code == 409
    assert answer.json()["error"] == "subject_key_mismatch"
    assert impostor.public_key not in answer.text
    assert [r["decision"] for r in _listed(client, stub.url, device.subject_id)] == ["granted", "withdrawn"]


def test_key_mismatch_is_not_stored_and_its_idempotency_key_stays_free(
    stub: RunningServer, client: requests.Session, make_device: MakeDevice
) -> None:
    device = make_device()
    assert _post(client, stub.url, device.record()).status_code == 201
    forged = make_device(subject_id=device.subject_id).record()
    assert _post(client, stub.url, forged).status_code == 409
    # The key was not stored with an answer: the same key now carries a valid record.
    valid = device.record(record_id=forged["record_id"])
    assert _post(client, stub.url, valid).status_code == 201


def test_different_subjects_may_use_different_keys(
    stub: RunningServer, client: requests.Session, make_device: MakeDevice
) -> None:
    for _ in range(2):
        assert _post(client, stub.url, make_device().record()).status_code == 201


def test_same_record_id_under_a_new_key_is_still_consent_record_exists(
    stub: RunningServer, client: requests.Session, make_device: MakeDevice
) -> None:
    record = make_device().record()
    _post(client, stub.url, record)
    answer = _post(client, stub.url, record, key=str(uuid.uuid4()))
    assert answer.status_code == 409
    assert answer.json()["error"] == "consent_record_exists"



def test_a_record_dated_ahead_of_the_server_clock_is_refused(client, stub) -> None:  # OBL-DSR-4
    """A device clock running ahead would make its decisions outlive later ones elsewhere."""
    record = SigningDevice().record(created_at="2099-01-01T00:00:00Z")
    answer = _post(client, stub.url, record)
    assert answer.status_code == 422
    assert "ahead of the server's clock" in answer.json()["message"]


def test_an_unsigned_record_for_a_signing_subject_is_refused(client, stub) -> None:  # OBL-SEC-2
    """Once a subject signs, nobody can add unsigned records in its name."""
    device = SigningDevice()
    assert _post(client, stub.url, device.record()).status_code == 201
    unsigned = device.unsigned(decision="withdrawn")
    unsigned["proof"] = {"type": "Ed25519-JCS-2026", "public_key": None, "seq": 2,
                         "prev_hash": "0" * 64, "signature": None}
    answer = _post(client, stub.url, unsigned)
    assert answer.status_code == 409 and answer.json()["error"] == "subject_key_mismatch"


def test_an_unsigned_record_of_a_device_without_keystore_is_stored(client, stub) -> None:
    """A device with no keystore still sends every decision; it is stored, flagged by its
    null signature, and never trusted to grant on another device."""
    unsigned = SigningDevice().unsigned(decision="withdrawn")
    unsigned["proof"] = {"type": "Ed25519-JCS-2026", "public_key": None, "seq": 1,
                         "prev_hash": "0" * 64, "signature": None}
    assert _post(client, stub.url, unsigned).status_code == 201
