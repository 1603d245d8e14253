"""docs/api.md is what scripts/api_reference.py generates from the public API's docstrings
(as tests/test_docs.py checks docs/obligations.md against the tests' tags)."""

from __future__ import annotations

import dataclasses
import importlib.util
import inspect
import re
import subprocess
import sys

from .doc_blocks import REPO


def _generator():
    spec = importlib.util.spec_from_file_location("api_reference", REPO / "scripts" / "api_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_checked_in_api_reference_is_the_generators_output():
    expected = _generator().generate()
    actual = (REPO / "docs" / "api.md").read_text(encoding="utf-8")
    assert actual == expected, "docs/api.md is out of date: run python scripts/api_reference.py --write"


def test_the_reference_covers_the_public_api():
    import sdk
    import sdk.ui.kivy

    text = (REPO / "docs" / "api.md").read_text(encoding="utf-8")
    for name in sdk.__all__:
        assert f"`{name}`" in text, name
    for name in sdk.ui.kivy.__all__:
        assert f"sdk.ui.kivy.{name}" in text, name
    for member in ("agree", "collect", "require", "rights", "realname", "store", "login"):
        assert f"### `{member}" in text, member
    assert "### `sdk.rights.facade`" in text and "RequestNotFound" in text


def _public_members(cls: type) -> set[str]:
    """The public members of *cls* from the class itself, not from the generator: its
    attributes and its bases', the annotated attributes and the dataclass fields."""
    names = {n for n in dir(cls) if not n.startswith("_")}
    for owner in cls.__mro__:
        names |= {n for n in inspect.get_annotations(owner) if not n.startswith("_")}
    if dataclasses.is_dataclass(cls):
        names |= {f.name for f in dataclasses.fields(cls) if not f.name.startswith("_")}
    return names


def _section(text: str, heading: str) -> str:
    start = text.index(f"\n{heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else len(text)]


def test_every_public_name_and_member_of_the_api_has_an_entry():  # QA review: api.md coverage
    import sdk

    text = (REPO / "docs" / "api.md").read_text(encoding="utf-8")
    missing = []
    for name in sdk.__all__:  # a section or a row of the error table, not only the __all__ line
        if not re.search(rf"^#+ `sdk\.{re.escape(name)}[`(]|^\| `{re.escape(name)}` \|", text, re.MULTILINE):
            missing.append(f"sdk.{name}")
    for cls in (sdk.PrivacySdk, sdk.SdkConfig):
        section = _section(text, f"## `sdk.{cls.__name__}`")
        for name in sorted(_public_members(cls)):
            if not re.search(rf"^### `{re.escape(name)}[`(: ]", section, re.MULTILINE):
                missing.append(f"sdk.{cls.__name__}.{name}")
    assert not missing, f"no entry in docs/api.md for {missing}"


def test_a_dataclass_field_shows_its_type_default_and_attributes_line():  # QA review: api.md fields
    import sdk

    section = _section((REPO / "docs" / "api.md").read_text(encoding="utf-8"), "## `sdk.SdkConfig`")
    assert "### `data_dir: Path` — field" in section
    assert "### `endpoint: str | None = None` — field" in section
    assert "### `clock: Callable[[], datetime.datetime] = _utcnow` — field" in section
    assert "(no docstring)" not in section
    assert "returns the current time as an aware UTC datetime" in section.split("### `clock")[1]
    storage_error = _section((REPO / "docs" / "api.md").read_text(encoding="utf-8"),
                             "## `sdk.PrivacySdk`").split("### `storage_error")[1].split("\n### ")[0]
    assert "in-memory" in storage_error and sdk.PrivacySdk.storage_error is None


def test_the_generator_is_deterministic_and_its_check_mode_agrees():
    proc = subprocess.run([sys.executable, "scripts/api_reference.py", "--check"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert " at 0x" not in (REPO / "docs" / "api.md").read_text(encoding="utf-8")
