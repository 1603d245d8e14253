"""Privacy SDK for Kivy apps: privacy prompt, consent ledger, policy, basic mode.

Quick start::

    from pathlib import Path
    from sdk import PrivacySdk, SdkConfig
    from sdk.policy import load_policy

    config = SdkConfig(data_dir=Path("app-data"), endpoint="https://api.example.cn",
                       ca_bundle=Path("ca.pem"))
    with PrivacySdk.open(config, load_policy(Path("policy/policy.md"))) as privacy:
        privacy.refresh_policy()
        if privacy.needs_prompt():
            ...  # show the policy; then privacy.agree() or privacy.disagree()
        privacy.require("esign_service")  # raises ConsentRequired unless granted

Everything public is importable from here and listed in ``__all__``; the names are loaded on
first use, so ``import sdk`` imports neither ``requests`` nor Kivy, FastAPI, keyring or
markdown-it. Every error the SDK raises derives from :class:`SdkError` (tree in
:mod:`sdk.errors`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import errors as _errors
from .config import SdkConfig
from .errors import *  # noqa: F403  (small, dependency-free: the whole error tree is public)

__version__ = "0.1.0"

__all__ = ["PrivacySdk", "SdkConfig", "__version__", *_errors.__all__]

# name -> module that defines it; imported on first attribute access (PEP 562).
_LAZY: dict[str, str] = {"PrivacySdk": "sdk.core"}

if TYPE_CHECKING:  # pragma: no cover
    from .core import PrivacySdk


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sdk' has no attribute '{name}'")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # cache: later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
