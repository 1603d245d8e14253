"""Certificate and contract signing end to end: the SDK against the real stub over HTTPS
(issue #6, OBL-CERT-1, OBL-CERT-2). The account's real-name status is set through the stub's
dev-mode endpoint until the verification flow writes it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sdk import PrivacySdk, SdkConfig
from sdk.policy import Policy
from sdk.realname.certificate import (
    CertificateConsentRequired,
    CertificateManager,
    CertificateRevoked,
    RealnameRequired,
    SignatureRejected,
)
from sdk.realname.signing import ContractSigner
from sdk.testing.keystore import MemoryKeystore
from server_stub.realname_store import RealnameStore
from server_stub.testing import https_session

PASSWORD = "Xk9#mQ2vLp8w-river"
EMAIL = "alice@example.com"
NAME = "阿依古丽·买买提"
ID_NUMBER = "11010519491231002X"
CERT_SCOPES = ("certificate", "item:certificate_info", "recipient:ca", "item:id_number")


class User:
    """One device of the account: a PrivacySdk logged in, with the certificate manager the
    SDK facade wires (``privacy.certificate``) built from the same parts."""

    def __init__(self, stub: Any, config: SdkConfig, policy: Policy, *, register: bool) -> None:
        self.stub = stub
        self.keystore = MemoryKeystore()
        self.privacy = PrivacySdk.open(config, policy, keystore=self.keystore)
        self.privacy.agree()
        if register:
            self.privacy.register(EMAIL, PASSWORD)
        self.privacy.login(EMAIL, PASSWORD)
        self.manager = CertificateManager(
            self.privacy._api(), self.privacy.store, self.keystore, consent=self.privacy,
            is_verified=lambda: True, clock=config.clock)
        self.signer = ContractSigner(self.manager)

    @property
    def account_id(self) -> str:
        return self.privacy.me().account_id

    def consent(self, *scopes: str, sync: bool = True) -> User:
        for scope in scopes:
            self.privacy.grant(scope, sync=sync)
        return self

    def verified_on_server(self) -> User:
        with https_session(self.stub) as session:
            login = session.post(f"{self.stub.url}/v1/sessions", timeout=10,
                                 json={"identifier": EMAIL, "password": PASSWORD})
            assert login.status_code == 200, login.text
            answer = session.put(f"{self.stub.url}/v1/dev/realname/status", timeout=10,
                                 json={"status": "verified", "real_name": NAME,
                                       "id_number": ID_NUMBER})
            assert answer.status_code == 204, answer.text
        return self

    def close(self) -> None:
        self.privacy.close()


@pytest.fixture
def open_user(stub: Any, make_config: Callable[..., SdkConfig], bundled_policy: Policy,
              tmp_path: Path) -> Iterator[Callable[..., User]]:
    """``open_user(register=True, data_dir=None)``: a logged-in device of the one account."""
    users: list[User] = []

    def make(register: bool = True, data_dir: Path | None = None) -> User:
        overrides = {"data_dir": data_dir} if data_dir is not None else {}
        user = User(stub, make_config(stub, **overrides), bundled_policy, register=register)
        users.append(user)
        return user

    yield make
    for user in users:
        user.close()


@pytest.fixture
def user(open_user: Callable[..., User]) -> User:
    """Verified on the server, every certificate consent granted and synced."""
    return open_user().consent(*CERT_SCOPES).verified_on_server()


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
