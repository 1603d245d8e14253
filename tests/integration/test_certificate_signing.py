"""Certificate and contract signing end to end: the SDK against the real stub over HTTPS
(issue #6, OBL-CERT-1, OBL-CERT-2). The account's real-name status is set through the stub's
dev-mode endpoint until the verification flow writes it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sdk.realname.certificate import (
    CertificateConsentRequired,
    CertificateRevoked,
    RealnameRequired,
    SignatureRejected,
)
from server_stub.realname_store import RealnameStore
from server_stub.testing import https_session

from .devices import CERT_SCOPES, EMAIL, ID_NUMBER, NAME, PASSWORD, User


def server_signing_records(user: User) -> list[dict[str, Any]]:
    return RealnameStore(user.stub.data_dir).signing_records(user.account_id)


def test_a_verified_user_gets_a_certificate_with_subject_serial_and_validity(user: User) -> None:  # OBL-CERT-1
    info = user.manager.request()
    assert info.common_name == NAME
    assert info.id_pseudonym == RealnameStore(user.stub.data_dir).pseudonym(ID_NUMBER)
    assert info.status() == "valid" and (info.not_after - info.not_before).days == 365
    assert user.manager.current() == info
    with https_session(user.stub) as session:
        session.post(f"{user.stub.url}/v1/sessions", timeout=10,
                     json={"identifier": EMAIL, "password": PASSWORD})
        listed = session.get(f"{user.stub.url}/v1/certificates", timeout=10).json()
    assert [(c["serial"], c["status"]) for c in listed["certificates"]] == [(info.serial, "valid")]


def test_the_id_number_is_never_kept_in_clear_on_the_device(user: User, device_dir: Path) -> None:  # OBL-CERT-1
    user.manager.request()
    for path in device_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert ID_NUMBER.encode() not in data and ID_NUMBER.lower().encode() not in data
            assert NAME.encode("utf-8") not in data, f"the real name is in clear in {path.name}"


def test_a_contract_from_the_template_list_is_signed_and_verified_by_the_server(user: User) -> None:  # OBL-CERT-1
    user.manager.request()
    template_id = user.privacy.list_templates()[0]["id"]
    shown = user.privacy.download_template(template_id).read_bytes()
    receipt = user.signer.sign(template_id, shown)
    assert receipt.verified and receipt.template_id == template_id
    assert [r["signature_id"] for r in server_signing_records(user)] == [receipt.signature_id]


def test_signing_without_content_signs_the_template_file(user: User) -> None:  # OBL-CERT-1
    user.manager.request()
    receipt = user.signer.sign("loan")
    assert receipt.verified
    assert server_signing_records(user)[0]["sha256"] == receipt.sha256


def test_the_server_refuses_a_certificate_without_realname_verification(open_user) -> None:  # OBL-CERT-1
    user = open_user().consent(*CERT_SCOPES)  # the device claims "verified"; the server knows
    with pytest.raises(RealnameRequired):
        user.manager.request()
    assert user.manager.current() is None


def test_the_server_refuses_a_certificate_when_it_holds_no_certificate_consent(open_user) -> None:  # OBL-CERT-2
    user = open_user().consent(*CERT_SCOPES, sync=False).verified_on_server()
    with pytest.raises(CertificateConsentRequired):
        user.manager.request()
    assert user.manager.current() is None


def test_signing_is_refused_on_the_device_once_the_consent_is_withdrawn(user: User) -> None:  # OBL-CERT-2
    user.manager.request()
    user.privacy.withdraw("item:certificate_info")
    with pytest.raises(CertificateConsentRequired):
        user.signer.sign("lease")
    assert server_signing_records(user) == []


def test_the_server_refuses_signing_after_another_device_withdrew_the_consent(
        user: User, open_user, tmp_path: Path) -> None:  # OBL-CERT-2
    user.manager.request()
    other = open_user(register=False, data_dir=tmp_path / "second-device")
    other.consent("certificate")
    other.privacy.withdraw("certificate")
    with pytest.raises(CertificateConsentRequired):
        user.signer.sign("lease")  # this device has not synced: only the server knows
    assert server_signing_records(user) == []


def test_a_tampered_contract_is_refused_by_the_server(user: User) -> None:
    user.manager.request()
    shown = user.privacy.download_template("lease").read_bytes()
    with pytest.raises(SignatureRejected) as caught:
        user.signer.sign("lease", shown.replace("甲方".encode(), "乙方".encode(), 1))
    assert caught.value.code == "template_mismatch"
    assert server_signing_records(user) == []


def test_a_revoked_certificate_is_refused_and_forgotten(user: User) -> None:
    first = user.manager.request()
    user.manager.request()  # the server revokes the first one
    user.manager.install(first.pem)  # same device key: the old certificate installs
    with pytest.raises(CertificateRevoked):
        user.signer.sign("lease")
    assert user.manager.current() is None


def test_forget_revokes_the_certificate_on_the_server(user: User) -> None:  # OBL-CERT-2
    info = user.manager.request()
    assert user.manager.forget() is True
    (row,) = RealnameStore(user.stub.data_dir).certificates(user.account_id)
    assert (row.serial, row.revocation_reason) == (info.serial, "user_request")
    assert user.manager.current() is None
