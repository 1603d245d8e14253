"""The device side of the account's cancellation (OBL-DSR-7) on its own: the consent ledger
back to no decisions, and the wipe ``confirm_cancellation`` runs after the server confirmed
(the end-to-end order is in tests/integration/test_rights_flow.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdk import PrivacySdk
from sdk.consent.ledger import ConsentLedger

from .clock import Clock


@pytest.fixture
def privacy(offline_privacy: PrivacySdk) -> PrivacySdk:
    return offline_privacy


def test_forgetting_every_decision_leaves_a_fresh_ledger(tmp_path: Path, clock: Clock) -> None:  # OBL-DSR-7
    from sdk.consent.record import Notice

    ledger = ConsentLedger(tmp_path / "consent.db", clock)
    notice = Notice(policy_version="2026.11", sha256="0" * 64, language="zh-CN")
    ledger.record("granted", ("account",), notice, "controller", "explicit_button")
    old_subject = ledger.subject_id
    new_subject = ledger.forget_all_decisions()
    assert ledger.history() == [] and ledger.pending_count() == 0 and ledger.latest() is None
    assert new_subject == ledger.subject_id != old_subject
    ledger.close()
    reopened = ConsentLedger(tmp_path / "consent.db", clock)
    assert reopened.subject_id == new_subject and reopened.history() == []
    reopened.close()


def test_the_ledger_stays_append_only_after_forgetting(tmp_path: Path, clock: Clock) -> None:  # OBL-DSR-7
    import sqlite3

    ledger = ConsentLedger(tmp_path / "consent.db", clock)
    ledger.forget_all_decisions()
    ledger.close()
    with sqlite3.connect(tmp_path / "consent.db") as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'")}
    assert {"consent_records_no_delete", "consent_records_append_only"} <= names


def test_the_wipe_leaves_the_device_undecided_with_nothing_kept(privacy: PrivacySdk) -> None:  # OBL-DSR-7
    privacy.store.put("notes", "draft", "合同草稿", purpose="esign_service")
    privacy.collect("login_account", "account", feature="account")
    subject = privacy.subject_id
    assert privacy.mode == "full" and privacy.audit.entries()
    assert privacy._wipe_after_cancellation() == ()
    assert privacy.mode == "undecided" and privacy.current_account_id() is None
    assert privacy.subject_id != subject and privacy.ledger.history() == []
    assert privacy.store.entries() == [] and privacy.audit.entries() == []


def test_the_wipe_tells_the_apps_listeners_the_consent_is_gone(privacy: PrivacySdk) -> None:  # OBL-DSR-7
    changes = []
    privacy.add_listener(changes.append)
    privacy._wipe_after_cancellation()
    assert any(c.scope == "policy" and (c.before, c.after) == ("granted", "not_asked")
               for c in changes)


def test_the_wipe_deletes_the_downloaded_templates(privacy: PrivacySdk) -> None:  # OBL-DSR-7
    privacy.downloads_dir.mkdir(parents=True)
    (privacy.downloads_dir / "lease.md").write_text("# 房屋租赁合同", encoding="utf-8")
    assert privacy._wipe_after_cancellation() == ()
    assert not privacy.downloads_dir.exists()


def test_the_wipe_forgets_the_log_rows_of_the_account_it_is_given(privacy: PrivacySdk) -> None:  # OBL-DSR-7
    # the session already ended (no cookie): the id read before the confirmation is passed in
    privacy.operation_log.account_id = "acct-0001"
    privacy.operation_log.write("operation", "export_requested")
    privacy.operation_log.account_id = None
    assert privacy.current_account_id() is None
    assert privacy._wipe_after_cancellation("acct-0001") == ()
    assert [e for e in privacy.operation_log.entries() if e.account_id == "acct-0001"] == []
