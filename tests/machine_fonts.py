"""The CJK font this machine has, for tests that need a real one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def machine_cjk_font() -> Path:
    """The font file the SDK's ``find_cjk_font`` picks here (fontconfig, the usual PATH), asked
    in a child process so that Kivy stays out of the test process."""
    proc = subprocess.run(
        [sys.executable, "-c", "from sdk.ui.kivy.fonts import find_cjk_font; print(find_cjk_font())"],
        env=dict(os.environ, KIVY_NO_ARGS="1", KIVY_LOG_MODE="PYTHON"), capture_output=True,
        text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return Path(proc.stdout.strip().splitlines()[-1])
