"""Development-only control of the fault plan (issue #8, QA): ``/v1/dev/faults``.

They answer ``404 not_found`` unless the server runs in dev mode (``Settings.dev_mode``,
``python -m server_stub --dev``), and are left out of ``/openapi.json``: they are not part of
the wire protocol. The path itself is never faulted, so a plan can always be cleared.

Endpoints::

    GET    /v1/dev/faults   200 the plan: {"seed", "rules": [{"rule", "method", "path", "kind",
                            "times", "remaining", "probability", "matched", "applied",
                            "idempotency_keys"}, ...]}
    PUT    /v1/dev/faults   body {"rules": ["POST /v1/consent-records status=503 times=2", ...],
                            "seed": 7 (optional)}: replaces the plan (counters from 0);
                            200 the plan; 422 invalid_request naming the rule by its number
    DELETE /v1/dev/faults   204: no rule any more

The rule syntax is :mod:`server_stub.faults`' (the same as ``--fault``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from ..deps import RawBody, require_dev_mode
from ..errors import ApiError, decode_json_object
from ..faults import SEED_RANGE, FaultPlan, FaultRuleError, parse_seed

__all__ = ["MAX_RULES", "router"]

#: The most rules one PUT may hold.
MAX_RULES = 100

router = APIRouter(
    prefix="/dev/faults",
    tags=["dev"],
    include_in_schema=False,
    dependencies=[Depends(require_dev_mode)],
)


def _plan(request: Request) -> FaultPlan:
    plan: FaultPlan = request.app.state.faults
    return plan


@router.get("", summary="The fault plan in force (dev mode only)")
def get_faults(request: Request) -> dict[str, Any]:
    """The rules with their counters, and the seed."""
    return _plan(request).describe()


@router.put("", summary="Replace the fault plan (dev mode only)")
def put_faults(body: RawBody, request: Request) -> dict[str, Any]:
    """Body ``{"rules": [text, ...], "seed": int | null}``; answers the new plan."""
    data = decode_json_object(body, "invalid_request")
    if set(data) - {"rules", "seed"} or "rules" not in data:
        raise ApiError(422, "invalid_request", "send {\"rules\": [rule, ...]} and optionally "
                                               "\"seed\": an integer")
    rules, seed = data["rules"], data.get("seed")
    if not isinstance(rules, list) or not all(isinstance(r, str) for r in rules):
        raise ApiError(422, "invalid_request", "field 'rules' must be a list of texts")
    if len(rules) > MAX_RULES:
        raise ApiError(422, "invalid_request", f"field 'rules' holds more than {MAX_RULES} rules")
    if seed is not None:
        try:  # a JSON integer (not a text of digits) in the same range as --fault-seed
            seed = parse_seed(seed) if isinstance(seed, int) else -1
        except ValueError:
            seed = -1
        if seed < 0:
            raise ApiError(422, "invalid_request", f"field 'seed' must be {SEED_RANGE}")
    plan = _plan(request)
    try:
        plan.replace(rules, seed)
    except FaultRuleError as exc:  # names the rule by number, never quotes it
        raise ApiError(422, "invalid_request", f"field 'rules': {exc}") from None
    return plan.describe()


@router.delete("", status_code=204, summary="Clear the fault plan (dev mode only)")
def delete_faults(request: Request) -> Response:
    """No rule any more; ``204``."""
    _plan(request).clear()
    return Response(status_code=204)
