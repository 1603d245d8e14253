"""sdk.testing.compliance: the compliance check as an assertion in an app's own tests."""

from __future__ import annotations

import datetime as _dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

from demo_app.policy import load_demo_policy
from sdk import PrivacySdk, SdkConfig
from sdk.audit import AUDIT_FILENAME, AuditTrail
from sdk.compliance import POLICY_FILENAME, Finding
from sdk.testing.compliance import assert_compliant, findings

from .clock import Clock

REPO = Path(__file__).resolve().parents[2]




def write_before_consent(data_dir: Path, clock: Clock) -> None:
    """Two things an app must not do before the privacy consent."""
    with AuditTrail(data_dir / AUDIT_FILENAME, clock) as trail:
        trail.record("device_ip", "device_security", "legal_obligation", "allowed", "lawful_basis")
        trail.record_permission("camera", "face_signing", "requested")


def test_clean_data_dir_passes(tmp_path: Path, clock: Clock) -> None:  # OBL-PURP-1
    with PrivacySdk.open(SdkConfig(data_dir=tmp_path, clock=clock), load_demo_policy()) as privacy:
        privacy.agree(sync=False)
        clock.tick()
        privacy.collect("device_ip", "device_security")
        assert_compliant(privacy)
    assert_compliant(tmp_path)


def test_findings_fail_with_one_line_each(tmp_path: Path, clock: Clock) -> None:  # OBL-PURP-1
    write_before_consent(tmp_path, clock)
    with pytest.raises(AssertionError) as info:
        assert_compliant(tmp_path)
    lines = str(info.value).splitlines()
    assert lines[0] == "2 compliance finding(s):"
    assert "collection_before_consent: item 'device_ip' for purpose 'device_security'" in lines[1]
    assert "permission_before_consent: permission 'camera'" in lines[2]
    assert len(lines) == 3


def test_ignore_leaves_out_a_kind(tmp_path: Path, clock: Clock) -> None:  # OBL-PERM-1
    write_before_consent(tmp_path, clock)
    assert [f.kind for f in findings(tmp_path, ignore=("collection_before_consent",))] == [
        "permission_before_consent"]
    assert_compliant(tmp_path, ignore=("collection_before_consent", "permission_before_consent"))


def test_ignore_with_an_unknown_kind_is_an_error(tmp_path: Path) -> None:  # OBL-PURP-1
    with pytest.raises(ValueError, match="collection_before_consnet"):
        findings(tmp_path, ignore=("collection_before_consnet",))


def test_sdk_target_uses_its_policy_manifest(tmp_path: Path, clock: Clock) -> None:  # OBL-PERM-1
    with PrivacySdk.open(SdkConfig(data_dir=tmp_path, clock=clock), load_demo_policy()) as privacy:
        privacy.agree(sync=False)
        clock.tick()
        privacy.audit.record_permission("camera", "manual_review", "requested")
        assert findings(privacy) == [
            Finding("permission_outside_feature", "", "", "2026-12-01T08:00:01Z", "camera",
                    "manual_review")
        ]
        # a bare folder: the manifest of the policy kept with the latest consent record
        assert findings(tmp_path) == findings(privacy)


def test_folder_target_uses_its_policy_json(tmp_path: Path, clock: Clock) -> None:  # OBL-PERM-1
    (tmp_path / POLICY_FILENAME).write_text(json.dumps(load_demo_policy().to_json()),
                                            encoding="utf-8")
    with AuditTrail(tmp_path / AUDIT_FILENAME, clock) as trail:
        trail.record_permission("photos", None, "requested", user_initiated=True)
    assert [f.kind for f in findings(tmp_path)] == [
        "permission_before_consent", "permission_outside_feature"]


def test_explicit_manifest_is_used_for_a_folder(tmp_path: Path, clock: Clock) -> None:  # OBL-PERM-1
    with AuditTrail(tmp_path / AUDIT_FILENAME, clock) as trail:
        trail.record_permission("photos", None, "requested")
    kinds = [f.kind for f in findings(tmp_path, manifest=load_demo_policy().manifest,
                                      ignore=("permission_before_consent",))]
    assert kinds == ["permission_outside_feature"]


def test_reask_window_is_passed_through(tmp_path: Path, clock: Clock) -> None:  # OBL-PERM-4
    with AuditTrail(tmp_path / AUDIT_FILENAME, clock) as trail:
        trail.record_permission("camera", "face_signing", "denied")
        clock.tick(3 * 3600)
        trail.record_permission("camera", "face_signing", "requested")
    ignore = ("permission_before_consent",)
    assert [f.kind for f in findings(tmp_path, ignore=ignore)] == ["permission_reasked_within_48h"]
    assert_compliant(tmp_path, ignore=ignore, reask_window=_dt.timedelta(hours=2))


def test_target_of_another_type_is_a_type_error() -> None:  # OBL-PURP-1
    with pytest.raises(TypeError, match="data folder"):
        findings(42)


def test_module_does_not_import_pytest() -> None:  # OBL-PURP-1
    probe = "import sys, sdk.testing.compliance; print('pytest' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "False"
