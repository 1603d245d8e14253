"""Signing a contract on the device (sdk.realname.signing): the refusals before anything is
sent, and the detached ECDSA P-256 / SHA-256 signature over the exact bytes. Real keys and
certificates; the network edge records what would be sent (see tests/sdk/certificates.py)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from typing import Any

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from sdk.errors import ServerUnavailable
from sdk.realname.certificate import (
    CertificateConsentRequired,
    CertificateExpired,
    CertificateRequired,
    RealnameRequired,
)
from sdk.realname.signing import MAX_CONTRACT_BYTES, ContractSigner

from .certificates import CERT_SCOPES, Device

CONTRACT = "# 房屋租赁合同\n\n出租方（甲方）：阿依古丽·买买提\n".encode("utf-8")


def attempt_sign(device: Device, content: bytes = CONTRACT) -> dict[str, Any]:
    """sign() up to the network; returns the JSON body that would have been sent."""
    with pytest.raises(ServerUnavailable):
        ContractSigner(device.manager).sign("lease", content)
    return json.loads(device.edge.sent[-1].body)


def public_key(device: Device) -> ec.EllipticCurvePublicKey:
    info = device.manager.current()
    assert info is not None
    key = x509.load_pem_x509_certificate(info.pem.encode()).public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return key


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# -- refusals before anything is sent -------------------------------------------------------


def test_signing_refuses_before_any_network_call_when_not_verified(certified: Device) -> None:  # OBL-CERT-1
    certified.verified = False
    with pytest.raises(RealnameRequired):
        ContractSigner(certified.manager).sign("lease", CONTRACT)
    assert certified.edge.sent == []


def test_signing_refuses_before_any_network_call_without_a_certificate(device: Device) -> None:  # OBL-CERT-1
    device.consent(*CERT_SCOPES)
    with pytest.raises(CertificateRequired):
        ContractSigner(device.manager).sign("lease")
    assert device.edge.sent == []


def test_signing_refuses_before_any_network_call_without_certificate_consent(device: Device) -> None:  # OBL-CERT-2
    device.consent("recipient:ca")
    with pytest.raises(CertificateConsentRequired) as caught:
        ContractSigner(device.manager).sign("lease")
    assert "purpose:certificate" in caught.value.scopes
    assert device.edge.sent == []


def test_signing_refuses_before_any_network_call_after_the_consent_is_withdrawn(certified: Device) -> None:  # OBL-CERT-2
    certified.privacy.withdraw("item:certificate_info")
    with pytest.raises(CertificateConsentRequired) as caught:
        ContractSigner(certified.manager).sign("lease")
    assert caught.value.scopes == ("item:certificate_info",)
    assert certified.edge.sent == []


def test_signing_needs_no_consent_to_give_the_ca_anything_more(certified: Device) -> None:  # OBL-CERT-2
    certified.privacy.withdraw("recipient:ca")
    attempt_sign(certified)
    assert certified.edge.sent[-1].url.endswith("/v1/signatures")


def test_signing_refuses_an_expired_certificate_before_any_network_call(certified: Device) -> None:
    certified.clock.tick(366 * 24 * 3600)
    with pytest.raises(CertificateExpired):
        ContractSigner(certified.manager).sign("lease", CONTRACT)
    assert certified.edge.sent == []


def test_signing_refuses_when_the_certificate_key_is_gone(certified: Device) -> None:
    certified.keystore.delete("certificate-signing-v1")
    with pytest.raises(CertificateRequired, match="keystore"):
        ContractSigner(certified.manager).sign("lease", CONTRACT)
    assert certified.edge.sent == []


def test_a_template_id_holding_a_slash_is_refused(certified: Device) -> None:
    with pytest.raises(ValueError):
        ContractSigner(certified.manager).sign("../etc/passwd", CONTRACT)
    assert certified.edge.sent == []


def test_an_oversized_contract_is_refused(certified: Device) -> None:
    with pytest.raises(ValueError):
        ContractSigner(certified.manager).sign("lease", b"x" * (MAX_CONTRACT_BYTES + 1))
    assert certified.edge.sent == []


# -- the signature ---------------------------------------------------------------------------


def test_the_signature_verifies_over_the_exact_bytes(certified: Device) -> None:  # OBL-CERT-1
    body = attempt_sign(certified)
    public_key(certified).verify(unb64(body["signature"]), CONTRACT, ec.ECDSA(hashes.SHA256()))
    assert body["sha256"] == hashlib.sha256(CONTRACT).hexdigest()


def test_the_signature_does_not_verify_over_other_bytes(certified: Device) -> None:
    body = attempt_sign(certified)
    with pytest.raises(InvalidSignature):
        public_key(certified).verify(unb64(body["signature"]), CONTRACT + b" ", ec.ECDSA(hashes.SHA256()))


def test_the_request_names_the_template_and_the_certificate_and_nothing_else(certified: Device) -> None:  # OBL-CERT-1
    body = attempt_sign(certified)
    assert set(body) == {"template_id", "sha256", "signature", "certificate_serial"}
    assert (body["template_id"], body["certificate_serial"]) == ("lease", certified.manager.current().serial)
    assert "阿依古丽".encode() not in certified.edge.sent[-1].body


def test_signing_passes_the_signing_record_through_the_gate(certified: Device) -> None:
    attempt_sign(certified)
    items = [(e.item, e.outcome) for e in certified.privacy.audit.entries("collect")]
    assert ("signing_record", "allowed") in items


def test_without_content_the_template_file_is_fetched_first(certified: Device) -> None:
    with pytest.raises(ServerUnavailable):
        ContractSigner(certified.manager).sign("lease")
    (sent,) = certified.edge.sent
    assert (sent.method, sent.url) == ("GET", "https://127.0.0.1:9/v1/templates/lease/download")
    assert "Cookie" not in sent.headers


def test_a_certificate_not_yet_valid_is_refused(device: Device) -> None:
    device.consent(*CERT_SCOPES)
    body = device.attempt_request()
    device.edge.sent.clear()
    device.manager.install(device.issue(body["csr"], now=device.clock.now + dt.timedelta(days=2)))
    with pytest.raises(CertificateExpired, match="not yet valid"):
        ContractSigner(device.manager).sign("lease", CONTRACT)
