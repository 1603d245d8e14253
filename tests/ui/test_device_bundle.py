"""The phone build's source folder (issue #8, "Android and iOS"): ``python -m demo_app.bundle``
stages ``main.py``, copies of ``sdk/`` and ``demo_app/`` and ``device/`` (the server settings,
since Android passes no command line and a phone has no embedded stub); the staged ``main.py``
starts the demo through ``demo_app.device.run``.

The staged app runs as buildozer would start it (``python main.py`` in the staged folder, here
with ``--data-dir``, ``--script`` and ``--report`` added) in a real window under Xvfb, against a
real stub over HTTPS, on a PATH without fontconfig (as on a phone). What it imported is
recorded at exit by a ``sitecustomize`` on ``PYTHONPATH``, which changes nothing in the run.
The bundle's check against the server runs against real stubs over HTTPS (tests that are not
about it stage with ``--offline``). Each test checks one behaviour.
"""

from __future__ import annotations

import errno
import importlib.util
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from demo_app import bundle
from demo_app.bundle import DEFAULT_OUT

from ..machine_fonts import machine_cjk_font
from .conftest import REPO, db_rows, script_and_report

VENV_BIN = Path(sys.executable).parent

#: Run at interpreter start by the staged app's Python (PYTHONPATH): at exit, where sdk and
#: demo_app came from and which modules of the stub's stack were imported.
OBSERVER = """\
import atexit, json, os, sys

def _record():
    files = {name: getattr(sys.modules.get(name), "__file__", None)
             for name in ("sdk", "sdk.core", "demo_app", "demo_app.device", "demo_app.main")}
    stub = sorted(m for m in sys.modules
                  if m.split(".")[0] in ("server_stub", "fastapi", "uvicorn", "argon2"))
    with open(os.environ["BUNDLE_TEST_IMPORTS"], "w", encoding="utf-8") as f:
        json.dump({"files": files, "stub_modules": stub}, f)

atexit.register(_record)
"""


@pytest.fixture(scope="module")
def server_files(tmp_path_factory) -> dict[str, Path]:
    """A stub's dev CA (``ca.pem``) and HPKE pins (``hpke-pins.txt``), made by the stub's own
    code; the inputs of the bundle tests that need no running server."""
    from server_stub.ca import ensure_dev_ca
    from server_stub.hpke import ensure_hpke_keys

    folder = tmp_path_factory.mktemp("server-files")
    ensure_hpke_keys(folder)
    return {"ca": ensure_dev_ca(folder).ca_path, "pins": folder / "hpke-pins.txt"}


@pytest.fixture(scope="module")
def cjk_font() -> Path:
    """The CJK font this machine has (found by the SDK, in a subprocess: Kivy stays out of
    the test process)."""
    return machine_cjk_font()


def run_bundle(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """``python -m demo_app.bundle ARGS`` in *cwd*."""
    return subprocess.run([sys.executable, "-m", "demo_app.bundle", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60, check=False)


def stage(tmp_path: Path, server: str, ca: Path, pins: Path, *extra: str,
          offline: bool = True) -> Path:
    """Stage the app into ``tmp_path/app-src`` (with ``--offline`` unless *offline* is false:
    no check against the server); the staged folder."""
    out = tmp_path / "app-src"
    proc = run_bundle(tmp_path, "--server", server, "--ca", str(ca), "--hpke-pins", str(pins),
                      "--out", str(out), *extra, *(["--offline"] if offline else []))
    assert proc.returncode == 0, proc.stderr
    return out


def test_a_private_key_in_the_ca_file_is_never_staged(tmp_path: Path, server_files) -> None:
    ca_and_key = tmp_path / "ca-with-key.pem"
    ca_and_key.write_bytes(server_files["ca"].read_bytes()
                           + (server_files["ca"].parent / "ca-key.pem").read_bytes())
    staged = stage(tmp_path, "https://127.0.0.1:8443", ca_and_key, server_files["pins"])
    written = (staged / "device" / "ca.pem").read_bytes()
    assert b"PRIVATE KEY" not in written
    assert written == server_files["ca"].read_bytes()  # the certificate, as it was


def free_port() -> int:
    """A port of 127.0.0.1 nothing listens on (it was free a moment ago)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kivy_roboto() -> Path:
    """Kivy's bundled Roboto: a real font with no Chinese (found without importing Kivy)."""
    spec = importlib.util.find_spec("kivy")
    assert spec is not None and spec.submodule_search_locations
    return Path(spec.submodule_search_locations[0]) / "data" / "fonts" / "Roboto-Regular.ttf"


def run_staged(staged: Path, *args: str, env: dict[str, str] | None = None,
               timeout: float = 60) -> subprocess.CompletedProcess:
    """``python main.py ARGS`` in the staged folder, as buildozer starts it."""
    return subprocess.run([sys.executable, "main.py", *args], cwd=staged,
                          env=env or dict(os.environ), capture_output=True, text=True,
                          timeout=timeout, check=False)


def phone_env(display: str, **more: str) -> dict[str, str]:
    """The environment of a staged run on *display* as on a phone: no fontconfig (``fc-list``
    is not on PATH), no font forced from outside, the synthetic camera."""
    env = dict(os.environ, DISPLAY=display, PATH=str(VENV_BIN), PRIVACY_SDK_CAMERA="synthetic",
               **more)
    env.pop("PRIVACY_SDK_CJK_FONT", None)
    return env


def one_line(stderr: str, prefix: str) -> str:
    """The only line of *stderr*, which starts with *prefix* and is no traceback."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(prefix) and "Traceback" not in stderr, stderr
    return lines[0]


# ------------------------------------------------------------------ the bundle's arguments


def _bad_args(tmp: Path, files: dict[str, Path]) -> dict[str, tuple[list[str], str]]:
    """Each bad argument: (the command's arguments, what the message must say)."""
    fake_pem = tmp / "fake.pem"  # has the PEM marker, but no certificate parses
    fake_pem.write_text("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n"
                        "-----END CERTIFICATE-----\n", encoding="utf-8")
    bad_pins = tmp / "bad-pins.txt"
    first = next(line for line in files["pins"].read_text(encoding="utf-8").splitlines()
                 if line.startswith("sha256:"))
    bad_pins.write_text(f"{first}\nsha256:1234\n", encoding="utf-8")  # line 2 is short
    not_font = tmp / "font.ttf"
    not_font.write_bytes(b"<html>not a font</html>")
    otto_garbage = tmp / "garbage.otf"  # starts like an OpenType font, then nothing of one
    otto_garbage.write_bytes(b"OTTO" + b"garbage " * 64)
    four_bytes = tmp / "four.ttf"  # a TrueType signature and nothing else
    four_bytes.write_bytes(b"\x00\x01\x00\x00")
    ca_with_garbage = tmp / "ca-and-garbage.pem"  # the real CA, then 50 MB that is not PEM
    with ca_with_garbage.open("wb") as f:
        f.write(files["ca"].read_bytes())
        f.write(b"x" * (50 * 1024 * 1024))
    a_folder = tmp / "a-folder.pem"
    a_folder.mkdir()
    good = {"--server": "https://127.0.0.1:8443", "--ca": str(files["ca"]),
            "--hpke-pins": str(files["pins"])}

    def args(**changed: str) -> list[str]:
        merged = {**good, **{f"--{k.replace('_', '-')}": v for k, v in changed.items()}}
        return [part for item in merged.items() for part in item]

    return {
        "http-url": (args(server="http://127.0.0.1:8443"), "--server: the server URL must start with https://"),
        "port-letters": (args(server="https://127.0.0.1:abc"), "the port 'abc' is not a number"),
        "port-too-big": (args(server="https://127.0.0.1:99999"), "the port 99999 is out of range"),
        "port-zero": (args(server="https://127.0.0.1:0"), "the port 0 is out of range"),
        "host-space": (args(server="https://exa mple.com"), "the host 'exa mple.com' contains a space"),
        "unspecified-ipv4": (args(server="https://0.0.0.0:8443"), "0.0.0.0 is the unspecified address"),
        "unspecified-ipv6": (args(server="https://[::]:8443"), ":: is the unspecified address"),
        "missing-ca": (args(ca=str(tmp / "nowhere.pem")), "--ca: CA file"),
        "ca-folder": (args(ca=str(a_folder)), f"CA file {a_folder} is not a file (it is a folder)"),
        "ca-device": (args(ca="/dev/zero"), "CA file /dev/zero is not a file (it is a device"),
        "ca-too-big": (args(ca=str(ca_with_garbage)), "is larger than 1 MiB (50 MiB)"),
        "ca-not-pem": (args(ca=str(fake_pem)), "holds no valid PEM certificate"),
        "pins-device": (args(hpke_pins="/dev/zero"), "pins file /dev/zero is not a file (it is a device"),
        "bad-pin-line": (args(hpke_pins=str(bad_pins)), "line 2 is not a fingerprint"),
        "not-a-font": (args(font=str(not_font)), "is not a font file"),
        "font-otto-garbage": (args(font=str(otto_garbage)), "cannot be loaded: it is not a font file Kivy can read"),
        "font-four-bytes": (args(font=str(four_bytes)), "cannot be loaded: it is not a font file Kivy can read"),
        "font-without-chinese": (args(font=str(kivy_roboto())), "has no Chinese characters"),
    }


@pytest.mark.parametrize("case", [
    "http-url", "port-letters", "port-too-big", "port-zero", "host-space", "unspecified-ipv4",
    "unspecified-ipv6", "missing-ca", "ca-folder", "ca-device", "ca-too-big", "ca-not-pem",
    "pins-device", "bad-pin-line", "not-a-font", "font-otto-garbage", "font-four-bytes",
    "font-without-chinese"])
def test_a_bad_argument_is_refused_in_one_line_and_nothing_is_written(case, tmp_path, server_files):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    arguments, says = _bad_args(inputs, server_files)[case]
    proc = run_bundle(tmp_path, *arguments, "--out", str(tmp_path / "app-src"))
    assert proc.returncode == 2
    assert says in one_line(proc.stderr, "demo_app.bundle: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inputs"]  # no folder, no leftovers


# ------------------------------------------------------------------------- the staged tree


def test_the_staged_folder_holds_main_py_the_packages_and_the_device_settings(
        tmp_path, server_files, cjk_font):
    staged = stage(tmp_path, "https://127.0.0.1:8443/", server_files["ca"], server_files["pins"],
                   "--font", str(cjk_font))
    assert sorted(p.name for p in staged.iterdir()) == [
        ".demo_app-bundle", "demo_app", "device", "main.py", "sdk"]
    device = staged / "device"
    suffix = {b"ttcf": ".ttc", b"OTTO": ".otf"}.get(cjk_font.read_bytes()[:4], ".ttf")
    assert sorted(p.name for p in device.iterdir()) == sorted(
        ["server.toml", "ca.pem", "hpke-pins.txt", f"font{suffix}"])
    assert (device / "ca.pem").read_bytes() == server_files["ca"].read_bytes()
    assert (device / f"font{suffix}").read_bytes() == cjk_font.read_bytes()
    pins = [line for line in server_files["pins"].read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]
    assert (device / "hpke-pins.txt").read_text(encoding="utf-8").split() == pins
    assert tomllib.loads((device / "server.toml").read_text(encoding="utf-8")) == {
        "server": "https://127.0.0.1:8443", "ca": "ca.pem", "hpke_pins": "hpke-pins.txt",
        "font": f"font{suffix}"}
    assert "demo_app.device import run" in (staged / "main.py").read_text(encoding="utf-8")


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_the_copies_leave_out_server_stub_caches_and_test_code(tmp_path, server_files):
    staged = stage(tmp_path, "https://127.0.0.1:8443", server_files["ca"], server_files["pins"])
    copied = _files(staged)
    assert not [f for f in copied if "server_stub" in f or "__pycache__" in f
                or f.endswith(".pyc") or "/tests/" in f or f.startswith("sdk/testing/")]
    # everything else of the two packages is there, data files included (policy, kv, xml, png)
    wanted = {f"{name}/{f}" for name in ("sdk", "demo_app") for f in _files(REPO / name)
              if "__pycache__" not in f and not f.endswith(".pyc")
              and not any(part.startswith(".") for part in f.split("/"))
              and not (name == "sdk" and f.startswith("testing/"))}
    assert wanted <= copied
    assert {"demo_app/policy/policy.md", "demo_app/policy/manifest.toml",
            "sdk/capture/android/file_paths.xml"} <= copied


def test_the_staged_folder_holds_the_bundles_marker_with_a_format_line(tmp_path, server_files):
    staged = stage(tmp_path, "https://127.0.0.1:8443", server_files["ca"], server_files["pins"])
    assert "format = 1" in (staged / ".demo_app-bundle").read_text(encoding="utf-8").splitlines()


def test_without_out_the_bundle_writes_build_app_src(tmp_path, server_files):
    proc = run_bundle(tmp_path, "--server", "https://127.0.0.1:8443", "--ca",
                      str(server_files["ca"]), "--hpke-pins", str(server_files["pins"]),
                      "--offline")
    assert proc.returncode == 0, proc.stderr
    assert DEFAULT_OUT == Path("build/app-src")
    assert (tmp_path / DEFAULT_OUT / "main.py").is_file()


def test_staging_again_replaces_the_earlier_folder(tmp_path, server_files):
    first = stage(tmp_path, "https://127.0.0.1:8443", server_files["ca"], server_files["pins"])
    (first / "sdk" / "stale.py").write_text("# left from an earlier bundle\n", encoding="utf-8")
    second = stage(tmp_path, "https://127.0.0.1:9443", server_files["ca"], server_files["pins"])
    assert second == first and not (second / "sdk" / "stale.py").exists()
    assert '"https://127.0.0.1:9443"' in (second / "device" / "server.toml").read_text(encoding="utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app-src"]


def test_a_folder_the_bundle_did_not_write_is_left_alone(tmp_path, server_files):
    mine = tmp_path / "app-src"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine\n", encoding="utf-8")
    proc = run_bundle(tmp_path, "--server", "https://127.0.0.1:8443", "--ca",
                      str(server_files["ca"]), "--hpke-pins", str(server_files["pins"]),
                      "--out", str(mine), "--offline")
    assert proc.returncode == 2
    assert "was not written by this command" in one_line(proc.stderr, "demo_app.bundle: ")
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]


def test_a_folder_that_only_looks_staged_is_left_alone(tmp_path, server_files):
    """main.py and device/server.toml, but not the bundle's marker: someone else's app."""
    mine = tmp_path / "app-src"
    (mine / "device").mkdir(parents=True)
    files = {"main.py": "print('my app')\n", "device/server.toml": "url = 'mine'\n",
             "notes.txt": "mine\n"}
    for name, text in files.items():
        (mine / name).write_text(text, encoding="utf-8")
    proc = run_bundle(tmp_path, "--server", "https://127.0.0.1:8443", "--ca",
                      str(server_files["ca"]), "--hpke-pins", str(server_files["pins"]),
                      "--out", str(mine), "--offline")
    assert proc.returncode == 2
    assert "has no .demo_app-bundle marker" in one_line(proc.stderr, "demo_app.bundle: ")
    assert {f: (mine / f).read_text(encoding="utf-8") for f in _files(mine)} == files


def test_a_failed_write_keeps_the_earlier_folder_and_leaves_no_partial_one(
        tmp_path, server_files, monkeypatch, capsys):
    staged = stage(tmp_path, "https://127.0.0.1:8443", server_files["ca"], server_files["pins"])
    before = _files(staged)

    def disk_full(*_args, **_kwargs):  # the OS edge: the disk fills up while copying
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(bundle.shutil, "copyfile", disk_full)
    code = bundle.main(["--server", "https://127.0.0.1:9443", "--ca", str(server_files["ca"]),
                        "--hpke-pins", str(server_files["pins"]), "--out", str(staged),
                        "--offline"])
    assert code == 1
    assert "No space left on device" in one_line(capsys.readouterr().err, "demo_app.bundle: ")
    assert _files(staged) == before
    assert '"https://127.0.0.1:8443"' in (staged / "device" / "server.toml").read_text(encoding="utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app-src"]


# ------------------------------------------------------- the check against the server


@pytest.fixture(scope="module")
def live_stub(tmp_path_factory):
    """A running stub (its own CA and HPKE key) for the bundle to check its arguments
    against; the bundle only reads its key list."""
    from server_stub.testing import running_stub

    with running_stub(tmp_path_factory.mktemp("live-stub")) as stub:
        yield stub


def test_the_ca_and_pins_of_the_running_server_pass_the_check(tmp_path, live_stub):
    proc = run_bundle(tmp_path, "--server", live_stub.url, "--ca", str(live_stub.ca_path),
                      "--hpke-pins", str(Path(live_stub.data_dir) / "hpke-pins.txt"),
                      "--out", str(tmp_path / "app-src"))
    assert proc.returncode == 0, proc.stderr
    assert (f"demo_app.bundle: checked {live_stub.url}: its certificate verifies with --ca and "
            "its current encryption key is in --hpke-pins") in proc.stdout.splitlines()


def test_another_servers_ca_is_refused_when_the_server_is_reachable(tmp_path, live_stub,
                                                                   server_files):
    proc = run_bundle(tmp_path, "--server", live_stub.url, "--ca", str(server_files["ca"]),
                      "--hpke-pins", str(Path(live_stub.data_dir) / "hpke-pins.txt"),
                      "--out", str(tmp_path / "app-src"))
    assert proc.returncode == 2
    line = one_line(proc.stderr, "demo_app.bundle: ")
    assert f"--ca {server_files['ca']} does not verify the TLS certificate" in line
    assert "--offline" in line
    assert not (tmp_path / "app-src").exists()


def test_the_servers_leaf_certificate_as_ca_is_refused(tmp_path, live_stub):
    leaf = Path(live_stub.data_dir) / "server.pem"
    proc = run_bundle(tmp_path, "--server", live_stub.url, "--ca", str(leaf),
                      "--hpke-pins", str(Path(live_stub.data_dir) / "hpke-pins.txt"),
                      "--out", str(tmp_path / "app-src"))
    assert proc.returncode == 2
    assert "not its server.pem" in one_line(proc.stderr, "demo_app.bundle: ")
    assert not (tmp_path / "app-src").exists()


def test_another_servers_pins_are_refused_when_the_server_is_reachable(tmp_path, live_stub,
                                                                      server_files):
    proc = run_bundle(tmp_path, "--server", live_stub.url, "--ca", str(live_stub.ca_path),
                      "--hpke-pins", str(server_files["pins"]), "--out", str(tmp_path / "app-src"))
    assert proc.returncode == 2
    line = one_line(proc.stderr, "demo_app.bundle: ")
    assert f"--hpke-pins {server_files['pins']}: the server at {live_stub.url} uses the " \
           "encryption key sha256:" in line and "which is not in this file" in line
    assert not (tmp_path / "app-src").exists()


def test_offline_stages_without_asking_the_server(tmp_path, live_stub, server_files):
    proc = run_bundle(tmp_path, "--server", live_stub.url, "--ca", str(server_files["ca"]),
                      "--hpke-pins", str(server_files["pins"]), "--out", str(tmp_path / "app-src"),
                      "--offline")
    assert proc.returncode == 0, proc.stderr
    assert "demo_app.bundle: not checked against the server (--offline)" in proc.stdout.splitlines()


def test_an_unreachable_server_is_noted_in_one_line_and_the_app_is_staged(tmp_path, server_files):
    url = f"https://127.0.0.1:{free_port()}"
    proc = run_bundle(tmp_path, "--server", url, "--ca", str(server_files["ca"]),
                      "--hpke-pins", str(server_files["pins"]), "--out", str(tmp_path / "app-src"))
    assert proc.returncode == 0, proc.stderr
    assert one_line(proc.stderr, "demo_app.bundle: ") == (
        f"demo_app.bundle: could not reach {url} from this computer, so --ca and --hpke-pins "
        "were not checked against the server (the app checks them when it connects); staging "
        "anyway")
    assert (tmp_path / "app-src" / "main.py").is_file()


# --------------------------------------------------------- the staged app, end to end


@pytest.fixture(scope="module")
def staged_run(display, tmp_path_factory, cjk_font):
    """Stage the app against a running stub (with the machine's CJK font), then run the staged
    ``main.py`` once: agree at the prompt and wait until the record reached the server.
    The outcome: ``code``, ``report``, ``stderr``, ``imports`` (what the observer recorded),
    ``db`` (the stub's rows), ``staged`` and ``shot``."""
    from server_stub.testing import running_stub

    tmp = tmp_path_factory.mktemp("staged-run")
    observer = tmp / "observer"
    observer.mkdir()
    (observer / "sitecustomize.py").write_text(OBSERVER, encoding="utf-8")
    shot = tmp / "staged-prompt.png"
    script, report = script_and_report(tmp, "staged", [
        {"wait_screen": "prompt"}, {"sleep": 0.3}, {"screenshot": str(shot)}, {"press": "agree"},
        {"wait_screen": "home"}, {"wait_status": "已同步到服务器"}, {"quit": 0}])
    imports = tmp / "imports.json"
    with running_stub(tmp / "stub") as stub:
        staged = stage(tmp, stub.url, stub.ca_path, Path(stub.data_dir) / "hpke-pins.txt",
                       "--font", str(cjk_font), offline=False)
        env = phone_env(display, PYTHONPATH=str(observer), BUNDLE_TEST_IMPORTS=str(imports))
        proc = run_staged(staged, "--data-dir", str(tmp / "data"), "--script", str(script),
                          "--report", str(report), env=env, timeout=120)
        rows = db_rows(Path(stub.data_dir) / "stub.db", "SELECT record FROM consent_records")
    return {"code": proc.returncode, "stderr": proc.stderr[-4000:], "staged": staged,
            "report": json.loads(report.read_text(encoding="utf-8")) if report.exists() else {},
            "imports": json.loads(imports.read_text(encoding="utf-8")) if imports.exists() else {},
            "db": [json.loads(record) for (record,) in rows], "shot": shot}


def test_the_staged_app_records_the_consent_on_the_server(staged_run):
    assert staged_run["code"] == 0, staged_run["stderr"]
    assert staged_run["report"]["screens"] == ["prompt", "home"]
    assert [r["decision"] for r in staged_run["db"]] == ["granted"]


def test_the_staged_app_runs_the_staged_sdk_and_demo_app(staged_run):
    assert staged_run["code"] == 0, staged_run["stderr"]
    staged = staged_run["staged"].resolve()
    files = staged_run["imports"]["files"]
    assert set(files) == {"sdk", "sdk.core", "demo_app", "demo_app.device", "demo_app.main"}
    for name, file in files.items():
        assert file is not None and staged in Path(file).resolve().parents, (name, file)


def test_the_staged_app_never_imports_server_stub(staged_run):
    assert staged_run["code"] == 0, staged_run["stderr"]
    assert staged_run["imports"]["stub_modules"] == []


def test_the_staged_app_draws_chinese_with_the_bundled_font(staged_run):
    """No fontconfig on PATH and no phone's /system/fonts here: the prompt was drawn (and
    saved) only because device/ holds a CJK font. The screenshot was looked at by eye too."""
    assert staged_run["code"] == 0, staged_run["stderr"]
    assert staged_run["shot"].stat().st_size > 10_000
    assert "font" in (staged_run["staged"] / "device" / "server.toml").read_text(encoding="utf-8")


def test_without_a_bundled_or_system_font_the_staged_app_says_what_to_do(display, tmp_path,
                                                                         server_files):
    staged = stage(tmp_path, "https://127.0.0.1:8443", server_files["ca"], server_files["pins"])
    proc = run_staged(staged, "--data-dir", str(tmp_path / "data"), env=phone_env(display))
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("demo_app: no font that can draw Chinese was found"), proc.stderr
    assert "fontconfig is not installed" in last and "/system/fonts/" in last


# ----------------------------------------------------- device/ settings missing or wrong


def _break_missing(device: Path) -> None:
    (device / "server.toml").unlink()


def _break_not_toml(device: Path) -> None:
    (device / "server.toml").write_text("server = https://no-quotes\n", encoding="utf-8")


def _break_http(device: Path) -> None:
    text = (device / "server.toml").read_text(encoding="utf-8")
    (device / "server.toml").write_text(text.replace("https://", "http://"), encoding="utf-8")


def _break_ca_gone(device: Path) -> None:
    (device / "ca.pem").unlink()


@pytest.mark.parametrize("damage, says", [
    (_break_missing, "device/server.toml is missing"),
    (_break_not_toml, "is not valid TOML"),
    (_break_http, "must start with https://"),
    (_break_ca_gone, "does not exist"),
], ids=["missing", "not-toml", "http-url", "ca-file-gone"])
def test_bad_device_settings_stop_the_app_with_one_line_and_exit_2(damage, says, tmp_path,
                                                                    server_files):
    staged = stage(tmp_path, "https://127.0.0.1:8443", server_files["ca"], server_files["pins"])
    damage(staged / "device")
    proc = run_staged(staged, "--data-dir", str(tmp_path / "data"))
    assert proc.returncode == 2
    line = one_line(proc.stderr, "demo_app: ")
    assert says in line and "python -m demo_app.bundle" in line
    assert not (tmp_path / "data").exists()


def test_the_command_line_cannot_override_the_device_settings(tmp_path, server_files):
    staged = stage(tmp_path, "https://127.0.0.1:8443", server_files["ca"], server_files["pins"])
    proc = run_staged(staged, "--data-dir", str(tmp_path / "data"), "--server",
                      "https://127.0.0.1:9443")
    assert proc.returncode == 2
    assert "--server is set by device/server.toml" in one_line(proc.stderr, "demo_app: ")


def test_an_abbreviated_device_option_is_refused_by_its_full_name(tmp_path, server_files):
    staged = stage(tmp_path, "https://127.0.0.1:8443", server_files["ca"], server_files["pins"])
    proc = run_staged(staged, "--data-dir", str(tmp_path / "data"), "--hpke", "pins.txt")
    assert proc.returncode == 2
    assert "--hpke-pins is set by device/server.toml" in one_line(proc.stderr, "demo_app: ")


def test_an_ambiguous_abbreviation_is_argparses_error_not_blamed_on_font(tmp_path, server_files):
    """--f could be --font or --fault: argparse refuses it as ambiguous, as the demo would."""
    staged = stage(tmp_path, "https://127.0.0.1:8443", server_files["ca"], server_files["pins"])
    proc = run_staged(staged, "--data-dir", str(tmp_path / "data"), "--f", "x")
    assert proc.returncode == 2
    line = one_line(proc.stderr, "demo_app: ")
    assert "ambiguous option: --f could match" in line and "is set by" not in line
    assert not (tmp_path / "data").exists()
