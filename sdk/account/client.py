"""Register, log in, log out and "who am I" against the backend (docs/protocol.md, "Accounts").

:class:`AccountClient` checks input on the device before anything is sent (identifier format,
password strength), then talks through :class:`sdk.transport.ApiClient`, whose one error
boundary turns the server's answers into :mod:`sdk.errors` (``AuthenticationFailed``,
``LoginThrottled``, ``NotLoggedIn``, ...).

The session is a cookie (``sid``; Secure, HttpOnly, SameSite=Strict) set by the server at login.
It lives in the ``requests`` session's cookie jar, which is pluggable (``cookie_jar``): the
default jar is in memory; a persistent encrypted jar keeps a "remember me" session across
restarts. Nothing here logs or stores the identifier or the password.
"""

from __future__ import annotations

import datetime as _dt
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import AccountError, InvalidInput, TransportError
from .identifiers import IdentifierKind, parse_identifier
from .password import require_strong

if TYPE_CHECKING:  # pragma: no cover
    from http.cookiejar import CookieJar

    from ..transport.client import ApiClient

__all__ = ["AccountClient", "Account", "SessionInfo", "REMEMBER_ME_WARNING"]

log = logging.getLogger(__name__)

#: Show this next to the "remember me" box (OBL-SEC-4).
REMEMBER_ME_WARNING = "请勿在公用或他人的设备上勾选“记住我”"


@dataclass(frozen=True)
class Account:
    """An account as the app may show it.

    Attributes:
        account_id: the server's id for the account (uuid4).
        identifier_kind: ``"phone"`` or ``"email"``.
        identifier_masked: e.g. ``138****8000`` or ``a***@example.com``.
    """

    account_id: str
    identifier_kind: IdentifierKind
    identifier_masked: str


@dataclass(frozen=True)
class SessionInfo:
    """A successful login.

    Attributes:
        account: the account logged in to.
        remember_me: whether the session survives an app restart (cookie with ``Max-Age``).
        expires_at: when the server ends the session (aware UTC), if it said.
    """

    account: Account
    remember_me: bool
    expires_at: _dt.datetime | None


class AccountClient:
    """Accounts for one app: a phone number or an email address plus a password (OBL-ACC-1).

    Args:
        api: the wire-protocol client (its session's cookie jar holds the session cookie).
        cookie_jar: keep the session cookie in this jar instead of the current one (e.g. the
            persistent encrypted jar); ``None`` leaves the client's jar as it is.
        default_region: region for phone numbers typed without ``+`` country code.

    Calls block on the network: run them off the UI thread.
    """

    def __init__(
        self, api: ApiClient, cookie_jar: CookieJar | None = None, default_region: str = "CN"
    ) -> None:
        self._api = api
        self._region = default_region
        if cookie_jar is not None:
            api.use_cookie_jar(cookie_jar)

    def use_cookie_jar(self, cookie_jar: CookieJar) -> None:
        """Keep the session cookie in *cookie_jar* from now on."""
        self._api.use_cookie_jar(cookie_jar)

    @property
    def has_session_cookie(self) -> bool:
        """True when a session cookie for the endpoint is in the jar. It may have ended on the
        server: only :meth:`me` can tell."""
        return self._api.has_cookie()

    def register(self, identifier: str, password: str) -> Account:
        """Create an account (``POST /v1/accounts``). Does not log in.

        The identifier and the password strength are checked here first, so nothing is sent
        when either is wrong; the server checks them again.

        Args:
            identifier: a mobile phone number or an email address, as typed.
            password: the new password (at least 10 characters, hard to guess).

        Raises:
            InvalidIdentifier: not a mobile phone number or email address.
            WeakPassword: ``reasons`` (Chinese) say what to change.
            AccountExists: the identifier is already registered.
            LoginThrottled: too many refused attempts from this address.
            TransportError: the server could not be reached.
        """
        parsed = parse_identifier(identifier, self._region)
        require_strong(password, (parsed.value, identifier))
        answer = self._api.create_account(parsed.value, password)
        return Account(
            account_id=str(answer["account_id"]),
            identifier_kind=parsed.kind,
            identifier_masked=parsed.masked,
        )

    def login(self, identifier: str, password: str, remember_me: bool = False) -> SessionInfo:
        """Log in (``POST /v1/sessions``); the session cookie goes into the jar.

        Every login gets a new session token; a previous session of this device ends.

        Args:
            identifier: the phone number or email address registered (any usual spelling:
                ``138 0013 8000``, ``+86 13800138000`` and ``13800138000`` are the same).
            password: the password.
            remember_me: keep the session for 30 days, across restarts. Off by default.
                **Not for shared devices**: anyone using this device stays logged in as this
                user; show :data:`REMEMBER_ME_WARNING` next to the choice (OBL-SEC-4).

        Raises:
            InvalidIdentifier: the identifier is not a phone number or email address.
            InvalidInput: the password is empty (``field == "password"``).
            AuthenticationFailed: wrong identifier or password (one error for both).
            LoginThrottled: too many failed logins; ``retry_after`` seconds to wait.
            AccountError: the answer came without a session cookie the jar would keep.
            TransportError: the server could not be reached.
        """
        parsed = parse_identifier(identifier, self._region)
        if not isinstance(password, str) or not password:
            raise InvalidInput("password", "enter the password")
        answer = self._api.create_session(parsed.value, password, remember_me=bool(remember_me))
        if not self._api.has_cookie():
            raise AccountError(
                "logged in, but the cookie jar did not keep the session cookie; check that the "
                "jar accepts session cookies from the endpoint"
            )
        return SessionInfo(
            account=_account(answer, fallback_masked=parsed.masked),
            remember_me=bool(answer.get("remember_me", remember_me)),
            expires_at=_parse_time(answer.get("expires_at")),
        )

    def logout(self) -> bool:
        """Log out: end the session on the server, then remove the cookie from the jar.

        The cookie is removed even when the server cannot be reached (the user is logged out on
        this device either way; the server ends the orphaned session when it expires).

        Returns:
            True when the server confirmed; False when only the device forgot the session.
        """
        confirmed = False
        try:
            self._api.delete_current_session()
            confirmed = True
        except TransportError as exc:
            log.warning("logout: the server could not confirm (%s); forgetting the session here",
                        type(exc).__name__)
        finally:
            self._api.clear_cookie()
        return confirmed

    def me(self) -> Account:
        """The logged-in account (``GET /v1/me``).

        Raises:
            NotLoggedIn: no session, or it ended or expired on the server.
            TransportError: the server could not be reached.
        """
        return _account(self._api.get_me())


def _account(answer: dict[str, Any], fallback_masked: str = "") -> Account:
    kind = answer.get("identifier_kind")
    masked = answer.get("identifier_masked") or fallback_masked
    return Account(
        account_id=str(answer["account_id"]),
        identifier_kind="email" if kind == "email" else "phone",
        identifier_masked=str(masked),
    )


def _parse_time(value: Any) -> _dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=_dt.timezone.utc)
