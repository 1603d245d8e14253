"""Contract templates: the heart of basic mode (OBL-ACC-2) — no account, no personal data."""

from __future__ import annotations

from kivy.properties import BooleanProperty, ListProperty, StringProperty
from kivy.factory import Factory

from .base import BaseScreen


class TemplatesScreen(BaseScreen):
    templates = ListProperty([])
    status = StringProperty("")
    basic_mode = BooleanProperty(False)
    failed = BooleanProperty(False)

    def on_pre_enter(self, *args) -> None:
        self.basic_mode = self.app.sdk.mode != "full"
        self.load()

    def load(self) -> None:
        self.failed = False
        self.status = "正在加载合同模板…"
        self.run_in_background(self.app.sdk.list_templates, self._loaded, self._failed)

    def _loaded(self, templates) -> None:
        self.templates = list(templates)
        self.status = "" if templates else "暂无合同模板"
        box = self.ids.list
        box.clear_widgets()
        for tpl in self.templates:
            button = Factory.TemplateButton(text=f"{tpl['title']}\n[size=13sp]{tpl.get('summary', '')}[/size]")
            button.template_id = tpl["id"]
            button.bind(on_release=lambda b: self.open(b.template_id))
            box.add_widget(button)

    def _failed(self, message: str) -> None:
        self.failed = True
        self.status = f"无法加载合同模板：{message}"

    def open(self, template_id: str) -> None:
        screen = self.manager.get_screen("template")
        screen.template_id = template_id
        self.app.go("template")

    def back(self) -> None:
        self.app.go("home" if self.app.sdk.mode == "full" else "policy")
