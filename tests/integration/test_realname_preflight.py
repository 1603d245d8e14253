"""``privacy.realname.preflight()`` against the real stub over HTTPS: what :meth:`submit` needs
that capturing cannot change is checked *before* the face video is recorded (PIPL art. 6), with
the errors ``submit`` would raise, and nothing is collected, kept or sent but the anonymous
``GET /v1/keys/hpke``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sdk import ConsentRequired, EnvelopeError, KeyPinMismatch, KeystoreError, SdkConfig
from sdk.policy import Policy

from .test_realname_flow import Device, agency, server_status, server_uploads

REALNAME_ITEMS = {"real_name", "id_number", "phone", "face_video"}
WRONG_PIN = "sha256:" + "0" * 64


@pytest.fixture
def device(stub: Any, make_config: Callable[..., SdkConfig], bundled_policy: Policy,
           tmp_path: Path) -> Iterator[Callable[..., Device]]:
    """``device(**config)``: a logged-in device with the stub's HPKE pins (unless *config*
    says otherwise); every consent of real-name signing granted unless ``grant=False``."""
    devices: list[Device] = []
    agency(stub, delay_seconds=0)

    def make(grant: bool = True, **overrides: Any) -> Device:
        settings = {"hpke_pins": stub.hpke_pins, "data_dir": tmp_path / f"device-{len(devices)}"}
        settings.update(overrides)
        made = Device(stub, make_config(stub, **settings), bundled_policy, "alice@example.com",
                      register=not devices)
        devices.append(made)
        return made.grant_all() if grant else made

    yield make
    for made in devices:
        made.privacy.close()


def _collected(alice: Device) -> set[str]:
    return {row["item"] for row in alice.privacy.collected_personal_information()}


def test_preflight_returns_the_servers_pinned_current_key(device) -> None:  # OBL-SEC-1
    alice = device()
    key = alice.realname.preflight()
    assert key.fingerprint in alice.stub.hpke_pins and key.status == "current"


def test_a_passing_preflight_collects_keeps_and_sends_nothing(device) -> None:  # OBL-SEC-3
    alice = device()
    alice.realname.preflight()
    assert not _collected(alice) & REALNAME_ITEMS
    assert not [e for e in alice.privacy.store.entries() if e.namespace in ("realname", "uploads")]
    assert server_uploads(alice.stub) == 0
    assert server_status(alice.stub, alice.account_id) is None


def test_a_pin_mismatch_raises_key_pin_mismatch_and_creates_nothing_on_the_server(device) -> None:  # OBL-SEC-1
    alice = device(hpke_pins=(WRONG_PIN,))
    with pytest.raises(KeyPinMismatch) as caught:
        alice.realname.preflight()
    assert caught.value.code == "not_pinned"
    assert server_uploads(alice.stub) == 0
    assert server_status(alice.stub, alice.account_id) is None
    assert alice.privacy.server_third_party_transfers() == []


def test_a_pin_mismatch_collects_nothing_on_the_device(device) -> None:  # OBL-SEC-3
    alice = device(hpke_pins=(WRONG_PIN,))
    with pytest.raises(KeyPinMismatch):
        alice.realname.preflight()
    assert not _collected(alice) & REALNAME_ITEMS


def test_preflight_raises_the_same_pin_error_as_submit(device) -> None:  # OBL-SEC-1
    alice = device(hpke_pins=(WRONG_PIN,))
    with pytest.raises(KeyPinMismatch) as before:
        alice.realname.preflight()
    with pytest.raises(KeyPinMismatch) as at_submit:
        alice.submit()
    assert (type(before.value), before.value.code, str(before.value)) == (
        type(at_submit.value), at_submit.value.code, str(at_submit.value))


def test_without_pins_preflight_raises_no_pins_before_any_request(device) -> None:  # OBL-SEC-1
    alice = device(hpke_pins=())
    with pytest.raises(KeyPinMismatch) as caught:
        alice.realname.preflight()
    assert caught.value.code == "no_pins"


@pytest.fixture
def stub_process(tmp_path: Path) -> Iterator[Any]:
    """A real stub in its own process (so that it keeps ML-KEM when this process plays a build
    without it), serving its default MLKEM768-X25519 key."""
    from server_stub.testing import running_stub_process

    with running_stub_process(tmp_path / "stub-process") as server:
        yield server


def test_a_build_that_cannot_seal_to_the_servers_suite_is_refused_before_capture(
        stub_process, make_config, bundled_policy, tmp_path, monkeypatch) -> None:  # OBL-SEC-3
    """The stub's key is MLKEM768-X25519; this process plays a build whose OpenSSL has no
    ML-KEM (the library edge, as tests/sdk/test_envelope.py does)."""
    from cryptography.hazmat.backends.openssl.backend import backend

    from sdk.transport import envelope

    config = make_config(stub_process, hpke_pins=stub_process.hpke_pins,
                         data_dir=tmp_path / "no-mlkem")
    alice = Device(stub_process, config, bundled_policy, "alice@example.com").grant_all()
    try:
        monkeypatch.setattr(backend, "mlkem_supported", lambda: False)
        envelope._kem_support.cache_clear()
        with pytest.raises(EnvelopeError) as caught:
            alice.realname.preflight()
    finally:
        envelope._kem_support.cache_clear()
        alice.privacy.close()
    assert caught.value.code == "suite_unavailable"
    assert "MLKEM768-X25519" in str(caught.value)
    assert server_uploads(stub_process) == 0


def test_a_missing_consent_is_raised_first(device) -> None:  # OBL-RN-3
    alice = device(grant=False)
    with pytest.raises(ConsentRequired) as caught:
        alice.realname.preflight()
    assert set(caught.value.scopes) == set(alice.realname.missing_consents())


@pytest.fixture
def without_keystore(stub, make_config, bundled_policy, tmp_path, monkeypatch) -> Iterator[Any]:
    """A logged-in device with every consent of real-name signing and no usable keystore
    (``PRIVACY_SDK_KEYSTORE=fail``, the SDK's own backend for it; the session cookie is then
    kept in memory): ``(privacy, realname)``."""
    from sdk import PrivacySdk
    from sdk.realname import Realname

    from .devices import EMAIL, PASSWORD

    monkeypatch.setenv("PRIVACY_SDK_KEYSTORE", "fail")
    config = make_config(stub, hpke_pins=stub.hpke_pins, data_dir=tmp_path / "no-keystore")
    with PrivacySdk.open(config, bundled_policy) as privacy:
        privacy.agree()
        privacy.register(EMAIL, PASSWORD)
        privacy.login(EMAIL, PASSWORD)
        realname = Realname(privacy)
        for scope in realname.missing_consents():
            privacy.grant(scope)
        yield privacy, realname


def test_without_a_usable_keystore_preflight_raises_keystore_error(without_keystore) -> None:  # OBL-SEC-2
    _privacy, realname = without_keystore
    with pytest.raises(KeystoreError):
        realname.preflight()


def test_without_a_usable_keystore_submit_collects_nothing(without_keystore) -> None:  # OBL-SEC-2
    from .devices import ID_NUMBER, NAME
    from .test_realname_flow import FACE, PHONE

    privacy, realname = without_keystore
    with pytest.raises(KeystoreError):
        realname.submit(NAME, ID_NUMBER, PHONE, FACE)
    assert not {row["item"] for row in privacy.collected_personal_information()} & REALNAME_ITEMS
