"""Customer service, the notification channel and counter-signer invitations (issue #7;
docs/protocol.md, "Customer service, notifications, invitations, notices, data region").

- ``POST /v1/me/support-messages`` ``{"text": 1..2000 characters, "contact"?: phone or
  email}`` → 201 the message; ``GET /v1/me/support-messages`` → ``{"messages": [...]}``
  (OBL-CS-1, manifest item ``cs_message``, retention P2Y).
- ``GET`` / ``PUT /v1/me/notification-preference`` ``{"channel": "sms"|"email", "email"?}``
  (OBL-MAIL-1, item ``notification_email``): sms by default; the email channel needs an
  email (422 ``email_required``); ``{"channel": "sms"}`` without an email deletes the stored
  one. No other endpoint reads it: every flow works without an email.
- ``POST /v1/me/invitations`` ``{"template_id", "phone", "authorisation_attested": true}`` →
  201 ``{"invitation_id", "template_id", "phone_masked", "attested_at", "attestation"}``;
  ``GET /v1/me/invitations`` (OBL-PHONE-1, item ``counter_signer_phone``, retention P5Y).
  Without the user's attestation that the counter-signer agreed: 422
  ``attestation_required`` and nothing is stored. The number is stored as E.164 and answered
  only masked.

Every endpoint needs a session and acts on the session's own account only; answers carry
``Cache-Control: no-store``. Phone numbers and email addresses are checked as the device
checks them (:mod:`sdk.account.identifiers`: phonenumbers, email-validator); error messages
name the field, never the value.
"""

from __future__ import annotations

import datetime as _dt
import sqlite3
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from sdk.account.identifiers import Identifier, parse_identifier
from sdk.errors import InvalidIdentifier

from ..deps import (
    IdempotencyKey,
    LoggedInAccount,
    RawBody,
    SettingsDep,
    StoreDep,
    TemplatesDep,
)
from ..errors import ApiError, decode_json_fields
from ..models import (
    Invitation,
    InvitationList,
    NotificationPreference,
    SupportMessage,
    SupportMessageList,
)
from ..responses import (
    NO_STORE,
    NOT_LOGGED_IN_DOC,
    REPLAY_DOC,
    error_doc,
    run_idempotent_json,
)
from ..services_store import (
    ENDPOINT_INVITATION,
    ENDPOINT_SUPPORT_MESSAGE,
    ITEM_COUNTER_SIGNER_PHONE,
    ITEM_CS_MESSAGE,
    ServicesStore,
    for_app,
)
from ..settings import Settings
from .consent import fingerprint

__all__ = ["MAX_TEXT_LENGTH", "router"]

router = APIRouter(tags=["support"])

#: Longest support message, in characters.
MAX_TEXT_LENGTH = 2000
_MAX_TEMPLATE_ID = 128

_EXPECT_PHONE = ("expected a valid mobile phone number, e.g. 13800138000 or +86 138 0013 8000 "
                 "(numbers outside China need their + country code)")
_EXPECT_EMAIL = "expected a valid email address, e.g. name@example.com"


def _now(settings: Settings) -> _dt.datetime:
    return _dt.datetime.fromtimestamp(settings.clock(), _dt.timezone.utc)


def _parse(text: str, field: str, kinds: tuple[str, ...]) -> Identifier:
    """*text* as a phone number or email address of one of *kinds*.

    Raises:
        ApiError: 422 ``invalid_request`` naming *field* and what is expected.
    """
    expected = " or ".join(_EXPECT_PHONE if k == "phone" else _EXPECT_EMAIL for k in kinds)
    try:
        parsed = parse_identifier(text)
    except InvalidIdentifier:
        parsed = None
    if parsed is None or parsed.kind not in kinds:
        raise ApiError(422, "invalid_request", f"field '{field}' is not valid: {expected}")
    return parsed


def _retentions(request: Request) -> dict[str, Any]:
    """The served manifest's retention of the items kept here (None when not declared)."""
    policy = getattr(getattr(request.app.state, "uploads", None), "policy", None)
    if policy is None:
        return {}
    return {item: policy.retention(item) for item in (ITEM_CS_MESSAGE, ITEM_COUNTER_SIGNER_PHONE)}


def _services(request: Request, now: _dt.datetime) -> tuple[ServicesStore, dict[str, Any]]:
    """The app's store and the retentions, after the cheap trigger of its purge of rows past
    their retention (at most once a minute; the lists hide expired rows meanwhile)."""
    services, retentions = for_app(request.app), _retentions(request)
    services.maybe_purge_expired(now, retentions)
    return services, retentions


# -- support messages (OBL-CS-1) -----------------------------------------------------------


@router.post(
    "/me/support-messages",
    status_code=201,
    response_model=SupportMessage,
    summary="Send a message to customer service (idempotent)",
    responses={
        201: {"model": SupportMessage, "description": "stored"},
        **REPLAY_DOC,
        **error_doc(400, "Idempotency-Key missing or invalid"),
        **NOT_LOGGED_IN_DOC,
        **error_doc(409, "idempotency_key_reused"),
        **error_doc(413, "body over 64 KiB"),
        **error_doc(422, "invalid_request: text missing, blank or over 2000 characters; contact "
                         "not a mobile phone number or email address; an unknown field"),
    },
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["text"], "additionalProperties": False,
        "properties": {
            "text": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT_LENGTH},
            "contact": {"type": ["string", "null"],
                        "description": "optional: a mobile phone number or an email address"},
        },
    }}}}},
)
def send_support_message(
    key: IdempotencyKey, body: RawBody, request: Request, account: LoggedInAccount,
    store: StoreDep, settings: SettingsDep,
) -> JSONResponse:
    """Store the message with the session's account; the contact (when given) normalised
    (E.164 or lower-case email). The answer is ``null`` until staff answer."""
    data = decode_json_fields(body, {"text": (str,), "contact": (str, type(None))}, ("text",))
    text = data["text"]
    if not text.strip():
        raise ApiError(422, "invalid_request", "field 'text' must not be blank")
    if len(text) > MAX_TEXT_LENGTH:
        raise ApiError(422, "invalid_request",
                       f"field 'text' is too long: at most {MAX_TEXT_LENGTH} characters")
    contact = data.get("contact")
    normalised = None if contact is None else _parse(contact, "contact", ("phone", "email")).value
    now = _now(settings)
    services, _ = _services(request, now)

    def insert(conn: sqlite3.Connection) -> tuple[int, dict[str, Any]]:
        return 201, services.insert_message(conn, account.account_id, text, normalised, now, key)

    return run_idempotent_json(
        store, key, ENDPOINT_SUPPORT_MESSAGE,
        fingerprint({"account_id": account.account_id, "text": text, "contact": normalised}),
        insert, account_id=account.account_id)


@router.get(
    "/me/support-messages",
    response_model=SupportMessageList,
    summary="The account's support messages, newest first",
    responses=NOT_LOGGED_IN_DOC,
)
def list_support_messages(request: Request, account: LoggedInAccount,
                          settings: SettingsDep) -> JSONResponse:
    """``{"messages": [{"message_id", "received_at", "text", "contact", "answer"}]}``: only
    the session's account's messages."""
    now = _now(settings)
    services, retentions = _services(request, now)
    return JSONResponse({"messages": services.messages(account.account_id, now, retentions)},
                        headers=NO_STORE)


# -- notification channel (OBL-MAIL-1) -----------------------------------------------------


@router.get(
    "/me/notification-preference",
    response_model=NotificationPreference,
    summary="How the account gets service notifications (default: sms, no email)",
    responses=NOT_LOGGED_IN_DOC,
)
def get_notification_preference(request: Request, account: LoggedInAccount) -> JSONResponse:
    """``{"channel": "sms"|"email", "email": str|null}``."""
    return JSONResponse(for_app(request.app).preference(account.account_id), headers=NO_STORE)


@router.put(
    "/me/notification-preference",
    response_model=NotificationPreference,
    summary="Choose the notification channel; sms without an email deletes the stored email",
    responses={
        **NOT_LOGGED_IN_DOC,
        **error_doc(413, "body over 64 KiB"),
        **error_doc(422, "email_required: the email channel needs an email; invalid_request: "
                         "unknown channel, not an email address, or an unknown field"),
    },
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["channel"], "additionalProperties": False,
        "properties": {
            "channel": {"type": "string", "enum": ["sms", "email"]},
            "email": {"type": ["string", "null"], "description": "required for channel email"},
        },
    }}}}},
)
def put_notification_preference(body: RawBody, request: Request, account: LoggedInAccount,
                                settings: SettingsDep) -> JSONResponse:
    """Set the channel. ``email`` needs an email address (422 ``email_required``);
    ``{"channel": "sms"}`` with no email deletes the stored email (an email sent with ``sms``
    is kept for later). Answers the new preference."""
    data = decode_json_fields(body, {"channel": (str,), "email": (str, type(None))}, ("channel",))
    channel = data["channel"]
    if channel not in ("sms", "email"):
        raise ApiError(422, "invalid_request", "field 'channel' must be sms or email")
    email = data.get("email")
    if channel == "email" and not email:
        raise ApiError(422, "email_required",
                       "the email channel needs an email address: send field 'email' too, or "
                       "choose channel sms")
    address = None if not email else _parse(email, "email", ("email",)).value
    preference = for_app(request.app).set_preference(account.account_id, channel, address,
                                                     _now(settings))
    return JSONResponse(preference, headers=NO_STORE)


# -- invitations (OBL-PHONE-1) -------------------------------------------------------------


@router.post(
    "/me/invitations",
    status_code=201,
    response_model=Invitation,
    summary="Invite a counter-signer by phone number, with the user's attestation (idempotent)",
    responses={
        201: {"model": Invitation, "description": "stored; the number only masked"},
        **REPLAY_DOC,
        **error_doc(400, "Idempotency-Key missing or invalid"),
        **NOT_LOGGED_IN_DOC,
        **error_doc(404, "template_not_found"),
        **error_doc(409, "idempotency_key_reused"),
        **error_doc(413, "body over 64 KiB"),
        **error_doc(422, "attestation_required: authorisation_attested is not true (nothing is "
                         "stored); invalid_request: a field missing or wrong, or not a mobile "
                         "phone number"),
    },
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["template_id", "phone", "authorisation_attested"],
        "additionalProperties": False,
        "properties": {
            "template_id": {"type": "string"},
            "phone": {"type": "string", "description": "the counter-signer's mobile number"},
            "authorisation_attested": {
                "type": "boolean", "const": True,
                "description": "the user attests: 我已取得对方同意，向其提供手机号码用于邀请签署"},
        },
    }}}}},
)
def invite_counter_signer(
    key: IdempotencyKey, body: RawBody, request: Request, account: LoggedInAccount,
    store: StoreDep, settings: SettingsDep, templates: TemplatesDep,
) -> JSONResponse:
    """Check, in order: the body's fields, the attestation (must be ``true``), the template,
    the phone number; then store the invitation (E.164) with the attestation's text and time."""
    data = decode_json_fields(body, {"template_id": (str,), "phone": (str,),
                        "authorisation_attested": (bool, str, int, float, type(None), list, dict)},
                 ("template_id", "phone"))
    if data.get("authorisation_attested") is not True:
        raise ApiError(
            422, "attestation_required",
            "field 'authorisation_attested' must be true: the user confirms having the "
            "counter-signer's permission to give their phone number for the invitation; "
            "nothing was stored")
    template_id = data["template_id"]
    if len(template_id) > _MAX_TEMPLATE_ID or template_id not in templates:
        raise ApiError(404, "template_not_found",
                       "no template has this id; GET /v1/templates lists them")
    phone = _parse(data["phone"], "phone", ("phone",)).value
    now = _now(settings)
    services, _ = _services(request, now)

    def insert(conn: sqlite3.Connection) -> tuple[int, dict[str, Any]]:
        return 201, services.insert_invitation(conn, account.account_id, template_id, phone,
                                               now, key)

    return run_idempotent_json(
        store, key, ENDPOINT_INVITATION,
        fingerprint({"account_id": account.account_id, "template_id": template_id,
                     "phone": phone}),
        insert, account_id=account.account_id)


@router.get(
    "/me/invitations",
    response_model=InvitationList,
    summary="The account's invitations, newest first (numbers masked)",
    responses=NOT_LOGGED_IN_DOC,
)
def list_invitations(request: Request, account: LoggedInAccount,
                     settings: SettingsDep) -> JSONResponse:
    """``{"invitations": [{"invitation_id", "template_id", "phone_masked", "attested_at",
    "attestation"}]}``."""
    now = _now(settings)
    services, retentions = _services(request, now)
    return JSONResponse({"invitations": services.invitations(account.account_id, now,
                                                             retentions)}, headers=NO_STORE)
