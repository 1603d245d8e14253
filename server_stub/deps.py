"""FastAPI dependencies, as ``Annotated`` aliases to put in endpoint signatures.

FastAPI resolves them in the order of the parameters, so put :data:`IdempotencyKey` before
:data:`RawBody`: a POST without a key then answers 400 before its body is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

from fastapi import Cookie, Depends, Header, Request
from starlette.exceptions import HTTPException as StarletteHTTPException

from .accounts import SESSION_COOKIE, AccountService, expired_session_cookie
from .content import Template
from .errors import ApiError
from .hpke import KeyRing
from .settings import Settings
from .store import AccountRow, Store
from .uploads import UploadStore

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_IDEMPOTENCY_KEY_LENGTH",
    "SettingsDep",
    "StoreDep",
    "PolicyDirDep",
    "TemplatesDep",
    "IdempotencyKey",
    "RawBody",
    "AccountsDep",
    "get_key_ring",
    "get_uploads",
    "require_dev_mode",
    "SessionCookie",
    "OptionalAccount",
    "LoggedInAccount",
]

MAX_BODY_BYTES = 64 * 1024
MAX_IDEMPOTENCY_KEY_LENGTH = 255


def get_settings(request: Request) -> Settings:
    """The app's :class:`Settings`."""
    settings: Settings = request.app.state.settings
    return settings


def get_store(request: Request) -> Store:
    """The app's :class:`Store`."""
    store: Store = request.app.state.store
    return store


def get_policy_dir(request: Request) -> Path:
    """The folder of ``policy.md`` and ``manifest.toml`` (resolved when the app was made)."""
    policy_dir: Path = request.app.state.policy_dir
    return policy_dir


def get_templates(request: Request) -> Mapping[str, Template]:
    """The bundled templates, keyed by id."""
    templates: Mapping[str, Template] = request.app.state.templates
    return templates


def require_dev_mode(request: Request) -> None:
    """404 (as for any unknown path) unless the server runs in dev mode (``Settings.dev_mode``):
    the dependency of every ``/v1/dev/...`` router."""
    if not getattr(request.app.state.settings, "dev_mode", False):
        raise StarletteHTTPException(status_code=404)


def get_key_ring(request: Request) -> KeyRing:
    """The app's HPKE :class:`KeyRing` (``app.state.hpke``)."""
    ring: KeyRing = request.app.state.hpke
    return ring


def get_uploads(request: Request) -> UploadStore:
    """The app's :class:`UploadStore` (``app.state.uploads``)."""
    uploads: UploadStore = request.app.state.uploads
    return uploads


def idempotency_key(
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Required on every POST: a fresh uuid4 per logical request, reused on "
            "retries (for consent records: the record_id).",
        ),
    ] = None,
) -> str:
    """The ``Idempotency-Key`` header of a POST.

    Raises:
        ApiError: 400 ``idempotency_key_required`` when missing or blank; 400
            ``invalid_idempotency_key`` when longer than 255 or not visible ASCII.
    """
    if key is None or not key.strip():
        raise ApiError(
            400,
            "idempotency_key_required",
            "every POST needs an Idempotency-Key header (a uuid4, the same on retries)",
        )
    if len(key) > MAX_IDEMPOTENCY_KEY_LENGTH or not all(33 <= ord(ch) <= 126 for ch in key):
        raise ApiError(
            400,
            "invalid_idempotency_key",
            f"the Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} visible ASCII "
            "characters (a uuid4 is recommended)",
        )
    return key


def get_accounts(request: Request) -> AccountService:
    """The app's :class:`AccountService`."""
    service: AccountService = request.app.state.accounts
    return service


SessionCookie = Annotated[
    str | None, Cookie(alias=SESSION_COOKIE, description="the session token set by POST /v1/sessions")
]


def optional_account(
    accounts: Annotated[AccountService, Depends(get_accounts)], sid: SessionCookie = None
) -> AccountRow | None:
    """The account of the request's session cookie, or None (no cookie, ended or expired)."""
    return accounts.session_account(sid)


def logged_in_account(
    accounts: Annotated[AccountService, Depends(get_accounts)], sid: SessionCookie = None
) -> AccountRow:
    """The account of the request's session cookie.

    Raises:
        ApiError: 401 ``not_logged_in``; when a cookie was sent (its session ended or
            expired) the answer also clears it.
    """
    account = accounts.session_account(sid)
    if account is None:
        headers = {"Set-Cookie": expired_session_cookie()} if sid else None
        raise ApiError(401, "not_logged_in", "log in first (POST /v1/sessions)", headers=headers)
    return account


async def raw_body(request: Request) -> bytes:
    """The request body as bytes, at most :data:`MAX_BODY_BYTES`.

    Raises:
        ApiError: 413 ``body_too_large`` when the body is larger.
    """
    too_large = ApiError(
        413, "body_too_large", f"the request body must be at most {MAX_BODY_BYTES} bytes"
    )
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise too_large
    return bytes(body)


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[Store, Depends(get_store)]
PolicyDirDep = Annotated[Path, Depends(get_policy_dir)]
TemplatesDep = Annotated[Mapping[str, Template], Depends(get_templates)]
IdempotencyKey = Annotated[str, Depends(idempotency_key)]
RawBody = Annotated[bytes, Depends(raw_body)]
AccountsDep = Annotated[AccountService, Depends(get_accounts)]
OptionalAccount = Annotated[AccountRow | None, Depends(optional_account)]
LoggedInAccount = Annotated[AccountRow, Depends(logged_in_account)]
