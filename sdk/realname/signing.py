"""Signing a contract with the user's certificate key; the server verifies and records it.

OBL-CERT-1 / OBL-CERT-2; wire format in docs/protocol.md, "Certificates and signing".

:meth:`ContractSigner.sign` does, in this order:

1. every local check (:meth:`CertificateManager.signing_credentials`): real-name
   verification passed, the consents to keep the certificate information in place (audited;
   a missing or withdrawn one raises :class:`CertificateConsentRequired` before anything is
   sent), a certificate on the device, inside its validity period, with its key;
2. the signing record passes the gate (``collect("signing_record", "esign_service")``);
3. the contract's exact bytes: the ones the app showed the user (``content``), else the
   template file fetched from ``GET /v1/templates/{id}/download``;
4. a **detached** ECDSA P-256 / SHA-256 signature over those exact bytes (DER
   ``Ecdsa-Sig-Value``, RFC 3279 §2.2.3) with the device's certificate key;
5. ``POST /v1/signatures {"template_id", "sha256", "signature", "certificate_serial"}``: the
   server checks the bytes are its template, verifies the signature with the certificate it
   issued (not revoked, not expired) and records a signing record; the answer is a
   :class:`SignatureReceipt`.

Nothing here logs or stores the contract, the name or the signature.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

from ..errors import ServerError, TransportError
from ..transport.envelope import b64url_encode
from .certificate import (
    CertificateRequired,
    CertificateRevoked,
    _mapped,
)

if TYPE_CHECKING:  # pragma: no cover
    from ..transport.client import ApiClient
    from .certificate import CertificateManager

__all__ = ["MAX_CONTRACT_BYTES", "SIGNATURE_ALGORITHM", "ContractSigner", "SignatureReceipt"]

log = logging.getLogger("sdk.realname")

#: The signature algorithm on the wire: ECDSA on P-256 with SHA-256, DER-encoded.
SIGNATURE_ALGORITHM = "ES256-DER"
#: Largest contract the SDK signs (a template is a few KiB).
MAX_CONTRACT_BYTES = 1024 * 1024

#: Manifest ids of the signing record the server keeps (legal obligation, 5 years).
SIGNING_ITEM = "signing_record"
SIGNING_PURPOSE = "esign_service"


@dataclass(frozen=True)
class SignatureReceipt:
    """The server's answer to a signature: it verified and recorded it.

    Attributes:
        signature_id: the signing record's id on the server (uuid4).
        template_id: the contract template signed.
        sha256: hex SHA-256 of the exact bytes signed.
        certificate_serial: the certificate used (lowercase hex).
        signed_at: when the server recorded it, RFC 3339 UTC.
        verified: always True (the server answers an error otherwise).
        signature: the signature sent, base64url without padding.
    """

    signature_id: str
    template_id: str
    sha256: str
    certificate_serial: str
    signed_at: str
    verified: bool
    signature: str


class ContractSigner:
    """Signs contracts with the certificate of a :class:`CertificateManager`.

    Args:
        certificates: the certificate manager (``privacy.certificate``); its API client,
            consent gates and clock are used.
        api: another client to use (default: the manager's).
    """

    def __init__(self, certificates: CertificateManager, api: ApiClient | None = None) -> None:
        self.certificates = certificates
        self.api = api if api is not None else certificates.api

    def sign(self, template_id: str, content: bytes | None = None) -> SignatureReceipt:
        """Sign contract template *template_id* and have the server verify and record it.

        Args:
            template_id: a template id of ``GET /v1/templates`` (e.g. ``"lease"``).
            content: the exact bytes the user was shown (e.g. the file from
                ``privacy.download_template``); ``None`` fetches the template file now.
                The server refuses bytes that are not its template (``template_mismatch``).

        Returns:
            the :class:`SignatureReceipt`.

        Raises:
            ValueError: *template_id* is not one path segment, or *content* is not bytes or
                larger than :data:`MAX_CONTRACT_BYTES`.
            RealnameRequired, CertificateConsentRequired, CertificateRequired,
            CertificateExpired: refused on the device before anything is sent (and the same
                from the server, which checks again).
            CertificateRevoked: the server revoked the certificate; it is removed from the
                device (request a new one).
            SignatureRejected: ``.code`` ``template_mismatch`` or ``signature_invalid``.
            NotLoggedIn, TransportError, ServerError: as for every request.
        """
        if not isinstance(template_id, str) or template_id in ("", ".", "..") \
                or "/" in template_id or len(template_id) > 128:
            raise ValueError("template_id must be a template id of GET /v1/templates, e.g. 'lease'")
        if content is not None:
            if not isinstance(content, (bytes, bytearray, memoryview)):
                raise ValueError("content must be the contract's bytes")
            if len(content) > MAX_CONTRACT_BYTES:
                raise ValueError(f"a contract larger than {MAX_CONTRACT_BYTES} bytes is not signed")
        info, key = self.certificates.signing_credentials()
        self.certificates.consent.collect(SIGNING_ITEM, SIGNING_PURPOSE,
                                          feature=self.certificates.feature)
        data = bytes(content) if content is not None else self._fetch(template_id)
        digest = hashlib.sha256(data).hexdigest()
        signature = b64url_encode(key.sign(data))
        body = {
            "template_id": template_id,
            "sha256": digest,
            "signature": signature,
            "certificate_serial": info.serial,
        }
        what = "POST /v1/signatures"
        try:
            answer = self.api.post_json("/signatures", body, str(uuid.uuid4()))
        except ServerError as exc:
            mapped = _mapped(exc, issuing=False)
            if mapped is exc:
                raise
            if isinstance(mapped, CertificateRevoked) or type(mapped) is CertificateRequired:
                self.certificates._drop_certificate()
            raise mapped from exc
        if not isinstance(answer, Mapping) or answer.get("verified") is not True:
            raise TransportError(f"{what}: the server's answer does not say the signature verified")
        for name in ("signature_id", "signed_at"):
            if not isinstance(answer.get(name), str) or not answer[name]:
                raise TransportError(f"{what}: the server's answer has no '{name}' string")
        for name in ("template_id", "sha256", "certificate_serial"):
            if answer.get(name, body[name]) != body[name]:
                raise TransportError(f"{what}: the server's answer names another '{name}'")
        return SignatureReceipt(
            signature_id=answer["signature_id"],
            template_id=template_id,
            sha256=digest,
            certificate_serial=info.serial,
            signed_at=answer["signed_at"],
            verified=True,
            signature=signature,
        )

    def _fetch(self, template_id: str) -> bytes:
        """The template file's bytes (``GET /v1/templates/{id}/download``, anonymous)."""
        what = "GET /v1/templates/{id}/download"
        response = self.api.request(
            "GET", f"/templates/{quote(template_id, safe='')}/download", anonymous=True, what=what)
        try:
            data = response.content
        finally:
            response.close()
        if len(data) > MAX_CONTRACT_BYTES:
            raise TransportError(f"{what}: the template is larger than {MAX_CONTRACT_BYTES} bytes")
        return data
