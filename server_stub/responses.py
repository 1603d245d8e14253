"""How the routes answer, shared by every router: the ``no-store`` header, the answer of an
idempotent POST (and its 409 when the key was used for another request), and the OpenAPI
description of an error answer.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from .errors import ApiError
from .models import ErrorBody
from .store import Action, IdempotencyKeyReused, IdempotentAnswer, Store

__all__ = ["KEY_REUSED", "NOT_LOGGED_IN_DOC", "NO_STORE", "REPLAY_DOC", "error_doc",
           "idempotent_json", "run_idempotent_json"]

#: Headers of an answer that holds an account's data: never kept by a cache.
NO_STORE = {"Cache-Control": "no-store"}


def error_doc(status: int, description: str, model: Any = ErrorBody) -> dict[int | str, dict[str, Any]]:
    """One entry of an endpoint's ``responses=`` (OpenAPI): ``{status: {"model": model,
    "description": description}}``; *model* is the body's schema (:class:`ErrorBody` unless
    the error adds fields)."""
    return {status: {"model": model, "description": description}}


#: The 401 of every endpoint that needs a session.
NOT_LOGGED_IN_DOC = error_doc(401, "not_logged_in: no session cookie, or the session ended or expired")


#: The 200 of an idempotent POST answered again (:func:`idempotent_json`).
REPLAY_DOC: dict[int | str, dict[str, Any]] = {
    200: {"description": "replay of an earlier identical request; header Idempotent-Replayed: true"}}


def idempotent_json(answer: IdempotentAnswer) -> JSONResponse:
    """The answer of :meth:`server_stub.store.Store.run_idempotent` with :data:`NO_STORE`:
    its own status and body, or, for a replay, status 200 with the header
    ``Idempotent-Replayed: true``."""
    if answer.replayed:
        return JSONResponse(answer.body, status_code=200,
                            headers={**NO_STORE, "Idempotent-Replayed": "true"})
    return JSONResponse(answer.body, status_code=answer.status, headers=NO_STORE)


#: The 409 of an Idempotency-Key used before with another request (or endpoint).
KEY_REUSED = ApiError(
    409, "idempotency_key_reused",
    "this Idempotency-Key was already used with a different request; use a new key for a new "
    "request")


def run_idempotent_json(store: Store, key: str, endpoint: str, fingerprint: str,
                        action: Action, *, account_id: str | None = None) -> JSONResponse:
    """:meth:`server_stub.store.Store.run_idempotent` answered by :func:`idempotent_json`.

    Raises:
        ApiError: 409 ``idempotency_key_reused`` (:data:`KEY_REUSED`).
    """
    try:
        answer = store.run_idempotent(key, endpoint, fingerprint, action, account_id=account_id)
    except IdempotencyKeyReused:
        raise KEY_REUSED from None
    return idempotent_json(answer)
