"""PEP 562 lazy exports, so ``import sdk`` and its packages load nothing heavy until used."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, names: Mapping[str, str],
                 namespace: dict[str, Any]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Module-level ``__getattr__`` and ``__dir__`` for *package*.

    Args:
        package: the package's ``__name__`` (for the AttributeError message).
        names: exported name -> module that defines it; imported on first attribute access.
        namespace: the package's ``globals()``; a name, once imported, is cached there so
            later lookups skip ``__getattr__``.

    Use: ``__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())``.
    """

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module '{package}' has no attribute '{name}'")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(namespace.get("__all__", ())))

    return __getattr__, __dir__
