"""What ``privacy.rights`` returns (docs/rights.md): plain frozen dataclasses parsed from the
server's answers (docs/protocol.md, issue #7 "Rights requests", "Export", "Cancellation").

Nothing here is written to disk or logged. The ``repr`` of :class:`IdentityCheck`,
:class:`CancellationNotice`, :class:`ExportDocument` and :class:`AccessReport` never shows a
token or a value; :class:`IdentityCheck` and :class:`CancellationNotice` refuse to be pickled
(their secret lives in memory only).
"""

from __future__ import annotations

import datetime as _dt
import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import TransportError

__all__ = [
    "DELETION_CASES",
    "KIND_LABELS",
    "REPORT_SECTIONS",
    "STATUS_LABELS",
    "AccessReport",
    "CancellationNotice",
    "CancellationReceipt",
    "ExportDocument",
    "IdentityCheck",
    "KeptRecord",
    "Loss",
    "ReportSection",
    "RightsRequest",
]

#: The five cases in which the user may ask for deletion (PIPL art. 47; the wire value ->
#: the Chinese label a UI shows next to each choice). :meth:`Rights.delete` takes a key.
DELETION_CASES: Mapping[str, str] = {
    "unlawful_processing": "我们违反法律、行政法规的规定处理您的个人信息",
    "no_consent": "我们未经您的同意处理您的个人信息（或您已撤回同意）",
    "breach_of_agreement": "我们违反与您的约定处理您的个人信息",
    "stopped_using": "您不再使用我们的产品或服务（处理目的已实现或不再必要）",
    "service_ended": "我们停止提供产品或服务，或者保存期限已届满",
}

#: Request status (wire value) -> Chinese label for the request list.
STATUS_LABELS: Mapping[str, str] = {
    "received": "已受理",
    "in_progress": "处理中",
    "completed": "已完成",
    "rejected": "已拒绝",
    "closed": "已终止",
}

#: Request kind (wire value) -> Chinese label.
KIND_LABELS: Mapping[str, str] = {
    "access": "查阅个人信息",
    "export": "复制（导出）个人信息",
    "correction": "更正个人信息",
    "deletion": "删除个人信息",
    "objection": "拒绝或限制处理",
    "evidence_report": "出证申请",
}

#: Sections of the access report, in the order shown: export document key -> Chinese title.
REPORT_SECTIONS: Mapping[str, str] = {
    "account": "账号信息",
    "consent_records": "同意记录",
    "personal_information": "个人信息清单",
    "third_party_transfers": "对外提供",
    "realname": "实名认证",
    "certificates": "数字证书",
    "signing_records": "签署记录",
    "rights_requests": "权利请求",
    "support_messages": "客服沟通",
    "invitations": "邀请记录",
    "notification_preference": "通知偏好",
    "notice_acknowledgements": "公告确认记录",
}


def parse_time(value: Any, what: str, name: str, *, optional: bool = False) -> _dt.datetime | None:
    """An RFC 3339 time of the server's answer as an aware datetime (UTC).

    Raises:
        TransportError: *value* is not an RFC 3339 time (and not ``None`` when *optional*).
    """
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise TransportError(f"{what}: the server's answer has no '{name}' time")
    try:
        moment = _dt.datetime.fromisoformat(value)
    except ValueError:
        raise TransportError(f"{what}: the server's '{name}' is not an RFC 3339 time") from None
    if moment.tzinfo is None:
        raise TransportError(f"{what}: the server's '{name}' has no time zone")
    return moment.astimezone(_dt.timezone.utc)


def _text(body: Mapping[str, Any], name: str, what: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise TransportError(f"{what}: the server's answer has no '{name}' string")
    return value


def _mapping(body: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise TransportError(f"{what}: the server's answer is not a JSON object")
    return body


class _MemoryOnly:
    """Refuses pickling and copying to disk by accident: the secret lives in memory only."""

    def __reduce__(self) -> Any:
        raise TypeError(f"a {type(self).__name__} holds a secret kept in memory only; it "
                        "cannot be pickled or stored")


@dataclass(frozen=True, repr=False, eq=False)
class IdentityCheck(_MemoryOnly):
    """The identity checked again (``privacy.rights.verify_identity``): pass it to the
    request methods within 10 minutes; it may be used for several requests (OBL-DSR-1).

    The token is kept in this object only: never written to disk, logged or shown by
    ``repr``; it cannot be pickled.

    Attributes:
        verified_at: when the server checked the password (aware, UTC); the requests made
            with this check count their deadline from it.
        expires_at: when the server stops accepting it (aware, UTC; 10 minutes later).
        account_id: the account it was made for (``None`` when unknown on the device).
    """

    token: str = field(repr=False)
    verified_at: _dt.datetime
    expires_at: _dt.datetime
    account_id: str | None = None
    #: ``time.monotonic()`` until which it counts as valid here (immune to the device clock).
    _valid_until: float = field(default=0.0, repr=False)

    @classmethod
    def from_answer(cls, body: Any, *, account_id: str | None = None,
                    margin_s: float = 5.0) -> IdentityCheck:
        """Parse ``POST /v1/me/identity-checks``'s answer; valid here until *margin_s*
        seconds before the server's 10 minutes end (measured on the monotonic clock).

        Raises:
            TransportError: the answer is not an identity check.
        """
        what = "POST /v1/me/identity-checks"
        body = _mapping(body, what)
        token = _text(body, "identity_token", what)
        verified_at = parse_time(body.get("verified_at"), what, "verified_at")
        expires_at = parse_time(body.get("expires_at"), what, "expires_at")
        assert verified_at is not None and expires_at is not None
        lifetime = (expires_at - verified_at).total_seconds()
        if lifetime <= 0:
            raise TransportError(f"{what}: the server's check expires before it was made")
        return cls(token, verified_at, expires_at, account_id,
                   time.monotonic() + max(0.0, lifetime - margin_s))

    @property
    def valid(self) -> bool:
        """True while the check may still be used (no network; a margin of a few seconds
        before ``expires_at``, measured from when the answer arrived, not on the device's
        wall clock)."""
        return time.monotonic() < self._valid_until

    @property
    def remaining_s(self) -> float:
        """Seconds it stays valid here (0 when expired)."""
        return max(0.0, self._valid_until - time.monotonic())

    def __repr__(self) -> str:
        return (f"IdentityCheck(verified_at={self.verified_at.isoformat()}, "
                f"expires_at={self.expires_at.isoformat()}, valid={self.valid})")


@dataclass(frozen=True)
class RightsRequest:
    """One data-subject request as the server tracks it (``GET /v1/me/rights-requests``).

    Attributes:
        request_id: the server's id (uuid4).
        kind: ``access``, ``export``, ``correction``, ``deletion``, ``objection`` or
            ``evidence_report`` (:data:`KIND_LABELS`).
        status: ``received``, ``in_progress``, ``completed``, ``rejected`` or ``closed`` (ended
            by the account's cancellation)
            (:data:`STATUS_LABELS`).
        created_at, identity_verified_at: aware datetimes (UTC).
        deadline: the PRC calendar day the answer is due by (end of that day, UTC+8): 15 PRC
            working days after ``identity_verified_at`` (OBL-DSR-6, OBL-DSR-8; the server's
            value, computed with :func:`sdk.rights.deadline.deadline_after`).
        deadline_provisional: the holiday schedule of a year in range is not published yet:
            Monday to Friday were counted; show the date as an estimate.
        overdue: still open and past the deadline (the server's clock).
        answered_at: when staff answered (aware, UTC), or ``None``.
        answer: staff's answer text, or ``None``.
        details: what the request is about, never a value: ``{"field": "phone"}``,
            ``{"case": "no_consent"}``, ``{"purpose": "marketing"}`` or ``{}``.
        outcome: for a completed deletion ``{"deleted": [item ids], "kept": [{"item",
            "reason", "keep_until"}]}``; else usually ``None``.
    """

    request_id: str
    kind: str
    status: str
    created_at: _dt.datetime
    identity_verified_at: _dt.datetime
    deadline: _dt.date
    deadline_provisional: bool
    overdue: bool
    answered_at: _dt.datetime | None
    answer: str | None
    details: Mapping[str, Any] = field(default_factory=dict)
    outcome: Mapping[str, Any] | None = None

    @property
    def status_label(self) -> str:
        """The status in Chinese (``已受理``, ``处理中``, ``已完成``, ``已拒绝``, ``已终止``)."""
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def kind_label(self) -> str:
        """The kind in Chinese (e.g. ``删除个人信息``)."""
        return KIND_LABELS.get(self.kind, self.kind)

    @property
    def open(self) -> bool:
        """True while staff still have to answer (``received`` or ``in_progress``)."""
        return self.status in ("received", "in_progress")

    @classmethod
    def from_answer(cls, body: Any, what: str) -> RightsRequest:
        """Parse one request object of the server.

        Raises:
            TransportError: it is not a request object.
        """
        body = _mapping(body, what)
        deadline_text = _text(body, "deadline", what)
        try:
            deadline = _dt.date.fromisoformat(deadline_text)
        except ValueError:
            raise TransportError(f"{what}: the server's 'deadline' is not a YYYY-MM-DD date") from None
        for name in ("deadline_provisional", "overdue"):
            if not isinstance(body.get(name), bool):
                raise TransportError(f"{what}: the server's answer has no '{name}' boolean")
        details = body.get("details") or {}
        outcome = body.get("outcome")
        answer = body.get("answer")
        if not isinstance(details, Mapping) or (outcome is not None and not isinstance(
                outcome, Mapping)) or (answer is not None and not isinstance(answer, str)):
            raise TransportError(f"{what}: the server's request has a malformed "
                                 "'details', 'outcome' or 'answer'")
        return cls(
            request_id=_text(body, "request_id", what),
            kind=_text(body, "kind", what),
            status=_text(body, "status", what),
            created_at=parse_time(body.get("created_at"), what, "created_at"),  # type: ignore[arg-type]
            identity_verified_at=parse_time(body.get("identity_verified_at"), what,  # type: ignore[arg-type]
                                            "identity_verified_at"),
            deadline=deadline,
            deadline_provisional=body["deadline_provisional"],
            overdue=body["overdue"],
            answered_at=parse_time(body.get("answered_at"), what, "answered_at", optional=True),
            answer=answer,
            details=dict(details),
            outcome=None if outcome is None else dict(outcome),
        )


@dataclass(frozen=True, repr=False, eq=False)
class ExportDocument:
    """The personal-information export (``GET /v1/me/export``, format
    ``privacy-sdk.export/1``): everything the user provided or generated, values included
    (PIPL art. 45). The SDK never writes it to a file: hand :meth:`to_json` to the system's
    share sheet or a file the user chooses.

    Attributes:
        data: the document as a dict (keys in docs/rights.md).
        request: the ``export`` (or ``access``) request the server recorded for it.
        filename: the name the server suggests (``personal-information-export.json``).
    """

    data: Mapping[str, Any]
    request: RightsRequest | None = None
    filename: str = "personal-information-export.json"

    @property
    def format(self) -> str:
        """The document's format id (``privacy-sdk.export/1``)."""
        return str(self.data.get("format", ""))

    @property
    def generated_at(self) -> _dt.datetime | None:
        """When the server made it (aware, UTC), when it says."""
        try:
            return parse_time(self.data.get("generated_at"), "export", "generated_at",
                              optional=True)
        except TransportError:
            return None

    def to_json(self) -> bytes:
        """The document as UTF-8 JSON bytes (indented, Chinese text as is), in memory."""
        return json.dumps(self.data, ensure_ascii=False, indent=2).encode("utf-8")

    def __repr__(self) -> str:
        return f"ExportDocument(format={self.format!r}, sections={len(self.data)})"


@dataclass(frozen=True, repr=False, eq=False)
class ReportSection:
    """One section of the access report.

    Attributes:
        key: the export document's key (e.g. ``consent_records``).
        title: the Chinese title (e.g. ``同意记录``).
        records: the section's entries, each a dict as in the export document (a single
            object such as the account is one entry); empty when there is nothing.
    """

    key: str
    title: str
    records: tuple[Mapping[str, Any], ...]

    @property
    def empty(self) -> bool:
        return not self.records

    def __len__(self) -> int:
        return len(self.records)

    def __repr__(self) -> str:
        return f"ReportSection({self.key!r}, {self.title!r}, {len(self.records)} entries)"


@dataclass(frozen=True, repr=False, eq=False)
class AccessReport:
    """What the server holds about the account, for reading on screen (PIPL art. 45;
    OBL-DSR-1): the export document in sections with Chinese titles, in the order of
    :data:`REPORT_SECTIONS`; a key the SDK does not know yet comes last under its own name,
    so nothing is hidden.

    Attributes:
        sections: the sections, in order.
        document: the same content as an :class:`ExportDocument`.
        request: the ``access`` request the server recorded.
    """

    sections: tuple[ReportSection, ...]
    document: ExportDocument
    request: RightsRequest | None = None

    @classmethod
    def from_document(cls, document: ExportDocument,
                      request: RightsRequest | None = None) -> AccessReport:
        """Build the sections from an export document."""
        data = document.data
        keys = [k for k in REPORT_SECTIONS if k in data]
        keys += [k for k in data if k not in REPORT_SECTIONS and k not in ("format",
                                                                           "generated_at")]
        sections = tuple(ReportSection(k, REPORT_SECTIONS.get(k, k), _records(data[k]))
                         for k in keys)
        return cls(sections, document, request)

    def section(self, key: str) -> ReportSection:
        """The section of *key* (e.g. ``"certificates"``).

        Raises:
            KeyError: the document has no such section.
        """
        for section in self.sections:
            if section.key == key:
                return section
        raise KeyError(key)

    @property
    def titles(self) -> tuple[str, ...]:
        return tuple(s.title for s in self.sections)

    def __iter__(self) -> Iterator[ReportSection]:
        return iter(self.sections)

    def __repr__(self) -> str:
        return f"AccessReport({', '.join(self.titles)})"


def _records(value: Any) -> tuple[Mapping[str, Any], ...]:
    if value is None:
        return ()
    if isinstance(value, Mapping):
        return (dict(value),)
    if isinstance(value, list):
        return tuple(dict(v) if isinstance(v, Mapping) else {"value": v} for v in value)
    return ({"value": value},)


@dataclass(frozen=True)
class Loss:
    """What the user loses by cancelling (``will_lose``): ``code`` (``contract_download``,
    ``evidence_reports``, ``certificates``, ``realname``, ``account_login``, and
    ``open_requests`` when requests are still open: they end with the account) and its Chinese
    ``text``."""

    code: str
    text: str


@dataclass(frozen=True)
class KeptRecord:
    """What the server keeps after the cancellation, why and until when.

    Attributes:
        item: the manifest item id (``signing_record``).
        keep_until: aware datetime (UTC), or ``None`` when no end is set.
        reason: the legal ground, in Chinese (e.g. 《中华人民共和国电子签名法》...).
    """

    item: str
    keep_until: _dt.datetime | None
    reason: str


@dataclass(frozen=True, repr=False, eq=False)
class CancellationNotice(_MemoryOnly):
    """Step 1 of the cancellation (``privacy.rights.begin_cancellation``): show
    :attr:`warning` (or build the screen from :attr:`will_lose` and :attr:`kept`), then
    pass this object to ``confirm_cancellation`` within 10 minutes if the user confirms.
    Nothing has changed yet. Its token stays in memory only (not shown, not picklable).

    Attributes:
        expires_at: when the server stops accepting the confirmation (aware, UTC).
        will_lose: what the user loses, in order.
        kept: what the server keeps, why and until when.
        warning: a plain Chinese text saying all of it, for the confirmation dialog.
        account_id: the account it was made for (``None`` when unknown on the device).
        idempotency_key: the key of the confirmation (the same on every retry of it).
    """

    token: str = field(repr=False)
    expires_at: _dt.datetime
    will_lose: tuple[Loss, ...]
    kept: tuple[KeptRecord, ...]
    warning: str
    account_id: str | None = None
    idempotency_key: str = ""
    _valid_until: float = field(default=0.0, repr=False)

    @property
    def valid(self) -> bool:
        """True while the confirmation may still be sent (monotonic clock, a small margin)."""
        return time.monotonic() < self._valid_until

    def __repr__(self) -> str:
        return (f"CancellationNotice(expires_at={self.expires_at.isoformat()}, "
                f"will_lose={[w.code for w in self.will_lose]}, valid={self.valid})")


@dataclass(frozen=True)
class CancellationReceipt:
    """The account is cancelled (``confirm_cancellation``).

    Attributes:
        cancelled_at: the server's time of the cancellation (aware, UTC).
        evidence_kept_until: until when the server keeps the signing records and their
            certificates (Electronic Signature Law: 5 years), linked to the anonymised
            account only.
        device_failures: names of the device wipe steps that failed (``local_data``,
            ``audit_trail``, ``operation_log``, ``consent_ledger``); empty when the device is
            clean. The account is cancelled either way; use "clear all data" or reinstall.
    """

    cancelled_at: _dt.datetime
    evidence_kept_until: _dt.datetime | None
    device_failures: tuple[str, ...] = ()

    @property
    def device_wiped(self) -> bool:
        return not self.device_failures
