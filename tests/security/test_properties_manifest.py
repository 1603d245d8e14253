"""Property-based tests of the policy manifest parser (MASVS-CODE-4; OBL-UPD-2).

The manifest reaches the SDK from the app bundle and from the server (``GET /v1/policy``), and
the stub reads its own with the same parser, so whatever the document, :mod:`sdk.policy.manifest`
either returns a :class:`~sdk.policy.manifest.Manifest` or raises
:class:`~sdk.errors.ManifestError`: never another exception (a ``KeyError`` or ``ValueError``
would escape every caller that handles the documented one). Documents are arbitrary text,
TOML-ish lines built from the manifest's own keys and arbitrary TOML values, and the demo
app's real manifest with lines deleted, duplicated, moved, cut or given another value, which
reaches the deep checks (references, separate consent, retention).

What an error says about the document is bounded: a string value is quoted at most 60
characters long (longer ones are cut, so a long text is never echoed whole), and an array or
a table is named by its type, never printed.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from sdk.errors import ManifestError
from sdk.policy.manifest import Manifest, manifest_from_json, parse_manifest

from .conftest import BOUNDED, DEMO_POLICY_DIR

DEMO_TEXT = (Path(DEMO_POLICY_DIR) / "manifest.toml").read_text(encoding="utf-8")
DEMO_LINES = DEMO_TEXT.splitlines()
DEMO_JSON = parse_manifest(DEMO_TEXT).to_json()

_KEYS = ["version", "effective_date", "language", "major_changes", "id", "name",
         "description", "lawful_basis", "separate_consent", "required_for", "category",
         "sensitive", "purposes", "retention", "recipients", "permission", "contact",
         "purpose", "items", "transfer_method", "contact_email", "address", "phone"]
_HEADERS = ["[controller]", "[[purposes]]", "[[data_items]]", "[[recipients]]",
            "[[features]]", "[controller.extra]", "[purposes]"]


def _toml_string(text: str) -> str:
    return json.dumps(text)  # a TOML basic string (a lone surrogate makes it invalid TOML)


_SCALARS = st.one_of(
    st.text(max_size=30).map(_toml_string),
    st.sampled_from(["consent", "contract", "P30D", "P1Y6M", "PT12H", "P", "until_account_cancelled",
                     "account", "camera", "zh-CN", "a@b.c", "2026.11"]).map(_toml_string),
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(
        lambda f: "nan" if f != f else ("inf" if f == float("inf") else
                                        "-inf" if f == float("-inf") else repr(f))),
    st.booleans().map(lambda b: "true" if b else "false"),
    st.dates().map(dt.date.isoformat),
    st.datetimes(timezones=st.none() | st.timezones()).map(dt.datetime.isoformat),
    st.times().map(dt.time.isoformat),
)
TOML_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda items: "[" + ", ".join(items) + "]"),
        st.dictionaries(st.sampled_from(_KEYS), inner, max_size=3).map(
            lambda d: "{ " + ", ".join(f"{k} = {v}" for k, v in d.items()) + " }"),
    ),
    max_leaves=8,
)
TOML_LINES = st.one_of(
    st.builds(lambda k, v: f"{k} = {v}", st.sampled_from(_KEYS), TOML_VALUES),
    st.sampled_from(_HEADERS),
    st.text(max_size=40),
)


def _parses_or_manifest_error(text: str) -> ManifestError | None:
    try:
        result = parse_manifest(text)
    except ManifestError as error:
        return error
    assert isinstance(result, Manifest)
    return None


@BOUNDED
@given(text=st.text(max_size=300))
def test_any_text_is_a_manifest_or_a_manifest_error(text: str) -> None:  # MASVS-CODE-4
    _parses_or_manifest_error(text)


@BOUNDED
@given(lines=st.lists(TOML_LINES, max_size=25))
def test_any_toml_ish_document_is_a_manifest_or_a_manifest_error(lines: list[str]) -> None:  # MASVS-CODE-4
    _parses_or_manifest_error("\n".join(lines))


@st.composite
def mutated_demo(draw: st.DrawFn) -> str:
    """The demo manifest with one to three edits (a delete, a duplicate, a move, a new value
    for a key, a new line, or a cut)."""
    lines = list(DEMO_LINES)
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(lines) - 1))
        edit = draw(st.sampled_from(["delete", "duplicate", "move", "value", "insert", "cut"]))
        if edit == "delete":
            del lines[at]
        elif edit == "duplicate":
            lines.insert(at, lines[at])
        elif edit == "move":
            lines.insert(draw(st.integers(0, len(lines) - 1)), lines.pop(at))
        elif edit == "value" and " = " in lines[at]:
            lines[at] = lines[at].split(" = ")[0] + " = " + draw(TOML_VALUES)
        elif edit == "insert":
            lines.insert(at, draw(TOML_LINES))
        elif edit == "cut":
            text = "\n".join(lines)
            return text[: draw(st.integers(0, len(text)))]
    return "\n".join(lines)


@BOUNDED
@given(text=mutated_demo())
def test_a_mutated_demo_manifest_is_a_manifest_or_a_manifest_error(text: str) -> None:  # MASVS-CODE-4
    _parses_or_manifest_error(text)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63) | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


@st.composite
def mutated_demo_json(draw: st.DrawFn) -> object:
    """The demo manifest's wire form (``GET /v1/policy``) with one value replaced anywhere."""
    data = json.loads(json.dumps(DEMO_JSON))
    node: object = data
    while True:
        keys = list(node.keys()) if isinstance(node, dict) else list(range(len(node)))  # type: ignore[arg-type]
        if not keys:
            return data
        key = draw(st.sampled_from(keys))
        child = node[key]  # type: ignore[index]
        if not isinstance(child, (dict, list)) or not child or draw(st.booleans()):
            node[key] = draw(JSON_VALUES)  # type: ignore[index]
            return data
        node = child


@BOUNDED
@given(data=mutated_demo_json())
def test_mutated_wire_manifest_data_is_a_manifest_or_a_manifest_error(data: object) -> None:  # MASVS-CODE-4
    try:
        result = manifest_from_json(data)  # type: ignore[arg-type]
    except ManifestError:
        return
    assert isinstance(result, Manifest)


@BOUNDED
@given(data=JSON_VALUES)
def test_any_json_value_is_a_manifest_error(data: object) -> None:  # MASVS-CODE-4
    try:
        manifest_from_json(data)  # type: ignore[arg-type]
    except ManifestError:
        return
    raise AssertionError("an arbitrary JSON value is not a manifest")


_LONG = st.text(alphabet=st.characters(codec="utf-8", exclude_characters='"\\'), min_size=61,
                max_size=120).filter(lambda s: s.strip() != s or " " in s or not s.isascii())


@BOUNDED
@given(line=st.sampled_from([n for n, text in enumerate(DEMO_LINES) if " = " in text]),
       secret=_LONG, in_array=st.booleans())
def test_a_long_value_is_never_echoed_whole_by_an_error(line: int, secret: str, in_array: bool) -> None:  # MASVS-CODE-4
    lines = list(DEMO_LINES)
    literal = _toml_string(secret)
    lines[line] = lines[line].split(" = ")[0] + " = " + (f"[{literal}]" if in_array else literal)
    error = _parses_or_manifest_error("\n".join(lines))
    if error is not None:
        assert secret not in str(error)
        assert secret[:61] not in str(error)


def test_an_integer_too_long_to_read_is_a_manifest_error() -> None:  # MASVS-CODE-4
    """Python refuses to read an integer of more than 4300 digits (CVE-2020-10735) with a
    plain ValueError, which tomllib lets through."""
    text = DEMO_TEXT.replace('version = "2026.11"', "version = " + "9" * 5000, 1)
    error = _parses_or_manifest_error(text)
    assert error is not None and "9" * 100 not in str(error)


_CHECKED_LINES = [n for n, text in enumerate(DEMO_LINES)
                  if text.split(" = ")[0] in ("id", "language", "contact_email", "retention")]
_STRICT = {"id": r"[a-z][a-z0-9_]*", "language": r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*",
           "contact_email": r"[^@\s]+@[^@\s]+\.[^@\s]+",
           "retention": r"until_account_cancelled|P[0-9YMWDTHS]+"}


@BOUNDED
@given(line=st.sampled_from(_CHECKED_LINES),
       suffix=st.sampled_from(["\n", "\r\n", "\r", "\t", " ", "\u2028", "\x00", "\x0b"]) | st.text(max_size=3))
def test_an_accepted_id_language_email_or_retention_matches_its_pattern_in_full(line: int, suffix: str) -> None:  # MASVS-CODE-4
    """Found by this property: ``re.match`` with ``$`` let ``"account\\n"`` through as an id,
    and the same for a language tag, the contact email and a retention."""
    key, literal = DEMO_LINES[line].split(" = ", 1)
    lines = list(DEMO_LINES)
    lines[line] = f"{key} = " + _toml_string(json.loads(literal) + suffix)
    try:
        manifest = parse_manifest("\n".join(lines))
    except ManifestError:
        return
    values = {"language": [manifest.language], "contact_email": [manifest.controller.contact_email],
              "id": [x.id for group in (manifest.purposes, manifest.data_items, manifest.recipients,
                                        manifest.features) for x in group],
              "retention": [str(item.retention) for item in manifest.data_items]}[key]
    assert all(re.fullmatch(_STRICT[key], value) for value in values), values
