"""Accounts: a phone number or an email address plus a password, nothing else (OBL-ACC-1).

- :func:`parse_identifier` normalises a phone number (E.164) or an email address;
- :func:`check_password` / :func:`require_strong`: at least 10 characters and hard to guess
  (``zxcvbn``), with reasons in Chinese the user can act on;
- :class:`AccountClient`: register, log in (cookie session, "remember me" off by default,
  OBL-SEC-4), log out, who am I. :class:`sdk.PrivacySdk` has thin ``register``/``login``/
  ``logout``/``me`` methods that use it.

Importing this package is cheap: ``phonenumbers``, ``email-validator``, ``zxcvbn`` and
``requests`` load on first use.
"""

from __future__ import annotations

from .client import REMEMBER_ME_WARNING, Account, AccountClient, SessionInfo
from .identifiers import Identifier, IdentifierKind, mask_identifier, parse_identifier
from .password import (
    MAX_LENGTH,
    MIN_LENGTH,
    MIN_SCORE,
    PasswordCheck,
    check_password,
    require_strong,
)

__all__ = [
    "Account",
    "AccountClient",
    "SessionInfo",
    "REMEMBER_ME_WARNING",
    "Identifier",
    "IdentifierKind",
    "parse_identifier",
    "mask_identifier",
    "PasswordCheck",
    "check_password",
    "require_strong",
    "MIN_LENGTH",
    "MAX_LENGTH",
    "MIN_SCORE",
]
