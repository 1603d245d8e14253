"""The SDK's Kivy consent widgets in the real demo app: the privacy centre, separate-consent
dialogs (实名签署), the policy-update dialog, and a crash during the prompt.

Each test checks the outcome where it is kept: the consent ledger on disk
(``sdk.consent.ConsentLedger``), or the SDK opened on the app's data dir after the app exited.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from .conftest import REPO, start_app
from .kivy_host import run_host

POLICY_2027 = REPO / "demo_app" / "policy_2027" / "policy.md"
AGREED = [{"wait_screen": "prompt"}, {"press": "agree"}, {"wait_screen": "home"},
          {"wait_text": ["account", "未登录"]}]
CENTRE = [{"press": "privacy_centre"}, {"wait_screen": "privacy"}]
REALNAME_SCOPES = ("purpose:realname_verification", "purpose:certificate", "item:id_number",
                   "item:face_video", "item:certificate_info", "recipient:ca",
                   "recipient:realname_agency")


def _ledger(data_dir: Path):
    from sdk.consent import LEDGER_FILENAME, ConsentLedger

    return ConsentLedger(data_dir / "sdk" / LEDGER_FILENAME)


def _sdk(data_dir: Path, policy: Path | None = None):
    """The SDK on the app's data dir (no endpoint: nothing is sent), with the bundled policy or
    *policy* (its manifest beside it)."""
    from demo_app.policy import MANIFEST_PATH, POLICY_PATH
    from sdk import PrivacySdk, SdkConfig
    from sdk.policy import load_policy

    loaded = load_policy(policy, policy.with_name("manifest.toml")) if policy else load_policy(
        POLICY_PATH, MANIFEST_PATH)
    return PrivacySdk.open(SdkConfig(data_dir=data_dir / "sdk"), loaded)


def _policy_copy(folder: Path, edit) -> Path:
    """A copy of the demo policy folder with *edit(manifest_text)* applied; returns policy.md."""
    from demo_app.policy import MANIFEST_PATH, POLICY_PATH

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "policy.md").write_text(POLICY_PATH.read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "manifest.toml").write_text(edit(MANIFEST_PATH.read_text(encoding="utf-8")),
                                          encoding="utf-8")
    return folder / "policy.md"


def test_switching_a_purpose_off_in_the_privacy_centre_withdraws_it(run_app):  # OBL-DSR-4
    run = run_app(AGREED + CENTRE + [
        {"press": "switch_customer_service"}, {"wait_dialog": "confirm"}, {"press": "confirm_ok"},
        {"wait_text": ["status", "已撤回"]}, {"probe": "after"}, {"quit": 0},
    ])
    assert run.code == 0, run.stderr
    switches = run.report["probes"]["after"]["switches"]
    assert switches["customer_service"] is False and switches["notifications"] is True
    with _ledger(run_app.data_dir) as ledger:
        record = ledger.deciding("purpose:customer_service", purpose="customer_service")
        other = ledger.deciding("purpose:notifications", purpose="notifications")
    assert (record.decision, record.scope, record.method) == (
        "withdrawn", "purpose:customer_service", "privacy_centre")
    assert other.decision == "granted"


def test_cancelling_the_withdrawal_confirmation_keeps_the_consent(run_app):  # OBL-DSR-4
    run = run_app(AGREED + CENTRE + [
        {"press": "switch_customer_service"}, {"wait_dialog": "confirm"},
        {"press": "confirm_cancel"}, {"sleep": 0.5}, {"probe": "after"}, {"quit": 0},
    ])
    assert run.code == 0, run.stderr
    assert run.report["probes"]["after"]["switches"]["customer_service"] is True
    with _ledger(run_app.data_dir) as ledger:
        assert [r.scope for r in ledger.history()] == ["policy"]


def test_a_switch_stays_on_while_its_withdrawal_is_being_confirmed(run_app):  # OBL-DSR-4
    run = run_app(AGREED + CENTRE + [
        {"press": "switch_customer_service"}, {"wait_dialog": "confirm"}, {"sleep": 0.4},
        {"probe": "asking"}, {"press": "confirm_cancel"}, {"quit": 0},
    ])
    assert run.code == 0, run.stderr
    asking = run.report["probes"]["asking"]
    assert asking["dialogs"] == ["confirm"]
    assert asking["switches"]["customer_service"] is True  # as its state line says
    assert asking["states"]["customer_service"].startswith("已同意")


def test_a_separate_consent_switch_stays_off_while_its_dialog_asks(run_app):  # OBL-DSR-5
    run = run_app(AGREED + CENTRE + [
        {"press": "switch_marketing"}, {"wait_dialog": "purpose:marketing"}, {"sleep": 0.4},
        {"probe": "asking"}, {"press": "separate_disagree"}, {"wait_text": ["status", "您未同意"]},
        {"probe": "declined"}, {"quit": 0},
    ])
    assert run.code == 0, run.stderr
    probes = run.report["probes"]
    assert probes["asking"]["switches"]["marketing"] is False
    assert probes["asking"]["states"]["marketing"] == "未同意"
    assert probes["declined"]["switches"]["marketing"] is False


def test_a_withdrawal_that_cannot_be_stored_is_shown_in_the_centre(run_app):  # OBL-DSR-4
    from sdk.consent import LEDGER_FILENAME

    ready, locked = run_app.tmp_path / "centre-shown", run_app.tmp_path / "ledger-locked"
    release = threading.Event()

    def hold_the_ledger() -> None:
        # Once the centre is shown, another process's connection takes the ledger's write
        # lock: the withdrawal fails after the busy timeout (5 s) with a StorageError, as on a
        # device whose storage fails. (Taken earlier, the app could not even start.)
        deadline = time.monotonic() + 90
        while not ready.exists() and time.monotonic() < deadline and not release.is_set():
            time.sleep(0.05)
        lock = sqlite3.connect(run_app.data_dir / "sdk" / LEDGER_FILENAME, isolation_level=None)
        try:
            lock.execute("BEGIN IMMEDIATE")
            locked.touch()
            release.wait(120)
            lock.rollback()
        finally:
            lock.close()

    first = run_app(AGREED + [{"quit": 0}])
    assert first.code == 0, first.stderr
    holder = threading.Thread(target=hold_the_ledger, daemon=True)
    holder.start()
    try:
        run = run_app([{"wait_screen": "home"}] + CENTRE + [
            {"touch_file": str(ready)}, {"wait_file": str(locked)},
            {"press": "switch_customer_service"}, {"wait_dialog": "confirm"},
            {"press": "confirm_ok"}, {"wait_text": ["centre_error", "未能保存"]}, {"sleep": 0.3},
            {"probe": "failed"}, {"screenshot": str(run_app.tmp_path / "failed.png")},
            {"quit": 0},
        ])
    finally:
        release.set()
        holder.join(10)
    assert run.code == 0, run.stderr
    failed = run.report["probes"]["failed"]
    assert failed["centre_error"] == "未能保存您的选择（本机存储不可用），未作任何记录，请重试。"
    assert failed["centre_status"] == ""  # not repeated by the demo's own status line
    assert failed["switches"]["customer_service"] is True  # nothing was recorded
    with _ledger(run_app.data_dir) as ledger:
        assert [r.scope for r in ledger.history()] == ["policy"]


def test_privacy_centre_and_its_dialogs_draw_their_own_background(display, tmp_path):  # OBL-DSR-4
    # A host app that draws nothing: Kivy's default black window shows wherever a widget does
    # not paint, and the centre's dark headings would be black on black.
    out = tmp_path / "host"
    proc = run_host("tests.ui.bare_host", display, tmp_path / "data", out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    black = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert set(black) == {"centre.png", "confirm.png", "separate.png", "rationale.png"}
    assert all(share < 0.005 for share in black.values()), black


def test_withdrawing_the_policy_in_the_privacy_centre_enters_basic_mode(run_app):  # OBL-DSR-4
    run = run_app(AGREED + CENTRE + [
        {"press": "withdraw_policy"}, {"wait_dialog": "confirm"}, {"probe": "confirm"},
        {"press": "confirm_ok"}, {"wait_text": ["status", "基本功能模式"]}, {"press": "back"},
        {"wait_screen": "templates"}, {"quit": 0},
    ])
    assert run.code == 0, run.stderr
    with _ledger(run_app.data_dir) as ledger:
        assert ledger.deciding("policy").decision == "withdrawn"
    with _sdk(run_app.data_dir) as sdk:
        assert sdk.mode == "basic"


def test_switching_marketing_on_asks_its_separate_consent_and_off_unsubscribes(run_app):  # OBL-DSR-5
    run = run_app(AGREED + CENTRE + [
        {"press": "switch_marketing"}, {"wait_dialog": "purpose:marketing"}, {"probe": "dialog"},
        {"press": "separate_agree"}, {"wait_text": ["status", "已同意"]}, {"probe": "on"},
        {"press": "switch_marketing"}, {"wait_dialog": "confirm"}, {"press": "confirm_ok"},
        {"wait_text": ["status", "已撤回"]}, {"probe": "off"}, {"quit": 0},
    ])
    assert run.code == 0, run.stderr
    probes = run.report["probes"]
    assert probes["dialog"]["dialogs"] == ["purpose:marketing"]
    assert probes["on"]["switches"]["marketing"] is True
    assert probes["off"]["switches"]["marketing"] is False
    with _ledger(run_app.data_dir) as ledger:
        decisions = [(r.decision, r.method) for r in ledger.history() if r.scope == "purpose:marketing"]
    assert decisions == [("granted", "separate_consent_dialog"), ("withdrawn", "privacy_centre")]


def test_realname_asks_one_dialog_per_scope_and_a_refusal_leaves_the_rest_ungranted(run_app):  # OBL-SH-1
    first, second, third = REALNAME_SCOPES[:3]
    run = run_app(AGREED + [
        {"press": "realname"},
        {"wait_dialog": first}, {"probe": "d1"}, {"press": "separate_agree"},
        {"wait_dialog": second}, {"probe": "d2"}, {"press": "separate_agree"},
        {"wait_dialog": third}, {"probe": "d3"}, {"press": "separate_disagree"},
        {"wait_text": ["realname_status", "实名签署无法使用"]}, {"wait_no_dialog": 0},
        {"probe": "end"}, {"quit": 0},
    ])
    assert run.code == 0, run.stderr
    probes = run.report["probes"]
    for name, scope in (("d1", first), ("d2", second), ("d3", third)):
        assert probes[name]["dialogs"] == [scope]  # one dialog, one scope, nothing bundled
    assert len({probes[n]["dialog_titles"][0] for n in ("d1", "d2", "d3")}) == 3
    assert probes["end"]["dialogs"] == []
    assert probes["end"]["consent_results"] == {first: "granted", second: "granted",
                                                third: "denied"}
    with _ledger(run_app.data_dir) as ledger:
        decided = {s: ledger.deciding(s) for s in REALNAME_SCOPES}
        separate = [r for r in ledger.history() if r.scope != "policy"]
    assert [r.scope for r in separate] == [first, second, third]  # one record per dialog
    assert all(r.consent_type == "separate" for r in separate)
    assert decided[third].decision == "denied"
    assert all(decided[s] is None for s in REALNAME_SCOPES[3:])  # never asked, never granted
    with _sdk(run_app.data_dir) as sdk:
        assert sdk.collected_personal_information() == []
        assert all(row["transfers"] == 0 and row["consent"] == "not_asked"
                   for row in sdk.third_party_sharing())


def test_realname_after_every_separate_consent_collects_and_lists_the_items(run_app):  # OBL-RN-1
    steps = AGREED + [{"press": "realname"}]
    for scope in REALNAME_SCOPES:
        steps += [{"wait_dialog": scope}, {"press": "separate_agree"}]
    run = run_app(steps + [{"wait_text": ["realname_status", "已模拟采集"]}, {"quit": 0}])
    assert run.code == 0, run.stderr
    with _sdk(run_app.data_dir) as sdk:
        collected = {row["item"] for row in sdk.collected_personal_information()}
        shared = {row["recipient"]: row["transfers"] for row in sdk.third_party_sharing()}
    assert collected == {"real_name", "id_number", "phone", "face_video"}
    assert shared == {"ca": 2, "realname_agency": 4}


def test_privacy_centre_shows_the_controllers_contact_from_the_manifest(run_app):  # OBL-CON-1
    email, address = "dpo@contact-test.example", "测试市测试区样例路 1 号（测试地址）"

    def edit(toml: str) -> str:
        toml = toml.replace("privacy@demo-esign.example", email, 1)
        return toml.replace("演示市示例区样板路 88 号示例大厦 6 层（虚构地址）", address, 1)

    policy = _policy_copy(run_app.tmp_path / "policy", edit)
    run = run_app(AGREED + CENTRE + [
        {"scroll_to": "contact_email"}, {"wait_text": ["contact_email", email]}, {"probe": "c"},
        {"quit": 0},
    ], "--policy", str(policy))
    assert run.code == 0, run.stderr
    probe = run.report["probes"]["c"]
    assert email in probe["contact_email"]
    assert address in probe["contact_address"]


def test_major_policy_update_shows_the_dialog_and_blocks_until_agreed(run_app):  # OBL-UPD-2
    from sdk.errors import ConsentRequired

    first = run_app(AGREED + [{"quit": 0}])
    assert first.code == 0, first.stderr
    later = run_app([{"wait_screen": "home"}, {"wait_dialog": "policy_update"}, {"probe": "d"},
                     {"press": "update_later"}, {"sleep": 0.3}, {"probe": "after"}, {"quit": 0}],
                    "--policy", str(POLICY_2027))
    assert later.code == 0, later.stderr
    assert later.report["probes"]["d"]["dialogs"] == ["policy_update"]
    assert later.report["probes"]["after"]["dialogs"] == []
    with _sdk(run_app.data_dir, POLICY_2027) as sdk:
        assert sdk.policy_update().is_major
        assert len(sdk.ledger.history()) == 1  # 暂不同意 recorded nothing
        for purpose in ("customer_service", "analytics"):  # changed / new: blocked
            with pytest.raises(ConsentRequired):
                sdk.require(purpose)
        sdk.require("notifications")  # untouched by the update: goes on
    agreed = run_app([{"wait_screen": "home"}, {"wait_dialog": "policy_update"},
                      {"press": "update_agree"}, {"wait_text": ["status", "版本 2027.01）"]},
                      {"quit": 0}], "--policy", str(POLICY_2027))
    assert agreed.code == 0, agreed.stderr
    with _sdk(run_app.data_dir, POLICY_2027) as sdk:
        assert sdk.policy_update() is None
        assert sdk.state("policy").record.method == "policy_update_dialog"
        sdk.require("customer_service")
        sdk.require("analytics")


def test_minor_policy_update_is_a_notice_seen_once_and_records_no_consent(run_app):  # OBL-UPD-1
    def reword(toml: str) -> str:
        toml = toml.replace('version = "2026.11"', 'version = "2026.12"', 1)
        return toml.replace('description = "答复您的咨询和留言，记录处理结果"',
                            'description = "答复您的咨询与留言，并记录处理结果"', 1)

    policy = _policy_copy(run_app.tmp_path / "minor", reword)
    policy.write_text(policy.read_text(encoding="utf-8").replace("2026.11", "2026.12"),
                      encoding="utf-8")
    first = run_app(AGREED + [{"quit": 0}])
    assert first.code == 0, first.stderr
    notice = run_app([{"wait_screen": "home"}, {"wait_dialog": "policy_update"}, {"probe": "d"},
                      {"press": "update_ack"}, {"sleep": 0.3}, {"quit": 0}],
                     "--policy", str(policy))
    assert notice.code == 0, notice.stderr
    again = run_app([{"wait_screen": "home"}, {"sleep": 1.0}, {"probe": "next"}, {"quit": 0}],
                    "--policy", str(policy))
    assert again.code == 0, again.stderr
    assert again.report["probes"]["next"]["dialogs"] == []  # acknowledged: not shown again
    with _sdk(run_app.data_dir, policy) as sdk:
        assert not sdk.policy_update().is_major
        assert not sdk.policy_update_notice_due()
        assert len(sdk.ledger.history()) == 1  # a notice, not a consent
        sdk.require("customer_service")


def test_a_crash_while_the_prompt_is_open_leaves_the_ledger_empty(display, stub, tmp_path, run_app):  # OBL-ACC-2
    ready = tmp_path / "prompt-shown"
    proc = start_app(display, run_app.data_dir, stub,
                     [{"wait_screen": "prompt"}, {"sleep": 0.3}, {"touch_file": str(ready)},
                      {"wait_file": str(tmp_path / "never")}], tmp_path)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert ready.exists(), "the app never showed the prompt"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    with _ledger(run_app.data_dir) as ledger:
        assert ledger.history() == []
        assert ledger.pending_count() == 0
