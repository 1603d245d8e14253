"""权限管理, the rationale dialogs and 刷脸签署 / 人工审核材料 in the real demo app (issue #5).

The permission prompts come from the SDK's scripted backend (``--permissions-script``), whose
record of the system prompts it showed is in every probe (``permission_prompts``); the camera is
the synthetic one (``PRIVACY_SDK_CAMERA=synthetic``), a 3 s clip paced like a real camera.
Each test checks one behaviour; the last one runs the whole flow and the compliance check.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from .conftest import REPO, agree_to

#: The synthetic camera and no permission override from outside, for every test.
pytestmark = pytest.mark.usefixtures("synthetic_devices")

PROMPT = [{"wait_screen": "prompt"}, {"sleep": 0.3}]
AGREED = PROMPT + [{"press": "agree"}, {"wait_screen": "home"}]
TO_CAPTURE = [{"press": "face_signing"}, {"wait_screen": "capture"}]
TO_PERMISSIONS = [{"press": "permissions"}, {"wait_screen": "permissions"}, {"sleep": 0.2}]
FROM_PERMISSIONS_TO_CAPTURE = [{"press": "back"}, {"wait_screen": "home"}] + TO_CAPTURE

#: The separate consents 刷脸签署 needs, in the order ask_for_feature asks them.
FACE_CONSENTS = ["purpose:realname_verification", "purpose:certificate", "item:id_number",
                 "item:face_video", "item:certificate_info", "recipient:ca",
                 "recipient:realname_agency"]


#: Tap 开始刷脸 for the first time and agree to its consents: the camera rationale follows.
START_FACE = [{"press": "start_face"}] + agree_to(FACE_CONSENTS) + [
    {"wait_dialog": "rationale:camera"}]


def _audit(data_dir):
    """(permission events, collections) the app wrote, as tuples."""
    from demo_app.main import BUNDLED_MANIFEST, BUNDLED_POLICY
    from sdk import PrivacySdk, SdkConfig
    from sdk.policy import load_policy

    policy = load_policy(BUNDLED_POLICY, BUNDLED_MANIFEST)
    with PrivacySdk.open(SdkConfig(data_dir=data_dir / "sdk"), policy) as sdk:
        permissions = [(e.subject, e.outcome, e.feature) for e in sdk.audit.permission_events()]
        collected = [(e.item, e.outcome, e.feature) for e in sdk.audit.entries("collect")]
    return permissions, collected


def test_the_camera_is_asked_only_inside_face_signing_after_the_rationale(run_app):  # OBL-PERM-1
    run = run_app(AGREED + TO_PERMISSIONS + [{"probe": "page"}] + FROM_PERMISSIONS_TO_CAPTURE + [
        {"probe": "capture"}] + START_FACE + [{"sleep": 0.2}, {"probe": "rationale"},
        {"press": "rationale_continue"}, {"wait_text": ["face_status", "录制完成"]},
        {"probe": "recorded"}, {"quit": 0}], "--permissions-script", "camera=granted")
    assert run.code == 0, run.stderr
    probes = run.report["probes"]
    # nothing asked at start, on the permissions page or on opening the capture screen
    assert probes["page"]["permissions"]["camera"]["status"] == "not_determined"
    assert probes["page"]["permissions"]["camera"]["last_asked_at"] is None
    assert probes["page"]["permission_prompts"] == probes["capture"]["permission_prompts"] == []
    # the rationale states the purpose and the feature, before any system prompt
    rationale = probes["rationale"]
    assert rationale["dialogs"] == ["rationale:camera"] and rationale["permission_prompts"] == []
    assert rationale["rationale_titles"] == ["「刷脸签署」需要使用相机"]
    assert any("面部视频" in p and "实名认证" in p for p in rationale["rationale_body"])
    # 继续: one prompt, then the clip
    recorded = probes["recorded"]
    assert recorded["permission_prompts"] == [["camera", "granted"]]
    assert recorded["results"]["face_signing"]["clip"]["frames"] == 45
    permissions, collected = _audit(run_app.data_dir)
    assert [p for p in permissions if p[0] == "camera"] == [
        ("camera", "requested", "face_signing"), ("camera", "granted", "face_signing")]
    assert ("face_video", "allowed", "face_signing") in collected


def test_a_refusal_then_tapping_again_shows_no_second_system_prompt(run_app):  # OBL-PERM-4
    run = run_app(AGREED + TO_CAPTURE + START_FACE + [
        {"press": "rationale_continue"}, {"wait_text": ["face_status", "您拒绝了相机权限"]},
        {"probe": "refused"}, {"press": "start_face"},
        {"wait_text": ["face_status", "为避免打扰"]}, {"sleep": 0.3}, {"probe": "again"},
        {"press": "permissions"}, {"wait_screen": "permissions"}, {"probe": "page"},
        {"quit": 0}], "--permissions-script", "camera=denied,granted")
    assert run.code == 0, run.stderr
    probes = run.report["probes"]
    assert probes["refused"]["permission_prompts"] == [["camera", "denied"]]
    again = probes["again"]
    assert again["permission_prompts"] == [["camera", "denied"]]  # no second prompt...
    assert again["permission_requests"] == [["camera"]]            # ...nor a request
    assert again["dialogs"] == []                                  # ...nor a rationale
    assert again["results"]["face_signing"]["reason"] == "reask_window"
    assert "拒绝了相机权限" in again["face_status"] and again["face_offer"] == "ask_again"
    camera = probes["page"]["permissions"]["camera"]
    assert (camera["status"], camera["last_answer"], camera["quiet"]) == ("denied", "denied", True)
    assert camera["last_asked_at"] is not None


def test_asking_again_on_purpose_after_a_refusal_shows_the_rationale_then_the_prompt(run_app):  # OBL-PERM-4
    run = run_app(AGREED + TO_CAPTURE + START_FACE + [
        {"press": "rationale_continue"}, {"wait_text": ["face_status", "您拒绝了相机权限"]},
        {"press": "face_ask_again"}, {"wait_dialog": "rationale:camera"},
        {"probe": "rationale"}, {"press": "rationale_continue"},
        {"wait_text": ["face_status", "录制完成"]}, {"probe": "recorded"}, {"quit": 0}],
        "--permissions-script", "camera=denied,granted")
    assert run.code == 0, run.stderr
    assert run.report["probes"]["rationale"]["permission_prompts"] == [["camera", "denied"]]
    assert run.report["probes"]["recorded"]["permission_prompts"] == [
        ["camera", "denied"], ["camera", "granted"]]


def test_permanently_denied_offers_open_settings_and_blocks_nothing_else(run_app):  # OBL-PERM-4
    run = run_app(AGREED + TO_CAPTURE + START_FACE + [
        {"press": "rationale_continue"}, {"wait_text": ["face_status", "系统不会再询问"]},
        {"press": "start_face"}, {"sleep": 0.5}, {"probe": "again"}, {"press": "face_settings"},
        {"wait_text": ["face_status", "已打开系统设置"]}, {"probe": "settings"},
        {"press": "permissions"}, {"wait_screen": "permissions"}, {"probe": "page"},
        # an unrelated feature still works: manual review with the photo library
        {"press": "back"}, {"wait_screen": "home"}] + TO_CAPTURE + [
        {"press": "pick_document"}] + agree_to(["item:review_document"]) + [
        {"wait_dialog": "rationale:photos"}, {"press": "rationale_continue"},
        {"wait_dialog": "sample_picker"}, {"press": "picker_use"},
        {"wait_text": ["review_status", "已读取"]}, {"quit": 0}],
        "--permissions-script", "camera=permanently_denied")
    assert run.code == 0, run.stderr
    probes = run.report["probes"]
    assert probes["again"]["permission_prompts"] == [["camera", "permanently_denied"]]
    assert probes["again"]["results"]["face_signing"]["reason"] == "settings_needed"
    assert probes["again"]["face_offer"] == "settings" and probes["again"]["dialogs"] == []
    assert probes["settings"]["settings_opened"] == ["camera"]
    camera = probes["page"]["permissions"]["camera"]
    assert camera["status"] == "permanently_denied" and camera["settings_button"] is True


def test_revoking_the_camera_while_recording_stops_the_capture(run_app):  # OBL-PERM-3
    run = run_app(AGREED + TO_CAPTURE + START_FACE + [
        {"press": "rationale_continue"}, {"wait_text": ["face_status", "已采集 5 帧"]},
        {"set_permission": ["camera", "denied"]}, {"wait_text": ["face_status", "录制已停止"]},
        {"probe": "stopped"}, {"press": "permissions"}, {"wait_screen": "permissions"},
        {"wait_text": ["perm_status_camera", "已拒绝"]}, {"probe": "page"}, {"quit": 0}],
        "--permissions-script", "camera=granted")
    assert run.code == 0, run.stderr
    stopped = run.report["probes"]["stopped"]
    assert stopped["results"]["face_signing"]["interrupted"] == "permission_revoked"
    assert "clip" not in stopped["results"]["face_signing"] and stopped["recording"] is False
    camera = run.report["probes"]["page"]["permissions"]["camera"]
    assert (camera["status"], camera["last_answer"]) == ("denied", "revoked")
    permissions, _collected = _audit(run_app.data_dir)
    assert ("camera", "revoked", None) in permissions


def test_photos_are_asked_only_for_manual_review_and_the_picked_image_is_read(run_app):  # OBL-PERM-2
    run = run_app(AGREED + TO_CAPTURE + [{"press": "pick_document"}] + agree_to(
        ["purpose:realname_verification", "item:review_document"]) + [
        {"wait_dialog": "rationale:photos"}, {"sleep": 0.2}, {"probe": "rationale"},
        {"press": "rationale_continue"}, {"wait_dialog": "sample_picker"},
        {"press": "picker_use"}, {"wait_text": ["review_status", "已读取"]}, {"probe": "read"},
        {"quit": 0}], "--permissions-script", "photos=granted")
    assert run.code == 0, run.stderr
    rationale, read = run.report["probes"]["rationale"], run.report["probes"]["read"]
    assert rationale["permission_prompts"] == []
    assert rationale["rationale_titles"] == ["「人工审核」需要使用相册"]
    assert read["permission_prompts"] == [["photos", "granted"]]  # the camera is not asked
    document = read["results"]["manual_review"]["document"]
    assert (document["media_type"], document["width"], document["height"]) == ("image/png", 640, 400)
    permissions, collected = _audit(run_app.data_dir)
    assert permissions == [("photos", "requested", "manual_review"),
                           ("photos", "granted", "manual_review")]
    assert collected == [("review_document", "allowed", "manual_review")]


def test_on_a_desktop_the_texts_point_to_the_apps_own_permission_page(run_app):  # OBL-PERM-3
    """No --permissions-script: the desktop backend, whose grant is the app's own dialog; the
    page and the rationale say where the permission is switched here, not "system settings"."""
    run = run_app(AGREED + TO_PERMISSIONS + [{"probe": "page"}] + FROM_PERMISSIONS_TO_CAPTURE
                  + START_FACE + [{"sleep": 0.2}, {"probe": "rationale"},
                                  {"press": "rationale_later"}, {"quit": 0}])
    assert run.code == 0, run.stderr
    page, rationale = run.report["probes"]["page"], run.report["probes"]["rationale"]
    assert page["permission_backend"] == "desktop"
    assert "本页关闭" in page["permissions_intro"] and "系统设置" not in page["permissions_intro"]
    assert "本应用内的权限管理" in rationale["rationale_body"][-1]
    assert "系统设置" not in "".join(rationale["rationale_body"])


def test_the_full_flow_leaves_nothing_for_the_compliance_check(run_app):  # OBL-PERM-1 OBL-PERM-2 OBL-PERM-3 OBL-PERM-4
    from demo_app.main import BUNDLED_MANIFEST, BUNDLED_POLICY
    from demo_app.samples import SAMPLE_DOCUMENT
    from sdk.policy import load_policy
    from sdk.testing.compliance import assert_compliant

    run = run_app(AGREED + TO_PERMISSIONS + FROM_PERMISSIONS_TO_CAPTURE + START_FACE + [
        # refused, tapped again (no prompt), asked again on purpose, recorded
        {"press": "rationale_continue"}, {"wait_text": ["face_status", "您拒绝了相机权限"]},
        {"press": "start_face"}, {"wait_text": ["face_status", "为避免打扰"]},
        {"press": "face_ask_again"}, {"wait_dialog": "rationale:camera"},
        {"press": "rationale_continue"}, {"wait_text": ["face_status", "录制完成"]},
        # manual review
        {"press": "pick_document"}, {"wait_dialog": "item:review_document"},
        {"press": "separate_agree"}, {"wait_dialog": "rationale:photos"},
        {"press": "rationale_continue"}, {"wait_dialog": "sample_picker"},
        {"press": "picker_use"}, {"wait_text": ["review_status", "已读取"]},
        # recording again, and the camera switched off during it
        {"press": "start_face"}, {"wait_text": ["face_status", "已采集 5 帧"]},
        {"set_permission": ["camera", "denied"]}, {"wait_text": ["face_status", "录制已停止"]},
        {"resume": 0}, {"press": "permissions"}, {"wait_screen": "permissions"},
        {"wait_text": ["perm_status_camera", "已拒绝"]}, {"probe": "end"}, {"quit": 0}],
        "--permissions-script", "camera=denied,granted")
    assert run.code == 0, run.stderr
    assert run.report["probes"]["end"]["permission_prompts"] == [
        ["camera", "denied"], ["camera", "granted"], ["photos", "granted"]]
    manifest = load_policy(BUNDLED_POLICY, BUNDLED_MANIFEST).manifest
    assert_compliant(run_app.data_dir / "sdk", manifest=manifest)
    # the clip and the document were shown and discarded: no copy in a file anywhere
    sample = SAMPLE_DOCUMENT.read_bytes()
    for path in run_app.data_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert data[4:8] != b"ftyp" and sample not in data, path


def test_a_malformed_permissions_script_is_refused_before_anything_starts(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    proc = subprocess.run(
        [sys.executable, "-m", "demo_app", "--data-dir", str(tmp_path / "data"),
         "--permissions-script", "camera=maybe"],
        env=env, capture_output=True, text=True, timeout=90, cwd=REPO, check=False)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    line = [ln for ln in proc.stderr.splitlines() if ln.startswith("demo_app: ")]
    assert line and "--permissions-script" in line[0] and "camera=denied" in line[0]
    assert not (tmp_path / "data").exists()
