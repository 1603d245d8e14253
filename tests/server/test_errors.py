"""Every error answers {"error": code, "message": text}, framework errors included."""

from __future__ import annotations

import logging
import sqlite3
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests

from server_stub.runner import RunningServer


def test_unknown_path_is_404_in_the_error_shape(stub: RunningServer, client: requests.Session) -> None:
    answer = client.get(f"{stub.url}/v1/nothing-here", timeout=10)
    assert answer.status_code == 404
    assert answer.json() == {"error": "not_found", "message": answer.json()["message"]}


def test_wrong_method_is_405_in_the_error_shape(stub: RunningServer, client: requests.Session) -> None:
    answer = client.delete(f"{stub.url}/v1/health", timeout=10)
    assert answer.status_code == 405
    assert answer.json()["error"] == "method_not_allowed"
    assert set(answer.json()) == {"error", "message"}


def test_missing_query_parameter_is_422_in_the_error_shape(
    stub: RunningServer, client: requests.Session
) -> None:
    answer = client.get(f"{stub.url}/v1/consent-records", timeout=10)
    assert answer.status_code == 422
    assert answer.json() == {
        "error": "invalid_request",
        "message": "query parameter 'subject_id' is required",
    }


def test_internal_error_is_500_in_the_error_shape_without_details(
    stub: RunningServer, client: requests.Session
) -> None:
    with sqlite3.connect(stub.data_dir / "stub.db") as db:  # break the store under the server
        db.execute("DROP TABLE consent_records")
    answer = client.get(
        f"{stub.url}/v1/consent-records", params={"subject_id": str(uuid.uuid4())}, timeout=10
    )
    assert answer.status_code == 500
    assert answer.json()["error"] == "internal_error"
    assert "Traceback" not in answer.text and "sqlite" not in answer.text.lower()


def test_logs_never_contain_request_bodies(
    stub: RunningServer,
    client: requests.Session,
    make_record: Callable[..., dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "secret-4f1d-zhang.san@example.cn"
    good = make_record(controller=secret)
    bad = make_record(subject_id=secret)
    for record in (good, bad, good):
        client.post(f"{stub.url}/v1/consent-records", json=record,
                    headers={"Idempotency-Key": good["record_id"]}, timeout=10)
    assert secret not in caplog.text
