"""``/v1/consent-records``: store consent records (idempotently) and list them per subject.

Version 2 records carry a proof: its Ed25519 signature is verified with
``sdk.consent.proof.verify_record`` (the SDK's own code: one implementation of the canonical
form), and the first public key seen for a ``subject_id`` is pinned. A POST with a valid
session cookie links the record's subject to the account (cross-device sync).

A **withdrawal** stops the processing it covers as soon as it arrives
(:func:`apply_withdrawals`, for the account the record's subject is linked to): uploads no
verification uses whose consent (the purpose's grant, or a sensitive item's own) is gone are
deleted, and when the account's records no longer grant keeping the certificate information
(``policy``, ``purpose:certificate``, ``item:certificate_info``) its certificates are revoked
(reason ``consent_withdrawn``). A failure there is logged and never refuses the record.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import sqlite3
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from sdk.consent.proof import verify_record

from ..deps import IdempotencyKey, OptionalAccount, RawBody, StoreDep
from ..errors import ApiError, decode_json_object, describe_errors
from ..models import (
    ConsentRecordList,
    StoredConsentRecord,
    Uuid4Str,
    consent_record_model,
)
from ..responses import error_doc
from ..store import (
    ConsentRecordExists,
    IdempotencyKeyReused,
    IdempotentAnswer,
    SubjectKeyMismatch,
    SubjectLinkedElsewhere,
)

router = APIRouter(tags=["consent"])
logger = logging.getLogger("server_stub")

ENDPOINT = "POST /v1/consent-records"
_INVALID = "invalid_consent_record"


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
    that serialises the same record differently still matches its first attempt. The digest
    of every idempotent endpoint's body: :meth:`Store.run_idempotent` stores only its keyed
    form (HMAC-SHA256 under the server's idempotency key, :meth:`Store.keyed_fingerprint`),
    never this plain hash, which would let a reader of ``stub.db`` brute-force a short value
    in the body (a phone number next to a known account id)."""
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
        **error_doc(400, "Idempotency-Key missing or invalid"),
        **error_doc(409, "idempotency_key_reused, consent_record_exists or subject_key_mismatch"),
        **error_doc(413, "body over 64 KiB"),
        **error_doc(422, "invalid_consent_record"),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ConsentRecord"}}},
        }
    },
)
def post_consent_record(
    key: IdempotencyKey, body: RawBody, store: StoreDep, account: OptionalAccount, request: Request
) -> JSONResponse:
    """Store the record as received; answer 201 with it plus ``received_at``.

    The same Idempotency-Key with the same record answers the stored answer again with 200 and
    ``Idempotent-Replayed: true``; with another record, 409 ``idempotency_key_reused``.
    A ``record_id`` already stored under another key answers 409 ``consent_record_exists``,
    unless the key is the ``record_id`` and the record the very same one (sent again after the
    24 h replay window, when its stored answer is gone): that is answered as a replay (200,
    the stored record).
    A version 2 record signed by another key than the first one seen for its ``subject_id``
    answers 409 ``subject_key_mismatch``.

    With a valid session cookie the subject is linked to the account (also on a replay). A
    subject already linked to another account stays there and the record is stored anyway:
    a consent record, above all a withdrawal, is never refused because of account links
    (``PUT /v1/me/subjects/{id}`` reports the conflict).

    A withdrawal (also a replay of one) is applied at once to the account its subject is
    linked to (:func:`apply_withdrawals`), with or without a cookie.
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

    answer: IdempotentAnswer | None
    try:
        answer = store.run_idempotent(
            key, ENDPOINT, fingerprint(record), insert,
            account_id=account.account_id if account is not None else None)
    except IdempotencyKeyReused:
        raise ApiError(
            409,
            "idempotency_key_reused",
            "this Idempotency-Key was already used with a different request; use a new key "
            "for a new request",
        ) from None
    except SubjectKeyMismatch:
        raise ApiError(
            409,
            "subject_key_mismatch",
            "this subject_id's records are signed by one device key and this record is not "
            "signed by it (another key, or no signature); a device keeps one key per subject_id",
        ) from None
    except ConsentRecordExists:
        # the same record sent again, under its record_id as the key (as the SDK sends it),
        # after the 24 h replay window (its stored answer is gone: say a device offline that
        # long whose first answer was lost): records are immutable, so it is still answered
        # as a replay; under any other key it stays 409
        stored = store.consent_record(record["record_id"]) if key == record["record_id"] else None
        answer = None
        if stored is not None and fingerprint(
                {k: v for k, v in stored.items() if k != "received_at"}) == fingerprint(record):
            answer = IdempotentAnswer(status=201, body=stored, replayed=True)
    if answer is None:
        raise ApiError(
            409,
            "consent_record_exists",
            "a consent record with this record_id is already stored; records are immutable, "
            "send a new record with a new record_id",
        )
    if account is not None:
        try:
            store.link_subject(subject_id, account.account_id)
        except SubjectLinkedElsewhere:
            pass  # stored, not linked: see the docstring
    if record["decision"] == "withdrawn":
        owner = _realname(request).subject_account(subject_id)
        if owner is not None:
            apply_withdrawals(request.app, owner)
    if answer.replayed:
        return JSONResponse(answer.body, status_code=200, headers={"Idempotent-Replayed": "true"})
    return JSONResponse(answer.body, status_code=answer.status)


@router.get(
    "/consent-records",
    response_model=ConsentRecordList,
    summary="A subject's consent records, in the order received",
    responses=error_doc(422, "subject_id missing or not a uuid4"),
)
def list_consent_records(
    store: StoreDep,
    request: Request,
    account: OptionalAccount,
    subject_id: Annotated[Uuid4Str, Query(description="the pseudonymous install id (uuid4)")],
) -> JSONResponse:
    """``{"records": [...]}``: each record as received plus ``received_at``; empty if none.

    With the session of an account other than the one the install id is linked to, the
    answer is the one of an unknown install id (empty): a user reaches only their own records
    (OBL-SEC-2; issue #7 authorisation sweep)."""
    if account is not None:
        owner = _realname(request).subject_account(subject_id)
        if owner is not None and owner != account.account_id:
            return JSONResponse({"records": []})
    return JSONResponse({"records": store.consent_records(subject_id)})


# -- what a withdrawal stops at once -------------------------------------------------------------


def _realname(request: Request) -> Any:
    from ..realname_store import for_app

    return for_app(request.app)


#: Scopes whose withdrawal (or a refusal after a grant) ends the account's undecided
#: real-name verifications.
REALNAME_SCOPES: tuple[str, ...] = ("policy", "purpose:realname_verification", "item:id_number",
                                    "item:face_video")


def apply_withdrawals(app: Any, account_id: str) -> None:
    """Stop the processing the account's records no longer allow (PIPL art. 15, 47):

    - when ``policy``, ``purpose:realname_verification``, ``item:id_number`` or
      ``item:face_video`` is withdrawn (or refused), the account's undecided verifications end
      (``failed``, reason ``consent_withdrawn``);
    - uploads (:mod:`server_stub.uploads`) that no undecided verification uses and whose
      consent is no longer in force (the purpose's grant the upload names, and a sensitive item's own
      consent, e.g. ``item:face_video``) are deleted (``UploadStore.withdraw_unused``); one
      still being sent is refused from its next request (403 ``consent_required``);
    - when ``policy``, ``purpose:certificate`` or ``item:certificate_info`` is no longer
      granted, the account's certificates are revoked (reason ``consent_withdrawn``,
      OBL-CERT-2): the device deletes its copy and key when it learns of the withdrawal.

    Safe to call at any time (idempotent). Never raises: the record is already stored, and a
    withdrawal is never refused; a failure is logged without any value, and the checks made
    on every upload request, verification and signing still refuse what is withdrawn.
    """
    from sdk.realname.certificate import SIGN_SCOPES

    from ..realname_store import deciding_decisions, for_app, missing_consents
    from ..uploads import missing_upload_consents

    try:
        store, uploads = app.state.store, app.state.uploads
        realname = for_app(app)
        records = store.account_consent_records(account_id)
        decided = deciding_decisions(records)  # once, for every check below

        def in_force(row: Any) -> bool:
            return not missing_upload_consents(records, row.consent_id, row.purpose, row.item,
                                               uploads.policy.needs_item_consent(row.item),
                                               decided=decided)

        ended = 0
        if any(decided.get(scope) in ("withdrawn", "denied") for scope in REALNAME_SCOPES):
            from ..realname_agency import for_app as agency_for_app

            ended = agency_for_app(app).withdraw(account_id)
        deleted = uploads.withdraw_unused(account_id, in_force, realname.used_upload_ids(account_id))
        revoked: list[str] = []
        if missing_consents(records, SIGN_SCOPES, decided=decided):
            now = _dt.datetime.fromtimestamp(app.state.settings.clock(), _dt.timezone.utc)
            revoked = realname.revoke_all(account_id, "consent_withdrawn", now)
        if deleted or revoked or ended:
            logger.info("withdrawal applied: %d verification(s) ended, %d upload(s) deleted, "
                        "%d certificate(s) revoked", ended, len(deleted), len(revoked))
    except Exception as exc:  # noqa: BLE001 - see the docstring
        logger.warning("applying a withdrawal failed (%s); the per-request consent checks still "
                       "refuse the withdrawn processing", type(exc).__name__)
