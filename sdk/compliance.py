"""A compliance check over the on-device audit trail and consent ledger.

The kind of check Chinese app-privacy scanners run from outside, here from the device's own
records (``data_dir/audit.db`` and ``data_dir/consent.db``):

- ``collection_before_consent``: an ``allowed`` collection earlier than the user's first
  ``granted`` record, or with no grant at all;
- ``collection_after_withdrawal``: an ``allowed`` collection after a ``withdrawn`` record with
  no later grant (OBL-DSR-4).

Times have one-second resolution; an entry in the same second as the decision is given the
benefit of the doubt (no finding). Run it as ``python -m sdk.compliance DATA_DIR`` (exit 0:
clean, 1: findings, 2: the folder or its files cannot be read) or call :func:`check` from a
test. Nothing is written to the audit trail; the ledger is opened as the SDK opens it.
"""

from __future__ import annotations

import datetime as _dt
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError, SdkError

__all__ = ["KINDS", "Finding", "check", "main"]

KINDS: tuple[str, ...] = ("collection_before_consent", "collection_after_withdrawal")


@dataclass(frozen=True)
class Finding:
    """One violation found.

    Attributes:
        kind: one of :data:`KINDS`.
        item: data item id of the audit entry.
        purpose: purpose id of the audit entry.
        time: RFC 3339 UTC time of the audit entry.
    """

    kind: str
    item: str
    purpose: str
    time: str

    def __str__(self) -> str:
        return f"{self.time} {self.kind}: item '{self.item}' for purpose '{self.purpose}'"


def _parse(text: str) -> _dt.datetime:
    return _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def check(data_dir: Path | str) -> list[Finding]:
    """Findings over the audit trail and the consent ledger in *data_dir*, oldest first.

    A folder without ``audit.db`` has collected nothing (no findings); a missing ``consent.db``
    means the user never decided (every allowed collection is before consent).

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
        allowed = [e for e in trail.entries() if e.outcome == "allowed"]
    if not allowed:
        return []
    history = []
    if (folder / LEDGER_FILENAME).is_file():
        with ConsentLedger(folder / LEDGER_FILENAME) as ledger:
            history = [(r.decision, _parse(r.created_at)) for r in ledger.history()]

    grants = [t for d, t in history if d == "granted"]
    first_grant = min(grants) if grants else None
    findings: list[Finding] = []
    for entry in allowed:
        at = _parse(entry.time)
        if first_grant is None or at < first_grant:
            findings.append(Finding("collection_before_consent", entry.item, entry.purpose,
                                    entry.time))
            continue
        # The last grant/withdrawal before the entry decides (ledger order; ties: benefit of
        # the doubt, so a withdrawal in the same second as the entry does not count).
        state = None
        for decision, when in history:
            if decision == "withdrawn" and when < at:
                state = "withdrawn"
            elif decision == "granted" and when <= at:
                state = "granted"
        if state == "withdrawn":
            findings.append(Finding("collection_after_withdrawal", entry.item, entry.purpose,
                                    entry.time))
    return findings


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sdk.compliance DATA_DIR``: print findings; exit 1 if any, 0 if clean,
    2 (one-line message, no traceback) when the folder or its files cannot be read."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1 or args[0] in ("-h", "--help"):
        print("usage: python -m sdk.compliance DATA_DIR", file=sys.stderr)
        return 2
    try:
        findings = check(args[0])
    except SdkError as exc:
        print(f"sdk.compliance: {exc}", file=sys.stderr)
        return 2
    for finding in findings:
        print(finding)
    if findings:
        print(f"{len(findings)} finding(s)", file=sys.stderr)
        return 1
    print("no findings")
    return 0


if __name__ == "__main__":  # pragma: no cover - exercised through subprocess in the tests
    sys.exit(main())
