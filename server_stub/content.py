"""What the stub serves besides records: the privacy policy and the contract templates."""

from __future__ import annotations

import datetime as _dt
import hashlib
import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "POLICY_TEXT",
    "POLICY_MANIFEST",
    "TEMPLATE_IDS",
    "TEMPLATE_MEDIA_TYPE",
    "PolicyDocument",
    "PolicyUnavailable",
    "Template",
    "load_policy",
    "load_templates",
]

POLICY_TEXT = "policy.md"
POLICY_MANIFEST = "manifest.toml"

#: The known template ids; an id outside this set is never turned into a file name.
TEMPLATE_IDS: tuple[str, ...] = ("employment", "lease", "loan")
TEMPLATE_MEDIA_TYPE = "text/markdown"


class PolicyUnavailable(Exception):
    """The policy folder lacks ``policy.md``/``manifest.toml`` or they are invalid.

    The message names the file and field, and never contains the policy folder's path
    (it is sent to clients).
    """


@dataclass(frozen=True)
class PolicyDocument:
    """The policy as served by ``GET /v1/policy``.

    Attributes:
        version, effective_date (ISO date ``YYYY-MM-DD``), language: from the manifest's
            top-level keys of the same names.
        text: ``policy.md``, Markdown, decoded as UTF-8 (line endings kept).
        manifest: ``manifest.toml`` as JSON-compatible data (dates and times as ISO strings).
        sha256: hex SHA-256 of ``text`` encoded as UTF-8.
    """

    version: str
    effective_date: str
    language: str
    text: str
    manifest: dict[str, Any]
    sha256: str


def _jsonable(value: Any) -> Any:
    """TOML data -> JSON data: dates/times become ISO strings, inf/nan become strings."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, (_dt.date, _dt.time)):  # datetime is a date
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _manifest_str(manifest: Mapping[str, Any], field: str) -> str:
    value = manifest.get(field)
    if not isinstance(value, str) or not value:
        raise PolicyUnavailable(f"{POLICY_MANIFEST}: top-level '{field}' must be a non-empty string")
    return value


def _effective_date(manifest: Mapping[str, Any]) -> str:
    value = manifest.get("effective_date")
    if isinstance(value, _dt.datetime):
        return value.date().isoformat()
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return _dt.date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise PolicyUnavailable(
        f"{POLICY_MANIFEST}: top-level 'effective_date' must be a date, e.g. 2026-11-30"
    )


def load_policy(policy_dir: Path) -> PolicyDocument:
    """Read ``policy.md`` and ``manifest.toml`` from ``policy_dir``.

    Read on every call, so an edited policy is served without a restart.

    Raises:
        PolicyUnavailable: a file is missing, not UTF-8, not valid TOML, or the manifest lacks
            ``version``/``effective_date``/``language``.
    """
    policy_dir = Path(policy_dir)
    try:
        raw_text = (policy_dir / POLICY_TEXT).read_bytes()
        raw_manifest = (policy_dir / POLICY_MANIFEST).read_bytes()
    except FileNotFoundError as exc:
        raise PolicyUnavailable(
            f"the policy folder has no {Path(str(exc.filename)).name}"
        ) from exc
    except OSError as exc:
        raise PolicyUnavailable(f"the policy files cannot be read ({exc.strerror})") from exc
    try:
        text = raw_text.decode("utf-8")
        manifest = tomllib.loads(raw_manifest.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise PolicyUnavailable("the policy files must be UTF-8") from exc
    except tomllib.TOMLDecodeError as exc:
        raise PolicyUnavailable(f"{POLICY_MANIFEST} is not valid TOML: {exc}") from exc
    return PolicyDocument(
        version=_manifest_str(manifest, "version"),
        effective_date=_effective_date(manifest),
        language=_manifest_str(manifest, "language"),
        text=text,
        manifest=_jsonable(manifest),
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
    )


@dataclass(frozen=True)
class Template:
    """One contract template.

    Attributes:
        id: one of :data:`TEMPLATE_IDS`.
        title: the text of its first line ``# ...``.
        summary: its first non-empty line after the title.
        body: the whole file, Markdown.
        data: the file's bytes (UTF-8); ``len(data)`` is the size served in the list.
    """

    id: str
    title: str
    summary: str
    body: str
    data: bytes


def _parse_template(template_id: str, data: bytes) -> Template:
    body = data.decode("utf-8")
    lines = [line.strip() for line in body.splitlines()]
    if not lines or not lines[0].startswith("# "):
        raise ValueError(f"template {template_id}.md must start with a '# title' line")
    summary = next((line for line in lines[1:] if line and not line.startswith("#")), "")
    if not summary:
        raise ValueError(f"template {template_id}.md needs a summary line after its title")
    return Template(id=template_id, title=lines[0][2:].strip(), summary=summary, body=body, data=data)


def load_templates() -> dict[str, Template]:
    """Load the bundled templates (``server_stub/templates_data/<id>.md``), keyed by id.

    Raises:
        ValueError: a bundled template lacks its title or summary line (a packaging bug).
        OSError: a bundled template is missing.
    """
    folder = resources.files("server_stub.templates_data")
    return {
        template_id: _parse_template(template_id, folder.joinpath(f"{template_id}.md").read_bytes())
        for template_id in TEMPLATE_IDS
    }
