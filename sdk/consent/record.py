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

__all__ = [
    "CONSENT_TYPES",
    "DECISIONS",
    "SCHEMA_VERSION",
    "ConsentRecord",
    "Decision",
    "Notice",
    "consent_type_of",
]

#: Schema version of the records this SDK writes (docs/protocol.md); version 1 records are
#: still read (they decide the ``policy`` scope).
SCHEMA_VERSION = 2

Decision = Literal["granted", "denied", "withdrawn"]
DECISIONS: tuple[str, ...] = ("granted", "denied", "withdrawn")

#: ``consent_type`` values (docs/consent.md, "Scopes").
CONSENT_TYPES: tuple[str, ...] = ("policy", "purpose", "separate", "guardian", "notice")

#: Fields a version 2 record adds to version 1 (all required on the wire).
_V2_FIELDS = ("scope", "consent_type", "pi_categories", "recipients", "retention", "withdrawal",
              "proof")

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
    """Which privacy notice the user saw: version, digest of its text, language, and the digest
    of its manifest (what it declares: purposes, items, recipients, retention, contact)."""

    policy_version: str
    sha256: str
    language: str
    manifest_sha256: str | None = None

    @property
    def key(self) -> str:
        """Identifies the exact policy shown: the text digest, and the manifest digest when
        known (records of schema 1 have none)."""
        return f"{self.sha256}:{self.manifest_sha256}" if self.manifest_sha256 else self.sha256

    def to_dict(self) -> dict[str, str]:
        data = {
            "policy_version": self.policy_version,
            "sha256": self.sha256,
            "language": self.language,
        }
        if self.manifest_sha256:
            data["manifest_sha256"] = self.manifest_sha256
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Notice:
        try:
            manifest_sha256 = data.get("manifest_sha256")
            return cls(
                policy_version=str(data["policy_version"]),
                sha256=str(data["sha256"]),
                language=str(data["language"]),
                manifest_sha256=str(manifest_sha256) if manifest_sha256 else None,
            )
        except (KeyError, TypeError) as exc:
            raise ConsentError(
                "notice must be an object with 'policy_version', 'sha256' and 'language'"
            ) from exc


def consent_type_of(scope: str, separate: bool = False) -> str:
    """The ``consent_type`` of a *scope*: ``policy``, ``guardian``, ``notice``
    (``minors_notice``), ``separate`` (``item:``/``recipient:`` scopes, and ``purpose:`` when
    *separate*), else ``purpose``."""
    if scope == "policy":
        return "policy"
    if scope == "guardian":
        return "guardian"
    if scope == "minors_notice":
        return "notice"
    if scope.startswith(("item:", "recipient:")) or separate:
        return "separate"
    return "purpose"


@dataclass(frozen=True)
class ConsentRecord:
    """One decision of the user, as stored in the ledger (docs/consent.md, docs/protocol.md).

    Attributes:
        record_id: uuid4 chosen by the device; also the ``Idempotency-Key`` of its POST.
        subject_id: the pseudonymous install id (random uuid4, never a device identifier).
        decision: ``granted``, ``denied`` (kept on the device only) or ``withdrawn``
            (ISO/IEC TS 27560 "state").
        purposes: ids of the purposes the decision covers, as declared in the policy manifest.
        notice: the policy version, text digest and language the user saw.
        controller: the personal information handler named in the policy.
        method: the affirmative action the user took, e.g. ``explicit_button`` (27560 "event
            type").
        created_at: RFC 3339 UTC time of the decision (27560 "event time").
        lawful_basis: always ``consent`` for these records (PIPL art. 13(1)).
        jurisdiction: ``CN`` by default (``SdkConfig.region``).
        scope: what the decision covers: ``policy``, ``purpose:<id>``, ``item:<id>``,
            ``recipient:<id>``, ``guardian`` or ``minors_notice`` (exactly one; no bundling).
        consent_type: ``policy``, ``purpose``, ``separate``, ``guardian`` or ``notice``.
        pi_categories: data item ids the decision covers (27560 "PII categories").
        recipients: recipient ids the decision covers (27560 "third parties").
        retention: data item id -> retention (ISO 8601 duration or ``until_account_cancelled``).
        withdrawal: how the user can withdraw, in the policy's language.
        controller_contact: the controller's contact for personal information.
        guardian: for ``guardian`` records ``{"relationship", "id_digest"}``, else ``None``.
        proof: ``{"type", "public_key", "seq", "prev_hash", "signature"}`` (hash chain and
            Ed25519 signature, docs/protocol.md "Proof"), or ``None`` when unsigned.
        schema_version: 1 for records written by an older SDK, else 2.
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
    scope: str = "policy"
    consent_type: str = "policy"
    pi_categories: tuple[str, ...] = ()
    recipients: tuple[str, ...] = ()
    retention: Mapping[str, str] = field(default_factory=dict)
    withdrawal: str = ""
    controller_contact: str = ""
    guardian: Mapping[str, str] | None = None
    proof: Mapping[str, Any] | None = None
    schema_version: int = SCHEMA_VERSION
    synced_at: str | None = field(default=None, compare=False)
    received_at: str | None = field(default=None, compare=False)

    @property
    def is_synced(self) -> bool:
        return self.synced_at is not None

    def to_dict(self) -> dict[str, Any]:
        """The wire record of docs/protocol.md (no local bookkeeping fields)."""
        if self.schema_version == 1:
            return {
                "schema_version": 1,
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
        data: dict[str, Any] = {
            "schema_version": self.schema_version,
            "record_id": self.record_id,
            "subject_id": self.subject_id,
            "notice": self.notice.to_dict(),
            "controller": {"name": self.controller, "contact": self.controller_contact},
            "decision": self.decision,
            "scope": self.scope,
            "consent_type": self.consent_type,
            "purposes": list(self.purposes),
            "pi_categories": list(self.pi_categories),
            "recipients": list(self.recipients),
            "retention": dict(self.retention),
            "withdrawal": self.withdrawal,
            "lawful_basis": self.lawful_basis,
            "method": self.method,
            "jurisdiction": self.jurisdiction,
            "created_at": self.created_at,
            "guardian": dict(self.guardian) if self.guardian is not None else None,
        }
        if self.proof is not None:
            data["proof"] = dict(self.proof)
        return data

    def to_json(self) -> str:
        """The wire record as a JSON string (UTF-8 text, keys in protocol order)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))

    def unsigned_dict(self) -> dict[str, Any]:
        """The wire record without ``proof``: what :mod:`sdk.consent.proof` signs and chains."""
        data = self.to_dict()
        data.pop("proof", None)
        return data

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        *,
        synced_at: str | None = None,
        received_at: str | None = None,
    ) -> ConsentRecord:
        """Build a record from its wire form (version 1 or 2); extra keys are ignored.

        Raises:
            ConsentError: a field is missing or has the wrong type (names the field).
        """
        missing = [name for name in _WIRE_FIELDS if name not in data]
        version = data.get("schema_version")
        if version not in (1, 2) or isinstance(version, bool):
            raise ConsentError("consent record field 'schema_version' must be 1 or 2")
        if version == 2:
            missing += [name for name in _V2_FIELDS if name not in data]
        if missing:
            raise ConsentError(f"consent record is missing field(s): {', '.join(missing)}")
        decision = data["decision"]
        if decision not in DECISIONS:
            raise ConsentError(f"consent record field 'decision' must be one of {', '.join(DECISIONS)}")
        for name in ("purposes", "pi_categories", "recipients"):
            values = data.get(name, [])
            if isinstance(values, str) or not isinstance(values, (list, tuple)) or not all(
                    isinstance(p, str) for p in values):
                raise ConsentError(f"consent record field '{name}' must be a list of strings")
        if not isinstance(data["notice"], Mapping):
            raise ConsentError("consent record field 'notice' must be an object")
        controller = data["controller"]
        contact = ""
        if isinstance(controller, Mapping):
            controller, contact = controller.get("name", ""), controller.get("contact", "")
        retention = data.get("retention", {})
        if not isinstance(retention, Mapping):
            raise ConsentError("consent record field 'retention' must be an object")
        guardian = data.get("guardian")
        if guardian is not None and not isinstance(guardian, Mapping):
            raise ConsentError("consent record field 'guardian' must be an object or null")
        proof = data.get("proof")
        if proof is not None and not isinstance(proof, Mapping):
            raise ConsentError("consent record field 'proof' must be an object")
        scope = str(data.get("scope", "policy"))
        consent_type = str(data.get("consent_type", "policy"))
        if consent_type not in CONSENT_TYPES:
            raise ConsentError(
                f"consent record field 'consent_type' must be one of {', '.join(CONSENT_TYPES)}")
        return cls(
            record_id=str(data["record_id"]),
            subject_id=str(data["subject_id"]),
            decision=decision,
            purposes=tuple(data["purposes"]),
            notice=Notice.from_dict(data["notice"]),
            controller=str(controller),
            method=str(data["method"]),
            created_at=str(data["created_at"]),
            lawful_basis=str(data["lawful_basis"]),
            jurisdiction=str(data["jurisdiction"]),
            scope=scope,
            consent_type=consent_type,
            pi_categories=tuple(data.get("pi_categories", ())),
            recipients=tuple(data.get("recipients", ())),
            retention={str(k): str(v) for k, v in retention.items()},
            withdrawal=str(data.get("withdrawal", "")),
            controller_contact=str(contact),
            guardian={str(k): str(v) for k, v in guardian.items()} if guardian is not None else None,
            proof=dict(proof) if proof is not None else None,
            schema_version=int(version),
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
