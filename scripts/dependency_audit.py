"""Dependency vulnerability audit: ``make audit`` (docs/security.md, MASVS-CODE-3).

What is audited, by default: the packages the SDK ships, at the versions that ship. That is
pyproject.toml's runtime dependencies and its ``kivy`` extra (what buildozer.spec packages for
Android), with everything they pull in (read from the installed packages' metadata, markers
evaluated for this Python), at the versions installed here, except that buildozer.spec's exact
pins (``kivy==2.3.1``, ``uniseg==0.8.1``, ``requests==...``, ``cryptography==...``) are
audited at the pinned version: that is what the phone gets. Not audited: the stub's, the
tests' and the tools' packages (never shipped), and the python-for-android recipes
``python3``, ``pyjnius``, ``android`` and ``openssl`` (not PyPI packages: PyPI's advisories do
not cover them). ``--requirements FILE`` audits the exact pins (``name==version``) of FILE
instead.

How: pip-audit (PyPA) with its PyPI service (the advisories PyPI publishes for each release,
from the PyPA advisory database), on a list of exact pins (``--no-deps --disable-pip``:
nothing is resolved or installed). When PyPI gives no answer for a release (pip-audit then
skips the package as "not found on PyPI"), a package at its latest release is checked
against the advisories PyPI lists for that latest release (the project's JSON); any other is
reported as not audited, never as clean.

scripts/audit-ignore.toml (``--ignore-file``; none by default with ``--requirements``) holds
the reviewed exceptions, each with a reason and an expiry date at most 90 days ahead:
``[[ignore]]`` an advisory (``id``, ``package``) that is reported but does not fail;
``[[not_audited]]`` a package at one version (``package``, ``version``) that may ship
unaudited. Without such an entry a package that cannot be audited fails the audit: when a
pinned package gets a newer release, its pin is no longer checkable here, and the fix is to
raise the pin or to add a dated entry. After its date an entry no longer applies. An entry
naming a package that is not audited (a typo, a dropped dependency) is stale and fails.

Exit status:
    0: passed: every package audited or accepted by an entry, no finding (ignored ones listed).
    1: a finding (printed: package, version, advisory id and aliases, fixed versions).
    2: not a pass: a package could not be audited and has no entry, an entry is stale, the
       vulnerability service cannot be reached, or the input is bad (one line says which and
       what to do). ``make audit`` itself exits 2 whenever the script fails (make's status
       for any failing recipe; its "Error N" line shows the script's).
"""

from __future__ import annotations

import argparse
import configparser
import datetime as dt
import importlib.util
import json
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import NoReturn

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = REPO / "pyproject.toml"
BUILDOZER_SPEC = REPO / "buildozer.spec"
IGNORE_FILE = REPO / "scripts" / "audit-ignore.toml"

#: buildozer.spec requirements that are python-for-android recipes and not PyPI packages
#: (``openssl`` is the C library cryptography is built against on the phone).
RECIPES = frozenset({"python3", "pyjnius", "android", "openssl"})
#: The longest an entry of the ignore file may run: it is reviewed again by then.
MAX_ENTRY_DAYS = 90
#: PyPI's JSON for a project: its latest release, with that release's known vulnerabilities.
_PROJECT_JSON = "https://pypi.org/pypi/{name}/json"
_OWN_NAME = "privacy-sdk"
_NETWORK_ERRORS = re.compile(
    r"ConnectionError|ProxyError|ConnectTimeout|ReadTimeout|Timeout|SSLError|NameResolution|"
    r"Max retries exceeded|Could not connect|not redirecting properly")
_EXIT_CLEAN, _EXIT_FINDING, _EXIT_NOT_AUDITED = 0, 1, 2


class NotAudited(Exception):
    """The audit could not run (one line: what is wrong and how to fix it)."""


@dataclass(frozen=True)
class Vulnerability:
    id: str
    aliases: tuple[str, ...]
    fixed_in: tuple[str, ...]

    def names(self) -> set[str]:
        return {self.id, *self.aliases}


@dataclass(frozen=True)
class Ignore:
    """``[[ignore]]``: an advisory reported but not failing the audit until *expires*."""

    id: str
    package: str
    reason: str
    expires: dt.date


@dataclass(frozen=True)
class Unaudited:
    """``[[not_audited]]``: *package* at *version* may ship unaudited until *expires*."""

    package: str
    version: str
    reason: str
    expires: dt.date


@dataclass(frozen=True)
class Entries:
    """The reviewed exceptions of an ignore file."""

    path: Path | None
    ignores: tuple[Ignore, ...] = ()
    not_audited: tuple[Unaudited, ...] = ()

    @property
    def name(self) -> str:
        """The file as the report names it (relative to the repository when inside it)."""
        if self.path is None:
            return "an ignore file (--ignore-file)"
        path = self.path.resolve()
        return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(self.path)


@dataclass
class Report:
    packages: dict[str, str]                      # name -> version audited
    found: dict[str, list[Vulnerability]]         # name -> its vulnerabilities (audited only)
    not_audited: dict[str, str]                   # name -> why
    latest: dict[str, str]                        # name -> its latest release, when known


# -- what to audit ----------------------------------------------------------------------------


def _canonical(name: str) -> str:
    from packaging.utils import canonicalize_name

    return str(canonicalize_name(name))


def shipped_packages() -> dict[str, str]:
    """name -> version of every package the SDK ships, as installed here (see the module
    docstring). Raises NotAudited when one is not installed."""
    from packaging.requirements import Requirement

    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    queue = [Requirement(r) for r in (*project["dependencies"],
                                      *project["optional-dependencies"]["kivy"])]
    pins: dict[str, str] = {}
    seen: set[tuple[str, frozenset[str]]] = set()
    while queue:
        req = queue.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        name = _canonical(req.name)
        if name == _OWN_NAME or (name, frozenset(req.extras)) in seen:
            continue
        seen.add((name, frozenset(req.extras)))
        try:
            pins[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            raise NotAudited(f"{name} (a dependency of the SDK) is not installed in this "
                             "environment; run make venv, then make audit again") from None
        for text in metadata.requires(name) or ():
            child = Requirement(text)
            if child.marker is None or any(child.marker.evaluate({"extra": extra})
                                           for extra in ("", *req.extras)):
                queue.append(Requirement(str(child).split(";")[0]))
    for name, version in buildozer_pins().items():
        pins[name] = version  # what the Android build packages
    return dict(sorted(pins.items()))


def buildozer_requirements() -> list[str]:
    """buildozer.spec's ``requirements`` entries (comma-separated, as buildozer reads them)."""
    spec = configparser.ConfigParser()
    spec.optionxform = str  # type: ignore[assignment,method-assign]
    spec.read(BUILDOZER_SPEC, encoding="utf-8")
    return [part.strip() for part in spec["app"]["requirements"].split(",") if part.strip()]


def buildozer_pins() -> dict[str, str]:
    """name -> version of buildozer.spec's ``name==version`` requirements that are PyPI
    packages (the python-for-android recipes of :data:`RECIPES` left out)."""
    pins = {}
    for entry in buildozer_requirements():
        name, sep, version = entry.partition("==")
        if sep and _canonical(name) not in RECIPES:
            pins[_canonical(name)] = version.strip()
    return pins


def read_requirements(paths: Iterable[Path]) -> dict[str, str]:
    """name -> version of the exact pins in *paths* (``name==version`` a line; ``#`` comments).

    Raises:
        NotAudited: a file cannot be read, or a line is not an exact pin.
    """
    from packaging.requirements import InvalidRequirement, Requirement

    pins: dict[str, str] = {}
    for path in paths:
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise NotAudited(f"{path} cannot be read ({exc.strerror})") from None
        for number, line in enumerate(lines, 1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            try:
                req = Requirement(text)
                (spec,) = req.specifier
                if spec.operator != "==" or "*" in spec.version or req.marker or req.extras:
                    raise ValueError
            except (InvalidRequirement, ValueError):
                raise NotAudited(f"{path}:{number}: '{text}' is not an exact pin; write "
                                 "name==version (the audit checks exact versions)") from None
            pins[_canonical(req.name)] = spec.version
    return pins


# -- ignored advisories -----------------------------------------------------------------------


_TABLES = {
    "ignore": ({"id": str, "package": str, "reason": str, "expires": dt.date}, Ignore),
    "not_audited": ({"package": str, "version": str, "reason": str, "expires": dt.date}, Unaudited),
}


#: The shortest reason an entry may give (a blank or a "." is no review).
MIN_REASON_CHARS = 10


def load_entries(path: Path | None, today: dt.date) -> Entries:
    """The ``[[ignore]]`` and ``[[not_audited]]`` entries of *path*; None or a missing file
    has none.

    Raises:
        NotAudited: the file is not TOML, has another table, an entry lacks a field, or its
            expiry date is more than :data:`MAX_ENTRY_DAYS` days ahead.
    """
    if path is None or not path.exists():
        return Entries(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise NotAudited(f"{path} cannot be read as TOML ({exc})") from None
    if set(data) - set(_TABLES) or not all(isinstance(v, list) for v in data.values()):
        raise NotAudited(f"{path}: only [[ignore]] and [[not_audited]] tables are allowed")
    latest = today + dt.timedelta(days=MAX_ENTRY_DAYS)
    loaded: dict[str, list] = {}
    for table, (wanted, kind) in _TABLES.items():
        loaded[table] = []
        for number, entry in enumerate(data.get(table, []), 1):
            where = f"{path}: {table} entry {number}"
            for field, type_ in wanted.items():
                value = entry.get(field) if isinstance(entry, dict) else None
                if not isinstance(value, type_) or isinstance(value, dt.datetime) or value == "":
                    raise NotAudited(
                        f"{where}: '{field}' is missing or not "
                        f"{'a date' if type_ is dt.date else 'text'}; every entry needs "
                        f"{', '.join(list(wanted)[:-1])} and expires (a date such as {latest})")
            if len(entry["reason"].strip()) < MIN_REASON_CHARS:
                raise NotAudited(f"{where}: 'reason' says nothing (under {MIN_REASON_CHARS} "
                                 "characters); say why the risk is accepted and what would end it")
            if set(entry) - set(wanted):
                raise NotAudited(f"{where}: unknown keys {sorted(set(entry) - set(wanted))}")
            if entry["expires"] > latest:
                raise NotAudited(f"{where}: expires {entry['expires']} is more than "
                                 f"{MAX_ENTRY_DAYS} days ahead; give {latest} or earlier, and "
                                 "review the entry again by then")
            values = {**entry, "package": _canonical(entry["package"])}
            loaded[table].append(kind(**values))
    return Entries(path, tuple(loaded["ignore"]), tuple(loaded["not_audited"]))


# -- asking the vulnerability service --------------------------------------------------------


def _pip_audit(pins: dict[str, str], timeout: int, cache_dir: Path | None) -> dict:
    """pip-audit's JSON report for *pins*."""
    if importlib.util.find_spec("pip_audit") is None:
        raise NotAudited("pip-audit is not installed in this environment; run make venv (it is "
                         "in the dev extra), then make audit again")
    with tempfile.TemporaryDirectory() as folder:
        requirements = Path(folder) / "requirements.txt"
        requirements.write_text("".join(f"{n}=={v}\n" for n, v in pins.items()), encoding="utf-8")
        command = [sys.executable, "-m", "pip_audit", "--requirement", str(requirements),
                   "--no-deps", "--disable-pip", "--vulnerability-service", "pypi",
                   "--format", "json", "--desc", "off", "--aliases", "on",
                   "--progress-spinner", "off", "--timeout", str(timeout)]
        if cache_dir is not None:
            command += ["--cache-dir", str(cache_dir)]
        proc = subprocess.run(command, check=False, capture_output=True, text=True, timeout=30 * 60)
    try:
        return json.loads(proc.stdout)
    except ValueError:
        pass
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    if _NETWORK_ERRORS.search(proc.stderr):
        raise NotAudited(_unreachable(lines[-1] if lines else ""))
    raise NotAudited(f"pip-audit failed (exit {proc.returncode}: "
                     f"{lines[-1][:200] if lines else 'no message'}); nothing was audited")


def _unreachable(error: str) -> str:
    """The one line for a service that did not answer (*error*: the exception's text)."""
    kind = re.search(r"(\w+(?:Error|Timeout))\b", error)
    cause = re.search(r"\[Errno -?\d+\] [^'\"()]+", error)
    detail = ": ".join(part for part in (kind.group(1) if kind else "",
                                         cause.group(0).strip() if cause else "") if part)
    return ("cannot reach the vulnerability service (PyPI's JSON API"
            f"{': ' + detail if detail else ''}); nothing was audited: check the network or "
            "the proxy settings (HTTPS_PROXY), then run make audit again")


def _latest_release(name: str, version: str,
                    timeout: int) -> tuple[list[Vulnerability] | None, str, str | None]:
    """(the vulnerabilities of *version*, "", latest) when *version* is the latest release;
    (None, why not, the latest release or None when unknown) otherwise."""
    import requests
    from packaging.version import InvalidVersion, Version

    try:
        response = requests.get(_PROJECT_JSON.format(name=name), timeout=timeout)
    except requests.RequestException as exc:
        raise NotAudited(_unreachable(f"{type(exc).__name__}: {exc}")) from None
    if response.status_code == 404:
        return None, "not on PyPI: nothing to check it against", None
    if response.status_code != 200:
        return None, f"PyPI answered HTTP {response.status_code}", None
    try:
        data = response.json()
        latest = str(data["info"]["version"])
        same = Version(latest) == Version(version)
    except (ValueError, KeyError, TypeError, InvalidVersion):
        return None, "PyPI's answer could not be read", None
    if not same:
        return None, (f"PyPI gave no answer for this release here, and only the latest release "
                      f"({latest}) can be checked another way"), latest
    return _from_pypi(data.get("vulnerabilities") or []), "", latest


def _from_pypi(entries: list[dict]) -> list[Vulnerability]:
    """PyPI's ``vulnerabilities`` list: withdrawn ones left out, aliases merged (as pip-audit)."""
    merged: list[Vulnerability] = []
    for entry in entries:
        if entry.get("withdrawn"):
            continue
        vuln = Vulnerability(str(entry["id"]), tuple(sorted(map(str, entry.get("aliases") or ()))),
                             tuple(map(str, entry.get("fixed_in") or ())))
        for i, other in enumerate(merged):
            if other.names() & vuln.names():
                merged[i] = Vulnerability(other.id, tuple(sorted((other.names() | vuln.names())
                                                                 - {other.id})),
                                          tuple(sorted(set(other.fixed_in) | set(vuln.fixed_in))))
                break
        else:
            merged.append(vuln)
    return merged


def audit(pins: dict[str, str], timeout: int = 15, cache_dir: Path | None = None) -> Report:
    """Audit *pins* (name -> exact version).

    Raises:
        NotAudited: the vulnerability service cannot be reached (or pip-audit failed).
    """
    report = Report(dict(pins), {}, {}, {})
    skipped: list[str] = []
    for dep in _pip_audit(pins, timeout, cache_dir).get("dependencies", []):
        name = _canonical(dep["name"])
        if "skip_reason" in dep:
            skipped.append(name)
        else:
            report.found[name] = [Vulnerability(v["id"], tuple(sorted(v.get("aliases") or ())),
                                                tuple(v.get("fix_versions") or ()))
                                  for v in dep.get("vulns", [])]
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda n: _latest_release(n, pins[n], timeout), skipped))
    for name, (vulns, why, latest) in zip(skipped, answers):
        if latest is not None:
            report.latest[name] = latest
        if vulns is None:
            report.not_audited[name] = why
        else:
            report.found[name] = vulns
    return report


# -- the report -------------------------------------------------------------------------------


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' * (n != 1)}"


def _ids(vuln: Vulnerability) -> str:
    return vuln.id + (f" ({', '.join(vuln.aliases)})" if vuln.aliases else "")


def _fixed(vuln: Vulnerability) -> str:
    return f"fixed in {', '.join(vuln.fixed_in)}" if vuln.fixed_in else "no fixed version yet"


def _fix_not_audited(name: str, version: str, report: Report, entries: Entries,
                     pinned_in: dict[str, str]) -> str:
    """How to clear the NOT AUDITED line of *name*: bump it, or record the decision."""
    latest = report.latest.get(name)
    if latest is not None and name in pinned_in:
        bump = f"raise its pin in {pinned_in[name]} to {name}=={latest}, or "
    elif latest is not None:
        bump = (f"upgrade it here to {latest} (pip install -U {name}, as CI installs the "
                "latest allowed), or ")
    else:
        bump = ""
    return (f"{bump}add a dated [[not_audited]] entry for {name} {version} to "
            f"{entries.name}")


def print_report(report: Report, entries: Entries, what: str, seconds: float, today: dt.date,
                 pinned_in: dict[str, str] | None = None) -> int:
    """Print the findings and the summary; return the exit status. *pinned_in*: the file
    that pins a package (for the fix of a package that could not be audited)."""
    pinned_in = pinned_in or {}
    print(f"dependency audit: {_count(len(report.packages), 'package')} ({what})")
    findings = ignored = accepted = stale = 0
    used: set[Ignore | Unaudited] = set()
    for name, vulns in sorted(report.found.items()):
        for vuln in vulns:
            entry = next((i for i in entries.ignores
                          if i.package == name and i.id in vuln.names()), None)
            line = f"{name} {report.packages[name]} {_ids(vuln)}: {_fixed(vuln)}"
            if entry is not None:
                used.add(entry)
            if entry is not None and entry.expires >= today:
                ignored += 1
                print(f"  IGNORED  {line} (until {entry.expires}: {entry.reason})")
            else:
                findings += 1
                late = f" (its ignore entry expired on {entry.expires})" if entry else ""
                print(f"  FINDING  {line}{late}")
    unaccepted = 0
    for name, why in sorted(report.not_audited.items()):
        version = report.packages[name]
        entry = next((u for u in entries.not_audited
                      if u.package == name and u.version == version), None)
        if entry is not None:
            used.add(entry)
        if entry is not None and entry.expires >= today:
            accepted += 1
            print(f"  NOT AUDITED (accepted)  {name} {version}: {why} "
                  f"(until {entry.expires}: {entry.reason})")
        else:
            unaccepted += 1
            late = f"; its not_audited entry expired on {entry.expires}" if entry else ""
            print(f"  NOT AUDITED  {name} {version}: {why}{late}: "
                  f"{_fix_not_audited(name, version, report, entries, pinned_in)}")
    for entry in (*entries.ignores, *entries.not_audited):
        label = (f"ignore entry {entry.id}" if isinstance(entry, Ignore)
                 else f"not_audited entry for {entry.package} {entry.version}")
        if entry.package not in report.packages:
            stale += 1
            print(f"  STALE  {label}: {entry.package} is not among the packages audited; "
                  f"correct the package name or remove the entry from {entries.name}")
        elif entry not in used:
            shipped = f"{entry.package} {report.packages[entry.package]}"
            if isinstance(entry, Ignore) and entry.package in report.not_audited:
                continue  # not audited: whether it still matches is not known
            if isinstance(entry, Ignore):
                now = "it matches no finding"
            elif entry.package in report.not_audited:
                now = f"{shipped} ships, not {entry.version}"
            else:
                now = f"{shipped} is audited"
            print(f"  note: {label} is not needed any more ({now}): remove it from "
                  f"{entries.name}")
    audited = len(report.packages) - len(report.not_audited)
    print(f"dependency audit: {audited} of {_count(len(report.packages), 'package')} audited, "
          f"{_count(findings, 'finding')}, {ignored} ignored, "
          f"{len(report.not_audited)} not audited ({accepted} accepted by an entry), "
          f"{seconds:.1f} s")
    if findings:
        print("dependency audit: FAILED: upgrade to a fixed version (raise the lower bound in "
              "pyproject.toml, and the pin in buildozer.spec), or when none can be used, add "
              f"the advisory to {entries.name} with a reason and an expiry date")
        return _EXIT_FINDING
    problems = []
    if unaccepted:
        problems.append(
            f"{_count(unaccepted, 'package')} could not be audited (above): bump each to its "
            "latest release (raise its pin, or upgrade it here), or add a dated "
            f"[[not_audited]] entry (package, version, reason, expires within {MAX_ENTRY_DAYS} "
            f"days) to {entries.name}")
    if stale:
        problems.append(f"{stale} stale {'entry' if stale == 1 else 'entries'} in "
                        f"{entries.name} (above): correct or remove {'it' if stale == 1 else 'them'}")
    if problems:
        print(f"dependency audit: NOT A PASS: {'; '.join(problems)}")
        return _EXIT_NOT_AUDITED
    accepted_parts = [f"{_count(ignored, 'finding')} ignored"] if ignored else []
    if accepted:
        accepted_parts.append(f"{_count(accepted, 'package')} not audited by decision")
    if accepted_parts:
        print(f"dependency audit: passed: {', '.join(accepted_parts)} (listed above)")
    else:
        print("dependency audit: passed: no known vulnerability")
    return _EXIT_CLEAN


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (no usage dump)."""

    def error(self, message: str) -> NoReturn:
        self.exit(_EXIT_NOT_AUDITED, f"dependency audit: NOT AUDITED: {message} (see --help)\n")


def _timeout(text: str) -> int:
    try:
        seconds = int(text)
    except ValueError:
        seconds = 0
    if seconds < 1:
        raise argparse.ArgumentTypeError(
            f"invalid number of seconds {text!r}: use a whole number of seconds, 1 or more")
    return seconds


def main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(
        prog="python scripts/dependency_audit.py",
        description="Audit the SDK's shipped dependencies for known vulnerabilities (pip-audit). "
                    "Exit 0: passed; 1: a finding; 2: not a pass.")
    parser.add_argument("-r", "--requirements", type=Path, action="append", metavar="FILE",
                        help="audit the exact pins (name==version) of FILE instead")
    parser.add_argument("--ignore-file", type=Path, default=None, metavar="FILE",
                        help="reviewed exceptions: [[ignore]] advisories and [[not_audited]] "
                             "packages, each with a reason and an expiry date (default: "
                             f"{IGNORE_FILE.relative_to(REPO)}; none with --requirements)")
    parser.add_argument("--cache-dir", type=Path, metavar="DIR",
                        help="pip-audit's HTTP cache (default: pip's cache)")
    parser.add_argument("--timeout", type=_timeout, default=15, metavar="SECONDS",
                        help="per request, 1 or more (default: %(default)s)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    today = dt.date.today()
    ignore_file = args.ignore_file
    if ignore_file is None and not args.requirements:
        ignore_file = IGNORE_FILE
    try:
        entries = load_entries(ignore_file, today)
        if args.requirements:
            pinned_in = {name: str(path) for path in args.requirements
                         for name in read_requirements([path])}
            pins = read_requirements(args.requirements)
            what = ", ".join(str(p) for p in args.requirements)
        else:
            pinned_in = {name: BUILDOZER_SPEC.name for name in buildozer_pins()}
            pins = shipped_packages()
            what = ("the SDK's runtime dependencies with its kivy extra, as installed, and "
                    "buildozer.spec's pins")
        if not pins:
            raise NotAudited(f"{what}: nothing to audit")
        report = audit(pins, args.timeout, args.cache_dir)
    except NotAudited as exc:
        print(f"dependency audit: NOT AUDITED: {exc}", flush=True)
        return _EXIT_NOT_AUDITED
    return print_report(report, entries, what, time.monotonic() - started, today, pinned_in)


if __name__ == "__main__":
    sys.exit(main())
