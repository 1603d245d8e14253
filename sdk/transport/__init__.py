"""Transport: the HTTPS session (TLS trust, retries, timeouts), the wire-protocol client, end-to-end
encryption of personal data (HPKE, :mod:`.envelope`) and resumable uploads (tus, :mod:`.tus`).

``requests`` and ``cryptography`` are imported only when first used, so importing this package
is cheap; the envelope and upload names load on first access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports
from .client import ApiClient
from .session import make_session

__all__ = [
    "ApiClient",
    "EnvelopeKey",
    "PendingUpload",
    "TusUploader",
    "UploadResult",
    "fetch_current_key",
    "make_session",
    "seal_chunk",
    "seal_field",
    "sealed_size",
    "sealed_stream_length",
]

_LAZY = {
    "EnvelopeKey": "sdk.transport.envelope",
    "fetch_current_key": "sdk.transport.envelope",
    "seal_chunk": "sdk.transport.envelope",
    "seal_field": "sdk.transport.envelope",
    "sealed_size": "sdk.transport.envelope",
    "sealed_stream_length": "sdk.transport.envelope",
    "TusUploader": "sdk.transport.tus",
    "UploadResult": "sdk.transport.tus",
    "PendingUpload": "sdk.transport.tus",
}

if TYPE_CHECKING:  # pragma: no cover
    from .envelope import (
        EnvelopeKey,
        fetch_current_key,
        seal_chunk,
        seal_field,
        sealed_size,
        sealed_stream_length,
    )
    from .tus import PendingUpload, TusUploader, UploadResult

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
