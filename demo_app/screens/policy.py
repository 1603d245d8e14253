"""Read-only view of the policy in force, reachable at any time (OBL-ACC-2: no account needed)."""

from __future__ import annotations

from kivy.properties import ObjectProperty

from .base import BaseScreen


class PolicyScreen(BaseScreen):
    document = ObjectProperty(None, allownone=True)

    def on_pre_enter(self, *args) -> None:
        self.document = self.app.sdk.policy.document

    def back(self) -> None:
        self.app.go(self.app.landing_screen())
