"""Command line of the demo app: prepares the data dir and the server, then runs the Kivy app.

Without ``--server`` the app starts an embedded stub server (HTTPS with a generated dev CA,
SQLite) in the data dir, so one command shows every flow.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from .policy import MANIFEST_PATH as BUNDLED_MANIFEST
from .policy import POLICY_PATH as BUNDLED_POLICY

log = logging.getLogger("demo_app")


def default_data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("privacy-sdk-demo", appauthor=False))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m demo_app",
        description="Demo e-signature app showing every flow of the privacy SDK.",
    )
    p.add_argument("--data-dir", type=Path, default=None,
                   help="folder for the app's data (default: the platform's user data dir)")
    p.add_argument("--policy", type=Path, default=None,
                   help="show this Markdown policy instead of the bundled one; its manifest is "
                        "manifest.toml beside it, else --manifest, else the bundled manifest")
    p.add_argument("--manifest", type=Path, default=None, help="policy manifest (TOML)")
    p.add_argument("--server", default=None,
                   help="base URL of a running server, e.g. https://127.0.0.1:8443 "
                        "(default: start an embedded stub server)")
    p.add_argument("--ca", type=Path, default=None,
                   help="CA bundle (PEM) that signs --server's certificate")
    p.add_argument("--script", type=Path, default=None,
                   help="run a scripted walkthrough (JSON list of steps) and exit")
    p.add_argument("--walkthrough", type=Path, default=None, metavar="DIR",
                   help="run the built-in walkthrough of every screen, saving screenshots in DIR")
    p.add_argument("--report", type=Path, default=None,
                   help="with --script/--walkthrough: write what happened as JSON here")
    p.add_argument("--size", default="540x960", help="window size WIDTHxHEIGHT (default 540x960)")
    p.add_argument("--font", type=Path, default=None, help="font file that can draw Chinese")
    return p


def _fail(message: str) -> int:
    print(f"demo_app: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("markdown_it").setLevel(logging.WARNING)
    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        return _fail(f"--size must look like 540x960, got '{args.size}'")
    if args.server and not args.ca:
        return _fail("--server needs --ca, the CA bundle that signs the server's certificate")

    from sdk.errors import SdkError

    data_dir = (args.data_dir or default_data_dir()).resolve()
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return _fail(f"cannot create data dir '{data_dir}': {exc.strerror}")

    server = None
    try:
        policy = _load_policy(args)
        if args.server:
            endpoint, ca = args.server, args.ca
        else:
            from server_stub.runner import start_in_thread
            from server_stub.settings import Settings

            server = start_in_thread(Settings(data_dir=data_dir / "stub"))
            endpoint, ca = server.url, server.ca_path
            log.info("embedded stub server at %s", endpoint)
        return _run_app(args, data_dir, policy, endpoint, ca, (width, height))
    except SdkError as exc:
        return _fail(str(exc))
    finally:
        if server is not None:
            server.stop()


def _load_policy(args):
    from sdk.errors import PolicyError
    from sdk.policy import Policy, load_manifest

    policy_path = args.policy or BUNDLED_POLICY
    manifest_path = args.manifest or policy_path.with_name("manifest.toml")
    if not manifest_path.is_file():
        manifest_path = BUNDLED_MANIFEST
    try:
        text = policy_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"cannot read policy '{policy_path}': {exc}") from exc
    return Policy.from_text(text, load_manifest(manifest_path))


def _run_app(args, data_dir: Path, policy, endpoint: str, ca: Path, size: tuple[int, int]) -> int:
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")  # Kivy leaves the logging setup to us
    os.environ.setdefault("KIVY_HOME", str(data_dir / "kivy"))
    from kivy.config import Config

    Config.set("graphics", "width", str(size[0]))
    Config.set("graphics", "height", str(size[1]))
    Config.set("graphics", "position", "custom")
    Config.set("graphics", "left", "0")
    Config.set("graphics", "top", "0")
    Config.set("input", "mouse", "mouse,disable_multitouch")
    Config.set("kivy", "exit_on_escape", "0")

    from sdk import PrivacySdk, SdkConfig
    from sdk.ui.kivy import install_cjk_font

    install_cjk_font(args.font)
    from .app import DemoApp

    sdk = PrivacySdk.open(SdkConfig(data_dir=data_dir / "sdk", endpoint=endpoint, ca_bundle=ca),
                          policy)
    script = None
    if args.walkthrough:
        from .autopilot import walkthrough_steps

        args.walkthrough.mkdir(parents=True, exist_ok=True)
        script = walkthrough_steps(args.walkthrough)
    elif args.script:
        import json

        script = json.loads(args.script.read_text(encoding="utf-8"))
    app = DemoApp(sdk=sdk, script=script, report_path=args.report)
    try:
        app.run()
    finally:
        sdk.close()
    if args.walkthrough:
        print(f"demo_app: screenshots of every screen are in {args.walkthrough.resolve()}", flush=True)
    return app.exit_code
