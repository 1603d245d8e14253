"""The policy Markdown → document model (sdk/policy/document.py) and the Policy wrapper.

Covers: the real (seed) policy and the demo app's policy parse into 8 anchored sections with
a resolving table of contents and every bold passage (OBL-UPD-1: the policy the user sees is
exactly the published one, complete; bold passages are what the law wants highlighted).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sdk.errors import PolicyError
from sdk.policy import Block, Policy, PolicyDocument, Span, TocEntry, load_manifest, load_policy
from sdk.policy.document import parse_policy

REPO = Path(__file__).resolve().parents[2]
SEED = REPO.parent / "shared" / "seed" / "000_105f4bc9759c57dd.txt"
DEMO_POLICY = REPO / "demo_app" / "policy" / "policy.md"
DEMO_MANIFEST = REPO / "demo_app" / "policy" / "manifest.toml"

ANCHORS = [f"privacy_{n}" for n in range(1, 9)]

# The seed's bold passage that closes right after "。" and is followed directly by text
# ("…及时保障用户权益。**如您在使用…"): CommonMark's flanking rules cannot close it.
SEED_BOLD_AFTER_FULL_STOP = (
    "请您知悉我们仅会出于合法、正当、必要、特定、明确的目的共享您的用户信息，并且只会共享"
    "提供服务所必要的用户信息。同时我们制定第三方供应商管理内控流程，定期对合作伙伴的服务、"
    "安全能力、舆情进行评估和监控，一旦发现我们的合作伙伴有违法违规行为，我们会予以核实后"
    "及时中止与这些第三方的合作，及时保障用户权益。"
)
# The demo policy's own case: "**注册时，…设置登录密码。**除此以外…".
DEMO_BOLD_AFTER_FULL_STOP = "注册时，您需要提供一个手机号码或电子邮箱地址作为登录账号，并设置登录密码。"


@pytest.fixture(scope="module")
def seed_text() -> str:
    if not SEED.is_file():
        pytest.skip(f"seed policy not available at {SEED}")
    return SEED.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def seed(seed_text: str) -> PolicyDocument:
    return parse_policy(seed_text)


@pytest.fixture(scope="module")
def demo_text() -> str:
    return DEMO_POLICY.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def demo(demo_text: str) -> PolicyDocument:
    return parse_policy(demo_text)


def _plain_commonmark_strong_runs(text: str) -> list[str]:
    """Bold runs found by markdown-it-py *without* the CJK plugin (straight from tokens)."""
    from markdown_it import MarkdownIt

    runs: list[str] = []
    for token in MarkdownIt("commonmark").parse(text):
        current: list[str] | None = None
        for child in token.children or []:
            if child.type == "strong_open":
                current = []
            elif child.type == "strong_close" and current is not None:
                runs.append("".join(current))
                current = None
            elif current is not None:
                current.append("\n" if child.type == "softbreak" else child.content)
    return runs


# ------------------------------------------------------------------------------ the seed


def test_seed_has_eight_level_two_sections_anchored_privacy_1_to_8(seed):  # OBL-UPD-1
    sections = [block for block in seed.headings() if block.level == 2]
    assert [block.anchor for block in sections] == ANCHORS


def test_seed_anchor_ids_map_to_their_heading_blocks(seed):
    anchors = seed.anchors()
    assert list(anchors) == ANCHORS
    assert all(seed.blocks[index].kind == "heading" for index in anchors.values())


def test_seed_anchor_link_leaves_no_text_in_heading(seed):
    first = seed.blocks[seed.anchors()["privacy_1"]]
    assert first.text == "一、我们如何收集和使用您的个人信息"


def test_seed_every_toc_link_resolves(seed):  # OBL-UPD-1
    toc = seed.toc()
    assert [entry.anchor for entry in toc] == ANCHORS
    assert toc[0] == TocEntry("1、我们如何收集和使用您的个人信息", "privacy_1")
    assert seed.problems() == []


def test_seed_has_exactly_21_strong_passages(seed):
    assert len(seed.strong_passages()) == 21


def test_seed_bold_closing_after_full_stop_followed_by_text_is_found(seed):
    assert SEED_BOLD_AFTER_FULL_STOP in seed.strong_passages()


def test_plain_commonmark_finds_only_20_which_is_why_the_cjk_plugin_is_used(seed_text):
    runs = _plain_commonmark_strong_runs(seed_text)
    assert len(runs) == 20
    assert SEED_BOLD_AFTER_FULL_STOP not in runs
    assert len(parse_policy(seed_text, cjk_friendly=False).strong_passages()) == 20


def test_seed_toc_soft_line_breaks_become_newline_spans(seed):
    toc_block = next(b for b in seed.blocks if any(s.href == "#privacy_1" for s in b.spans))
    assert toc_block.spans[0] == Span("本隐私政策将帮助您了解以下内容：\n")
    assert Span("\n") in toc_block.spans


# ------------------------------------------------------------------------- demo policy


def test_demo_policy_has_eight_level_two_sections_anchored(demo):  # OBL-UPD-1
    sections = [block for block in demo.headings() if block.level == 2]
    assert [block.anchor for block in sections] == ANCHORS
    assert any(block.level == 4 for block in demo.headings())


def test_demo_policy_toc_resolves(demo):  # OBL-UPD-1
    assert [entry.anchor for entry in demo.toc()] == ANCHORS
    assert demo.problems() == []


def test_demo_policy_opens_with_a_bold_paragraph(demo):
    first_bold = next(b for b in demo.blocks if b.kind == "paragraph" and b.spans[0].strong)
    assert demo.blocks.index(first_bold) < demo.anchors()["privacy_1"]
    assert all(span.strong for span in first_bold.spans)


def test_demo_policy_bold_after_full_stop_is_found_by_plugin_only(demo_text, demo):
    assert f"**{DEMO_BOLD_AFTER_FULL_STOP}**除此以外" in demo_text
    assert DEMO_BOLD_AFTER_FULL_STOP in demo.strong_passages()
    assert DEMO_BOLD_AFTER_FULL_STOP not in _plain_commonmark_strong_runs(demo_text)


def test_demo_policy_keeps_kivy_markup_characters_raw(demo_text, demo):
    for char in "[]&":
        assert char in demo_text
    plain = demo.plain_text()
    assert "条款[附件一]" in plain and "Q&A" in plain
    assert "&amp;" not in plain and "&bl;" not in plain


def test_demo_policy_is_not_a_copy_of_the_seed(demo, seed):
    """The demo policy is written in its own words: outside headings, it shares no run of
    18 characters with the seed (short runs like a list of data items are unavoidable)."""
    size = 18
    seed_text = seed.plain_text()
    seed_runs = {seed_text[i : i + size] for i in range(len(seed_text) - size + 1)}
    demo_text = "\n".join(b.text for b in demo.blocks if b.kind != "heading")
    shared = {demo_text[i : i + size] for i in range(len(demo_text) - size + 1)} & seed_runs
    assert shared == set()


def test_demo_policy_names_every_manifest_item_and_recipient(demo):  # OBL-SH-1, OBL-SEC-3
    manifest = load_manifest(DEMO_MANIFEST)
    plain = demo.plain_text()
    assert [i.name for i in manifest.data_items if i.name not in plain] == []
    assert [r.name for r in manifest.recipients if r.name not in plain] == []


def test_demo_policy_states_the_manifest_contact(demo):  # OBL-CON-1
    controller = load_manifest(DEMO_MANIFEST).controller
    plain = demo.plain_text()
    for value in (controller.name, controller.contact_email, controller.address):
        assert value in plain
    assert "15 个工作日" in plain  # OBL-DSR-8


def test_demo_policy_states_the_manifest_version(demo):  # OBL-UPD-1
    assert load_manifest(DEMO_MANIFEST).version in demo.plain_text()


# ---------------------------------------------------------------------- model details


def test_broken_toc_link_is_reported_not_raised():
    doc = parse_policy("[一、目录](#privacy_9)\n\n## 一、正文 [](id:privacy_1)\n")
    assert doc.toc() == []
    assert doc.problems() == ["link '一、目录' points to unknown anchor 'privacy_9'"]


def test_anchor_defined_twice_is_reported():
    doc = parse_policy("## A [](id:x)\n\n## B [](id:x)\n")
    assert doc.anchors() == {"x": 0}
    assert doc.problems() == ["anchor 'x' is defined twice (blocks 0 and 1)"]


def test_second_anchor_in_one_block_is_reported():
    doc = parse_policy("## A [](id:x) [](id:y)\n")
    assert doc.blocks[0].anchor == "x"
    assert any("'y' is ignored" in problem for problem in doc.problems())


@pytest.mark.parametrize("bad", ["", "   \n\t", None, b"# bytes"])
def test_empty_or_non_text_policy_raises(bad):
    with pytest.raises(PolicyError):
        parse_policy(bad)  # type: ignore[arg-type]


def test_strong_run_spanning_several_tokens_counts_once():
    doc = parse_policy("前文**第一行\n第二行，含*斜体*。**后文\n")
    assert doc.strong_passages() == ["第一行\n第二行，含斜体。"]
    assert Span("斜体", strong=True, emphasis=True) in doc.blocks[0].spans


def test_link_spans_keep_href_and_toc_joins_a_partly_bold_title():
    doc = parse_policy("[1、**重点**标题](#a)\n\n## 标题 [](id:a)\n")
    assert doc.blocks[0].spans[0] == Span("1、", href="#a")
    assert doc.toc() == [TocEntry("1、重点标题", "a")]


def test_empty_id_link_produces_no_span():
    doc = parse_policy("正文[](id:here)结尾\n")
    assert doc.blocks[0] == Block("paragraph", (Span("正文结尾"),), anchor="here")


def test_list_items_carry_depth_and_marker():
    doc = parse_policy("1. 一\n2. 二\n   - 子项\n")
    items = [(b.kind, b.level, b.marker, b.text) for b in doc.blocks]
    assert items == [
        ("list_item", 1, "1.", "一"),
        ("list_item", 1, "2.", "二"),
        ("list_item", 2, "•", "子项"),
    ]


def test_table_rows_join_cells_with_a_bar():
    doc = parse_policy("| 接收方 | 信息 |\n|---|---|\n| CA | **姓名** |\n")
    assert [(b.kind, b.text) for b in doc.blocks] == [
        ("table_row", "接收方 | 信息"),
        ("table_row", "CA | 姓名"),
    ]


def test_code_rule_and_heading_levels():
    doc = parse_policy("# 一\n\n###### 六\n\n---\n\n```\n[code] & more\n```\n")
    assert [(b.kind, b.level) for b in doc.blocks] == [
        ("heading", 1), ("heading", 6), ("rule", 0), ("code", 0),
    ]
    assert doc.blocks[-1].text == "[code] & more"


def test_raw_html_and_entities_stay_literal_text():
    doc = parse_policy("<b>粗</b> A&B &amp; \\[转义\\]\n")
    assert doc.plain_text() == "<b>粗</b> A&B & [转义]"


# ---------------------------------------------------------------------------- Policy


def test_import_sdk_policy_does_not_import_markdown_it():
    code = (
        "import sys, sdk.policy\n"
        "loaded = [m for m in sys.modules if m.startswith(('markdown_it', 'mdit_py'))]\n"
        "print(loaded)\n"
        "sys.exit(1 if loaded else 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_load_policy_reads_manifest_beside_the_policy_and_hashes_the_text():
    policy = load_policy(DEMO_POLICY)
    assert policy.manifest.version == "2026.11"
    import hashlib

    assert policy.sha256 == hashlib.sha256(DEMO_POLICY.read_bytes()).hexdigest()
    assert policy.document is policy.document  # parsed once
    assert len(policy.document.toc()) == 8


def test_load_policy_without_manifest_says_so(tmp_path):
    (tmp_path / "policy.md").write_text("# 政策\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="manifest.toml"):
        load_policy(tmp_path / "policy.md")


def test_policy_from_text_rejects_empty_text():
    manifest = load_manifest(DEMO_MANIFEST)
    with pytest.raises(PolicyError, match="empty"):
        Policy.from_text("  ", manifest)


def test_policy_wire_form_round_trips():  # OBL-UPD-1 (GET /v1/policy)
    policy = load_policy(DEMO_POLICY)
    payload = json.loads(json.dumps(policy.to_json(), ensure_ascii=False))
    assert set(payload) == {"version", "effective_date", "language", "text", "manifest", "sha256"}
    assert Policy.from_json(payload) == policy


def test_policy_wire_form_with_altered_text_is_rejected():
    payload = load_policy(DEMO_POLICY).to_json()
    payload["text"] += "\n追加的一句话。"
    with pytest.raises(PolicyError, match="SHA-256"):
        Policy.from_json(payload)
