"""The ``requests.Session`` the SDK talks through: TLS trust, retries, no environment.

TLS trust comes only from :attr:`sdk.SdkConfig.ca_bundle` (or the bundled trust store when it is
``None``): ``trust_env`` is off, so ``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``, ``HTTPS_PROXY``
and ``.netrc`` never change whom the SDK trusts or where its traffic goes (OBL-SEC-1).

``requests`` is imported when a session is made, not when this module is imported, so
``import sdk`` stays cheap.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import requests

    from ..config import SdkConfig

__all__ = ["RETRY_STATUSES", "make_session", "user_agent"]

#: Statuses retried (with backoff, honouring ``Retry-After``) before giving up.
RETRY_STATUSES = (502, 503, 504)

#: Every method is retried: each POST carries an ``Idempotency-Key`` (docs/protocol.md).
_RETRY_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "POST", "PATCH"})

#: Statuses whose ``Retry-After`` makes urllib3 wait and retry. urllib3's default also has
#: 413 and 429: a ``429 too_many_attempts`` from a throttled login says "Retry-After: 900",
#: and urllib3 would sleep 15 minutes per retry instead of telling the user at once.
_RETRY_AFTER_STATUSES = frozenset({503})


def user_agent() -> str:
    """The SDK's ``User-Agent``: names the SDK and its version, nothing about the user or device."""
    from .. import __version__

    return f"privacy-sdk/{__version__}"


def make_session(config: SdkConfig) -> requests.Session:
    """A new session configured from *config*.

    - ``trust_env = False``: environment variables and ``.netrc`` are ignored (OBL-SEC-1);
    - ``verify`` is ``str(config.ca_bundle)``, or ``True`` (bundled trust store) when unset;
    - an ``HTTPAdapter`` with ``urllib3`` retries is mounted for ``https://``, and for
      ``http://`` only in ``dev_mode`` (``SdkConfig`` already limits that to loopback); any
      other ``http://`` URL fails with ``InvalidSchema`` instead of travelling in clear;
    - connection errors and read errors are retried ``config.retries`` times, POST included
      (idempotency keys make that safe), and so are 502/503/504 answers, with exponential
      backoff from ``config.backoff`` seconds and ``Retry-After`` honoured; TLS failures are
      never retried (a bad certificate does not fix itself); a 429 is never retried (a
      throttled login must reach the user at once, not after ``Retry-After`` seconds).
    """
    import requests
    from requests.adapters import HTTPAdapter

    session = requests.Session()
    session.trust_env = False
    session.verify = str(config.ca_bundle) if config.ca_bundle is not None else True
    session.headers["User-Agent"] = user_agent()
    session.headers["Accept"] = "application/json"

    retry = _retry_class()(
        total=config.retries,
        connect=config.retries,
        read=config.retries,
        status=config.retries,
        other=0,  # e.g. certificate errors: fail at once
        redirect=0,
        backoff_factor=config.backoff,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=_RETRY_METHODS,
        respect_retry_after_header=True,
        raise_on_status=False,
        raise_on_redirect=False,
    )
    # Replace the default adapters so nothing is reachable without our settings.
    session.adapters.clear()
    session.mount("https://", HTTPAdapter(max_retries=retry))
    if config.dev_mode:
        session.mount("http://", HTTPAdapter(max_retries=retry))
    return session


@functools.cache
def _retry_class() -> type:
    """urllib3's ``Retry`` honouring ``Retry-After`` only on 503 (see ``_RETRY_AFTER_STATUSES``).

    A subclass, not an instance attribute: urllib3 makes a new ``Retry`` for every attempt.
    """
    from urllib3.util.retry import Retry

    class SdkRetry(Retry):
        RETRY_AFTER_STATUS_CODES = _RETRY_AFTER_STATUSES

    return SdkRetry
