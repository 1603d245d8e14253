"""buildozer.spec (issue #8): the demo app declares exactly the Android permissions its policy
manifest needs, derived through the SDK's own mapping, and the camera's FileProvider lines
that ``python -m sdk.capture.android`` prints; it packages the folder ``python -m
demo_app.bundle`` stages, every file of it; it pins what the SDK needs from python-for-android
(cryptography and requests within pyproject's bounds, an OpenSSL with ML-KEM), and the
dependency audit checks those pins. Nothing is built here (docs/permissions.md, "Packaging for
Android and iOS")."""

from __future__ import annotations

import configparser
import re
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from demo_app import bundle
from demo_app.policy import load_demo_policy
from sdk.capture.android import buildozer_lines
from sdk.capture.android.__main__ import main as capture_android_main
from sdk.compliance import features_needing
from sdk.permissions import android as android_permissions
from sdk.policy.manifest import PERMISSIONS

from ..machine_fonts import machine_cjk_font

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


#: The packages whose lower bound in pyproject.toml is raised past known advisories (its
#: comment above the dependencies: requests 2.33, cryptography 50). Unpinned, python-for-android
#: would build its own recipe's version (cryptography 46.0.3 in release 2026.5.9: no HPKE, and
#: below the bound), or whatever pip picks at build time.
SECURITY_FLOORS = ("requests", "cryptography")


def _pyproject_specifiers() -> dict[str, SpecifierSet]:
    """name -> pyproject's version bounds for its runtime dependencies and the kivy extra."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    reqs = [Requirement(r) for r in (*project["dependencies"], *project["optional-dependencies"]["kivy"])]
    return {_dist_key(r.name): r.specifier for r in reqs}


def _spec_pins() -> dict[str, str]:
    """name -> version of the requirements written ``name==version``."""
    pins = {}
    for entry in _list(_spec()["app"]["requirements"]):
        name, sep, version = entry.partition("==")
        if sep:
            pins[_dist_key(name)] = version.strip()
    return pins


@pytest.mark.parametrize("name", SECURITY_FLOORS)
def test_packages_with_a_security_floor_are_pinned_at_a_version_pyproject_allows(name):
    floor = _pyproject_specifiers()[name]
    assert any(s.operator == ">=" for s in floor), f"pyproject has no lower bound for {name}"
    pinned = _spec_pins().get(name)
    assert pinned is not None, f"buildozer.spec must pin {name}==VERSION (pyproject: {name}{floor})"
    assert Version(pinned) in floor, f"buildozer.spec pins {name}=={pinned}, outside pyproject's {floor}"


def test_every_pin_is_within_pyprojects_bounds():
    """kivy, uniseg, requests, cryptography: what the phone gets is what the SDK allows."""
    bounds = _pyproject_specifiers()
    pinned = {name: v for name, v in _spec_pins().items() if name in bounds}
    assert {"kivy", "uniseg", *SECURITY_FLOORS} <= set(pinned)
    outside = {name: f"{v} not in {bounds[name]}" for name, v in pinned.items()
               if Version(v) not in bounds[name]}
    assert not outside, outside


def test_openssl_is_pinned_to_a_release_with_ml_kem():
    """cryptography's ML-KEM (the server's default MLKEM768-X25519 key) needs OpenSSL 3.5 or
    later; python-for-android's own openssl recipe is 3.3.1 (release 2026.5.9)."""
    pinned = _spec_pins().get("openssl")
    assert pinned is not None, "buildozer.spec must pin openssl==VERSION (3.5 or later)"
    assert Version(pinned) >= Version("3.5"), pinned


def test_the_audit_checks_the_spec_pins_as_what_ships():
    """make audit reports the pinned versions for the phone, not this desktop's."""
    import importlib.util

    script = REPO / "scripts" / "dependency_audit.py"
    loader = importlib.util.spec_from_file_location("dependency_audit_for_spec", script)
    audit = importlib.util.module_from_spec(loader)
    sys.modules[loader.name] = audit  # its dataclasses look their module up
    loader.loader.exec_module(audit)
    shipped = audit.shipped_packages()
    for name, version in _spec_pins().items():
        if name not in audit.RECIPES:
            assert shipped[name] == version, name


def test_source_dir_is_the_folder_the_bundle_writes_by_default():
    assert _spec()["app"]["source.dir"] == bundle.DEFAULT_OUT.as_posix()


@pytest.fixture(scope="module")
def server_files(tmp_path_factory) -> dict[str, Path]:
    """A stub's dev CA and HPKE pins, made by the stub's own code (the bundle's inputs)."""
    from server_stub.ca import ensure_dev_ca
    from server_stub.hpke import ensure_hpke_keys

    folder = tmp_path_factory.mktemp("server-files")
    ensure_hpke_keys(folder)
    return {"ca": ensure_dev_ca(folder).ca_path, "pins": folder / "hpke-pins.txt"}


@pytest.fixture(scope="module")
def cjk_font() -> Path:
    """A real font with Chinese that this machine has, found by the SDK in a child process
    (Kivy stays out of the test process): the bundle loads --font in Kivy and checks that it
    draws Chinese."""
    return machine_cjk_font()


def _font_extensions() -> set[str]:
    """Every extension the bundle can give its copy of --font: named by the file's first bytes
    (``ttcf`` .ttc, ``OTTO`` .otf), TrueType (.ttf) otherwise."""
    return {suffix.lstrip(".") for suffix in bundle._FONT_SUFFIX.values()} | {"ttf"}


def test_source_includes_every_file_the_bundle_stages(tmp_path, server_files, cjk_font):
    """buildozer packages only the files whose extension is in source.include_exts: every
    file the bundle writes (code, screens, policies, data, device/ with the font) has one."""
    out = tmp_path / "app-src"
    assert bundle.main(["--server", "https://127.0.0.1:8443", "--ca", str(server_files["ca"]),
                        "--hpke-pins", str(server_files["pins"]), "--font", str(cjk_font),
                        "--offline", "--out", str(out)]) == 0
    included = set(_list(_spec()["app"]["source.include_exts"]))
    # hidden files (the bundle's marker, .demo_app-bundle, for its own re-staging) are not
    # for the app, and buildozer may leave them out
    staged = [p.relative_to(out) for p in out.rglob("*") if p.is_file() and not p.name.startswith(".")]
    assert any(p.parent == Path("device") and p.stem == "font" for p in staged)
    left_out = sorted(str(p) for p in staged if p.suffix.lstrip(".") not in included)
    assert not left_out, f"buildozer would leave these out: {left_out}"
    # and nothing is included that the bundle cannot write (a stale type would hide a change)
    assert included == {p.suffix.lstrip(".") for p in staged} | _font_extensions()


def test_source_includes_every_kind_of_font_the_bundle_can_stage():
    """.ttf, .otf and .ttc: a font of any kind --font takes reaches the phone."""
    assert _font_extensions() == {"ttf", "otf", "ttc"}
    assert _font_extensions() <= set(_list(_spec()["app"]["source.include_exts"]))


def test_app_identity():
    app = _spec()["app"]
    assert app["title"] == "示例电子签"
    assert re.fullmatch(r"[a-z][a-z0-9]*", app["package.name"])
    assert re.fullmatch(r"[a-z][a-z0-9]*(\.[a-z][a-z0-9]*)+", app["package.domain"])
