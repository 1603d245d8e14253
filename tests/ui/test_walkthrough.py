"""`make demo` without a display: the scripted walkthrough under Xvfb saves every screen."""

from __future__ import annotations

import os
import subprocess
import sys

from .conftest import REPO

SCREENS = [
    "01-privacy-prompt.png", "02-privacy-prompt-section-5.png", "03-basic-mode-templates.png",
    "04-template.png", "05-template-downloaded.png", "06-home.png", "07-register.png",
    "08-home-logged-in.png", "09-storage-and-cookies.png", "10-confirm-clear-cookies.png",
    "11-policy.png", "12-separate-consent-purpose.png", "13-separate-consent-id-number.png",
    "14-separate-consent-recipient.png", "15-realname-simulated.png", "16-privacy-centre.png",
    "17-confirm-withdraw-purpose.png", "18-privacy-centre-separate-consents.png",
    "19-privacy-centre-collected.png", "20-privacy-centre-shared-contact.png",
    "21-policy-update.png", "22-policy-update-full-text.png", "23-home-update-pending.png",
    "24-privacy-centre-update-pending.png", "25-privacy-centre-after-update.png",
]


def test_headless_demo_saves_a_screenshot_of_every_screen(tmp_path):
    shots = tmp_path / "shots"
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    proc = subprocess.run(
        [sys.executable, "-m", "demo_app.launch", "--data-dir", str(tmp_path / "data"),
         "--screenshots", str(shots)],
        env=env, capture_output=True, text=True, timeout=300, cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert str(shots.resolve()) in proc.stdout
    assert sorted(p.name for p in shots.iterdir()) == SCREENS
    assert all((shots / name).stat().st_size > 10_000 for name in SCREENS)
