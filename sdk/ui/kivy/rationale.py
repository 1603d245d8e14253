"""The rationale dialog shown before an OS permission prompt (OBL-PERM-1; docs/permissions.md,
rule 4): why the feature needs the permission, what refusing means, and two explicit buttons,
暂不 and 继续. Nothing is pre-selected; tapping outside or pressing Back does not answer.

:func:`show_rationale` has the signature the permission facade expects for its ``rationale=``
argument, so a Kivy app passes it as it is::

    from sdk.ui.kivy import show_rationale
    from sdk.ui.kivy.permissions import kivy_dispatcher

    privacy.permissions.dispatcher = kivy_dispatcher
    privacy.permissions.request("camera", feature="face_signing", rationale=show_rationale,
                                on_result=done, user_initiated=True)

Only 继续 leads to the system prompt (the facade calls the platform then); 暂不 is an answer
like any other: ``on_result`` gets reason ``rationale_declined`` and nothing is recorded or
asked. :func:`rationale_dialog` makes such a callback with options (a note under the text, other
button labels), e.g. on a desktop, where 继续 *is* the grant (there is no system prompt)::

    rationale=rationale_dialog(note="桌面系统没有系统授权框：点击「继续」即允许本应用使用相机。")

The dialog is named ``rationale:<permission>[,<permission>]`` (``dialog_name``) for UI tests, and
its buttons have the ids ``rationale_later`` and ``rationale_continue``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kivy.factory import Factory
from kivy.lang import Builder
from kivy.properties import BooleanProperty, StringProperty

from .common import SdkDialog, _on_ui

if TYPE_CHECKING:  # pragma: no cover
    from ...permissions.status import Rationale

__all__ = ["RationaleDialog", "rationale_dialog", "show_rationale"]

log = logging.getLogger("sdk.ui")

Builder.load_string(
    """
#:import Window kivy.core.window.Window

<RationaleDialog>:
    # as tall as its text, at most 90 % of the window (then the text scrolls)
    size_hint: 0.92, None
    height: min(Window.height * 0.9, card.text_height + note.height + dp(8) + dp(46) + dp(4))
    SdkTextCard:
        id: card
        tag_text: root.tag_text
        title: root.title
        SdkSmallText:
            id: note
            content: root.note
            height: (self.texture_size[1] + dp(4)) if root.note else 0
        SdkButtonRow:
            SdkButton:
                id: rationale_later
                text: root.later_text
                disabled: root.busy
                on_release: root.later()
            SdkPrimaryButton:
                id: rationale_continue
                text: root.continue_text
                disabled: root.busy
                on_release: root.go_on()
"""
)


class RationaleDialog(SdkDialog):
    """Why a feature needs an OS permission, before the system prompt.

    Args:
        rationale: the :class:`sdk.permissions.Rationale` the facade built from the manifest
            (title, paragraphs stating the purpose, that it is used only in this feature, and
            that refusing blocks nothing else).
        proceed: the facade's ``proceed(bool)``; called once, with ``True`` for 继续 and
            ``False`` for 暂不, after the dialog has closed. ``None``: only the event fires.
        note: an optional small line under the text (e.g. what 继续 does on this platform).
        continue_text, later_text: the button labels (default 继续 / 暂不).

    Events (bind them, or pass ``on_decided=`` / ``on_error=`` when making the dialog):
        on_decided(go): the user's answer (``True`` = 继续), once.
        on_error(exc): ``proceed(True)`` raised an :class:`sdk.SdkError` (e.g.
            ``PermissionsError``: no permission backend works here, or the app is not set up
            for the permission: a missing Android manifest entry or iOS usage description). The
            facade then calls no ``on_result``; the app says what is wrong. Logged by type.

    Properties:
        decision: ``""`` until answered, then ``"continue"`` or ``"later"``.
    """

    title = StringProperty("")
    note = StringProperty("")
    tag_text = StringProperty("")
    continue_text = StringProperty("继续")
    later_text = StringProperty("暂不")
    busy = BooleanProperty(False)
    decision = StringProperty("")

    __events__ = ("on_decided", "on_error")

    def __init__(self, rationale: Rationale, proceed: Callable[[bool], None] | None = None, *,
                 note: str = "", **kwargs: Any) -> None:
        kwargs.setdefault("dialog_name", "rationale:" + ",".join(rationale.permissions))
        kwargs.setdefault("tag_text", f"权限使用说明 · 仅用于「{rationale.feature_name}」")
        super().__init__(**kwargs)
        self.rationale = rationale
        self._proceed = proceed
        self.title = rationale.title
        self.note = note
        for paragraph in rationale.body:
            self.ids.card.ids.body.add_widget(Factory.SdkText(content=paragraph))

    def go_on(self) -> None:
        """继续: the system prompt follows (or, on a desktop, the grant)."""
        self._decide(True)

    def later(self) -> None:
        """暂不: no prompt; nothing is recorded; the rest of the app carries on."""
        self._decide(False)

    def _decide(self, go: bool) -> None:
        if self.busy or self.decision:
            return  # a double tap
        self.busy = True
        self.decision = "continue" if go else "later"
        self.dismiss()
        self.dispatch("on_decided", go)
        if self._proceed is None:
            return
        from ...errors import SdkError

        try:
            self._proceed(go)
        except SdkError as exc:  # never into Kivy's event loop: that would end the app
            log.error("permission request failed after the rationale (%s)", type(exc).__name__)
            self.dispatch("on_error", exc)

    def on_decided(self, go: bool) -> None:
        """Default handler: nothing."""

    def on_error(self, exc: BaseException) -> None:
        """Default handler: nothing (the error is logged)."""


def _open(rationale: Rationale, proceed: Callable[[bool], None] | None,
          kwargs: dict[str, Any]) -> RationaleDialog:
    dialog = RationaleDialog(rationale, proceed, **kwargs)
    dialog.open()
    return dialog


def show_rationale(rationale: Rationale, proceed: Callable[[bool], None], **kwargs: Any
                   ) -> RationaleDialog | None:
    """Open a :class:`RationaleDialog` for *rationale*; ``proceed(go)`` runs with the answer.

    The ``rationale=`` callback of :meth:`sdk.permissions.Permissions.request`. Called on
    Kivy's main thread it opens the dialog at once and returns it; called on another thread
    (a request made from a worker) it opens it on the main thread at the next frame and
    returns ``None``. *kwargs* go to :class:`RationaleDialog` (``note=``, ``continue_text=``,
    ``on_error=``).
    """
    if threading.current_thread() is threading.main_thread():
        return _open(rationale, proceed, kwargs)
    _on_ui(_open, rationale, proceed, kwargs)
    return None


def rationale_dialog(**options: Any) -> Callable[[Rationale, Callable[[bool], None]], Any]:
    """A ``rationale=`` callback that opens :class:`RationaleDialog` with *options* (``note=``,
    ``continue_text=``, ``later_text=``, ``tag_text=``, ``on_error=`` called as
    ``on_error(dialog, exc)``)."""

    def callback(rationale: Rationale, proceed: Callable[[bool], None]) -> Any:
        return show_rationale(rationale, proceed, **options)

    return callback
