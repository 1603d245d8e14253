"""A compliance check over the on-device audit trail and consent ledger.

The kind of check Chinese app-privacy scanners run from outside, here from the device's own
records (``data_dir/audit.db``, ``data_dir/consent.db`` and, when there is one, the policy in
``data_dir/policy.json``). Findings (:data:`KINDS`):

``collection_before_consent`` / ``transfer_before_consent`` (OBL-PURP-1)
    an ``allowed`` collection (transfer to a third party) earlier than the user's first
    ``granted`` record of the ``policy`` scope, or with no such grant at all: nothing may be
    processed, on any lawful basis, before the user agrees to the privacy policy.
``collection_after_withdrawal`` / ``transfer_after_withdrawal`` (OBL-DSR-4)
    an ``allowed`` collection (transfer) at a time when one of the scopes it needs had been
    granted and was then withdrawn (or denied) with no later grant: the ``policy`` scope
    itself; the purpose ``p``, decided by the latest of the ``policy`` records whose purposes
    contain ``p`` and the ``purpose:p`` records (docs/consent.md); ``item:<item>``; and for a
    transfer ``recipient:<recipient>``. The deciding record is the one with the latest
    ``created_at``; on a tie ``withdrawn`` beats ``denied`` beats ``granted``, then ledger order.
``permission_before_consent`` (OBL-PERM-1)
    a permission ``requested`` event earlier than the first ``policy`` grant (or with none).
``permission_outside_feature`` (OBL-PERM-1)
    a permission ``requested`` event whose feature is ``None`` or is not one of the features
    that need that permission: the ``required_for`` features of the manifest's data items
    whose ``permission`` is it (:func:`features_needing`). Needs the policy manifest:
    :func:`check` takes it as ``manifest=``; the CLI reads ``--manifest FILE`` (TOML or
    JSON), else ``DATA_DIR/policy.json`` (the ``GET /v1/policy`` answer,
    :meth:`sdk.policy.Policy.to_json`, or a bare manifest), else the policy the consent ledger
    kept with the latest consent record. Without any, this kind is **not checked** (the CLI
    prints a note saying so).
``permission_reasked_within_48h`` (OBL-PERM-4)
    a permission ``requested`` event that the user did not start themselves
    (``user_initiated=False``) less than ``reask_window`` (48 hours by default) after the
    user's last ``denied`` or ``permanently_denied`` answer for the same permission, with no
    ``granted`` answer in between.
``undeclared_item`` (OBL-SEC-3, OBL-PURP-1)
    a refused collection or transfer whose reason is ``undeclared_item``,
    ``undeclared_purpose`` or ``undeclared_recipient``: the app tried to process something its
    policy does not declare. The gate refused it; the code that tried still has to go.

Times have one-second resolution (consent times are cut to the second): an entry in the same
second as a decision is given the benefit of the doubt (a grant counts, a withdrawal does
not yet). A finding carries the audit entry's item, purpose, time, feature and subject (the
permission or the recipient), never a value.

Three ways to use it, all sharing the same rule code (:func:`findings_for`, one function per
rule):

- ``python -m sdk.compliance DATA_DIR [--manifest FILE]``: prints one finding per line;
  exit 0: clean, 1: findings, 2: the folder or its files cannot be read (one line, no
  traceback);
- :func:`check` from a script, or :func:`sdk.testing.compliance.assert_compliant` from a test;
- strict mode (``SdkConfig(strict=True)``): :class:`sdk.PrivacySdk` calls :func:`enforce`
  right after writing each audit entry, which raises
  :class:`sdk.errors.ComplianceViolation` for the first finding of that entry.

Wiring strict mode in a gate (what :class:`sdk.PrivacySdk` does)::

    entry = self.audit.record_permission(permission, feature, outcome,
                                         user_initiated=user_initiated)
    if self.config.strict:
        compliance.enforce(entry, self.audit, self.ledger, manifest=self.policy.manifest)

For a collection or transfer the gate's own refusal (``ConsentRequired``,
``UndeclaredDataItem``, ...) is raised first; :func:`enforce` runs for what the gate let
through. :func:`check` writes nothing; it opens the files as the SDK does (an audit trail of
an older SDK is migrated in place, as the SDK would).
"""

from __future__ import annotations

import datetime as _dt
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ComplianceViolation, ConfigError, PolicyError, SdkError

if TYPE_CHECKING:  # pragma: no cover
    from .audit import AuditEntry, AuditTrail
    from .consent.record import ConsentRecord
    from .policy.manifest import Manifest

__all__ = [
    "KINDS",
    "POLICY_FILENAME",
    "REASK_WINDOW",
    "ConsentTimeline",
    "Finding",
    "check",
    "enforce",
    "features_needing",
    "findings_for",
    "load_manifest_for",
    "main",
    "violation",
]

#: Kinds of finding, in the order :func:`findings_for` reports them for one entry.
KINDS: tuple[str, ...] = (
    "collection_before_consent",
    "collection_after_withdrawal",
    "transfer_before_consent",
    "transfer_after_withdrawal",
    "permission_before_consent",
    "permission_outside_feature",
    "permission_reasked_within_48h",
    "undeclared_item",
)

#: How long after a refusal the app must not ask for the same permission again on its own
#: (MIIT: no repeated requests; OBL-PERM-4).
REASK_WINDOW = _dt.timedelta(hours=48)

#: The policy (``GET /v1/policy`` answer) or manifest JSON the CLI looks for in DATA_DIR.
POLICY_FILENAME = "policy.json"

#: Permission answers that start the re-ask window.
_REFUSALS = ("denied", "permanently_denied")
#: Refusal reasons that mean "the policy does not declare it".
_UNDECLARED = ("undeclared_item", "undeclared_purpose", "undeclared_recipient")
#: Tie-break among records with the same ``created_at``: withdrawal wins ties.
_TIE_RANK = {"granted": 0, "denied": 1, "withdrawn": 2}


@dataclass(frozen=True)
class Finding:
    """One violation found. Never holds a value.

    Attributes:
        kind: one of :data:`KINDS`.
        item: data item id of the audit entry (``""`` for a permission event).
        purpose: purpose id of the audit entry (``""`` for a permission event).
        time: RFC 3339 UTC time of the audit entry.
        subject: the permission (permission findings) or the recipient (transfers), else
            ``None``.
        feature: the feature the audit entry names, ``None`` when it names none.
    """

    kind: str
    item: str
    purpose: str
    time: str
    subject: str | None = None
    feature: str | None = None

    def __str__(self) -> str:
        if self.kind.startswith("permission_"):
            what = f"permission '{self.subject}'"
        else:
            what = f"item '{self.item}' for purpose '{self.purpose}'"
            if self.subject is not None:
                what += f" to recipient '{self.subject}'"
        where = f" in feature '{self.feature}'" if self.feature is not None else (
            " with no feature" if self.kind == "permission_outside_feature" else "")
        return f"{self.time} {self.kind}: {what}{where}"


def _parse(text: str) -> _dt.datetime:
    moment = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.timezone.utc)
    return moment.replace(microsecond=0)


# -- the consent side ----------------------------------------------------------------------


class ConsentTimeline:
    """The ledger's records, read by the deciding-record rule of docs/consent.md, at any time.

    Args:
        records: this device's consent records (``ConsentLedger.history()``), in ledger
            order. Version 1 records decide the ``policy`` scope.
        remote: records pulled from the user's other devices
            (``ConsentLedger.remote_history()``), in the order received; on a full tie a
            record of this device wins, as in ``ConsentLedger.deciding``.
    """

    def __init__(self, records: Iterable[ConsentRecord],
                 remote: Iterable[ConsentRecord] = ()) -> None:
        self._records = [
            (_parse(r.created_at), str(r.decision), str(getattr(r, "scope", "policy")),
             frozenset(r.purposes), index)
            for index, r in enumerate([*remote, *records])
        ]
        grants = [t for t, d, scope, _, _ in self._records if d == "granted" and scope == "policy"]
        #: Time of the first ``granted`` record of the ``policy`` scope, ``None`` if none.
        self.first_policy_grant: _dt.datetime | None = min(grants) if grants else None

    @classmethod
    def from_ledger(cls, ledger: Any) -> ConsentTimeline:
        """All the records of a ``ConsentLedger``: its own and, when it keeps them, those
        pulled from the user's other devices."""
        remote = ledger.remote_history() if hasattr(ledger, "remote_history") else ()
        return cls(ledger.history(), remote)

    def before_consent(self, at: _dt.datetime) -> bool:
        """*at* is earlier than the first ``policy`` grant, or there is none."""
        return self.first_policy_grant is None or at < self.first_policy_grant

    def _withdrawn(self, at: _dt.datetime, covers: Any) -> bool:
        """Is the scope made of the records *covers* accepts withdrawn (or denied) at *at*,
        after having been granted? Records in *at*'s own second: only grants count yet."""
        seen = [(t, _TIE_RANK.get(d, 0), i, d) for t, d, scope, purposes, i in self._records
                if covers(scope, purposes) and (t < at or (t == at and d == "granted"))]
        if not seen:
            return False
        deciding = max(seen)[3]
        return deciding != "granted" and any(d == "granted" for *_, d in seen)

    def withdrawn(self, at: _dt.datetime, *, purpose: str, item: str | None = None,
                  recipient: str | None = None) -> bool:
        """At *at*, was a consent needed for processing *item* for *purpose* (given to
        *recipient*) withdrawn after having been granted? Scopes: ``policy``, the purpose
        (``policy`` records containing it and ``purpose:<purpose>``), ``item:<item>``,
        ``recipient:<recipient>``."""
        scopes = [
            lambda scope, _: scope == "policy",
            lambda scope, purposes: (scope == "policy" and purpose in purposes)
            or scope == f"purpose:{purpose}",
        ]
        if item:
            scopes.append(lambda scope, _: scope == f"item:{item}")
        if recipient:
            scopes.append(lambda scope, _: scope == f"recipient:{recipient}")
        return any(self._withdrawn(at, covers) for covers in scopes)


def _timeline(consent: Any) -> ConsentTimeline:
    if isinstance(consent, ConsentTimeline):
        return consent
    if hasattr(consent, "history"):
        return ConsentTimeline.from_ledger(consent)
    return ConsentTimeline(consent)


def features_needing(manifest: Manifest, permission: str) -> frozenset[str]:
    """The features that need *permission*: ``required_for`` of the data items whose
    ``permission`` it is. An empty set means no feature may ask for it."""
    return frozenset(
        feature
        for item in manifest.data_items if item.permission == permission
        for feature in item.required_for
    )


# -- the rules: one function each, shared by check() and strict mode -----------------------


def _finding(kind: str, entry: AuditEntry) -> Finding:
    return Finding(kind, entry.item, entry.purpose, entry.time, entry.subject, entry.feature)


def _processing_rule(entry: AuditEntry, consent: ConsentTimeline) -> list[Finding]:
    """collection_/transfer_ before_consent and after_withdrawal."""
    if entry.outcome != "allowed":
        return []
    prefix = "transfer" if entry.kind == "transfer" else "collection"
    at = _parse(entry.time)
    if consent.before_consent(at):
        return [_finding(f"{prefix}_before_consent", entry)]
    recipient = entry.subject if entry.kind == "transfer" else None
    if consent.withdrawn(at, purpose=entry.purpose, item=entry.item, recipient=recipient):
        return [_finding(f"{prefix}_after_withdrawal", entry)]
    return []


def _undeclared_rule(entry: AuditEntry) -> list[Finding]:
    """undeclared_item."""
    if entry.outcome == "refused" and entry.reason in _UNDECLARED:
        return [_finding("undeclared_item", entry)]
    return []


def _permission_before_consent_rule(entry: AuditEntry, consent: ConsentTimeline) -> list[Finding]:
    if consent.before_consent(_parse(entry.time)):
        return [_finding("permission_before_consent", entry)]
    return []


def _permission_feature_rule(entry: AuditEntry, manifest: Manifest | None) -> list[Finding]:
    if manifest is None:
        return []  # not checked without a manifest (documented)
    if entry.feature is None or entry.feature not in features_needing(manifest, str(entry.subject)):
        return [_finding("permission_outside_feature", entry)]
    return []


def _reask_rule(entry: AuditEntry, earlier: Sequence[AuditEntry],
                reask_window: _dt.timedelta) -> list[Finding]:
    if entry.user_initiated:
        return []
    refused_at: str | None = None
    for event in earlier:
        if event.subject != entry.subject or event.seq >= entry.seq:
            continue
        if event.outcome in _REFUSALS:
            refused_at = event.time
        elif event.outcome == "granted":
            refused_at = None
    if refused_at is not None and _parse(entry.time) - _parse(refused_at) < reask_window:
        return [_finding("permission_reasked_within_48h", entry)]
    return []


def findings_for(
    entry: AuditEntry,
    consent: Any,
    *,
    earlier: Sequence[AuditEntry] = (),
    manifest: Manifest | None = None,
    reask_window: _dt.timedelta = REASK_WINDOW,
) -> list[Finding]:
    """Every finding for one audit entry, in :data:`KINDS` order (usually none or one).

    Args:
        entry: the audit entry.
        consent: a :class:`ConsentTimeline`, a ``ConsentLedger`` or its records.
        earlier: for a permission event, the earlier events of the same permission (others
            are ignored); needed for ``permission_reasked_within_48h``.
        manifest: the policy manifest; ``None`` skips ``permission_outside_feature``.
        reask_window: how long after a refusal an app-initiated request is a finding.
    """
    timeline = _timeline(consent)
    if entry.kind in ("collect", "transfer"):
        return _processing_rule(entry, timeline) + _undeclared_rule(entry)
    if entry.kind == "permission" and entry.outcome == "requested":
        return (_permission_before_consent_rule(entry, timeline)
                + _permission_feature_rule(entry, manifest)
                + _reask_rule(entry, earlier, reask_window))
    return []


# -- strict mode ---------------------------------------------------------------------------


def violation(
    entry: AuditEntry,
    trail: AuditTrail,
    consent: Any,
    *,
    manifest: Manifest | None = None,
    reask_window: _dt.timedelta = REASK_WINDOW,
) -> Finding | None:
    """The first finding for *entry*, just written to *trail*, or ``None`` (strict mode).

    Args:
        entry: the entry the gate just wrote.
        trail: the audit trail it is in (earlier permission events are read from it).
        consent: the ``ConsentLedger`` (or its records, or a :class:`ConsentTimeline`).
        manifest: the policy in force's manifest (``PrivacySdk.policy.manifest``).
        reask_window: see :func:`findings_for`.

    Raises:
        StorageError: the trail or the ledger cannot be read.
    """
    earlier: Sequence[AuditEntry] = ()
    if entry.kind == "permission" and entry.outcome == "requested":
        earlier = [e for e in trail.permission_events(entry.subject) if e.seq < entry.seq]
    found = findings_for(entry, consent, earlier=earlier, manifest=manifest,
                         reask_window=reask_window)
    return found[0] if found else None


def enforce(
    entry: AuditEntry,
    trail: AuditTrail,
    consent: Any,
    *,
    manifest: Manifest | None = None,
    reask_window: _dt.timedelta = REASK_WINDOW,
) -> None:
    """Strict mode: raise :class:`ComplianceViolation` if *entry* is a finding
    (see :func:`violation`); call it right after the entry is written.

    Raises:
        ComplianceViolation: with the finding as ``.finding``.
        StorageError: the trail or the ledger cannot be read.
    """
    found = violation(entry, trail, consent, manifest=manifest, reask_window=reask_window)
    if found is not None:
        raise ComplianceViolation(found)


# -- the batch check -----------------------------------------------------------------------


def check(
    data_dir: Path | str,
    *,
    manifest: Manifest | None = None,
    reask_window: _dt.timedelta = REASK_WINDOW,
) -> list[Finding]:
    """Findings over the audit trail and the consent ledger in *data_dir*, in trail order.

    A folder without ``audit.db`` has processed nothing (no findings); a missing
    ``consent.db`` means the user never decided (every allowed collection is before consent).

    Args:
        data_dir: the SDK's ``SdkConfig.data_dir``.
        manifest: the policy manifest; without it ``permission_outside_feature`` is not
            checked (see :func:`load_manifest_for`).
        reask_window: see :func:`findings_for` (48 hours by default).

    Raises:
        ConfigError: *data_dir* is not an existing folder.
        StorageError: a database cannot be read (corrupt, locked, newer SDK).
    """
    from .audit import AUDIT_FILENAME, AuditTrail
    from .consent.ledger import LEDGER_FILENAME, ConsentLedger

    folder = Path(data_dir)
    if not folder.is_dir():
        raise ConfigError(f"'{folder}' is not a folder; pass the SDK's data_dir")
    if not (folder / AUDIT_FILENAME).is_file():
        return []
    with AuditTrail(folder / AUDIT_FILENAME) as trail:
        entries = trail.entries()
    if not entries:
        return []
    consent = ConsentTimeline(())
    if (folder / LEDGER_FILENAME).is_file():
        with ConsentLedger(folder / LEDGER_FILENAME) as ledger:
            consent = ConsentTimeline.from_ledger(ledger)
    permissions: dict[str | None, list[AuditEntry]] = {}
    findings: list[Finding] = []
    for entry in entries:
        earlier = permissions.setdefault(entry.subject, []) if entry.kind == "permission" else []
        findings += findings_for(entry, consent, earlier=earlier, manifest=manifest,
                                 reask_window=reask_window)
        if entry.kind == "permission":
            earlier.append(entry)
    return findings


def load_manifest_for(data_dir: Path | str, path: Path | str | None = None) -> Manifest | None:
    """The policy manifest for checking *data_dir*: *path* when given (``.toml`` manifest, or
    ``.json`` policy answer / manifest), else ``data_dir/policy.json`` if it exists, else the
    policy the user last decided on (kept in the consent ledger), else ``None``.

    Raises:
        PolicyError: the file cannot be read or is not valid JSON.
        ManifestError: the manifest in it is invalid.
    """
    from .policy import Policy
    from .policy.manifest import load_manifest, manifest_from_json

    if path is None:
        candidate = Path(data_dir) / POLICY_FILENAME
        if not candidate.is_file():
            return _ledger_manifest(Path(data_dir))
        file = candidate
    else:
        file = Path(path)
        if file.suffix.lower() != ".json":
            return load_manifest(file)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PolicyError(f"cannot read '{file}': {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise PolicyError(f"'{file}' is not valid UTF-8 JSON") from exc
    if not isinstance(data, dict):
        raise PolicyError(f"'{file}' must hold a JSON object (a policy or a manifest)")
    if "manifest" in data:
        return Policy.from_json(data, source=str(file)).manifest
    return manifest_from_json(data, file=str(file))


def _ledger_manifest(data_dir: Path) -> Manifest | None:
    """The manifest of the policy shown with the device's latest consent record, if any."""
    from .consent.ledger import LEDGER_FILENAME, ConsentLedger
    from .policy import Policy

    if not (data_dir / LEDGER_FILENAME).is_file():
        return None
    with ConsentLedger(data_dir / LEDGER_FILENAME) as ledger:
        latest = ledger.latest()
        data = ledger.notice_policy(latest.notice.key) if latest is not None else None
    return Policy.from_json(data, source="the consent ledger").manifest if data else None


_USAGE = "usage: python -m sdk.compliance DATA_DIR [--manifest FILE]"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sdk.compliance DATA_DIR [--manifest FILE]``: print findings; exit 1 if any,
    0 if clean, 2 (one-line message, no traceback) when the folder or its files cannot be
    read."""
    args = list(sys.argv[1:] if argv is None else argv)
    manifest_path: str | None = None
    if "--manifest" in args:
        at = args.index("--manifest")
        manifest_path = args[at + 1] if at + 1 < len(args) else None
        args = args[:at] + args[at + 2:]
        if manifest_path is None:
            args = []
    if args and args[0] in ("-h", "--help"):
        print(_USAGE)
        print("Checks the audit trail and consent ledger in DATA_DIR (SdkConfig.data_dir) for "
              "what app-privacy scanners flag; exit 0 clean, 1 findings, 2 unusable input.")
        return 0
    if len(args) != 1 or args[0].startswith("--"):
        print(_USAGE, file=sys.stderr)
        return 2
    folder = Path(args[0])
    from .audit import AUDIT_FILENAME
    from .consent.ledger import LEDGER_FILENAME

    try:
        if not folder.is_dir():
            raise ConfigError(f"'{folder}' is not a folder; pass the SDK's data_dir")
        if not any((folder / name).is_file() for name in (AUDIT_FILENAME, LEDGER_FILENAME)):
            # a mistyped path must not pass as "clean"
            raise ConfigError(f"'{folder}' holds no SDK data (no {AUDIT_FILENAME} and no "
                              f"{LEDGER_FILENAME}); pass the SDK's data_dir")
        manifest = load_manifest_for(folder, manifest_path)
        findings = check(folder, manifest=manifest)
    except SdkError as exc:
        print(f"sdk.compliance: {exc}", file=sys.stderr)
        return 2
    if manifest is None:
        print(f"sdk.compliance: note: no policy manifest ({POLICY_FILENAME} in DATA_DIR or "
              "--manifest FILE); permission_outside_feature not checked", file=sys.stderr)
    for finding in findings:
        print(finding)
    if findings:
        print(f"{len(findings)} finding(s)", file=sys.stderr)
        return 1
    print("no findings")
    return 0


if __name__ == "__main__":  # pragma: no cover - exercised through subprocess in the tests
    sys.exit(main())
