"""The notice dialog: a personal-information breach notice (PIPL art. 57; OBL-BR-1) with its
five parts, or the service-ending notice (PIPL art. 47(1)2; OBL-END-1), and one button,
我已知悉, that records the acknowledgement (``privacy.notices.acknowledge``, off the UI
thread) before the dialog closes.

A breach notice shows, each under its own heading: 发生了什么 (what happened), 可能造成的影响
(the impact), 我们已采取的措施 (what was done), 您可以如何保护自己 (how to protect
yourself) and 补救措施与联系方式 (remedies). The service-ending variant shows when the service
ends and what happens to the user's personal information, and says that collection has
already stopped.

Show every notice not yet acknowledged when the app starts::

    from sdk.ui.kivy import show_notices

    privacy.notices.fetch()          # off the UI thread; offline the last list is used
    show_notices(privacy)            # one dialog after another

Tapping outside or pressing Back does not close the dialog. It is named ``notice:<kind>``
(``dialog_name``) for UI tests; its button has the id ``notice_ack``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kivy.factory import Factory
from kivy.lang import Builder
from kivy.properties import BooleanProperty, ColorProperty, StringProperty
from kivy.utils import get_color_from_hex

from .common import SdkDialog, format_time, run_off_ui

if TYPE_CHECKING:  # pragma: no cover
    from ...core import PrivacySdk
    from ...rights.services import Acknowledgement, Notice

__all__ = ["NoticeDialog", "show_notices"]

#: The tag above the title, per kind of notice.
TAGS = {"breach": ("个人信息安全事件告知", "#b3261e"),
        "service_ending": ("服务终止公告", "#8a5a00")}
#: Said first in a service-ending notice: collection has stopped (OBL-END-1).
ENDING_LEAD = "自收到本公告起，本应用已停止收集您的个人信息。"

Builder.load_string(
    """
#:import Window kivy.core.window.Window

<NoticeDialog>:
    # as tall as its text, at most 92 % of the window (then the parts scroll)
    size_hint: 0.94, None
    height: min(Window.height * 0.92, card.text_height + status.height + dp(8) + dp(46) + dp(4))
    SdkTextCard:
        id: card
        tag_text: root.tag_text
        tag_color: root.tag_color
        title: root.title
        body_spacing: dp(4)
        SdkText:
            id: status
            content: root.status
            color: 0.7, 0.1, 0.1, 1
            height: (self.texture_size[1] + dp(4)) if root.status else 0
        SdkPrimaryButton:
            id: notice_ack
            text: "我已知悉"
            disabled: root.busy
            on_release: root.acknowledge()
"""
)


class NoticeDialog(SdkDialog):
    """One notice, read-only, with 我已知悉.

    Args:
        notice: a :class:`sdk.rights.services.Notice` (``privacy.notices.fetch()`` or
            ``unacknowledged()``), kind ``breach`` or ``service_ending``.
        privacy: the SDK; 我已知悉 calls ``privacy.notices.acknowledge(notice)`` (recorded on
            the device at once, sent to the server when possible). ``None``: only the event.
        on_done: called on the UI thread with the :class:`~sdk.rights.services.Acknowledgement`
            (``None`` without *privacy*) once it is recorded and the dialog has closed.

    If the server refuses the acknowledgement for good (e.g. the notice was withdrawn) the
    dialog stays open and says so; tapping again retries.

    Events:
        on_acknowledged(ack): as ``on_done``.
    """

    title = StringProperty("")
    tag_text = StringProperty("")
    tag_color = ColorProperty([0.70, 0.15, 0.12, 1])
    status = StringProperty("")
    busy = BooleanProperty(False)
    #: ``True`` once acknowledged.
    answered = BooleanProperty(False)

    __events__ = ("on_acknowledged",)

    def __init__(self, notice: Notice, privacy: PrivacySdk | None = None,
                 on_done: Callable[[Acknowledgement | None], None] | None = None,
                 **kwargs: Any) -> None:
        tag, colour = TAGS.get(notice.kind, ("通知", "#0b57d0"))
        kwargs.setdefault("dialog_name", f"notice:{notice.kind}")
        kwargs.setdefault("tag_text", tag)  # before the kv rule runs: the card keeps its tag
        kwargs.setdefault("tag_color", get_color_from_hex(colour))
        kwargs.setdefault("title", notice.title)
        super().__init__(**kwargs)
        self.notice = notice
        self.privacy = privacy
        self._on_done = on_done
        body = self.ids.card.ids.body
        published = format_time(notice.published_at)
        if published:
            body.add_widget(Factory.SdkSmallText(content=f"发布时间：{published}"))
        if notice.kind == "service_ending":
            body.add_widget(Factory.SdkText(content=ENDING_LEAD, bold=True))
        for heading, text in notice.parts:
            body.add_widget(Factory.SdkSectionTitle(content=heading))
            body.add_widget(Factory.SdkText(content=text))

    def acknowledge(self) -> None:
        """我已知悉: record the acknowledgement, then close."""
        if self.busy or self.answered:
            return
        self.busy = True
        self.status = ""
        privacy, notice = self.privacy, self.notice
        if privacy is None:
            self._done(None)
            return
        run_off_ui(lambda: privacy.notices.acknowledge(notice), self._done, self._failed,
                   name="notice-ack")

    def _failed(self, exc: BaseException) -> None:
        self.busy = False
        self.status = f"未能记录您的确认（{type(exc).__name__}），请重试。"

    def _done(self, ack: Acknowledgement | None) -> None:
        self.answered = True
        self.dismiss()
        self.dispatch("on_acknowledged", ack)
        if self._on_done is not None:
            self._on_done(ack)

    def on_acknowledged(self, ack: Any) -> None:
        """Default handler: nothing."""


def show_notices(privacy: PrivacySdk,
                 on_done: Callable[[list[Acknowledgement | None]], None] | None = None
                 ) -> NoticeDialog | None:
    """Open a :class:`NoticeDialog` for each of ``privacy.notices.unacknowledged()`` (no
    network: the last fetched list), one after another; ``on_done(acks)`` runs after the last
    (at once, with ``[]``, when there is none).

    Returns:
        the first dialog, or ``None`` when there is nothing to show.
    """
    queue = list(privacy.notices.unacknowledged())
    acks: list[Acknowledgement | None] = []

    def next_one(ack: Any = None, first: bool = False) -> NoticeDialog | None:
        if not first:
            acks.append(ack)
        if not queue:
            if on_done is not None:
                on_done(acks)
            return None
        dialog = NoticeDialog(queue.pop(0), privacy, next_one)
        dialog.open()
        return dialog

    return next_one(first=True)
