"""docs/api.md is what scripts/api_reference.py generates from the public API's docstrings
(as tests/test_docs.py checks docs/obligations.md against the tests' tags)."""

from __future__ import annotations

import importlib.util
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


def test_the_generator_is_deterministic_and_its_check_mode_agrees():
    proc = subprocess.run([sys.executable, "scripts/api_reference.py", "--check"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert " at 0x" not in (REPO / "docs" / "api.md").read_text(encoding="utf-8")
