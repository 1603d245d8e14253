"""Shared pieces of the demo's screens."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from kivy.app import App
from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.screenmanager import Screen


class BaseScreen(Screen):
    """A screen with a light background and a helper to run SDK calls off the UI thread."""

    @property
    def app(self):
        return App.get_running_app()

    def run_in_background(self, work: Callable[[], Any], done: Callable[[Any], None],
                          failed: Callable[[str], None]) -> None:
        """Run ``work()`` on a worker thread; ``done(result)`` or ``failed(message)`` on the UI thread.

        ``message`` is a user-facing Chinese sentence from :func:`describe_error`; SDK errors never
        carry personal data, and anything unexpected is logged by type only.
        """
        from sdk.ui.kivy.common import run_off_ui

        run_off_ui(work, done, lambda exc: failed(describe_error(exc)),
                   name=f"{self.name}-worker")


class Panel(BoxLayout):
    """A part of a screen that is not drawn and takes no touch while ``shown`` is False (a
    hidden widget would otherwise still catch taps where it lies). Its widgets are disabled
    then, so the autopilot waits for them as a person would. How much room it takes is up to
    the screen's rule (see :class:`Section`)."""

    shown = BooleanProperty(False)

    def on_touch_down(self, touch):
        return super().on_touch_down(touch) if self.shown else False

    def on_touch_move(self, touch):
        return super().on_touch_move(touch) if self.shown else False

    def on_touch_up(self, touch):
        return super().on_touch_up(touch) if self.shown else False


class Section(Panel):
    """A :class:`Panel` in a scrolling column: its natural height when shown, none when not
    (e.g. one step of the 实名认证 flow)."""


class ConfirmContent(BoxLayout):
    """Body of a confirmation dialog: the consequence, then 取消 / a confirm button."""

    message = StringProperty("")
    confirm_text = StringProperty("确认")
    __events__ = ("on_answer",)

    def on_answer(self, yes: bool) -> None:
        """Fired with the user's answer."""


def confirm(title: str, message: str, confirm_text: str, on_yes: Callable[[], None]) -> None:
    """Tell the user the consequence before it happens; run ``on_yes`` only if they confirm."""
    from kivy.uix.popup import Popup

    content = ConfirmContent(message=message, confirm_text=confirm_text)
    popup = Popup(title=title, content=content, size_hint=(0.9, None), height="280dp",
                  auto_dismiss=False)

    def answered(_content, yes: bool) -> None:
        popup.dismiss()
        if yes:
            on_yes()

    content.bind(on_answer=answered)
    popup.open()


def format_size(n: float) -> str:
    """``24.8 KB`` below 1 MB, else ``1.2 MB``."""
    return f"{n / 1024:.1f} KB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.1f} MB"


def describe_error(exc: BaseException) -> str:
    """A short Chinese sentence for the user, chosen by the error's type (never its values)."""
    from sdk import errors as e

    if isinstance(exc, e.WeakPassword):
        return "密码强度不足：" + "；".join(exc.reasons)
    if isinstance(exc, e.LoginThrottled):
        return f"登录失败次数过多，请在 {max(exc.retry_after // 60, 1)} 分钟后再试"
    if isinstance(exc, e.ServiceEnded):  # OBL-END-1: the SDK refuses every collection
        return service_ended_text(exc.ends_at)
    if isinstance(exc, e.RequestNotFound):
        return "找不到这项请求，请刷新请求列表"
    if isinstance(exc, e.EnvelopeError) and exc.code == "suite_unavailable":
        # the build's cryptography lacks the server key's KEM (e.g. ML-KEM); the English message
        # names the versions found and the fix (no personal data): logged for the developer
        logging.getLogger("demo_app").warning("%s", exc)
        return ("本应用的加密组件不支持服务器当前的加密方式，为保护您的信息，未发送任何内容；"
                "请更新应用，或联系客服")
    if isinstance(exc, e.TlsError):
        # the SDK's message names the host and the CA file it checked against, and the fix
        # (e.g. "... does not name 127.0.0.2 ... --cert-name 127.0.0.2"), never personal data:
        # logged for QA, the user sees the sentence below
        logging.getLogger("demo_app").warning("%s", exc)
        return "无法验证服务器的安全证书，请检查网络或稍后再试"
    if isinstance(exc, e.ServerError):
        return f"服务器未能处理请求（{exc.code}），请稍后再试"
    fixed = (  # most specific first
        (e.InvalidIdentifier, "请输入有效的手机号码（如 13800138000）或电子邮箱地址"),
        (e.AccountExists, "该账号已注册，请直接登录"),
        (e.AuthenticationFailed, "账号或密码不正确"),
        (e.IdentityCheckRequired, "请先输入登录密码验证身份（验证后 10 分钟内有效）"),
        (e.CancellationTokenInvalid, "注销确认已过期或已使用，请重新开始注销"),
        (e.NotLoggedIn, "请先登录"),
        (e.ConsentRequired, "此功能需要您先同意隐私政策中的相应用途"),
        (e.ServerUnavailable, "暂时无法连接服务器，请检查网络后重试"),
        (e.KeystoreError, "无法访问设备的安全存储，请解锁设备后重试"),
        (e.StorageError, "无法读写本地数据，请检查存储空间后重试"),
        (e.SdkError, "操作未完成，请重试"),
    )
    for kind, message in fixed:
        if isinstance(exc, kind):
            return message
    return f"出错了（{type(exc).__name__}），请重试"


def service_ended_text(ends_at: str | None = None) -> str:
    """What a collection feature says once a service-ending notice was received (the SDK
    refuses with ``ServiceEnded``; OBL-END-1)."""
    from sdk.ui.kivy.common import format_time

    when = format_time(ends_at) if ends_at else ""
    lead = f"本服务将于 {when} 终止" if when else "本服务即将终止"
    return f"{lead}，本应用已停止收集您的个人信息，此功能不再可用"
