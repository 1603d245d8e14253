"""Real-name verification for signing under a real name (issue #6; docs/realname.md).

- validation (OBL-RN-1, OBL-RN-2): :func:`validate_name`, :func:`validate_id_number`
  (-> :class:`IdNumber`), :func:`validate_phone`, :func:`validate_document`
  (-> :class:`DocumentNumber`); errors are :class:`RealnameValidationError`.

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
}

if TYPE_CHECKING:  # pragma: no cover
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
