"""``GET /v1/policy``: the current privacy policy text and its manifest."""

from __future__ import annotations

import logging

from fastapi import APIRouter

from ..content import PolicyUnavailable, load_policy
from ..deps import PolicyDirDep
from ..errors import ApiError
from ..models import ErrorBody, PolicyOut

router = APIRouter(tags=["policy"])
logger = logging.getLogger("server_stub")


@router.get(
    "/policy",
    response_model=PolicyOut,
    summary="The current privacy policy",
    responses={503: {"model": ErrorBody, "description": "policy files missing or invalid"}},
)
def get_policy(policy_dir: PolicyDirDep) -> PolicyOut:
    """The policy (Markdown) with version, effective date, language, manifest and SHA-256.

    Read from the policy folder on every request, so an edited policy is served at once.
    Answers 503 ``policy_unavailable`` when ``policy.md``/``manifest.toml`` are missing or invalid.
    """
    try:
        doc = load_policy(policy_dir)
    except PolicyUnavailable as exc:
        logger.warning("policy unavailable from %s: %s", policy_dir, exc)
        raise ApiError(503, "policy_unavailable", f"the privacy policy is unavailable: {exc}") from exc
    return PolicyOut(
        version=doc.version,
        effective_date=doc.effective_date,
        language=doc.language,
        text=doc.text,
        manifest=doc.manifest,
        sha256=doc.sha256,
    )
