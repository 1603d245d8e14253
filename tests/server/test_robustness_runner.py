"""A damaged stub.db stops the stub with one line naming the file and what to do."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from server_stub.runner import ServerStartError, start_in_thread
from server_stub.settings import Settings


def _damaged_data_dir(tmp_path: Path) -> Path:
    data = tmp_path / "stub-data"
    data.mkdir()
    (data / "stub.db").write_text("garbage\n", encoding="utf-8")
    return data


def test_damaged_database_error_names_the_file(tmp_path: Path, policy_dir: Path) -> None:
    data = _damaged_data_dir(tmp_path)
    with pytest.raises(ServerStartError) as caught:
        start_in_thread(Settings(data_dir=data, policy_dir=policy_dir))
    assert str(data / "stub.db") in str(caught.value)


def test_damaged_database_error_says_to_move_it_aside(tmp_path: Path, policy_dir: Path) -> None:
    data = _damaged_data_dir(tmp_path)
    with pytest.raises(ServerStartError, match="move it aside"):
        start_in_thread(Settings(data_dir=data, policy_dir=policy_dir))


def test_cli_with_damaged_database_exits_2_with_one_line(tmp_path: Path, policy_dir: Path) -> None:
    data = _damaged_data_dir(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "server_stub", "--data-dir", str(data), "--port", "0",
         "--policy-dir", str(policy_dir)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert str(data / "stub.db") in done.stderr and "move it aside" in done.stderr
