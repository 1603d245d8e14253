"""Data-subject rights and cancellation (issue #7; docs/protocol.md, "Data-subject rights and
cancellation").

- ``POST /v1/me/identity-checks``: check the identity again (the password) → an identity
  token, valid 10 minutes (OBL-DSR-1). Throttled like login.
- ``POST /v1/me/rights-requests`` (header ``Identity-Token``): access, export, correction,
  deletion (PIPL art. 47), objection, evidence report (OBL-DSR-1/2/3/6/8, OBL-EVI-1).
- ``GET /v1/me/rights-requests``, ``GET /v1/me/rights-requests/{id}``: the account's requests
  with their deadline (15 PRC working days after the identity check) and ``overdue``.
- ``GET /v1/me/export`` (header ``Identity-Token``): everything the server holds about the
  account that the user provided or generated, values included (OBL-DSR-1/3).
- ``POST /v1/me/cancellation`` (header ``Identity-Token``) then
  ``POST /v1/me/cancellation/confirm``: cancel the account (OBL-DSR-7).
- Dev mode only: ``POST /v1/dev/rights-requests/{id}/answer`` (QA plays the staff).

Every endpoint acts on the session's own account only: another account's request id answers
exactly like an unknown one (404 ``request_not_found``), and identity and cancellation tokens
are bound to the account they were made for. Messages never contain a request value.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import re
import sqlite3
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Request
from fastapi.responses import JSONResponse

from sdk.account.identifiers import parse_identifier
from sdk.errors import InvalidInput

from ..accounts import expired_session_cookie
from ..deps import (
    AccountsDep,
    IdempotencyKey,
    LoggedInAccount,
    OptionalAccount,
    RawBody,
    SessionCookie,
    SettingsDep,
    StoreDep,
    get_uploads,
    require_dev_mode,
)
from ..errors import ApiError, decode_json_fields, decode_json_object
from ..models import (
    CancellationDone,
    CancellationNotice,
    ExportDocument,
    IdentityCheckOut,
    RightsRequestList,
    RightsRequestOut,
)
from ..realname_store import SIGNING_RECORD_YEARS, RealnameStore, add_years
from ..realname_store import for_app as realname_for_app
from ..responses import (
    KEY_REUSED,
    NO_STORE,
    NOT_LOGGED_IN_DOC,
    REPLAY_DOC,
    error_doc,
    idempotent_json,
)
from ..rights_store import KINDS, RightsStore, login_kind
from ..rights_store import for_app as rights_for_app
from ..services_store import for_app as services_for_app
from ..settings import Settings
from ..store import (
    AccountExists,
    AccountRow,
    IdempotencyKeyReused,
    Store,
    epoch_rfc3339,
    rfc3339,
)
from .consent import fingerprint

__all__ = ["DELETION_CASES", "WILL_LOSE", "router"]

router = APIRouter(tags=["rights"])

REQUESTS_ENDPOINT = "POST /v1/me/rights-requests"
CANCEL_ENDPOINT = "POST /v1/me/cancellation"
CONFIRM_ENDPOINT = "POST /v1/me/cancellation/confirm"
ANSWER_ENDPOINT = "POST /v1/dev/rights-requests/answer"

#: The five cases of PIPL art. 47 in which the handler must delete on request.
DELETION_CASES: tuple[str, ...] = ("unlawful_processing", "no_consent", "breach_of_agreement",
                                   "stopped_using", "service_ended")
#: What a cancellation takes away (step 1 shows it before anything changes).
WILL_LOSE: tuple[tuple[str, str], ...] = (
    ("contract_download", "合同下载：注销后无法再查看或下载已签署的合同"),
    ("evidence_reports", "出证报告：注销后无法再申请出证报告"),
    ("certificates", "数字证书：您的数字证书将被吊销"),
    ("realname", "实名认证信息：将被删除，重新注册后需再次认证"),
    ("account_login", "用此账号登录：注销后无法再用此账号登录（可用同一手机号或邮箱重新注册新账号）"),
)
_SIGNING_REASON = ("《中华人民共和国电子签名法》：签署记录及其所依据的数字证书须保存不少于五年，"
                   "仅与匿名化的账号编号关联")
_CONSENT_REASON = ("证明已取得您的同意（《中华人民共和国个人信息保护法》第四十七条第二款：法律、"
                   "行政法规规定的保存期限；履行法定义务所必需）")
_LOG_REASON = "《中华人民共和国网络安全法》第二十一条：网络日志留存不少于六个月"
_OPEN_REQUESTS_REASON = "答复您尚未完成的请求所必需；请求答复后即删除"
_EVIDENCE_REQUEST_REASON = ("《中华人民共和国电子签名法》：出证申请信息作为签署证据的一部分，"
                            "自提出出证申请之日起保存五年")
#: The will_lose entry of step 1 when the account has requests still waiting for an answer.
OPEN_REQUESTS_LOSS = ("open_requests", "未完成的个人信息权利请求和出证申请将终止")
_MAX_TEXT = 2000
_MAX_REASON = 500
_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

_IDENTITY_REQUIRED = ApiError(
    403, "identity_check_required",
    "check the identity again: POST /v1/me/identity-checks, then send its identity_token in "
    "the Identity-Token header (valid 10 minutes)")
_NOT_FOUND = ApiError(404, "request_not_found", "this account has no rights request with this id")

IDENTITY_DOC = error_doc(403, "identity_check_required: Identity-Token missing, expired or "
                              "another account's")
IdentityTokenHeader = Annotated[
    str | None,
    Header(alias="Identity-Token",
           description="the identity_token of POST /v1/me/identity-checks (10 minutes)"),
]


def _now(settings: Settings) -> _dt.datetime:
    return _dt.datetime.fromtimestamp(settings.clock(), _dt.timezone.utc)


def _identity(request: Request, account: LoggedInAccount,
              token: IdentityTokenHeader = None) -> float:
    """When the account's identity was checked (seconds) by the request's Identity-Token.

    Raises:
        ApiError: 403 ``identity_check_required``.
    """
    verified_at = rights_for_app(request.app).identity_verified_at(account.account_id, token)
    if verified_at is None:
        raise _IDENTITY_REQUIRED
    return verified_at


VerifiedAt = Annotated[float, Depends(_identity)]


def _text(data: dict[str, Any], name: str, limit: int) -> str:
    value = data[name]
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise ApiError(422, "invalid_request",
                       f"field '{name}' must be text of 1 to {limit} characters")
    return value


def _contact(value: Any, field: str, name: str = "value") -> str:
    """A phone number (CN by default; E.164 back) or an email address (normalised)."""
    try:
        parsed = parse_identifier(value) if isinstance(value, str) else None
    except InvalidInput:
        parsed = None
    if parsed is None or parsed.kind != field:
        what = ("a mobile phone number (e.g. 13800138000 or +8613800138000)" if field == "phone"
                else "an email address (e.g. name@example.com)")
        raise ApiError(422, "invalid_request", f"field '{name}' must be {what}")
    return parsed.value


def _validated(exc: InvalidInput, name: str) -> ApiError:
    # sdk.realname.validate's messages never contain the input
    return ApiError(422, "invalid_request", f"field '{name}': {exc}")


# -- POST /v1/me/identity-checks -------------------------------------------------------------


@router.post(
    "/me/identity-checks",
    status_code=200,
    response_model=IdentityCheckOut,
    summary="Check the identity again (password) for rights requests, export and cancellation",
    responses={
        **error_doc(401, "not_logged_in, or invalid_credentials: the password is wrong"),
        **error_doc(413, "body over 64 KiB"),
        **error_doc(422, "invalid_request"),
        **error_doc(429, "too_many_attempts; header Retry-After (seconds)"),
    },
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["password"], "additionalProperties": False,
        "properties": {"password": {"type": "string", "format": "password"}}}}}}},
)
def identity_check(body: RawBody, request: Request, account: LoggedInAccount,
                   accounts: AccountsDep) -> JSONResponse:
    """``{"identity_token", "verified_at", "expires_at"}``: a fresh token each time (an
    Idempotency-Key is accepted and ignored: the answer holds a secret, like login). Failed
    attempts count in the login throttle of the account's identifier and the client address."""
    data = decode_json_fields(body, {"password": str}, ("password",))
    address = request.client.host if request.client else None
    wait, attempt = accounts.throttle.begin_attempt(account.identifier, address)
    if wait is not None:
        raise ApiError(429, "too_many_attempts",
                       f"too many failed attempts; try again in {wait} seconds",
                       headers={"Retry-After": str(wait)})
    if not accounts.password_matches(account.password_hash, data["password"]):
        raise ApiError(401, "invalid_credentials", "the password is wrong")
    accounts.throttle.succeeded(account.identifier, address, attempt)
    token, verified_at, expires_at = rights_for_app(request.app).create_identity_check(
        account.account_id)
    answer = {"identity_token": token, "verified_at": epoch_rfc3339(verified_at),
              "expires_at": epoch_rfc3339(expires_at)}
    return JSONResponse(answer, headers=NO_STORE)


# -- POST /v1/me/rights-requests -----------------------------------------------------------------

_KIND_FIELDS: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    "access": ({"kind": str}, ("kind",)),
    "export": ({"kind": str}, ("kind",)),
    "correction": ({"kind": str, "field": str, "value": str}, ("kind", "field", "value")),
    "deletion": ({"kind": str, "case": str}, ("kind", "case")),
    "objection": ({"kind": str, "text": str, "purpose": (str, type(None))}, ("kind", "text")),
    "evidence_report": ({"kind": str, "requester_name": str, "requester_id_number": str,
                         "reason": str, "mailbox": str, "signature_id": (str, type(None))},
                        ("kind", "requester_name", "requester_id_number", "reason", "mailbox")),
}


class _Parsed:
    """A checked rights request: what to store and the idempotency fingerprint's input."""

    def __init__(self, kind: str, details: dict[str, Any], provided: dict[str, Any] | None,
                 printed: dict[str, Any], value: str | None = None) -> None:
        self.kind = kind
        self.details = details
        self.provided = provided
        self.printed = printed  # the body for the fingerprint (the ID number as a pseudonym)
        self.value = value  # a normalised phone / email correction


def _parse_request(body: bytes, account: AccountRow, realname: RealnameStore) -> _Parsed:
    data = decode_json_object(body, "invalid_request")
    kind = data.get("kind")
    if kind not in KINDS:
        raise ApiError(422, "invalid_request",
                       f"field 'kind' must be one of {', '.join(KINDS)}")
    allowed, required = _KIND_FIELDS[kind]
    data = decode_json_fields(body, allowed, required)
    if kind in ("access", "export"):
        return _Parsed(kind, {}, None, data)
    if kind == "correction":
        field = data["field"]
        if field not in ("phone", "email", "name"):
            raise ApiError(422, "invalid_request", "field 'field' must be phone, email or name")
        if field == "name":
            from sdk.realname.validate import validate_name

            try:
                name = validate_name(data["value"])
            except InvalidInput as exc:
                raise _validated(exc, "value") from None
            return _Parsed(kind, {"field": field}, {"value": name}, data)
        return _Parsed(kind, {"field": field}, None, data, _contact(data["value"], field))
    if kind == "deletion":
        if data["case"] not in DELETION_CASES:
            raise ApiError(422, "invalid_request",
                           f"field 'case' must be one of {', '.join(DELETION_CASES)} (PIPL art. 47)")
        return _Parsed(kind, {"case": data["case"]}, None, data)
    if kind == "objection":
        text = _text(data, "text", _MAX_TEXT)
        purpose = data.get("purpose")
        if purpose is not None and not _ID.match(purpose):
            raise ApiError(422, "invalid_request",
                           "field 'purpose' must be a purpose id of the policy manifest")
        return _Parsed(kind, {"purpose": purpose}, {"text": text, "purpose": purpose}, data)
    # evidence_report (OBL-EVI-1)
    from sdk.realname.validate import validate_id_number, validate_name

    try:
        name = validate_name(data["requester_name"])
    except InvalidInput as exc:
        raise _validated(exc, "requester_name") from None
    try:
        id_number = validate_id_number(data["requester_id_number"])
    except InvalidInput as exc:
        raise _validated(exc, "requester_id_number") from None
    reason = _text(data, "reason", _MAX_REASON)
    mailbox = _contact(data["mailbox"], "email", "mailbox")
    signature_id = data.get("signature_id")
    if signature_id is not None and signature_id not in {
            r["signature_id"] for r in realname.signing_records(account.account_id)}:
        raise ApiError(422, "invalid_request",
                       "field 'signature_id' is not a signing record of this account")
    pseudonym = realname.pseudonym(id_number.value)
    provided = {"requester_name": name, "requester_id_pseudonym": pseudonym, "reason": reason,
                "mailbox": mailbox, "signature_id": signature_id}
    return _Parsed(kind, {}, provided, {**data, "requester_id_number": pseudonym})


def _add_months(moment: _dt.datetime, months: int) -> _dt.datetime:
    month = moment.month - 1 + months
    year, month = moment.year + month // 12, month % 12 + 1
    for day in (moment.day, 30, 29, 28):
        try:
            return moment.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover


@router.post(
    "/me/rights-requests",
    status_code=201,
    response_model=None,
    summary="Make a rights request: access, export, correction, deletion, objection, "
            "evidence report (idempotent)",
    responses={
        201: {"model": RightsRequestOut, "description": "the request"},
        **REPLAY_DOC,
        **error_doc(400, "Idempotency-Key missing or invalid"),
        **NOT_LOGGED_IN_DOC,
        **IDENTITY_DOC,
        **error_doc(409, "account_exists (a corrected phone/email is another account's login) "
                         "or idempotency_key_reused"),
        **error_doc(413, "body over 64 KiB"),
        **error_doc(422, "invalid_request naming the field"),
    },
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["kind"],
        "properties": {
            "kind": {"type": "string", "enum": list(KINDS)},
            "field": {"type": "string", "enum": ["phone", "email", "name"],
                      "description": "correction: what to correct"},
            "value": {"type": "string", "description": "correction: the right value"},
            "case": {"type": "string", "enum": list(DELETION_CASES),
                     "description": "deletion: the case of PIPL art. 47"},
            "text": {"type": "string", "minLength": 1, "maxLength": _MAX_TEXT,
                     "description": "objection: what the user objects to"},
            "purpose": {"type": ["string", "null"], "description": "objection: a purpose id"},
            "requester_name": {"type": "string", "description": "evidence_report"},
            "requester_id_number": {"type": "string", "description": "evidence_report: PRC ID"},
            "reason": {"type": "string", "minLength": 1, "maxLength": _MAX_REASON,
                       "description": "evidence_report"},
            "mailbox": {"type": "string", "format": "email", "description": "evidence_report"},
            "signature_id": {"type": ["string", "null"], "description": "evidence_report"},
        }}}}}},
)
def create_rights_request(
    key: IdempotencyKey, body: RawBody, request: Request, account: LoggedInAccount,
    verified_at: VerifiedAt, store: StoreDep, settings: SettingsDep,
) -> JSONResponse:
    """Record the request and do at once what can be done (module docstring; the kinds in
    docs/protocol.md). A deletion erases what the law lets the server erase and lists what it
    keeps with the reason and until when."""
    app = request.app
    realname, rights, services = realname_for_app(app), rights_for_app(app), services_for_app(app)
    parsed = _parse_request(body, account, realname)
    account_id = account.account_id
    printed = fingerprint({"account_id": account_id, **parsed.printed})
    state = store.idempotency_state(key, REQUESTS_ENDPOINT, printed)
    if state == "conflict":
        raise KEY_REUSED
    # Uploads live in uploads.db: erased before the stub.db transaction, once per key.
    upload_items = (get_uploads(request).erase_account(account_id)
                    if parsed.kind == "deletion" and state == "new" else [])
    verified = epoch_rfc3339(verified_at)

    def action(conn: sqlite3.Connection) -> tuple[int, dict[str, Any]]:
        now = _now(settings)
        stamp = rfc3339(now)
        done = {"status": "completed", "answered_at": stamp}
        if parsed.kind in ("access", "export"):
            fields = {**done, "answer": "已完成：请通过 GET /v1/me/export 查看或导出您的个人信息",
                      "outcome": {"report": "/v1/me/export"}}
        elif parsed.kind == "correction" and parsed.value is not None:
            changed = RightsStore.correct_contact(conn, account_id, parsed.details["field"],
                                                  parsed.value, stamp)
            fields = {**done, "answer": "已更正", "outcome": {
                "applied": True, "login_identifier_changed": changed}}
        elif parsed.kind == "deletion":
            erasure = RealnameStore.erase_account(conn, account_id, now, reason="data_deleted")
            deleted = [*erasure.deleted, *upload_items, *services.erase(account_id, conn)]
            kept: list[dict[str, Any]] = [
                {"item": "consent_records", "reason": _CONSENT_REASON, "keep_until": None}]
            if erasure.signing_records:
                kept.append({"item": "signing_record", "reason": _SIGNING_REASON,
                             "keep_until": erasure.keep_until})
            if erasure.certificates:
                kept.append({"item": "certificate_info", "reason": _SIGNING_REASON,
                             "keep_until": erasure.keep_until})
            requests = RightsStore.erase_provided(conn, account_id)
            if requests.deleted:
                deleted.append("rights_requests")
            if requests.open_kept:
                kept.append({"item": "rights_requests", "reason": _OPEN_REQUESTS_REASON,
                             "keep_until": None})
            if requests.evidence_kept_until:
                kept.append({"item": "evidence_request", "reason": _EVIDENCE_REQUEST_REASON,
                             "keep_until": requests.evidence_kept_until})
            kept.append({"item": "operation_log", "reason": _LOG_REASON,
                         "keep_until": rfc3339(_add_months(now, 6))})
            fields = {**done, "answer": "已删除可以删除的个人信息；依法保留的信息见 outcome.kept",
                      "outcome": {"deleted": deleted, "kept": kept}}
        else:  # a name correction, objection, evidence report: staff answer
            fields = {"status": "received"}
        request_id = RightsStore.insert_request(
            conn, account_id=account_id, kind=parsed.kind, created_at=stamp,
            identity_verified_at=verified, details=parsed.details, provided=parsed.provided,
            **fields)
        answer = rights.request_in(conn, request_id, None)
        assert answer is not None
        return 201, answer

    try:
        answer = store.run_idempotent(key, REQUESTS_ENDPOINT, printed, action,
                                      account_id=account_id)
    except IdempotencyKeyReused:
        raise KEY_REUSED from None
    except AccountExists:
        raise ApiError(409, "account_exists",
                       "another account logs in with this value; it cannot be yours too") from None
    if parsed.kind == "deletion" and not answer.replayed:
        store.checkpoint()  # the WAL still holds the deleted values: truncate it
    return idempotent_json(answer)


# -- GET /v1/me/rights-requests[/{id}] -----------------------------------------------------------


@router.get(
    "/me/rights-requests",
    response_model=RightsRequestList,
    summary="The account's rights requests, newest first",
    responses=NOT_LOGGED_IN_DOC,
)
def list_rights_requests(request: Request, account: LoggedInAccount) -> JSONResponse:
    """``{"requests": [...]}``, each with its deadline and ``overdue`` by the server's clock."""
    requests = rights_for_app(request.app).requests(account.account_id)
    return JSONResponse({"requests": requests}, headers=NO_STORE)


@router.get(
    "/me/rights-requests/{request_id}",
    response_model=RightsRequestOut,
    summary="One of the account's rights requests",
    responses={**NOT_LOGGED_IN_DOC,
               **error_doc(404, "request_not_found: unknown, or another account's")},
)
def get_rights_request(
    request: Request, account: LoggedInAccount,
    request_id: Annotated[str, Path(description="the request_id (uuid4)")],
) -> JSONResponse:
    """The request; 404 ``request_not_found`` for an unknown id and for another account's
    (the same answer: nothing tells them apart)."""
    found = (rights_for_app(request.app).request(account.account_id, request_id)
             if _UUID4.match(request_id) else None)
    if found is None:
        raise _NOT_FOUND
    return JSONResponse(found, headers=NO_STORE)


# -- GET /v1/me/export ---------------------------------------------------------------------------


@router.get(
    "/me/export",
    response_model=ExportDocument,
    summary="Everything held about the account that the user provided or generated, with values",
    responses={**NOT_LOGGED_IN_DOC, **IDENTITY_DOC},
)
def export(request: Request, account: LoggedInAccount, verified_at: VerifiedAt,
           store: StoreDep, settings: SettingsDep) -> JSONResponse:
    """The export document (docs/protocol.md, "Export / access report document") as an
    attachment ``personal-information-export.json``, ``Cache-Control: no-store``."""
    from .me import held_items

    app = request.app
    account_id = account.account_id
    now = _now(settings)
    inventory = store.account_inventory(account_id)
    if inventory is None:  # the account went away after the session was checked
        raise ApiError(401, "not_logged_in", "log in first (POST /v1/sessions)")
    services = services_for_app(app).export(account_id)
    document = {
        "format": "privacy-sdk.export/1",
        "generated_at": rfc3339(now),
        "account": {"account_id": account_id, "created_at": inventory.account_created_at,
                    "identifier_kind": login_kind(account.identifier),
                    **rights_for_app(app).profile(account_id)},
        "notification_preference": services["notification_preference"],
        "consent_records": store.account_consent_records(account_id),
        "personal_information": held_items(request, store, account_id),
        "third_party_transfers": store.transfers(account_id),
        **realname_for_app(app).account_export(account_id, now),
        "rights_requests": rights_for_app(app).requests(account_id, provided=True),
        "support_messages": services["support_messages"],
        "invitations": services["invitations"],
        "notice_acknowledgements": services["notice_acknowledgements"],
    }
    return JSONResponse(document, headers={
        **NO_STORE,
        "Content-Disposition": 'attachment; filename="personal-information-export.json"'})


# -- cancellation (OBL-DSR-7) ------------------------------------------------------------------


@router.post(
    "/me/cancellation",
    status_code=200,
    response_model=CancellationNotice,
    summary="Cancellation step 1: what will be lost and kept, and a token to confirm (nothing "
            "changes yet)",
    responses={
        **error_doc(400, "Idempotency-Key missing or invalid"),
        **NOT_LOGGED_IN_DOC,
        **IDENTITY_DOC,
        **error_doc(413, "body over 64 KiB"),
        **error_doc(422, "invalid_request: the body must be empty or {}"),
    },
)
def begin_cancellation(key: IdempotencyKey, body: RawBody, request: Request,
                       account: LoggedInAccount, verified_at: VerifiedAt,
                       settings: SettingsDep) -> JSONResponse:
    """``{"cancellation_token", "expires_at", "will_lose", "kept"}``. The answer holds a
    secret, so it is not stored for replays: a retry (any Idempotency-Key) gets a new token
    and the earlier one ends; nothing else changes in this step.

    ``will_lose`` adds ``open_requests`` when the account has requests still waiting for an
    answer (the confirmation ends them). ``kept`` lists only what this account has:
    ``signing_record`` when it has signing records, ``certificate_info`` for the
    certificates backing them, ``evidence_request`` when evidence report requests keep their
    fields; empty when nothing is kept."""
    if body.strip():
        decode_json_fields(body, {}, ())
    app, account_id = request.app, account.account_id
    rights = rights_for_app(app)
    token, expires_at = rights.create_cancellation(account_id)
    keep_until = rfc3339(add_years(_now(settings), SIGNING_RECORD_YEARS))
    records = realname_for_app(app).signing_records(account_id)
    kept: list[dict[str, Any]] = []
    if records:
        kept.append({"item": "signing_record", "keep_until": keep_until,
                     "reason": _SIGNING_REASON})
        kept.append({"item": "certificate_info", "keep_until": keep_until,
                     "reason": _SIGNING_REASON})
    with rights.connect() as conn:
        evidence_until = RightsStore.evidence_kept_until(conn, account_id)
    if evidence_until is not None:
        kept.append({"item": "evidence_request", "keep_until": evidence_until,
                     "reason": _EVIDENCE_REQUEST_REASON})
    losses = [*WILL_LOSE, *([OPEN_REQUESTS_LOSS] if rights.has_open_requests(account_id) else [])]
    answer = {
        "cancellation_token": token,
        "expires_at": epoch_rfc3339(expires_at),
        "will_lose": [{"code": code, "text": text} for code, text in losses],
        "kept": kept,
    }
    return JSONResponse(answer, headers=NO_STORE)


@router.post(
    "/me/cancellation/confirm",
    status_code=200,
    response_model=None,
    summary="Cancellation step 2: cancel the account (idempotent)",
    responses={
        200: {"model": CancellationDone,
              "description": "cancelled (a replay of the same key and token adds header "
                             "Idempotent-Replayed: true, also without the session, which ended)"},
        **error_doc(400, "Idempotency-Key missing or invalid"),
        **NOT_LOGGED_IN_DOC,
        **error_doc(403, "cancellation_token_invalid: wrong, expired or already used"),
        **error_doc(409, "idempotency_key_reused"),
        **error_doc(413, "body over 64 KiB"),
        **error_doc(422, "invalid_request"),
    },
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["cancellation_token"], "additionalProperties": False,
        "properties": {"cancellation_token": {"type": "string"}}}}}}},
)
def confirm_cancellation(key: IdempotencyKey, body: RawBody, request: Request,
                         account: OptionalAccount, store: StoreDep, settings: SettingsDep,
                         sid: SessionCookie = None) -> JSONResponse:
    """Cancel the account, in one transaction of ``stub.db`` (the uploads, in their own
    database, just before): every session ends, the account is anonymised (the identifier
    can register again, the old one never logs in), the real-name data, support messages,
    invitations, notification email, contact profile, the stored idempotent answers of the
    account and what rights requests kept go (except evidence report request fields, kept
    5 years from the application), open requests end with status ``closed``, certificates
    are revoked, and the signing records with the certificates backing them are kept until
    ``cancelled_at`` + 5 years (Electronic Signature Law), linked only to the account id.
    Consent records stay as proof; their install ids are unlinked. The answer also expires
    the session cookie."""
    data = decode_json_fields(body, {"cancellation_token": str}, ("cancellation_token",))
    token = data["cancellation_token"]
    printed = hashlib.sha256(f"{CONFIRM_ENDPOINT}\0{token}".encode()).hexdigest()
    app = request.app
    not_logged_in = ApiError(401, "not_logged_in", "log in first (POST /v1/sessions)",
                             headers={"Set-Cookie": expired_session_cookie()} if sid else None)
    invalid = ApiError(403, "cancellation_token_invalid",
                       "the cancellation token is wrong, expired or used; start again: "
                       "POST /v1/me/cancellation")

    def refuse(conn: sqlite3.Connection) -> tuple[int, dict[str, Any]]:
        raise not_logged_in

    if account is None:  # a retry after success (the session ended) is a replay, else 401
        try:
            answer = store.run_idempotent(key, CONFIRM_ENDPOINT, printed, refuse)
        except IdempotencyKeyReused:
            raise not_logged_in from None
        return _cancelled(answer)
    rights, services = rights_for_app(app), services_for_app(app)
    realname_for_app(app)  # made (schema checked) before the transaction, not inside it
    account_id = account.account_id
    state = store.idempotency_state(key, CONFIRM_ENDPOINT, printed)
    if state == "conflict":
        raise KEY_REUSED
    if state == "new":
        if not rights.cancellation_token_valid(account_id, token):
            raise invalid
        get_uploads(request).erase_account(account_id)

    def cancel(conn: sqlite3.Connection) -> tuple[int, dict[str, Any]]:
        if not rights.cancellation_token_valid(account_id, token, conn):
            raise invalid
        now = _now(settings)
        cancelled_at, until = rfc3339(now), rfc3339(add_years(now, SIGNING_RECORD_YEARS))
        RealnameStore.erase_account(conn, account_id, now, reason="account_cancelled",
                                    evidence_from=now)
        services.erase(account_id, conn)
        RightsStore.forget_account(conn, account_id, cancelled_at, until)
        Store.anonymise_account(conn, account_id)
        return 200, {"cancelled_at": cancelled_at, "evidence_kept_until": until}

    try:
        answer = store.run_idempotent(key, CONFIRM_ENDPOINT, printed, cancel)
    except IdempotencyKeyReused:
        raise KEY_REUSED from None
    if not answer.replayed:
        store.checkpoint()  # the WAL still holds the deleted values: truncate it
    return _cancelled(answer)


def _cancelled(answer: Any) -> JSONResponse:
    response = idempotent_json(answer)
    response.headers.append("Set-Cookie", expired_session_cookie())
    return response


# -- dev: staff's answer -------------------------------------------------------------------------


@router.post(
    "/dev/rights-requests/{request_id}/answer",
    include_in_schema=False,
    dependencies=[Depends(require_dev_mode)],
)
def answer_rights_request(
    key: IdempotencyKey, body: RawBody, request: Request, store: StoreDep,
    request_id: Annotated[str, Path()],
) -> JSONResponse:
    """Dev mode only (404 otherwise): staff's answer to a request, ``{"status": "in_progress"
    | "completed" | "rejected", "answer": text}`` → 200 the request; with ``completed`` or
    ``rejected`` what the user gave goes (except an evidence report request's fields, kept 5
    years). 404 ``request_not_found``; 409 ``request_closed`` when it was already completed,
    rejected or closed."""
    data = decode_json_fields(body, {"status": str, "answer": str}, ("status", "answer"))
    if data["status"] not in ("in_progress", "completed", "rejected"):
        raise ApiError(422, "invalid_request",
                       "field 'status' must be in_progress, completed or rejected")
    text = _text(data, "answer", _MAX_TEXT)
    rights = rights_for_app(request.app)

    def answer(conn: sqlite3.Connection) -> tuple[int, dict[str, Any]]:
        try:
            found = rights.answer_in(conn, request_id, data["status"], text)
        except ValueError:
            raise ApiError(409, "request_closed",
                           "this request was already completed, rejected or closed") from None
        if found is None:
            raise _NOT_FOUND
        return 200, found

    if not _UUID4.match(request_id):
        raise _NOT_FOUND
    try:
        result = store.run_idempotent(
            key, ANSWER_ENDPOINT, fingerprint({"request_id": request_id, **data}), answer,
            account_id=rights.request_owner(request_id))
    except IdempotencyKeyReused:
        raise KEY_REUSED from None
    if data["status"] != "in_progress" and not result.replayed:
        store.checkpoint()  # the WAL still holds the deleted values: truncate it
    return idempotent_json(result)

