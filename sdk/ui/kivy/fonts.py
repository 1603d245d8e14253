"""Finding and installing a font that can draw Chinese text.

Kivy's bundled Roboto has no CJK glyphs: without a CJK font every Chinese character is drawn
as a box. :func:`find_cjk_font` asks fontconfig (``fc-list :lang=zh``) on desktops; on Android
and iOS, ship a font with the app and pass its path.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from ...errors import ConfigError

__all__ = ["find_cjk_font", "install_cjk_font", "CJK_FONT_ENV", "CJK_FONT_PACKAGES"]

#: Environment variable a QA engineer can set to force a font file (path to .ttf/.otf/.ttc).
CJK_FONT_ENV = "PRIVACY_SDK_CJK_FONT"
#: Debian/Ubuntu packages that provide a suitable font.
CJK_FONT_PACKAGES = ("fonts-noto-cjk", "fonts-wqy-microhei")

# Preferred families first: complete Simplified Chinese coverage, good hinting.
_PREFERRED = ("noto sans cjk sc", "noto sans sc", "source han sans", "wenquanyi micro hei",
              "wenquanyi zen hei", "droid sans fallback")


def _fontconfig_candidates() -> list[tuple[str, Path]]:
    fc_list = shutil.which("fc-list")
    if not fc_list:
        return []
    try:
        out = subprocess.run([fc_list, ":lang=zh", "family", "file"], capture_output=True,
                             text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    found = []
    for line in out.splitlines():
        path, _, family = line.partition(":")
        if path.strip():
            found.append((family.strip().lower(), Path(path.strip())))
    return found


def find_cjk_font(configured: str | os.PathLike[str] | None = None) -> Path:
    """Return the path of a font file that covers Simplified Chinese.

    Order: ``configured`` if given, then ``$PRIVACY_SDK_CJK_FONT``, then fontconfig's fonts for
    ``lang=zh`` (preferred families first).

    Raises:
        ConfigError: the configured file does not exist, or no CJK font is installed; the
            message names the packages that provide one.
    """
    explicit = configured or os.environ.get(CJK_FONT_ENV)
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"CJK font '{path}' does not exist; pass the path of a .ttf/.otf/.ttc file")
        return path
    candidates = [(fam, p) for fam, p in _fontconfig_candidates() if p.is_file()]
    for preferred in _PREFERRED:
        for family, path in candidates:
            if preferred in family:
                return path
    if candidates:
        return candidates[0][1]
    raise ConfigError(
        "no font that can draw Chinese was found (fontconfig has none for lang=zh); install one, "
        f"e.g. 'apt-get install {' '.join(CJK_FONT_PACKAGES)}', or set {CJK_FONT_ENV} to a font file"
    )


def install_cjk_font(configured: str | os.PathLike[str] | None = None) -> Path:
    """Make a CJK font Kivy's default font, so every Label can draw Chinese.

    Call once before the first widget is built. Returns the font file used.

    Raises:
        ConfigError: as :func:`find_cjk_font`.
    """
    from kivy.core.text import DEFAULT_FONT, LabelBase

    path = find_cjk_font(configured)
    LabelBase.register(DEFAULT_FONT, str(path))
    return path
