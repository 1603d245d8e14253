"""The tus client's own parts, without a server: metadata, backoff, argument checks, refusing
before any request, how a cut connection is told from a bad certificate, and the state kept."""

from __future__ import annotations

import base64
import random
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from sdk import KeyPinMismatch, SdkConfig, TlsError, UploadCancelled
from sdk.storage.store import EncryptedStore
from sdk.testing.keystore import MemoryKeystore
from sdk.transport import ApiClient, tus

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on: any request there fails with a connection error."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EncryptedStore]:
    from demo_app.policy import load_demo_policy

    opened = EncryptedStore(tmp_path / "store.db", MemoryKeystore(), load_demo_policy().manifest)
    yield opened
    opened.close()


def _uploader(tmp_path: Path, port: int, store: EncryptedStore, **config: object) -> tus.TusUploader:
    settings = {"data_dir": tmp_path, "endpoint": f"https://127.0.0.1:{port}", "retries": 0,
                "backoff": 0.0, **config}
    return tus.TusUploader(ApiClient(SdkConfig(**settings)), store, chunk_size=4096)  # type: ignore[arg-type]


def test_metadata_is_tus_base64_pairs() -> None:
    header = tus.encode_metadata({"kid": "k1", "item": "face_video", "name": "张三.mp4"})
    pairs = dict(part.split(" ") for part in header.split(","))
    assert base64.b64decode(pairs["kid"]) == b"k1"
    assert base64.b64decode(pairs["name"]).decode("utf-8") == "张三.mp4"


def test_backoff_is_exponential_with_full_jitter() -> None:
    rng = random.Random(7)
    for attempt in range(8):
        ceiling = min(30.0, 0.2 * 2**attempt)
        draws = [tus.backoff_delay(attempt, 0.2, 30.0, rng) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in draws)
        assert max(draws) > 0.8 * ceiling  # the whole range is used
    assert tus.backoff_delay(3, 0.0, 30.0) == 0.0


def test_no_pins_refuses_before_any_request(tmp_path: Path, closed_port: int, store: EncryptedStore) -> None:  # OBL-SEC-1
    uploader = _uploader(tmp_path, closed_port, store)
    with pytest.raises(KeyPinMismatch) as caught:  # not ServerUnavailable: nothing was tried
        uploader.upload(b"clip", item="face_video", purpose="realname_verification", consent_id="c")
    assert caught.value.code == "no_pins"
    assert store.entries("uploads") == []


def test_a_set_cancel_stops_before_anything(tmp_path: Path, closed_port: int, store: EncryptedStore) -> None:
    uploader = _uploader(tmp_path, closed_port, store, hpke_pins=("sha256:" + "0" * 64,))
    stop = threading.Event()
    stop.set()
    with pytest.raises(UploadCancelled):
        uploader.upload(b"clip", item="face_video", purpose="realname_verification",
                        consent_id="c", cancel=stop)


@pytest.mark.parametrize("args", [
    {"item": "Face Video"}, {"purpose": ""}, {"consent_id": ""}, {"content_type": "video"},
], ids=lambda a: next(iter(a)))
def test_bad_arguments_are_value_errors(tmp_path: Path, closed_port: int, store: EncryptedStore,
                                        args: dict) -> None:
    uploader = _uploader(tmp_path, closed_port, store)
    call = {"item": "face_video", "purpose": "realname_verification", "consent_id": "c", **args}
    with pytest.raises(ValueError):
        uploader.upload(b"clip", **call)


def test_a_missing_file_is_a_value_error_without_its_name(tmp_path: Path, closed_port: int,
                                                          store: EncryptedStore) -> None:
    uploader = _uploader(tmp_path, closed_port, store, hpke_pins=("sha256:" + "0" * 64,))
    with pytest.raises(ValueError) as caught:
        uploader.upload(tmp_path / "nobody-张三.mp4", item="face_video",
                        purpose="realname_verification", consent_id="c")
    assert "张三" not in str(caught.value)


@pytest.mark.parametrize("size", [1023, 16 * 1024 * 1024 + 1])
def test_chunk_size_limits(tmp_path: Path, closed_port: int, store: EncryptedStore, size: int) -> None:
    api = ApiClient(SdkConfig(data_dir=tmp_path, endpoint=f"https://127.0.0.1:{closed_port}"))
    with pytest.raises(ValueError, match="chunk_size"):
        tus.TusUploader(api, store, chunk_size=size)


def _ssl_error(cause: BaseException) -> BaseException:
    import requests

    try:
        raise requests.exceptions.SSLError(cause)
    except requests.exceptions.SSLError as exc:
        return exc


def _converted(cause: BaseException) -> BaseException:
    from sdk.transport.client import _converting

    config = SdkConfig(data_dir=Path("."), endpoint="https://example.invalid")
    try:
        with _converting("PATCH /v1/uploads/{id}", config):
            raise _ssl_error(cause)
    except Exception as exc:  # noqa: BLE001 - the mapped SDK error is what is checked
        return exc
    raise AssertionError("nothing was raised")


def test_a_cut_connection_is_not_a_certificate_problem() -> None:
    from sdk import ServerUnavailable

    assert isinstance(_converted(ssl.SSLEOFError(8, "EOF occurred in violation of protocol")),
                      ServerUnavailable)
    assert isinstance(_converted(ConnectionResetError(104, "reset")), ServerUnavailable)
    assert isinstance(_converted(ssl.SSLCertVerificationError(1, "certificate verify failed")),
                      TlsError)


def test_file_identity_sees_a_changed_file(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"a" * 10_000)
    before = tus._file_identity(path, 4096)
    assert before == tus._file_identity(path, 4096)
    assert before["size"] == 10_000 and before["path"] == str(path.resolve())
    data = bytearray(path.read_bytes())
    data[-1] ^= 1  # same size; the last chunk differs
    path.write_bytes(bytes(data))
    assert tus._file_identity(path, 4096)["tail_sha256"] != before["tail_sha256"]
