"""The SDK against the real stub with a fault plan (issue #8, "Fault injection in the stub"):
latency, 5xx answers, connections dropped mid-body, 307 redirects and slow reads. Under each:
nothing lost, nothing duplicated, a clear status.

The plan is set through the stub's dev endpoint ``PUT /v1/dev/faults`` (the test stub runs in
dev mode); ``GET /v1/dev/faults`` tells how many requests each rule matched, how many got the
fault and how many distinct Idempotency-Keys they carried.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sdk import PrivacySdk, SdkConfig, ServerError, ServerUnavailable, TransportError
from sdk.policy import Policy
from sdk.testing.keystore import MemoryKeystore
from sdk.transport import ApiClient
from sdk.transport.tus import TusUploader
from server_stub.hpke import KeyRing
from server_stub.testing import https_session
from server_stub.uploads import UploadStore

from .devices import EMAIL, PASSWORD, open_logged_in

CONSENT_POST = "POST /v1/consent-records"
PURPOSE = "realname_verification"
CHUNK = 16 * 1024


# -- helpers ------------------------------------------------------------------------------------


def set_faults(stub: Any, *rules: str, seed: int = 8) -> None:
    with https_session(stub) as session:
        answer = session.put(f"{stub.url}/v1/dev/faults", json={"rules": list(rules), "seed": seed},
                             timeout=10)
    assert answer.status_code == 200, answer.text


def clear_faults(stub: Any) -> None:
    with https_session(stub) as session:
        assert session.delete(f"{stub.url}/v1/dev/faults", timeout=10).status_code == 204


def fault_counters(stub: Any) -> list[dict[str, Any]]:
    with https_session(stub) as session:
        answer = session.get(f"{stub.url}/v1/dev/faults", timeout=10)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["rules"])


def server_records(config: SdkConfig, subject_id: str) -> list[dict[str, Any]]:
    with ApiClient(config) as client:
        return client.list_consent_records(subject_id)


@pytest.fixture
def fresh_device(stub: Any, make_config: Callable[..., SdkConfig],
                bundled_policy: Policy) -> Iterator[Callable[..., PrivacySdk]]:
    """``fresh_device(**config)``: a PrivacySdk on this test's device dir with a memory keystore
    (records signed), not yet agreed."""
    opened: list[PrivacySdk] = []

    def make(**overrides: Any) -> PrivacySdk:
        privacy = PrivacySdk.open(make_config(stub, **overrides), bundled_policy,
                                  keystore=MemoryKeystore())
        opened.append(privacy)
        return privacy

    yield make
    for privacy in opened:
        privacy.close()


class Listener:
    """A TCP listener that counts the connections it gets (a redirect target nobody may reach)."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return
            self.connections += 1
            connection.close()

    def close(self) -> None:
        self._socket.close()


# -- consent records ----------------------------------------------------------------------------


def test_two_503_answers_then_success_store_the_record_once(fresh_device, stub) -> None:  # issue #8 faults: 5xx
    privacy = fresh_device(retries=2)
    record = privacy.agree(sync=False)
    set_faults(stub, f"{CONSENT_POST} status=503 times=2")
    assert privacy.sync() == 1  # the transport's retries ride out the two 503s
    assert privacy.pending_sync() == 0
    assert [r["record_id"] for r in server_records(privacy.config, privacy.subject_id)] == [record.record_id]
    (rule,) = fault_counters(stub)
    assert (rule["matched"], rule["applied"], rule["idempotency_keys"]) == (3, 2, 1)


def test_503_beyond_the_retries_is_server_unavailable_and_the_record_stays_pending(
        fresh_device, stub) -> None:  # issue #8 faults: 5xx, a clear status, nothing lost
    privacy = fresh_device(retries=1)
    privacy.agree(sync=False)
    set_faults(stub, f"{CONSENT_POST} status=503")
    with pytest.raises(ServerUnavailable) as caught:
        privacy.sync()
    assert "POST /v1/consent-records" in str(caught.value) and "503" in str(caught.value)
    assert privacy.pending_sync() == 1
    assert server_records(privacy.config, privacy.subject_id) == []


def test_an_answer_cut_mid_body_is_resent_with_the_same_key_and_stored_once(
        fresh_device, stub) -> None:  # issue #8 faults: dropped connection mid-body
    privacy = fresh_device(retries=1)
    record = privacy.agree(sync=False)
    set_faults(stub, f"{CONSENT_POST} drop after=40 times=1")
    assert privacy.sync() == 1
    assert privacy.pending_sync() == 0
    stored = server_records(privacy.config, privacy.subject_id)
    assert [r["record_id"] for r in stored] == [record.record_id]
    (rule,) = fault_counters(stub)
    assert (rule["matched"], rule["applied"], rule["idempotency_keys"]) == (2, 1, 1)
    assert privacy.ledger.history()[-1].received_at == stored[0]["received_at"]  # the replayed answer


def test_an_answer_dropped_before_its_first_byte_is_resent_and_stored_once(
        fresh_device, stub) -> None:  # issue #8 faults: dropped connection before answering
    privacy = fresh_device(retries=1)
    record = privacy.agree(sync=False)
    set_faults(stub, f"{CONSENT_POST} drop times=1")
    assert privacy.sync() == 1
    assert [r["record_id"] for r in server_records(privacy.config, privacy.subject_id)] == [record.record_id]
    (rule,) = fault_counters(stub)
    assert (rule["matched"], rule["idempotency_keys"]) == (2, 1)


def test_latency_beyond_the_read_timeout_keeps_the_decision_pending(fresh_device, stub) -> None:  # issue #8 faults: latency, a clear status, nothing lost
    privacy = fresh_device(retries=1, read_timeout=0.5)
    set_faults(stub, f"{CONSENT_POST} latency=1500")
    privacy.agree()  # stored on the device; the sync it tries fails quietly
    assert privacy.mode == "full" and privacy.pending_sync() == 1
    with pytest.raises(ServerUnavailable) as caught:
        privacy.sync()
    message = str(caught.value)
    assert "POST /v1/consent-records" in message and "did not answer in time" in message
    assert "try again later" in message
    assert privacy.pending_sync() == 1


def test_after_a_timeout_the_decision_is_synced_once_when_the_fault_is_cleared(
        fresh_device, stub) -> None:  # issue #8 faults: latency, nothing duplicated
    privacy = fresh_device(retries=1, read_timeout=0.5)
    set_faults(stub, f"{CONSENT_POST} latency=1500")
    record = privacy.agree()  # the server handled it; only its answer came too late
    clear_faults(stub)
    assert privacy.sync() == 1
    assert privacy.pending_sync() == 0
    assert [r["record_id"] for r in server_records(privacy.config, privacy.subject_id)] == [record.record_id]


def test_a_307_is_not_followed_and_no_body_reaches_its_location(fresh_device, stub) -> None:  # issue #8 faults: 307 redirect
    privacy = fresh_device(retries=1)
    privacy.agree(sync=False)
    elsewhere = Listener()
    try:
        set_faults(stub, f"{CONSENT_POST} redirect_307=https://127.0.0.1:{elsewhere.port}/v1/consent-records")
        with pytest.raises(TransportError) as caught:
            privacy.sync()
    finally:
        elsewhere.close()
    assert isinstance(caught.value, ServerError) and caught.value.status == 307
    assert "redirects are not followed" in str(caught.value)
    assert elsewhere.connections == 0
    assert privacy.pending_sync() == 1  # nothing lost: sent again once the server stops redirecting


def test_a_slow_read_within_the_timeout_succeeds(fresh_device, stub) -> None:  # issue #8 faults: slow reads
    privacy = fresh_device(retries=0, read_timeout=1.0)
    record = privacy.agree(sync=False)
    set_faults(stub, f"{CONSENT_POST} slow_read=40 chunk=128")
    assert privacy.sync() == 1
    assert [r["record_id"] for r in server_records(privacy.config, privacy.subject_id)] == [record.record_id]
    (rule,) = fault_counters(stub)
    assert rule["applied"] == 1


# -- resumable upload ---------------------------------------------------------------------------


def _server_uploads(stub: Any) -> int:
    with sqlite3.connect(Path(stub.data_dir) / "uploads.db") as conn:
        return int(conn.execute("SELECT COUNT(*) FROM uploads").fetchone()[0])


def test_an_upload_cut_mid_patch_resumes_and_arrives_complete_once(fresh_device, stub, tmp_path) -> None:  # issue #8 faults: dropped connection mid-PATCH
    privacy = fresh_device(hpke_pins=stub.hpke_pins, retries=0)
    privacy.agree()
    privacy.register("13800138000", PASSWORD)
    privacy.login("13800138000", PASSWORD)
    consent = privacy.grant(PURPOSE).record_id
    privacy.grant("item:face_video")
    source = tmp_path / "face.mp4"
    source.write_bytes(os.urandom(12 * CHUNK + 77))
    set_faults(stub, "PATCH /v1/uploads/* drop request_after=60000 times=1")
    with ApiClient(privacy.config, cookie_jar=privacy.cookie_jar) as api:
        result = TusUploader(api, privacy.store, chunk_size=CHUNK, max_attempts=4).upload(
            source, item="face_video", purpose=PURPOSE, consent_id=consent)
    (rule,) = fault_counters(stub)
    assert rule["applied"] == 1 and rule["matched"] >= 2  # cut once, then resumed
    plaintext = UploadStore(stub.data_dir).plaintext(result.upload_id, KeyRing(stub.data_dir).lookup)
    assert b"".join(plaintext) == source.read_bytes()
    assert _server_uploads(stub) == 1


# -- rights requests ----------------------------------------------------------------------------


def _objection_under(fault: str, stub, make_config, bundled_policy) -> tuple[list[str], str]:
    """One objection sent while *fault* is set: the ids of the objections then listed, and the
    id of the one sent."""
    privacy, _ = open_logged_in(make_config(stub, retries=1), bundled_policy, EMAIL)
    try:
        check = privacy.rights.verify_identity(PASSWORD)
        set_faults(stub, fault)
        request = privacy.rights.object(check, "请停止发送营销信息", purpose="marketing")
        clear_faults(stub)
        listed = [r.request_id for r in privacy.rights.requests() if r.kind == "objection"]
        return listed, request.request_id
    finally:
        privacy.close()


def test_an_objection_under_one_503_creates_exactly_one_request(
        stub, make_config, bundled_policy) -> None:  # issue #8 faults: 5xx, nothing duplicated
    listed, sent = _objection_under("POST /v1/me/rights-requests status=503 times=1", stub,
                                    make_config, bundled_policy)
    assert listed == [sent]


def test_an_objection_whose_answer_is_cut_creates_exactly_one_request(
        stub, make_config, bundled_policy) -> None:  # issue #8 faults: dropped connection mid-body, nothing duplicated
    listed, sent = _objection_under("POST /v1/me/rights-requests drop after=30 times=1", stub,
                                    make_config, bundled_policy)
    assert listed == [sent]


def test_a_read_timeout_says_the_server_did_not_answer_in_time(fresh_device, stub) -> None:  # QA 4: read timeout misreported as unreachable
    privacy = fresh_device(retries=0, read_timeout=0.5)
    privacy.agree(sync=False)
    set_faults(stub, f"{CONSENT_POST} latency=1500")
    with pytest.raises(ServerUnavailable) as caught:
        privacy.sync()
    message = str(caught.value)
    assert "did not answer in time" in message and "read_timeout 0.5 s" in message
    assert "could not be reached" not in message


def test_a_retry_after_longer_than_the_cap_gives_up_at_once_and_keeps_the_record_pending(
        fresh_device, stub) -> None:  # QA 2: Retry-After not capped
    privacy = fresh_device(retries=2)
    privacy.agree(sync=False)
    set_faults(stub, f"{CONSENT_POST} status=503 retry_after=60")
    started = time.monotonic()
    with pytest.raises(ServerUnavailable) as caught:
        privacy.sync()
    assert time.monotonic() - started < 5
    assert "retry_after=60" in str(caught.value)
    assert privacy.pending_sync() == 1
