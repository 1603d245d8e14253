"""``/v1/realname/verifications``: real-name verification (issue #6 part E; OBL-RN-1, OBL-RN-2;
docs/protocol.md "Real-name verification", docs/realname.md "Verification flow").

- ``POST /v1/realname/verifications`` (session; ``Idempotency-Key`` = the body's
  ``submission``): either an **automatic** verification ``{"submission", "kid", "consent",
  "fields": {"real_name", "id_number", "phone"}, "face_upload"}`` or a **manual review**
  ``{"submission", "kid", "consent", "previous", "document": {"kind", "number", "uploads"}}``.
  Every field is HPKE-sealed on the device (``sdk.transport.envelope.seal_field``, info bound
  to the field, submission, kid, purpose ``realname_verification`` and the consent record id).
  The server, in this order and never trusting the client: the key is one of its own; the
  account's **own consent records** (``Store.account_consent_records``) grant the policy,
  ``purpose:realname_verification`` and the items and recipient this kind needs, and
  ``consent`` is a granted, unwithdrawn record of that purpose; the fields open; they pass
  ``sdk.realname.validate`` again (the same functions as the device); the uploads are the
  caller's, complete, of the right item, open to the end, and named by no other verification
  (``409 upload_used``: one upload backs one verification). Then the verification is
  recorded and handed to the agency's stand-in (:mod:`server_stub.realname_agency`).
- ``GET /v1/realname/verifications/{id}``: ``{"id", "status", "reason", "kind",
  "created_at", "updated_at"}``; the owner only (404 for anyone else).

Dev mode only (``Settings.dev_mode``, not in ``/openapi.json``)::

    GET  /v1/dev/realname/agency                       {"outcome", "delay_seconds", "deadline_seconds"}
    PUT  /v1/dev/realname/agency                       change any of them (QA's choice of outcome)
    POST /v1/dev/realname/verifications/{id}/decision  {"decision": "pass" | "fail:<reason>"}:
                                                       a manual reviewer decides

Nothing here logs or answers a name, an ID number, a phone number or a document number;
errors name fields and reasons only.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse

from sdk.errors import EnvelopeError
from sdk.realname.validate import (
    RealnameValidationError,
    validate_document,
    validate_id_number,
    validate_name,
    validate_phone,
)
from sdk.transport.envelope import b64url_decode, open_field

from ..deps import (
    IdempotencyKey,
    LoggedInAccount,
    RawBody,
    StoreDep,
    get_key_ring,
    get_uploads,
    require_dev_mode,
)
from ..errors import ApiError, decode_json_object
from ..realname_agency import (
    AGENCY_ITEMS,
    AGENCY_METHOD,
    AGENCY_PURPOSE,
    AGENCY_RECIPIENT,
    AgencyStandIn,
    VerificationRow,
    VerificationStore,
    parse_decision,
    parse_outcome,
)
from ..realname_agency import for_app as agency_for_app
from ..realname_store import RealnameStore, missing_consents
from ..realname_store import for_app as realname_for_app
from ..responses import NO_STORE, REPLAY_DOC, error_doc, idempotent_json
from ..store import AccountRow, IdempotencyKeyReused, Store
from ..uploads import grant_in_force
from .consent import fingerprint

__all__ = ["AUTOMATIC_SCOPES", "MANUAL_SCOPES", "PURPOSE", "router"]

ENDPOINT = "POST /v1/realname/verifications"
#: The purpose every sealed field and upload of the flow is bound to.
PURPOSE = AGENCY_PURPOSE
#: Consent scopes (besides ``policy``) an automatic verification needs: the purpose, the
#: sensitive items (ID number; face video, whose text covers face processing) and the
#: hand-off to the agency (PIPL art. 23, 29).
AUTOMATIC_SCOPES: tuple[str, ...] = (
    "purpose:realname_verification", "item:id_number", "item:face_video",
    "recipient:realname_agency",
)
#: Consent scopes (besides ``policy``) a manual review needs (OBL-RN-2).
MANUAL_SCOPES: tuple[str, ...] = ("purpose:realname_verification", "item:review_document")

#: Most images a manual review takes.
MAX_REVIEW_UPLOADS = 10
#: Most characters of one sealed field (base64url): a field is short text plus ~1.1 KiB.
MAX_SEALED_FIELD = 4096

_FIELDS = ("real_name", "id_number", "phone")
_UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def _invalid(message: str) -> ApiError:
    return ApiError(422, "invalid_request", message)


def _text(data: Mapping[str, Any], name: str, limit: int = 64) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value or len(value) > limit or not value.isprintable():
        raise _invalid(f"field '{name}' must be a non-empty string of at most {limit} characters")
    return value


# -- the request body ------------------------------------------------------------------------


def _parse(body: bytes, key: str) -> dict[str, Any]:
    """The body's JSON object, shape-checked (field names and types only; never a value in a
    message). Unknown fields are refused: nothing else is collected."""
    data = decode_json_object(body, "invalid_request")
    manual = "document" in data or "previous" in data
    allowed = {"submission", "kid", "consent"} | (
        {"previous", "document"} if manual else {"fields", "face_upload"})
    if set(data) - allowed:  # never echoed: a name could hold anything
        raise _invalid(
            "unknown field: an automatic verification sends only submission, kid, consent, "
            "fields, face_upload; a manual review only submission, kid, consent, previous, "
            "document")
    for name in sorted(allowed):
        if name not in data:
            raise _invalid(f"field '{name}' is required")
    submission = _text(data, "submission")
    if not _UUID4.match(submission):
        raise _invalid("field 'submission' must be a uuid4 in lower case, made by the device")
    if key != submission:
        raise _invalid("the Idempotency-Key must be the submission id (field 'submission')")
    _text(data, "kid")
    _text(data, "consent")
    if manual:
        _text(data, "previous")
        document = data["document"]
        if not isinstance(document, dict) or set(document) != {"kind", "number", "uploads"}:
            raise _invalid("field 'document' must be an object with exactly kind, number, uploads")
        _text(document, "kind")
        _text(document, "number", MAX_SEALED_FIELD)
        uploads = document["uploads"]
        if (not isinstance(uploads, list) or not 1 <= len(uploads) <= MAX_REVIEW_UPLOADS
                or not all(isinstance(u, str) and 0 < len(u) <= 64 for u in uploads)
                or len(set(uploads)) != len(uploads)):
            raise _invalid(f"field 'document.uploads' must list 1 to {MAX_REVIEW_UPLOADS} "
                           "different upload ids (item review_document)")
    else:
        fields = data["fields"]
        if not isinstance(fields, dict) or set(fields) != set(_FIELDS):
            raise _invalid("field 'fields' must be an object with exactly real_name, id_number, phone")
        for name in _FIELDS:
            _text(fields, name, MAX_SEALED_FIELD)
        _text(data, "face_upload")
    return data


# -- the checks ------------------------------------------------------------------------------


class _ConsentRefusal(ApiError):
    """403 ``realname_consent_required`` whose body adds ``"scopes": [...]``."""

    def __init__(self, message: str, scopes: tuple[str, ...]) -> None:
        super().__init__(403, "realname_consent_required", message, headers=NO_STORE)
        self.scopes = scopes


def _require_consent(records: list[dict[str, Any]], consent_id: str,
                     scopes: tuple[str, ...]) -> None:
    """403 ``realname_consent_required`` (with ``scopes``) unless the account's own *records*
    (``Store.account_consent_records``, read once per request) grant the policy and every
    scope now and *consent_id* is a granted, unwithdrawn record of the purpose."""
    missing = missing_consents(records, scopes)
    if missing:
        raise _ConsentRefusal(
            f"the account's consent records do not grant {', '.join(missing)} now; ask the "
            "user (separate consent), sync the records and submit again; refusing blocks only "
            "real-name signing (OBL-RN-3)", missing)
    if not grant_in_force(records, consent_id, PURPOSE):
        raise _ConsentRefusal(
            "field 'consent' is not a granted, unwithdrawn consent record of purpose "
            "realname_verification of this account's devices; seal to the record id of the "
            "grant in force and sync it first", ("purpose:realname_verification",))


def _open(request: Request, sealed: str, *, kid: str, field: str, submission: str,
          consent_id: str) -> str:
    """The text of one sealed field; 422 ``field_unreadable`` naming the field when it does
    not open or is not UTF-8."""
    try:
        plain = open_field(get_key_ring(request).lookup, b64url_decode(sealed, f"field '{field}'"),
                           kid=kid, field=field, submission=submission, purpose=PURPOSE,
                           consent_id=consent_id)
        return plain.decode("utf-8")
    except (EnvelopeError, UnicodeDecodeError) as exc:
        code = getattr(exc, "code", "not_utf8")
        raise ApiError(
            422, "field_unreadable",
            f"field '{field}' did not open ({code}): seal it to the key named by 'kid' with "
            "the info of this field, submission, purpose realname_verification and consent "
            "(sdk.transport.envelope.seal_field), as UTF-8 text",
        ) from None


def _validated(call: Any, *args: Any) -> Any:
    """Run a ``sdk.realname.validate`` function; 422 ``realname_invalid`` with ``field`` and
    ``reason`` and the same Chinese + English message the device shows (never the value)."""
    try:
        return call(*args)
    except RealnameValidationError as exc:
        raise _ValidationRefusal(exc) from None


class _ValidationRefusal(ApiError):
    """422 ``realname_invalid`` whose body adds ``field``, ``reason``, ``message_zh``,
    ``message_en``."""

    def __init__(self, exc: RealnameValidationError) -> None:
        super().__init__(422, "realname_invalid", str(exc))
        self.extra = {"field": exc.field, "reason": exc.reason, "message_zh": exc.message_zh,
                      "message_en": exc.message_en}


def _check_upload(request: Request, records: list[dict[str, Any]], account: AccountRow,
                  upload_id: str, item: str, what: str) -> int:
    """The upload is the caller's, complete, of *item* and the purpose, its consent still in
    force (by the account's *records*), and every record opens; returns its plaintext length
    (nothing is kept)."""
    row = get_uploads(request).get(upload_id, account.account_id)
    if row is None:
        raise ApiError(422, "upload_not_found",
                       f"{what} is not an upload of this account (POST /v1/uploads first)")
    if row.status != "complete":
        raise ApiError(409, "upload_incomplete",
                       f"{what} is {row.status}: finish the upload (HEAD, then PATCH from "
                       "Upload-Offset) before submitting" if row.status == "open" else
                       f"{what} was refused ({row.failure}); upload it again")
    if row.item != item or row.purpose != PURPOSE:
        raise ApiError(422, "wrong_upload",
                       f"{what} must be an upload of item {item} for purpose {PURPOSE}")
    if not grant_in_force(records, row.consent_id, row.purpose):
        raise _ConsentRefusal(
            f"the consent {what} was sealed for is withdrawn or missing; ask the user again "
            "and upload again", ("purpose:realname_verification",))
    if row.plaintext_length == 0:
        raise ApiError(422, "upload_empty", f"{what} is empty; capture it again")
    size = 0
    try:
        for chunk in get_uploads(request).plaintext(row.upload_id, get_key_ring(request).lookup):
            size += len(chunk)  # the stand-in reads it; the plaintext is dropped at once
    except (EnvelopeError, KeyError, OSError):
        raise ApiError(422, "upload_unreadable",
                       f"{what} can no longer be opened on the server; upload it again") from None
    return size


def _refuse_used_uploads(conn: sqlite3.Connection, account_id: str,
                         named: list[tuple[str, str]]) -> None:
    """409 ``upload_used`` when an upload in *named* (``(upload id, field)``) is already
    named by another verification of the account (any status): one upload backs one
    verification. Run inside the insert's transaction, so two submissions racing for one
    upload cannot both pass; an idempotent replay never gets here (its stored answer is
    given first)."""
    used = RealnameStore.verification_upload_ids(conn, account_id)
    for upload_id, what in named:
        if upload_id in used:
            raise ApiError(409, "upload_used",
                           f"{what} was already submitted with another verification; each "
                           "verification needs its own upload: upload the media again "
                           "(POST /v1/uploads) and submit with the new upload id")


# -- POST ------------------------------------------------------------------------------------

api = APIRouter(tags=["realname"])


def _refusal_body(exc: ApiError) -> JSONResponse:
    body: dict[str, Any] = {"error": exc.code, "message": exc.message}
    if isinstance(exc, _ConsentRefusal):
        body["scopes"] = list(exc.scopes)
    if isinstance(exc, _ValidationRefusal):
        body.update(exc.extra)
    return JSONResponse(body, status_code=exc.status, headers={**NO_STORE, **exc.headers})


@api.post(
    "/realname/verifications",
    status_code=201,
    response_model=None,
    summary="Submit a real-name verification, or another document for manual review (idempotent)",
    responses={
        201: {"description": "recorded: {id, status (pending | manual_review), reason, kind, "
                             "created_at, updated_at}; poll GET /v1/realname/verifications/{id}"},
        **REPLAY_DOC,
        **error_doc(400, "idempotency_key_required, invalid_idempotency_key"),
        **error_doc(401, "not_logged_in"),
        **error_doc(404, "verification_not_found: a manual review's 'previous' names no "
                    "verification of this account"),
        **error_doc(403, "realname_consent_required: the account's consent records lack a scope "
                    "(the body adds \"scopes\": [...])"),
        **error_doc(409, "idempotency_key_reused, upload_incomplete, upload_used (another "
                    "verification already named this upload), verification_not_reviewable"),
        **error_doc(413, "body_too_large"),
        **error_doc(422, "invalid_request, unknown_key, field_unreadable, realname_invalid (the body "
                    "adds field, reason, message_zh, message_en), upload_not_found, wrong_upload, "
                    "upload_empty, upload_unreadable"),
    },
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["submission", "kid", "consent"],
        "properties": {
            "submission": {"type": "string", "description": "uuid4 made by the device; also the Idempotency-Key"},
            "kid": {"type": "string", "description": "the HPKE key the fields are sealed to"},
            "consent": {"type": "string", "description": "record_id of the grant of purpose:realname_verification"},
            "fields": {"type": "object", "description": "automatic: real_name, id_number, phone; each base64url seal_field output",
                       "required": list(_FIELDS), "additionalProperties": False,
                       "properties": {f: {"type": "string"} for f in _FIELDS}},
            "face_upload": {"type": "string", "description": "automatic: a complete upload of item face_video"},
            "previous": {"type": "string", "description": "manual review: the account's latest verification"},
            "document": {"type": "object", "description": "manual review: kind, number (sealed), uploads (item review_document)",
                         "required": ["kind", "number", "uploads"], "additionalProperties": False,
                         "properties": {"kind": {"type": "string"}, "number": {"type": "string"},
                                        "uploads": {"type": "array", "items": {"type": "string"}}}},
        },
    }}}}},
)
def submit_verification(
    key: IdempotencyKey, account: LoggedInAccount, body: RawBody, request: Request,
    store: StoreDep,
) -> JSONResponse:
    """Check everything again on the server, record the verification and hand it over."""
    try:
        return _submit(key, account, body, request, store)
    except (_ConsentRefusal, _ValidationRefusal) as exc:
        return _refusal_body(exc)


def _submit(key: str, account: AccountRow, body: bytes, request: Request,
            store: Store) -> JSONResponse:
    data = _parse(body, key)
    submission, kid, consent_id = data["submission"], data["kid"], data["consent"]
    if get_key_ring(request).lookup(kid) is None:
        raise ApiError(422, "unknown_key",
                       "field 'kid' is not a key of GET /v1/keys/hpke; fetch the keys again and seal anew")
    agency = agency_for_app(request.app)
    realname = realname_for_app(request.app)
    if "document" in data:
        return _submit_review(key, data, account, request, store, agency, realname)

    records = store.account_consent_records(account.account_id)
    _require_consent(records, consent_id, AUTOMATIC_SCOPES)
    texts = {name: _open(request, data["fields"][name], kid=kid, field=name,
                         submission=submission, consent_id=consent_id) for name in _FIELDS}
    real_name = _validated(validate_name, texts["real_name"])
    id_number = _validated(validate_id_number, texts["id_number"])
    _validated(validate_phone, texts["phone"])  # handed to the agency only; never stored
    _check_upload(request, records, account, data["face_upload"], "face_video", "field 'face_upload'")
    pseudonym = realname.pseudonym(id_number.value)
    del texts, id_number

    now = float(request.app.state.settings.clock())
    outcome, due_at, deadline_at = agency.plan(now)

    def insert(conn: sqlite3.Connection) -> tuple[int, dict[str, Any]]:
        _refuse_used_uploads(conn, account.account_id, [(data["face_upload"], "field 'face_upload'")])
        row = VerificationStore.insert(
            conn, account_id=account.account_id, submission=submission, kind="automatic",
            status="pending", outcome=str(outcome), consent_id=consent_id, kid=kid, now=now,
            due_at=None, deadline_at=deadline_at, face_upload=data["face_upload"])
        return 201, row.to_json()

    answer = _run(store, key, account, data, insert)
    if not answer.replayed:
        realname.set_status(account.account_id, "pending", verification_id=answer.body["id"],
                            real_name=real_name, id_pseudonym=pseudonym)
        store.record_transfer(account.account_id, AGENCY_RECIPIENT, AGENCY_ITEMS,
                              AGENCY_PURPOSE, AGENCY_METHOD)
        agency.hand_over(answer.body["id"], due_at)  # only now can its answer be applied
    return idempotent_json(answer)


def _submit_review(key: str, data: dict[str, Any], account: AccountRow, request: Request,
                   store: Store, agency: AgencyStandIn, realname: RealnameStore) -> JSONResponse:
    """A manual review (OBL-RN-2) of the account's latest verification with another document."""
    submission, kid, consent_id = data["submission"], data["kid"], data["consent"]
    previous = agency.verifications.get(data["previous"], account.account_id)
    if previous is None:
        raise ApiError(404, "verification_not_found",
                       "field 'previous' names no verification of this account")
    identity = realname.get_status(account.account_id)
    if identity is None or identity.verification_id != previous.verification_id:
        raise ApiError(409, "verification_not_reviewable",
                       "field 'previous' is not this account's latest verification; submit the "
                       "review for the latest one")
    if previous.status not in ("failed", "timed_out", "manual_review"):
        raise ApiError(409, "verification_not_reviewable",
                       "the verification is verified and needs no review" if previous.status ==
                       "verified" else "the verification is still pending: wait for its result")
    if not (identity.real_name and identity.id_pseudonym):
        raise ApiError(409, "verification_not_reviewable",
                       "the verification holds no identity to review; submit a new verification")
    records = store.account_consent_records(account.account_id)
    _require_consent(records, consent_id, MANUAL_SCOPES)
    document = data["document"]
    number = _open(request, document["number"], kid=kid, field="document_number",
                   submission=submission, consent_id=consent_id)
    checked = _validated(validate_document, document["kind"], number)
    for index, upload_id in enumerate(document["uploads"]):
        _check_upload(request, records, account, upload_id, "review_document",
                      f"document.uploads[{index}]")
    document_pseudonym = realname.pseudonym(f"{checked.kind}:{checked.value}")
    del number, checked
    now = float(request.app.state.settings.clock())

    def insert(conn: sqlite3.Connection) -> tuple[int, dict[str, Any]]:
        _refuse_used_uploads(conn, account.account_id, [
            (upload_id, f"document.uploads[{index}]")
            for index, upload_id in enumerate(document["uploads"])])
        row = VerificationStore.insert(
            conn, account_id=account.account_id, submission=submission, kind="manual_review",
            status="manual_review", outcome="manual_review", consent_id=consent_id, kid=kid,
            now=now, due_at=None, deadline_at=None, previous_id=previous.verification_id,
            document_kind=document["kind"], document_pseudonym=document_pseudonym,
            review_uploads=list(document["uploads"]))
        return 201, row.to_json()

    answer = _run(store, key, account, data, insert)
    if not answer.replayed:
        realname.set_status(account.account_id, "manual_review", verification_id=answer.body["id"],
                            real_name=identity.real_name, id_pseudonym=identity.id_pseudonym)
    return idempotent_json(answer)


def _run(store: Store, key: str, account: AccountRow, data: dict[str, Any], action: Any) -> Any:
    try:
        return store.run_idempotent(
            key, ENDPOINT, fingerprint({"account_id": account.account_id, **data}), action,
            account_id=account.account_id)
    except IdempotencyKeyReused:
        raise ApiError(409, "idempotency_key_reused",
                       "this submission id was already used with a different request; make a "
                       "new submission id (uuid4) for a new submission") from None


# -- GET -------------------------------------------------------------------------------------


@api.get(
    "/realname/verifications",
    summary="The account's real-name verifications, newest first (another device learns its status)",
    responses={
        200: {"description": "{verifications: [{id, status, reason, kind, created_at, "
                             "updated_at}, ...]}: at most 20, newest first; empty when none"},
        **error_doc(401, "not_logged_in"),
    },
)
def list_verifications(request: Request, account: LoggedInAccount) -> JSONResponse:
    """The account's verifications; answers that are due are applied first."""
    agency = agency_for_app(request.app)
    agency.resolve_due()
    rows = agency.verifications.newest(account.account_id)
    return JSONResponse({"verifications": [row.to_json() for row in rows]}, headers=NO_STORE)


@api.get(
    "/realname/verifications/{verification_id}",
    summary="The server's answer to a real-name verification (only this counts)",
    responses={
        200: {"description": "{id, status (pending | verified | failed | manual_review | "
                             "timed_out), reason (null, or a code such as face_mismatch, "
                             "agency_timeout, superseded), kind, created_at, updated_at}"},
        **error_doc(401, "not_logged_in"),
        **error_doc(404, "verification_not_found: unknown, or another account's"),
    },
)
def get_verification(
    request: Request, account: LoggedInAccount,
    verification_id: str = Path(description="the id of the POST's answer"),
) -> JSONResponse:
    """The verification's status; answers that are due are applied first."""
    agency = agency_for_app(request.app)
    agency.resolve_due()
    row = agency.verifications.get(verification_id, account.account_id)
    if row is None:
        raise ApiError(404, "verification_not_found",
                       "no such verification for this account", headers=NO_STORE)
    return JSONResponse(row.to_json(), headers=NO_STORE)


# -- dev mode: QA's controls --------------------------------------------------------------------

dev = APIRouter(prefix="/dev/realname", tags=["dev"], include_in_schema=False,
                dependencies=[Depends(require_dev_mode)])


@dev.get("/agency", summary="The agency stand-in's outcome, delay and deadline (dev mode only)")
def agency_config(request: Request) -> dict[str, Any]:
    """``{"outcome", "delay_seconds", "deadline_seconds"}``."""
    return agency_for_app(request.app).config()


@dev.put("/agency", summary="Choose what the agency stand-in answers (dev mode only)")
def configure_agency(body: RawBody, request: Request) -> dict[str, Any]:
    """Body with any of ``{"outcome": "pass" | "fail:<reason>" | "manual_review" | "timeout",
    "delay_seconds": >= 0, "deadline_seconds": > 0}``; applies to verifications submitted from
    now on. Answers the whole configuration."""
    data = decode_json_object(body, "invalid_request")
    allowed = {"outcome", "delay_seconds", "deadline_seconds"}
    if not data or set(data) - allowed:
        raise _invalid(f"send one or more of {', '.join(sorted(allowed))}")
    try:
        outcome = parse_outcome(data["outcome"]) if "outcome" in data else None
    except ValueError as exc:
        raise _invalid(f"field 'outcome': {exc}") from None
    numbers: dict[str, float | None] = {}
    for name, low in (("delay_seconds", 0.0), ("deadline_seconds", 0.0)):
        value = data.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or value < low or (name == "deadline_seconds" and value == 0)):
            raise _invalid(f"field '{name}' must be a number of seconds "
                           f"{'above' if name == 'deadline_seconds' else 'of at least'} 0")
        numbers[name] = None if value is None else float(value)
    return agency_for_app(request.app).configure(
        outcome=outcome, delay=numbers["delay_seconds"], deadline=numbers["deadline_seconds"])


@dev.post("/verifications/{verification_id}/decision",
          summary="Decide a manual review (dev mode only)")
def decide_review(body: RawBody, request: Request,
                  verification_id: str = Path(description="a verification in manual_review")) -> JSONResponse:
    """Body ``{"decision": "pass" | "fail:<reason>"}``: the reviewer's decision on a
    verification waiting in ``manual_review``; answers the verification afterwards. ``404``
    unknown; ``409 verification_not_in_review`` when it is not waiting for a review."""
    data = decode_json_object(body, "invalid_request")
    if set(data) != {"decision"}:
        raise _invalid("send exactly {\"decision\": \"pass\" | \"fail:<reason>\"}")
    try:
        decision = parse_decision(data["decision"])
    except ValueError as exc:
        raise _invalid(f"field 'decision': {exc}") from None
    try:
        row: VerificationRow | None = agency_for_app(request.app).decide(verification_id, decision)
    except LookupError as exc:
        raise ApiError(409, "verification_not_in_review",
                       f"the verification is {exc.args[0]}, not waiting for a manual review") from None
    if row is None:
        raise ApiError(404, "verification_not_found", "no such verification")
    return JSONResponse(row.to_json(), headers=NO_STORE)


router = APIRouter()
router.include_router(api)
router.include_router(dev)
