"""Issue 7's pieces: the data-subject request deadline (15 PRC working days,
``sdk.rights.deadline.deadline_after``) for every day of a year, with the working-day cache
cold and warm; and one operation-log line written with redaction
(``sdk.oplog.OperationLog.write``) as a ratio to a plain sqlite3 insert of an already-redacted
row with the same schema and durability (WAL, ``synchronous=FULL``, one transaction each)."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import sqlite3
import tempfile
from pathlib import Path

from ._harness import Figure, measure

#: figure id -> the id of its baseline (None: no baseline)
FIGURES = {
    "deadline_year_cold": None,
    "deadline_year_warm": None,
    "redact_line": None,
    "plain_insert": None,
    "oplog_write": "plain_insert",
}

#: A realistic line: a phone number, an e-mail address, a token and plain words.
DETAIL = {"error": "ServerUnavailable",
          "message": "短信发送到 13800138000 失败，已通知 user@example.cn；sid=Zq3xv9LmP0aB7yTkQw2R8sD",
          "path": "/v1/me/rights/requests"}


def _year_of_starts(year: int = 2025) -> list[dt.datetime]:
    first = dt.datetime(year, 1, 1, 10, 0, tzinfo=dt.timezone.utc)
    days = (dt.date(year + 1, 1, 1) - dt.date(year, 1, 1)).days
    return [first + dt.timedelta(days=n) for n in range(days)]


def _plain(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE oplog_entries (seq INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT "
                 "NULL, at_us INTEGER NOT NULL, category TEXT NOT NULL, event TEXT NOT NULL, "
                 "detail TEXT NOT NULL, account_id TEXT)")
    return conn


def run(quick: bool = False) -> list[Figure]:
    from sdk import oplog
    from sdk.rights import deadline

    starts = _year_of_starts()

    def year() -> None:
        for start in starts:
            deadline.deadline_after(start)

    def year_cold() -> None:
        deadline.is_working_day.cache_clear()
        year()

    per_call = len(starts)
    figures = [
        measure("deadline_year_cold", f"deadline_after x {per_call} start dates (2025), cold cache",
                year_cold, runs=3 if quick else 10),
        measure("deadline_year_warm", f"deadline_after x {per_call} start dates (2025), warm cache",
                year, runs=3 if quick else 10),
    ]
    for figure in figures:
        figure.note = f"{figure.median_ms * 1000 / per_call:.1f} µs per request"

    line = " ".join(DETAIL.values())
    figures.append(measure("redact_line", f"oplog.redact, one line ({len(line)} chars)",
                           lambda: oplog.redact(line), runs=50 if quick else 200,
                           note="no storage"))
    runs = 20 if quick else 100
    with tempfile.TemporaryDirectory() as tmp:
        conn = _plain(Path(tmp) / "plain.db")
        stored = json.dumps({k: oplog.redact(v) for k, v in DETAIL.items()}, ensure_ascii=False,
                            sort_keys=True)
        counter = itertools.count()

        def insert() -> None:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO oplog_entries (time, at_us, category, event, detail, "
                         "account_id) VALUES (?, ?, ?, ?, ?, ?)",
                         ("2026-01-01T00:00:00Z", next(counter), "service", "sync_failed",
                          stored, None))
            conn.execute("COMMIT")

        figures.append(measure("plain_insert", "plain sqlite3 insert of a redacted line", insert,
                               runs=runs))
        conn.close()
        log = oplog.OperationLog(Path(tmp) / "oplog.db")
        try:
            figures.append(measure("oplog_write", "OperationLog.write, one line with redaction",
                                   lambda: log.write("service", "sync_failed", **DETAIL),
                                   runs=runs))
        finally:
            log.close()
    return figures
