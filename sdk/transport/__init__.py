"""Transport: the HTTPS session (TLS trust, retries, timeouts) and the wire-protocol client.

``requests`` is imported only when a session is first made, so importing this package is cheap.
"""

from __future__ import annotations

from .client import ApiClient
from .session import make_session

__all__ = ["ApiClient", "make_session"]
