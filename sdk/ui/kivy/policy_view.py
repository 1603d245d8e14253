"""A scrollable, selectable view of a privacy policy with a working table of contents."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kivy.lang import Builder
from kivy.metrics import dp, sp
from kivy.properties import ListProperty, ObjectProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label
from kivy.uix.scrollview import ScrollView
from kivy.utils import get_color_from_hex

from .markup import RenderedBlock, StyleSheet, render_document

if TYPE_CHECKING:  # pragma: no cover
    from ...policy.document import PolicyDocument

__all__ = ["PolicyView", "PolicyBlockLabel"]

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


class PolicyBlockLabel(Label):
    """A Label showing one rendered block. ``block`` is its :class:`RenderedBlock`."""

    block = ObjectProperty(None, allownone=True)


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
            label = PolicyBlockLabel(text=block.markup, block=block, font_size=sp(block.font_size),
                                     color=color)
            label.bind(on_ref_press=self._on_ref_press)
            if block.kind == "heading":
                label.padding = (0, dp(8), 0, 0)
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
