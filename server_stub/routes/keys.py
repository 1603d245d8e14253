"""``GET /v1/keys/hpke``: the HPKE public keys devices seal personal data to
(docs/protocol.md, "End-to-end encryption"); plus the dev-only rotation endpoint.

Endpoints::

    GET  /v1/keys/hpke              200 {"keys": [{"kid", "kem", "kdf", "aead", "public_key",
                                    "fingerprint", "status"}, ...]}, current key first;
                                    anonymous (public values), Cache-Control: no-cache
    POST /v1/dev/keys/hpke/rotate   dev mode only (404 otherwise, not in /openapi.json):
                                    200 {"kid", "fingerprint", "pins": [...]} after
                                    server_stub.hpke.rotate_hpke_key
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ..deps import get_key_ring, require_dev_mode
from ..hpke import rotate_hpke_key

__all__ = ["HpkeKeyEntry", "HpkeKeyList", "dev_router", "router"]


class HpkeKeyEntry(BaseModel):
    """One published HPKE public key."""

    kid: str = Field(description="the server's key id; sealed data names it")
    kem: int = Field(description="IANA HPKE KEM id: 25722 (0x647A, MLKEM768-X25519) or 32 (0x0020, X25519)")
    kdf: int = Field(description="IANA HPKE KDF id: 1 (0x0001, HKDF-SHA256)")
    aead: int = Field(description="IANA HPKE AEAD id: 2 (0x0002, AES-256-GCM)")
    public_key: str = Field(description="the encoded public key, base64url without padding")
    fingerprint: str = Field(description="'sha256:' + hex SHA-256 of (kem as 2 bytes big-endian || public key)")
    status: str = Field(description="'current' (seal new data to it) or 'retired' (still opens data in flight)")


class HpkeKeyList(BaseModel):
    """``GET /v1/keys/hpke``."""

    keys: list[HpkeKeyEntry]


router = APIRouter(tags=["keys"])


@router.get("/keys/hpke", response_model=HpkeKeyList, summary="HPKE public keys for end-to-end encryption")
def list_keys(request: Request) -> JSONResponse:
    """The published keys, current first. Devices seal to the ``current`` key only, and only
    when its ``fingerprint`` is pinned in the app (``SdkConfig.hpke_pins``)."""
    keys = [k.to_json() for k in get_key_ring(request).published()]
    return JSONResponse({"keys": keys}, headers={"Cache-Control": "no-cache"})


dev_router = APIRouter(
    prefix="/dev/keys", tags=["dev"], include_in_schema=False,
    dependencies=[Depends(require_dev_mode)],
)


@dev_router.post("/hpke/rotate", summary="Rotate the HPKE key (dev mode only)")
def rotate(request: Request) -> dict[str, Any]:
    """Make a new current key (``Settings.hpke_kem``) and retire the old one."""
    settings = request.app.state.settings
    key = rotate_hpke_key(settings.data_dir, settings.hpke_kem)
    return {"kid": key.kid, "fingerprint": key.fingerprint,
            "pins": [k.fingerprint for k in get_key_ring(request).keys()]}
