"""``python -m demo_app.samples [OUT.png]``: draw the demo's sample review document with Kivy
(a display is needed; on a headless machine run it under ``xvfb-run``). Writes
:data:`demo_app.samples.SAMPLE_DOCUMENT` by default."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from . import SAMPLE_DOCUMENT

WIDTH, HEIGHT = 640, 400

KV = """
#:import get_color_from_hex kivy.utils.get_color_from_hex

<SampleText@Label>:
    color: 0.15, 0.15, 0.15, 1
    font_size: 20
    size_hint: None, None
    height: 40
    halign: "left"
    valign: "middle"
    text_size: self.size

<SampleDocument@FloatLayout>:
    size_hint: None, None
    size: {w}, {h}
    canvas.before:
        Color:
            rgba: get_color_from_hex("#fbf8ef")
        Rectangle:
            pos: self.pos
            size: self.size
        Color:
            rgba: get_color_from_hex("#0b57d0")
        Rectangle:
            pos: self.x, self.top - 64
            size: self.width, 64
        Color:
            rgba: 0.82, 0.82, 0.82, 1
        Line:
            points: self.x + 32, self.y + 210, self.right - 32, self.y + 210
        Line:
            points: self.x + 32, self.y + 160, self.right - 32, self.y + 160
        Line:
            points: self.x + 32, self.y + 110, self.right - 32, self.y + 110
        Color:
            rgba: 0.78, 0.16, 0.12, 0.85
        Line:
            circle: self.right - 110, self.y + 95, 62
            width: 3
    Label:
        text: "人工审核材料（样例）"
        font_size: 30
        bold: True
        color: 1, 1, 1, 1
        pos: root.x + 32, root.top - 64
        size_hint: None, None
        size: root.width - 64, 64
        halign: "left"
        valign: "middle"
        text_size: self.size
    SampleText:
        text: "示例电子签 Demo e-Sign · 演示程序生成的图片"
        pos: root.x + 32, root.y + 250
        width: root.width - 64
        height: 48
    SampleText:
        text: "姓名：（样例，无真实信息）"
        pos: root.x + 32, root.y + 212
        width: root.width - 64
    SampleText:
        text: "材料类型：补充证明（演示）"
        pos: root.x + 32, root.y + 162
        width: root.width - 64
    SampleText:
        text: "不是真实证件，不含个人信息"
        pos: root.x + 32, root.y + 112
        width: root.width - 64
    Label:
        text: "样例"
        font_size: 40
        bold: True
        color: 0.78, 0.16, 0.12, 0.9
        pos: root.right - 170, root.y + 65
        size_hint: None, None
        size: 120, 60
""".replace("{w}", str(WIDTH)).replace("{h}", str(HEIGHT))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0]) if args else SAMPLE_DOCUMENT
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_NO_FILELOG", "1")
    from kivy.config import Config

    Config.set("graphics", "width", str(WIDTH))
    Config.set("graphics", "height", str(HEIGHT))
    from kivy.app import App
    from kivy.clock import Clock
    from kivy.factory import Factory
    from kivy.lang import Builder

    from sdk.ui.kivy import install_cjk_font

    install_cjk_font()
    Builder.load_string(KV)

    class Draw(App):
        def build(self):
            self.doc = Factory.SampleDocument()
            self.frames = 0
            Clock.schedule_interval(self.save, 0.2)
            return self.doc

        def save(self, _dt):
            # Wait until the window has laid the document out at its size (a few frames).
            self.frames += 1
            if self.frames < 5 or tuple(self.doc.size) != (WIDTH, HEIGHT) or self.doc.pos != [0, 0]:
                self.doc.size, self.doc.pos = (WIDTH, HEIGHT), (0, 0)
                return True
            self.doc.export_to_png(str(out))
            self.stop()
            return False

    Draw().run()
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
