"""Turn a :class:`sdk.policy.document.PolicyDocument` into Kivy Label markup.

Policy text is untrusted for Kivy's markup language: a ``[``, ``]`` or ``&`` in the policy
would otherwise open tags or break entities. Every text run goes through
:func:`kivy.utils.escape_markup` before any tag is added.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kivy.utils import escape_markup

if TYPE_CHECKING:  # pragma: no cover
    from ...policy.document import Block, PolicyDocument, Span

__all__ = ["RenderedBlock", "StyleSheet", "displayed_text", "render_document", "render_spans"]


@dataclass(frozen=True)
class StyleSheet:
    """Colours (hex ``#rrggbb``) and sizes (in ``sp``) used for the policy text."""

    text: str = "#1f1f1f"
    strong: str = "#b3261e"       # bold passages: red-brown, so the promises that matter stand out
    link: str = "#0b57d0"
    body_size: float = 15
    heading_sizes: tuple[float, ...] = (22, 20, 18, 17, 16, 15)


@dataclass(frozen=True)
class RenderedBlock:
    """One block as Kivy markup.

    Attributes:
        kind: the source block's kind (``heading``, ``paragraph``, ``list_item`` ...).
        markup: Kivy markup text, escaped.
        font_size: in ``sp``.
        level: heading level or list depth.
        anchor: the block's anchor id, if any (target of table-of-contents links).
        strong_runs: how many bold passages the markup highlights.
        plain: the text a reader must see, for checking the markup renders it unchanged.
    """

    kind: str
    markup: str
    font_size: float
    level: int
    anchor: str | None
    strong_runs: int
    plain: str


def _wrap_friendly(text: str) -> str:
    """Keep Kivy from breaking lines early around spaces next to Chinese text.

    Kivy wraps only at ASCII spaces and moves any over-long "word" (a CJK run has no spaces)
    to a new line before splitting it, so ``后 15 个工作日…`` would break after ``15``. A space
    touching a CJK character becomes a no-break space (U+00A0), which looks the same.
    """
    if " " not in text:
        return text
    from mdit_py_cjk_friendly import is_cjk

    chars = list(text)
    for i, ch in enumerate(chars):
        if ch == " ":
            before = chars[i - 1] if i else ""
            after = chars[i + 1] if i + 1 < len(chars) else ""
            if is_cjk(before) or is_cjk(after):
                chars[i] = "\u00a0"
    return "".join(chars)


def render_spans(spans: "tuple[Span, ...]", style: StyleSheet = StyleSheet()) -> tuple[str, int]:
    """Return ``(markup, number of highlighted strong runs)`` for a sequence of spans.

    Adjacent strong spans form one highlighted run; a link whose ``href`` is ``#anchor`` becomes
    a ``[ref=anchor]`` the viewer can jump to.
    """
    out: list[str] = []
    runs = 0
    in_strong = False
    for span in spans:
        if span.strong and not in_strong:
            out.append(f"[b][color={style.strong}]")
            runs += 1
            in_strong = True
        elif not span.strong and in_strong:
            out.append("[/color][/b]")
            in_strong = False
        text = escape_markup(_wrap_friendly(span.text))
        if span.emphasis:
            text = f"[i]{text}[/i]"
        if span.href and span.href.startswith("#") and len(span.href) > 1:
            ref = escape_markup(span.href[1:])
            text = f"[ref={ref}][color={style.link}][u]{text}[/u][/color][/ref]"
        out.append(text)
    if in_strong:
        out.append("[/color][/b]")
    return "".join(out), runs


def _render_block(block: "Block", style: StyleSheet) -> RenderedBlock:
    markup, runs = render_spans(block.spans, style)
    plain = "".join(_wrap_friendly(span.text) for span in block.spans)
    size = style.body_size
    if block.kind == "heading":
        size = style.heading_sizes[min(max(block.level, 1), 6) - 1]
        markup = f"[b]{markup}[/b]"
    elif block.kind == "list_item":
        bullet = "    " * max(block.level - 1, 0) + "\u2022 "
        markup, plain = bullet + markup, bullet + plain
    return RenderedBlock(block.kind, markup, size, block.level, block.anchor, runs, plain)


def render_document(document: "PolicyDocument", style: StyleSheet = StyleSheet()) -> list[RenderedBlock]:
    """Render every block of ``document``; rule blocks are dropped (the layout spaces them)."""
    return [_render_block(b, style) for b in document.blocks if b.kind != "rule"]


def displayed_text(markup: str) -> str:
    """The text Kivy shows for ``markup``: tags dropped, entities decoded.

    Mirrors :class:`kivy.core.text.markup.MarkupLabel`, which splits on ``[...]`` and silently
    drops any bracketed run, so unescaped policy text like ``[附件一]`` would vanish.
    """
    parts = re.split(r"(\[.*?\])", markup)
    text = "".join(p for p in parts if not (p.startswith("[") and p.endswith("]")))
    return text.replace("&bl;", "[").replace("&br;", "]").replace("&amp;", "&")
