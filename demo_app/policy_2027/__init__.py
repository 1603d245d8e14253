"""The demo policy's next release (version 2027.01) with two major changes, for QA to see the
policy-update dialog: run the demo once with the bundled policy and agree, then again with
``--policy demo_app/policy_2027/policy.md`` (docs/consent.md "Kivy widgets")."""

from __future__ import annotations

from pathlib import Path

__all__ = ["MANIFEST_PATH", "POLICY_PATH"]

POLICY_PATH = Path(__file__).with_name("policy.md")
MANIFEST_PATH = Path(__file__).with_name("manifest.toml")
