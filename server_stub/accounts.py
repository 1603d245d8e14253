"""Accounts on the stub: password hashing, session tokens and login throttling.

- Passwords are kept only as Argon2id hashes (``argon2-cffi``'s :class:`PasswordHasher` with
  its default parameters), re-hashed at login when the parameters changed. Passwords are
  NFKC-normalised before hashing and verifying.
- Session tokens are 256 random bits (``secrets``); only their SHA-256 is stored.
- A login for an unknown identifier is verified against a dummy hash, so it takes as long
  as a wrong password and answers the same.
- Failed logins are counted per identifier and per client address in a sliding window
  (:class:`LoginThrottle`). Counters live in memory only, keyed by an HMAC under a random
  per-process key: an identifier typed at the login form (perhaps of someone who has no
  account) is never written to disk, and a restart resets the counters.

Nothing here logs a request value.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from sdk.account.password import normalize_password

from .settings import Settings
from .store import AccountRow, Store

__all__ = [
    "SESSION_COOKIE",
    "AccountService",
    "LoginThrottle",
    "LoginOutcome",
    "token_digest",
    "session_cookie",
    "expired_session_cookie",
]

#: Name of the session cookie.
SESSION_COOKIE = "sid"
_COOKIE_ATTRIBUTES = "Path=/; Secure; HttpOnly; SameSite=Strict"
#: Longest cookie value looked up (a token is 43 characters); longer ones are ignored.
_MAX_TOKEN_LENGTH = 128


def token_digest(token: str) -> str:
    """Hex SHA-256 of a session token: what the server stores and looks up."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def session_cookie(token: str, max_age: int | None) -> str:
    """The ``Set-Cookie`` value for a new session; ``Max-Age`` only for "remember me"."""
    value = f"{SESSION_COOKIE}={token}; {_COOKIE_ATTRIBUTES}"
    return value if max_age is None else f"{value}; Max-Age={max_age}"


def expired_session_cookie() -> str:
    """The ``Set-Cookie`` value that removes the session cookie from the client."""
    return (
        f"{SESSION_COOKIE}=; {_COOKIE_ATTRIBUTES}; Max-Age=0; "
        "Expires=Thu, 01 Jan 1970 00:00:00 GMT"
    )


class LoginThrottle:
    """Sliding-window counters of failed logins, per identifier and per client address.

    Args:
        per_account: failures per identifier allowed within ``window`` seconds.
        per_address: failures per client address allowed within ``window`` seconds.
        window: the window, in seconds.
        clock: current time in seconds.
    """

    _SWEEP_AT = 10_000  # keys held before a sweep of expired counters

    def __init__(
        self, per_account: int, per_address: int, window: float, clock: Callable[[], float]
    ) -> None:
        self._limits = {"account": per_account, "address": per_address}
        self._window = float(window)
        self._clock = clock
        self._key = secrets.token_bytes(32)
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _slot(self, scope: str, value: str) -> tuple[str, str]:
        mac = hmac.new(self._key, f"{scope}\0{value}".encode("utf-8"), hashlib.sha256)
        return scope, mac.hexdigest()

    def _recent(self, slot: tuple[str, str], now: float) -> deque[float] | None:
        times = self._failures.get(slot)
        if times is None:
            return None
        while times and times[0] <= now - self._window:
            times.popleft()
        if not times:
            del self._failures[slot]
            return None
        return times

    def _wait(self, identifier: str | None, address: str | None, now: float) -> float:
        """Seconds until both counters are under their limits (0 when they are); lock held."""
        wait = 0.0
        for scope, value in (("account", identifier), ("address", address)):
            if value is None:
                continue
            times = self._recent(self._slot(scope, value), now)
            limit = self._limits[scope]
            if times is not None and len(times) >= limit:
                # Allowed again when the failure that makes the count reach the limit expires.
                wait = max(wait, times[len(times) - limit] + self._window - now)
        return wait

    def _record(self, identifier: str | None, address: str | None, now: float) -> None:
        """Count one failure at ``now``; lock held."""
        if len(self._failures) >= self._SWEEP_AT:
            for slot in list(self._failures):
                self._recent(slot, now)
        for scope, value in (("account", identifier), ("address", address)):
            if value is not None:
                self._failures.setdefault(self._slot(scope, value), deque()).append(now)

    @staticmethod
    def _seconds(wait: float) -> int | None:
        return max(1, math.ceil(wait)) if wait > 0 else None

    def retry_after(self, identifier: str | None, address: str | None) -> int | None:
        """Seconds until an attempt for this identifier from this address is allowed again, or
        None when it is allowed now. Either argument may be None (not checked)."""
        with self._lock:
            return self._seconds(self._wait(identifier, address, self._clock()))

    def failed(self, identifier: str | None, address: str | None) -> None:
        """Count one failure for the identifier and for the address (either may be None)."""
        with self._lock:
            self._record(identifier, address, self._clock())

    def begin_attempt(self, identifier: str, address: str | None) -> tuple[int | None, float]:
        """Check and, when allowed, count the attempt as a failure in one step.

        Counting before the password is verified keeps a burst of parallel attempts within the
        limit (check-then-count would let them all through). :meth:`succeeded` takes the count
        back when the password was right.

        Returns:
            ``(retry_after, at)``: ``retry_after`` is None when the attempt may go ahead;
            ``at`` identifies the attempt for :meth:`succeeded`.
        """
        with self._lock:
            now = self._clock()
            wait = self._seconds(self._wait(identifier, address, now))
            if wait is None:
                self._record(identifier, address, now)
            return wait, now

    def succeeded(self, identifier: str, address: str | None = None, at: float | None = None) -> None:
        """A successful login resets the identifier's counter, and takes back the address's count
        of this attempt (only that one: a valid account of one's own must not reset the count of
        guesses against other accounts)."""
        with self._lock:
            self._failures.pop(self._slot("account", identifier), None)
            if address is not None and at is not None:
                times = self._failures.get(self._slot("address", address))
                if times is not None:
                    try:
                        times.remove(at)
                    except ValueError:
                        pass


@dataclass(frozen=True)
class LoginOutcome:
    """A successful login: the account and the new session."""

    account: AccountRow
    token: str
    expires_at: float
    max_age: int | None


class AccountService:
    """Registration, login, sessions for one app (``app.state.accounts``)."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.hasher = PasswordHasher()
        # Verified for unknown identifiers, so their answer takes as long as a wrong password.
        self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(24))
        self.throttle = LoginThrottle(
            settings.login_max_failures_per_account,
            settings.login_max_failures_per_address,
            settings.login_window_seconds,
            settings.clock,
        )

    def now(self) -> float:
        return self.settings.clock()

    def hash_password(self, password: str) -> str:
        """Argon2id hash (PHC string, ``$argon2id$...``) of the NFKC form of *password*."""
        return self.hasher.hash(normalize_password(password))

    def password_matches(self, password_hash: str, password: str) -> bool:
        """True when *password* matches *password_hash* (never raises for a mismatch)."""
        try:
            return bool(self.hasher.verify(password_hash, normalize_password(password)))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def authenticate(self, identifier: str, password: str) -> AccountRow | None:
        """The account when the password is right; None for a wrong password or an unknown
        identifier (the same work is done in both cases). Re-hashes on success when the
        stored hash used other Argon2 parameters."""
        account = self.store.account_by_identifier(identifier)
        matches = self.password_matches(
            account.password_hash if account else self._dummy_hash, password
        )
        if account is None or not matches:
            return None
        if self.hasher.check_needs_rehash(account.password_hash):
            self.store.replace_password_hash(
                account.account_id, account.password_hash, self.hash_password(password)
            )
        return account

    def start_session(
        self, account: AccountRow, remember_me: bool, previous_token: str | None
    ) -> LoginOutcome:
        """A new session for *account*; the caller's previous session (if any) ends."""
        now = self.now()
        ttl = self.settings.remember_me_seconds if remember_me else self.settings.session_ttl_seconds
        token = secrets.token_urlsafe(32)  # 256 bits
        replaces = token_digest(previous_token) if _plausible(previous_token) else None
        self.store.create_session(token_digest(token), account.account_id, now + ttl, now, replaces)
        return LoginOutcome(
            account=account,
            token=token,
            expires_at=now + ttl,
            max_age=self.settings.remember_me_seconds if remember_me else None,
        )

    def session_account(self, token: str | None) -> AccountRow | None:
        """The account of the session with this cookie value, or None."""
        if not _plausible(token):
            return None
        assert token is not None
        return self.store.session_account(token_digest(token), self.now())

    def end_session(self, token: str | None) -> None:
        """End the session with this cookie value (no-op when there is none)."""
        if _plausible(token):
            assert token is not None
            self.store.delete_session(token_digest(token))


def _plausible(token: str | None) -> bool:
    return bool(token) and len(token or "") <= _MAX_TOKEN_LENGTH
