"""Property-based tests of the input validators (MASVS-CODE-4, MASVS-STORAGE-2; OBL-ACC-1,
OBL-RN-1, OBL-RN-2).

For any input at all, the real-name validators (:mod:`sdk.realname.validate`) and the account
identifier parser (:mod:`sdk.account.identifiers`) either accept it or raise their
:class:`~sdk.errors.InvalidInput` subclass, never another exception; the message of a refusal
depends only on *which* rule refused (``field`` and ``reason``), so it can hold no part of the
input, which is personal data. What they accept comes back normalised and is accepted again
unchanged (a fixed point), and a valid value generated the way the issuing authority builds it
(a GB 11643 ID number with its ISO 7064 check digit, a CN mobile number) is accepted.
"""

from __future__ import annotations

import datetime as dt
import json

from hypothesis import assume, given
from hypothesis import strategies as st

from sdk.account.identifiers import Identifier, parse_identifier
from sdk.errors import InvalidIdentifier
from sdk.realname.validate import (
    DOCUMENT_KINDS,
    MAX_NAME_LENGTH,
    DocumentNumber,
    IdNumber,
    RealnameValidationError,
    validate_document,
    validate_id_number,
    validate_name,
    validate_phone,
)
from tests.sdk.ids import with_check_digit

from .conftest import BOUNDED

TODAY = dt.date(2026, 11, 30)

#: Text of every kind: printable, controls, surrogate-free non-BMP, full-width, look-alikes.
ANY_TEXT = st.one_of(
    st.text(max_size=80),
    st.text(alphabet="0123456789xX ０１２３４５６７８９ｘＸ-", min_size=10, max_size=24),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=40),
    st.from_regex(r"\s*[1-9][0-9]{16}[0-9xX]\s*", fullmatch=True),
    st.from_regex(r"\+?[0-9 ()./-]{5,20}", fullmatch=True),
    st.from_regex(r"[a-zA-Z0-9._%+-]{1,20}@[a-zA-Z0-9.-]{1,20}", fullmatch=True),
)


class _Messages:
    """The message first seen for each (field, reason): every later one must equal it."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], str] = {}

    def check(self, error: Exception, field: str, reason: str, typed: str) -> None:
        message = str(error)
        first = self.seen.setdefault((field, reason), message)
        assert message == first, (field, reason)  # nothing of the input in it
        core = typed.strip()
        if len(core) >= 6 and core not in first:
            assert core not in message


MESSAGES = _Messages()


@st.composite
def id_numbers(draw: st.DrawFn) -> str:
    """A valid 18-character number: address code, birth date (not in the future, under 150
    years), sequence, ISO 7064 MOD 11-2 check digit."""
    address = draw(st.from_regex(r"[1-8][0-9]{5}", fullmatch=True))
    born = draw(st.dates(min_value=TODAY.replace(year=TODAY.year - 120), max_value=TODAY))
    sequence = draw(st.from_regex(r"[0-9]{3}", fullmatch=True))
    return with_check_digit(f"{address}{born:%Y%m%d}{sequence}")


CN_MOBILE = st.builds(
    lambda prefix, rest: prefix + rest,
    st.sampled_from([f"13{d}" for d in range(10)] + ["150", "151", "152", "153", "155", "156",
                                                   "157", "158", "159"]
                    + [f"18{d}" for d in range(10)]),
    st.from_regex(r"[0-9]{8}", fullmatch=True),
)

_FULL_WIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")


# -- resident ID numbers -------------------------------------------------------------------


def test_an_id_number_whose_address_stdnum_knows_only_by_province_is_accepted() -> None:  # MASVS-CODE-4, OBL-RN-1
    """Found by the property below: python-stdnum's address look-up raised ``KeyError:
    'county'`` for a code whose province it knows and county it does not (119900), so the
    validator (and the stub, which runs it on what it receives) raised a KeyError instead of
    accepting the number or refusing it with a RealnameValidationError."""
    number = with_check_digit("11990019900101123")
    assert validate_id_number(number, today=TODAY).value == number


@BOUNDED
@given(number=id_numbers(), lower=st.booleans(), full_width=st.booleans(), pad=st.sampled_from(["", " ", "\u3000"]))
def test_a_valid_id_number_is_accepted_in_any_typed_form(
        number: str, lower: bool, full_width: bool, pad: str) -> None:  # MASVS-CODE-4, OBL-RN-1
    typed = number.lower() if lower else number
    typed = typed.translate(_FULL_WIDTH) if full_width else typed
    result = validate_id_number(f"{pad}{typed}{pad}", today=TODAY)
    assert result.value == number
    assert validate_id_number(result.value, today=TODAY).value == number  # a fixed point


@BOUNDED
@given(number=id_numbers(), position=st.integers(0, 17), digit=st.sampled_from("0123456789X"))
def test_a_changed_character_of_an_id_number_is_refused_without_the_number(
        number: str, position: int, digit: str) -> None:  # MASVS-CODE-4, OBL-RN-1
    changed = number[:position] + digit + number[position + 1:]
    assume(changed != number and (position == 17 or digit != "X"))
    try:
        validate_id_number(changed, today=TODAY)
    except RealnameValidationError as error:
        MESSAGES.check(error, error.field, error.reason, changed)
        assert error.reason in ("check_digit", "birth_date", "birth_date_future",
                                "birth_date_too_old")
    else:
        raise AssertionError("a single changed character must break the check digit")


@BOUNDED
@given(text=ANY_TEXT)
def test_any_text_is_an_id_number_or_refused_without_echo(text: str) -> None:  # MASVS-CODE-4, MASVS-STORAGE-2, OBL-RN-1
    try:
        result = validate_id_number(text, today=TODAY)
    except RealnameValidationError as error:
        assert error.field == "id_number"
        MESSAGES.check(error, error.field, error.reason, text)
    else:
        assert isinstance(result, IdNumber) and len(result.value) == 18
        assert result.value not in repr(result)


# -- names ------------------------------------------------------------------------------------

_HAN = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)


@BOUNDED
@given(parts=st.lists(st.text(alphabet=_HAN, min_size=1, max_size=6), min_size=1, max_size=4),
       dot=st.sampled_from(["\u00b7", "\u30fb"]), pad=st.sampled_from(["", " ", "\t"]))
def test_a_valid_name_comes_back_byte_identical(parts: list[str], dot: str, pad: str) -> None:  # MASVS-CODE-4, OBL-RN-1
    name = dot.join(parts)
    assume(len(name) <= MAX_NAME_LENGTH)
    result = validate_name(f"{pad}{name}{pad}")
    assert result.encode("utf-8") == name.encode("utf-8")
    assert json.loads(json.dumps(result)) == result == validate_name(result)


@BOUNDED
@given(text=ANY_TEXT)
def test_any_text_is_a_name_or_refused_without_echo(text: str) -> None:  # MASVS-CODE-4, MASVS-STORAGE-2, OBL-RN-1
    try:
        result = validate_name(text)
    except RealnameValidationError as error:
        assert error.field == "real_name"
        MESSAGES.check(error, error.field, error.reason, text)
    else:
        assert result == text.strip() and validate_name(result) == result


# -- phone numbers ---------------------------------------------------------------------------


@BOUNDED
@given(number=CN_MOBILE, style=st.sampled_from(["plain", "+86", "spaced", "dashed", "full"]))
def test_a_cn_mobile_number_in_any_typed_form_comes_back_in_e164(number: str, style: str) -> None:  # MASVS-CODE-4, OBL-RN-1
    typed = {"plain": number, "+86": "+86 " + number,
             "spaced": f"{number[:3]} {number[3:7]} {number[7:]}",
             "dashed": f"{number[:3]}-{number[3:7]}-{number[7:]}",
             "full": number.translate(_FULL_WIDTH)}[style]
    assert validate_phone(typed) == "+86" + number
    assert validate_phone("+86" + number) == "+86" + number  # a fixed point


@BOUNDED
@given(text=ANY_TEXT)
def test_any_text_is_a_phone_or_refused_without_echo(text: str) -> None:  # MASVS-CODE-4, MASVS-STORAGE-2, OBL-RN-1
    try:
        result = validate_phone(text)
    except RealnameValidationError as error:
        assert error.field == "phone"
        MESSAGES.check(error, error.field, error.reason, text)
    else:
        assert result.startswith("+") and result[1:].isdigit() and validate_phone(result) == result


# -- manual-review documents -------------------------------------------------------------------


@BOUNDED
@given(kind=st.sampled_from(DOCUMENT_KINDS), text=ANY_TEXT)
def test_any_text_is_a_document_number_or_refused_without_echo(kind: str, text: str) -> None:  # MASVS-CODE-4, MASVS-STORAGE-2, OBL-RN-2
    try:
        result = validate_document(kind, text)
    except RealnameValidationError as error:
        assert error.field == "document_number"
        MESSAGES.check(error, f"{error.field}:{kind}", error.reason, text)
    else:
        assert isinstance(result, DocumentNumber) and result.value not in repr(result)
        assert validate_document(kind, result.value).value == result.value  # a fixed point


# -- account identifiers -----------------------------------------------------------------------


@BOUNDED
@given(text=ANY_TEXT)
def test_any_text_is_an_identifier_or_refused_without_echo(text: str) -> None:  # MASVS-CODE-4, MASVS-STORAGE-2, OBL-ACC-1
    try:
        result = parse_identifier(text)
    except InvalidIdentifier as error:
        MESSAGES.check(error, f"identifier:{error.field}", "invalid", text)
    else:
        assert isinstance(result, Identifier) and parse_identifier(result.value) == result
        assert result.value not in repr(result)


@BOUNDED
@given(address=st.emails())
def test_an_email_address_is_refused_or_normalised_to_a_fixed_point(address: str) -> None:  # MASVS-CODE-4, OBL-ACC-1
    try:
        result = parse_identifier(address)
    except InvalidIdentifier as error:
        MESSAGES.check(error, f"identifier:{error.field}", "invalid", address)
    else:
        assert result.kind == "email" and result.value == result.value.lower()
        assert parse_identifier(result.value) == result
        assert parse_identifier(address.upper()) == result  # one account whatever the case


@BOUNDED
@given(number=CN_MOBILE)
def test_a_cn_mobile_identifier_is_e164_and_never_whole_in_its_repr(number: str) -> None:  # MASVS-CODE-4, MASVS-STORAGE-2, OBL-ACC-1
    result = parse_identifier(number)
    assert (result.kind, result.value) == ("phone", "+86" + number)
    assert number not in repr(result)
    assert f"{number[:3]}****{number[-4:]}" in repr(result)  # the middle four never shown
