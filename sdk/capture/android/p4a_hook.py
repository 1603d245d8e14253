"""python-for-android build hook: declares the privacy SDK's ``FileProvider`` in the APK.

The Android camera backend (``sdk/capture/backends/android_camera.py``) hands the OS camera app
a ``content://`` URI from ``androidx.core.content.FileProvider``. That needs, in the APK:

1. ``res/xml/privacy_sdk_file_paths.xml``: the provider's paths (``file_paths.xml`` beside this
   file; one folder, ``privacy_sdk_capture/`` in the app's internal cache dir);
2. a ``<provider>`` element inside ``<application>`` of ``AndroidManifest.xml``, authority
   ``<package>.fileprovider``, not exported, ``grantUriPermissions="true"``.

Released buildozer has no option that writes an element inside ``<application>``
(kivy/python-for-android#2965; ``android.extra_manifest_xml`` writes at the ``<manifest>``
root, ``android.extra_manifest_application_arguments`` only attributes of the tag;
python-for-android's ``--extra-manifest-application-xml`` came with PR #3377 and buildozer's
``android.extra_manifest_application_xml`` is PR #2055, open). So this hook does both steps.

Use (buildozer.spec)::

    p4a.hook = <folder>/p4a_hook.py        # python -m sdk.capture.android <folder> copies it

python-for-android loads this file with ``load_source`` and calls ``before_apk_build(toolchain)``
inside the distribution's folder, before ``build.py`` renders
``templates/AndroidManifest.tmpl.xml`` (python-for-android ``toolchain.py``,
``_build_package``). The ``<provider>`` goes into that template, so its authority is
``{{ args.package }}.fileprovider``, filled in by python-for-android's own rendering. Running
it again changes nothing. It imports nothing from the SDK (the build machine need not have it
installed): this file and ``file_paths.xml`` are all it needs.

Also needed in buildozer.spec (the hook cannot add them): ``android.enable_androidx = True`` and
``android.gradle_dependencies = androidx.core:core:1.x`` (the provider class).
"""

from __future__ import annotations

import os
import shutil
from typing import Any

#: Kept equal to ``sdk.capture.android`` (a test checks it).
AUTHORITY_SUFFIX = ".fileprovider"
PATHS_RESOURCE = "privacy_sdk_file_paths"
PROVIDER_CLASS = "androidx.core.content.FileProvider"
MARKER = "<!-- privacy-sdk: FileProvider of the Android camera backend -->"

#: The element written before ``</application>``; ``{{ args.package }}`` is rendered by
#: python-for-android's ``build.py`` (Jinja2), like the template's own ``package=``.
PROVIDER_ELEMENT = f"""        {MARKER}
        <provider
            android:name="{PROVIDER_CLASS}"
            android:authorities="{{{{ args.package }}}}{AUTHORITY_SUFFIX}"
            android:exported="false"
            android:grantUriPermissions="true">
            <meta-data
                android:name="android.support.FILE_PROVIDER_PATHS"
                android:resource="@xml/{PATHS_RESOURCE}" />
        </provider>
"""

_HERE = os.path.dirname(os.path.abspath(__file__))
_TEMPLATE = os.path.join("templates", "AndroidManifest.tmpl.xml")
_RESOURCE = os.path.join("src", "main", "res", "xml", PATHS_RESOURCE + ".xml")


def install(dist_dir: str, paths_xml: str | None = None) -> list[str]:
    """Put the paths resource and the ``<provider>`` into the python-for-android
    distribution at *dist_dir*. Returns what was changed (empty when already done).

    Raises:
        FileNotFoundError: no manifest template or no ``file_paths.xml``.
        RuntimeError: the template has no ``</application>``.
    """
    changed: list[str] = []
    source = paths_xml or os.path.join(_HERE, "file_paths.xml")
    with open(source, "rb") as handle:
        paths = handle.read()
    resource = os.path.join(dist_dir, _RESOURCE)
    try:
        with open(resource, "rb") as handle:
            current: bytes | None = handle.read()
    except FileNotFoundError:
        current = None
    if current != paths:
        os.makedirs(os.path.dirname(resource), exist_ok=True)
        shutil.copyfile(source, resource)
        changed.append(_RESOURCE)

    template = os.path.join(dist_dir, _TEMPLATE)
    with open(template, encoding="utf-8") as handle:
        text = handle.read()
    if MARKER in text:
        return changed
    if PROVIDER_CLASS in text:
        print(f"privacy-sdk hook: {_TEMPLATE} already declares a {PROVIDER_CLASS}; not adding "
              f"another. Its authority must be <package>{AUTHORITY_SUFFIX} and its paths must "
              "include <cache-path name=\"privacy_sdk_capture\" path=\"privacy_sdk_capture/\" />")
        return changed
    end = text.rfind("</application>")
    if end < 0:
        raise RuntimeError(f"privacy-sdk hook: no </application> in {template}; the "
                           "python-for-android bootstrap changed, declare the provider by hand "
                           "(docs/permissions.md)")
    line = text.rfind("\n", 0, end) + 1  # the provider goes on the lines before it
    with open(template, "w", encoding="utf-8") as handle:
        handle.write(text[:line] + PROVIDER_ELEMENT + text[line:])
    changed.append(_TEMPLATE)
    return changed


def before_apk_build(toolchain: Any) -> None:
    """python-for-android's hook: called in the distribution's folder before ``build.py``."""
    for name in install(os.getcwd()):
        print(f"privacy-sdk hook: wrote {name}")
