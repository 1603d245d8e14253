"""/v1/uploads: tus 1.0.0 with sealed records, against the stub over real HTTPS.

The tests build sealed streams with the SDK's own envelope functions and send them with plain
``requests``, so they can send what a faulty or hostile client would.
"""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from sdk.transport import envelope as e
from server_stub.hpke import KeyRing, rotate_hpke_key
from server_stub.runner import RunningServer
from server_stub.uploads import UploadStore

PURPOSE = "realname_verification"
CHUNK = 4096
TUS = {"Tus-Resumable": "1.0.0"}


@dataclass
class User:
    session: requests.Session
    device: Any
    consent: str


@pytest.fixture
def make_user(new_account: Callable[[], requests.Session], make_device: Callable[..., Any],
              stub: RunningServer) -> Callable[..., User]:
    """A logged-in account whose device granted *purpose* and the separate consent of the
    sensitive item uploaded here, ``item:face_video`` (records synced with the cookie)."""

    def make(purpose: str = PURPOSE) -> User:
        session = new_account()
        device = make_device()
        user = User(session, device, "")
        user.consent = grant(stub, user, purpose)
        grant_item(stub, user)
        return user

    return make


def grant(stub: RunningServer, user: User, purpose: str = PURPOSE, decision: str = "granted",
          created_at: str = "2026-11-30T03:22:25Z") -> str:
    record = user.device.record(scope=f"purpose:{purpose}", consent_type="separate",
                                purposes=[purpose], decision=decision, created_at=created_at)
    answer = user.session.post(f"{stub.url}/v1/consent-records", json=record,
                               headers={"Idempotency-Key": record["record_id"]}, timeout=10)
    assert answer.status_code == 201, answer.text
    return str(record["record_id"])


def grant_item(stub: RunningServer, user: User, item: str = "face_video", decision: str = "granted",
               created_at: str = "2026-11-30T03:22:25Z") -> str:
    """The device's decision on a sensitive item's own consent (``item:<id>``), synced."""
    record = user.device.record(scope=f"item:{item}", consent_type="separate", purposes=[PURPOSE],
                                pi_categories=[item], decision=decision, created_at=created_at)
    answer = user.session.post(f"{stub.url}/v1/consent-records", json=record,
                               headers={"Idempotency-Key": record["record_id"]}, timeout=10)
    assert answer.status_code == 201, answer.text
    return str(record["record_id"])


def current_key(stub: RunningServer, session: requests.Session) -> e.EnvelopeKey:
    keys = e.parse_key_list(session.get(f"{stub.url}/v1/keys/hpke", timeout=10).json())
    return e.select_current_key(keys, stub.hpke_pins)


@dataclass
class Upload:
    upload_id: str
    url: str
    key: e.EnvelopeKey
    data: bytes
    consent: str
    chunk_size: int = CHUNK

    @property
    def chunks(self) -> int:
        return e.chunk_count(len(self.data), self.chunk_size)

    @property
    def length(self) -> int:
        return e.sealed_stream_length(len(self.data), self.chunk_size, self.key.suite)

    def offset_of(self, index: int) -> int:
        return index * (self.chunk_size + self.key.suite.overhead)

    def record(self, index: int, **changes: Any) -> bytes:
        plain = self.data[index * self.chunk_size:(index + 1) * self.chunk_size]
        args = {"upload_id": self.upload_id, "index": index, "final": index == self.chunks - 1,
                "purpose": PURPOSE, "consent_id": self.consent, "chunk_size": self.chunk_size}
        if "plain" in changes:
            plain = changes.pop("plain")
        args.update(changes)
        return e.seal_chunk(self.key, plain, **args)


def metadata(values: dict[str, Any]) -> str:
    return ",".join(f"{k} {base64.b64encode(str(v).encode()).decode()}" for k, v in values.items())


def create(stub: RunningServer, user: User, data: bytes, *, consent: str | None = None,
           expect: int = 201, **overrides: Any) -> Upload | requests.Response:
    key = current_key(stub, user.session)
    consent = consent or user.consent
    meta = {"kid": key.kid, "purpose": PURPOSE, "consent": consent, "chunk_size": CHUNK,
            "plaintext_length": len(data), "item": "face_video", "content_type": "video/mp4"}
    meta.update({k: v for k, v in overrides.items() if k in meta})
    length = overrides.get("length", e.sealed_stream_length(len(data), int(meta["chunk_size"]), key.suite))
    headers = {**TUS, "Upload-Length": str(length), "Upload-Metadata": metadata(meta),
               "Idempotency-Key": overrides.get("idempotency_key", str(uuid.uuid4()))}
    headers.update(overrides.get("headers", {}))
    answer = user.session.post(f"{stub.url}/v1/uploads", headers=headers, timeout=10)
    assert answer.status_code == expect, answer.text
    if expect != 201:
        return answer
    assert answer.headers["Tus-Resumable"] == "1.0.0"
    location = answer.headers["Location"]
    assert location == f"/v1/uploads/{answer.json()['upload_id']}"
    return Upload(answer.json()["upload_id"], stub.url + location, key, data, consent)


def patch(user: User, upload: Upload, offset: int, body: bytes, checksum: str | None = "sha256",
          **headers: str) -> requests.Response:
    all_headers = {**TUS, "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"}
    if checksum:
        digest = hashlib.new(checksum, body).digest()
        all_headers["Upload-Checksum"] = f"{checksum} {base64.b64encode(digest).decode()}"
    all_headers.update(headers)
    return user.session.patch(upload.url, data=body, headers=all_headers, timeout=10)


def send_all(user: User, upload: Upload, start: int = 0) -> int:
    offset = upload.offset_of(start)
    for index in range(start, upload.chunks):
        answer = patch(user, upload, offset, upload.record(index))
        assert answer.status_code == 204, answer.text
        offset = int(answer.headers["Upload-Offset"])
    return offset


def head(user: User, upload: Upload) -> requests.Response:
    return user.session.head(upload.url, headers=TUS, timeout=10)


def assert_discarded(stub: RunningServer, user: User, upload: Upload, reason: str) -> None:
    """Nothing of the upload is kept, and it answers 410 with the reason from now on."""
    assert head(user, upload).status_code == 410
    state = user.session.get(upload.url, timeout=10)
    assert state.status_code == 410
    assert (state.json()["error"], state.json()["reason"]) == ("upload_failed", reason)
    assert not UploadStore(stub.data_dir).file_path(upload.upload_id).exists()
    assert patch(user, upload, 0, upload.record(0)).status_code == 410


def media(size: int) -> bytes:
    return (b"FACE-PLAINTEXT:" + os.urandom(49)) * (size // 64) + b"!" * (size % 64)


# -- capabilities and creation ----------------------------------------------------------------


def test_options_advertises_tus(stub: RunningServer, client: requests.Session) -> None:
    answer = client.options(f"{stub.url}/v1/uploads", timeout=10)
    assert answer.status_code == 204
    assert answer.headers["Tus-Version"] == "1.0.0"
    assert set(answer.headers["Tus-Extension"].split(",")) == {"creation", "termination", "checksum",
                                                             "expiration"}
    assert answer.headers["Tus-Checksum-Algorithm"] == "sha1,sha256"
    assert int(answer.headers["Tus-Max-Size"]) > 0


def test_creation_needs_a_session(stub: RunningServer, client: requests.Session) -> None:
    answer = client.post(f"{stub.url}/v1/uploads", timeout=10,
                         headers={**TUS, "Upload-Length": "10", "Idempotency-Key": str(uuid.uuid4())})
    assert (answer.status_code, answer.json()["error"]) == (401, "not_logged_in")


def test_other_tus_versions_are_412(stub: RunningServer, make_user) -> None:
    user = make_user()
    answer = create(stub, user, b"x", expect=412, headers={"Tus-Resumable": "0.2.2"})
    assert answer.headers["Tus-Version"] == "1.0.0"
    assert answer.json()["error"] == "tus_version_unsupported"


def test_creation_needs_an_idempotency_key(stub: RunningServer, make_user) -> None:
    user = make_user()
    answer = create(stub, user, b"x", expect=400, headers={"Idempotency-Key": ""})
    assert answer.json()["error"] == "idempotency_key_required"


def test_creation_is_idempotent(stub: RunningServer, make_user) -> None:
    user = make_user()
    key = str(uuid.uuid4())
    first = create(stub, user, b"x" * 10, idempotency_key=key)
    again = create(stub, user, b"x" * 10, idempotency_key=key, expect=200)
    assert again.json()["upload_id"] == first.upload_id
    assert again.headers["Idempotent-Replayed"] == "true"
    reused = create(stub, user, b"y" * 11, idempotency_key=key, expect=409)
    assert reused.json()["error"] == "idempotency_key_reused"


@pytest.mark.parametrize("override", [
    {"length": 1},
    {"chunk_size": 100},
    {"chunk_size": 32 * 1024 * 1024},
    {"item": "Face Video"},
    {"content_type": "not a type"},
], ids=lambda o: next(iter(o)))
def test_malformed_creations_are_400(stub: RunningServer, make_user, override: dict) -> None:
    user = make_user()
    answer = create(stub, user, b"x" * 100, expect=400, **override)
    assert answer.json()["error"] == "invalid_upload_request"


def test_missing_metadata_is_named(stub: RunningServer, make_user) -> None:
    user = make_user()
    answer = create(stub, user, b"x", expect=400, headers={"Upload-Metadata": metadata({"kid": "k"})})
    assert "consent" in answer.json()["message"]


def test_an_unknown_or_retired_key_is_422(stub: RunningServer, make_user) -> None:
    user = make_user()
    assert create(stub, user, b"x", expect=422, kid="hpke-nope").json()["error"] == "unknown_key"
    old = current_key(stub, user.session)
    rotate_hpke_key(stub.data_dir)
    answer = create(stub, user, b"x", expect=422, kid=old.kid)
    assert answer.json()["error"] == "key_retired"


def test_too_large_is_413(stub: RunningServer, make_user) -> None:
    user = make_user()
    size = 3 * 1024**3
    answer = create(stub, user, b"", expect=413, plaintext_length=size,
                    length=e.sealed_stream_length(size, CHUNK))
    assert answer.json()["error"] == "upload_too_large"


# -- consent check -------------------------------------------------------------------------------


def test_a_consent_of_another_purpose_is_refused(stub: RunningServer, make_user) -> None:
    user = make_user(purpose="certificate")
    answer = create(stub, user, b"x", expect=403)
    assert answer.json()["error"] == "consent_required"
    assert list(UploadStore(stub.data_dir).files.iterdir()) == []


def test_a_consent_of_another_account_is_refused(stub: RunningServer, make_user) -> None:
    alice, bob = make_user(), make_user()
    answer = create(stub, bob, b"x", consent=alice.consent, expect=403)
    assert answer.json()["error"] == "consent_required"


def test_a_withdrawn_consent_is_refused(stub: RunningServer, make_user) -> None:
    user = make_user()
    grant(stub, user, decision="withdrawn", created_at="2026-11-30T04:00:00Z")
    assert create(stub, user, b"x", expect=403).json()["error"] == "consent_required"


def test_a_withdrawal_made_before_the_grant_does_not_count(stub: RunningServer, make_user) -> None:
    user = make_user()
    grant(stub, user, decision="withdrawn", created_at="2026-11-29T00:00:00Z")  # synced late
    create(stub, user, b"x")


# -- the sealed stream -------------------------------------------------------------------------


def test_a_whole_upload_is_kept_as_ciphertext(stub: RunningServer, make_user) -> None:  # OBL-RN-1, OBL-SEC-2
    user = make_user()
    upload = create(stub, user, media(5 * CHUNK + 100))
    assert send_all(user, upload) == upload.length
    answer = head(user, upload)
    assert answer.status_code == 200
    assert answer.headers["Upload-Offset"] == answer.headers["Upload-Length"] == str(upload.length)
    assert answer.headers["Cache-Control"] == "no-store"
    state = user.session.get(upload.url, timeout=10).json()
    assert (state["status"], state["item"], state["purpose"]) == ("complete", "face_video", PURPOSE)
    assert "consent" not in str(state) and "account" not in str(state)
    stored = UploadStore(stub.data_dir).file_path(upload.upload_id).read_bytes()
    assert b"FACE-PLAINTEXT" not in stored
    opened = UploadStore(stub.data_dir).plaintext(upload.upload_id, KeyRing(stub.data_dir).lookup)
    assert b"".join(opened) == upload.data


def test_several_records_in_one_patch(stub: RunningServer, make_user) -> None:
    user = make_user()
    upload = create(stub, user, media(3 * CHUNK))
    body = b"".join(upload.record(i) for i in range(3))
    answer = patch(user, upload, 0, body)
    assert (answer.status_code, int(answer.headers["Upload-Offset"])) == (204, upload.length)


def test_an_incomplete_record_is_not_kept(stub: RunningServer, make_user) -> None:
    user = make_user()
    upload = create(stub, user, media(3 * CHUNK))
    first = upload.record(0)
    second = upload.record(1)
    answer = patch(user, upload, 0, first + second[:100], checksum=None)
    assert int(answer.headers["Upload-Offset"]) == len(first)  # a record boundary
    assert send_all(user, upload, start=1) == upload.length


@pytest.mark.parametrize("index", [0, 2, 4])
@pytest.mark.parametrize("where", ["enc_first", "enc_last", "body", "tag_last"])
def test_a_flipped_byte_in_any_chunk_rejects_the_whole_upload(stub: RunningServer, make_user,
                                                              index: int, where: str) -> None:
    user = make_user()
    upload = create(stub, user, media(4 * CHUNK + 10))  # 5 chunks, the last one short
    offset = 0
    for earlier in range(index):
        offset = int(patch(user, upload, offset, upload.record(earlier)).headers["Upload-Offset"])
    record = bytearray(upload.record(index))
    enc = upload.key.suite.enc_length
    position = {"enc_first": 0, "enc_last": enc - 1, "body": enc + 7, "tag_last": len(record) - 1}[where]
    record[position] ^= 0x80
    answer = patch(user, upload, offset, bytes(record))  # the checksum matches the damaged bytes
    assert (answer.status_code, answer.json()["error"]) == (422, "chunk_rejected")
    assert_discarded(stub, user, upload, "chunk_rejected")


def test_a_reordered_chunk_is_rejected(stub: RunningServer, make_user) -> None:
    user = make_user()
    upload = create(stub, user, media(3 * CHUNK))
    answer = patch(user, upload, 0, upload.record(1))  # chunk 1 where chunk 0 belongs
    assert answer.json()["error"] == "chunk_rejected"
    assert_discarded(stub, user, upload, "chunk_rejected")


def test_a_truncated_stream_cannot_pass_as_complete(stub: RunningServer, make_user) -> None:
    user = make_user()
    upload = create(stub, user, media(3 * CHUNK))
    offset = int(patch(user, upload, 0, upload.record(0)).headers["Upload-Offset"])
    # chunk 1 claims to be the last one: the stream would end early
    answer = patch(user, upload, offset, upload.record(1, final=True))
    assert answer.json()["error"] == "chunk_rejected"
    assert_discarded(stub, user, upload, "chunk_rejected")


def test_a_short_final_chunk_cannot_truncate_the_media(stub: RunningServer, make_user) -> None:
    user = make_user()
    upload = create(stub, user, media(2 * CHUNK + 500))
    offset = 0
    for index in range(2):
        offset = int(patch(user, upload, offset, upload.record(index)).headers["Upload-Offset"])
    cut = upload.record(2, plain=upload.data[2 * CHUNK:2 * CHUNK + 100])  # 100 of 500 bytes
    answer = patch(user, upload, offset, cut, checksum=None)
    assert answer.status_code == 204 and int(answer.headers["Upload-Offset"]) == offset  # not a record
    assert user.session.get(upload.url, timeout=10).json()["status"] == "open"


def test_a_chunk_replayed_into_another_upload_is_rejected(stub: RunningServer, make_user) -> None:
    user = make_user()
    first = create(stub, user, media(2 * CHUNK))
    second = create(stub, user, first.data)
    answer = patch(user, second, 0, first.record(0))
    assert answer.json()["error"] == "chunk_rejected"
    assert_discarded(stub, user, second, "chunk_rejected")
    assert send_all(user, first) == first.length  # the original is unaffected


def test_a_chunk_without_the_matching_consent_is_rejected(stub: RunningServer, make_user) -> None:
    user = make_user()
    other_consent = grant(stub, user)  # a valid grant too, but not the one the upload names
    upload = create(stub, user, media(3 * CHUNK))
    offset = int(patch(user, upload, 0, upload.record(0)).headers["Upload-Offset"])
    answer = patch(user, upload, offset, upload.record(1, consent_id=other_consent))
    assert answer.json()["error"] == "chunk_rejected"
    assert_discarded(stub, user, upload, "chunk_rejected")  # chunk 0 is gone too


def test_a_withdrawal_mid_upload_discards_it(stub: RunningServer, make_user) -> None:
    user = make_user()
    upload = create(stub, user, media(3 * CHUNK))
    offset = int(patch(user, upload, 0, upload.record(0)).headers["Upload-Offset"])
    grant(stub, user, decision="withdrawn", created_at="2026-11-30T05:00:00Z")
    answer = patch(user, upload, offset, upload.record(1))
    assert (answer.status_code, answer.json()["error"]) == (403, "consent_required")
    assert_discarded(stub, user, upload, "consent_required")


def test_a_body_past_the_length_keeps_nothing(stub: RunningServer, make_user) -> None:
    user = make_user()
    upload = create(stub, user, media(CHUNK))
    answer = patch(user, upload, 0, upload.record(0) + b"extra")
    assert answer.json()["error"] == "upload_length_exceeded"
    assert head(user, upload).headers["Upload-Offset"] == "0"


# -- tus mechanics -------------------------------------------------------------------------------


def test_a_wrong_offset_is_409_with_the_right_one(stub: RunningServer, make_user) -> None:
    user = make_user()
    upload = create(stub, user, media(2 * CHUNK))
    answer = patch(user, upload, 17, upload.record(0))
    assert (answer.status_code, answer.json()["error"]) == (409, "offset_mismatch")
    assert answer.headers["Upload-Offset"] == "0"


@pytest.mark.parametrize("algorithm", ["sha1", "sha256"])
def test_checksums_are_verified(stub: RunningServer, make_user, algorithm: str) -> None:
    user = make_user()
    upload = create(stub, user, media(2 * CHUNK))
    record = upload.record(0)
    bad = f"{algorithm} {base64.b64encode(hashlib.new(algorithm, b'other').digest()).decode()}"
    answer = patch(user, upload, 0, record, checksum=None, **{"Upload-Checksum": bad})
    assert (answer.status_code, answer.json()["error"]) == (460, "checksum_mismatch")
    assert head(user, upload).headers["Upload-Offset"] == "0"  # nothing kept, upload still open
    assert patch(user, upload, 0, record, checksum=algorithm).status_code == 204


def test_an_unknown_checksum_algorithm_is_400(stub: RunningServer, make_user) -> None:
    user = make_user()
    upload = create(stub, user, media(CHUNK))
    answer = patch(user, upload, 0, upload.record(0), checksum=None, **{"Upload-Checksum": "md5 AAAA"})
    assert (answer.status_code, answer.json()["error"]) == (400, "checksum_algorithm_unsupported")


def test_patch_needs_the_offset_content_type(stub: RunningServer, make_user) -> None:
    user = make_user()
    upload = create(stub, user, media(CHUNK))
    answer = patch(user, upload, 0, upload.record(0), **{"Content-Type": "application/octet-stream"})
    assert (answer.status_code, answer.json()["error"]) == (415, "unsupported_media_type")


def test_one_account_never_reaches_another_accounts_upload(stub: RunningServer, make_user) -> None:  # OBL-SEC-2
    alice, mallory = make_user(), make_user()
    upload = create(stub, alice, media(CHUNK))
    assert head(mallory, upload).status_code == 404
    assert mallory.session.get(upload.url, timeout=10).json()["error"] == "upload_not_found"
    assert patch(mallory, upload, 0, upload.record(0)).status_code == 404
    assert mallory.session.delete(upload.url, headers=TUS, timeout=10).status_code == 404
    assert head(alice, upload).status_code == 200


def test_delete_terminates(stub: RunningServer, make_user) -> None:
    user = make_user()
    upload = create(stub, user, media(2 * CHUNK))
    patch(user, upload, 0, upload.record(0))
    answer = user.session.delete(upload.url, headers=TUS, timeout=10)
    assert answer.status_code == 204
    assert head(user, upload).status_code == 404
    assert not UploadStore(stub.data_dir).file_path(upload.upload_id).exists()


def test_an_upload_in_flight_completes_under_a_retired_key(stub: RunningServer, make_user) -> None:
    user = make_user()
    upload = create(stub, user, media(3 * CHUNK))
    offset = int(patch(user, upload, 0, upload.record(0)).headers["Upload-Offset"])
    rotate_hpke_key(stub.data_dir)
    assert send_all(user, upload, start=1) == upload.length
    assert offset > 0


def test_the_dev_sink_counts_and_keeps_nothing(stub: RunningServer, client: requests.Session) -> None:
    answer = client.put(f"{stub.url}/v1/dev/sink", data=b"z" * 100_000, timeout=10)
    assert answer.json() == {"bytes": 100_000}
    assert not list(Path(stub.data_dir).glob(".sink-*"))


def test_a_stalled_patch_does_not_lock_the_upload(stub: RunningServer, make_user) -> None:
    """A PATCH whose client went silent (half-open connection) keeps its whole records and
    gives way to the next request of the upload."""
    import http.client
    import ssl
    import time

    user = make_user()
    upload = create(stub, user, media(3 * CHUNK))
    first, second = upload.record(0), upload.record(1)
    context = ssl.create_default_context(cafile=str(stub.ca_path))
    stalled = http.client.HTTPSConnection("127.0.0.1", stub.port, context=context, timeout=10)
    cookie = "; ".join(f"{c.name}={c.value}" for c in user.session.cookies)
    stalled.putrequest("PATCH", f"/v1/uploads/{upload.upload_id}")
    for name, value in {**TUS, "Upload-Offset": "0", "Cookie": cookie,
                        "Content-Type": "application/offset+octet-stream",
                        "Content-Length": str(len(first) + len(second))}.items():
        stalled.putheader(name, value)
    stalled.endheaders()
    stalled.send(first + second[:100])  # then nothing more, and the connection stays open
    try:
        time.sleep(0.3)
        started = time.monotonic()
        answer = head(user, upload)
        assert answer.status_code == 200
        assert int(answer.headers["Upload-Offset"]) == len(first)  # its whole record was kept
        assert time.monotonic() - started < 6
        assert send_all(user, upload, start=1) == upload.length
    finally:
        stalled.close()
