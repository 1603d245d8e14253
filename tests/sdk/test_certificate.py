"""The device side of the user's certificate (sdk.realname.certificate): the key wrapped by the
keystore, the CSR, the refusals before anything is sent, the certificate kept only in the
encrypted store. Real keys, a real PrivacySdk and store, certificates from the stub's real
user CA; the network is replaced at the edge by a requests adapter that records what would
be sent and fails (no server is needed for these)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from sdk.errors import ConsentRequired, KeystoreError
from sdk.realname.certificate import (
    CERTIFICATE_KEY_ID,
    CertificateConsentRequired,
    CertificateError,
    CertificateKey,
    CertificateRequired,
    RealnameRequired,
    parse_certificate,
)
from sdk.storage.keystore import load_or_create_wrapped
from sdk.testing.keystore import MemoryKeystore

from .certificates import CERT_SCOPES, NAME, PSEUDONYM, Device


def files_under(folder: Path) -> Iterator[bytes]:
    for path in folder.rglob("*"):
        if path.is_file():
            yield path.read_bytes()


# -- refusals before anything is sent -------------------------------------------------------


def test_request_refuses_before_any_network_call_when_not_verified(device: Device) -> None:  # OBL-CERT-1
    device.consent(*CERT_SCOPES)
    device.verified = False
    with pytest.raises(RealnameRequired):
        device.manager.request()
    assert device.edge.sent == []


def test_request_refuses_before_any_network_call_without_certificate_consent(device: Device) -> None:  # OBL-CERT-2
    device.consent("recipient:ca", "item:id_number")
    with pytest.raises(CertificateConsentRequired) as caught:
        device.manager.request()
    assert set(caught.value.scopes) >= {"purpose:certificate"}
    assert device.edge.sent == []


def test_request_refuses_without_the_consent_to_keep_the_certificate_information(device: Device) -> None:  # OBL-CERT-2
    device.consent("certificate", "recipient:ca", "item:id_number")
    with pytest.raises(CertificateConsentRequired) as caught:
        device.manager.request()
    assert caught.value.scopes == ("item:certificate_info",)
    assert device.edge.sent == []


def test_request_refuses_without_the_consent_to_give_the_ca_the_identity(device: Device) -> None:  # OBL-CERT-1
    device.consent("certificate", "item:certificate_info")
    with pytest.raises(CertificateConsentRequired) as caught:
        device.manager.request()
    assert caught.value.scopes == ("recipient:ca", "item:id_number")
    assert device.edge.sent == []


def test_request_refuses_after_the_certificate_consent_is_withdrawn(device: Device) -> None:  # OBL-CERT-2
    device.consent(*CERT_SCOPES)
    device.privacy.withdraw("certificate")
    with pytest.raises(CertificateConsentRequired):
        device.manager.request()
    assert device.edge.sent == []


def test_a_consent_refusal_is_a_consent_required_and_names_no_person(device: Device) -> None:  # OBL-CERT-2
    device.consent()
    with pytest.raises(ConsentRequired) as caught:
        device.manager.request()
    assert NAME not in str(caught.value)
    assert isinstance(caught.value, CertificateError)


def test_a_refused_request_writes_the_refusal_to_the_audit_trail(device: Device) -> None:  # OBL-CERT-2
    device.consent()
    with pytest.raises(CertificateConsentRequired):
        device.manager.request()
    entries = [e for e in device.privacy.audit.entries() if e.item == "certificate_info"]
    assert [e.outcome for e in entries] == ["refused"]


# -- the key and the CSR ---------------------------------------------------------------------


def test_the_device_key_is_stored_wrapped_before_the_csr_is_sent(device: Device) -> None:  # OBL-CERT-1
    device.consent(*CERT_SCOPES)
    body = device.attempt_request()
    blob = device.privacy.store.get("certificate", "device_key")
    assert blob is not None and CERTIFICATE_KEY_ID in device.keystore.key_ids
    key, _ = CertificateKey.load_or_create(device.keystore, blob)
    csr = x509.load_pem_x509_csr(body["csr"].encode())
    assert csr.public_key() == key.public_key


def test_the_wrapped_key_does_not_open_without_the_keystore(device: Device) -> None:
    device.consent(*CERT_SCOPES)
    device.attempt_request()
    blob = device.privacy.store.get("certificate", "device_key")
    with pytest.raises(KeystoreError):
        CertificateKey.load_or_create(MemoryKeystore(), blob)


def test_the_csr_has_an_empty_subject_and_proves_possession_of_a_p256_key(device: Device) -> None:  # OBL-CERT-1
    device.consent(*CERT_SCOPES)
    body = device.attempt_request()
    csr = x509.load_pem_x509_csr(body["csr"].encode())
    assert list(body) == ["csr"]
    assert len(csr.subject) == 0 and len(csr.attributes) == 0
    assert csr.is_signature_valid
    assert isinstance(csr.public_key().curve, ec.SECP256R1)


def test_the_request_goes_to_the_certificates_endpoint_with_an_idempotency_key(device: Device) -> None:
    device.consent(*CERT_SCOPES)
    device.attempt_request()
    sent = device.edge.sent[-1]
    assert (sent.method, sent.url) == ("POST", "https://127.0.0.1:9/v1/certificates")
    assert sent.headers["Idempotency-Key"]


def test_the_device_key_is_reused_for_the_next_request(device: Device) -> None:
    device.consent(*CERT_SCOPES)
    first = x509.load_pem_x509_csr(device.attempt_request()["csr"].encode())
    second = x509.load_pem_x509_csr(device.attempt_request()["csr"].encode())
    assert first.public_key() == second.public_key()


def test_a_lost_wrapping_key_gives_a_new_device_key_on_request(device: Device) -> None:
    device.consent(*CERT_SCOPES)
    first = x509.load_pem_x509_csr(device.attempt_request()["csr"].encode())
    device.keystore.delete(CERTIFICATE_KEY_ID)
    second = x509.load_pem_x509_csr(device.attempt_request()["csr"].encode())
    assert first.public_key() != second.public_key()


def test_the_shared_wrap_helper_refuses_a_secret_of_the_wrong_size() -> None:
    keystore = MemoryKeystore()
    _, blob = load_or_create_wrapped(keystore, "k", None, lambda: b"\x01" * 32, size=32, what="key")
    with pytest.raises(KeystoreError, match="wrong size"):
        load_or_create_wrapped(keystore, "k", blob, lambda: b"", size=48, what="key")


def test_the_key_repr_shows_no_secret(device: Device) -> None:
    key, _ = CertificateKey.load_or_create(device.keystore, None)
    scalar = key._private.private_numbers().private_value
    assert format(scalar, "x") not in repr(key) and str(scalar) not in repr(key)


# -- the certificate ---------------------------------------------------------------------------


def test_the_certificate_shows_subject_serial_and_validity(device: Device) -> None:  # OBL-CERT-1
    device.consent(*CERT_SCOPES)
    info = device.with_certificate()
    assert info.common_name == NAME and info.id_pseudonym == PSEUDONYM
    assert info.serial == format(x509.load_pem_x509_certificate(info.pem.encode()).serial_number, "x")
    assert info.not_after - info.not_before >= dt.timedelta(days=365)
    assert info.status(device.clock.now) == "valid"
    assert device.manager.current() == info


def test_the_name_with_a_middle_dot_round_trips_byte_for_byte(device: Device) -> None:  # OBL-CERT-1
    device.consent(*CERT_SCOPES)
    info = device.with_certificate()
    assert device.manager.current().common_name.encode("utf-8") == NAME.encode("utf-8")
    assert info.to_dict()["common_name"] == NAME


def test_the_certificate_is_kept_only_in_the_encrypted_store(device: Device) -> None:  # OBL-CERT-1
    device.consent(*CERT_SCOPES)
    device.with_certificate()
    entries = {(e.namespace, e.key, e.purpose) for e in device.privacy.store.entries()}
    assert ("certificate", "certificate", "certificate") in entries
    for data in files_under(device.data_dir):
        assert NAME.encode("utf-8") not in data and PSEUDONYM.encode() not in data


def test_the_certificate_info_repr_holds_no_name_or_pseudonym(device: Device) -> None:  # OBL-CERT-1
    device.consent(*CERT_SCOPES)
    info = device.with_certificate()
    assert NAME not in repr(info) and PSEUDONYM not in repr(info)
    assert info.serial in repr(info)


def test_the_serial_is_shown_in_hex_pairs(device: Device) -> None:
    device.consent(*CERT_SCOPES)
    info = device.with_certificate()
    assert info.serial_display.replace(":", "").lower().lstrip("0") == info.serial.lstrip("0")


def test_install_refuses_a_certificate_for_another_key(device: Device) -> None:
    device.consent(*CERT_SCOPES)
    device.attempt_request()
    other = ec.generate_private_key(ec.SECP256R1())
    request = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([])).sign(other, hashes.SHA256())
    from cryptography.hazmat.primitives import serialization

    with pytest.raises(CertificateError, match="not for this device"):
        device.manager.install(device.issue(request.public_bytes(serialization.Encoding.PEM).decode()))
    assert device.manager.current() is None


def test_install_refuses_a_certificate_that_does_not_allow_signing(device: Device) -> None:
    from cryptography.hazmat.primitives import serialization

    device.consent(*CERT_SCOPES)
    body = device.attempt_request()
    public_key = x509.load_pem_x509_csr(body["csr"].encode()).public_key()
    tls_like = device.ca.issue(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, NAME)]),
                               public_key, [], dt.timedelta(days=30), now=device.clock.now)
    with pytest.raises(CertificateError, match="nonRepudiation"):
        device.manager.install(tls_like.public_bytes(serialization.Encoding.PEM).decode())


def test_install_without_a_device_key_asks_for_a_request(device: Device) -> None:
    with pytest.raises(CertificateRequired):
        device.manager.install("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")


def test_garbage_is_not_a_certificate() -> None:
    with pytest.raises(CertificateError):
        parse_certificate("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")


def test_forget_deletes_the_certificate_and_its_key(device: Device) -> None:  # OBL-CERT-2
    device.consent(*CERT_SCOPES)
    device.with_certificate()
    assert device.manager.forget(revoke=False) is False
    assert device.manager.current() is None
    assert device.privacy.store.entries("certificate") == []
    assert CERTIFICATE_KEY_ID not in device.keystore.key_ids
    assert device.edge.sent == []


def test_forget_still_forgets_when_the_server_cannot_be_reached(device: Device) -> None:  # OBL-CERT-2
    device.consent(*CERT_SCOPES)
    info = device.with_certificate()
    assert device.manager.forget() is False
    assert device.edge.sent[-1].method == "DELETE"
    assert device.edge.sent[-1].url.endswith(f"/v1/certificates/{info.serial}")
    assert device.manager.current() is None
