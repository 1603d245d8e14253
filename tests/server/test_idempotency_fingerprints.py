"""The stored idempotency fingerprints are keyed (HMAC-SHA256 under ``idempotency.key``) and
go with the account at cancellation (docs/protocol.md, "Conventions", Idempotency)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import uuid
from pathlib import Path
from typing import Any

from server_stub.routes.consent import fingerprint
from server_stub.runner import RunningServer
from server_stub.store import Store

from .test_rights_identity import NewAccount, identity_token, rights_request

REQUESTS_ENDPOINT = "POST /v1/me/rights-requests"


def _row(server: RunningServer, key: str) -> tuple[Any, ...] | None:
    with sqlite3.connect(Path(server.data_dir) / "stub.db") as conn:
        row = conn.execute("SELECT endpoint, body_sha256 FROM idempotency WHERE key = ?",
                           (key,)).fetchone()
    conn.close()
    return row


def _plain_digests(account_id: str, body: dict[str, Any]) -> set[str]:
    """Every unkeyed digest of the request one could try: the canonical fingerprint input,
    with and without the endpoint, and the body as sent."""
    printed = fingerprint({"account_id": account_id, **body})
    return {
        printed,
        hashlib.sha256(f"{REQUESTS_ENDPOINT}\0{printed}".encode()).hexdigest(),
        hashlib.sha256(json.dumps(body).encode()).hexdigest(),
        hashlib.sha256(json.dumps(body, ensure_ascii=False, sort_keys=True,
                                  separators=(",", ":")).encode()).hexdigest(),
    }


def test_a_stored_fingerprint_cannot_be_brute_forced_to_the_typed_value(  # OBL-SEC-2
        stub: RunningServer, new_account: NewAccount) -> None:
    session = new_account()
    account_id = session.account_id  # type: ignore[attr-defined]
    key, phone = str(uuid.uuid4()), f"1390013{uuid.uuid4().int % 10000:04d}"
    sent = rights_request(session, stub.url,
                          {"kind": "correction", "field": "phone", "value": phone}, key=key)
    assert sent.status_code == 201, sent.text
    row = _row(stub, key)
    assert row is not None and row[0] == REQUESTS_ENDPOINT
    stored = row[1]
    found = [candidate for n in range(10_000)
             for candidate in (f"1390013{n:04d}", f"+861390013{n:04d}")
             if stored in _plain_digests(account_id, {"kind": "correction", "field": "phone",
                                                      "value": candidate})]
    assert found == []


def test_the_fingerprint_key_is_a_private_file_in_the_data_folder(  # OBL-SEC-2
        stub: RunningServer, new_account: NewAccount) -> None:
    rights_request(new_account(), stub.url, {"kind": "access"})
    path = Path(stub.data_dir) / "idempotency.key"
    assert len(path.read_bytes()) == 32
    assert path.stat().st_mode & 0o077 == 0


def test_a_replay_still_matches_after_the_restart_that_keys_old_rows(  # OBL-SEC-2
        tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "stub.db") as conn:  # a database made before keying
        conn.execute("CREATE TABLE idempotency (key TEXT PRIMARY KEY, endpoint TEXT NOT NULL,"
                     " body_sha256 TEXT NOT NULL, status INTEGER NOT NULL, response TEXT NOT NULL,"
                     " created_at TEXT NOT NULL)")
        conn.execute("INSERT INTO idempotency VALUES ('k', 'POST /x', ?, 201, '{\"a\": 1}',"
                     " '2999-01-01T00:00:00Z')", ("f" * 64,))
    conn.close()
    store = Store(tmp_path)
    with store.connect() as db:
        assert db.execute("SELECT body_sha256 FROM idempotency").fetchone()[0] != "f" * 64

    def action(conn: sqlite3.Connection) -> tuple[int, dict[str, Any]]:
        raise AssertionError("a replay runs nothing")

    answer = store.run_idempotent("k", "POST /x", "f" * 64, action)
    assert (answer.replayed, answer.body) == (True, {"a": 1})


def test_the_cancellation_deletes_the_accounts_stored_answers(  # OBL-DSR-7
        stub: RunningServer, new_account: NewAccount) -> None:
    session = new_account()
    key = str(uuid.uuid4())
    sent = rights_request(session, stub.url, {"kind": "objection", "text": "不同意"}, key=key)
    assert sent.status_code == 201 and _row(stub, key) is not None
    begun = session.post(f"{stub.url}/v1/me/cancellation", timeout=10, headers={
        "Identity-Token": identity_token(session, stub.url), "Idempotency-Key": str(uuid.uuid4())})
    done = session.post(f"{stub.url}/v1/me/cancellation/confirm", timeout=10,
                        json={"cancellation_token": begun.json()["cancellation_token"]},
                        headers={"Idempotency-Key": str(uuid.uuid4())})
    assert done.status_code == 200, done.text
    assert _row(stub, key) is None
