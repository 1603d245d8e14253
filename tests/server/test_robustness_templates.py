"""Template ids: one path segment. Unknown ids answer 404 template_not_found; an id holding
'/' is another path and answers 404 not_found (docs/protocol.md says both)."""

from __future__ import annotations

import http.client
import json
import ssl

import pytest

from server_stub.runner import RunningServer


def _get_verbatim(stub: RunningServer, path: str) -> tuple[int, dict]:
    """GET ``path`` exactly as written (no client-side removal of ``..`` segments)."""
    context = ssl.create_default_context(cafile=str(stub.ca_path))
    connection = http.client.HTTPSConnection(stub.host, stub.port, context=context, timeout=10)
    try:
        connection.request("GET", path)
        answer = connection.getresponse()
        return answer.status, json.loads(answer.read())
    finally:
        connection.close()


@pytest.mark.parametrize("template_id", ["a/b", "../../etc/passwd", "a%2Fb", "..%2F..%2Fapp.py"])
@pytest.mark.parametrize("suffix", ["", "/download"])
def test_path_like_template_id_is_404_not_found(stub: RunningServer, template_id, suffix) -> None:
    status, body = _get_verbatim(stub, f"/v1/templates/{template_id}{suffix}")
    assert (status, body["error"]) == (404, "not_found")


@pytest.mark.parametrize("template_id", ["mortgage", "loan.md", "LOAN", "..", "%2E%2E"])
@pytest.mark.parametrize("suffix", ["", "/download"])
def test_single_segment_unknown_id_is_404_template_not_found(
    stub: RunningServer, template_id, suffix
) -> None:
    status, body = _get_verbatim(stub, f"/v1/templates/{template_id}{suffix}")
    assert (status, body["error"]) == (404, "template_not_found")


def test_protocol_doc_states_both_404_answers_for_templates() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text(encoding="utf-8")
    assert "any other id, path-like ids included, is `404\ntemplate_not_found`" not in doc
    assert "is `404 not_found`" in doc and "is `404 template_not_found`" in doc
