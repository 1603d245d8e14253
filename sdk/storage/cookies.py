"""A persistent cookie jar for the SDK's requests Session, kept in the encrypted store.

RFC 6265 behaviour comes from the standard library's :class:`http.cookiejar.CookieJar`
(parsing ``Set-Cookie``, domain and path matching, host-only vs domain cookies, ``Secure``,
``Max-Age``/``Expires``, ``Max-Age=0`` deleting): this module only adds persistence,
purposes and the user's controls. requests accepts any ``http.cookiejar.CookieJar`` as
``session.cookies`` (its own ``RequestsCookieJar`` is one too)::

    jar = PersistentCookieJar(store, purposes={"session": "account", "lang": "preferences"})
    session.cookies = jar

Rules:

- **Purpose per cookie (OBL-CK-2).** ``purposes`` maps each cookie *name* the app expects to
  a purpose the manifest declares. A cookie whose name is not in it is refused, deny by
  default: not kept, not sent back, and a warning naming the cookie (never its value) is
  logged.
- **What goes to disk (OBL-CK-1).** Persistent cookies (``Expires`` or ``Max-Age``) are
  written, sealed, to the store's ``cookies`` namespace on every change, with their purpose
  and expiry; the store caps the expiry at the purpose's retention. Session cookies (no
  expiry) live in memory only. Expired cookies are dropped.
- **Session-only mode (OBL-CK-3, "refuse persistent cookies").** Nothing is written to disk;
  switching it on deletes the cookies already stored (those in memory last until the process
  ends, as session cookies). The choice is remembered in the store until it is wiped.
- **The user's controls (OBL-CK-3).** :meth:`PersistentCookieJar.list` (name, domain, path,
  expiry, purpose, size, flags; never values), :meth:`~PersistentCookieJar.delete`,
  :meth:`~PersistentCookieJar.clear`, :meth:`~PersistentCookieJar.set_session_only`.
  Deleting the login cookie signs the user out; tell them before.

Cookie values never appear in logs or exception messages.
"""

from __future__ import annotations

import datetime as _dt
import http.cookiejar
import json
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import IntegrityError, StorageError, UndeclaredPurpose
from .store import EncryptedStore

__all__ = ["COOKIE_NAMESPACE", "CookieInfo", "MemoryCookieJar", "PersistentCookieJar"]

logger = logging.getLogger("sdk.storage")

#: The store namespace holding the persistent cookies.
COOKIE_NAMESPACE = "cookies"

_SESSION_ONLY_SETTING = "cookies.session_only"
_RECORD_VERSION = 1


@dataclass(frozen=True)
class CookieInfo:
    """One cookie as the user may see it: never its value.

    Attributes:
        name, domain, path: identify the cookie (``domain`` starts with a dot for a domain
            cookie; a host-only cookie has the bare host, ``localhost.local`` for localhost,
            as :mod:`http.cookiejar` names it).
        expires: when it expires (aware UTC), or ``None`` for a session cookie.
        purpose: the manifest purpose it is kept for.
        size: bytes of name + value (UTF-8), as browsers show it.
        secure: sent over HTTPS only.
        http_only: the server marked it ``HttpOnly``.
        same_site: the ``SameSite`` attribute as sent (``Strict``, ``Lax``, ``None``), or ``None``.
        persistent: stored on the device (``False`` for session cookies, and in
            session-only mode).
    """

    name: str
    domain: str
    path: str
    expires: _dt.datetime | None
    purpose: str
    size: int
    secure: bool
    http_only: bool
    same_site: str | None = None
    persistent: bool = False


def _rest(cookie: http.cookiejar.Cookie) -> dict[str, Any]:
    return dict(getattr(cookie, "_rest", {}) or {})


def _attr(cookie: http.cookiejar.Cookie, name: str) -> tuple[bool, Any]:
    """Whether the non-standard attribute *name* (any case) is present, and its value."""
    for key, value in _rest(cookie).items():
        if key.lower() == name.lower():
            return True, value
    return False, None


def _store_key(domain: str, path: str, name: str) -> str:
    return json.dumps([domain, path, name], ensure_ascii=False, separators=(",", ":"))


def _to_record(cookie: http.cookiejar.Cookie) -> str:
    return json.dumps(
        {
            "v": _RECORD_VERSION,
            "version": cookie.version,
            "name": cookie.name,
            "value": cookie.value,
            "port": cookie.port,
            "port_specified": cookie.port_specified,
            "domain": cookie.domain,
            "domain_specified": cookie.domain_specified,
            "domain_initial_dot": cookie.domain_initial_dot,
            "path": cookie.path,
            "path_specified": cookie.path_specified,
            "secure": cookie.secure,
            "expires": cookie.expires,
            "discard": cookie.discard,
            "comment": cookie.comment,
            "comment_url": cookie.comment_url,
            "rest": _rest(cookie),
            "rfc2109": cookie.rfc2109,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def _from_record(text: str) -> http.cookiejar.Cookie:
    data = json.loads(text)
    if not isinstance(data, dict) or data.get("v") != _RECORD_VERSION:
        raise ValueError("unknown cookie record")
    return http.cookiejar.Cookie(
        version=data["version"],
        name=data["name"],
        value=data["value"],
        port=data["port"],
        port_specified=bool(data["port_specified"]),
        domain=data["domain"],
        domain_specified=bool(data["domain_specified"]),
        domain_initial_dot=bool(data["domain_initial_dot"]),
        path=data["path"],
        path_specified=bool(data["path_specified"]),
        secure=bool(data["secure"]),
        expires=data["expires"],
        discard=bool(data["discard"]),
        comment=data["comment"],
        comment_url=data["comment_url"],
        rest=dict(data["rest"]),
        rfc2109=bool(data["rfc2109"]),
    )


def _is_session(cookie: http.cookiejar.Cookie) -> bool:
    return cookie.expires is None or cookie.discard


def _localhost_domain_fix(cookies: list[http.cookiejar.Cookie], request: Any) -> list[http.cookiejar.Cookie]:
    """Make ``Domain=localhost`` (a dotless host) cookies match when they are sent back.

    For a request host without a dot, :mod:`http.cookiejar` accepts ``Domain=localhost`` but
    compares the cookie domain with ``localhost.local`` (its name for such hosts) when
    sending, so the cookie would be kept, even stored, and never sent. RFC 6265 (5.1.3, 5.4)
    sends it: the host equals the domain. The domain is rewritten to ``.localhost.local``,
    which the standard policy matches for ``localhost`` (requests copies the jar into its own
    ``RequestsCookieJar`` with the default policy to build the ``Cookie`` header, so a custom
    policy would not help). Such a cookie then reaches ``localhost`` only, not
    ``*.localhost``.
    """
    req_host, erhn = http.cookiejar.eff_request_host(request)
    if "." in req_host:
        return cookies
    for cookie in cookies:
        if cookie.domain_specified and cookie.domain.lstrip(".").lower() == req_host.lower():
            cookie.domain = "." + erhn
            cookie.domain_initial_dot = True
    return cookies


class PersistentCookieJar(http.cookiejar.CookieJar):
    """An :class:`http.cookiejar.CookieJar` that keeps persistent cookies in an
    :class:`~sdk.storage.store.EncryptedStore`; see the module docstring for the rules.

    Args:
        store: where persistent cookies are kept (namespace :data:`COOKIE_NAMESPACE`).
        purposes: cookie name -> id of the manifest purpose it serves. Names not listed
            are refused.
        policy: an :class:`http.cookiejar.CookiePolicy` (default: ``DefaultCookiePolicy``).
        session_only: ``True``/``False`` sets (and remembers) the mode; ``None`` (default)
            uses the mode remembered in the store (persistent when never set).

    Raises:
        UndeclaredPurpose: a purpose in *purposes* is not declared in the store's manifest.
        StorageError, KeystoreError: from the store, while loading.
    """

    def __init__(
        self,
        store: EncryptedStore,
        purposes: Mapping[str, str],
        *,
        policy: http.cookiejar.CookiePolicy | None = None,
        session_only: bool | None = None,
    ) -> None:
        super().__init__(policy)
        declared = {p.id for p in store.manifest.purposes}
        for name, purpose in purposes.items():
            if not isinstance(name, str) or not name:
                raise ValueError("cookie names in purposes must be non-empty strings")
            if purpose not in declared:
                raise UndeclaredPurpose(
                    str(purpose),
                    f"cookie '{name}' is mapped to purpose '{purpose}', which the policy "
                    "manifest does not declare; declare it there or map the cookie to a "
                    "declared purpose",
                )
        self._store = store
        self._purposes = dict(purposes)
        if session_only is None:
            self._session_only = store._get_setting(_SESSION_ONLY_SETTING) == "1"
        else:
            self._session_only = bool(session_only)
            store._set_setting(_SESSION_ONLY_SETTING, "1" if session_only else None)
        with self._cookies_lock:
            if self._session_only:
                store.delete_namespace(COOKIE_NAMESPACE)
            else:
                self._load()

    # -- persistence ----------------------------------------------------------------------

    def _load(self) -> None:
        now = time.time()
        for entry in self._store.entries(COOKIE_NAMESPACE):
            try:
                text = self._store.get_text(COOKIE_NAMESPACE, entry.key)
                if text is None:
                    continue
                cookie = _from_record(text)
            except (IntegrityError, StorageError, ValueError, KeyError, TypeError):
                logger.warning(
                    "a stored cookie could not be read (corrupt or tampered); it is deleted"
                )
                self._store.delete(COOKIE_NAMESPACE, entry.key)
                continue
            if cookie.is_expired(now) or cookie.name not in self._purposes:
                self._store.delete(COOKIE_NAMESPACE, entry.key)
                continue
            super().set_cookie(cookie)

    def _persist(self, cookie: http.cookiejar.Cookie, purpose: str) -> None:
        key = _store_key(cookie.domain, cookie.path, cookie.name)
        if self._session_only or _is_session(cookie):
            self._store.delete(COOKIE_NAMESPACE, key)  # replaced by a memory-only cookie
            return
        expires = _dt.datetime.fromtimestamp(int(cookie.expires), _dt.timezone.utc)  # type: ignore[arg-type]
        self._store.put(COOKIE_NAMESPACE, key, _to_record(cookie), purpose=purpose,
                        expires_at=expires)

    # -- CookieJar overrides ---------------------------------------------------------------

    def make_cookies(self, response: Any, request: Any) -> list[http.cookiejar.Cookie]:
        """The standard parsing, with ``Domain=localhost`` made to match (see
        :func:`_localhost_domain_fix`)."""
        return _localhost_domain_fix(super().make_cookies(response, request), request)

    def set_cookie(self, cookie: http.cookiejar.Cookie) -> None:
        """Keep *cookie* (and persist it when it is persistent), if its name has a purpose.

        Called by :meth:`extract_cookies` for each cookie a response sets.
        """
        purpose = self._purposes.get(cookie.name)
        if purpose is None:
            logger.warning(
                "refused cookie '%s' from %s: its name has no declared purpose (deny by "
                "default); map it to a purpose in PersistentCookieJar(purposes=...) if the "
                "app needs it",
                cookie.name,
                cookie.domain,
            )
            return
        with self._cookies_lock:
            if cookie.expires is not None and cookie.is_expired(time.time()):
                try:
                    self.clear(cookie.domain, cookie.path, cookie.name)
                except KeyError:
                    pass
                return
            self._persist(cookie, purpose)
            super().set_cookie(cookie)

    def clear(
        self, domain: str | None = None, path: str | None = None, name: str | None = None
    ) -> None:
        """Remove cookies from memory and from the store (same arguments as
        :meth:`http.cookiejar.CookieJar.clear`: all; a domain; a domain and path; or one).

        Raises:
            KeyError: nothing matches (as the standard library does; used by
                ``Max-Age=0`` handling, which ignores it).
        """
        with self._cookies_lock:
            doomed = [
                c for c in self
                if (domain is None or c.domain == domain)
                and (path is None or c.path == path)
                and (name is None or c.name == name)
            ]
            if domain is None and path is None and name is None:
                super().clear()
                self._store.delete_namespace(COOKIE_NAMESPACE)
                return
            # Delete from the store even when the cookie is not in memory (e.g. refused now).
            if name is not None and domain is not None and path is not None:
                self._store.delete(COOKIE_NAMESPACE, _store_key(domain, path, name))
            for cookie in doomed:
                self._store.delete(COOKIE_NAMESPACE,
                                   _store_key(cookie.domain, cookie.path, cookie.name))
            super().clear(domain, path, name)

    # -- the user's controls (OBL-CK-3) ---------------------------------------------------

    @property
    def session_only(self) -> bool:
        """``True`` in "refuse persistent cookies" mode."""
        return self._session_only

    def set_session_only(self, enabled: bool) -> None:
        """Switch "refuse persistent cookies" on or off, and remember the choice.

        Switching on deletes every cookie stored on the device at once; the cookies in
        memory last until the process ends. Switching off stores the persistent cookies
        held in memory from now on.
        """
        with self._cookies_lock:
            self._session_only = bool(enabled)
            self._store._set_setting(_SESSION_ONLY_SETTING, "1" if enabled else None)
            if enabled:
                self._store.delete_namespace(COOKIE_NAMESPACE)
            else:
                for cookie in list(self):
                    purpose = self._purposes.get(cookie.name)
                    if purpose is not None and not cookie.is_expired(time.time()):
                        self._persist(cookie, purpose)

    def list(self) -> list[CookieInfo]:
        """Every live cookie, without values, sorted by domain, path and name."""
        self.clear_expired_cookies()
        with self._cookies_lock:
            cookies: Iterable[http.cookiejar.Cookie] = sorted(
                self, key=lambda c: (c.domain, c.path, c.name)
            )
            out = []
            for c in cookies:
                http_only, _ = _attr(c, "HttpOnly")
                has_same_site, same_site = _attr(c, "SameSite")
                session = _is_session(c)
                out.append(
                    CookieInfo(
                        name=c.name,
                        domain=c.domain,
                        path=c.path,
                        expires=None if session else _dt.datetime.fromtimestamp(
                            int(c.expires), _dt.timezone.utc  # type: ignore[arg-type]
                        ),
                        purpose=self._purposes.get(c.name, ""),
                        size=len(c.name.encode("utf-8")) + len((c.value or "").encode("utf-8")),
                        secure=bool(c.secure),
                        http_only=http_only,
                        same_site=str(same_site) if has_same_site and same_site else None,
                        persistent=not (session or self._session_only),
                    )
                )
            return out

    def delete(self, name: str, domain: str, path: str) -> bool:
        """Delete one cookie (memory and device); ``True`` if it existed."""
        with self._cookies_lock:
            try:
                self.clear(domain, path, name)
            except KeyError:
                return False
            return True

    def __repr__(self) -> str:  # never the values
        mode = "session_only" if self._session_only else "persistent"
        return f"<PersistentCookieJar {len(self)} cookie(s), {mode}>"

    __str__ = __repr__


class MemoryCookieJar(http.cookiejar.CookieJar):
    """The fallback when no keystore is available: cookies in memory only, with the same
    purposes rule and user controls as :class:`PersistentCookieJar`. Always session-only:
    without a keystore nothing may be written to disk (never a plaintext cookie file).
    """

    session_only = True

    def __init__(self, purposes: Mapping[str, str],
                 policy: http.cookiejar.CookiePolicy | None = None) -> None:
        super().__init__(policy)
        self._purposes = dict(purposes)

    def make_cookies(self, response: Any, request: Any) -> list[http.cookiejar.Cookie]:
        """As :meth:`PersistentCookieJar.make_cookies`."""
        return _localhost_domain_fix(super().make_cookies(response, request), request)

    def set_cookie(self, cookie: http.cookiejar.Cookie) -> None:
        if cookie.name not in self._purposes:
            logger.warning("cookie '%s' refused: no purpose declared for it", cookie.name)
            return
        super().set_cookie(cookie)

    def list(self) -> list[CookieInfo]:
        """The cookies held, without values."""
        return [
            CookieInfo(c.name, c.domain, c.path, None, self._purposes[c.name],
                       len(c.name.encode()) + len((c.value or "").encode()), bool(c.secure),
                       c.has_nonstandard_attr("HttpOnly"))
            for c in self
        ]

    def delete(self, name: str, domain: str, path: str) -> bool:
        """Delete one cookie; False when there was none."""
        try:
            self.clear(domain, path, name)
        except KeyError:
            return False
        return True

    def set_session_only(self, session_only: bool) -> None:
        """Nothing to change: this jar never writes to disk."""
