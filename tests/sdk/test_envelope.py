"""HPKE envelopes (RFC 9180): sealing, the info binding, sizes, key parsing and pinning."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path

import pytest

from sdk import ConfigError, EnvelopeError, KeyPinMismatch, SdkConfig
from sdk.transport import envelope as e

SUITES = [e.SUITE_MLKEM768_X25519, e.SUITE_X25519]
CHUNK = {"upload_id": "7b0c1c52-8f7e-4a53-9d1e-2b1b2f9c6a10", "index": 3, "final": False,
         "purpose": "realname_verification", "consent_id": "0c8f1a4e-5b3d-4f2a-9e6c-1d2b3a4c5d6e",
         "chunk_size": 64}
FIELD = {"field": "real_name", "submission": "a5f0c7d2-3b1e-4c9a-8f6d-0e2b4a6c8d1f",
         "purpose": "realname_verification", "consent_id": "0c8f1a4e-5b3d-4f2a-9e6c-1d2b3a4c5d6e"}


@pytest.fixture(params=SUITES, ids=lambda s: s.name.split("/")[0])
def private(request: pytest.FixtureRequest) -> e.EnvelopePrivateKey:
    return e.EnvelopePrivateKey.generate("k-test", request.param)


def lookup_of(*keys: e.EnvelopePrivateKey):
    table = {k.kid: k for k in keys}
    return table.get


def _open_chunk(private: e.EnvelopePrivateKey, sealed: bytes, **changes) -> bytes:
    args = {**CHUNK, "kid": private.kid, **changes}
    return e.open_chunk(lookup_of(private), sealed, **args)


# -- round trips ----------------------------------------------------------------------------


def test_chunk_round_trip(private: e.EnvelopePrivateKey) -> None:  # OBL-RN-1
    plain = bytes(range(64))
    sealed = e.seal_chunk(private.public_key(), plain, **CHUNK)
    assert len(sealed) == e.sealed_size(64, private.suite)
    assert plain not in sealed
    assert _open_chunk(private, sealed) == plain


def test_final_chunk_may_be_shorter_or_empty(private: e.EnvelopePrivateKey) -> None:
    for plain in (b"", b"x" * 10, b"y" * 64):
        sealed = e.seal_chunk(private.public_key(), plain, **{**CHUNK, "final": True})
        assert _open_chunk(private, sealed, final=True) == plain


def test_field_round_trip_is_byte_identical(private: e.EnvelopePrivateKey) -> None:  # OBL-RN-1
    name = "买买提·艾力"  # the middle dot of ethnic-minority names survives unchanged
    sealed = e.seal_field(private.public_key(), name, **FIELD)
    opened = e.open_field(lookup_of(private), sealed, kid=private.kid, **FIELD)
    assert opened == name.encode("utf-8")
    assert name.encode("utf-8") not in sealed


def test_every_seal_is_fresh(private: e.EnvelopePrivateKey) -> None:
    one = e.seal_chunk(private.public_key(), b"z" * 64, **CHUNK)
    two = e.seal_chunk(private.public_key(), b"z" * 64, **CHUNK)
    assert one != two  # a new encapsulation each time


# -- tampering ------------------------------------------------------------------------------


def test_any_flipped_byte_fails(private: e.EnvelopePrivateKey) -> None:
    sealed = e.seal_chunk(private.public_key(), b"q" * 64, **CHUNK)
    for position in range(len(sealed)):
        damaged = bytearray(sealed)
        damaged[position] ^= 0x01
        with pytest.raises(EnvelopeError) as caught:
            _open_chunk(private, bytes(damaged))
        assert caught.value.code == "open_failed", position


def test_a_cut_envelope_fails(private: e.EnvelopePrivateKey) -> None:
    sealed = e.seal_chunk(private.public_key(), b"q" * 64, **CHUNK)
    for length in (0, 10, private.suite.overhead - 1, len(sealed) - 1):
        with pytest.raises(EnvelopeError) as caught:
            _open_chunk(private, sealed[:length])
        assert caught.value.code in ("wrong_length", "open_failed")


@pytest.mark.parametrize("change", [
    {"upload_id": "another-upload"},
    {"index": 4},
    {"index": 2},
    {"final": True},
    {"purpose": "certificate"},
    {"consent_id": "another-consent"},
    {"chunk_size": 128},
], ids=lambda c: next(iter(c)))
def test_other_info_fails(private: e.EnvelopePrivateKey, change: dict) -> None:
    sealed = e.seal_chunk(private.public_key(), b"w" * 64, **CHUNK)
    with pytest.raises(EnvelopeError) as caught:
        _open_chunk(private, sealed, **change)
    assert caught.value.code == "open_failed"


@pytest.mark.parametrize("change", [
    {"field": "id_number"}, {"submission": str(uuid.uuid4())}, {"purpose": "certificate"},
    {"consent_id": "another"},
], ids=lambda c: next(iter(c)))
def test_a_field_opens_only_in_its_own_place(private: e.EnvelopePrivateKey, change: dict) -> None:
    sealed = e.seal_field(private.public_key(), "110101199003071234", **FIELD)
    with pytest.raises(EnvelopeError):
        e.open_field(lookup_of(private), sealed, kid=private.kid, **{**FIELD, **change})


def test_a_chunk_is_not_a_field(private: e.EnvelopePrivateKey) -> None:
    sealed = e.seal_chunk(private.public_key(), b"w" * 64, **CHUNK)
    with pytest.raises(EnvelopeError):
        e.open_field(lookup_of(private), sealed, kid=private.kid, **FIELD)


def test_wrong_private_key_fails(private: e.EnvelopePrivateKey) -> None:
    other = e.EnvelopePrivateKey.generate(private.kid, private.suite)
    sealed = e.seal_chunk(private.public_key(), b"w" * 64, **CHUNK)
    with pytest.raises(EnvelopeError) as caught:
        _open_chunk(other, sealed)
    assert caught.value.code == "open_failed"


def test_unknown_kid_fails(private: e.EnvelopePrivateKey) -> None:
    sealed = e.seal_chunk(private.public_key(), b"w" * 64, **CHUNK)
    with pytest.raises(EnvelopeError) as caught:
        _open_chunk(private, sealed, kid="k-other")
    assert caught.value.code == "unknown_key"


def test_kid_is_bound(private: e.EnvelopePrivateKey) -> None:
    # the same key material published under another id: the info differs, so it fails
    renamed = e.EnvelopePrivateKey("k-renamed", private.suite, private.secret)
    sealed = e.seal_chunk(private.public_key(), b"w" * 64, **CHUNK)
    with pytest.raises(EnvelopeError):
        e.open_chunk(lookup_of(renamed), sealed, **{**CHUNK, "kid": "k-renamed"})


def test_wrong_sized_chunks_are_refused(private: e.EnvelopePrivateKey) -> None:
    key = private.public_key()
    with pytest.raises(EnvelopeError) as caught:
        e.seal_chunk(key, b"short", **CHUNK)  # not final: must be chunk_size
    assert caught.value.code == "wrong_length"
    with pytest.raises(EnvelopeError):
        e.seal_chunk(key, b"x" * 65, **{**CHUNK, "final": True})


# -- the info: one definition, documented bytes ---------------------------------------------


def test_chunk_info_is_the_documented_canonical_json() -> None:
    info = e.chunk_info(upload_id="u-1", index=0, final=True, kid="k1", purpose="p",
                        consent_id="c-1", chunk_size=1048576)
    assert info == (b'{"chunk_size":1048576,"consent":"c-1","final":true,"index":0,"kid":"k1",'
                    b'"purpose":"p","type":"chunk","upload":"u-1","v":1}')


def test_field_info_is_the_documented_canonical_json() -> None:
    info = e.field_info(field="real_name", submission="s-1", kid="k1", purpose="p", consent_id="c-1")
    assert info == (b'{"consent":"c-1","field":"real_name","kid":"k1","purpose":"p",'
                    b'"submission":"s-1","type":"field","v":1}')
    assert json.loads(info)["v"] == e.ENVELOPE_VERSION


@pytest.mark.parametrize("bad", [{"index": -1}, {"index": True}, {"final": 1}, {"purpose": ""},
                                 {"chunk_size": 0}, {"upload_id": None}], ids=str)
def test_info_refuses_bad_values(bad: dict) -> None:
    args = {**CHUNK, "kid": "k", **bad}
    with pytest.raises(EnvelopeError) as caught:
        e.chunk_info(**args)
    assert caught.value.code == "bad_info"


# -- sizes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name.split("/")[0])
def test_sizes(suite: e.HpkeSuite) -> None:
    overhead = {e.KEM_MLKEM768_X25519: 1120 + 16, e.KEM_X25519: 32 + 16}[suite.kem]
    assert suite.overhead == overhead
    assert e.sealed_size(0, suite) == overhead
    assert e.sealed_stream_length(0, 1024, suite) == overhead  # one empty final chunk
    assert e.sealed_stream_length(1024, 1024, suite) == 1024 + overhead
    assert e.sealed_stream_length(1025, 1024, suite) == 1025 + 2 * overhead
    assert e.chunk_count(3000, 1024) == 3
    assert [e.chunk_plaintext_length(i, 3000, 1024) for i in range(3)] == [1024, 1024, 952]
    with pytest.raises(EnvelopeError):
        e.chunk_plaintext_length(3, 3000, 1024)


# -- keys: encoding, fingerprint, parsing ---------------------------------------------------


def test_public_key_encoding_and_fingerprint(private: e.EnvelopePrivateKey) -> None:
    key = private.public_key()
    expected_length = {e.KEM_MLKEM768_X25519: 1184 + 32, e.KEM_X25519: 32}[private.suite.kem]
    assert len(key.public_key) == expected_length
    digest = hashlib.sha256(private.suite.kem.to_bytes(2, "big") + key.public_key).hexdigest()
    assert key.fingerprint == f"sha256:{digest}"


def test_xwing_public_key_is_mlkem_then_x25519() -> None:
    from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

    private = e.EnvelopePrivateKey.generate("k", e.SUITE_MLKEM768_X25519)
    expanded = hashlib.shake_256(private.secret).digest(96)
    mlkem_pub = mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[:64]).public_key().public_bytes_raw()
    x_pub = x25519.X25519PrivateKey.from_private_bytes(expanded[64:]).public_key().public_bytes_raw()
    assert private.public_key().public_key == mlkem_pub + x_pub


def test_key_json_round_trip(private: e.EnvelopePrivateKey) -> None:
    entry = private.public_key().to_json()
    assert set(entry) == {"kid", "kem", "kdf", "aead", "public_key", "fingerprint", "status"}
    assert (entry["kdf"], entry["aead"]) == (0x0001, 0x0002)
    assert "=" not in entry["public_key"]
    assert e.EnvelopeKey.from_json(entry) == private.public_key()


def test_a_key_whose_fingerprint_does_not_match_is_refused(private: e.EnvelopePrivateKey) -> None:
    entry = private.public_key().to_json()
    other = e.EnvelopePrivateKey.generate("k2", private.suite).public_key().to_json()
    entry["public_key"] = other["public_key"]
    with pytest.raises(EnvelopeError, match="fingerprint"):
        e.EnvelopeKey.from_json(entry)


@pytest.mark.parametrize("change", [
    {"kem": 0x0010}, {"kdf": 0x0002}, {"aead": 0x0001}, {"public_key": "AAAA"},
    {"public_key": "not base64!"}, {"kid": ""}, {"status": "next"}, {"kem": "0x647a"},
], ids=str)
def test_malformed_key_entries_are_refused(change: dict) -> None:
    entry = {**e.EnvelopePrivateKey.generate("k", e.SUITE_X25519).public_key().to_json(), **change}
    with pytest.raises(EnvelopeError):
        e.EnvelopeKey.from_json(entry)


def test_private_key_repr_has_no_secret(private: e.EnvelopePrivateKey) -> None:
    text = repr(private) + repr(private.public_key())
    assert private.secret.hex() not in text
    assert "secret" not in text


def test_unsupported_suites_are_refused() -> None:
    for kem, kdf, aead in ((0x0010, 1, 2), (0x0020, 2, 2), (0x0020, 1, 3), (0x647A, 1, 1)):
        with pytest.raises(EnvelopeError) as caught:
            e.HpkeSuite(kem, kdf, aead)
        assert caught.value.code == "bad_suite"


# -- pinning (OBL-SEC-1) --------------------------------------------------------------------


def _keys(*statuses: str) -> list[e.EnvelopeKey]:
    return [e.EnvelopePrivateKey.generate(f"k{i}", e.SUITE_X25519).with_status(s).public_key()
            for i, s in enumerate(statuses)]


def test_current_pinned_key_is_selected() -> None:  # OBL-SEC-1
    keys = _keys("retired", "current")
    assert e.select_current_key(keys, [keys[1].fingerprint]) == keys[1]


def test_unpinned_current_key_is_refused() -> None:  # OBL-SEC-1
    keys = _keys("current", "retired")
    with pytest.raises(KeyPinMismatch) as caught:
        e.select_current_key(keys, [keys[1].fingerprint])  # only the retired one is pinned
    assert caught.value.code == "not_pinned"
    assert caught.value.fingerprint == keys[0].fingerprint


def test_no_pins_refuses() -> None:  # OBL-SEC-1
    with pytest.raises(KeyPinMismatch) as caught:
        e.select_current_key(_keys("current"), [])
    assert caught.value.code == "no_pins"
    assert "hpke_pins" in str(caught.value)


def test_exactly_one_current_key_is_required() -> None:
    for statuses in (("retired",), ("current", "current"), ()):
        keys = _keys(*statuses)
        with pytest.raises(EnvelopeError) as caught:
            e.select_current_key(keys, [k.fingerprint for k in keys] or ["sha256:" + "0" * 64])
        assert caught.value.code == "no_current_key"


def test_config_takes_pins(tmp_path: Path) -> None:
    pin = "sha256:" + "ab" * 32
    config = SdkConfig(data_dir=tmp_path, hpke_pins=[pin.upper().replace("SHA256", "sha256")])
    assert config.hpke_pins == (pin,)
    assert SdkConfig(data_dir=tmp_path).hpke_pins == ()


@pytest.mark.parametrize("bad", ["sha256:" + "ab" * 32, ("sha1:" + "ab" * 20,), ("ab" * 32,),
                                 ("sha256:" + "ab" * 31,), (None,)], ids=str)
def test_config_refuses_malformed_pins(tmp_path: Path, bad: object) -> None:
    with pytest.raises(ConfigError, match="hpke_pins"):
        SdkConfig(data_dir=tmp_path, hpke_pins=bad)  # type: ignore[arg-type]


# -- what this build can seal to (docs/permissions.md, "Packaging for Android and iOS") --------
#
# A python-for-android build may have a cryptography without ML-KEM (an OpenSSL before 3.5, or a
# cryptography before 48). These tests make the platform edge say so, as such a build would:
# cryptography's OpenSSL backend answering "no ML-KEM" (so cryptography raises
# UnsupportedAlgorithm), or the mlkem module missing (ImportError). The rest is real.


@pytest.fixture
def mlkem_private() -> e.EnvelopePrivateKey:
    """A server's MLKEM768-X25519 key, made on the real build (before any edge is changed)."""
    return e.EnvelopePrivateKey.generate("k-pq", e.SUITE_MLKEM768_X25519)


@pytest.fixture(params=["backend_without_mlkem", "no_mlkem_module"])
def without_mlkem(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
                  mlkem_private: e.EnvelopePrivateKey):
    """This process as a build without ML-KEM; the probe cache is cleared on both sides."""
    import sys

    from cryptography.hazmat.backends.openssl.backend import backend
    from cryptography.hazmat.primitives import asymmetric

    if request.param == "backend_without_mlkem":  # an OpenSSL before 3.5
        monkeypatch.setattr(backend, "mlkem_supported", lambda: False)
    else:  # a cryptography without the module: `from ... import mlkem` fails
        monkeypatch.setitem(sys.modules, "cryptography.hazmat.primitives.asymmetric.mlkem", None)
        monkeypatch.delattr(asymmetric, "mlkem", raising=False)
    e._kem_support.cache_clear()
    yield request.param
    e._kem_support.cache_clear()


def test_the_real_build_supports_both_kems() -> None:
    assert e.supported_kems() == frozenset({e.KEM_MLKEM768_X25519, e.KEM_X25519})


def test_without_mlkem_only_x25519_is_supported(without_mlkem: str) -> None:
    assert e.supported_kems() == frozenset({e.KEM_X25519})


def test_without_mlkem_sealing_to_an_mlkem_key_names_the_suite_the_versions_and_the_fix(
        without_mlkem: str, mlkem_private: e.EnvelopePrivateKey) -> None:
    import cryptography
    from cryptography.hazmat.backends.openssl.backend import backend

    key = e.EnvelopeKey.from_json(mlkem_private.public_key().to_json())  # the list still reads
    with pytest.raises(EnvelopeError) as caught:
        e.seal_field(key, "张三", **FIELD)
    message = str(caught.value)
    assert caught.value.code == "suite_unavailable"
    assert "MLKEM768-X25519 (0x647A)" in message
    assert f"cryptography {cryptography.__version__} with {backend.openssl_version_text()}" in message
    assert "OpenSSL >= 3.5" in message and "Settings(hpke_kem='X25519')" in message
    assert "\n" not in message and "张三" not in message


def test_without_mlkem_an_x25519_key_still_seals_and_opens(without_mlkem: str) -> None:
    private = e.EnvelopePrivateKey.generate("k-x", e.SUITE_X25519)
    key = e.EnvelopeKey.from_json(private.public_key().to_json())
    sealed = e.seal_field(key, "张三", **FIELD)
    assert e.open_field(lookup_of(private), sealed, kid="k-x", **FIELD) == "张三".encode()


def test_without_mlkem_a_pinned_current_mlkem_key_is_refused_when_selected(
        without_mlkem: str, mlkem_private: e.EnvelopePrivateKey) -> None:
    key = e.EnvelopeKey.from_json(mlkem_private.public_key().to_json())
    with pytest.raises(EnvelopeError) as caught:
        e.select_current_key([key], [key.fingerprint])
    assert caught.value.code == "suite_unavailable"


def test_without_mlkem_a_retired_mlkem_key_does_not_stop_a_current_x25519_one(
        without_mlkem: str, mlkem_private: e.EnvelopePrivateKey) -> None:
    """The documented fix: the server makes an X25519 key current and keeps the old one."""
    retired = {**mlkem_private.public_key().to_json(), "status": "retired"}
    current = e.EnvelopePrivateKey.generate("k-x", e.SUITE_X25519).public_key()
    keys = e.parse_key_list({"keys": [retired, current.to_json()]})
    assert e.select_current_key(keys, [current.fingerprint]) == current


def test_without_mlkem_an_mlkem_private_key_cannot_be_loaded(
        without_mlkem: str, mlkem_private: e.EnvelopePrivateKey) -> None:
    with pytest.raises(EnvelopeError) as caught:
        e.EnvelopePrivateKey("k-pq", e.SUITE_MLKEM768_X25519, mlkem_private.secret)
    assert caught.value.code == "suite_unavailable"


@pytest.fixture
def stub_process(tmp_path: Path):
    """A real stub in its own process (the server runs elsewhere, with ML-KEM), serving its
    default MLKEM768-X25519 key: yields (url, CA file, pins)."""
    from server_stub.testing import running_stub_process

    with running_stub_process(tmp_path / "stub-data") as server:
        yield server.url, server.ca_path, server.hpke_pins


def test_without_mlkem_an_upload_to_an_mlkem_server_stops_before_anything_is_sent(
        stub_process, tmp_path: Path, without_mlkem: str) -> None:
    from demo_app.policy import load_demo_policy
    from sdk.storage.store import EncryptedStore
    from sdk.testing.keystore import MemoryKeystore
    from sdk.transport import ApiClient, tus

    url, ca, pins = stub_process
    config = SdkConfig(data_dir=tmp_path / "device", endpoint=url, ca_bundle=ca,
                       hpke_pins=pins, retries=0, backoff=0.0)
    store = EncryptedStore(tmp_path / "store.db", MemoryKeystore(), load_demo_policy().manifest)
    try:
        uploader = tus.TusUploader(ApiClient(config), store, chunk_size=4096)
        with pytest.raises(EnvelopeError) as caught:  # not NotLoggedIn: no upload was created
            uploader.upload(b"face video", item="face_video", purpose="realname_verification",
                            consent_id="c")
        assert caught.value.code == "suite_unavailable"
        assert store.entries("uploads") == []  # no upload state either: nothing to resume
    finally:
        store.close()
