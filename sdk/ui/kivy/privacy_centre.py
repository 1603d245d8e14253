"""The privacy centre: where the user sees and changes every consent, sees what was collected
and shared, and finds the controller's contact (PIPL art. 15, 17, 44-45, 50; OBL-DSR-4,
OBL-CON-1).

:class:`PrivacyCentre` is a ScrollView with four sections:

1. **同意管理**: the policy agreement (with 撤回隐私政策同意 → basic mode, after a confirmation
   that says what stops); one Switch per purpose whose lawful basis is consent (name,
   description; separate-consent purposes marked 单独同意: switching one on opens its
   :class:`~sdk.ui.kivy.separate_consent.SeparateConsentDialog` instead of granting silently;
   switching any off withdraws, after a confirmation); and a row with its state and a 撤回
   button for each sensitive data item and each third-party recipient.
2. **已收集的个人信息**: ``privacy.collected_personal_information()``.
3. **与第三方共享**: ``privacy.third_party_sharing()``.
4. **联系我们**: the controller's name, contact email and address from the manifest.

It follows the ledger through ``privacy.add_listener`` (decisions made here, in dialogs, or
pulled from the user's other devices), moving to the UI thread first, and stops listening
when it is removed from its parent. Decisions run off the UI thread.

A switch always shows the state in the ledger: switching one off leaves it on until the user
confirms the withdrawal, and switching a separate-consent purpose on leaves it off until the
user agrees in its dialog. When a decision cannot be stored, a message line (id
``centre_error``, also in :attr:`PrivacyCentre.error`) appears under the row the user acted
on; it names no personal data. The widget draws its own background
(:attr:`PrivacyCentre.background_color`), so it reads the same in any host app.

Widgets that apps and UI tests address have ids in :attr:`PrivacyCentre.ids`:
``switch_<purpose id>`` and ``state_<purpose id>`` (its state line), ``withdraw_policy``,
``withdraw_item_<id>``, ``withdraw_recipient_<id>``, ``review_update``, ``contact_email``,
``contact_address``, ``centre_error`` (while a failure is shown), and the headings
``section_consents``, ``section_items``, ``section_recipients``, ``section_collected``,
``section_sharing``, ``section_contact``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from kivy.clock import Clock
from kivy.factory import Factory
from kivy.lang import Builder
from kivy.metrics import dp, sp
from kivy.properties import (
    BooleanProperty,
    ColorProperty,
    ObjectProperty,
    StringProperty,
)
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.scrollview import ScrollView

from .common import (_on_ui, confirm, failure_text, format_time, run_off_ui, status_text,
                     sync_in_background)

if TYPE_CHECKING:  # pragma: no cover
    from ...core import PrivacySdk

__all__ = ["PrivacyCentre"]

#: The ``method`` recorded for switches and buttons of the privacy centre.
METHOD = "privacy_centre"

Builder.load_string(
    """
#:import get_color_from_hex kivy.utils.get_color_from_hex

<CentreCard>:
    size_hint_y: None
    padding: dp(12), dp(8)
    canvas.before:
        Color:
            rgba: 1, 1, 1, 1
        RoundedRectangle:
            pos: self.pos
            size: self.size
            radius: [dp(6)]

<CentreRow>:
    orientation: "vertical"
    height: self.minimum_height
    spacing: dp(2)

<CentrePurposeRow>:
    # a CentreCard laid out across: texts, then the control
    orientation: "horizontal"
    height: max(texts.height, dp(40)) + dp(16)
    spacing: dp(8)
    BoxLayout:
        id: texts
        orientation: "vertical"
        size_hint_y: None
        height: self.minimum_height
        pos_hint: {"center_y": 0.5}
        spacing: dp(2)
        BoxLayout:
            size_hint_y: None
            height: max(name.height, dp(22))
            spacing: dp(6)
            SdkText:
                id: name
                content: root.title
                bold: True
                font_size: sp(15)
            SdkTag:
                text: "单独同意"
                opacity: 1 if root.separate else 0
                width: (self.texture_size[0] + dp(10)) if root.separate else 0
                tag_color: get_color_from_hex("#0b57d0")
                pos_hint: {"center_y": 0.5}
        SdkSmallText:
            content: root.description
        SdkSmallText:
            id: state
            content: root.state_text
            color: (0.1, 0.45, 0.2, 1) if root.active else (0.5, 0.3, 0.1, 1)
    Switch:
        id: switch
        active: root.active
        disabled: root.locked
        size_hint: None, None
        size: sp(88), sp(36)
        pos_hint: {"center_y": 0.5}

<CentreScopeRow>:
    # a CentreCard laid out across: texts, then the control
    orientation: "horizontal"
    height: max(texts.height, dp(40)) + dp(16)
    spacing: dp(8)
    BoxLayout:
        id: texts
        orientation: "vertical"
        size_hint_y: None
        height: self.minimum_height
        pos_hint: {"center_y": 0.5}
        spacing: dp(2)
        SdkText:
            content: root.title
            bold: True
            font_size: sp(15)
        SdkSmallText:
            content: root.detail
        SdkSmallText:
            content: root.state_text
            color: (0.1, 0.45, 0.2, 1) if root.granted else (0.5, 0.3, 0.1, 1)
    SdkButton:
        id: button
        text: root.button_text
        disabled: not root.granted
        size_hint: None, None
        size: max(dp(64), self.texture_size[0] + dp(20)), dp(40)
        pos_hint: {"center_y": 0.5}

<CentreMessage>:
    orientation: "vertical"
    size_hint_y: None
    height: self.minimum_height
    padding: dp(12), dp(8)
    canvas.before:
        Color:
            rgba: get_color_from_hex("#fce8e6")
        RoundedRectangle:
            pos: self.pos
            size: self.size
            radius: [dp(6)]
    SdkText:
        id: text
        content: root.text
        color: get_color_from_hex("#a50e0e")

<PrivacyCentre>:
    # its own background: readable whatever the host window draws behind it
    canvas.before:
        Color:
            rgba: self.background_color
        Rectangle:
            pos: self.pos
            size: self.size
    do_scroll_x: False
    bar_width: dp(6)
    scroll_type: ["bars", "content"]
    BoxLayout:
        id: column
        orientation: "vertical"
        size_hint_y: None
        height: self.minimum_height
        padding: dp(12), dp(8), dp(12), dp(16)
        spacing: dp(6)
"""
)


class CentreCard(BoxLayout):
    """The white rounded card every row of the privacy centre sits on."""


class CentreRow(CentreCard):
    """A white card of texts (and buttons) in the privacy centre."""


class CentreMessage(BoxLayout):
    """A red message line on a light red card: what could not be done (never a value)."""

    text = StringProperty("")


class CentrePurposeRow(CentreCard):
    """One purpose with lawful basis consent: name, 单独同意 tag, description, state, Switch."""

    title = StringProperty("")
    description = StringProperty("")
    state_text = StringProperty("")
    separate = BooleanProperty(False)
    active = BooleanProperty(False)
    locked = BooleanProperty(False)


class CentreScopeRow(CentreCard):
    """One sensitive item or recipient consent: name, what it covers, state, 撤回."""

    title = StringProperty("")
    detail = StringProperty("")
    state_text = StringProperty("")
    granted = BooleanProperty(False)
    button_text = StringProperty("撤回")


class PrivacyCentre(ScrollView):
    """The privacy centre for one :class:`sdk.PrivacySdk`.

    Args:
        privacy: an open :class:`sdk.PrivacySdk` (also settable as a property).

    Properties:
        status: one sentence about the last action (e.g. ``已撤回「客服」``), for the host to
            show; the rows themselves always show the state from the ledger.
        error: the message shown in the widget (id ``centre_error``, under the row the user
            acted on) when the last decision could not be stored, e.g. because the device's
            storage failed; ``""`` otherwise. Cleared by the next decision.
        background_color: what the widget paints behind its cards (light grey by default).

    Events:
        on_mode(mode): the SDK's mode changed (e.g. ``"basic"`` after the policy agreement
            was withdrawn here); move the app to the matching screens.
    """

    privacy = ObjectProperty(None, allownone=True)
    status = StringProperty("")
    error = StringProperty("")
    background_color = ColorProperty([0.97, 0.97, 0.97, 1])

    __events__ = ("on_mode",)

    def __init__(self, privacy: PrivacySdk | None = None, **kwargs: Any) -> None:
        self._remove_listener: Callable[[], None] | None = None
        self._dynamic_ids: set[str] = set()
        self._mode: str | None = None
        self._error_scope = ""  # the scope whose decision failed (where the message goes)
        self.dialog: Any = None  # the dialog opened from here, kept while open
        if privacy is not None:
            kwargs["privacy"] = privacy
        super().__init__(**kwargs)
        # Coalesces the listener's calls into one rebuild per frame (a strong reference: the
        # Clock holds the bound method weakly).
        self._refresh_trigger = Clock.create_trigger(self._triggered, 0)

    # -- lifecycle: listen only while shown -------------------------------------------------
    def on_privacy(self, _instance: Any, _privacy: Any) -> None:
        self._unlisten()
        if "column" in self.ids:
            if self.parent is not None:
                self._listen()
            self.refresh()

    def on_parent(self, _instance: Any, parent: Any) -> None:
        """Shown: listen and build; removed: stop listening."""
        if parent is None:
            self._unlisten()
        elif self.privacy is not None:
            self._listen()
            self.refresh()

    def _listen(self) -> None:
        if self._remove_listener is None and self.privacy is not None:
            self._remove_listener = self.privacy.add_listener(self._on_change)

    def _unlisten(self) -> None:
        remove, self._remove_listener = self._remove_listener, None
        if remove is not None:
            remove()

    def close(self) -> None:
        """Stop listening to the SDK (done automatically when removed from the parent)."""
        self._unlisten()

    def _on_change(self, _change: Any) -> None:
        # Called on the thread that made the change: move to the UI thread first.
        _on_ui(self._refresh_trigger)

    def _triggered(self, _dt: float) -> None:
        self.refresh()

    # -- building ---------------------------------------------------------------------------
    def _register(self, name: str, widget: Any) -> None:
        self.ids[name] = widget
        self._dynamic_ids.add(name)

    def refresh(self) -> None:
        """Rebuild every section from the SDK (the ledger, the audit trail, the manifest)."""
        privacy = self.privacy
        column = self.ids.get("column")
        if privacy is None or column is None:
            return
        for name in self._dynamic_ids:
            self.ids.pop(name, None)
        self._dynamic_ids.clear()
        column.clear_widgets()
        mode = privacy.mode
        self._consents(column, privacy, mode)
        self._collected(column, privacy)
        self._sharing(column, privacy)
        self._contact(column, privacy)
        if self.error and "centre_error" not in self.ids:  # its row is gone: on top
            self._message(column, index=len(column.children))
        if self._mode is not None and mode != self._mode:
            self._mode = mode
            self.dispatch("on_mode", mode)
        self._mode = mode

    def _message(self, column: Any, scope: str | None = None, index: int = 0) -> None:
        """The failure message, after the row of *scope* (``None``: wherever it is called)."""
        if not self.error or (scope is not None and scope != self._error_scope):
            return
        message = CentreMessage(text=self.error)
        self._register("centre_error", message.ids.text)
        column.add_widget(message, index=index)

    def _section(self, column: Any, key: str, title: str, lead: str = "") -> None:
        heading = Factory.SdkSectionTitle(content=title)
        self._register(f"section_{key}", heading)
        column.add_widget(heading)
        if lead:
            column.add_widget(Factory.SdkSmallText(content=lead))

    def _card(self, column: Any, lines: list[tuple[str, str]], widget_ids: dict[int, str] | None
              = None) -> CentreRow:
        """A card of (kind, text) lines: kind ``title``, ``text`` or ``small``."""
        card = CentreRow()
        kinds = {"title": lambda t: Factory.SdkText(bold=True, font_size=sp(15), content=t),
                 "text": lambda t: Factory.SdkText(content=t),
                 "small": lambda t: Factory.SdkSmallText(content=t)}
        for n, (kind, text) in enumerate(lines):
            label = kinds[kind](text)
            if widget_ids and n in widget_ids:
                self._register(widget_ids[n], label)
            card.add_widget(label)
        column.add_widget(card)
        return card

    def _consents(self, column: Any, privacy: PrivacySdk, mode: str) -> None:
        manifest = privacy.policy.manifest
        self._section(column, "consents", "同意管理", "开关打开表示您已同意该用途；关闭即撤回同意，撤回前基于同意"
                      "已进行的处理不受影响。标有“单独同意”的用途，开启前会另行征求您的同意。")
        self._update_banner(column, privacy)
        policy_state = privacy.state("policy")
        if mode == "full":
            agreed = policy_state.record.notice.policy_version if policy_state.record else ""
            state_line = status_text(policy_state)
            if agreed and agreed != str(manifest.version):
                state_line = (f"您同意的是 {agreed} 版（{format_time(policy_state.record.created_at)}）"
                              f"；{manifest.version} 版待您确认")
        elif mode == "basic":
            state_line = "您未同意隐私政策，目前为基本功能模式：我们不处理您的个人信息。"
        else:
            state_line = "您尚未就当前版本的隐私政策作出选择。"
        card = self._card(column, [("title", f"隐私政策（{manifest.version} 版）"),
                                   ("small", state_line)])
        if mode == "full":
            button = Factory.SdkButton(text="撤回隐私政策同意", size_hint_x=None, width=dp(180))
            button.bind(on_release=lambda _b: self.withdraw_policy())
            self._register("withdraw_policy", button)
            card.add_widget(button)
        self._message(column, "policy")

        column.add_widget(Factory.SdkText(bold=True, padding=(0, dp(6), 0, 0),
                                          content="各项用途"))
        for purpose in manifest.purposes:
            if purpose.lawful_basis != "consent":
                continue
            scope = f"purpose:{purpose.id}"
            state = privacy.state(scope)
            row = CentrePurposeRow(
                title=str(purpose.name), description=str(purpose.description),
                separate=bool(getattr(purpose, "separate_consent", False)),
                active=state.granted, locked=mode != "full",
                state_text=status_text(state) if mode == "full" else "同意隐私政策后可开启")
            row.ids.switch.bind(active=partial(self._switched, scope, row.separate))
            self._register(f"switch_{purpose.id}", row.ids.switch)
            self._register(f"state_{purpose.id}", row.ids.state)
            column.add_widget(row)
            self._message(column, scope)

        items = [i for i in manifest.data_items if i.sensitive]
        if items:
            heading = Factory.SdkText(bold=True, padding=(0, dp(6), 0, 0),
                                      content="敏感个人信息（单独同意）")
            self._register("section_items", heading)
            column.add_widget(heading)
        purposes = {str(p.id): str(p.name) for p in manifest.purposes}
        for item in items:
            scope = f"item:{item.id}"
            self._scope_row(column, privacy, scope, str(item.name),
                            "用于：" + "、".join(purposes.get(str(p), str(p))
                                               for p in item.purposes),
                            f"withdraw_item_{item.id}")
        recipients = tuple(getattr(manifest, "recipients", ()))
        if recipients:
            heading = Factory.SdkText(bold=True, padding=(0, dp(6), 0, 0),
                                      content="向第三方提供（单独同意）")
            self._register("section_recipients", heading)
            column.add_widget(heading)
        names = {str(i.id): str(i.name) for i in manifest.data_items}
        for rec in recipients:
            self._scope_row(column, privacy, f"recipient:{rec.id}", str(rec.name),
                            f"为「{purposes.get(str(rec.purpose), rec.purpose)}」提供："
                            + "、".join(names.get(str(i), str(i)) for i in rec.items),
                            f"withdraw_recipient_{rec.id}")

    def _scope_row(self, column: Any, privacy: PrivacySdk, scope: str, title: str, detail: str,
                   widget_id: str) -> None:
        state = privacy.state(scope)
        row = CentreScopeRow(title=title, detail=detail, state_text=status_text(state),
                             granted=state.granted)
        row.ids.button.bind(on_release=lambda _b: self.withdraw(scope))
        self._register(widget_id, row.ids.button)
        column.add_widget(row)
        self._message(column, scope)

    def _update_banner(self, column: Any, privacy: PrivacySdk) -> None:
        diff = privacy.policy_update()
        if diff is None or not diff:
            return
        if diff.is_major:
            text = (f"隐私政策已更新为 {diff.new_version} 版，其中有需要您重新同意的重大变更；"
                    "在您同意之前，受影响的处理保持暂停。")
        elif privacy.policy_update_notice_due():
            text = f"隐私政策已更新为 {diff.new_version} 版（一般变更，无需重新同意）。"
        else:
            return
        card = self._card(column, [("text", text)])
        button = Factory.SdkPrimaryButton(text="查看更新", size_hint_x=None, width=dp(140))
        button.bind(on_release=lambda _b: self.review_update())
        self._register("review_update", button)
        card.add_widget(button)

    def _collected(self, column: Any, privacy: PrivacySdk) -> None:
        self._section(column, "collected", "已收集的个人信息", "本机通过本应用收集的个人信息（只列出类别、用途和次数，"
                      "不显示信息内容）。")
        rows = privacy.collected_personal_information()
        if not rows:
            self._card(column, [("small", "本机尚未收集您的个人信息。")])
        for row in rows:
            scenarios = "、".join(row["scenarios"]) or "—"
            self._card(column, [
                ("title", str(row["item_name"])),
                ("small", f"用途：{row['purpose_name']}　场景：{scenarios}"),
                ("small", f"收集 {row['count']} 次，最近一次：{format_time(row['last_at'])}"),
            ])

    def _sharing(self, column: Any, privacy: PrivacySdk) -> None:
        self._section(column, "sharing", "与第三方共享", "我们向以下第三方提供个人信息，每一方都需要您单独同意。")
        rows = privacy.third_party_sharing()
        if not rows:
            self._card(column, [("small", "我们不向第三方提供您的个人信息。")])
        for row in rows:
            # ``transfers`` counts one per item given (the audit trail's rows)
            made = (f"已从本机提供 {row['transfers']} 项次，最近一次：{format_time(row['last_at'])}"
                    if row["transfers"] else "尚未从本机提供")
            self._card(column, [
                ("title", str(row["name"])),
                ("small", f"联系方式：{row['contact']}"),
                ("small", f"提供的信息：{'、'.join(row['item_names'])}"),
                ("small", f"用途：{row['purpose_name']}"),
                ("small", f"方式：{row['method']}"),
                ("small", f"您的单独同意：{status_text(_Status(row['consent']))}　{made}"),
            ])

    def _contact(self, column: Any, privacy: PrivacySdk) -> None:
        controller = privacy.controller
        self._section(column, "contact", "联系我们", "对个人信息处理有疑问、意见或投诉，或需要查阅、复制、更正、"
                      "删除您的个人信息，请联系个人信息处理者：")
        lines = [("title", str(controller.name))]
        ids = {}
        email = str(getattr(controller, "contact_email", "") or "")
        if email:
            ids[len(lines)] = "contact_email"
            lines.append(("text", f"电子邮箱：{email}"))
        phone = str(getattr(controller, "phone", "") or "")
        if phone:
            ids[len(lines)] = "contact_phone"
            lines.append(("text", f"电话：{phone}"))
        address = str(getattr(controller, "address", "") or "")
        if address:
            ids[len(lines)] = "contact_address"
            lines.append(("text", f"地址：{address}"))
        self._card(column, lines, ids)

    # -- actions ----------------------------------------------------------------------------
    def _name(self, scope: str) -> str:
        from .common import scope_name

        return scope_name(self.privacy, scope)

    def _switched(self, scope: str, separate: bool, switch: Any, on: bool) -> None:
        privacy = self.privacy
        granted = privacy.state(scope).granted
        if on == granted:
            return
        if on and not separate:
            self._run(lambda: privacy.grant(scope, method=METHOD, sync=False),
                      f"已开启「{self._name(scope)}」。", scope)
            return
        # A dialog decides (the separate consent, or the withdrawal's confirmation): until the
        # user answers, the switch keeps showing the state in the ledger, next to its label.
        # (Called from the Switch's touch handler, which animates to the value set here.)
        switch.active = granted
        if on:
            self._open_separate(scope)
        else:
            self.withdraw(scope)

    def _open_separate(self, scope: str) -> None:
        from .separate_consent import SeparateConsentDialog

        self._clear_error()

        def done(granted: bool) -> None:
            self.dialog = None
            self.status = (f"已同意「{self._name(scope)}」。" if granted
                           else f"您未同意「{self._name(scope)}」，相关功能不可用，其他功能不受影响。")
            self.refresh()

        self.dialog = SeparateConsentDialog(self.privacy, scope, done)
        self.dialog.open()

    def _features_needing(self, scope: str) -> list[str]:
        manifest = self.privacy.policy.manifest
        kind, _, ident = scope.partition(":")
        needed: set[str] = set()
        if kind == "purpose":
            for p in manifest.purposes:
                if str(p.id) == ident:
                    needed |= {str(f) for f in p.required_for}
        elif kind == "item":
            for i in manifest.data_items:
                if str(i.id) == ident:
                    needed |= {str(f) for f in i.required_for}
        elif kind == "recipient":
            for r in getattr(manifest, "recipients", ()):
                if str(r.id) == ident:
                    for i in manifest.data_items:
                        if str(i.id) in tuple(r.items):
                            needed |= {str(f) for f in i.required_for}
        return [str(f.name) for f in manifest.features if str(f.id) in needed]

    def withdraw(self, scope: str) -> None:
        """Ask to confirm, then withdraw the consent for *scope* (one purpose, item or
        recipient)."""
        name = self._name(scope)
        features = self._features_needing(scope)
        stops = (f"依赖它的「{'」「'.join(features)}」将无法使用，" if features else "")
        if scope.startswith("recipient:"):
            what = f"我们将停止向「{name}」提供您的个人信息，"
        elif scope.startswith("item:"):
            what = f"我们将停止处理您的「{name}」，"
        else:
            what = f"我们将停止为「{name}」处理您的个人信息，"
        message = (f"撤回后{what}{stops}其他功能不受影响。撤回前基于您的同意已进行的处理不受影响；"
                   "您可随时重新同意。")
        privacy = self.privacy

        def answered(yes: bool) -> None:
            self.dialog = None
            if yes:
                self._run(lambda: privacy.withdraw(scope, method=METHOD, sync=False), f"已撤回「{name}」。",
                          scope)
            else:
                self.refresh()  # nothing changed: the rows show the ledger as it is

        self.dialog = confirm(f"撤回对「{name}」的同意？", message, "撤回", answered)

    def withdraw_policy(self) -> None:
        """Ask to confirm, then withdraw the agreement to the privacy policy (basic mode)."""
        manifest = self.privacy.policy.manifest
        basic = [str(f.name) for f in manifest.features if str(f.id) == "basic_mode"]
        others = [str(f.name) for f in manifest.features if str(f.id) != "basic_mode"]
        message = ("撤回后将进入基本功能模式：我们将停止处理您的个人信息，您将退出登录"
                   + (f"，「{'」「'.join(others)}」等功能将停止" if others else "") + "。"
                   + (f"您仍可使用{basic[0]}。" if basic else "")
                   + "撤回前基于您的同意已进行的处理不受影响；您可随时重新同意隐私政策。")
        privacy = self.privacy

        def answered(yes: bool) -> None:
            self.dialog = None
            if yes:
                self._run(lambda: privacy.withdraw("policy", method=METHOD, sync=False),
                          "已撤回隐私政策同意，现为基本功能模式。", "policy")

        self.dialog = confirm("撤回隐私政策同意？", message, "撤回", answered)

    def review_update(self) -> None:
        """Open the policy-update dialog for the policy in force."""
        from .policy_update import PolicyUpdateDialog

        diff = self.privacy.policy_update()
        if diff is None or not diff:
            self.refresh()
            return

        def done(result: str) -> None:
            self.dialog = None
            if result == "agreed":
                self.status = f"已同意隐私政策 {diff.new_version} 版。"
            self.refresh()

        self.dialog = PolicyUpdateDialog(self.privacy, diff, done)
        self.dialog.open()

    def _run(self, work: Callable[[], Any], success: str, scope: str) -> None:
        """Run a decision about *scope* off the UI thread; on failure show the message under
        its row (nothing was recorded: the rows still show the ledger)."""
        self._clear_error()

        def done(_result: Any) -> None:
            if self.status == success:  # the same sentence again: hosts still hear of it
                self.property("status").dispatch(self)
            self.status = success
            self.refresh()

        def failed(exc: BaseException) -> None:
            message = failure_text(exc)  # chosen by the error's type: never a value
            self._error_scope = scope
            self.error = message
            self.status = message
            self.refresh()
            Clock.schedule_once(self._show_error, 0)  # once the rebuilt column is laid out

        # offline first: the centre shows the decision once it is on disk, then it is sent
        run_off_ui(work, done, failed, name="privacy-centre",
                   then=sync_in_background(self.privacy))

    def _clear_error(self) -> None:
        """A new decision starts: take the last failure's message away (without a rebuild,
        which would also reset a switch the user just turned on)."""
        self.error, self._error_scope = "", ""
        label = self.ids.pop("centre_error", None)
        self._dynamic_ids.discard("centre_error")
        card = label.parent if label is not None else None
        if card is not None and card.parent is not None:
            card.parent.remove_widget(card)

    def _show_error(self, _dt: float) -> None:
        label = self.ids.get("centre_error")
        if label is not None and label.parent is not None:
            self.scroll_to(label.parent, padding=dp(12), animate=False)

    def on_mode(self, mode: str) -> None:
        """Default handler: nothing."""


class _Status:
    """A state-like object for :func:`status_text` from a bare status string."""

    def __init__(self, status: str) -> None:
        self.status = status
        self.record = None
