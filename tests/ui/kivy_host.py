"""The small Kivy host apps that UI tests run in a subprocess (:mod:`tests.ui.bare_host`, the
notice dialog's host in :mod:`tests.ui.test_notice_dialog`): starting one, its command line and
window, its screenshots and its steps. Kivy is imported only once the host has set it up."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def run_host(module: str, display: str, data_dir: Path, out: Path) -> subprocess.CompletedProcess:
    """Run ``python -m module --data-dir DATA_DIR --out OUT`` on *display* (2 minutes at most);
    the finished process (its report is ``OUT/report.json``)."""
    return subprocess.run(
        [sys.executable, "-m", module, "--data-dir", str(data_dir), "--out", str(out)],
        env=dict(os.environ, DISPLAY=display, KIVY_NO_ARGS="1"), capture_output=True,
        text=True, timeout=120, cwd=REPO, check=False,
    )


def host_arguments(prog: str, argv: list[str] | None) -> argparse.Namespace:
    """The host's ``--data-dir`` and ``--out`` (both made), with Kivy set up before its first
    import: no command line of its own, logs through Python, its home in the data dir, a
    540 x 960 window."""
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")
    os.environ.setdefault("KIVY_HOME", str(args.data_dir / "kivy"))
    from kivy.config import Config

    Config.set("graphics", "width", "540")
    Config.set("graphics", "height", "960")
    return args


def save_screenshot(target: Path) -> None:
    """Save the window to *target* (Kivy adds a number to the name it is given)."""
    from kivy.core.window import Window

    made = Window.screenshot(name=str(target))
    if made and Path(made) != target:
        os.replace(made, target)


def run_steps(app: Any, steps: list[Callable[[], Any]], *, pass_over_stuck: bool) -> None:
    """Run *steps* one after the other on Kivy's clock, 1.5 s after start and 0.8 s apart, then
    stop *app*. A step that returns ``False`` is not done: it is tried again every 0.25 s, 40
    times at most; after that the host goes on with the next step when *pass_over_stuck*,
    else it stops there."""
    from kivy.clock import Clock

    def run(_dt: Any, i: int = 0, tries: int = 40) -> None:
        done = steps[i]() is not False
        if not done and tries > 1:  # again on a later frame
            Clock.schedule_once(lambda dt: run(dt, i, tries - 1), 0.25)
        elif (done or pass_over_stuck) and i + 1 < len(steps):
            Clock.schedule_once(lambda dt: run(dt, i + 1), 0.8)
        else:
            app.stop()

    Clock.schedule_once(run, 1.5)
