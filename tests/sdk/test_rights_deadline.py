"""The answer deadline of a data-subject request: 15 PRC working days (sdk.rights.deadline).

The 2026 dates below were checked against the installed ``chinesecalendar`` (1.11.0), which
carries the State Council's 2026 notice (国办发明电〔2025〕7号):

- Mid-Autumn Festival: Fri 25 – Sun 27 September off;
- National Day: Thu 1 – Wed 7 October off; Sun 20 September and Sat 10 October are
  make-up working days (调休上班).

Listed day by day (W = working day), 18 September – 30 October 2026::

    Sep 18 Fri W | 19 Sat - | 20 Sun W (make-up) | 21-24 Mon-Thu W | 25-27 Fri-Sun -
    Sep 28-30 Mon-Wed W | Oct 1-7 Thu-Wed - | Oct 8-9 Thu-Fri W | 10 Sat W (make-up)
    Oct 11 Sun - | 12-16 W | 17-18 - | 19-23 W | 24-25 - | 26-30 W
"""

from __future__ import annotations

import datetime as dt

import pytest

from sdk.rights.deadline import (
    PRC_TZ,
    Deadline,
    add_working_days,
    deadline_after,
    is_working_day,
    prc_date,
)

UTC = dt.timezone.utc


def _prc(year: int, month: int, day: int, hour: int = 10, minute: int = 0,
         second: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=PRC_TZ)


def _year_known(year: int) -> bool:
    return is_working_day(dt.date(year, 3, 1))[1]


def test_the_installed_calendar_has_the_2026_national_day_schedule() -> None:  # OBL-DSR-8
    # OBL-DSR-8: the deadline rests on the official schedule; the facts the tests below use
    assert is_working_day(dt.date(2026, 9, 20)) == (True, True)  # Sunday, make-up working day
    assert is_working_day(dt.date(2026, 10, 10)) == (True, True)  # Saturday, make-up working day
    for day in range(1, 8):
        assert is_working_day(dt.date(2026, 10, day)) == (False, True)  # National Day, 1-7 Oct
    for day in (25, 26, 27):
        assert is_working_day(dt.date(2026, 9, day)) == (False, True)  # Mid-Autumn Festival
    assert is_working_day(dt.date(2026, 10, 11)) == (False, True)  # an ordinary Sunday


def test_fifteen_working_days_over_national_day_skip_the_holiday_and_count_the_make_up_day() -> None:  # OBL-DSR-8
    # OBL-DSR-8: verified Wed 30 Sep: Oct 8, 9, 10 (make-up Sat), 12-16, 19-23, 26, 27 -> 27 Oct
    # (Monday to Friday alone would give 21 Oct)
    deadline = deadline_after(_prc(2026, 9, 30))

    assert deadline == Deadline(due=dt.date(2026, 10, 27), working_days=15, provisional=False)


def test_fifteen_working_days_from_before_both_make_up_days() -> None:  # OBL-DSR-8
    # OBL-DSR-8: verified Fri 18 Sep: Sep 20 (make-up Sun), 21-24, 28-30, Oct 8, 9, 10 (make-up
    # Sat), 12-15 -> 15 Oct
    deadline = deadline_after(_prc(2026, 9, 18))

    assert deadline.due == dt.date(2026, 10, 15)
    assert deadline.provisional is False


def test_a_make_up_saturday_counts_as_a_working_day() -> None:  # OBL-DSR-8
    # OBL-DSR-8: the first working day after Fri 9 Oct 2026 is Sat 10 Oct (调休上班)
    assert add_working_days(dt.date(2026, 10, 9), 1).due == dt.date(2026, 10, 10)


def test_friday_evening_utc_is_saturday_in_the_prc_and_day_zero_is_the_prc_day() -> None:  # OBL-DSR-8
    # OBL-DSR-8: Fri 9 Oct 18:00 UTC is Sat 10 Oct 02:00 in the PRC. Day 0 is Sat 10 Oct (a
    # make-up working day that does not count), so the 15 days are 12-16, 19-23, 26-30 Oct
    # -> 30 Oct. Counting from the UTC date (Fri 9 Oct) would wrongly give 29 Oct.
    verified_at = dt.datetime(2026, 10, 9, 18, 0, tzinfo=UTC)

    assert prc_date(verified_at) == dt.date(2026, 10, 10)
    assert deadline_after(verified_at).due == dt.date(2026, 10, 30)


def test_a_year_the_calendar_does_not_know_counts_monday_to_friday_and_is_provisional() -> None:  # OBL-DSR-8
    # OBL-DSR-8: no schedule is ever published this far ahead; Mon 2 Mar 2099 + 15 weekdays:
    # 3-6, 9-13, 16-20, 23 Mar -> Mon 23 Mar 2099, marked provisional
    assert not _year_known(2099)

    deadline = deadline_after(_prc(2099, 3, 2))

    assert deadline == Deadline(due=dt.date(2099, 3, 23), working_days=15, provisional=True)
    assert deadline.to_json() == {"deadline": "2099-03-23", "deadline_provisional": True}


@pytest.mark.skipif(_year_known(2027), reason="the installed chinesecalendar knows 2027 now")
def test_a_deadline_running_into_2027_is_provisional() -> None:  # OBL-DSR-8
    # OBL-DSR-8: verified Thu 24 Dec 2026; the 2027 days (Mon-Fri, New Year unknown) are
    # estimates: 25, 28-31 Dec (5), 1, 4-8, 11-14 Jan 2027 -> 14 Jan, provisional
    deadline = deadline_after(_prc(2026, 12, 24))

    assert deadline.due == dt.date(2027, 1, 14)
    assert deadline.provisional is True


def test_a_deadline_inside_a_known_year_is_not_provisional() -> None:  # OBL-DSR-8
    # OBL-DSR-8
    assert deadline_after(_prc(2026, 3, 2)).provisional is False


def test_not_overdue_at_23_59_59_prc_of_the_deadline_day() -> None:  # OBL-DSR-8
    # OBL-DSR-8: the whole deadline day (PRC) is still in time, also seen from UTC
    deadline = deadline_after(_prc(2026, 9, 30))  # due 27 Oct 2026

    assert not deadline.is_overdue(_prc(2026, 10, 27, 23, 59, 59))
    assert not deadline.is_overdue(dt.datetime(2026, 10, 27, 15, 59, 59, tzinfo=UTC))
    assert deadline.due_at == _prc(2026, 10, 27, 23, 59, 59)


def test_overdue_from_the_first_moment_of_the_next_prc_day() -> None:  # OBL-DSR-8
    # OBL-DSR-8: 28 Oct 00:00 PRC = 27 Oct 16:00 UTC (still the 27th in UTC) is overdue
    deadline = deadline_after(_prc(2026, 9, 30))  # due 27 Oct 2026

    assert deadline.is_overdue(_prc(2026, 10, 28, 0, 0, 0))
    assert deadline.is_overdue(dt.datetime(2026, 10, 27, 16, 0, 0, tzinfo=UTC))


def test_a_naive_verification_time_is_refused_with_a_clear_error() -> None:  # OBL-DSR-8
    # OBL-DSR-8: a naive time has no PRC date; the error says to pass an aware datetime
    with pytest.raises(ValueError, match="aware datetime"):
        deadline_after(dt.datetime(2026, 9, 30, 10, 0))


def test_a_naive_now_is_refused_by_is_overdue() -> None:  # OBL-DSR-8
    # OBL-DSR-8
    deadline = deadline_after(_prc(2026, 9, 30))

    with pytest.raises(ValueError, match="aware datetime"):
        deadline.is_overdue(dt.datetime(2026, 10, 28, 0, 0))


def test_a_date_instead_of_a_datetime_is_refused_with_a_clear_error() -> None:  # OBL-DSR-8
    # OBL-DSR-8: a date carries no time of day, so no PRC date either
    with pytest.raises(ValueError, match="aware datetime"):
        deadline_after(dt.date(2026, 9, 30))  # type: ignore[arg-type]


@pytest.mark.parametrize("days", [0, -1, 1.5, True])
def test_working_days_must_be_a_positive_whole_number(days: object) -> None:  # OBL-DSR-8
    # OBL-DSR-8
    with pytest.raises(ValueError, match="positive whole number"):
        add_working_days(dt.date(2026, 9, 30), days)  # type: ignore[arg-type]
