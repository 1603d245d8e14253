"""Basic mode against the real stub: templates work with no consent, account or identifier."""

from __future__ import annotations

import pytest

from sdk import PrivacySdk, ServerError


def check_templates(sdk: PrivacySdk) -> None:
    templates = sdk.list_templates()
    assert templates, "the stub offers contract templates"
    for summary in templates:
        assert {"id", "title", "summary", "size", "media_type"} <= set(summary)
    first = templates[0]
    detail = sdk.get_template(first["id"])
    assert detail["id"] == first["id"] and detail["body"]
    path = sdk.download_template(first["id"])
    assert path.parent == sdk.config.data_dir / "downloads"
    assert path.name == f"{first['id']}.md"
    assert path.stat().st_size == first["size"]
    assert path.read_text(encoding="utf-8").strip()
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left behind


def test_templates_in_basic_mode(privacy: PrivacySdk) -> None:  # OBL-ACC-2
    privacy.disagree()
    assert privacy.mode == "basic"
    check_templates(privacy)
    assert privacy.pending_sync() == 0


def test_templates_before_any_decision(privacy: PrivacySdk) -> None:  # OBL-ACC-2
    assert privacy.mode == "undecided"
    check_templates(privacy)
    assert privacy.ledger.history() == []  # browsing records nothing


def test_unknown_template_is_server_error(privacy: PrivacySdk) -> None:  # OBL-ACC-2
    with pytest.raises(ServerError) as info:
        privacy.get_template("no-such-template")
    assert info.value.status == 404 and info.value.code == "template_not_found"
    with pytest.raises(ServerError):
        privacy.download_template("no-such-template")
    downloads = privacy.config.data_dir / "downloads"
    assert not downloads.exists() or list(downloads.iterdir()) == []
