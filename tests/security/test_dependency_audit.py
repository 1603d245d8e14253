"""The dependency vulnerability audit, ``make audit`` (MASVS-CODE-3; scripts/dependency_audit.py).

The audit runs as ``make audit`` runs it: the script in its own process, with the real pip-audit
asking the real vulnerability service (PyPI). A test that needs the service is skipped, with the
audit's own line as the reason, only when the service does not answer: entirely, or for the
release the test names (the audit then says NOT AUDITED, never clean). The unreachable case is
made at the OS edge: a proxy on a loopback port nothing listens on.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib.util
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from .conftest import REPO

SCRIPT = REPO / "scripts" / "dependency_audit.py"

#: Pinned releases with published advisories: (pin, an advisory id it must name, its fix).
#: requests 2.19.1: CVE-2018-18074 (Authorization header kept on an HTTPS-to-HTTP redirect),
#: fixed in 2.20.0. pycrypto 2.6.1 (its last release, unmaintained): CVE-2013-7459 (heap
#: overflow in ALGnew), never fixed.
VULNERABLE = [
    ("requests==2.19.1", "CVE-2018-18074", "fixed in 2.20.0"),
    ("pycrypto==2.6.1", "CVE-2013-7459", "no fixed version yet"),
]
#: A release with no advisory (a small pure-Python package the SDK uses).
CLEAN = "rfc8785==0.1.4"


@functools.cache
def _script() -> ModuleType:
    """scripts/dependency_audit.py as a module (its functions, for the tests without network)."""
    spec = importlib.util.spec_from_file_location("dependency_audit", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def run_audit(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The audit in its own process, with a fresh HTTP cache (every answer is asked for)."""
    return subprocess.run([sys.executable, str(SCRIPT), "--cache-dir", str(tmp_path / "cache"), *args],
                          check=False, capture_output=True, text=True, timeout=300, env=env,
                          cwd=tmp_path)


def pins(tmp_path: Path, *lines: str) -> str:
    path = tmp_path / "requirements.txt"
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return str(path)


def ignore_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "audit-ignore.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def skip_unless_audited(proc: subprocess.CompletedProcess) -> None:
    """Skip when the vulnerability service gave no answer (the audit's line is the reason)."""
    unanswered = [line.strip() for line in proc.stdout.splitlines()
                  if "NOT AUDITED" in line and "is not an exact pin" not in line]
    if proc.returncode == 2 and unanswered:
        pytest.skip(f"the vulnerability service did not answer here: {unanswered[0]}")


@pytest.mark.parametrize(("pin", "advisory", "fix"), VULNERABLE, ids=[v[0] for v in VULNERABLE])
def test_a_known_vulnerable_pin_is_a_finding(tmp_path: Path, pin: str, advisory: str, fix: str) -> None:  # MASVS-CODE-3
    proc = run_audit(tmp_path, "--requirements", pins(tmp_path, pin))
    skip_unless_audited(proc)
    name, version = pin.split("==")
    findings = [line for line in proc.stdout.splitlines() if line.strip().startswith("FINDING")]
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert any(f"{name} {version} " in line and advisory in line and fix in line
               for line in findings), findings
    assert "FAILED" in proc.stdout.splitlines()[-1]


def test_a_clean_pin_passes(tmp_path: Path) -> None:  # MASVS-CODE-3
    proc = run_audit(tmp_path, "--requirements", pins(tmp_path, CLEAN))
    skip_unless_audited(proc)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 of 1 package audited, 0 findings" in proc.stdout
    assert proc.stdout.splitlines()[-1] == "dependency audit: passed: no known vulnerability"


def test_an_unreachable_service_is_one_line_and_not_a_pass(tmp_path: Path) -> None:  # MASVS-CODE-3
    with socket.socket() as sock:  # a loopback port nothing listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    env = {k: v for k, v in os.environ.items() if k.lower() != "no_proxy"}
    env.update(HTTPS_PROXY=dead, https_proxy=dead, HTTP_PROXY=dead, http_proxy=dead)
    proc = run_audit(tmp_path, "--requirements", pins(tmp_path, CLEAN), env=env)
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    assert proc.returncode == 2
    assert len(lines) == 1 and "Traceback" not in proc.stderr, lines
    assert lines[0].startswith("dependency audit: NOT AUDITED: cannot reach the vulnerability "
                               "service"), lines[0]
    assert "run make audit again" in lines[0]


def test_an_ignored_advisory_is_listed_with_its_reason_and_expiry_and_passes(tmp_path: Path) -> None:  # MASVS-CODE-3
    until = dt.date.today() + dt.timedelta(days=30)
    ignores = ignore_file(tmp_path, "".join(
        f'[[ignore]]\nid = "{advisory}"\npackage = "pycrypto"\n'
        f'reason = "test: the SDK never imports it"\nexpires = {until}\n'
        for advisory in ("CVE-2013-7459", "CVE-2018-6594")))  # matched through their aliases
    proc = run_audit(tmp_path, "--requirements", pins(tmp_path, "pycrypto==2.6.1"),
                     "--ignore-file", ignores)
    skip_unless_audited(proc)
    ignored = [line.strip() for line in proc.stdout.splitlines() if line.strip().startswith("IGNORED")]
    assert proc.returncode == 0, proc.stdout
    assert len(ignored) == 2, proc.stdout
    assert all(line.endswith(f"(until {until}: test: the SDK never imports it)") for line in ignored)
    assert "0 findings, 2 ignored" in proc.stdout


def test_an_expired_ignore_entry_fails_the_audit_again(tmp_path: Path) -> None:  # MASVS-CODE-3
    expired = dt.date.today() - dt.timedelta(days=1)
    ignores = ignore_file(tmp_path, f'[[ignore]]\nid = "CVE-2013-7459"\npackage = "pycrypto"\n'
                                    f'reason = "test"\nexpires = {expired}\n')
    proc = run_audit(tmp_path, "--requirements", pins(tmp_path, "pycrypto==2.6.1"),
                     "--ignore-file", ignores)
    skip_unless_audited(proc)
    assert proc.returncode == 1, proc.stdout
    assert f"(its ignore entry expired on {expired})" in proc.stdout


@pytest.mark.parametrize(("entry", "field"), [
    ('id = "CVE-2013-7459"\npackage = "pycrypto"\nexpires = 2099-01-01\n', "reason"),
    ('id = "CVE-2013-7459"\npackage = "pycrypto"\nreason = "r"\nexpires = "soon"\n', "expires"),
], ids=["no reason", "expiry not a date"])
def test_an_ignore_entry_without_a_reason_or_an_expiry_date_is_refused(tmp_path: Path, entry: str, field: str) -> None:  # MASVS-CODE-3
    proc = run_audit(tmp_path, "--requirements", pins(tmp_path, CLEAN),
                     "--ignore-file", ignore_file(tmp_path, f"[[ignore]]\n{entry}"))
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    assert proc.returncode == 2
    assert len(lines) == 1 and f"ignore entry 1: '{field}' is missing" in lines[0], lines


def test_a_requirement_that_is_not_an_exact_pin_is_refused(tmp_path: Path) -> None:  # MASVS-CODE-3
    proc = run_audit(tmp_path, "--requirements", pins(tmp_path, "requests>=2.33"))
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    assert proc.returncode == 2
    assert len(lines) == 1 and "'requests>=2.33' is not an exact pin" in lines[0], lines


def test_the_checked_in_ignore_list_is_valid() -> None:  # MASVS-CODE-3
    audit = _script()
    for entry in audit.load_ignores(audit.IGNORE_FILE):  # raises NotAudited when malformed
        assert entry.reason and entry.expires


def test_the_audit_covers_every_shipped_dependency_at_its_installed_version() -> None:  # MASVS-CODE-3
    """pyproject's runtime dependencies (Python 3.11) and kivy extra, and every pure-Python
    requirement of buildozer.spec, at the installed version or the spec's pin."""
    from importlib import metadata

    from packaging.requirements import Requirement

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib

    audit = _script()
    shipped = audit.shipped_packages()
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    for text in (*project["dependencies"], *project["optional-dependencies"]["kivy"]):
        req = Requirement(text)
        if req.marker is None or req.marker.evaluate():
            assert audit._canonical(req.name) in shipped, req.name
    spec_pins = audit.buildozer_pins()
    for entry in audit.buildozer_requirements():
        name = audit._canonical(re.split(r"[=<>!]", entry)[0])
        if name in audit.RECIPES:
            continue
        assert shipped[name] == spec_pins.get(name, metadata.version(name)), name


def test_ci_runs_the_audit_before_the_tests_and_fails_on_its_status() -> None:  # MASVS-CODE-3
    commands = [line.strip() for line in (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
    audit = next(i for i, c in enumerate(commands) if c.startswith("make audit"))
    test = commands.index("make test")
    assert audit < test and "|| audit=$?" in commands[audit]
    assert commands[test + 1:] == ['exit "$audit"']  # pytest's summary stays the last output
