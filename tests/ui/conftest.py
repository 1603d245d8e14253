"""UI tests drive the real demo app in a real window (under Xvfb when there is no display).

Each test gets its own data dir and its own stub server over HTTPS; the app runs in a
subprocess with a script (see demo_app/autopilot.py) and reports what it saw as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

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


@pytest.fixture
def run_app(display, stub, tmp_path):
    """Run the demo app with a script; returns an :class:`AppRun`. Same data dir per test."""
    data_dir = tmp_path / "app"
    counter = iter(range(1000))

    def run(steps: list[dict], *extra: str, timeout: float = 120) -> AppRun:
        n = next(counter)
        script = tmp_path / f"script{n}.json"
        report = tmp_path / f"report{n}.json"
        script.write_text(json.dumps(steps, ensure_ascii=False), encoding="utf-8")
        env = dict(os.environ, DISPLAY=display)
        proc = subprocess.run(
            [sys.executable, "-m", "demo_app", "--data-dir", str(data_dir), "--server", stub.url,
             "--ca", str(stub.ca_path), "--script", str(script), "--report", str(report), *extra],
            env=env, capture_output=True, text=True, timeout=timeout, cwd=REPO,
        )
        data = json.loads(report.read_text(encoding="utf-8")) if report.exists() else {}
        return AppRun(proc.returncode, data, proc.stderr[-4000:])

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
