"""Validation of the real-name items (OBL-RN-1) and of manual-review documents (OBL-RN-2).

The ID numbers here are synthetic: built with the GB 11643 check digit, belonging to no one.
"""

from __future__ import annotations

import datetime
import json
import logging
import subprocess
import sys
import traceback

import pytest
from stdnum.cn import ric

import sdk.realname
from sdk.account import parse_identifier
from sdk.consent.proof import canonical
from sdk.errors import InvalidInput, SdkError
from sdk.realname import (
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

from .ids import with_check_digit

RESIDENT_ID = "11010519491231002X"  # the worked example of GB 11643-1999
HK_PERMIT = "810000198506150020"  # born before 1997: stdnum refuses 810000 for that year
MACAO_PERMIT = "820000199202290020"
TAIWAN_PERMIT = "830000197010010031"  # 830000 is not in stdnum's table at all

# Numbers that fail, with the reason; each but the check-digit ones has a correct check digit.
INVALID_ID_NUMBERS = [
    ("11010519491231003X", "check_digit"),
    ("110105194912310021", "check_digit"),
    ("830000197010010032", "check_digit"),  # a residence permit is checked too
    ("110101199002301236", "birth_date"),  # 30 February
    ("820000199202300022", "birth_date"),
    ("110101210001011231", "birth_date_future"),  # 2100: not born yet
    ("11010118500101123X", "birth_date_too_old"),  # 1850
    ("1101051949123100", "length"),
    ("11010519491231002XX", "length"),
    ("110105491231002", "first_generation"),
    ("11010519491231002Y", "format"),
    ("1101051949A231002X", "format"),
    ("   ", "empty"),
]


# --- ID numbers ----------------------------------------------------------------------------


def test_a_resident_id_number_is_valid() -> None:  # OBL-RN-1
    result = validate_id_number(RESIDENT_ID)
    assert (result.value, result.kind, result.birth_date) == (
        RESIDENT_ID, "resident_id", datetime.date(1949, 12, 31))


def test_a_lower_case_x_is_accepted_and_returned_upper_case() -> None:  # OBL-RN-1
    assert validate_id_number(RESIDENT_ID.lower()).value == RESIDENT_ID


def test_full_width_characters_and_spaces_from_an_ime_are_accepted() -> None:  # OBL-RN-1
    assert validate_id_number(" １１０１０５ １９４９１２３１ ００２ｘ ").value == RESIDENT_ID


@pytest.mark.parametrize(
    ("number", "kind"),
    [
        (HK_PERMIT, "hk_macao_residence_permit"),
        (MACAO_PERMIT, "hk_macao_residence_permit"),
        (TAIWAN_PERMIT, "taiwan_residence_permit"),
        (with_check_digit("81000020010101004"), "hk_macao_residence_permit"),  # one stdnum accepts
    ],
)
def test_residence_permits_for_hk_macao_taiwan_residents_are_valid(number: str, kind: str) -> None:  # OBL-RN-1
    result = validate_id_number(number)
    assert (result.value, result.kind) == (number, kind)


def test_stdnum_alone_refuses_the_residence_permits_the_wrapper_accepts() -> None:
    """Why stdnum's address-code check is not applied; if stdnum learns them, it can be."""
    assert not any(ric.is_valid(n) for n in (HK_PERMIT, MACAO_PERMIT, TAIWAN_PERMIT))
    assert ric.is_valid(RESIDENT_ID)


def test_a_historic_address_code_is_accepted() -> None:  # OBL-RN-1
    # 440305 did not exist in 1950; a code is where the number was registered and stays on
    # valid cards, stdnum's list misses such cases (python-stdnum#442).
    number = with_check_digit("44030519500101123")
    assert not ric.is_valid(number)
    assert validate_id_number(number).kind == "resident_id"


def test_the_birth_date_is_checked_against_the_given_day() -> None:
    number = with_check_digit("11010120250616123")
    with pytest.raises(RealnameValidationError) as info:
        validate_id_number(number, today=datetime.date(2025, 6, 15))
    assert info.value.reason == "birth_date_future"
    assert validate_id_number(number, today=datetime.date(2025, 6, 16)).birth_date == (
        datetime.date(2025, 6, 16))


def test_the_minors_rules_use_the_same_check() -> None:
    """One ID-number check in the SDK: sdk.consent.minors accepts exactly what this accepts."""
    from sdk.consent.minors import birth_date_from_id

    today = datetime.date(2025, 6, 15)
    assert birth_date_from_id(TAIWAN_PERMIT, today=today) == datetime.date(1970, 10, 1)
    with pytest.raises(InvalidInput) as info:
        birth_date_from_id("11010519491231003X", today=today)
    assert info.value.field == "id_number" and "check digit" in str(info.value)


@pytest.mark.parametrize(("number", "reason"), INVALID_ID_NUMBERS)
def test_an_invalid_id_number_is_refused_with_its_reason(number: str, reason: str) -> None:  # OBL-RN-1
    with pytest.raises(RealnameValidationError) as info:
        validate_id_number(number)
    assert (info.value.field, info.value.reason) == ("id_number", reason)


def test_a_wrong_check_digit_says_to_check_the_last_character() -> None:  # OBL-RN-1
    with pytest.raises(RealnameValidationError) as info:
        validate_id_number("11010519491231003X")
    assert "校验位" in info.value.message_zh and "最后一位" in info.value.message_zh
    assert "check digit" in info.value.message_en
    assert str(info.value) == f"{info.value.message_zh} {info.value.message_en}"


def test_the_error_is_an_sdk_invalid_input_and_a_value_error() -> None:
    with pytest.raises(RealnameValidationError) as info:
        validate_id_number("123")
    assert isinstance(info.value, InvalidInput)
    assert isinstance(info.value, SdkError) and isinstance(info.value, ValueError)


@pytest.mark.parametrize(("number", "reason"), INVALID_ID_NUMBERS)
def test_an_error_never_contains_the_id_number(number: str, reason: str) -> None:  # OBL-RN-1
    with pytest.raises(RealnameValidationError) as info:
        validate_id_number(number)
    shown = [str(info.value), repr(info.value), *map(str, info.value.args),
             "".join(traceback.format_exception(info.value))]  # chained causes included
    parts = {number.strip(), number.strip().upper(), number[:6], number[6:14]} - {"", " ", "   "}
    for part in parts:
        assert not any(part in text for text in shown)


def test_an_id_number_never_shows_in_repr_str_or_format() -> None:  # OBL-RN-1
    result = validate_id_number(RESIDENT_ID)
    for shown in (repr(result), str(result), f"{result}", repr([result]), repr({"id": result})):
        assert RESIDENT_ID not in shown and "1949" not in shown
    assert result.masked == "1****************X"


def test_validation_logs_nothing_with_the_id_number(caplog: pytest.LogCaptureFixture) -> None:  # OBL-RN-1
    caplog.set_level(logging.DEBUG)
    validate_id_number(RESIDENT_ID)
    with pytest.raises(RealnameValidationError):
        validate_id_number("11010519491231003X")
    assert "1101051949" not in caplog.text


# --- names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "张三",
        "阿依古丽·买买提",  # U+00B7, as GB 18030 maps the ID card's 间隔号
        "阿依古丽・买买提",  # U+30FB, as the GB 2312 table maps the same character
        "阿卜杜热合曼·买买提依明·阿卜杜拉",
        "王\U00020000",  # CJK Extension B: rare characters pass
        "李〇",
        "\U0002ebf0\u4e00",  # Extension I: newer than this Python's Unicode database
    ],
)
def test_a_valid_name_comes_back_unchanged(name: str) -> None:  # OBL-RN-1
    result = validate_name(name)
    assert result == name and result.encode("utf-8") == name.encode("utf-8")


def test_surrounding_whitespace_is_the_only_change() -> None:
    assert validate_name(" \t阿依古丽·买买提\u3000") == "阿依古丽·买买提"


@pytest.mark.parametrize("dot", ["\u00b7", "\u30fb"])
@pytest.mark.parametrize("encode", [
    pytest.param(lambda obj: json.dumps(obj, ensure_ascii=False).encode("utf-8"), id="utf8"),
    pytest.param(lambda obj: json.dumps(obj).encode("utf-8"), id="ascii-escaped"),
    pytest.param(canonical, id="rfc8785"),
])
def test_a_middle_dot_name_is_byte_identical_after_a_json_round_trip(dot: str, encode) -> None:  # OBL-RN-1
    name = f"阿依古丽{dot}买买提"
    body = encode({"real_name": validate_name(name)})
    back = json.loads(body.decode("utf-8"))["real_name"]
    assert back.encode("utf-8") == name.encode("utf-8")
    assert dot.encode("utf-8") in back.encode("utf-8")


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("张3", "characters"),
        ("张三1", "characters"),
        ("１张三", "characters"),  # a full-width digit
        ("Zhang San", "characters"),
        ("张\x00三", "characters"),
        ("张\u200b三", "characters"),  # zero-width space
        ("张三!", "characters"),
        ("阿依古丽•买买提", "dot_lookalike"),  # U+2022 BULLET
        ("阿依古丽.买买提", "dot_lookalike"),
        ("阿依古丽．买买提", "dot_lookalike"),  # full-width full stop
        ("阿依古丽‧买买提", "dot_lookalike"),  # U+2027 HYPHENATION POINT
        ("张 三", "space"),
        ("阿依古丽 · 买买提", "space"),
        ("·张三", "dot_position"),
        ("张三·", "dot_position"),
        ("·", "dot_position"),
        ("张··三", "double_dot"),
        ("张·・三", "double_dot"),
        ("\uf900三", "encoding"),  # a compatibility ideograph that NFC would replace
        ("张" * (MAX_NAME_LENGTH + 1), "length"),
    ],
)
def test_an_invalid_name_is_refused_with_its_reason(name: str, reason: str) -> None:  # OBL-RN-1
    with pytest.raises(RealnameValidationError) as info:
        validate_name(name)
    assert (info.value.field, info.value.reason) == ("real_name", reason)
    if len(name.strip()) > 1:
        assert name.strip() not in str(info.value)


def test_a_name_of_the_maximum_length_is_accepted() -> None:
    assert validate_name("张" * MAX_NAME_LENGTH) == "张" * MAX_NAME_LENGTH


def test_a_look_alike_dot_is_never_replaced_silently() -> None:  # OBL-RN-1
    with pytest.raises(RealnameValidationError) as info:
        validate_name("阿依古丽•买买提")
    assert "“·”" in info.value.message_zh and "'·'" in info.value.message_en


@pytest.mark.parametrize(
    ("check", "field"),
    [
        (validate_name, "real_name"),
        (validate_id_number, "id_number"),
        (validate_phone, "phone"),
        (lambda value: validate_document("passport", value), "document_number"),
        (lambda value: validate_document("resident_id", value), "document_number"),
    ],
    ids=["name", "id_number", "phone", "passport", "resident_id_document"],
)
@pytest.mark.parametrize("value", [None, 11010519491231, b"13800138000"],
                         ids=["None", "int", "bytes"])
def test_a_value_that_is_not_text_is_refused_as_such(check, field: str, value: object) -> None:
    """Not "empty" ("Enter your ID number" for an int would mislead): a text is expected."""
    with pytest.raises(RealnameValidationError) as info:
        check(value)
    assert (info.value.field, info.value.reason) == (field, "type")
    assert "文本" in info.value.message_zh and "must be text" in info.value.message_en
    assert type(value).__name__ in info.value.message_en
    assert "请填写" not in info.value.message_zh and "Enter" not in info.value.message_en
    if value is not None:
        assert str(value) not in str(info.value) and "13800138000" not in str(info.value)


def test_a_non_text_guardian_number_gets_the_minors_generic_message() -> None:
    from sdk.consent.minors import birth_date_from_id

    with pytest.raises(InvalidInput) as info:
        birth_date_from_id(None)  # type: ignore[arg-type]
    assert info.value.field == "id_number"


# Every character Unicode's confusables.txt (UTS #39) maps to U+00B7 MIDDLE DOT, but U+30FB,
# which is the same ID-card character and accepted; then dots seen in input methods and fonts.
CONFUSABLE_MIDDLE_DOTS = ["\u0387", "\u1427", "\u16eb", "\u2022", "\u2027", "\u2219", "\u22c5",
                          "\u2e31", "\ua78f", "\uff65", "\U00010101"]
OTHER_LOOKALIKE_DOTS = ["\u318d", "\u0384", "\u2e33", "\u02d1", ".", "\u3002", "\uff0e", "\ufe52",
                        "\u2024"]


@pytest.mark.parametrize("dot", CONFUSABLE_MIDDLE_DOTS + OTHER_LOOKALIKE_DOTS,
                         ids=lambda dot: f"U+{ord(dot):04X}")
def test_every_look_alike_dot_is_refused_as_a_look_alike(dot: str) -> None:  # OBL-RN-1
    with pytest.raises(RealnameValidationError) as info:
        validate_name(f"阿依古丽{dot}买买提")
    assert info.value.reason == "dot_lookalike"
    assert "“·”" in info.value.message_zh and "'·'" in info.value.message_en


# --- phone ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["13800138000", "+86 138 0013 8000", "１３８００１３８０００"])
def test_a_mobile_number_comes_back_in_e164(text: str) -> None:  # OBL-RN-1
    assert validate_phone(text) == "+8613800138000"


@pytest.mark.parametrize("text", ["13800138000", "+852 5123 4567", "07911 123456"])
def test_the_phone_rules_are_the_account_parsers(text: str) -> None:
    region = "GB" if text.startswith("0") else "CN"
    assert validate_phone(text, region) == parse_identifier(text, region).value


@pytest.mark.parametrize(
    ("text", "reason"),
    [("", "empty"), ("010 1234 5678", "invalid"), ("1390013900", "invalid"),
     ("13800138000@example.com", "invalid"), ("1380013800O", "invalid")],
)
def test_an_invalid_phone_is_refused_without_the_number(text: str, reason: str) -> None:  # OBL-RN-1
    with pytest.raises(RealnameValidationError) as info:
        validate_phone(text)
    assert (info.value.field, info.value.reason) == ("phone", reason)
    assert "手机号码" in info.value.message_zh
    if text:
        assert text not in str(info.value) and "1234 5678" not in str(info.value)


# --- manual-review documents ---------------------------------------------------------------


def test_the_four_documents_of_the_policy_are_offered() -> None:  # OBL-RN-2
    assert DOCUMENT_KINDS == ("resident_id", "passport", "hk_macao_travel_permit",
                              "taiwan_travel_permit")


@pytest.mark.parametrize(
    ("kind", "typed", "value"),
    [
        ("resident_id", RESIDENT_ID.lower(), RESIDENT_ID),
        ("resident_id", TAIWAN_PERMIT, TAIWAN_PERMIT),  # a residence permit is a resident ID number
        ("passport", "E12345678", "E12345678"),
        ("passport", "ea1234567", "EA1234567"),
        ("passport", "G 1234 5678", "G12345678"),
        ("hk_macao_travel_permit", "H12345678", "H12345678"),
        ("hk_macao_travel_permit", "m1234567801", "M1234567801"),
        ("taiwan_travel_permit", "12345678", "12345678"),
        ("taiwan_travel_permit", "１２３４５６７８９０", "1234567890"),
    ],
)
def test_a_valid_document_number_is_accepted_and_normalised(kind: str, typed: str, value: str) -> None:  # OBL-RN-2
    assert validate_document(kind, typed) == DocumentNumber(kind, value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "number"),
    [
        ("passport", "12345678"),
        ("passport", "E1234567"),
        ("passport", "K12345678"),  # not a PRC (mainland) passport
        ("passport", "E12345678" + " " * 60 + "X"),
        ("hk_macao_travel_permit", "H1234567"),
        ("hk_macao_travel_permit", "C12345678"),  # an exit permit for mainland residents
        ("hk_macao_travel_permit", "H123456789"),
        ("taiwan_travel_permit", "1234567"),
        ("taiwan_travel_permit", "123456789"),
        ("taiwan_travel_permit", "T1234567"),
    ],
)
def test_an_invalid_document_number_says_what_the_format_is(kind: str, number: str) -> None:  # OBL-RN-2
    with pytest.raises(RealnameValidationError) as info:
        validate_document(kind, number)
    assert (info.value.field, info.value.reason) == ("document_number", "invalid")
    assert "格式不正确" in info.value.message_zh and number.strip() not in str(info.value)


def test_a_resident_id_document_is_checked_like_the_id_number() -> None:  # OBL-RN-2
    with pytest.raises(RealnameValidationError) as info:
        validate_document("resident_id", "11010519491231003X")
    assert (info.value.field, info.value.reason) == ("document_number", "check_digit")
    assert "11010519491231003X" not in str(info.value)


@pytest.mark.parametrize("kind", ["passport", "hk_macao_travel_permit", "taiwan_travel_permit"])
def test_an_empty_document_number_is_refused(kind: str) -> None:  # OBL-RN-2
    with pytest.raises(RealnameValidationError) as info:
        validate_document(kind, " ")
    assert (info.value.field, info.value.reason) == ("document_number", "empty")


def test_an_unknown_document_kind_is_refused() -> None:  # OBL-RN-2
    with pytest.raises(RealnameValidationError) as info:
        validate_document("driving_licence", "E12345678")
    assert (info.value.field, info.value.reason) == ("document_kind", "unknown_kind")
    assert "E12345678" not in str(info.value)


def test_a_document_number_never_shows_in_repr() -> None:  # OBL-RN-2
    result = validate_document("passport", "E12345678")
    assert "12345678" not in repr(result) and "12345678" not in str(result)
    assert result.masked == "E*******8"


# --- package -------------------------------------------------------------------------------


def test_importing_the_package_loads_no_parser() -> None:
    code = ("import sys, sdk.realname\n"
            "print(sorted(m for m in ('stdnum', 'phonenumbers', 'sdk.realname.validate') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_exported_name_resolves() -> None:
    for name in sdk.realname.__all__:
        assert getattr(sdk.realname, name) is not None
    assert IdNumber.__module__ == "sdk.realname.validate"
