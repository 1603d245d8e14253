"""``python -m server_stub``: help, the listening line, clean Ctrl-C, one-line errors."""

from __future__ import annotations

import queue
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

CMD = [sys.executable, "-m", "server_stub"]
LISTENING = re.compile(r"^server_stub listening on (https://127\.0\.0\.1:(\d+))  \(CA: (.+/ca\.pem)\)$")


def _first_line(proc: subprocess.Popen[str], timeout: float = 30) -> str:
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    threading.Thread(target=lambda: lines.put(proc.stdout.readline()), daemon=True).start()
    return lines.get(timeout=timeout).rstrip("\n")


@pytest.fixture
def serving(tmp_path: Path, policy_dir: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    data = tmp_path / "cli-data"
    proc = subprocess.Popen(
        [*CMD, "--data-dir", str(data), "--port", "0", "--policy-dir", str(policy_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc, data
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)


def test_help_describes_the_options() -> None:
    done = subprocess.run([*CMD, "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    for option in ("--data-dir", "--port", "--host", "--policy-dir"):
        assert option in done.stdout


def test_serving_prints_the_listening_line_and_answers(
    serving: tuple[subprocess.Popen[str], Path],
) -> None:
    proc, data = serving
    match = LISTENING.match(_first_line(proc))
    assert match, "listening line missing or malformed"
    url, ca = match.group(1), Path(match.group(3))
    assert ca == data / "ca.pem"
    assert requests.get(f"{url}/v1/health", verify=ca, timeout=10).json()["status"] == "ok"


def test_ctrl_c_exits_0_without_traceback(serving: tuple[subprocess.Popen[str], Path]) -> None:
    proc, _ = serving
    assert LISTENING.match(_first_line(proc))
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "Traceback" not in err


def test_port_in_use_exits_2_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [*CMD, "--data-dir", str(tmp_path / "d"), "--port", str(port)],
            capture_output=True, text=True, timeout=60,
        )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert str(port) in done.stderr and "in use" in done.stderr
    assert "Traceback" not in done.stderr


def test_unusable_data_dir_exits_2_with_one_line(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    done = subprocess.run(
        [*CMD, "--data-dir", str(not_a_dir / "data"), "--port", "0"],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "data dir" in done.stderr and "Traceback" not in done.stderr


def test_bad_port_argument_exits_2_with_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [*CMD, "--data-dir", str(tmp_path), "--port", "70000"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "--port" in done.stderr


def _serve_with(tmp_path: Path, policy_dir: Path, *extra: str) -> Iterator[tuple[str, Path]]:
    proc = subprocess.Popen(
        [*CMD, "--data-dir", str(tmp_path / "d"), "--port", "0", "--policy-dir", str(policy_dir),
         *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        match = LISTENING.match(_first_line(proc))
        assert match, "listening line missing or malformed"
        yield match.group(1), Path(match.group(3))
    finally:
        proc.kill()
        proc.communicate(timeout=30)


def test_hpke_kem_x25519_makes_an_x25519_key(tmp_path: Path, policy_dir: Path) -> None:
    for url, ca in _serve_with(tmp_path, policy_dir, "--hpke-kem", "X25519"):
        keys = requests.get(f"{url}/v1/keys/hpke", verify=ca, timeout=10).json()["keys"]
        assert [key["kem"] for key in keys] == [0x0020]


def test_cert_name_is_served_in_the_certificate(tmp_path: Path, policy_dir: Path) -> None:
    import ipaddress
    import ssl

    from cryptography import x509

    for url, _ca in _serve_with(tmp_path, policy_dir, "--cert-name", "192.168.1.20"):
        port = int(url.rsplit(":", 1)[1])
        served = x509.load_pem_x509_certificate(
            ssl.get_server_certificate(("127.0.0.1", port)).encode())
        sans = served.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert ipaddress.ip_address("192.168.1.20") in sans.get_values_for_type(x509.IPAddress)


def test_a_bad_cert_name_exits_2_with_one_line(tmp_path: Path) -> None:
    done = subprocess.run([*CMD, "--data-dir", str(tmp_path / "d"), "--cert-name", "not a name"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "--cert-name" in done.stderr and "neither an IP address nor a DNS name" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "d").exists()


def _data_dir_with_the_default_key(tmp_path: Path) -> tuple[Path, str]:
    """A data dir whose HPKE key was made by the stub's own code with its default KEM
    (MLKEM768-X25519), as a first start makes it; returns (the dir, the key's fingerprint)."""
    from server_stub.hpke import ensure_hpke_keys

    data = tmp_path / "d"
    data.mkdir()
    return data, ensure_hpke_keys(data).current().fingerprint


def _run_on(data: Path, policy_dir: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CMD, "--data-dir", str(data), "--port", "0", "--policy-dir", str(policy_dir), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_hpke_kem_other_than_the_existing_keys_says_the_key_is_kept(tmp_path: Path, policy_dir: Path) -> None:
    data, fingerprint = _data_dir_with_the_default_key(tmp_path)
    proc = _run_on(data, policy_dir, "--hpke-kem", "X25519")
    try:
        match = LISTENING.match(_first_line(proc))
        assert match, "listening line missing or malformed"
        keys = requests.get(f"{match.group(1)}/v1/keys/hpke", verify=Path(match.group(3)), timeout=10).json()["keys"]
    finally:
        proc.kill()
        _, err = proc.communicate(timeout=30)
    assert [(k["kem"], k["fingerprint"]) for k in keys] == [(0x647A, fingerprint)]
    notes = [line for line in err.splitlines() if "--hpke-kem" in line]
    assert len(notes) == 1, err
    assert notes[0].startswith(f"python -m server_stub: note: the data dir {data} already has an HPKE "
                               "key (MLKEM768-X25519), which is kept: --hpke-kem X25519 applies to a new key only")
    assert "--dev --hpke-kem X25519 and POST /v1/dev/keys/hpke/rotate" in notes[0]
    assert notes[0].endswith("or use a new data dir")


@pytest.mark.parametrize("extra", [[], ["--hpke-kem", "MLKEM768-X25519"]], ids=["not given", "same KEM"])
def test_no_kept_key_line_when_hpke_kem_is_not_given_or_matches(tmp_path: Path, policy_dir: Path,
                                                              extra: list[str]) -> None:
    data, _ = _data_dir_with_the_default_key(tmp_path)
    proc = _run_on(data, policy_dir, *extra)
    try:
        assert LISTENING.match(_first_line(proc))
    finally:
        proc.kill()
        _, err = proc.communicate(timeout=30)
    assert "note:" not in err and "--hpke-kem" not in err, err


def test_the_rotation_the_kept_key_line_names_makes_an_x25519_key_current(tmp_path: Path, policy_dir: Path) -> None:
    """The line's advice works: with --dev --hpke-kem X25519, POST /v1/dev/keys/hpke/rotate
    makes an X25519 key current and keeps the old one published as retired."""
    data, fingerprint = _data_dir_with_the_default_key(tmp_path)
    proc = _run_on(data, policy_dir, "--dev", "--hpke-kem", "X25519")
    try:
        match = LISTENING.match(_first_line(proc))
        assert match, "listening line missing or malformed"
        url, ca = match.group(1), Path(match.group(3))
        rotated = requests.post(f"{url}/v1/dev/keys/hpke/rotate", verify=ca, timeout=10)
        keys = requests.get(f"{url}/v1/keys/hpke", verify=ca, timeout=10).json()["keys"]
    finally:
        proc.kill()
        proc.communicate(timeout=30)
    assert rotated.status_code == 200, rotated.text
    assert [(k["kem"], k["status"]) for k in keys] == [(0x0020, "current"), (0x647A, "retired")]
    assert keys[1]["fingerprint"] == fingerprint
    pins = [line for line in (data / "hpke-pins.txt").read_text(encoding="utf-8").split() if line.startswith("sha256:")]
    assert pins == [keys[0]["fingerprint"], fingerprint]
