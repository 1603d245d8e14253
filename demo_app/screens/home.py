"""Home screen of full mode (the user agreed to the policy)."""

from __future__ import annotations

from kivy.properties import StringProperty

from .base import BaseScreen


class HomeScreen(BaseScreen):
    status = StringProperty("")

    def on_pre_enter(self, *args) -> None:
        app = self.app
        app.refresh_state()
        version = app.sdk.policy.manifest.version
        sync = "已同步到服务器" if app.pending_sync == 0 else f"待同步 {app.pending_sync} 条（联网后自动同步）"
        self.status = f"你已同意隐私政策（版本 {version}）。同意记录：{sync}。"
