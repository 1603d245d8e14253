"""(issue #7, being written) see docs/protocol.md."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["support"])
