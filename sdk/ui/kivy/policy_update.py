"""The policy-update dialog (PIPL art. 14 para. 2, 17 para. 2; OBL-UPD-1, OBL-UPD-2).

When the policy in force differs from the one the user agreed to,
:meth:`sdk.PrivacySdk.policy_update` lists the changes. :class:`PolicyUpdateDialog` shows them:

- **major changes** (first, each marked 重大变更 with its summary): the dialog says which
  processing stays paused until the user agrees, and what agreeing covers. 同意新版本 records
  the agreement (``privacy.agree()``); 暂不同意 records nothing, the paused processing stays
  paused, everything else goes on, and the dialog comes back next time. Continued use is
  never taken as consent.
- **minor changes only**: a notice; 知道了 notes that it was seen
  (``privacy.acknowledge_policy_update()``, not a consent).

Both have a link that opens the whole new policy. :func:`show_policy_update` opens the dialog
when it is due::

    from sdk.ui.kivy import show_policy_update

    show_policy_update(privacy, on_done=lambda result: ...)   # after the privacy prompt
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kivy.factory import Factory
from kivy.lang import Builder
from kivy.properties import BooleanProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from . import policy_view  # noqa: F401  (PolicyView for the kv rule below)
from .common import SdkDialog, failure_text, run_off_ui, scope_name, sync_in_background

if TYPE_CHECKING:  # pragma: no cover
    from ...core import PrivacySdk
    from ...policy.diff import PolicyDiff

__all__ = ["PolicyReaderDialog", "PolicyUpdateDialog", "UpdateEffects", "consequences",
           "show_policy_update", "update_effects"]

#: The ``method`` recorded when the user agrees in this dialog.
METHOD = "policy_update_dialog"

Builder.load_string(
    """
#:import Window kivy.core.window.Window

<PolicyUpdateDialog>:
    # as tall as its text, at most 92 % of the window (then the changes scroll)
    size_hint: 0.94, None
    height: min(Window.height * 0.92, card.text_height + update_read_policy.height + status.height + dp(46) + dp(8) * 3 + dp(4))
    SdkTextCard:
        id: card
        title: root.title
        body_spacing: dp(6)
        SdkLink:
            id: update_read_policy
            text: "阅读完整的新版隐私政策"
            on_release: root.read_policy()
        SdkText:
            id: status
            content: root.status
            color: 0.7, 0.1, 0.1, 1
            height: (self.texture_size[1] + dp(4)) if root.status else 0
        SdkButtonRow:
            height: dp(46) if root.major else 0
            opacity: 1 if root.major else 0
            disabled: root.busy or not root.major
            SdkButton:
                id: update_later
                text: "暂不同意"
                on_release: root.later()
            SdkPrimaryButton:
                id: update_agree
                text: "同意新版本"
                on_release: root.agree()
        SdkPrimaryButton:
            id: update_ack
            text: "知道了"
            opacity: 0 if root.major else 1
            disabled: root.busy or root.major
            height: 0 if root.major else dp(46)
            on_release: root.acknowledge()

<ChangeRow>:
    size_hint_y: None
    height: max(summary.height, dp(24))
    spacing: dp(8)
    BoxLayout:
        orientation: "vertical"
        size_hint_x: None
        width: tag.width
        padding: 0, dp(2), 0, 0
        SdkTag:
            id: tag
            text: root.tag
            tag_color: (0.70, 0.15, 0.12, 1) if root.major else (0.45, 0.45, 0.45, 1)
        Widget:
    SdkText:
        id: summary
        content: root.summary

<PolicyReaderDialog>:
    size_hint: 0.96, 0.94
    SdkCard:
        SdkTitle:
            content: root.title
        PolicyView:
            id: policy_view
            document: root.document
        SdkButton:
            id: reader_close
            text: "返回"
            on_release: root.dismiss()
"""
)


class ChangeRow(BoxLayout):
    """One change: a tag (重大变更 / 一般变更) and its summary."""

    tag = StringProperty("")
    summary = StringProperty("")
    major = BooleanProperty(False)


@dataclass(frozen=True)
class UpdateEffects:
    """What a policy update means for the user now, in names they know.

    Attributes:
        paused: purposes (names) whose processing is paused until the user agrees to the new
            version: consent purposes the agreement covers that a major change supersedes,
            or that are new.
        reask: separate consents (names) that a major change superseded; they are asked again
            in their own dialog the next time a feature needs them.
        covers: purposes (names) that agreeing to the new version consents to.
        basic_only: the user is not in full mode (only basic functions until they agree).
    """

    paused: tuple[str, ...]
    reask: tuple[str, ...]
    covers: tuple[str, ...]
    basic_only: bool


def update_effects(privacy: PrivacySdk, diff: PolicyDiff) -> UpdateEffects:
    """Which processing *diff* pauses, which separate consents it voids, what agreeing covers."""
    manifest = privacy.policy.manifest
    affected = diff.affected_purposes()
    covered = set(privacy.agreement_purposes())  # what agree() grants: never a switched-off one
    paused = tuple(
        str(p.name) for p in manifest.purposes
        if str(p.id) in covered and str(p.id) in affected
        and privacy.state(f"purpose:{p.id}").status in ("superseded", "not_asked"))
    reask = tuple(scope_name(privacy, s) for s in privacy.separate_scopes()
                  if privacy.state(s).status == "superseded")
    covers = tuple(str(p.name) for p in manifest.purposes if str(p.id) in covered)
    return UpdateEffects(paused, reask, covers, privacy.mode != "full")


def _quoted(names: tuple[str, ...]) -> str:
    return "「" + "」「".join(names) + "」"


def consequences(effects: UpdateEffects) -> list[str]:
    """The paragraphs of the major-change dialog that say what the update means for the user.

    What is paused (purposes) and which separate consents are asked again are said
    separately; "nothing is paused" is said only when neither is the case.
    """
    out = []
    if effects.basic_only:
        out.append("在您同意新版本之前，仅可使用基本功能（浏览、下载合同模板），"
                   "我们不会处理您的个人信息。")
    elif effects.paused:
        out.append(f"在您同意新版本之前，以下用途的处理保持暂停：{_quoted(effects.paused)}。")
    if effects.reask:
        out.append(f"您此前单独同意的{_quoted(effects.reask)}受变更影响，已暂停：在您再次单独"
                   "同意之前，我们不会进行相应处理；您使用相关功能时，我们会再次单独征求您的同意。")
    paused_any = effects.basic_only or bool(effects.paused) or bool(effects.reask)
    if not paused_any:
        out.append("这些变更目前没有暂停您已开启的处理；同意新版本后，相关处理将按新版本进行。")
    elif not effects.basic_only:
        out[-1] += "其他功能照常使用。"
    if effects.covers:
        out.append(f"点“同意新版本”即表示您同意我们按新版本为{_quoted(effects.covers)}"
                   "处理您的个人信息；您可随时在「隐私中心」逐项关闭。")
    if paused_any:
        later = "点“暂不同意”不会记录任何同意：上述暂停的处理保持暂停，"
    else:
        later = "点“暂不同意”不会记录任何同意，您已作出的选择保持不变；"
    out.append(later + "下次打开应用时我们会再次提示。我们不会把您继续使用应用视为同意。")
    return out


class PolicyUpdateDialog(SdkDialog):
    """Shows a policy update: major changes to agree to, or a notice of minor ones.

    Args:
        privacy: an open :class:`sdk.PrivacySdk`.
        diff: ``privacy.policy_update()`` (a :class:`sdk.policy.diff.PolicyDiff`).
        on_done: called on the UI thread after the dialog closed, with ``"agreed"`` (the
            agreement is on disk), ``"later"`` (nothing recorded) or ``"acknowledged"`` (minor
            changes seen; no consent recorded).

    Button ids: ``update_agree`` (同意新版本), ``update_later`` (暂不同意), ``update_ack``
    (知道了, minor changes only), ``update_read_policy`` (the link to the whole policy).

    Events:
        on_done(result): as ``on_done``.
    """

    title = StringProperty("")
    status = StringProperty("")
    major = BooleanProperty(False)
    busy = BooleanProperty(False)
    result = StringProperty("")
    diff = ObjectProperty(None)

    __events__ = ("on_done",)

    def __init__(self, privacy: PrivacySdk, diff: PolicyDiff,
                 on_done: Callable[[str], None] | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("dialog_name", "policy_update")
        super().__init__(**kwargs)
        self.privacy = privacy
        self.diff = diff
        self._on_done = on_done
        self.major = bool(diff.is_major)
        self.reader: PolicyReaderDialog | None = None
        self._build()

    # -- content --------------------------------------------------------------------------
    def _build(self) -> None:
        diff, body = self.diff, self.ids.card.ids.body
        text = Factory.SdkText
        versions = f"隐私政策已由 {diff.old_version} 版更新为 {diff.new_version} 版。"
        if self.major:
            self.title = "隐私政策有重大变更，请您确认"
            body.add_widget(text(content=versions + "以下标为“重大变更”的内容需要您重新同意；"
                                 "请阅读后选择是否同意。"))
        else:
            self.title = "隐私政策更新提示"
            body.add_widget(text(content=versions + "本次更新不涉及需要您重新同意的内容，"
                                 "您已作出的选择保持不变。"))
        for change in (*diff.major, *diff.minor):
            body.add_widget(ChangeRow(tag="重大变更" if change.major else "一般变更",
                                      summary=str(change.summary), major=bool(change.major)))
        if self.major:
            for paragraph in consequences(update_effects(self.privacy, self.diff)):
                body.add_widget(text(content=paragraph))

    # -- answers --------------------------------------------------------------------------
    def agree(self) -> None:
        """同意新版本: record the agreement to the policy in force, then close."""
        if self.busy or self.result:
            return
        self.busy = True
        self.status = ""
        privacy = self.privacy
        # offline first: the dialog closes once the agreement is on disk, then it is sent
        run_off_ui(lambda: privacy.agree(METHOD, sync=False), lambda _r: self._finish("agreed"),
                   self._failed, name="policy-update", then=sync_in_background(privacy))

    def later(self) -> None:
        """暂不同意: record nothing; what is paused stays paused."""
        if not self.busy and not self.result:
            self._finish("later")

    def acknowledge(self) -> None:
        """知道了 (minor changes): note that the notice was seen; no consent is recorded."""
        if self.busy or self.result:
            return
        self.busy = True
        privacy = self.privacy
        run_off_ui(privacy.acknowledge_policy_update, lambda _r: self._finish("acknowledged"),
                   self._failed, name="policy-update")

    def read_policy(self) -> None:
        """Open the whole policy in force on top of this dialog."""
        self.reader = PolicyReaderDialog(document=self.privacy.policy.document,
                                         title=f"隐私政策（{self.diff.new_version} 版）")
        self.reader.open()

    def _failed(self, exc: BaseException) -> None:
        self.busy = False
        self.status = failure_text(exc)

    def _finish(self, result: str) -> None:
        self.result = result
        self.dismiss()
        self.dispatch("on_done", result)
        if self._on_done is not None:
            self._on_done(result)

    def on_done(self, result: str) -> None:
        """Default handler: nothing."""


class PolicyReaderDialog(SdkDialog):
    """The whole policy (a :class:`~sdk.ui.kivy.policy_view.PolicyView`) with 返回
    (id ``reader_close``)."""

    document = ObjectProperty(None, allownone=True)
    title = StringProperty("隐私政策")

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("dialog_name", "policy_reader")
        super().__init__(**kwargs)


def show_policy_update(privacy: PrivacySdk, on_done: Callable[[str], None] | None = None,
                       ) -> PolicyUpdateDialog | None:
    """Open the :class:`PolicyUpdateDialog` when it is due: the policy changed since the user
    agreed and the change is major (until they agree), or minor and not yet acknowledged.

    Returns:
        the open dialog, or ``None`` when nothing is due (``on_done`` is not called then).
    """
    diff = privacy.policy_update()
    if diff is None or not diff:
        return None
    if not diff.is_major and not privacy.policy_update_notice_due():
        return None
    dialog = PolicyUpdateDialog(privacy, diff, on_done)
    dialog.open()
    return dialog
