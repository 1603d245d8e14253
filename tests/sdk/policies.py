"""Real policies for the SDK tests: the demo app's policy, and edited versions of it.

Edited versions are built the way an app's next policy release is: the same Markdown and
manifest with a change applied, parsed by the real ``sdk.policy`` code.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sdk.policy import Policy, load_policy
from sdk.policy.manifest import parse_manifest

POLICY_DIR = Path(__file__).resolve().parents[2] / "demo_app" / "policy"


def demo_policy() -> Policy:
    """The demo app's policy (policy.md + manifest.toml), version 2026.11."""
    return load_policy(POLICY_DIR / "policy.md")


def edited_policy(edit: Callable[[str], str], *, version: str = "2027.01",
                  text_note: str = "") -> Policy:
    """The demo policy with *edit* applied to the manifest TOML, a new version number and,
    when *text_note* is given, that sentence appended to the Markdown."""
    toml = (POLICY_DIR / "manifest.toml").read_text(encoding="utf-8")
    toml = toml.replace('version = "2026.11"', f'version = "{version}"', 1)
    text = (POLICY_DIR / "policy.md").read_text(encoding="utf-8")
    text = text.replace("2026.11", version)
    if text_note:
        text += f"\n{text_note}\n"
    return Policy.from_text(text, parse_manifest(edit(toml)))


def add_purpose(toml: str) -> str:
    """A new consent purpose without separate consent: 'analytics'."""
    return toml.replace("# -------------------------------------------------------------------------- data items", '''[[purposes]]
id = "analytics"
name = "使用情况分析"
description = "统计功能使用情况以改进产品"
lawful_basis = "consent"

# -------------------------------------------------------------------------- data items''', 1)


def longer_face_video_retention(toml: str) -> str:
    """face_video kept 90 days instead of 30 (a major retention change for that item)."""
    head, tail = toml.split('id = "face_video"', 1)
    return head + 'id = "face_video"' + tail.replace('retention = "P30D"', 'retention = "P90D"', 1)


def new_contact(toml: str) -> str:
    """The controller's privacy contact changes (affects everything)."""
    return toml.replace("privacy@demo-esign.example", "dpo@demo-esign.example", 1)


def reworded_purpose(toml: str) -> str:
    """Only the wording of a purpose's description changes (minor)."""
    return toml.replace('description = "答复您的咨询和留言，记录处理结果"',
                        'description = "答复您的咨询与留言，并记录处理结果"', 1)
