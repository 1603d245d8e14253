"""Errors answered by the stub, and the handlers that give every error one JSON shape.

Every answer with status >= 400 has the body ``{"error": "<machine_code>", "message": "<text>"}``
(docs/protocol.md). Messages name fields, never values: nothing from the request body, query or
headers is echoed back, and nothing of it is logged.

Codes::

    400 idempotency_key_required   POST without an Idempotency-Key header
    400 invalid_idempotency_key    Idempotency-Key longer than 255 or not visible ASCII
    404 not_found                  no such path
    404 template_not_found         unknown template id
    405 method_not_allowed
    409 idempotency_key_reused     same key, different body (or different endpoint)
    409 consent_record_exists      record_id already stored under another Idempotency-Key
    413 body_too_large             request body over 64 KiB
    422 invalid_consent_record     body is not a valid consent record
    422 invalid_request            a query or path parameter is missing or wrong
    500 internal_error
    503 policy_unavailable         policy.md / manifest.toml missing or invalid on the server
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

__all__ = ["ApiError", "error_response", "describe_errors", "install_error_handlers"]

logger = logging.getLogger("server_stub")

#: Error types whose pydantic message is safe to show: it is either written in this package
#: or derived from the schema only, never from the input.
_OWN_MESSAGES = frozenset({"uuid4_format", "rfc3339_utc", "sha256_hex", "schema_version"})

_TYPE_TEXT: Mapping[str, str] = {
    "missing": "is required",
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "list_type": "must be a list",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "too_short": "must not be empty",
    "string_too_short": "must not be empty",
    "string_too_long": "is too long",
    "string_pattern_mismatch": "has the wrong format",
}

_SOURCE_NOUN: Mapping[str, str] = {
    "body": "field",
    "query": "query parameter",
    "path": "path parameter",
    "header": "header",
}

_MAX_ERRORS_SHOWN = 5


class ApiError(Exception):
    """An error answer: ``status`` with ``{"error": code, "message": message}``.

    Args:
        status: HTTP status code (>= 400).
        code: machine-readable code, snake_case (see the module docstring).
        message: human text; must not contain any value taken from the request.
        headers: extra response headers.
    """

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """The JSON error answer ``{"error": code, "message": message}`` with ``status``."""
    return JSONResponse({"error": code, "message": message}, status_code=status, headers=headers)


def _field_name(loc: Sequence[int | str]) -> str:
    """``("body", "notice", "sha256")`` -> ``notice.sha256``; list indexes as ``[i]``."""
    name = ""
    for part in loc:
        if isinstance(part, int):
            name += f"[{part}]"
        else:
            name += f".{part}" if name else str(part)
    return name or "(root)"


def _error_text(err: Mapping[str, Any]) -> str:
    kind = str(err.get("type", ""))
    if kind in _OWN_MESSAGES:
        return str(err.get("msg", "is invalid"))
    if kind == "literal_error":
        expected = (err.get("ctx") or {}).get("expected")
        return f"must be {expected}" if expected else "has a value that is not allowed"
    return _TYPE_TEXT.get(kind, f"is invalid ({kind or 'unknown'})")


def describe_errors(errors: Iterable[Mapping[str, Any]], *, strip: int = 0) -> str:
    """One line naming each wrong field, e.g. ``field 'purposes' must not be empty``.

    Only the error ``type``, ``loc`` and (for this package's own validators) ``msg`` are used,
    so the text never contains the offending value.

    Args:
        errors: pydantic/FastAPI error dicts.
        strip: how many leading ``loc`` parts to drop (1 drops FastAPI's ``"body"``/``"query"``).
    """
    parts: list[str] = []
    errors = list(errors)
    for err in errors[:_MAX_ERRORS_SHOWN]:
        loc = tuple(err.get("loc", ()))
        source = str(loc[0]) if strip and loc else "body"
        noun = _SOURCE_NOUN.get(source, "field")
        parts.append(f"{noun} '{_field_name(loc[strip:])}' {_error_text(err)}")
    if len(errors) > _MAX_ERRORS_SHOWN:
        parts.append(f"and {len(errors) - _MAX_ERRORS_SHOWN} more")
    return "; ".join(parts) or "the request is invalid"


async def _api_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message, exc.headers)


async def _http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    if status == 404:
        code, message = "not_found", "no such path; see /openapi.json for the API"
    elif status == 405:
        code, message = "method_not_allowed", "this method is not allowed on this path"
    else:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "HTTP error"
        code, message = phrase.lower().replace(" ", "_").replace("-", "_"), phrase
    return error_response(status, code, message, exc.headers)


async def _validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Never pass exc.body or the error inputs on: they are the caller's data.
    return error_response(422, "invalid_request", describe_errors(exc.errors(), strip=1))


async def _unexpected_error_handler(request: Request, exc: Exception) -> JSONResponse:
    # uvicorn logs the traceback; this line names the request (path only: the query string
    # may hold an identifier) and never the body.
    logger.error("unexpected %s on %s %s", type(exc).__name__, request.method, request.url.path)
    return error_response(500, "internal_error", "internal server error; see the server log")


def install_error_handlers(app: FastAPI) -> None:
    """Make every error of ``app`` answer ``{"error", "message"}`` (404s and 422s included)."""
    app.add_exception_handler(ApiError, _api_error_handler)
    app.add_exception_handler(StarletteHTTPException, _http_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_error_handler)
    app.add_exception_handler(Exception, _unexpected_error_handler)
