"""个人信息权利 (issue #7; OBL-DSR-1 … OBL-DSR-8, OBL-EVI-1; docs/rights.md).

Every request goes through ``privacy.rights`` after the identity is checked again:

``验证身份``   the login password → ``privacy.rights.verify_identity`` (off the UI thread); the
              check lives in memory only, 10 minutes, for several requests. A right tapped
              before it (or after it expired) is refused by the SDK with
              ``IdentityCheckRequired``: the screen says so under the password field and
              nothing is sent.
``查阅我的信息`` ``access_report``: the sections with their Chinese titles, a few entries each.
``导出``        ``export``: its size and number of sections; 保存到加密存储 seals it into the
              SDK's encrypted store (``privacy.store.put(namespace="exports", ...)``): never a
              plain file.
``更正``        phone, email or real name (``correct``); an error under the field.
``删除``        one of the five cases of PIPL art. 47 (``delete``), after a confirmation; what
              was deleted and what is kept, why and until when.
``反对``        free text (``object``); staff answer by the deadline shown (15 working days).
``申请出证``    requester's name, ID number, reason and mailbox (``request_evidence_report``).
``注销账号``    two steps on a page of its own: what is lost and kept (``begin_cancellation``),
              a confirm button that stays disabled for 3 seconds, then
              ``confirm_cancellation``: the server cancels, the device forgets the account and
              the app is back at the privacy prompt.

The list of requests shows kind, status and deadline (预计 when the holiday schedule of a year
in range is not published yet) and 已逾期 in red once the server says it is overdue.

Nothing typed is logged, put in a probe (lengths and labels only) or written to a plain file.
"""

from __future__ import annotations

import datetime as _dt
import logging
from typing import Any

from kivy.clock import Clock
from kivy.factory import Factory
from kivy.metrics import dp
from kivy.properties import BooleanProperty, NumericProperty, StringProperty

from sdk.ui.kivy.common import format_time, run_off_ui
from sdk.ui.kivy.secure import SecureWindow, SensitiveContent

from .base import BaseScreen, confirm, describe_error, format_size

log = logging.getLogger("demo_app")

#: Seconds the 确认注销 button stays disabled on the warning page (time to read it).
CANCEL_DELAY_S = 3
#: Entries shown per section of the access report (the export holds all).
REPORT_ENTRIES = 3
#: Fields per entry shown in the access report.
REPORT_FIELDS = 6

#: 更正: the field -> its name and the hint of its input.
CORRECT_FIELDS = {
    "phone": ("手机号码", "新的手机号码，如 13800138000"),
    "email": ("电子邮箱", "新的电子邮箱，如 name@example.com"),
    "name": ("真实姓名", "与身份证件一致的姓名（由工作人员核对）"),
}
#: 申请出证: the SDK's field -> the widget id of its input.
EVIDENCE_FIELDS = {"requester_name": "ev_name", "requester_id_number": "ev_id_number",
                   "reason": "ev_reason", "mailbox": "ev_mailbox"}
#: Chinese field names for an error under a field, when the SDK's message is in English.
FIELD_HINTS = {
    "phone": "请输入有效的手机号码，如 13800138000",
    "email": "请输入有效的电子邮箱地址，如 name@example.com",
    "mailbox": "请输入接收报告的电子邮箱地址，如 name@example.com",
    "text": "请填写您反对或希望限制的处理（1 至 2000 字）",
    "reason": "请填写申请出证的原因（1 至 500 字）",
    "value": "请填写更正后的内容",
    "case": "请选择一种删除情形",
    "password": "请输入登录密码",
}
#: Keys of the export document in words (the access report shows these names).
KEY_NAMES = {
    "account_id": "账号编号", "created_at": "创建时间", "identifier_kind": "登录方式",
    "phone": "手机号码", "email": "电子邮箱", "channel": "通知方式", "status": "状态",
    "real_name": "真实姓名", "purpose": "用途", "scope": "范围", "decision": "决定",
    "action": "操作", "policy_version": "政策版本", "recorded_at": "记录时间",
    "item": "信息", "item_name": "信息", "purpose_name": "用途", "recipient": "接收方",
    "serial": "序列号", "not_before": "有效期自", "not_after": "有效期至", "revoked": "已吊销",
    "signature_id": "签署编号", "template_id": "合同模板", "signed_at": "签署时间",
    "keep_until": "保存至", "kind": "类型", "deadline": "答复期限", "message_id": "留言编号",
    "text": "内容", "contact": "联系方式", "received_at": "收到时间", "answer": "答复",
    "invitation_id": "邀请编号", "attested_at": "确认同意时间", "notice_id": "公告编号",
    "acknowledged_at": "确认时间", "request_id": "请求编号", "subject": "证书主体",
    "identity_verified_at": "身份验证时间", "answered_at": "答复时间",
    "deadline_provisional": "期限为预计", "overdue": "已逾期", "details": "详情",
    "outcome": "处理结果", "verifications": "认证记录", "count": "次数", "last_at": "最近一次",
    "scenarios": "使用场景", "items": "信息", "name": "名称",
}
_TIME_KEYS = {"created_at", "not_before", "not_after", "signed_at", "keep_until",
              "received_at", "attested_at", "acknowledged_at", "recorded_at", "answered_at",
              "identity_verified_at", "generated_at", "published_at", "last_at", "verified_at",
              "synced_at", "time"}


def date_text(day: _dt.date) -> str:
    """``2026年12月21日``."""
    return f"{day.year}年{day.month}月{day.day}日"


def deadline_text(request: Any) -> str:
    """``答复期限：2026年12月21日``, with ``（预计）`` when the date is provisional (the holiday
    schedule of a year in range is not published yet, OBL-DSR-6)."""
    text = f"答复期限：{date_text(request.deadline)}"
    return text + "（预计）" if request.deadline_provisional else text


#: Wire values shown in words in the access report.
VALUE_NAMES = {
    "kind": {"access": "查阅", "export": "导出", "correction": "更正", "deletion": "删除",
             "objection": "拒绝或限制处理", "evidence_report": "出证申请",
             "breach": "安全事件告知", "service_ending": "服务终止公告"},
    "status": {"received": "已受理", "in_progress": "处理中", "completed": "已完成",
               "rejected": "已拒绝", "verified": "已通过", "pending": "审核中",
               "failed": "未通过", "none": "未认证"},
    "channel": {"sms": "短信", "email": "邮件"},
    "identifier_kind": {"phone": "手机号码", "email": "电子邮箱"},
    "decision": {"granted": "同意", "denied": "拒绝", "withdrawn": "撤回"},
    "method": {"explicit_button": "点击按钮明确同意"},
}


def _value_text(key: str, value: Any) -> str:
    if isinstance(value, str) and value in VALUE_NAMES.get(key, {}):
        return VALUE_NAMES[key][value]
    if isinstance(value, bool):
        return "是" if value else "否"
    if key in _TIME_KEYS and isinstance(value, str):
        return format_time(value) or value
    if isinstance(value, (list, tuple)):
        return f"{len(value)} 项"
    if isinstance(value, dict):
        return f"{len(value)} 项"
    return str(value)


#: What each section of the access report shows first (the export has all the fields).
SECTION_KEYS = {
    "consent_records": ("scope", "decision", "purposes", "created_at", "method"),
    "personal_information": ("item", "purpose", "count", "last_at", "keep_for"),
    "rights_requests": ("kind", "status", "created_at", "deadline", "answer"),
    "support_messages": ("received_at", "text", "contact", "answer"),
    "certificates": ("subject", "serial", "not_before", "not_after", "revoked"),
    "signing_records": ("template_id", "signed_at", "certificate_serial", "keep_until"),
}
#: Technical fields the screen leaves to the export; ``held`` is the server's own description
#: of how it keeps an item, in English: the Chinese screen shows the policy's 保存期限 instead.
HIDDEN_KEYS = {"schema_version", "record_id", "subject_id", "proof", "notice", "controller",
               "controller_contact", "withdrawal", "retention", "jurisdiction", "lawful_basis",
               "details", "outcome", "deadline_provisional", "overdue", "identity_verified_at",
               "request_id", "consent_type", "held"}
KEY_NAMES_EXTRA = {"purposes": "用途", "method": "方式", "keep_for": "保存期限",
                   "pi_categories": "个人信息类别", "recipients": "接收方",
                   "certificate_serial": "证书序列号", "content_sha256": "内容摘要"}
#: Names listed in one line of the access report before "等 N 项".
LISTED_NAMES = 4


def record_text(record: Any, section: str = "", privacy: Any = None) -> str:
    """One entry of the access report: ``字段：值`` lines (at most :data:`REPORT_FIELDS`):
    the section's main fields first, ids of the manifest in words."""
    data = dict(record)
    if privacy is not None and section == "personal_information" and isinstance(
            data.get("item"), str):
        keep_for = item_retention(privacy, data["item"])
        if keep_for:
            data["keep_for"] = keep_for
    order = [k for k in SECTION_KEYS.get(section, ()) if k in data]
    order += [k for k in data if k not in order and k not in HIDDEN_KEYS]
    lines = []
    for key in order:
        value = data[key]
        if value is None or value == "" or value == [] or value == {}:
            continue
        if privacy is not None and key == "item" and isinstance(value, str):
            text = item_name(privacy, value)
        elif privacy is not None and key in ("purpose", "purposes"):
            ids = [value] if isinstance(value, str) else list(value) if isinstance(
                value, (list, tuple)) else None
            text = ("、".join(purpose_name(privacy, str(i)) for i in ids) if ids is not None
                    else _value_text(key, value))
        elif privacy is not None and key in ("pi_categories", "recipients") and isinstance(
                value, (list, tuple)):
            name_of = item_name if key == "pi_categories" else recipient_name
            text = names_text([name_of(privacy, str(i)) for i in value])
        elif privacy is not None and key == "scope" and isinstance(value, str):
            from sdk.ui.kivy.common import scope_name

            text = scope_name(privacy, value)
        else:
            text = _value_text(key, value)
        name = KEY_NAMES.get(key) or KEY_NAMES_EXTRA.get(key, key)
        lines.append(f"{name}：{text}")
        if len(lines) >= REPORT_FIELDS:
            break
    return "\n".join(lines) or "（无内容）"


def names_text(names: list[str]) -> str:
    """``登录账号、登录密码（2 项）``; one name alone; past :data:`LISTED_NAMES` names
    ``…等 9 项``."""
    if len(names) == 1:
        return names[0]
    if len(names) <= LISTED_NAMES:
        return f"{'、'.join(names)}（{len(names)} 项）"
    return f"{'、'.join(names[:LISTED_NAMES])}等 {len(names)} 项"


#: Chinese names of what the server reports that the policy manifest does not declare.
_SERVER_PURPOSES = {"consent_proof": "证明您的同意", "consent_sync": "同步同意记录"}
_SERVER_ITEMS = {"support_messages": "客服沟通记录", "invitations": "邀请记录",
                 "consent_records": "同意记录", "install_ids": "应用安装标识",
                 "realname_verifications": "实名认证记录", "rights_requests": "权利请求记录"}


def purpose_name(privacy: Any, purpose: str) -> str:
    """A manifest purpose id in words (``account`` → 注册和登录账号), else the id."""
    for entry in privacy.policy.manifest.purposes:
        if str(entry.id) == purpose:
            return str(entry.name)
    return _SERVER_PURPOSES.get(purpose, purpose)


def item_name(privacy: Any, item: str) -> str:
    """A manifest item id in words (``real_name`` → 真实姓名), else the id."""
    for entry in privacy.policy.manifest.data_items:
        if str(entry.id) == item:
            return str(entry.name)
    return _SERVER_ITEMS.get(item, item)


def recipient_name(privacy: Any, recipient: str) -> str:
    """A manifest recipient id in words (``ca`` → the CA's name), else the id."""
    for entry in privacy.policy.manifest.recipients:
        if str(entry.id) == recipient:
            return str(entry.name)
    return recipient


def item_retention(privacy: Any, item: str) -> str:
    """How long the policy keeps a manifest item, in words (``P6M`` → 6 个月,
    ``until_account_cancelled`` → 至注销账号); ``""`` for an item the manifest lacks."""
    from sdk.policy.manifest import parse_retention

    for entry in privacy.policy.manifest.data_items:
        if str(entry.id) == item:
            try:
                period = parse_retention(str(entry.retention))
            except ValueError:
                return ""
            if period.until_account_cancelled:
                return "至注销账号"
            units = ((period.years, "年"), (period.months, "个月"), (period.days, "天"))
            return " ".join(f"{n} {unit}" for n, unit in units if n)
    return ""


def _chinese_part(message: str) -> str:
    """The Chinese half of an SDK message that gives both (``中文。(english)``)."""
    head = message.split("(", 1)[0].strip()
    return head or message


def field_error(exc: BaseException) -> tuple[str, str]:
    """``(field, Chinese message)`` for an input error of the SDK (never the value)."""
    field = str(getattr(exc, "field", "") or "")
    zh = getattr(exc, "message_zh", None)  # RealnameValidationError says it in Chinese
    if zh:
        return field, str(zh)
    from sdk.errors import AccountExists

    if isinstance(exc, AccountExists):  # a correction: .field is "phone" or "email"
        what = {"phone": "手机号码", "email": "邮箱"}.get(field, "手机号码或邮箱")
        return "value", f"该{what}已被其他账号使用，请换一个"
    text = str(exc)
    if any("\u4e00" <= ch <= "\u9fff" for ch in text[:40]):
        return field, _chinese_part(text)
    return field, FIELD_HINTS.get(field, "请检查填写的内容")


def _made(cls: Any, **values: Any) -> Any:
    """A widget of a kv dynamic class with its kv properties set (they exist only once the
    rule has run, so they cannot be passed to the constructor)."""
    widget = cls()
    for name, value in values.items():
        setattr(widget, name, value)
    return widget


class RightsScreen(SensitiveContent, BaseScreen):
    """Shows the access report (the account's personal information) and takes a real name and
    an ID number (更正, 申请出证): kept out of screenshots and the recents thumbnail while shown
    (:class:`sdk.ui.kivy.secure.SensitiveContent`; MASVS-PLATFORM-3)."""

    page = StringProperty("main")        # main | cancel
    panel = StringProperty("")           # "" | access | export | correct | delete | object | evidence
    busy = BooleanProperty(False)
    verified = BooleanProperty(False)
    identity_text = StringProperty("")
    identity_error = StringProperty("")
    result = StringProperty("")
    result_ok = BooleanProperty(True)
    report_shown = BooleanProperty(False)
    export_text = StringProperty("")
    export_saved = StringProperty("")
    correct_field = StringProperty("email")
    correct_error = StringProperty("")
    delete_case = StringProperty("")
    delete_error = StringProperty("")
    delete_outcome = StringProperty("")
    object_error = StringProperty("")
    ev_name_error = StringProperty("")
    ev_id_number_error = StringProperty("")
    ev_reason_error = StringProperty("")
    ev_mailbox_error = StringProperty("")
    requests_status = StringProperty("")
    # the cancellation page
    cancel_lose = StringProperty("")
    cancel_kept = StringProperty("")
    cancel_device = StringProperty("")
    cancel_wait = NumericProperty(0)
    cancel_status = StringProperty("")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.identity = None      # sdk.rights.models.IdentityCheck, memory only
        self.notice = None        # sdk.rights.models.CancellationNotice, memory only
        self.report = None        # the last AccessReport (shown, not kept)
        self.document = None      # the last ExportDocument (in memory until saved or left)
        self.requests: list = []
        self.last_request = None
        self.error_kind = ""
        self._ticker = None

    # -- entering and leaving ---------------------------------------------------------------
    def on_pre_enter(self, *args) -> None:
        self.page = "main"
        self.panel = ""
        self.result = ""
        self._update_identity()
        self.load_requests()

    def on_leave(self, *args) -> None:
        # what was shown of the account is not kept once the page is left
        self.document = self.report = None
        self.report_shown = False
        self.ids.access_box.clear_widgets()
        self.export_text = self.export_saved = ""
        self.ids.rights_password.text = ""
        self._stop_ticker()

    def back(self) -> None:
        self.app.go(self.app.landing_screen())

    # -- the identity check (OBL-DSR-1) ------------------------------------------------------
    def _update_identity(self) -> None:
        check = self.identity
        self.verified = check is not None and check.valid
        if self.verified:
            until = check.expires_at.astimezone().strftime("%H:%M")
            self.identity_text = f"身份已验证，{until} 前可直接办理以下事项（10 分钟内有效）。"
        else:
            self.identity = None
            self.identity_text = ("为保护您的个人信息，办理以下事项前请再次输入登录密码验证身份；"
                                  "验证后 10 分钟内有效。")

    def verify(self) -> None:
        """验证身份: the password → ``privacy.rights.verify_identity`` off the UI thread."""
        if self.busy:
            return
        password = self.ids.rights_password.text
        self.ids.rights_password.text = ""
        self.identity_error = ""
        self.busy = True
        sdk = self.app.sdk
        run_off_ui(lambda: sdk.rights.verify_identity(password), self._verified,
                   self._not_verified, name="rights-verify")

    def _verified(self, check: Any) -> None:
        self.busy = False
        self.identity = check
        self._update_identity()
        self._say("身份已验证。", ok=True)

    def _not_verified(self, exc: BaseException) -> None:
        from sdk.errors import AuthenticationFailed, InvalidInput

        self.busy = False
        self.error_kind = type(exc).__name__
        if isinstance(exc, AuthenticationFailed):
            self.identity_error = "登录密码不正确，请重新输入。"
        elif isinstance(exc, InvalidInput):
            self.identity_error = "请输入登录密码。"
        else:
            self.identity_error = f"未能验证身份：{describe_error(exc)}"

    def _needs_identity(self) -> None:
        """The SDK refused a right without a valid identity check: say so at the field."""
        self.identity = None
        self._update_identity()
        self.identity_error = "此操作需要先验证身份：请输入登录密码后点击「验证身份」，再重新办理。未发送任何内容。"
        self.result = ""
        Clock.schedule_once(lambda _dt: self._scroll_to("rights_password"), 0.15)

    def _scroll_to(self, widget_id: str) -> None:
        """Scroll so that the widget's top is near the top of the view (as far as it goes)."""
        scroll = self.ids.scroll
        widget = self.ids.get(widget_id)
        if widget is None:
            return
        content = self.ids.column
        content.do_layout()
        scrollable = content.height - scroll.height
        if scrollable <= 0:
            return
        top = content.to_widget(*widget.to_window(widget.x, widget.top))[1]
        offset = content.height - top - dp(8)
        scroll.scroll_y = min(1.0, max(0.0, 1.0 - offset / scrollable))

    # -- running a right ----------------------------------------------------------------------
    def _say(self, text: str, ok: bool = True) -> None:
        self.result, self.result_ok = text, ok

    def _run(self, work, done, what: str, on_field=None) -> None:
        """Run ``work`` (an SDK call) off the UI thread; refusals are said in words."""
        if self.busy:
            return
        self.busy = True
        self.error_kind = ""
        self._say(f"正在{what}…")

        def failed(exc: BaseException) -> None:
            from sdk.errors import AccountExists, IdentityCheckRequired, InvalidInput

            self.busy = False
            self.error_kind = type(exc).__name__
            if isinstance(exc, IdentityCheckRequired):
                self._needs_identity()
            elif on_field is not None and isinstance(exc, (InvalidInput, AccountExists)):
                self.result = ""  # said under the field it is about
                on_field(*field_error(exc))
            else:
                self._say(f"{what}未完成：{describe_error(exc)}", ok=False)

        def succeeded(value: Any) -> None:
            self.busy = False
            self._update_identity()
            done(value)
            self.load_requests()

        run_off_ui(work, succeeded, failed, name="rights-request")

    def open_panel(self, name: str) -> None:
        self.panel = name
        self.result = ""
        Clock.schedule_once(lambda _dt: self._scroll_to(f"panel_{name}"), 0.15)

    # 查阅 ---------------------------------------------------------------------------------
    def access(self) -> None:
        self.panel = "access"
        sdk, check = self.app.sdk, self.identity
        self._run(lambda: sdk.rights.access_report(check), self._show_report, "查阅个人信息")

    def _show_report(self, report: Any) -> None:
        self.report = report
        box = self.ids.access_box
        box.clear_widgets()
        for section in report.sections:
            count = len(section.records)
            card = Factory.ReportCard()
            card.title = f"{section.title}（{count} 条）" if count != 1 else section.title
            for record in section.records[:REPORT_ENTRIES]:
                card.ids.entries.add_widget(Factory.ReportEntry(
                    content=record_text(record, section.key, self.app.sdk)))
            if count > REPORT_ENTRIES:
                card.ids.entries.add_widget(Factory.ReportEntry(
                    content=f"……另有 {count - REPORT_ENTRIES} 条，导出可得全部内容。"))
            if count == 0:
                card.ids.entries.add_widget(Factory.ReportEntry(content="无"))
            box.add_widget(card)
        self.report_shown = True
        self._say(f"以下是我们保存的您的个人信息，共 {len(report.sections)} 类。", ok=True)
        # again once the labels have wrapped (the report grows while they do)
        for delay in (0.15, 0.5):
            Clock.schedule_once(lambda _dt: self._scroll_to("rights_result"), delay)

    # 导出 ---------------------------------------------------------------------------------
    def export(self) -> None:
        self.panel = "export"
        self.export_saved = ""
        sdk, check = self.app.sdk, self.identity
        self._run(lambda: sdk.rights.export(check), self._exported, "导出个人信息")

    def _exported(self, document: Any) -> None:
        from sdk.rights.models import AccessReport

        self.document = document
        sections = len(AccessReport.from_document(document).sections)
        size = len(document.to_json())
        self.export_text = (f"导出文件 {document.filename}：{format_size(size)}，共 {sections} 类信息"
                            "（JSON 格式，机器可读）。可保存到本机的加密存储；不会写成普通文件。")
        self._say("已生成导出文件。", ok=True)
        Clock.schedule_once(lambda _dt: self._scroll_to("panel_export"), 0.15)

    def save_export(self) -> None:
        """保存到加密存储: sealed in the SDK's encrypted store, never a plain file."""
        document = self.document
        if document is None or self.busy:
            return
        sdk = self.app.sdk
        self.busy = True

        def work():
            return sdk.store.put("exports", "personal-information", document.to_json(),
                                 purpose="account")

        def done(entry: Any) -> None:
            self.busy = False
            until = ""
            expires = getattr(entry, "expires_at", None)
            if expires is not None:
                until = f"，保存至 {expires.astimezone().strftime('%Y-%m-%d')}"
            self.export_saved = f"已保存到本机加密存储（exports/personal-information{until}）。"

        def failed(exc: BaseException) -> None:
            self.busy = False
            self.export_saved = f"未能保存：{describe_error(exc)}"

        run_off_ui(work, done, failed, name="rights-export-save")

    # 更正 ---------------------------------------------------------------------------------
    def choose_field(self, field: str) -> None:
        self.correct_field = field
        self.correct_error = ""
        self.ids.corr_value.hint_text = CORRECT_FIELDS[field][1]

    def correct(self) -> None:
        field, value = self.correct_field, self.ids.corr_value.text
        self.correct_error = ""
        sdk, check = self.app.sdk, self.identity
        self._run(lambda: sdk.rights.correct(check, field, value), self._corrected, "更正个人信息",
                  on_field=lambda _f, message: setattr(self, "correct_error", message))

    def _corrected(self, request: Any) -> None:
        self.last_request = request
        self.ids.corr_value.text = ""
        self.panel = ""
        name = CORRECT_FIELDS.get(self.correct_field, ("信息",))[0]
        if request.status == "completed":
            login = "；如您用它登录，请用新的" + name + "登录" if self.correct_field in ("phone", "email") else ""
            self._say(f"已更正{name}{login}。", ok=True)
        else:
            self._say(f"已受理{name}的更正，工作人员核对证件后处理。\n{deadline_text(request)}", ok=True)

    # 删除 ---------------------------------------------------------------------------------
    def choose_case(self, case: str) -> None:
        self.delete_case = case
        self.delete_error = ""

    def delete(self) -> None:
        from sdk.rights.models import DELETION_CASES

        case = self.delete_case
        self.delete_outcome = ""
        if self.busy:
            return
        label = DELETION_CASES.get(case, "")
        message = ("将删除我们可以删除的您的个人信息（实名认证信息、客服留言、通知邮箱、邀请记录中的手机号码等）。"
                   "依法须保存的记录会保留至期限届满。账号本身不会注销。"
                   + (f"\n删除情形：{label}" if label else ""))
        confirm("删除个人信息", message, "删除", lambda: self._delete(case))

    def _delete(self, case: str) -> None:
        sdk, check = self.app.sdk, self.identity
        self._run(lambda: sdk.rights.delete(check, case), self._deleted, "删除个人信息",
                  on_field=lambda _f, message: setattr(self, "delete_error", FIELD_HINTS["case"]))

    def _deleted(self, request: Any) -> None:
        from sdk.rights.models import parse_time

        self.last_request = request
        sdk = self.app.sdk
        outcome = request.outcome or {}
        deleted = [item_name(sdk, str(i)) for i in outcome.get("deleted", [])]
        lines = ["已删除：" + ("、".join(dict.fromkeys(deleted)) if deleted else "没有可删除的信息")]
        kept = outcome.get("kept") or []
        if kept:
            lines.append("依法保留：")
        for entry in kept:
            until = ""
            try:
                moment = parse_time(entry.get("keep_until"), "outcome", "keep_until", optional=True)
            except Exception:  # noqa: BLE001 - shown without its date
                moment = None
            if moment is not None:
                until = f"，保存至 {moment.astimezone().strftime('%Y-%m-%d')}"
            reason = f"（{entry.get('reason')}）" if entry.get("reason") else ""
            lines.append(f"· {item_name(sdk, str(entry.get('item', '')))}{until}{reason}")
        self.delete_outcome = "\n".join(lines)
        self._say("删除请求已完成。", ok=True)

    # 反对 ---------------------------------------------------------------------------------
    def object_(self) -> None:
        text = self.ids.obj_text.text
        self.object_error = ""
        sdk, check = self.app.sdk, self.identity
        self._run(lambda: sdk.rights.object(check, text), self._objected, "提交反对意见",
                  on_field=lambda _f, message: setattr(self, "object_error", message))

    def _objected(self, request: Any) -> None:
        self.last_request = request
        self.ids.obj_text.text = ""
        self.panel = ""
        self._say(f"已受理您的反对意见，我们将在 15 个工作日内答复。\n{deadline_text(request)}", ok=True)

    # 申请出证 -------------------------------------------------------------------------------
    def request_evidence(self) -> None:
        values = {field: self.ids[wid].text for field, wid in EVIDENCE_FIELDS.items()}
        for wid in EVIDENCE_FIELDS.values():
            setattr(self, f"{wid}_error", "")
        sdk, check = self.app.sdk, self.identity

        def on_field(field: str, message: str) -> None:
            wid = EVIDENCE_FIELDS.get(field)
            if wid is None:
                self._say(message, ok=False)
            else:
                setattr(self, f"{wid}_error", message)

        self._run(lambda: sdk.rights.request_evidence_report(
            check, values["requester_name"], values["requester_id_number"], values["reason"],
            values["mailbox"]), self._evidence_requested, "提交出证申请", on_field=on_field)

    def _evidence_requested(self, request: Any) -> None:
        self.last_request = request
        for wid in EVIDENCE_FIELDS.values():
            self.ids[wid].text = ""
        self.panel = ""
        self._say(f"已受理出证申请，报告将发送到您填写的邮箱。\n{deadline_text(request)}", ok=True)

    # 请求列表 -------------------------------------------------------------------------------
    def load_requests(self) -> None:
        sdk = self.app.sdk
        if not self.requests:
            self.requests_status = "正在加载…"
        run_off_ui(sdk.rights.requests, self._listed,
                   lambda exc: setattr(self, "requests_status",
                                       f"无法加载请求列表：{describe_error(exc)}"),
                   name="rights-list")

    def _listed(self, requests: list) -> None:
        self.requests = list(requests)
        box = self.ids.requests_box
        box.clear_widgets()
        for request in self.requests:
            created = format_time(request.created_at.isoformat())
            row = _made(Factory.RequestRow,
                        kind_text=request.kind_label, status_text=request.status_label,
                        deadline_text=deadline_text(request), overdue=bool(request.overdue),
                        provisional=bool(request.deadline_provisional),
                        detail_text=f"提交于 {created} · 编号 {request.request_id}"
                                    + (f"\n答复：{request.answer}" if request.answer else ""))
            box.add_widget(row)
        self.requests_status = "" if self.requests else "您还没有提交过请求。"

    # 注销账号 (OBL-DSR-7) -------------------------------------------------------------------
    def begin_cancel(self) -> None:
        """Step 1: what is lost and what is kept; nothing changes yet."""
        sdk, check = self.app.sdk, self.identity
        self._run(lambda: sdk.rights.begin_cancellation(check), self._cancel_page, "准备注销")

    def _cancel_page(self, notice: Any) -> None:
        self.notice = notice
        self.result = ""
        self.cancel_lose = "\n".join(f"· {w.text or w.code}" for w in notice.will_lose)
        kept = []
        for record in notice.kept:
            until = (record.keep_until.astimezone().strftime("%Y年%m月%d日")
                     if record.keep_until is not None else "法定期限届满")
            name = {"signing_record": "签署记录及其数字证书"}.get(record.item,
                                                                item_name(self.app.sdk, record.item))
            kept.append(f"· {name}：保存至 {until}。" + (f"依据{record.reason}" if record.reason else ""))
        self.cancel_kept = "\n".join(kept) or "无（本账号没有需要依法保留的记录）"
        self.cancel_device = ("本机的登录状态、加密保存的数据（含证书密钥和导出文件）、下载的合同模板、本账号的操作记录和同意记录"
                              "将被清除，应用回到首次使用时的隐私政策页面。注销后无法恢复；之后可以用同一手机号码"
                              "或邮箱重新注册新账号。")
        self.cancel_status = ""
        self.page = "cancel"
        self.cancel_wait = CANCEL_DELAY_S
        self._stop_ticker()
        self._ticker = Clock.schedule_interval(self._tick, 1.0)

    def _tick(self, _dt) -> bool:
        self.cancel_wait = max(0, self.cancel_wait - 1)
        if self.cancel_wait == 0:
            self._ticker = None
            return False
        return True

    def _stop_ticker(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None

    def keep_account(self) -> None:
        """暂不注销: back, nothing changed."""
        self._stop_ticker()
        self.notice = None
        self.page = "main"
        self._say("未注销账号，什么也没有改变。", ok=True)

    def confirm_cancel(self) -> None:
        """Step 2: the server cancels, then the device forgets the account."""
        notice = self.notice
        if notice is None or self.busy or self.cancel_wait > 0:
            return
        self.busy = True
        self.cancel_status = "正在注销…"
        sdk = self.app.sdk
        run_off_ui(lambda: sdk.rights.confirm_cancellation(notice), self._cancelled,
                   self._cancel_failed, name="rights-cancel")

    def _cancelled(self, receipt: Any) -> None:
        self.busy = False
        self.notice = self.identity = None
        self.requests = []
        self.ids.requests_box.clear_widgets()
        self.last_receipt = receipt
        self.cancel_status = ""
        self.page = "main"
        self.app.after_cancellation(receipt)

    def _cancel_failed(self, exc: BaseException) -> None:
        from sdk.errors import CancellationTokenInvalid

        self.busy = False
        self.error_kind = type(exc).__name__
        if isinstance(exc, CancellationTokenInvalid):
            self.notice = None
            self.cancel_status = "注销确认已过期（10 分钟）或已使用，请返回后重新开始。账号未注销。"
        else:
            self.cancel_status = f"未能注销：{describe_error(exc)}。账号未注销，本机数据未清除。"

    # -- for the autopilot's probe: labels and lengths, never a value typed or shown ----------
    def probe_facts(self) -> dict:
        report = self.report
        request = self.last_request
        return {
            "rights_page": self.page,
            "rights_panel": self.panel,
            "identity_verified": self.verified,
            "identity_error": self.identity_error,
            "rights_result": self.result,
            "rights_error_kind": self.error_kind,
            "report_titles": list(report.titles) if report is not None else [],
            "report_counts": ({s.key: len(s.records) for s in report.sections}
                              if report is not None else {}),
            "export_text": self.export_text,
            "export_saved": self.export_saved,
            "correct_error": self.correct_error,
            "object_error": self.object_error,
            "delete_outcome_lines": len(self.delete_outcome.splitlines()),
            "evidence_errors": {f: getattr(self, f"{w}_error") for f, w in EVIDENCE_FIELDS.items()},
            "last_request": None if request is None else {
                "kind": request.kind, "status": request.status,
                "deadline": request.deadline.isoformat(),
                "deadline_provisional": request.deadline_provisional,
                "identity_verified_at": request.identity_verified_at.isoformat(),
                "deadline_text": deadline_text(request)},
            "requests": [{"kind": r.kind, "kind_label": r.kind_label, "status": r.status,
                          "status_label": r.status_label, "deadline": r.deadline.isoformat(),
                          "deadline_text": deadline_text(r), "overdue": r.overdue,
                          "provisional": r.deadline_provisional}
                         for r in self.requests],
            "request_rows": [{"deadline": row.deadline_text, "overdue_tag": row.ids.overdue.opacity > 0,
                              "kind": row.kind_text, "status": row.status_text}
                             for row in reversed(self.ids.requests_box.children)],
            "cancel_lose": self.cancel_lose.splitlines(),
            "cancel_kept": self.cancel_kept.splitlines(),
            "cancel_wait": self.cancel_wait,
            "cancel_confirm_enabled": not self.ids.cancel_confirm.disabled,
            "cancel_status": self.cancel_status,
            "screen_protection": SecureWindow.get().status().as_dict(),
        }
