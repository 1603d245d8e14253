"""``python -m demo_app.bundle``: stage the demo app for a phone build (buildozer).

buildozer packages ``source.dir`` and starts ``main.py`` in it, with no command line; a phone
has no embedded stub server. This command writes that folder (``build/app-src`` by default,
``buildozer.spec``'s ``source.dir``)::

    main.py            starts the demo through demo_app.device.run()
    sdk/  demo_app/    copies of the packages (no __pycache__, no tests, no sdk/testing)
    device/            server.toml (the server's URL and the names of the files below),
                       ca.pem, hpke-pins.txt and, with --font, the CJK font
    .demo_app-bundle   the marker of a folder this command wrote (buildozer skips hidden
                       files); only a folder holding it (or an empty one) is ever replaced

Every argument is checked first: an ``https://`` URL the SDK accepts (``SdkConfig``: a valid
host name or IP address that is not ``0.0.0.0``/``::``, a port from 1 to 65535), regular files
of at most 1 MiB for the CA (parsed as PEM certificates) and the pins (``sha256:<64 hex>``
lines), and a font of at most 64 MiB that Kivy loads and that draws Chinese (rendered in a child
process, no window). Then, unless ``--offline``, the server is asked for its current HPKE key
with the SDK's own client: its certificate must verify with the CA and its key must be pinned;
a server this computer cannot reach is noted in one line and not checked. A bad argument ends
the command with one line ``demo_app.bundle: <what is wrong and how to fix it>`` and exit code
2, and nothing is written. The folder is built beside the target and renamed into place, so a
failed run leaves the previous one (or none), never a half-written one. ``server_stub`` is not
copied.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

from .device import (
    CONFIG_NAME,
    DEVICE_DIR,
    DeviceConfigError,
    ca_certificates_pem,
    check_ca,
    check_font,
    check_pins,
    check_server_url,
)

__all__ = ["CA_NAME", "DEFAULT_OUT", "MARKER_NAME", "PINS_NAME", "build_parser", "main"]

EXIT_USAGE = 2
#: Where the staged folder goes by default (relative to the current directory: run the
#: command from the repository root, where buildozer.spec is).
DEFAULT_OUT = Path("build") / "app-src"
#: File names in ``device/``.
CA_NAME = "ca.pem"
PINS_NAME = "hpke-pins.txt"
#: The marker file of a staged folder, and its text: a folder is replaced only when it holds
#: this file with a ``format = N`` line (or is empty).
MARKER_NAME = ".demo_app-bundle"
MARKER_TEXT = ("# This folder was written by python -m demo_app.bundle, which replaces it when the "
               "app is staged again.\nformat = 1\n")
_MARKER_FORMAT = re.compile(r"^format = [0-9]+$", re.MULTILINE)
#: Seconds the live check waits to connect to the server, and for its answer.
CHECK_CONNECT_TIMEOUT = 3.0
CHECK_READ_TIMEOUT = 10.0
#: Seconds the font check (Kivy, in a child process) may take.
FONT_CHECK_TIMEOUT = 120
_FONT_SUFFIX = {b"ttcf": ".ttc", b"OTTO": ".otf"}  # else TrueType: .ttf
#: Left out of the copies: caches, tests and hidden files (and, in _write, the SDK's test
#: helpers sdk/testing: pytest contracts and an in-memory keystore, not for an app).
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", "tests", "test_*.py", ".*")

MAIN_PY = '''\
"""Entry point of the demo app's phone build, written by python -m demo_app.bundle.

buildozer starts this file; the server settings are in device/ beside it (demo_app/device.py).
"""

from demo_app.device import run

if __name__ == "__main__":
    raise SystemExit(run())
'''


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error message (no usage dump)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"demo_app.bundle: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m demo_app.bundle",
                description="Stage the demo app for buildozer: main.py, copies of sdk/ and "
                            "demo_app/, and device/ with the server settings (Android and iOS "
                            "start the app with no command line).")
    p.add_argument("--server", required=True,
                   help="the server's base URL as the phone reaches it, https only, e.g. "
                        "https://127.0.0.1:8443 (with 'adb reverse tcp:8443 tcp:8443')")
    p.add_argument("--ca", type=Path, required=True,
                   help="CA bundle (PEM) that signs the server's certificate (the stub's "
                        "<data-dir>/ca.pem)")
    p.add_argument("--hpke-pins", type=Path, required=True, metavar="FILE",
                   help="the server's end-to-end encryption key fingerprints, one "
                        "'sha256:<64 hex>' a line (the stub's <data-dir>/hpke-pins.txt)")
    p.add_argument("--font", type=Path, default=None,
                   help="a font file (.ttf/.otf/.ttc, at most 64 MiB) that can draw Chinese, "
                        "shipped with the app; checked by drawing Chinese with it in Kivy "
                        "(default: none; the app uses the phone's own CJK font)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT,
                   help=f"the folder to write (default: {DEFAULT_OUT}, buildozer.spec's "
                        f"source.dir); an earlier staged folder there (one holding "
                        f"{MARKER_NAME}) is replaced, any other folder is left alone")
    p.add_argument("--offline", action="store_true",
                   help="do not ask the server whether --ca verifies it and --hpke-pins holds "
                        "its current key (by default it is asked when this computer can reach "
                        "it)")
    return p


@dataclass(frozen=True)
class _Plan:
    """The checked arguments: what :func:`stage` writes."""

    out: Path
    server: str
    ca: Path
    certificates: int
    pins: tuple[str, ...]
    pins_file: Path
    font: Path | None
    offline: bool = False


def _sources() -> dict[str, Path]:
    """The packages to copy, where they are imported from."""
    import sdk

    return {"sdk": Path(sdk.__file__).resolve().parent,
            "demo_app": Path(__file__).resolve().parent}


def _is_staged(folder: Path) -> bool:
    """An earlier output of this command (it holds :data:`MARKER_NAME` with a format line:
    safe to replace), or an empty folder.

    Raises:
        OSError: the folder cannot be read.
    """
    marker = folder / MARKER_NAME
    if marker.is_file() and not marker.is_symlink() and marker.stat().st_size <= 4096:
        try:
            return bool(_MARKER_FORMAT.search(marker.read_text(encoding="utf-8")))
        except UnicodeDecodeError:
            return False
    return not any(folder.iterdir())


#: Run by :func:`_check_font_draws_chinese` in a child process: argv[1] is the folder that
#: holds demo_app, argv[2] the font. Prints one JSON line once Kivy and demo_app are imported
#: (so a crash after it is the font's), then one with the outcome.
_FONT_PROBE = """\
import json, sys
sys.path.insert(0, sys.argv[1])
from pathlib import Path
import kivy.core.text
from demo_app.device import DeviceConfigError, check_font_draws_chinese
print(json.dumps({"kivy": True}), flush=True)
try:
    check_font_draws_chinese(Path(sys.argv[2]))
except DeviceConfigError as exc:
    print(json.dumps({"error": str(exc)}), flush=True)
else:
    print(json.dumps({"ok": True}), flush=True)
"""


def _check_font_draws_chinese(font: Path) -> None:
    """:func:`demo_app.device.check_font_draws_chinese` on *font*, in a child process (Kivy is
    imported there, with no window, no config file and no log file, never in this one).

    Raises:
        DeviceConfigError: the font does not load or does not draw Chinese, crashed the
            renderer, or Kivy could not be started to check it.
    """
    root = _sources()["demo_app"].parent
    with tempfile.TemporaryDirectory(prefix="demo_app-bundle-kivy-") as home:
        env = dict(os.environ, KIVY_NO_ARGS="1", KIVY_NO_CONFIG="1", KIVY_NO_FILELOG="1",
                   KIVY_LOG_MODE="PYTHON", KIVY_HOME=home)
        try:
            proc = subprocess.run([sys.executable, "-c", _FONT_PROBE, str(root), str(font)],
                                  env=env, capture_output=True, encoding="utf-8",
                                  errors="replace", timeout=FONT_CHECK_TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            raise DeviceConfigError(
                f"--font {font}: Kivy did not finish drawing with it in {FONT_CHECK_TIMEOUT} s; "
                "pass another TrueType/OpenType font that can draw Chinese") from None
    answers = []
    for line in proc.stdout.splitlines():
        try:
            answers.append(json.loads(line))
        except ValueError:
            continue
    outcome = next((a for a in answers if isinstance(a, dict) and ("ok" in a or "error" in a)),
                   None)
    if outcome is not None and "error" in outcome:
        raise DeviceConfigError(f"--font: {outcome['error']}")
    if outcome is None and {"kivy": True} in answers:
        raise DeviceConfigError(
            f"--font {font} made Kivy's text renderer fail (exit code {proc.returncode}); the "
            "app would fail the same way on the phone: pass another TrueType/OpenType font "
            "that can draw Chinese")
    if outcome is None:
        raise DeviceConfigError(
            f"cannot check --font {font}: Kivy could not be started here (exit code "
            f"{proc.returncode}); install the demo's requirements (pip install -e '.[demo]') "
            "and stage again")


def _check_server(plan: _Plan) -> tuple[bool, str]:
    """Ask the server for its current HPKE key with the SDK's own client (``ApiClient``,
    ``fetch_current_key``): TLS verified with ``plan.ca``, the key checked against
    ``plan.pins``. Sends nothing but ``GET /v1/keys/hpke`` (anonymous).

    Returns:
        ``(True, what was checked)``, or ``(False, a note)`` when this computer cannot reach
        the server (then nothing was checked): one line for the user each.

    Raises:
        DeviceConfigError: the server was reached and the CA does not verify it, its current
            key is not pinned, or it did not answer as the SDK's server does.
    """
    from urllib.parse import urlsplit

    from sdk import SdkConfig
    from sdk.errors import (
        ConfigError,
        EnvelopeError,
        KeyPinMismatch,
        ServerUnavailable,
        TlsError,
        TransportError,
    )
    from sdk.transport import ApiClient
    from sdk.transport.envelope import fetch_current_key

    url = plan.server
    skip = "or pass --offline to stage without this check"
    with tempfile.TemporaryDirectory(prefix="demo_app-bundle-check-") as data_dir:
        config = SdkConfig(data_dir=Path(data_dir), endpoint=url, ca_bundle=plan.ca,
                           hpke_pins=plan.pins, connect_timeout=CHECK_CONNECT_TIMEOUT,
                           read_timeout=CHECK_READ_TIMEOUT, retries=0)
        with ApiClient(config) as api:
            try:
                fetch_current_key(api)
            except ServerUnavailable:
                return False, (f"could not reach {url} from this computer, so --ca and "
                               "--hpke-pins were not checked against the server (the app "
                               "checks them when it connects); staging anyway")
            except TlsError as exc:
                host = urlsplit(url).hostname
                if exc.reason == "name_mismatch":
                    raise DeviceConfigError(
                        f"--server {url}: the server's TLS certificate does not name {host}; "
                        f"start the stub with --cert-name {host} (it makes its certificate "
                        f"anew, by the same CA) or stage with a name the certificate has, "
                        f"{skip}") from None
                raise DeviceConfigError(
                    f"--ca {plan.ca} does not verify the TLS certificate of the server at "
                    f"{url}; pass the CA that signs that server's certificate (the stub's "
                    f"<data-dir>/ca.pem, not its server.pem), {skip}") from None
            except KeyPinMismatch as exc:
                raise DeviceConfigError(
                    f"--hpke-pins {plan.pins_file}: the server at {url} uses the encryption key "
                    f"{exc.fingerprint}, which is not in this file; pass that server's pins "
                    f"(the stub's <data-dir>/hpke-pins.txt), {skip}") from None
            except EnvelopeError as exc:
                if exc.code != "suite_unavailable":  # pinned; only this computer cannot seal
                    raise DeviceConfigError(
                        f"--server {url}: the server's key list cannot be used ({exc}); check "
                        f"that --server is the SDK's server, {skip}") from None
            except (TransportError, ConfigError) as exc:
                raise DeviceConfigError(
                    f"--server {url} did not answer as the SDK's server does ({exc}); check "
                    f"--server, {skip}") from None
    return True, (f"checked {url}: its certificate verifies with --ca and its current "
                  "encryption key is in --hpke-pins")


def _check(args: argparse.Namespace) -> _Plan:
    """Every argument, checked; nothing is written.

    Raises:
        DeviceConfigError: an argument is wrong (the message names it).
    """
    from .main import UsageError, _check_folder

    def named(option: str, check, value):
        try:
            return check(value)
        except DeviceConfigError as exc:
            raise DeviceConfigError(f"{option}: {exc}") from None

    server = named("--server", check_server_url, args.server)
    certificates = named("--ca", check_ca, args.ca)
    pins = named("--hpke-pins", check_pins, args.hpke_pins)
    if args.font is not None:
        check_font(args.font)  # its messages name --font; cheap, before the folder checks
    out = args.out.resolve()
    for name, source in _sources().items():
        if out == source or source in out.parents or out in source.parents:
            raise DeviceConfigError(f"--out {args.out} overlaps the {name} package it copies "
                                    f"({source}); pass a folder of its own, e.g. {DEFAULT_OUT}")
    if out.exists():
        if not out.is_dir():
            raise DeviceConfigError(f"--out {args.out} is a file; pass a folder")
        try:
            staged = _is_staged(out)
        except OSError as exc:
            raise DeviceConfigError(f"cannot read --out {args.out} ({exc.strerror or exc}); "
                                    "pass a folder you can read and write") from None
        if not staged:
            raise DeviceConfigError(
                f"--out {args.out} exists and was not written by this command (it has no "
                f"{MARKER_NAME} marker, which staged folders hold); pass a new folder, or move "
                "that one aside (delete it yourself if an earlier version of this command "
                "wrote it)")
    try:
        _check_folder(out.parent, f"--out {args.out}: its folder {out.parent}")
    except UsageError as exc:
        raise DeviceConfigError(str(exc)) from None
    if args.font is not None:
        _check_font_draws_chinese(args.font)
    return _Plan(out=out, server=server, ca=args.ca, certificates=certificates, pins=pins,
                 pins_file=args.hpke_pins, font=args.font, offline=args.offline)


def _font_name(font: Path) -> str:
    with font.open("rb") as f:
        return "font" + _FONT_SUFFIX.get(f.read(4), ".ttf")


def _toml_string(text: str) -> str:
    """*text* as a TOML basic string (JSON's escapes are valid TOML ones)."""
    return json.dumps(text, ensure_ascii=True)


def _write(plan: _Plan, folder: Path) -> None:
    """The staged tree in the empty *folder*."""
    (folder / MARKER_NAME).write_text(MARKER_TEXT, encoding="utf-8")
    (folder / "main.py").write_text(MAIN_PY, encoding="utf-8")
    for name, source in _sources().items():
        shutil.copytree(source, folder / name, ignore=_IGNORED)
    shutil.rmtree(folder / "sdk" / "testing", ignore_errors=True)  # test helpers
    device = folder / DEVICE_DIR
    device.mkdir()
    # the certificates only: a private key pasted into the file must not ship in the app
    (device / CA_NAME).write_bytes(ca_certificates_pem(plan.ca))
    (device / PINS_NAME).write_text("".join(f"{pin}\n" for pin in plan.pins), encoding="utf-8")
    lines = ["# The demo app's server settings, written by python -m demo_app.bundle and read",
             "# on the phone by demo_app/device.py. Stage the app again to change them.",
             f"server = {_toml_string(plan.server)}",
             f"ca = {_toml_string(CA_NAME)}",
             f"hpke_pins = {_toml_string(PINS_NAME)}"]
    if plan.font is not None:
        font_name = _font_name(plan.font)
        shutil.copyfile(plan.font, device / font_name)
        lines.append(f"font = {_toml_string(font_name)}")
    (device / CONFIG_NAME).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _stage(plan: _Plan) -> None:
    """Write the staged folder: built in a temporary folder beside ``plan.out``, then renamed
    into place (an earlier one is replaced only once the new one is complete).

    Raises:
        OSError: the folder could not be written; nothing is left behind.
    """
    out = plan.out
    out.parent.mkdir(parents=True, exist_ok=True)
    new = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".new", dir=out.parent))
    try:
        os.chmod(new, 0o755)
        _write(plan, new)
        if out.exists():
            old = out.with_name(f".{out.name}.{uuid.uuid4().hex}.old")
            out.rename(old)
            try:
                new.rename(out)
            except OSError:
                old.rename(out)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            new.rename(out)
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise


def main(argv: list[str] | None = None) -> int:
    """Run the command; returns the exit code (0 written, 1 the folder could not be written,
    2 a bad argument or a server that refuses the CA or the pins: one line on stderr, nothing
    written). A server this computer cannot reach is one line on stderr and no error."""
    args = build_parser().parse_args(argv)
    try:
        plan = _check(args)
        reached, checked = ((True, "not checked against the server (--offline)")
                            if plan.offline else _check_server(plan))
    except DeviceConfigError as exc:
        print(f"demo_app.bundle: {exc}", file=sys.stderr, flush=True)
        return EXIT_USAGE
    if not reached:
        print(f"demo_app.bundle: {checked}", file=sys.stderr, flush=True)
    try:
        _stage(plan)
    except OSError as exc:
        print(f"demo_app.bundle: cannot write {args.out}: {exc.strerror or exc}; check that its "
              "folder is writable and has free space", file=sys.stderr, flush=True)
        return 1
    font = f"font {plan.font.name}" if plan.font else "no font (the phone's own CJK font is used)"
    print(f"demo_app.bundle: staged the app in {args.out}: server {plan.server}, "
          f"{plan.certificates} CA certificate(s), {len(plan.pins)} pin(s), {font}", flush=True)
    if reached:
        print(f"demo_app.bundle: {checked}", flush=True)
    from sdk.config import _is_loopback  # the SDK's own rule for dev_mode

    if _is_loopback(urlsplit(plan.server).hostname or ""):
        port = urlsplit(plan.server).port  # 1-65535 or none (SdkConfig checked it)
        port = 443 if port is None else port
        print(f"demo_app.bundle: {plan.server} is this computer only for a phone connected with "
              f"'adb reverse tcp:{port} tcp:{port}' (USB or emulator); over Wi-Fi, start the "
              "stub with --host 0.0.0.0 --cert-name <this computer's address> and stage with "
              "--server https://<that address>:<port>", flush=True)
    print("demo_app.bundle: next: buildozer android debug", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
