"""server_stub.services_store: the export and erase other issue #7 flows call (OBL-DSR-1/3,
OBL-DSR-7 with OBL-CS-1, OBL-MAIL-1, OBL-PHONE-1), and retention of the rows it keeps."""

from __future__ import annotations

import datetime as _dt
import sqlite3
import uuid
from pathlib import Path

import pytest

from server_stub.services_store import ServicesStore
from server_stub.store import Store

NOW = _dt.datetime(2026, 11, 30, 3, 22, 25, tzinfo=_dt.timezone.utc)
ACCOUNT, OTHER = str(uuid.uuid4()), str(uuid.uuid4())


@pytest.fixture
def services(tmp_path: Path) -> ServicesStore:
    Store(tmp_path)  # the idempotency table lives next to these tables, as in the server
    return ServicesStore(tmp_path)


def _fill(services: ServicesStore, account_id: str, key: str = "k") -> dict[str, str]:
    with services.transaction() as conn:
        message = services.insert_message(conn, account_id, "请回电", "+8613800138000", NOW, f"{key}-m")
        invitation = services.insert_invitation(conn, account_id, "loan", "+8613900139000", NOW, f"{key}-i")
    services.set_preference(account_id, "email", "notify@example.com", NOW)
    notice = services.publish_notice("breach", "标题", {p: "内容" for p in (
        "what_happened", "impact", "actions_taken", "how_to_protect", "remedies")}, NOW)
    with services.transaction() as conn:
        services.acknowledge(conn, notice["notice_id"], str(uuid.uuid4()), account_id, NOW)
    return {"message_id": message["message_id"], "invitation_id": invitation["invitation_id"],
            "notice_id": notice["notice_id"]}


def test_export_holds_the_values(services: ServicesStore) -> None:  # OBL-DSR-3, OBL-CS-1, OBL-PHONE-1, OBL-MAIL-1
    # OBL-DSR-3 (portability: values included), OBL-CS-1, OBL-PHONE-1, OBL-MAIL-1
    ids = _fill(services, ACCOUNT)
    assert services.export(ACCOUNT) == {
        "support_messages": [{"message_id": ids["message_id"], "text": "请回电",
                              "contact": "+8613800138000", "received_at": "2026-11-30T03:22:25Z",
                              "answer": None}],
        "invitations": [{"invitation_id": ids["invitation_id"], "template_id": "loan",
                         "phone": "+8613900139000", "attested_at": "2026-11-30T03:22:25Z"}],
        "notice_acknowledgements": [{"notice_id": ids["notice_id"],
                                     "acknowledged_at": "2026-11-30T03:22:25Z"}],
        "notification_preference": {"channel": "email", "email": "notify@example.com"},
    }


def test_export_of_an_account_without_data_is_empty(services: ServicesStore) -> None:  # OBL-DSR-3
    # OBL-DSR-3
    _fill(services, OTHER)
    assert services.export(ACCOUNT) == {
        "support_messages": [], "invitations": [], "notice_acknowledgements": [],
        "notification_preference": {"channel": "sms", "email": None}}


def test_erase_answers_the_deleted_items(services: ServicesStore) -> None:  # OBL-DSR-6
    # OBL-DSR-6/7 (deletion, cancellation)
    _fill(services, ACCOUNT)
    assert services.erase(ACCOUNT) == ["cs_message", "counter_signer_phone", "notification_email"]


def test_erase_deletes_the_values(services: ServicesStore) -> None:  # OBL-DSR-6
    # OBL-DSR-6/7: the channel goes back to sms; acknowledgements stay as proof of notice
    ids = _fill(services, ACCOUNT)
    services.erase(ACCOUNT)
    exported = services.export(ACCOUNT)
    assert (exported["support_messages"], exported["invitations"]) == ([], [])
    assert exported["notification_preference"] == {"channel": "sms", "email": None}
    assert [a["notice_id"] for a in exported["notice_acknowledgements"]] == [ids["notice_id"]]


def test_erase_leaves_other_accounts_alone(services: ServicesStore) -> None:  # OBL-DSR-6
    # OBL-DSR-6/7
    _fill(services, ACCOUNT, "a")
    _fill(services, OTHER, "b")
    before = services.export(OTHER)
    services.erase(ACCOUNT)
    assert services.export(OTHER) == before


def test_erase_of_nothing_answers_an_empty_list(services: ServicesStore) -> None:  # OBL-DSR-6
    # OBL-DSR-6/7: only what was really deleted is named
    services.set_preference(ACCOUNT, "sms", None, NOW)
    assert services.erase(ACCOUNT) == []


def test_erase_deletes_the_stored_answers_of_the_posts(services: ServicesStore, tmp_path: Path) -> None:  # OBL-DSR-6
    # OBL-DSR-6/7: the replay copies repeat the text and the contact
    _fill(services, ACCOUNT)
    with sqlite3.connect(tmp_path / "stub.db") as conn:
        for key, endpoint in (("k-m", "POST /v1/me/support-messages"),
                              ("k-i", "POST /v1/me/invitations"), ("other", "POST /v1/accounts")):
            conn.execute("INSERT INTO idempotency (key, endpoint, body_sha256, status, response,"
                         " created_at) VALUES (?, ?, '0', 201, '{}', '2026-11-30T03:22:25Z')",
                         (key, endpoint))
    services.erase(ACCOUNT)
    with sqlite3.connect(tmp_path / "stub.db") as conn:
        assert conn.execute("SELECT key FROM idempotency").fetchall() == [("other",)]


def test_erase_runs_inside_the_callers_transaction(services: ServicesStore) -> None:  # OBL-DSR-7
    # OBL-DSR-7: the cancellation deletes everything in one transaction; a rollback keeps all
    _fill(services, ACCOUNT)
    before = services.export(ACCOUNT)
    with pytest.raises(RuntimeError), services.transaction() as conn:
        assert services.erase(ACCOUNT, conn) == ["cs_message", "counter_signer_phone",
                                                 "notification_email"]
        raise RuntimeError("the cancellation failed later")
    assert services.export(ACCOUNT) == before


def test_support_messages_go_after_two_years(services: ServicesStore) -> None:  # OBL-CS-1, OBL-SEC-3
    # OBL-CS-1 (manifest cs_message: P2Y), OBL-SEC-3
    _fill(services, ACCOUNT)
    services.purge_expired(ACCOUNT, NOW.replace(year=2028) - _dt.timedelta(seconds=1), {})
    assert len(services.messages(ACCOUNT)) == 1
    services.purge_expired(ACCOUNT, NOW.replace(year=2028), {})
    assert services.messages(ACCOUNT) == []
    assert len(services.invitations(ACCOUNT)) == 1  # counter_signer_phone: P5Y
