"""The ```python blocks of docs/integration.md and docs/rights.md run, in document order, in
one namespace, against the real stub over HTTPS (tests/docs/conftest.py).

A guide's block may use names the app provides (the password the user typed, the app's own
dialogs): :data:`APP_NAMES` gives them test values. Addresses and files the guide shows
(``https://api.example.cn``, ``ca.pem``, ``policy/policy.md``) are replaced by the stub's and the
demo policy's (:data:`REPLACE`). A block that needs a window is in :data:`SKIPPED` with the
test that runs it instead.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

from .doc_blocks import REPO, Block, python_blocks

DEMO_POLICY = REPO / "demo_app" / "policy" / "policy.md"
PASSWORD = "Xk9#mQ2vLp8w-river"

LISTING = ("docs/integration.md", '"""A minimal Kivy app with the privacy SDK (docs/integration.md).')

#: (doc, first line of the block) -> why it does not run here, and what runs it
SKIPPED: dict[tuple[str, str], str] = {
    ("docs/integration.md", "from sdk.ui.kivy import PrivacyPrompt, install_cjk_font"):
        "Kivy widgets need a window: tests/docs/test_minimal_app.py runs the same code under Xvfb",
    LISTING:
        "the listing of docs/examples/minimal_app.py: tests/docs/test_minimal_app.py runs the "
        "file and test_the_listing_is_the_example_file keeps them equal",
}


def _key(block: Block) -> tuple[str, str]:
    return block.doc, block.body[0].strip()


def _run(blocks: list[Block], namespace: dict, replace: dict[str, str], before=None) -> int:
    ran = 0
    for block in blocks:
        if _key(block) in SKIPPED:
            continue
        source = block.source
        for old, new in replace.items():
            source = source.replace(old, new)
        if before:
            before(block, namespace)
        try:
            exec(compile(source, f"{block.doc}:{block.line}", "exec"), namespace)
        except Exception as exc:
            raise AssertionError(f"{block.doc}:{block.line}: {type(exc).__name__}: {exc}\n"
                                 f"{source}") from exc
        ran += 1
    return ran


def test_the_integration_guide_runs_against_the_stub(stub, tmp_path, monkeypatch):
    monkeypatch.setenv("PRIVACY_SDK_KEYSTORE", "passphrase")   # no OS keyring touched
    monkeypatch.setenv("PRIVACY_SDK_PERMISSIONS", "scripted")
    monkeypatch.setenv("PRIVACY_SDK_PERMISSIONS_SCRIPT", "camera=granted")
    monkeypatch.setenv("PRIVACY_SDK_CAMERA", "synthetic")
    namespace = {
        "__name__": "integration_guide",
        "app": SimpleNamespace(user_data_dir=str(tmp_path / "app")),
        "password": PASSWORD,
        "ask_passphrase": lambda: "a passphrase the user typed",
        "HPKE_PINS": tuple(stub.hpke_pins),
    }
    replace = {
        'Path("policy/policy.md")': f"Path({str(DEMO_POLICY)!r})",
        '"https://api.example.cn"': repr(stub.url),
        'Path("ca.pem")': f"Path({str(stub.ca_path)!r})",
    }
    blocks = python_blocks("docs/integration.md")
    try:
        ran = _run(blocks, namespace, replace)
    finally:
        privacy = namespace.get("privacy")
        if privacy is not None:
            privacy.close()
    assert ran >= 9
    assert namespace["account_id"] and namespace["titles"] and namespace["results"][0].granted


def test_the_rights_guide_runs_against_the_stub(stub, tmp_path, monkeypatch):
    from tests.integration.devices import open_logged_in

    from sdk import SdkConfig
    from sdk.policy import load_policy

    config = SdkConfig(data_dir=tmp_path / "device", endpoint=stub.url, ca_bundle=stub.ca_path,
                       retries=1, backoff=0.0)
    email = f"rights-{uuid.uuid4().hex[:8]}@example.com"
    privacy, _keystore = open_logged_in(config, load_policy(DEMO_POLICY), email)
    privacy.grant("marketing")          # so that the objection block has something to withdraw
    shared: list[tuple[str, int]] = []
    namespace = {
        "__name__": "rights_guide",
        "privacy": privacy,
        "password": PASSWORD,
        "ask_user": lambda cases: "stopped_using",            # the user's choice of case
        "share_file": lambda name, payload: shared.append((name, len(payload))),
        "confirm_dialog": lambda text: "注销账号后无法恢复" in text,
        "show_privacy_prompt": lambda: None,
    }

    def before(block: Block, ns: dict) -> None:
        if "privacy.rights.request(request_id)" in block.source:
            ns["request_id"] = privacy.rights.requests()[0].request_id

    try:
        ran = _run(python_blocks("docs/rights.md"), namespace, {}, before)
    finally:
        privacy.close()
    assert ran == len(python_blocks("docs/rights.md"))
    assert shared and shared[0][1] > 0                         # the export reached "the user"
    assert namespace["receipt"].cancelled_at is not None       # the last block cancelled


def test_the_listing_is_the_example_file():
    listing = [b for b in python_blocks("docs/integration.md")
               if _key(b) == LISTING]
    assert len(listing) == 1
    assert listing[0].source == (REPO / "docs/examples/minimal_app.py").read_text(encoding="utf-8")


def test_every_skipped_block_exists():
    keys = {_key(b) for doc in ("docs/integration.md", "docs/rights.md")
            for b in python_blocks(doc)}
    assert set(SKIPPED) <= keys, set(SKIPPED) - keys


@pytest.mark.parametrize("doc", ["docs/integration.md", "docs/rights.md"])
def test_the_guides_have_python_blocks(doc):
    assert python_blocks(doc)
    assert (REPO / doc).exists() and Path(doc).suffix == ".md"
