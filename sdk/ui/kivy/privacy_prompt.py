"""The first-launch privacy prompt (MIIT app rules; PIPL art. 14, 17).

Shows the whole policy with a working table of contents and two explicit choices, "同意"
(Agree) and "不同意" (Disagree): no pre-ticked box, no "OK / Got it". The decision is written
to the consent ledger *before* :attr:`on_decided` fires, off the UI thread; closing or killing
the app while the prompt is open records nothing. Offline first: :attr:`on_decided` fires as
soon as the record is on disk; sending it to the server happens afterwards in the background
(a failed send leaves it pending for the next sync, nothing is lost).
"""

from __future__ import annotations

import logging
import threading

from kivy.clock import mainthread
from kivy.lang import Builder
from kivy.properties import BooleanProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from . import policy_view  # noqa: F401  (registers the PolicyView kv rule)
from .common import sync_in_background

__all__ = ["PrivacyPrompt"]

log = logging.getLogger("sdk.ui")

Builder.load_string(
    """
<PromptButton@Button>:
    size_hint_y: None
    height: dp(48)
    font_size: sp(17)
    background_normal: ""

<PrivacyPrompt>:
    orientation: "vertical"
    canvas.before:
        Color:
            rgba: 1, 1, 1, 1
        Rectangle:
            pos: self.pos
            size: self.size
    Label:
        text: root.title
        size_hint_y: None
        height: dp(48)
        font_size: sp(20)
        bold: True
        color: 0.12, 0.12, 0.12, 1
    ReflowLabel:
        content: root.lead
        size_hint_y: None
        text_size: self.width - dp(32), None
        height: self.texture_size[1] + dp(8)
        font_size: sp(13)
        color: 0.35, 0.35, 0.35, 1
    PolicyView:
        id: policy_view
        document: root.document
    Label:
        id: status
        text: root.status
        size_hint_y: None
        height: dp(24) if root.status else 0
        font_size: sp(13)
        color: 0.7, 0.1, 0.1, 1
    BoxLayout:
        size_hint_y: None
        height: dp(64)
        padding: dp(12), dp(8)
        spacing: dp(12)
        PromptButton:
            id: disagree
            text: root.disagree_text
            disabled: root.busy
            color: 0.12, 0.12, 0.12, 1
            background_color: 0.9, 0.9, 0.9, 1
            on_release: root.disagree()
        PromptButton:
            id: agree
            text: root.agree_text
            disabled: root.busy
            color: 1, 1, 1, 1
            background_color: 0.04, 0.34, 0.82, 1
            on_release: root.agree()
"""
)


class PrivacyPrompt(BoxLayout):
    """The privacy prompt widget.

    Args:
        sdk: an open :class:`sdk.PrivacySdk`; its policy is shown and its ledger records the
            decision.

    Events:
        on_decided(mode): after the decision is stored; ``mode`` is ``"full"`` or ``"basic"``.
    """

    sdk = ObjectProperty(None)
    document = ObjectProperty(None, allownone=True)
    title = StringProperty("隐私政策")
    lead = StringProperty(
        "请完整阅读以下政策。点“同意”表示您同意我们按本政策处理您的个人信息；"
        "点“不同意”仍可浏览和下载合同模板（基本功能模式），我们不会收集您的个人信息。"
    )
    agree_text = StringProperty("同意")
    disagree_text = StringProperty("不同意")
    status = StringProperty("")
    busy = BooleanProperty(False)

    __events__ = ("on_decided",)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if self.sdk is not None and self.document is None:
            self.document = self.sdk.policy.document

    @property
    def policy_view(self):
        """The embedded :class:`~sdk.ui.kivy.policy_view.PolicyView`."""
        return self.ids.policy_view

    def agree(self) -> None:
        """Record "granted" for the policy's consent purposes, then fire ``on_decided("full")``."""
        sdk = self.sdk
        self._decide(lambda: sdk.agree(sync=False))

    def disagree(self) -> None:
        """Record "denied" on the device only, then fire ``on_decided("basic")``."""
        sdk = self.sdk
        self._decide(lambda: sdk.disagree(sync=False))

    def _decide(self, action) -> None:
        if self.busy:
            return
        self.busy = True
        self.status = ""
        threading.Thread(target=self._run, args=(action,), name="privacy-prompt", daemon=True).start()

    def _run(self, action) -> None:
        from ...errors import SdkError

        try:
            action()
        except SdkError as exc:  # storage failed: nothing was recorded, let the user retry
            log.warning("privacy decision not recorded: %s", type(exc).__name__)
            self._failed(str(exc))
            return
        self._done()
        # the decision is on disk and the UI has moved on: now send it (offline first)
        sync_in_background(self.sdk)()

    @mainthread
    def _failed(self, message: str) -> None:
        self.busy = False
        self.status = f"未能保存您的选择，请重试。({message})"

    @mainthread
    def _done(self) -> None:
        self.busy = False
        self.dispatch("on_decided", self.sdk.mode)

    def on_decided(self, mode: str) -> None:
        """Default handler: nothing. Bind to it to move on to the next screen."""
