"""`make demo` without a display: the scripted walkthrough under Xvfb saves every screen, keeps
what it typed out of its reports, and signs its consent records (passphrase keystore).

The walkthrough runs once for this module (about 2 minutes: four launches); each test checks one
outcome of it.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from demo_app.autopilot import (
    DEMO_BAD_ID_NUMBER,
    DEMO_ID_NUMBER,
    DEMO_PASSWORD,
    DEMO_PHONE,
    DEMO_REAL_NAME,
)

from .conftest import REPO

SCREENS = [
    "01-privacy-prompt.png", "02-privacy-prompt-section-5.png", "03-basic-mode-templates.png",
    "04-template.png", "05-template-downloaded.png", "06-home.png", "07-register.png",
    "08-home-logged-in.png", "09-storage-and-cookies.png", "10-confirm-clear-cookies.png",
    "11-policy.png", "12-separate-consent-purpose.png", "13-separate-consent-id-number.png",
    "14-separate-consent-recipient.png", "15-realname-simulated.png", "16-privacy-centre.png",
    "17-confirm-withdraw-purpose.png", "18-privacy-centre-separate-consents.png",
    "19-privacy-centre-collected.png", "20-privacy-centre-shared-contact.png",
    "21-permissions.png", "22-rationale-camera.png", "23-face-signing-recording.png",
    "24-face-signing-result.png", "25-rationale-photos.png", "26-photo-picker-sample.png",
    "27-manual-review-result.png", "28-permissions-granted.png",
    "29-permissions-camera-off.png", "30-face-signing-after-refusal.png",
    "31-policy-update.png", "32-policy-update-full-text.png", "33-home-update-pending.png",
    "34-privacy-centre-update-pending.png", "35-privacy-centre-after-update.png",
    # issue #6: a first launch of its own through 实名认证, 数字证书 and 签署合同
    "36-realname-consent.png", "37-realname-form-error.png", "38-realname-rationale-camera.png",
    "39-realname-recording.png", "40-realname-verified.png", "41-certificate.png",
    "42-contract-templates.png", "43-contract-text.png", "44-contract-signed.png",
    # issue #7: a first launch of its own with a breach notice: 个人信息权利, 客服与通知,
    # 邀请签署方 and the account's cancellation
    "45-notice-breach.png", "46-rights-identity-check.png", "47-rights-access-report.png",
    "48-rights-correction.png", "49-rights-objection-deadline.png", "50-rights-evidence.png",
    "51-rights-requests.png", "52-support-message.png", "53-notification-channel.png",
    "54-invite-refused.png", "55-invite-sent.png", "56-cancel-warning.png",
    "57-after-cancellation-prompt.png",
]


@dataclass
class Walkthrough:
    code: int
    stdout: str
    stderr: str
    data: Path   # --data-dir
    shots: Path  # --screenshots

    @property
    def run_dir(self) -> Path:
        return self.data / "walkthrough"


@pytest.fixture(scope="module")
def walkthrough(tmp_path_factory) -> Walkthrough:
    tmp = tmp_path_factory.mktemp("walkthrough")
    data, shots = tmp / "data", tmp / "shots"
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    proc = subprocess.run(
        [sys.executable, "-m", "demo_app.launch", "--data-dir", str(data),
         "--screenshots", str(shots)],
        env=env, capture_output=True, text=True, timeout=480, cwd=REPO, check=False,
    )
    return Walkthrough(proc.returncode, proc.stdout, proc.stderr, data, shots)


def test_headless_demo_saves_a_screenshot_of_every_screen(walkthrough):
    assert walkthrough.code == 0, walkthrough.stderr[-3000:]
    assert str(walkthrough.shots.resolve()) in walkthrough.stdout
    assert sorted(p.name for p in walkthrough.shots.iterdir()) == SCREENS
    assert all((walkthrough.shots / name).stat().st_size > 10_000 for name in SCREENS)


def test_walkthrough_reports_never_contain_the_typed_phone_number_or_password(walkthrough):  # OBL-SEC-2
    assert walkthrough.code == 0, walkthrough.stderr[-3000:]
    reports = sorted(walkthrough.run_dir.glob("*.json"))
    assert walkthrough.run_dir / "walkthrough.json" in reports
    for report in reports:
        text = report.read_text(encoding="utf-8")
        assert DEMO_PHONE not in text and DEMO_PASSWORD not in text, report.name
    steps = json.loads((walkthrough.run_dir / "walkthrough.json").read_text("utf-8"))["steps"]
    typed = [s for s in steps if s["step"] == "type"]
    assert [(s["arg"], s["chars"]) for s in typed] == [("identifier", len(DEMO_PHONE)),
                                                       ("password", len(DEMO_PASSWORD))]
    for output in (walkthrough.stdout, walkthrough.stderr):  # the log
        assert DEMO_PHONE not in output and DEMO_PASSWORD not in output


def test_walkthrough_reports_never_contain_the_typed_real_name_items(walkthrough):  # OBL-SEC-2
    assert walkthrough.code == 0, walkthrough.stderr[-3000:]
    typed_values = (DEMO_REAL_NAME, DEMO_ID_NUMBER, DEMO_BAD_ID_NUMBER, DEMO_PHONE, DEMO_PASSWORD)
    for path in walkthrough.run_dir.rglob("*"):  # reports, scripts, logs: the values nowhere
        if path.is_file() and path.suffix in (".json", ".txt", ".log"):
            text = path.read_text(encoding="utf-8", errors="replace")
            assert not any(value in text for value in typed_values), path
    steps = json.loads((walkthrough.run_dir / "realname.json").read_text("utf-8"))["steps"]
    typed = [(s["arg"], s["chars"]) for s in steps if s["step"] == "type"]
    assert typed == [("identifier", len(DEMO_PHONE)), ("password", len(DEMO_PASSWORD)),
                     ("rn_name", len(DEMO_REAL_NAME)), ("rn_id_number", len(DEMO_BAD_ID_NUMBER)),
                     ("rn_phone", len(DEMO_PHONE)), ("rn_id_number", len(DEMO_ID_NUMBER))]
    for output in (walkthrough.stdout, walkthrough.stderr):
        assert not any(value in output for value in typed_values)


def test_walkthrough_consent_records_are_signed_and_verify(walkthrough, tmp_path):  # OBL-DSR-1
    assert walkthrough.code == 0, walkthrough.stderr[-3000:]
    export = tmp_path / "export.json"

    def consent(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "sdk.consent", *args], capture_output=True,
                              text=True, timeout=60, cwd=REPO, check=False)

    exported = consent("export", str(walkthrough.run_dir / "sdk"), "--out", str(export))
    assert exported.returncode == 0, exported.stderr
    records = json.loads(export.read_text(encoding="utf-8"))["records"]
    assert len(records) > 5  # the prompt, the separate consents, the withdrawal, the update
    assert all(r["proof"]["signature"] for r in records)
    verified = consent("verify", str(export))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "unsigned" not in verified.stdout


def test_walkthrough_passphrase_is_a_private_file_beside_its_data_and_never_printed(walkthrough):  # OBL-SEC-2
    assert walkthrough.code == 0, walkthrough.stderr[-3000:]
    secret = walkthrough.data / "walkthrough.passphrase"
    passphrase = secret.read_text(encoding="utf-8").strip()
    assert len(passphrase) >= 32
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert passphrase not in walkthrough.stdout and passphrase not in walkthrough.stderr
    for path in walkthrough.run_dir.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".txt", ".log"):
            assert passphrase not in path.read_text(encoding="utf-8", errors="replace"), path
