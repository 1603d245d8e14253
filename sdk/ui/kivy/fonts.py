"""Finding and installing a font that can draw Chinese text.

Kivy's bundled Roboto has no CJK glyphs: without a CJK font every Chinese character is drawn
as a box. :func:`find_cjk_font` asks fontconfig (``fc-list :lang=zh``), which Linux desktops
have; then it looks for the CJK fonts the platforms ship (:data:`SYSTEM_CJK_FONTS`): Android's
``/system/fonts`` (Noto Sans CJK, Droid Sans Fallback), iOS's and macOS's PingFang / STHeiti,
and Windows' Microsoft YaHei / SimHei / SimSun in ``%WINDIR%\\Fonts``. An app that wants one
particular font (or runs where none of these exists) ships it and passes its path.

Kivy draws with the first face of a collection (``.ttc``): for Android's
``NotoSansCJK-Regular.ttc`` that is the Japanese one, so every Chinese character is drawn, a
few in their Japanese forms; ship e.g. ``NotoSansCJKsc-Regular.otf`` for Simplified Chinese
forms throughout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from ...errors import ConfigError

__all__ = [
    "CJK_FONT_ENV",
    "CJK_FONT_PACKAGES",
    "SYSTEM_CJK_FONTS",
    "WINDOWS_CJK_FONTS",
    "find_cjk_font",
    "install_cjk_font",
]

#: Environment variable a QA engineer can set to force a font file (path to .ttf/.otf/.ttc).
CJK_FONT_ENV = "PRIVACY_SDK_CJK_FONT"
#: Debian/Ubuntu packages that provide a suitable font.
CJK_FONT_PACKAGES = ("fonts-noto-cjk", "fonts-wqy-microhei")

# Preferred families first: complete Simplified Chinese coverage, good hinting.
_PREFERRED = ("noto sans cjk sc", "noto sans sc", "source han sans", "wenquanyi micro hei",
              "wenquanyi zen hei", "droid sans fallback")

#: The CJK font files the platforms ship, preferred first, tried after fontconfig (Android and
#: iOS have none): Android, then iOS / macOS, as absolute POSIX paths; Windows' as names in
#: ``%WINDIR%\Fonts`` (:data:`WINDOWS_CJK_FONTS`).
SYSTEM_CJK_FONTS = (
    "/system/fonts/NotoSansCJK-Regular.ttc",        # Android 7+
    "/system/fonts/NotoSansSC-Regular.otf",         # some Android builds
    "/system/fonts/DroidSansFallbackFull.ttf",      # Android up to 6
    "/system/fonts/DroidSansFallback.ttf",
    "/System/Library/Fonts/PingFang.ttc",           # macOS
    "/System/Library/Fonts/Core/PingFang.ttc",      # iOS
    "/System/Library/Fonts/STHeiti Light.ttc",
    "/Library/Fonts/Arial Unicode.ttf",
)
#: Windows' CJK fonts in ``%WINDIR%\Fonts``, preferred first: Microsoft YaHei, SimHei, SimSun.
WINDOWS_CJK_FONTS = ("msyh.ttc", "msyh.ttf", "simhei.ttf", "simsun.ttc")


def _system_candidates(root: str | os.PathLike[str] | None) -> list[Path]:
    """:data:`SYSTEM_CJK_FONTS` then :data:`WINDOWS_CJK_FONTS`, under *root* (``None``: the
    file system's root, and ``%WINDIR%`` for Windows'; a folder: ``<root>/system/fonts/...``
    and ``<root>/Windows/Fonts/...``, for tests)."""
    if root is None:
        base, windir = Path("/"), os.environ.get("WINDIR")
        fonts_dir = Path(windir, "Fonts") if windir else None
    else:
        base = Path(root)
        fonts_dir = base / "Windows" / "Fonts"
    found = [base / path.lstrip("/") for path in SYSTEM_CJK_FONTS]
    if fonts_dir is not None:
        found += [fonts_dir / name for name in WINDOWS_CJK_FONTS]
    return found


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


def find_cjk_font(configured: str | os.PathLike[str] | None = None, *,
                  system_root: str | os.PathLike[str] | None = None) -> Path:
    """Return the path of a font file that covers Simplified Chinese.

    Order: ``configured`` if given, then ``$PRIVACY_SDK_CJK_FONT``, then fontconfig's fonts for
    ``lang=zh`` (preferred families first), then the first existing file of the platforms' own
    CJK fonts (:data:`SYSTEM_CJK_FONTS`: Android's ``/system/fonts``, iOS's and macOS's
    ``/System/Library/Fonts``; then :data:`WINDOWS_CJK_FONTS` in ``%WINDIR%\\Fonts``).

    Args:
        configured: a font file (.ttf/.otf/.ttc) to use; wins over everything else.
        system_root: where the platforms' font paths are looked up: ``None`` (the default)
            the file system's root and ``%WINDIR%``; a folder, for tests: its
            ``system/fonts/...``, ``System/Library/Fonts/...`` and ``Windows/Fonts/...``.

    Raises:
        ConfigError: the configured file does not exist, or no CJK font is installed; the
            message says where it looked and names the packages that provide one.
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
    for path in _system_candidates(system_root):
        if path.is_file():
            return path
    fontconfig = ("fontconfig lists none for lang=zh" if shutil.which("fc-list")
                  else "fontconfig is not installed (no fc-list on PATH)")
    raise ConfigError(
        f"no font that can draw Chinese was found ({fontconfig}, and none of the platforms' CJK "
        "font files exists, e.g. Android's /system/fonts/NotoSansCJK-Regular.ttc); install one, "
        f"e.g. 'apt-get install {' '.join(CJK_FONT_PACKAGES)}', set {CJK_FONT_ENV} to a font "
        "file, or ship a .ttf/.otf/.ttc with the app and pass its path"
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
