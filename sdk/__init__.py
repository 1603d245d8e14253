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

from typing import TYPE_CHECKING

from . import errors as _errors
from ._lazy import lazy_exports
from .config import SdkConfig
from .errors import *  # noqa: F403  (small, dependency-free: the whole error tree is public)

__version__ = "0.1.0"

__all__ = ["PrivacySdk", "SdkConfig", "__version__", *_errors.__all__]

# name -> module that defines it; imported on first attribute access (PEP 562).
_LAZY: dict[str, str] = {"PrivacySdk": "sdk.core"}

if TYPE_CHECKING:  # pragma: no cover
    from .core import PrivacySdk


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
