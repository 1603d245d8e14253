"""buildozer.spec (issue #8): the demo app declares exactly the Android permissions its policy
manifest needs, derived through the SDK's own mapping, and the camera's FileProvider lines
that ``python -m sdk.capture.android`` prints. Nothing is built here (docs/permissions.md,
"Packaging for Android and iOS")."""

from __future__ import annotations

import configparser
import re
import sys
from pathlib import Path

import pytest

from demo_app.policy import load_demo_policy
from sdk.capture.android import buildozer_lines
from sdk.capture.android.__main__ import main as capture_android_main
from sdk.compliance import features_needing
from sdk.permissions import android as android_permissions
from sdk.policy.manifest import PERMISSIONS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "buildozer.spec"
HOOK_FOLDER = "sdk/capture/android"  # the SDK's package data, used in place


def _spec() -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    parser.optionxform = str  # keys such as android.permissions keep their case
    parser.read(SPEC, encoding="utf-8")
    return parser


def _list(value: str) -> list[str]:
    """buildozer's list: comma-separated, whitespace and new lines ignored."""
    return [part.strip() for part in value.split(",") if part.strip()]


def _permission(entry: str) -> tuple[str, int | None]:
    """``CAMERA`` or ``(name=android.permission.X;maxSdkVersion=32)`` (python-for-android's
    syntax) -> (full name, maxSdkVersion or None)."""
    if entry.startswith("("):
        fields = dict(part.split("=", 1) for part in entry.strip("()").split(";"))
        name, max_sdk = fields.pop("name"), fields.pop("maxSdkVersion", None)
        assert not fields, f"unexpected attributes in {entry}"
        max_sdk = int(max_sdk) if max_sdk is not None else None
    else:
        name, max_sdk = entry, None
    if "." not in name:
        name = f"android.permission.{name}"
    return name, max_sdk


def _android_names(permission: str, levels: range, monkeypatch) -> dict[str, int]:
    """The Android permissions the SDK's Android backend asks for *permission* on each API
    level in *levels*, with the highest level each is used on."""
    backend = android_permissions.AndroidBackend()
    used: dict[str, int] = {}
    for level in levels:
        # the backend reads the API level from its pyjnius cache; nothing else is touched
        monkeypatch.setattr(android_permissions._Android, "_loaded", {"sdk_int": level})
        for name in backend._names(permission):
            used[name] = max(used.get(name, 0), level)
    return used


def expected_permissions(spec: configparser.ConfigParser, monkeypatch) -> dict[str, int | None]:
    """What the manifest needs: INTERNET; ACCESS_NETWORK_STATE when it declares the data item
    ``network_info`` (read from ConnectivityManager); and for every OS permission some feature
    of the manifest needs (``sdk.compliance.features_needing``, the facade's rule 2), the
    Android permissions the SDK's backend maps it to on API levels ``minapi`` to ``api``, each
    with ``maxSdkVersion`` when it is not used up to ``api``."""
    manifest = load_demo_policy().manifest
    minapi, api = int(spec["app"]["android.minapi"]), int(spec["app"]["android.api"])
    wanted: dict[str, int | None] = {"android.permission.INTERNET": None}
    if "network_info" in {str(item.id) for item in manifest.data_items}:
        wanted["android.permission.ACCESS_NETWORK_STATE"] = None
    for permission in PERMISSIONS:
        if not features_needing(manifest, permission):
            continue
        for name, last in _android_names(permission, range(minapi, api + 1), monkeypatch).items():
            wanted[name] = None if last >= api else last
    return wanted


def test_android_permissions_are_exactly_what_the_manifest_needs(monkeypatch):
    spec = _spec()
    declared = [_permission(e) for e in _list(spec["app"]["android.permissions"])]
    names = [name for name, _ in declared]
    assert len(names) == len(set(names)), "a permission is declared twice"
    assert dict(declared) == expected_permissions(spec, monkeypatch)


def test_the_derivation_follows_the_manifest(monkeypatch):
    """Guards the test itself: the demo manifest's camera and photos items need these, and
    phone_state (no feature needs it) adds nothing."""
    wanted = expected_permissions(_spec(), monkeypatch)
    assert "android.permission.CAMERA" in wanted
    assert wanted["android.permission.READ_EXTERNAL_STORAGE"] == 32
    assert wanted["android.permission.READ_MEDIA_IMAGES"] is None
    assert "android.permission.READ_PHONE_STATE" not in wanted


def test_file_provider_lines_match_what_sdk_capture_android_prints(capsys, tmp_path):
    spec = _spec()["app"]
    lines = buildozer_lines(HOOK_FOLDER)
    # the command prints buildozer_lines for its folder (a copy elsewhere gives the same lines)
    assert capture_android_main([str(tmp_path / "copy")]) == 0
    assert buildozer_lines(str(tmp_path / "copy")) in capsys.readouterr().out
    for line in lines.splitlines():
        if not line or line.startswith("#"):
            continue
        key, value = (part.strip() for part in line.split("=", 1))
        if key in ("requirements", "android.permissions"):  # merged with the app's own lists
            have = {re.split(r"[=<>!]", v)[0] for v in _list(spec[key])}
            assert {re.split(r"[=<>!]", v)[0] for v in _list(value)} <= have, key
        else:
            assert spec[key] == value, key
    assert (REPO / spec["p4a.hook"]).is_file()
    assert (REPO / HOOK_FOLDER / "file_paths.xml").is_file()


def _dist_key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_requirements_cover_the_runtime_dependencies():
    """Every runtime dependency of pyproject (for Python 3.11, the python3 recipe's) and of the
    kivy extra is in the requirements; the server's are not (the stub is not packaged)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    have = {_dist_key(re.split(r"[=<>!]", r)[0]) for r in _list(_spec()["app"]["requirements"])}
    for dep in (*project["dependencies"], *project["optional-dependencies"]["kivy"]):
        if "python_version < '3.11'" in dep:
            continue
        name = _dist_key(re.split(r"[\s=<>!;\[]", dep, maxsplit=1)[0])
        assert name in have, f"{name} (pyproject) is missing from buildozer.spec requirements"
    for server_only in ("fastapi", "uvicorn", "argon2-cffi"):
        assert server_only not in have


@pytest.mark.parametrize("ext", ["py", "kv", "toml", "md", "png", "xml"])
def test_source_includes_the_files_the_app_reads(ext):
    assert ext in _list(_spec()["app"]["source.include_exts"])


def test_app_identity():
    app = _spec()["app"]
    assert app["title"] == "示例电子签"
    assert app["source.dir"] == "."
    assert re.fullmatch(r"[a-z][a-z0-9]*", app["package.name"])
    assert re.fullmatch(r"[a-z][a-z0-9]*(\.[a-z][a-z0-9]*)+", app["package.domain"])
