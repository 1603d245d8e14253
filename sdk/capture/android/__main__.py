"""``python -m sdk.capture.android FOLDER``: copy the Android build files of the camera backend
into FOLDER and print the buildozer.spec lines (see :mod:`sdk.capture.android`)."""

from __future__ import annotations

import argparse
import sys

from . import buildozer_lines, write_build_files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sdk.capture.android",
        description="Copy file_paths.xml and p4a_hook.py (the SDK's FileProvider for the "
                    "Android camera) into FOLDER, next to buildozer.spec, and print the "
                    "buildozer.spec lines.")
    parser.add_argument("folder", nargs="?", default="privacy_sdk_android",
                        help="folder relative to buildozer.spec (default: %(default)s)")
    args = parser.parse_args(argv)
    for path in write_build_files(args.folder):
        print(f"wrote {path}", file=sys.stderr)
    print("# buildozer.spec, section [app]:")
    print(buildozer_lines(args.folder), end="")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
