"""``make demo``: run the demo app, on the real display or, without one, as a scripted
walkthrough under Xvfb that saves a screenshot of every screen. The walkthrough has two
parts: a first launch through every screen (privacy prompt, basic mode, account, cookies,
real-name signing with its separate consents, the privacy centre), then a second launch of the
same data dir with the next policy version (``demo_app/policy_2027``): the policy update.

Usage: ``python -m demo_app.launch --data-dir DIR --screenshots DIR``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from .autopilot import walkthrough_update_steps
from .policy_2027 import POLICY_PATH as UPDATED_POLICY
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
        report = run_dir / "walkthrough.json"
        code = subprocess.call(
            app + ["--data-dir", str(run_dir), "--walkthrough", str(args.screenshots),
                   "--report", str(report)],
            env=env,
        )
        if code == 0:
            # Second part: the next policy version on the same data dir (the policy update).
            report = run_dir / "policy-update.json"
            script = run_dir / "policy-update-script.json"
            script.write_text(json.dumps(walkthrough_update_steps(args.screenshots),
                                         ensure_ascii=False), encoding="utf-8")
            code = subprocess.call(
                app + ["--data-dir", str(run_dir), "--policy", str(UPDATED_POLICY),
                       "--script", str(script), "--report", str(report)],
                env=env,
            )
    if code == 0:
        print(f"demo: screenshots of every screen: {args.screenshots.resolve()}", flush=True)
    else:
        print(f"demo: the walkthrough failed (exit {code}); see {report}", file=sys.stderr)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
