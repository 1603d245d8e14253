"""个人信息权利, 客服与通知, 邀请签署方 and notices in the real demo app (issue #7): the app
under Xvfb with a script of taps (demo_app/autopilot.py), against a real stub over HTTPS; the
outcome is checked where it is kept (the stub's database, the device's data dir) and in what
the screens showed (the autopilot's probes: labels and lengths, never a typed value).

The app uses the passphrase keystore (Xvfb has no OS keyring). Each test checks one behaviour
and names its obligation.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from demo_app.autopilot import (
    DEMO_OBJECTION,
    DEMO_PASSWORD,
    DEMO_PHONE,
    DEMO_SIGNER_PHONE,
)

from .conftest import (
    PASSPHRASE,
    REGISTERED,
    REPO,
    AppRun,
    app_run,
    db_rows,
    demo_app_command,
    script_and_report,
)

AGREED = REGISTERED[:4]  # the prompt agreed to, on the home screen
TO_RIGHTS = [{"press": "rights"}, {"wait_screen": "rights"},
             {"wait_text": ["requests_status", "还没有"]}]
VERIFIED = REGISTERED + TO_RIGHTS + [
    {"type": ["rights_password", DEMO_PASSWORD]}, {"press": "rights_verify"},
    {"wait_text": ["identity_text", "身份已验证"]}]
OBJECTED = VERIFIED + [
    {"press": "right_object"}, {"type": ["obj_text", DEMO_OBJECTION]}, {"press": "obj_submit"},
    {"wait_text": ["rights_result", "答复期限"]}]


@pytest.fixture
def run(run_app, passphrase_file):
    """The demo app against the test's stub (dev mode), with the passphrase keystore."""

    def start(steps: list[dict], *extra: str) -> AppRun:
        return run_app(steps, "--passphrase-file", str(passphrase_file), *extra, timeout=180)

    start.data_dir = run_app.data_dir
    return start


def run_held(display: str, server, data_dir: Path, tmp_path: Path, passphrase_file: Path,
             steps: list[dict], at_hold: Callable[[], None]) -> AppRun:
    """Run the app with *steps*, which contain ``{"touch_file": HOLD}`` then
    ``{"wait_file": GO}`` (see :func:`hold`): when the app reaches the hold, ``at_hold()`` runs
    here, then the app goes on."""
    script, report = script_and_report(tmp_path, "held", steps)
    proc = subprocess.Popen(
        demo_app_command(data_dir, script, report, "--server", server.url, "--ca",
                         str(server.ca_path), "--passphrase-file", str(passphrase_file)),
        env=dict(os.environ, DISPLAY=display), stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True, cwd=REPO)
    held, go = tmp_path / "held", tmp_path / "go"
    try:
        deadline = time.monotonic() + 150
        while not held.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        if held.exists():
            at_hold()
            go.write_text("go", encoding="utf-8")
        _out, err = proc.communicate(timeout=150)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return app_run(proc.returncode, report, err)


def hold(tmp_path: Path) -> list[dict]:
    return [{"touch_file": str(tmp_path / "held")}, {"wait_file": str(tmp_path / "go")}]


def nothing_typed_in(run: AppRun, *values: str) -> None:
    text = json.dumps(run.report, ensure_ascii=False) + run.stderr
    for value in (DEMO_PHONE, DEMO_PASSWORD, *values):
        assert value not in text


# -- the tests --------------------------------------------------------------------------------


def test_a_right_is_refused_until_the_identity_is_checked_again(run, stub):  # OBL-DSR-1
    steps = REGISTERED + TO_RIGHTS + [
        {"press": "right_access"}, {"wait_text": ["identity_error", "需要先验证身份"]},
        {"probe": "refused"}, {"quit": 0}]
    app = run(steps)
    assert app.code == 0, app.stderr
    refused = app.report["probes"]["refused"]
    assert refused["rights_error_kind"] == "IdentityCheckRequired"
    assert not refused["identity_verified"]
    assert "请输入登录密码" in refused["identity_error"]
    assert refused["report_titles"] == []  # nothing was shown
    db = Path(stub.data_dir) / "stub.db"
    assert db_rows(db, "SELECT kind FROM rights_requests") == []  # nothing was sent
    nothing_typed_in(app)


def test_an_objection_shows_its_deadline_of_15_working_days(run, stub):  # OBL-DSR-6
    import chinese_calendar

    from sdk.rights.deadline import PRC_TZ, deadline_after

    app = run(OBJECTED + [{"probe": "objected"}, {"quit": 0}])
    assert app.code == 0, app.stderr
    facts = app.report["probes"]["objected"]
    request = facts["last_request"]
    assert (request["kind"], request["status"]) == ("objection", "received")
    verified_at = _dt.datetime.fromisoformat(request["identity_verified_at"])
    expected = deadline_after(verified_at)
    assert request["deadline"] == expected.due.isoformat()
    # 15 PRC working days after the day of the identity check, counted here again
    day, counted = verified_at.astimezone(PRC_TZ).date(), 0
    while counted < 15:
        day += _dt.timedelta(days=1)
        try:
            counted += chinese_calendar.is_workday(day)
        except NotImplementedError:  # a year without a published schedule: Monday to Friday
            counted += day.weekday() < 5
    assert request["deadline"] == day.isoformat()
    due = expected.due
    shown = f"答复期限：{due.year}年{due.month}月{due.day}日"
    assert shown in facts["rights_result"] and "15 个工作日" in facts["rights_result"]
    assert facts["request_rows"][0]["deadline"].startswith(shown)  # and in the list
    db = Path(stub.data_dir) / "stub.db"
    assert db_rows(db, "SELECT kind, status FROM rights_requests") == [("objection", "received")]
    nothing_typed_in(app, DEMO_OBJECTION)


def test_the_request_list_marks_provisional_deadlines_and_overdue_requests(
        display, tmp_path, passphrase_file):  # OBL-DSR-8 OBL-DSR-6
    """The stub's clock starts where 15 working days reach a year whose holiday schedule is
    not published (the deadline is an estimate: 预计), then jumps past the deadline while the
    app waits: the refreshed list says 已逾期 in red."""
    from sdk.rights.deadline import deadline_after
    from server_stub.runner import start_in_thread
    from server_stub.settings import Settings

    now = _dt.datetime.now(_dt.timezone.utc)
    start = next(days for days in range(800)
                 if deadline_after(now + _dt.timedelta(days=days)).provisional)
    offset = [start * 86400.0]
    settings = Settings(data_dir=tmp_path / "stub-data", dev_mode=True,
                        clock=lambda: time.time() + offset[0],
                        session_ttl_seconds=400 * 86400)

    def jump() -> None:
        offset[0] += 60 * 86400.0  # well past 15 working days

    steps = OBJECTED + [{"probe": "before"}, *hold(tmp_path), {"press": "requests_refresh"},
                        {"sleep": 1.5}, {"probe": "after"}, {"quit": 0}]
    with start_in_thread(settings) as server:
        app = run_held(display, server, tmp_path / "app", tmp_path, passphrase_file, steps, jump)
    assert app.code == 0, app.stderr
    before, after = app.report["probes"]["before"], app.report["probes"]["after"]
    assert before["requests"][0]["provisional"] and not before["requests"][0]["overdue"]
    assert before["request_rows"][0]["deadline"].endswith("（预计）")
    assert not before["request_rows"][0]["overdue_tag"]
    assert after["requests"][0]["overdue"]
    row = after["request_rows"][0]
    assert row["overdue_tag"] and row["deadline"].endswith("（预计）")


def test_cancelling_the_account_takes_two_steps_and_wipes_the_device(
        display, stub, tmp_path, passphrase_file):  # OBL-DSR-7
    db = Path(stub.data_dir) / "stub.db"
    seen: dict = {}

    def after_step_one() -> None:  # the warning page is shown: nothing has changed yet
        seen["identifiers"] = [r[0] for r in db_rows(db, "SELECT identifier FROM accounts")]
        seen["sessions"] = db_rows(db, "SELECT COUNT(*) FROM sessions")[0][0]

    steps = VERIFIED + [
        {"press": "right_cancel"}, {"wait_text": ["cancel_lose", "合同下载"]}, {"probe": "warning"},
        *hold(tmp_path), {"wait_enabled": "cancel_confirm"}, {"press": "cancel_confirm"},
        {"wait_screen": "prompt"}, {"probe": "after"}, {"quit": 0}]
    data_dir = tmp_path / "app"
    app = run_held(display, stub, data_dir, tmp_path, passphrase_file, steps, after_step_one)
    assert app.code == 0, app.stderr

    warning = app.report["probes"]["warning"]
    assert warning["rights_page"] == "cancel"
    assert not warning["cancel_confirm_enabled"] and warning["cancel_wait"] > 0  # 3 s to read
    assert len(warning["cancel_lose"]) == 5
    assert warning["cancel_kept"] == ["无（本账号没有需要依法保留的记录）"]  # never signed: nothing kept
    assert seen["identifiers"] and not seen["identifiers"][0].startswith("cancelled:")
    assert seen["sessions"] >= 1

    after = app.report["probes"]["after"]
    assert (after["screen"], after["mode"]) == ("prompt", "undecided")
    identifiers = [r[0] for r in db_rows(db, "SELECT identifier FROM accounts")]
    assert len(identifiers) == 1 and identifiers[0].startswith("cancelled:")
    assert db_rows(db, "SELECT COUNT(*) FROM sessions") == [(0,)]
    assert len(db_rows(db, "SELECT account_id FROM cancelled_accounts")) == 1

    # the device forgot the account: no decisions, no audit trail, an empty store
    from demo_app.policy import MANIFEST_PATH, POLICY_PATH
    from sdk import PrivacySdk, SdkConfig
    from sdk.policy import load_policy
    from sdk.storage.backends.passphrase import PassphraseKeystore

    assert not (data_dir / "sdk" / "audit.db").exists()
    keystore = PassphraseKeystore(data_dir / "sdk", PASSPHRASE)
    policy = load_policy(POLICY_PATH, MANIFEST_PATH)
    with PrivacySdk.open(SdkConfig(data_dir=data_dir / "sdk"), policy, keystore=keystore) as sdk:
        assert sdk.mode == "undecided" and sdk.current_account_id() is None
        assert sdk.store.entries() == []
    nothing_typed_in(app)


def test_an_invitation_is_refused_until_the_consent_box_is_ticked(run, stub):  # OBL-PHONE-1
    from sdk.rights.services import ATTESTATION_MESSAGE

    steps = REGISTERED + [
        {"press": "sign_contract"}, {"wait_screen": "contract"}, {"wait_widgets": "list"},
        {"press_template": 0}, {"wait_document": "body"}, {"press": "contract_invite"},
        {"type": ["invite_phone", DEMO_SIGNER_PHONE]}, {"press": "invite_send"},
        {"wait_text": ["invite_attest_error", "请先确认"]}, {"probe": "refused"},
        {"press": "invite_attest"}, {"press": "invite_send"},
        {"wait_text": ["invite_result", "已向"]}, {"probe": "sent"}, {"quit": 0}]
    app = run(steps)
    assert app.code == 0, app.stderr
    refused, sent = app.report["probes"]["refused"], app.report["probes"]["sent"]
    assert refused["invite_error_kind"] == "InvalidInput"
    assert refused["invite_attest_error"] == ATTESTATION_MESSAGE.split("(", 1)[0].strip()
    assert refused["invitation"] is None
    assert sent["invitation"]["phone_is_masked"] and sent["invite_attest_error"] == ""
    db = Path(stub.data_dir) / "stub.db"
    invitations = db_rows(db, "SELECT template_id, attestation FROM invitations")
    assert len(invitations) == 1  # only the ticked one reached the server
    assert invitations[0][0] == sent["template_id"] and "我已取得对方同意" in invitations[0][1]
    nothing_typed_in(app, DEMO_SIGNER_PHONE)


def test_a_breach_notice_shows_its_five_parts_and_is_acknowledged(run, stub):  # OBL-BR-1
    from server_stub.routes.notices import publish_sample
    from server_stub.services_store import ServicesStore

    notice = publish_sample(ServicesStore(Path(stub.data_dir)), "breach",
                            _dt.datetime.now(_dt.timezone.utc))
    steps = AGREED + [{"wait_dialog": "notice:breach"}, {"sleep": 0.3}, {"probe": "shown"},
                      {"press": "notice_ack"}, {"wait_no_dialog": 0}, {"probe": "after"},
                      {"quit": 0}]
    app = run(steps)
    assert app.code == 0, app.stderr
    shown = app.report["probes"]["shown"]["notices"]
    assert len(shown) == 1 and shown[0]["kind"] == "breach"
    assert shown[0]["headings"] == ["发生了什么", "可能造成的影响", "我们已采取的措施",
                                    "您可以如何保护自己", "补救措施与联系方式"]
    assert all(shown[0]["texts"]) and len(shown[0]["texts"]) == 5
    assert app.report["probes"]["after"]["dialogs"] == []
    db = Path(stub.data_dir) / "stub.db"
    acks = db_rows(db, "SELECT notice_id FROM notice_acknowledgements")
    assert acks == [(notice["notice_id"],)]


def test_a_service_ending_notice_puts_a_banner_on_home_and_collection_is_refused(
        run, stub):  # OBL-END-1
    from server_stub.routes.notices import publish_sample
    from server_stub.services_store import ServicesStore

    publish_sample(ServicesStore(Path(stub.data_dir)), "service_ending",
                   _dt.datetime.now(_dt.timezone.utc))
    steps = AGREED + [
        {"wait_dialog": "notice:service_ending"}, {"press": "notice_ack"}, {"wait_no_dialog": 0},
        {"wait_text": ["ending_text", "停止收集"]}, {"probe": "home"},
        # registering collects the login identifier: the SDK refuses it now
        {"press": "login"}, {"wait_screen": "account"}, {"press": "switch_mode"},
        {"type": ["identifier", DEMO_PHONE]}, {"type": ["password", DEMO_PASSWORD]},
        {"press": "submit"}, {"wait_text": ["status", "停止收集"]}, {"probe": "refused"},
        {"quit": 0}]
    app = run(steps)
    assert app.code == 0, app.stderr
    assert "服务终止公告" in app.report["probes"]["home"]["ending_banner"]
    assert app.report["probes"]["refused"]["screen"] == "account"
    db = Path(stub.data_dir) / "stub.db"
    assert db_rows(db, "SELECT COUNT(*) FROM accounts") == [(0,)]
    nothing_typed_in(app)


# -- the access report in Chinese only (pure functions of the screen, no window) ---------------


@pytest.fixture
def report_text(monkeypatch):
    """``record_text(record, section)`` of the rights screen with the demo's policy."""
    monkeypatch.setenv("KIVY_NO_ARGS", "1")
    from types import SimpleNamespace

    from demo_app.screens.rights import record_text
    from sdk.policy import load_policy

    privacy = SimpleNamespace(policy=load_policy(REPO / "demo_app" / "policy" / "policy.md"))
    return lambda record, section: record_text(record, section, privacy)


def test_a_consent_records_categories_show_as_the_policys_item_names(report_text):  # OBL-DSR-1
    text = report_text({"scope": "policy", "decision": "granted",
                        "pi_categories": ["cs_message", "notification_email"]}, "consent_records")
    assert "个人信息类别：客服沟通记录、通知邮箱地址（2 项）" in text.splitlines()
    assert "pi_categories" not in text


def test_the_servers_english_description_of_an_item_is_not_shown(report_text):  # OBL-DSR-1
    text = report_text({"item": "password", "purpose": "account", "count": 1,
                        "held": "Argon2id hash only"}, "personal_information")
    assert "Argon2id" not in text and "保存方式" not in text
    assert "保存期限：至注销账号" in text.splitlines()
