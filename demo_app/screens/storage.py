"""Cookies and local storage: view, delete one, clear all, refuse persistent cookies
(OBL-CK-1..3). Only names, purposes, sizes and dates are shown — never values."""

from __future__ import annotations

from kivy.factory import Factory
from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from .base import BaseScreen, confirm


class StorageRow(BoxLayout):
    """One cookie: name and domain, purpose, size, expiry, and a delete button."""

    title = StringProperty("")
    detail = StringProperty("")
    __events__ = ("on_delete",)

    def on_delete(self) -> None:
        """Fired when the user taps 删除."""


def _when(value) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M") if value else "关闭应用时"


class StorageScreen(BaseScreen):
    status = StringProperty("")
    notice = StringProperty("")
    session_only = BooleanProperty(False)

    def on_pre_enter(self, *args) -> None:
        self.refresh()

    def refresh(self) -> None:
        sdk = self.app.sdk
        self.session_only = sdk.cookie_jar.session_only
        self.notice = ("本机没有可用的安全密钥存储（系统钥匙串），Cookie只保存在内存中，关闭应用即失效；"
                       "我们不会把它们以明文写入磁盘。" if sdk.storage_error is not None else "")
        cookies = self.ids.cookies
        cookies.clear_widgets()
        for info in sdk.cookie_jar.list():
            row = StorageRow()
            row.title = f"{info.name}  ·  {info.domain}"
            row.detail = f"用途：{self._purpose_name(info.purpose)}  ·  {info.size} 字节  ·  到期：{_when(info.expires)}"
            row.bind(on_delete=lambda _row, i=info: self.delete_cookie(i))
            cookies.add_widget(row)
        if not cookies.children:
            cookies.add_widget(Factory.BodyLabel(content="没有Cookie"))
        entries = self.ids.entries
        entries.clear_widgets()
        for entry in sdk.storage_entries():
            label = Factory.BodyLabel(font_size="13sp")
            label.content = (f"{entry.namespace}/{entry.key}  ·  用途：{self._purpose_name(entry.purpose)}"
                          f"  ·  {entry.size} 字节  ·  到期：{_when(entry.expires_at)}")
            entries.add_widget(label)
        if not entries.children:
            entries.add_widget(Factory.BodyLabel(content="没有本地数据"))

    def _purpose_name(self, purpose_id: str) -> str:
        try:
            return self.app.sdk.policy.manifest.purpose(purpose_id).name
        except Exception:  # noqa: BLE001 - an unknown id is shown as is
            return purpose_id

    def delete_cookie(self, info) -> None:
        def delete() -> None:
            self.app.sdk.cookie_jar.delete(info.name, info.domain, info.path)
            self.status = f"已删除 Cookie：{info.name}"
            self.refresh()

        confirm("删除 Cookie", f"删除“{info.name}”后您将退出登录，需要重新登录。", "删除", delete)

    def clear_cookies(self) -> None:
        def clear() -> None:
            self.app.sdk.cookie_jar.clear()
            self.status = "已清除全部Cookie。"
            self.app.refresh_state()
            self.refresh()

        confirm("清除全部 Cookie", "清除后您将退出登录，之前的设置需要重新填写。", "清除", clear)

    def toggle_session_only(self, active: bool) -> None:
        if active == self.app.sdk.cookie_jar.session_only:
            return
        self.app.sdk.cookie_jar.set_session_only(active)
        self.status = ("已拒绝持久 Cookie：登录状态只保留到关闭应用。" if active
                       else "已允许持久 Cookie。")
        self.refresh()

    def clear_all(self) -> None:
        def clear() -> None:
            self.app.sdk.clear_local_data()
            self.status = "已清除本机上的全部数据（Cookie、登录状态和加密存储）。"
            self.app.refresh_state()
            self.refresh()

        confirm("清除本机全部数据", "将删除本机保存的 Cookie、登录状态和加密数据，并退出登录；"
                "之前的设置需要重新填写。您的隐私政策选择会保留。", "全部清除", clear)
