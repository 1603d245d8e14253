"""docs/security.md, the MASVS map, stays true (MASVS-*: the map itself).

Its table has one row per OWASP MASVS v2 control (``MASVS-RESILIENCE-1..4`` as one row, out of
scope); each row cites its covering tests as `` `path::name` ``. These tests fail when a control
has no row, when a cited test does not exist (renamed or deleted: the map would rot), when a
row other than the out-of-scope one cites nothing, or when a test tags a control on its ``def``
line (``# MASVS-STORAGE-2, ...``) without being cited in that control's row.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import re

import pytest

from .conftest import REPO

DOC = REPO / "docs" / "security.md"

#: The controls of OWASP MASVS v2 (v2.0.0 / v2.1.0), by group.
CONTROLS = (
    *(f"MASVS-STORAGE-{n}" for n in (1, 2)),
    *(f"MASVS-CRYPTO-{n}" for n in (1, 2)),
    *(f"MASVS-AUTH-{n}" for n in (1, 2, 3)),
    *(f"MASVS-NETWORK-{n}" for n in (1, 2)),
    *(f"MASVS-PLATFORM-{n}" for n in (1, 2, 3)),
    *(f"MASVS-CODE-{n}" for n in (1, 2, 3, 4)),
    "MASVS-RESILIENCE-1..4",
    *(f"MASVS-PRIVACY-{n}" for n in (1, 2, 3, 4)),
)
_ROW = re.compile(r"^\| (MASVS-[A-Z]+-[0-9.]+) [^|]*\|(?P<what>[^|]*)\|(?P<tests>[^|]*)\|\s*$", re.M)
_CITED = re.compile(r"`(tests/[\w/]+\.py)::([\w:]+)`")
_TAG = re.compile(r"MASVS-[A-Z]+-\d+")


def parse(text: str) -> dict[str, tuple[str, list[tuple[str, str]]]]:
    """control -> (what the SDK does, [(path, test name)]) of a map's table."""
    found: dict[str, tuple[str, list[tuple[str, str]]]] = {}
    for match in _ROW.finditer(text):
        control = match.group(1)
        assert control not in found, f"{control} has two rows"
        found[control] = (match.group("what"), _CITED.findall(match.group("tests")))
    return found


@functools.cache
def rows() -> dict[str, tuple[str, list[tuple[str, str]]]]:
    """The rows of docs/security.md."""
    return parse(DOC.read_text(encoding="utf-8"))


def missing(cited: list[tuple[str, str]]) -> list[str]:
    """The cited tests that do not exist."""
    return [f"{path}::{name}" for path, name in cited
            if not (REPO / path).is_file() or name not in _defined(path)]


@functools.cache
def _defined(path: str) -> frozenset[str]:
    """``name`` and ``Class::name`` of every function defined in *path*."""
    tree = ast.parse((REPO / path).read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            names |= {f"{node.name}::{item.name}" for item in node.body
                      if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))}
    return frozenset(names)


def _tagged() -> dict[str, set[tuple[str, str]]]:
    """control -> tests that name it on their ``def`` line (scripts/obligations_tests.py reads
    the ``# OBL-…`` tags the same way)."""
    spec = importlib.util.spec_from_file_location("obligations_tests",
                                                  REPO / "scripts" / "obligations_tests.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.signature_tags(_TAG.pattern)


def test_every_masvs_v2_control_has_a_row() -> None:  # MASVS map
    assert [c for c in CONTROLS if c not in rows()] == []
    assert [c for c in rows() if c not in CONTROLS] == []


@pytest.mark.parametrize("control", [c for c in CONTROLS if not c.startswith("MASVS-RESILIENCE")])
def test_every_test_cited_for_the_control_exists(control: str) -> None:  # MASVS map
    _what, cited = rows()[control]
    assert cited, f"{control} cites no test"
    assert missing(cited) == [], f"docs/security.md cites tests that do not exist for {control}"


def test_the_resilience_row_says_out_of_scope_and_why() -> None:  # MASVS map
    what, cited = rows()["MASVS-RESILIENCE-1..4"]
    assert "Out of scope" in what and cited == []
    assert len(what) > 200  # a reason, not a bare "n/a"


def test_every_test_tagged_with_a_control_is_cited_in_its_row() -> None:  # MASVS map
    uncited = {tag: sorted(f"{p}::{n}" for p, n in tests if (p, n) not in rows().get(tag, ("", []))[1])
               for tag, tests in _tagged().items()}
    assert {tag: tests for tag, tests in uncited.items() if tests} == {}


def test_a_citation_of_a_test_that_does_not_exist_is_reported() -> None:  # MASVS map
    """The check itself, on a one-row map: a renamed test and a deleted file are both found."""
    text = ("| MASVS-CODE-4 (inputs) | validates |"
            " `tests/security/test_crypto.py::test_a_private_key_cannot_be_used_to_seal`<br>"
            "`tests/security/test_crypto.py::test_that_was_renamed`<br>"
            "`tests/security/test_gone.py::test_anything` |\n")
    _what, cited = parse(text)["MASVS-CODE-4"]
    assert missing(cited) == ["tests/security/test_crypto.py::test_that_was_renamed",
                              "tests/security/test_gone.py::test_anything"]
