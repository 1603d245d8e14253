"""``python -m demo_app.bundle``: stage the demo app for a phone build (buildozer).

buildozer packages ``source.dir`` and starts ``main.py`` in it, with no command line; a phone
has no embedded stub server. This command writes that folder (``build/app-src`` by default,
``buildozer.spec``'s ``source.dir``)::

    main.py            starts the demo through demo_app.device.run()
    sdk/  demo_app/    copies of the packages (no __pycache__, no tests, no sdk/testing)
    device/            server.toml (the server's URL and the names of the files below),
                       ca.pem, hpke-pins.txt and, with --font, the CJK font

Every argument is checked first (``https://`` URL, a CA file that parses as PEM certificates,
``sha256:<64 hex>`` pins, a font file by its first bytes); a bad one ends the command with one
line ``demo_app.bundle: <what is wrong and how to fix it>`` and exit code 2, and nothing is
written. The folder is built beside the target and renamed into place, so a failed run leaves
the previous one (or none), never a half-written one. ``server_stub`` is not copied.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
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
    check_ca,
    check_font,
    check_pins,
    check_server_url,
)

__all__ = ["CA_NAME", "DEFAULT_OUT", "PINS_NAME", "build_parser", "main"]

EXIT_USAGE = 2
#: Where the staged folder goes by default (relative to the current directory: run the
#: command from the repository root, where buildozer.spec is).
DEFAULT_OUT = Path("build") / "app-src"
#: File names in ``device/``.
CA_NAME = "ca.pem"
PINS_NAME = "hpke-pins.txt"
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
                   help="a font file (.ttf/.otf/.ttc) that can draw Chinese, shipped with the "
                        "app (default: none; the app uses the phone's own CJK font)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT,
                   help=f"the folder to write (default: {DEFAULT_OUT}, buildozer.spec's "
                        "source.dir); an earlier staged folder there is replaced")
    return p


@dataclass(frozen=True)
class _Plan:
    """The checked arguments: what :func:`stage` writes."""

    out: Path
    server: str
    ca: Path
    certificates: int
    pins: tuple[str, ...]
    font: Path | None


def _sources() -> dict[str, Path]:
    """The packages to copy, where they are imported from."""
    import sdk

    return {"sdk": Path(sdk.__file__).resolve().parent,
            "demo_app": Path(__file__).resolve().parent}


def _is_staged(folder: Path) -> bool:
    """An earlier output of this command (safe to replace), or an empty folder."""
    return ((folder / DEVICE_DIR / CONFIG_NAME).is_file() and (folder / "main.py").is_file()) \
        or not any(folder.iterdir())


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
        check_font(args.font)  # its messages name --font
    out = args.out.resolve()
    for name, source in _sources().items():
        if out == source or source in out.parents or out in source.parents:
            raise DeviceConfigError(f"--out {args.out} overlaps the {name} package it copies "
                                    f"({source}); pass a folder of its own, e.g. {DEFAULT_OUT}")
    if out.exists():
        if not out.is_dir():
            raise DeviceConfigError(f"--out {args.out} is a file; pass a folder")
        if not _is_staged(out):
            raise DeviceConfigError(
                f"--out {args.out} exists and was not written by this command (no main.py and "
                f"{DEVICE_DIR}/{CONFIG_NAME}); pass a new folder or move that one aside")
    try:
        _check_folder(out.parent, f"--out {args.out}: its folder {out.parent}")
    except UsageError as exc:
        raise DeviceConfigError(str(exc)) from None
    return _Plan(out=out, server=server, ca=args.ca, certificates=certificates, pins=pins,
                 font=args.font)


def _font_name(font: Path) -> str:
    with font.open("rb") as f:
        return "font" + _FONT_SUFFIX.get(f.read(4), ".ttf")


def _toml_string(text: str) -> str:
    """*text* as a TOML basic string (JSON's escapes are valid TOML ones)."""
    return json.dumps(text, ensure_ascii=True)


def _write(plan: _Plan, folder: Path) -> None:
    """The staged tree in the empty *folder*."""
    (folder / "main.py").write_text(MAIN_PY, encoding="utf-8")
    for name, source in _sources().items():
        shutil.copytree(source, folder / name, ignore=_IGNORED)
    shutil.rmtree(folder / "sdk" / "testing", ignore_errors=True)  # test helpers
    device = folder / DEVICE_DIR
    device.mkdir()
    shutil.copyfile(plan.ca, device / CA_NAME)
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
    2 a bad argument: one line on stderr, nothing written)."""
    args = build_parser().parse_args(argv)
    try:
        plan = _check(args)
    except DeviceConfigError as exc:
        print(f"demo_app.bundle: {exc}", file=sys.stderr, flush=True)
        return EXIT_USAGE
    try:
        _stage(plan)
    except OSError as exc:
        print(f"demo_app.bundle: cannot write {args.out}: {exc.strerror or exc}; check that its "
              "folder is writable and has free space", file=sys.stderr, flush=True)
        return 1
    font = f"font {plan.font.name}" if plan.font else "no font (the phone's own CJK font is used)"
    print(f"demo_app.bundle: staged the app in {args.out}: server {plan.server}, "
          f"{plan.certificates} CA certificate(s), {len(plan.pins)} pin(s), {font}", flush=True)
    from sdk.config import _is_loopback  # the SDK's own rule for dev_mode

    if _is_loopback(urlsplit(plan.server).hostname or ""):
        port = urlsplit(plan.server).port or 443
        print(f"demo_app.bundle: {plan.server} is this computer only for a phone connected with "
              f"'adb reverse tcp:{port} tcp:{port}' (USB or emulator); over Wi-Fi, start the "
              "stub with --host 0.0.0.0 --cert-name <this computer's address> and stage with "
              "--server https://<that address>:<port>", flush=True)
    print("demo_app.bundle: next: buildozer android debug", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
