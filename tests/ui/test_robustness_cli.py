"""``python -m demo_app`` with bad arguments: one line ``demo_app: ...``, exit 2, no traceback,
and nothing done first (no data dir made, no stub started, no window opened).

These fail before any window opens, so they need no display; DISPLAY is removed so that a
regression (the app getting as far as a window) fails instead of showing one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO

# A TrueType signature followed by garbage: passes a look at the first bytes, not a real load.
FAKE_TTF = b"\x00\x01\x00\x00" + b"\x00" * 60


@pytest.fixture
def demo(tmp_path):
    """Run the demo app with arguments; returns (exit code, stderr). Data dir: tmp_path/data."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}

    def run(*args: str) -> tuple[int, str]:
        proc = subprocess.run(
            [sys.executable, "-m", "demo_app", "--data-dir", str(tmp_path / "data"), *args],
            env=env, capture_output=True, text=True, timeout=90, cwd=REPO, check=False,
        )
        return proc.returncode, proc.stderr

    return run


def _error_line(stderr: str) -> str:
    """The ``demo_app:`` line; asserts it is the only non-log line and there is no traceback."""
    assert "Traceback" not in stderr, stderr[-3000:]
    lines = [ln for ln in stderr.splitlines()
             if not ln.startswith(("INFO ", "WARNING ", "DEBUG ", "[INFO", "[WARNING", "[DEBUG"))]
    assert len(lines) == 1, stderr[-3000:]
    assert lines[0].startswith("demo_app: ")
    return lines[0]


def _script(tmp_path: Path, content: str) -> Path:
    path = tmp_path / "script.json"
    path.write_text(content, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------ --font


def test_font_that_is_not_a_font_file(demo, tmp_path):
    text = tmp_path / "passwd"
    text.write_text("root:x:0:0:root:/root:/bin/bash\n", encoding="utf-8")
    code, err = demo("--font", str(text))
    assert code == 2
    assert "is not a font file" in _error_line(err)


def test_missing_font_is_reported_before_the_stub_starts(demo, tmp_path):
    code, err = demo("--font", str(tmp_path / "nonexist.ttf"))
    assert code == 2
    assert "does not exist" in _error_line(err)
    assert not (tmp_path / "data").exists()


def test_font_that_kivy_cannot_load_is_reported(demo, tmp_path):
    fake = tmp_path / "fake.ttf"
    fake.write_bytes(FAKE_TTF)
    code, err = demo("--font", str(fake))
    assert code == 2
    assert "cannot be loaded" in _error_line(err)


# ---------------------------------------------------------------------------- --script


def test_missing_script(demo, tmp_path):
    code, err = demo("--script", str(tmp_path / "nonexist.json"))
    assert code == 2
    assert "does not exist" in _error_line(err)


def test_script_that_is_not_json(demo, tmp_path):
    code, err = demo("--script", str(_script(tmp_path, "root:x:0:0:root:/root:/bin/bash\n")))
    assert code == 2
    assert "is not valid JSON (line 1, column 1" in _error_line(err)


def test_script_with_unknown_step_lists_the_valid_steps(demo, tmp_path):
    code, err = demo("--script", str(_script(tmp_path, '[{"wait_screen": "prompt"}, {"foo": 1}]')))
    assert code == 2
    line = _error_line(err)
    assert "step 2: unknown step 'foo'" in line
    for name in ("wait_screen", "press", "wait_widgets", "press_template", "wait_document",
                 "wait_status", "quit"):
        assert name in line


def test_script_that_is_not_a_list(demo, tmp_path):
    code, err = demo("--script", str(_script(tmp_path, '{"quit": 0}')))
    assert code == 2
    assert "must be a JSON list of steps" in _error_line(err)


def test_script_step_with_two_keys(demo, tmp_path):
    code, err = demo("--script", str(_script(tmp_path, '[{"press": "agree", "quit": 0}]')))
    assert code == 2
    assert "exactly one key" in _error_line(err)


def test_script_step_with_wrong_argument_type(demo, tmp_path):
    code, err = demo("--script", str(_script(tmp_path, '[{"sleep": "long"}]')))
    assert code == 2
    assert "'sleep' takes a number of seconds" in _error_line(err)


def test_script_is_checked_before_the_data_dir_is_made(demo, tmp_path):
    code, _ = demo("--script", str(_script(tmp_path, '[{"foo": 1}]')))
    assert code == 2
    assert not (tmp_path / "data").exists()


# --------------------------------------------------------------- --walkthrough, --report


def test_walkthrough_that_is_a_file(demo, tmp_path):
    a_file = tmp_path / "shots"
    a_file.write_text("x", encoding="utf-8")
    code, err = demo("--walkthrough", str(a_file))
    assert code == 2
    assert "is a file, not a folder" in _error_line(err)


def test_report_in_a_folder_that_cannot_exist(demo, tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("x", encoding="utf-8")
    code, err = demo("--script", str(_script(tmp_path, '[{"quit": 0}]')),
                     "--report", str(a_file / "nope" / "r.json"))
    assert code == 2
    assert "cannot be created" in _error_line(err)


def test_report_under_proc_is_refused_up_front(demo, tmp_path):
    if not Path("/proc").is_dir():
        pytest.skip("no /proc here")
    code, err = demo("--script", str(_script(tmp_path, '[{"quit": 0}]')),
                     "--report", "/proc/nope/r.json")
    assert code == 2
    assert "/proc/nope" in _error_line(err)


def test_report_that_is_a_folder(demo, tmp_path):
    code, err = demo("--script", str(_script(tmp_path, '[{"quit": 0}]')), "--report", str(tmp_path))
    assert code == 2
    assert "is a folder" in _error_line(err)


# ------------------------------------------------------------------------------ --size


@pytest.mark.parametrize("size", ["0x0", "99999x99999", "-5x10", "199x960", "540x10001"])
def test_impossible_window_size(demo, size):
    code, err = demo(f"--size={size}")
    assert code == 2
    assert "from 200 to 10000" in _error_line(err)


def test_malformed_window_size(demo):
    code, err = demo("--size", "big")
    assert code == 2
    assert "--size must be WIDTHxHEIGHT" in _error_line(err)


# -------------------------------------------------------------- --policy, --manifest


def test_missing_manifest_given_explicitly_is_an_error(demo, tmp_path):
    code, err = demo("--manifest", str(tmp_path / "nonexist.toml"))
    assert code == 2
    line = _error_line(err)
    assert "manifest not found" in line and str(tmp_path / "nonexist.toml") in line


def test_missing_policy_says_the_policy_file_is_missing(demo, tmp_path):
    code, err = demo("--policy", str(tmp_path / "nope.md"))
    assert code == 2
    line = _error_line(err)
    assert "privacy policy file not found" in line and "manifest" not in line


# ------------------------------------------------------------------------ server, stub


def test_ca_that_is_not_pem(demo, tmp_path):
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("not a certificate\n", encoding="utf-8")
    code, err = demo("--server", "https://127.0.0.1:1", "--ca", str(not_pem))
    assert code == 2
    assert "is not a PEM CA bundle" in _error_line(err)


def test_damaged_embedded_stub_database(demo, tmp_path):
    db = tmp_path / "data" / "stub" / "stub.db"
    db.parent.mkdir(parents=True)
    db.write_text("garbage\n", encoding="utf-8")
    code, err = demo()
    assert code == 2
    line = _error_line(err)
    assert str(db) in line and "move it aside" in line


def test_unknown_option_is_one_line(demo):
    code, err = demo("--bogus")
    assert code == 2
    assert "unrecognized arguments: --bogus" in _error_line(err)


def test_script_file_with_valid_steps_is_accepted_by_the_checks(tmp_path):
    """The built-in walkthrough passes the same validation as a --script file."""
    from demo_app.autopilot import validate_script, walkthrough_steps

    steps = walkthrough_steps(tmp_path / "shots")
    assert validate_script(json.loads(json.dumps(steps))) == steps


# ------------------------------------------------------------------------------ --fault


def test_a_wrong_fault_rule_is_one_line_before_anything_starts(demo, tmp_path):  # issue #8 faults: demo launcher
    code, err = demo("--fault", "POST /v1/consent-records status=404")
    assert code == 2
    assert "--fault" in _error_line(err) and "500 to 599" in _error_line(err)
    assert not (tmp_path / "data").exists()


def test_fault_rules_reach_the_embedded_stub(tmp_path):  # issue #8 faults: demo launcher
    from demo_app.main import _check_arguments, build_parser, embedded_stub_settings

    args = build_parser().parse_args(["--fault", "POST /v1/consent-records status=503 times=2",
                                      "--fault", "* /v1/uploads/* drop"])
    settings = embedded_stub_settings(tmp_path, _check_arguments(args, tmp_path))
    assert settings.faults == ("POST /v1/consent-records status=503 times=2", "* /v1/uploads/* drop")


# ------------------------------------------------------- --server on a phone: no server_stub

_BLOCKED_STUB = """
import sys
for name in ("server_stub", "fastapi", "uvicorn", "argon2"):
    sys.modules[name] = None  # import fails, as on a phone build (buildozer.spec)
import demo_app.main as m
m._run_app = lambda args, data_dir, options, endpoint, ca: print("READY", endpoint, len(options.hpke_pins)) or 0
sys.exit(m.main(sys.argv[1:]))
"""


def test_server_mode_needs_no_server_stub(tmp_path):
    """With --server/--ca/--hpke-pins nothing of the stub (FastAPI, uvicorn, argon2) is
    imported: the app gets past the checks and the stub handling to the window."""
    from server_stub.testing import running_stub

    pins = tmp_path / "pins.txt"
    pins.write_text("sha256:" + "ab" * 32 + "\n", encoding="utf-8")
    with running_stub(tmp_path / "stub") as stub:
        proc = subprocess.run(
            [sys.executable, "-c", _BLOCKED_STUB, "--data-dir", str(tmp_path / "data"),
             "--server", stub.url, "--ca", str(stub.ca_path), "--hpke-pins", str(pins)],
            capture_output=True, text=True, timeout=90, cwd=REPO, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"READY {stub.url} 1" in proc.stdout
