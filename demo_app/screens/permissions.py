"""权限管理 (OBL-PERM-1..4): one row per OS permission the SDK knows (camera, photos, phone
state) with its status, when the app last asked, the last answer, the quiet window after a
refusal, the purpose and the features that use it, and 去设置 (the system settings) when only
the settings can change it. It reads ``privacy.permissions.statuses()`` after a ``refresh()``
when it opens and when the app resumes, and follows the facade's changes while shown (a
permission switched off during a capture shows at once).

On a desktop there is no system settings page for the app: the grant is the app's own
rationale dialog, so the row of a granted permission has 关闭 here instead
(``DesktopBackend.set_answer``, recorded by the SDK as ``revoked``), and the page's texts
(its intro, each row's hint from ``state_lines(..., backend=...)``) say so instead of sending
the user to the system settings.
"""

from __future__ import annotations

from typing import Any

from kivy.clock import Clock
from kivy.factory import Factory
from kivy.properties import ColorProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.utils import get_color_from_hex

from sdk.permissions.backend import settings_place_of
from sdk.ui.kivy.permissions import permission_name, state_lines

from .base import BaseScreen, confirm

#: Tag colours per status.
STATUS_COLOR = {
    "granted": "#188038", "limited": "#188038", "not_determined": "#80868b",
    "denied": "#b06000", "permanently_denied": "#c5221f", "restricted": "#5f6368",
    "unavailable": "#5f6368",
}


class PermissionRow(BoxLayout):
    """One permission: name and status tag, purpose, features, last asked, last answer."""

    title = StringProperty("")
    status_text = StringProperty("")
    status_color = ColorProperty([0.5, 0.5, 0.5, 1])
    purpose = StringProperty("")
    features = StringProperty("")
    asked = StringProperty("")
    answer = StringProperty("")
    quiet = StringProperty("")
    hint = StringProperty("")


#: The page's first line, per place where a permission is switched (settings_place_of).
INTRO = {
    "system": "本应用只在需要某项权限的功能中、先向您说明用途后才申请；您拒绝后不会反复弹窗，"
              "也不影响其他功能。您可随时在系统设置中开启或关闭。",
    "app": "本应用只在需要某项权限的功能中、先向您说明用途后才申请；您拒绝后不会反复弹窗，"
           "也不影响其他功能。桌面系统没有系统授权框：已允许的权限可随时在本页关闭。",
}


class PermissionsScreen(BaseScreen):
    status = StringProperty("")
    intro = StringProperty(INTRO["system"])
    backend_note = StringProperty("")
    camera_note = StringProperty("")

    def on_pre_enter(self, *args) -> None:
        self.status = ""
        self._remove = self.app.sdk.permissions.add_listener(self._changed)
        self._rebuild = Clock.create_trigger(lambda _dt: self.build_rows(), 0)
        self.refresh()

    def on_leave(self, *args) -> None:
        remove = getattr(self, "_remove", None)
        if remove is not None:
            remove()
            self._remove = None

    def refresh(self) -> None:
        """Re-check the permissions (a change made in the settings is recorded), then show."""
        self.app.refresh_permissions()
        self.build_rows()

    def _changed(self, _change: Any) -> None:
        # On the UI thread already (kivy_dispatcher): one rebuild per frame.
        self._rebuild()

    def build_rows(self) -> None:
        from sdk.errors import SdkError

        app = self.app
        devices = app.devices
        self.backend_note = devices.permissions_note
        self.camera_note = devices.camera_note
        box = self.ids.rows
        box.clear_widgets()
        for name in [n for n in self.ids if n.startswith(("perm_", "open_settings_", "revoke_"))]:
            del self.ids[name]
        try:
            states = app.sdk.permissions.statuses()
        except SdkError as exc:
            from .base import describe_error

            self.status = f"无法读取权限状态：{describe_error(exc)}"
            return
        features = {str(f.id): str(f.name) for f in app.sdk.policy.manifest.features}
        backend = app.sdk.permissions.backend
        desktop = getattr(backend, "name", "") == "desktop"
        self.intro = INTRO[settings_place_of(backend)]
        self.states = states
        for permission, state in states.items():
            lines = state_lines(state, features, backend=backend)
            row = PermissionRow(title=lines["name"], status_text=lines["status"],
                                status_color=get_color_from_hex(
                                    STATUS_COLOR.get(str(state.status), "#80868b")),
                                purpose=lines["purpose"], features=lines["features"],
                                asked=lines["asked"], answer=lines["answer"],
                                quiet=lines["quiet"], hint=lines["hint"])
            self.ids[f"perm_row_{permission}"] = row
            self.ids[f"perm_status_{permission}"] = row.ids.tag
            if state.settings_needed:
                button = Factory.PrimaryButton(text="去设置", size_hint_x=None, width="120dp",
                                               height="40dp")
                button.bind(on_release=lambda _b, p=permission: self.open_settings(p))
                row.ids.buttons.add_widget(button)
                self.ids[f"open_settings_{permission}"] = button
            elif desktop and state.granted:
                button = Factory.QuietButton(text="关闭", size_hint_x=None, width="120dp",
                                             height="40dp")
                button.bind(on_release=lambda _b, p=permission: self.switch_off(p))
                row.ids.buttons.add_widget(button)
                self.ids[f"revoke_{permission}"] = button
            box.add_widget(row)

    def open_settings(self, permission: str) -> None:
        """去设置: the system settings page for *permission* (the user comes back: on_resume
        refreshes)."""
        from sdk.errors import SdkError

        name = permission_name(permission)
        try:
            opened = self.app.sdk.permissions.open_settings(permission)
        except SdkError as exc:
            from .base import describe_error

            self.status = f"无法打开系统设置：{describe_error(exc)}"
            return
        if not opened:
            self.status = (f"本系统没有可直接打开的应用权限设置页面：请在系统的隐私设置中开启{name}"
                           "（Linux 上需要当前用户能使用摄像头设备，例如加入 video 组）。")
        elif self.app.devices.scripted:
            self.status = f"已打开系统设置（QA 脚本权限后端：只记录了此操作）。返回本应用后会刷新{name}权限状态。"
        else:
            self.status = f"已打开系统设置。在设置中开启{name}权限后返回本应用，状态会自动刷新。"

    def switch_off(self, permission: str) -> None:
        """关闭 (desktop): the app's own switch; the SDK records ``revoked``."""
        name = permission_name(permission)

        def do() -> None:
            from .. import devices

            devices.set_permission(self.app.sdk, permission, "denied")
            self.status = f"已关闭{name}权限。需要时，相关功能会先向您说明用途再申请。"

        confirm(f"关闭{name}权限？",
                f"关闭后，需要{name}的功能（如刷脸签署）将无法使用；正在进行的录制会立即停止，"
                "之前已完成的不受影响。其他功能不受影响。", "关闭", do)

    def back(self) -> None:
        self.app.go(self.app.landing_screen())

    def probe_facts(self) -> dict:
        rows = {}
        for permission, state in getattr(self, "states", {}).items():
            rows[permission] = {
                "status": str(state.status),
                "status_text": self.ids[f"perm_status_{permission}"].text,
                "last_asked_at": state.last_asked_at,
                "last_answer": state.last_answer,
                "quiet": state.quiet_until is not None,
                "settings_button": f"open_settings_{permission}" in self.ids,
                "features": list(state.features),
            }
        return {"permissions": rows, "permissions_status": self.status,
                "permissions_intro": self.intro}
