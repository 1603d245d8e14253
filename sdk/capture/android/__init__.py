"""What an Android build needs for the SDK's own camera backend (``android``): the
``FileProvider`` paths (``file_paths.xml``), a python-for-android hook that puts them and the
``<provider>`` element into the APK (``p4a_hook.py``), and the buildozer.spec lines
(:data:`BUILDOZER_LINES`). docs/permissions.md, "Android: the camera through a FileProvider".

``python -m sdk.capture.android FOLDER`` copies both files into *FOLDER* (e.g. a folder next to
the app's buildozer.spec; files already there with the same content are left as they are, so
``sdk/capture/android`` itself, used in place, copies nothing) and prints the lines. Nothing
here imports pyjnius or runs on the device; the files are package data.
"""

from __future__ import annotations

import shutil
from pathlib import Path

__all__ = [
    "AUTHORITY_SUFFIX",
    "BUILDOZER_LINES",
    "FILES",
    "PATHS_RESOURCE",
    "PROVIDER_CLASS",
    "SCRATCH_FOLDER",
    "buildozer_lines",
    "data_file",
    "write_build_files",
]

#: The provider's authority is the app's package name plus this.
AUTHORITY_SUFFIX = ".fileprovider"
#: The paths resource's name in the APK (``res/xml/privacy_sdk_file_paths.xml``): not
#: ``file_paths``, so an app's own FileProvider paths are never overwritten.
PATHS_RESOURCE = "privacy_sdk_file_paths"
#: ``androidx.core``'s provider class (Gradle dependency ``androidx.core:core``).
PROVIDER_CLASS = "androidx.core.content.FileProvider"
#: The only folder the provider shares: under ``Context.getCacheDir()`` (internal storage).
SCRATCH_FOLDER = "privacy_sdk_capture"
#: The files an Android build needs, shipped with the SDK.
FILES = ("file_paths.xml", "p4a_hook.py")
#: The ``androidx.core`` version the docs name (any 1.x has ``FileProvider``).
ANDROIDX_CORE = "androidx.core:core:1.12.0"

_HERE = Path(__file__).resolve().parent


def data_file(name: str) -> Path:
    """The path of one of :data:`FILES` inside the installed SDK."""
    if name not in FILES:
        raise ValueError(f"not an Android build file of the SDK: {name!r}")
    return _HERE / name


def buildozer_lines(folder: str = "privacy_sdk_android") -> str:
    """The buildozer.spec lines (section ``[app]``) for the ``android`` camera backend, with
    the hook copied into *folder* (relative to buildozer.spec). buildozer reads no comment at
    the end of a line, so the only comment is a line of its own."""
    return (
        "# merge requirements and android.permissions with the app's own lists\n"
        "requirements = python3,kivy,pyjnius,android\n"
        "android.permissions = CAMERA\n"
        "android.enable_androidx = True\n"
        f"android.gradle_dependencies = {ANDROIDX_CORE}\n"
        f"p4a.hook = {folder.rstrip('/')}/p4a_hook.py\n"
    )


#: :func:`buildozer_lines` for the default folder.
BUILDOZER_LINES = buildozer_lines()


def _same_content(source: Path, dest: Path) -> bool:
    """*dest* is *source* itself (the package data folder, a link to it) or a regular file
    with the same bytes."""
    if not dest.is_file():
        return False
    if dest.samefile(source):
        return True
    return dest.stat().st_size == source.stat().st_size and dest.read_bytes() == source.read_bytes()


def write_build_files(folder: Path | str) -> list[Path]:
    """Copy :data:`FILES` into *folder* (made if missing).

    A file *folder* already holds with the same content (or that is the SDK's own file, as
    when *folder* is the package data folder ``sdk/capture/android``) is left as it is.

    Returns:
        the files written (empty when every file was already there).

    Raises:
        OSError: *folder* cannot be made or written (e.g. it is a file, or read-only).
    """
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name in FILES:
        source, dest = data_file(name), target / name
        if _same_content(source, dest):
            continue
        shutil.copyfile(source, dest)
        written.append(dest)
    return written
