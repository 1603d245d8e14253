"""GET /v1/policy: the policy text, its manifest and its digest."""

from __future__ import annotations

import hashlib
from pathlib import Path

import requests

from server_stub.runner import RunningServer
from server_stub.testing import SAMPLE_POLICY_TEXT, https_session, running_stub


def test_policy_answers_text_with_matching_sha256(stub: RunningServer, client: requests.Session) -> None:
    answer = client.get(f"{stub.url}/v1/policy", timeout=10)
    assert answer.status_code == 200
    body = answer.json()
    assert body["text"] == SAMPLE_POLICY_TEXT
    assert body["sha256"] == hashlib.sha256(body["text"].encode("utf-8")).hexdigest()


def test_policy_answers_version_date_language_and_the_manifest(
    stub: RunningServer, client: requests.Session
) -> None:
    body = client.get(f"{stub.url}/v1/policy", timeout=10).json()
    assert (body["version"], body["effective_date"], body["language"]) == ("2026.11", "2026-11-30", "zh-CN")
    assert body["manifest"]["effective_date"] == "2026-11-30"  # TOML date -> ISO string
    assert body["manifest"]["purposes"] == [{"id": "account"}]


def test_edited_policy_is_served_without_restart(
    stub: RunningServer, client: requests.Session, policy_dir: Path
) -> None:
    (policy_dir / "policy.md").write_text("# 新版本\n", encoding="utf-8")
    assert client.get(f"{stub.url}/v1/policy", timeout=10).json()["text"] == "# 新版本\n"


def test_missing_policy_files_answer_503_policy_unavailable(tmp_path: Path) -> None:
    empty = tmp_path / "empty-policy"
    empty.mkdir()
    with running_stub(tmp_path, empty) as server, https_session(server) as client:
        answer = client.get(f"{server.url}/v1/policy", timeout=10)
    assert answer.status_code == 503
    assert answer.json()["error"] == "policy_unavailable"
    assert str(tmp_path) not in answer.text
