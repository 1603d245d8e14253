"""docs/obligations.md lists, for each row, exactly the tests that name it."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_obligations_table_lists_every_tagged_test():
    spec = importlib.util.spec_from_file_location("obl", REPO / "scripts" / "obligations_tests.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    doc = (REPO / "docs" / "obligations.md").read_text(encoding="utf-8")
    for tag, tests in module.tagged_tests().items():
        row = re.search(rf"^\| {tag} \|.*$", doc, re.M)
        assert row, f"{tag} is used by tests but has no row in docs/obligations.md"
        missing = [t for t in tests if t not in row.group(0)]
        assert not missing, f"run scripts/obligations_tests.py: {tag} misses {missing}"
