"""The autopilot's steps: every step it runs is validated and documented."""

from __future__ import annotations

import subprocess
import sys

import pytest

from demo_app import autopilot
from demo_app.autopilot import (
    STEPS,
    Autopilot,
    ScriptError,
    validate_script,
    walkthrough_steps,
)


def _implemented() -> set[str]:
    return {name[len("_step_"):] for name in dir(Autopilot) if name.startswith("_step_")}


def test_every_implemented_step_is_a_known_step():
    assert _implemented() == set(STEPS)


@pytest.mark.parametrize("name", sorted(STEPS))
def test_every_step_is_documented_in_the_module_docstring(name):
    assert f'``{{"{name}": ' in autopilot.__doc__


def test_every_step_of_the_builtin_walkthrough_is_documented(tmp_path):
    used = {next(iter(step)) for step in walkthrough_steps(tmp_path)}
    assert used <= {name for name in STEPS if f'``{{"{name}": ' in autopilot.__doc__}


def test_unknown_step_message_lists_every_valid_step():
    with pytest.raises(ScriptError) as caught:
        validate_script([{"foo": 1}])
    assert all(name in str(caught.value) for name in STEPS)


@pytest.mark.parametrize("step", [{"quit": True}, {"press_template": -1}, {"sleep": -1},
                                  {"press": ""}, {"screenshot": 3}])
def test_step_with_wrong_argument_is_refused(step):
    with pytest.raises(ScriptError, match="takes"):
        validate_script([step])


def test_importing_the_autopilot_does_not_import_kivy():
    code = ("import sys, demo_app.autopilot\n"
            "sys.exit(1 if any(m == 'kivy' or m.startswith('kivy.') for m in sys.modules) else 0)")
    assert subprocess.run([sys.executable, "-c", code], timeout=60, check=False).returncode == 0


def test_a_wrong_type_step_is_refused_without_showing_what_it_types():  # OBL-SEC-2
    with pytest.raises(ScriptError, match="takes") as caught:
        validate_script([{"type": ["password", "Xk9#mQ2vLp8w-river", "extra"]}])
    assert "Xk9#mQ2vLp8w-river" not in str(caught.value)


def test_a_type_step_that_times_out_keeps_its_text_out_of_the_report_and_log(monkeypatch, caplog):  # OBL-SEC-2
    typed = "13800138000"

    class Root:
        current = "account"

    class App:
        root, history, written, code = Root(), ["account"], {}, None

        def write_report(self, _path, data):
            self.written = data

        def finish(self, code):
            self.code = code

    class NoWindow(Autopilot):
        def _find(self, _widget_id):  # the field never appears
            return None

    monkeypatch.setattr(autopilot, "STEP_TIMEOUT", 0.0)
    app = App()
    pilot = NoWindow(app, [{"type": ["identifier", typed]}], report_path="unused.json")
    pilot._started = -1.0  # long ago: the step has timed out
    with caplog.at_level("ERROR", logger="demo_app.autopilot"):
        pilot._tick(0)
    assert app.code == 3
    assert app.written["steps"] == [{"step": "type", "arg": "identifier", "chars": len(typed),
                                     "outcome": "timeout", "screen": "account"}]
    assert typed not in repr(app.written) and typed not in caplog.text
    assert '{"type": "identifier", "chars": 11}' in app.written["reason"]
