"""The ``requests.Session`` the SDK talks through: TLS trust, retries, no environment.

TLS trust comes only from :attr:`sdk.SdkConfig.ca_bundle` (or the bundled trust store when it is
``None``): ``trust_env`` is off, so ``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``, ``HTTPS_PROXY``
and ``.netrc`` never change whom the SDK trusts or where its traffic goes (OBL-SEC-1).

``requests`` is imported when a session is made, not when this module is imported, so
``import sdk`` stays cheap.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import requests

    from ..config import SdkConfig

__all__ = ["MAX_RETRY_AFTER", "RETRY_STATUSES", "make_session", "retry_after_refused",
           "user_agent"]

#: The longest ``Retry-After`` (seconds) the SDK waits before a retry. A server asking for
#: longer (up to a day is legal) ends the request at once instead: the caller gets
#: ``ServerUnavailable`` naming the ``retry_after``; pending records stay pending.
MAX_RETRY_AFTER = 10.0

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
      backoff from ``config.backoff`` seconds and ``Retry-After`` honoured up to
      :data:`MAX_RETRY_AFTER` seconds (a longer one gives up on the request at once with
      ``ServerUnavailable`` naming the ``retry_after``, see :func:`retry_after_refused`); TLS
      failures are
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
    from urllib3.exceptions import MaxRetryError
    from urllib3.util.retry import Retry

    class SdkRetry(Retry):
        RETRY_AFTER_STATUS_CODES = _RETRY_AFTER_STATUSES

        def sleep_for_retry(self, response: Any) -> bool:
            # Wait the server's Retry-After only up to MAX_RETRY_AFTER; longer: give up now
            # (raised from urlopen, requests turns it into a RetryError).
            retry_after = self.get_retry_after(response)
            if retry_after is not None and retry_after > MAX_RETRY_AFTER:
                raise MaxRetryError(None, "", _retry_after_too_long()(retry_after))  # type: ignore[arg-type]
            return bool(super().sleep_for_retry(response))

    return SdkRetry


@functools.cache
def _retry_after_too_long() -> type:
    """The reason of the give-up: a urllib3 ``ResponseError`` (so requests raises
    ``RetryError``) carrying ``retry_after``."""
    from urllib3.exceptions import ResponseError

    class RetryAfterTooLong(ResponseError):
        def __init__(self, retry_after: float) -> None:
            super().__init__(f"Retry-After {retry_after:g} s is longer than the "
                             f"{MAX_RETRY_AFTER:g} s the SDK waits")
            self.retry_after = retry_after

    return RetryAfterTooLong


def retry_after_refused(exc: BaseException) -> float | None:
    """The ``Retry-After`` (seconds) when *exc* (or what caused it) is a request given up
    because the server asked to wait longer than :data:`MAX_RETRY_AFTER`; else ``None``."""
    for current in _chain(exc):
        if isinstance(current, _retry_after_too_long()):
            return float(current.retry_after)
    return None


def _chain(exc: BaseException) -> list[BaseException]:
    """*exc* and everything it wraps (causes, contexts, exception args, urllib3 reasons)."""
    seen: set[int] = set()
    found: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        found.append(current)
        todo += [c for c in (current.__cause__, current.__context__) if c is not None]
        todo += [a for a in current.args if isinstance(a, BaseException)]
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            todo.append(reason)
    return found


def read_timed_out(exc: BaseException) -> bool:
    """True when *exc* (or what caused it) is a read timeout: the server was reached and
    accepted the request but did not answer within ``read_timeout``."""
    import requests
    from urllib3.exceptions import ReadTimeoutError

    return any(isinstance(c, (ReadTimeoutError, requests.exceptions.ReadTimeout))
               for c in _chain(exc))
