"""``import sdk`` stays cheap: nothing heavy is imported until it is used."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("kivy", "fastapi", "uvicorn", "requests", "keyring", "markdown_it", "urllib3")


def _loaded_after(code: str) -> list[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_sdk_imports_nothing_heavy() -> None:
    assert _loaded_after("import sdk") == []


def test_public_names_import_nothing_heavy() -> None:
    """Resolving the facade, the config and the errors still needs no network stack."""
    code = (
        "import sdk\n"
        "sdk.PrivacySdk, sdk.SdkConfig, sdk.SdkError, sdk.TlsError\n"
        "import sdk.consent, sdk.transport\n"
    )
    assert _loaded_after(code) == []


def test_requests_is_imported_on_first_use() -> None:
    code = (
        "import tempfile, pathlib, sdk\n"
        "from sdk.transport import make_session\n"
        "make_session(sdk.SdkConfig(data_dir=pathlib.Path(tempfile.mkdtemp())))\n"
    )
    assert "requests" in _loaded_after(code)
