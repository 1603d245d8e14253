"""/v1/templates: list, read and download the contract templates; ids are a fixed set."""

from __future__ import annotations

import pytest
import requests

from server_stub.runner import RunningServer


def test_list_has_the_three_templates_with_sizes(stub: RunningServer, client: requests.Session) -> None:
    answer = client.get(f"{stub.url}/v1/templates", timeout=10)
    assert answer.status_code == 200
    templates = answer.json()["templates"]
    assert [t["id"] for t in templates] == ["employment", "lease", "loan"]
    for t in templates:
        assert set(t) == {"id", "title", "summary", "size", "media_type"}
        assert t["title"] and t["summary"] and t["size"] > 0
        assert t["media_type"] == "text/markdown"


def test_get_answers_title_summary_and_markdown_body(stub: RunningServer, client: requests.Session) -> None:
    answer = client.get(f"{stub.url}/v1/templates/lease", timeout=10)
    assert answer.status_code == 200
    body = answer.json()
    assert body["id"] == "lease"
    assert body["title"] == "房屋租赁合同"
    assert body["body"].startswith("# 房屋租赁合同\n")
    assert "\\_\\_\\_\\_" in body["body"]  # blanks are escaped Markdown, not emphasis


def test_download_is_the_file_as_an_attachment(stub: RunningServer, client: requests.Session) -> None:
    listed = {t["id"]: t for t in client.get(f"{stub.url}/v1/templates", timeout=10).json()["templates"]}
    answer = client.get(f"{stub.url}/v1/templates/loan/download", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Content-Disposition"] == 'attachment; filename="loan.md"'
    assert answer.headers["Content-Type"].startswith("text/markdown")
    assert len(answer.content) == listed["loan"]["size"]
    assert answer.content.decode("utf-8").startswith("# 借款合同")


def test_unknown_template_is_404_template_not_found(stub: RunningServer, client: requests.Session) -> None:
    answer = client.get(f"{stub.url}/v1/templates/mortgage", timeout=10)
    assert answer.status_code == 404
    assert answer.json()["error"] == "template_not_found"


@pytest.mark.parametrize(
    "template_id",
    ["..", "..%2F..%2Fapp.py", "..%2Fstore.py", "%2E%2E%2F__init__.py", "loan.md", "LOAN", "loan%00"],
)
def test_path_traversal_ids_are_rejected(
    stub: RunningServer, client: requests.Session, template_id: str
) -> None:
    for suffix in ("", "/download"):
        answer = client.get(f"{stub.url}/v1/templates/{template_id}{suffix}", timeout=10)
        assert answer.status_code == 404
        assert set(answer.json()) == {"error", "message"}
        assert "import" not in answer.text


def test_template_blanks_render_as_text_not_bold(stub: RunningServer, client: requests.Session) -> None:
    """``____年__月__日`` unescaped would parse as bold runs; the blanks must stay text."""
    from sdk.policy.document import parse_policy
    from server_stub.content import TEMPLATE_IDS

    for template_id in TEMPLATE_IDS:
        answer = client.get(f"{stub.url}/v1/templates/{template_id}", timeout=10)
        document = parse_policy(answer.json()["body"])
        assert document.strong_passages() == [], template_id
        assert "____年__月__日" in document.plain_text(), template_id
