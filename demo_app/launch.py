"""``make demo``: run the demo app, on the real display or, without one, as a scripted
walkthrough under Xvfb that saves a screenshot of every screen. The walkthrough has two
parts: a first launch through every screen (privacy prompt, basic mode, account, cookies,
real-name signing with its separate consents, the privacy centre, 权限管理, face-scan signing
with the camera rationale and the synthetic camera, manual review with the photos rationale
and the sample picker, the camera switched off and the tap after that), then a second launch
of the same data dir with the next policy version (``demo_app/policy_2027``): the policy
update; then a first launch on a data dir of its own (``DIR/walkthrough/realname``) through
实名认证 (its separate consents, the form with a field error, the camera rationale, the face
video, the sealed upload, the server's answer), 数字证书 and 签署合同 (screenshots 36-44); then
a first launch on a data dir of its own (``DIR/walkthrough/rights``) with a breach notice
published by the embedded stub: the notice and 我已知悉, 个人信息权利 (the identity check
again, the access report, a correction, an objection with its deadline, an evidence request,
the list of requests), 客服与通知, 邀请签署方 (refused until the consent box is ticked) and the
account's cancellation in two steps, back at the privacy prompt (screenshots 45-57).

Xvfb has no OS keystore, so the walkthrough opts into the passphrase keystore with a throwaway
passphrase (random, made for each walkthrough, kept in ``DIR/walkthrough.passphrase``, owner
read/write only, never printed): its consent records are signed, and QA can export and verify
them (``python -m sdk.consent export DIR/walkthrough/sdk --out F``, then ``verify F``).

Usage: ``python -m demo_app.launch --data-dir DIR --screenshots DIR``; with a display, QA can
pass ``--notice breach|service-ending`` (a sample notice published by the embedded stub) and
``--stub-dev`` (the stub's dev endpoints, e.g. answering a data-subject request as staff).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

from .autopilot import walkthrough_update_steps
from .policy_2027 import POLICY_PATH as UPDATED_POLICY
from .xvfb import has_display, virtual_display

#: The walkthrough's data dir, inside ``--data-dir``.
WALKTHROUGH_DIR = "walkthrough"
#: The walkthrough's throwaway passphrase file, beside its data dir (inside ``--data-dir``).
PASSPHRASE_FILE = "walkthrough.passphrase"
#: The real-name part's own data dir, inside the walkthrough's (a fresh first launch).
REALNAME_DIR = "realname"
#: The rights part's own data dir, inside the walkthrough's (a fresh first launch).
RIGHTS_DIR = "rights"


def write_throwaway_passphrase(path: Path) -> Path:
    """Write a new random passphrase (256 bits, URL-safe text) as the only line of *path*,
    readable and writable by the owner only; replaces an older one. Never printed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)  # a new file gets the mode below, whatever the old one had
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(secrets.token_urlsafe(32) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m demo_app.launch")
    p.add_argument("--data-dir", type=Path, default=Path("demo-data"))
    p.add_argument("--screenshots", type=Path, default=Path("screenshots"))
    p.add_argument("--headless", action="store_true", help="walk through under Xvfb even with a display")
    p.add_argument("--notice", action="append", choices=("breach", "service-ending"), default=[],
                   help="with a display: the embedded stub publishes this sample notice at "
                        "start (may be repeated)")
    p.add_argument("--stub-dev", action="store_true",
                   help="with a display: the embedded stub serves its dev endpoints (e.g. "
                        "answering a data-subject request as staff)")
    args = p.parse_args(argv)
    app = [sys.executable, "-m", "demo_app"]
    if has_display() and not args.headless:
        qa = [f"--notice={kind}" for kind in args.notice] + (["--stub-dev"] if args.stub_dev else [])
        return subprocess.call(app + ["--data-dir", str(args.data_dir), *qa])

    # No display: a fresh data dir so the walkthrough starts at the first-launch prompt, and a
    # fresh passphrase for it (the records it signs are verifiable; the data dir it protects
    # is thrown away on the next run).
    run_dir = args.data_dir / WALKTHROUGH_DIR
    shutil.rmtree(run_dir, ignore_errors=True)
    shutil.rmtree(args.screenshots, ignore_errors=True)
    passphrase = write_throwaway_passphrase(args.data_dir / PASSPHRASE_FILE)
    app += ["--passphrase-file", str(passphrase)]
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
            # Third part: real-name verification, the certificate and signing, from a first
            # launch on (its steps are built in: the values it types are in no file).
            report = run_dir / "realname.json"
            code = subprocess.call(
                app + ["--data-dir", str(run_dir / REALNAME_DIR), "--walkthrough",
                       str(args.screenshots), "--walkthrough-part", "realname",
                       "--report", str(report)],
                env=env,
            )
        if code == 0:
            # Fourth part: the data-subject rights, customer service, the invitation, a
            # breach notice and the account's cancellation, from a first launch on.
            report = run_dir / "rights.json"
            code = subprocess.call(
                app + ["--data-dir", str(run_dir / RIGHTS_DIR), "--walkthrough",
                       str(args.screenshots), "--walkthrough-part", "rights",
                       "--notice", "breach", "--report", str(report)],
                env=env,
            )
    if code == 0:
        print(f"demo: screenshots of every screen: {args.screenshots.resolve()}", flush=True)
        print(f"demo: signed consent records in {(run_dir / 'sdk').resolve()}; check them with "
              f"python -m sdk.consent export {run_dir / 'sdk'} --out consent-export.json && "
              "python -m sdk.consent verify consent-export.json", flush=True)
    else:
        print(f"demo: the walkthrough failed (exit {code}); see {report}", file=sys.stderr)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
