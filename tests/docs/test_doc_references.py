"""Every test a doc names as ``tests/...py::test_name`` exists, and every link to a doc or
anchor-less file in docs/ resolves (threat model, QA guide, integration guide)."""

from __future__ import annotations

import re

import pytest

from .doc_blocks import REPO

DOCS = ["docs/threat-model.md", "docs/qa.md", "docs/integration.md", "docs/obligations.md"]
_TEST = re.compile(r"(tests/[\w/]+\.py)(?:::(test_\w+))?")
_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("doc", DOCS)
def test_every_named_test_exists(doc):
    text = (REPO / doc).read_text(encoding="utf-8")
    missing = []
    for path, name in set(_TEST.findall(text)):
        file = REPO / path
        if not file.exists():
            missing.append(path)
        elif name and not re.search(rf"^def {name}\(", file.read_text(encoding="utf-8"), re.M):
            missing.append(f"{path}::{name}")
    assert not missing, f"{doc} names tests that do not exist: {sorted(missing)}"


@pytest.mark.parametrize("doc", DOCS)
def test_every_relative_link_resolves(doc):
    base = (REPO / doc).parent
    broken = [t for t in _LINK.findall((REPO / doc).read_text(encoding="utf-8"))
              if "://" not in t and not (base / t).exists()]
    assert not broken, f"{doc}: {broken}"
