"""HTTP client for the wire protocol of docs/protocol.md.

:class:`ApiClient` is the single place where ``requests`` errors become SDK errors
(:func:`_converting`), always with ``raise ... from``:

- ``requests.exceptions.SSLError`` -> :class:`TlsError` (check ``SdkConfig.ca_bundle``);
- connection errors, timeouts, exhausted retries, and 502/503/504 after the retries ->
  :class:`ServerUnavailable`;
- account answers (docs/protocol.md, "Accounts"): 401 ``invalid_credentials`` ->
  :class:`AuthenticationFailed`; any other 401 -> :class:`NotLoggedIn`; 429
  ``too_many_attempts`` -> :class:`LoginThrottled` with ``retry_after`` from the ``Retry-After``
  header; 422 ``weak_password`` -> :class:`WeakPassword` with the server's ``reasons``; 422
  ``invalid_identifier`` -> :class:`InvalidIdentifier`;
- any other answer >= 400 -> :class:`ServerError` with the ``error`` code and ``message`` of the
  server's ``{"error", "message"}`` body.

Data region (OBL-RES-1): every answer must carry ``Data-Region: <code>`` (ISO 3166-1 alpha-2,
compared case-insensitively) equal to ``SdkConfig.region``; before its first request with a body
(POST, PUT, PATCH) the client learns the region from an earlier answer, else from one
``GET /v1/health``. A different or missing region raises :class:`RegionMismatch` before the body
is sent. A 502/503/504 without the header (a gateway speaking, not the endpoint) is not checked.

Messages name the endpoint path, never a query string or body (which may hold identifiers).
"""

from __future__ import annotations

import datetime as _dt
import email.utils
import math
import os
import re
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from ..errors import (
    AccountExists,
    AuthenticationFailed,
    ConfigError,
    InvalidIdentifier,
    LoginThrottled,
    NotLoggedIn,
    RegionMismatch,
    ServerError,
    ServerUnavailable,
    StorageError,
    TlsError,
    TransportError,
    WeakPassword,
)
from .session import RETRY_STATUSES, make_session

if TYPE_CHECKING:  # pragma: no cover
    from http.cookiejar import CookieJar

    import requests

    from ..config import SdkConfig

__all__ = ["DATA_REGION_HEADER", "SESSION_COOKIE", "ApiClient", "connection_cut"]

#: Name of the session cookie the server sets at login (docs/protocol.md, "Accounts").
SESSION_COOKIE = "sid"
#: ``retry_after`` used when a 429 carries no usable ``Retry-After`` header.
_DEFAULT_RETRY_AFTER = 60

_CHUNK = 64 * 1024
#: The answer header that says where the endpoint stores personal information (OBL-RES-1).
DATA_REGION_HEADER = "Data-Region"
#: Methods that send a body: the region must be known (and match) before the first one.
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_REGION_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9-]{1,15}$")
_SAFE_FILENAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """*exc* and everything that caused it (``__cause__``, ``__context__``, exceptions in
    ``args`` as urllib3 wraps them), each once, depth first."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [c for c in (current.__cause__, current.__context__) if c is not None]
        todo += [a for a in current.args if isinstance(a, BaseException)]


def connection_cut(exc: BaseException) -> bool:
    """True when *exc* (or what caused it) is a connection that ended mid-stream
    (``SSLEOFError``, a reset, a broken pipe) rather than a failed certificate check."""
    import ssl

    for current in _causes(exc):
        if isinstance(current, (ssl.SSLEOFError, ssl.SSLZeroReturnError, ConnectionResetError,
                                BrokenPipeError, ConnectionAbortedError)):
            return True
        if isinstance(current, ssl.SSLCertVerificationError):
            return False
    return False


#: OpenSSL's X509_V_ERR_HOSTNAME_MISMATCH and X509_V_ERR_IP_ADDRESS_MISMATCH: the certificate
#: is trusted but names another host than the one connected to (RFC 6125, RFC 2818 3.1).
_NAME_MISMATCH_CODES = frozenset({62, 64})


def _names_another_host(exc: BaseException) -> bool:
    import ssl

    return any(isinstance(c, ssl.SSLCertVerificationError)
               and getattr(c, "verify_code", None) in _NAME_MISMATCH_CODES for c in _causes(exc))


@contextmanager
def _converting(what: str, config: SdkConfig) -> Iterator[None]:
    """Map ``requests`` errors raised inside the block to SDK errors (the one boundary)."""
    import requests

    try:
        yield
    except requests.exceptions.SSLError as exc:
        if connection_cut(exc):
            # a connection that ended in the middle of a TLS record (mobile networks, a
            # server restart): a lost connection like any other, not a bad certificate
            raise ServerUnavailable(
                f"{what}: the connection to {config.base_url} was cut in the middle of the "
                "answer; try again"
            ) from exc
        if _names_another_host(exc):
            host = urlsplit(config.base_url).hostname
            raise TlsError(
                f"{what}: the server's TLS certificate does not name {host}, the host of "
                "SdkConfig.endpoint; connect by a name the certificate has, or give the "
                "certificate this one (the stub: python -m server_stub --cert-name "
                f"{host})", reason="name_mismatch"
            ) from exc
        where = f"'{config.ca_bundle}'" if config.ca_bundle is not None else "the system trust store"
        raise TlsError(
            f"{what}: the server's TLS certificate did not verify against {where}; check "
            "SdkConfig.ca_bundle is the PEM file of the CA that signed the server's certificate "
            "(environment variables such as REQUESTS_CA_BUNDLE are ignored on purpose)"
        ) from exc
    except requests.exceptions.InvalidSchema as exc:
        raise ConfigError(
            f"{what}: plain http:// is refused (OBL-SEC-1); use https:// or dev_mode on loopback"
        ) from exc
    except (
        requests.exceptions.ConnectionError,
        requests.exceptions.Timeout,
        requests.exceptions.RetryError,
        requests.exceptions.ChunkedEncodingError,
    ) as exc:
        from .session import MAX_RETRY_AFTER, read_timed_out, retry_after_refused

        retry_after = retry_after_refused(exc)
        if retry_after is not None:
            raise ServerUnavailable(
                f"{what}: the server at {config.base_url} is unavailable and asked to retry "
                f"after {retry_after:g} seconds (retry_after={retry_after:g}), longer than the "
                f"{MAX_RETRY_AFTER:g} s the SDK waits; not retried now, try again later"
            ) from exc
        if read_timed_out(exc):
            raise ServerUnavailable(
                f"{what}: the server at {config.base_url} was reached but did not answer in "
                f"time (read_timeout {config.read_timeout:g} s, {config.retries} retries); "
                "try again later"
            ) from exc
        raise ServerUnavailable(
            f"{what}: the server at {config.base_url} could not be reached or stopped answering "
            f"after {config.retries} retries ({type(exc).__name__}); try again later"
        ) from exc
    except requests.exceptions.RequestException as exc:
        raise TransportError(f"{what}: the request failed ({type(exc).__name__})") from exc


class ApiClient:
    """Speaks the SDK's wire protocol (v1) to ``config.endpoint``.

    Every call has the timeouts ``(config.connect_timeout, config.read_timeout)``; redirects are
    never followed (a redirect could leave HTTPS or the configured host). An answer whose
    connection is cut after its headers (mid-body) is asked for again with the same request,
    Idempotency-Key included, up to ``config.retries`` times (not with a streamed body).

    Args:
        config: the SDK configuration; ``config.endpoint`` must be set.
        session: a ``requests.Session`` to use instead of :func:`make_session` (tests, custom
            adapters); the client closes only a session it made itself.
        cookie_jar: the cookie jar to keep the session cookie in (an ``http.cookiejar.CookieJar``,
            e.g. a persistent encrypted one); ``None`` keeps the session's own in-memory jar.
            Can be changed later with :meth:`use_cookie_jar`.

    Raises:
        ConfigError: no endpoint configured.
    """

    def __init__(
        self,
        config: SdkConfig,
        session: requests.Session | None = None,
        cookie_jar: CookieJar | None = None,
    ) -> None:
        self._base = config.base_url + "/v1"  # raises ConfigError when there is no endpoint
        self._config = config
        self._session = session
        self._own_session = session is None
        self._cookie_jar = cookie_jar
        #: the endpoint's data region once an answer declared the configured one (OBL-RES-1)
        self._region: str | None = None
        if session is not None and cookie_jar is not None:
            session.cookies = cookie_jar  # type: ignore[assignment]

    # -- plumbing -------------------------------------------------------------------------

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            self._session = make_session(self._config)
            if self._cookie_jar is not None:
                self._session.cookies = self._cookie_jar  # type: ignore[assignment]
        return self._session

    def use_cookie_jar(self, cookie_jar: CookieJar) -> None:
        """Keep cookies in *cookie_jar* from now on (cookies of the old jar are not copied)."""
        self._cookie_jar = cookie_jar
        if self._session is not None:
            self._session.cookies = cookie_jar  # type: ignore[assignment]

    @property
    def cookie_jar(self) -> CookieJar:
        """The jar the session's cookies live in."""
        return self.session.cookies

    def _own_cookies(self, name: str) -> list[Any]:
        """Cookies called *name* that belong to the endpoint's host.

        ``http.cookiejar`` files a dotless host such as ``localhost`` under ``localhost.local``.
        """

        host = (urlsplit(self._base).hostname or "").lower()
        hosts = {host, f"{host}.local"}
        return [
            c for c in list(self.cookie_jar)
            if c.name == name and c.domain.lstrip(".").lower() in hosts
        ]

    def has_cookie(self, name: str = SESSION_COOKIE) -> bool:
        """True when the jar holds a cookie called *name* for the endpoint (values unread)."""
        return bool(self._own_cookies(name))

    def clear_cookie(self, name: str = SESSION_COOKIE) -> int:
        """Remove the endpoint's cookies called *name* from the jar; return how many."""
        jar = self.cookie_jar
        removed = 0
        for cookie in self._own_cookies(name):
            try:
                jar.clear(cookie.domain, cookie.path, cookie.name)
                removed += 1
            except KeyError:  # removed meanwhile by another thread
                pass
        return removed

    @property
    def config(self) -> SdkConfig:
        """The configuration this client was made with."""
        return self._config

    @property
    def data_region(self) -> str | None:
        """The endpoint's data region (upper-case) once an answer declared it, else ``None``."""
        return self._region

    def _check_region(self, what: str, response: requests.Response) -> None:
        """Raise :class:`RegionMismatch` (closing *response*) unless the answer declares
        ``SdkConfig.region``; remember it when it does (OBL-RES-1)."""
        declared = str(self._config.region).strip().upper()
        region = (response.headers.get(DATA_REGION_HEADER) or "").strip().upper() or None
        if region is None and response.status_code in RETRY_STATUSES:
            return  # a gateway's 502/503/504: the endpoint did not speak
        if region == declared:
            self._region = region
            return
        response.close()
        shown = region if region is not None and _REGION_CODE.match(region) else None
        raise RegionMismatch(shown, declared, None if shown is not None or region is None else (
            f"{what}: the endpoint's Data-Region header is not a region code; the app declares "
            f"{declared} (SdkConfig.region); use an endpoint in {declared}, or fix "
            "SdkConfig.region"))

    def _ensure_region(self, what: str) -> None:
        """Learn the endpoint's region with one ``GET /v1/health`` unless an answer gave it."""
        if self._region is not None:
            return
        response = self.request("GET", "/health", anonymous=True, check=False,
                                what=f"GET /v1/health (data region, before {what})")
        status = response.status_code
        response.close()
        if self._region is None:  # a gateway error without the header
            raise ServerUnavailable(
                f"{what}: the endpoint's data region is unknown (GET /v1/health answered "
                f"{status}); nothing was sent; try again later")

    @property
    def timeout(self) -> tuple[float, float]:
        """``(connect, read)`` timeouts in seconds, from the configuration."""
        return (self._config.connect_timeout, self._config.read_timeout)


    def url(self, path: str) -> str:
        """The URL of *path*: a path under ``/v1`` (``"/templates"``), or an absolute path or
        URL on the endpoint's own origin (a ``Location`` the server gave); another origin
        raises :class:`TransportError`."""
        from urllib.parse import urljoin

        if not path.startswith("/v1/") and "://" not in path:
            return self._base + path
        url = urljoin(self._config.base_url + "/", path)
        if urlsplit(url)[:2] != urlsplit(self._config.base_url)[:2]:
            raise TransportError("the server named a URL on another origin; refused")
        return url

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        anonymous: bool = False,
        stream: bool = False,
        what: str | None = None,
        refusal: Callable[[int, Any, str], BaseException | None] | None = None,
        check: bool = True,
    ) -> requests.Response:
        """Send one request with the client's session (TLS from config, retries, cookies,
        timeouts; redirects never followed).

        Args:
            method: the HTTP method.
            path: a path under ``/v1`` (``"/templates"``) or a URL/absolute path on the
                endpoint's origin (e.g. a tus ``Location``).
            json, data: the body (``data``: bytes or an iterable of bytes, streamed).
            anonymous: send no cookie and keep none (basic mode, OBL-ACC-2).
            what: names the endpoint in error messages (default ``"<method> /v1<path>"``);
                give it when the path holds an identifier.
            refusal: for an answer >= 300, called with ``(status, JSON body or None, what)``
                before the generic mapping; the exception it returns is raised (endpoint
                specific errors, e.g. ``ConsentRequired`` with the server's ``scopes``).
            check: False returns every answer, whatever its status (the caller reads it).

        Returns:
            the response (the caller reads and closes it).

        Raises:
            RegionMismatch: the endpoint declares another data region than
                ``SdkConfig.region``, or none (for POST/PUT/PATCH: before the body is sent).
            TlsError, ServerUnavailable, TransportError: the request did not complete.
            NotLoggedIn, ServerError, ...: the answer was a refusal (module docstring), or
                what *refusal* returned.
        """
        import requests

        what = what or f"{method} /v1{path}"
        url = self.url(path)
        if method.upper() in _BODY_METHODS:
            self._ensure_region(what)  # OBL-RES-1: RegionMismatch before any body is sent
        session = self.session

        def send() -> requests.Response:
            if anonymous:
                request = requests.Request(method, url, headers=dict(session.headers), params=params)
                if headers:
                    request.headers.update(headers)
                prepared = request.prepare()
                prepared.headers.pop("Cookie", None)
                return session.send(
                    prepared,
                    timeout=self.timeout,
                    allow_redirects=False,
                    stream=stream,
                    verify=session.verify,
                )
            return session.request(
                method,
                url,
                json=json,
                data=data,
                params=params,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
                stream=stream,
            )

        with _converting(what, self._config):
            resends = 0
            while True:
                try:
                    response = send()
                    break
                except (requests.exceptions.ChunkedEncodingError, requests.exceptions.SSLError) as exc:
                    # An answer cut after its headers (issue #8): urllib3 retries only what fails
                    # before them. The server may have acted, so the very same request (same
                    # Idempotency-Key) goes again, which it answers from its replay store; a
                    # streamed body (an iterable or file as ``data``) cannot be sent again.
                    cut = isinstance(exc, requests.exceptions.ChunkedEncodingError) or connection_cut(exc)
                    replayable = data is None or isinstance(data, (bytes, bytearray, str))
                    if not cut or not replayable or resends >= self._config.retries:
                        raise
                    resends += 1
                    if self._config.backoff > 0:
                        time.sleep(self._config.backoff * 2 ** (resends - 1))
        self._check_region(what, response)  # OBL-RES-1: every answer
        if check and response.status_code >= 300:
            try:
                if refusal is not None:
                    try:
                        body = response.json()
                    except ValueError:
                        body = None
                    error = refusal(response.status_code, body, what)
                    if error is not None:
                        raise error
                self._raise_for_status(what, response)
            finally:
                response.close()
        return response

    def request_json(self, method: str, path: str, **kwargs: Any) -> Any:
        """:meth:`request`, then its JSON answer (the response is closed).

        Raises:
            TransportError: the answer is not JSON; and the errors of :meth:`request`.
        """
        what = kwargs.get("what") or f"{method} /v1{path}"
        return self._json(what, self.request(method, path, **kwargs))

    def _raise_for_status(self, what: str, response: requests.Response) -> None:
        status = response.status_code
        code, message = f"http_{status}", response.reason or "error"
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, Mapping):
            code = str(body.get("error") or code)
            message = str(body.get("message") or message)
        self._raise_account_error(what, status, code, body, response)
        if status in RETRY_STATUSES:
            raise ServerUnavailable(
                f"{what}: the server kept answering {status} {code} after "
                f"{self._config.retries} retries: {message}"
            )
        if status < 400:
            raise ServerError(status, "unexpected_redirect", f"{what}: redirects are not followed")
        raise ServerError(status, code, f"{what}: {message}")

    @staticmethod
    def _raise_account_error(
        what: str, status: int, code: str, body: Any, response: requests.Response
    ) -> None:
        """Raise the account error for an account answer (module docstring); else return."""
        if status == 401:
            if code == "invalid_credentials":
                raise AuthenticationFailed(f"{what}: the identifier or the password is wrong")
            raise NotLoggedIn(f"{what}: not logged in, or the session ended; log in again")
        if status == 409 and code == "account_exists":
            raise AccountExists(f"{what}: an account with this identifier exists; log in instead")
        if status == 429 and code == "too_many_attempts":
            raise LoginThrottled(_retry_after(response.headers.get("Retry-After")))
        if status == 422 and code == "weak_password":
            reasons = body.get("reasons") if isinstance(body, Mapping) else None
            if not isinstance(reasons, list) or not reasons:
                reasons = ["密码强度不足"]
            raise WeakPassword([str(r) for r in reasons])
        if status == 422 and code == "invalid_identifier":
            raise InvalidIdentifier(
                "identifier",
                f"{what}: the server refused the identifier; expected a mobile phone number "
                "or an email address",
            )

    def _json(self, what: str, response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise TransportError(f"{what}: the server's answer is not JSON") from exc
        finally:
            response.close()

    def get_json(self, path: str, **kwargs: Any) -> Any:
        """``GET /v1<path>``: the JSON answer (see :meth:`request` for the arguments)."""
        return self.request_json("GET", path, **kwargs)

    @staticmethod
    def _field(what: str, body: Any, key: str, kind: type) -> Any:
        if not isinstance(body, Mapping) or not isinstance(body.get(key), kind):
            raise TransportError(f"{what}: the server's answer has no '{key}' {kind.__name__}")
        return body[key]

    @classmethod
    def _objects(cls, what: str, body: Any, key: str) -> list[dict[str, Any]]:
        """``body[key]`` as a list of dicts (copies); TransportError when it is not one."""
        values = cls._field(what, body, key, list)
        if not all(isinstance(v, Mapping) for v in values):
            raise TransportError(f"{what}: the server's '{key}' holds an entry that is not an object")
        return [dict(v) for v in values]

    # -- endpoints ------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """``GET /v1/health``: ``{"status": "ok", "version": ...}``."""
        body = self.get_json("/health", anonymous=True)
        self._field("GET /v1/health", body, "status", str)
        return dict(body)

    def get_policy(self) -> dict[str, Any]:
        """``GET /v1/policy``: version, effective_date, language, text, manifest, sha256."""
        what = "GET /v1/policy"
        body = self.get_json("/policy", anonymous=True)
        for key, kind in (("version", str), ("text", str), ("sha256", str), ("manifest", Mapping)):
            self._field(what, body, key, kind)
        return dict(body)

    def post_consent_record(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /v1/consent-records``; ``Idempotency-Key`` is the record's ``record_id``.

        Returns the stored record plus ``received_at`` (also when the server replays an
        earlier answer for the same key).
        """
        what = "POST /v1/consent-records"
        record_id = record.get("record_id")
        if not isinstance(record_id, str) or not record_id:
            raise TransportError(f"{what}: the record has no record_id to use as Idempotency-Key")
        response = self.request(
            "POST",
            "/consent-records",
            json=dict(record),
            headers={"Idempotency-Key": record_id, "Content-Type": "application/json"},
        )
        body = self._json(what, response)
        if not isinstance(body, Mapping):
            raise TransportError(f"{what}: the server's answer is not a JSON object")
        return dict(body)

    def list_consent_records(self, subject_id: str) -> list[dict[str, Any]]:
        """``GET /v1/consent-records?subject_id=...``: the subject's records, in order received."""
        body = self.get_json("/consent-records", params={"subject_id": subject_id})
        return list(self._field("GET /v1/consent-records", body, "records", list))

    def list_templates(self) -> list[dict[str, Any]]:
        """``GET /v1/templates`` (no cookie, no identifier: works in basic mode, OBL-ACC-2)."""
        body = self.get_json("/templates", anonymous=True)
        return list(self._field("GET /v1/templates", body, "templates", list))

    def get_template(self, template_id: str) -> dict[str, Any]:
        """``GET /v1/templates/{id}`` (anonymous). ``ServerError`` 404 when it does not exist."""
        body = self.get_json(f"/templates/{_segment(template_id)}", anonymous=True)
        if not isinstance(body, Mapping):
            raise TransportError("GET /v1/templates/{id}: the server's answer is not a JSON object")
        return dict(body)

    def download_template(self, template_id: str, dest_dir: Path | str) -> Path:
        """Download a template file into *dest_dir* (anonymous); return its path.

        The body is streamed into a temporary file in *dest_dir*, flushed to disk, then renamed
        over the final name (``os.replace``): the final file is either complete or absent.
        The file name is ``<id>.md`` or the server's ``Content-Disposition`` name if it is a
        plain file name (no folders, no leading dot).
        """
        segment = _segment(template_id)
        path = f"/templates/{segment}/download"
        what = "GET /v1/templates/{id}/download"
        dest = Path(dest_dir)
        try:
            dest.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"{what}: cannot create the download folder '{dest}'") from exc
        response = self.request("GET", path, anonymous=True, stream=True)
        try:
            name = _filename(response.headers.get("Content-Disposition"), template_id)
            fd, tmp_name = tempfile.mkstemp(dir=dest, prefix=".download-", suffix=".part")
            tmp = Path(tmp_name)
            try:
                with os.fdopen(fd, "wb") as out:
                    with _converting(what, self._config):
                        for chunk in response.iter_content(_CHUNK):
                            out.write(chunk)
                    out.flush()
                    os.fsync(out.fileno())
                final = dest / name
                os.replace(tmp, final)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise StorageError(f"{what}: cannot write the file into '{dest}' ({exc.strerror})") from exc
        finally:
            response.close()
        return final

    # -- accounts (docs/protocol.md, "Accounts") -------------------------------------------

    def post_json(self, path: str, body: Mapping[str, Any], idempotency_key: str | None = None,
                  **kwargs: Any) -> Any:
        """``POST /v1<path>`` with a JSON *body* and an ``Idempotency-Key`` (a new uuid4
        unless given: retries of the same call reuse it); the JSON answer. Other keyword
        arguments as for :meth:`request` (``what``, ``refusal``)."""
        headers = {"Content-Type": "application/json",
                   "Idempotency-Key": idempotency_key or str(uuid.uuid4())}
        return self.request_json("POST", path, json=dict(body), headers=headers, **kwargs)

    def create_account(self, identifier: str, password: str) -> dict[str, Any]:
        """``POST /v1/accounts``: ``{"account_id", "identifier_kind"}`` (also on a replay).

        A fresh ``Idempotency-Key`` per call, the same on the transport's retries.

        Raises:
            WeakPassword, InvalidIdentifier: the server's checks refused the input.
            AccountExists: the identifier is already registered.
            LoginThrottled: too many refused attempts from this address.
        """
        what = "POST /v1/accounts"
        body = self.post_json("/accounts", {"identifier": identifier, "password": password})
        self._field(what, body, "account_id", str)
        self._field(what, body, "identifier_kind", str)
        return dict(body)

    def create_session(self, identifier: str, password: str, remember_me: bool = False) -> dict[str, Any]:
        """``POST /v1/sessions``: log in; the session cookie lands in :attr:`cookie_jar`.

        Returns:
            ``{"account_id", "identifier_kind", "identifier_masked", "remember_me", "expires_at"}``.

        Raises:
            AuthenticationFailed: wrong identifier or password (one error for both).
            LoginThrottled: too many failed logins; ``retry_after`` seconds.
        """
        what = "POST /v1/sessions"
        body = self.post_json(
            "/sessions",
            {"identifier": identifier, "password": password, "remember_me": bool(remember_me)},
        )
        for key in ("account_id", "identifier_kind", "identifier_masked"):
            self._field(what, body, key, str)
        return dict(body)

    def delete_current_session(self) -> None:
        """``DELETE /v1/sessions/current``: end the session on the server (204)."""
        self.request("DELETE", "/sessions/current").close()

    def get_me(self) -> dict[str, Any]:
        """``GET /v1/me``: ``{"account_id", "identifier_kind", "identifier_masked"}``.

        Raises:
            NotLoggedIn: no session cookie, or the session ended or expired.
        """
        what = "GET /v1/me"
        body = self.get_json("/me")
        for key in ("account_id", "identifier_kind", "identifier_masked"):
            self._field(what, body, key, str)
        return dict(body)

    # -- the account's own data (docs/protocol.md, "Endpoints": /v1/me/...) ---------------

    def link_subject(self, subject_id: str) -> None:
        """``PUT /v1/me/subjects/{subject_id}``: link this install id to the logged-in account
        (204; idempotent: linking again is fine). Call it right after login; the account's
        other devices then get this install's records from :meth:`my_consent_records`.

        Raises:
            NotLoggedIn: no session cookie, or the session ended or expired (401).
            ServerError: ``code == "subject_linked_elsewhere"`` (409) when the install id
                belongs to another account; ``code == "invalid_request"`` (422) when
                *subject_id* is not a uuid4.
            TransportError: as for every call (TLS, unreachable server).
        """
        what = "PUT /v1/me/subjects/{subject_id}"  # the install id stays out of messages
        if not isinstance(subject_id, str) or not subject_id:
            raise TransportError(f"{what}: subject_id must be a non-empty string")
        self.request("PUT", f"/me/subjects/{quote(subject_id, safe='')}", what=what).close()

    def my_consent_records(self, after: int | None = None) -> tuple[list[dict[str, Any]], int | None]:
        """``GET /v1/me/consent-records[?after=n]``: the consent records of every install id
        linked to the logged-in account, in the server's order.

        Args:
            after: the cursor of an earlier answer: only records stored after it. ``None``
                for all.

        Returns:
            ``(records, cursor)``. Each record is as its device sent it plus
            ``"received_at"`` (RFC 3339 UTC) and ``"cursor"`` (int, the server's sequence
            number). Records are *not* verified here: check ``proof`` before trusting one,
            on the record without ``received_at`` and ``cursor`` (the server adds them; they
            are not signed).
            ``cursor`` is the last record's, or *after* when there are none (``None`` when
            neither); pass it as *after* next time.

        Raises:
            NotLoggedIn: not logged in (401).
            ServerError: ``code == "invalid_request"`` (422) for a negative *after*.
            TransportError: the answer is not ``{"records": [...], "cursor": int | null}``.
        """
        what = "GET /v1/me/consent-records"
        if after is not None and (isinstance(after, bool) or not isinstance(after, int) or after < 0):
            raise TransportError(f"{what}: after must be a cursor (an integer of 0 or more)")
        params = {"after": str(after)} if after is not None else None
        body = self.get_json("/me/consent-records", params=params)
        records = self._objects(what, body, "records")
        cursor = body.get("cursor")
        if cursor is not None and (isinstance(cursor, bool) or not isinstance(cursor, int)):
            raise TransportError(f"{what}: the server's answer has no 'cursor' int")
        return records, cursor

    def my_personal_information(self) -> list[dict[str, Any]]:
        """``GET /v1/me/personal-information``: what the server holds about the logged-in
        account, without values (OBL-DSR-1).

        Returns:
            ``[{"item": "login_account", "purpose": "account", "count": 1,
            "last_at": "2026-11-30T03:22:25Z" | None, "held": "Argon2id hash only"}, ...]``:
            ``item`` / ``purpose`` are ids of the policy manifest, ``held`` says in what form
            (English).

        Raises:
            NotLoggedIn: not logged in (401).
            TransportError: the answer has no ``items`` list.
        """
        body = self.get_json("/me/personal-information")
        return self._objects("GET /v1/me/personal-information", body, "items")

    def my_third_party_transfers(self) -> list[dict[str, Any]]:
        """``GET /v1/me/third-party-transfers``: personal information of the logged-in account
        given to third parties, oldest first (OBL-DSR-1).

        Returns:
            ``[{"recipient": "ca", "items": ["real_name", "id_number"], "purpose":
            "certificate", "method": "...", "time": "2026-11-30T03:22:25Z"}, ...]``
            (recipient, items and purpose are ids of the policy manifest); empty when nothing
            was given away.

        Raises:
            NotLoggedIn: not logged in (401).
            TransportError: the answer has no ``transfers`` list.
        """
        body = self.get_json("/me/third-party-transfers")
        return self._objects("GET /v1/me/third-party-transfers", body, "transfers")

    def client_ip(self) -> str:
        """``GET /v1/client-ip``: the IP address the server sees for this device, sent without
        cookie or identifier. Call it only through ``privacy.device.server_ip`` (the consent
        gate for ``device_ip``).

        Raises:
            TransportError: unreachable, or the answer holds no valid IP address.
        """
        import ipaddress

        what = "GET /v1/client-ip"
        address = self._field(what, self.get_json("/client-ip", anonymous=True), "ip", str)
        try:
            return str(ipaddress.ip_address(address))
        except ValueError as exc:
            raise TransportError(f"{what}: the server's 'ip' is not an IP address") from exc

    def close(self) -> None:
        """Close the session if this client made it. Idempotent."""
        if self._own_session and self._session is not None:
            self._session.close()
            self._session = None

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _segment(template_id: str) -> str:
    if not isinstance(template_id, str) or not template_id:
        raise TransportError("template id must be a non-empty string")
    return quote(template_id, safe="")


def _filename(disposition: str | None, template_id: str) -> str:
    """A safe file name from ``Content-Disposition``, else ``<id>.md`` made safe."""
    if disposition:
        match = re.search(r'filename="?([^";]+)"?', disposition)
        if match:
            candidate = os.path.basename(match.group(1).strip())
            if _SAFE_FILENAME.match(candidate):
                return candidate
    fallback = re.sub(r"[^A-Za-z0-9._-]", "_", template_id).lstrip(".") or "template"
    return f"{fallback[:120]}.md"


def _retry_after(value: str | None) -> int:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP-date); at least 1."""
    if value:
        value = value.strip()
        if value.isdigit():
            return max(1, int(value))
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=_dt.timezone.utc)
            delta = (when - _dt.datetime.now(_dt.timezone.utc)).total_seconds()
            return max(1, math.ceil(delta))
    return _DEFAULT_RETRY_AFTER
