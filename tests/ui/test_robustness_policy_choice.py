"""Which manifest the demo app pairs with --policy, and the warnings it gives about it."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from demo_app.main import BUNDLED_MANIFEST, _load_policy, build_parser
from sdk.errors import PolicyError

from .conftest import REPO, SEED_POLICY

POLICY = "# 隐私政策\n\n[一、收集](#privacy_1)\n\n## 一、收集 [](id:privacy_1)\n\n正文。\n"


def _manifest(folder: Path, version: str) -> Path:
    """A copy of the bundled manifest with another version, in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    text = BUNDLED_MANIFEST.read_text(encoding="utf-8")
    original = next(ln for ln in text.splitlines() if ln.startswith("version = "))
    path = folder / "manifest.toml"
    path.write_text(text.replace(original, f'version = "{version}"', 1), encoding="utf-8")
    return path


def _policy(folder: Path, text: str = POLICY) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "policy.md"
    path.write_text(text, encoding="utf-8")
    return path


def _load(*argv: str):
    return _load_policy(build_parser().parse_args(list(argv)))


def _warnings(caplog, logger: str) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == logger and r.levelno == logging.WARNING]


def test_explicit_manifest_wins_over_the_one_beside_the_policy(tmp_path):
    policy = _policy(tmp_path / "p")
    _manifest(tmp_path / "p", "2030.1")
    explicit = _manifest(tmp_path / "other", "2031.7")
    assert _load("--policy", str(policy), "--manifest", str(explicit)).version == "2031.7"


def test_manifest_beside_the_policy_is_used_without_a_warning(tmp_path, caplog):
    policy = _policy(tmp_path / "p")
    _manifest(tmp_path / "p", "2030.1")
    with caplog.at_level(logging.WARNING):
        assert _load("--policy", str(policy)).version == "2030.1"
    assert _warnings(caplog, "demo_app") == []


def test_policy_without_manifest_falls_back_with_a_warning_naming_both_files(tmp_path, caplog):
    policy = _policy(tmp_path / "p")
    with caplog.at_level(logging.WARNING):
        loaded = _load("--policy", str(policy))
    assert loaded.manifest.version  # the bundled manifest: the policy is still shown
    (warning,) = _warnings(caplog, "demo_app")
    assert str(policy) in warning and str(BUNDLED_MANIFEST) in warning
    assert "consent records will carry" in warning and loaded.version in warning


def test_missing_explicit_manifest_is_an_error_not_a_fallback(tmp_path):
    policy = _policy(tmp_path / "p")
    _manifest(tmp_path / "p", "2030.1")
    with pytest.raises(PolicyError, match="not found"):
        _load("--policy", str(policy), "--manifest", str(tmp_path / "missing.toml"))


def test_policy_with_a_dangling_toc_link_is_loaded_with_a_warning(tmp_path, caplog):
    policy = _policy(tmp_path / "p", POLICY + "\n[九、不存在](#privacy_9)\n")
    _manifest(tmp_path / "p", "2030.1")
    with caplog.at_level(logging.WARNING):
        _load("--policy", str(policy))
    (warning,) = _warnings(caplog, "sdk.policy")
    assert "unknown anchor 'privacy_9'" in warning


def test_seed_policy_is_shown_with_the_fallback_warning(display, stub, tmp_path):
    if not SEED_POLICY.is_file():
        pytest.skip(f"seed policy not available at {SEED_POLICY}")
    seed = tmp_path / "seed" / "policy.md"
    seed.parent.mkdir()
    seed.write_bytes(SEED_POLICY.read_bytes())
    script, report = tmp_path / "script.json", tmp_path / "report.json"
    script.write_text(json.dumps([{"wait_screen": "prompt"}, {"probe": "seed"}, {"quit": 0}]),
                      encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "demo_app", "--data-dir", str(tmp_path / "app"),
         "--server", stub.url, "--ca", str(stub.ca_path), "--policy", str(seed),
         "--script", str(script), "--report", str(report)],
        env=dict(os.environ, DISPLAY=display), capture_output=True, text=True, timeout=120,
        cwd=REPO, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    probe = json.loads(report.read_text(encoding="utf-8"))["probes"]["seed"]
    assert len(probe["anchors"]) == 8
    warning = next(ln for ln in proc.stderr.splitlines() if "has no manifest beside it" in ln)
    assert str(seed) in warning and str(BUNDLED_MANIFEST) in warning
