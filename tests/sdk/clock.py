"""A settable clock for the SDK's ``clock`` arguments (``SdkConfig.clock``, the ledger, the
audit trail): time moves only when a test says so."""

from __future__ import annotations

import datetime as _dt

T0 = _dt.datetime(2026, 12, 1, 8, 0, 0, tzinfo=_dt.timezone.utc)


class Clock:
    """Returns ``now`` (an aware UTC datetime); ``tick(seconds)`` moves it on."""

    def __init__(self, start: _dt.datetime = T0) -> None:
        self.now = start

    def __call__(self) -> _dt.datetime:
        return self.now

    def tick(self, seconds: int = 1) -> None:
        self.now += _dt.timedelta(seconds=seconds)
