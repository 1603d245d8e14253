"""Separate consent (PIPL art. 14, 23, 29): one dialog per scope, asked in context.

:class:`SeparateConsentDialog` shows the text :meth:`sdk.PrivacySdk.separate_consent` builds
from the manifest for **one** scope (a separate-consent purpose, a sensitive data item or a
third-party recipient) with two explicit buttons, 不同意 and 同意; nothing is pre-selected,
and tapping outside or pressing Back does not answer. The answer is written to the consent
ledger (off the UI thread) before the dialog closes and ``on_done`` runs.

:func:`ask_for_feature` asks, one dialog after another, for every consent a manifest feature
still needs (``PrivacySdk.missing_for_feature``), and reports whether all were granted::

    from sdk.ui.kivy import ask_for_feature

    def start_realname_signing():
        try:
            privacy.require_feature("realname_signing")
        except ConsentRequired:
            ask_for_feature(privacy, "realname_signing",
                            lambda granted: granted and start_realname_signing())
            return
        ...  # collect, through privacy.collect(...)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kivy.factory import Factory
from kivy.lang import Builder
from kivy.properties import BooleanProperty, StringProperty

from .common import SdkDialog, _on_ui, failure_text, run_off_ui, sync_in_background

if TYPE_CHECKING:  # pragma: no cover
    from ...consent.facade import SeparateConsent
    from ...core import PrivacySdk

__all__ = ["FeatureConsent", "SeparateConsentDialog", "ask_for_feature", "consent_text"]

#: The ``method`` recorded for answers given in these dialogs.
METHOD = "separate_consent_dialog"

Builder.load_string(
    """
#:import Window kivy.core.window.Window

<SeparateConsentDialog>:
    # as tall as its text, at most 90 % of the window (then the text scrolls)
    size_hint: 0.92, None
    height: min(Window.height * 0.9, card.text_height + status.height + dp(8) + dp(46) + dp(4))
    SdkTextCard:
        id: card
        tag_text: "单独同意 · 仅针对此一项"
        title: root.title
        SdkText:
            id: status
            content: root.status
            color: 0.7, 0.1, 0.1, 1
            height: (self.texture_size[1] + dp(4)) if root.status else 0
        SdkButtonRow:
            SdkButton:
                id: separate_disagree
                text: "不同意"
                disabled: root.busy
                on_release: root.disagree()
            SdkPrimaryButton:
                id: separate_agree
                text: "同意"
                disabled: root.busy
                on_release: root.agree()
"""
)


def _scope_of(scope: str) -> str:
    """The SDK's scope names: a bare id is ``purpose:<id>`` (as ``PrivacySdk.state``)."""
    if scope in ("policy", "guardian", "minors_notice") or ":" in scope:
        return scope
    return f"purpose:{scope}"


def consent_text(privacy: PrivacySdk, scope: str) -> SeparateConsent:
    """The title and paragraphs for *scope*'s dialog: :meth:`PrivacySdk.separate_consent`, or,
    for a consent purpose that the policy agreement normally covers (e.g. after the user
    switched it off), a text built from the manifest in the same shape.

    Raises:
        ConsentError: *scope* is not a scope a dialog can ask (``policy``, ``guardian``, ...)
            or is not declared in the manifest.
    """
    from ...consent.facade import SeparateConsent
    from ...errors import ConsentError

    scope = _scope_of(scope)
    try:
        return privacy.separate_consent(scope)
    except ConsentError:
        kind, _, ident = scope.partition(":")
        purposes = {str(p.id): p for p in privacy.policy.manifest.purposes}
        if kind != "purpose" or ident not in purposes or purposes[ident].lawful_basis != "consent":
            raise  # not a consent scope at all (e.g. a purpose on a contract basis)
        purpose = purposes[ident]
        features = {str(f.id): str(f.name) for f in privacy.policy.manifest.features}
        needed = [features.get(str(f), str(f)) for f in purpose.required_for]
        refuse = (f"如您不同意，仅「{'」「'.join(needed)}」无法使用，其他功能不受影响。" if needed
                  else "如您不同意，其他功能不受影响。")
        body = (f"目的：{purpose.name}：{purpose.description}。", refuse,
                "您可随时在「隐私中心」关闭对应开关撤回同意。撤回不影响撤回前基于同意已进行的处理。")
        return SeparateConsent(scope, f"同意：{purpose.name}", body, (ident,), (), ())


class SeparateConsentDialog(SdkDialog):
    """The dialog for one separate consent.

    Args:
        privacy: an open :class:`sdk.PrivacySdk` in full mode (the user agreed to the policy).
        scope: ``purpose:<id>``, ``item:<id>`` or ``recipient:<id>`` (a bare id means a
            purpose).
        on_done: called on the UI thread with ``True`` (granted) or ``False`` (declined) once
            the answer is on disk and the dialog has closed.
        method: the ``method`` written into the consent record.

    同意 calls ``privacy.grant(scope, method=...)``, 不同意 ``privacy.deny(scope, method=...)``
    (a decline of something granted before is a withdrawal). If the answer cannot be stored
    the dialog stays open, says so, and lets the user answer again; nothing was recorded.

    Events:
        on_decided(granted): as ``on_done``.

    Raises:
        ConsentError: *scope* cannot be asked in a dialog (see :func:`consent_text`).
    """

    scope = StringProperty("")
    title = StringProperty("")
    status = StringProperty("")
    busy = BooleanProperty(False)
    #: ``""`` until answered, then ``"granted"`` or ``"denied"``.
    decision = StringProperty("")

    __events__ = ("on_decided",)

    def __init__(self, privacy: PrivacySdk, scope: str,
                 on_done: Callable[[bool], None] | None = None, *, method: str = METHOD,
                 **kwargs: Any) -> None:
        text = consent_text(privacy, scope)
        kwargs.setdefault("dialog_name", text.scope)
        super().__init__(**kwargs)
        self.privacy = privacy
        self.method = method
        self.consent = text
        self._on_done = on_done
        self.scope = text.scope
        self.title = text.title
        for paragraph in text.body:
            self.ids.card.ids.body.add_widget(Factory.SdkText(content=paragraph))

    def agree(self) -> None:
        """同意: record ``granted`` for this scope only."""
        self._decide(True)

    def disagree(self) -> None:
        """不同意: record ``denied`` for this scope only (kept on the device)."""
        self._decide(False)

    def _decide(self, yes: bool) -> None:
        if self.busy or self.decision:
            return
        self.busy = True
        self.status = ""
        privacy, scope, method = self.privacy, self.scope, self.method
        if yes:
            def work() -> Any:
                return privacy.grant(scope, method=method, sync=False)
        else:
            def work() -> Any:
                return privacy.deny(scope, method=method, sync=False)
        # offline first: the dialog closes once the answer is on disk, then it is sent
        run_off_ui(work, lambda _record: self._done(yes), self._failed, name="separate-consent",
                   then=sync_in_background(privacy))

    def _failed(self, exc: BaseException) -> None:
        self.busy = False
        self.status = failure_text(exc)

    def _done(self, yes: bool) -> None:
        self.decision = "granted" if yes else "denied"
        self.dismiss()
        self.dispatch("on_decided", yes)
        if self._on_done is not None:
            self._on_done(yes)

    def on_decided(self, granted: bool) -> None:
        """Default handler: nothing."""


class FeatureConsent:
    """One run of :func:`ask_for_feature`: the scopes asked and each answer.

    Attributes:
        feature: the manifest feature.
        scopes: the scopes that were missing when it started, in the order asked.
        results: scope -> ``"granted"``, ``"denied"``, or for scopes no dialog can grant,
            ``"needs_policy"`` (show the privacy prompt) / ``"needs_guardian"``.
        dialog: the dialog open now, or ``None``.
        granted: ``None`` while running, then whether every scope was granted.
    """

    def __init__(self, privacy: PrivacySdk, feature: str,
                 on_done: Callable[[bool], None] | None, method: str) -> None:
        self.privacy = privacy
        self.feature = feature
        self.method = method
        self.results: dict[str, str] = {}
        self.dialog: SeparateConsentDialog | None = None
        self.granted: bool | None = None
        self._on_done = on_done
        self.scopes = tuple(privacy.missing_for_feature(feature))
        self._queue = [s for s in self.scopes if s not in ("policy", "guardian")]

    def start(self) -> None:
        for scope, reason in (("policy", "needs_policy"), ("guardian", "needs_guardian")):
            if scope in self.scopes:
                # The privacy prompt (or the guardian form) comes first; nothing else can be
                # granted before it, so no separate dialog is shown.
                self.results[scope] = reason
                _on_ui(self._finish, False)
                return
        self._next()

    def _next(self) -> None:
        if not self._queue:
            self._finish(True)
            return
        scope = self._queue.pop(0)
        if self.privacy.state(scope).granted:  # granted meanwhile (another device, the centre)
            self.results[scope] = "granted"
            self._next()
            return
        self.dialog = SeparateConsentDialog(self.privacy, scope, self._answered,
                                            method=self.method)
        self.dialog.open()

    def _answered(self, granted: bool) -> None:
        scope = self.dialog.scope if self.dialog is not None else ""
        self.dialog = None
        self.results[scope] = "granted" if granted else "denied"
        if not granted:
            # The feature cannot run without this one: do not go on asking for consents to
            # processing that will not happen (the remaining scopes stay as they were).
            self._finish(False)
            return
        self._next()

    def _finish(self, granted: bool) -> None:
        self.granted = granted
        if self._on_done is not None:
            self._on_done(granted)


def ask_for_feature(privacy: PrivacySdk, feature: str,
                    on_done: Callable[[bool], None] | None = None, *,
                    method: str = METHOD) -> FeatureConsent:
    """Ask for each consent *feature* still needs, one :class:`SeparateConsentDialog` per
    scope, in the order of ``privacy.missing_for_feature(feature)`` (purposes, sensitive
    items, recipients). Scopes granted meanwhile are skipped.

    ``on_done(granted)`` runs on the UI thread: ``True`` when every scope is granted (the
    feature may run; call ``require_feature`` again before collecting), ``False`` as soon as
    the user declines one (no further dialog is shown; the scopes not yet asked stay as they
    were), or at once when the user has not agreed to the privacy policy or a guardian's
    consent is missing: those are asked by the privacy prompt and the guardian form, not here.

    Returns:
        the :class:`FeatureConsent` (its ``results`` say what happened to each scope).

    Raises:
        ConsentError: *feature* is not declared in the manifest.
    """
    run = FeatureConsent(privacy, feature, on_done, method)
    run.start()
    return run
