"""When a data-subject request must be answered: 15 PRC working days (OBL-DSR-6, OBL-DSR-8).

The policy promises an answer "within 15 working days" after the user's identity is verified.
Working days follow the State Council's published holiday schedule (国务院办公厅关于部分节假日
安排的通知), make-up working days (调休上班, often a Saturday or Sunday) included. The schedule
comes from the ``chinesecalendar`` package, which carries each year's official notice; it is
imported on first use so ``import sdk`` stays cheap.

The schedule for the next year is published late in the year before (usually in November or
December), and a package release follows. For a day in a year the installed package does not
know, Monday to Friday count as working days and the deadline is marked **provisional**: the
app shows it as an estimate instead of failing. Update ``chinesecalendar`` to firm it up.

Days are PRC calendar days (UTC+8; China has no daylight saving time since 1991). The day of
the identity check is day 0: counting starts the next day, and the request is due by the end
(23:59:59, UTC+8) of the 15th working day after it.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from functools import lru_cache

__all__ = [
    "ANSWER_WITHIN_WORKING_DAYS",
    "PRC_TZ",
    "Deadline",
    "deadline_after",
    "add_working_days",
    "is_working_day",
    "prc_date",
]

#: The policy's answer period, in PRC working days (OBL-DSR-8).
ANSWER_WITHIN_WORKING_DAYS = 15
#: China Standard Time, UTC+8 all year.
PRC_TZ = _dt.timezone(_dt.timedelta(hours=8), "CST")

#: More than any real run of holidays; a bound so a bad calendar can never loop forever.
_MAX_SCAN_DAYS = 3660


@dataclass(frozen=True)
class Deadline:
    """The last day to answer a request.

    Attributes:
        due: the PRC calendar date the answer is due by (end of that day, UTC+8).
        working_days: how many working days were counted (15 for a data-subject request).
        provisional: True when a day in the counted range lies in a year whose official
            holiday schedule the installed ``chinesecalendar`` does not have, so Monday to
            Friday were counted for it; the date may move once the schedule is published.
    """

    due: _dt.date
    working_days: int
    provisional: bool

    @property
    def due_at(self) -> _dt.datetime:
        """The end of :attr:`due` (23:59:59 UTC+8) as an aware datetime."""
        return _dt.datetime.combine(self.due, _dt.time(23, 59, 59), tzinfo=PRC_TZ)

    def is_overdue(self, now: _dt.datetime) -> bool:
        """True when *now* (aware) is past the end of :attr:`due` in the PRC.

        Raises:
            ValueError: *now* is naive (no time zone): the PRC day would be a guess.
        """
        return prc_date(now) > self.due

    def to_json(self) -> dict[str, object]:
        """``{"deadline": "YYYY-MM-DD", "deadline_provisional": bool}`` (docs/protocol.md)."""
        return {"deadline": self.due.isoformat(), "deadline_provisional": self.provisional}


def prc_date(moment: _dt.datetime) -> _dt.date:
    """The PRC calendar date of an aware datetime.

    Raises:
        ValueError: *moment* is naive, or not a datetime (a ``date`` has no time zone).
    """
    if not isinstance(moment, _dt.datetime):
        raise ValueError(f"pass an aware datetime (e.g. datetime.now(timezone.utc)), not a "
                         f"{type(moment).__name__}; a date alone has no PRC time zone")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("pass an aware datetime (e.g. datetime.now(timezone.utc)); a naive "
                         "time has no PRC date")
    return moment.astimezone(PRC_TZ).date()


@lru_cache(maxsize=4096)
def is_working_day(day: _dt.date) -> tuple[bool, bool]:
    """Whether *day* is a PRC working day, and whether that is official.

    Returns:
        ``(working, known)``: ``known`` is False when the installed ``chinesecalendar`` has no
        schedule for the year, and ``working`` then means "Monday to Friday".
    """
    import chinese_calendar  # heavy-ish: tables for every year since 2004

    try:
        return bool(chinese_calendar.is_workday(day)), True
    except NotImplementedError:  # "no available data for year ..."
        return day.weekday() < 5, False


def add_working_days(start: _dt.date, working_days: int) -> Deadline:
    """The *working_days*-th PRC working day after *start* (*start* itself never counts).

    Raises:
        ValueError: *working_days* is not a positive integer.
    """
    if isinstance(working_days, bool) or not isinstance(working_days, int) or working_days < 1:
        raise ValueError("working_days must be a positive whole number of days, e.g. 15")
    day, counted, provisional = start, 0, False
    for _ in range(_MAX_SCAN_DAYS):
        day += _dt.timedelta(days=1)
        working, known = is_working_day(day)
        provisional = provisional or not known
        if working:
            counted += 1
            if counted == working_days:
                return Deadline(due=day, working_days=working_days, provisional=provisional)
    raise ValueError(f"no {working_days} working days found within {_MAX_SCAN_DAYS} days of "
                     f"{start.isoformat()}; the holiday calendar looks broken")


def deadline_after(identity_verified_at: _dt.datetime,
                   working_days: int = ANSWER_WITHIN_WORKING_DAYS) -> Deadline:
    """The answer deadline of a request whose requester's identity was verified at
    *identity_verified_at* (aware): 15 PRC working days by default (OBL-DSR-8).

    Raises:
        ValueError: the time is naive, or *working_days* is not positive.
    """
    return add_working_days(prc_date(identity_verified_at), working_days)
