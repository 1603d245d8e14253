"""The demo app's own privacy policy (``policy.md``) and its manifest (``manifest.toml``)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["POLICY_PATH", "MANIFEST_PATH", "load_demo_policy"]

POLICY_PATH = Path(__file__).with_name("policy.md")
MANIFEST_PATH = Path(__file__).with_name("manifest.toml")


def load_demo_policy():  # -> sdk.policy.Policy (imported lazily to keep imports light)
    """Load the demo policy with its manifest as a :class:`sdk.policy.Policy`."""
    from sdk.policy import load_policy

    return load_policy(POLICY_PATH, MANIFEST_PATH)
