"""docs/examples/minimal_app.py (included in docs/integration.md) runs: under Xvfb against the
real stub, the prompt shows first, 同意 records consent on the device and the server, the
consent gate opens, and the privacy centre shows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "docs" / "examples" / "minimal_app.py"

pytestmark = pytest.mark.ui

# Drives the app from inside its own process: a few frames per step, then a JSON report.
DRIVER = r"""
import json, runpy, sys
from kivy.app import App
from kivy.clock import Clock

report_path, app_path, *argv = sys.argv[1:]
sys.argv = [app_path, *argv]
seen, state = [], {"frames": 0, "step": 0}

def first(widget, match):
    if match(widget):
        return widget
    for child in widget.children:
        hit = first(child, match)
        if hit is not None:
            return hit
    return None

def find(widget, cls_name):
    return first(widget, lambda w: type(w).__name__ == cls_name)

def button(widget, text):
    from kivy.uix.button import Button
    return first(widget, lambda w: isinstance(w, Button) and w.text == text)

def finish(app):
    json.dump({"seen": seen, "mode": app.privacy.mode, "frames": state["frames"],
               "status": getattr(app, "status", None) and app.status.text,
               "pending": app.privacy.pending_sync()}, open(report_path, "w"))
    app.stop()

def tick(dt):
    app = App.get_running_app()
    if app is None or app.root is None:
        return
    state["frames"] += 1
    if state["frames"] > 600:
        seen.append("timeout"); finish(app); return
    step = state["step"]
    if step == 0 and find(app.root, "PrivacyPrompt") is not None:
        seen.append("prompt"); find(app.root, "PrivacyPrompt").agree(); state["step"] = 1
    elif step == 1 and button(app.root, "客服") is not None:
        seen.append("home"); button(app.root, "客服").dispatch("on_release"); state["step"] = 2
    elif step == 2:
        seen.append(app.status.text); button(app.root, "隐私中心").dispatch("on_release")
        state["step"] = 3
    elif step == 3 and find(app.root, "PrivacyCentre") is not None:
        seen.append("centre"); state["step"] = 4
    elif step >= 4:
        state["step"] += 1
        if state["step"] > 10:  # a few more frames with the centre drawn
            finish(app)

Clock.schedule_interval(tick, 0.05)
runpy.run_path(app_path, run_name="__main__")
"""


def test_the_minimal_app_shows_the_prompt_then_home_and_the_privacy_centre(display, stub, tmp_path):
    report = tmp_path / "report.json"
    env = dict(os.environ, DISPLAY=display, KIVY_NO_ARGS="1", KIVY_HOME=str(tmp_path / "kivy"))
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER, str(report), str(APP), "--data-dir", str(tmp_path / "app"),
         "--server", stub.url, "--ca", str(stub.ca_path)],
        env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["seen"] == ["prompt", "home", "客服可用", "centre"], data
    assert data["mode"] == "full" and data["pending"] == 0  # the agreement reached the server


def test_the_guide_includes_the_example_file():
    guide = (REPO / "docs" / "integration.md").read_text(encoding="utf-8")
    assert "examples/minimal_app.py" in guide
