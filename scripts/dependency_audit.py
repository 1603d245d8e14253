"""Dependency vulnerability audit: ``make audit`` (docs/security.md, MASVS-CODE-3).

What is audited, by default: the packages the SDK ships, at the versions installed in this
environment. That is pyproject.toml's runtime dependencies and its ``kivy`` extra (what
buildozer.spec packages for Android), with everything they pull in (read from the installed
packages' metadata, markers evaluated for this Python), and the exact pins of buildozer.spec's
``requirements`` (``kivy==2.3.1``, ``uniseg==0.8.1``). Not audited: the stub's, the tests' and
the tools' packages (never shipped), and the python-for-android recipes ``python3``,
``pyjnius`` and ``android`` (python-for-android builds them at its own versions).
``--requirements FILE`` audits the exact pins (``name==version``) of FILE instead.

How: pip-audit (PyPA) with its PyPI service (the advisories PyPI publishes for each release,
from the PyPA advisory database), on a list of exact pins (``--no-deps --disable-pip``:
nothing is resolved or installed). When PyPI gives no answer for a release (pip-audit then
skips the package as "not found on PyPI"), a package installed at its latest release is
checked against the advisories PyPI lists for that latest release (the project's JSON);
any other is reported as not audited, never as clean.

Ignored advisories: scripts/audit-ignore.toml, each with its package, reason and expiry date.
An ignored finding is printed with both and does not fail the audit until the date has passed.

Exit status:
    0: every package audited, no finding.
    1: a finding (printed: package, version, advisory id and aliases, fixed versions).
    2: not a pass: the vulnerability service cannot be reached, a package could not be
       audited, or the input is bad (one line says which and what to do).
       ``--allow-not-audited`` makes "a package could not be audited" exit 0 when nothing
       was found (.ci/run uses it: see docs/security.md, MASVS-CODE-3).
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

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = REPO / "pyproject.toml"
BUILDOZER_SPEC = REPO / "buildozer.spec"
IGNORE_FILE = REPO / "scripts" / "audit-ignore.toml"

#: buildozer.spec requirements that are python-for-android recipes, not PyPI packages as built.
RECIPES = frozenset({"python3", "pyjnius", "android"})
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
    id: str
    package: str
    reason: str
    expires: dt.date


@dataclass
class Report:
    packages: dict[str, str]                      # name -> version audited
    found: dict[str, list[Vulnerability]]         # name -> its vulnerabilities (audited only)
    not_audited: dict[str, str]                   # name -> why


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
    """name -> version of buildozer.spec's ``name==version`` requirements."""
    pins = {}
    for entry in buildozer_requirements():
        name, sep, version = entry.partition("==")
        if sep:
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


def load_ignores(path: Path) -> list[Ignore]:
    """The entries of *path* (``[[ignore]]`` tables); a missing file has none.

    Raises:
        NotAudited: the file is not TOML, or an entry lacks a field.
    """
    if not path.exists():
        return []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise NotAudited(f"{path} cannot be read as TOML ({exc})") from None
    entries = data.get("ignore", [])
    if not isinstance(entries, list) or set(data) - {"ignore"}:
        raise NotAudited(f"{path}: only [[ignore]] tables are allowed")
    ignores = []
    for number, entry in enumerate(entries, 1):
        wanted = {"id": str, "package": str, "reason": str, "expires": dt.date}
        for field, kind in wanted.items():
            value = entry.get(field) if isinstance(entry, dict) else None
            if not isinstance(value, kind) or isinstance(value, dt.datetime) or value == "":
                raise NotAudited(
                    f"{path}: ignore entry {number}: '{field}' is missing or not "
                    f"{'a date' if kind is dt.date else 'text'}; every entry needs id, package, "
                    "reason and expires (a date such as 2027-03-01)")
        if set(entry) - set(wanted):
            raise NotAudited(f"{path}: ignore entry {number}: unknown keys "
                             f"{sorted(set(entry) - set(wanted))}")
        ignores.append(Ignore(entry["id"], _canonical(entry["package"]), entry["reason"],
                              entry["expires"]))
    return ignores


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


def _latest_release(name: str, version: str, timeout: int) -> tuple[list[Vulnerability] | None, str]:
    """(the vulnerabilities of *version*, "") when it is the latest release; (None, why not)."""
    import requests
    from packaging.version import InvalidVersion, Version

    try:
        response = requests.get(_PROJECT_JSON.format(name=name), timeout=timeout)
    except requests.RequestException as exc:
        raise NotAudited(_unreachable(f"{type(exc).__name__}: {exc}")) from None
    if response.status_code == 404:
        return None, "not on PyPI: nothing to check it against"
    if response.status_code != 200:
        return None, f"PyPI answered HTTP {response.status_code}"
    try:
        data = response.json()
        latest = str(data["info"]["version"])
        same = Version(latest) == Version(version)
    except (ValueError, KeyError, TypeError, InvalidVersion):
        return None, "PyPI's answer could not be read"
    if not same:
        return None, (f"PyPI gave no answer for this release here, and only the latest release "
                      f"({latest}) can be checked another way")
    return _from_pypi(data.get("vulnerabilities") or []), ""


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
    report = Report(dict(pins), {}, {})
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
    for name, (vulns, why) in zip(skipped, answers):
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


def print_report(report: Report, ignores: Sequence[Ignore], what: str, seconds: float,
                 allow_not_audited: bool, today: dt.date) -> int:
    """Print the findings and the summary; return the exit status."""
    print(f"dependency audit: {_count(len(report.packages), 'package')} ({what})")
    findings = ignored = 0
    used: set[Ignore] = set()
    for name, vulns in sorted(report.found.items()):
        for vuln in vulns:
            entry = next((i for i in ignores if i.package == name and i.id in vuln.names()), None)
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
    for name, why in sorted(report.not_audited.items()):
        print(f"  NOT AUDITED  {name} {report.packages[name]}: {why}")
    for entry in ignores:
        if entry not in used and entry.package in report.found:
            print(f"  note: ignore entry {entry.id} for {entry.package} matches no finding "
                  f"any more: remove it from {IGNORE_FILE.relative_to(REPO)}")
    audited = len(report.packages) - len(report.not_audited)
    print(f"dependency audit: {audited} of {_count(len(report.packages), 'package')} audited, "
          f"{_count(findings, 'finding')}, {ignored} ignored, "
          f"{len(report.not_audited)} not audited, {seconds:.1f} s")
    if findings:
        print("dependency audit: FAILED: upgrade to a fixed version (raise the lower bound in "
              "pyproject.toml), or when none can be used, add the advisory to "
              "scripts/audit-ignore.toml with a reason and an expiry date")
        return _EXIT_FINDING
    if report.not_audited:
        print(f"dependency audit: NOT A PASS: {_count(len(report.not_audited), 'package')} could "
              "not be audited (above)" + ("; allowed here (--allow-not-audited)" if allow_not_audited else ""))
        return _EXIT_CLEAN if allow_not_audited else _EXIT_NOT_AUDITED
    print("dependency audit: passed: no known vulnerability")
    return _EXIT_CLEAN


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python scripts/dependency_audit.py",
        description="Audit the SDK's shipped dependencies for known vulnerabilities (pip-audit). "
                    "Exit 0: all audited, none found; 1: a finding; 2: not a pass.")
    parser.add_argument("-r", "--requirements", type=Path, action="append", metavar="FILE",
                        help="audit the exact pins (name==version) of FILE instead")
    parser.add_argument("--ignore-file", type=Path, default=IGNORE_FILE, metavar="FILE",
                        help="ignored advisories with reason and expiry (default: %(default)s)")
    parser.add_argument("--cache-dir", type=Path, metavar="DIR",
                        help="pip-audit's HTTP cache (default: pip's cache)")
    parser.add_argument("--timeout", type=int, default=15, metavar="SECONDS",
                        help="per request (default: %(default)s)")
    parser.add_argument("--allow-not-audited", action="store_true",
                        help="packages that could not be audited are listed but do not make "
                             "the exit status non-zero when nothing was found")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        ignores = load_ignores(args.ignore_file)
        if args.requirements:
            pins = read_requirements(args.requirements)
            what = ", ".join(str(p) for p in args.requirements)
        else:
            pins = shipped_packages()
            what = ("the SDK's runtime dependencies with its kivy extra, as installed, and "
                    "buildozer.spec's pins")
        if not pins:
            raise NotAudited(f"{what}: nothing to audit")
        report = audit(pins, args.timeout, args.cache_dir)
    except NotAudited as exc:
        print(f"dependency audit: NOT AUDITED: {exc}", flush=True)
        return _EXIT_NOT_AUDITED
    return print_report(report, ignores, what, time.monotonic() - started,
                        args.allow_not_audited, dt.date.today())


if __name__ == "__main__":
    sys.exit(main())
