"""User certificates and contract signing on the stub (docs/protocol.md, "Certificates and
signing"): a real server over real HTTPS, real keys, CSRs and certificates; the real-name
status is set through the store (the verification flow writes it later)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from server_stub.content import load_templates
from server_stub.realname_store import RealnameStore, missing_consents
from server_stub.runner import RunningServer, start_in_thread
from server_stub.settings import Settings
from server_stub.testing import SigningDevice, https_session
from server_stub.user_ca import DOCUMENT_SIGNING, ensure_user_ca, issue_user_certificate

NAME = "阿依古丽·买买提"
ID_NUMBER = "11010519491231002X"
SCOPES = ("purpose:certificate", "item:certificate_info", "recipient:ca", "item:id_number")
TEMPLATE = "lease"


# -- helpers -------------------------------------------------------------------------------


def post(session: requests.Session, url: str, body: Any, key: str | None = None) -> requests.Response:
    return session.post(url, json=body, headers={"Idempotency-Key": key or str(uuid.uuid4())},
                        timeout=10)


def decide(session: requests.Session, stub: RunningServer, device: SigningDevice, scope: str,
           decision: str = "granted", created_at: str = "2026-11-30T03:22:25Z") -> None:
    """Send one signed record of *device* with the account's cookie (links the device)."""
    record = device.record(scope=scope, decision=decision, created_at=created_at,
                           consent_type="policy" if scope == "policy" else "separate")
    answer = post(session, f"{stub.url}/v1/consent-records", record, record["record_id"])
    assert answer.status_code == 201, answer.text


def consent(session: requests.Session, stub: RunningServer, *scopes: str) -> SigningDevice:
    """A device of the account that agreed to the policy and granted *scopes*."""
    device = SigningDevice()
    for scope in ("policy", *scopes):
        decide(session, stub, device, scope)
    return device


def verify(stub: RunningServer, account_id: str, status: str = "verified") -> RealnameStore:
    realname = RealnameStore(stub.data_dir)
    realname.set_status(account_id, status, verification_id=str(uuid.uuid4()), real_name=NAME,
                        id_pseudonym=realname.pseudonym(ID_NUMBER))
    return realname


def csr(key: ec.EllipticCurvePrivateKey | None = None, subject: x509.Name | None = None) -> str:
    key = key or ec.generate_private_key(ec.SECP256R1())
    request = x509.CertificateSigningRequestBuilder().subject_name(subject or x509.Name([]))
    return request.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def template_bytes() -> bytes:
    return load_templates()[TEMPLATE].data


def verified_account(stub: RunningServer,
                     new_account: Callable[[], requests.Session]) -> requests.Session:
    """A new account, verified, with every certificate consent granted: its session."""
    session = new_account()
    consent(session, stub, *SCOPES)
    verify(stub, session.account_id)  # type: ignore[attr-defined]
    return session


@pytest.fixture
def ready(stub: RunningServer, new_account: Callable[[], requests.Session]) -> requests.Session:
    """A verified account with every certificate consent granted."""
    return verified_account(stub, new_account)


class Holder:
    """An account with a certificate: its key, the answer, the certificate."""

    def __init__(self, stub: RunningServer, session: requests.Session) -> None:
        self.stub, self.session = stub, session
        self.key = ec.generate_private_key(ec.SECP256R1())
        answer = post(session, f"{stub.url}/v1/certificates", {"csr": csr(self.key)})
        assert answer.status_code == 201, answer.text
        self.answer = answer.json()
        self.cert = x509.load_pem_x509_certificate(self.answer["certificate"].encode())
        self.serial = self.answer["serial"]

    def sign(self, data: bytes | None = None, *, key: ec.EllipticCurvePrivateKey | None = None,
             digest_of: bytes | None = None, serial: str | None = None) -> requests.Response:
        data = template_bytes() if data is None else data
        signature = (key or self.key).sign(data, ec.ECDSA(hashes.SHA256()))
        body = {"template_id": TEMPLATE,
                "sha256": hashlib.sha256(data if digest_of is None else digest_of).hexdigest(),
                "signature": b64url(signature), "certificate_serial": serial or self.serial}
        return post(self.session, f"{self.stub.url}/v1/signatures", body)


@pytest.fixture
def holder(stub: RunningServer, ready: requests.Session) -> Holder:
    return Holder(stub, ready)


# -- issuing -------------------------------------------------------------------------------


def test_issue_needs_a_session(stub: RunningServer, client: requests.Session) -> None:
    answer = post(client, f"{stub.url}/v1/certificates", {"csr": csr()})
    assert answer.status_code == 401
    assert answer.json()["error"] == "not_logged_in"


def test_issue_refuses_an_unverified_account(stub, new_account) -> None:  # OBL-CERT-1
    session = new_account()
    consent(session, stub, *SCOPES)
    answer = post(session, f"{stub.url}/v1/certificates", {"csr": csr()})
    assert answer.status_code == 403
    assert answer.json()["error"] == "realname_required"


def test_issue_refuses_an_account_whose_verification_failed(stub, new_account) -> None:  # OBL-CERT-1
    session = new_account()
    consent(session, stub, *SCOPES)
    verify(stub, session.account_id, status="failed")
    answer = post(session, f"{stub.url}/v1/certificates", {"csr": csr()})
    assert answer.json()["error"] == "realname_required"


def test_issue_refuses_without_the_certificate_consent(stub, new_account) -> None:  # OBL-CERT-2
    session = new_account()
    consent(session, stub, "recipient:ca", "item:id_number")
    verify(stub, session.account_id)
    answer = post(session, f"{stub.url}/v1/certificates", {"csr": csr()})
    assert answer.status_code == 403
    assert answer.json()["error"] == "certificate_consent_required"
    assert answer.json()["scopes"] == ["purpose:certificate", "item:certificate_info"]


def test_issue_refuses_after_the_certificate_consent_is_withdrawn(stub, new_account) -> None:  # OBL-CERT-2
    session = new_account()
    device = consent(session, stub, *SCOPES)
    decide(session, stub, device, "item:certificate_info", "withdrawn")
    verify(stub, session.account_id)
    answer = post(session, f"{stub.url}/v1/certificates", {"csr": csr()})
    assert answer.json()["scopes"] == ["item:certificate_info"]


def test_issue_refuses_without_the_consent_to_give_the_ca_the_identity(stub, new_account) -> None:  # OBL-CERT-1
    session = new_account()
    consent(session, stub, "purpose:certificate", "item:certificate_info")
    verify(stub, session.account_id)
    answer = post(session, f"{stub.url}/v1/certificates", {"csr": csr()})
    assert answer.json()["scopes"] == ["recipient:ca", "item:id_number"]


def test_an_unsigned_grant_is_not_trusted(stub, new_account) -> None:  # OBL-CERT-2
    session = new_account()
    device = consent(session, stub, "purpose:certificate", "recipient:ca", "item:id_number")
    record = device.unsigned(scope="item:certificate_info", consent_type="separate")
    record["proof"] = {"type": "Ed25519-JCS-2026", "public_key": None, "seq": 99,
                       "prev_hash": "0" * 64, "signature": None}
    other = SigningDevice()  # an unsigned record cannot use a subject whose key is pinned
    record["subject_id"] = other.subject_id
    assert post(session, f"{stub.url}/v1/consent-records", record, record["record_id"]).status_code == 201
    verify(stub, session.account_id)
    answer = post(session, f"{stub.url}/v1/certificates", {"csr": csr()})
    assert answer.json()["scopes"] == ["item:certificate_info"]


def test_the_certificate_subject_is_the_verified_name_and_id_pseudonym(holder: Holder) -> None:  # OBL-CERT-1
    subject = holder.cert.subject
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == NAME
    pseudonym = subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value
    assert pseudonym == RealnameStore(holder.stub.data_dir).pseudonym(ID_NUMBER)
    assert ID_NUMBER not in holder.answer["certificate"] and ID_NUMBER not in subject.rfc4514_string()
    assert holder.answer["subject"] == {"common_name": NAME, "serial_number": pseudonym}


def test_the_certificate_name_keeps_the_middle_dot_byte_for_byte(holder: Holder) -> None:  # OBL-CERT-1
    name = holder.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert name.encode("utf-8") == NAME.encode("utf-8")


def test_the_certificate_is_for_the_csr_key_and_valid_one_year(holder: Holder) -> None:  # OBL-CERT-1
    assert holder.cert.public_key() == holder.key.public_key()
    lifetime = holder.cert.not_valid_after_utc - holder.cert.not_valid_before_utc
    assert dt.timedelta(days=365) <= lifetime <= dt.timedelta(days=365, minutes=10)
    assert holder.serial == format(holder.cert.serial_number, "x")
    assert holder.answer["status"] == "valid"


def test_the_certificate_allows_signing_only(holder: Holder) -> None:  # OBL-CERT-1
    usage = holder.cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert usage.value.digital_signature and usage.value.content_commitment
    assert not (usage.value.key_cert_sign or usage.value.key_encipherment)
    assert list(holder.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        DOCUMENT_SIGNING]
    assert holder.cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False


def test_the_certificate_comes_from_the_user_ca_not_the_tls_ca(holder: Holder) -> None:
    user_ca = x509.load_pem_x509_certificate((holder.stub.data_dir / "user-ca.pem").read_bytes())
    tls_ca = x509.load_pem_x509_certificate(holder.stub.ca_path.read_bytes())
    holder.cert.verify_directly_issued_by(user_ca)
    with pytest.raises((ValueError, InvalidSignature)):
        holder.cert.verify_directly_issued_by(tls_ca)
    eku = holder.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH not in list(eku)


def test_the_user_ca_key_is_readable_by_the_owner_only(holder: Holder) -> None:
    assert (holder.stub.data_dir / "user-ca-key.pem").stat().st_mode & 0o077 == 0


def test_the_csr_subject_is_ignored(stub, ready) -> None:  # OBL-CERT-1
    forged = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Mallory")])
    answer = post(ready, f"{stub.url}/v1/certificates", {"csr": csr(subject=forged)})
    cert = x509.load_pem_x509_certificate(answer.json()["certificate"].encode())
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == NAME


def test_a_csr_whose_signature_does_not_verify_is_refused(stub, ready) -> None:
    request = x509.load_pem_x509_csr(csr().encode())
    der = bytearray(request.public_bytes(serialization.Encoding.DER))
    der[-5] ^= 0x01  # inside the signature
    pem = (b"-----BEGIN CERTIFICATE REQUEST-----\n" + base64.encodebytes(bytes(der))
           + b"-----END CERTIFICATE REQUEST-----\n").decode()
    answer = post(ready, f"{stub.url}/v1/certificates", {"csr": pem})
    assert answer.status_code == 422
    assert answer.json()["error"] == "invalid_csr"


def test_a_csr_for_another_curve_is_refused(stub, ready) -> None:
    answer = post(ready, f"{stub.url}/v1/certificates",
                  {"csr": csr(ec.generate_private_key(ec.SECP384R1()))})
    assert answer.json()["error"] == "invalid_csr"
    assert "P-256" in answer.json()["message"]


def test_a_body_with_another_field_is_refused(stub, ready) -> None:
    answer = post(ready, f"{stub.url}/v1/certificates", {"csr": csr(), "name": NAME})
    assert answer.status_code == 422
    assert answer.json()["error"] == "invalid_request"
    assert NAME not in answer.text


def test_a_new_certificate_revokes_the_previous_one(holder: Holder) -> None:  # OBL-CERT-1
    second = Holder(holder.stub, holder.session)
    listed = holder.session.get(f"{holder.stub.url}/v1/certificates", timeout=10).json()
    assert [(c["serial"], c["status"]) for c in listed["certificates"]] == [
        (second.serial, "valid"), (holder.serial, "revoked")]


def test_the_certificate_information_is_kept_for_signing(holder: Holder) -> None:  # OBL-CERT-1
    (row,) = RealnameStore(holder.stub.data_dir).certificates(holder.session.account_id)
    assert (row.serial, row.common_name) == (holder.serial, NAME)
    assert row.id_pseudonym == holder.answer["subject"]["serial_number"]
    assert x509.load_pem_x509_certificate(row.certificate.encode()) == holder.cert


def test_issuing_logs_the_transfer_of_name_and_id_number_to_the_ca(holder: Holder) -> None:  # OBL-CERT-1
    transfers = holder.session.get(f"{holder.stub.url}/v1/me/third-party-transfers", timeout=10)
    (transfer,) = transfers.json()["transfers"]
    assert (transfer["recipient"], transfer["items"], transfer["purpose"]) == (
        "ca", ["real_name", "id_number"], "certificate")


def test_a_replayed_request_gets_the_same_certificate(stub, ready) -> None:
    body, key = {"csr": csr()}, str(uuid.uuid4())
    first = post(ready, f"{stub.url}/v1/certificates", body, key)
    again = post(ready, f"{stub.url}/v1/certificates", body, key)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["serial"] == first.json()["serial"]


def test_another_account_cannot_replay_an_idempotency_key(stub, new_account) -> None:
    sessions = [new_account(), new_account()]
    for session in sessions:
        consent(session, stub, *SCOPES)
        verify(stub, session.account_id)
    body, key = {"csr": csr()}, str(uuid.uuid4())
    assert post(sessions[0], f"{stub.url}/v1/certificates", body, key).status_code == 201
    answer = post(sessions[1], f"{stub.url}/v1/certificates", body, key)
    assert answer.status_code == 409
    assert NAME not in answer.text


def test_revoking_another_accounts_certificate_is_not_found(holder: Holder, new_account) -> None:
    other = new_account()
    answer = other.delete(f"{holder.stub.url}/v1/certificates/{holder.serial}", timeout=10)
    assert answer.status_code == 404
    assert answer.json()["error"] == "certificate_not_found"


# -- signing -------------------------------------------------------------------------------


def test_a_valid_signature_is_verified_and_recorded(holder: Holder) -> None:  # OBL-CERT-1
    answer = holder.sign()
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["verified"] is True
    assert (body["template_id"], body["certificate_serial"]) == (TEMPLATE, holder.serial)
    records = RealnameStore(holder.stub.data_dir).signing_records(holder.session.account_id)
    assert [r["signature_id"] for r in records] == [body["signature_id"]]


def test_a_signature_over_tampered_bytes_is_refused(holder: Holder) -> None:
    tampered = template_bytes().replace(b"\n", b"\n ", 1)
    answer = holder.sign(tampered, digest_of=template_bytes())
    assert answer.status_code == 422
    assert answer.json()["error"] == "signature_invalid"


def test_signed_bytes_that_are_not_the_template_are_refused(holder: Holder) -> None:
    answer = holder.sign(template_bytes() + b"\n")
    assert answer.status_code == 422
    assert answer.json()["error"] == "template_mismatch"


def test_a_signature_by_another_key_is_refused(holder: Holder) -> None:
    answer = holder.sign(key=ec.generate_private_key(ec.SECP256R1()))
    assert answer.json()["error"] == "signature_invalid"


def test_a_revoked_certificate_cannot_sign(holder: Holder) -> None:
    revoked = holder.session.delete(f"{holder.stub.url}/v1/certificates/{holder.serial}", timeout=10)
    assert revoked.status_code == 204
    answer = holder.sign()
    assert answer.status_code == 403
    assert answer.json()["error"] == "certificate_revoked"


def test_a_superseded_certificate_cannot_sign(holder: Holder) -> None:
    Holder(holder.stub, holder.session)
    assert holder.sign().json()["error"] == "certificate_revoked"


def test_an_expired_certificate_cannot_sign(holder: Holder) -> None:
    signer = ensure_user_ca(holder.stub.data_dir)
    realname = RealnameStore(holder.stub.data_dir)
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=800)
    old = issue_user_certificate(signer, holder.key.public_key(), NAME,
                                 realname.pseudonym(ID_NUMBER), now=past)
    row = realname.add_certificate(holder.session.account_id, old, past)
    answer = holder.sign(serial=row.serial)
    assert answer.status_code == 403
    assert answer.json()["error"] == "certificate_expired"


def test_signing_is_refused_once_verification_no_longer_holds(holder: Holder) -> None:  # OBL-CERT-1
    verify(holder.stub, holder.session.account_id, status="failed")
    answer = holder.sign()
    assert answer.status_code == 403
    assert answer.json()["error"] == "realname_required"


def test_signing_is_refused_after_the_certificate_consent_is_withdrawn(holder: Holder) -> None:  # OBL-CERT-2
    device = SigningDevice()
    decide(holder.session, holder.stub, device, "purpose:certificate", "withdrawn",
           created_at="2026-11-30T04:00:00Z")
    answer = holder.sign()
    assert answer.status_code == 403
    assert answer.json()["error"] == "certificate_consent_required"
    assert answer.json()["scopes"] == ["purpose:certificate"]


def test_signing_needs_no_ca_recipient_consent(holder: Holder) -> None:  # OBL-CERT-2
    decide(holder.session, holder.stub, SigningDevice(), "recipient:ca", "withdrawn",
           created_at="2026-11-30T04:00:00Z")
    assert holder.sign().status_code == 201


def test_another_accounts_certificate_cannot_be_used(holder: Holder, stub, new_account) -> None:
    other = new_account()
    consent(other, stub, *SCOPES)
    verify(stub, other.account_id)
    thief = Holder(stub, other)
    answer = thief.sign(key=holder.key, serial=holder.serial)
    assert answer.status_code == 404
    assert answer.json()["error"] == "certificate_not_found"


def test_an_unknown_template_is_not_found(holder: Holder) -> None:
    body = {"template_id": "mortgage", "sha256": "ab" * 32, "certificate_serial": holder.serial,
            "signature": b64url(holder.key.sign(b"x", ec.ECDSA(hashes.SHA256())))}
    answer = post(holder.session, f"{holder.stub.url}/v1/signatures", body)
    assert answer.status_code == 404
    assert answer.json()["error"] == "template_not_found"


def test_a_malformed_signature_field_is_refused(holder: Holder) -> None:
    body = {"template_id": TEMPLATE, "sha256": hashlib.sha256(template_bytes()).hexdigest(),
            "certificate_serial": holder.serial, "signature": "not base64!"}
    answer = post(holder.session, f"{holder.stub.url}/v1/signatures", body)
    assert answer.status_code == 422
    assert answer.json()["error"] == "invalid_request"


# -- real-name status, pseudonyms, consent rule ----------------------------------------------


def test_the_pseudonym_is_stable_keyed_and_never_the_id_number(tmp_path: Path) -> None:  # OBL-CERT-1
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = RealnameStore(tmp_path / "a"), RealnameStore(tmp_path / "b")
    assert first.pseudonym(ID_NUMBER) == first.pseudonym(ID_NUMBER.lower())
    assert first.pseudonym(ID_NUMBER) != second.pseudonym(ID_NUMBER)
    assert len(first.pseudonym(ID_NUMBER)) == 64 and ID_NUMBER not in first.pseudonym(ID_NUMBER)


def test_the_pseudonym_key_is_readable_by_the_owner_only(tmp_path: Path) -> None:
    store = RealnameStore(tmp_path)
    store.pseudonym(ID_NUMBER)
    assert (tmp_path / "id-pseudonym.key").stat().st_mode & 0o077 == 0


def test_the_status_repr_holds_no_name(tmp_path: Path) -> None:
    store = RealnameStore(tmp_path)
    status = store.set_status("acct", "verified", real_name=NAME, id_pseudonym="ab" * 32)
    assert NAME not in repr(status) and "ab" * 32 not in repr(status)
    assert store.get_status("acct") == status


def test_a_verified_status_needs_name_and_pseudonym(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        RealnameStore(tmp_path).set_status("acct", "verified", real_name=NAME)


def test_the_latest_decision_across_devices_wins() -> None:  # OBL-CERT-2
    a, b = SigningDevice(), SigningDevice()
    records = [a.record(scope="purpose:certificate", decision="withdrawn",
                        created_at="2026-11-30T03:00:00Z"),
               b.record(scope="purpose:certificate", created_at="2026-11-30T04:00:00Z"),
               a.record(scope="policy")]
    assert missing_consents(records, ("purpose:certificate",)) == ()


def test_a_withdrawal_wins_a_tie_between_devices() -> None:  # OBL-CERT-2
    a, b = SigningDevice(), SigningDevice()
    records = [a.record(scope="policy"), a.record(scope="purpose:certificate"),
               b.record(scope="purpose:certificate", decision="withdrawn")]
    assert missing_consents(records, ("purpose:certificate",)) == ("purpose:certificate",)


def test_a_device_s_later_record_wins_within_the_same_second() -> None:  # OBL-CERT-2
    a = SigningDevice()
    records = [a.record(scope="policy"), a.record(scope="purpose:certificate", decision="withdrawn"),
               a.record(scope="purpose:certificate")]
    assert missing_consents(records, ("purpose:certificate",)) == ()


def test_the_dev_realname_endpoint_is_absent_outside_dev_mode(tmp_path: Path, policy_dir: Path) -> None:
    settings = Settings(data_dir=tmp_path / "prod", policy_dir=policy_dir)
    with start_in_thread(settings) as server, https_session(server) as session:
        answer = session.put(f"{server.url}/v1/dev/realname/status", json={"status": "verified"},
                             timeout=10)
        assert answer.status_code == 404
        assert answer.json()["error"] == "not_found"


def test_the_dev_realname_endpoint_stores_only_the_pseudonym(stub, new_account) -> None:
    session = new_account()
    answer = session.put(f"{stub.url}/v1/dev/realname/status", timeout=10,
                         json={"status": "verified", "real_name": NAME, "id_number": ID_NUMBER})
    assert answer.status_code == 204
    status = RealnameStore(stub.data_dir).get_status(session.account_id)
    assert status is not None and status.verified
    for name in ("stub.db", "stub.db-wal"):
        path = stub.data_dir / name
        assert not path.exists() or ID_NUMBER.encode() not in path.read_bytes()
