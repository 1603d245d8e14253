"""Real-name verifications of the stub and the verification agency's stand-in (issue #6 part E;
docs/realname.md "Verification flow", docs/protocol.md "Real-name verification").

A *verification* is one submission of the real-name items (automatic: name, ID number, mobile
number, face video) or of another document for manual review (OBL-RN-2). The stub hands an
automatic one to the **agency stand-in**, which answers after ``delay`` seconds with the
outcome QA chose, or never (``timeout``: the stub gives up at the ``deadline``):

======================  ===========================================================
outcome (QA's choice)   what the verification becomes
======================  ===========================================================
``pass``                ``verified``
``fail:<reason>``       ``failed`` with ``reason`` (e.g. ``fail:face_mismatch``)
``manual_review``       ``manual_review``: a person decides (dev endpoint)
``timeout``             ``timed_out`` at the deadline, reason ``agency_timeout``
======================  ===========================================================

The outcome is taken from :class:`AgencyStandIn` when the verification is submitted (so
changing it later does not change a verification in flight): ``Settings.realname_outcome``
at start, changed at run time through ``PUT /v1/dev/realname/agency`` (dev mode).

Table (in ``<data_dir>/stub.db``, next to :mod:`server_stub.store`'s and
:mod:`server_stub.realname_store`'s)::

    realname_verifications(verification_id PRIMARY KEY, account_id, submission, kind,
                           previous_id, status, reason, outcome, consent_id, kid,
                           face_upload, document_kind, document_pseudonym, review_uploads,
                           created_at, updated_at, due_at, deadline_at)
        kind: automatic | manual_review; status: pending | verified | failed |
        manual_review | timed_out; outcome: the stand-in's answer chosen at submission;
        review_uploads: JSON array of upload ids; document_pseudonym: keyed hash of the
        document number (never the number); due_at / deadline_at: seconds since the epoch

No name, ID number, phone number or document number is in this table. The claimed identity
(the real name as sent, the ID number's pseudonym) is the account's row of
``realname_status`` (:class:`server_stub.realname_store.RealnameStore`), written when the
verification is submitted and kept in step with it: ``pending`` / ``manual_review`` /
``verified`` / ``failed`` (``timed_out`` is ``failed`` there). Only the newest verification
of an account counts: submitting a new one ends the account's undecided ones (``failed``,
reason ``superseded``).

Answers are applied by :meth:`AgencyStandIn.resolve_due`: on every status read, and by a
worker thread that sleeps until the next answer is due and ends when none is pending (so a
certificate request right after the answer finds the account ``verified`` even when nobody
polled).
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .app_state import per_app
from .db import SqliteStore
from .store import DB_NAME, Store, epoch_rfc3339

__all__ = [
    "AGENCY_ITEMS",
    "AGENCY_METHOD",
    "AGENCY_RECIPIENT",
    "FINAL_STATUSES",
    "KINDS",
    "STATUSES",
    "AgencyStandIn",
    "Outcome",
    "VerificationRow",
    "VerificationStore",
    "for_app",
    "parse_outcome",
]

logger = logging.getLogger("server_stub")

#: Statuses of a verification (``GET /v1/realname/verifications/{id}``).
STATUSES: tuple[str, ...] = ("pending", "verified", "failed", "manual_review", "timed_out")
#: Statuses that no longer change.
FINAL_STATUSES: frozenset[str] = frozenset({"verified", "failed", "timed_out"})
#: ``automatic``: the agency checks name, ID number, phone and face video; ``manual_review``:
#: a person checks another document (OBL-RN-2).
KINDS: tuple[str, ...] = ("automatic", "manual_review")

#: The manifest recipient, items and purpose of the hand-off to the agency (logged with
#: ``Store.record_transfer``, shown in ``GET /v1/me/third-party-transfers``).
AGENCY_RECIPIENT = "realname_agency"
AGENCY_ITEMS: tuple[str, ...] = ("real_name", "id_number", "phone", "face_video")
AGENCY_PURPOSE = "realname_verification"
AGENCY_METHOD = "stub agency stand-in in the same process (stands in for the agency's HTTPS API)"

_REASON = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS realname_verifications (
    verification_id    TEXT PRIMARY KEY,
    account_id         TEXT NOT NULL,
    submission         TEXT NOT NULL,
    kind               TEXT NOT NULL,
    previous_id        TEXT,
    status             TEXT NOT NULL,
    reason             TEXT,
    outcome            TEXT NOT NULL,
    consent_id         TEXT NOT NULL,
    kid                TEXT NOT NULL,
    face_upload        TEXT,
    document_kind      TEXT,
    document_pseudonym TEXT,
    review_uploads     TEXT,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    due_at             REAL,
    deadline_at        REAL
);
CREATE INDEX IF NOT EXISTS realname_verifications_by_account
    ON realname_verifications (account_id, created_at);
CREATE INDEX IF NOT EXISTS realname_verifications_due
    ON realname_verifications (status, due_at);
"""
#: ``reason`` of a verification ended because its consent was withdrawn (:meth:`AgencyStandIn.withdraw`).
CONSENT_WITHDRAWN = "consent_withdrawn"

_COLUMNS = (
    "verification_id, account_id, submission, kind, previous_id, status, reason, outcome, "
    "consent_id, kid, face_upload, document_kind, document_pseudonym, review_uploads, "
    "created_at, updated_at, due_at, deadline_at"
)


# --------------------------------------------------------------------------------------
# The outcome QA chooses
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """The stand-in's answer: ``kind`` ``pass`` | ``fail`` | ``manual_review`` | ``timeout``;
    ``reason`` for ``fail`` (a code such as ``face_mismatch``). ``str()`` gives the text form
    (``"fail:face_mismatch"``)."""

    kind: str
    reason: str | None = None

    def __str__(self) -> str:
        return f"fail:{self.reason}" if self.kind == "fail" else self.kind


def parse_outcome(text: object) -> Outcome:
    """``"pass"``, ``"fail:<reason>"`` (``fail`` alone means ``fail:not_verified``),
    ``"manual_review"`` or ``"timeout"``.

    Raises:
        ValueError: anything else; the message lists what is accepted.
    """
    if isinstance(text, str):
        if text in ("pass", "manual_review", "timeout"):
            return Outcome(text)
        if text == "fail":
            return Outcome("fail", "not_verified")
        if text.startswith("fail:") and _REASON.match(text[5:]):
            return Outcome("fail", text[5:])
    raise ValueError(
        "the real-name outcome must be pass, fail:<reason> (reason: a-z, 0-9, _; e.g. "
        "fail:face_mismatch), manual_review or timeout"
    )


def parse_decision(text: object) -> Outcome:
    """A manual reviewer's decision: ``"pass"`` or ``"fail:<reason>"``.

    Raises:
        ValueError: anything else.
    """
    try:
        outcome = parse_outcome(text)
    except ValueError:
        outcome = Outcome("invalid")
    if outcome.kind not in ("pass", "fail"):
        raise ValueError("a review decision must be pass or fail:<reason> (e.g. fail:document_unreadable)")
    return outcome


# --------------------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerificationRow:
    """One row of ``realname_verifications`` (no personal data in it)."""

    verification_id: str
    account_id: str
    submission: str
    kind: str
    previous_id: str | None
    status: str
    reason: str | None
    outcome: str
    consent_id: str
    kid: str
    face_upload: str | None
    document_kind: str | None
    document_pseudonym: str | None
    review_uploads: str | None
    created_at: str
    updated_at: str
    due_at: float | None
    deadline_at: float | None

    def to_json(self) -> dict[str, Any]:
        """The wire form: ``{"id", "status", "reason" (or null), "kind", "created_at",
        "updated_at"}`` (plus ``"document_kind"`` for a manual review)."""
        body: dict[str, Any] = {
            "id": self.verification_id,
            "status": self.status,
            "reason": self.reason,
            "kind": self.kind,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }
        if self.document_kind is not None:
            body["document_kind"] = self.document_kind
        return body


class VerificationStore(SqliteStore):
    """The ``realname_verifications`` table of ``<data_dir>/stub.db`` (connections:
    :class:`server_stub.db.SqliteStore`).

    Args:
        data_dir: the stub's data folder; must exist.

    Raises:
        sqlite3.Error: the database cannot be opened.
    """

    def __init__(self, data_dir: Path) -> None:
        super().__init__(Path(data_dir) / DB_NAME, _SCHEMA)

    @staticmethod
    def insert(conn: sqlite3.Connection, *, account_id: str, submission: str, kind: str,
               status: str, outcome: str, consent_id: str, kid: str, now: float,
               due_at: float | None, deadline_at: float | None, previous_id: str | None = None,
               face_upload: str | None = None, document_kind: str | None = None,
               document_pseudonym: str | None = None,
               review_uploads: list[str] | None = None) -> VerificationRow:
        """Add a verification inside the caller's transaction (a :meth:`Store.run_idempotent`
        action); first end the account's undecided ones (``failed``, ``superseded``)."""
        stamp = epoch_rfc3339(now)
        conn.execute(
            "UPDATE realname_verifications SET status = 'failed', reason = 'superseded',"
            " updated_at = ?, due_at = NULL WHERE account_id = ?"
            " AND status IN ('pending', 'manual_review')",
            (stamp, account_id),
        )
        row = VerificationRow(
            verification_id=str(uuid.uuid4()), account_id=account_id, submission=submission,
            kind=kind, previous_id=previous_id, status=status, reason=None, outcome=outcome,
            consent_id=consent_id, kid=kid, face_upload=face_upload, document_kind=document_kind,
            document_pseudonym=document_pseudonym,
            review_uploads=json.dumps(review_uploads) if review_uploads is not None else None,
            created_at=stamp, updated_at=stamp, due_at=due_at, deadline_at=deadline_at,
        )
        conn.execute(
            f"INSERT INTO realname_verifications ({_COLUMNS})"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            tuple(row.__dict__.values()),
        )
        return row

    def get(self, verification_id: str, account_id: str | None = None) -> VerificationRow | None:
        """The verification, or None when unknown (or, with *account_id*, another account's)."""
        try:
            uuid.UUID(verification_id)
        except (ValueError, TypeError, AttributeError):
            return None
        with self.connect() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM realname_verifications WHERE verification_id = ?",
                (verification_id,),
            ).fetchone()
        if row is None:
            return None
        found = VerificationRow(*row)
        if account_id is not None and found.account_id != account_id:
            return None
        return found

    def release(self, verification_id: str, due_at: float) -> None:
        """Hand a recorded verification to the agency: its answer is due at *due_at*. Until
        then (``due_at`` NULL) only its deadline can end it (``timed_out``)."""
        with self.connect() as conn:
            conn.execute(
                "UPDATE realname_verifications SET due_at = ? WHERE verification_id = ?"
                " AND status = 'pending' AND due_at IS NULL",
                (due_at, verification_id),
            )

    def due(self, now: float) -> list[VerificationRow]:
        """Pending verifications whose agency answer (or deadline) is due at *now*."""
        with self.connect() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM realname_verifications WHERE status = 'pending'"
                " AND COALESCE(due_at, deadline_at) <= ? ORDER BY COALESCE(due_at, deadline_at)",
                (now,),
            ).fetchall()
        return [VerificationRow(*r) for r in rows]

    def next_due(self) -> float | None:
        """When the next pending answer (or deadline) is due (seconds since the epoch), or None."""
        with self.connect() as conn:
            row = conn.execute(
                "SELECT MIN(COALESCE(due_at, deadline_at)) FROM realname_verifications"
                " WHERE status = 'pending'"
            ).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def newest(self, account_id: str, limit: int = 20) -> list[VerificationRow]:
        """The account's verifications, newest first (at most *limit*)."""
        with self.connect() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM realname_verifications WHERE account_id = ?"
                " ORDER BY created_at DESC, rowid DESC LIMIT ?", (account_id, limit)).fetchall()
        return [VerificationRow(*r) for r in rows]

    def undecided(self, account_id: str) -> list[VerificationRow]:
        """The account's verifications still ``pending`` or in ``manual_review``."""
        with self.connect() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM realname_verifications WHERE account_id = ?"
                " AND status IN ('pending', 'manual_review')", (account_id,)).fetchall()
        return [VerificationRow(*r) for r in rows]

    def finish(self, verification_id: str, expected: str, status: str, reason: str | None,
               now: float) -> bool:
        """Move a verification from *expected* to *status*; False when it was not in
        *expected* any more (answered, superseded meanwhile)."""
        with self.connect() as conn:
            cursor = conn.execute(
                "UPDATE realname_verifications SET status = ?, reason = ?, updated_at = ?,"
                " due_at = NULL WHERE verification_id = ? AND status = ?",
                (status, reason, epoch_rfc3339(now), verification_id, expected),
            )
        return cursor.rowcount == 1


# --------------------------------------------------------------------------------------
# The agency stand-in
# --------------------------------------------------------------------------------------

#: ``realname_status`` value for each verification status.
_ACCOUNT_STATUS = {"pending": "pending", "manual_review": "manual_review", "verified": "verified",
                   "failed": "failed", "timed_out": "failed"}


class AgencyStandIn:
    """The verification agency's stand-in and its QA controls. Thread-safe.

    Args:
        store: the stub's :class:`~server_stub.store.Store` (transfers).
        realname: the :class:`~server_stub.realname_store.RealnameStore` (account status).
        verifications: the :class:`VerificationStore`.
        outcome: the first outcome (``Settings.realname_outcome``).
        delay: seconds until the agency answers.
        deadline: seconds after which an unanswered verification is ``timed_out``.
        clock: seconds since the epoch (``Settings.clock``).
    """

    def __init__(self, store: Store, realname: Any, verifications: VerificationStore, *,
                 outcome: Outcome, delay: float, deadline: float, clock: Any) -> None:
        self.store = store
        self.realname = realname
        self.verifications = verifications
        self.clock = clock
        self._outcome = outcome
        self._delay = float(delay)
        self._deadline = float(deadline)
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._worker: threading.Thread | None = None
        self._apply_lock = threading.Lock()  # one answer applied at a time
        self._kicks = 0  # bumped by schedule(): the worker re-reads the table before sleeping

    # -- QA controls ----------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """``{"outcome", "delay_seconds", "deadline_seconds"}``."""
        with self._lock:
            return {"outcome": str(self._outcome), "delay_seconds": self._delay,
                    "deadline_seconds": self._deadline}

    def configure(self, *, outcome: Outcome | None = None, delay: float | None = None,
                  deadline: float | None = None) -> dict[str, Any]:
        """Change what the stand-in answers to verifications submitted from now on."""
        with self._lock:
            if outcome is not None:
                self._outcome = outcome
            if delay is not None:
                self._delay = float(delay)
            if deadline is not None:
                self._deadline = float(deadline)
        return self.config()

    def plan(self, now: float) -> tuple[Outcome, float, float]:
        """``(outcome, due_at, deadline_at)`` for a verification handed over at *now*: the
        answer is due after the delay, or at the deadline when the agency never answers
        (``timeout``) or would answer too late."""
        with self._lock:
            outcome, delay, deadline = self._outcome, self._delay, self._deadline
        deadline_at = now + deadline
        if outcome.kind == "timeout" or delay >= deadline:
            return Outcome("timeout"), deadline_at, deadline_at
        return outcome, now + delay, deadline_at

    # -- answers --------------------------------------------------------------------------

    def withdraw(self, account_id: str) -> int:
        """The consent to real-name verification was withdrawn (PIPL art. 15, 47): end the
        account's undecided verifications (``failed``, reason ``consent_withdrawn``) so that
        no answer is applied to them any more. Returns how many were ended."""
        now = float(self.clock())
        ended = 0
        for row in self.verifications.undecided(account_id):
            if self.verifications.finish(row.verification_id, row.status, "failed",
                                         CONSENT_WITHDRAWN, now):
                ended += 1
                self._set_account(row, "failed")
        return ended

    def _set_account(self, row: VerificationRow, status: str) -> None:
        """Keep the account's ``realname_status`` in step with its newest verification."""
        current = self.realname.get_status(row.account_id)
        if current is None or current.verification_id != row.verification_id:
            return  # a newer verification owns the status
        if status == "verified" and not (current.real_name and current.id_pseudonym):
            logger.error("verification %s passed without an identity on record", row.verification_id)
            status = "failed"
        self.realname.set_status(row.account_id, _ACCOUNT_STATUS[status],
                                 verification_id=row.verification_id,
                                 real_name=current.real_name, id_pseudonym=current.id_pseudonym)

    def _apply(self, row: VerificationRow, expected: str, outcome: Outcome, now: float) -> bool:
        if outcome.kind == "pass":
            status, reason = "verified", None
        elif outcome.kind == "fail":
            status, reason = "failed", outcome.reason
        elif outcome.kind == "manual_review":
            status, reason = "manual_review", "agency_referred"
        else:
            status, reason = "timed_out", "agency_timeout"
        with self._apply_lock:  # the account status first: whoever sees the answer sees both
            current = self.verifications.get(row.verification_id)
            if current is None or current.status != expected:
                return False
            self._set_account(row, status)
            if not self.verifications.finish(row.verification_id, expected, status, reason, now):
                return False  # pragma: no cover - only this lock's holder moves a verification
        logger.info("real-name verification %s: %s", row.verification_id, status)
        return True

    def resolve_due(self) -> int:
        """Apply every agency answer (or deadline) that is due; return how many. Safe to call
        from any thread, any number of times (each answer is applied once)."""
        now = float(self.clock())
        done = 0
        for row in self.verifications.due(now):
            # never handed over (the server stopped in between): only the deadline ends it
            outcome = parse_outcome(row.outcome) if row.due_at is not None else Outcome("timeout")
            if self._apply(row, "pending", outcome, now):
                done += 1
        return done

    def decide(self, verification_id: str, decision: Outcome) -> VerificationRow | None:
        """A manual reviewer's decision (``pass`` / ``fail``) on a verification waiting in
        ``manual_review``.

        Returns:
            the verification afterwards, or None when there is no such verification.

        Raises:
            LookupError: it is not waiting for a manual review.
        """
        row = self.verifications.get(verification_id)
        if row is None:
            return None
        if row.status != "manual_review" or not self._apply(row, "manual_review", decision,
                                                           float(self.clock())):
            raise LookupError(row.status)
        return self.verifications.get(verification_id)

    # -- the worker that applies answers nobody polled for ----------------------------------

    def hand_over(self, verification_id: str, due_at: float) -> None:
        """Hand a recorded verification (its account status written) to the agency; its
        answer is applied at *due_at*."""
        self.verifications.release(verification_id, due_at)
        self.schedule()

    def schedule(self) -> None:
        """Make sure the worker runs (a verification was recorded or handed over)."""
        with self._lock:
            self._kicks += 1
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name="realname-agency",
                                                daemon=True)
                self._worker.start()
            else:
                self._wake.notify_all()

    def _run(self) -> None:
        while True:
            with self._lock:
                kicks = self._kicks
            try:
                self.resolve_due()
                due = self.verifications.next_due()
            except (sqlite3.Error, OSError) as exc:  # the stub stopped and its folder went away
                logger.debug("agency stand-in stopped (%s)", type(exc).__name__)
                with self._lock:
                    self._worker = None
                return
            with self._lock:
                if kicks != self._kicks:
                    continue  # a verification came in meanwhile: read the table again
                if due is None:
                    self._worker = None
                    return
                self._wake.wait(max(0.01, min(due - float(self.clock()), 60.0)))


def for_app(app: Any) -> AgencyStandIn:
    """The :class:`AgencyStandIn` of a stub app (``app.state.realname_agency``), made on first
    use from ``app.state.settings``."""

    def make(state: Any) -> AgencyStandIn:
        from .realname_store import for_app as realname_for_app

        settings = state.settings
        return AgencyStandIn(
            state.store, realname_for_app(app), VerificationStore(settings.data_dir),
            outcome=parse_outcome(settings.realname_outcome),
            delay=settings.realname_agency_delay_seconds,
            deadline=settings.realname_agency_deadline_seconds,
            clock=settings.clock,
        )

    return per_app(app, "realname_agency", make)
