"""Which platform the app runs on, without importing Kivy or any platform library. The
checks are the permission layer's (:mod:`sdk.permissions._platform`), so the camera, the
device collectors and the permission backends always agree."""

from __future__ import annotations

import sys

from ..permissions._platform import has_module, on_android, on_ios

__all__ = ["has_module", "on_android", "on_ios", "platform"]


def platform() -> str:
    """``android``, ``ios``, ``linux``, ``macosx``, ``win`` or ``unknown`` (Kivy's names)."""
    if on_android():
        return "android"
    if on_ios():
        return "ios"
    if sys.platform.startswith("linux"):
        return "linux"
    if sys.platform == "darwin":
        return "macosx"
    if sys.platform in ("win32", "cygwin"):
        return "win"
    return "unknown"
