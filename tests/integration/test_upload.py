"""Resumable sealed uploads, SDK <-> stub over HTTPS (tus 1.0.0 + HPKE; docs/upload.md).

Connection drops are made at the OS edge: a TCP proxy between the SDK and the stub closes both
sockets once a number of bytes went through (TLS passes through it untouched).
"""

from __future__ import annotations

import hashlib
import os
import socket
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sdk import (
    KeyPinMismatch,
    PrivacySdk,
    SdkConfig,
    UploadCancelled,
    UploadError,
    UploadRejected,
    UploadSourceChanged,
)
from sdk.policy import Policy
from sdk.testing.keystore import MemoryKeystore
from sdk.transport import ApiClient
from sdk.transport import envelope as e
from sdk.transport.tus import TusUploader
from server_stub.hpke import KeyRing, rotate_hpke_key
from server_stub.uploads import UploadStore

PHONE = "13800138000"
PASSWORD = "Xk9#mQ2vLp8w-river"
PURPOSE = "realname_verification"
CHUNK = 16 * 1024
#: Chunks of the tests that measure what a resume sends again. The stub (uvicorn) drops the
#: body bytes it had buffered but not yet handed to the app when a connection closes (up to
#: a few hundred KiB over TLS); chunks of this size keep that below one or two records.
BIG_CHUNK = 256 * 1024


class DroppingProxy:
    """A TCP proxy on 127.0.0.1 that closes the connection once *drop_after* bytes went from
    the client to the server (once), then forwards everything. Counts the bytes sent after the
    drop in ``after_drop``."""

    def __init__(self, target_port: int, drop_after: int | None = None) -> None:
        self.target_port = target_port
        self.drop_after = drop_after
        self.upstream = 0  # client -> server bytes, all connections
        self.after_drop = 0
        self.dropped = threading.Event()
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target_port))
            self._sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, upstream: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if upstream:
                    with self._lock:
                        if self.dropped.is_set():
                            self.after_drop += len(data)
                        elif self.drop_after is not None and self.upstream + len(data) > self.drop_after:
                            self.dropped.set()
                            data = data[: self.drop_after - self.upstream]
                            self.upstream += len(data)
                            dst.sendall(data)
                            raise ConnectionAbortedError
                        self.upstream += len(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()

    def close(self) -> None:
        self._stop = True
        self._listener.close()
        for sock in self._sockets:
            try:
                sock.close()
            except OSError:
                pass


@pytest.fixture
def keystore() -> MemoryKeystore:
    return MemoryKeystore()


@pytest.fixture
def open_sdk(stub: Any, make_config: Callable[..., SdkConfig], bundled_policy: Policy,
             keystore: MemoryKeystore) -> Iterator[Callable[..., PrivacySdk]]:
    """``open_sdk(**config)``: a PrivacySdk on this test's device dir (same keystore each
    time: a restart of the app), pinned to the stub's keys unless told otherwise."""
    opened: list[PrivacySdk] = []

    def make(**overrides: Any) -> PrivacySdk:
        settings = {"hpke_pins": stub.hpke_pins, **overrides}
        sdk = PrivacySdk.open(make_config(stub, **settings), bundled_policy, keystore=keystore)
        opened.append(sdk)
        return sdk

    yield make
    for sdk in opened:
        sdk.close()


def _ready(privacy: PrivacySdk, register: bool = True) -> str:
    """Agree, register, log in (remembered) and grant the real-name purpose and the face
    video's own separate consent (the server checks both); the purpose grant's record id."""
    privacy.agree()
    if register:
        privacy.register(PHONE, PASSWORD)
    privacy.login(PHONE, PASSWORD, remember_me=True)
    record = privacy.grant(PURPOSE)
    privacy.grant("item:face_video")
    assert privacy.pending_sync() == 0
    return record.record_id


_clients: list[ApiClient] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _clients:
        _clients.pop().close()


def _uploader(privacy: PrivacySdk, **options: Any) -> TusUploader:
    """The app's way: a client on the SDK's config and (persistent) cookie jar, the SDK's store."""
    api = ApiClient(privacy.config, cookie_jar=privacy.cookie_jar)
    _clients.append(api)
    return TusUploader(api, privacy.store, **{"chunk_size": CHUNK, **options})


def _media(path: Path, size: int) -> Path:
    marker = b"FACE-VIDEO-PLAINTEXT-MARKER:"
    data = (marker + os.urandom(97)) * (size // (len(marker) + 97) + 1)
    path.write_bytes(data[:size])
    return path


def _server_plaintext(stub: Any, upload_id: str) -> bytes:
    return b"".join(UploadStore(stub.data_dir).plaintext(upload_id, KeyRing(stub.data_dir).lookup))


def _server_uploads(stub: Any) -> int:
    with sqlite3.connect(Path(stub.data_dir) / "uploads.db") as conn:
        return int(conn.execute("SELECT COUNT(*) FROM uploads").fetchone()[0])


# -- the happy paths --------------------------------------------------------------------------


def test_a_file_arrives_sealed_and_opens_on_the_server(open_sdk, stub, tmp_path) -> None:  # OBL-RN-1, OBL-SEC-2
    privacy = open_sdk()
    consent = _ready(privacy)
    source = _media(tmp_path / "face.mp4", 5 * CHUNK + 123)
    seen: list[tuple[int, int, float]] = []
    result = _uploader(privacy).upload(source, item="face_video", purpose=PURPOSE,
                                       consent_id=consent, content_type="video/mp4",
                                       on_progress=lambda *a: seen.append(a))
    assert result.plaintext_length == source.stat().st_size
    assert result.length == e.sealed_stream_length(result.plaintext_length, CHUNK)
    assert result.sent_bytes == result.length and not result.resumed
    assert _server_plaintext(stub, result.upload_id) == source.read_bytes()
    stored = (Path(stub.data_dir) / "uploads" / f"{result.upload_id}.sealed").read_bytes()
    assert len(stored) == result.length
    assert b"FACE-VIDEO-PLAINTEXT-MARKER" not in stored  # OBL-SEC-2: ciphertext only at rest
    assert privacy.store.entries("uploads") == []  # no pending state left


def test_progress_reports_each_sealed_chunk(open_sdk, tmp_path) -> None:
    privacy = open_sdk()
    consent = _ready(privacy)
    source = _media(tmp_path / "face.mp4", 3 * CHUNK + 5)
    seen: list[tuple[int, int, float]] = []
    result = _uploader(privacy).upload(source, item="face_video", purpose=PURPOSE,
                                       consent_id=consent, on_progress=lambda *a: seen.append(a))
    record = CHUNK + e.DEFAULT_SUITE.overhead
    assert [done for done, _, _ in seen] == [0, record, 2 * record, 3 * record, result.length]
    assert {total for _, total, _ in seen} == {result.length}
    assert seen[0][2] == 0.0 and all(rate > 0 for _, _, rate in seen[1:])


def test_in_memory_media_is_spooled_sealed_and_removed(open_sdk, stub, device_dir) -> None:  # OBL-RN-1
    privacy = open_sdk()
    consent = _ready(privacy)
    media = b"IN-MEMORY-CLIP:" * 5000
    spooled: list[bytes] = []

    def look_at_the_spool(done: int, total: int, rate: float) -> None:
        spooled.extend(p.read_bytes() for p in (device_dir / "uploads").glob("*.sealed"))

    result = _uploader(privacy).upload(media, item="face_video", purpose=PURPOSE, consent_id=consent,
                                       on_progress=look_at_the_spool)
    assert _server_plaintext(stub, result.upload_id) == media
    assert spooled and all(b"IN-MEMORY-CLIP" not in s for s in spooled)  # ciphertext only
    assert list((device_dir / "uploads").glob("*")) == []


def test_an_empty_source_is_one_empty_final_chunk(open_sdk, stub) -> None:
    privacy = open_sdk()
    consent = _ready(privacy)
    result = _uploader(privacy).upload(b"", item="face_video", purpose=PURPOSE, consent_id=consent)
    assert result.length == e.DEFAULT_SUITE.overhead
    assert _server_plaintext(stub, result.upload_id) == b""


# -- pinning: nothing is sent -----------------------------------------------------------------


def test_a_wrong_pinned_key_sends_nothing(open_sdk, stub, tmp_path) -> None:  # OBL-SEC-1, OBL-RN-1
    privacy = open_sdk(hpke_pins=("sha256:" + "0" * 64,))
    consent = _ready(privacy)
    source = _media(tmp_path / "face.mp4", 2 * CHUNK)
    with pytest.raises(KeyPinMismatch):
        _uploader(privacy).upload(source, item="face_video", purpose=PURPOSE, consent_id=consent)
    assert _server_uploads(stub) == 0  # the server saw no creation
    assert privacy.store.entries("uploads") == []


def test_no_pins_sends_nothing(open_sdk, stub, tmp_path) -> None:  # OBL-SEC-1
    privacy = open_sdk(hpke_pins=())
    consent = _ready(privacy)
    with pytest.raises(KeyPinMismatch) as caught:
        _uploader(privacy).upload(b"clip", item="face_video", purpose=PURPOSE, consent_id=consent)
    assert caught.value.code == "no_pins"
    assert _server_uploads(stub) == 0


# -- consent ------------------------------------------------------------------------------------


def test_a_consent_the_server_does_not_hold_is_refused_before_any_chunk(open_sdk, stub, tmp_path) -> None:
    privacy = open_sdk()
    _ready(privacy)
    policy_record = privacy.state("policy").record
    assert policy_record is not None  # a grant, but not of the real-name purpose
    with pytest.raises(UploadRejected) as caught:
        _uploader(privacy).upload(_media(tmp_path / "f.mp4", CHUNK), item="face_video",
                                  purpose=PURPOSE, consent_id=policy_record.record_id)
    assert caught.value.code == "consent_required"
    assert _server_uploads(stub) == 0
    assert privacy.store.entries("uploads") == []


def test_a_withdrawal_mid_upload_deletes_everything(open_sdk, stub, tmp_path) -> None:
    privacy = open_sdk()
    consent = _ready(privacy)
    source = _media(tmp_path / "face.mp4", 6 * CHUNK)
    uploader = _uploader(privacy)

    def withdraw_at_half(done: int, total: int, rate: float) -> None:
        if done >= total // 2 and privacy.state(PURPOSE).status == "granted":
            privacy.withdraw(PURPOSE)  # synced to the server at once

    with pytest.raises(UploadRejected) as caught:
        uploader.upload(source, item="face_video", purpose=PURPOSE, consent_id=consent,
                        on_progress=withdraw_at_half)
    assert caught.value.code == "consent_required"
    assert list((Path(stub.data_dir) / "uploads").glob("*.sealed")) == []
    assert uploader.resume_pending() == []


# -- interruptions ------------------------------------------------------------------------------


def test_a_drop_at_half_resumes_without_sending_half_again(open_sdk, stub, tmp_path) -> None:
    source = _media(tmp_path / "face.mp4", 64 * BIG_CHUNK)
    length = e.sealed_stream_length(source.stat().st_size, BIG_CHUNK)
    privacy = open_sdk()
    consent = _ready(privacy)
    proxy = DroppingProxy(stub.port, drop_after=None)
    try:
        via_proxy = open_sdk(endpoint=proxy.url, retries=0)  # the same device, through the proxy
        uploader = _uploader(via_proxy, max_attempts=1, chunk_size=BIG_CHUNK)
        proxy.drop_after = proxy.upstream + length // 2  # from here on, half of the stream
        with pytest.raises(UploadError) as caught:
            uploader.upload(source, item="face_video", purpose=PURPOSE, consent_id=consent)
        assert caught.value.code == "interrupted"
        assert proxy.dropped.is_set()
        (pending,) = uploader.resume_pending()
        # the app calls upload() again (a new uploader: the server may still be finishing the
        # broken request, answered 423/409 and retried)
        again = _uploader(via_proxy, max_attempts=4, chunk_size=BIG_CHUNK)
        result = again.upload(source, item="face_video", purpose=PURPOSE, consent_id=consent)
    finally:
        proxy.close()
    assert result.resumed and result.upload_id == pending.upload_id
    assert proxy.after_drop < 0.55 * length, (proxy.after_drop, length)  # TLS, headers, one resent chunk
    assert _server_plaintext(stub, result.upload_id) == source.read_bytes()


def test_a_drop_is_retried_within_the_call(open_sdk, stub, tmp_path) -> None:
    source = _media(tmp_path / "face.mp4", 16 * CHUNK)
    privacy = open_sdk()
    consent = _ready(privacy)
    proxy = DroppingProxy(stub.port)
    try:
        via_proxy = open_sdk(endpoint=proxy.url, retries=0)
        proxy.drop_after = proxy.upstream + 7 * CHUNK + 1000
        result = _uploader(via_proxy, max_attempts=4).upload(
            source, item="face_video", purpose=PURPOSE, consent_id=consent)
    finally:
        proxy.close()
    assert proxy.dropped.is_set() and not result.resumed
    assert _server_plaintext(stub, result.upload_id) == source.read_bytes()


class _AppKilled(Exception):
    """Stands for the app being stopped in the middle of an upload."""


def _kill_at_half(done: int, total: int, rate: float) -> None:
    if done >= total // 2:
        raise _AppKilled


def _upload_until_killed(uploader: TusUploader, media: Any, consent: str) -> None:
    """Start uploading *media* as the face video; the app is killed half way (:class:`_AppKilled`)."""
    with pytest.raises(_AppKilled):
        uploader.upload(media, item="face_video", purpose=PURPOSE, consent_id=consent,
                        on_progress=_kill_at_half)


def _killed_half_way(open_sdk: Callable[..., PrivacySdk], tmp_path: Path) -> tuple[Path, str]:
    """A face video of 8 chunks whose upload was cut half way by the app being killed, that
    app's SDK closed: returns the video's file and the consent record id it was sealed to."""
    source = _media(tmp_path / "face.mp4", 8 * CHUNK)
    first = open_sdk()
    consent = _ready(first)
    _upload_until_killed(_uploader(first), source, consent)
    first.close()
    return source, consent


@pytest.mark.parametrize("kind", ["file", "memory"])
def test_a_restarted_app_resumes(open_sdk, stub, tmp_path, kind) -> None:  # OBL-RN-1
    source = _media(tmp_path / "face.mp4", 64 * BIG_CHUNK + 7)
    media: Any = source if kind == "file" else source.read_bytes()
    first = open_sdk()
    consent = _ready(first)
    _upload_until_killed(_uploader(first, chunk_size=BIG_CHUNK), media, consent)
    first.close()
    second = open_sdk()  # new objects, same data dir and keystore; the login was remembered
    uploader = _uploader(second, chunk_size=BIG_CHUNK)
    (pending,) = uploader.resume_pending()
    assert (pending.item, pending.source) == ("face_video", "file" if kind == "file" else "spool")
    result = uploader.resume(pending)
    assert result.resumed and result.sent_bytes < 0.55 * result.length
    assert _server_plaintext(stub, result.upload_id) == source.read_bytes()
    assert uploader.resume_pending() == []


def test_a_file_changed_before_the_resume_is_not_mixed(open_sdk, stub, tmp_path) -> None:
    source = _media(tmp_path / "face.mp4", 8 * CHUNK)
    privacy = open_sdk()
    consent = _ready(privacy)
    uploader = _uploader(privacy)
    _upload_until_killed(uploader, source, consent)
    (pending,) = uploader.resume_pending()
    _media(source, 8 * CHUNK)  # another recording under the same name
    with pytest.raises(UploadSourceChanged):
        uploader.resume(pending)
    assert uploader.resume_pending() == []
    assert UploadStore(stub.data_dir).get(str(pending.upload_id)) is None  # terminated


def test_cancel_terminates_and_forgets(open_sdk, stub, tmp_path) -> None:
    source = _media(tmp_path / "face.mp4", 8 * CHUNK)
    privacy = open_sdk()
    consent = _ready(privacy)
    uploader = _uploader(privacy)
    stop = threading.Event()

    def cancel_at_half(done: int, total: int, rate: float) -> None:
        if done >= total // 2:
            stop.set()

    with pytest.raises(UploadCancelled) as caught:
        uploader.upload(source, item="face_video", purpose=PURPOSE, consent_id=consent,
                        on_progress=cancel_at_half, cancel=stop)
    assert UploadStore(stub.data_dir).get(str(caught.value.upload_id)) is None
    assert list((Path(stub.data_dir) / "uploads").glob("*.sealed")) == []
    assert uploader.resume_pending() == [] and privacy.store.entries("uploads") == []


# -- key rotation ---------------------------------------------------------------------------------


def test_an_upload_in_flight_completes_after_a_key_rotation(open_sdk, stub, tmp_path) -> None:
    old_pin = stub.hpke_pins[0]
    source, consent = _killed_half_way(open_sdk, tmp_path)
    new = rotate_hpke_key(stub.data_dir)
    second = open_sdk(hpke_pins=(new.fingerprint, old_pin))  # the app ships both pins
    uploader = _uploader(second)
    resumed = uploader.upload(source, item="face_video", purpose=PURPOSE, consent_id=consent)
    assert resumed.resumed and resumed.kid != new.kid  # finished under the retired key
    assert _server_plaintext(stub, resumed.upload_id) == source.read_bytes()
    fresh = uploader.upload(b"next clip", item="face_video", purpose=PURPOSE, consent_id=consent)
    assert fresh.kid == new.kid  # new uploads use the current key


def test_a_pending_upload_under_an_unpinned_key_sends_nothing(open_sdk, stub, tmp_path) -> None:  # OBL-SEC-1
    _killed_half_way(open_sdk, tmp_path)
    new = rotate_hpke_key(stub.data_dir)
    proxy = DroppingProxy(stub.port)  # counts what the device sends
    try:
        second = open_sdk(endpoint=proxy.url, hpke_pins=(new.fingerprint,))  # old key untrusted
        uploader = _uploader(second)
        (pending,) = uploader.resume_pending()
        with pytest.raises(KeyPinMismatch):
            uploader.resume(pending)
    finally:
        proxy.close()
    assert proxy.upstream == 0
    assert uploader.resume_pending() == [pending]  # kept: a pin update can still finish it


def test_the_state_on_the_device_is_sealed(open_sdk, device_dir, tmp_path) -> None:  # OBL-SEC-2
    source = _media(tmp_path / "secret-name-张三.mp4", 4 * CHUNK)
    privacy = open_sdk()
    consent = _ready(privacy)
    _upload_until_killed(_uploader(privacy), source, consent)
    (entry,) = privacy.store.entries("uploads")
    assert entry.purpose == PURPOSE
    raw = (device_dir / "store.db").read_bytes()
    assert b"secret-name" not in raw and hashlib.sha256(source.read_bytes()[:CHUNK]).hexdigest().encode() not in raw


def test_checksum_mode_sends_one_record_per_patch(open_sdk, stub, tmp_path) -> None:
    source = _media(tmp_path / "face.mp4", 3 * CHUNK + 1)
    privacy = open_sdk()
    consent = _ready(privacy)
    seen: list[int] = []
    result = _uploader(privacy, checksum="sha256").upload(
        source, item="face_video", purpose=PURPOSE, consent_id=consent,
        on_progress=lambda done, total, rate: seen.append(done))
    record = CHUNK + e.DEFAULT_SUITE.overhead
    assert seen == [0, record, 2 * record, 3 * record, result.length]  # acknowledged per PATCH
    assert _server_plaintext(stub, result.upload_id) == source.read_bytes()


def test_a_file_changed_during_the_upload_is_not_mixed(open_sdk, stub, tmp_path) -> None:
    source = _media(tmp_path / "face.mp4", 8 * CHUNK)
    privacy = open_sdk()
    consent = _ready(privacy)
    uploader = _uploader(privacy)

    def rewrite_at_half(done: int, total: int, rate: float) -> None:
        if done >= total // 2:
            _media(source, 8 * CHUNK + 1)  # the camera app writes the file again

    with pytest.raises(UploadSourceChanged) as caught:
        uploader.upload(source, item="face_video", purpose=PURPOSE, consent_id=consent,
                        on_progress=rewrite_at_half)
    assert UploadStore(stub.data_dir).get(str(caught.value.upload_id)) is None  # terminated
    assert uploader.resume_pending() == []
