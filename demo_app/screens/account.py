"""Register or log in with a phone number or an email plus a password — nothing else
(OBL-ACC-1). "Remember me" is off by default and warns about shared devices (OBL-SEC-4)."""

from __future__ import annotations

from kivy.properties import BooleanProperty, StringProperty

from .base import BaseScreen


class AccountScreen(BaseScreen):
    registering = BooleanProperty(False)
    status = StringProperty("")
    strength = StringProperty("")
    busy = BooleanProperty(False)
    remember_warning = StringProperty("")

    def on_pre_enter(self, *args) -> None:
        from sdk.account import REMEMBER_ME_WARNING

        self.remember_warning = REMEMBER_ME_WARNING
        self.status = ""
        self.strength = ""
        self.ids.password.text = ""

    def toggle_mode(self) -> None:
        self.registering = not self.registering
        self.status = ""
        self.strength = ""

    def on_password_text(self, password: str) -> None:
        """Live strength feedback while registering; nothing is stored or sent."""
        if not self.registering or not password:
            self.strength = ""
            return
        from sdk.account import check_password

        check = check_password(password, user_inputs=(self.ids.identifier.text,))
        self.strength = "密码强度：可用" if check.ok else "密码强度不足：" + "；".join(check.reasons)

    def submit(self) -> None:
        identifier = self.ids.identifier.text.strip()
        password = self.ids.password.text
        remember = self.ids.remember.active
        sdk = self.app.sdk
        self.busy = True
        self.status = "请稍候…"
        if self.registering:
            work = lambda: (sdk.register(identifier, password), sdk.login(identifier, password, remember_me=remember))  # noqa: E731
        else:
            work = lambda: sdk.login(identifier, password, remember_me=remember)  # noqa: E731
        self.run_in_background(work, self._done, self._failed)

    def _done(self, _result) -> None:
        self.busy = False
        self.ids.password.text = ""
        self.app.refresh_state()
        self.app.go("home")

    def _failed(self, message: str) -> None:
        self.busy = False
        self.ids.password.text = ""
        self.status = message
