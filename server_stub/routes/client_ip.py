"""``GET /v1/client-ip``: the IP address the server sees for the caller (the SDK's
``device_ip`` "as the server sees it", OBL-DEV-1).

No account, cookie or identifier is needed or read, and the address is neither logged nor
stored: it is echoed to the caller only (``Cache-Control: no-store``). The stub answers with
the TCP peer's address; a real backend behind a proxy would use the address its own trusted
proxy reports, never a client-supplied header.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

router = APIRouter(tags=["device"])


class ClientIp(BaseModel):
    """Answer of ``GET /v1/client-ip``."""

    ip: str = Field(description="the caller's IP address as the server sees it (IPv4 or IPv6)")


@router.get("/client-ip", response_model=ClientIp, summary="The caller's IP address, as seen by the server")
def client_ip(request: Request, response: Response) -> ClientIp:
    """``200 {"ip": "<address>"}``; not logged, not stored."""
    response.headers["Cache-Control"] = "no-store"
    host = request.client.host if request.client is not None else ""
    return ClientIp(ip=host)
