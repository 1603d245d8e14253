"""Loading a policy and its manifest: messages point at the real problem and read naturally;
a table-of-contents link to a missing anchor is plain text and is logged, not silent."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from sdk.errors import ManifestError, PolicyError
from sdk.policy import Policy, load_manifest, load_policy, parse_manifest
from sdk.policy.document import Span, parse_policy

REPO = Path(__file__).resolve().parents[2]
DEMO_MANIFEST = REPO / "demo_app" / "policy" / "manifest.toml"
BROKEN_TOC = "[一、目录](#privacy_9)\n\n## 一、正文 [](id:privacy_1)\n"


# --------------------------------------------------------------------- the policy file


def test_missing_policy_file_is_named_not_its_manifest(tmp_path):
    with pytest.raises(PolicyError) as caught:
        load_policy(tmp_path / "nope.md")
    message = str(caught.value)
    assert "not found" in message and str(tmp_path / "nope.md") in message
    assert "manifest" not in message


def test_policy_path_that_is_a_folder_says_so(tmp_path):
    (tmp_path / "policy.md").mkdir()
    with pytest.raises(PolicyError, match="is a folder"):
        load_policy(tmp_path / "policy.md", DEMO_MANIFEST)


def test_policy_that_is_not_utf8_says_to_save_it_as_utf8(tmp_path):
    (tmp_path / "policy.md").write_bytes("# 隐私政策\n".encode("gb18030"))
    with pytest.raises(PolicyError, match="save it as UTF-8"):
        load_policy(tmp_path / "policy.md", DEMO_MANIFEST)


def test_empty_policy_file_is_named_as_empty(tmp_path):
    (tmp_path / "policy.md").write_text(" \n\n", encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        load_policy(tmp_path / "policy.md", DEMO_MANIFEST)
    assert "empty" in str(caught.value) and str(tmp_path / "policy.md") in str(caught.value)


def test_policy_is_checked_before_the_manifest(tmp_path):
    (tmp_path / "policy.md").write_text("", encoding="utf-8")
    with pytest.raises(PolicyError, match="empty"):
        load_policy(tmp_path / "policy.md", tmp_path / "missing.toml")


# ------------------------------------------------------------------------ the manifest


def test_toml_syntax_error_message_reads_line_column_invalid_toml():
    with pytest.raises(ManifestError) as caught:
        parse_manifest("a b = 1\n", file="manifest.toml")
    assert str(caught.value) == (
        "manifest.toml: line 1, column 3: invalid TOML "
        "(Expected '=' after a key in a key/value pair)"
    )


def test_toml_syntax_error_keeps_manifest_error_attributes():
    with pytest.raises(ManifestError) as caught:
        parse_manifest("a b = 1\n", file="manifest.toml")
    error = caught.value
    assert (error.file, error.field, error.expected) == ("manifest.toml", "line 1", "valid TOML")
    assert (error.line, error.column) == (1, 3)
    assert error.problem == "Expected '=' after a key in a key/value pair"


def test_toml_error_at_the_end_names_the_last_line():
    with pytest.raises(ManifestError) as caught:
        parse_manifest('version = "1"\nname = "unterminated', file="m.toml")
    assert str(caught.value).startswith("m.toml: line 2 (end of the document): invalid TOML (")


def test_manifest_not_utf8_names_the_line_and_says_save_as_utf8(tmp_path):
    path = tmp_path / "manifest.toml"
    path.write_bytes('version = "1"\nname = "示例"\n'.encode("gb18030"))
    with pytest.raises(ManifestError) as caught:
        load_manifest(path)
    assert str(caught.value) == f"{path}: line 2: not UTF-8 text (save the file as UTF-8)"


def test_missing_manifest_file_says_not_found_and_names_it(tmp_path):
    with pytest.raises(PolicyError) as caught:
        load_manifest(tmp_path / "manifest.toml")
    assert "not found" in str(caught.value) and str(tmp_path / "manifest.toml") in str(caught.value)


# ----------------------------------------------------------- links to unknown anchors


def test_link_to_unknown_anchor_is_plain_text():
    doc = parse_policy(BROKEN_TOC)
    assert doc.blocks[0].spans == (Span("一、目录"),)


def test_link_to_unknown_anchor_is_still_reported_as_a_problem():
    doc = parse_policy(BROKEN_TOC)
    assert doc.problems() == ["link '一、目录' points to unknown anchor 'privacy_9'"]


def test_unlinking_keeps_the_good_links_of_the_same_block():
    doc = parse_policy("[坏](#nowhere)与[好](#a)\n\n## 标题 [](id:a)\n")
    assert doc.blocks[0].spans == (Span("坏与"), Span("好", href="#a"))


def test_policy_with_problems_logs_a_warning_listing_them(caplog):
    policy = Policy.from_text(BROKEN_TOC, load_manifest(DEMO_MANIFEST))
    with caplog.at_level(logging.WARNING, logger="sdk.policy"):
        _ = policy.document
    warnings = [r for r in caplog.records if r.name == "sdk.policy" and r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "points to unknown anchor 'privacy_9'" in warnings[0].getMessage()


def test_well_formed_policy_logs_no_warning(caplog):
    policy = Policy.from_text("[一](#a)\n\n## 一 [](id:a)\n", load_manifest(DEMO_MANIFEST))
    with caplog.at_level(logging.WARNING, logger="sdk.policy"):
        _ = policy.document
    assert [r for r in caplog.records if r.name == "sdk.policy"] == []
