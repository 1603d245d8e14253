"""Home screen of full mode (the user agreed to the policy)."""

from __future__ import annotations

from kivy.properties import BooleanProperty, StringProperty

from .base import BaseScreen


class HomeScreen(BaseScreen):
    status = StringProperty("")
    account = StringProperty("")
    logged_in = BooleanProperty(False)

    def on_pre_enter(self, *args) -> None:
        app = self.app
        app.refresh_state()
        version = app.sdk.policy.manifest.version
        sync = "已同步到服务器" if app.pending_sync == 0 else f"待同步 {app.pending_sync} 条（联网后自动同步）"
        self.status = f"您已同意隐私政策（版本 {version}）。同意记录：{sync}。"
        self.account = "正在检查登录状态…"
        self.run_in_background(app.sdk.me, self._account, self._no_account)

    def _account(self, account) -> None:
        self.logged_in = True
        self.account = f"已登录：{account.identifier_masked}"

    def _no_account(self, _message: str) -> None:
        self.logged_in = False
        self.account = "未登录"

    def logout(self) -> None:
        self.run_in_background(self.app.sdk.logout, lambda _r: self._no_account(""),
                               lambda message: setattr(self, "account", message))
