"""Turn a :class:`sdk.policy.document.PolicyDocument` into Kivy Label markup.

Two things Kivy does not do for Chinese text are done here:

- **Escaping.** Policy text is untrusted for Kivy's markup language: a ``[``, ``]`` or ``&``
  would otherwise open tags or break entities. Every text run goes through
  :func:`kivy.utils.escape_markup` before any tag is added.
- **Line breaking.** Kivy wraps only at ASCII spaces and moves every markup chunk that does
  not fit to a new line (kivy/kivy#7496), so a bold run in the middle of a Chinese paragraph
  starts a line of its own. :func:`reflow` computes the line breaks itself with the Unicode
  line-breaking algorithm (UAX #14, from the ``uniseg`` library: no line starts with "，" or
  "。", Latin words stay whole), measured with the label's real font, and inserts them as
  explicit newlines, so Kivy never has to wrap. Email addresses and URLs are kept on one line
  (UAX #14 would break them after a "-" or "/"), unless one is wider than a whole line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Callable

from kivy.utils import escape_markup

if TYPE_CHECKING:  # pragma: no cover
    from ...policy.document import Block, PolicyDocument, Span

__all__ = ["RenderedBlock", "StyleSheet", "displayed_text", "reflow", "render_document",
           "render_spans"]

#: ``measure(text, bold) -> width in pixels`` for the label's font and size.
Measure = Callable[[str, bool], float]


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
        markup: Kivy markup text, escaped, without line breaks of our own (see :func:`reflow`).
        font_size: in ``sp``.
        level: heading level or list depth.
        anchor: the block's anchor id, if any (target of table-of-contents links).
        strong_runs: how many bold passages the markup highlights.
        plain: the text a reader must see, for checking the markup renders it unchanged.
        spans: the source spans, kept to re-render with line breaks.
        prefix: text shown before the spans (a list bullet and its indent).
        bold: the whole block is bold (headings).
    """

    kind: str
    markup: str
    font_size: float
    level: int
    anchor: str | None
    strong_runs: int
    plain: str
    spans: tuple = ()
    prefix: str = ""
    bold: bool = False


def render_spans(spans: "tuple[Span, ...]", style: StyleSheet = StyleSheet(),
                 breaks: frozenset[int] = frozenset(), start: int = 0) -> tuple[str, int]:
    """Return ``(markup, number of highlighted strong runs)`` for a sequence of spans.

    Adjacent strong spans form one highlighted run; a link whose ``href`` is ``#anchor`` becomes
    a ``[ref=anchor]`` the viewer can jump to. ``breaks`` are offsets (in the spans' joined text,
    counted from ``start``) where a newline is inserted; a space just before a break is dropped.
    """
    out: list[str] = []
    runs = 0
    in_strong = False
    pos = start
    for span in spans:
        if span.strong and not in_strong:
            out.append(f"[b][color={style.strong}]")
            runs += 1
            in_strong = True
        elif not span.strong and in_strong:
            out.append("[/color][/b]")
            in_strong = False
        text = escape_markup(_insert_breaks(span.text, pos, breaks))
        pos += len(span.text)
        if span.emphasis:
            text = f"[i]{text}[/i]"
        if span.href and span.href.startswith("#") and len(span.href) > 1:
            ref = escape_markup(span.href[1:])
            text = f"[ref={ref}][color={style.link}][u]{text}[/u][/color][/ref]"
        out.append(text)
    if in_strong:
        out.append("[/color][/b]")
    return "".join(out), runs


def _insert_breaks(text: str, start: int, breaks: frozenset[int]) -> str:
    cuts = sorted(b - start for b in breaks if start < b < start + len(text))
    if not cuts:
        return text
    pieces, last = [], 0
    for cut in cuts:
        pieces.append(text[last:cut].rstrip(" ") + "\n")
        last = cut
    pieces.append(text[last:])
    return "".join(pieces)


def _wrap(markup: str, block: RenderedBlock) -> str:
    return f"[b]{markup}[/b]" if block.bold else markup


def _render_block(block: "Block", style: StyleSheet) -> RenderedBlock:
    markup, runs = render_spans(block.spans, style)
    plain = "".join(span.text for span in block.spans)
    size = style.body_size
    prefix = ""
    heading = block.kind == "heading"
    if heading:
        size = style.heading_sizes[min(max(block.level, 1), 6) - 1]
    elif block.kind == "list_item":
        prefix = "\u3000" * max(block.level - 1, 0) + "\u2022 "
    rendered = RenderedBlock(block.kind, "", size, block.level, block.anchor, runs, prefix + plain,
                             tuple(block.spans), prefix, heading)
    return _replace_markup(rendered, escape_markup(prefix) + markup)


def _replace_markup(block: RenderedBlock, markup: str) -> RenderedBlock:
    from dataclasses import replace

    return replace(block, markup=_wrap(markup, block))


def render_document(document: "PolicyDocument", style: StyleSheet = StyleSheet()) -> list[RenderedBlock]:
    """Render every block of ``document``; rule blocks are dropped (the layout spaces them)."""
    return [_render_block(b, style) for b in document.blocks if b.kind != "rule"]


def line_breaks(block: RenderedBlock, width: float, measure: Measure) -> frozenset[int]:
    """Offsets in ``block.prefix + plain`` where a line must break to fit ``width`` pixels.

    Break opportunities come from UAX #14 (``uniseg``), except inside an email address or a
    URL; lines are filled greedily. A unit wider than a whole line is left for Kivy to split.
    """
    styles = _bold_map(block)
    breaks: set[int] = set()
    pos = 0
    line = 0.0
    for unit in _units(block.plain):
        bold = (block.bold or styles[pos]) if pos < len(styles) else block.bold
        visible = unit.rstrip(" \n")
        w = measure(visible, bold) if visible else 0.0
        if line > 0 and line + w > width:
            breaks.add(pos)
            line = 0.0
        line += w + (measure(" ", bold) * (len(unit.rstrip("\n")) - len(visible)))
        pos += len(unit)
        if unit.endswith("\n"):
            line = 0.0
    return frozenset(breaks)


#: Runs that must not be broken across lines: email addresses and URLs (ASCII only; a
#: trailing "." or "," is punctuation of the sentence, not part of the address).
_NO_BREAK = re.compile(
    r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
    r"|(?:https?://|www\.)[A-Za-z0-9\-._~:/?#@!$&'*+,;=%]*[A-Za-z0-9\-_~/#=&%]"
)


@lru_cache(maxsize=4096)
def _units(text: str) -> tuple[str, ...]:
    """UAX #14 line-break units of ``text`` (independent of width, so cached), with the units
    inside an email address or a URL joined into one."""
    from uniseg.linebreak import line_break_units

    units = tuple(line_break_units(text))
    runs = [(m.start(), m.end()) for m in _NO_BREAK.finditer(text)]
    if not runs:
        return units
    joined: list[str] = []
    pos = 0
    for unit in units:
        inside = any(start < pos < end for start, end in runs)  # a break inside a run
        if inside and joined:
            joined[-1] += unit
        else:
            joined.append(unit)
        pos += len(unit)
    return tuple(joined)


def _bold_map(block: RenderedBlock) -> list[bool]:
    flags = [block.bold] * len(block.prefix)
    for span in block.spans:
        flags.extend([block.bold or span.strong] * len(span.text))
    return flags


def reflow(block: RenderedBlock, width: float, measure: Measure,
           style: StyleSheet = StyleSheet()) -> str:
    """The block's markup with explicit line breaks for a label ``width`` pixels wide."""
    breaks = line_breaks(block, width, measure)
    offset = len(block.prefix)
    prefix = _insert_breaks(block.prefix, 0, breaks)
    markup, _ = render_spans(block.spans, style, breaks, start=offset)
    return _wrap(escape_markup(prefix) + markup, block)


def displayed_text(markup: str) -> str:
    """The text Kivy shows for ``markup``: tags dropped, entities decoded.

    Mirrors :class:`kivy.core.text.markup.MarkupLabel`, which splits on ``[...]`` and silently
    drops any bracketed run, so unescaped policy text like ``[附件一]`` would vanish.
    """
    parts = re.split(r"(\[.*?\])", markup)
    text = "".join(p for p in parts if not (p.startswith("[") and p.endswith("]")))
    return text.replace("&bl;", "[").replace("&br;", "]").replace("&amp;", "&")
