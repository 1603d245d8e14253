"""``python -m sdk.consent``: export the device's consent records and verify them offline.

Usage::

    python -m sdk.consent export DATA_DIR [--out FILE]
    python -m sdk.consent verify FILE [--key PUBLIC_KEY]

``export`` reads ``DATA_DIR/consent.db`` (the app's ``SdkConfig.data_dir``) and writes the
export document of :func:`sdk.consent.proof.export_document` (UTF-8 JSON) to *FILE*, or to
standard output. It never creates a ledger: a folder without ``consent.db`` is an error.

``verify`` checks an export document: every Ed25519 signature (RFC 8032) over the RFC 8785
canonical form, one device key throughout, ``seq`` 1..n without gaps, and the hash chain
(docs/protocol.md, "Proof"). It needs no network and no keystore. ``--key`` requires the
records to be signed by that device key (e.g. from an earlier export you trust) instead of
trusting the key the document names.

Exit status: 0 verified (or exported); 1 problems found, one line each on standard output;
2 the input cannot be used (missing or unreadable file, not JSON, not an export document, no
ledger in DATA_DIR), with a one-line message on standard error. Never a traceback.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_UNUSABLE = 2

_PROG = "python -m sdk.consent"


class _Unusable(Exception):
    """The input cannot be used; the message is the one line shown (exit 2)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=_PROG,
        description="Export the device's signed, hash-chained consent records, or verify an "
                    "export offline (docs/consent.md, 'Verifying consent records').",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    verify = commands.add_parser(
        "verify", help="check the signatures and the hash chain of an export file",
        description="Check an export file: signatures, one device key, seq 1..n, hash chain. "
                    "Exit 0 verified, 1 problems found, 2 file unusable.")
    verify.add_argument("file", metavar="FILE", help="the export JSON file ('-' for stdin)")
    verify.add_argument("--key", metavar="PUBLIC_KEY",
                        help="require this device key (base64url) instead of trusting the one "
                             "the file names")
    export = commands.add_parser(
        "export", help="write the records of an app data folder as JSON",
        description="Write the device's consent records (DATA_DIR/consent.db) as an export "
                    "document. Exit 0 written, 2 no ledger or unreadable.")
    export.add_argument("data_dir", metavar="DATA_DIR", help="the app's data folder")
    export.add_argument("--out", metavar="FILE", help="write here instead of standard output")
    return parser


# --------------------------------------------------------------------------------------
# verify
# --------------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            # two values for one key: other JSON parsers may pick the other one
            raise ValueError("an object has the same key twice")
        result[key] = value
    return result


def _load(file: str) -> Any:
    try:
        if file == "-":
            raw = sys.stdin.buffer.read()
        else:
            raw = Path(file).read_bytes()
    except FileNotFoundError:
        raise _Unusable(f"cannot read {file}: no such file") from None
    except IsADirectoryError:
        raise _Unusable(f"cannot read {file}: it is a folder, not an export file") from None
    except OSError as exc:
        raise _Unusable(f"cannot read {file}: {exc.strerror or type(exc).__name__}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _Unusable(f"{file} is not UTF-8 text, so not an export file") from None
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates,
                          parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        detail = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc) or "too deeply nested"
        raise _Unusable(f"{file} is not valid JSON ({detail})") from None


def _verify(file: str, key: str | None) -> int:
    from ..errors import ConsentError
    from .proof import _PUBLIC_KEY_SIZE, _b64decode, verify_document

    if key is not None and _b64decode(key, _PUBLIC_KEY_SIZE) is None:
        raise _Unusable("--key must be a device public key: base64url of 32 bytes, no padding "
                        "(43 characters)")
    doc = _load(file)
    try:
        report = verify_document(doc, public_key=key)
    except ConsentError as exc:
        raise _Unusable(f"{file}: {exc}") from None
    if report.ok:
        noun = "record" if report.count == 1 else "records"
        shown = f"key {report.public_key[:16]}…" if report.public_key else "no key"
        print(f"OK: {report.count} {noun}, chain and signatures verified, {shown}")
        return EXIT_OK
    for problem in report.problems:
        print(f"FAIL {problem}")
    print(f"{len(report.problems)} problem(s) in {report.count} record(s): do not trust "
          "these records.", file=sys.stderr)
    return EXIT_PROBLEMS


# --------------------------------------------------------------------------------------
# export
# --------------------------------------------------------------------------------------


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _write(text: str, out: str | None) -> None:
    data = text.encode("utf-8")
    if out is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    target = Path(out)
    try:
        # write a temporary file next to the target, then rename: never a half-written export
        fd, tmp = tempfile.mkstemp(prefix=".consent-export-", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise _Unusable(f"cannot write {out}: {exc.strerror or type(exc).__name__}") from None


def _export(data_dir: str, out: str | None) -> int:
    from ..errors import SdkError
    from .ledger import LEDGER_FILENAME, ConsentLedger
    from .proof import export_document

    folder = Path(data_dir)
    if not folder.is_dir():
        raise _Unusable(f"{data_dir} is not a folder")
    path = folder / LEDGER_FILENAME
    if not path.is_file():  # opening the ledger would create one: never do that here
        raise _Unusable(f"{data_dir} has no consent ledger ({LEDGER_FILENAME}); nothing to export")
    try:
        with ConsentLedger(path) as ledger:
            doc = export_document(ledger.export_records(), subject_id=ledger.subject_id,
                                  public_key=ledger.public_key, exported_at=_now())
    except SdkError as exc:
        raise _Unusable(f"cannot read the consent ledger in {data_dir}: {exc}") from None
    _write(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", out)
    if out is not None:
        count = len(doc["records"])
        print(f"exported {count} record{'' if count == 1 else 's'} to {out}", file=sys.stderr)
    return EXIT_OK


# --------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0, 1 or 2, see the module docstring)."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:  # "…" on a console that cannot show it: never a crash
            reconfigure(errors="backslashreplace")
    args = _parser().parse_args(argv)
    try:
        if args.command == "verify":
            return _verify(args.file, args.key)
        return _export(args.data_dir, args.out)
    except _Unusable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    except Exception as exc:  # a bug of ours: still one line, never a traceback
        print(f"error: {_PROG} {args.command} failed unexpectedly ({type(exc).__name__}); "
              "please report it", file=sys.stderr)
        return EXIT_UNUSABLE


if __name__ == "__main__":
    sys.exit(main())
