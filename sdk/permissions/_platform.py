"""Which platform are we on? Cheap checks that import no platform library that is missing."""

from __future__ import annotations

import importlib.util
import os
import sys

__all__ = ["has_module", "on_android", "on_ios"]


def has_module(name: str) -> bool:
    """*name* can be imported (found without importing it)."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def on_android() -> bool:
    """Running under python-for-android."""
    if "ANDROID_ARGUMENT" in os.environ or "ANDROID_PRIVATE" in os.environ:
        return True
    return hasattr(sys, "getandroidapilevel")


def on_ios() -> bool:
    """Running on iOS (kivy-ios sets ``sys.platform`` to ``ios`` from Python 3.13, and
    ``KIVY_BUILD=ios`` before)."""
    return sys.platform == "ios" or os.environ.get("KIVY_BUILD") == "ios"
