"""The on-device operation log (sdk.oplog), OBL-LOG-1: redaction before the row exists,
retention from the manifest, the SDK's own log lines redacted, codes validated. Real SQLite
files in tmp_path, read back with sqlite3 directly."""

from __future__ import annotations

import datetime as dt
import logging
import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from sdk import PrivacySdk, SdkConfig, ServerUnavailable
from sdk.oplog import (
    OPLOG_FILENAME,
    OperationLog,
    RedactingHandler,
    forget_redacted_values,
    install_log_redaction,
    network_status,
    redact_value,
    retention_from_manifest,
)
from sdk.testing.keystore import MemoryKeystore

from .clock import T0, Clock
from .policies import demo_policy

PHONE = "13912345678"
ID_NUMBER = "11010519491231002X"  # the GB 11643 example number: valid check digit
FIRST_GENERATION_ID = "110105491231002"  # 15 digits, born 1949-12-31
EMAIL = "wang.fang+esign@example.com.cn"
IDENTITY_TOKEN = "q3Zp8KfLr2Wn6Ty0Vb4Xc9Hs1Jd5Gm7Ae-Uo_Ri8Nl2"
SID = "sid_4f9c2e7a1b3d5f60718293a4b5c6d7e8"
HEX_DIGEST = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
REAL_NAME = "欧阳娜娜"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def oplog(tmp_path: Path, clock: Clock) -> Iterator[OperationLog]:
    with OperationLog(tmp_path / OPLOG_FILENAME, clock=clock) as log:
        yield log


@pytest.fixture(autouse=True)
def _no_registered_values() -> Iterator[None]:
    forget_redacted_values()
    yield
    forget_redacted_values()


def _stored_rows(path: Path) -> list[tuple[str, str, str]]:
    """The rows as SQLite holds them, read without the SDK."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT category, event, detail FROM oplog_entries").fetchall()
    finally:
        conn.close()


def _file_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")))


# -- redaction in write(), before the row exists ----------------------------------------------

KINDS = [
    ("phone", f"please call {PHONE} back", PHONE, "[redacted:phone]"),
    ("phone_e164", "please call +86 139 1234 5678 back", "1234 5678", "[redacted:phone]"),
    ("id_number", f"id {ID_NUMBER} refused", ID_NUMBER, "[redacted:id_number]"),
    ("id_number_15", f"id {FIRST_GENERATION_ID} refused", FIRST_GENERATION_ID,
     "[redacted:id_number]"),
    ("email", f"mail to {EMAIL} bounced", "wang.fang", "[redacted:email]"),
    ("identity_token_header", f"Identity-Token: {IDENTITY_TOKEN}", IDENTITY_TOKEN,
     "Identity-Token: [redacted:token]"),
    ("bearer", f"Authorization was Bearer {IDENTITY_TOKEN}", IDENTITY_TOKEN,
     "Bearer [redacted:token]"),
    ("sid_cookie", f"sent sid={SID}", SID, "sid=[redacted:token]"),
    ("hex_run", f"content {HEX_DIGEST}", HEX_DIGEST, "[redacted:token]"),
]


@pytest.mark.parametrize(("text", "secret", "replacement"),
                         [k[1:] for k in KINDS], ids=[k[0] for k in KINDS])
def test_personal_data_is_redacted_in_the_stored_row(
        oplog: OperationLog, text: str, secret: str, replacement: str) -> None:  # OBL-LOG-1
    # OBL-LOG-1: the SQLite file (db and WAL) never holds the value, only the redaction mark
    oplog.write("operation", "support_message_sent", note=text)

    ((category, event, detail),) = _stored_rows(oplog.path)
    assert (category, event) == ("operation", "support_message_sent")
    assert replacement in detail
    assert secret not in detail
    assert secret.encode("utf-8") not in _file_bytes(oplog.path)


def test_a_registered_value_is_redacted_in_the_stored_row(oplog: OperationLog) -> None:  # OBL-LOG-1
    # OBL-LOG-1: the real name the user typed, registered at runtime
    redact_value(REAL_NAME)

    oplog.write("operation", "realname_submitted", note=f"name {REAL_NAME} sent")

    ((_, _, detail),) = _stored_rows(oplog.path)
    assert "[redacted:value]" in detail
    assert REAL_NAME.encode("utf-8") not in _file_bytes(oplog.path)


def test_an_invalid_id_number_is_still_redacted_as_digits(oplog: OperationLog) -> None:  # OBL-LOG-1
    # OBL-LOG-1: a mistyped ID number (wrong check digit) is personal all the same
    mistyped = ID_NUMBER[:-1] + "3"

    oplog.write("operation", "realname_refused", note=f"id {mistyped}")

    ((_, _, detail),) = _stored_rows(oplog.path)
    assert "[redacted:digits]" in detail
    assert mistyped[:17].encode() not in _file_bytes(oplog.path)


def test_codes_and_short_numbers_are_kept(oplog: OperationLog) -> None:  # OBL-LOG-1
    # OBL-LOG-1: redaction leaves what an operator needs: codes, counts, versions, times
    entry = oplog.write("service", "sync_succeeded", sent=3, reason="separate_consent_required",
                        policy="2026.11", at="2026-12-01T08:00:00Z", ok=True)

    assert dict(entry.detail) == {"sent": "3", "reason": "separate_consent_required",
                                  "policy": "2026.11", "at": "2026-12-01T08:00:00Z",
                                  "ok": "True"}


def test_entries_read_back_what_was_stored(oplog: OperationLog, clock: Clock) -> None:  # OBL-LOG-1
    # OBL-LOG-1
    oplog.write("network", "server_unreachable", network_type="wifi")
    clock.tick(60)
    oplog.write("operation", "login_succeeded")

    entries = oplog.entries()
    assert [(e.category, e.event, e.time) for e in entries] == [
        ("network", "server_unreachable", "2026-12-01T08:00:00Z"),
        ("operation", "login_succeeded", "2026-12-01T08:01:00Z")]
    assert [e.event for e in oplog.entries(since=T0 + dt.timedelta(seconds=30))] == [
        "login_succeeded"]


def test_entries_since_a_naive_time_is_refused(oplog: OperationLog) -> None:  # OBL-LOG-1
    # OBL-LOG-1
    with pytest.raises(ValueError, match="since must be an aware datetime"):
        oplog.entries(since=dt.datetime(2026, 12, 1))


# -- retention (Cybersecurity Law art. 21: at least six months) -------------------------------


def test_entries_older_than_six_months_are_purged(oplog: OperationLog, clock: Clock) -> None:  # OBL-LOG-1
    # OBL-LOG-1: written 1 Dec 2026, P6M: kept through 1 Jun 2027 08:00 UTC, gone after
    oplog.write("operation", "login_succeeded")
    clock.now = dt.datetime(2027, 6, 1, 7, 59, 59, tzinfo=dt.timezone.utc)
    assert oplog.purge() == 0

    clock.now = dt.datetime(2027, 6, 1, 8, 0, 0, tzinfo=dt.timezone.utc)
    assert oplog.purge() == 1
    assert _stored_rows(oplog.path) == []


def test_the_manifest_retention_applies(tmp_path: Path, clock: Clock) -> None:  # OBL-LOG-1
    # OBL-LOG-1: the demo manifest's operation_log item says P6M; a P1Y log keeps a 7-month entry
    assert retention_from_manifest(demo_policy().manifest) == "P6M"
    with OperationLog(tmp_path / OPLOG_FILENAME, retention="P1Y", clock=clock) as oplog:
        oplog.write("operation", "login_succeeded")
        clock.now = T0 + dt.timedelta(days=7 * 31)

        assert oplog.purge() == 0


def test_a_manifest_without_the_item_gets_six_months() -> None:  # OBL-LOG-1
    # OBL-LOG-1
    class Manifest:
        data_items = ()

    assert retention_from_manifest(Manifest()) == "P6M"


def test_expired_entries_are_purged_when_the_log_is_opened(tmp_path: Path, clock: Clock) -> None:  # OBL-LOG-1
    # OBL-LOG-1
    with OperationLog(tmp_path / OPLOG_FILENAME, clock=clock) as oplog:
        oplog.write("operation", "login_succeeded")
    clock.now = T0 + dt.timedelta(days=200)

    with OperationLog(tmp_path / OPLOG_FILENAME, clock=clock) as reopened:
        assert reopened.entries() == []


def test_expired_entries_are_purged_by_a_write_an_hour_later(oplog: OperationLog,
                                                             clock: Clock) -> None:  # OBL-LOG-1
    # OBL-LOG-1: no explicit purge() call: writing after the hourly interval purges
    oplog.write("operation", "login_succeeded")
    clock.now = T0 + dt.timedelta(days=200)

    oplog.write("operation", "logout")

    assert [e.event for e in oplog.entries()] == ["logout"]


@pytest.mark.parametrize("retention", ["P3M", "P179D", "until_account_cancelled"])
def test_a_retention_under_six_months_is_refused(tmp_path: Path, retention: str) -> None:  # OBL-LOG-1
    # OBL-LOG-1: Cybersecurity Law art. 21(3), "no less than six months"
    with pytest.raises(ValueError, match="six months"):
        OperationLog(tmp_path / OPLOG_FILENAME, retention=retention)


def test_a_retention_that_is_not_a_duration_is_refused(tmp_path: Path) -> None:  # OBL-LOG-1
    # OBL-LOG-1
    with pytest.raises(ValueError, match="ISO 8601 duration"):
        OperationLog(tmp_path / OPLOG_FILENAME, retention="six months")


# -- validation: clear errors, never the value -------------------------------------------------


def test_an_unknown_category_is_refused_with_the_choices(oplog: OperationLog) -> None:  # OBL-LOG-1
    # OBL-LOG-1: the message lists the categories and does not echo what was passed
    with pytest.raises(ValueError, match="category must be one of network, operation, service") \
            as caught:
        oplog.write(PHONE, "login_succeeded")

    assert PHONE not in str(caught.value)
    assert _stored_rows(oplog.path) == []


@pytest.mark.parametrize("event", ["Login", "login succeeded", "", "x" * 65])
def test_an_event_that_is_not_a_code_is_refused(oplog: OperationLog, event: str) -> None:  # OBL-LOG-1
    # OBL-LOG-1
    with pytest.raises(ValueError, match="event must be a short code"):
        oplog.write("operation", event)


def test_an_event_holding_personal_data_is_refused_without_echoing_it(oplog: OperationLog) -> None:  # OBL-LOG-1
    # OBL-LOG-1: a code cannot carry a value past the redaction
    with pytest.raises(ValueError, match="event must be a code, not data") as caught:
        oplog.write("operation", f"login_{PHONE}")

    assert PHONE not in str(caught.value)
    assert _stored_rows(oplog.path) == []


def test_a_detail_value_of_another_type_is_refused_naming_it(oplog: OperationLog) -> None:  # OBL-LOG-1
    # OBL-LOG-1
    with pytest.raises(ValueError, match="detail 'items' must be a str, int, float, bool or None"):
        oplog.write("service", "sync_succeeded", items=["a"])


def test_a_long_value_is_cut_after_redaction(oplog: OperationLog) -> None:  # OBL-LOG-1
    # OBL-LOG-1: redaction first, so a cut never leaves part of a number behind
    entry = oplog.write("service", "sdk_log", message="x " * 150 + PHONE)

    assert len(entry.detail["message"]) == 200
    assert PHONE[:7] not in entry.detail["message"]


# -- the SDK's own log lines ---------------------------------------------------------------


def test_an_sdk_log_line_is_redacted_before_any_handler_sees_it(
        caplog: pytest.LogCaptureFixture) -> None:  # OBL-LOG-1
    # OBL-LOG-1: a child logger ("sdk.account.client") propagating to the root's handler
    install_log_redaction("sdk")
    caplog.set_level(logging.INFO, logger="sdk")

    logging.getLogger("sdk.account.client").warning("login for %s from %s failed", PHONE, EMAIL)

    (record,) = [r for r in caplog.records if r.name == "sdk.account.client"]
    assert record.getMessage() == "login for [redacted:phone] from [redacted:email] failed"
    assert PHONE not in caplog.text and EMAIL not in caplog.text


def test_a_line_logged_on_the_sdk_logger_itself_is_redacted(
        caplog: pytest.LogCaptureFixture) -> None:  # OBL-LOG-1
    # OBL-LOG-1: the filter on "sdk"
    install_log_redaction("sdk")
    caplog.set_level(logging.INFO, logger="sdk")

    logging.getLogger("sdk").info("token %s", IDENTITY_TOKEN)

    assert IDENTITY_TOKEN not in caplog.text
    assert "token [redacted:token]" in caplog.text


def test_an_exception_text_in_an_sdk_log_line_is_redacted(
        caplog: pytest.LogCaptureFixture) -> None:  # OBL-LOG-1
    # OBL-LOG-1: a third-party exception message may hold a value
    install_log_redaction("sdk")
    caplog.set_level(logging.INFO, logger="sdk")

    try:
        raise RuntimeError(f"bad number {ID_NUMBER}")
    except RuntimeError:
        logging.getLogger("sdk.transport").exception("request failed")

    assert ID_NUMBER not in caplog.text
    assert "[redacted:id_number]" in caplog.text


def test_other_loggers_are_left_alone(caplog: pytest.LogCaptureFixture) -> None:  # OBL-LOG-1
    # OBL-LOG-1: only the SDK's logger is changed
    install_log_redaction("sdk")
    caplog.set_level(logging.INFO, logger="sdkx.app")

    logging.getLogger("sdkx.app").info("order %s", HEX_DIGEST)

    assert HEX_DIGEST in caplog.text


def test_the_handler_copies_warnings_redacted_into_the_log(oplog: OperationLog) -> None:  # OBL-LOG-1
    # OBL-LOG-1: WARNING and above, not INFO
    handler = RedactingHandler(oplog)
    logger = logging.getLogger("sdk.oplog_test")
    logger.addHandler(handler)
    try:
        logger.info("ignored %s", PHONE)
        logger.warning("upload for %s failed", PHONE)
    finally:
        logger.removeHandler(handler)

    ((category, event, detail),) = _stored_rows(oplog.path)
    assert (category, event) == ("service", "sdk_log")
    assert "upload for [redacted:phone] failed" in detail
    assert PHONE.encode() not in _file_bytes(oplog.path)


def test_the_handler_writes_nothing_when_not_allowed(oplog: OperationLog) -> None:  # OBL-LOG-1
    # OBL-LOG-1: the purpose gate decides
    handler = RedactingHandler(oplog, allowed=lambda: False)
    logger = logging.getLogger("sdk.oplog_test")
    logger.addHandler(handler)
    try:
        logger.warning("something failed")
    finally:
        logger.removeHandler(handler)

    assert oplog.entries() == []


def test_redact_value_refuses_a_one_character_value() -> None:  # OBL-LOG-1
    # OBL-LOG-1: it would hide ordinary text
    with pytest.raises(ValueError, match="at least 2 characters"):
        redact_value("王")


# -- network, and the SDK facade ---------------------------------------------------------------


def test_network_status_gives_a_type_and_a_state() -> None:  # OBL-LOG-1
    # OBL-LOG-1: never an address; unknown where the platform does not say
    status = network_status()

    assert set(status) == {"network_type", "network_state"}
    assert status["network_type"] in {"wifi", "cellular", "ethernet", "unknown"}
    assert status["network_state"] in {"connected", "disconnected", "unknown"}


def _closed_port_endpoint() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"https://127.0.0.1:{s.getsockname()[1]}"


def test_the_sdk_logs_a_failed_sync_with_the_network_state(tmp_path: Path, clock: Clock) -> None:  # OBL-LOG-1
    # OBL-LOG-1: event codes and the network type/state, no values; the account's items untouched
    config = SdkConfig(data_dir=tmp_path, endpoint=_closed_port_endpoint(), retries=0,
                       connect_timeout=0.5, clock=clock)
    with PrivacySdk.open(config, demo_policy(), keystore=MemoryKeystore()) as privacy:
        privacy.agree()  # the sync it starts fails: the server is down
        with pytest.raises(ServerUnavailable):
            privacy.sync()
        entries = [e for e in privacy.operation_log.entries() if e.category == "network"]

    assert entries and {e.event for e in entries} == {"server_unreachable"}
    assert entries[0].detail["during"] == "sync"
    assert entries[0].detail["network_type"] in {"wifi", "cellular", "ethernet", "unknown"}


def test_the_sdk_logs_nothing_before_the_policy_is_agreed(tmp_path: Path, clock: Clock) -> None:  # OBL-LOG-1
    # OBL-LOG-1: purpose operation_log (legal obligation) still needs the policy agreed to: the
    # SDK's warning (policy fetch failed) is copied only after agree()
    config = SdkConfig(data_dir=tmp_path, endpoint=_closed_port_endpoint(), retries=0,
                       connect_timeout=0.5, clock=clock)
    with PrivacySdk.open(config, demo_policy(), keystore=MemoryKeystore()) as privacy:
        oplog = privacy.operation_log
        privacy.refresh_policy()  # warns: the server is down
        assert oplog.entries() == []

        privacy.agree()
        privacy.refresh_policy()
        events = [(e.category, e.event, e.detail.get("logger")) for e in oplog.entries()]

    assert ("service", "sdk_log", "sdk.core") in events


def test_a_failed_login_is_logged_by_error_type_only(tmp_path: Path, clock: Clock) -> None:  # OBL-LOG-1
    # OBL-LOG-1: the identifier is never written
    config = SdkConfig(data_dir=tmp_path, endpoint=_closed_port_endpoint(), retries=0,
                       connect_timeout=0.5, clock=clock)
    with PrivacySdk.open(config, demo_policy(), keystore=MemoryKeystore()) as privacy:
        privacy.agree()
        with pytest.raises(ServerUnavailable):
            privacy.login(PHONE, "Tz4!plum-Harbor-77")
        entries = [e for e in privacy.operation_log.entries() if e.category == "operation"]

    assert [(e.event, dict(e.detail)) for e in entries] == [
        ("login_failed", {"error": "ServerUnavailable"})]
    assert PHONE.encode() not in _file_bytes(tmp_path / OPLOG_FILENAME)


# -- what the user types into real-name verification is registered (OBL-LOG-1) ---------------

TYPED_NAME = "诸葛孔明"
PASSPORT_NUMBER = "E12345678"


def test_the_real_name_typed_for_verification_is_stored_redacted(tmp_path: Path, clock: Clock) -> None:  # OBL-LOG-1
    from sdk import ConsentRequired

    config = SdkConfig(data_dir=tmp_path, clock=clock)
    with PrivacySdk.open(config, demo_policy(), keystore=MemoryKeystore()) as privacy:
        privacy.agree(sync=False)
        with pytest.raises(ConsentRequired):  # refused after the name reached the SDK
            privacy.realname.submit(TYPED_NAME, ID_NUMBER, PHONE, b"face video")
        privacy.operation_log.write("service", "sdk_log", note=f"name {TYPED_NAME}")

    assert TYPED_NAME.encode("utf-8") not in _file_bytes(tmp_path / OPLOG_FILENAME)


def test_a_document_number_typed_for_manual_review_is_stored_redacted(
        tmp_path: Path, clock: Clock) -> None:  # OBL-LOG-1
    from sdk import ConsentRequired

    config = SdkConfig(data_dir=tmp_path, clock=clock)
    with PrivacySdk.open(config, demo_policy(), keystore=MemoryKeystore()) as privacy:
        privacy.agree(sync=False)
        with pytest.raises(ConsentRequired):
            privacy.realname.submit_for_manual_review("passport", PASSPORT_NUMBER, [b"photo"])
        privacy.operation_log.write("service", "sdk_log", note=f"passport {PASSPORT_NUMBER}")

    assert PASSPORT_NUMBER.encode() not in _file_bytes(tmp_path / OPLOG_FILENAME)
