"""Platform and code (MASVS-CODE-1, MASVS-PLATFORM-2).

The demo app targets a current Android API level and a supported Python, and neither the SDK
nor the demo app shows anything in a WebView or hands a URL to a browser: the policy is
rendered natively (markdown-it to Kivy markup, escaped; tests/sdk/test_ui_markup.py), so there
is no JavaScript bridge or file access to secure.
"""

from __future__ import annotations

import ast
import configparser
import sys

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from .conftest import REPO

#: Google Play requires new apps and updates to target API level 35 (Android 15) since
#: 31 August 2025; older targets get legacy behaviour (e.g. weaker intent and storage rules).
PLAY_TARGET_API = 35
#: The oldest Python with security support at the time of writing (3.9 ended October 2025).
OLDEST_SUPPORTED_PYTHON = (3, 10)


def test_the_app_targets_a_current_android_api_and_a_supported_python() -> None:  # MASVS-CODE-1
    spec = configparser.ConfigParser()
    spec.optionxform = str  # type: ignore[assignment,method-assign]
    spec.read(REPO / "buildozer.spec", encoding="utf-8")
    assert int(spec["app"]["android.api"]) >= PLAY_TARGET_API
    assert int(spec["app"]["android.minapi"]) >= 24  # FileProvider content:// URIs (Android 7)
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    floor = tuple(int(p) for p in project["requires-python"].removeprefix(">=").split("."))
    assert floor >= OLDEST_SUPPORTED_PYTHON


#: Names whose import or use would put content in a WebView or a browser.
_WEB_NAMES = {"webbrowser", "android.webkit", "WebView", "WebViewClient", "cefpython3",
              "kivy_garden.cefpython", "pywebview", "webview"}


def _web_uses(source: str) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] in _WEB_NAMES
                      or a.name in _WEB_NAMES}
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module in _WEB_NAMES or node.module.split(".")[0] in _WEB_NAMES:
                found.add(node.module)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found |= {name for name in ("android.webkit", "WebView") if name in node.value}
    return found


def test_no_webview_or_browser_is_used_by_the_sdk_or_the_demo_app() -> None:  # MASVS-PLATFORM-2
    uses = {str(path.relative_to(REPO)): found
            for folder in ("sdk", "demo_app")
            for path in sorted((REPO / folder).rglob("*.py"))
            if (found := _web_uses(path.read_text(encoding="utf-8")))}
    assert uses == {}
