"""``/v1/me/...``: what the logged-in account owns.

- ``PUT /v1/me/subjects/{subject_id}``: link a pseudonymous install id to the account, so the
  account's other devices can pull its consent records (cross-device sync, OBL-DSR-4).
- ``GET /v1/me/consent-records``: the records of every linked subject, in server order.
- ``GET /v1/me/personal-information`` and ``GET /v1/me/third-party-transfers``: what the
  server holds about the account and to whom it was given (OBL-DSR-1), the real-name data
  of issue 6 included (real-name status, certificates, signing records, verifications and
  the sealed uploads), as counts and descriptions, never a value.

Every endpoint needs a session and answers only the session's own account (OBL-SEC-2): no
parameter names an account. Answers carry ``Cache-Control: no-store``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from ..deps import LoggedInAccount, StoreDep, get_uploads
from ..errors import ApiError
from ..models import (
    AccountConsentRecordList,
    PersonalInformationList,
    TransferList,
    Uuid4Str,
)
from ..realname_store import RealnameHoldings
from ..realname_store import for_app as realname_for_app
from ..responses import NO_STORE, NOT_LOGGED_IN_DOC, error_doc
from ..rights_store import for_app as rights_for_app
from ..store import AccountInventory, SubjectLinkedElsewhere
from ..uploads import UploadStore, held_uploads
from .consent import apply_withdrawals

router = APIRouter(tags=["me"])

#: Item and purpose ids of the demo manifest (demo_app/policy/manifest.toml) for what the
#: stub holds. The manifest declares no data item for consent records and the install ids
#: linked to an account, nor a purpose for keeping them; these two use the ids below.
ITEM_LOGIN_ACCOUNT = "login_account"
ITEM_PASSWORD = "password"
ITEM_COOKIES = "cookies"
ITEM_CONSENT_RECORDS = "consent_records"
ITEM_INSTALL_IDS = "install_ids"
PURPOSE_ACCOUNT = "account"
PURPOSE_CONSENT_PROOF = "consent_proof"
PURPOSE_CONSENT_SYNC = "consent_sync"
#: Real-name data (issue 6): manifest ids, except the verification records, which the
#: manifest does not declare as an item of their own.
ITEM_REAL_NAME = "real_name"
ITEM_ID_NUMBER = "id_number"
ITEM_CERTIFICATE_INFO = "certificate_info"
ITEM_SIGNING_RECORD = "signing_record"
ITEM_VERIFICATIONS = "realname_verifications"
PURPOSE_REALNAME = "realname_verification"
PURPOSE_CERTIFICATE = "certificate"
PURPOSE_ESIGN = "esign_service"


@router.put(
    "/me/subjects/{subject_id}",
    status_code=204,
    response_class=Response,
    summary="Link an install id (subject_id) to the logged-in account (idempotent)",
    responses={
        204: {"description": "linked (also when it already was linked to this account)"},
        **NOT_LOGGED_IN_DOC,
        **error_doc(409, "subject_linked_elsewhere: the subject is linked to another account"),
        **error_doc(422, "invalid_request: subject_id is not a uuid4"),
    },
)
def link_subject(
    account: LoggedInAccount,
    store: StoreDep,
    request: Request,
    subject_id: Annotated[Uuid4Str, Path(description="the pseudonymous install id (uuid4)")],
) -> Response:
    """Link the subject to the account; its records (past and future) then appear in
    ``GET /v1/me/consent-records``. A link never moves to another account. A withdrawal the
    subject sent before it was linked takes effect now (``apply_withdrawals``)."""
    try:
        if store.link_subject(subject_id, account.account_id):
            apply_withdrawals(request.app, account.account_id)
    except SubjectLinkedElsewhere:
        raise ApiError(
            409,
            "subject_linked_elsewhere",
            "this subject_id is linked to another account; an install id belongs to one "
            "account only",
        ) from None
    return Response(status_code=204, headers=NO_STORE)


@router.get(
    "/me/consent-records",
    response_model=AccountConsentRecordList,
    summary="The consent records of every subject linked to the account, in server order",
    responses={
        **NOT_LOGGED_IN_DOC,
        **error_doc(422, "invalid_request: after is not a non-negative integer"),
    },
)
def my_consent_records(
    account: LoggedInAccount,
    store: StoreDep,
    after: Annotated[
        int | None,
        # le: cursors are SQLite rowids (64-bit); a larger number is a 422, not an overflow
        Query(ge=0, le=2**63 - 1,
              description="a cursor from an earlier answer: only records after it"),
    ] = None,
) -> JSONResponse:
    """``{"records": [...], "cursor": n}``: each record as received plus ``received_at`` and
    its ``cursor``; ``cursor`` is the last record's, else the given ``after``, else null."""
    records = store.account_consent_records(account.account_id, after)
    cursor = records[-1]["cursor"] if records else after
    return JSONResponse({"records": records, "cursor": cursor}, headers=NO_STORE)


def _inventory_items(inv: AccountInventory) -> list[dict[str, Any]]:
    """The entries of ``GET /v1/me/personal-information``: one per kind of data the stub
    keeps about the account, counted from its tables; never a value."""
    login_held = "identifier, normalised (E.164 phone number or lower-case email); answered only masked"
    if inv.registration_fingerprints:
        login_held += ("; plus a keyed digest of it (HMAC-SHA256 under a server key) kept "
                       "with the registration's Idempotency-Key (deleted 24 hours after the "
                       "registration)")
    keys = f"; {inv.pinned_keys} device public key(s) pinned" if inv.pinned_keys else ""
    return [
        {
            "item": ITEM_LOGIN_ACCOUNT,
            "purpose": PURPOSE_ACCOUNT,
            "count": 1,
            "last_at": inv.account_created_at,
            "held": login_held,
        },
        {
            "item": ITEM_PASSWORD,
            "purpose": PURPOSE_ACCOUNT,
            "count": 1,
            "last_at": inv.account_created_at,
            "held": "Argon2id hash only",
        },
        {
            "item": ITEM_COOKIES,
            "purpose": PURPOSE_ACCOUNT,
            "count": inv.sessions,
            "last_at": None,
            "held": "sessions: SHA-256 of each session token with its expiry time; never the token",
        },
        {
            "item": ITEM_INSTALL_IDS,
            "purpose": PURPOSE_CONSENT_SYNC,
            "count": inv.linked_subjects,
            "last_at": inv.last_linked_at,
            "held": "pseudonymous install ids (random uuid4) linked to the account",
        },
        {
            "item": ITEM_CONSENT_RECORDS,
            "purpose": PURPOSE_CONSENT_PROOF,
            "count": inv.consent_records,
            "last_at": inv.last_received_at,
            "held": "consent records of the linked install ids, as received and signed by the "
            "device, with a copy of each answer kept for Idempotency-Key retries (deleted 24 "
            f"hours after the request){keys}",
        },
    ]


def _realname_items(held: RealnameHoldings, uploads: UploadStore,
                    upload_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The real-name entries (issue 6), only for what is held: the real-name status (the real
    name, and only a pseudonym of the ID number), the verification records, the sealed
    uploads (face video, review images), certificates and signing records."""
    items: list[dict[str, Any]] = []
    if held.real_name:
        items.append({
            "item": ITEM_REAL_NAME, "purpose": PURPOSE_REALNAME, "count": 1,
            "last_at": held.status_updated_at,
            "held": f"the real name as submitted for verification (real-name status: "
                    f"{held.status}); kept in clear by the stub, a production backend encrypts it; "
                    "used as the subject of the signing certificate",
        })
    if held.id_pseudonym:
        items.append({
            "item": ITEM_ID_NUMBER, "purpose": PURPOSE_REALNAME, "count": 1,
            "last_at": held.status_updated_at,
            "held": "only a keyed pseudonym of the ID number (HMAC-SHA256 under a server secret); "
                    "the ID number itself is not stored",
        })
    if held.verifications:
        documents = (f"; {held.document_pseudonyms} keep a keyed pseudonym of a manual review's "
                     "document number, never the number" if held.document_pseudonyms else "")
        items.append({
            "item": ITEM_VERIFICATIONS, "purpose": PURPOSE_REALNAME, "count": held.verifications,
            "last_at": held.last_verification_at,
            "held": "one record per verification submitted: kind, status, reason, times and the "
                    f"ids of its uploads; no name, ID number or phone number{documents}",
        })
    for group in upload_rows:
        retention = uploads.policy.retention(group["item"])
        kept = (f"kept for {retention.text} (ISO 8601 duration) after they completed, then deleted"
                if retention is not None else "kept until deleted")
        unfinished = (f", {group['open']} unfinished (deleted 24 hours after they started)"
                      if group["open"] else "")
        items.append({
            "item": group["item"], "purpose": group["purpose"],
            "count": group["complete"] + group["open"], "last_at": group["last_at"],
            "held": f"sealed uploads, ciphertext only (HPKE; opened only to check them): "
                    f"{group['complete']} complete{unfinished}; complete ones are {kept}; those "
                    "no verification used are deleted 24 hours after they completed, or when the "
                    "consent is withdrawn",
        })
    if held.certificates:
        answers = (f"; plus {held.certificate_answers} copy(ies) of the issuing answer (the "
                   "certificate, with the real name) kept for Idempotency-Key retries, deleted 24 "
                   "hours after the request" if held.certificate_answers else "")
        items.append({
            "item": ITEM_CERTIFICATE_INFO, "purpose": PURPOSE_CERTIFICATE,
            "count": held.certificates, "last_at": held.last_issued_at,
            "held": "the public information of the signing certificates issued for the account "
                    "(real name, ID pseudonym, serial number, validity, the certificate itself): "
                    f"{held.valid_certificates} not revoked, "
                    f"{held.certificates - held.valid_certificates} revoked{answers}",
        })
    if held.signing_records:
        items.append({
            "item": ITEM_SIGNING_RECORD, "purpose": PURPOSE_ESIGN,
            "count": held.signing_records, "last_at": held.last_signed_at,
            "held": "one record per verified contract signature: template id, SHA-256 of the "
                    "signed bytes, the signature, the certificate serial and the time",
        })
    return items


@router.get(
    "/me/personal-information",
    response_model=PersonalInformationList,
    summary="What personal information the server holds about the account (no values)",
    responses=NOT_LOGGED_IN_DOC,
)
def my_personal_information(account: LoggedInAccount, store: StoreDep,
                            request: Request) -> JSONResponse:
    """``{"items": [{"item", "purpose", "count", "last_at", "held"}]}``: the account's own
    rows, then the real-name data held (only what is held). Expired uploads are purged first,
    so the list never shows what is past its retention."""
    return JSONResponse({"items": held_items(request, store, account.account_id)},
                        headers=NO_STORE)


def held_items(request: Request, store: StoreDep, account_id: str) -> list[dict[str, Any]]:
    """The items of ``GET /v1/me/personal-information`` (also in ``GET /v1/me/export``): the
    account's own rows, the real-name data, then the rights requests and corrected contact
    details (issue 7, :meth:`server_stub.rights_store.RightsStore.held_items`).

    Raises:
        ApiError: 401 ``not_logged_in`` when the account went away meanwhile.
    """
    store.maybe_purge_idempotency()  # stored answers past the 24 h replay window go first
    inventory = store.account_inventory(account_id)
    if inventory is None:  # the account went away after the session was checked
        raise ApiError(401, "not_logged_in", "log in first (POST /v1/sessions)")
    uploads = get_uploads(request)
    uploads.maybe_purge()
    held = realname_for_app(request.app).holdings(account_id)
    upload_rows = held_uploads(uploads.account_uploads(account_id))
    return (_inventory_items(inventory) + _realname_items(held, uploads, upload_rows)
            + rights_for_app(request.app).held_items(account_id))


@router.get(
    "/me/third-party-transfers",
    response_model=TransferList,
    summary="Personal information of the account given to third parties",
    responses=NOT_LOGGED_IN_DOC,
)
def my_third_party_transfers(account: LoggedInAccount, store: StoreDep) -> JSONResponse:
    """``{"transfers": [{"recipient", "items", "purpose", "method", "time"}]}`` in the order
    they happened (empty in the stub until the real-name flow gives anything away)."""
    return JSONResponse({"transfers": store.transfers(account.account_id)}, headers=NO_STORE)
