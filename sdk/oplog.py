"""The on-device operation log (OBL-LOG-1): network, operation and service events, kept for
the retention the policy manifest declares for the data item ``operation_log`` (six months
by default), with personal information redacted before anything is stored.

Why: the Cybersecurity Law (《中华人民共和国网络安全法》) art. 21(3) requires "technical
measures to monitor and record network operation states and network security incidents,
and to keep the relevant network logs for no less than six months". The policy declares
this as purpose ``operation_log`` (lawful basis ``legal_obligation``: no consent needed,
PIPL art. 13(3)); :class:`sdk.PrivacySdk` writes entries only while that purpose is allowed
(the policy is agreed to).

An entry is ``(time, category, event, detail)``:

``category``
    ``network`` (connectivity: network type and state, server unreachable),
    ``operation`` (what the user did: logged in, asked for an export, ...) or
    ``service`` (what the SDK/service did: sync sent records, an SDK warning).
``event``
    a short code (``login_succeeded``), never a value.
``detail``
    a few short strings (``{"error": "ServerUnavailable"}``).

**Redaction happens in** :meth:`OperationLog.write` **before the row exists** (see
:func:`redact`): ID numbers, phone numbers, email addresses, bearer/cookie/token values, long
token-like runs and every value registered with :func:`redact_value` (the real name the user
typed, identity tokens) become ``[redacted:<kind>]``. The same redaction applies to the SDK's
own log lines: :func:`install_log_redaction` puts a :class:`RedactionFilter` on the ``sdk``
logger so no handler ever sees personal data, and :class:`RedactingHandler` copies WARNING and
above into the operation log.

The file is ``data_dir/oplog.db`` (SQLite, WAL, ``synchronous=FULL``: an entry is on disk when
:meth:`OperationLog.write` returns); all ``sqlite3`` errors become :class:`sdk.errors.StorageError`.
``phonenumbers`` and ``python-stdnum`` are imported on first use, so ``import sdk`` stays cheap.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import re
import sqlite3
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._sqlite import SqliteOwner, connect

__all__ = [
    "CATEGORIES",
    "DEFAULT_RETENTION",
    "MIN_RETENTION",
    "OPLOG_FILENAME",
    "OperationLog",
    "OplogEntry",
    "RedactingHandler",
    "RedactionFilter",
    "forget_redacted_values",
    "install_log_redaction",
    "network_status",
    "redact",
    "redact_value",
    "redact_values",
    "retention_from_manifest",
]

#: File name of the operation log inside ``SdkConfig.data_dir``.
OPLOG_FILENAME = "oplog.db"
#: The kinds of entry.
CATEGORIES: tuple[str, ...] = ("network", "operation", "service")
#: Retention when the manifest declares none for the item ``operation_log``.
DEFAULT_RETENTION = "P6M"
#: The shortest retention accepted: Cybersecurity Law art. 21(3), "no less than six months".
MIN_RETENTION = "P6M"
#: The manifest data item whose ``retention`` applies.
OPLOG_ITEM = "operation_log"

#: A purge runs when the log is opened and again after this much time of writes.
PURGE_EVERY = _dt.timedelta(hours=1)
#: Longest stored detail value, in characters (after redaction; longer ones are cut).
MAX_VALUE_CHARS = 200
#: Most detail entries per log entry.
MAX_DETAIL_KEYS = 16
#: Shortest value :func:`redact_value` accepts: shorter ones would redact ordinary text.
MIN_REDACTED_VALUE_CHARS = 2

_WHAT = "operation log"
_SCHEMA_VERSION = 1
_CODE = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")
_CODE_EXPECTED = ("a short code: a lowercase letter, then lowercase letters, digits, '_', '.' "
                  "or '-', at most 64 characters (e.g. 'login_succeeded')")


def _sql_list(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


_SCHEMA = (
    f"""CREATE TABLE IF NOT EXISTS oplog_entries (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        time       TEXT NOT NULL,
        at_us      INTEGER NOT NULL,
        category   TEXT NOT NULL CHECK (category IN ({_sql_list(CATEGORIES)})),
        event      TEXT NOT NULL,
        detail     TEXT NOT NULL,
        account_id TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS oplog_entries_at ON oplog_entries (at_us)",
    "CREATE INDEX IF NOT EXISTS oplog_entries_account ON oplog_entries (account_id)",
)


# -- redaction ------------------------------------------------------------------------------

_registered: set[str] = set()
_registered_lock = threading.Lock()

# name=value / name: value pairs whose value is a secret (cookies, tokens, passwords)
_SECRET_PAIR = re.compile(
    r"(?i)\b(sid|cookie|set-cookie|authorization|identity[-_]token|"
    r"cancellation[-_]token|access[-_]token|refresh[-_]token|token|password|passwd|secret|"
    r"api[-_]key)(\s*[:=]\s*)(\"?)(?!\[redacted)([^\s\";,&]+)")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+(?!\[redacted)([A-Za-z0-9._~+/=-]{6,})")
# any x@y: deliberately wider than a valid address (a mistyped one is personal too)
_EMAIL = re.compile(r"[^\s@<>()\[\]{}:;,\"'，。；：、]+@[^\s@<>()\[\]{}:;,\"'，。；：、]+")
# 15 or 18 characters (the 18th may be X) not inside a longer run of letters or digits
_ID_CANDIDATE = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])")
_LONG_DIGITS = re.compile(r"\d{15,}")
# "/" ends a run: file paths stay readable; the SDK's tokens are hex or url-safe base64
_TOKEN_RUN = re.compile(r"(?<![A-Za-z0-9+_=-])[A-Za-z0-9+_-]{24,}={0,2}")


def redact_value(value: str) -> None:
    """Redact *value* wherever it appears from now on (in this process, in every operation
    log and SDK log line): the real name the user typed, a token just received, ...

    Values are kept in memory only, never on disk; :func:`forget_redacted_values` drops them.

    Raises:
        ValueError: *value* is not a string or is shorter than
            :data:`MIN_REDACTED_VALUE_CHARS` characters (it would redact ordinary text).
    """
    if not isinstance(value, str):
        raise ValueError("redact_value takes a str (the text to hide in logs)")
    value = value.strip()
    if len(value) < MIN_REDACTED_VALUE_CHARS:
        raise ValueError(f"a value to redact must have at least {MIN_REDACTED_VALUE_CHARS} "
                         "characters; shorter ones would hide ordinary text")
    with _registered_lock:
        _registered.add(value)


def redact_values(*values: Any) -> None:
    """:func:`redact_value` for each of *values*, best effort: the SDK calls it where a value
    enters it, the moment the user typed it (a real name, an ID or document number, a phone
    number or email address given for someone or something) or the server gave it (a token).
    ``None``, non-text and values shorter than :data:`MIN_REDACTED_VALUE_CHARS` characters
    are skipped; it never raises."""
    for value in values:
        if isinstance(value, str) and len(value.strip()) >= MIN_REDACTED_VALUE_CHARS:
            redact_value(value)


def forget_redacted_values() -> None:
    """Drop every value registered with :func:`redact_value` (e.g. after logout)."""
    with _registered_lock:
        _registered.clear()


def redact(text: str) -> str:
    """*text* with personal information replaced by ``[redacted:<kind>]``.

    In this order: values registered with :func:`redact_value` (``value``); secrets after
    ``Bearer``/``Basic`` and in ``sid=…``, ``Identity-Token: …``, ``password=…`` and similar
    pairs (``token``); email addresses, anything shaped ``x@y`` (``email``); PRC ID numbers,
    15- or 18-character candidates that ``stdnum.cn.ric``'s check digit and birth date accept
    (``id_number``); phone numbers that ``phonenumbers.PhoneNumberMatcher`` finds (region CN,
    other countries with ``+``; ``phone``); any other run of 15 or more digits (``digits``: a
    mistyped ID number is still personal); runs of 24 or more hex/base64/url-safe characters (``/`` ends a run)
    holding a digit or both cases (``token``: session ids, identity tokens, hashes).

    Over-redacting is preferred to leaking: a long code with digits is redacted too.
    """
    if not isinstance(text, str):
        text = str(text)
    if not text:
        return text
    with _registered_lock:
        values = sorted(_registered, key=len, reverse=True)
    for value in values:
        if value in text:
            text = text.replace(value, "[redacted:value]")
    text = _BEARER.sub(lambda m: f"{m.group(1)} [redacted:token]", text)
    text = _SECRET_PAIR.sub(
        lambda m: f"{m.group(1)}{m.group(2)}{m.group(3)}[redacted:token]", text)
    text = _EMAIL.sub("[redacted:email]", text)
    text = _ID_CANDIDATE.sub(
        lambda m: "[redacted:id_number]" if _looks_like_id_number(m.group(1)) else m.group(1), text)
    text = _redact_phones(text)
    text = _LONG_DIGITS.sub("[redacted:digits]", text)
    text = _TOKEN_RUN.sub(
        lambda m: "[redacted:token]" if _token_like(m.group(0)) else m.group(0), text)
    return text


def _looks_like_id_number(candidate: str) -> bool:
    """An 18-character number with a valid check digit and birth date (stdnum.cn.ric; the
    address code is not checked: stdnum misses historic codes), or a 15-digit first-generation
    number with a valid birth date (19YYMMDD)."""
    from stdnum.cn import ric

    number = candidate.upper()
    try:
        if len(number) == 18:
            if ric.calc_check_digit(number) != number[-1]:
                return False
            ric.get_birth_date(number)
            return True
        _dt.date(1900 + int(number[6:8]), int(number[8:10]), int(number[10:12]))
        return True
    except (ValueError, ric.ValidationError):
        return False


def _redact_phones(text: str) -> str:
    if not any(ch.isdigit() for ch in text):
        return text
    import phonenumbers

    spans = [(m.start, m.end) for m in phonenumbers.PhoneNumberMatcher(text, "CN")]
    for start, end in reversed(spans):
        text = text[:start] + "[redacted:phone]" + text[end:]
    return text


def _token_like(run: str) -> bool:
    letters = [c for c in run if c.isalpha()]
    return (any(c.isdigit() for c in run)
            or (any(c.isupper() for c in letters) and any(c.islower() for c in letters)))


# -- network --------------------------------------------------------------------------------


def network_status() -> dict[str, str]:
    """The network in use, as far as the device tells (never an address or a name).

    Returns:
        ``{"network_type": "wifi"|"cellular"|"ethernet"|"unknown",
        "network_state": "connected"|"disconnected"|"unknown"}``, read through
        :mod:`sdk.device` (Android's ConnectivityManager, Linux's default route); ``unknown``
        wherever the platform does not say. Call it only after the gate for the data item
        ``network_info`` (purpose ``operation_log``).
    """
    try:
        from . import device
        from .capture import _platform

        kind, _source = device._network_type()
        if kind != "unknown":
            state = "connected"
        elif _platform.platform() == "linux":
            state = "connected" if device._default_interface() is not None else "disconnected"
        else:
            state = "unknown"
        return {"network_type": str(kind), "network_state": state}
    except Exception:  # noqa: BLE001 - best effort: the log must never break the app
        return {"network_type": "unknown", "network_state": "unknown"}


# -- retention ------------------------------------------------------------------------------


def retention_from_manifest(manifest: Any) -> str:
    """The ``retention`` of the manifest's data item ``operation_log`` (an ISO 8601 duration
    such as ``"P6M"``), or :data:`DEFAULT_RETENTION` when the manifest has no such item."""
    for item in getattr(manifest, "data_items", ()) or ():
        if str(getattr(item, "id", "")) == OPLOG_ITEM:
            return str(item.retention)
    return DEFAULT_RETENTION


def _check_retention(text: str, now: _dt.datetime) -> Any:
    from .policy.manifest import parse_retention

    if not isinstance(text, str):
        raise ValueError("retention must be an ISO 8601 duration string such as 'P6M'")
    retention = parse_retention(text)  # ValueError names the expected form
    if retention.until_account_cancelled:
        raise ValueError("the operation log's retention must be a duration of at least six "
                         "months such as 'P6M' (Cybersecurity Law art. 21), not "
                         "'until_account_cancelled'")
    minimum = parse_retention(MIN_RETENTION)
    if retention.expires(now) < minimum.expires(now):
        raise ValueError("the operation log's retention must be at least six months ('P6M'): "
                         "Cybersecurity Law art. 21(3) requires keeping network logs no less "
                         "than six months; fix data item 'operation_log' in the manifest")
    return retention


def _cutoff(retention: Any, now: _dt.datetime) -> _dt.datetime:
    """The latest entry time that has expired at *now*: ``now`` minus the retention
    (calendar months and years, clamped to the month's last day)."""
    import calendar

    moment = now - _dt.timedelta(days=retention.days, seconds=retention.seconds)
    total = moment.year * 12 + moment.month - 1 - retention.months - 12 * retention.years
    year, month = divmod(total, 12)
    month += 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def _utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def _micros(moment: _dt.datetime) -> int:
    delta = moment - _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _aware(moment: Any, what: str) -> _dt.datetime:
    if not isinstance(moment, _dt.datetime) or moment.tzinfo is None \
            or moment.utcoffset() is None:
        raise ValueError(f"{what} must be an aware datetime (e.g. datetime.now(timezone.utc))")
    return moment.astimezone(_dt.timezone.utc)


# -- the log --------------------------------------------------------------------------------


@dataclass(frozen=True)
class OplogEntry:
    """One stored entry (already redacted).

    Attributes:
        seq: position in the log (increasing).
        time: RFC 3339 UTC, to the second, e.g. ``2026-12-01T08:00:00Z``.
        category: one of :data:`CATEGORIES`.
        event: the event code.
        detail: short strings, redacted.
        account_id: the account logged in when it was written (set with
            :attr:`OperationLog.account_id`), else ``None``.
    """

    seq: int
    time: str
    category: str
    event: str
    detail: Mapping[str, str] = field(default_factory=dict)
    account_id: str | None = None


class OperationLog(SqliteOwner):
    """The operation log (module documentation), safe to share between threads.

    Args:
        path: the SQLite file, usually ``data_dir / "oplog.db"``; created if missing.
        retention: how long entries are kept, an ISO 8601 duration of at least six months
            (usually :func:`retention_from_manifest`); default ``"P6M"``.
        clock: returns the current time as an aware UTC datetime (``SdkConfig.clock``).

    Entries older than the retention are deleted when the log is opened and then at most once
    an hour, on a write; :meth:`purge` deletes them at once.

    Attributes:
        account_id: the account logged in, stored with each entry written from now on
            (``None``: none); :meth:`forget_account` deletes an account's entries.

    Raises:
        ValueError: *retention* is not a duration, or is shorter than six months.
        StorageError: the file cannot be opened, is locked, corrupt, or from a newer SDK.
    """

    _WHAT = _WHAT
    _CLOSED = "the operation log is closed; open the SDK again (PrivacySdk.open)"

    def __init__(self, path: Path | str, *, retention: str = DEFAULT_RETENTION,
                 clock: Callable[[], _dt.datetime] = _utcnow) -> None:
        self.path = Path(path)
        self._clock = clock
        self._retention = _check_retention(retention, _aware(clock(), "the clock's time"))
        self.retention = retention
        self.account_id: str | None = None
        self._lock = threading.RLock()
        self._last_purge: _dt.datetime | None = None
        self._conn: sqlite3.Connection | None = connect(self.path, _WHAT)
        try:
            with self._transaction() as conn:
                self._apply_schema(conn, _SCHEMA, _SCHEMA_VERSION)
            self.purge()
        except BaseException:
            self._conn.close()
            self._conn = None
            raise

    # -- writing ------------------------------------------------------------------------

    def write(self, category: str, event: str, **detail: Any) -> OplogEntry:
        """Append one entry, redacted (:func:`redact`) before it is stored; it is committed
        and on disk when this returns.

        Args:
            category: ``network``, ``operation`` or ``service``.
            event: a short code (lowercase letters, digits, ``_ . -``; at most 64), never a
                value: ``login_succeeded``, ``sync_failed``.
            detail: short values by name (names are codes like *event*); ``str``, ``int``,
                ``float``, ``bool`` or ``None``, stored as text, redacted, cut to
                :data:`MAX_VALUE_CHARS`; ``None`` values are left out. At most
                :data:`MAX_DETAIL_KEYS`.

        Returns:
            the :class:`OplogEntry` as stored.

        Raises:
            ValueError: an unknown category, an event or detail name that is not a code (or
                holds something that looks personal), a value of another type, too many
                details. The message names the argument, never the value.
            StorageError: the entry could not be stored; nothing was written.
        """
        if category not in CATEGORIES:
            raise ValueError(f"category must be one of {', '.join(CATEGORIES)} "
                             "(network: connectivity; operation: what the user did; "
                             "service: what the SDK or the service did)")
        _check_code(event, "event")
        if len(detail) > MAX_DETAIL_KEYS:
            raise ValueError(f"at most {MAX_DETAIL_KEYS} detail values per entry; log fewer")
        stored: dict[str, str] = {}
        for name, value in detail.items():
            _check_code(name, "each detail name")
            if value is None:
                continue
            if not isinstance(value, (str, int, float, bool)):
                raise ValueError(f"detail '{name}' must be a str, int, float, bool or None "
                                 f"(got a {type(value).__name__}); pass a short text")
            text = redact(str(value))
            if len(text) > MAX_VALUE_CHARS:
                text = text[:MAX_VALUE_CHARS - 1] + "…"
            stored[name] = text
        now = _aware(self._clock(), "the clock's time")
        time = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        payload = json.dumps(stored, ensure_ascii=False, sort_keys=True)
        account_id = self.account_id
        with self._transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO oplog_entries (time, at_us, category, event, detail, account_id) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (time, _micros(now), category, event, payload, account_id))
            seq = int(cursor.lastrowid or 0)
        if self._last_purge is None or now - self._last_purge >= PURGE_EVERY:
            self.purge()
        return OplogEntry(seq, time, category, event, stored, account_id)

    # -- reading ------------------------------------------------------------------------

    def entries(self, since: _dt.datetime | None = None) -> list[OplogEntry]:
        """The entries, oldest first; with *since* (aware), those written at or after it.

        Raises:
            ValueError: *since* is naive.
            StorageError: the log cannot be read.
        """
        params: tuple[Any, ...] = ()
        where = ""
        if since is not None:
            where, params = " WHERE at_us >= ?", (_micros(_aware(since, "since")),)
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT seq, time, category, event, detail, account_id FROM oplog_entries"
                f"{where} ORDER BY seq", params).fetchall()
        return [OplogEntry(seq, time, category, event, json.loads(detail), account)
                for seq, time, category, event, detail, account in rows]

    # -- deleting -----------------------------------------------------------------------

    def purge(self) -> int:
        """Delete the entries whose retention has ended; return how many.

        Raises:
            StorageError: the log cannot be written.
        """
        now = _aware(self._clock(), "the clock's time")
        cutoff = _micros(_cutoff(self._retention, now))
        with self._transaction() as conn:
            removed = conn.execute("DELETE FROM oplog_entries WHERE at_us <= ?",
                                   (cutoff,)).rowcount
        self._last_purge = now
        return int(removed or 0)

    def forget_account(self, account_id: str) -> int:
        """Delete the entries written while *account_id* was logged in (the account was
        cancelled on this device); return how many.

        Raises:
            ValueError: *account_id* is empty. StorageError: the log cannot be written.
        """
        if not isinstance(account_id, str) or not account_id:
            raise ValueError("account_id must be the non-empty id of the account")
        with self._transaction() as conn:
            removed = conn.execute("DELETE FROM oplog_entries WHERE account_id = ?",
                                   (account_id,)).rowcount
        return int(removed or 0)

    def clear(self) -> int:
        """Delete every entry; return how many. Raises StorageError."""
        with self._transaction() as conn:
            removed = conn.execute("DELETE FROM oplog_entries").rowcount
        return int(removed or 0)

    @staticmethod
    def redact_value(value: str) -> None:
        """:func:`redact_value`: hide *value* in every entry written from now on."""
        redact_value(value)


def _check_code(value: Any, what: str) -> None:
    if not isinstance(value, str) or not _CODE.match(value):
        raise ValueError(f"{what} must be {_CODE_EXPECTED}")
    if redact(value) != value:
        raise ValueError(f"{what} must be a code, not data: it looks like it holds personal "
                         "information; put values in detail (they are redacted)")


# -- the SDK's own log lines ----------------------------------------------------------------


class RedactionFilter(logging.Filter):
    """Redacts a log record in place (:func:`redact`): the formatted message (``msg`` becomes
    the redacted text, ``args`` empty), the formatted exception and the stack. Never drops a
    record. Installed by :func:`install_log_redaction`."""

    def filter(self, record: logging.LogRecord) -> bool:
        _redact_record(record)
        return True


def _redact_record(record: logging.LogRecord) -> None:
    if getattr(record, "_sdk_redacted", False):
        return
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a bad format string: keep only the template
        message = str(record.msg)
    record.msg, record.args = redact(message), None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    record._sdk_redacted = True  # type: ignore[attr-defined]


_installed_prefixes: set[str] = set()
_install_lock = threading.Lock()


def install_log_redaction(logger_name: str = "sdk") -> RedactionFilter:
    """Redact every log record of *logger_name* and its children before any handler sees it.

    A filter on a logger only sees records logged on that very logger (records of child
    loggers such as ``sdk.core`` skip it on their way to the handlers), so besides the
    :class:`RedactionFilter` on *logger_name* this wraps the process's log record factory
    (``logging.setLogRecordFactory``, chaining the one in place) to redact records of
    *logger_name* and ``<logger_name>.*`` as they are made: right before their handlers are
    called. Records of other loggers are untouched. Idempotent.

    Returns:
        the filter on *logger_name*.
    """
    logger = logging.getLogger(logger_name)
    with _install_lock:
        found = next((f for f in logger.filters if isinstance(f, RedactionFilter)), None)
        if found is None:
            found = RedactionFilter()
            logger.addFilter(found)
        if logger_name not in _installed_prefixes:
            _installed_prefixes.add(logger_name)
            previous = logging.getLogRecordFactory()
            children = logger_name + "."  # made once, not for every record of every logger

            def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
                record = previous(*args, **kwargs)
                name = record.name
                if name == logger_name or name.startswith(children):
                    _redact_record(record)
                return record

            logging.setLogRecordFactory(factory)
    return found


class RedactingHandler(logging.Handler):
    """Copies log lines (WARNING and above by default) into an :class:`OperationLog`, redacted:
    category ``service``, event ``sdk_log``, detail ``level``, ``logger``, ``message``.

    Args:
        oplog: the log to write to.
        level: the lowest level copied.
        allowed: called before each write; ``False`` skips it (e.g. purpose ``operation_log``
            not allowed). Default: always.

    A failure to write is swallowed (logging must never break the app), and a log line
    raised while writing is not copied again. The handler takes no lock of its own (the log
    has one): a thread that logs while holding an SDK lock never waits for another thread
    that is asking *allowed* for that lock.
    """

    def createLock(self) -> None:
        self.lock = None  # type: ignore[assignment]

    def __init__(self, oplog: OperationLog, level: int = logging.WARNING,
                 allowed: Callable[[], bool] | None = None) -> None:
        super().__init__(level)
        self.oplog = oplog
        self._allowed = allowed
        self._busy = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(self._busy, "on", False):
            return
        self._busy.on = True
        try:
            _redact_record(record)
            if self._allowed is not None and not self._allowed():
                return
            self.oplog.write("service", "sdk_log", level=record.levelname.lower(),
                             logger=record.name, message=record.getMessage())
        except Exception:  # noqa: BLE001 - see the class documentation
            pass
        finally:
            self._busy.on = False
