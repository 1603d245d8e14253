"""Pydantic models of the wire protocol v1 (docs/protocol.md): request validation and the
schemas published in ``/openapi.json``.

Consent records come in two schema versions: :class:`ConsentRecordV1` and
:class:`ConsentRecordV2`; :data:`ConsentRecord` is either (``schema_version`` decides).
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    model_validator,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

__all__ = [
    "UUID4_PATTERN",
    "Uuid4Str",
    "ErrorBody",
    "Health",
    "Notice",
    "Controller",
    "Guardian",
    "Proof",
    "ConsentRecordV1",
    "ConsentRecordV2",
    "ConsentRecord",
    "consent_record_model",
    "StoredConsentRecordV1",
    "StoredConsentRecordV2",
    "StoredConsentRecord",
    "ConsentRecordList",
    "AccountConsentRecord",
    "AccountConsentRecordList",
    "PersonalInformationItem",
    "PersonalInformationList",
    "Transfer",
    "TransferList",
    "PolicyOut",
    "TemplateSummary",
    "TemplateList",
    "TemplateDetail",
    "WeakPasswordBody",
    "AccountCreated",
    "SessionOut",
    "AccountOut",
    "IdentityCheckOut",
    "RightsRequestOut",
    "RightsRequestList",
    "ExportAccount",
    "ExportDocument",
    "CancellationLoss",
    "CancellationKept",
    "CancellationNotice",
    "CancellationDone",
    "SupportMessage",
    "SupportMessageList",
    "NotificationPreference",
    "Invitation",
    "InvitationList",
    "BreachNotice",
    "ServiceEndingNotice",
    "NoticeList",
    "NoticeAcknowledgement",
]

#: A uuid4 in canonical lowercase 8-4-4-4-12 form (version nibble 4, RFC 9562 variant).
UUID4_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
_UUID4 = re.compile(UUID4_PATTERN)
_RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|\+00:00)$")
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


def _uuid4(value: str) -> str:
    if not _UUID4.match(value):
        raise PydanticCustomError("uuid4_format", "must be a uuid4 in canonical lowercase form")
    return value


def _rfc3339_utc(value: str) -> str:
    match = _RFC3339_UTC.match(value)
    ok = match is not None
    if ok:
        try:  # the pattern checks the shape; this checks the calendar (no 2026-02-30)
            _dt.datetime.fromisoformat(value[:19])
        except ValueError:
            ok = False
    if not ok:
        raise PydanticCustomError(
            "rfc3339_utc", "must be an RFC 3339 time in UTC, e.g. 2026-11-30T03:22:25Z"
        )
    return value


def _sha256_hex(value: str) -> str:
    if not _SHA256_HEX.match(value):
        raise PydanticCustomError("sha256_hex", "must be 64 lowercase hex characters")
    return value


def _schema_version(value: int) -> int:
    if value not in (1, 2):
        raise PydanticCustomError("schema_version", "must be 1 or 2")
    return value


def _schema_version_2(value: int) -> int:
    if value != 2:
        raise PydanticCustomError("schema_version", "must be 2")
    return value


#: ``scope`` of a version 2 record (docs/consent.md, "Scopes").
SCOPE_PATTERN = r"^(policy|guardian|minors_notice|(purpose|item|recipient):[A-Za-z0-9_.-]+)$"
_SCOPE = re.compile(SCOPE_PATTERN)


def _scope(value: str) -> str:
    if not _SCOPE.match(value):
        raise PydanticCustomError(
            "scope_format",
            "must be policy, guardian, minors_notice, purpose:<id>, item:<id> or recipient:<id>",
        )
    return value


#: uuid4 string; the pattern is documented in the schema and checked by ``_uuid4`` (whose
#: error message is clearer than a pattern mismatch).
Uuid4Str = Annotated[
    StrictStr,
    AfterValidator(_uuid4),
    WithJsonSchema(
        {"type": "string", "pattern": UUID4_PATTERN, "examples": ["6f1c4a9e-2b7d-4c1e-9a3f-0d8e5b7c2a61"]}
    ),
]
Rfc3339Utc = Annotated[
    StrictStr,
    AfterValidator(_rfc3339_utc),
    WithJsonSchema({"type": "string", "format": "date-time", "examples": ["2026-11-30T03:22:25Z"]}),
]
NonEmptyStr = Annotated[StrictStr, Field(min_length=1)]


class ErrorBody(BaseModel):
    """Every answer with status >= 400."""

    error: str = Field(description="machine-readable code, e.g. idempotency_key_reused")
    message: str = Field(description="human text; never contains personal information")


class Health(BaseModel):
    """Answer of ``GET /v1/health``."""

    status: Literal["ok"]
    version: str = Field(description="server version")


class Notice(BaseModel):
    """The privacy notice the user saw when deciding (ISO/IEC TS 27560 ``notice``)."""

    model_config = ConfigDict(extra="allow")

    policy_version: NonEmptyStr
    sha256: Annotated[StrictStr, AfterValidator(_sha256_hex)] = Field(
        description="hex SHA-256 of the UTF-8 policy text shown"
    )
    language: NonEmptyStr = Field(examples=["zh-CN"])


Sha256Hex = Annotated[StrictStr, AfterValidator(_sha256_hex)]


class ConsentRecordV1(BaseModel):
    """A version 1 consent record (docs/protocol.md, "Consent record"): the fields of the first
    block only, ``controller`` a string.

    Unknown extra fields are allowed (forward compatibility) and stored as received.
    """

    model_config = ConfigDict(extra="allow")

    schema_version: Annotated[StrictInt, AfterValidator(_schema_version)] = Field(examples=[1])
    record_id: Uuid4Str = Field(description="chosen by the device; also the Idempotency-Key")
    subject_id: Uuid4Str = Field(description="pseudonymous install id, never a device identifier")
    notice: Notice
    controller: NonEmptyStr
    decision: Literal["granted", "denied", "withdrawn"]
    purposes: list[NonEmptyStr] = Field(min_length=1)
    lawful_basis: NonEmptyStr = Field(examples=["consent"])
    method: NonEmptyStr = Field(examples=["explicit_button"])
    jurisdiction: NonEmptyStr = Field(examples=["CN"])
    created_at: Rfc3339Utc


class Controller(BaseModel):
    """The personal information handler of a version 2 record."""

    model_config = ConfigDict(extra="allow")

    name: NonEmptyStr
    contact: NonEmptyStr = Field(description="contact for personal information matters")


class Guardian(BaseModel):
    """Who gave a guardian's consent: the relationship and a keyed digest of the ID number."""

    model_config = ConfigDict(extra="allow")

    relationship: Literal["parent", "guardian"]
    id_digest: Sha256Hex = Field(description="hex HMAC-SHA256 of the guardian's ID number")


class Proof(BaseModel):
    """Hash chain and signature of a version 2 record (docs/protocol.md, "Proof").

    The shapes are checked here; the signature itself by ``sdk.consent.proof.verify_record``.
    """

    model_config = ConfigDict(extra="allow")

    type: Literal["Ed25519-JCS-2026"]
    public_key: NonEmptyStr | None = Field(
        description="base64url, 32 bytes (Ed25519); null with signature null: an unsigned record")
    seq: StrictInt = Field(ge=1, description="1, 2, 3 ... on this device, no gaps")
    prev_hash: Sha256Hex = Field(description="hex SHA-256 of the device's previous record; 64 zeros for seq 1")
    signature: NonEmptyStr | None = Field(
        description="base64url, 64 bytes (Ed25519); null when the device had no keystore")

    @model_validator(mode="after")
    def _both_or_neither(self) -> Proof:
        if (self.public_key is None) != (self.signature is None):
            raise ValueError("public_key and signature are both set (signed) or both null (unsigned)")
        return self


class ConsentRecordV2(BaseModel):
    """A version 2 consent record (docs/protocol.md, "Consent record"): ISO/IEC TS 27560 fields
    plus ``proof``. ``purposes`` may be empty (a record of one data item or recipient);
    ``guardian`` is required for ``consent_type`` ``guardian`` and null or absent otherwise
    (checked by the route, which names the field).

    Unknown extra fields are allowed (forward compatibility) and stored as received.
    """

    model_config = ConfigDict(extra="allow")

    schema_version: Annotated[StrictInt, AfterValidator(_schema_version_2)] = Field(examples=[2])
    record_id: Uuid4Str = Field(description="chosen by the device; also the Idempotency-Key")
    subject_id: Uuid4Str = Field(description="pseudonymous install id, never a device identifier")
    notice: Notice
    controller: Controller
    decision: Literal["granted", "denied", "withdrawn"]
    scope: Annotated[StrictStr, AfterValidator(_scope)] = Field(
        json_schema_extra={"pattern": SCOPE_PATTERN}, examples=["policy", "purpose:marketing"]
    )
    consent_type: Literal["policy", "purpose", "separate", "guardian", "notice"]
    purposes: list[NonEmptyStr]
    pi_categories: list[NonEmptyStr] = Field(description="data item ids (27560: PII categories)")
    recipients: list[NonEmptyStr] = Field(description="recipient ids (27560: third parties)")
    retention: dict[str, NonEmptyStr] = Field(
        description="data item id -> ISO 8601 duration or until_account_cancelled"
    )
    withdrawal: NonEmptyStr = Field(description="how to withdraw, in the policy's language")
    lawful_basis: NonEmptyStr = Field(examples=["consent"])
    method: NonEmptyStr = Field(examples=["explicit_button"])
    jurisdiction: NonEmptyStr = Field(examples=["CN"])
    created_at: Rfc3339Utc
    guardian: Guardian | None = None
    proof: Proof


#: A consent record of either version (the POST body).
ConsentRecord = Annotated[Union[ConsentRecordV1, ConsentRecordV2], Field(union_mode="left_to_right")]


def consent_record_model(record: dict[str, Any]) -> type[ConsentRecordV1] | type[ConsentRecordV2]:
    """The model to validate *record* with: version 2 for ``schema_version`` the integer 2,
    else version 1 (whose check of ``schema_version`` then names that field)."""
    version = record.get("schema_version")
    return ConsentRecordV2 if type(version) is int and version == 2 else ConsentRecordV1


class StoredConsentRecordV1(ConsentRecordV1):
    """A version 1 record as stored: the record as received plus the server's receipt time."""

    received_at: Rfc3339Utc = Field(description="when the server stored it, RFC 3339 UTC")


class StoredConsentRecordV2(ConsentRecordV2):
    """A version 2 record as stored: the record as received plus the server's receipt time."""

    received_at: Rfc3339Utc = Field(description="when the server stored it, RFC 3339 UTC")


StoredConsentRecord = Union[StoredConsentRecordV1, StoredConsentRecordV2]


class ConsentRecordList(BaseModel):
    """Answer of ``GET /v1/consent-records``: the subject's records in the order received."""

    records: list[StoredConsentRecord]


class AccountConsentRecordV1(StoredConsentRecordV1):
    """A version 1 record of one of the account's subjects, with its server cursor."""

    cursor: int = Field(description="the server's sequence number; pass as ?after= to page on")


class AccountConsentRecordV2(StoredConsentRecordV2):
    """A version 2 record of one of the account's subjects, with its server cursor."""

    cursor: int = Field(description="the server's sequence number; pass as ?after= to page on")


AccountConsentRecord = Union[AccountConsentRecordV1, AccountConsentRecordV2]


class AccountConsentRecordList(BaseModel):
    """Answer of ``GET /v1/me/consent-records``."""

    records: list[AccountConsentRecord]
    cursor: int | None = Field(
        description="the last record's cursor; the given ?after= when there is none; "
        "null when neither"
    )


# -- the account's own data (docs/protocol.md, "What the server holds") ---------------------


class PersonalInformationItem(BaseModel):
    """One kind of personal information the server holds about the account (no values)."""

    item: str = Field(description="data item id of the policy manifest", examples=["login_account"])
    purpose: str = Field(description="purpose id of the policy manifest", examples=["account"])
    count: int = Field(description="how many are held")
    last_at: str | None = Field(description="when the latest one was stored, RFC 3339 UTC; null if unknown")
    held: str = Field(description="in what form it is held", examples=["Argon2id hash only"])


class PersonalInformationList(BaseModel):
    """Answer of ``GET /v1/me/personal-information``."""

    items: list[PersonalInformationItem]


class Transfer(BaseModel):
    """One giving of the account's personal information to a third party."""

    recipient: str = Field(description="recipient id of the policy manifest", examples=["ca"])
    items: list[str] = Field(description="data item ids", examples=[["real_name", "id_number"]])
    purpose: str = Field(examples=["certificate"])
    method: str = Field(description="how it was transferred")
    time: str = Field(description="RFC 3339 UTC")


class TransferList(BaseModel):
    """Answer of ``GET /v1/me/third-party-transfers``."""

    transfers: list[Transfer]


class PolicyOut(BaseModel):
    """Answer of ``GET /v1/policy``."""

    version: str
    effective_date: str = Field(description="ISO 8601 date, e.g. 2026-11-30")
    language: str
    text: str = Field(description="the policy, Markdown")
    manifest: dict[str, Any] = Field(description="manifest.toml as JSON; dates as ISO strings")
    sha256: str = Field(description="hex SHA-256 of the UTF-8 text")


class TemplateSummary(BaseModel):
    """One entry of ``GET /v1/templates``."""

    id: str
    title: str
    summary: str
    size: int = Field(description="size of the Markdown file in bytes")
    media_type: str


class TemplateList(BaseModel):
    """Answer of ``GET /v1/templates``."""

    templates: list[TemplateSummary]


class TemplateDetail(BaseModel):
    """Answer of ``GET /v1/templates/{id}``."""

    id: str
    title: str
    summary: str
    body: str = Field(description="the template, Markdown")
    media_type: str


# -- accounts (docs/protocol.md, "Accounts") ------------------------------------------------

IdentifierKind = Literal["phone", "email"]


class WeakPasswordBody(ErrorBody):
    """A 422 answer; ``reasons`` is present with ``error == "weak_password"``."""

    reasons: list[str] | None = Field(
        default=None, description="what to change, one short sentence each (Chinese)"
    )


class AccountCreated(BaseModel):
    """Answer of ``POST /v1/accounts``."""

    account_id: str = Field(description="uuid4")
    identifier_kind: IdentifierKind


class SessionOut(BaseModel):
    """Answer of ``POST /v1/sessions`` (the token travels only in ``Set-Cookie``)."""

    account_id: str
    identifier_kind: IdentifierKind
    identifier_masked: str = Field(examples=["138****8000", "a***@example.com"])
    remember_me: bool
    expires_at: str = Field(description="when the session ends on the server, RFC 3339 UTC")


class AccountOut(BaseModel):
    """Answer of ``GET /v1/me``."""

    account_id: str
    identifier_kind: IdentifierKind
    identifier_masked: str = Field(examples=["138****8000", "a***@example.com"])


# -- customer service, notifications, invitations, notices (issue #7; docs/protocol.md,
# -- "Customer service, notifications, invitations, notices, data region") ----------------


class SupportMessage(BaseModel):
    """A support message (OBL-CS-1): answer of ``POST /v1/me/support-messages``."""

    message_id: str = Field(description="uuid4")
    received_at: str = Field(description="RFC 3339 UTC")
    text: str = Field(description="as sent, 1 to 2000 characters")
    contact: str | None = Field(description="E.164 phone number or lower-case email address, or null")
    answer: str | None = Field(description="the staff's answer; null until answered")


class SupportMessageList(BaseModel):
    """Answer of ``GET /v1/me/support-messages``: newest first."""

    messages: list[SupportMessage]


class NotificationPreference(BaseModel):
    """The notification channel (OBL-MAIL-1); default ``sms`` without an email."""

    channel: Literal["sms", "email"]
    email: str | None = Field(description="the notification email address, or null")


class Invitation(BaseModel):
    """An invitation of a counter-signer (OBL-PHONE-1); the phone number only masked."""

    invitation_id: str = Field(description="uuid4")
    template_id: str
    phone_masked: str = Field(examples=["138****8000"])
    attested_at: str = Field(description="when the user attested the statement, RFC 3339 UTC")
    attestation: str = Field(description="the versioned statement the user attested")


class InvitationList(BaseModel):
    """Answer of ``GET /v1/me/invitations``: newest first."""

    invitations: list[Invitation]


class BreachNotice(BaseModel):
    """A personal-information breach notice (OBL-BR-1; the parts of PIPL art. 57)."""

    notice_id: str = Field(description="uuid4")
    kind: Literal["breach"]
    published_at: str = Field(description="RFC 3339 UTC")
    title: str
    what_happened: str = Field(description="what information leaked, was altered or lost, why")
    impact: str = Field(description="the harm it may cause")
    actions_taken: str = Field(description="what the handler did about it")
    how_to_protect: str = Field(description="what the user can do to reduce the harm")
    remedies: str = Field(description="remedies offered and whom to contact")
    acknowledged: bool


class ServiceEndingNotice(BaseModel):
    """A notice that the service ends (OBL-END-1)."""

    notice_id: str = Field(description="uuid4")
    kind: Literal["service_ending"]
    published_at: str = Field(description="RFC 3339 UTC")
    title: str
    ends_at: str = Field(description="when the service ends, RFC 3339 UTC")
    data_handling: str = Field(description="what happens to the personal information")
    acknowledged: bool


class NoticeList(BaseModel):
    """Answer of ``GET /v1/notices``: newest first."""

    notices: list[Annotated[BreachNotice | ServiceEndingNotice, Field(discriminator="kind")]]


class NoticeAcknowledgement(BaseModel):
    """Answer of ``POST /v1/notices/{notice_id}/acknowledgements``."""

    notice_id: str
    acknowledged_at: str = Field(description="RFC 3339 UTC; the first one when acknowledged again")


# -- data-subject rights and cancellation (issue #7; docs/protocol.md, "Data-subject rights
# -- and cancellation") ----------------------------------------------------------------------

RightsRequestKind = Literal["access", "export", "correction", "deletion", "objection",
                            "evidence_report"]
RightsRequestStatus = Literal["received", "in_progress", "completed", "rejected", "closed"]


class IdentityCheckOut(BaseModel):
    """Answer of ``POST /v1/me/identity-checks`` (OBL-DSR-1)."""

    identity_token: str = Field(description="send as header Identity-Token; 43 URL-safe "
                                            "characters; valid 10 minutes, for several requests")
    verified_at: str = Field(description="when the identity was checked, RFC 3339 UTC")
    expires_at: str = Field(description="when the token stops working, RFC 3339 UTC")


class RightsRequestOut(BaseModel):
    """One rights request (answer of ``POST /v1/me/rights-requests`` and the GETs)."""

    request_id: str = Field(description="uuid4")
    kind: RightsRequestKind
    status: RightsRequestStatus = Field(
        description="closed: ended unanswered by the account's cancellation (answer "
                    "'账号已注销，请求随之终止')")
    created_at: str = Field(description="RFC 3339 UTC")
    identity_verified_at: str = Field(description="the identity check's verified_at, RFC 3339 UTC")
    deadline: str = Field(description="the answer is due by the end of this PRC day: 15 PRC "
                                      "working days after the identity check (YYYY-MM-DD)")
    deadline_provisional: bool = Field(description="true when the holiday schedule of a year in "
                                                   "the range is not published yet (Mon-Fri counted)")
    overdue: bool = Field(description="received or in_progress, and the server's today (PRC) is "
                                      "past the deadline")
    answered_at: str | None = Field(description="RFC 3339 UTC; null until completed, rejected "
                                                "or closed (closed: the cancellation's time)")
    answer: str | None = Field(description="the answer's text, or null")
    details: dict[str, Any] = Field(description="kind-specific, never a value: {\"field\"}, "
                                                "{\"case\"}, {\"purpose\"} or {}")
    outcome: dict[str, Any] | None = Field(description="what was done (deletion: deleted and "
                                                       "kept items), or null")


class RightsRequestList(BaseModel):
    """Answer of ``GET /v1/me/rights-requests``: newest first."""

    requests: list[RightsRequestOut]


class ExportAccount(BaseModel):
    """The ``account`` part of the export."""

    account_id: str
    created_at: str
    identifier_kind: IdentifierKind
    phone: str | None = Field(description="E.164 or null")
    email: str | None


class ExportDocument(BaseModel):
    """Answer of ``GET /v1/me/export``: everything the server holds about the account that
    the user provided or generated, values included (OBL-DSR-1/3)."""

    format: Literal["privacy-sdk.export/1"]
    generated_at: str = Field(description="RFC 3339 UTC")
    account: ExportAccount
    notification_preference: dict[str, Any] = Field(description="{channel, email}")
    consent_records: list[dict[str, Any]] = Field(description="as GET /v1/me/consent-records")
    personal_information: list[PersonalInformationItem]
    third_party_transfers: list[Transfer]
    realname: dict[str, Any] = Field(description="{status, real_name, verifications}; no ID number")
    certificates: list[dict[str, Any]] = Field(description="{serial, not_before, not_after, revoked, subject}")
    signing_records: list[dict[str, Any]] = Field(
        description="{signature_id, template_id, content_sha256, signed_at, certificate_serial, keep_until}")
    rights_requests: list[dict[str, Any]] = Field(
        description="as GET /v1/me/rights-requests, plus provided: what the user gave that is kept")
    support_messages: list[dict[str, Any]]
    invitations: list[dict[str, Any]]
    notice_acknowledgements: list[dict[str, Any]]


class CancellationLoss(BaseModel):
    """One thing the user loses by cancelling."""

    code: Literal["contract_download", "evidence_reports", "certificates", "realname",
                  "account_login", "open_requests"] = Field(
        description="open_requests only when the account has requests still waiting for an "
                    "answer (the confirmation ends them with status closed)")
    text: str = Field(description="Chinese, for the confirmation screen")


class CancellationKept(BaseModel):
    """Something kept after the cancellation, and why."""

    item: str = Field(
        examples=["signing_record"],
        description="signing_record and certificate_info when the account has signing records; "
                    "evidence_request when evidence report requests keep their fields")
    keep_until: str = Field(description="RFC 3339 UTC")
    reason: str = Field(description="the law that requires keeping it (Chinese)")


class CancellationNotice(BaseModel):
    """Answer of ``POST /v1/me/cancellation`` (step 1; nothing changed yet)."""

    cancellation_token: str = Field(description="for POST /v1/me/cancellation/confirm; 10 minutes")
    expires_at: str = Field(description="RFC 3339 UTC")
    will_lose: list[CancellationLoss]
    kept: list[CancellationKept]


class CancellationDone(BaseModel):
    """Answer of ``POST /v1/me/cancellation/confirm``."""

    cancelled_at: str = Field(description="RFC 3339 UTC")
    evidence_kept_until: str = Field(description="signing records kept until, RFC 3339 UTC "
                                                 "(cancelled_at + 5 years)")
