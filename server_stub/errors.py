"""Errors answered by the stub, and the handlers that give every error one JSON shape.

Every answer with status >= 400 has the body ``{"error": "<machine_code>", "message": "<text>"}``
(docs/protocol.md). Messages name fields, never values: nothing from the request body, query or
headers is echoed back, and nothing of it is logged.

Codes::

    400 idempotency_key_required   POST without an Idempotency-Key header
    400 invalid_idempotency_key    Idempotency-Key longer than 255 or not visible ASCII
    401 not_logged_in              GET /v1/me and /v1/me/...: no valid session cookie
    404 not_found                  no such path (a template id holding '/' included)
    404 template_not_found         unknown template id (one path segment)
    405 method_not_allowed
    409 idempotency_key_reused     same key, different body (or different endpoint)
    409 consent_record_exists      record_id already stored under another Idempotency-Key
    409 subject_key_mismatch       a version 2 record signed by another key than the one
                                   pinned for its subject_id
    409 subject_linked_elsewhere   the subject_id is already linked to another account
    413 body_too_large             request body over 64 KiB
    422 invalid_consent_record     body is not a valid consent record (or not JSON, or JSON
                                   nested deeper than MAX_JSON_DEPTH, or with NaN / a number
                                   too large to hold)
    422 invalid_request            a query or path parameter is missing or wrong; a request
                                   nested too deeply for the parser
    500 internal_error
    503 policy_unavailable         policy.md / manifest.toml missing or invalid on the server
"""

from __future__ import annotations

import json
import logging
import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

__all__ = [
    "ApiError",
    "MAX_JSON_DEPTH",
    "decode_json_object",
    "decode_json_fields",
    "error_response",
    "describe_errors",
    "install_error_handlers",
]

logger = logging.getLogger("server_stub")

#: Error types whose pydantic message is safe to show: it is either written in this package
#: or derived from the schema only, never from the input.
_OWN_MESSAGES = frozenset(
    {"uuid4_format", "rfc3339_utc", "sha256_hex", "schema_version", "scope_format"}
)

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

#: Deepest nesting of objects and arrays accepted in a JSON body. A consent record needs 2;
#: the limit leaves room for unknown extra fields while keeping the parser (and everything
#: that walks the result) far from Python's recursion limit.
MAX_JSON_DEPTH = 32

_JSON_TYPE_NAMES: Mapping[type, str] = {
    list: "an array", str: "a string", int: "a number", float: "a number", bool: "true or false",
    type(None): "null",
}


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
    if kind in ("greater_than_equal", "greater_than"):
        bound = (err.get("ctx") or {}).get("ge" if kind == "greater_than_equal" else "gt")
        if isinstance(bound, (int, float)) and not isinstance(bound, bool):
            return f"must be {'at least' if kind == 'greater_than_equal' else 'more than'} {bound}"
        return "is too small"
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


class _BadNumber(ValueError):
    """A number JSON allows in syntax but the stub cannot hold (raised by the parse hooks)."""


def _reject_constant(name: str) -> float:
    raise _BadNumber(
        f"the body contains {name}, which is not a JSON number; send finite numbers only"
    )


def _parse_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:  # over sys.get_int_max_str_digits() digits
        limit = getattr(sys, "get_int_max_str_digits", lambda: 4300)()
        raise _BadNumber(f"a number in the body has more than {limit} digits") from None


def _parse_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _BadNumber("a number in the body is too large (it overflows a 64-bit float)")
    return value


def _too_deep(text: str, limit: int) -> bool:
    """True when objects/arrays in the JSON ``text`` nest more than ``limit`` levels deep.

    A linear scan that skips strings; it does not validate, so it is safe on any input and
    runs before the (recursive) parser.
    """
    depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return True
        elif ch in "]}":
            depth -= 1
    return False


def decode_json_object(body: bytes, code: str) -> dict[str, Any]:
    """The JSON object in a request body, or a 422 ``code`` error saying exactly what is wrong.

    Refused, each with its own message (which never quotes the body): not UTF-8; nested more
    than :data:`MAX_JSON_DEPTH` levels; not valid JSON (with line and column); ``NaN`` or
    ``Infinity``; an integer with too many digits or a float that overflows; valid JSON that
    is not an object.

    Args:
        body: the raw request body.
        code: the ``error`` code to answer with, e.g. ``"invalid_consent_record"``.

    Raises:
        ApiError: 422 ``code``.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(422, code, "the body is not UTF-8 text; send JSON encoded as UTF-8") from None
    if _too_deep(text, MAX_JSON_DEPTH):
        raise ApiError(
            422, code,
            f"the body nests objects and arrays more than {MAX_JSON_DEPTH} levels deep",
        )
    try:
        data = json.loads(
            text, parse_constant=_reject_constant, parse_int=_parse_int, parse_float=_parse_float
        )
    except _BadNumber as exc:
        raise ApiError(422, code, str(exc)) from None
    except json.JSONDecodeError as exc:
        raise ApiError(
            422, code,
            f"the body is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})",
        ) from None
    except (ValueError, RecursionError):  # pragma: no cover - guarded above
        raise ApiError(422, code, "the body is not valid JSON") from None
    if not isinstance(data, dict):
        kind = _JSON_TYPE_NAMES.get(type(data), "not an object")
        raise ApiError(422, code, f"the body must be a JSON object, got {kind}")
    return data


def decode_json_fields(body: bytes, allowed: Mapping[str, type | tuple[type, ...]],
                       required: Iterable[str]) -> dict[str, Any]:
    """The body's JSON object (:func:`decode_json_object`) with only the *allowed* fields
    (name -> the accepted type or types; ``type(None)`` among them allows null), the
    *required* ones present. Unknown fields are refused: nothing else is collected.

    Raises:
        ApiError: 422 ``invalid_request`` naming the field, never a value.
    """
    data = decode_json_object(body, "invalid_request")
    if any(name not in allowed for name in data):
        raise ApiError(422, "invalid_request",
                       f"unknown field: only {', '.join(sorted(allowed))} are accepted "
                       "(nothing else is collected)")
    for name in required:
        if name not in data:
            raise ApiError(422, "invalid_request", f"field '{name}' is required")
    for name, kinds in allowed.items():
        if name in data and not isinstance(data[name], kinds):
            nullable = isinstance(kinds, tuple) and type(None) in kinds
            raise ApiError(422, "invalid_request",
                           f"field '{name}' must be {'a string or null' if nullable else 'a string'}")
    return data


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


async def _recursion_error_handler(request: Request, exc: Exception) -> JSONResponse:
    # Only input nested too deeply for a recursive parser or validator gets here (the stub
    # has no recursive code of its own); it is the caller's mistake, not a server bug, so it
    # answers 422 without a traceback. Bodies are checked first by decode_json_object; this
    # is the safety net for any route that parses JSON another way.
    logger.warning("request nested too deeply on %s %s", request.method, request.url.path)
    return error_response(
        422, "invalid_request",
        "the request nests objects and arrays too deeply to process; send only the fields "
        "the endpoint expects (see /openapi.json)",
    )


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
    app.add_exception_handler(RecursionError, _recursion_error_handler)
    app.add_exception_handler(Exception, _unexpected_error_handler)
