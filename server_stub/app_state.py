"""The stores a stub app makes on first use and keeps in ``app.state`` (:func:`per_app`)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["per_app"]

T = TypeVar("T")

# Reentrant: making one store may make another first (the agency stand-in needs the
# real-name store).
_LOCK = threading.RLock()


def per_app(app: Any, name: str, make: Callable[[Any], T]) -> T:
    """``app.state.<name>``, made once by ``make(app.state)`` on first use (thread-safe: two
    requests arriving together get the same object)."""
    state = app.state
    made = getattr(state, name, None)
    if made is None:
        with _LOCK:
            made = getattr(state, name, None)
            if made is None:
                made = make(state)
                setattr(state, name, made)
    return made
