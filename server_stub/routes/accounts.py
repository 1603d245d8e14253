"""``/v1/accounts``, ``/v1/sessions``, ``/v1/me``: register, log in, log out, who am I.

OBL-ACC-1: an account is a phone number or an email address plus a password, nothing else;
the server checks both again (it never trusts the client) and keeps only the normalised
identifier, an Argon2id hash and the creation time. Error messages and logs never contain
a request value.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from sdk.account.identifiers import Identifier, parse_identifier
from sdk.account.password import check_password
from sdk.errors import InvalidIdentifier

from ..accounts import expired_session_cookie, session_cookie
from ..deps import (
    AccountsDep,
    IdempotencyKey,
    LoggedInAccount,
    RawBody,
    SessionCookie,
    StoreDep,
)
from ..errors import ApiError
from ..models import AccountCreated, AccountOut, SessionOut, WeakPasswordBody
from ..responses import NOT_LOGGED_IN_DOC, error_doc
from ..store import AccountExists, IdempotencyKeyReused, epoch_rfc3339

router = APIRouter(tags=["accounts"])

ENDPOINT = "POST /v1/accounts"


def _reject_constant(name: str) -> Any:
    raise ValueError("NaN and Infinity are not JSON")


def _parse_body(body: bytes, required: dict[str, type], optional: dict[str, type]) -> dict[str, Any]:
    """The JSON object of the body with exactly these fields of these types.

    Raises:
        ApiError: 422 ``invalid_request`` naming the field (never its value). Unknown fields
            are refused: an account takes nothing beyond identifier and password (OBL-ACC-1).
    """
    try:
        data = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError):
        raise ApiError(422, "invalid_request", "the body must be a JSON object in UTF-8") from None
    if not isinstance(data, dict):
        raise ApiError(422, "invalid_request", "the body must be a JSON object")
    allowed = {**required, **optional}
    if any(k not in allowed for k in data):
        # Field names are not echoed either: a client could put anything in them.
        raise ApiError(
            422,
            "invalid_request",
            f"unknown field: only {', '.join(sorted(allowed))} are accepted "
            "(nothing else is collected)",
        )
    for name, kind in allowed.items():
        if name not in data:
            if name in required:
                raise ApiError(422, "invalid_request", f"field '{name}' is required")
            continue
        value = data[name]
        if not isinstance(value, kind):
            noun = "a boolean" if kind is bool else "a string"
            raise ApiError(422, "invalid_request", f"field '{name}' must be {noun}")
    return data


def _identifier(text: str) -> Identifier:
    try:
        return parse_identifier(text)
    except InvalidIdentifier as exc:
        # exc's message is written by sdk.account.identifiers and never contains the input.
        raise ApiError(422, "invalid_identifier", str(exc)) from None


def _address(request: Request) -> str | None:
    return request.client.host if request.client else None


def _throttled(retry_after: int) -> ApiError:
    return ApiError(
        429,
        "too_many_attempts",
        f"too many failed attempts; try again in {retry_after} seconds",
        headers={"Retry-After": str(retry_after)},
    )


# -- POST /v1/accounts -------------------------------------------------------------------


@router.post(
    "/accounts",
    status_code=201,
    response_model=None,
    summary="Register with a phone number or an email address and a password (idempotent)",
    responses={
        201: {"model": AccountCreated, "description": "created"},
        200: {
            "model": AccountCreated,
            "description": "replay of an earlier identical request; header Idempotent-Replayed: true",
        },
        **error_doc(400, "Idempotency-Key missing or invalid"),
        **error_doc(409, "account_exists or idempotency_key_reused"),
        **error_doc(413, "body over 64 KiB"),
        **error_doc(422, "invalid_request, invalid_identifier, or weak_password (with reasons)", WeakPasswordBody),
        **error_doc(429, "too_many_attempts; header Retry-After (seconds)"),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["identifier", "password"],
                        "additionalProperties": False,
                        "properties": {
                            "identifier": {"type": "string", "description": "mobile number or email"},
                            "password": {"type": "string", "format": "password"},
                        },
                    }
                }
            },
        }
    },
)
def register(
    key: IdempotencyKey, body: RawBody, request: Request, store: StoreDep, accounts: AccountsDep
) -> JSONResponse:
    """Create an account; answer ``201 {"account_id", "identifier_kind"}``.

    The identifier and the password are checked again here (same rules as the SDK).
    ``409 account_exists`` when the identifier is registered (such answers count against
    the caller's address in the login throttle, which limits probing for accounts).
    """
    data = _parse_body(body, {"identifier": str, "password": str}, {})
    identifier = _identifier(data["identifier"])
    check = check_password(data["password"], (identifier.value,))
    if not check.ok:
        return JSONResponse(
            {
                "error": "weak_password",
                "message": "the password does not meet the strength policy; see reasons",
                "reasons": list(check.reasons),
            },
            status_code=422,
        )
    address = _address(request)
    wait = accounts.throttle.retry_after(None, address)
    if wait is not None:
        raise _throttled(wait)
    password_hash = accounts.hash_password(data["password"])  # slow: outside the transaction
    # The idempotency fingerprint covers the identifier only: a fast hash of a body holding
    # the password would be an offline-guessable copy of it. A replay is checked against the
    # account's Argon2 hash below instead. The store keeps only a keyed form of it
    # (Store.keyed_fingerprint): a plain hash of a phone number is brute-forced in seconds.
    fingerprint = hashlib.sha256(f"{ENDPOINT}\0{identifier.value}".encode("utf-8")).hexdigest()

    def insert(conn: sqlite3.Connection) -> tuple[int, dict[str, Any]]:
        account_id = store.insert_account(conn, identifier.value, password_hash)
        return 201, {"account_id": account_id, "identifier_kind": identifier.kind}

    reused = ApiError(
        409,
        "idempotency_key_reused",
        "this Idempotency-Key was already used with a different request; use a new key "
        "for a new request",
    )
    try:
        answer = store.run_idempotent(key, ENDPOINT, fingerprint, insert)
    except IdempotencyKeyReused:
        raise reused from None
    except AccountExists:
        accounts.throttle.failed(None, address)
        raise ApiError(
            409,
            "account_exists",
            "an account with this identifier already exists; log in instead",
        ) from None
    if answer.replayed:
        account = store.account_by_id(str(answer.body.get("account_id")))
        if account is None or not accounts.password_matches(account.password_hash, data["password"]):
            raise reused
        return JSONResponse(answer.body, status_code=200, headers={"Idempotent-Replayed": "true"})
    return JSONResponse(answer.body, status_code=answer.status)


# -- POST /v1/sessions -------------------------------------------------------------------


@router.post(
    "/sessions",
    response_model=SessionOut,
    summary="Log in: a new session cookie (rotated on every login)",
    responses={
        200: {"description": "logged in; header Set-Cookie: sid=...; Secure; HttpOnly; SameSite=Strict"},
        **error_doc(401, "invalid_credentials (the same for an unknown identifier and a wrong password)"),
        **error_doc(413, "body over 64 KiB"),
        **error_doc(422, "invalid_request or invalid_identifier"),
        **error_doc(429, "too_many_attempts; header Retry-After (seconds)"),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["identifier", "password"],
                        "additionalProperties": False,
                        "properties": {
                            "identifier": {"type": "string"},
                            "password": {"type": "string", "format": "password"},
                            "remember_me": {"type": "boolean", "default": False},
                        },
                    }
                }
            },
        }
    },
)
def login(body: RawBody, request: Request, accounts: AccountsDep, sid: SessionCookie = None) -> JSONResponse:
    """Check the password and start a session.

    Not replayed by Idempotency-Key (the header is accepted and ignored): the answer holds a
    fresh token the server never stores in clear. A session cookie sent with the request is
    ended: a login rotates the caller's session.
    """
    data = _parse_body(
        body, {"identifier": str, "password": str}, {"remember_me": bool}
    )
    identifier = _identifier(data["identifier"])
    address = _address(request)
    wait, attempt = accounts.throttle.begin_attempt(identifier.value, address)
    if wait is not None:
        raise _throttled(wait)
    account = accounts.authenticate(identifier.value, data["password"])
    if account is None:  # counted as a failure by begin_attempt
        raise ApiError(401, "invalid_credentials", "the identifier or the password is wrong")
    accounts.throttle.succeeded(identifier.value, address, attempt)
    remember_me = bool(data.get("remember_me", False))
    outcome = accounts.start_session(account, remember_me, sid)
    answer = SessionOut(
        account_id=account.account_id,
        identifier_kind=identifier.kind,
        identifier_masked=identifier.masked,
        remember_me=remember_me,
        expires_at=epoch_rfc3339(outcome.expires_at),
    )
    response = JSONResponse(answer.model_dump(), status_code=200)
    response.headers.append("Set-Cookie", session_cookie(outcome.token, outcome.max_age))
    response.headers["Cache-Control"] = "no-store"
    return response


# -- DELETE /v1/sessions/current ---------------------------------------------------------


@router.delete(
    "/sessions/current",
    status_code=204,
    response_class=Response,
    summary="Log out: end the session on the server and expire the cookie",
    responses={204: {"description": "logged out (also when there was no session)"}},
)
def logout(accounts: AccountsDep, sid: SessionCookie = None) -> Response:
    """End the caller's session (if any) and answer ``Set-Cookie: sid=; Max-Age=0``.

    Always 204, so logging out twice (or after the session expired) is not an error.
    """
    accounts.end_session(sid)
    response = Response(status_code=204)
    response.headers.append("Set-Cookie", expired_session_cookie())
    return response


# -- GET /v1/me --------------------------------------------------------------------------


@router.get(
    "/me",
    response_model=AccountOut,
    summary="The logged-in account (identifier masked)",
    responses=NOT_LOGGED_IN_DOC,
)
def me(account: LoggedInAccount) -> JSONResponse:
    """``{"account_id", "identifier_kind", "identifier_masked"}`` for the session's account."""
    identifier = Identifier("email" if "@" in account.identifier else "phone", account.identifier)
    answer = AccountOut(
        account_id=account.account_id,
        identifier_kind=identifier.kind,
        identifier_masked=identifier.masked,
    )
    return JSONResponse(answer.model_dump(), headers={"Cache-Control": "no-store"})
