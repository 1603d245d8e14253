"""Pydantic models of the wire protocol v1 (docs/protocol.md): request validation and the
schemas published in ``/openapi.json``."""

from __future__ import annotations

import datetime as _dt
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, StrictStr, WithJsonSchema
from pydantic_core import PydanticCustomError

__all__ = [
    "UUID4_PATTERN",
    "Uuid4Str",
    "ErrorBody",
    "Health",
    "Notice",
    "ConsentRecord",
    "StoredConsentRecord",
    "ConsentRecordList",
    "PolicyOut",
    "TemplateSummary",
    "TemplateList",
    "TemplateDetail",
    "WeakPasswordBody",
    "AccountCreated",
    "SessionOut",
    "AccountOut",
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
    if value != 1:
        raise PydanticCustomError("schema_version", "must be 1")
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


class ConsentRecord(BaseModel):
    """A consent record as sent by the device (docs/protocol.md, "Consent record").

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


class StoredConsentRecord(ConsentRecord):
    """A consent record as stored: the record as received plus the server's receipt time."""

    received_at: Rfc3339Utc = Field(description="when the server stored it, RFC 3339 UTC")


class ConsentRecordList(BaseModel):
    """Answer of ``GET /v1/consent-records``: the subject's records in the order received."""

    records: list[StoredConsentRecord]


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
