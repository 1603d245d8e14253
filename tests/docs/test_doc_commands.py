"""Every shell command in README.md and docs/*.md is run by a test (issue #8, "Docs").

The commands are found by :mod:`tests.docs.doc_blocks` (```` ```sh ````/``bash``/``console``
blocks and ``$ `` lines). Each block runs, in order, in a fresh workspace: a temporary folder
holding links to the repository's code (so ``.venv/bin/python -m ...`` and relative paths such
as ``demo_app/policy_2027/policy.md`` work) and its own ``tmp/`` (every ``/tmp/`` in a command
points there). So a command's data dir is always a temporary one, and nothing is written into
the repository.

How each kind of command runs:

- ``python -m server_stub ...`` (not ``--help``) serves until stopped: it is started with
  ``--port 0``, must print its ``listening on`` line within 60 s, serves the later commands of
  the block (``https://127.0.0.1:8443`` in them is replaced by its real address), and must
  exit 0 on SIGTERM;
- ``python -m demo_app ...`` (not ``--help``) opens a window: it runs on the test display
  (Xvfb when there is none) with ``--script`` for a few frames and must exit 0; without
  ``--data-dir`` it gets a temporary one;
- ``curl``: its HTTP status must be below 400 (unless :data:`EXPECTED` says otherwise);
- everything else must exit 0 within :data:`TIMEOUT` seconds.

Commands that cannot run in a test (long, recursive, or needing a device or the network) are
in :data:`NOT_RUN`, each with its reason and the test that covers what it does instead; a
placeholder (``<id>``, ``DATA_DIR``) must be in :data:`PLACEHOLDERS`.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .doc_blocks import REPO, Command, all_blocks, all_commands, blocks, doc_files

TIMEOUT = 120
VENV_BIN = Path(sys.executable).parent
STUB_DEFAULT_URL = "https://127.0.0.1:8443"
SEED = REPO.parent / "shared"

#: command pattern -> (why it is not run here, the test that covers it; None: the test run)
NOT_RUN: dict[str, tuple[str, str | None]] = {
    r"^make demo$": (
        "opens a window, or without a display runs the whole Xvfb walkthrough (four launches, "
        "minutes)", "tests/ui/test_walkthrough.py::test_headless_demo_saves_a_screenshot_of_every_screen"),
    r"^make test$": ("is the test run itself, this test included", None),
    r"^make bench$": (
        "runs every benchmark for minutes; the suites' structure is tested",
        "tests/bench/test_bench_structure.py::test_every_bench_file_is_a_discovered_suite_with_declared_figures"),
    r"^make audit$": (
        "asks PyPI's vulnerability data about every shipped package (seconds, network); .ci/run "
        "runs it before the tests",
        "tests/security/test_dependency_audit.py::test_ci_runs_the_audit_before_the_tests_and_fails_on_its_status"),
    r"^pip install buildozer cython$": (
        "installs from PyPI, only needed on a build machine",
        "tests/sdk/test_buildozer_spec.py::test_requirements_cover_the_runtime_dependencies"),
    r"^buildozer android ": (
        "needs the Android SDK and NDK (and a device for deploy): not run on this project's "
        "machines, see docs/permissions.md 'Packaging for Android and iOS'",
        "tests/sdk/test_buildozer_spec.py::test_android_permissions_are_exactly_what_the_manifest_needs"),
    r"^adb reverse ": (
        "needs an Android device or emulator connected over adb; the staged app is run against "
        "a stub on the desktop instead",
        "tests/ui/test_device_bundle.py::test_the_staged_app_records_the_consent_on_the_server"),
    r"^python3 -m venv \.venv$": (
        "makes the virtual environment the tests already run in (make venv makes it)", None),
    r"^\.venv/bin/python -m pip install -e '\.\[demo\]'$": (
        "installs from PyPI into the environment; the test environment has these packages and "
        "more: make venv installs '.[dev]', which includes '.[demo]'", None),
    r"^\.venv/bin/python docs/examples/minimal_app\.py ": (
        "opens a window until closed; the test runs the file under Xvfb against the stub",
        "tests/docs/test_minimal_app.py::test_the_minimal_app_shows_the_prompt_then_home_and_the_privacy_centre"),
    r"(^|\s)-m demo_app .*--walkthrough ": (
        "runs a whole walkthrough part under Xvfb (minutes); make demo runs every part",
        "tests/ui/test_walkthrough.py::test_headless_demo_saves_a_screenshot_of_every_screen"),
    r"(^|\s)(-m )?pytest(\s|$)": ("runs tests: it is part of the test run", None),
}


@dataclass
class Workspace:
    """One block's run: the folder, the servers it started, what placeholders became."""

    root: Path
    display: Callable[[], str]
    servers: list[subprocess.Popen] = field(default_factory=list)
    stub_url: str | None = None
    log: list[str] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
        env["PRIVACY_SDK_CAMERA"] = "synthetic"
        env["KIVY_HOME"] = str(self.root / "tmp" / "kivy-home")
        env.pop("PRIVACY_SDK_PERMISSIONS", None)
        env.pop("PRIVACY_SDK_PERMISSIONS_SCRIPT", None)
        return env


def _consent_data_dir(ws: Workspace, relative: str) -> str:
    """A device data dir with signed consent records (what an app or `make demo` leaves)."""
    from sdk import PrivacySdk, SdkConfig
    from sdk.policy import load_policy
    from sdk.storage.backends.passphrase import PassphraseKeystore

    target = ws.root / relative
    if not (target / "consent.db").exists():
        keystore = PassphraseKeystore(target, "doc-test-passphrase")
        policy = load_policy(REPO / "demo_app" / "policy" / "policy.md")
        with PrivacySdk.open(SdkConfig(data_dir=target), policy, keystore=keystore) as privacy:
            privacy.agree(sync=False)
            privacy.grant("marketing")
    return relative


def _device_key(ws: Workspace, _relative: str = "") -> str:
    """The device key of the export the block wrote before (consent-records.json)."""
    exports = sorted(ws.root.glob("*.json"))
    assert exports, "no export file in the workspace to take the device key from"
    return json.loads(exports[0].read_text(encoding="utf-8"))["public_key"]


#: placeholder -> how the test fills it in
PLACEHOLDERS: dict[str, Callable[[Workspace], str]] = {
    # docs/consent.md: DATA_DIR = SdkConfig.data_dir
    "DATA_DIR": lambda ws: _consent_data_dir(ws, "device-data"),
    "<base64url device key>": _device_key,
    # docs/realname.md: a verification id (one the stub does not know; see EXPECTED)
    "<id>": lambda ws: "doc-test-unknown-verification",
    # docs/qa.md: a rights request id (one the stub does not know; see EXPECTED)
    "<request id>": lambda ws: "doc-test-unknown-request",
}

#: commands whose documented paths come from an earlier step the test does not run
#: (``make demo``): the step that makes them
PREPARE: dict[str, Callable[[Workspace], str]] = {
    "demo-data/walkthrough/sdk": lambda ws: _consent_data_dir(ws, "demo-data/walkthrough/sdk"),
}

#: command pattern -> (expected HTTP status, text the answer must contain)
EXPECTED: dict[str, tuple[int, str]] = {
    # an id the stub does not know: the route and body are right when it says which id is
    # missing (a wrong path says "not_found")
    r"/v1/dev/realname/verifications/doc-test-unknown-verification/decision": (404, "verification_not_found"),
    r"/v1/dev/rights-requests/doc-test-unknown-request/answer": (404, "request_not_found"),
}


def not_run(command: str) -> tuple[str, str | None] | None:
    for pattern, entry in NOT_RUN.items():
        if re.search(pattern, command):
            return entry
    return None


def kind(command: str) -> str:
    words = shlex.split(command)
    if "--help" in words or "-h" in words:
        return "plain"
    if re.search(r"(^|\s|/)python3? -m server_stub\b", command):
        return "server"
    if re.search(r"(^|\s|/)python3? -m demo_app(\s|$)", command):  # not demo_app.bundle
        return "app"
    if words and words[0] == "curl":
        return "curl"
    return "plain"


def rewrite(command: str, ws: Workspace) -> str:
    """*command* as the test runs it: placeholders filled, /tmp/ and the stub's address
    pointed at this workspace's own."""
    for name, fill in PLACEHOLDERS.items():
        if name in command:
            command = command.replace(name, fill(ws))
    left = re.findall(r"<[^<>\s][^<>]*>", command)
    assert not left, f"placeholder {left} has no entry in PLACEHOLDERS"
    for path, prepare in PREPARE.items():
        if path in command:
            prepare(ws)
    command = command.replace("/tmp/", f"{ws.root}/tmp/")
    if ws.stub_url:
        command = command.replace(STUB_DEFAULT_URL, ws.stub_url)
    return command


def run_server(command: str, ws: Workspace) -> None:
    if re.search(r"--port\s+\d+", command):
        command = re.sub(r"--port\s+\d+", "--port 0", command)
    else:
        command += " --port 0"
    out = ws.root / "tmp" / f"server-{len(ws.servers)}.out"
    with out.open("wb") as sink:
        proc = subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=ws.root, env=ws.env(),
                                stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    ws.servers.append(proc)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = out.read_text(encoding="utf-8", errors="replace")
        match = re.search(r"listening on (https://\S+)", text)
        if match:
            ws.stub_url = match.group(1)
            return
        assert proc.poll() is None, f"the server exited with {proc.returncode}:\n{text[-3000:]}"
        time.sleep(0.2)
    raise AssertionError(f"the server did not say where it listens within 60 s:\n{text[-3000:]}")


def stop_servers(ws: Workspace) -> None:
    for proc in ws.servers:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise AssertionError("the server did not stop within 30 s of SIGTERM") from None
        assert code == 0, f"the server exited with {code} on SIGTERM"


def run_app(command: str, ws: Workspace) -> None:
    n = len(list((ws.root / "tmp").glob("app-script-*.json")))
    script = ws.root / "tmp" / f"app-script-{n}.json"
    report = ws.root / "tmp" / f"app-report-{n}.json"
    script.write_text('[{"sleep": 0.3}, {"quit": 0}]', encoding="utf-8")
    if "--data-dir" not in command:
        command += f" --data-dir {ws.root}/tmp/app-data-{n}"
    command += f" --script {script} --report {report}"
    env = ws.env()
    env["DISPLAY"] = ws.display()
    proc = subprocess.run(["bash", "-c", command], cwd=ws.root, env=env, capture_output=True,
                          text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, f"exit {proc.returncode}:\n{proc.stderr[-3000:]}"
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["exit_code"] == 0 and data["screens"], data
    ws.log.append(proc.stdout)


def run_plain(command: str, ws: Workspace) -> subprocess.CompletedProcess:
    proc = subprocess.run(["bash", "-c", command], cwd=ws.root, env=ws.env(),
                          capture_output=True, text=True, timeout=TIMEOUT)
    ws.log.append(proc.stdout)
    return proc


def run_curl(command: str, ws: Workspace) -> None:
    proc = run_plain(command + " -sS -w '\\n%{http_code}'", ws)
    assert proc.returncode == 0, f"curl exit {proc.returncode}: {proc.stderr}"
    body, _, status = proc.stdout.rpartition("\n")
    expected = next((v for p, v in EXPECTED.items() if re.search(p, command)), None)
    if expected is None:
        assert int(status) < 400, f"HTTP {status}: {body}"
    else:
        assert (int(status), expected[1] in body) == (expected[0], True), f"HTTP {status}: {body}"


def run_block(commands: list[Command], ws: Workspace) -> None:
    try:
        for command in commands:
            if not_run(command.text):
                continue
            text = rewrite(command.text, ws)
            which = kind(text)
            try:
                if which == "server":
                    run_server(text, ws)
                elif which == "app":
                    run_app(text, ws)
                elif which == "curl":
                    run_curl(text, ws)
                else:
                    proc = run_plain(text, ws)
                    assert proc.returncode == 0, (
                        f"exit {proc.returncode}\nstdout: {proc.stdout[-2000:]}\n"
                        f"stderr: {proc.stderr[-3000:]}")
            except AssertionError as exc:
                raise AssertionError(f"{command}\n  ran as: {text}\n{exc}") from None
    finally:
        stop_servers(ws)


def make_workspace(root: Path, display: Callable[[], str]) -> Workspace:
    root.mkdir(parents=True)
    (root / "tmp").mkdir()
    for name in (".venv", "sdk", "server_stub", "demo_app", "docs", "scripts", "bench",
                 "tests", "Makefile", "pyproject.toml", "buildozer.spec"):
        if (REPO / name).exists():
            (root / name).symlink_to(REPO / name)
    if SEED.exists() and not (root.parent / "shared").exists():
        (root.parent / "shared").symlink_to(SEED)
    return Workspace(root, display)


def _blocks_with_commands() -> list[tuple[str, list[Command]]]:
    out: list[tuple[str, list[Command]]] = []
    for path in doc_files():
        found, loose = blocks(path)
        for block in found:
            if block.commands():
                out.append((f"{block.doc}:{block.line}", block.commands()))
        for command in loose:
            out.append((f"{command.doc}:{command.line}", [command]))
    return out


def _param(name: str, commands: list[Command]):
    runs_app = any(kind(c.text) == "app" and not not_run(c.text) for c in commands)
    return pytest.param(commands, id=name, marks=[pytest.mark.ui] if runs_app else [])


@pytest.mark.parametrize("commands", [_param(n, c) for n, c in _blocks_with_commands()])
def test_every_command_of_the_block_runs_as_documented(commands, tmp_path, request):
    if any("../shared/" in c.text for c in commands) and not SEED.exists():
        pytest.skip("the seed policies (../shared) are not on this machine")
    ws = make_workspace(tmp_path / "ws", lambda: request.getfixturevalue("display"))
    run_block(commands, ws)


# -- the rules themselves ---------------------------------------------------------------


def test_the_docs_have_commands_to_run():
    commands = all_commands()
    assert len(commands) >= 20
    assert {c.doc for c in commands} >= {"README.md", "docs/qa.md", "docs/integration.md"}


def test_every_command_not_run_names_a_test_that_exists():
    for pattern, (reason, test) in NOT_RUN.items():
        assert reason
        if test is None:
            continue
        path, _, name = test.partition("::")
        source = (REPO / path).read_text(encoding="utf-8")
        assert re.search(rf"^def {re.escape(name)}\(", source, re.M), f"{pattern}: no {test}"


def test_every_entry_of_the_allow_list_is_used():
    texts = [c.text for c in all_commands()]
    for pattern in NOT_RUN:
        if "pytest" in pattern:
            continue  # general rule, for docs that show a pytest command
        assert any(re.search(pattern, t) for t in texts), f"{pattern} matches no command"


def test_every_fence_names_its_language():
    """A command cannot hide in a block the extractor does not read."""
    unnamed = [f"{b.doc}:{b.line}" for b in all_blocks() if not b.lang]
    assert not unnamed, f"give these fences a language (sh, python, json, text, ...): {unnamed}"


_INDENTED_COMMAND = re.compile(r"^ {4,}(\$ |\.venv/bin/python |python3? -m |make |curl )")


def test_no_command_is_in_an_indented_block():
    found = []
    for path in doc_files():
        inside = False
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.lstrip().startswith("```"):
                inside = not inside
            elif not inside and _INDENTED_COMMAND.match(line):
                found.append(f"{path.relative_to(REPO)}:{number}")
    assert not found, f"put these commands in a ```sh block: {found}"


def test_the_extractor_reads_sh_console_and_dollar_lines(tmp_path, monkeypatch):
    import tests.docs.doc_blocks as doc_blocks

    doc = tmp_path / "docs" / "x.md"
    doc.parent.mkdir()
    doc.write_text("```sh\nmake demo   # a comment\ncurl -X POST \\\n  https://h/x\n```\n"
                   "```console\n$ python -m sdk.consent verify f.json\nOK: 3 records\n```\n"
                   "```python\nprint('not a command')\n```\n$ make bench\n", encoding="utf-8")
    monkeypatch.setattr(doc_blocks, "REPO", tmp_path)
    found, loose = doc_blocks.blocks(doc)
    texts = [c.text for b in found for c in b.commands()] + [c.text for c in loose]
    assert texts == ["make demo", "curl -X POST https://h/x",
                     "python -m sdk.consent verify f.json", "make bench"]


def test_a_placeholder_without_a_rule_is_refused(tmp_path):
    ws = make_workspace(tmp_path / "ws", lambda: "")
    with pytest.raises(AssertionError, match="PLACEHOLDERS"):
        rewrite("curl https://127.0.0.1:8443/v1/x/<unknown>", ws)


def test_python_blocks_in_the_guides_are_run_or_listed():
    """docs/integration.md and docs/rights.md: every ```python block runs in
    tests/docs/test_doc_python.py, or is listed there with a reason."""
    from .test_doc_python import SKIPPED

    for doc in ("docs/integration.md", "docs/rights.md"):
        found, _ = blocks(REPO / doc)
        assert [b for b in found if b.lang == "python"], doc
    for key, reason in SKIPPED.items():
        assert reason and key[0] in ("docs/integration.md", "docs/rights.md")
