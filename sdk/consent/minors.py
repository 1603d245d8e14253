"""Minors: age from the resident ID number, guardian consent, the minors' notice (OBL-MIN-1).

PIPL art. 31: personal information of a child under 14 is processed only with the consent of
a parent or other guardian; users under 18 are shown the minors' notice (docs/consent.md,
"Minors").

- :func:`birth_date_from_id` reads the birth date from an 18-character resident ID number
  (GB 11643-1999), checked by :func:`sdk.realname.validate_id_number` (python-stdnum's
  ``stdnum.cn.ric``: the check digit is never computed by our own code).
- :func:`age_on` and :func:`check_age` turn it into whole years and an :data:`AgeBand`.
- :func:`guardian_consent` checks the guardian's ID number and keeps only a keyed digest
  (HMAC-SHA256) of it, with the relationship; the number itself is never kept.

Errors never repeat the ID number or any part of it (it is personal information), only what is
wrong and how to fix it. ``stdnum`` is imported on first use, so importing this module is
cheap.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Literal

from ..errors import InvalidIdentifier, InvalidInput
from ..realname.validate import MAX_AGE_YEARS as _MAX_AGE

if TYPE_CHECKING:
    from ..realname.validate import IdNumber

__all__ = [
    "ADULT_AGE",
    "CHILD_AGE",
    "AgeBand",
    "AgeCheck",
    "GuardianConsent",
    "MINORS_NOTICE",
    "MINORS_NOTICE_TITLE",
    "MIN_KEY_BYTES",
    "RELATIONSHIPS",
    "age_check_on",
    "age_on",
    "birth_date_from_id",
    "check_age",
    "guardian_consent",
]

#: Under this age the user is a child: guardian consent is needed (PIPL art. 31).
CHILD_AGE = 14
#: From this age the user is an adult: no minors' notice, may act as a guardian.
ADULT_AGE = 18

#: ``"child"``: under 14; ``"minor"``: 14 to 17; ``"adult"``: 18 or older.
AgeBand = Literal["child", "minor", "adult"]

#: Allowed guardian relationships: id -> the Chinese label shown to the user.
RELATIONSHIPS: dict[str, str] = {"parent": "父母", "guardian": "其他监护人"}

#: Shortest HMAC key accepted by :func:`guardian_consent`, in bytes.
MIN_KEY_BYTES = 16

MINORS_NOTICE_TITLE = "未成年人个人信息保护提示"

MINORS_NOTICE = (
    "如果你还不满18周岁，请和父母或其他监护人一起阅读这份说明和隐私政策，并在他们的指导下使用本应用。"
    "不满14周岁的，需要先由父母或其他监护人同意，我们才会处理你的个人信息。"
    "如果发现在没有监护人同意的情况下收集了不满14周岁儿童的个人信息，我们会及时删除。"
    "监护人有疑问、意见或投诉，或想查阅、更正、删除孩子的信息，可以联系我们，联系方式见隐私中心。"
)

_WHAT = "a resident ID number (居民身份证号码) has 18 characters: 17 digits and a last digit or X"
_EXPECT_ANY = f"expected {_WHAT}"
_EXPECT_LENGTH = f"wrong length: {_WHAT}; check for a missing or extra digit"
_EXPECT_FORMAT = f"wrong characters: {_WHAT}; remove letters, spaces and other characters"
_EXPECT_CHECKSUM = (
    "the last character (the check digit) does not match the first 17: a digit is mistyped; "
    "compare each digit with the ID card"
)
_EXPECT_DATE = (
    "characters 7-14 of the resident ID number are the birth date (YYYYMMDD) and are not a "
    "real date; compare them with the ID card"
)
_EXPECT_PAST = (
    "characters 7-14 of the resident ID number are the birth date (YYYYMMDD) and it is in the "
    "future; compare them with the ID card"
)
_EXPECT_PLAUSIBLE = (
    f"characters 7-14 of the resident ID number are the birth date (YYYYMMDD) and it is more "
    f"than {_MAX_AGE} years ago; compare them with the ID card"
)
_GUARDIAN_ADULT = (
    f"the guardian must be at least {ADULT_AGE} years old (监护人须年满{ADULT_AGE}周岁): "
    f"consent for a child under {CHILD_AGE} must come from an adult parent or other guardian "
    "(PIPL art. 31); ask them to enter their own ID number"
)
_RELATIONSHIP = "relationship must be one of " + ", ".join(
    f"'{key}' ({label})" for key, label in RELATIONSHIPS.items()
)


@dataclass(frozen=True)
class AgeCheck:
    """The user's age band on a given day.

    Attributes:
        band: ``"child"`` (under 14), ``"minor"`` (14-17) or ``"adult"`` (18 or older).
        age: whole years on the day checked.
        next_band_on: the 14th birthday (for a child) or the 18th (for a minor), the day the
            band changes; ``None`` for an adult.
    """

    band: AgeBand
    age: int
    next_band_on: date | None

    @property
    def needs_guardian(self) -> bool:
        """True for a child: a guardian must consent first (PIPL art. 31, OBL-MIN-1)."""
        return self.band == "child"

    @property
    def needs_minors_notice(self) -> bool:
        """True under 18: the minors' notice must be shown (OBL-MIN-1)."""
        return self.band in ("child", "minor")


@dataclass(frozen=True)
class GuardianConsent:
    """A guardian's consent, without the guardian's ID number.

    Attributes:
        relationship: a key of :data:`RELATIONSHIPS` (``"parent"`` or ``"guardian"``).
        id_digest: HMAC-SHA256 of the guardian's compacted, upper-case ID number under the
            app's key, 64 lower-case hex digits.
    """

    relationship: str
    id_digest: str


#: This module's message for each ``reason`` of :func:`sdk.realname.validate_id_number`.
_MESSAGES = {
    "length": _EXPECT_LENGTH,
    "first_generation": _EXPECT_LENGTH,
    "format": _EXPECT_FORMAT,
    "check_digit": _EXPECT_CHECKSUM,
    "birth_date": _EXPECT_DATE,
    "birth_date_future": _EXPECT_PAST,
    "birth_date_too_old": _EXPECT_PLAUSIBLE,
}


def _checked(id_number: object, field: str, today: date) -> IdNumber:
    """The number checked by :func:`sdk.realname.validate_id_number` (one ID-number check in the
    SDK), or :class:`InvalidIdentifier` with this module's message."""
    from ..realname.validate import RealnameValidationError, validate_id_number

    try:
        return validate_id_number(id_number, today=today)  # type: ignore[arg-type]
    except RealnameValidationError as error:
        raise InvalidIdentifier(field, _MESSAGES.get(error.reason, _EXPECT_ANY)) from None


def birth_date_from_id(id_number: str, *, today: date | None = None) -> date:
    """The birth date in an 18-character resident ID number (GB 11643-1999).

    Args:
        id_number: as typed; surrounding and inner spaces are ignored, full-width digits and a
            lower-case ``x`` accepted.
        today: the day the date must not be after; the local date when not given.

    Returns:
        the birth date (characters 7-14, ``YYYYMMDD``).

    Raises:
        InvalidIdentifier: ``field`` is ``"id_number"``; wrong length, characters or check
            digit, a birth date that is not a real date, in the future or more than 150 years
            ago. The message says what is wrong and how to fix it and never contains the number.
    """
    today = date.today() if today is None else today
    return _checked(id_number, "id_number", today).birth_date


def _birthday_in(birth: date, year: int) -> date:
    """The birthday in ``year``; Feb 29 becomes Mar 1 in a non-leap year."""
    try:
        return birth.replace(year=year)
    except ValueError:  # Feb 29 in a non-leap year
        return date(year, 3, 1)


def age_on(birth: date, today: date) -> int:
    """Age in whole years on ``today``: one more on each birthday.

    Someone born on Feb 29 has their birthday on Mar 1 in a non-leap year (so turns 14 on
    Mar 1, never on Feb 28: the later day, the cautious one for a child).

    Raises:
        ValueError: ``today`` is before ``birth``.
    """
    if today < birth:
        raise ValueError("today is before the birth date")
    years = today.year - birth.year
    return years if today >= _birthday_in(birth, today.year) else years - 1


def age_check_on(birth: date, today: date) -> AgeCheck:
    """The :class:`AgeCheck` on *today* for someone born on *birth* (bands change on the 14th
    and 18th birthday; Feb 29 as :func:`age_on`).

    Raises:
        ValueError: *today* is before *birth*.
    """
    age = age_on(birth, today)
    if age < CHILD_AGE:
        return AgeCheck("child", age, _birthday_in(birth, birth.year + CHILD_AGE))
    if age < ADULT_AGE:
        return AgeCheck("minor", age, _birthday_in(birth, birth.year + ADULT_AGE))
    return AgeCheck("adult", age, None)


def check_age(id_number: str, today: date) -> AgeCheck:
    """The user's :class:`AgeCheck` on ``today`` from their resident ID number (OBL-MIN-1).

    Raises:
        InvalidIdentifier: as :func:`birth_date_from_id` (``field`` is ``"id_number"``).
    """
    return age_check_on(birth_date_from_id(id_number, today=today), today)


def guardian_consent(
    guardian_id_number: str, relationship: str, *, key: bytes, today: date
) -> GuardianConsent:
    """Check a guardian's consent for a child and return what is kept of it (PIPL art. 31).

    Args:
        guardian_id_number: the guardian's resident ID number, as typed (GB 11643-1999).
        relationship: a key of :data:`RELATIONSHIPS`.
        key: the app's HMAC key, at least 16 bytes; the same key gives the same digest.
        today: the day the guardian must be an adult on.

    Returns:
        the relationship and ``id_digest`` = HMAC-SHA256(key, compacted upper-case number) in
        hex. The number itself is not kept.

    Raises:
        TypeError: ``key`` is not bytes.
        ValueError: ``key`` is shorter than 16 bytes.
        InvalidInput: ``field`` ``"relationship"`` when it is not one of
            :data:`RELATIONSHIPS`; ``field`` ``"guardian_id_number"`` when the guardian is under
            18 (监护人须年满18周岁).
        InvalidIdentifier: ``field`` ``"guardian_id_number"``, as :func:`birth_date_from_id`.
    """
    if not isinstance(key, (bytes, bytearray)):
        raise TypeError("key must be bytes")
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"key must be at least {MIN_KEY_BYTES} bytes")
    if not isinstance(relationship, str) or relationship not in RELATIONSHIPS:
        raise InvalidInput("relationship", _RELATIONSHIP)
    field = "guardian_id_number"
    checked = _checked(guardian_id_number, field, today)
    if age_check_on(checked.birth_date, today).band != "adult":
        raise InvalidInput(field, _GUARDIAN_ADULT)
    digest = hmac.new(bytes(key), checked.value.encode("ascii"), hashlib.sha256).hexdigest()
    return GuardianConsent(relationship, digest)
