"""Policy text → Kivy markup: escaping and highlighting (no window needed)."""

from __future__ import annotations

import pytest

pytest.importorskip("kivy")

from sdk.policy.document import Span, parse_policy  # noqa: E402
from sdk.ui.kivy.markup import displayed_text, reflow, render_document, render_spans  # noqa: E402


@pytest.mark.parametrize("text", ["条款[附件一]", "Q&A", "a [b]c[/b] d", "&bl; &amp; [ref=x]", "]["])
def test_markup_characters_are_shown_as_text(text):
    markup, _ = render_spans((Span(text),))
    assert displayed_text(markup) == text


def test_bold_runs_are_highlighted_and_counted():
    markup, runs = render_spans((Span("a"), Span("重要", strong=True), Span("。", strong=True), Span("b")))
    assert runs == 1
    assert "[b][color=" in markup
    assert displayed_text(markup) == "a重要。b"


def test_toc_links_become_refs_to_their_anchor():
    doc = parse_policy("[第一节](#privacy_1)\n\n## 第一节 [](id:privacy_1)\n\n正文\n")
    blocks = render_document(doc)
    assert "[ref=privacy_1]" in blocks[0].markup
    assert blocks[1].anchor == "privacy_1"


def _ten_px(text: str, bold: bool) -> float:
    return 10.0 * len(text)


def _lines(markup: str) -> list[str]:
    return displayed_text(markup).split("\n")


def test_reflow_keeps_a_bold_run_inside_its_line():
    (block,) = render_document(parse_policy("您需要提供**手机号码或邮箱**，上述信息为注册所必需。\n"))
    lines = _lines(reflow(block, 120, _ten_px))
    assert lines == ["您需要提供手机号码或邮", "箱，上述信息为注册所必", "需。"]


def test_reflow_never_starts_a_line_with_closing_punctuation():
    (block,) = render_document(parse_policy("一二三四五六七八九十，之后。\n"))
    lines = _lines(reflow(block, 100, _ten_px))
    assert not any(line.startswith(("，", "。")) for line in lines)
    assert "".join(lines) == "一二三四五六七八九十，之后。"


def test_reflow_keeps_latin_words_whole_and_drops_the_space_at_the_break():
    (block,) = render_document(parse_policy("由示例公司 (Demo e-Sign Co., Ltd.) 运营\n"))
    lines = _lines(reflow(block, 160, _ten_px))
    assert all(not line.endswith(" ") for line in lines)
    words = " ".join(lines).split()
    assert "(Demo" in words and "Ltd.)" in words  # UAX #14 breaks only between words


def test_reflow_keeps_escaping():
    (block,) = render_document(parse_policy("条款[附件一] Q&A 与 [b]不是标签[/b]\n"))
    markup = reflow(block, 80, _ten_px)
    assert "".join(displayed_text(markup).split()) == "条款[附件一]Q&A与[b]不是标签[/b]"
