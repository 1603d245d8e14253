"""Real-name status, user certificates and signing records of the stub (tables in ``stub.db``).

Tables (in ``<data_dir>/stub.db``, next to :mod:`server_stub.store`'s; same WAL database, so
a write here can share a transaction of :meth:`Store.run_idempotent`)::

    realname_status(account_id PRIMARY KEY, status, verification_id, real_name,
                    id_pseudonym, updated_at)
        status: pending | manual_review | verified | failed (the real-name flow writes it);
        real_name: as verified (the stub keeps it in clear; a production backend encrypts it);
        id_pseudonym: HMAC of the ID number (:meth:`RealnameStore.pseudonym`); the ID number
        itself is never stored here
    user_certificates(serial PRIMARY KEY, account_id, common_name, id_pseudonym,
                      public_key_sha256, not_before, not_after, certificate, issued_at,
                      revoked_at, revocation_reason)
        the certificate's public information, kept for signing (OBL-CERT-1); serial: lowercase
        hex; certificate: PEM; revocation_reason: superseded | user_request |
        consent_withdrawn (the account's records no longer grant keeping the certificate
        information: :meth:`RealnameStore.revoke_all`, on the consent record's arrival) |
        data_deleted | account_cancelled (issue 7: :meth:`RealnameStore.erase_account`);
        keep_until: set when a deletion or cancellation keeps it as evidence of a signing
        record (RFC 3339), else NULL
    signing_records(signature_id PRIMARY KEY, account_id, certificate_serial, template_id,
                    template_sha256, signature, signed_at)
        one row per verified contract signature (manifest item ``signing_record``, 5 years);
        the same signature posted again (same account, certificate, digest, signature) is
        answered with its first row, never a second one; keep_until: NULL while the
        account is open (kept :data:`SIGNING_RECORD_YEARS` years after ``signed_at``), the
        cancellation time plus that after a cancellation (RFC 3339)

The ID-number pseudonym key is ``<data_dir>/id-pseudonym.key`` (32 random bytes, mode 0600,
made on first use): the pseudonym is ``hex(HMAC-SHA256(key, "privacy-sdk/id-pseudonym/v1" ||
0x00 || ID number in upper case))``, 64 hex characters. The same ID number always gives the
same pseudonym on one server, and nobody without the key can compute it from an ID number.

Consent (OBL-CERT-2): :func:`missing_consents` reads the account's consent records as the
devices sent them (``Store.account_consent_records``) and says which scopes are not granted
now, by the rule of docs/consent.md ("States").

What the account's rows hold, for ``GET /v1/me/personal-information``:
:meth:`RealnameStore.holdings` (counts and times, never a value); the values themselves for
the account's export: :meth:`RealnameStore.account_export` (issue 7). A deletion request or a
cancellation erases the real-name data and keeps the signing records with the certificates
that back them (:meth:`RealnameStore.erase_account`, Electronic Signature Law).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .app_state import per_app
from .db import SqliteStore
from .keyfile import load_or_create_key
from .store import DB_NAME, parse_time, rfc3339

if TYPE_CHECKING:  # pragma: no cover
    from cryptography import x509

__all__ = [
    "PSEUDONYM_KEY_FILE",
    "SIGNING_RECORD_YEARS",
    "STATUSES",
    "CertificateRow",
    "RealnameErasure",
    "RealnameHoldings",
    "RealnameStatus",
    "RealnameStore",
    "add_years",
    "deciding_decisions",
    "for_app",
    "missing_consents",
]

#: Real-name statuses; only ``verified`` allows a certificate and signing.
STATUSES: tuple[str, ...] = ("pending", "manual_review", "verified", "failed")
PSEUDONYM_KEY_FILE = "id-pseudonym.key"
#: Years a signing record (and the certificate backing it) is kept: 《中华人民共和国电子签名法》
#: (Electronic Signature Law) — at least five years; after a cancellation, counted from it.
SIGNING_RECORD_YEARS = 5
_PSEUDONYM_LABEL = b"privacy-sdk/id-pseudonym/v1\x00"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS realname_status (
    account_id      TEXT PRIMARY KEY,
    status          TEXT NOT NULL,
    verification_id TEXT,
    real_name       TEXT,
    id_pseudonym    TEXT,
    updated_at      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS user_certificates (
    serial            TEXT PRIMARY KEY,
    account_id        TEXT NOT NULL,
    common_name       TEXT NOT NULL,
    id_pseudonym      TEXT NOT NULL,
    public_key_sha256 TEXT NOT NULL,
    not_before        TEXT NOT NULL,
    not_after         TEXT NOT NULL,
    certificate       TEXT NOT NULL,
    issued_at         TEXT NOT NULL,
    revoked_at        TEXT,
    revocation_reason TEXT,
    keep_until        TEXT
);
CREATE INDEX IF NOT EXISTS user_certificates_by_account ON user_certificates (account_id);
CREATE TABLE IF NOT EXISTS signing_records (
    signature_id       TEXT PRIMARY KEY,
    account_id         TEXT NOT NULL,
    certificate_serial TEXT NOT NULL,
    template_id        TEXT NOT NULL,
    template_sha256    TEXT NOT NULL,
    signature          TEXT NOT NULL,
    signed_at          TEXT NOT NULL,
    keep_until         TEXT
);
CREATE INDEX IF NOT EXISTS signing_records_by_account ON signing_records (account_id, signed_at);
"""


@dataclass(frozen=True)
class RealnameStatus:
    """One row of ``realname_status``; ``repr`` leaves out the name and the pseudonym."""

    account_id: str
    status: str
    verification_id: str | None
    real_name: str | None = field(repr=False)
    id_pseudonym: str | None = field(repr=False)
    updated_at: str

    @property
    def verified(self) -> bool:
        """True when real-name verification passed and the identity is complete."""
        return self.status == "verified" and bool(self.real_name) and bool(self.id_pseudonym)


CertificateStatus = Literal["valid", "revoked", "expired", "not_yet_valid"]


@dataclass(frozen=True)
class CertificateRow:
    """One row of ``user_certificates``; ``repr`` leaves out the name, pseudonym and PEM."""

    serial: str
    account_id: str
    common_name: str = field(repr=False)
    id_pseudonym: str = field(repr=False)
    public_key_sha256: str
    not_before: str
    not_after: str
    certificate: str = field(repr=False)
    issued_at: str
    revoked_at: str | None
    revocation_reason: str | None

    def status(self, now: _dt.datetime) -> CertificateStatus:
        """``revoked`` first, then ``not_yet_valid`` / ``expired`` / ``valid`` at *now*."""
        if self.revoked_at is not None:
            return "revoked"
        if now < _parse(self.not_before):
            return "not_yet_valid"
        if now >= _parse(self.not_after):
            return "expired"
        return "valid"

    def public_info(self, now: _dt.datetime) -> dict[str, Any]:
        """The wire form (docs/protocol.md, "Certificates and signing")."""
        return {
            "serial": self.serial,
            "subject": {"common_name": self.common_name, "serial_number": self.id_pseudonym},
            "not_before": self.not_before,
            "not_after": self.not_after,
            "status": self.status(now),
            "issued_at": self.issued_at,
            "revoked_at": self.revoked_at,
        }


def _parse(text: str) -> _dt.datetime:
    return _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True)
class RealnameHoldings:
    """What the real-name tables hold about one account, as counts and times (RFC 3339 UTC
    or None); never a value. The source of the real-name rows of
    ``GET /v1/me/personal-information``.

    Attributes:
        status: the account's real-name status (``pending`` ... ``verified``), or None when it
            never submitted a verification.
        real_name: True when the status row keeps a real name; id_pseudonym: True when it
            keeps the ID number's pseudonym; status_updated_at: when the row last changed.
        certificates, valid_certificates: certificates kept, and how many are not revoked;
            last_issued_at: the newest one's issue time.
        signing_records, last_signed_at: signing records kept, the latest's time.
        verifications, document_pseudonyms, last_verification_at: verifications submitted,
            how many keep a manual review's document-number pseudonym, the latest's time.
        certificate_answers: stored answers of ``POST /v1/certificates`` of the account still
            kept for Idempotency-Key replays (each holds the certificate: real name, ID
            pseudonym); deleted 24 hours after the request (``Store.purge_idempotency``).
    """

    status: str | None
    real_name: bool
    id_pseudonym: bool
    status_updated_at: str | None
    certificates: int
    valid_certificates: int
    last_issued_at: str | None
    signing_records: int
    last_signed_at: str | None
    verifications: int
    document_pseudonyms: int
    last_verification_at: str | None
    certificate_answers: int = 0


class RealnameStore(SqliteStore):
    """The real-name tables of ``<data_dir>/stub.db`` (see the module docstring).

    Each call opens its own connection (safe from uvicorn's threadpool), like
    :class:`server_stub.store.Store` (both are :class:`server_stub.db.SqliteStore`).

    Args:
        data_dir: the stub's data folder; must exist.

    Raises:
        sqlite3.Error: the database cannot be opened.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self._key: bytes | None = None
        self._key_lock = threading.Lock()
        super().__init__(self.data_dir / DB_NAME, _SCHEMA)
        with self.connect() as conn:  # databases made before issue 7 lack keep_until
            for table in ("user_certificates", "signing_records"):
                columns = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
                if "keep_until" not in columns:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN keep_until TEXT")

    def purge_kept(self, now: _dt.datetime) -> int:
        """Delete the signing records and certificates kept as evidence whose ``keep_until``
        (set by a deletion request or the account's cancellation: five years, Electronic
        Signature Law) has passed at *now* (aware). Rows without ``keep_until`` belong to a
        live account and stay. Returns how many rows went."""
        cutoff = rfc3339(now)
        with self.connect() as conn:
            gone = conn.execute("DELETE FROM signing_records WHERE keep_until IS NOT NULL"
                                " AND keep_until <= ?", (cutoff,)).rowcount
            gone += conn.execute("DELETE FROM user_certificates WHERE keep_until IS NOT NULL"
                                 " AND keep_until <= ?", (cutoff,)).rowcount
        return gone

    # -- the ID-number pseudonym --------------------------------------------------------------

    def _pseudonym_key(self) -> bytes:
        with self._key_lock:
            if self._key is None:
                self._key = load_or_create_key(self.data_dir / PSEUDONYM_KEY_FILE,
                                               "every pseudonym")
            return self._key

    def pseudonym(self, id_number: str) -> str:
        """The pseudonym of an ID number: 64 hex characters (module docstring). The input is
        stripped and upper-cased (``x`` → ``X``); validate it first (``sdk.realname.validate``).

        Raises:
            ValueError: *id_number* is empty.
        """
        value = id_number.strip().upper() if isinstance(id_number, str) else ""
        if not value:
            raise ValueError("an ID number is needed to make its pseudonym")
        return hmac.new(self._pseudonym_key(), _PSEUDONYM_LABEL + value.encode("utf-8"),
                        hashlib.sha256).hexdigest()

    # -- real-name status --------------------------------------------------------------------

    def set_status(
        self,
        account_id: str,
        status: str,
        *,
        verification_id: str | None = None,
        real_name: str | None = None,
        id_pseudonym: str | None = None,
        now: _dt.datetime | None = None,
    ) -> RealnameStatus:
        """Write the account's real-name status (replacing the previous one).

        Args:
            status: one of :data:`STATUSES`.
            real_name, id_pseudonym: required for ``verified`` (the certificate's subject).

        Raises:
            ValueError: unknown status, or ``verified`` without name and pseudonym.
        """
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}")
        if status == "verified" and not (real_name and id_pseudonym):
            raise ValueError("a verified status needs the real name and the ID pseudonym")
        updated_at = rfc3339(now or _dt.datetime.now(_dt.timezone.utc))
        with self.connect() as conn:
            conn.execute(
                "INSERT INTO realname_status (account_id, status, verification_id, real_name,"
                " id_pseudonym, updated_at) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (account_id) DO UPDATE SET status = excluded.status,"
                " verification_id = excluded.verification_id, real_name = excluded.real_name,"
                " id_pseudonym = excluded.id_pseudonym, updated_at = excluded.updated_at",
                (account_id, status, verification_id, real_name, id_pseudonym, updated_at),
            )
        return RealnameStatus(account_id, status, verification_id, real_name, id_pseudonym,
                              updated_at)

    def get_status(self, account_id: str) -> RealnameStatus | None:
        """The account's real-name status, or None when it never started verification."""
        with self.connect() as conn:
            row = conn.execute(
                "SELECT account_id, status, verification_id, real_name, id_pseudonym, updated_at"
                " FROM realname_status WHERE account_id = ?",
                (account_id,),
            ).fetchone()
        return RealnameStatus(*row) if row else None

    # -- certificates --------------------------------------------------------------------------

    @staticmethod
    def insert_certificate(
        conn: sqlite3.Connection, account_id: str, cert: x509.Certificate, now: _dt.datetime
    ) -> CertificateRow:
        """Keep a newly issued certificate's public information and revoke the account's
        earlier certificates (reason ``superseded``), inside the caller's transaction (e.g. a
        :meth:`Store.run_idempotent` action)."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.x509.oid import NameOID

        issued_at = rfc3339(now)
        conn.execute(
            "UPDATE user_certificates SET revoked_at = ?, revocation_reason = 'superseded'"
            " WHERE account_id = ? AND revoked_at IS NULL",
            (issued_at, account_id),
        )
        spki = cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        row = CertificateRow(
            serial=format(cert.serial_number, "x"),
            account_id=account_id,
            common_name=str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value),
            id_pseudonym=str(cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value),
            public_key_sha256=hashlib.sha256(spki).hexdigest(),
            not_before=rfc3339(cert.not_valid_before_utc),
            not_after=rfc3339(cert.not_valid_after_utc),
            certificate=cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
            issued_at=issued_at,
            revoked_at=None,
            revocation_reason=None,
        )
        conn.execute(
            "INSERT INTO user_certificates (serial, account_id, common_name, id_pseudonym,"
            " public_key_sha256, not_before, not_after, certificate, issued_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (row.serial, row.account_id, row.common_name, row.id_pseudonym,
             row.public_key_sha256, row.not_before, row.not_after, row.certificate,
             row.issued_at),
        )
        return row

    def add_certificate(self, account_id: str, cert: x509.Certificate,
                        now: _dt.datetime | None = None) -> CertificateRow:
        """:meth:`insert_certificate` in a transaction of its own (for tests and tools)."""
        with self.transaction() as conn:
            row = self.insert_certificate(
                conn, account_id, cert, now or _dt.datetime.now(_dt.timezone.utc))
        return row

    _CERT_COLUMNS = (
        "serial, account_id, common_name, id_pseudonym, public_key_sha256, not_before,"
        " not_after, certificate, issued_at, revoked_at, revocation_reason"
    )

    def certificate(self, account_id: str, serial: str) -> CertificateRow | None:
        """The account's certificate with this serial (lowercase hex), or None (also when it
        is another account's)."""
        with self.connect() as conn:
            row = conn.execute(
                f"SELECT {self._CERT_COLUMNS} FROM user_certificates"
                " WHERE serial = ? AND account_id = ?",
                (serial, account_id),
            ).fetchone()
        return CertificateRow(*row) if row else None

    def certificates(self, account_id: str) -> list[CertificateRow]:
        """The account's certificates, newest first."""
        with self.connect() as conn:
            rows = conn.execute(
                f"SELECT {self._CERT_COLUMNS} FROM user_certificates WHERE account_id = ?"
                " ORDER BY issued_at DESC, rowid DESC",
                (account_id,),
            ).fetchall()
        return [CertificateRow(*r) for r in rows]

    def revoke_certificate(self, account_id: str, serial: str, reason: str = "user_request",
                           now: _dt.datetime | None = None) -> bool:
        """Revoke the account's certificate; True when it was revoked now (False when it is
        unknown, another account's, or already revoked)."""
        with self.connect() as conn:
            cursor = conn.execute(
                "UPDATE user_certificates SET revoked_at = ?, revocation_reason = ?"
                " WHERE serial = ? AND account_id = ? AND revoked_at IS NULL",
                (rfc3339(now or _dt.datetime.now(_dt.timezone.utc)), reason, serial, account_id),
            )
        return cursor.rowcount == 1

    # -- signing records -----------------------------------------------------------------------

    @staticmethod
    def insert_signing_record(
        conn: sqlite3.Connection,
        account_id: str,
        certificate_serial: str,
        template_id: str,
        template_sha256: str,
        signature: str,
        now: _dt.datetime,
    ) -> dict[str, Any]:
        """Record a verified signature inside the caller's transaction; returns the answer
        body ``{"signature_id", "template_id", "sha256", "certificate_serial", "signed_at",
        "verified": true}``."""
        signature_id = str(uuid.uuid4())
        signed_at = rfc3339(now)
        conn.execute(
            "INSERT INTO signing_records (signature_id, account_id, certificate_serial,"
            " template_id, template_sha256, signature, signed_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (signature_id, account_id, certificate_serial, template_id, template_sha256,
             signature, signed_at),
        )
        return {
            "signature_id": signature_id,
            "template_id": template_id,
            "sha256": template_sha256,
            "certificate_serial": certificate_serial,
            "signed_at": signed_at,
            "verified": True,
        }

    @staticmethod
    def find_signing_record(conn: sqlite3.Connection, account_id: str, certificate_serial: str,
                            template_sha256: str, signature: str) -> dict[str, Any] | None:
        """The account's record of this very signature (same certificate, digest and
        signature text), inside the caller's transaction; None when there is none. Its body
        is the one :meth:`insert_signing_record` answered."""
        row = conn.execute(
            "SELECT signature_id, template_id, template_sha256, certificate_serial, signed_at"
            " FROM signing_records WHERE account_id = ? AND certificate_serial = ?"
            " AND template_sha256 = ? AND signature = ? ORDER BY signed_at, rowid LIMIT 1",
            (account_id, certificate_serial, template_sha256, signature),
        ).fetchone()
        if row is None:
            return None
        signature_id, template_id, digest, serial, signed_at = row
        return {"signature_id": signature_id, "template_id": template_id, "sha256": digest,
                "certificate_serial": serial, "signed_at": signed_at, "verified": True}

    def signing_records(self, account_id: str) -> list[dict[str, Any]]:
        """The account's signing records, oldest first (same fields as the POST answer)."""
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT signature_id, template_id, template_sha256, certificate_serial, signed_at"
                " FROM signing_records WHERE account_id = ? ORDER BY signed_at, rowid",
                (account_id,),
            ).fetchall()
        return [
            {"signature_id": s, "template_id": t, "sha256": h, "certificate_serial": c,
             "signed_at": at, "verified": True}
            for s, t, h, c, at in rows
        ]

    def revoke_all(self, account_id: str, reason: str, now: _dt.datetime | None = None) -> list[str]:
        """Revoke every certificate of the account not yet revoked (e.g. reason
        ``consent_withdrawn``); returns the serials revoked now."""
        stamp = rfc3339(now or _dt.datetime.now(_dt.timezone.utc))
        with self.transaction() as conn:
            serials = [r[0] for r in conn.execute(
                "SELECT serial FROM user_certificates WHERE account_id = ? AND revoked_at IS NULL",
                (account_id,)).fetchall()]
            conn.execute(
                "UPDATE user_certificates SET revoked_at = ?, revocation_reason = ?"
                " WHERE account_id = ? AND revoked_at IS NULL",
                (stamp, reason, account_id),
            )
        return serials

    # -- links to the other tables of stub.db ----------------------------------------------------

    def subject_account(self, subject_id: str) -> str | None:
        """The account an install id is linked to (``account_subjects`` of
        :mod:`server_stub.store`), or None."""
        with self.connect() as conn:
            row = conn.execute("SELECT account_id FROM account_subjects WHERE subject_id = ?",
                               (subject_id,)).fetchone()
        return str(row[0]) if row else None

    @staticmethod
    def _upload_ids(rows: Iterable[tuple[Any, Any]]) -> set[str]:
        """The upload ids of ``(face_upload, review_uploads)`` rows."""
        import json

        used: set[str] = set()
        for face, review in rows:
            if face:
                used.add(str(face))
            try:
                listed = json.loads(review) if review else []
            except ValueError:
                listed = []
            if isinstance(listed, list):
                used.update(str(u) for u in listed if isinstance(u, str))
        return used

    @classmethod
    def verification_upload_ids(cls, conn: sqlite3.Connection,
                                account_id: str | None = None) -> set[str]:
        """Every upload named by a verification, whatever its status (of *account_id* only,
        or of every account), read on *conn* (e.g. inside a :meth:`Store.run_idempotent`
        action, so a check and the insert that depends on it are atomic)."""
        query = "SELECT face_upload, review_uploads FROM realname_verifications"
        try:
            if account_id is None:
                rows = conn.execute(query).fetchall()
            else:
                rows = conn.execute(query + " WHERE account_id = ?", (account_id,)).fetchall()
        except sqlite3.OperationalError:  # no verification table yet: nothing submitted
            return set()
        return cls._upload_ids(rows)

    def all_used_upload_ids(self) -> set[str]:
        """The uploads any verification of any account names, whatever its status (pending,
        decided, superseded): the uploads a verification used. A complete upload not among
        them is deleted 24 hours after it completed (:class:`server_stub.uploads.UploadStore`,
        ``used_uploads``): its verification was never recorded (say, the client's POST
        failed), so nothing needs it."""
        with self.connect() as conn:
            return self.verification_upload_ids(conn)

    def used_upload_ids(self, account_id: str) -> set[str]:
        """The uploads the account's undecided verifications (``pending``, ``manual_review``)
        name (their face video and review images, ``realname_verifications`` of
        :mod:`server_stub.realname_agency`): still in use. A withdrawal of the real-name
        consents ends those verifications first (``AgencyStandIn.withdraw``), so it deletes
        every upload whose consent is gone (PIPL art. 47)."""
        try:
            with self.connect() as conn:
                rows = conn.execute(
                    "SELECT face_upload, review_uploads FROM realname_verifications"
                    " WHERE account_id = ? AND status IN ('pending', 'manual_review')",
                    (account_id,)).fetchall()
        except sqlite3.OperationalError:  # no verification table yet: nothing submitted
            return set()
        return self._upload_ids(rows)

    def holdings(self, account_id: str) -> RealnameHoldings:
        """What the real-name tables hold about the account (:class:`RealnameHoldings`), read
        in one transaction."""
        with self.transaction(write=False) as conn:
            status = conn.execute(
                "SELECT status, real_name IS NOT NULL AND real_name != '',"
                " id_pseudonym IS NOT NULL AND id_pseudonym != '', updated_at"
                " FROM realname_status WHERE account_id = ?", (account_id,)).fetchone()
            certs, valid, issued = conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(revoked_at IS NULL), 0), MAX(issued_at)"
                " FROM user_certificates WHERE account_id = ?", (account_id,)).fetchone()
            signed, last_signed = conn.execute(
                "SELECT COUNT(*), MAX(signed_at) FROM signing_records WHERE account_id = ?",
                (account_id,)).fetchone()
            try:
                verifications, documents, last_verification = conn.execute(
                    "SELECT COUNT(*), COALESCE(SUM(document_pseudonym IS NOT NULL), 0),"
                    " MAX(created_at) FROM realname_verifications WHERE account_id = ?",
                    (account_id,)).fetchone()
            except sqlite3.OperationalError:  # no verification table yet
                verifications, documents, last_verification = 0, 0, None
            try:
                answers = conn.execute(
                    "SELECT COUNT(*) FROM idempotency i JOIN user_certificates c"
                    " ON c.serial = json_extract(i.response, '$.serial')"
                    " WHERE i.endpoint = 'POST /v1/certificates' AND c.account_id = ?",
                    (account_id,)).fetchone()[0]
            except sqlite3.OperationalError:  # no idempotency table (a bare RealnameStore)
                answers = 0
        return RealnameHoldings(
            status=status[0] if status else None,
            real_name=bool(status and status[1]),
            id_pseudonym=bool(status and status[2]),
            status_updated_at=status[3] if status else None,
            certificates=int(certs),
            valid_certificates=int(valid),
            last_issued_at=issued,
            signing_records=int(signed),
            last_signed_at=last_signed,
            verifications=int(verifications),
            document_pseudonyms=int(documents),
            last_verification_at=last_verification,
            certificate_answers=int(answers),
        )

    def inventory(self, account_id: str) -> dict[str, int]:
        """Counts for ``GET /v1/me/personal-information``: ``{"realname_status",
        "certificates", "signing_records"}``."""
        with self.connect() as conn:
            counts = [
                conn.execute(f"SELECT COUNT(*) FROM {table} WHERE account_id = ?",
                             (account_id,)).fetchone()[0]
                for table in ("realname_status", "user_certificates", "signing_records")
            ]
        return dict(zip(("realname_status", "certificates", "signing_records"), counts))


    # -- export, deletion and cancellation (issue 7, OBL-DSR-1/2/7) ----------------------------

    def account_export(self, account_id: str, now: _dt.datetime) -> dict[str, Any]:
        """The account's real-name data with values, for ``GET /v1/me/export``:
        ``{"realname": {"status", "real_name", "verifications": [...]}, "certificates":
        [{"serial", "not_before", "not_after", "revoked", "subject": {"common_name",
        "serial_number"}}], "signing_records": [{"signature_id", "template_id",
        "content_sha256", "signed_at", "certificate_serial", "keep_until"}]}``.

        No ID number is in it (the stub never stored one): only its pseudonym, as in the
        certificate's subject. Verifications carry kind, status, reason and times."""
        with self.transaction(write=False) as conn:
            status = conn.execute(
                "SELECT status, real_name FROM realname_status WHERE account_id = ?",
                (account_id,)).fetchone()
            certs = [CertificateRow(*r) for r in conn.execute(
                f"SELECT {self._CERT_COLUMNS} FROM user_certificates WHERE account_id = ?"
                " ORDER BY issued_at, rowid", (account_id,)).fetchall()]
            signed = conn.execute(
                "SELECT signature_id, template_id, template_sha256, signed_at,"
                " certificate_serial, keep_until FROM signing_records WHERE account_id = ?"
                " ORDER BY signed_at, rowid", (account_id,)).fetchall()
            try:
                verifications = conn.execute(
                    "SELECT verification_id, kind, status, reason, document_kind, created_at,"
                    " updated_at FROM realname_verifications WHERE account_id = ?"
                    " ORDER BY created_at, rowid", (account_id,)).fetchall()
            except sqlite3.OperationalError:  # no verification table yet
                verifications = []
        return {
            "realname": {
                "status": status[0] if status else None,
                "real_name": status[1] if status else None,
                "verifications": [
                    {"id": v, "kind": k, "status": st, "reason": r, "document_kind": d,
                     "created_at": c, "updated_at": u}
                    for v, k, st, r, d, c, u in verifications],
            },
            "certificates": [
                {"serial": c.serial, "not_before": c.not_before, "not_after": c.not_after,
                 "revoked": c.revoked_at is not None,
                 "subject": {"common_name": c.common_name, "serial_number": c.id_pseudonym}}
                for c in certs],
            "signing_records": [
                {"signature_id": s, "template_id": t, "content_sha256": h, "signed_at": at,
                 "certificate_serial": serial,
                 "keep_until": keep or rfc3339(add_years(_parse(at), SIGNING_RECORD_YEARS))}
                for s, t, h, at, serial, keep in signed],
        }

    @staticmethod
    def erase_account(conn: sqlite3.Connection, account_id: str, now: _dt.datetime, *,
                      reason: str, evidence_from: _dt.datetime | None = None) -> RealnameErasure:
        """Erase the account's real-name data inside the caller's transaction (a deletion
        request, PIPL art. 47, or a cancellation; OBL-DSR-2/7).

        Deleted: the real-name status row (real name, ID pseudonym), the verification records,
        the stored answers of ``POST /v1/certificates`` (each holds a certificate) and the
        certificates that back no signing record. Every certificate still valid is revoked
        (*reason*: ``data_deleted`` or ``account_cancelled``): with the real name gone the
        account can no longer sign. Kept: the signing records and the certificates backing
        them (Electronic Signature Law), until ``signed_at`` + 5 years, or, with
        *evidence_from* (the cancellation time), until *evidence_from* + 5 years, written to
        their ``keep_until``.

        Args:
            now: the time of the revocations (aware).
            reason: the revocation reason.
            evidence_from: the cancellation time; None for a deletion request.

        Returns:
            a :class:`RealnameErasure` (item ids of the manifest deleted; what is kept).
        """
        deleted: list[str] = []
        status = conn.execute(
            "SELECT real_name IS NOT NULL AND real_name != '',"
            " id_pseudonym IS NOT NULL AND id_pseudonym != '' FROM realname_status"
            " WHERE account_id = ?", (account_id,)).fetchone()
        if status is not None:
            conn.execute("DELETE FROM realname_status WHERE account_id = ?", (account_id,))
            deleted += [item for item, held in (("real_name", status[0]), ("id_number", status[1]))
                        if held]
        try:
            if conn.execute("DELETE FROM realname_verifications WHERE account_id = ?",
                            (account_id,)).rowcount:
                deleted.append("realname_verifications")
        except sqlite3.OperationalError:  # no verification table yet
            pass
        try:
            conn.execute(
                "DELETE FROM idempotency WHERE endpoint = 'POST /v1/certificates' AND"
                " json_extract(response, '$.serial') IN"
                " (SELECT serial FROM user_certificates WHERE account_id = ?)", (account_id,))
        except sqlite3.OperationalError:  # no idempotency table (a bare RealnameStore)
            pass
        conn.execute(
            "UPDATE user_certificates SET revoked_at = ?, revocation_reason = ?"
            " WHERE account_id = ? AND revoked_at IS NULL", (rfc3339(now), reason, account_id))
        unused = conn.execute(
            "DELETE FROM user_certificates WHERE account_id = ? AND serial NOT IN"
            " (SELECT certificate_serial FROM signing_records WHERE account_id = ?)",
            (account_id, account_id)).rowcount
        if unused:
            deleted.append("certificate_info")
        if evidence_from is not None:
            until = rfc3339(add_years(evidence_from, SIGNING_RECORD_YEARS))
            conn.execute("UPDATE signing_records SET keep_until = ? WHERE account_id = ?",
                         (until, account_id))
            conn.execute("UPDATE user_certificates SET keep_until = ? WHERE account_id = ?",
                         (until, account_id))
            records, latest = conn.execute(
                "SELECT COUNT(*), MAX(keep_until) FROM signing_records WHERE account_id = ?",
                (account_id,)).fetchone()
        else:
            records, last_signed = conn.execute(
                "SELECT COUNT(*), MAX(signed_at) FROM signing_records WHERE account_id = ?",
                (account_id,)).fetchone()
            latest = (rfc3339(add_years(_parse(last_signed), SIGNING_RECORD_YEARS))
                      if last_signed else None)
            conn.execute(
                "UPDATE user_certificates SET keep_until = ? WHERE account_id = ?",
                (latest, account_id))
        certificates = conn.execute(
            "SELECT COUNT(*) FROM user_certificates WHERE account_id = ?", (account_id,)
        ).fetchone()[0]
        return RealnameErasure(deleted=tuple(deleted), signing_records=int(records),
                               certificates=int(certificates), keep_until=latest)


@dataclass(frozen=True)
class RealnameErasure:
    """What :meth:`RealnameStore.erase_account` did.

    Attributes:
        deleted: manifest item ids of which something was deleted (``real_name``,
            ``id_number``, ``realname_verifications``, ``certificate_info``).
        signing_records, certificates: how many are kept as evidence.
        keep_until: until when the last of them is kept (RFC 3339), None when none is kept.
    """

    deleted: tuple[str, ...]
    signing_records: int
    certificates: int
    keep_until: str | None


def add_years(moment: _dt.datetime, years: int) -> _dt.datetime:
    """*moment* plus whole calendar *years* (29 February becomes 28 February)."""
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February into a common year
        return moment.replace(year=moment.year + years, day=28)


def for_app(app: Any) -> RealnameStore:
    """The :class:`RealnameStore` of a stub app (``app.state.realname``), made on first use
    from ``app.state.settings.data_dir``."""
    return per_app(app, "realname", lambda state: RealnameStore(state.settings.data_dir))


# --------------------------------------------------------------------------------------
# Consent (OBL-CERT-2): what the account's devices decided
# --------------------------------------------------------------------------------------

_STRENGTH = {"granted": 0, "denied": 1, "withdrawn": 2}


def _created(record: Mapping[str, Any]) -> _dt.datetime | None:
    """The record's ``created_at``; None when missing, unreadable or without offset."""
    when = parse_time(record.get("created_at"))
    return when if when is not None and when.tzinfo is not None else None


def deciding_decisions(records: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """The decision in force per scope, from the records of all of an account's devices
    (docs/consent.md, "States"): each device's own latest record for the scope (by
    ``proof.seq``, else the order given), then across devices the latest by ``created_at``,
    a tie going to the stronger decision (``withdrawn`` > ``denied`` > ``granted``).

    Only version 2 records have scopes; an unsigned grant (``proof.signature`` null) is never
    trusted, as on the devices (docs/protocol.md, "Proof").

    Returns:
        ``{scope: decision}``.
    """
    per_device: dict[tuple[str, str], tuple[int, int, Mapping[str, Any]]] = {}
    for position, record in enumerate(records):
        if record.get("schema_version") != 2:
            continue
        scope, decision, subject = record.get("scope"), record.get("decision"), record.get("subject_id")
        if not isinstance(scope, str) or decision not in _STRENGTH or not isinstance(subject, str):
            continue
        proof = record.get("proof") if isinstance(record.get("proof"), Mapping) else {}
        if decision == "granted" and not proof.get("signature"):
            continue
        seq = proof.get("seq")
        order = (seq if isinstance(seq, int) and not isinstance(seq, bool) else 0, position)
        known = per_device.get((subject, scope))
        if known is None or order > known[:2]:
            per_device[(subject, scope)] = (*order, record)
    best: dict[str, tuple[_dt.datetime, int, str]] = {}
    for (_, scope), (_, _, record) in per_device.items():
        when = _created(record)
        if when is None:
            continue
        decision = str(record["decision"])
        rank = (when, _STRENGTH[decision])
        if scope not in best or rank > best[scope][:2]:
            best[scope] = (*rank, decision)
    return {scope: decision for scope, (_, _, decision) in best.items()}


def missing_consents(records: Iterable[Mapping[str, Any]], scopes: Iterable[str], *,
                     decided: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The scopes among ``policy`` and *scopes* whose decision in force is not ``granted``
    (:func:`deciding_decisions`), in that order; empty when all are granted. *decided*: the
    records' :func:`deciding_decisions` when the caller already has them."""
    if decided is None:
        decided = deciding_decisions(records)
    wanted = dict.fromkeys(("policy", *scopes))
    return tuple(s for s in wanted if decided.get(s) != "granted")
