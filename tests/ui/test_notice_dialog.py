"""The notice dialog (sdk/ui/kivy/notice.py) in a real Kivy window (under Xvfb when there is no
display): a breach notice with its five parts and 我已知悉, then the service-ending variant,
opened one after the other by ``show_notices`` from the notices an earlier fetch kept on the
device. The host (``python -m tests.ui.test_notice_dialog``, below) presses the real buttons,
saves screenshots and reports what the dialogs held as JSON; each test checks one thing.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

from .kivy_host import host_arguments, run_host, run_steps, save_screenshot

BREACH = {"notice_id": "n-breach-1", "kind": "breach", "published_at": "2026-12-01T08:00:00Z",
          "title": "关于个人信息安全事件的告知",
          "what_happened": "2026 年 11 月 28 日，我们发现部分账号的登录记录被未经授权访问。",
          "impact": "可能被获取的信息：登录账号、最近登录时间。不涉及身份证号码和签署记录。",
          "actions_taken": "我们已修复漏洞，重置了受影响账号的会话，并已向主管部门报告。",
          "how_to_protect": "请修改登录密码，警惕冒充本公司的电话和短信，不要透露验证码。",
          "remedies": "如您因此受到损失，可通过客服或 privacy@demo-esign.example 联系我们。",
          "acknowledged": False}
ENDING = {"notice_id": "n-end-1", "kind": "service_ending",
          "published_at": "2026-12-02T08:00:00Z", "title": "示例电子签服务终止公告",
          "ends_at": "2027-01-31T16:00:00Z",
          "data_handling": "服务终止后 30 日内，我们将删除或匿名化您的个人信息；"
                           "法律要求保存的签署记录按期限保存后删除。",
          "acknowledged": False}
HEADINGS = ["发生了什么", "可能造成的影响", "我们已采取的措施", "您可以如何保护自己",
            "补救措施与联系方式"]


@pytest.fixture(scope="module")
def host(display, tmp_path_factory) -> dict[str, Any]:
    """Run the host once for the module; its report, plus ``out`` (the screenshots)."""
    tmp = tmp_path_factory.mktemp("notice")
    out = tmp / "out"
    proc = run_host("tests.ui.test_notice_dialog", display, tmp / "data", out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    report["out"] = out
    return report


def test_a_breach_notice_shows_its_five_parts_under_their_headings(host) -> None:  # OBL-BR-1
    breach = host["dialogs"][0]
    assert breach["name"] == "notice:breach"
    assert breach["headings"] == HEADINGS
    for key in ("what_happened", "impact", "actions_taken", "how_to_protect", "remedies"):
        assert BREACH[key] in breach["texts"]


def test_a_breach_notice_is_marked_as_a_security_incident(host) -> None:  # OBL-BR-1
    breach = host["dialogs"][0]
    assert (breach["tag"], breach["title"]) == ("个人信息安全事件告知", BREACH["title"])


def test_the_notice_dialog_has_one_button_我已知悉(host) -> None:  # OBL-BR-1
    assert [d["buttons"] for d in host["dialogs"]] == [["我已知悉"], ["我已知悉"]]


def test_pressing_我已知悉_records_the_acknowledgement_and_the_next_notice_follows(host) -> None:  # OBL-BR-1
    assert host["acknowledged"] == ["n-breach-1", "n-end-1"]
    assert host["unacknowledged_after"] == []


def test_the_service_ending_dialog_says_collection_has_stopped(host) -> None:  # OBL-END-1
    ending = host["dialogs"][1]
    assert ending["name"] == "notice:service_ending" and ending["tag"] == "服务终止公告"
    assert "自收到本公告起，本应用已停止收集您的个人信息。" in ending["texts"]
    assert ending["headings"] == ["服务终止时间", "您的个人信息将如何处理"]
    assert ENDING["data_handling"] in ending["texts"]


def test_chinese_in_the_dialog_is_drawn_with_the_cjk_font_not_boxes(host) -> None:  # OBL-BR-1
    # the button's text, drawn with Kivy's Roboto (no CJK glyphs), would be four boxes
    assert host["button_differs_from_roboto"] is True
    assert {"breach.png", "ending.png"} <= set(host["shots"])


# -- the host (run in a subprocess by the fixture) -----------------------------------------------


def _texts(dialog: Any) -> tuple[list[str], list[str]]:
    """(headings, paragraphs) of the dialog's body, in order."""
    headings, texts = [], []
    for widget in reversed(dialog.ids.card.ids.body.children):
        kind = type(widget).__name__
        (headings if kind == "SdkSectionTitle" else texts).append(widget.content)
    return headings, texts


def _differs_from_roboto(button: Any) -> bool:
    """Whether the button's text texture differs from the same text drawn in Roboto."""
    from kivy.core.text import Label as CoreLabel
    from kivy.resources import resource_find

    roboto = CoreLabel(text=button.text, font_size=button.font_size,
                       font_name=resource_find("data/fonts/Roboto-Regular.ttf"))
    roboto.refresh()
    mine = CoreLabel(text=button.text, font_size=button.font_size, font_name=button.font_name)
    mine.refresh()
    if roboto.texture.size != mine.texture.size:
        return True
    return bytes(roboto.texture.pixels) != bytes(mine.texture.pixels)


def main(argv: list[str] | None = None) -> int:
    args = host_arguments("python -m tests.ui.test_notice_dialog", argv)

    from demo_app.policy import MANIFEST_PATH, POLICY_PATH
    from sdk import PrivacySdk, SdkConfig
    from sdk.policy import load_policy
    from sdk.rights.services import NOTICES_FILENAME
    from sdk.testing.keystore import MemoryKeystore
    from sdk.ui.kivy import install_cjk_font, show_notices

    install_cjk_font()
    data_dir = args.data_dir / "sdk"
    data_dir.mkdir(parents=True, exist_ok=True)
    # the notices an earlier privacy.notices.fetch() kept on the device (no server here)
    (data_dir / NOTICES_FILENAME).write_text(json.dumps({"notices": [BREACH, ENDING]}),
                                             encoding="utf-8")
    sdk = PrivacySdk.open(SdkConfig(data_dir=data_dir), load_policy(POLICY_PATH, MANIFEST_PATH),
                          keystore=MemoryKeystore())
    sdk.agree(sync=False)

    from kivy.app import App
    from kivy.core.window import Window

    report: dict[str, Any] = {"shots": {}, "dialogs": [], "acknowledged": []}
    state: dict[str, Any] = {"dialog": None, "done": None}

    def open_dialogs() -> None:
        state["dialog"] = show_notices(sdk, on_done=lambda acks: state.update(done=acks))

    def current() -> Any:
        from sdk.ui.kivy.notice import NoticeDialog

        found = [w for w in Window.children if isinstance(w, NoticeDialog)]
        return found[0] if found else None

    def shot(name: str) -> bool:
        dialog = current()
        if dialog is None or dialog.height < 100:
            return False
        target = args.out / name
        save_screenshot(target)
        report["shots"][name] = str(target)
        headings, texts = _texts(dialog)
        report["dialogs"].append({
            "name": dialog.dialog_name, "tag": dialog.tag_text, "title": dialog.title,
            "headings": headings, "texts": texts, "buttons": [dialog.ids.notice_ack.text],
        })
        report["button_differs_from_roboto"] = _differs_from_roboto(dialog.ids.notice_ack)
        return True

    def press() -> bool:
        dialog = current()
        if dialog is None:
            return False
        state["pressed"] = dialog
        dialog.ids.notice_ack.trigger_action(duration=0)
        return True

    def acknowledged(kind: str) -> bool:
        dialog = state.get("pressed")
        if dialog is None or not dialog.answered:
            return False
        report["acknowledged"].append(dialog.notice.notice_id)
        return True

    def finished() -> bool:
        if state["done"] is None:
            return False
        report["unacknowledged_after"] = [n.notice_id for n in sdk.notices.unacknowledged()]
        return True

    class Host(App):
        def build(self):
            from kivy.uix.widget import Widget

            Window.clearcolor = (0, 0, 0, 1)
            return Widget()

        def on_start(self):
            steps = [
                lambda: open_dialogs() and None,
                lambda: shot("breach.png"),
                press,
                lambda: acknowledged("breach"),
                lambda: shot("ending.png"),
                press,
                lambda: acknowledged("service_ending"),
                finished,
            ]
            run_steps(self, steps, pass_over_stuck=False)

    try:
        Host().run()
    finally:
        sdk.close()
    (args.out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False),
                                          encoding="utf-8")
    return 0 if "unacknowledged_after" in report else 1


if __name__ == "__main__":
    sys.exit(main())
