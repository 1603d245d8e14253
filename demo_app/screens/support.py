"""客服与通知 (issue #7; OBL-CS-1, OBL-MAIL-1; docs/rights.md "Customer service,
notifications, invitations and notices").

``客服留言``  a message (1 to 2000 characters) and an optional phone number or email to be
             answered on → ``privacy.support.send`` (the consent gate: ``cs_message`` under
             ``customer_service``); the list of messages and answers (``messages()``).
``通知方式``  短信 (the default) or 邮件 with an email address (``privacy.notifications.set``):
             the email is optional and used only for notifications; choosing 短信 deletes a
             stored one. Nothing else depends on it.

An input error is said under its field; nothing typed is logged or put in a probe.
"""

from __future__ import annotations

from typing import Any

from kivy.factory import Factory
from kivy.properties import BooleanProperty, StringProperty

from sdk.ui.kivy.common import format_time, run_off_ui

from .base import BaseScreen, describe_error
from .rights import _made, field_error

#: Longest message, as the SDK and the server take it.
MAX_MESSAGE = 2000


class SupportScreen(BaseScreen):
    busy = BooleanProperty(False)
    cs_text_error = StringProperty("")
    cs_contact_error = StringProperty("")
    cs_status = StringProperty("")
    cs_ok = BooleanProperty(True)
    messages_status = StringProperty("")
    channel = StringProperty("sms")       # what is chosen on screen
    saved_channel = StringProperty("")    # what the server has
    notify_email_error = StringProperty("")
    notify_status = StringProperty("")
    notify_ok = BooleanProperty(True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.messages: list = []
        self.preference = None
        self.error_kind = ""

    def on_pre_enter(self, *args) -> None:
        self.cs_status = self.notify_status = ""
        self.cs_text_error = self.cs_contact_error = self.notify_email_error = ""
        self.load()

    def back(self) -> None:
        self.app.go(self.app.landing_screen())

    def load(self) -> None:
        sdk = self.app.sdk
        self.messages_status = "正在加载…"

        def work():
            return sdk.support.messages(), sdk.notifications.get()

        def failed(exc: BaseException) -> None:
            self.messages_status = f"无法加载：{describe_error(exc)}"

        run_off_ui(work, self._loaded, failed, name="support-load")

    def _loaded(self, result) -> None:
        messages, preference = result
        self._show_messages(messages)
        self._show_preference(preference)

    def _show_messages(self, messages: list) -> None:
        self.messages = list(messages)
        box = self.ids.cs_messages
        box.clear_widgets()
        for message in self.messages:
            answer = f"客服答复：{message.answer}" if message.answer else "客服答复：待回复"
            contact = "（已留联系方式）" if message.contact else ""
            box.add_widget(_made(Factory.MessageRow,
                                 when=f"{format_time(message.received_at)} {contact}".strip(),
                                 text=message.text, answer=answer))
        self.messages_status = "" if self.messages else "您还没有留言。"

    def _show_preference(self, preference: Any) -> None:
        self.preference = preference
        self.saved_channel = preference.channel
        self.channel = preference.channel
        masked = f"（{preference.email_masked}）" if preference.email_masked else ""
        self.notify_status = ("当前：短信通知（默认）" if preference.channel == "sms"
                              else f"当前：邮件通知{masked}")
        self.notify_ok = True

    # -- 客服留言 -------------------------------------------------------------------------------
    def send(self) -> None:
        if self.busy:
            return
        text = self.ids.cs_text.text
        contact = self.ids.cs_contact.text.strip() or None
        self.cs_text_error = self.cs_contact_error = ""
        self.cs_status = "正在发送…"
        self.cs_ok = True
        self.busy = True
        sdk = self.app.sdk
        run_off_ui(lambda: (sdk.support.send(text, contact), sdk.support.messages()),
                   self._sent, self._send_failed, name="support-send")

    def _sent(self, result) -> None:
        self.busy = False
        _message, messages = result
        self.ids.cs_text.text = ""
        self.ids.cs_contact.text = ""
        self.cs_status = "已发送，客服会尽快答复。留言保存 2 年，您可随时申请删除。"
        self.cs_ok = True
        self._show_messages(messages)

    def _send_failed(self, exc: BaseException) -> None:
        from sdk.errors import InvalidInput

        self.busy = False
        self.error_kind = type(exc).__name__
        self.cs_status = ""
        if isinstance(exc, InvalidInput):
            field, _message = field_error(exc)
            if field == "contact":
                self.cs_contact_error = "联系方式请填写手机号码（如 13800138000）或电子邮箱，也可以不填"
            else:
                self.cs_text_error = "请填写留言内容（1 至 2000 字）"
            return
        self.cs_ok = False
        self.cs_status = f"未能发送：{describe_error(exc)}"

    # -- 通知方式 -------------------------------------------------------------------------------
    def choose_channel(self, channel: str) -> None:
        self.channel = channel
        self.notify_email_error = ""

    def save_channel(self) -> None:
        if self.busy:
            return
        channel = self.channel
        email = self.ids.notify_email_address.text.strip() or None if channel == "email" else None
        self.notify_email_error = ""
        self.notify_status = "正在保存…"
        self.busy = True
        sdk = self.app.sdk
        run_off_ui(lambda: sdk.notifications.set(channel, email), self._saved,
                   self._save_failed, name="support-channel")

    def _saved(self, preference: Any) -> None:
        self.busy = False
        self.ids.notify_email_address.text = ""
        self._show_preference(preference)
        self.notify_status = ("已保存：短信通知。通知邮箱已删除（如有）。" if preference.channel == "sms"
                              else f"已保存：邮件通知（{preference.email_masked}）。邮箱只用于服务通知。")

    def _save_failed(self, exc: BaseException) -> None:
        from sdk.errors import InvalidInput

        self.busy = False
        self.error_kind = type(exc).__name__
        if isinstance(exc, InvalidInput) and getattr(exc, "field", "") == "email":
            self.notify_status = ""
            self.notify_email_error = "邮件通知需要一个有效的电子邮箱地址，如 name@example.com；或选择短信通知"
            return
        self.notify_ok = False
        self.notify_status = f"未能保存：{describe_error(exc)}"

    def probe_facts(self) -> dict:
        return {
            "messages": len(self.messages),
            "messages_answered": sum(1 for m in self.messages if m.answer),
            "cs_status": self.cs_status,
            "cs_text_error": self.cs_text_error,
            "cs_contact_error": self.cs_contact_error,
            "channel": self.channel,
            "saved_channel": self.saved_channel,
            "email_set": bool(self.preference is not None and self.preference.email),
            # the masked address stays on screen
            "notify_status": _without_email(self.notify_status, self.preference),
            "notify_email_error": self.notify_email_error,
            "support_error_kind": self.error_kind,
        }


def _without_email(text: str, preference: Any) -> str:
    masked = getattr(preference, "email_masked", None)
    return text.replace(masked, "<email>") if masked else text
