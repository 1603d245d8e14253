"""Screens that show a real name or an ID number are kept out of screenshots and the recents /
app-switcher thumbnail (sdk/ui/kivy/secure.py; OWASP MASVS-PLATFORM-3).

Three runs, each in a real Kivy window (under Xvfb when there is no display):

- the Android host (``python -m tests.ui.test_secure_screens --android``): the OS is played by
  the fake ``jnius`` / ``android`` modules of tests/sdk/jnius_fakes.py (the activity's window
  records ``setFlags`` / ``clearFlags`` and the thread they came from); real widgets are added
  to and removed from the real window, one change at a time, and the fake UI thread is
  drained after each;
- the desktop host (``python -m tests.ui.test_secure_screens``): a ScreenManager with a public
  screen and a screen that shows a (made-up) name and ID number in red; the app is paused and
  resumed as Kivy does it (``App.dispatch('on_pause')``) and the window saved as PNG right
  after, in the same call: no further frame is drawn before the screenshot;
- the demo app: 实名认证 with a name typed, probed through the autopilot.

Each test checks one behaviour. Nothing here runs on a device.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .kivy_host import REPO, host_arguments, run_steps, save_screenshot

#: Made-up values the sensitive widgets show (never logged: checked below).
SHOWN_NAME = "张三丰"
SHOWN_ID = "110101199003078515"
FLAG_SECURE = 0x2000
UI_THREAD = "android-ui"
#: A pixel of the sensitive text: red (the text is drawn in pure red on white).
RED = (200, 70)          # r above, g and b below
#: The cover's background (0.96 grey = 245) give or take rounding.
COVER_GREY = (240, 250)


def _host(display: str, tmp: Path, *extra: str) -> dict[str, Any]:
    out = tmp / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "tests.ui.test_secure_screens", "--data-dir", str(tmp / "data"),
         "--out", str(out), *extra],
        env=dict(os.environ, DISPLAY=display, KIVY_NO_ARGS="1"), capture_output=True,
        text=True, timeout=120, cwd=REPO, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    report["out"] = out
    report["stderr"] = proc.stderr
    return report


@pytest.fixture(scope="module")
def android(display, tmp_path_factory) -> dict[str, Any]:
    """The Android host's report: ``steps`` (per change: the window calls it caused, the
    flag, the status), ``records`` (what the SDK logged), ``ui_errors``, ``violations``."""
    return _host(display, tmp_path_factory.mktemp("secure-android"), "--android")


@pytest.fixture(scope="module")
def desktop(display, tmp_path_factory) -> dict[str, Any]:
    """The desktop host's report: ``shots`` (name -> red / cover pixel counts) and
    ``status`` (name -> ProtectionStatus as a dict)."""
    return _host(display, tmp_path_factory.mktemp("secure-desktop"))


# -- Android: FLAG_SECURE, reference counted, on the UI thread ----------------------------------


def test_adding_a_sensitive_widget_sets_flag_secure_once_on_the_ui_thread(android) -> None:  # MASVS-PLATFORM-3
    assert android["steps"]["start"]["calls"] == []
    assert android["steps"]["one"]["calls"] == [["setFlags", [FLAG_SECURE, FLAG_SECURE], UI_THREAD]]
    assert android["steps"]["one"]["secure"] is True
    assert android["violations"] == []  # no window call from Kivy's thread


def test_a_second_sensitive_widget_then_removing_one_keeps_the_flag(android) -> None:  # MASVS-PLATFORM-3
    steps = android["steps"]
    assert steps["two"]["calls"] == [] and steps["one_left"]["calls"] == []
    assert steps["one_left"]["secure"] is True
    assert steps["one_left"]["status"]["holders"] == 1


def test_removing_the_last_sensitive_widget_clears_the_flag(android) -> None:  # MASVS-PLATFORM-3
    none = android["steps"]["none"]
    assert none["calls"] == [["clearFlags", [FLAG_SECURE], UI_THREAD]]
    assert none["secure"] is False and none["status"]["active"] is False


def test_while_the_flag_is_set_the_status_names_flag_secure_and_the_cover(android) -> None:  # MASVS-PLATFORM-3
    status = android["steps"]["one"]["status"]
    assert (status["platform"], status["mechanisms"], status["reason"]) == (
        "android", ["flag_secure", "cover_on_pause"], "")


def test_a_failing_flag_call_is_reported_in_the_status(android) -> None:  # MASVS-PLATFORM-3
    status = android["steps"]["failing"]["status"]
    assert status["active"] is True and status["mechanisms"] == ["cover_on_pause"]
    assert status["error"] == "java.lang.SecurityException"
    assert status["reason"].startswith("FLAG_SECURE could not be set on the activity's window "
                                       "(java.lang.SecurityException)")


def test_a_failing_flag_call_is_logged_once_without_personal_data(android) -> None:  # MASVS-PLATFORM-3
    assert android["steps"]["failing_again"]["calls"] == [
        ["setFlags", [FLAG_SECURE, FLAG_SECURE], UI_THREAD]]  # it was tried again
    warnings = [r for r in android["records"] if r["level"] == "WARNING"]
    assert len([r for r in warnings if "java.lang.SecurityException" in r["message"]]) == 1
    for record in android["records"]:
        assert SHOWN_NAME not in record["message"] and SHOWN_ID not in record["message"]
        assert "refused" not in record["message"]  # the Java message is not passed on


def test_a_failing_flag_call_raises_nothing_into_the_app_or_the_ui_thread(android) -> None:  # MASVS-PLATFORM-3
    assert android["ui_errors"] == []
    assert android["finished"] is True  # the steps after the failure ran


def test_a_flag_the_app_had_set_itself_is_left_set(android) -> None:  # MASVS-PLATFORM-3
    steps = android["steps"]
    assert steps["app_flag_added"]["calls"] == [] and steps["app_flag_removed"]["calls"] == []
    assert steps["app_flag_removed"]["secure"] is True


def test_without_pyjnius_the_status_names_the_buildozer_requirement(android) -> None:  # MASVS-PLATFORM-3
    status = android["no_jnius"]
    assert status["mechanisms"] == ["cover_on_pause"] and status["error"] == "ImportError"
    assert "add 'pyjnius' to the buildozer requirements" in status["reason"]


# -- every platform: the cover when the app pauses (desktop run) ------------------------------


def test_the_sensitive_text_is_on_screen_before_the_pause(desktop) -> None:
    assert desktop["shots"]["id.png"]["red"] > 500


def test_pausing_the_app_covers_a_sensitive_screen_at_once(desktop) -> None:  # MASVS-PLATFORM-3
    paused = desktop["shots"]["id-paused.png"]  # saved in the on_pause call, no frame after
    assert paused["red"] == 0
    assert paused["cover"] > 0.9


def test_the_cover_shows_the_apps_title(desktop) -> None:  # MASVS-PLATFORM-3
    assert desktop["covers"]["paused"] == ["Secure Host"]
    assert 0 < desktop["shots"]["id-paused.png"]["text"] < 0.1  # the title's dark pixels


def test_while_paused_the_status_says_covered(desktop) -> None:  # MASVS-PLATFORM-3
    status = desktop["status"]["paused"]
    assert status["covered"] is True and status["mechanisms"] == ["cover_on_pause"]


def test_resuming_removes_the_cover(desktop) -> None:  # MASVS-PLATFORM-3
    assert desktop["status"]["resumed"]["covered"] is False
    assert desktop["shots"]["id-resumed.png"]["red"] > 500
    assert desktop["shots"]["id-resumed.png"]["cover"] < 0.5


def test_a_non_sensitive_screen_is_not_covered_when_paused(desktop) -> None:  # MASVS-PLATFORM-3
    assert desktop["status"]["public-paused"]["covered"] is False
    assert desktop["shots"]["public-paused.png"]["cover"] < 0.01
    assert desktop["shots"]["public-paused.png"]["blue"] > 0.5  # the public screen, as drawn


def test_entering_a_sensitive_screen_turns_protection_on_and_leaving_turns_it_off(desktop) -> None:  # MASVS-PLATFORM-3
    assert desktop["status"]["entered"]["active"] is True
    assert desktop["status"]["left"]["active"] is False


def test_on_a_desktop_the_status_says_screenshots_are_not_blocked(desktop) -> None:  # MASVS-PLATFORM-3
    status = desktop["status"]["entered"]
    assert status["mechanisms"] == ["cover_on_pause"]
    assert status["reason"].startswith("desktop systems have no API to keep a window out of "
                                       "screenshots")


def test_an_app_handler_bound_after_the_sdk_that_returns_true_does_not_stop_the_cover(desktop) -> None:  # MASVS-PLATFORM-3
    assert desktop["shots"]["handler-before.png"]["red"] > 500  # the name and ID were shown
    paused = desktop["shots"]["handler.png"]  # saved in the on_pause call, no frame after
    assert paused["red"] == 0 and paused["cover"] > 0.9
    assert desktop["status"]["handler"]["covered"] is True


def test_an_app_whose_on_pause_returns_false_is_still_covered(desktop) -> None:  # MASVS-PLATFORM-3
    paused = desktop["shots"]["method-false.png"]
    assert paused["red"] == 0 and paused["cover"] > 0.9
    assert desktop["status"]["method-false"]["covered"] is True


def test_the_apps_own_answer_to_on_pause_is_kept(desktop) -> None:
    # what Kivy reads to keep the app paused (True) or stop it (False) is the app's
    assert desktop["pause_answers"]["method-false"] is False
    assert desktop["pause_answers"]["handler"] is True


def test_an_app_on_resume_handler_that_returns_true_does_not_keep_the_cover(desktop) -> None:  # MASVS-PLATFORM-3
    assert desktop["status"]["handler-resumed"]["covered"] is False
    assert desktop["shots"]["handler-resumed.png"]["red"] > 500


# -- the demo app ----------------------------------------------------------------------------


def test_the_realname_screen_with_a_real_name_typed_turns_protection_on(
        run_app, passphrase_file) -> None:  # MASVS-PLATFORM-3
    from demo_app.autopilot import DEMO_REAL_NAME, REALNAME_CONSENTS

    from .conftest import agree_to

    steps = [{"wait_screen": "prompt"}, {"sleep": 0.3}, {"press": "agree"},
             {"wait_screen": "home"}, {"press": "realname_verify"}, {"wait_screen": "realname"},
             *agree_to(REALNAME_CONSENTS), {"wait_enabled": "rn_next"},
             {"type": ["rn_name", DEMO_REAL_NAME]}, {"probe": "realname"}]
    run = run_app(steps, "--passphrase-file", str(passphrase_file))
    assert run.code == 0, run.stderr
    probe = run.report["probes"]["realname"]
    assert probe["typed_chars"]["real_name"] == len(DEMO_REAL_NAME)
    assert probe["screen_protection"]["active"] is True
    assert probe["screen_protection"]["mechanisms"] == ["cover_on_pause"]


def test_import_sdk_imports_neither_kivy_nor_jnius() -> None:
    probe = ("import json, sys, sdk\nprint(json.dumps(sorted(m for m in ('kivy', 'jnius', "
             "'android') if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, cwd=REPO)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


# -- the hosts (run in a subprocess by the fixtures) ---------------------------------------------


def _pixels(path: Path) -> dict[str, float]:
    """Of the PNG at *path*: ``red`` (pixels of the sensitive text, a count), and the shares
    of ``cover`` grey, ``blue`` (the public screen) and ``text`` (dark: the cover's title)."""
    from kivy.core.image import Image as CoreImage

    data = CoreImage(str(path), keep_data=True).image._data[0]
    step = 4 if data.fmt in ("rgba", "bgra", "argb", "abgr") else 3
    raw = memoryview(data.data)
    total = len(raw) // step
    red = cover = blue = text = 0
    for i in range(0, total * step, step):
        r, g, b = raw[i], raw[i + 1], raw[i + 2]
        if r > RED[0] and g < RED[1] and b < RED[1]:
            red += 1
        elif COVER_GREY[0] <= r <= COVER_GREY[1] and abs(r - g) < 4 and abs(r - b) < 4:
            cover += 1
        elif b > 150 and r < 60 and g < 120:
            blue += 1
        elif r < 150 and abs(r - g) < 8 and abs(r - b) < 8:
            text += 1
    return {"red": red, "cover": round(cover / total, 4), "blue": round(blue / total, 4),
            "text": round(text / total, 4)}


def _sensitive_label(text: str) -> Any:
    """A Label in red on white that shows *text*, marked with ``secure_content``."""
    from kivy.graphics import Color, Rectangle
    from kivy.uix.label import Label

    from sdk.ui.kivy.secure import secure_content

    label = Label(text=text, color=(1, 0, 0, 1), font_size="34sp")
    with label.canvas.before:
        Color(1, 1, 1, 1)
        rect = Rectangle()
    label.bind(pos=lambda w, p: setattr(rect, "pos", p), size=lambda w, s: setattr(rect, "size", s))
    secure_content(label)
    return label


def android_host(args: Any) -> int:
    from tests.sdk.jnius_fakes import FakeActivity, UiThread, android_modules

    ui = UiThread()
    activity = FakeActivity(ui)
    window = activity.window
    sys.modules.update(android_modules(activity))
    from sdk.capture import _platform

    _platform.on_android = lambda: True  # as tests/sdk/test_android_camera.py does

    records: list[dict[str, str]] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append({"level": record.levelname, "message": record.getMessage()})

    logger = logging.getLogger("sdk.ui.secure")
    logger.addHandler(Keep())
    logger.setLevel(logging.INFO)

    from kivy.app import App
    from kivy.uix.boxlayout import BoxLayout
    from kivy.uix.label import Label

    from sdk.ui.kivy import install_cjk_font
    from sdk.ui.kivy.secure import SecureWindow, secure_content

    install_cjk_font()
    report: dict[str, Any] = {"steps": {}, "finished": False}
    seen = [0]

    def snap(name: str) -> None:
        ui.drain()
        report["steps"][name] = {"calls": [[m, list(a), t] for m, a, t in window.calls[seen[0]:]],
                                 "secure": window.secure,
                                 "status": SecureWindow.get().status().as_dict()}
        seen[0] = len(window.calls)

    def scenario() -> None:
        root = App.get_running_app().root
        a = _sensitive_label(SHOWN_NAME)
        b = _sensitive_label(SHOWN_ID)
        snap("start")
        root.add_widget(a)
        snap("one")
        root.add_widget(b)
        snap("two")
        root.remove_widget(a)
        snap("one_left")
        root.remove_widget(b)
        snap("none")
        window.fail = "java.lang.SecurityException"
        root.add_widget(a)
        snap("failing")
        root.remove_widget(a)
        snap("failing_removed")
        root.add_widget(b)  # fails again, the same way: logged once
        snap("failing_again")
        root.remove_widget(b)
        window.fail = None
        snap("failed_removed")
        window.flags |= FLAG_SECURE  # the app set it itself
        root.add_widget(a)
        snap("app_flag_added")
        root.remove_widget(a)
        snap("app_flag_removed")
        window.flags = 0
        sys.modules["jnius"] = None  # type: ignore[assignment] - "import jnius" fails
        fresh, c = SecureWindow(), Label(text=SHOWN_NAME)
        secure_content(c, fresh)
        root.add_widget(c)
        report["no_jnius"] = fresh.status().as_dict()
        root.remove_widget(c)
        report["finished"] = True

    class Host(App):
        title = "Secure Host"

        def build(self):
            return BoxLayout(orientation="vertical")

        def on_start(self):
            run_steps(self, [scenario], pass_over_stuck=False)

    Host().run()
    ui.drain()
    report.update(records=records, ui_errors=[repr(e) for e in ui.errors],
                  violations=window.violations)
    ui.stop()
    (args.out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False),
                                          encoding="utf-8")
    return 0 if report["finished"] else 1


def desktop_host(args: Any) -> int:
    from kivy.app import App
    from kivy.core.window import Window
    from kivy.graphics import Color, Rectangle
    from kivy.uix.label import Label
    from kivy.uix.screenmanager import NoTransition, Screen, ScreenManager

    from sdk.ui.kivy import install_cjk_font
    from sdk.ui.kivy.secure import SecureWindow, SensitiveContent

    install_cjk_font()
    report: dict[str, Any] = {"shots": {}, "status": {}}
    guard = SecureWindow.get()

    class IdScreen(SensitiveContent, Screen):
        pass

    def screen(cls: type, name: str, text: str, color: tuple, background: tuple) -> Screen:
        page = cls(name=name)
        with page.canvas.before:
            Color(*background)
            rect = Rectangle()
        page.bind(pos=lambda w, p: setattr(rect, "pos", p),
                  size=lambda w, s: setattr(rect, "size", s))
        page.add_widget(Label(text=text, color=color, font_size="34sp"))
        return page

    def shot(name: str) -> None:
        target = args.out / name
        save_screenshot(target)
        report["shots"][name] = _pixels(target)

    def status(name: str) -> None:
        report["status"][name] = guard.status().as_dict()

    class Host(App):
        title = "Secure Host"

        def build(self):
            Window.clearcolor = (0, 0, 0, 1)
            self.sm = ScreenManager(transition=NoTransition())
            self.sm.add_widget(screen(Screen, "public", "公开内容", (1, 1, 1, 1), (0.1, 0.3, 0.8, 1)))
            self.sm.add_widget(screen(IdScreen, "id", f"{SHOWN_NAME}\n{SHOWN_ID}", (1, 0, 0, 1),
                                      (1, 1, 1, 1)))
            return self.sm

        #: What the app's own ``on_pause`` method answers (True: keep running paused).
        pause_answer = True

        def on_pause(self):
            return self.pause_answer

        def pause_and_shoot(self, name: str) -> None:
            answer = self.dispatch("on_pause")  # as Kivy's SDL event filter does
            shot(f"{name}.png")                 # in the same call: no frame drawn in between
            status(name)
            report.setdefault("covers", {})[name] = [
                w.text for w in Window.children if type(w).__name__ == "_Cover"]
            report.setdefault("pause_answers", {})[name] = answer

        def resume(self, name: str = "resumed") -> None:
            self.dispatch("on_resume")
            status(name)

        def keep_running_when_paused(self) -> None:
            # what many apps do to keep running on Android, bound after the SDK's own hook
            # (the SDK hooked the app when the ID screen was first entered): Kivy calls bound
            # handlers newest first and stops at the first that returns True
            self.bind(on_pause=lambda *_a: True, on_resume=lambda *_a: True)

        def on_start(self):
            steps = [
                lambda: self.pause_and_shoot("public-paused"),
                lambda: self.dispatch("on_resume") or True,
                lambda: setattr(self.sm, "current", "id"),
                lambda: status("entered"),
                lambda: shot("id.png"),
                lambda: self.pause_and_shoot("paused"),
                lambda: shot("id-paused-later.png"),
                self.resume,
                lambda: shot("id-resumed.png"),
                lambda: setattr(self.sm, "current", "public"),
                lambda: status("left"),
                # an app whose on_pause method answers False (stop rather than pause)
                lambda: setattr(self, "pause_answer", False),
                lambda: setattr(self.sm, "current", "id"),
                lambda: self.pause_and_shoot("method-false"),
                lambda: self.resume("method-false-resumed"),
                lambda: setattr(self, "pause_answer", True),
                # an app handler bound after the SDK that answers True
                self.keep_running_when_paused,
                lambda: shot("handler-before.png"),
                lambda: self.pause_and_shoot("handler"),
                lambda: self.resume("handler-resumed"),
                lambda: shot("handler-resumed.png"),
                lambda: setattr(self.sm, "current", "public"),
                lambda: status("end"),
            ]
            run_steps(self, steps, pass_over_stuck=False)

    Host().run()
    # the shot saved in the on_pause call is the one the tests read as "id-paused.png"
    report["shots"]["id-paused.png"] = report["shots"].pop("paused.png")
    (args.out / "paused.png").replace(args.out / "id-paused.png")
    (args.out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False),
                                          encoding="utf-8")
    return 0 if "end" in report["status"] else 1


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    on_android = "--android" in argv
    args = host_arguments("python -m tests.ui.test_secure_screens",
                          [a for a in argv if a != "--android"])
    return android_host(args) if on_android else desktop_host(args)


if __name__ == "__main__":
    sys.exit(main())
