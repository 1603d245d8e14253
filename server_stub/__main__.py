"""``python -m server_stub``: serve the stub over HTTPS in the foreground until Ctrl-C.

Exit codes: 0 stopped by Ctrl-C/SIGTERM; 1 the server stopped by itself (see the log);
2 bad arguments, unusable data dir, or the address is in use (one line on stderr).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sqlite3
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:  # pragma: no cover
    from .settings import Settings

__all__ = ["main"]

PROG = "python -m server_stub"
DEFAULT_PORT = 8443
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error message (no usage dump)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}: use a number from 0 to 65535")
    return port


def _outcome(text: str) -> str:
    from .realname_agency import parse_outcome

    try:
        parse_outcome(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"invalid number of seconds {text!r}: use a number above 0")
    return value


def _region(text: str) -> str:
    from .settings import DATA_REGION_PATTERN

    region = text.strip().upper()
    if not DATA_REGION_PATTERN.match(region):
        raise argparse.ArgumentTypeError(
            "invalid data region: use a region code such as CN (2 to 16 letters, digits or '-', "
            "starting with a letter)")
    return region


def _cert_name(text: str) -> str:
    from .ca import parse_cert_name

    try:
        parse_cert_name(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text.strip()


def _fault(text: str) -> str:
    from .faults import FaultRuleError, parse_rule

    try:
        return parse_rule(text).text
    except FaultRuleError as exc:
        raise argparse.ArgumentTypeError(f"invalid fault rule {text!r}: {exc}") from None


def _seed(text: str) -> int:
    from .faults import parse_seed

    try:
        return parse_seed(text)  # the same range as PUT /v1/dev/faults
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"invalid seed {text!r}: {exc}") from None


#: ``--fault``'s help: the rule syntax (server_stub.faults).
FAULT_HELP = (
    "QA: inject a fault, one rule 'METHOD PATH KIND [OPTION ...]': METHOD is GET, POST, ... or "
    "*; PATH a glob of the request path (/v1/uploads/*; '*' also matches '/'); KIND one of "
    "latency=MS (the answer is held back MS ms), status=CODE (answer 500-599 instead of the "
    "endpoint; option retry_after=S), drop (the endpoint handles the request, the connection is "
    "cut before the answer; option after=N: after N bytes of the answer body; "
    "request_after=N: once N bytes of the request body arrived), redirect_307=URL (answer 307 "
    "to URL instead of the endpoint), slow_read=MS (the body goes out in pieces of chunk=BYTES, "
    "default 16, MS ms apart); options for any kind: times=N|forever (default forever) and "
    "probability=P (0 < P <= 1, drawn with --fault-seed). May be repeated; rules are tried in "
    "order, latencies add up, the first other rule that fires applies. With --dev also "
    "changeable at run time: GET/PUT/DELETE /v1/dev/faults. Example: --fault 'POST "
    "/v1/consent-records status=503 times=2' --fault '* /v1/uploads/* drop "
    "request_after=40000 times=1'"
)


def build_parser() -> argparse.ArgumentParser:
    """The command line parser (exposed for the docs and tests)."""
    parser = _Parser(
        prog=PROG,
        description=(
            "Serve the Privacy SDK stub backend (wire protocol v1, docs/protocol.md) over HTTPS. "
            "On first start a development CA is created in the data dir; give its ca.pem to "
            "clients (SdkConfig(ca_bundle=...)). Stop with Ctrl-C."
        ),
        epilog=f"example: {PROG} --data-dir ./demo-data --port 8443",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        required=True,
        metavar="DIR",
        help="folder for the database (stub.db) and the dev CA (ca.pem, ...); created if missing",
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        help=f"TCP port to listen on; 0 picks a free one (default: {DEFAULT_PORT})",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)"
    )
    parser.add_argument(
        "--cert-name",
        action="append",
        type=_cert_name,
        default=[],
        metavar="NAME",
        help="another name for the server's TLS certificate besides localhost, 127.0.0.1 and "
        "::1: an IP address or a DNS name, e.g. this computer's address on the local network "
        "so that a phone can connect over Wi-Fi (with --host 0.0.0.0); may be repeated",
    )
    parser.add_argument(
        "--hpke-kem",
        choices=("MLKEM768-X25519", "X25519"),
        default=None,
        help="KEM of the end-to-end encryption key made when the data dir has none: "
        "MLKEM768-X25519 (the default) or X25519, for devices whose cryptography build has no "
        "ML-KEM; with --dev also the KEM of a key made by POST /v1/dev/keys/hpke/rotate. An "
        "existing key is kept (a line says so when its KEM differs)",
    )
    parser.add_argument(
        "--policy-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder with policy.md and manifest.toml to serve (default: the demo app's policy)",
    )
    parser.add_argument(
        "--dev",
        action="store_true",
        help="also serve the development-only endpoints (/v1/dev/cookies/...); never in production",
    )
    parser.add_argument(
        "--realname-outcome",
        type=_outcome,
        default="pass",
        metavar="OUTCOME",
        help="what the real-name verification agency's stand-in answers: pass, fail:<reason> "
        "(e.g. fail:face_mismatch), manual_review, or timeout (it never answers); with --dev "
        "also changeable at run time: PUT /v1/dev/realname/agency (default: pass)",
    )
    parser.add_argument(
        "--realname-deadline",
        type=_seconds,
        default=30.0,
        metavar="SECONDS",
        help="seconds after which an unanswered real-name verification is timed_out (default: 30)",
    )
    parser.add_argument(
        "--data-region",
        type=_region,
        default="CN",
        metavar="REGION",
        help="where this server stores personal information, sent as the Data-Region header on "
        "every answer; SDKs declaring another region (SdkConfig.region) refuse to send data "
        "(default: CN)",
    )
    parser.add_argument(
        "--notice",
        action="append",
        choices=("breach", "service-ending"),
        default=[],
        help="publish a sample notice at start (GET /v1/notices): a personal-information "
        "breach or the service ending; may be repeated; a sample already published is not "
        "published again",
    )
    parser.add_argument(
        "--fault", action="append", type=_fault, default=[], metavar="RULE", help=FAULT_HELP,
    )
    parser.add_argument(
        "--fault-seed",
        type=_seed,
        default=None,
        metavar="N",
        help="seed of the random draws of the fault rules' probability=, so that a run can be "
        "repeated: 0 to 2**63 - 1, as in PUT /v1/dev/faults (default: a random seed, shown by "
        "GET /v1/dev/faults)",
    )
    parser.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        default="warning",
        help="level of the server_stub log on stderr (default: warning)",
    )
    return parser


def _check_data_dir(data_dir: Path) -> str | None:
    """None when ``data_dir`` exists (or can be made) and is writable; else the reason."""
    try:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=data_dir):
            pass
    except OSError as exc:
        return f"data dir {data_dir} is not a writable folder ({exc.strerror or exc})"
    return None


def _fail(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr, flush=True)
    return EXIT_USAGE


def _publish_samples(settings: Settings, kinds: Sequence[str]) -> list[str]:
    """Publish the sample notices of ``--notice`` (each once); returns a line per notice to
    print after the listening line (which stays the first line of the output)."""
    if not kinds:
        return []
    import datetime as _dt

    from .routes.notices import SAMPLE_KINDS, publish_sample
    from .services_store import ServicesStore

    services = ServicesStore(settings.data_dir)
    now = _dt.datetime.fromtimestamp(settings.clock(), _dt.timezone.utc)
    lines = []
    for kind in dict.fromkeys(kinds):
        notice = publish_sample(services, SAMPLE_KINDS[kind], now)
        lines.append(f"notice published: {notice['kind']} {notice['notice_id']}")
    return lines


def _kept_key_note(settings: Settings, requested: str | None) -> str | None:
    """The line saying that the data dir's current HPKE key is kept although ``--hpke-kem``
    asked for another KEM; None when the flag was not given or the KEMs agree."""
    if requested is None:
        return None
    from .hpke import SUITE_NAMES, HpkeKeyError, KeyRing

    try:
        current = KeyRing(settings.data_dir).current()
    except HpkeKeyError:  # pragma: no cover - the server has just read the same file
        return None
    if current is None or current.suite.kem == SUITE_NAMES[requested]:
        return None
    kept = next((name for name, kem in SUITE_NAMES.items() if kem == current.suite.kem),
                f"0x{current.suite.kem:04X}")
    return (f"{PROG}: note: the data dir {settings.data_dir} already has an HPKE key ({kept}), "
            f"which is kept: --hpke-kem {requested} applies to a new key only. For an {requested} "
            f"key, start with --dev --hpke-kem {requested} and POST /v1/dev/keys/hpke/rotate "
            "(the old key stays published as retired; stage the new hpke-pins.txt), or use a "
            "new data dir")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    problem = _check_data_dir(args.data_dir)
    if problem:
        return _fail(problem)
    if args.policy_dir is not None and not args.policy_dir.is_dir():
        return _fail(f"policy dir {args.policy_dir} is not a folder")

    # Imported here so that --help and argument errors answer fast.
    from .runner import ServerStartError, start_in_thread
    from .settings import Settings

    # --hpke-kem not given (None): the Settings default, MLKEM768-X25519 for a new key.
    chosen_kem = {} if args.hpke_kem is None else {"hpke_kem": args.hpke_kem}
    try:
        settings = Settings(
            data_dir=args.data_dir, policy_dir=args.policy_dir, host=args.host, port=args.port,
            cert_names=tuple(args.cert_name), **chosen_kem,
            dev_mode=args.dev, realname_outcome=args.realname_outcome,
            realname_agency_deadline_seconds=args.realname_deadline,
            data_region=args.data_region, faults=tuple(args.fault), fault_seed=args.fault_seed,
        )
        server = start_in_thread(settings)
    except (ServerStartError, ValueError) as exc:
        return _fail(str(exc))
    try:
        published = _publish_samples(settings, args.notice)
    except (OSError, sqlite3.Error) as exc:
        server.stop()
        return _fail(f"could not publish the sample notice ({type(exc).__name__})")

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    if os.name == "nt":  # pragma: no cover
        signal.signal(signal.SIGBREAK, on_signal)  # type: ignore[attr-defined]

    note = _kept_key_note(settings, args.hpke_kem)
    if note is not None:
        print(note, file=sys.stderr, flush=True)
    print(f"server_stub listening on {server.url}  (CA: {server.ca_path})", flush=True)
    for line in published:
        print(line, flush=True)
    for number, rule in enumerate(args.fault, 1):
        print(f"fault rule {number}: {rule}", flush=True)
    while not stop.is_set() and server.running:
        stop.wait(0.5)
    server.stop()
    if not stop.is_set():
        print(f"{PROG}: the server stopped unexpectedly; see the log above", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
