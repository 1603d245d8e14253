"""The privacy centre (OBL-DSR-4, OBL-CON-1): the SDK's :class:`sdk.ui.kivy.PrivacyCentre`
with the demo's title bar, a line for the last action that succeeded, and 返回. A decision that
could not be stored is shown by the centre itself, under the row the user acted on."""

from __future__ import annotations

from kivy.properties import StringProperty

from sdk.ui.kivy import PrivacyCentre

from .base import BaseScreen


class PrivacyScreen(BaseScreen):
    status = StringProperty("")

    def on_pre_enter(self, *args) -> None:
        box = self.ids.centre_box
        if not box.children:
            centre = PrivacyCentre(privacy=self.app.sdk)
            # A failure is on the centre's own message line (in red): not here as well.
            centre.bind(status=lambda c, text: setattr(self, "status", "" if c.error else text),
                        on_mode=lambda _c, _mode: self.app.refresh_state())
            box.add_widget(centre)  # listens to the SDK while on screen
        else:
            self.centre.refresh()
        self.status = ""

    def on_leave(self, *args) -> None:
        # Off screen: stop listening (the centre re-attaches when shown again).
        self.ids.centre_box.clear_widgets()

    @property
    def centre(self) -> PrivacyCentre:
        return self.ids.centre_box.children[0]

    def back(self) -> None:
        self.app.go(self.app.landing_screen())

    def probe_facts(self) -> dict:
        ids = self.centre.ids if self.ids.centre_box.children else {}
        return {
            "switches": {name[len("switch_"):]: bool(w.active) for name, w in ids.items()
                         if name.startswith("switch_")},
            "contact_email": getattr(ids.get("contact_email"), "content", ""),
            "contact_address": getattr(ids.get("contact_address"), "content", ""),
            "centre_status": self.status,
            "centre_error": getattr(ids.get("centre_error"), "content", ""),
            "states": {name[len("state_"):]: w.content for name, w in ids.items()
                       if name.startswith("state_")},
        }
