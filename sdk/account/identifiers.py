"""Account identifiers: a phone number or an email address, nothing else (OBL-ACC-1).

:func:`parse_identifier` is used on the device (before anything is sent) and again by the stub
server (which never trusts the client), so both apply exactly the same rules:

- text containing ``@`` is an email address, validated and normalised by ``email-validator``
  (syntax only, ``check_deliverability=False``: no DNS look-up leaks the address); the whole
  address is then lower-cased, so ``Alice@Example.com`` and ``alice@example.com`` are one
  account;
- anything else is a phone number, parsed by ``phonenumbers`` with ``default_region`` (``CN``:
  ``13800138000`` needs no ``+86``), that must be a valid *mobile* number (a landline cannot
  receive a verification SMS); the value is E.164, e.g. ``+8613800138000``.

Errors never repeat the input (it is personal data), only what is expected.
``phonenumbers`` and ``email-validator`` are imported on first use, so importing this module
is cheap.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from ..errors import InvalidIdentifier

__all__ = [
    "Identifier",
    "IdentifierKind",
    "parse_identifier",
    "mask_identifier",
    "identifier_words",
    "MAX_IDENTIFIER_LENGTH",
]

IdentifierKind = Literal["phone", "email"]

#: Longer input is refused before any parser sees it (RFC 5321 caps an address at 254).
MAX_IDENTIFIER_LENGTH = 254

#: What a phone number may be written with: digits, ``+``, spaces, dashes, dots, brackets.
#: Letters are refused (``phonenumbers`` would read them as a keypad "vanity" number).
_PHONE_CHARS = re.compile(r"^[0-9 ()./+-]+$")

_EXPECT_ANY = (
    "expected a mobile phone number (e.g. 13800138000 or +86 138 0013 8000) "
    "or an email address (e.g. name@example.com)"
)
_EXPECT_PHONE = (
    "expected a valid mobile phone number, e.g. 13800138000 or +86 138 0013 8000 "
    "(numbers outside China need their + country code; landlines cannot be used)"
)
_EXPECT_EMAIL = "expected a valid email address, e.g. name@example.com"


@dataclass(frozen=True)
class Identifier:
    """A parsed, normalised account identifier.

    Attributes:
        kind: ``"phone"`` or ``"email"``.
        value: E.164 for a phone (``+8613800138000``), the normalised lower-case address for
            an email (``name@example.com``).
    """

    kind: IdentifierKind
    value: str

    @property
    def masked(self) -> str:
        """The identifier for display: ``138****8000`` or ``a***@example.com``."""
        return mask_identifier(self.kind, self.value)

    def __repr__(self) -> str:  # never put the full identifier in a log line or traceback
        return f"Identifier(kind={self.kind!r}, value={self.masked!r})"


def parse_identifier(text: str, default_region: str = "CN") -> Identifier:
    """Parse a phone number or an email address typed by the user.

    Args:
        text: what the user typed; surrounding spaces are ignored, full-width digits accepted.
        default_region: ISO 3166 region for numbers written without ``+`` country code.

    Returns:
        the normalised :class:`Identifier`.

    Raises:
        InvalidIdentifier: ``field`` is ``"identifier"`` (empty or not text), ``"email"`` or
            ``"phone"``; the message says what is expected and never contains the input.
    """
    if not isinstance(text, str):
        raise InvalidIdentifier("identifier", _EXPECT_ANY)
    cleaned = unicodedata.normalize("NFKC", text).strip()
    if not cleaned:
        raise InvalidIdentifier("identifier", _EXPECT_ANY)
    if "@" in cleaned:
        return Identifier("email", _parse_email(cleaned))
    return Identifier("phone", _parse_phone(cleaned, default_region))


def _parse_email(text: str) -> str:
    if len(text) > MAX_IDENTIFIER_LENGTH:
        raise InvalidIdentifier("email", _EXPECT_EMAIL)
    from email_validator import EmailNotValidError, validate_email

    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        # The library's message may quote the offending characters: never pass it on.
        raise InvalidIdentifier("email", _EXPECT_EMAIL) from None
    return str(result.normalized).lower()


def _parse_phone(text: str, default_region: str) -> str:
    if len(text) > 32 or not _PHONE_CHARS.match(text):
        raise InvalidIdentifier("phone", _EXPECT_PHONE)
    import phonenumbers
    from phonenumbers import PhoneNumberFormat, PhoneNumberType

    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        raise InvalidIdentifier("phone", _EXPECT_PHONE) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidIdentifier("phone", _EXPECT_PHONE)
    kind = phonenumbers.number_type(number)
    if kind not in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE):
        raise InvalidIdentifier("phone", _EXPECT_PHONE)
    return str(phonenumbers.format_number(number, PhoneNumberFormat.E164))


def mask_identifier(kind: str, value: str) -> str:
    """Mask a normalised identifier for display.

    - phone: the national number with all but the first 3 and last 4 digits starred
      (``+8613800138000`` -> ``138****8000``); numbers outside China keep their country code
      (``+44 791****3456``);
    - email: the first character of the local part, ``***``, and the domain
      (``alice@example.com`` -> ``a***@example.com``).
    """
    if kind == "email":
        local, _, domain = value.rpartition("@")
        return f"{local[:1]}***@{domain}"
    country, national = _split_e164(value)
    if len(national) >= 8:
        masked = national[:3] + "*" * (len(national) - 7) + national[-4:]
    else:
        masked = "*" * (len(national) - 2) + national[-2:]
    return masked if country in ("", "86") else f"+{country} {masked}"


def _split_e164(value: str) -> tuple[str, str]:
    """``+8613800138000`` -> ``("86", "13800138000")`` (without parsing when impossible)."""
    try:
        import phonenumbers

        number = phonenumbers.parse(value, None)
        return str(number.country_code), phonenumbers.national_significant_number(number)
    except Exception:  # noqa: BLE001 - masking must never fail
        digits = re.sub(r"\D", "", value)
        return "", digits


def identifier_words(identifier: Identifier | str, default_region: str = "CN") -> tuple[str, ...]:
    """Strings a password must not be built from, derived from an identifier.

    For a phone: the E.164 form, the number without ``+``, the national number and its last 8
    digits; for an email: the address and its local part. Raw text
    that does not parse is returned as it is (lower-cased). Used as ``zxcvbn`` user inputs.
    """
    if isinstance(identifier, str):
        try:
            identifier = parse_identifier(identifier, default_region)
        except InvalidIdentifier:
            raw = unicodedata.normalize("NFKC", identifier).strip().lower()
            return (raw,) if raw else ()
    words: list[str] = [identifier.value]
    if identifier.kind == "phone":
        _, national = _split_e164(identifier.value)
        words += [identifier.value.lstrip("+"), national, national[-8:]]
    else:
        words.append(identifier.value.rpartition("@")[0])
    seen: dict[str, None] = {}
    for word in words:
        if len(word) >= 4:
            seen.setdefault(word.lower(), None)
    return tuple(seen)
