"""``/v1/consent-records``: store consent records (idempotently) and list them per subject.

Version 2 records carry a proof: its Ed25519 signature is verified with
``sdk.consent.proof.verify_record`` (the SDK's own code: one implementation of the canonical
form), and the first public key seen for a ``subject_id`` is pinned. A POST with a valid
session cookie links the record's subject to the account (cross-device sync).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import sqlite3
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from sdk.consent.proof import verify_record

from ..deps import IdempotencyKey, OptionalAccount, RawBody, StoreDep
from ..errors import ApiError, decode_json_object, describe_errors
from ..models import (
    ConsentRecordList,
    ErrorBody,
    StoredConsentRecord,
    Uuid4Str,
    consent_record_model,
)
from ..store import (
    ConsentRecordExists,
    IdempotencyKeyReused,
    SubjectKeyMismatch,
    SubjectLinkedElsewhere,
)

router = APIRouter(tags=["consent"])

ENDPOINT = "POST /v1/consent-records"
_INVALID = "invalid_consent_record"


def _error(status: int, description: str) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorBody, "description": description}}


def parse_consent_record(body: bytes) -> dict[str, Any]:
    """Parse and validate a consent record (schema: ``ConsentRecordV1`` or ``ConsentRecordV2``
    by ``schema_version``); for version 2 also verify its proof's signature.

    Args:
        body: the request body, UTF-8 JSON.

    Returns:
        the record as received (a dict in the order sent, unknown fields kept).

    Raises:
        ApiError: 422 ``invalid_consent_record``; the message says what is wrong (not UTF-8,
            not JSON, nested too deeply, NaN or an oversized number, not an object, which
            fields are wrong, or why the proof does not verify) and never contains the values.
    """
    record = decode_json_object(body, _INVALID)
    try:
        consent_record_model(record).model_validate(record)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False, include_context=True)
        raise ApiError(422, _INVALID, f"invalid consent record: {describe_errors(errors)}") from None
    _check_not_in_future(record["created_at"])
    if record["schema_version"] == 2:
        _check_guardian(record)
        _check_proof(record)
    return record


#: How far ahead of the server's clock a record's ``created_at`` may be (device clock drift).
MAX_CLOCK_AHEAD = _dt.timedelta(minutes=10)


def _check_not_in_future(created_at: str) -> None:
    """A record dated ahead of the server's clock would outlive every later decision on the
    user's other devices (docs/consent.md "Sync"): refuse it."""
    when = _dt.datetime.fromisoformat(created_at.replace("Z", "+00:00"))
    if when > _dt.datetime.now(_dt.timezone.utc) + MAX_CLOCK_AHEAD:
        raise ApiError(
            422, _INVALID,
            "invalid consent record: field 'created_at' is more than 10 minutes ahead of the "
            "server's clock; set the device's clock correctly and send the record again",
        )


def _check_guardian(record: dict[str, Any]) -> None:
    """``guardian`` is required for consent_type ``guardian`` and null or absent otherwise."""
    is_guardian = record["consent_type"] == "guardian" and record["decision"] == "granted"
    if is_guardian and record.get("guardian") is None:
        raise ApiError(
            422, _INVALID,
            "invalid consent record: field 'guardian' is required for a granted guardian consent",
        )
    if not is_guardian and record.get("guardian") is not None:
        raise ApiError(
            422, _INVALID,
            "invalid consent record: field 'guardian' must be null or absent unless this is a "
            "granted guardian consent",
        )


def _check_proof(record: dict[str, Any]) -> None:
    """Verify the Ed25519 signature of a version 2 record (docs/protocol.md, "Proof").

    ``verify_record`` reports problems as short sentences naming what is wrong (a key or a
    signature that does not decode, a signature that does not verify), never a value.
    """
    if record["proof"].get("signature") is None:
        return  # unsigned (the device had no keystore): stored, and never trusted to grant
    problems = verify_record(record)
    if problems:
        raise ApiError(
            422, _INVALID, f"invalid consent record: field 'proof': {'; '.join(problems)}"
        )


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
        **_error(409, "idempotency_key_reused, consent_record_exists or subject_key_mismatch"),
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
def post_consent_record(
    key: IdempotencyKey, body: RawBody, store: StoreDep, account: OptionalAccount
) -> JSONResponse:
    """Store the record as received; answer 201 with it plus ``received_at``.

    The same Idempotency-Key with the same record answers the stored answer again with 200 and
    ``Idempotent-Replayed: true``; with another record, 409 ``idempotency_key_reused``.
    A ``record_id`` already stored under another key answers 409 ``consent_record_exists``.
    A version 2 record signed by another key than the first one seen for its ``subject_id``
    answers 409 ``subject_key_mismatch``.

    With a valid session cookie the subject is linked to the account (also on a replay). A
    subject already linked to another account stays there and the record is stored anyway:
    a consent record, above all a withdrawal, is never refused because of account links
    (``PUT /v1/me/subjects/{id}`` reports the conflict).
    """
    record = parse_consent_record(body)
    record_json = body.decode("utf-8")
    subject_id = record["subject_id"]

    def insert(conn: sqlite3.Connection) -> tuple[int, dict[str, Any]]:
        received_at = store.insert_consent_record(
            conn, record_json, record_id=record["record_id"], subject_id=subject_id
        )
        key = record["proof"]["public_key"] if record["schema_version"] == 2 else None
        store.pin_subject_key(conn, subject_id, key)
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
    except SubjectKeyMismatch:
        raise ApiError(
            409,
            "subject_key_mismatch",
            "this subject_id's records are signed by one device key and this record is not "
            "signed by it (another key, or no signature); a device keeps one key per subject_id",
        ) from None
    if account is not None:
        try:
            store.link_subject(subject_id, account.account_id)
        except SubjectLinkedElsewhere:
            pass  # stored, not linked: see the docstring
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
