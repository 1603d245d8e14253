"""Development-only cookie endpoints: ``/v1/dev/cookies/...`` (``Settings.dev_mode``).

They set cookies the way real backends do, so the SDK's cookie jar can be tested against a
real server over real HTTPS (issue 3, "Cookie jar"). They answer ``404 not_found`` unless the
server runs with ``Settings(dev_mode=True)`` (``python -m server_stub --dev``), and are left
out of ``/openapi.json``: they are not part of the wire protocol.

Endpoints::

    GET /v1/dev/cookies/set?case=<case>   sets the cookie(s) of one case (table below)
    GET /v1/dev/cookies/redirect?status=302|307
                                          sets ``ck_redirect`` on the redirect response
                                          itself, Location: /v1/dev/cookies/echo
    GET /v1/dev/cookies/echo              {"names": [...]}: names of the cookies received,
                                          sorted; never their values

Cases (each value is random, so a test can look for it on disk)::

    persistent    ck_persist   Max-Age=3600; Path=/; Secure; HttpOnly; SameSite=Strict
    session       ck_session   Path=/; Secure; HttpOnly; SameSite=Lax (no expiry)
    host_only     ck_host      Max-Age=3600; Path=/ (no Domain: host-only)
    domain        ck_domain    Max-Age=3600; Path=/; Domain=<the request's host name>
    expire        ck_persist   Max-Age=0; Path=/ (deletes the persistent case's cookie)
    secure_flags  ck_flags     Expires=<now + 1 day, HTTP date>; Path=/; Secure; HttpOnly;
                               SameSite=None
    path          ck_path      Max-Age=3600; Path=/v1/dev/cookies/echo

The header values are built here; clients must parse them with an RFC 6265 parser.
"""

from __future__ import annotations

import secrets
from email.utils import formatdate
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from ..deps import require_dev_mode

__all__ = ["CASES", "COOKIE_NAMES", "REDIRECT_COOKIE", "router"]

#: Cookie name set by each case of ``GET /v1/dev/cookies/set``.
COOKIE_NAMES = {
    "persistent": "ck_persist",
    "session": "ck_session",
    "host_only": "ck_host",
    "domain": "ck_domain",
    "expire": "ck_persist",
    "secure_flags": "ck_flags",
    "path": "ck_path",
}
CASES = tuple(COOKIE_NAMES)
#: Cookie set by ``GET /v1/dev/cookies/redirect`` on the redirect response.
REDIRECT_COOKIE = "ck_redirect"
ECHO_PATH = "/v1/dev/cookies/echo"

Case = Literal["persistent", "session", "host_only", "domain", "expire", "secure_flags", "path"]


router = APIRouter(
    prefix="/dev/cookies",
    tags=["dev"],
    include_in_schema=False,
    dependencies=[Depends(require_dev_mode)],
)


def _value() -> str:
    return secrets.token_hex(16)


def _request_host(request: Request) -> str:
    """The host name the client used (Host header without the port)."""
    host = request.url.hostname or "127.0.0.1"
    return host.strip("[]")


def _set_cookie_header(case: str, request: Request) -> str:
    name = COOKIE_NAMES[case]
    if case == "persistent":
        return f"{name}={_value()}; Max-Age=3600; Path=/; Secure; HttpOnly; SameSite=Strict"
    if case == "session":
        return f"{name}={_value()}; Path=/; Secure; HttpOnly; SameSite=Lax"
    if case == "host_only":
        return f"{name}={_value()}; Max-Age=3600; Path=/"
    if case == "domain":
        return f"{name}={_value()}; Max-Age=3600; Path=/; Domain={_request_host(request)}"
    if case == "expire":
        return f"{name}=; Max-Age=0; Path=/"
    if case == "secure_flags":
        expires = formatdate(request.app.state.settings.clock() + 86400, usegmt=True)
        return f"{name}={_value()}; Expires={expires}; Path=/; Secure; HttpOnly; SameSite=None"
    if case == "path":
        return f"{name}={_value()}; Max-Age=3600; Path={ECHO_PATH}"
    raise AssertionError(case)  # pragma: no cover - Case is checked by FastAPI


@router.get("/set", summary="Set the cookie of one case (dev mode only)")
def set_cookie(request: Request, case: Annotated[Case, Query()]) -> Response:
    """``200 {"case": ..., "name": ...}`` with the case's ``Set-Cookie`` header."""
    response = JSONResponse({"case": case, "name": COOKIE_NAMES[case]})
    response.headers.append("Set-Cookie", _set_cookie_header(case, request))
    return response


@router.get("/redirect", summary="Redirect to echo, setting a cookie on the redirect (dev mode only)")
def redirect(status: Annotated[Literal["302", "307"], Query()] = "302") -> Response:
    """``302``/``307`` to :data:`ECHO_PATH`, whose response carries ``Set-Cookie: ck_redirect=...``."""
    response = RedirectResponse(ECHO_PATH, status_code=int(status))
    response.headers.append(
        "Set-Cookie",
        f"{REDIRECT_COOKIE}={_value()}; Max-Age=3600; Path=/; Secure; HttpOnly; SameSite=Lax",
    )
    return response


@router.get("/echo", summary="Names of the cookies received (dev mode only)")
def echo(request: Request) -> dict[str, list[str]]:
    """``200 {"names": [...]}``: the names of the cookies the request carried, never values."""
    return {"names": sorted(request.cookies)}
