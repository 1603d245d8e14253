"""Pieces shared by the SDK's Kivy dialogs and the privacy centre: the look (kv classes named
``Sdk*`` so they never clash with an app's own), running SDK calls off the UI thread, Chinese
names of consent states, and a confirmation dialog.

Every paragraph of Chinese text is a :class:`~sdk.ui.kivy.policy_view.ReflowLabel` (Kivy's own
wrapping breaks Chinese lines in the wrong places); short one-line texts (buttons, tags) are
plain Labels.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from kivy.clock import mainthread
from kivy.lang import Builder
from kivy.properties import BooleanProperty, ColorProperty, StringProperty
from kivy.uix.label import Label
from kivy.uix.modalview import ModalView

# format_time is re-exported: the dialogs and the demo app import it from here
from ..._time import format_time
from . import policy_view  # noqa: F401  (registers ReflowLabel with the Factory)

__all__ = [
    "STATUS_TEXT",
    "ConfirmDialog",
    "SdkDialog",
    "confirm",
    "failure_text",
    "format_time",
    "run_off_ui",
    "sync_in_background",
    "scope_name",
    "status_text",
]

log = logging.getLogger("sdk.ui")

Builder.load_string(
    """
#:import get_color_from_hex kivy.utils.get_color_from_hex

<SdkText@ReflowLabel>:
    size_hint_y: None
    text_size: self.width, None
    height: self.texture_size[1] + dp(4)
    color: 0.12, 0.12, 0.12, 1
    font_size: sp(14)

<SdkSmallText@SdkText>:
    font_size: sp(12)
    color: 0.4, 0.4, 0.4, 1

<SdkTitle@SdkText>:
    font_size: sp(18)
    bold: True

<SdkSectionTitle@SdkText>:
    font_size: sp(16)
    bold: True
    color: get_color_from_hex("#0b57d0")
    padding: 0, dp(10), 0, dp(2)

<SdkTag>:
    size_hint: None, None
    size: self.texture_size[0] + dp(10), dp(20)
    font_size: sp(11)
    color: 1, 1, 1, 1
    canvas.before:
        Color:
            rgba: self.tag_color
        RoundedRectangle:
            pos: self.pos
            size: self.size
            radius: [dp(3)]

<SdkButton@Button>:
    size_hint_y: None
    height: dp(46)
    font_size: sp(15)
    background_normal: ""
    background_disabled_normal: ""
    background_color: 0.88, 0.88, 0.88, 1
    color: 0.12, 0.12, 0.12, 1
    disabled_color: 0.55, 0.55, 0.55, 1

<SdkPrimaryButton@SdkButton>:
    background_color: get_color_from_hex("#0b57d0") if not self.disabled else (0.6, 0.7, 0.9, 1)
    color: 1, 1, 1, 1
    disabled_color: 1, 1, 1, 0.8

<SdkLink@Button>:
    size_hint: None, None
    size: self.texture_size[0] + dp(8), dp(36)
    font_size: sp(14)
    background_normal: ""
    background_down: ""
    background_color: 0, 0, 0, 0
    color: get_color_from_hex("#0b57d0")
    underline: True

<SdkCard@BoxLayout>:
    orientation: "vertical"
    padding: dp(16)
    spacing: dp(8)
    canvas.before:
        Color:
            rgba: 1, 1, 1, 1
        RoundedRectangle:
            pos: self.pos
            size: self.size
            radius: [dp(8)]

# A dialog's card, its top part: the tag (left out when tag_text is ""), the title and the
# paragraphs (id body; they scroll when the dialog is at its largest). The dialog's rule adds
# its own rows (status line, buttons) after them, and its height is text_height plus theirs.
<SdkTextCard@SdkCard>:
    tag_text: ""
    tag_color: get_color_from_hex("#0b57d0")
    title: ""
    body_spacing: dp(8)
    # padding, tag, title, paragraphs, and the gap before the dialog's first own row
    text_height: self.padding[1] + self.padding[3] + ((tag.height + self.spacing) if self.tag_text else 0) + title.height + self.spacing + body.height + self.spacing
    on_kv_post: if not self.tag_text: self.remove_widget(tag)
    SdkTag:
        id: tag
        text: root.tag_text
        tag_color: root.tag_color
    SdkTitle:
        id: title
        content: root.title
    ScrollView:
        id: scroll
        do_scroll_x: False
        bar_width: dp(4)
        BoxLayout:
            id: body
            orientation: "vertical"
            size_hint_y: None
            height: self.minimum_height
            spacing: root.body_spacing

# Two answer buttons side by side (the dialog's rule declares them, with their ids).
<SdkButtonRow@BoxLayout>:
    size_hint_y: None
    height: dp(46)
    spacing: dp(12)

<SdkDialog>:
    auto_dismiss: False
    background_color: 0, 0, 0, 0
    overlay_color: 0, 0, 0, 0.55

<ConfirmDialog>:
    size_hint: 0.9, None
    height: card.minimum_height
    SdkCard:
        id: card
        size_hint_y: None
        height: self.minimum_height
        SdkTitle:
            content: root.title
        SdkText:
            content: root.message
        SdkButtonRow:
            SdkButton:
                id: confirm_cancel
                text: root.cancel_text
                disabled: root.busy
                on_release: root.answer(False)
            SdkPrimaryButton:
                id: confirm_ok
                text: root.confirm_text
                disabled: root.busy
                on_release: root.answer(True)
"""
)

#: How each consent state is shown to the user (docs/consent.md "States").
STATUS_TEXT: dict[str, str] = {
    "not_asked": "未同意",
    "granted": "已同意",
    "denied": "已拒绝",
    "withdrawn": "已撤回",
    "superseded": "隐私政策更新，需重新同意",
}


def status_text(state: Any) -> str:
    """``已同意（2026-12-01 10:00）`` for a :class:`~sdk.consent.facade.ConsentState`."""
    text = STATUS_TEXT.get(state.status, state.status)
    record = getattr(state, "record", None)
    if record is not None and state.status in ("granted", "denied", "withdrawn"):
        when = format_time(record.created_at)
        if when:
            text += f"（{when}）"
    return text


def scope_name(privacy: Any, scope: str) -> str:
    """The manifest name of what *scope* covers, e.g. ``身份证号码`` for ``item:id_number``."""
    kind, _, ident = scope.partition(":")
    manifest = privacy.policy.manifest
    table = {"purpose": manifest.purposes, "item": manifest.data_items,
             "recipient": getattr(manifest, "recipients", ())}
    for entry in table.get(kind, ()):
        if str(entry.id) == ident:
            return str(entry.name)
    return {"policy": "隐私政策", "guardian": "监护人同意",
            "minors_notice": "未成年人保护告知"}.get(scope, scope)


@mainthread
def _on_ui(fn: Callable[..., Any], *args: Any) -> None:
    # mainthread schedules a closure, which the Clock holds strongly until it has run.
    fn(*args)


def run_off_ui(work: Callable[[], Any], done: Callable[[Any], None],
               failed: Callable[[BaseException], None], name: str = "privacy-sdk-ui",
               then: Callable[[], Any] | None = None) -> None:
    """Run ``work()`` on a worker thread (SDK decisions write to disk and may sync over the
    network); ``done(result)`` or ``failed(error)`` then runs on the UI thread.

    ``then()``, when given, runs on the same worker after ``done`` was handed to the UI
    thread (only when ``work`` succeeded): e.g. :func:`sync_in_background`, so the UI never
    waits on the network for a decision that is already on disk.

    Unexpected errors are logged by type only (never their text, which could hold values)."""

    def runner() -> None:
        from ...errors import SdkError

        try:
            result = work()
        except Exception as exc:  # noqa: BLE001 - reported to the user as "not saved"
            if not isinstance(exc, SdkError):
                log.error("unexpected %s in %s", type(exc).__name__, name)
            _on_ui(failed, exc)
            return
        _on_ui(done, result)
        if then is not None:
            try:
                then()
            except Exception as exc:  # noqa: BLE001 - the UI has moved on already
                log.warning("%s in the background work of %s", type(exc).__name__, name)

    threading.Thread(target=runner, name=name, daemon=True).start()


def sync_in_background(privacy: Any) -> Callable[[], None]:
    """A ``then`` for :func:`run_off_ui`: send the pending consent records (decisions are
    made with ``sync=False``: offline first, the UI goes on once the record is on disk).
    A failed sync is logged by type only; the records stay pending for the next sync."""

    def sync() -> None:
        from ...errors import SdkError

        if getattr(getattr(privacy, "config", None), "endpoint", None) is None:
            return
        try:
            privacy.sync()
        except SdkError as exc:
            log.warning("consent stored on the device; sending it failed (%s), it stays "
                        "pending", type(exc).__name__)

    return sync


def failure_text(exc: BaseException) -> str:
    """What a dialog says when a decision could not be stored (nothing was recorded)."""
    from ...errors import ConsentRequired, StorageError

    if isinstance(exc, ConsentRequired) and "policy" in tuple(getattr(exc, "scopes", ())):
        return "请先同意隐私政策，再作此选择。未作任何记录。"
    if isinstance(exc, StorageError):
        return "未能保存您的选择（本机存储不可用），未作任何记录，请重试。"
    return f"未能保存您的选择（{type(exc).__name__}），未作任何记录，请重试。"


class SdkTag(Label):
    """A short label on a coloured badge, e.g. 单独同意 or 重大变更."""

    tag_color = ColorProperty([0.70, 0.15, 0.12, 1])


class SdkDialog(ModalView):
    """Base of the SDK's dialogs: no dismissal by tapping outside or pressing Back (only an
    explicit answer closes them), and a name the app's tests can look for."""

    #: What the dialog asks about, e.g. ``item:id_number`` or ``policy_update``.
    dialog_name = StringProperty("")


class ConfirmDialog(SdkDialog):
    """Tell the user the consequence before it happens: 取消 / a confirm button.

    ``on_answer(yes)`` fires once with the user's answer; the dialog then closes.
    Buttons have the ids ``confirm_cancel`` and ``confirm_ok``.
    """

    title = StringProperty("")
    message = StringProperty("")
    confirm_text = StringProperty("确认")
    cancel_text = StringProperty("取消")
    busy = BooleanProperty(False)

    __events__ = ("on_answer",)

    def __init__(self, **kwargs):
        kwargs.setdefault("dialog_name", "confirm")
        super().__init__(**kwargs)

    def answer(self, yes: bool) -> None:
        if self.busy:
            return
        self.busy = True
        self.dismiss()
        self.dispatch("on_answer", yes)

    def on_answer(self, yes: bool) -> None:
        """Fired with the user's answer."""


def confirm(title: str, message: str, confirm_text: str,
            on_answer: Callable[[bool], None]) -> ConfirmDialog:
    """Open a :class:`ConfirmDialog`; ``on_answer(yes)`` runs with the answer."""
    dialog = ConfirmDialog(title=title, message=message, confirm_text=confirm_text)
    dialog.bind(on_answer=lambda _d, yes: on_answer(yes))
    dialog.open()
    return dialog
