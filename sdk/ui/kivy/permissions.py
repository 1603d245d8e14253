"""Permission callbacks on Kivy's main thread.

python-for-android and iOS answer a permission request on their own thread, and Kivy
widgets may only be touched on the main thread. Give the permission facade this
dispatcher, and every ``on_result`` and listener call runs on the next frame, on the main
thread::

    from sdk.ui.kivy.permissions import kivy_dispatcher
    privacy.permissions.dispatcher = kivy_dispatcher
"""

from __future__ import annotations

from collections.abc import Callable

from kivy.clock import Clock

__all__ = ["kivy_dispatcher"]


def kivy_dispatcher(fn: Callable[[], None]) -> None:
    """Run *fn* on Kivy's main thread at the next frame (``Clock.schedule_once``, which is
    safe to call from any thread, as ``kivy.clock.mainthread`` does)."""
    Clock.schedule_once(lambda _dt: fn(), 0)
