"""One router per area of the API; :data:`api_router` mounts them all under ``/v1``."""

from __future__ import annotations

from fastapi import APIRouter

from . import (
    accounts,
    client_ip,
    consent,
    dev_cookies,
    dev_faults,
    health,
    me,
    notices,
    policy,
    rights,
    support,
    templates,
)

__all__ = ["api_router"]

api_router = APIRouter(prefix="/v1")
api_router.include_router(health.router)
api_router.include_router(policy.router)
api_router.include_router(consent.router)
api_router.include_router(templates.router)
api_router.include_router(accounts.router)
api_router.include_router(me.router)
api_router.include_router(client_ip.router)  # GET /v1/client-ip (issue #5, OBL-DEV-1)
api_router.include_router(dev_cookies.router)  # 404 unless Settings.dev_mode
api_router.include_router(dev_faults.router)  # issue #8 fault plan; 404 unless Settings.dev_mode
api_router.include_router(rights.router)  # issue #7: identity check, rights requests, export, cancellation
api_router.include_router(support.router)  # issue #7: support messages, notification channel, invitations
api_router.include_router(notices.router)  # issue #7: breach and service-ending notices
