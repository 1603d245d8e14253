"""``make demo``: run the demo app, on the real display or, without one, as a scripted
walkthrough under Xvfb that saves a screenshot of every screen.

Usage: ``python -m demo_app.launch --data-dir DIR --screenshots DIR``
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from .xvfb import has_display, virtual_display


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m demo_app.launch")
    p.add_argument("--data-dir", type=Path, default=Path("demo-data"))
    p.add_argument("--screenshots", type=Path, default=Path("screenshots"))
    p.add_argument("--headless", action="store_true", help="walk through under Xvfb even with a display")
    args = p.parse_args(argv)
    app = [sys.executable, "-m", "demo_app"]
    if has_display() and not args.headless:
        return subprocess.call(app + ["--data-dir", str(args.data_dir)])

    # No display: a fresh data dir so the walkthrough starts at the first-launch prompt.
    run_dir = args.data_dir / "walkthrough"
    shutil.rmtree(run_dir, ignore_errors=True)
    shutil.rmtree(args.screenshots, ignore_errors=True)
    print("demo: no display found; running the scripted walkthrough under Xvfb", flush=True)
    with virtual_display() as display:
        env = dict(os.environ, DISPLAY=display)
        code = subprocess.call(
            app + ["--data-dir", str(run_dir), "--walkthrough", str(args.screenshots),
                   "--report", str(run_dir / "walkthrough.json")],
            env=env,
        )
    if code == 0:
        print(f"demo: screenshots of every screen: {args.screenshots.resolve()}", flush=True)
    else:
        print(f"demo: the walkthrough failed (exit {code}); see {run_dir / 'walkthrough.json'}",
              file=sys.stderr)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
