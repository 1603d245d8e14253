"""Finding a CJK font where there is no fontconfig (Android, iOS, Windows): after fontconfig,
``sdk.ui.kivy.fonts.find_cjk_font`` takes the platforms' own CJK font files (issue #8,
"Android and iOS"). The platform's folders are a fake root holding a copy of this machine's
real CJK font (the OS edge, ``system_root=``); fontconfig is made unavailable by a PATH without
``fc-list``. Each lookup runs in a subprocess, so Kivy (imported by ``sdk.ui.kivy``) stays out
of the test process. Each test checks one behaviour.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ..machine_fonts import machine_cjk_font

VENV_BIN = Path(sys.executable).parent

_FIND = """
import json, sys
from sdk.errors import ConfigError
from sdk.ui.kivy.fonts import find_cjk_font
try:
    print(json.dumps({"font": str(find_cjk_font(system_root=sys.argv[1]))}))
except ConfigError as exc:
    print(json.dumps({"error": str(exc)}))
"""

#: Draws text with the font at argv[1] and with Kivy's Roboto; prints whether two different
#: Chinese characters come out different (a font without them draws the same box twice) and
#: whether the font's drawing differs from Roboto's.
_RENDER = """
import json, sys
from kivy.core.window import Window  # noqa: F401 - the GL context textures need
from kivy.core.text import Label as CoreLabel
from kivy.resources import resource_find

def pixels(text, font):
    label = CoreLabel(text=text, font_size=40, font_name=font)
    label.refresh()
    return label.texture.size, bytes(label.texture.pixels)

font, roboto = sys.argv[1], resource_find("data/fonts/Roboto-Regular.ttf")
print(json.dumps({
    "distinct_glyphs": pixels("隐", font) != pixels("私", font),
    "roboto_boxes_alike": pixels("隐", roboto) == pixels("私", roboto),
    "differs_from_roboto": pixels("隐私", font) != pixels("隐私", roboto),
}))
"""


CJK_FONT_ENV = "PRIVACY_SDK_CJK_FONT"


def _env(**more: str) -> dict[str, str]:
    """No fontconfig (a PATH without ``fc-list``), no font forced from outside."""
    env = dict(os.environ, PATH=str(VENV_BIN), KIVY_NO_ARGS="1", KIVY_LOG_MODE="PYTHON", **more)
    env.pop(CJK_FONT_ENV, None)
    return env


def _run(code: str, arg: Path, env: dict[str, str]) -> dict:
    proc = subprocess.run([sys.executable, "-c", code, str(arg)], env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def real_cjk_font() -> Path:
    """This machine's CJK font, as fontconfig finds it (with the usual PATH)."""
    return machine_cjk_font()


def _place(root: Path, relative: str, font: Path) -> Path:
    target = root / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(font, target)
    return target


def test_the_test_environment_has_no_fontconfig():
    """Guards the tests below: their PATH has no fc-list, so fontconfig cannot answer."""
    assert shutil.which("fc-list", path=_env()["PATH"]) is None


def test_without_fontconfig_androids_system_cjk_font_is_found(tmp_path, real_cjk_font):
    noto = _place(tmp_path, "system/fonts/NotoSansCJK-Regular.ttc", real_cjk_font)
    assert _run(_FIND, tmp_path, _env()) == {"font": str(noto)}


def test_the_preferred_android_font_wins_over_the_older_fallback(tmp_path, real_cjk_font):
    _place(tmp_path, "system/fonts/DroidSansFallback.ttf", real_cjk_font)
    noto = _place(tmp_path, "system/fonts/NotoSansCJK-Regular.ttc", real_cjk_font)
    assert _run(_FIND, tmp_path, _env()) == {"font": str(noto)}


def test_ios_pingfang_is_found(tmp_path, real_cjk_font):
    pingfang = _place(tmp_path, "System/Library/Fonts/Core/PingFang.ttc", real_cjk_font)
    assert _run(_FIND, tmp_path, _env()) == {"font": str(pingfang)}


def test_windows_microsoft_yahei_is_found_in_the_fonts_folder(tmp_path, real_cjk_font):
    _place(tmp_path, "Windows/Fonts/simsun.ttc", real_cjk_font)
    yahei = _place(tmp_path, "Windows/Fonts/msyh.ttc", real_cjk_font)
    assert _run(_FIND, tmp_path, _env()) == {"font": str(yahei)}


def test_with_no_cjk_font_anywhere_the_error_says_where_it_looked(tmp_path):
    message = _run(_FIND, tmp_path, _env())["error"]
    assert "\n" not in message
    assert "fontconfig is not installed (no fc-list on PATH)" in message
    assert "/system/fonts/NotoSansCJK-Regular.ttc" in message and CJK_FONT_ENV in message


def test_the_android_font_found_draws_chinese_in_kivy(display, tmp_path, real_cjk_font):
    noto = _place(tmp_path, "system/fonts/NotoSansCJK-Regular.ttc", real_cjk_font)
    found = Path(_run(_FIND, tmp_path, _env())["font"])
    drawn = _run(_RENDER, found, _env(DISPLAY=display, KIVY_HOME=str(tmp_path / "kivy")))
    assert found == noto
    assert drawn == {"distinct_glyphs": True, "roboto_boxes_alike": True,
                     "differs_from_roboto": True}
