"""Hostile or malformed JSON bodies get a 422 with an accurate message, never a 500 or a
traceback in the server's log."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests

from server_stub.errors import MAX_JSON_DEPTH
from server_stub.runner import RunningServer

CONSENT = "/v1/consent-records"


def _post(stub: RunningServer, client: requests.Session, body: bytes | str, path: str = CONSENT):
    return client.post(
        f"{stub.url}{path}", data=body, timeout=10,
        headers={"Idempotency-Key": str(uuid.uuid4()), "Content-Type": "application/json"},
    )


def _nested(levels: int) -> str:
    return '{"x": ' + "[" * levels + "]" * levels + "}"


def test_deeply_nested_body_is_422_invalid_consent_record(stub, client) -> None:
    answer = _post(stub, client, _nested(5000))
    assert answer.status_code == 422
    assert answer.json()["error"] == "invalid_consent_record"
    assert f"more than {MAX_JSON_DEPTH} levels" in answer.json()["message"]


def test_deeply_nested_body_leaves_no_traceback_in_the_log(stub, client, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    _post(stub, client, _nested(5000))
    assert "Traceback" not in caplog.text and "RecursionError" not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_nan_in_the_body_is_named_as_nan(stub, client) -> None:
    answer = _post(stub, client, '{"x": NaN}')
    assert answer.status_code == 422
    assert "NaN" in answer.json()["message"] and "UTF-8" not in answer.json()["message"]


def test_huge_integer_in_the_body_is_named_as_too_many_digits(stub, client) -> None:
    answer = _post(stub, client, '{"x": ' + "9" * 5000 + "}")
    assert answer.status_code == 422
    assert answer.json()["message"].startswith("a number in the body has more than ")
    assert answer.json()["message"].endswith(" digits")


def test_float_that_overflows_is_named_as_too_large(stub, client) -> None:
    answer = _post(stub, client, '{"x": 1e999}')
    assert answer.status_code == 422
    assert "too large" in answer.json()["message"]


def test_invalid_json_names_the_place(stub, client) -> None:
    answer = _post(stub, client, '{"x": }')
    assert answer.status_code == 422
    assert answer.json()["message"] == (
        "the body is not valid JSON (Expecting value at line 1, column 7)"
    )


def test_json_that_is_not_an_object_says_what_it_is(stub, client) -> None:
    answer = _post(stub, client, "[1, 2]")
    assert answer.json()["message"] == "the body must be a JSON object, got an array"


def test_body_that_is_not_utf8_says_so(stub, client) -> None:
    answer = _post(stub, client, b'{"x": "\xff"}')
    assert answer.status_code == 422
    assert "not UTF-8" in answer.json()["message"]


def test_record_with_moderately_nested_extra_field_is_stored(
    stub, client, make_record: Callable[..., dict[str, Any]]
) -> None:
    record = make_record(extension=json.loads(_nested(MAX_JSON_DEPTH - 2)))
    answer = _post(stub, client, json.dumps(record))
    assert answer.status_code == 201, answer.text


def test_deep_nesting_on_another_post_endpoint_is_422_not_500(stub, client, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    answer = _post(stub, client, _nested(5000), path="/v1/accounts")
    assert answer.status_code == 422
    assert answer.json()["error"] == "invalid_request"
    assert "Traceback" not in caplog.text


@pytest.mark.parametrize("body", ['{"x": NaN}', _nested(5000), '{"x": ' + "9" * 5000 + "}"])
def test_bad_body_messages_quote_nothing_from_the_body(stub, client, body) -> None:
    message = _post(stub, client, body).json()["message"]
    assert "[[" not in message and "999" not in message
