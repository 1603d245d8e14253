"""Times as the user reads them (standard library only: the consent gate and the Kivy widgets
both use it)."""

from __future__ import annotations

import datetime as _dt

__all__ = ["format_time"]


def format_time(value: str | None) -> str:
    """An RFC 3339 time as local ``YYYY-MM-DD HH:MM``; ``""`` for ``None`` or ``""``, the value
    itself when it is not a time."""
    if not value:
        return ""
    try:
        moment = _dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone()
    return moment.strftime("%Y-%m-%d %H:%M")
