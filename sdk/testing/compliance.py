"""Compliance assertions for an app's own test suite (pytest or any other runner).

:func:`assert_compliant` runs the same check as ``python -m sdk.compliance DATA_DIR``
(:mod:`sdk.compliance`) over what a test made the app do, and fails the test with every
finding, one per line: collection or transfer before the privacy consent or after a
withdrawal, a permission asked for before consent, outside a feature that needs it, or again
within 48 hours of a refusal, and attempts at undeclared items. Put it at the end of a
scenario test::

    import datetime as dt
    from sdk import PrivacySdk, SdkConfig
    from sdk.testing.compliance import assert_compliant, findings

    def test_face_signing_flow_is_compliant(tmp_path):
        with PrivacySdk.open(SdkConfig(data_dir=tmp_path), load_my_policy()) as privacy:
            run_face_signing_flow(privacy)        # your app code, driven by the test
            assert_compliant(privacy)             # or assert_compliant(tmp_path)

    def test_camera_is_not_asked_again_at_once(tmp_path):
        with PrivacySdk.open(SdkConfig(data_dir=tmp_path), load_my_policy()) as privacy:
            deny_camera_then_reopen_app(privacy)
            kinds = [f.kind for f in findings(privacy)]
            assert "permission_reasked_within_48h" not in kinds

``target`` is the SDK's data folder or the :class:`sdk.PrivacySdk` itself (anything with
``.config.data_dir``); for a ``PrivacySdk`` the manifest of its policy is used, so
``permission_outside_feature`` is checked too. For a folder, pass ``manifest=`` or leave a
``policy.json`` in it (:func:`sdk.compliance.load_manifest_for`); otherwise that kind is not
checked. ``ignore=("undeclared_item",)`` leaves out kinds a test provokes on purpose.

To fail at the very moment of a violation instead (with the stack of the offending app
code), open the SDK with ``SdkConfig(..., strict=True)``: it raises
:class:`sdk.errors.ComplianceViolation`.

This module does not import pytest; a failed assertion is a plain :class:`AssertionError`.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..compliance import KINDS, REASK_WINDOW, Finding, check, load_manifest_for

if TYPE_CHECKING:  # pragma: no cover
    from ..policy.manifest import Manifest

__all__ = ["assert_compliant", "findings"]


def _resolve(target: Any, manifest: Manifest | None) -> tuple[Path, Manifest | None]:
    config = getattr(target, "config", None)
    if config is not None and hasattr(config, "data_dir"):
        data_dir = Path(config.data_dir)
        if manifest is None:
            manifest = getattr(getattr(target, "policy", None), "manifest", None)
    elif isinstance(target, (str, Path)):
        data_dir = Path(target)
    else:
        raise TypeError(
            "target must be the SDK's data folder (a path) or a PrivacySdk "
            f"(anything with .config.data_dir), got {type(target).__name__}")
    if manifest is None:
        manifest = load_manifest_for(data_dir)
    return data_dir, manifest


def findings(
    target: Any,
    *,
    ignore: Iterable[str] = (),
    manifest: Manifest | None = None,
    reask_window: _dt.timedelta = REASK_WINDOW,
) -> list[Finding]:
    """The findings for *target* (a data folder or a ``PrivacySdk``), without those whose
    kind is in *ignore*.

    Raises:
        ValueError: *ignore* names a kind that does not exist (a typo would hide nothing).
        TypeError: *target* is neither a path nor has ``.config.data_dir``.
        ConfigError, StorageError: as :func:`sdk.compliance.check`.
    """
    ignored = frozenset([ignore] if isinstance(ignore, str) else ignore)
    unknown = sorted(ignored - set(KINDS))
    if unknown:
        raise ValueError(f"ignore names unknown finding kind(s) {', '.join(unknown)}; "
                         f"kinds: {', '.join(KINDS)}")
    data_dir, manifest = _resolve(target, manifest)
    return [f for f in check(data_dir, manifest=manifest, reask_window=reask_window)
            if f.kind not in ignored]


def assert_compliant(
    target: Any,
    *,
    ignore: Iterable[str] = (),
    manifest: Manifest | None = None,
    reask_window: _dt.timedelta = REASK_WINDOW,
) -> None:
    """Fail with every finding, one per line, unless *target* has none (see the module
    documentation).

    Raises:
        AssertionError: there are findings; the message lists them, one per line.
    """
    found = findings(target, ignore=ignore, manifest=manifest, reask_window=reask_window)
    if found:
        lines = "\n".join(f"  {finding}" for finding in found)
        raise AssertionError(f"{len(found)} compliance finding(s):\n{lines}")
