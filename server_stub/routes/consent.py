"""``/v1/consent-records``: store consent records (idempotently) and list them per subject."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from ..deps import IdempotencyKey, RawBody, StoreDep
from ..errors import ApiError, decode_json_object, describe_errors
from ..models import ConsentRecord, ConsentRecordList, ErrorBody, StoredConsentRecord, Uuid4Str
from ..store import ConsentRecordExists, IdempotencyKeyReused

router = APIRouter(tags=["consent"])

ENDPOINT = "POST /v1/consent-records"
_INVALID = "invalid_consent_record"


def _error(status: int, description: str) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorBody, "description": description}}


def parse_consent_record(body: bytes) -> dict[str, Any]:
    """Parse and validate a consent record (schema: :class:`ConsentRecord`).

    Args:
        body: the request body, UTF-8 JSON.

    Returns:
        the record as received (a dict in the order sent, unknown fields kept).

    Raises:
        ApiError: 422 ``invalid_consent_record``; the message says what is wrong (not UTF-8,
            not JSON, nested too deeply, NaN or an oversized number, not an object, or which
            fields are wrong) and never contains the values.
    """
    record = decode_json_object(body, _INVALID)
    try:
        ConsentRecord.model_validate(record)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False, include_context=True)
        raise ApiError(422, _INVALID, f"invalid consent record: {describe_errors(errors)}") from None
    return record


def fingerprint(record: dict[str, Any]) -> str:
    """Hex SHA-256 of the record as canonical JSON (keys sorted, no whitespace), so a retry
    that serialises the same record differently still matches its first attempt."""
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@router.post(
    "/consent-records",
    status_code=201,
    response_model=None,
    summary="Store a consent record (idempotent)",
    responses={
        201: {"model": StoredConsentRecord, "description": "stored; the record plus received_at"},
        200: {
            "model": StoredConsentRecord,
            "description": "replay of an earlier identical request; header Idempotent-Replayed: true",
        },
        **_error(400, "Idempotency-Key missing or invalid"),
        **_error(409, "idempotency_key_reused or consent_record_exists"),
        **_error(413, "body over 64 KiB"),
        **_error(422, "invalid_consent_record"),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ConsentRecord"}}},
        }
    },
)
def post_consent_record(key: IdempotencyKey, body: RawBody, store: StoreDep) -> JSONResponse:
    """Store the record as received; answer 201 with it plus ``received_at``.

    The same Idempotency-Key with the same record answers the stored answer again with 200 and
    ``Idempotent-Replayed: true``; with another record, 409 ``idempotency_key_reused``.
    A ``record_id`` already stored under another key answers 409 ``consent_record_exists``.
    """
    record = parse_consent_record(body)
    record_json = body.decode("utf-8")

    def insert(conn: sqlite3.Connection) -> tuple[int, dict[str, Any]]:
        received_at = store.insert_consent_record(
            conn, record_json, record_id=record["record_id"], subject_id=record["subject_id"]
        )
        return 201, {**record, "received_at": received_at}

    try:
        answer = store.run_idempotent(key, ENDPOINT, fingerprint(record), insert)
    except IdempotencyKeyReused:
        raise ApiError(
            409,
            "idempotency_key_reused",
            "this Idempotency-Key was already used with a different request; use a new key "
            "for a new request",
        ) from None
    except ConsentRecordExists:
        raise ApiError(
            409,
            "consent_record_exists",
            "a consent record with this record_id is already stored; records are immutable, "
            "send a new record with a new record_id",
        ) from None
    if answer.replayed:
        return JSONResponse(answer.body, status_code=200, headers={"Idempotent-Replayed": "true"})
    return JSONResponse(answer.body, status_code=answer.status)


@router.get(
    "/consent-records",
    response_model=ConsentRecordList,
    summary="A subject's consent records, in the order received",
    responses=_error(422, "subject_id missing or not a uuid4"),
)
def list_consent_records(
    store: StoreDep,
    subject_id: Annotated[Uuid4Str, Query(description="the pseudonymous install id (uuid4)")],
) -> JSONResponse:
    """``{"records": [...]}``: each record as received plus ``received_at``; empty if none."""
    return JSONResponse({"records": store.consent_records(subject_id)})
