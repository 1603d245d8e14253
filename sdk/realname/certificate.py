"""The user's digital certificate: a device key, a CSR to the CA, the issued X.509 certificate.

OBL-CERT-1: after real-name verification a CA issues a digital certificate; the service keeps
its public information (name, ID information, serial number) for signing. OBL-CERT-2: without
the user's permission to keep that information, nothing is issued and nothing is signed.
Wire format: docs/protocol.md, "Certificates and signing"; the user's view: docs/realname.md.

How it works (:class:`CertificateManager`)::

    request()   1. refuse unless real-name verification passed (RealnameRequired) and the
                   certificate consents are in place (CertificateConsentRequired): nothing
                   is sent otherwise
                2. the device key (:class:`CertificateKey`, EC P-256, made on the device) is
                   loaded, or made and stored *wrapped by the OS keystore* before anything is
                   sent (one helper for every wrapped key:
                   :func:`sdk.storage.keystore.load_or_create_wrapped`)
                3. a PKCS #10 CSR (RFC 2986) with an **empty subject** (the device sends no
                   personal data; the server fills the subject from the verified identity)
                   goes to ``POST /v1/certificates``
                4. the answer is checked (X.509, for this device's key, not a CA, key usage
                   digitalSignature + nonRepudiation) and stored in the encrypted store
    current()   the stored certificate as :class:`CertificateInfo` (subject, serial, validity)
    forget()    revoke it on the server, delete it and its key from the device

What the device keeps, all in the :class:`~sdk.storage.store.EncryptedStore` (AES-256-GCM,
namespace ``certificate``, purpose ``certificate``), never in a plain file:

- ``certificate/device_key``: the key's 32-byte private scalar, wrapped by the keystore
  (key id ``certificate-signing-v1``), so the store alone cannot reveal it;
- ``certificate/certificate``: the issued certificate (PEM). Its subject holds the real name
  (``CN``) and a *pseudonym* of the ID number (``serialNumber``: an HMAC the server computes
  with a secret of its own). The ID number itself never reaches the device from this module
  and is never stored by it.

Errors (all :class:`~sdk.errors.SdkError`; messages never hold personal data)::

    CertificateError                    certificate or signing refused
    ├── RealnameRequired                real-name verification has not passed
    ├── CertificateRequired             no usable certificate on this device: request one
    │   ├── CertificateExpired          outside its validity period
    │   └── CertificateRevoked          the server revoked it (e.g. a newer one was issued)
    ├── SignatureRejected               the server did not accept a signature (sdk.realname.signing)
    └── CertificateConsentRequired      (also a ConsentRequired) a consent is missing or
                                        withdrawn; ``.scopes`` names it (OBL-CERT-2)

``cryptography`` is imported on first use, so importing this module stays cheap.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from ..errors import (
    ConsentRequired,
    KeystoreError,
    KeystoreTimeout,
    KeystoreUnavailable,
    SdkError,
    ServerError,
    TransportError,
)

if TYPE_CHECKING:  # pragma: no cover
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

    from ..storage.keystore import KeystoreBackend
    from ..storage.store import EncryptedStore
    from ..transport.client import ApiClient

__all__ = [
    "CA_ITEMS",
    "CA_RECIPIENT",
    "CERTIFICATE_ITEM",
    "CERTIFICATE_KEY_ID",
    "CERTIFICATE_PURPOSE",
    "ISSUE_SCOPES",
    "SIGN_SCOPES",
    "STORE_NAMESPACE",
    "CertificateConsentRequired",
    "CertificateError",
    "CertificateExpired",
    "CertificateInfo",
    "CertificateKey",
    "CertificateManager",
    "CertificateRequired",
    "CertificateRevoked",
    "ConsentGate",
    "RealnameRequired",
    "SignatureRejected",
    "parse_certificate",
    "serial_hex",
]

log = logging.getLogger("sdk.realname")

#: Keystore key id of the wrapping key that protects the certificate key.
CERTIFICATE_KEY_ID = "certificate-signing-v1"
#: Encrypted-store namespace of the certificate and its wrapped key.
STORE_NAMESPACE = "certificate"
#: The manifest purpose both are stored for, and whose consent they need.
CERTIFICATE_PURPOSE = "certificate"
#: The manifest data item "certificate information" (sensitive: its own consent).
CERTIFICATE_ITEM = "certificate_info"
#: The manifest recipient the server gives the real name and ID number to for issuing.
CA_RECIPIENT = "ca"
#: What the CA receives (manifest data item ids).
CA_ITEMS: tuple[str, ...] = ("real_name", "id_number")
#: Consent scopes issuing needs besides the policy: keep the certificate information, and
#: give the real name and the ID number (sensitive: its own consent) to the CA (PIPL art. 23,
#: 29); ``share("ca", ...)`` checks the last two.
ISSUE_SCOPES: tuple[str, ...] = (
    "purpose:certificate", "item:certificate_info", "recipient:ca", "item:id_number")
#: Consent scopes signing needs besides the policy (OBL-CERT-2).
SIGN_SCOPES: tuple[str, ...] = ("purpose:certificate", "item:certificate_info")

_KEY_NAME = "device_key"
_CERT_NAME = "certificate"
_SCALAR_SIZE = 32  # P-256 private scalar
_MAX_PEM = 16 * 1024


# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------


class CertificateError(SdkError):
    """A certificate could not be issued or used, or a signature was refused."""


class RealnameRequired(CertificateError):
    """Real-name verification has not passed for this account: no certificate is issued and
    nothing is signed until it has (OBL-CERT-1). Run the verification first."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message
            or "real-name verification has not passed for this account; complete it before "
            "requesting a certificate or signing a contract"
        )


class CertificateRequired(CertificateError):
    """There is no usable certificate on this device: request one
    (:meth:`CertificateManager.request`)."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message
            or "there is no certificate on this device; request one (privacy.certificate."
            "request()) after real-name verification"
        )


class CertificateExpired(CertificateRequired):
    """The certificate is outside its validity period; request a new one."""


class CertificateRevoked(CertificateRequired):
    """The server revoked the certificate (a newer one was issued, or the user revoked it);
    it was removed from the device. Request a new one."""


class SignatureRejected(CertificateError):
    """The server did not accept a contract signature.

    Attributes:
        code: the server's ``error`` code: ``signature_invalid`` (the signature does not
            verify with the certificate over the server's template bytes) or
            ``template_mismatch`` (the bytes signed are not the server's template).
    """

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


class CertificateConsentRequired(ConsentRequired, CertificateError):
    """A consent the certificate needs is missing or withdrawn (OBL-CERT-2): the permission to
    keep the certificate information (``purpose:certificate``, ``item:certificate_info``) and,
    for issuing, to give the real name and ID number to the CA (``recipient:ca``,
    ``item:id_number``).

    A :class:`~sdk.errors.ConsentRequired`: ``.scopes`` lists what to ask
    (``ask_for_feature(privacy, "realname_signing", ...)`` asks exactly those).
    """


# --------------------------------------------------------------------------------------
# The consent gate the manager needs (PrivacySdk provides it)
# --------------------------------------------------------------------------------------


class ConsentGate(Protocol):
    """What :class:`CertificateManager` needs of the consent engine: the SDK's gates
    (:meth:`sdk.PrivacySdk.collect` and :meth:`sdk.PrivacySdk.share`), which raise
    :class:`~sdk.errors.ConsentRequired` naming the missing scopes and write the audit
    trail. A :class:`sdk.PrivacySdk` is one."""

    def collect(self, item_id: str, purpose: str, feature: str | None = None) -> Any: ...

    def share(self, recipient: str, items: Iterable[str], feature: str | None = None) -> Any: ...


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


def _utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def serial_hex(serial: int) -> str:
    """A certificate serial number as the wire spells it: lowercase hex, no leading zeros."""
    return format(serial, "x")


def _rfc3339(moment: _dt.datetime) -> str:
    return moment.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------------------
# The certificate as the app shows it
# --------------------------------------------------------------------------------------

Status = Literal["valid", "expired", "not_yet_valid"]


@dataclass(frozen=True)
class CertificateInfo:
    """What the certificate says, for the app to show ("证书信息"). ``repr`` leaves out the
    name, the pseudonym and the PEM (they are personal data).

    Attributes:
        serial: the certificate serial number, lowercase hex (``certificate_serial`` on the wire).
        common_name: the subject's ``CN``: the verified real name, byte for byte as verified
            (a middle dot stays the character it was).
        id_pseudonym: the subject's ``serialNumber``: a keyed hash of the ID number made by
            the server (64 hex characters); never the ID number.
        subject: the whole subject, RFC 4514 (e.g. ``2.5.4.5=…,CN=…``).
        issuer: the issuing CA's name, RFC 4514.
        not_before, not_after: the validity period (aware UTC datetimes).
        fingerprint: ``"sha256:" + hex`` of the certificate's DER encoding.
        pem: the certificate, PEM.
    """

    serial: str
    common_name: str = field(repr=False)
    id_pseudonym: str | None = field(repr=False)
    subject: str = field(repr=False)
    issuer: str
    not_before: _dt.datetime
    not_after: _dt.datetime
    fingerprint: str
    pem: str = field(repr=False)

    @property
    def serial_display(self) -> str:
        """The serial as certificate viewers show it: upper-case hex pairs joined by ``:``."""
        text = self.serial.upper()
        text = "0" * (len(text) % 2) + text
        return ":".join(text[i:i + 2] for i in range(0, len(text), 2))

    def status(self, at: _dt.datetime | None = None) -> Status:
        """``valid``, ``expired`` or ``not_yet_valid`` at *at* (aware; default now)."""
        at = _utcnow() if at is None else at
        if at < self.not_before:
            return "not_yet_valid"
        if at >= self.not_after:
            return "expired"
        return "valid"

    def is_valid(self, at: _dt.datetime | None = None) -> bool:
        """True when *at* (default now) is inside the validity period."""
        return self.status(at) == "valid"

    def to_dict(self) -> dict[str, str]:
        """For the UI: ``{"common_name", "id_pseudonym", "serial", "issuer", "not_before",
        "not_after", "fingerprint"}`` (times RFC 3339 UTC)."""
        return {
            "common_name": self.common_name,
            "id_pseudonym": self.id_pseudonym or "",
            "serial": self.serial,
            "issuer": self.issuer,
            "not_before": _rfc3339(self.not_before),
            "not_after": _rfc3339(self.not_after),
            "fingerprint": self.fingerprint,
        }


def _load_certificate(pem: str | bytes) -> x509.Certificate:
    from cryptography import x509

    data = pem.encode("ascii", "replace") if isinstance(pem, str) else bytes(pem)
    if len(data) > _MAX_PEM or data.count(b"-----BEGIN CERTIFICATE-----") != 1:
        raise CertificateError("the certificate must be exactly one PEM-encoded X.509 certificate")
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError as exc:
        raise CertificateError("the certificate is not a valid PEM-encoded X.509 certificate") from exc


def parse_certificate(pem: str | bytes) -> CertificateInfo:
    """Read a PEM certificate into a :class:`CertificateInfo`.

    Raises:
        CertificateError: not exactly one valid X.509 certificate, or its subject has no
            ``CN``.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import NameOID

    cert = _load_certificate(pem)
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(names) != 1 or not isinstance(names[0].value, str):
        raise CertificateError("the certificate's subject has no single common name (CN)")
    pseudonyms = cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    der = cert.public_bytes(serialization.Encoding.DER)
    return CertificateInfo(
        serial=serial_hex(cert.serial_number),
        common_name=names[0].value,
        id_pseudonym=str(pseudonyms[0].value) if pseudonyms else None,
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        fingerprint="sha256:" + hashlib.sha256(der).hexdigest(),
        pem=cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
    )


# --------------------------------------------------------------------------------------
# The device key
# --------------------------------------------------------------------------------------


class CertificateKey:
    """The device's certificate key: ECDSA on P-256 (FIPS 186-5), made on the device.

    Its private scalar exists in clear only in this object's memory and is stored only
    wrapped by the OS keystore (:meth:`load_or_create`). It is never exposed, logged or shown
    in ``repr``.
    """

    __slots__ = ("_private",)

    def __init__(self, private_key: ec.EllipticCurvePrivateKey) -> None:
        """Wrap a ``cryptography`` P-256 private key (use :meth:`load_or_create`)."""
        from cryptography.hazmat.primitives.asymmetric import ec

        if not isinstance(private_key, ec.EllipticCurvePrivateKey) or not isinstance(
                private_key.curve, ec.SECP256R1):
            raise TypeError("CertificateKey needs an EC P-256 (secp256r1) private key")
        self._private = private_key

    @classmethod
    def load_or_create(
        cls, keystore: KeystoreBackend, blob: bytes | None, key_id: str = CERTIFICATE_KEY_ID
    ) -> tuple[CertificateKey, bytes]:
        """The key from its wrapped *blob*, or a new key when *blob* is ``None``.

        Returns:
            ``(key, blob)``; a new blob must be stored before the key is used.

        Raises:
            KeystoreError: the blob does not unwrap or holds no valid P-256 scalar.
            KeystoreUnavailable, KeystoreTimeout: from the keystore.
        """
        from cryptography.hazmat.primitives.asymmetric import ec

        from ..storage.keystore import load_or_create_wrapped

        def new_scalar() -> bytes:
            private = ec.generate_private_key(ec.SECP256R1())
            return private.private_numbers().private_value.to_bytes(_SCALAR_SIZE, "big")

        scalar, stored = load_or_create_wrapped(
            keystore, key_id, blob, new_scalar, size=_SCALAR_SIZE,
            what="certificate key (a P-256 private scalar)",
        )
        try:
            private = ec.derive_private_key(int.from_bytes(scalar, "big"), ec.SECP256R1())
        except ValueError as exc:
            raise KeystoreError(
                "the stored certificate key is not a valid P-256 key; request a new certificate"
            ) from exc
        return cls(private), stored

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        """The public key (goes into the CSR and the certificate)."""
        return self._private.public_key()

    def public_key_der(self) -> bytes:
        """The public key as DER SubjectPublicKeyInfo."""
        from cryptography.hazmat.primitives import serialization

        return self.public_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)

    def csr_pem(self) -> str:
        """A PKCS #10 certification request (RFC 2986) for this key, signed with it (proof of
        possession), with an **empty subject** and no attributes: the device sends no personal
        data; the server fills the subject from the verified identity."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization

        csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([])).sign(
            self._private, hashes.SHA256())
        return csr.public_bytes(serialization.Encoding.PEM).decode("ascii")

    def sign(self, data: bytes) -> bytes:
        """ECDSA with SHA-256 over *data* (the exact bytes); DER ``Ecdsa-Sig-Value`` (RFC 3279)."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        return self._private.sign(bytes(data), ec.ECDSA(hashes.SHA256()))

    def matches(self, pem: str | bytes) -> bool:
        """True when the certificate *pem* certifies this key."""
        from cryptography.hazmat.primitives import serialization

        cert_key = _load_certificate(pem).public_key()
        return cert_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ) == self.public_key_der()

    def __repr__(self) -> str:
        digest = hashlib.sha256(self.public_key_der()).hexdigest()
        return f"<CertificateKey P-256 sha256:{digest[:16]}…>"


# --------------------------------------------------------------------------------------
# The manager
# --------------------------------------------------------------------------------------


class CertificateManager:
    """Requests, keeps and forgets the user's certificate (see the module docstring).

    Args:
        api: the SDK's :class:`~sdk.transport.client.ApiClient` (with the session cookie:
            issuing and signing need a logged-in account).
        store: the encrypted store (``privacy.store``); the manifest must declare the purpose
            ``certificate``.
        keystore: the OS keystore (``privacy``'s backend) that wraps the certificate key.
        consent: the consent gates (a :class:`sdk.PrivacySdk`), see :class:`ConsentGate`.
        is_verified: returns True when the account has passed real-name verification (the
            real-name flow's result); checked before anything is sent. The server checks
            again.
        clock: the current time as an aware UTC datetime (``SdkConfig.clock``).
        feature: the manifest feature named in the audit trail.
        key_id: the keystore key id of the certificate key's wrapping key.
        account: returns the id of the account logged in, or ``None`` (``sdk.PrivacySdk``
            passes :meth:`sdk.PrivacySdk.current_account_id`). With it, the certificate, its
            key and the key's wrapping key are kept **per account** (store keys
            ``certificate:<h>`` and ``device_key:<h>``, keystore id ``<key_id>:<h>``, *h* a
            hash of the account id): on a shared device another account sees and uses none of
            them, and with no account known there is no certificate. Without it (``None``)
            one certificate per store, under ``certificate`` and ``device_key``.

    Safe to share between threads.
    """

    def __init__(
        self,
        api: ApiClient,
        store: EncryptedStore,
        keystore: KeystoreBackend,
        *,
        consent: ConsentGate,
        is_verified: Callable[[], bool],
        clock: Callable[[], _dt.datetime] = _utcnow,
        feature: str = "realname_signing",
        key_id: str = CERTIFICATE_KEY_ID,
        account: Callable[[], str | None] | None = None,
    ) -> None:
        self.api = api
        self.store = store
        self.keystore = keystore
        self.consent = consent
        self.feature = feature
        self.key_id = key_id
        self._is_verified = is_verified
        self._clock = clock
        self._account = account
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"<CertificateManager feature={self.feature!r}>"

    # -- where this account's certificate is kept ------------------------------------------

    def _names(self) -> tuple[str, str, str] | None:
        """``(certificate key, device key key, keystore key id)`` in the store for the account
        logged in; ``None`` when accounts are in use and none is known (no certificate)."""
        if self._account is None:
            return _CERT_NAME, _KEY_NAME, self.key_id
        account_id = self._account()
        if not account_id:
            return None
        scope = account_scope(account_id)
        return f"{_CERT_NAME}:{scope}", f"{_KEY_NAME}:{scope}", f"{self.key_id}:{scope}"

    def _require_names(self) -> tuple[str, str, str]:
        names = self._names()
        if names is None:
            from ..errors import NotLoggedIn

            raise NotLoggedIn("the certificate belongs to an account; log in first")
        return names

    # -- checks ---------------------------------------------------------------------------

    def _now(self) -> _dt.datetime:
        return self._clock().astimezone(_dt.timezone.utc)

    def _require_verified(self) -> None:
        if not self._is_verified():
            raise RealnameRequired()

    def _require_consent(self, action: str, *, issuing: bool) -> None:
        """The consent gates (audited); :class:`CertificateConsentRequired` on a refusal."""
        try:
            self.consent.collect(CERTIFICATE_ITEM, CERTIFICATE_PURPOSE, feature=self.feature)
            if issuing:
                self.consent.share(CA_RECIPIENT, CA_ITEMS, feature=self.feature)
        except ConsentRequired as exc:
            scopes = exc.scopes or (ISSUE_SCOPES if issuing else SIGN_SCOPES)
            raise CertificateConsentRequired(
                CERTIFICATE_PURPOSE,
                f"{action} needs the user's consent to {', '.join(scopes)}, which is missing or "
                "was withdrawn; ask for it (ask_for_feature(privacy, 'realname_signing', ...)) "
                "and try again (OBL-CERT-2)",
                scopes,
            ) from exc

    # -- reading --------------------------------------------------------------------------

    def current(self) -> CertificateInfo | None:
        """The certificate stored on this device, or ``None``. No network, no consent check
        (it only shows what the device holds); expired ones are returned too: see
        :meth:`CertificateInfo.status`.

        Raises:
            IntegrityError, StorageError: the encrypted store failed.
            CertificateError: the stored value is not a certificate (delete it with
                :meth:`forget`).
        """
        names = self._names()
        if names is None:
            return None
        pem = self.store.get_text(STORE_NAMESPACE, names[0])
        return None if pem is None else parse_certificate(pem)

    def _stored_key(self) -> CertificateKey | None:
        names = self._names()
        if names is None:
            return None
        blob = self.store.get(STORE_NAMESPACE, names[1])
        if blob is None:
            return None
        key, _ = CertificateKey.load_or_create(self.keystore, blob, names[2])
        return key

    def _key_for_request(self) -> CertificateKey:
        """The stored key, or a new one stored (wrapped) before it is used."""
        cert_name, key_name, key_id = self._require_names()
        try:
            key = self._stored_key()
        except (KeystoreUnavailable, KeystoreTimeout):
            raise
        except KeystoreError:
            # The wrapping key is gone (keystore reset): the old certificate is unusable
            # anyway. A new key for a new certificate; the server revokes the old one.
            log.warning("the certificate key can no longer be unwrapped; making a new one")
            self.store.delete(STORE_NAMESPACE, cert_name)
            self.store.delete(STORE_NAMESPACE, key_name)
            key = None
        if key is None:
            key, blob = CertificateKey.load_or_create(self.keystore, None, key_id)
            self.store.put(STORE_NAMESPACE, key_name, blob, purpose=CERTIFICATE_PURPOSE)
        return key

    def signing_credentials(self) -> tuple[CertificateInfo, CertificateKey]:
        """The certificate and its key, after every local check signing needs, in this order:
        real-name verification, the certificate consents (audited), a stored certificate,
        its validity, its key. For :mod:`sdk.realname.signing`; sends nothing.

        Raises:
            RealnameRequired, CertificateConsentRequired, CertificateRequired,
            CertificateExpired: as named.
            KeystoreUnavailable, KeystoreTimeout: the keystore cannot unwrap the key now.
        """
        self._require_verified()
        self._require_consent("signing a contract", issuing=False)
        with self._lock:
            info = self.current()
            if info is None:
                raise CertificateRequired()
            status = info.status(self._now())
            if status != "valid":
                raise CertificateExpired(
                    f"the certificate is {status.replace('_', ' ')} (valid from "
                    f"{_rfc3339(info.not_before)} to {_rfc3339(info.not_after)}); request a new one"
                )
            try:
                key = self._stored_key()
            except (KeystoreUnavailable, KeystoreTimeout):
                raise
            except KeystoreError as exc:
                raise CertificateRequired(
                    "the certificate's key can no longer be unwrapped by the keystore (it was "
                    "reset); request a new certificate"
                ) from exc
            if key is None or not key.matches(info.pem):
                raise CertificateRequired(
                    "the certificate's key is not on this device; request a new certificate")
            return info, key

    # -- issuing --------------------------------------------------------------------------

    def request(self) -> CertificateInfo:
        """Ask the CA for a certificate for this device's key; store and return it
        (OBL-CERT-1). A certificate the account had before is revoked by the server.

        Nothing is sent unless real-name verification passed and the consents to keep the
        certificate information and to give the real name and ID number to the CA are in
        place; the server checks both again.

        Raises:
            RealnameRequired: not verified (here or, answer 403 ``realname_required``, on the
                server).
            CertificateConsentRequired: a consent is missing or withdrawn (here or, 403
                ``certificate_consent_required``, on the server).
            NotLoggedIn: no session (401).
            CertificateError: the server's answer is not a certificate for this device's key.
            KeystoreError: the keystore cannot wrap the new key (no certificate without one).
            TransportError, ServerError: the request failed.
        """
        self._require_verified()
        self._require_consent("requesting a certificate", issuing=True)
        with self._lock:
            key = self._key_for_request()
            what = "POST /v1/certificates"
            try:
                answer = self.api.post_json(
                    "/certificates", {"csr": key.csr_pem()}, str(uuid.uuid4()))
            except ServerError as exc:
                mapped = _mapped(exc, issuing=True)
                if mapped is exc:
                    raise
                raise mapped from exc
            if not isinstance(answer, Mapping) or not isinstance(answer.get("certificate"), str):
                raise TransportError(f"{what}: the server's answer has no 'certificate' string")
            info = self._install(answer["certificate"], key)
            if answer.get("serial") not in (None, info.serial):
                raise CertificateError(f"{what}: the answer's serial is not the certificate's")
            return info

    def install(self, pem: str | bytes) -> CertificateInfo:
        """Store a certificate issued for this device's key (what :meth:`request` does with
        the server's answer); replaces the stored one.

        Raises:
            CertificateRequired: there is no device key yet (call :meth:`request`).
            CertificateError: not a certificate for this device's key, a CA certificate, or
                without the key usages digitalSignature and nonRepudiation.
        """
        with self._lock:
            key = self._stored_key()
            if key is None:
                raise CertificateRequired(
                    "there is no certificate key on this device; call request() instead")
            return self._install(pem, key)

    def _install(self, pem: str | bytes, key: CertificateKey) -> CertificateInfo:
        from cryptography import x509

        cert = _load_certificate(pem)
        if not key.matches(pem):
            raise CertificateError("the certificate is not for this device's key")
        try:
            basic = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
            if basic.ca:
                raise CertificateError("a CA certificate cannot be a user's signing certificate")
        except x509.ExtensionNotFound:
            pass
        try:
            usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        except x509.ExtensionNotFound:
            usage = None
        if usage is None or not (usage.digital_signature and usage.content_commitment):
            raise CertificateError(
                "the certificate does not allow signing (key usage digitalSignature and "
                "nonRepudiation are required)")
        info = parse_certificate(pem)
        self.store.put(STORE_NAMESPACE, self._require_names()[0], info.pem,
                       purpose=CERTIFICATE_PURPOSE)
        return info

    # -- forgetting -----------------------------------------------------------------------

    def forget(self, *, revoke: bool = True) -> bool:
        """Delete the certificate and its key from the device, e.g. when the user withdraws
        the consent to keep the certificate information (OBL-CERT-2) or clears their data.

        Args:
            revoke: first ask the server to revoke it (``DELETE /v1/certificates/{serial}``);
                best effort: the device forgets it even when the server cannot be reached.

        Returns:
            True when the server confirmed the revocation (False when not asked, not
            reachable, or there was nothing to revoke).

        Raises:
            StorageError, KeystoreError: the device could not delete it.
        """
        with self._lock:
            confirmed = False
            names = self._names()
            if names is None:
                return False  # no account known: nothing of anyone's is touched
            try:
                info = self.current()
            except CertificateError:
                info = None
            if revoke and info is not None:
                what = "DELETE /v1/certificates/{serial}"
                try:
                    self.api.request("DELETE", f"/certificates/{info.serial}", what=what).close()
                    confirmed = True
                except SdkError as exc:
                    log.warning("certificate forgotten on the device; revoking it on the server "
                                "failed (%s)", type(exc).__name__)
            self.store.delete(STORE_NAMESPACE, names[0])
            self.store.delete(STORE_NAMESPACE, names[1])
            self.keystore.delete(names[2])
            return confirmed

    def forget_all_on_device(self) -> int:
        """Delete every account's certificate and key from this device, without asking the
        server (the withdrawal of the device's consent to keep certificate information, or
        "clear all data"). Returns how many store entries were deleted."""
        with self._lock:
            key_ids = {self.key_id}
            deleted = 0
            for entry in self.store.entries(STORE_NAMESPACE):
                if entry.key.startswith(f"{_KEY_NAME}:"):
                    key_ids.add(f"{self.key_id}:{entry.key[len(_KEY_NAME) + 1:]}")
                deleted += bool(self.store.delete(STORE_NAMESPACE, entry.key))
            for key_id in sorted(key_ids):
                try:
                    self.keystore.delete(key_id)
                except KeystoreError as exc:
                    log.info("a certificate wrapping key could not be deleted (%s)",
                             type(exc).__name__)
            return deleted

    def _drop_certificate(self) -> None:
        """Delete the stored certificate (the server no longer accepts it); the key stays for
        the next request."""
        with self._lock:
            names = self._names()
            if names is not None:
                self.store.delete(STORE_NAMESPACE, names[0])


def account_scope(account_id: str) -> str:
    """The short hash of an account id the device's per-account entries are keyed by (the
    certificate, its key, the kept verification): no account id in key names."""
    return hashlib.sha256(f"privacy-sdk/account/{account_id}".encode()).hexdigest()[:32]


def _mapped(exc: ServerError, *, issuing: bool) -> SdkError:
    """The SDK error for a server refusal of a certificate or signing request."""
    code = exc.code
    if code == "realname_required":
        return RealnameRequired(
            "the server says real-name verification has not passed for this account; complete "
            "it first")
    if code == "certificate_consent_required":
        scopes = ISSUE_SCOPES if issuing else SIGN_SCOPES
        return CertificateConsentRequired(
            CERTIFICATE_PURPOSE,
            "the server holds no current consent of this account to keep the certificate "
            f"information ({', '.join(scopes)}); ask for it, sync, and try again (OBL-CERT-2)",
            scopes,
        )
    if code == "certificate_revoked":
        return CertificateRevoked("the server revoked this certificate; request a new one")
    if code == "certificate_expired":
        return CertificateExpired("the server says the certificate has expired; request a new one")
    if code == "certificate_not_found":
        return CertificateRequired(
            "the server does not know this certificate for this account; request a new one")
    if code in ("signature_invalid", "template_mismatch"):
        return SignatureRejected(code, str(exc))
    return exc
