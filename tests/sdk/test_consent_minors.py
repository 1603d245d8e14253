"""Minors (OBL-MIN-1, PIPL art. 31): age band from the resident ID number, guardian consent.

Every ID number here is computed from a birth date relative to a fixed ``TODAY``, with
python-stdnum's check digit: no real person's number is written down.
"""

from __future__ import annotations

import hmac
from datetime import date, timedelta

import pytest
from stdnum.cn.ric import calc_check_digit

from sdk.consent.minors import (
    ADULT_AGE,
    CHILD_AGE,
    MINORS_NOTICE,
    MINORS_NOTICE_TITLE,
    RELATIONSHIPS,
    AgeCheck,
    GuardianConsent,
    age_on,
    birth_date_from_id,
    check_age,
    guardian_consent,
)
from sdk.errors import InvalidIdentifier, InvalidInput

TODAY = date(2025, 6, 15)
KEY = b"k" * 32
OTHER_KEY = b"o" * 32


def make_id(birth: date, region: str = "110101", order: str = "123") -> str:
    """A number with a valid check digit (GB 11643-1999) for ``birth``."""
    body = f"{region}{birth:%Y%m%d}{order}"
    return body + calc_check_digit(body + "0")


def born_years_ago(years: int, days: int = 0) -> date:
    """The birth date of someone whose ``years``-th birthday is ``days`` days from TODAY."""
    return TODAY.replace(year=TODAY.year - years) - timedelta(days=days)


def test_day_before_14th_birthday_is_a_child() -> None:  # OBL-MIN-1
    birth = born_years_ago(CHILD_AGE) + timedelta(days=1)
    assert check_age(make_id(birth), TODAY) == AgeCheck("child", 13, TODAY + timedelta(days=1))


def test_on_14th_birthday_is_a_minor() -> None:  # OBL-MIN-1
    birth = born_years_ago(CHILD_AGE)
    assert check_age(make_id(birth), TODAY) == AgeCheck("minor", 14, date(2029, 6, 15))


def test_day_before_18th_birthday_is_a_minor() -> None:  # OBL-MIN-1
    birth = born_years_ago(ADULT_AGE) + timedelta(days=1)
    assert check_age(make_id(birth), TODAY) == AgeCheck("minor", 17, TODAY + timedelta(days=1))


def test_on_18th_birthday_is_an_adult() -> None:  # OBL-MIN-1
    assert check_age(make_id(born_years_ago(ADULT_AGE)), TODAY) == AgeCheck("adult", 18, None)


def test_child_needs_guardian_and_notice() -> None:  # OBL-MIN-1
    result = check_age(make_id(date(2015, 1, 1)), TODAY)
    assert (result.needs_guardian, result.needs_minors_notice) == (True, True)


def test_minor_needs_notice_only() -> None:  # OBL-MIN-1
    result = check_age(make_id(date(2010, 1, 1)), TODAY)
    assert (result.needs_guardian, result.needs_minors_notice) == (False, True)


def test_adult_needs_neither() -> None:  # OBL-MIN-1
    result = check_age(make_id(date(1990, 1, 1)), TODAY)
    assert (result.needs_guardian, result.needs_minors_notice) == (False, False)


def test_feb_29_birthday_is_mar_1_in_a_non_leap_year() -> None:  # OBL-MIN-1
    birth = date(2012, 2, 29)
    assert (age_on(birth, date(2026, 2, 28)), age_on(birth, date(2026, 3, 1))) == (13, 14)


def test_feb_29_birthday_on_feb_29_in_a_leap_year() -> None:  # OBL-MIN-1
    birth = date(2012, 2, 29)
    assert (age_on(birth, date(2028, 2, 28)), age_on(birth, date(2028, 2, 29))) == (15, 16)


def test_feb_29_child_turns_14_on_mar_1() -> None:  # OBL-MIN-1
    result = check_age(make_id(date(2012, 2, 29)), date(2026, 2, 28))
    assert (result.band, result.next_band_on) == ("child", date(2026, 3, 1))


def test_age_on_before_birth_is_refused() -> None:  # OBL-MIN-1
    with pytest.raises(ValueError):
        age_on(date(2020, 1, 2), date(2020, 1, 1))


def test_birth_date_is_read_from_the_number() -> None:  # OBL-MIN-1
    assert birth_date_from_id(make_id(date(2011, 9, 30)), today=TODAY) == date(2011, 9, 30)


def test_bad_check_digit_is_refused() -> None:  # OBL-MIN-1
    number = make_id(date(2011, 9, 30))
    wrong = "0" if number[-1] != "0" else "1"
    with pytest.raises(InvalidIdentifier, match="check digit") as info:
        check_age(number[:-1] + wrong, TODAY)
    assert info.value.field == "id_number"


def test_future_birth_date_is_refused() -> None:  # OBL-MIN-1
    with pytest.raises(InvalidIdentifier, match="future"):
        check_age(make_id(TODAY + timedelta(days=1)), TODAY)


def test_born_today_is_a_child_of_zero() -> None:  # OBL-MIN-1
    assert check_age(make_id(TODAY), TODAY).age == 0


def test_impossible_calendar_date_is_refused() -> None:  # OBL-MIN-1
    body = "110101" + "20110230" + "123"  # Feb 30
    with pytest.raises(InvalidIdentifier, match="not a real date"):
        check_age(body + calc_check_digit(body + "0"), TODAY)


def test_birth_date_over_150_years_ago_is_refused() -> None:  # OBL-MIN-1
    with pytest.raises(InvalidIdentifier, match="150 years"):
        check_age(make_id(date(1850, 1, 1)), TODAY)


@pytest.mark.parametrize("cut", [1, -1])
def test_wrong_length_is_refused(cut: int) -> None:  # OBL-MIN-1
    number = make_id(date(2011, 9, 30))
    text = number[:-1] if cut == 1 else number + "1"
    with pytest.raises(InvalidIdentifier, match="wrong length"):
        check_age(text, TODAY)


def test_letters_are_refused() -> None:  # OBL-MIN-1
    number = make_id(date(2011, 9, 30))
    with pytest.raises(InvalidIdentifier, match="wrong characters"):
        check_age("A" + number[1:], TODAY)


@pytest.mark.parametrize("value", ["", "   ", None, 110101201109301234])
def test_empty_or_non_text_is_refused(value: object) -> None:  # OBL-MIN-1
    with pytest.raises(InvalidIdentifier):
        check_age(value, TODAY)  # type: ignore[arg-type]


def test_lowercase_x_check_digit_is_accepted() -> None:  # OBL-MIN-1
    birth = next(
        born_years_ago(15, days)
        for days in range(400)
        if make_id(born_years_ago(15, days)).endswith("X")
    )
    assert check_age(make_id(birth).lower(), TODAY).band == "minor"


def test_full_width_and_spaced_input_is_accepted() -> None:  # OBL-MIN-1
    number = make_id(date(2011, 9, 30))
    typed = " " + " ".join([number[:6], number[6:14], number[14:]]) + " "
    full_width = typed.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789X"})
    assert check_age(full_width, TODAY).band == "child"


def test_historic_region_code_is_not_refused() -> None:  # OBL-MIN-1
    # 440305 did not exist in 1950; codes are where the number was registered (stdnum#442).
    assert check_age(make_id(date(1950, 1, 1), region="440305"), TODAY).band == "adult"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda n: n[:-1] + ("0" if n[-1] != "0" else "1"),  # check digit
        lambda n: n[:-1],  # length
        lambda n: "A" + n[1:],  # characters
        lambda n: n[:6] + "20110230" + n[14:17] + calc_check_digit(n[:6] + "20110230" + n[14:]),
    ],
    ids=["check-digit", "length", "characters", "impossible-date"],
)
def test_message_never_contains_the_number(mangle) -> None:  # OBL-MIN-1
    number = mangle(make_id(date(2011, 9, 30)))
    with pytest.raises(InvalidIdentifier) as info:
        check_age(number, TODAY)
    text = f"{info.value} {info.value!r}"
    assert number not in text and number[6:14] not in text and number[:6] not in text


def test_future_message_never_contains_the_number() -> None:  # OBL-MIN-1
    number = make_id(TODAY + timedelta(days=1))
    with pytest.raises(InvalidIdentifier) as info:
        check_age(number, TODAY)
    assert number not in str(info.value) and number[6:14] not in str(info.value)


def test_guardian_consent_keeps_relationship_and_digest() -> None:  # OBL-MIN-1
    number = make_id(date(1985, 3, 3))
    consent = guardian_consent(number, "parent", key=KEY, today=TODAY)
    expected = hmac.new(KEY, number.encode(), "sha256").hexdigest()
    assert consent == GuardianConsent("parent", expected)


def test_guardian_digest_is_stable_for_the_same_key() -> None:  # OBL-MIN-1
    number = make_id(date(1985, 3, 3), order="124")
    first = guardian_consent(number, "parent", key=KEY, today=TODAY)
    again = guardian_consent(number.lower() + " ", "guardian", key=KEY, today=TODAY)
    assert first.id_digest == again.id_digest


def test_guardian_digest_differs_for_another_key() -> None:  # OBL-MIN-1
    number = make_id(date(1985, 3, 3))
    one = guardian_consent(number, "parent", key=KEY, today=TODAY)
    other = guardian_consent(number, "parent", key=OTHER_KEY, today=TODAY)
    assert one.id_digest != other.id_digest


def test_guardian_consent_never_contains_the_number() -> None:  # OBL-MIN-1
    number = make_id(date(1985, 3, 3))
    consent = guardian_consent(number, "parent", key=KEY, today=TODAY)
    text = f"{consent!r} {consent.id_digest}"
    assert number not in text and number[6:14] not in text and "19850303" not in text


def test_guardian_under_18_is_refused() -> None:  # OBL-MIN-1
    number = make_id(born_years_ago(ADULT_AGE) + timedelta(days=1))
    with pytest.raises(InvalidInput, match="18") as info:
        guardian_consent(number, "parent", key=KEY, today=TODAY)
    assert "监护人须年满18周岁" in str(info.value)
    assert not isinstance(info.value, InvalidIdentifier)
    assert (info.value.field, number in str(info.value)) == ("guardian_id_number", False)


def test_guardian_on_18th_birthday_is_accepted() -> None:  # OBL-MIN-1
    number = make_id(born_years_ago(ADULT_AGE))
    assert guardian_consent(number, "guardian", key=KEY, today=TODAY).relationship == "guardian"


def test_guardian_with_bad_check_digit_is_refused() -> None:  # OBL-MIN-1
    number = make_id(date(1985, 3, 3))
    wrong = number[:-1] + ("0" if number[-1] != "0" else "1")
    with pytest.raises(InvalidIdentifier) as info:
        guardian_consent(wrong, "parent", key=KEY, today=TODAY)
    assert (info.value.field, wrong in str(info.value)) == ("guardian_id_number", False)


@pytest.mark.parametrize("relationship", ["friend", "父母", "Parent", ""])
def test_unknown_relationship_is_refused(relationship: str) -> None:  # OBL-MIN-1
    with pytest.raises(InvalidInput, match="'parent'.*'guardian'") as info:
        guardian_consent(make_id(date(1985, 3, 3)), relationship, key=KEY, today=TODAY)
    assert info.value.field == "relationship"


def test_short_key_is_refused() -> None:  # OBL-MIN-1
    with pytest.raises(ValueError, match="16 bytes"):
        guardian_consent(make_id(date(1985, 3, 3)), "parent", key=b"k" * 15, today=TODAY)


def test_relationships_have_chinese_labels() -> None:  # OBL-MIN-1
    assert RELATIONSHIPS == {"parent": "父母", "guardian": "其他监护人"}


def test_minors_notice_says_what_it_must() -> None:  # OBL-MIN-1
    assert MINORS_NOTICE_TITLE
    for phrase in ("监护人", "14周岁", "18周岁", "删除", "联系方式见隐私中心"):
        assert phrase in MINORS_NOTICE


def test_import_is_cheap() -> None:  # OBL-MIN-1
    import subprocess
    import sys

    code = "import sdk, sdk.consent.minors, sys; print('stdnum' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
