"""The running python-for-android activity, found one way by every Android part of the SDK
(permissions, the camera, screen protection). Imported only on Android, by code that already
imported pyjnius."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: Kivy's activity class, used when python-for-android's ``android.config`` is missing.
DEFAULT_ACTIVITY = "org.kivy.android.PythonActivity"


def current_activity(autoclass: Callable[[str], Any]) -> Any:
    """The app's activity (``<activity class>.mActivity``), or ``None`` when none runs (e.g.
    in a service).

    Args:
        autoclass: pyjnius's ``jnius.autoclass``.

    The class is python-for-android's ``android.config.ACTIVITY_CLASS_NAME`` (an app may rename
    its activity), else :data:`DEFAULT_ACTIVITY`.
    """
    try:
        from android.config import ACTIVITY_CLASS_NAME as name
    except ImportError:
        name = DEFAULT_ACTIVITY
    return autoclass(name).mActivity
