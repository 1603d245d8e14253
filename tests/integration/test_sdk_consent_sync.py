"""Consent decisions: stored on the device first, synced to the real stub exactly once."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from sdk import PrivacySdk, ServerError, TransportError
from sdk.transport import ApiClient

from .conftest import restart


def server_records(config, subject_id: str) -> list[dict]:
    with ApiClient(config) as client:
        return client.list_consent_records(subject_id)


def test_agree_is_recorded_on_device_and_server(privacy: PrivacySdk, bundled_policy) -> None:  # PIPL-14
    assert privacy.needs_prompt()
    record = privacy.agree()
    assert privacy.mode == "full"
    assert record.is_synced and record.received_at
    assert privacy.pending_sync() == 0
    # on the device
    assert [r.record_id for r in privacy.ledger.history()] == [record.record_id]
    # on the server: exactly the record the device made, in its wire form
    stored = server_records(privacy.config, privacy.subject_id)
    assert len(stored) == 1
    assert {k: v for k, v in stored[0].items() if k != "received_at"} == record.to_dict()
    assert stored[0]["received_at"] == record.received_at
    assert stored[0]["notice"]["sha256"] == bundled_policy.sha256
    assert stored[0]["notice"]["policy_version"] == bundled_policy.manifest.version
    # only purposes that rest on consent and need no separate consent are granted
    expected = [
        p.id for p in bundled_policy.manifest.purposes
        if p.lawful_basis == "consent" and not p.separate_consent
    ]
    assert stored[0]["purposes"] == expected
    for purpose in expected:
        privacy.require(purpose)


def test_disagree_sends_nothing(privacy: PrivacySdk) -> None:  # OBL-ACC-2
    record = privacy.disagree()
    assert record.decision == "denied"
    assert privacy.mode == "basic" and not privacy.needs_prompt()
    assert privacy.pending_sync() == 0
    assert privacy.sync() == 0
    assert server_records(privacy.config, privacy.subject_id) == []


def test_agree_while_server_down_syncs_later_exactly_once(
    stub, make_config, bundled_policy
) -> None:  # PIPL-14
    config = make_config(stub)
    stub.stop()  # the server goes away before the user decides
    with PrivacySdk.open(config, bundled_policy) as sdk:
        record = sdk.agree()  # no exception: stored first, the failed sync is swallowed
        assert sdk.mode == "full"
        assert sdk.pending_sync() == 1
        with pytest.raises(TransportError):
            sdk.sync()
        assert sdk.pending_sync() == 1
        subject = sdk.subject_id
    # the app restarts later, and so does the server
    with restart(stub), PrivacySdk.open(config, bundled_policy) as sdk:
        assert sdk.mode == "full" and sdk.pending_sync() == 1
        assert sdk.sync() == 1
        assert sdk.sync() == 0
        assert sdk.pending_sync() == 0
        stored = server_records(config, subject)
        assert [r["record_id"] for r in stored] == [record.record_id]


def test_resent_record_is_stored_once(privacy: PrivacySdk) -> None:  # PIPL-14
    """The server stored a record but its answer was lost: the device sends it again."""
    record = privacy.agree(sync=False)
    with ApiClient(privacy.config) as client:
        first = client.post_consent_record(record.to_dict())  # "lost" answer: not marked synced
        again = client.post_consent_record(record.to_dict())  # a plain retry of the same POST
    assert again == first
    assert privacy.pending_sync() == 1
    assert privacy.sync() == 1  # third send of the same record: replayed, then marked synced
    stored = server_records(privacy.config, privacy.subject_id)
    assert [r["record_id"] for r in stored] == [record.record_id]
    assert privacy.ledger.get(record.record_id).received_at == first["received_at"]


def test_same_key_with_different_body_is_refused(privacy: PrivacySdk) -> None:
    record = privacy.agree()
    altered = {**record.to_dict(), "method": "something_else"}
    with ApiClient(privacy.config) as client, pytest.raises(ServerError) as info:
        client.post_consent_record(altered)
    assert info.value.status == 409 and info.value.code == "idempotency_key_reused"


def test_concurrent_syncs_send_each_record_once(stub, make_config, bundled_policy) -> None:
    config = make_config(stub)
    stub.stop()
    with PrivacySdk.open(config, bundled_policy) as sdk:
        for _ in range(5):
            sdk.agree()
        assert sdk.pending_sync() == 5
    with restart(stub), PrivacySdk.open(config, bundled_policy) as sdk:
        counts: list[int] = []
        errors: list[BaseException] = []

        def run() -> None:
            try:
                counts.append(sdk.sync())
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=run) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == [] and sum(counts) == 5
        stored = server_records(config, sdk.subject_id)
        assert [r["record_id"] for r in stored] == [r.record_id for r in sdk.ledger.history()]


def test_decision_after_refusal_sends_only_the_grant(privacy: PrivacySdk) -> None:  # OBL-ACC-2
    privacy.disagree()
    granted = privacy.agree()
    stored = server_records(privacy.config, privacy.subject_id)
    assert [(r["record_id"], r["decision"]) for r in stored] == [(granted.record_id, "granted")]


def test_each_device_has_its_own_subject(stub, make_config, bundled_policy, tmp_path: Path) -> None:
    with PrivacySdk.open(make_config(stub, data_dir=tmp_path / "a"), bundled_policy) as a, \
            PrivacySdk.open(make_config(stub, data_dir=tmp_path / "b"), bundled_policy) as b:
        a.agree()
        b.agree()
        assert a.subject_id != b.subject_id
        assert len(server_records(a.config, a.subject_id)) == 1
        assert len(server_records(b.config, b.subject_id)) == 1


def test_a_record_the_server_refuses_for_good_does_not_block_the_next(
        stub, make_config, bundled_policy) -> None:  # OBL-DSR-4
    """A device clock years ahead: the server refuses that grant (422); the withdrawal made
    after the clock was fixed must still reach the server."""
    import datetime as dt

    now = {"t": dt.datetime(2099, 1, 1, tzinfo=dt.timezone.utc)}
    config = make_config(stub, clock=lambda: now["t"])
    with PrivacySdk.open(config, bundled_policy) as privacy:
        privacy.agree()  # refused by the server: set aside, still in force on the device
        assert privacy.mode == "full" and privacy.pending_sync() == 0
        [(refused, code)] = privacy.ledger.rejected()
        assert code == "invalid_consent_record"
        now["t"] = dt.datetime.now(dt.timezone.utc)
        withdrawal = privacy.withdraw()
        assert withdrawal.is_synced
        stored = server_records(config, privacy.subject_id)
        assert [r["record_id"] for r in stored] == [withdrawal.record_id]
