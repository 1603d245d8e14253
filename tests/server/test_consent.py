"""POST/GET /v1/consent-records: validation, storage, Idempotency-Key semantics."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from server_stub.runner import RunningServer
from server_stub.testing import https_session

MakeRecord = Callable[..., dict[str, Any]]


def _post(client: requests.Session, url: str, record: Any, key: str | None) -> requests.Response:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post(f"{url}/v1/consent-records", json=record, headers=headers, timeout=10)


def test_post_stores_record_and_answers_201_with_received_at(
    stub: RunningServer, client: requests.Session, make_record: MakeRecord
) -> None:
    record = make_record()
    answer = _post(client, stub.url, record, record["record_id"])
    assert answer.status_code == 201
    body = answer.json()
    assert {k: v for k, v in body.items() if k != "received_at"} == record
    assert body["received_at"].endswith("Z")
    assert "Idempotent-Replayed" not in answer.headers


def test_replay_with_same_key_and_body_answers_200_with_same_body(
    stub: RunningServer, client: requests.Session, make_record: MakeRecord
) -> None:
    record = make_record()
    first = _post(client, stub.url, record, record["record_id"])
    again = _post(client, stub.url, record, record["record_id"])
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    listed = client.get(
        f"{stub.url}/v1/consent-records", params={"subject_id": record["subject_id"]}, timeout=10
    )
    assert len(listed.json()["records"]) == 1


def test_replay_with_keys_reordered_still_counts_as_same_body(
    stub: RunningServer, client: requests.Session, make_record: MakeRecord
) -> None:
    record = make_record()
    _post(client, stub.url, record, record["record_id"])
    reordered = json.dumps(dict(reversed(list(record.items()))), indent=2)
    again = client.post(
        f"{stub.url}/v1/consent-records",
        data=reordered.encode("utf-8"),
        headers={"Idempotency-Key": record["record_id"], "Content-Type": "application/json"},
        timeout=10,
    )
    assert again.status_code == 200


def test_same_key_with_different_body_is_409(
    stub: RunningServer, client: requests.Session, make_record: MakeRecord
) -> None:
    record = make_record()
    _post(client, stub.url, record, record["record_id"])
    answer = _post(client, stub.url, {**record, "decision": "withdrawn"}, record["record_id"])
    assert answer.status_code == 409
    assert answer.json()["error"] == "idempotency_key_reused"


def test_missing_idempotency_key_is_400(
    stub: RunningServer, client: requests.Session, make_record: MakeRecord
) -> None:
    answer = _post(client, stub.url, make_record(), key=None)
    assert answer.status_code == 400
    assert answer.json()["error"] == "idempotency_key_required"
    assert answer.json()["message"]


def test_missing_key_is_400_even_when_the_body_is_not_json(
    stub: RunningServer, client: requests.Session
) -> None:
    answer = client.post(f"{stub.url}/v1/consent-records", data=b"{not json", timeout=10)
    assert answer.status_code == 400
    assert answer.json()["error"] == "idempotency_key_required"


def test_invalid_record_is_422_naming_fields_without_echoing_values(
    stub: RunningServer, client: requests.Session, make_record: MakeRecord
) -> None:
    secret = "13800138000-zhang.san@example.cn"
    record = make_record(subject_id=secret, decision=f"maybe {secret}", purposes=[])
    answer = _post(client, stub.url, record, str(uuid.uuid4()))
    assert answer.status_code == 422
    body = answer.json()
    assert set(body) == {"error", "message"}
    assert body["error"] == "invalid_consent_record"
    for field in ("subject_id", "decision", "purposes"):
        assert field in body["message"]
    assert secret not in answer.text
    assert "13800138000" not in answer.text


def test_invalid_record_is_not_stored_and_its_key_stays_usable(
    stub: RunningServer, client: requests.Session, make_record: MakeRecord
) -> None:
    record = make_record()
    bad = _post(client, stub.url, {**record, "schema_version": 2}, record["record_id"])
    good = _post(client, stub.url, record, record["record_id"])
    assert (bad.status_code, good.status_code) == (422, 201)


def test_record_fields_are_checked_strictly(
    stub: RunningServer, client: requests.Session, make_record: MakeRecord
) -> None:
    wrong: list[dict[str, Any]] = [
        {"schema_version": True},
        {"schema_version": 1.0},
        {"schema_version": "1"},
        {"record_id": str(uuid.uuid1())},
        {"record_id": str(uuid.uuid4()).upper()},
        {"created_at": "2026-11-30 03:22:25"},
        {"created_at": "2026-11-30T11:22:25+08:00"},
        {"purposes": ["account", ""]},
        {"notice": {"policy_version": "2026.11", "language": "zh-CN"}},
    ]
    statuses = [_post(client, stub.url, make_record(**w), str(uuid.uuid4())).status_code for w in wrong]
    assert statuses == [422] * len(wrong)


def test_created_at_may_use_plus_00_00_and_fractions(
    stub: RunningServer, client: requests.Session, make_record: MakeRecord
) -> None:
    record = make_record(created_at="2026-11-30T03:22:25.123456+00:00")
    assert _post(client, stub.url, record, record["record_id"]).status_code == 201


def test_unknown_extra_fields_are_kept_as_received(
    stub: RunningServer, client: requests.Session, make_record: MakeRecord
) -> None:
    record = make_record(future_field={"nested": [1, 2]})
    _post(client, stub.url, record, record["record_id"])
    listed = client.get(
        f"{stub.url}/v1/consent-records", params={"subject_id": record["subject_id"]}, timeout=10
    )
    assert listed.json()["records"][0]["future_field"] == {"nested": [1, 2]}


def test_records_are_listed_per_subject_in_the_order_received(
    stub: RunningServer, client: requests.Session, make_record: MakeRecord
) -> None:
    subject = str(uuid.uuid4())
    decisions = ["granted", "withdrawn", "granted"]
    sent = [make_record(subject_id=subject, decision=d) for d in decisions]
    for record in sent:
        _post(client, stub.url, record, record["record_id"])
    other = make_record()
    _post(client, stub.url, other, other["record_id"])
    answer = client.get(f"{stub.url}/v1/consent-records", params={"subject_id": subject}, timeout=10)
    assert answer.status_code == 200
    records = answer.json()["records"]
    assert [r["record_id"] for r in records] == [r["record_id"] for r in sent]
    assert all("received_at" in r for r in records)


def test_unknown_subject_has_no_records(stub: RunningServer, client: requests.Session) -> None:
    answer = client.get(
        f"{stub.url}/v1/consent-records", params={"subject_id": str(uuid.uuid4())}, timeout=10
    )
    assert answer.json() == {"records": []}


def test_listing_needs_a_uuid4_subject_id(stub: RunningServer, client: requests.Session) -> None:
    answer = client.get(
        f"{stub.url}/v1/consent-records", params={"subject_id": "not-an-id"}, timeout=10
    )
    assert answer.status_code == 422
    assert answer.json()["error"] == "invalid_request"
    assert "not-an-id" not in answer.text


def test_same_record_id_under_a_new_key_is_409(
    stub: RunningServer, client: requests.Session, make_record: MakeRecord
) -> None:
    record = make_record()
    _post(client, stub.url, record, record["record_id"])
    answer = _post(client, stub.url, record, str(uuid.uuid4()))
    assert answer.status_code == 409
    assert answer.json()["error"] == "consent_record_exists"


def test_concurrent_retries_store_one_record(stub: RunningServer, make_record: MakeRecord) -> None:
    record = make_record()

    def send(_: int) -> int:
        with https_session(stub) as session:
            return _post(session, stub.url, record, record["record_id"]).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(pool.map(send, range(8)))
    assert statuses == [200] * 7 + [201]


def test_oversized_body_is_413(stub: RunningServer, client: requests.Session, make_record: MakeRecord) -> None:
    record = make_record(padding="x" * (70 * 1024))
    answer = _post(client, stub.url, record, record["record_id"])
    assert answer.status_code == 413
    assert answer.json()["error"] == "body_too_large"
