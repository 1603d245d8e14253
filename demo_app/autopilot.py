"""Scripted walkthroughs of the real app in its real window, for QA, `make demo` on a machine
without a display, and the UI tests.

A script is a JSON list of steps; each is an object with exactly one key, the step's name.
Every step :func:`walkthrough_steps` uses is here; :data:`STEPS` is the same list in code.

Waiting (each retried every frame, up to 20 s, then the script fails):

``{"wait_screen": "prompt"}``     until that screen is shown (``prompt``, ``home``, ``templates``,
                                 ``template``, ``policy``, ...)
``{"wait_widgets": "list"}``      until the widget with that id on the current screen has
                                 children (e.g. the template list has been filled)
``{"wait_document": "body"}``     until the document view with that id has rendered its blocks
                                 (e.g. a template's text has arrived)
``{"wait_status": "已下载"}``      until the current screen's ``status`` text contains this text
``{"wait_file": "path"}``         until a file exists (lets a test hold the app open)
``{"wait_enabled": "rn_next"}``   until the widget with that id on the current screen is shown
                                 and enabled (e.g. a form once its consents are given)
``{"wait_dialog": "item:id_number"}``  until a dialog with that name is open: a separate-consent
                                 dialog is named by its scope (``purpose:…``, ``item:…``,
                                 ``recipient:…``); also ``policy_update``, ``policy_reader``,
                                 ``confirm``
``{"wait_no_dialog": 0}``         until no dialog is open (a dismissed one has finished closing)
``{"sleep": 0.3}``                wait this many seconds (0 to 3600)

Acting:

``{"type": ["identifier", "13800138000"]}``  set the text of that text input (the report and
                                 the log keep only the field and the number of characters,
                                 ``{"step": "type", "arg": "identifier", "chars": 11}``: typed
                                 text is personal data and is never written to a file)
``{"wait_text": ["account", "已登录"]}``  wait until that widget's text contains the text
``{"press": "agree"}``            tap the widget with that id on the current screen or in an open
                                 dialog (a touch dispatched through the window's input queue,
                                 at its centre); waits while it is missing, disabled or under
                                 a dialog, and first scrolls it into view inside a scroll view
``{"scroll_to": "contact_email"}``  scroll the scroll view holding that widget so that the
                                 widget is at its top (or as far as the view scrolls)
``{"press_template": 0}``         tap the n-th entry (from 0, top first) of the template list
                                 (widget id ``list``); waits until the list has that entry
``{"jump": "privacy_5"}``         tap the table-of-contents link to that anchor; fails at once
                                 when the policy has no such link

The device, as a person would change it outside the app (QA, UI tests):

``{"set_permission": ["camera", "denied"]}``  change a permission "in the system settings"
                                 while the app runs: the scripted backend's ``set_status``
                                 (``--permissions-script``), the desktop backend's own switch;
                                 the SDK records it (``revoked``) and a running capture stops.
                                 Fails at once with another backend
``{"resume": 0}``                 the app goes to the background and comes back (``on_pause``,
                                 then ``on_resume``: permissions are refreshed); the number is
                                 ignored (0 to 3600)

Recording and control:

``{"screenshot": "01.png"}``      save the window as PNG (relative to the current directory;
                                 folders created as needed)
``{"probe": "name"}``             record facts about the current screen in the report (the open
                                 dialogs, and what the screen's ``probe_facts()`` returns), and
                                 the permission backend: its name and, for the scripted one, the
                                 system prompts it showed (``permission_prompts``), the requests
                                 it got and the settings screens it opened
``{"touch_file": "path"}``        create a file (tells a test the app reached this point)
``{"quit": 0}``                   stop the app with that exit code (0 to 255)

:func:`validate_script` checks a script against these names and argument types before the
app starts, so a typo is reported up front instead of after the window opened. Every step's
outcome goes into the report (``--report``); a step that fails stops the app with exit code 3
and the reason. Neither the report, the log nor an error message contains what a ``type`` step
types (see :func:`redacted`).

Importing this module does not import Kivy (``python -m demo_app`` validates scripts before
it starts Kivy); the app's classes are imported when a script runs.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger("demo_app.autopilot")

STEP_TIMEOUT = 20.0
MAX_SLEEP = 3600.0


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _index(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _seconds(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value) and 0 <= value <= MAX_SLEEP)


def _pair(value: Any) -> bool:
    return (isinstance(value, list) and len(value) == 2
            and all(isinstance(v, str) for v in value) and bool(value[0]))


def _exit_code(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 255


#: Every step: name -> (what its argument must be, check of the argument).
STEPS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "wait_screen": ("a screen name (string)", _text),
    "wait_widgets": ("a widget id (string)", _text),
    "wait_document": ("a widget id (string)", _text),
    "wait_status": ("the status text to wait for (string)", _text),
    "wait_file": ("a file path (string)", _text),
    "wait_enabled": ("a widget id (string)", _text),
    "wait_dialog": ("a dialog name (string), e.g. a consent scope", _text),
    "wait_no_dialog": (f"a number of seconds from 0 to {MAX_SLEEP:g} (ignored)", _seconds),
    "sleep": (f"a number of seconds from 0 to {MAX_SLEEP:g}", _seconds),
    "press": ("a widget id (string)", _text),
    "type": ("[widget id, text]: a list of two strings", _pair),
    "wait_text": ("[widget id, text to wait for]: a list of two strings", _pair),
    "press_template": ("the index of a template in the list (an integer from 0)", _index),
    "jump": ("an anchor id (string)", _text),
    "scroll_to": ("a widget id (string)", _text),
    "set_permission": ('[permission, status]: a list of two strings, e.g. ["camera", "denied"]',
                       _pair),
    "resume": (f"a number of seconds from 0 to {MAX_SLEEP:g} (ignored)", _seconds),
    "screenshot": ("a PNG file path (string)", _text),
    "probe": ("a name for the facts in the report (string)", _text),
    "touch_file": ("a file path (string)", _text),
    "quit": ("an exit code from 0 to 255", _exit_code),
}

_EXAMPLE = '[{"wait_screen": "prompt"}, {"press": "agree"}, {"quit": 0}]'


class ScriptError(ValueError):
    """A script that is not a list of known one-key steps; the message says which and why."""


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def redacted(step: dict[str, Any]) -> dict[str, Any]:
    """*step* as it may be written to a report, a log or a message: a ``type`` step keeps its
    field id and the number of characters typed, never the text (a phone number, a password);
    other steps are unchanged."""
    (name, arg), = step.items()
    if name != "type":
        return dict(step)
    if isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], str):
        return {"type": str(arg[0]), "chars": len(arg[1])}
    return {"type": "<invalid>"}


def validate_script(script: Any) -> list[dict[str, Any]]:
    """Check a script (decoded JSON) against :data:`STEPS`; return it as a list of steps.

    Raises:
        ScriptError: it is not a list, a step is not an object with exactly one key, the key
            is not a known step (the message lists the valid ones), or the argument has the
            wrong type. Steps are counted from 1 in the message.
    """
    if not isinstance(script, list):
        raise ScriptError(
            "a script must be a JSON list of steps, each an object with one key, e.g. "
            + _EXAMPLE
        )
    for number, step in enumerate(script, start=1):
        if not isinstance(step, dict) or len(step) != 1:
            raise ScriptError(
                f"step {number} ({_shown(step)}) must be an object with exactly one key, the "
                f"step's name, e.g. {{\"sleep\": 0.3}}"
            )
        (name, arg), = step.items()
        if name not in STEPS:
            raise ScriptError(
                f"step {number}: unknown step '{name}'; valid steps: {', '.join(STEPS)}"
            )
        expected, check = STEPS[name]
        if not check(arg):
            got = (f"a {type(arg).__name__}" if name == "type" else _shown(arg))  # never typed text
            raise ScriptError(
                f"step {number}: '{name}' takes {expected}, got {got}"
            )
    return list(script)


#: The fictional account the walkthrough registers (a reserved test number, not a person's).
DEMO_PHONE = "13800138000"
DEMO_PASSWORD = "Xk9#mQ2vLp8w-river"
#: What the real-name walkthrough types: the placeholder name 张三 ("John Doe"), the example
#: number printed in GB 11643-1999 (not a person's), and that number with a wrong check digit.
DEMO_REAL_NAME = "张三"
DEMO_ID_NUMBER = "11010519491231002X"
DEMO_BAD_ID_NUMBER = "110105194912310021"
#: What the rights walkthrough types: a reserved example.com address (no one's mailbox), a
#: reserved test number for the counter-signer, and free texts with nothing personal in them.
DEMO_EMAIL = "demo.user@example.com"
DEMO_SIGNER_PHONE = "13900139000"
DEMO_OBJECTION = "不希望把我的手机号码用于营销短信。"
DEMO_EVIDENCE_REASON = "合同纠纷诉讼需要"
DEMO_SUPPORT_TEXT = "合同下载后打不开，请帮忙看看。"
#: The separate consents of real-name signing, in the order ask_for_feature asks them.
REALNAME_CONSENTS = ("purpose:realname_verification", "purpose:certificate", "item:id_number",
                     "item:face_video", "item:certificate_info", "recipient:ca",
                     "recipient:realname_agency")
#: Steps from the home screen with no one logged in: log in as :data:`DEMO_PHONE` (registered
#: on first use), back on the home screen, logged in.
LOG_IN = [
    {"wait_text": ["account", "未登录"]}, {"press": "login"}, {"wait_screen": "account"},
    {"press": "switch_mode"}, {"type": ["identifier", DEMO_PHONE]},
    {"type": ["password", DEMO_PASSWORD]}, {"press": "submit"}, {"wait_screen": "home"},
    {"wait_text": ["account", "已登录"]}]


def walkthrough_steps(out_dir: Path) -> list[dict]:
    """The built-in tour of every screen used by ``make demo`` without a display."""
    shots = lambda name: {"screenshot": str(out_dir / name)}  # noqa: E731
    return [
        {"wait_screen": "prompt"}, {"sleep": 0.5}, shots("01-privacy-prompt.png"),
        {"jump": "privacy_5"}, {"sleep": 0.3}, shots("02-privacy-prompt-section-5.png"),
        {"press": "disagree"}, {"wait_screen": "templates"}, {"wait_widgets": "list"},
        {"sleep": 0.3}, shots("03-basic-mode-templates.png"),
        {"press_template": 0}, {"wait_screen": "template"}, {"wait_document": "body"},
        {"sleep": 0.3}, shots("04-template.png"),
        {"press": "download"}, {"wait_status": "已下载"}, shots("05-template-downloaded.png"),
        {"press": "back"}, {"wait_screen": "templates"}, {"press": "review_policy"},
        {"wait_screen": "prompt"}, {"press": "agree"}, {"wait_screen": "home"},
        {"wait_text": ["account", "未登录"]}, shots("06-home.png"),
        {"press": "login"}, {"wait_screen": "account"}, {"press": "switch_mode"},
        {"type": ["identifier", DEMO_PHONE]}, {"type": ["password", DEMO_PASSWORD]},
        {"sleep": 0.3}, shots("07-register.png"), {"press": "submit"}, {"wait_screen": "home"},
        {"wait_text": ["account", "已登录"]}, shots("08-home-logged-in.png"),
        {"press": "storage"}, {"wait_screen": "storage"}, {"sleep": 0.3},
        shots("09-storage-and-cookies.png"), {"press": "clear_cookies"}, {"sleep": 0.5},
        shots("10-confirm-clear-cookies.png"), {"press": "confirm_cancel"}, {"press": "back"},
        {"wait_screen": "home"}, {"press": "policy"}, {"wait_screen": "policy"}, {"sleep": 0.3},
        shots("11-policy.png"), {"press": "back"}, {"wait_screen": "home"},
        # 实名签署: one separate-consent dialog per scope, then the simulated collection
        {"press": "realname"}, {"wait_dialog": "purpose:realname_verification"}, {"sleep": 0.3},
        shots("12-separate-consent-purpose.png"), {"press": "separate_agree"},
        {"wait_dialog": "purpose:certificate"}, {"press": "separate_agree"},
        {"wait_dialog": "item:id_number"}, {"sleep": 0.3},
        shots("13-separate-consent-id-number.png"), {"press": "separate_agree"},
        {"wait_dialog": "item:face_video"}, {"press": "separate_agree"},
        {"wait_dialog": "item:certificate_info"}, {"press": "separate_agree"},
        {"wait_dialog": "recipient:ca"}, {"press": "separate_agree"},
        {"wait_dialog": "recipient:realname_agency"}, {"sleep": 0.3},
        shots("14-separate-consent-recipient.png"), {"press": "separate_agree"},
        {"wait_text": ["realname_status", "已模拟采集"]}, {"sleep": 0.3},
        shots("15-realname-simulated.png"),
        # the privacy centre: switches, a withdrawal, the lists and the contact
        {"press": "privacy_centre"}, {"wait_screen": "privacy"}, {"sleep": 0.5},
        shots("16-privacy-centre.png"), {"press": "switch_invite_signer"},
        {"wait_dialog": "confirm"}, {"sleep": 0.3}, shots("17-confirm-withdraw-purpose.png"),
        {"press": "confirm_ok"}, {"wait_text": ["status", "已撤回"]},
        {"scroll_to": "section_items"}, {"sleep": 0.3},
        shots("18-privacy-centre-separate-consents.png"),
        {"scroll_to": "section_collected"}, {"sleep": 0.3},
        shots("19-privacy-centre-collected.png"),
        {"scroll_to": "contact_address"}, {"sleep": 0.3},
        shots("20-privacy-centre-shared-contact.png"),
        # 权限管理, then 刷脸签署 and 人工审核材料: each permission asked inside its feature,
        # after the rationale dialog; the synthetic camera when there is no real one
        {"press": "back"}, {"wait_screen": "home"}, {"press": "permissions"},
        {"wait_screen": "permissions"}, {"sleep": 0.3}, shots("21-permissions.png"),
        {"press": "back"}, {"wait_screen": "home"}, {"press": "face_signing"},
        {"wait_screen": "capture"}, {"press": "start_face"}, {"wait_dialog": "rationale:camera"},
        {"sleep": 0.3}, shots("22-rationale-camera.png"), {"press": "rationale_continue"},
        {"wait_text": ["face_status", "已采集 10 帧"]}, shots("23-face-signing-recording.png"),
        {"wait_text": ["face_status", "录制完成"]}, {"sleep": 0.3},
        shots("24-face-signing-result.png"),
        {"press": "pick_document"}, {"wait_dialog": "item:review_document"},
        {"press": "separate_agree"}, {"wait_dialog": "rationale:photos"},
        {"sleep": 0.3}, shots("25-rationale-photos.png"), {"press": "rationale_continue"},
        {"wait_dialog": "sample_picker"}, {"sleep": 0.3}, shots("26-photo-picker-sample.png"),
        {"press": "picker_use"}, {"wait_text": ["review_status", "已读取"]}, {"sleep": 0.3},
        shots("27-manual-review-result.png"),
        # switching the camera off (the desktop's own switch), then tapping 开始刷脸 again:
        # the stored answer, no new prompt, and 重新申请 to be asked on purpose
        {"press": "permissions"}, {"wait_screen": "permissions"},
        {"wait_text": ["perm_status_camera", "已允许"]}, {"sleep": 0.3},
        shots("28-permissions-granted.png"), {"press": "revoke_camera"},
        {"wait_dialog": "confirm"}, {"press": "confirm_ok"},
        {"wait_text": ["perm_status_camera", "已拒绝"]}, {"sleep": 0.3},
        shots("29-permissions-camera-off.png"), {"press": "back"}, {"wait_screen": "home"},
        {"press": "face_signing"}, {"wait_screen": "capture"}, {"press": "start_face"},
        {"wait_text": ["face_status", "为避免打扰"]}, {"sleep": 0.3},
        shots("30-face-signing-after-refusal.png"), {"quit": 0},
    ]


def walkthrough_update_steps(out_dir: Path) -> list[dict]:
    """The second part of ``make demo`` without a display: the same data dir started again
    with the next policy version (``demo_app/policy_2027``), showing the policy-update
    dialog, 暂不同意, and agreeing from the privacy centre."""
    shots = lambda name: {"screenshot": str(out_dir / name)}  # noqa: E731
    return [
        {"wait_screen": "home"}, {"wait_dialog": "policy_update"}, {"sleep": 0.3},
        shots("31-policy-update.png"), {"press": "update_read_policy"},
        {"wait_dialog": "policy_reader"}, {"sleep": 0.3}, shots("32-policy-update-full-text.png"),
        {"press": "reader_close"}, {"press": "update_later"},
        {"wait_text": ["status", "待您确认"]}, {"sleep": 0.3}, shots("33-home-update-pending.png"),
        {"press": "privacy_centre"}, {"wait_screen": "privacy"}, {"sleep": 0.5},
        shots("34-privacy-centre-update-pending.png"), {"press": "review_update"},
        {"wait_dialog": "policy_update"}, {"press": "update_agree"},
        {"wait_text": ["status", "已同意隐私政策"]}, {"sleep": 0.3},
        shots("35-privacy-centre-after-update.png"), {"quit": 0},
    ]


def walkthrough_realname_steps(out_dir: Path) -> list[dict]:
    """The third part of ``make demo`` without a display (``--walkthrough-part realname``, a
    fresh data dir): 实名认证 from a first launch on: the separate consents, the form (a wrong
    ID number first, its message under the field), the camera rationale, the face video, the
    sealed upload and the server's answer, then 数字证书 and 签署合同 with the server's
    receipt."""
    shots = lambda name: {"screenshot": str(out_dir / name)}  # noqa: E731
    consents: list[dict] = []
    for scope in REALNAME_CONSENTS:
        consents += [{"wait_dialog": scope}, {"press": "separate_agree"}]
    return [
        {"wait_screen": "prompt"}, {"sleep": 0.3}, {"press": "agree"}, {"wait_screen": "home"},
        *LOG_IN,
        # consents first, one dialog each, before anything is typed and kept
        {"press": "realname_verify"}, {"wait_screen": "realname"},
        {"wait_dialog": REALNAME_CONSENTS[0]}, {"sleep": 0.3}, shots("36-realname-consent.png"),
        *consents, {"wait_enabled": "rn_next"},
        # the form: a wrong check digit is refused under its field, nothing captured or sent
        {"type": ["rn_name", DEMO_REAL_NAME]}, {"type": ["rn_id_number", DEMO_BAD_ID_NUMBER]},
        {"type": ["rn_phone", DEMO_PHONE]}, {"press": "rn_next"},
        {"wait_text": ["rn_id_number_error", "校验位"]}, {"sleep": 0.3},
        shots("37-realname-form-error.png"), {"type": ["rn_id_number", DEMO_ID_NUMBER]},
        {"press": "rn_next"}, {"wait_dialog": "rationale:camera"}, {"sleep": 0.3},
        shots("38-realname-rationale-camera.png"), {"press": "rationale_continue"},
        {"wait_text": ["rn_face_status", "已采集 10 帧"]}, shots("39-realname-recording.png"),
        # sealed upload (progress, rate), then the server's answer, polled
        {"wait_text": ["rn_result", "已通过"]}, {"sleep": 0.3}, shots("40-realname-verified.png"),
        {"press": "rn_to_certificate"}, {"wait_screen": "certificate"},
        {"press": "cert_request"}, {"wait_text": ["cert_status", "有效"]}, {"sleep": 0.3},
        shots("41-certificate.png"), {"press": "cert_to_contract"}, {"wait_screen": "contract"},
        {"wait_widgets": "list"}, {"sleep": 0.3}, shots("42-contract-templates.png"),
        {"press_template": 0}, {"wait_document": "body"}, {"sleep": 0.3},
        shots("43-contract-text.png"), {"press": "contract_sign"},
        {"wait_text": ["contract_result", "服务器已验证"]}, {"sleep": 0.3},
        shots("44-contract-signed.png"), {"quit": 0},
    ]


def walkthrough_rights_steps(out_dir: Path) -> list[dict]:
    """The fourth part of ``make demo`` without a display (``--walkthrough-part rights``, a
    fresh data dir, the embedded stub started with ``--notice breach``): the breach notice
    with its five parts and 我已知悉, then 个人信息权利: the identity check again, the access
    report, the correction of the email address, an objection with its deadline, an evidence
    request and the list of requests; 客服与通知: a message and the notification channel;
    邀请签署方 refused without the consent box ticked, then sent; and the account's
    cancellation in two steps, ending at the privacy prompt (screenshots 45-57)."""
    shots = lambda name: {"screenshot": str(out_dir / name)}  # noqa: E731
    return [
        {"wait_screen": "prompt"}, {"sleep": 0.3}, {"press": "agree"}, {"wait_screen": "home"},
        # the breach notice: shown once the prompt is settled, acknowledged with 我已知悉
        {"wait_dialog": "notice:breach"}, {"sleep": 0.5}, shots("45-notice-breach.png"),
        {"press": "notice_ack"}, {"wait_no_dialog": 0},
        *LOG_IN,
        # 个人信息权利: the identity checked again first
        {"press": "rights"}, {"wait_screen": "rights"}, {"sleep": 0.3},
        shots("46-rights-identity-check.png"), {"type": ["rights_password", DEMO_PASSWORD]},
        {"press": "rights_verify"}, {"wait_text": ["identity_text", "身份已验证"]},
        {"press": "right_access"}, {"wait_text": ["rights_result", "以下是我们保存"]},
        {"sleep": 0.8}, shots("47-rights-access-report.png"),
        {"press": "right_correct"}, {"press": "corr_email"},
        {"type": ["corr_value", DEMO_EMAIL]}, {"sleep": 0.3}, shots("48-rights-correction.png"),
        {"press": "corr_submit"}, {"wait_text": ["rights_result", "已更正"]},
        {"press": "right_object"}, {"type": ["obj_text", DEMO_OBJECTION]},
        {"press": "obj_submit"}, {"wait_text": ["rights_result", "答复期限"]},
        {"scroll_to": "rights_result"}, {"sleep": 0.3}, shots("49-rights-objection-deadline.png"),
        {"press": "right_evidence"}, {"type": ["ev_name", DEMO_REAL_NAME]},
        {"type": ["ev_id_number", DEMO_ID_NUMBER]}, {"type": ["ev_reason", DEMO_EVIDENCE_REASON]},
        {"type": ["ev_mailbox", DEMO_EMAIL]}, {"scroll_to": "panel_evidence"}, {"sleep": 0.3},
        shots("50-rights-evidence.png"), {"press": "ev_submit"},
        {"wait_text": ["rights_result", "已受理出证申请"]}, {"scroll_to": "rights_result"},
        {"sleep": 0.3}, shots("51-rights-requests.png"),
        # 客服与通知
        {"press": "to_support"}, {"wait_screen": "support"},
        {"type": ["cs_text", DEMO_SUPPORT_TEXT]}, {"press": "cs_send"},
        {"wait_text": ["cs_status", "已发送"]}, {"sleep": 0.3}, shots("52-support-message.png"),
        {"press": "notify_email"}, {"type": ["notify_email_address", DEMO_EMAIL]},
        {"press": "notify_save"}, {"wait_text": ["notify_status", "已保存：邮件通知"]},
        {"scroll_to": "notify_section"}, {"sleep": 0.3}, shots("53-notification-channel.png"),
        # 邀请签署方: refused until the consent box is ticked
        {"press": "back"}, {"wait_screen": "home"}, {"press": "sign_contract"},
        {"wait_screen": "contract"}, {"wait_widgets": "list"}, {"press_template": 0},
        {"wait_document": "body"}, {"press": "contract_invite"},
        {"type": ["invite_phone", DEMO_SIGNER_PHONE]}, {"press": "invite_send"},
        {"wait_text": ["invite_attest_error", "请先确认"]}, {"sleep": 0.3},
        shots("54-invite-refused.png"), {"press": "invite_attest"}, {"press": "invite_send"},
        {"wait_text": ["invite_result", "已向"]}, {"sleep": 0.3}, shots("55-invite-sent.png"),
        # 注销账号: what is lost and kept, a confirm button that waits 3 s, then the prompt
        {"press": "back"}, {"wait_screen": "home"}, {"press": "rights"},
        {"wait_screen": "rights"}, {"press": "right_cancel"},
        {"wait_text": ["cancel_lose", "合同下载"]}, {"sleep": 0.3},
        shots("56-cancel-warning.png"), {"wait_enabled": "cancel_confirm"},
        {"press": "cancel_confirm"}, {"wait_screen": "prompt"}, {"sleep": 0.5},
        shots("57-after-cancellation-prompt.png"), {"quit": 0},
    ]


class StepFailed(Exception):
    pass


class Autopilot:
    """Runs ``steps`` against ``app`` on the Kivy clock, one step per frame until each holds."""

    def __init__(self, app, steps: list[dict], report_path: Path | None = None) -> None:
        self.app = app
        self.steps = validate_script(steps)
        self.report_path = report_path
        self.report: dict = {"steps": [], "probes": {}, "screens": []}
        self._index = 0
        self._started = 0.0

    def start(self) -> None:
        from kivy.clock import Clock

        self._started = time.monotonic()
        Clock.schedule_interval(self._tick, 0.05)

    # -- driver ---------------------------------------------------------------------------
    def _tick(self, _dt) -> bool:
        if self._index >= len(self.steps):
            self._finish(0)
            return False
        step = self.steps[self._index]
        (kind, arg), = step.items()
        try:
            done = getattr(self, f"_step_{kind}")(arg)
        except StepFailed as exc:
            self._record(kind, arg, f"failed: {exc}")
            self._finish(3, str(exc))
            return False
        if done:
            self._record(kind, arg, "ok")
            self._index += 1
            self._started = time.monotonic()
        elif time.monotonic() - self._started > STEP_TIMEOUT:
            self._record(kind, arg, "timeout")
            shown = json.dumps(redacted(step), ensure_ascii=False)
            self._finish(3, f"step {self._index + 1} {shown} did not complete in "
                            f"{STEP_TIMEOUT:.0f} s (screen: {self.app.root.current})")
            return False
        return None  # keep ticking

    def _record(self, kind, arg, outcome) -> None:
        entry = {"step": kind, "arg": arg}
        if kind == "type":  # the field and the length, never the typed text
            safe = redacted({kind: arg})
            entry = {"step": kind, "arg": safe["type"], "chars": safe.get("chars", 0)}
        self.report["steps"].append({**entry, "outcome": outcome,
                                     "screen": self.app.root.current})

    def _finish(self, code: int, reason: str = "") -> None:
        self.report["exit_code"] = code
        self.report["reason"] = reason
        self.report["screens"] = list(self.app.history)
        if self.report_path:
            self.app.write_report(Path(self.report_path), self.report)
        if code:
            log.error("autopilot stopped: %s", reason)
        self.app.finish(code)

    # -- helpers --------------------------------------------------------------------------
    @property
    def screen(self):
        return self.app.root.current_screen

    def _find(self, widget_id: str):
        """Find a widget by kv id anywhere under the current screen."""
        from kivy.core.window import Window

        # The current screen first, then anything on top of it (popups live on the window).
        stack = [w for w in Window.children if w is not self.app.root] + [self.screen]
        while stack:
            w = stack.pop()
            ids = getattr(w, "ids", {})
            if widget_id in ids:
                return ids[widget_id]
            stack.extend(w.children)
        return None

    def _tap(self, widget) -> None:
        from kivy.tests.common import UnitTestTouch

        x, y = widget.to_window(*widget.center)
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        touch.touch_up()

    # -- steps (return True when done, False to retry next frame) ---------------------------
    def _step_wait_screen(self, name: str) -> bool:
        return self.app.root.current == name

    def _step_wait_widgets(self, widget_id: str) -> bool:
        w = self._find(widget_id)
        return w is not None and bool(w.children)

    def _step_wait_document(self, widget_id: str) -> bool:
        w = self._find(widget_id)
        return w is not None and bool(getattr(w, "rendered", None))

    def _step_wait_status(self, text: str) -> bool:
        return text in getattr(self.screen, "status", "")

    def _step_press(self, widget_id: str) -> bool:
        w = self._find(widget_id)
        if w is None or w.disabled or self._covered(w):
            return False
        if not self._in_view(w):
            return False  # scrolled now; tap on the next frame, once it is drawn there
        self._tap(w)
        return True

    @staticmethod
    def _scroll_view_of(widget):
        from kivy.uix.scrollview import ScrollView

        node = widget.parent
        while node is not None and node.parent is not node:
            if isinstance(node, ScrollView):
                return node
            node = node.parent
        return None

    def _in_view(self, widget) -> bool:
        """True when ``widget``'s centre is inside the visible part of its scroll view (or it
        is in none); otherwise scroll it into view and return False."""
        view = self._scroll_view_of(widget)
        if view is None:
            return True
        x, y = widget.to_window(*widget.center)
        left, bottom = view.to_window(view.x, view.y)
        if left <= x <= left + view.width and bottom + 2 <= y <= bottom + view.height - 2:
            return True
        view.scroll_to(widget, padding=20, animate=False)
        return False

    def _step_scroll_to(self, widget_id: str) -> bool:
        w = self._find(widget_id)
        if w is None:
            return False
        view = self._scroll_view_of(w)
        if view is None:
            raise StepFailed(f"'{widget_id}' is not inside a scroll view")
        content = view.children[0]
        content.do_layout()
        scrollable = content.height - view.height
        if scrollable > 0:  # the widget's top at the top of the view (as far as it goes)
            offset = content.top - w.top - 8
            view.scroll_y = min(1.0, max(0.0, 1.0 - offset / scrollable))
        return True

    @staticmethod
    def _dialogs() -> list:
        """The dialogs open now (opened and not closing), bottom first."""
        from kivy.core.window import Window
        from kivy.uix.modalview import ModalView

        return [w for w in reversed(Window.children)
                if isinstance(w, ModalView) and w._is_open and w._anim_alpha > 0.99]

    @staticmethod
    def _dialog_name(view) -> str:
        name = getattr(view, "dialog_name", "")
        if name:
            return str(name)
        content = getattr(view, "content", None)
        return "confirm" if type(content).__name__ == "ConfirmContent" else type(view).__name__

    def _step_wait_dialog(self, name: str) -> bool:
        return any(self._dialog_name(d) == name for d in self._dialogs())

    def _step_wait_no_dialog(self, _arg: object) -> bool:
        """True once no dialog is open, opening or closing (its dismiss animation ended)."""
        from kivy.core.window import Window
        from kivy.uix.modalview import ModalView

        return not any(isinstance(w, ModalView) for w in Window.children)

    @staticmethod
    def _covered(widget) -> bool:
        """True while a dialog (opening, open or closing) lies over ``widget``: a tap now would
        land on the dialog, as it would for a person. A widget in a dialog is covered by the
        dialogs opened after it (``Window.children`` lists the top one first)."""
        from kivy.core.window import Window
        from kivy.uix.modalview import ModalView

        dialogs = [w for w in Window.children if isinstance(w, ModalView)]
        node = widget
        while node is not None and node.parent is not node:
            if node in dialogs:
                return dialogs.index(node) > 0
            node = node.parent
        return bool(dialogs)

    def _step_type(self, arg: list[str]) -> bool:
        widget = self._find(arg[0])
        if widget is None:
            return False
        widget.text = arg[1]
        return True

    def _step_wait_text(self, arg: list[str]) -> bool:
        widget = self._find(arg[0])
        if widget is None:
            return False
        shown = getattr(widget, "content", "") or getattr(widget, "text", "")  # before line breaks
        return arg[1] in shown

    def _step_press_template(self, index: int) -> bool:
        box = self._find("list")
        if box is None or len(box.children) <= index:
            return False
        self._tap(list(reversed(box.children))[index])
        return True

    def _step_jump(self, anchor: str) -> bool:
        view = self._find("policy_view")
        if view is None:
            return False
        for label in view.ids.column.children:
            if anchor in getattr(label, "refs", {}):
                label.dispatch("on_ref_press", anchor)
                return True
        raise StepFailed(f"no table-of-contents link to '{anchor}'")

    def _step_screenshot(self, path: str) -> bool:
        from kivy.core.window import Window

        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        made = Window.screenshot(name=str(target))
        if made and Path(made) != target:
            os.replace(made, target)
        self.report.setdefault("screenshots", []).append(str(target))
        return True

    def _step_set_permission(self, arg: list[str]) -> bool:
        from .devices import set_permission

        try:
            set_permission(self.app.sdk, arg[0], arg[1])
        except ValueError as exc:
            raise StepFailed(str(exc)) from None
        return True

    def _step_resume(self, _seconds: float) -> bool:
        # dispatched as Kivy does, so handlers bound to the events (the SDK's screen cover) run
        self.app.dispatch("on_pause")
        self.app.dispatch("on_resume")
        return True

    def _step_probe(self, name: str) -> bool:
        facts: dict = {"screen": self.app.root.current, "mode": self.app.sdk.mode,
                       "dialogs": [self._dialog_name(d) for d in self._dialogs()]}
        for dialog in self._dialogs():
            if getattr(dialog, "scope", None):
                facts.setdefault("dialog_titles", []).append(dialog.title)
            notice = getattr(dialog, "notice", None)
            if notice is not None and hasattr(notice, "parts"):  # a NoticeDialog: what it shows
                body = list(reversed(dialog.ids.card.ids.body.children))
                facts.setdefault("notices", []).append({
                    "kind": notice.kind, "title": dialog.title,
                    "headings": [w.content for w in body
                                 if type(w).__name__ == "SdkSectionTitle"],
                    "texts": [w.content for w in body if type(w).__name__ == "SdkText"]})
            if getattr(dialog, "rationale", None) is not None:
                facts.setdefault("rationale_titles", []).append(dialog.title)
                facts.setdefault("rationale_body", []).extend(dialog.rationale.body)
        permission_facts = getattr(self.app, "permission_facts", None)
        if callable(permission_facts):
            try:
                facts.update(permission_facts())
            except Exception as exc:  # noqa: BLE001 - a probe reports, never stops the app
                facts["permission_backend_error"] = type(exc).__name__
        screen_facts = getattr(self.screen, "probe_facts", None)
        if callable(screen_facts):
            facts.update(screen_facts())
        view = self._find("policy_view")
        if view is not None:
            facts.update(
                anchors=view.anchors,
                visible_anchors=view.visible_anchors(),
                strong_runs=view.strong_run_count(),
                scroll_y=round(view.scroll_y, 4),
                blocks=len(view.rendered),
                markup_ok=all(_markup_clean(lbl) for lbl in view.ids.column.children),
                font=_font_name(view),
                cjk_glyphs_distinct=_cjk_glyphs_distinct(_font_name(view)),
            )
        self.report["probes"][name] = facts
        return True

    def _step_wait_enabled(self, widget_id: str) -> bool:
        w = self._find(widget_id)
        return w is not None and not w.disabled and w.opacity > 0

    def _step_wait_file(self, path: str) -> bool:
        return Path(path).exists()

    def _step_touch_file(self, path: str) -> bool:
        Path(path).write_text(json.dumps({"screen": self.app.root.current}), encoding="utf-8")
        return True

    def _step_sleep(self, seconds: float) -> bool:
        return time.monotonic() - self._started >= float(seconds)

    def _step_quit(self, code: int) -> bool:
        self._finish(int(code))
        return True


def _markup_clean(label) -> bool:
    """True when Kivy shows exactly the block's text: no tag leaked, no bracketed text lost.

    Whitespace is ignored: the reflow inserts line breaks and drops the space at a break."""
    from sdk.ui.kivy.markup import displayed_text

    block = getattr(label, "block", None)
    if block is None:
        return True
    return "".join(displayed_text(label.text).split()) == "".join(block.plain.split())


def _font_name(view) -> str:
    for label in view.ids.column.children:
        return str(label.font_name)
    return ""


def _cjk_glyphs_distinct(font_name: str) -> bool:
    """Draw two different Chinese characters with the font: a font without CJK glyphs draws
    both as the same "missing glyph" box, so identical pixels mean boxes on screen."""
    from kivy.core.text import Label as CoreLabel

    def pixels(ch: str) -> bytes:
        label = CoreLabel(text=ch, font_name=font_name, font_size=32)
        label.refresh()
        return bytes(label.texture.pixels)

    first, second = pixels("隐"), pixels("私")
    return first != second and any(first)
