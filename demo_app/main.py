"""Command line of the demo app: prepares the data dir and the server, then runs the Kivy app.

Without ``--server`` the app starts an embedded stub server (HTTPS with a generated dev CA,
SQLite) in the data dir, so one command shows every flow.

Every argument is checked before anything happens (no folder made, no server started, no
window opened); a bad one ends the program with one line ``demo_app: <what is wrong and how to
fix it>`` on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from .policy import MANIFEST_PATH as BUNDLED_MANIFEST
from .policy import POLICY_PATH as BUNDLED_POLICY

log = logging.getLogger("demo_app")

EXIT_USAGE = 2
#: Smallest and largest window side accepted by ``--size``, in pixels.
MIN_SIDE, MAX_SIDE = 200, 10000
#: First bytes of the font files Kivy (SDL2_ttf / FreeType) can load: TrueType, OpenType
#: with CFF outlines, Apple TrueType, old PostScript-in-sfnt, and collections (.ttc).
_FONT_SIGNATURES = (b"\x00\x01\x00\x00", b"OTTO", b"true", b"typ1", b"ttcf")


class UsageError(Exception):
    """A bad argument; the message says what is wrong and how to fix it (one line)."""


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error message (no usage dump)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"demo_app: {message} (see --help)\n")


def default_data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("privacy-sdk-demo", appauthor=False))


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="python -m demo_app",
        description="Demo e-signature app showing every flow of the privacy SDK.",
    )
    p.add_argument("--data-dir", type=Path, default=None,
                   help="folder for the app's data (default: the platform's user data dir)")
    p.add_argument("--policy", type=Path, default=None,
                   help="show this Markdown policy instead of the bundled one; its manifest is "
                        "--manifest, else manifest.toml beside it, else (with a warning) the "
                        "bundled manifest")
    p.add_argument("--manifest", type=Path, default=None,
                   help="policy manifest (TOML); wins over a manifest.toml beside --policy")
    p.add_argument("--server", default=None,
                   help="base URL of a running server, e.g. https://127.0.0.1:8443 "
                        "(default: start an embedded stub server)")
    p.add_argument("--ca", type=Path, default=None,
                   help="with --server: CA bundle (PEM) that signs the server's certificate")
    p.add_argument("--hpke-pins", type=Path, default=None, metavar="FILE",
                   help="with --server: the fingerprints of the server's end-to-end encryption "
                        "keys to trust, one a line ('sha256:<64 hex>'; the stub writes "
                        "<its data dir>/hpke-pins.txt); without them real-name verification "
                        "sends nothing (the embedded stub's are used automatically)")
    p.add_argument("--realname-outcome", default=None, metavar="OUTCOME",
                   help="QA, embedded stub only: what the stand-in for the real-name "
                        "verification agency answers: pass (default), fail:<reason> (e.g. "
                        "fail:face_mismatch), manual_review, or timeout (no answer; the stub "
                        "marks it timed out after 30 s)")
    p.add_argument("--notice", action="append", choices=("breach", "service-ending"), default=[],
                   help="QA, embedded stub only: publish a sample notice at start (GET "
                        "/v1/notices): a personal-information breach (shown with its five "
                        "parts and 我已知悉) or the service ending (collection stops, a banner "
                        "on the home screen); may be repeated; published once per data dir")
    p.add_argument("--stub-dev", action="store_true",
                   help="QA, embedded stub only: serve the stub's development endpoints, e.g. "
                        "POST /v1/dev/rights-requests/{id}/answer to answer a data-subject "
                        "request as staff (the request id is on the 个人信息权利 screen; the "
                        "stub's URL and CA are printed at start)")
    p.add_argument("--fault", action="append", default=[], metavar="RULE",
                   help="QA, embedded stub only: inject a fault into the stub's answers, as "
                        "python -m server_stub --fault (see its --help for the syntax), e.g. "
                        "'POST /v1/consent-records status=503 times=2' or '* /v1/uploads/* drop "
                        "request_after=40000 times=1'; may be repeated")
    p.add_argument("--script", type=Path, default=None,
                   help="run a scripted walkthrough (JSON list of steps, see "
                        "demo_app/autopilot.py) and exit")
    p.add_argument("--walkthrough", type=Path, default=None, metavar="DIR",
                   help="run the built-in walkthrough of every screen, saving screenshots in DIR")
    p.add_argument("--walkthrough-part", choices=("main", "realname", "rights"), default="main",
                   help="with --walkthrough: which built-in walkthrough: main (every screen; "
                        "the default), realname (实名认证, 数字证书 and 签署合同 from a first "
                        "launch on; use a fresh --data-dir) or rights (个人信息权利, 客服与通知, "
                        "邀请签署方, a breach notice and the account's cancellation; use a fresh "
                        "--data-dir and --notice breach)")
    p.add_argument("--report", type=Path, default=None,
                   help="with --script/--walkthrough: write what happened as JSON here")
    p.add_argument("--size", default="540x960",
                   help=f"window size WIDTHxHEIGHT, each {MIN_SIDE} to {MAX_SIDE} "
                        "(default 540x960)")
    p.add_argument("--font", type=Path, default=None,
                   help="font file (.ttf/.otf/.ttc) that can draw Chinese")
    p.add_argument("--passphrase-file", type=Path, default=None,
                   help="opt into the passphrase keystore (for machines without an OS keyring, "
                        "e.g. QA under Xvfb): the file's first line is the passphrase")
    p.add_argument("--permissions-script", default=None, metavar="SPEC",
                   help="QA: answer OS permission prompts from a script instead of the system "
                        "(the SDK's scripted backend), e.g. 'camera=denied,granted; "
                        "photos=denied_no_dialog; delay=1' (answers: granted, limited, denied, "
                        "permanently_denied, denied_no_dialog, dismissed; see docs/permissions.md)")
    return p


def _fail(message: str) -> int:
    print(f"demo_app: {message}", file=sys.stderr, flush=True)
    return EXIT_USAGE


@dataclass(frozen=True)
class _Options:
    """The arguments, checked."""

    size: tuple[int, int]
    script: list[dict[str, Any]] | None
    policy: Any  # sdk.policy.Policy
    passphrase: str | None = None
    permissions_script: str | None = None
    hpke_pins: tuple[str, ...] = ()
    realname_outcome: str | None = None
    notices: tuple[str, ...] = ()
    stub_dev: bool = False
    faults: tuple[str, ...] = ()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("markdown_it").setLevel(logging.WARNING)
    # Kivy logs probe failures of optional providers (xclip, xsel) with tracebacks at INFO.
    logging.getLogger("kivy").setLevel(logging.WARNING)

    from sdk.errors import SdkError

    data_dir = (args.data_dir or default_data_dir()).resolve()
    try:
        options = _check_arguments(args, data_dir)
    except UsageError as exc:
        return _fail(str(exc))
    except SdkError as exc:  # the policy or its manifest
        return _fail(str(exc))

    # Side effects start here.
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return _fail(f"cannot create data dir '{data_dir}': {exc.strerror or exc}; "
                     "pass --data-dir with a writable folder")
    try:
        if args.walkthrough is not None:
            _make_folder(args.walkthrough, "the --walkthrough folder")
        if args.report is not None:
            _make_folder(args.report.parent, "the --report folder")
    except UsageError as exc:
        return _fail(str(exc))

    # server_stub (and its FastAPI/uvicorn/argon2) is imported only for the embedded stub:
    # a phone build (buildozer.spec) leaves it out and always passes --server.
    server = None
    try:
        if args.server:
            endpoint, ca = args.server, args.ca
        else:
            from server_stub.runner import start_in_thread

            settings = embedded_stub_settings(data_dir, options)
            server = start_in_thread(settings)
            endpoint, ca = server.url, server.ca_path
            _publish_notices(settings, options.notices)
            for number, rule in enumerate(options.faults, 1):
                print(f"demo_app: embedded stub fault rule {number}: {rule}", flush=True)
            if options.stub_dev:
                print(f"demo_app: embedded stub in dev mode at {endpoint} (CA: {ca}); answer a "
                      "data-subject request as staff: POST "
                      f"{endpoint}/v1/dev/rights-requests/<request id>/answer with an "
                      'Idempotency-Key and {"status": "completed", "answer": "..."}', flush=True)
            # the embedded stub's end-to-end encryption keys are the ones to trust
            options = dataclasses.replace(options, hpke_pins=server.hpke_pins)
            log.info("embedded stub server at %s", endpoint)
        return _run_app(args, data_dir, options, endpoint, ca)
    except (SdkError, UsageError, *_stub_errors()) as exc:
        return _fail(str(exc))
    finally:
        if server is not None:
            server.stop()


def _stub_errors() -> tuple[type[BaseException], ...]:
    """``ServerStartError`` when the embedded stub's runner was imported, else nothing (it is
    never imported with ``--server``)."""
    runner = sys.modules.get("server_stub.runner")
    return (runner.ServerStartError,) if runner is not None else ()


# ------------------------------------------------------------------------ argument checks


def _check_arguments(args: argparse.Namespace, data_dir: Path) -> _Options:
    """Check every argument without changing anything on disk.

    Raises:
        UsageError: an argument is wrong.
        sdk.errors.PolicyError: the policy or its manifest cannot be used.
    """
    size = _parse_size(args.size)
    if args.server and not args.ca:
        raise UsageError("--server needs --ca, the CA bundle that signs the server's certificate")
    if args.ca and not args.server:
        raise UsageError("--ca is only used with --server (the embedded stub brings its own CA)")
    if args.hpke_pins is not None and not args.server:
        raise UsageError("--hpke-pins is only used with --server (the embedded stub's keys are "
                         "trusted automatically)")
    if args.realname_outcome is not None and args.server:
        raise UsageError("--realname-outcome sets the embedded stub's agency stand-in; with "
                         "--server start that server with its own --realname-outcome")
    realname_outcome = _check_outcome(args.realname_outcome)
    if args.server and (args.notice or args.stub_dev or args.fault):
        raise UsageError("--notice, --stub-dev and --fault set up the embedded stub; with "
                         "--server start that server with its own --notice / --dev / --fault")
    faults = _check_faults(args.fault)
    pins = _read_pins(args.hpke_pins) if args.hpke_pins is not None else ()
    if args.server:
        _check_server(args.server, args.ca, data_dir, pins)
    if args.font is not None:
        _check_font(args.font)
    if args.script is not None and args.walkthrough is not None:
        raise UsageError("give either --script or --walkthrough, not both")
    if args.report is not None and args.script is None and args.walkthrough is None:
        raise UsageError("--report records what a script did; use it with --script or --walkthrough")
    script = _read_script(args.script) if args.script is not None else None
    if args.walkthrough is not None:
        _check_folder(args.walkthrough, f"--walkthrough {args.walkthrough}")
    elif args.walkthrough_part != "main":
        raise UsageError("--walkthrough-part chooses a built-in walkthrough; use it with --walkthrough DIR")
    if args.report is not None:
        _check_report(args.report)
    passphrase = _read_passphrase(args.passphrase_file) if args.passphrase_file else None
    from .devices import check_permissions_script

    problem = check_permissions_script(args.permissions_script)
    if problem:
        raise UsageError(problem)
    policy = _load_policy(args)
    return _Options(size=size, script=script, policy=policy, passphrase=passphrase,
                    permissions_script=args.permissions_script, hpke_pins=pins,
                    realname_outcome=realname_outcome,
                    notices=tuple(dict.fromkeys(args.notice)), stub_dev=bool(args.stub_dev),
                    faults=faults)


def embedded_stub_settings(data_dir: Path, options: _Options) -> Any:
    """The embedded stub's ``server_stub.settings.Settings`` for the checked *options*."""
    from server_stub.settings import Settings

    return Settings(data_dir=data_dir / "stub", dev_mode=options.stub_dev,
                    realname_outcome=options.realname_outcome or "pass", faults=options.faults)


def _check_faults(rules: list[str]) -> tuple[str, ...]:
    """--fault rules as the stub will read them (one parser: the stub's own; imported only
    when there are rules)."""
    if not rules:
        return ()
    from server_stub.faults import FaultRuleError, parse_rule

    checked = []
    for rule in rules:
        try:
            checked.append(parse_rule(rule).text)
        except FaultRuleError as exc:
            raise UsageError(f"--fault {rule!r}: {exc}; see python -m server_stub --help") from None
    return tuple(checked)


def _publish_notices(settings: Any, kinds: tuple[str, ...]) -> None:
    """Publish the sample notices of ``--notice`` in the embedded stub (each once per data
    dir), as ``python -m server_stub --notice`` does."""
    if not kinds:
        return
    import datetime as _dt

    from server_stub.routes.notices import SAMPLE_KINDS, publish_sample
    from server_stub.services_store import ServicesStore

    services = ServicesStore(settings.data_dir)
    now = _dt.datetime.fromtimestamp(settings.clock(), _dt.timezone.utc)
    for kind in kinds:
        notice = publish_sample(services, SAMPLE_KINDS[kind], now)
        log.info("embedded stub: notice published: %s", notice["kind"])


def _check_outcome(text: str | None) -> str | None:
    """--realname-outcome as the stub will read it (one parser: the stub's own)."""
    if text is None:
        return None
    from server_stub.realname_agency import parse_outcome

    try:
        parse_outcome(text)
    except ValueError as exc:
        raise UsageError(f"--realname-outcome {text}: {exc}") from None
    return text


def _read_pins(path: Path) -> tuple[str, ...]:
    """The fingerprints in ``path`` (one a line; blank lines and ``#`` comments skipped)."""
    hint = "pass the server's hpke-pins.txt (one 'sha256:<64 hex>' fingerprint a line)"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not readable UTF-8 text"
        raise UsageError(f"cannot read --hpke-pins {path} ({reason}); {hint}") from None
    pins = tuple(line.strip() for line in text.splitlines()
                 if line.strip() and not line.strip().startswith("#"))
    if not pins:
        raise UsageError(f"--hpke-pins {path} holds no fingerprint; {hint}")
    return pins


def _read_passphrase(path: Path) -> str:
    """The first line of ``path``; never echoed in a message."""
    try:
        line = path.read_text(encoding="utf-8").splitlines()[0].strip() if path.is_file() else ""
    except (OSError, UnicodeDecodeError, IndexError):
        line = ""
    if not line:
        raise UsageError(f"--passphrase-file {path}: expected a readable UTF-8 file whose first "
                         "line is the passphrase")
    return line


def _parse_size(text: str) -> tuple[int, int]:
    expected = f"WIDTHxHEIGHT with each side from {MIN_SIDE} to {MAX_SIDE} pixels, e.g. 540x960"
    parts = text.lower().split("x")
    try:
        width, height = (int(part.strip()) for part in parts)
    except ValueError:
        raise UsageError(f"--size must be {expected}; got '{text}'") from None
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        raise UsageError(f"--size {width}x{height} is out of range: it must be {expected}")
    return width, height


def _check_server(server: str, ca: Path, data_dir: Path, pins: tuple[str, ...] = ()) -> None:
    """--server, --ca and --hpke-pins as the SDK will check them (URL form, PEM bundle,
    fingerprints)."""
    from sdk import SdkConfig
    from sdk.errors import ConfigError

    try:
        SdkConfig(data_dir=data_dir / "sdk", endpoint=server, ca_bundle=ca)
    except ConfigError as exc:
        raise UsageError(f"--server/--ca: {exc}") from None
    try:
        SdkConfig(data_dir=data_dir / "sdk", hpke_pins=pins)
    except ConfigError as exc:
        raise UsageError(f"--hpke-pins: {exc}") from None


def _check_font(font: Path) -> None:
    hint = "pass a TrueType/OpenType font file (.ttf, .otf or .ttc) that can draw Chinese"
    if not font.exists():
        raise UsageError(f"--font {font} does not exist; {hint}")
    if not font.is_file():
        raise UsageError(f"--font {font} is not a file; {hint}")
    try:
        with font.open("rb") as f:
            head = f.read(4)
    except OSError as exc:
        raise UsageError(f"cannot read --font {font}: {exc.strerror or exc}") from None
    if head not in _FONT_SIGNATURES:
        raise UsageError(f"--font {font} is not a font file; {hint}")


def _read_script(path: Path) -> list[dict[str, Any]]:
    from .autopilot import ScriptError, validate_script

    if not path.exists():
        raise UsageError(f"--script {path} does not exist; pass a JSON file of steps")
    if not path.is_file():
        raise UsageError(f"--script {path} is not a file; pass a JSON file of steps")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"--script {path} is not UTF-8 text; save it as UTF-8") from None
    except OSError as exc:
        raise UsageError(f"cannot read --script {path}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"--script {path} is not valid JSON (line {exc.lineno}, column {exc.colno}: "
            f"{exc.msg}); it must be a JSON list of steps"
        ) from None
    except (ValueError, RecursionError):
        raise UsageError(f"--script {path} is not valid JSON; it must be a JSON list of steps") from None
    try:
        return validate_script(data)
    except ScriptError as exc:
        raise UsageError(f"--script {path}: {exc}") from None


def _writable(folder: Path) -> str | None:
    """None when a file can be created in the existing ``folder``; else the reason."""
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def _check_folder(folder: Path, what: str) -> None:
    """``folder`` is a folder files can be created in, or can be made (its nearest existing
    ancestor is such a folder). ``what`` names it in the message, e.g. ``--walkthrough DIR``."""
    if folder.exists():
        if not folder.is_dir():
            raise UsageError(f"{what} is a file, not a folder")
        problem = _writable(folder)
        if problem:
            raise UsageError(f"{what}: cannot create files in {folder} ({problem})")
        return
    ancestor = folder.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise UsageError(f"{what} cannot be created: {ancestor} is a file, not a folder")
    problem = _writable(ancestor)
    if problem:
        raise UsageError(f"{what} cannot be created: cannot create files in {ancestor} "
                         f"({problem})")


def _check_report(report: Path) -> None:
    if report.is_dir():
        raise UsageError(f"--report {report} is a folder; pass the path of a JSON file to write")
    _check_folder(report.parent, f"--report {report}: its folder {report.parent}")


def _make_folder(folder: Path, what: str) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create {what} {folder}: {exc.strerror or exc}") from None


def _load_policy(args: argparse.Namespace) -> Any:
    """The policy to show: --policy (else the bundled one) with --manifest, else the
    manifest.toml beside the policy, else the bundled manifest (with a warning).

    Raises:
        sdk.errors.PolicyError: a file is missing or invalid (--manifest included).
    """
    from sdk.policy import MANIFEST_FILENAME, load_policy

    policy_path = args.policy or BUNDLED_POLICY
    fallback = False
    if args.manifest is not None:
        manifest_path = args.manifest
    else:
        beside = policy_path.with_name(MANIFEST_FILENAME)
        if beside.is_file():
            manifest_path = beside
        else:
            manifest_path, fallback = BUNDLED_MANIFEST, True
    policy = load_policy(policy_path, manifest_path)
    if fallback:
        log.warning(
            "policy %s has no manifest beside it (%s does not exist), so the demo app's bundled "
            "manifest %s is used: consent records will carry that manifest's version (%s) and "
            "purposes, not ones written for this policy; pass --manifest to give the policy's own",
            policy_path, beside, BUNDLED_MANIFEST, policy.version,
        )
    _ = policy.document  # parse now: problems in the Markdown are logged (sdk.policy) before the UI
    return policy


# ------------------------------------------------------------------------------- the app


def _run_app(args, data_dir: Path, options: _Options, endpoint: str, ca: Path) -> int:
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")  # Kivy leaves the logging setup to us
    os.environ.setdefault("KIVY_HOME", str(data_dir / "kivy"))
    from kivy.config import Config

    width, height = options.size
    Config.set("graphics", "width", str(width))
    Config.set("graphics", "height", str(height))
    Config.set("graphics", "position", "custom")
    Config.set("graphics", "left", "0")
    Config.set("graphics", "top", "0")
    Config.set("input", "mouse", "mouse,disable_multitouch")
    Config.set("kivy", "exit_on_escape", "0")

    from sdk import PrivacySdk, SdkConfig
    from sdk.ui.kivy import install_cjk_font

    _check_font_loads(install_cjk_font(args.font))
    # Everything that can fail runs before the window opens (in app.run()).
    keystore = None
    if options.passphrase:
        from sdk.storage.backends.passphrase import PassphraseKeystore

        keystore = PassphraseKeystore(data_dir / "sdk", options.passphrase)
    sdk = PrivacySdk.open(SdkConfig(data_dir=data_dir / "sdk", endpoint=endpoint, ca_bundle=ca,
                                    hpke_pins=options.hpke_pins),
                          options.policy, keystore=keystore)
    try:
        from .devices import setup_devices

        # Which camera (a real one, else the synthetic one) and which permission backend;
        # nothing is opened, read or asked here.
        devices = setup_devices(sdk, options.permissions_script)
        script = options.script
        if args.walkthrough:
            from .autopilot import (
                walkthrough_realname_steps,
                walkthrough_rights_steps,
                walkthrough_steps,
            )

            steps = {"realname": walkthrough_realname_steps,
                     "rights": walkthrough_rights_steps}.get(args.walkthrough_part,
                                                             walkthrough_steps)
            script = steps(args.walkthrough)
        from .app import DemoApp

        app = DemoApp(sdk=sdk, devices=devices, script=script, report_path=args.report)
        app.run()
    finally:
        sdk.close()
    if args.walkthrough:
        print(f"demo_app: screenshots of every screen are in {args.walkthrough.resolve()}", flush=True)
    return app.exit_code


def _check_font_loads(font: Path) -> None:
    """Kivy can measure text with ``font`` (a damaged file passes the signature check but
    would fail while the first screen is drawn)."""
    from kivy.core.text import Label as CoreLabel

    try:
        CoreLabel(font_name=str(font)).get_extents("隐私")
    except (ValueError, OSError, RuntimeError):
        raise UsageError(
            f"font {font} cannot be loaded: it is not a font file Kivy can read; pass a "
            "TrueType/OpenType font (.ttf, .otf or .ttc) that can draw Chinese"
        ) from None
