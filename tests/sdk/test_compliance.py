"""sdk.compliance: findings over the real audit trail and consent ledger in a data_dir.

Violations the gate itself never allows (e.g. an app writing around it, or another process)
are written straight into the AuditTrail with the same injected clock.
"""

from __future__ import annotations

import datetime as _dt
import subprocess
import sys
from pathlib import Path

import pytest

from demo_app.policy import load_demo_policy
from sdk import ConsentRequired, PrivacySdk, SdkConfig
from sdk.audit import AUDIT_FILENAME, AuditTrail
from sdk.compliance import Finding, check, main

T0 = _dt.datetime(2026, 12, 1, 8, 0, 0, tzinfo=_dt.timezone.utc)
REPO = Path(__file__).resolve().parents[2]


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> _dt.datetime:
        return self.now

    def tick(self, seconds: int = 1) -> None:
        self.now += _dt.timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def open_sdk(data_dir: Path, clock: Clock) -> PrivacySdk:
    return PrivacySdk.open(SdkConfig(data_dir=data_dir, clock=clock), load_demo_policy())


def write_allowed(data_dir: Path, clock: Clock, item: str = "device_ip",
                  purpose: str = "device_security") -> None:
    """An allowed entry as a collection that bypassed the consent state would leave."""
    with AuditTrail(data_dir / AUDIT_FILENAME, clock) as trail:
        trail.record(item, purpose, "legal_obligation", "allowed", "lawful_basis")


def test_collection_after_agree_is_clean(tmp_path: Path, clock: Clock) -> None:  # OBL-PURP-1
    privacy = open_sdk(tmp_path, clock)
    privacy.agree(sync=False)
    clock.tick()
    privacy.collect("device_ip", "device_security")
    privacy.audit.close()
    privacy.close()
    assert check(tmp_path) == []


def test_collection_before_first_grant_is_found(tmp_path: Path, clock: Clock) -> None:  # OBL-PURP-1
    write_allowed(tmp_path, clock)
    clock.tick(5)
    with open_sdk(tmp_path, clock) as privacy:
        privacy.agree(sync=False)
    assert check(tmp_path) == [
        Finding("collection_before_consent", "device_ip", "device_security", "2026-12-01T08:00:00Z")
    ]


def test_collection_without_any_grant_is_found(tmp_path: Path, clock: Clock) -> None:  # OBL-PURP-1
    write_allowed(tmp_path, clock, "cs_message", "customer_service")
    [finding] = check(tmp_path)
    assert (finding.kind, finding.item, finding.purpose) == (
        "collection_before_consent", "cs_message", "customer_service")


def test_collection_after_withdrawal_is_found(tmp_path: Path, clock: Clock) -> None:  # OBL-DSR-4
    with open_sdk(tmp_path, clock) as privacy:
        privacy.agree(sync=False)
        clock.tick()
        privacy.withdraw(sync=False)
    clock.tick()
    write_allowed(tmp_path, clock)
    assert check(tmp_path) == [
        Finding("collection_after_withdrawal", "device_ip", "device_security", "2026-12-01T08:00:02Z")
    ]


def test_collection_after_new_grant_following_withdrawal_is_clean(
        tmp_path: Path, clock: Clock) -> None:  # OBL-DSR-4
    with open_sdk(tmp_path, clock) as privacy:
        privacy.agree(sync=False)
        clock.tick()
        privacy.withdraw(sync=False)
        clock.tick()
        privacy.agree(sync=False)
    clock.tick()
    write_allowed(tmp_path, clock)
    assert check(tmp_path) == []


def test_refused_collections_are_not_findings(tmp_path: Path, clock: Clock) -> None:  # OBL-PURP-1
    privacy = open_sdk(tmp_path, clock)
    with pytest.raises(ConsentRequired):
        privacy.collect("device_ip", "device_security")
    privacy.audit.close()
    privacy.close()
    assert check(tmp_path) == []


def test_folder_without_audit_trail_is_clean(tmp_path: Path) -> None:  # OBL-PURP-1
    assert check(tmp_path) == []


def test_main_exits_0_when_clean(tmp_path: Path, capsys) -> None:  # OBL-PURP-1
    assert main([str(tmp_path)]) == 0
    assert "no findings" in capsys.readouterr().out


def test_main_exits_1_and_prints_findings(tmp_path: Path, clock: Clock, capsys) -> None:  # OBL-PURP-1
    write_allowed(tmp_path, clock)
    assert main([str(tmp_path)]) == 1
    assert "collection_before_consent" in capsys.readouterr().out


def test_cli_bad_path_exits_2_with_one_line(tmp_path: Path) -> None:  # OBL-PURP-1
    result = subprocess.run(
        [sys.executable, "-m", "sdk.compliance", str(tmp_path / "missing")],
        check=False, cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "missing" in result.stderr


def test_cli_corrupt_trail_exits_2_without_traceback(tmp_path: Path) -> None:  # OBL-SEC-3
    (tmp_path / AUDIT_FILENAME).write_bytes(b"not sqlite" * 200)
    result = subprocess.run(
        [sys.executable, "-m", "sdk.compliance", str(tmp_path)],
        check=False, cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "corrupt" in result.stderr
