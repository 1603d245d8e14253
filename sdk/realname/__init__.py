"""Real-name verification for signing under a real name (issue #6; docs/realname.md).

- validation (OBL-RN-1, OBL-RN-2): :func:`validate_name`, :func:`validate_id_number`
  (-> :class:`IdNumber`), :func:`validate_phone`, :func:`validate_document`
  (-> :class:`DocumentNumber`); errors are :class:`RealnameValidationError`.
- certificate and signing (OBL-CERT-1, OBL-CERT-2): :class:`CertificateManager` (a device key
  wrapped by the keystore, CSR, the issued certificate as :class:`CertificateInfo`),
  :class:`ContractSigner` (-> :class:`SignatureReceipt`); errors under :class:`CertificateError`.
- the verification flow (OBL-RN-1..3): :class:`Realname` (``privacy.realname``: consents first,
  validation, the audited gates, sealed fields and a resumable sealed upload of the face video,
  the server's answer as :class:`Verification`; manual review with another document);
  errors under :class:`VerificationError`.

Names are loaded on first use (PEP 562): ``import sdk.realname`` imports neither
``python-stdnum`` nor ``phonenumbers``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

__all__ = [
    "DOCUMENT_KINDS",
    "MAX_AGE_YEARS",
    "MAX_NAME_LENGTH",
    "DocumentKind",
    "DocumentNumber",
    "IdNumber",
    "IdNumberKind",
    "RealnameValidationError",
    "validate_document",
    "validate_id_number",
    "validate_name",
    "validate_phone",
    # certificate and signing (OBL-CERT-1, OBL-CERT-2)
    "CertificateConsentRequired",
    "CertificateError",
    "CertificateExpired",
    "CertificateInfo",
    "CertificateManager",
    "CertificateRequired",
    "CertificateRevoked",
    "RealnameRequired",
    "SignatureRejected",
    "ContractSigner",
    "SignatureReceipt",
    # the verification flow (OBL-RN-1, OBL-RN-2, OBL-RN-3)
    "Realname",
    "Verification",
    "VerificationError",
    "VerificationNotFound",
    "VerificationRefused",
]

# name -> module that defines it; imported on first attribute access.
_LAZY: dict[str, str] = {
    "DOCUMENT_KINDS": "sdk.realname.validate",
    "MAX_AGE_YEARS": "sdk.realname.validate",
    "MAX_NAME_LENGTH": "sdk.realname.validate",
    "DocumentKind": "sdk.realname.validate",
    "DocumentNumber": "sdk.realname.validate",
    "IdNumber": "sdk.realname.validate",
    "IdNumberKind": "sdk.realname.validate",
    "RealnameValidationError": "sdk.realname.validate",
    "validate_document": "sdk.realname.validate",
    "validate_id_number": "sdk.realname.validate",
    "validate_name": "sdk.realname.validate",
    "validate_phone": "sdk.realname.validate",
    "CertificateConsentRequired": "sdk.realname.certificate",
    "CertificateError": "sdk.realname.certificate",
    "CertificateExpired": "sdk.realname.certificate",
    "CertificateInfo": "sdk.realname.certificate",
    "CertificateManager": "sdk.realname.certificate",
    "CertificateRequired": "sdk.realname.certificate",
    "CertificateRevoked": "sdk.realname.certificate",
    "RealnameRequired": "sdk.realname.certificate",
    "SignatureRejected": "sdk.realname.certificate",
    "ContractSigner": "sdk.realname.signing",
    "SignatureReceipt": "sdk.realname.signing",
    "Realname": "sdk.realname.facade",
    "Verification": "sdk.realname.facade",
    "VerificationError": "sdk.realname.facade",
    "VerificationNotFound": "sdk.realname.facade",
    "VerificationRefused": "sdk.realname.facade",
}

if TYPE_CHECKING:  # pragma: no cover
    from .certificate import (
        CertificateConsentRequired,
        CertificateError,
        CertificateExpired,
        CertificateInfo,
        CertificateManager,
        CertificateRequired,
        CertificateRevoked,
        RealnameRequired,
        SignatureRejected,
    )
    from .facade import (
        Realname,
        Verification,
        VerificationError,
        VerificationNotFound,
        VerificationRefused,
    )
    from .signing import ContractSigner, SignatureReceipt
    from .validate import (
        DOCUMENT_KINDS,
        MAX_AGE_YEARS,
        MAX_NAME_LENGTH,
        DocumentKind,
        DocumentNumber,
        IdNumber,
        IdNumberKind,
        RealnameValidationError,
        validate_document,
        validate_id_number,
        validate_name,
        validate_phone,
    )


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
