"""``/v1/certificates`` and ``/v1/signatures``: user certificates and contract signing
(OBL-CERT-1, OBL-CERT-2; docs/protocol.md, "Certificates and signing").

- ``POST /v1/certificates``: a CSR (RFC 2986) from the device → an X.509 certificate from the
  stub's user CA (:mod:`server_stub.user_ca`), subject = the verified real name and the
  ID-number pseudonym; the account's earlier certificates are revoked (``superseded``) and
  the transfer of the real name and ID number to the CA (recipient ``ca``) is logged.
- ``GET /v1/certificates``: the account's certificates (public information and status).
- ``DELETE /v1/certificates/{serial}``: the user revokes one.
- ``POST /v1/signatures``: a detached ECDSA P-256 / SHA-256 signature over the exact bytes
  of a contract template; verified with the certificate the server issued, then recorded.
  One record per signature: the same signature posted again (same account, certificate
  serial, sha256 and signature), under any Idempotency-Key, answers ``200`` with the
  original record.

Every endpoint needs a session and acts on the session's own account only. Issuing and
signing re-check everything the SDK checked (the server never trusts the client): real-name
status ``verified`` (:mod:`server_stub.realname_store`), and the account's consent records
granting ``policy``, ``purpose:certificate`` and ``item:certificate_info`` (plus
``recipient:ca`` and ``item:id_number`` for issuing); refusals are ``403`` with ``realname_required`` or
``certificate_consent_required`` (the body adds ``"scopes": [...]``, the missing ones).

Dev mode only (``Settings.dev_mode``, left out of ``/openapi.json``):
``PUT /v1/dev/realname/status`` sets the logged-in account's real-name status, for tests
and QA until the verification flow writes it.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import hashlib
import re
import sqlite3
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.responses import JSONResponse

from sdk.realname.certificate import (
    CA_ITEMS,
    CA_RECIPIENT,
    CERTIFICATE_PURPOSE,
    ISSUE_SCOPES,
    SIGN_SCOPES,
)

from ..deps import (
    IdempotencyKey,
    LoggedInAccount,
    RawBody,
    SettingsDep,
    StoreDep,
    TemplatesDep,
    require_dev_mode,
)
from ..errors import ApiError, decode_json_object
from ..realname_store import (
    STATUSES,
    RealnameStatus,
    RealnameStore,
    for_app,
    missing_consents,
)
from ..responses import (
    KEY_REUSED,
    NO_STORE,
    NOT_LOGGED_IN_DOC,
    REPLAY_DOC,
    error_doc,
    idempotent_json,
    run_idempotent_json,
)
from ..settings import Settings
from ..store import AccountRow, IdempotencyKeyReused, Store
from ..user_ca import CsrError, ensure_user_ca, issue_user_certificate, load_csr
from .consent import fingerprint

__all__ = ["ISSUE_SCOPES", "SIGN_SCOPES", "router"]

ISSUE_ENDPOINT = "POST /v1/certificates"
SIGN_ENDPOINT = "POST /v1/signatures"

#: How the transfer to the CA (recipient ``ca``) logged at issuing was made.
CA_METHOD = "stub user CA in the same process (stands in for the CA's HTTPS API)"

_SERIAL = re.compile(r"^[0-9a-f]{1,40}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_B64URL = re.compile(r"^[A-Za-z0-9_-]+$")
_MAX_SIGNATURE = 80  # a DER P-256 ECDSA signature is at most 72 bytes
_MAX_TEXT = 128




def _now(settings: Settings) -> _dt.datetime:
    return _dt.datetime.fromtimestamp(settings.clock(), _dt.timezone.utc)


def _fields(body: bytes, wanted: dict[str, bool]) -> dict[str, Any]:
    """The body's JSON object with exactly the string fields *wanted* (name -> required).

    Raises:
        ApiError: 422 ``invalid_request`` naming the field, never a value; unknown fields are
            refused (nothing else is collected).
    """
    data = decode_json_object(body, "invalid_request")
    if any(name not in wanted for name in data):
        raise ApiError(422, "invalid_request",
                       f"unknown field: only {', '.join(sorted(wanted))} are accepted")
    for name, required in wanted.items():
        if name not in data:
            if required:
                raise ApiError(422, "invalid_request", f"field '{name}' is required")
        elif not isinstance(data[name], str) or not data[name]:
            raise ApiError(422, "invalid_request", f"field '{name}' must be a non-empty string")
    return data


def _refusal(account: AccountRow, realname: RealnameStore, store: Store,
             scopes: tuple[str, ...]) -> tuple[RealnameStatus | None, JSONResponse | None]:
    """The 403 answer when the account is not verified or lacks a consent, else its status."""
    status = realname.get_status(account.account_id)
    if status is None or not status.verified:
        return None, JSONResponse(
            {"error": "realname_required",
             "message": "real-name verification has not passed for this account; complete it "
                        "first (OBL-CERT-1)"},
            status_code=403, headers=NO_STORE)
    missing = missing_consents(store.account_consent_records(account.account_id), scopes)
    if missing:
        return None, JSONResponse(
            {"error": "certificate_consent_required",
             "message": "the account's consent records do not grant "
                        f"{', '.join(missing)}; without the user's permission to keep the "
                        "certificate information nothing is issued or signed (OBL-CERT-2)",
             "scopes": list(missing)},
            status_code=403, headers=NO_STORE)
    return status, None


api = APIRouter(tags=["certificates"])


# -- POST /v1/certificates ---------------------------------------------------------------


@api.post(
    "/certificates",
    status_code=201,
    response_model=None,
    summary="Issue a signing certificate for the device's key (CSR, RFC 2986; idempotent)",
    responses={
        201: {"description": "issued: {serial, subject, not_before, not_after, status, "
                             "issued_at, revoked_at, certificate (PEM)}"},
        **REPLAY_DOC,
        **error_doc(400, "Idempotency-Key missing or invalid"),
        **NOT_LOGGED_IN_DOC,
        **error_doc(403, "realname_required, or certificate_consent_required (with scopes)"),
        **error_doc(409, "idempotency_key_reused"),
        **error_doc(413, "body over 64 KiB"),
        **error_doc(422, "invalid_request or invalid_csr"),
    },
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["csr"], "additionalProperties": False,
        "properties": {"csr": {"type": "string", "description": "PEM PKCS #10 request, EC P-256, "
                                                                "empty subject"}},
    }}}}},
)
def issue_certificate(
    key: IdempotencyKey, body: RawBody, request: Request, account: LoggedInAccount,
    store: StoreDep, settings: SettingsDep,
) -> JSONResponse:
    """Issue a certificate whose subject is the account's verified identity (never anything
    from the CSR) for the CSR's key; revoke the account's earlier ones; log the transfer."""
    data = _fields(body, {"csr": True})
    realname = for_app(request.app)
    status, refusal = _refusal(account, realname, store, ISSUE_SCOPES)
    if refusal is not None:
        return refusal
    assert status is not None and status.real_name and status.id_pseudonym
    try:
        public_key = load_csr(data["csr"])
    except CsrError as exc:
        raise ApiError(422, "invalid_csr", str(exc)) from None
    signer = ensure_user_ca(settings.data_dir)
    now = _now(settings)

    def issue(conn: sqlite3.Connection) -> tuple[int, dict[str, Any]]:
        cert = issue_user_certificate(signer, public_key, status.real_name or "",
                                      status.id_pseudonym or "", now=now)
        row = RealnameStore.insert_certificate(conn, account.account_id, cert, now)
        return 201, {**row.public_info(now), "certificate": row.certificate}

    try:
        answer = store.run_idempotent(
            key, ISSUE_ENDPOINT, fingerprint({"account_id": account.account_id, **data}), issue,
            account_id=account.account_id)
    except IdempotencyKeyReused:
        raise KEY_REUSED from None
    if not answer.replayed:
        store.record_transfer(account.account_id, CA_RECIPIENT, CA_ITEMS, CERTIFICATE_PURPOSE,
                             CA_METHOD)
    return idempotent_json(answer)


# -- GET /v1/certificates, DELETE /v1/certificates/{serial} ------------------------------


@api.get(
    "/certificates",
    summary="The account's certificates: public information and status",
    responses=NOT_LOGGED_IN_DOC,
)
def list_certificates(request: Request, account: LoggedInAccount, settings: SettingsDep) -> JSONResponse:
    """``{"certificates": [{serial, subject: {common_name, serial_number}, not_before,
    not_after, status: valid|revoked|expired|not_yet_valid, issued_at, revoked_at}]}``,
    newest first."""
    now = _now(settings)
    rows = for_app(request.app).certificates(account.account_id)
    return JSONResponse({"certificates": [r.public_info(now) for r in rows]}, headers=NO_STORE)


@api.delete(
    "/certificates/{serial}",
    status_code=204,
    response_class=Response,
    summary="Revoke one of the account's certificates (idempotent)",
    responses={
        204: {"description": "revoked (also when it already was)"},
        **NOT_LOGGED_IN_DOC,
        **error_doc(404, "certificate_not_found: not a certificate of this account"),
    },
)
def revoke_certificate(
    request: Request, account: LoggedInAccount, settings: SettingsDep,
    serial: Annotated[str, Path(description="the serial number, lowercase hex")],
) -> Response:
    """Revoke the certificate (reason ``user_request``); signing with it is refused after."""
    realname = for_app(request.app)
    if not _SERIAL.match(serial) or realname.certificate(account.account_id, serial) is None:
        raise ApiError(404, "certificate_not_found", "this account has no certificate with this serial")
    realname.revoke_certificate(account.account_id, serial, "user_request", _now(settings))
    return Response(status_code=204, headers=NO_STORE)


# -- POST /v1/signatures -----------------------------------------------------------------


def _signature_bytes(text: str) -> bytes:
    """Strict base64url without padding (one spelling per signature)."""
    if not _B64URL.match(text) or len(text) > 2 * _MAX_SIGNATURE:
        raise ApiError(422, "invalid_request", "field 'signature' must be base64url without padding")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ApiError(422, "invalid_request", "field 'signature' must be base64url without padding") from None
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != text or not 8 <= len(raw) <= _MAX_SIGNATURE:
        raise ApiError(422, "invalid_request", "field 'signature' is not a DER ECDSA signature")
    return raw


@api.post(
    "/signatures",
    status_code=201,
    response_model=None,
    summary="Sign a contract template: verify the signature and record it (idempotent)",
    responses={
        201: {"description": "verified and recorded: {signature_id, template_id, sha256, "
                             "certificate_serial, signed_at, verified: true}"},
        200: {"description": "replay of an earlier identical request (header Idempotent-Replayed: "
                           "true), or this signature (same certificate, sha256 and signature) "
                           "was already recorded: the original record, nothing new is recorded"},
        **error_doc(400, "Idempotency-Key missing or invalid"),
        **NOT_LOGGED_IN_DOC,
        **error_doc(403, "realname_required, certificate_consent_required (with scopes), "
                      "certificate_revoked or certificate_expired"),
        **error_doc(404, "certificate_not_found or template_not_found"),
        **error_doc(409, "idempotency_key_reused"),
        **error_doc(413, "body over 64 KiB"),
        **error_doc(422, "invalid_request, template_mismatch or signature_invalid"),
    },
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "additionalProperties": False,
        "required": ["template_id", "sha256", "signature", "certificate_serial"],
        "properties": {
            "template_id": {"type": "string"},
            "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$",
                       "description": "hex SHA-256 of the exact bytes signed"},
            "signature": {"type": "string", "description": "base64url (no padding) of the DER "
                          "ECDSA P-256 / SHA-256 signature over the exact template bytes"},
            "certificate_serial": {"type": "string", "pattern": "^[0-9a-f]{1,40}$"},
        },
    }}}}},
)
def sign_contract(
    key: IdempotencyKey, body: RawBody, request: Request, account: LoggedInAccount,
    store: StoreDep, settings: SettingsDep, templates: TemplatesDep,
) -> JSONResponse:
    """Verify a detached signature over the exact bytes of a template with the account's
    certificate and record it. Checks, in order: the body, real-name status, consents, the
    certificate (this account's, not revoked, inside its validity), the template, the
    digest, the signature."""
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    data = _fields(body, {"template_id": True, "sha256": True, "signature": True,
                          "certificate_serial": True})
    if len(data["template_id"]) > _MAX_TEXT:
        raise ApiError(422, "invalid_request", "field 'template_id' is too long")
    if not _HEX64.match(data["sha256"]):
        raise ApiError(422, "invalid_request", "field 'sha256' must be 64 lowercase hex characters")
    if not _SERIAL.match(data["certificate_serial"]):
        raise ApiError(422, "invalid_request",
                       "field 'certificate_serial' must be 1 to 40 lowercase hex characters")
    signature = _signature_bytes(data["signature"])
    realname = for_app(request.app)
    _, refusal = _refusal(account, realname, store, SIGN_SCOPES)
    if refusal is not None:
        return refusal
    now = _now(settings)
    row = realname.certificate(account.account_id, data["certificate_serial"])
    if row is None:
        raise ApiError(404, "certificate_not_found",
                       "this account has no certificate with this serial; request one")
    state = row.status(now)
    if state == "revoked":
        raise ApiError(403, "certificate_revoked", "this certificate was revoked; request a new one")
    if state != "valid":
        raise ApiError(403, "certificate_expired",
                       "this certificate is outside its validity period; request a new one")
    template = templates.get(data["template_id"])
    if template is None:
        raise ApiError(404, "template_not_found", "no template has this id; GET /v1/templates lists them")
    if hashlib.sha256(template.data).hexdigest() != data["sha256"]:
        raise ApiError(422, "template_mismatch",
                       "sha256 is not the digest of the template the server holds; download it "
                       "again, show it, and sign those bytes")
    public_key = x509.load_pem_x509_certificate(row.certificate.encode("ascii")).public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    try:
        public_key.verify(signature, template.data, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        raise ApiError(422, "signature_invalid",
                       "the signature does not verify with this certificate over the template's "
                       "bytes") from None

    def record(conn: sqlite3.Connection) -> tuple[int, dict[str, Any]]:
        # one record per signature: the same signature again (any Idempotency-Key) answers
        # the record made for it the first time (200), inside this transaction
        earlier = RealnameStore.find_signing_record(conn, account.account_id, row.serial,
                                                    data["sha256"], data["signature"])
        if earlier is not None:
            return 200, earlier
        return 201, RealnameStore.insert_signing_record(
            conn, account.account_id, row.serial, template.id, data["sha256"],
            data["signature"], now)

    return run_idempotent_json(
        store, key, SIGN_ENDPOINT, fingerprint({"account_id": account.account_id, **data}), record,
        account_id=account.account_id)


# -- dev mode: PUT /v1/dev/realname/status ------------------------------------------------

dev = APIRouter(
    prefix="/dev/realname",
    tags=["dev"],
    include_in_schema=False,
    dependencies=[Depends(require_dev_mode)],
)


@dev.put("/status", status_code=204, response_class=Response,
         summary="Set the logged-in account's real-name status (dev mode only)")
def set_realname_status(body: RawBody, request: Request, account: LoggedInAccount) -> Response:
    """Body ``{"status", "real_name"?, "id_number"?, "verification_id"?}``; ``verified``
    needs ``real_name`` and ``id_number``. Only the ID number's pseudonym is stored."""
    data = _fields(body, {"status": True, "real_name": False, "id_number": False,
                          "verification_id": False})
    if data["status"] not in STATUSES:
        raise ApiError(422, "invalid_request", f"field 'status' must be one of {', '.join(STATUSES)}")
    realname = for_app(request.app)
    pseudonym = realname.pseudonym(data["id_number"]) if "id_number" in data else None
    try:
        realname.set_status(account.account_id, data["status"],
                            verification_id=data.get("verification_id"),
                            real_name=data.get("real_name"), id_pseudonym=pseudonym)
    except ValueError as exc:  # the message names fields only
        raise ApiError(422, "invalid_request", str(exc)) from None
    return Response(status_code=204, headers=NO_STORE)


router = APIRouter()
router.include_router(api)
router.include_router(dev)
