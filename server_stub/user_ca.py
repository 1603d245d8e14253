"""The stub's user CA: issues users' signing certificates from their CSRs (OBL-CERT-1).

It stands in for the third-party CA of the policy manifest (recipient ``ca``) and is kept
apart from the TLS dev CA (:mod:`server_stub.ca`): its own key, its own self-signed
certificate, never in a client's TLS trust store, so a user certificate can never pass as a
server certificate and a TLS key never signs a user certificate.

Files in the data dir (PEM)::

    user-ca.pem       the user CA's certificate, EC P-256, 10 years, pathLen 0,
                      keyCertSign + cRLSign
    user-ca-key.pem   its private key (PKCS#8, unencrypted, mode 0600)

A user certificate (:func:`issue_user_certificate`), X.509 v3 (RFC 5280):

- subject: ``CN`` = the verified real name (UTF8String, exactly as verified) and
  ``serialNumber`` (2.5.4.5) = the ID-number pseudonym (an HMAC made by
  :mod:`server_stub.realname_store`, never the ID number);
- public key: the device's EC P-256 key from the CSR (whose signature proves possession);
  nothing else is taken from the CSR;
- validity: 1 year (backdated 5 minutes for clock skew); serial: 159 random bits;
- extensions: BasicConstraints ``cA=FALSE`` (critical), KeyUsage digitalSignature +
  nonRepudiation (contentCommitment) (critical), ExtendedKeyUsage id-kp-documentSigning
  (1.3.6.1.5.5.7.3.36, RFC 9336), SubjectKeyIdentifier, AuthorityKeyIdentifier.

This is a development CA: its key is not encrypted; never trust it outside tests.
"""

from __future__ import annotations

import datetime as _dt
import logging
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, ObjectIdentifier

from .ca import CaSigner, DevCaError, create_self_signed_ca

__all__ = [
    "DOCUMENT_SIGNING",
    "USER_CA_CERT",
    "USER_CA_KEY",
    "USER_CERT_VALIDITY",
    "CsrError",
    "ensure_user_ca",
    "issue_user_certificate",
    "load_csr",
]

logger = logging.getLogger("server_stub")

USER_CA_CERT = "user-ca.pem"
USER_CA_KEY = "user-ca-key.pem"
USER_CA_VALIDITY = _dt.timedelta(days=3650)
#: Validity of a user certificate.
USER_CERT_VALIDITY = _dt.timedelta(days=365)
#: id-kp-documentSigning (RFC 9336).
DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.5.5.7.3.36")

_MAX_CSR_PEM = 8 * 1024
_lock = threading.Lock()


class CsrError(ValueError):
    """A CSR that cannot be used; the message says why and never quotes it."""


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=not ca,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _create_user_ca(data_dir: Path, now: _dt.datetime) -> CaSigner:
    return create_self_signed_ca(data_dir, now, cert_file=USER_CA_CERT, key_file=USER_CA_KEY,
                                 label="user CA", validity=USER_CA_VALIDITY)


def ensure_user_ca(data_dir: Path) -> CaSigner:
    """The user CA of ``data_dir``, made on first use (thread-safe within the process).

    Raises:
        DevCaError: only one of the two files exists, they do not match, or the CA expired.
        OSError: the data dir cannot be written.
    """
    data_dir = Path(data_dir)
    cert_path, key_path = data_dir / USER_CA_CERT, data_dir / USER_CA_KEY
    with _lock:
        if not cert_path.exists() and not key_path.exists():
            data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            return _create_user_ca(data_dir, _dt.datetime.now(_dt.timezone.utc))
        try:
            cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as exc:
            raise DevCaError(
                f"the user CA files {USER_CA_CERT} / {USER_CA_KEY} in {data_dir} are unusable "
                f"({type(exc).__name__}); delete both to make a new user CA"
            ) from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != cert.public_key():
            raise DevCaError(f"{key_path} is not the key of {cert_path}; delete both files")
        if cert.not_valid_after_utc <= _dt.datetime.now(_dt.timezone.utc):
            raise DevCaError(f"the user CA {cert_path} has expired; delete both files")
        return CaSigner(cert=cert, key=key)


def load_csr(pem: str) -> ec.EllipticCurvePublicKey:
    """The public key of a PKCS #10 request (RFC 2986) after checking it.

    Checked: exactly one PEM ``CERTIFICATE REQUEST`` of at most 8 KiB, its signature verifies
    with its own key (proof of possession), the key is EC P-256. The subject, attributes and
    requested extensions are ignored: the CA decides every field of the certificate.

    Raises:
        CsrError: what is wrong (never the CSR's content).
    """
    data = pem.encode("ascii", "replace")
    if len(data) > _MAX_CSR_PEM or data.count(b"-----BEGIN CERTIFICATE REQUEST-----") != 1:
        raise CsrError("field 'csr' must be one PEM-encoded PKCS #10 certificate request")
    try:
        csr = x509.load_pem_x509_csr(data)
    except ValueError:
        raise CsrError("field 'csr' is not a valid PKCS #10 certificate request") from None
    try:
        valid = csr.is_signature_valid
        public_key = csr.public_key()
    except (ValueError, TypeError):  # unsupported key type or signature algorithm
        raise CsrError("field 'csr' uses an unsupported key or signature algorithm") from None
    if not valid:
        raise CsrError("the CSR's signature does not verify with its key (no proof of possession)")
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(
            public_key.curve, ec.SECP256R1):
        raise CsrError("the CSR's key must be an EC P-256 (secp256r1) key")
    return public_key


def issue_user_certificate(
    signer: CaSigner,
    public_key: ec.EllipticCurvePublicKey,
    real_name: str,
    id_pseudonym: str,
    *,
    now: _dt.datetime | None = None,
    validity: _dt.timedelta = USER_CERT_VALIDITY,
) -> x509.Certificate:
    """Sign a user certificate (see the module docstring for its fields).

    Args:
        signer: the user CA (:func:`ensure_user_ca`).
        public_key: the device's key from the CSR (:func:`load_csr`).
        real_name: the verified name, unchanged (at most 64 characters: X.520 ub-common-name).
        id_pseudonym: the ID-number pseudonym (64 hex characters).
        now: aware UTC issue time (tests issue certificates in the past); default now.
        validity: how long it is valid from *now*.

    Raises:
        ValueError: an empty or over-long name or pseudonym.
    """
    if not real_name or len(real_name) > 64:
        raise ValueError("the real name must be 1 to 64 characters for a certificate CN")
    if not id_pseudonym or len(id_pseudonym) > 64:
        raise ValueError("the ID pseudonym must be 1 to 64 characters")
    subject = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, real_name),
        x509.NameAttribute(NameOID.SERIAL_NUMBER, id_pseudonym),
    ])
    return signer.issue(
        subject=subject,
        public_key=public_key,
        extensions=[
            (_key_usage(ca=False), True),
            (x509.ExtendedKeyUsage([DOCUMENT_SIGNING]), False),
        ],
        validity=validity,
        now=now,
    )
