"""Policy text → Kivy markup: escaping and highlighting (no window needed)."""

from __future__ import annotations

import pytest

pytest.importorskip("kivy")

from sdk.policy.document import Span, parse_policy  # noqa: E402
from sdk.ui.kivy.markup import displayed_text, render_document, render_spans  # noqa: E402


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


def test_spaces_next_to_chinese_do_not_break_lines_early():
    markup, _ = render_spans((Span("核实身份后 15 个工作日内答复 (Q&A)"),))
    assert displayed_text(markup) == "核实身份后\u00a015\u00a0个工作日内答复\u00a0(Q&A)"
