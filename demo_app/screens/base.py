"""Shared pieces of the demo's screens."""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from kivy.app import App
from kivy.clock import mainthread
from kivy.uix.screenmanager import Screen

log = logging.getLogger("demo_app")


class BaseScreen(Screen):
    """A screen with a light background and a helper to run SDK calls off the UI thread."""

    @property
    def app(self):
        return App.get_running_app()

    def run_in_background(self, work: Callable[[], Any], done: Callable[[Any], None],
                          failed: Callable[[str], None]) -> None:
        """Run ``work()`` on a worker thread; ``done(result)`` or ``failed(message)`` on the UI thread.

        Only :class:`sdk.errors.SdkError` messages are shown (they never carry personal data);
        anything else is logged by type and shown as a generic failure.
        """

        def runner() -> None:
            from sdk.errors import SdkError

            try:
                result = work()
            except SdkError as exc:
                _call(failed, str(exc))
                return
            except Exception as exc:  # noqa: BLE001 - a user never sees a traceback
                log.exception("unexpected error in %s", type(self).__name__)
                _call(failed, f"出错了（{type(exc).__name__}），请重试")
                return
            _call(done, result)

        threading.Thread(target=runner, name=f"{self.name}-worker", daemon=True).start()


@mainthread
def _call(fn: Callable[[Any], None], arg: Any) -> None:
    fn(arg)
