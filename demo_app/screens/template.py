"""One contract template: read it, download it (OBL-ACC-2)."""

from __future__ import annotations

from kivy.properties import ObjectProperty, StringProperty

from .base import BaseScreen


class TemplateScreen(BaseScreen):
    template_id = StringProperty("")
    title_text = StringProperty("合同模板")
    document = ObjectProperty(None, allownone=True)
    status = StringProperty("")
    downloaded_path = StringProperty("")

    def on_pre_enter(self, *args) -> None:
        self.document = None
        self.status = "正在加载…"
        self.downloaded_path = ""
        self.run_in_background(lambda: self.app.sdk.get_template(self.template_id),
                               self._loaded, self._failed)

    def _loaded(self, template) -> None:
        from sdk.policy.document import parse_policy

        self.title_text = template["title"]
        self.document = parse_policy(template["body"])
        self.status = ""

    def _failed(self, message: str) -> None:
        self.status = f"出错了：{message}"

    def download(self) -> None:
        self.status = "正在下载…"
        self.run_in_background(lambda: self.app.sdk.download_template(self.template_id),
                               self._downloaded, self._failed)

    def _downloaded(self, path) -> None:
        self.downloaded_path = str(path)
        self.status = f"已下载：{path.name}"

    def back(self) -> None:
        self.app.go("templates")
