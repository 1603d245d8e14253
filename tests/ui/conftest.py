"""UI tests drive the real demo app in a real window (under Xvfb when there is no display).

Each test gets its own data dir and its own stub server over HTTPS; the app runs in a
subprocess with a script (see demo_app/autopilot.py) and reports what it saw as JSON.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

from demo_app.autopilot import LOG_IN
from demo_app.xvfb import has_display, virtual_display

REPO = Path(__file__).resolve().parents[2]
SEED_POLICY = REPO.parent / "shared" / "seed" / "000_105f4bc9759c57dd.txt"



@pytest.fixture(scope="session")
def display():
    if has_display() and not os.environ.get("UI_TESTS_FORCE_XVFB"):
        yield os.environ.get("DISPLAY", "")
        return
    with virtual_display() as value:
        yield value


@pytest.fixture
def synthetic_devices(monkeypatch):
    """The synthetic camera whatever this machine has; no permission override from outside.
    A module uses it for every test with ``pytestmark = pytest.mark.usefixtures(...)``."""
    monkeypatch.setenv("PRIVACY_SDK_CAMERA", "synthetic")
    monkeypatch.delenv("PRIVACY_SDK_PERMISSIONS", raising=False)
    monkeypatch.delenv("PRIVACY_SDK_PERMISSIONS_SCRIPT", raising=False)


#: The passphrase of the app's passphrase keystore (Xvfb has no OS keyring): a throwaway.
PASSPHRASE = "ui-test-throwaway-passphrase-0123456789"

#: Autopilot steps: agree to the policy at the prompt, then register :data:`DEMO_PHONE` and
#: be logged in, back on the home screen.
REGISTERED = [
    {"wait_screen": "prompt"}, {"sleep": 0.3}, {"press": "agree"}, {"wait_screen": "home"},
    *LOG_IN]


@pytest.fixture
def passphrase_file(tmp_path) -> Path:
    """A file holding :data:`PASSPHRASE` (0600), for ``--passphrase-file``."""
    path = tmp_path / "passphrase"
    path.write_text(PASSPHRASE + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def agree_to(scopes: Iterable[str]) -> list[dict]:
    """Autopilot steps that agree to the separate-consent dialog of each of *scopes*, in
    order."""
    steps: list[dict] = []
    for scope in scopes:
        steps += [{"wait_dialog": scope}, {"press": "separate_agree"}]
    return steps


@pytest.fixture
def stub(tmp_path):
    from server_stub.testing import running_stub

    with running_stub(tmp_path / "stub") as server:
        yield server


@dataclass
class AppRun:
    code: int
    report: dict
    stderr: str


def db_rows(db: Path, sql: str) -> list[tuple]:
    """Rows of *sql* in the stub's database; ``[]`` when the database or table does not exist
    (the stub makes some tables on first use)."""
    if not db.exists():
        return []
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []
        raise
    finally:
        conn.close()


def script_and_report(tmp_path: Path, name: str, steps: list[dict]) -> tuple[Path, Path]:
    """``(script, report)``: *steps* written to ``<name>-script.json`` in *tmp_path*, and
    ``<name>-report.json`` beside it for the app's report."""
    script, report = tmp_path / f"{name}-script.json", tmp_path / f"{name}-report.json"
    script.write_text(json.dumps(steps, ensure_ascii=False), encoding="utf-8")
    return script, report


def demo_app_command(data_dir: Path, script: Path, report: Path, *extra: str) -> list[str]:
    """``python -m demo_app`` on *data_dir* with the autopilot *script* and its *report*."""
    return [sys.executable, "-m", "demo_app", "--data-dir", str(data_dir), "--script",
            str(script), "--report", str(report), *extra]


def app_run(code: int, report: Path, stderr: str | None) -> AppRun:
    """The outcome of an app run: its exit code, its report (``{}`` when it wrote none) and
    the end of its stderr."""
    data = json.loads(report.read_text(encoding="utf-8")) if report.exists() else {}
    return AppRun(code, data, (stderr or "")[-4000:])


def run_demo_app(display: str, data_dir: Path, tmp_path: Path, name: str, steps: list[dict],
                 *extra: str, timeout: float) -> AppRun:
    """Run the demo app on *display* with *steps* (files named after *name* in *tmp_path*)
    and *extra* arguments, waiting at most *timeout* seconds."""
    script, report = script_and_report(tmp_path, name, steps)
    proc = subprocess.run(demo_app_command(data_dir, script, report, *extra),
                          env=dict(os.environ, DISPLAY=display), capture_output=True, text=True,
                          timeout=timeout, cwd=REPO, check=False)
    return app_run(proc.returncode, report, proc.stderr)


@pytest.fixture
def run_app(display, stub, tmp_path):
    """Run the demo app with a script; returns an :class:`AppRun`. Same data dir per test."""
    data_dir = tmp_path / "app"
    counter = iter(range(1000))

    def run(steps: list[dict], *extra: str, timeout: float = 120) -> AppRun:
        return run_demo_app(display, data_dir, tmp_path, f"run{next(counter)}", steps,
                            "--server", stub.url, "--ca", str(stub.ca_path), *extra,
                            timeout=timeout)

    run.data_dir = data_dir
    run.tmp_path = tmp_path
    return run


def start_app(display: str, data_dir: Path, stub, steps: list[dict], tmp_path: Path) -> subprocess.Popen:
    """Start the app without waiting (for tests that kill it)."""
    script = tmp_path / "script-bg.json"
    script.write_text(json.dumps(steps), encoding="utf-8")
    return subprocess.Popen(
        [sys.executable, "-m", "demo_app", "--data-dir", str(data_dir), "--server", stub.url,
         "--ca", str(stub.ca_path), "--script", str(script)],
        env=dict(os.environ, DISPLAY=display), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, cwd=REPO,
    )


def pytest_collection_modifyitems(config, items):
    """Mark every test under tests/ui as ``ui`` (``pytestmark`` in a conftest has no effect)."""
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.ui)
