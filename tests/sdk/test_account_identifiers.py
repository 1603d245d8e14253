"""Account identifiers: phone numbers (E.164) and email addresses, parsed on the device."""

from __future__ import annotations

import pytest

from sdk.account import Identifier, mask_identifier, parse_identifier
from sdk.account.identifiers import identifier_words
from sdk.errors import InvalidIdentifier, InvalidInput


@pytest.mark.parametrize(
    "text",
    [
        "13800138000",
        "138 0013 8000",
        "138-0013-8000",
        "+86 138 0013 8000",
        "+8613800138000",
        "008613800138000",
        "(+86) 138.0013.8000",
        "１３８００１３８０００",  # full-width digits from a Chinese IME
        "  13800138000\t",
    ],
)
def test_cn_mobile_numbers_normalise_to_e164(text: str) -> None:  # OBL-ACC-1
    assert parse_identifier(text) == Identifier("phone", "+8613800138000")


@pytest.mark.parametrize(
    ("text", "e164"),
    [
        ("+44 7911 123456", "+447911123456"),
        ("+1 650 253 0000", "+16502530000"),  # FIXED_LINE_OR_MOBILE in the US
        ("+852 5123 4567", "+85251234567"),
        ("19912345678", "+8619912345678"),
    ],
)
def test_other_mobile_numbers(text: str, e164: str) -> None:
    assert parse_identifier(text) == Identifier("phone", e164)


def test_default_region_is_used_without_country_code() -> None:
    assert parse_identifier("07911 123456", default_region="GB") == Identifier("phone", "+447911123456")


@pytest.mark.parametrize(
    "text",
    [
        "12345",
        "1390013900",  # one digit short
        "23800138000",  # not a CN number range
        "010 1234 5678",  # a landline: valid, but cannot receive an SMS
        "+86 10 1234 5678",
        "13800138000abc",  # letters would be read as a keypad "vanity" number
        "1380013800O",  # letter O for zero
        "+-",
        "1" * 40,
    ],
)
def test_invalid_phone_numbers(text: str) -> None:
    with pytest.raises(InvalidIdentifier) as info:
        parse_identifier(text)
    assert info.value.field == "phone"
    assert "expected" in str(info.value)
    assert text not in str(info.value)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("alice@example.com", "alice@example.com"),
        ("Alice.Zhang@Example.COM", "alice.zhang@example.com"),
        ("  bob@example.org ", "bob@example.org"),
        ("张三@例子.中国", "张三@例子.中国"),
        ("ｂｏｂ@example.com", "bob@example.com"),  # full-width letters (NFKC)
    ],
)
def test_email_addresses_normalise(text: str, value: str) -> None:  # OBL-ACC-1
    assert parse_identifier(text) == Identifier("email", value)


@pytest.mark.parametrize(
    "text",
    [
        "alice@",
        "@example.org",
        "alice@@example.com",
        "alice@localhost",
        "alice@example",
        "alice.@example.com",
        "alice@example.com.",
        '"a b"@example.com',
        "Alice <alice@example.com>",
        "a" * 250 + "@example.com",
    ],
)
def test_invalid_email_addresses(text: str) -> None:
    with pytest.raises(InvalidIdentifier) as info:
        parse_identifier(text)
    assert info.value.field == "email"
    message = str(info.value)
    assert "name@example.com" in message  # says what is expected
    assert text not in message
    assert "alice" not in message  # not even a part of the input


@pytest.mark.parametrize("text", ["", "   ", None, 13800138000])
def test_empty_or_not_text(text: object) -> None:
    with pytest.raises(InvalidIdentifier) as info:
        parse_identifier(text)  # type: ignore[arg-type]
    assert info.value.field == "identifier"


def test_invalid_identifier_is_an_invalid_input_and_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_identifier("nope")
    assert issubclass(InvalidIdentifier, InvalidInput)


@pytest.mark.parametrize(
    ("kind", "value", "masked"),
    [
        ("phone", "+8613800138000", "138****8000"),
        ("phone", "+447911123456", "+44 791***3456"),
        ("phone", "+85251234567", "+852 512*4567"),
        ("email", "alice@example.com", "a***@example.com"),
        ("email", "张三@例子.中国", "张***@例子.中国"),
    ],
)
def test_masking(kind: str, value: str, masked: str) -> None:
    assert mask_identifier(kind, value) == masked


def test_repr_never_shows_the_whole_identifier() -> None:
    identifier = parse_identifier("13800138000")
    assert "13800138000" not in repr(identifier)
    assert "138****8000" in repr(identifier)
    assert identifier.masked == "138****8000"


def test_identifier_words_feed_the_password_check() -> None:
    assert set(identifier_words("138 0013 8000")) == {
        "+8613800138000", "8613800138000", "13800138000", "00138000",
    }
    assert set(identifier_words("Alice.Zhang@example.com")) == {"alice.zhang@example.com", "alice.zhang"}
    assert identifier_words("not parseable") == ("not parseable",)
    assert identifier_words("  ") == ()
