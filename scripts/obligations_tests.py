"""Refresh the "covering tests" column of docs/obligations.md from the `# OBL-…` tags that tests
carry on their `def` line. Status texts are written by hand; this only keeps the test list true.

Usage: python scripts/obligations_tests.py  (rewrites docs/obligations.md in place)
"""

from __future__ import annotations

import collections
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "obligations.md"


def signature_tags(pattern: str) -> dict[str, set[tuple[str, str]]]:
    """tag -> ``(path, test name)`` of every test under ``tests/`` whose ``def`` line (the
    signature up to its ``:``) carries the tag in its comment; *pattern* is a regular
    expression for the tags (e.g. ``OBL-[A-Z]+-\\d+``). Also used by the MASVS map test."""
    found: dict[str, set[tuple[str, str]]] = collections.defaultdict(set)
    for path in sorted((REPO / "tests").rglob("test_*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            match = re.match(r"\s*(?:async )?def (test_\w+)", line)
            if not match:
                continue
            signature, j = line, i
            while not signature.split("#")[0].rstrip().endswith(":") and j + 1 < len(lines):
                j += 1
                signature += lines[j]
            comment = signature.split("#", 1)[1] if "#" in signature else ""
            for tag in re.findall(pattern, comment):
                found[tag].add((str(path.relative_to(REPO)), match.group(1)))
    return found


def tagged_tests() -> dict[str, set[str]]:
    return {tag: {f"`{path}::{name}`" for path, name in tests}
            for tag, tests in signature_tags(r"OBL-[A-Z]+-\d+").items()}


def main() -> None:
    tests = tagged_tests()
    out = []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\| (OBL-[A-Z]+-\d+) \|", line)
        if match:
            cells = line.split(" | ")
            cells[-1] = ("<br>".join(sorted(tests.get(match.group(1), ()))) or "—") + " |"
            line = " | ".join(cells)
        out.append(line)
    DOC.write_text("\n".join(out) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
