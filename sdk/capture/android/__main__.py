"""``python -m sdk.capture.android FOLDER``: copy the Android build files of the camera backend
into FOLDER and print the buildozer.spec lines (see :mod:`sdk.capture.android`).

Files FOLDER already holds with the same content are not copied again, so the package data
folder itself (``sdk/capture/android``, used in place by the demo's buildozer.spec) copies
nothing and only prints the lines. Exit codes: 0 done; 1 FOLDER cannot be written (one line on
stderr); 2 a bad command line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn

from . import FILES, buildozer_lines, write_build_files

PROG = "python -m sdk.capture.android"


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error message (no usage dump)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{PROG}: {message} (see --help)\n")


def main(argv: list[str] | None = None) -> int:
    """Run the command; returns the exit code (see the module's docstring)."""
    parser = _Parser(
        prog=PROG,
        description="Copy file_paths.xml and p4a_hook.py (the SDK's FileProvider for the "
                    "Android camera) into FOLDER, next to buildozer.spec, and print the "
                    "buildozer.spec lines. Files already there with the same content are left "
                    "as they are.")
    parser.add_argument("folder", nargs="?", default="privacy_sdk_android",
                        help="folder relative to buildozer.spec (default: %(default)s)")
    args = parser.parse_args(argv)
    if Path(args.folder).exists() and not Path(args.folder).is_dir():
        print(f"{PROG}: {args.folder} is a file, not a folder; pass a folder next to "
              "buildozer.spec (it is made if missing)", file=sys.stderr, flush=True)
        return 1
    try:
        written = write_build_files(args.folder)
    except OSError as exc:
        print(f"{PROG}: cannot write the build files into {args.folder}: "
              f"{exc.strerror or exc}; pass a folder you can write, next to buildozer.spec",
              file=sys.stderr, flush=True)
        return 1
    for path in written:
        print(f"wrote {path}", file=sys.stderr)
    if not written:
        print(f"{args.folder} already holds {' and '.join(FILES)}; nothing copied",
              file=sys.stderr)
    print("# buildozer.spec, section [app]:")
    print(buildozer_lines(args.folder), end="")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
