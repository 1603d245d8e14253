"""The demo app: a ScreenManager of screens that use only the SDK's public API."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from kivy.app import App
from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import NumericProperty, ObjectProperty, StringProperty
from kivy.uix.screenmanager import NoTransition, ScreenManager

from .screens import SCREENS

log = logging.getLogger("demo_app")

KV_DIR = Path(__file__).resolve().parent / "screens"
#: Seconds between two attempts to send pending consent records while some are pending.
SYNC_INTERVAL = 60.0

class DemoApp(App):
    """App state lives in properties here; screens read them and call the SDK through ``app``.

    Args:
        sdk: an open :class:`sdk.PrivacySdk`.
        devices: the camera and permission backend (:func:`demo_app.devices.setup_devices`);
            ``None`` chooses them here.
        script: optional autopilot steps (see :mod:`demo_app.autopilot`).
        report_path: where the autopilot writes its JSON report.
    """

    sdk = ObjectProperty(None)
    mode = StringProperty("undecided")       # undecided | full | basic, mirrors sdk.mode
    pending_sync = NumericProperty(0)
    title = "示例电子签 Demo e-Sign"

    def __init__(self, sdk, devices=None, script=None, report_path: Path | None = None,
                 **kwargs):
        super().__init__(**kwargs)
        self.sdk = sdk
        if devices is None:
            from .devices import setup_devices

            devices = setup_devices(sdk)
        self.devices = devices
        self.script = script
        self.report_path = report_path
        self.exit_code = 0
        self.history: list[str] = []
        self.autopilot = None
        self.update_dialog = None  # the policy-update dialog while it is open
        self.notices_open = False  # notice dialogs (breach, service ending) are on screen
        self._fetching_notices = False
        self._syncing = False  # a sync runs on a worker thread (never two at once)
        self._sync_event = None

    def build(self):
        for kv in sorted(KV_DIR.glob("*.kv")):
            Builder.load_file(str(kv))
        sm = ScreenManager(transition=NoTransition())
        for name, cls in SCREENS.items():
            sm.add_widget(cls(name=name))
        sm.bind(current=lambda _sm, name: self.history.append(name))
        self.refresh_state()
        first = "prompt" if self.sdk.needs_prompt() else self.landing_screen()
        sm.current = first
        if not self.history:
            self.history.append(first)
        return sm

    def on_start(self):
        Clock.schedule_once(self.check_policy_update, 0)
        # A permission switched off in the settings ends the app on Android and iOS: the next
        # start is when the SDK notices it (and records ``revoked``).
        Clock.schedule_once(lambda _dt: self.refresh_permissions(), 0)
        # Records made offline (or whose sending failed) go to the server on their own: now,
        # on resume and every SYNC_INTERVAL while some are pending (the home screen says so).
        Clock.schedule_once(self.sync_pending, 0)
        self._sync_event = Clock.schedule_interval(self.sync_pending, SYNC_INTERVAL)
        if self.script is not None:
            from .autopilot import Autopilot

            # Keep a strong reference: the Clock only holds bound methods weakly.
            self.autopilot = Autopilot(self, self.script, self.report_path)
            Clock.schedule_once(lambda _dt: self.autopilot.start(), 0.5)

    def on_stop(self):
        if self._sync_event is not None:
            self._sync_event.cancel()
            self._sync_event = None

    # -- pause and resume: permissions may have changed in the system settings meanwhile ----
    def on_pause(self) -> bool:
        return True  # keep running (Android): on_resume follows

    def on_resume(self) -> None:
        """Back from the background (e.g. from the system settings): re-check the permissions
        (a revoked one is recorded and announced, a running capture stops) and show them."""
        self.refresh_permissions()
        refresh = getattr(self.root.current_screen, "refresh", None) if self.root else None
        if callable(refresh):
            refresh()
        self.check_notices()
        self.sync_pending()

    # -- sending pending consent records ("待同步 N 条（联网后自动同步）" on the home screen) ----
    def sync_pending(self, *_args) -> None:
        """Once the privacy prompt is settled and the user agreed: when records are pending and
        no sync is running, ``privacy.sync()`` off the UI thread, then update the home screen.
        A failure (still offline) leaves them pending for the next try."""
        if self._syncing or self.sdk.needs_prompt() or self.sdk.mode != "full":
            return
        try:
            if not self.sdk.pending_sync():
                # e.g. the prompt's own background sync got there first: show it
                self._show_sync_state()
                return
        except Exception as exc:  # noqa: BLE001 - the next try asks again
            log.warning("pending records not counted (%s)", type(exc).__name__)
            return
        from sdk.ui.kivy.common import run_off_ui

        self._syncing = True
        run_off_ui(self.sdk.sync, self._synced, self._sync_failed, name="demo-sync")

    def _synced(self, _sent) -> None:
        self._syncing = False
        self._show_sync_state()

    def _sync_failed(self, exc: BaseException) -> None:
        self._syncing = False
        from sdk.errors import TlsError

        # a TLS refusal names only the server's host, the CA file and the fix (no personal
        # data): QA needs it to tell a wrong CA from a certificate naming another host
        detail = f"{type(exc).__name__}: {exc}" if isinstance(exc, TlsError) else type(exc).__name__
        log.warning("pending records not sent (%s); trying again later", detail)
        self._show_sync_state()

    def _show_sync_state(self) -> None:
        try:
            self.refresh_state()
        except Exception as exc:  # noqa: BLE001 - e.g. the SDK closed while the app stops
            log.warning("sync state not refreshed (%s)", type(exc).__name__)
            return
        if self.root is not None and self.root.current == "home":
            self.root.current_screen.refresh()

    def refresh_permissions(self) -> list:
        """``privacy.permissions.refresh()`` once the user agreed to the policy (before that
        nothing about permissions is recorded); the changes, or ``[]``."""
        from sdk.errors import SdkError

        if self.sdk.mode != "full":
            return []
        try:
            return self.sdk.permissions.refresh()
        except SdkError as exc:
            log.warning("permissions not refreshed (%s)", type(exc).__name__)
            return []

    def permission_facts(self) -> dict:
        """For the autopilot's probe: the permission backend and what it showed."""
        from .devices import backend_facts

        return backend_facts(self.sdk)

    def landing_screen(self) -> str:
        """Where the app opens once the user has decided: home, or the basic-mode template list."""
        return "home" if self.sdk.mode == "full" else "templates"

    def refresh_state(self) -> None:
        self.mode = self.sdk.mode
        self.pending_sync = self.sdk.pending_sync()

    def go(self, screen: str) -> None:
        self.root.current = screen

    def on_privacy_decided(self, mode: str) -> None:
        self.refresh_state()
        self.go(self.landing_screen())
        self.check_policy_update()
        self.sync_pending()

    def check_policy_update(self, *_args) -> None:
        """After the privacy prompt (or at start when it is not needed): show what changed in
        the policy since the user agreed, when a major change needs their agreement or a minor
        one has not been acknowledged (OBL-UPD-1, OBL-UPD-2)."""
        if self.sdk.needs_prompt() or self.update_dialog is not None:
            return
        from sdk.ui.kivy import show_policy_update

        self.update_dialog = show_policy_update(self.sdk, self._policy_update_done)
        if self.update_dialog is None:
            self.check_notices()

    def _policy_update_done(self, result: str) -> None:
        self.update_dialog = None
        self.refresh_state()
        refresh = getattr(self.root.current_screen, "refresh", None)
        if callable(refresh):
            refresh()
        self.check_notices()

    # -- notices: a personal-information breach (OBL-BR-1), the service ending (OBL-END-1) --
    def check_notices(self, *_args) -> None:
        """Once the privacy prompt is settled (and no policy-update dialog is open): fetch the
        notices off the UI thread, then show the SDK's :class:`NoticeDialog` for each one not
        acknowledged yet, one after another. Offline, the last fetched list is used."""
        if (self.sdk.needs_prompt() or self.update_dialog is not None or self.notices_open
                or self._fetching_notices):
            return
        from sdk.ui.kivy.common import run_off_ui

        self._fetching_notices = True
        run_off_ui(self.sdk.notices.fetch, self._show_notices, self._notices_not_fetched,
                   name="notices-fetch")

    def _notices_not_fetched(self, exc: BaseException) -> None:
        log.warning("notices not fetched (%s); showing the last list", type(exc).__name__)
        self._show_notices(None)

    def _show_notices(self, _notices) -> None:
        self._fetching_notices = False
        if self.root is not None and self.root.current == "home":
            self.root.current_screen.refresh()  # the service-ending banner
        if self.sdk.needs_prompt() or self.update_dialog is not None or self.notices_open:
            return
        from sdk.ui.kivy import show_notices

        self.notices_open = True
        show_notices(self.sdk, self._notices_done)

    def _notices_done(self, _acks) -> None:
        self.notices_open = False
        if self.root is not None and self.root.current == "home":
            self.root.current_screen.refresh()

    # -- the account cancelled (OBL-DSR-7) ---------------------------------------------------
    def after_cancellation(self, receipt) -> None:
        """The server cancelled the account and the device forgot it: back to the first
        launch, the privacy prompt (a fresh one)."""
        self.cancellation_receipt = receipt
        self.refresh_state()
        self.go("prompt" if self.sdk.needs_prompt() else self.landing_screen())

    def finish(self, code: int = 0) -> None:
        self.exit_code = code
        self.stop()

    def write_report(self, path: Path, data: dict) -> None:
        path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
