"""The consent record: what the device stores and what it sends (docs/protocol.md).

Field names follow ISO/IEC TS 27560 where one exists. :meth:`ConsentRecord.to_dict` gives
exactly the wire record of the protocol; ``synced_at`` and ``received_at`` are local
bookkeeping and never leave the device.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import ConsentError

__all__ = ["DECISIONS", "SCHEMA_VERSION", "ConsentRecord", "Decision", "Notice"]

SCHEMA_VERSION = 1

Decision = Literal["granted", "denied", "withdrawn"]
DECISIONS: tuple[str, ...] = ("granted", "denied", "withdrawn")

_WIRE_FIELDS = (
    "schema_version",
    "record_id",
    "subject_id",
    "notice",
    "controller",
    "decision",
    "purposes",
    "lawful_basis",
    "method",
    "jurisdiction",
    "created_at",
)


@dataclass(frozen=True)
class Notice:
    """Which privacy notice the user saw: version, digest of its text, language."""

    policy_version: str
    sha256: str
    language: str

    def to_dict(self) -> dict[str, str]:
        return {
            "policy_version": self.policy_version,
            "sha256": self.sha256,
            "language": self.language,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Notice:
        try:
            return cls(
                policy_version=str(data["policy_version"]),
                sha256=str(data["sha256"]),
                language=str(data["language"]),
            )
        except (KeyError, TypeError) as exc:
            raise ConsentError(
                "notice must be an object with 'policy_version', 'sha256' and 'language'"
            ) from exc


@dataclass(frozen=True)
class ConsentRecord:
    """One decision of the user, as stored in the ledger.

    Attributes:
        record_id: uuid4 chosen by the device; also the ``Idempotency-Key`` of its POST.
        subject_id: the pseudonymous install id (random uuid4, never a device identifier).
        decision: ``granted``, ``denied`` (kept on the device only) or ``withdrawn``.
        purposes: ids of the purposes the decision covers, as declared in the policy manifest.
        notice: the policy version, text digest and language the user saw.
        controller: the personal information handler named in the policy.
        method: the affirmative action the user took, e.g. ``explicit_button``.
        created_at: RFC 3339 UTC time of the decision.
        lawful_basis: always ``consent`` for these records (PIPL art. 13(1)).
        jurisdiction: ``CN`` by default (``SdkConfig.region``).
        synced_at: local time the server acknowledged the record, ``None`` while pending.
        received_at: the server's ``received_at`` for the record, ``None`` while pending.
    """

    record_id: str
    subject_id: str
    decision: Decision
    purposes: tuple[str, ...]
    notice: Notice
    controller: str
    method: str
    created_at: str
    lawful_basis: str = "consent"
    jurisdiction: str = "CN"
    schema_version: int = SCHEMA_VERSION
    synced_at: str | None = field(default=None, compare=False)
    received_at: str | None = field(default=None, compare=False)

    @property
    def is_synced(self) -> bool:
        return self.synced_at is not None

    def to_dict(self) -> dict[str, Any]:
        """The wire record of docs/protocol.md (no local bookkeeping fields)."""
        return {
            "schema_version": self.schema_version,
            "record_id": self.record_id,
            "subject_id": self.subject_id,
            "notice": self.notice.to_dict(),
            "controller": self.controller,
            "decision": self.decision,
            "purposes": list(self.purposes),
            "lawful_basis": self.lawful_basis,
            "method": self.method,
            "jurisdiction": self.jurisdiction,
            "created_at": self.created_at,
        }

    def to_json(self) -> str:
        """The wire record as a JSON string (UTF-8 text, keys in protocol order)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        *,
        synced_at: str | None = None,
        received_at: str | None = None,
    ) -> ConsentRecord:
        """Build a record from its wire form; extra keys (e.g. ``received_at``) are ignored.

        Raises:
            ConsentError: a field is missing or has the wrong type (names the field).
        """
        missing = [name for name in _WIRE_FIELDS if name not in data]
        if missing:
            raise ConsentError(f"consent record is missing field(s): {', '.join(missing)}")
        decision = data["decision"]
        if decision not in DECISIONS:
            raise ConsentError(f"consent record field 'decision' must be one of {', '.join(DECISIONS)}")
        purposes = data["purposes"]
        if isinstance(purposes, str) or not all(isinstance(p, str) for p in purposes):
            raise ConsentError("consent record field 'purposes' must be a list of strings")
        if not isinstance(data["notice"], Mapping):
            raise ConsentError("consent record field 'notice' must be an object")
        return cls(
            record_id=str(data["record_id"]),
            subject_id=str(data["subject_id"]),
            decision=decision,
            purposes=tuple(purposes),
            notice=Notice.from_dict(data["notice"]),
            controller=str(data["controller"]),
            method=str(data["method"]),
            created_at=str(data["created_at"]),
            lawful_basis=str(data["lawful_basis"]),
            jurisdiction=str(data["jurisdiction"]),
            schema_version=int(data["schema_version"]),
            synced_at=synced_at,
            received_at=received_at if received_at is not None else data.get("received_at"),
        )

    @classmethod
    def from_json(cls, text: str | bytes | Mapping[str, Any]) -> ConsentRecord:
        """Parse :meth:`to_json` output (a JSON string, bytes, or an already decoded dict).

        Raises:
            ConsentError: not JSON, or a field is missing or wrong.
        """
        if isinstance(text, Mapping):
            return cls.from_dict(text)
        try:
            data = json.loads(text)
        except (ValueError, TypeError) as exc:
            raise ConsentError("consent record is not valid JSON") from exc
        if not isinstance(data, Mapping):
            raise ConsentError("consent record JSON must be an object")
        return cls.from_dict(data)
