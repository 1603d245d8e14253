"""A scrollable, selectable view of a privacy policy with a working table of contents."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kivy.lang import Builder
from kivy.metrics import dp, sp
from kivy.factory import Factory
from kivy.properties import ListProperty, ObjectProperty, StringProperty
from kivy.uix.label import Label
from kivy.uix.scrollview import ScrollView
from kivy.utils import escape_markup, get_color_from_hex

from .markup import RenderedBlock, StyleSheet, reflow, render_document

if TYPE_CHECKING:  # pragma: no cover
    from ...policy.document import PolicyDocument

__all__ = ["PolicyView", "PolicyBlockLabel", "ReflowLabel"]

Builder.load_string(
    """
<PolicyBlockLabel>:
    markup: True
    size_hint_y: None
    text_size: self.width, None
    height: self.texture_size[1] + dp(6)
    halign: "left"
    valign: "top"

<PolicyView>:
    do_scroll_x: False
    bar_width: dp(6)
    scroll_type: ["bars", "content"]
    BoxLayout:
        id: column
        orientation: "vertical"
        size_hint_y: None
        height: self.minimum_height
        padding: dp(16), dp(8)
        spacing: dp(6)
"""
)


class ReflowLabel(Label):
    """A Label for Chinese text: line breaks come from :func:`~sdk.ui.kivy.markup.reflow`
    (UAX #14, measured with the label's font) whenever the text or the width changes, so lines
    fill the width and never start with "，" or "；".

    Set ``content`` (plain text; markup characters are shown as text), not ``text``.
    """

    content = StringProperty("")
    block = ObjectProperty(None, allownone=True)
    style = ObjectProperty(StyleSheet())

    def __init__(self, **kwargs):
        kwargs.setdefault("markup", True)
        super().__init__(**kwargs)

    def on_content(self, _instance, content: str) -> None:
        from ...policy.document import Span

        self.block = RenderedBlock("paragraph", escape_markup(content), 0, 0, None, 0, content,
                                   (Span(content),), "", bool(self.bold))

    def on_bold(self, _instance, _bold) -> None:
        if self.content:
            self.on_content(self, self.content)

    def on_width(self, _instance, width: float) -> None:
        self._reflow()

    def on_font_size(self, _instance, _size) -> None:
        self._reflow()

    def on_text_size(self, _instance, _size) -> None:
        self._reflow()

    def on_block(self, _instance, _block) -> None:
        self._reflow()

    def _reflow(self) -> None:
        if self.block is None:
            return
        box = self.text_size[0] if self.text_size[0] else self.width  # text_size wins in Kivy
        usable = box - self.padding[0] - self.padding[2] - 2  # 2 px against rounding
        if usable <= 20:
            self.text = self.block.markup
            return
        self.text = reflow(self.block, usable, _measurer(self.font_name, self.font_size), self.style)


class PolicyBlockLabel(ReflowLabel):
    """A Label showing one rendered policy block; ``block`` is its :class:`RenderedBlock`."""


Factory.register("ReflowLabel", cls=ReflowLabel)


_MEASURERS: dict[tuple[str, float], "_Measurer"] = {}


class _Measurer:
    """Widths in pixels of text runs in one font and size, cached (CJK repeats a lot)."""

    def __init__(self, font_name: str, font_size: float) -> None:
        from kivy.core.text import Label as CoreLabel

        self._labels = {bold: CoreLabel(font_name=font_name, font_size=font_size, bold=bold)
                        for bold in (False, True)}
        self._cache: dict[tuple[str, bool], float] = {}

    def __call__(self, text: str, bold: bool) -> float:
        key = (text, bold)
        width = self._cache.get(key)
        if width is None:
            width = float(self._labels[bold].get_extents(text)[0])
            self._cache[key] = width
        return width


def _measurer(font_name: str, font_size: float) -> _Measurer:
    key = (font_name, float(font_size))
    if key not in _MEASURERS:
        _MEASURERS[key] = _Measurer(font_name, font_size)
    return _MEASURERS[key]


class PolicyView(ScrollView):
    """Shows a :class:`PolicyDocument`: headings, paragraphs, bold passages highlighted, and
    table-of-contents links that jump to their section when tapped.

    Properties:
        document: the document shown; set it to (re)build the view.
        style: a :class:`StyleSheet`.
        rendered: the :class:`RenderedBlock` list currently shown (read-only use).
    """

    document = ObjectProperty(None, allownone=True)
    style = ObjectProperty(StyleSheet())
    rendered = ListProperty([])

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._anchors: dict[str, PolicyBlockLabel] = {}
        if self.document is not None:
            self.on_document(self, self.document)

    def on_document(self, _instance, document: "PolicyDocument | None") -> None:
        column = self.ids.column
        column.clear_widgets()
        self._anchors.clear()
        self.rendered = render_document(document, self.style) if document is not None else []
        color = get_color_from_hex(self.style.text)
        for block in self.rendered:
            label = PolicyBlockLabel(text=block.markup, font_size=sp(block.font_size),
                                     color=color, style=self.style)
            label.bind(on_ref_press=self._on_ref_press)
            if block.kind == "heading":
                label.padding = (0, dp(8), 0, 0)
            label.block = block
            if block.anchor:
                self._anchors[block.anchor] = label
            column.add_widget(label)
        self.scroll_y = 1

    # -- navigation -------------------------------------------------------------------------
    @property
    def anchors(self) -> list[str]:
        """Anchor ids present in the view, in document order."""
        return list(self._anchors)

    def _on_ref_press(self, _label, ref: str) -> None:
        self.jump_to(ref)

    def jump_to(self, anchor: str) -> bool:
        """Scroll so the block carrying ``anchor`` is at the top. Returns False if unknown."""
        target = self._anchors.get(anchor)
        if target is None:
            return False
        column = self.ids.column
        column.do_layout()
        scrollable = column.height - self.height
        if scrollable <= 0:
            return True
        offset = column.top - target.top
        self.scroll_y = min(1.0, max(0.0, 1.0 - offset / scrollable))
        return True

    def visible_anchors(self) -> list[str]:
        """Anchors whose heading's top edge is inside the viewport (for QA and tests)."""
        column = self.ids.column
        scrollable = max(column.height - self.height, 0)
        view_top = column.height - (1.0 - self.scroll_y) * scrollable  # in column-local y
        view_bottom = view_top - self.height
        visible = []
        for anchor, label in self._anchors.items():
            top_local = label.top - column.y
            if view_bottom <= top_local <= view_top + 1:
                visible.append(anchor)
        return visible

    def strong_run_count(self) -> int:
        """How many bold passages are highlighted in the view."""
        return sum(b.strong_runs for b in self.rendered)
