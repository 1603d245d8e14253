"""The privacy policy's Markdown, parsed into a render-neutral document model.

The policy is written in Markdown (CommonMark) with two conventions taken from the real
policy this SDK was built against:

* **Anchors** are empty links whose destination is ``id:<name>``, placed in a heading:
  ``## 一、我们如何收集和使用您的个人信息 [](id:privacy_1)``. They produce no text; the
  block they sit in gets ``anchor="privacy_1"``.
* **The table of contents** is a run of ordinary links to those anchors:
  ``[1、我们如何收集和使用您的个人信息](#privacy_1)``.

Parsing is done by markdown-it-py with the ``mdit_py_cjk_friendly`` plugin, never by hand.
The plugin matters: CommonMark's emphasis flanking rules do not let ``**`` close right after
a Chinese full stop when text follows directly (``**……。**如您……``), so plain CommonMark
misses such bold passages (one of the 21 in the real policy). With the plugin all are found.

Both libraries are imported inside :func:`parse_policy` only, so ``import sdk`` stays cheap.

The model keeps raw text: characters that mean something to a renderer (Kivy markup's
``[``, ``]``, ``&``; HTML's ``<``) are *not* escaped here. Escaping is the renderer's job.
Raw HTML in the Markdown is not interpreted either: it stays visible as literal text.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote

from ..errors import PolicyError

if TYPE_CHECKING:  # pragma: no cover - typing only
    from markdown_it.token import Token

__all__ = [
    "BlockKind",
    "Span",
    "Block",
    "TocEntry",
    "PolicyDocument",
    "parse_policy",
    "ANCHOR_SCHEME",
]

#: Link destinations starting with this prefix define an anchor instead of a link.
ANCHOR_SCHEME = "id:"

BlockKind = Literal["heading", "paragraph", "list_item", "table_row", "code", "rule"]


@dataclass(frozen=True)
class Span:
    """A run of inline text with one style.

    Attributes:
        text: the raw text (never escaped). Soft and hard line breaks are ``"\\n"``.
        strong: inside ``**…**`` (bold).
        emphasis: inside ``*…*`` (italic).
        href: the link destination when the run is link text, e.g. ``"#privacy_1"``. A
            ``#anchor`` link whose anchor the document does not define has no ``href``: it is
            plain text (a link that goes nowhere would look live and do nothing), and
            :meth:`PolicyDocument.problems` reports it.
    """

    text: str
    strong: bool = False
    emphasis: bool = False
    href: str | None = None


@dataclass(frozen=True)
class Block:
    """One block of the document: a heading, a paragraph, a list item, ...

    Attributes:
        kind: ``heading``, ``paragraph``, ``list_item``, ``table_row``, ``code`` or ``rule``.
        spans: the block's inline content. Adjacent runs with the same style are merged;
            ``code`` blocks have one plain span with the code's text; ``rule`` has none.
        level: heading level 1..6 for headings, nesting depth (1 = top-level list) for list
            items, 0 otherwise.
        anchor: the id of the first ``[](id:xxx)`` link inside the block, if any.
        marker: for list items, ``"3."`` (ordered list, number and delimiter) or ``"•"``
            (bullet list), on the item's first block only; ``None`` otherwise.
    """

    kind: BlockKind
    spans: tuple[Span, ...]
    level: int = 0
    anchor: str | None = None
    marker: str | None = None

    @property
    def text(self) -> str:
        """The block's text without styling."""
        return "".join(span.text for span in self.spans)


@dataclass(frozen=True)
class TocEntry:
    """One table-of-contents link: its visible ``title`` and the ``anchor`` it points to."""

    title: str
    anchor: str


@dataclass(frozen=True)
class PolicyDocument:
    """A parsed privacy policy: an ordered tuple of :class:`Block`.

    Attributes:
        blocks: the blocks in document order.
        notes: problems the parser noticed that the blocks cannot show (e.g. a second anchor
            in one block, a link to an unknown anchor that was turned into plain text);
            included in :meth:`problems`.
    """

    blocks: tuple[Block, ...]
    notes: tuple[str, ...] = field(default=(), compare=False)

    def anchors(self) -> dict[str, int]:
        """Map each anchor id to the index of the block that defines it (first one wins)."""
        found: dict[str, int] = {}
        for index, block in enumerate(self.blocks):
            if block.anchor is not None and block.anchor not in found:
                found[block.anchor] = index
        return found

    def _fragment_links(self) -> list[tuple[str, str]]:
        """(title, target) of every ``#target`` link, in order; adjacent spans of one link
        (same href, e.g. a partly bold title) are joined."""
        links: list[tuple[str, str]] = []
        for block in self.blocks:
            previous_href: str | None = None
            for span in block.spans:
                href = span.href
                if href is not None and href.startswith("#"):
                    target = unquote(href[1:])
                    if href == previous_href and links:
                        title, _ = links[-1]
                        links[-1] = (title + span.text, target)
                    else:
                        links.append((span.text, target))
                previous_href = href
        return [(title.strip(), target) for title, target in links]

    def toc(self) -> list[TocEntry]:
        """Links to known anchors (``[title](#anchor)``), in document order.

        Links to anchors that do not exist are left out here (the parser turns them into plain
        text) and reported by :meth:`problems`.
        """
        known = self.anchors()
        return [
            TocEntry(title=title, anchor=target)
            for title, target in self._fragment_links()
            if target in known
        ]

    def problems(self) -> list[str]:
        """Human-readable problems with the document; empty when it is well-formed.

        Reported: links to an unknown anchor, anchors defined twice, and parser notes.
        Real policies can be sloppy, so these never raise.
        """
        found: list[str] = list(self.notes)
        seen: dict[str, int] = {}
        for index, block in enumerate(self.blocks):
            if block.anchor is None:
                continue
            if block.anchor in seen:
                found.append(
                    f"anchor '{block.anchor}' is defined twice "
                    f"(blocks {seen[block.anchor]} and {index})"
                )
            else:
                seen[block.anchor] = index
        for title, target in self._fragment_links():
            if target not in seen:
                found.append(f"link '{title}' points to unknown anchor '{target}'")
        return found

    def strong_passages(self) -> list[str]:
        """The text of each bold passage, in order.

        A passage is a maximal run of consecutive bold spans in one block, so bold text that
        spans several inline tokens (line breaks, an italic word inside, ...) counts once.
        """
        passages: list[str] = []
        for block in self.blocks:
            current: list[str] | None = None
            for span in block.spans:
                if span.strong:
                    if current is None:
                        current = []
                    current.append(span.text)
                elif current is not None:
                    passages.append("".join(current))
                    current = None
            if current is not None:
                passages.append("".join(current))
        return passages

    def headings(self) -> list[Block]:
        """The heading blocks, in order."""
        return [block for block in self.blocks if block.kind == "heading"]

    def plain_text(self) -> str:
        """The whole text without styling: one line per block (rules give an empty line)."""
        return "\n".join(block.text for block in self.blocks)


# --------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------


class _InlineBuilder:
    """Turns one ``inline`` token's children into merged spans plus anchors."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self.anchors: list[str] = []
        self.cells = 0  # table cells added so far (table rows only)
        self._strong = 0
        self._emphasis = 0
        self._links: list[tuple[str | None, bool]] = []  # (href, is_anchor)

    @property
    def _href(self) -> str | None:
        for href, is_anchor in reversed(self._links):
            if not is_anchor:
                return href
        return None

    def add_text(self, text: str) -> None:
        if not text:
            return
        self.add_span(
            Span(
                text=text,
                strong=self._strong > 0,
                emphasis=self._emphasis > 0,
                href=self._href,
            )
        )

    def add_span(self, span: Span) -> None:
        """Append *span*, merging it into the previous one when the style is the same."""
        text = span.text
        if self.spans:
            last = self.spans[-1]
            if (last.strong, last.emphasis, last.href) == (span.strong, span.emphasis, span.href):
                self.spans[-1] = Span(last.text + text, last.strong, last.emphasis, last.href)
                return
        self.spans.append(span)

    def feed(self, tokens: list[Token]) -> None:
        for token in tokens:
            kind = token.type
            if kind in ("text", "code_inline", "html_inline"):
                self.add_text(token.content)
            elif kind in ("softbreak", "hardbreak"):
                self.add_text("\n")
            elif kind == "strong_open":
                self._strong += 1
            elif kind == "strong_close":
                self._strong -= 1
            elif kind == "em_open":
                self._emphasis += 1
            elif kind == "em_close":
                self._emphasis -= 1
            elif kind == "link_open":
                href = str(token.attrs.get("href", ""))
                if href.startswith(ANCHOR_SCHEME):
                    self.anchors.append(unquote(href[len(ANCHOR_SCHEME) :]))
                    self._links.append((href, True))
                else:
                    self._links.append((href, False))
            elif kind == "link_close":
                if self._links:
                    self._links.pop()
            elif kind == "image":
                # The alternative text stands in for the picture.
                self.feed(token.children or [])
            # Anything else (unknown plugin tokens) carries no text.

    def finish(self, strip: bool = True) -> tuple[Span, ...]:
        """The spans; with *strip*, leading/trailing whitespace of the block removed."""
        spans = [span for span in self.spans if span.text]
        if not strip:
            return tuple(spans)
        while spans and not spans[0].text.strip():
            spans.pop(0)
        while spans and not spans[-1].text.strip():
            spans.pop()
        if spans:
            first = spans[0]
            spans[0] = Span(first.text.lstrip(), first.strong, first.emphasis, first.href)
            last = spans[-1]
            spans[-1] = Span(last.text.rstrip(), last.strong, last.emphasis, last.href)
        return tuple(spans)


def _markdown_parser(cjk: bool = True) -> Any:
    """The configured markdown-it parser (imported lazily).

    CommonMark with tables enabled and raw HTML off (HTML stays literal text). ``cjk=False``
    gives the same parser without the CJK-friendly plugin; it exists so tests can pin why
    the plugin is needed.
    """
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    if cjk:
        from mdit_py_cjk_friendly import cjk_friendly

        md.use(cjk_friendly)
    return md


def parse_policy(text: str, *, cjk_friendly: bool = True) -> PolicyDocument:
    """Parse privacy-policy Markdown into a :class:`PolicyDocument`.

    Args:
        text: the policy in Markdown.
        cjk_friendly: keep ``True``; ``False`` parses with plain CommonMark emphasis rules,
            which miss bold passages that close after Chinese punctuation (tests only).

    Raises:
        PolicyError: *text* is not a string, or is empty / only whitespace.
    """
    if not isinstance(text, str):
        raise PolicyError(
            f"the privacy policy must be Markdown text (str), got {type(text).__name__}"
        )
    if not text.strip():
        raise PolicyError("the privacy policy text is empty; give the policy's Markdown")

    tokens = _markdown_parser(cjk_friendly).parse(text.removeprefix("\ufeff"))
    blocks: list[Block] = []
    notes: list[str] = []

    list_depth = 0
    # For each open list item: its marker, or None once the marker was used.
    item_markers: list[str | None] = []
    ordered_stack: list[bool] = []
    pending_heading_level = 0
    in_table_row = False
    row_builder: _InlineBuilder | None = None

    def emit(kind: BlockKind, builder: _InlineBuilder, level: int, marker: str | None) -> None:
        anchor = builder.anchors[0] if builder.anchors else None
        for extra in builder.anchors[1:]:
            notes.append(
                f"block {len(blocks)} has more than one anchor; '{extra}' is ignored "
                f"(kept '{anchor}')"
            )
        spans = builder.finish(strip=kind != "table_row")
        blocks.append(Block(kind, spans, level=level, anchor=anchor, marker=marker))

    for token in tokens:
        kind = token.type
        if kind in ("bullet_list_open", "ordered_list_open"):
            if item_markers and item_markers[-1] is not None:
                # An item that starts with a nested list: show its marker first.
                blocks.append(Block("list_item", (), level=list_depth, marker=item_markers[-1]))
                item_markers[-1] = None
            list_depth += 1
            ordered_stack.append(kind == "ordered_list_open")
        elif kind in ("bullet_list_close", "ordered_list_close"):
            list_depth -= 1
            ordered_stack.pop()
        elif kind == "list_item_open":
            ordered = ordered_stack[-1] if ordered_stack else False
            item_markers.append(f"{token.info}{token.markup}" if ordered else "•")
        elif kind == "list_item_close":
            marker = item_markers.pop()
            if marker is not None:  # an empty item: keep it visible
                blocks.append(Block("list_item", (), level=list_depth, marker=marker))
        elif kind == "heading_open":
            pending_heading_level = int(token.tag[1:])
        elif kind == "tr_open":
            in_table_row = True
            row_builder = _InlineBuilder()
        elif kind == "tr_close":
            in_table_row = False
            if row_builder is not None:
                emit("table_row", row_builder, 0, None)
            row_builder = None
        elif kind == "inline":
            children = token.children or []
            if in_table_row and row_builder is not None:
                if row_builder.cells:
                    row_builder.add_text(" | ")
                row_builder.cells += 1
                cell = _InlineBuilder()
                cell.feed(children)
                row_builder.anchors.extend(cell.anchors)
                for span in cell.finish():
                    row_builder.add_span(span)
                continue
            builder = _InlineBuilder()
            builder.feed(children)
            if pending_heading_level:
                emit("heading", builder, pending_heading_level, None)
                pending_heading_level = 0
            elif item_markers:
                marker = item_markers[-1]
                item_markers[-1] = None
                emit("list_item", builder, list_depth, marker)
            else:
                emit("paragraph", builder, 0, None)
        elif kind in ("fence", "code_block"):
            content = token.content[:-1] if token.content.endswith("\n") else token.content
            blocks.append(Block("code", (Span(content),) if content else ()))
        elif kind == "hr":
            blocks.append(Block("rule", ()))
        elif kind == "html_block":  # only with html enabled; kept as literal text
            builder = _InlineBuilder()
            builder.add_text(token.content)
            emit("paragraph", builder, 0, None)

    return _unlink_dangling(tuple(blocks), notes)


def _unlink_dangling(blocks: tuple[Block, ...], notes: list[str]) -> PolicyDocument:
    """The document, with every ``#anchor`` link to an anchor it does not define turned into
    plain text (its spans lose their ``href``); each such link is added to ``notes``."""
    draft = PolicyDocument(blocks=blocks)
    known = draft.anchors()
    dangling = [(title, target) for title, target in draft._fragment_links() if target not in known]
    if not dangling:
        return PolicyDocument(blocks=blocks, notes=tuple(notes))
    for title, target in dangling:
        notes.append(f"link '{title}' points to unknown anchor '{target}'")

    def goes_nowhere(href: str | None) -> bool:
        return href is not None and href.startswith("#") and unquote(href[1:]) not in known

    fixed: list[Block] = []
    for block in blocks:
        if not any(goes_nowhere(span.href) for span in block.spans):
            fixed.append(block)
            continue
        builder = _InlineBuilder()
        for span in block.spans:
            builder.add_span(replace(span, href=None) if goes_nowhere(span.href) else span)
        fixed.append(replace(block, spans=tuple(builder.spans)))
    return PolicyDocument(blocks=tuple(fixed), notes=tuple(notes))
