"""The first screen on first launch: the SDK's privacy prompt."""

from __future__ import annotations

from sdk.ui.kivy import PrivacyPrompt

from .base import BaseScreen


class PromptScreen(BaseScreen):
    """Hosts :class:`sdk.ui.kivy.PrivacyPrompt`; a decision moves the app on."""

    def on_pre_enter(self, *args) -> None:
        if self.children and self.app.sdk.mode == "undecided":
            # back to the first launch (e.g. after the account's cancellation): a fresh prompt
            self.clear_widgets()
        if not self.children:
            prompt = PrivacyPrompt(sdk=self.app.sdk)
            prompt.bind(on_decided=lambda _w, mode: self.app.on_privacy_decided(mode))
            self.add_widget(prompt)

    @property
    def prompt(self) -> PrivacyPrompt:
        return self.children[0]
