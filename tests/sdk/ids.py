"""Synthetic resident ID numbers for the tests: right in form, belonging to no one."""

from __future__ import annotations

from stdnum.cn import ric


def with_check_digit(prefix17: str) -> str:
    """*prefix17* with its GB 11643 check digit, computed by stdnum (the library the SDK uses)."""
    return prefix17 + ric.calc_check_digit(prefix17 + "0")  # stdnum wants a placeholder check digit
