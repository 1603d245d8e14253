"""The privacy policy: its Markdown text, parsed document and validated manifest.

A :class:`Policy` pairs the human-readable policy (Markdown, parsed on demand into a
render-neutral :class:`~sdk.policy.document.PolicyDocument`) with its machine-readable
:class:`~sdk.policy.manifest.Manifest` (TOML): purposes, data items, recipients, retention.

Importing this package stays cheap: the Markdown parser (markdown-it-py and the CJK plugin)
is imported the first time a document is parsed.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Mapping

from ..errors import ManifestError, PolicyError
from .document import Block, PolicyDocument, Span, TocEntry, parse_policy
from .manifest import (
    LAWFUL_BASES,
    MAJOR_CHANGE_KINDS,
    PERMISSIONS,
    UNTIL_ACCOUNT_CANCELLED,
    Controller,
    DataItem,
    Feature,
    Manifest,
    Purpose,
    Recipient,
    Retention,
    load_manifest,
    manifest_from_json,
    parse_manifest,
    parse_retention,
)

__all__ = [
    "Policy",
    "load_policy",
    # document
    "PolicyDocument",
    "Block",
    "Span",
    "TocEntry",
    "parse_policy",
    # manifest
    "Manifest",
    "Controller",
    "Purpose",
    "DataItem",
    "Recipient",
    "Feature",
    "Retention",
    "LAWFUL_BASES",
    "PERMISSIONS",
    "MAJOR_CHANGE_KINDS",
    "UNTIL_ACCOUNT_CANCELLED",
    "load_manifest",
    "parse_manifest",
    "manifest_from_json",
    "parse_retention",
    # errors, re-exported for convenience
    "PolicyError",
    "ManifestError",
]

MANIFEST_FILENAME = "manifest.toml"

log = logging.getLogger("sdk.policy")


def _check_text(text: Any) -> str:
    if not isinstance(text, str):
        raise PolicyError(
            f"the privacy policy must be Markdown text (str), got {type(text).__name__}"
        )
    if not text.strip():
        raise PolicyError("the privacy policy text is empty; give the policy's Markdown")
    return text


@dataclass(frozen=True)
class Policy:
    """One version of the privacy policy: Markdown text plus its manifest.

    Attributes:
        text: the policy in Markdown, exactly as published (its hash identifies it).
        manifest: the validated manifest.
    """

    text: str
    manifest: Manifest

    def __post_init__(self) -> None:
        _check_text(self.text)
        if not isinstance(self.manifest, Manifest):
            raise PolicyError(
                f"manifest must be a sdk.policy.Manifest, got {type(self.manifest).__name__}; "
                "load it with load_manifest() or parse_manifest()"
            )

    @classmethod
    def from_text(cls, text: str, manifest: Manifest) -> Policy:
        """Build a policy from Markdown text and an already loaded manifest.

        Raises:
            PolicyError: *text* is not a string or is empty, or *manifest* is not a Manifest.
        """
        return cls(text=text, manifest=manifest)

    @property
    def version(self) -> str:
        """The policy version, from the manifest."""
        return self.manifest.version

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of the UTF-8 text: identifies exactly what the user was shown."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @cached_property
    def manifest_sha256(self) -> str:
        """Hex SHA-256 of the manifest as canonical JSON (sorted keys, UTF-8). With
        :attr:`sha256` it identifies the policy exactly: a change made only in the manifest
        (a new recipient, a retention) is a new policy too (OBL-UPD-2)."""
        canonical = json.dumps(self.manifest.to_json(), sort_keys=True, ensure_ascii=False,
                               separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    @cached_property
    def document(self) -> PolicyDocument:
        """The text parsed into a :class:`PolicyDocument` (parsed once, on first use).

        When the document has :meth:`~PolicyDocument.problems` (a table-of-contents link to
        an anchor that does not exist, an anchor defined twice, ...), they are logged once, as
        a WARNING on the ``sdk.policy`` logger: the policy is still shown (a dangling link as
        plain text), but its author should fix the Markdown. The problems quote only the
        policy's own text (link titles, anchor ids), never personal data.
        """
        document = parse_policy(self.text)
        problems = document.problems()
        if problems:
            log.warning(
                "privacy policy %s (sha256 %s...) has %d problem(s) in its Markdown; fix the "
                "policy text: %s",
                self.manifest.version, self.sha256[:12], len(problems), "; ".join(problems),
            )
        return document

    def to_json(self) -> dict[str, Any]:
        """The ``GET /v1/policy`` answer body for this policy (docs/protocol.md)."""
        return {
            "version": self.manifest.version,
            "effective_date": self.manifest.effective_date.isoformat(),
            "language": self.manifest.language,
            "text": self.text,
            "manifest": self.manifest.to_json(),
            "sha256": self.sha256,
        }

    @classmethod
    def from_json(cls, payload: Mapping[str, Any], source: str = "GET /v1/policy") -> Policy:
        """Read a ``GET /v1/policy`` answer body; checks the hash and that the version,
        date and language agree with the manifest.

        Raises:
            PolicyError: a field is missing, or the sha256 or version does not match.
            ManifestError: the embedded manifest is invalid.
        """
        if not isinstance(payload, Mapping):
            raise PolicyError(f"{source}: the policy answer must be a JSON object")
        for key in ("version", "effective_date", "language", "text", "manifest", "sha256"):
            if key not in payload:
                raise PolicyError(f"{source}: the policy answer has no '{key}' field")
        manifest_data = payload["manifest"]
        if not isinstance(manifest_data, Mapping):
            raise PolicyError(f"{source}: 'manifest' must be a JSON object")
        manifest = manifest_from_json(manifest_data, file=f"{source} manifest")
        policy = cls.from_text(payload["text"], manifest)
        if policy.sha256 != str(payload["sha256"]).lower():
            raise PolicyError(
                f"{source}: the text's SHA-256 does not match the 'sha256' field; the policy "
                "was altered or truncated in transit"
            )
        for key, own in (
            ("version", manifest.version),
            ("effective_date", manifest.effective_date.isoformat()),
            ("language", manifest.language),
        ):
            if payload[key] != own:
                raise PolicyError(
                    f"{source}: '{key}' is {payload[key]!r} but the manifest says {own!r}"
                )
        return policy


def _read_policy_file(policy_file: Path) -> str:
    """The policy file's text, decoded as it is (line endings and all), so the sha256 matches
    the file's bytes. Raises PolicyError naming the file and saying how to fix it."""
    if not policy_file.exists():
        raise PolicyError(
            f"privacy policy file not found: {policy_file}; pass the path of the policy's "
            "Markdown file"
        )
    if policy_file.is_dir():
        raise PolicyError(
            f"privacy policy {policy_file} is a folder; pass the policy's Markdown file itself"
        )
    try:
        raw = policy_file.read_bytes()
    except OSError as exc:
        raise PolicyError(
            f"cannot read the privacy policy {policy_file}: {exc.strerror or exc}"
        ) from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise PolicyError(
            f"privacy policy {policy_file} is not UTF-8 text (first bad byte on line {line}); "
            "save it as UTF-8"
        ) from exc
    if not text.strip():
        raise PolicyError(
            f"privacy policy {policy_file} is empty; it must hold the policy's Markdown"
        )
    return text


def load_policy(policy_path: str | Path, manifest_path: str | Path | None = None) -> Policy:
    """Load a policy's Markdown file and its manifest.

    The policy file is checked first (it exists, is a file, is UTF-8, is not empty), then
    the manifest.

    Args:
        policy_path: the Markdown file (UTF-8).
        manifest_path: the manifest; defaults to ``manifest.toml`` beside the policy file.

    Raises:
        PolicyError: a file is missing or unreadable, or the text is empty.
        ManifestError: the manifest is invalid.
    """
    policy_file = Path(policy_path)
    text = _read_policy_file(policy_file)
    if manifest_path is None:
        manifest_file = policy_file.parent / MANIFEST_FILENAME
        if not manifest_file.is_file():
            raise PolicyError(
                f"no policy manifest beside {policy_file}: expected {manifest_file} "
                "(or pass manifest_path)"
            )
    else:
        manifest_file = Path(manifest_path)
    return Policy.from_text(text, load_manifest(manifest_file))
