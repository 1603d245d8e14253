"""``GET /v1/health``: is the server up, and which version."""

from __future__ import annotations

from fastapi import APIRouter

from .. import __version__
from ..models import Health

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, summary="Liveness and server version")
def health() -> Health:
    """``200 {"status": "ok", "version": "<server version>"}``."""
    return Health(status="ok", version=__version__)
