"""Proof of consent records: the device's Ed25519 signature and the per-device hash chain.

Implements docs/protocol.md, "Consent record (JSON)" → "Proof (hash chain and signature)".
Every record the device writes carries::

    "proof": {"type": "Ed25519-JCS-2026",
              "public_key": "<base64url, 32 bytes>",   # the device key, RFC 8032 encoding
              "seq": 1,                                # 1, 2, 3 … on this device, no gaps
              "prev_hash": "<hex sha256>",             # record_hash of seq - 1; GENESIS for seq 1
              "signature": "<base64url, 64 bytes>"}

- *Canonical form* (:func:`canonical`): RFC 8785 JSON Canonicalization Scheme (JCS), UTF-8,
  computed by Trail of Bits' ``rfc8785`` package: keys sorted by UTF-16 code units, no
  whitespace, non-ASCII characters as UTF-8 (never ``\\uXXXX``), ECMAScript number form. Two
  JSON texts of one record (any key order, escaped or not) have one canonical form.
- *Signature*: Ed25519 (RFC 8032, ``cryptography``) over the canonical form of the record with
  ``proof.signature`` removed; everything else, ``proof.seq`` and ``proof.prev_hash`` included,
  is signed.
- *Record hash* (:func:`record_hash`): hex SHA-256 of the canonical form of the whole record,
  signature included; the next record's ``proof.prev_hash``.

The record fields themselves follow ISO/IEC TS 27560 (consent record information structure),
see :mod:`sdk.consent.record`.

:func:`verify_record` checks one record; :func:`verify_chain` checks one device's records in
order and reports *every* problem (:class:`Problem`), never only the first; an export
document (:func:`export_document`) is checked by :func:`verify_document`, and from a shell by
``python -m sdk.consent verify FILE``. Problem messages are English sentences that name a
record only by its ``record_id`` (when it is a uuid) and ``seq``: never a record value, so a
report can be pasted into a bug tracker.

What the chain cannot show: records removed from the *end* leave a shorter chain that still
verifies. Compare :attr:`ChainReport.count` / :attr:`ChainReport.head_hash` with an earlier
export or the server's copy to detect that. And a document's ``public_key`` is only a claim:
whoever holds *a* key can sign a whole chain; pass the key you got from a trusted place
(the server's record of the first key per subject, an earlier export) to check it is *the*
device key.

``cryptography`` and ``rfc8785`` are imported on first use, so importing this module (and
``sdk``) stays cheap.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..errors import ConsentError

if TYPE_CHECKING:  # pragma: no cover
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from ..storage.keystore import KeystoreBackend

__all__ = [
    "EXPORT_FORMAT",
    "GENESIS",
    "PROBLEM_KINDS",
    "PROOF_TYPE",
    "ChainReport",
    "DeviceKey",
    "Problem",
    "canonical",
    "export_document",
    "record_hash",
    "verify_chain",
    "verify_document",
    "verify_record",
]

#: ``proof.type`` of the records this module signs: Ed25519 over the RFC 8785 form.
PROOF_TYPE = "Ed25519-JCS-2026"

#: ``proof.prev_hash`` of a device's first record (``seq`` 1): 64 zeros.
GENESIS = "0" * 64

#: ``format`` of an export document (:func:`export_document`).
EXPORT_FORMAT = "privacy-sdk/consent-records/v1"

#: Every :attr:`Problem.kind`, in the order of the explanation in :class:`Problem`.
PROBLEM_KINDS: tuple[str, ...] = (
    "unsigned", "bad_signature", "wrong_key", "broken_chain", "gap", "malformed",
)

#: Key id of the keystore wrapping key that protects the device signing key's seed.
DEFAULT_KEY_ID = "consent-signing-v1"

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_SEED_SIZE = 32
_PUBLIC_KEY_SIZE = 32
_SIGNATURE_SIZE = 64
_MAX_SAFE_INT = 2**53 - 1  # RFC 8785 / I-JSON: larger integers have no canonical form


# --------------------------------------------------------------------------------------
# Canonical form and hash
# --------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A deep copy of *value* made of ``dict``/``list``/scalars (``rfc8785`` takes no Mapping)."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def canonical(obj: Mapping[str, Any]) -> bytes:
    """The RFC 8785 (JSON Canonicalization Scheme) form of *obj*, as UTF-8 bytes.

    Uses Trail of Bits' ``rfc8785.dumps``. Any ``Mapping`` works (converted to ``dict``
    first); tuples serialise as arrays.

    Raises:
        ValueError: *obj* holds something JSON cannot express canonically: a non-string key,
            a type other than dict/list/tuple/str/int/float/bool/None, an integer beyond
            ±(2**53 - 1), NaN or infinity, or a lone surrogate (``rfc8785``'s
            ``CanonicalizationError`` is a ``ValueError``).
    """
    import rfc8785

    return rfc8785.dumps(_plain(obj))


def record_hash(record: Mapping[str, Any]) -> str:
    """Hex SHA-256 of ``canonical(record)``: the whole record, ``proof.signature`` included.

    This is the value the device's next record carries as ``proof.prev_hash``.

    Raises:
        ValueError: as for :func:`canonical`.
    """
    return hashlib.sha256(canonical(record)).hexdigest()


def _signing_input(record: Mapping[str, Any]) -> bytes:
    """``canonical(record)`` with ``proof.signature`` removed: the bytes the device signs."""
    body = dict(record)
    proof = dict(body["proof"])
    proof.pop("signature", None)
    body["proof"] = proof
    return canonical(body)


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: object, size: int) -> bytes | None:
    """Strict base64url without padding of exactly *size* bytes, else ``None``.

    Only the one canonical spelling is accepted (no padding, no stray characters, unused
    trailing bits zero), so a signature cannot be re-spelt into another record hash.
    """
    if not isinstance(text, str) or not _B64URL.match(text):
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(raw) != size or _b64encode(raw) != text:
        return None
    return raw


def _is_seq(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= _MAX_SAFE_INT


# --------------------------------------------------------------------------------------
# The device key
# --------------------------------------------------------------------------------------


class DeviceKey:
    """The device's Ed25519 signing key (RFC 8032) for consent records.

    Made on first use (:meth:`load_or_create`); its 32-byte seed exists in clear only in this
    object's memory and is stored only *wrapped* by the OS keystore
    (:class:`~sdk.storage.keystore.KeystoreBackend`). The seed is never exposed, logged or
    shown in ``repr``.

    Attributes:
        public_key: the raw 32-byte public key, base64url without padding (43 characters):
            ``proof.public_key`` of every record this key signs.
    """

    __slots__ = ("_private", "public_key")

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        """Wrap a ``cryptography`` Ed25519 private key (use :meth:`generate` or
        :meth:`load_or_create` instead of calling this directly)."""
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        if not isinstance(private_key, Ed25519PrivateKey):
            raise TypeError("DeviceKey needs an Ed25519PrivateKey")
        self._private = private_key
        self.public_key: str = _b64encode(private_key.public_key().public_bytes_raw())

    @classmethod
    def generate(cls) -> DeviceKey:
        """A new random key (from the OS CSPRNG, via OpenSSL)."""
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def _from_seed(cls, seed: bytes) -> DeviceKey:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    @classmethod
    def load_or_create(
        cls,
        keystore: KeystoreBackend,
        blob: bytes | None,
        key_id: str = DEFAULT_KEY_ID,
    ) -> tuple[DeviceKey, bytes]:
        """The device key from its wrapped *blob*, or a new key when there is no blob yet.

        Args:
            keystore: the OS keystore backend (``MemoryKeystore`` in tests).
            blob: what an earlier call returned (the caller stores it, e.g. in the ledger's
                ``meta`` table), or ``None`` on first use.
            key_id: the keystore wrapping key's id.

        Returns:
            ``(key, blob)``: for ``blob=None`` a new key and the new blob, which the caller
            must store before signing anything with the key; otherwise the stored key and
            the same *blob*.

        Raises:
            KeystoreError: the blob does not unwrap (altered, another key id, wrapping key
                deleted) or does not hold a 32-byte Ed25519 seed. A new key is *never* made
                silently for an existing blob: that would fork the device's chain.
            KeystoreUnavailable, KeystoreTimeout: from the keystore (subclasses of
                KeystoreError).
            ValueError: *key_id* is not a valid key id.
        """
        from ..storage.keystore import load_or_create_wrapped

        def new_seed() -> bytes:
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

            return Ed25519PrivateKey.generate().private_bytes_raw()

        seed, stored = load_or_create_wrapped(
            keystore, key_id, blob, new_seed, size=_SEED_SIZE,
            what="consent signing key (an Ed25519 seed)",
        )
        return cls._from_seed(seed), stored

    def sign(self, unsigned: Mapping[str, Any], *, seq: int, prev_hash: str) -> dict[str, Any]:
        """Sign a record and link it into the chain.

        Args:
            unsigned: the wire record without ``proof`` (``ConsentRecord.unsigned_dict()``).
            seq: this record's place on the device: 1, 2, 3 …
            prev_hash: :func:`record_hash` of the device's record ``seq - 1``, or
                :data:`GENESIS` for ``seq`` 1.

        Returns:
            A new dict (deep copy; *unsigned* is not changed): *unsigned* plus
            ``"proof": {"type", "public_key", "seq", "prev_hash", "signature"}``.

        Raises:
            ValueError: *unsigned* already has a ``proof``, *seq* is not an integer from 1 to
                2**53 - 1, *prev_hash* is not 64 lowercase hex characters, or the record is
                not canonicalisable JSON (see :func:`canonical`).
        """
        if "proof" in unsigned:
            raise ValueError("the record already has a 'proof'; sign the unsigned_dict()")
        if not _is_seq(seq):
            raise ValueError("seq must be an integer from 1 to 2**53 - 1")
        if not isinstance(prev_hash, str) or not _HEX64.match(prev_hash):
            raise ValueError("prev_hash must be 64 lowercase hex characters (record_hash or GENESIS)")
        record = _plain(unsigned)
        record["proof"] = {
            "type": PROOF_TYPE,
            "public_key": self.public_key,
            "seq": seq,
            "prev_hash": prev_hash,
        }
        signature = self._private.sign(canonical(record))
        record["proof"]["signature"] = _b64encode(signature)
        return record

    def __repr__(self) -> str:
        return f"<DeviceKey public_key={self.public_key[:16]}…>"


# --------------------------------------------------------------------------------------
# Verification
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a record or a chain; never contains a record's values.

    Attributes:
        record_id: the record's ``record_id`` when it is a uuid, else ``None``.
        seq: the record's ``proof.seq`` (for ``gap``: the first missing seq), else ``None``.
        kind: one of :data:`PROBLEM_KINDS`:

            - ``unsigned``: no ``proof`` or no ``proof.signature``;
            - ``bad_signature``: the signature does not verify (the record was altered);
            - ``wrong_key``: signed by a key other than the device key of the chain;
            - ``broken_chain``: ``prev_hash`` is not the hash of the record before it, or
              records are duplicated or out of order;
            - ``gap``: ``seq`` numbers are missing (records were removed);
            - ``malformed``: not a record or a proof this module can check.
        message: one English sentence saying what is wrong.
        position: 1-based place of the record in the list checked, ``None`` for problems of
            the chain or document as a whole.
    """

    record_id: str | None
    seq: int | None
    kind: str
    message: str
    position: int | None = None

    @property
    def where(self) -> str:
        """Where the problem is, e.g. ``record 2 (seq 2, record_id 6f1c…)``."""
        details = []
        if self.seq is not None:
            details.append(f"seq {self.seq}")
        if self.record_id is not None:
            details.append(f"record_id {self.record_id}")
        if self.position is None:
            return ", ".join(details) if details else "document"
        return f"record {self.position}" + (f" ({', '.join(details)})" if details else "")

    def __str__(self) -> str:
        return f"{self.where}: {self.kind}: {self.message}"


@dataclass(frozen=True)
class ChainReport:
    """What :func:`verify_chain` / :func:`verify_document` found.

    Attributes:
        count: number of records checked.
        public_key: the key the chain was checked against (the given one, else the first
            record's), ``None`` when there was none.
        problems: every problem found, in record order, then chain-wide ones (gaps).
        head_hash: :func:`record_hash` of the last record, to compare with a later export
            (records removed from the end cannot be seen otherwise); ``None`` when empty.
    """

    count: int
    public_key: str | None
    problems: tuple[Problem, ...]
    head_hash: str | None = None

    @property
    def ok(self) -> bool:
        """``True`` when no problem was found (an empty chain is ok)."""
        return not self.problems


def _record_id(record: Mapping[str, Any]) -> str | None:
    value = record.get("record_id")
    return value if isinstance(value, str) and _UUID.match(value) else None


def _check_record(record: object) -> list[tuple[str, str]]:
    """``(kind, message)`` for each problem of one record on its own (signature, proof shape)."""
    if not isinstance(record, Mapping):
        return [("malformed", "The record is not a JSON object.")]
    proof = record.get("proof")
    if proof is None:
        return [("unsigned", "The record has no proof: it is not signed.")]
    if not isinstance(proof, Mapping):
        return [("malformed", "The record's proof is not a JSON object.")]
    if "signature" not in proof or proof.get("signature") is None:
        return [("unsigned", "The record's proof has no signature.")]
    found: list[tuple[str, str]] = []
    if proof.get("type") != PROOF_TYPE:
        found.append(("malformed", f"proof.type is not {PROOF_TYPE}."))
    raw_key = _b64decode(proof.get("public_key"), _PUBLIC_KEY_SIZE)
    if raw_key is None:
        found.append(("malformed", "proof.public_key is not a base64url Ed25519 public key "
                                   "(32 bytes, no padding)."))
    signature = _b64decode(proof.get("signature"), _SIGNATURE_SIZE)
    if signature is None:
        found.append(("malformed", "proof.signature is not a base64url Ed25519 signature "
                                   "(64 bytes, no padding)."))
    if not _is_seq(proof.get("seq")):
        found.append(("malformed", "proof.seq is not an integer of 1 or more."))
    prev_hash = proof.get("prev_hash")
    if not isinstance(prev_hash, str) or not _HEX64.match(prev_hash):
        found.append(("malformed", "proof.prev_hash is not 64 lowercase hex characters."))
    try:
        message = _signing_input(record)
    except (ValueError, TypeError, RecursionError):
        found.append(("malformed", "The record is not canonicalisable JSON (RFC 8785)."))
        return found
    if raw_key is None or signature is None:
        return found
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(raw_key).verify(signature, message)
    except InvalidSignature:
        found.append(("bad_signature", "The signature does not verify: the record was changed "
                                       "after it was signed, or the signature is not its own."))
    except ValueError:
        found.append(("malformed", "proof.public_key is not a valid Ed25519 public key."))
    return found


def verify_record(record: Mapping[str, Any]) -> list[str]:
    """Check one record's proof on its own: shape, and the Ed25519 signature under the
    record's own ``proof.public_key`` (RFC 8032, over the RFC 8785 form without
    ``proof.signature``).

    It does not check *which* key signed, nor the chain: use :func:`verify_chain` for that.

    Returns:
        One English sentence per problem (no record values); ``[]`` when the signature
        verifies. Never raises for bad input: anything that is not a signed record is
        reported.
    """
    return [message for _kind, message in _check_record(record)]


def _hash_or_none(record: object) -> str | None:
    if not isinstance(record, Mapping):
        return None
    try:
        return record_hash(record)
    except (ValueError, TypeError, RecursionError):
        return None


def _ordered(problems: list[Problem]) -> tuple[Problem, ...]:
    """Problems of the whole chain or document first, then per record in list order, then
    gaps (stable: a record's problems keep the order they were found in)."""
    def key(problem: Problem) -> tuple[int, int]:
        if problem.position is not None:
            return 1, problem.position
        return (2, 0) if problem.kind == "gap" else (0, 0)
    return tuple(sorted(problems, key=key))


def verify_chain(
    records: Sequence[Mapping[str, Any]],
    public_key: str | None = None,
) -> ChainReport:
    """Check the records of **one** device, in ``seq`` order, and report every problem.

    Checks, for each record: the signature verifies (:func:`verify_record`); it is signed by
    the chain's key (*public_key* if given, else the first record's); and, as a chain:
    ``seq`` runs 1, 2, … n with no gap, duplicate or reordering; ``proof.prev_hash`` of each
    record is :func:`record_hash` of the record before it in *records*, and :data:`GENESIS`
    for ``seq`` 1.

    Args:
        records: wire records (dicts as in docs/protocol.md, ``proof`` included).
        public_key: the device key (base64url) to require, e.g. from a trusted earlier
            export; ``None`` trusts the first record's key (then a chain re-signed whole by
            another key still verifies; see the module docstring).

    Returns:
        A :class:`ChainReport`; ``report.ok`` when nothing is wrong. Records removed from
        the end cannot be detected here (compare ``count`` / ``head_hash``).
    """
    problems: list[Problem] = []
    expected = public_key
    check_key = True
    if public_key is not None and _b64decode(public_key, _PUBLIC_KEY_SIZE) is None:
        problems.append(Problem(None, None, "malformed",
                                "The expected public key is not a base64url Ed25519 public key "
                                "(32 bytes, no padding); the signing key was not compared."))
        check_key = False

    seqs: list[tuple[int, int, str | None]] = []  # (position, seq, record_id) with a usable seq
    # seq numbers taken by records without a usable seq (unsigned, e.g. written before the
    # device had a key): the place they stand in. Only used so that such a record is not also
    # reported as a gap; it is reported as unsigned or malformed anyway.
    stand_ins: set[int] = set()
    running = 0
    for index, record in enumerate(records):
        position = index + 1
        is_map = isinstance(record, Mapping)
        rid = _record_id(record) if is_map else None
        proof = record.get("proof") if is_map else None
        proof = proof if isinstance(proof, Mapping) else {}
        seq = proof.get("seq") if _is_seq(proof.get("seq")) else None

        for kind, message in _check_record(record):
            problems.append(Problem(rid, seq, kind, message, position))

        key = proof.get("public_key")
        if check_key and _b64decode(key, _PUBLIC_KEY_SIZE) is not None:
            if expected is None:
                expected = key
            elif key != expected:
                problems.append(Problem(rid, seq, "wrong_key", "The record is signed by another "
                                        "key than the chain's device key.", position))

        if seq is not None:
            seqs.append((position, seq, rid))
            running = max(running, seq)
        else:
            running += 1
            stand_ins.add(running)

        prev_hash = proof.get("prev_hash")
        if not isinstance(prev_hash, str) or not _HEX64.match(prev_hash):
            continue
        if index == 0:
            if seq == 1 and prev_hash != GENESIS:
                problems.append(Problem(rid, seq, "broken_chain", "The first record (seq 1) must "
                                        "have a prev_hash of 64 zeros.", position))
            continue
        before = _hash_or_none(records[index - 1])
        if before is not None and prev_hash != before:
            problems.append(Problem(rid, seq, "broken_chain", "proof.prev_hash is not the hash of "
                                    "the record before it: a record before it was removed, "
                                    "changed, inserted or moved.", position))

    previous: int | None = None
    seen: set[int] = set()
    for position, seq, rid in seqs:
        if seq in seen:
            problems.append(Problem(rid, seq, "broken_chain",
                                    f"seq {seq} appears more than once.", position))
        elif previous is not None and seq < previous:
            problems.append(Problem(rid, seq, "broken_chain",
                                    f"seq {seq} comes after seq {previous}: the records are out "
                                    "of order.", position))
        seen.add(seq)
        previous = seq if previous is None else max(previous, seq)

    present = sorted(seen | {n for n in stand_ins if n < max(seen, default=0)})
    missing_spans: list[tuple[int, int]] = []
    last = 0
    for seq in present:
        if seq > last + 1:
            missing_spans.append((last + 1, seq - 1))
        last = seq
    for first, end in missing_spans:
        text = (f"The record with seq {first} is missing" if first == end
                else f"The records with seq {first} to {end} are missing")
        problems.append(Problem(None, first, "gap", text + " (removed from the chain)."))

    head = _hash_or_none(records[-1]) if records else None
    return ChainReport(count=len(records), public_key=expected, problems=_ordered(problems),
                       head_hash=head)


# --------------------------------------------------------------------------------------
# Export documents
# --------------------------------------------------------------------------------------


def export_document(
    records: Sequence[Mapping[str, Any]],
    *,
    subject_id: str,
    public_key: str | None,
    exported_at: str,
) -> dict[str, Any]:
    """The JSON export of one device's consent records (OBL-DSR-1: the user's copy).

    Args:
        records: the device's wire records, ``proof`` included, in ``seq`` order
            (``ConsentLedger.export_records()``).
        subject_id: the install id the records belong to.
        public_key: the device key (base64url), ``None`` when the device has none yet.
        exported_at: RFC 3339 UTC time of the export.

    Returns:
        ``{"format": EXPORT_FORMAT, "subject_id", "public_key", "exported_at", "records"}``,
        with deep copies of the records; ``json.dumps`` it with ``ensure_ascii=False``.
    """
    return {
        "format": EXPORT_FORMAT,
        "subject_id": subject_id,
        "public_key": public_key,
        "exported_at": exported_at,
        "records": [_plain(record) for record in records],
    }


def verify_document(doc: Mapping[str, Any], *, public_key: str | None = None) -> ChainReport:
    """Check an export document (:func:`export_document`): its format, then its chain.

    The chain is checked against the document's ``public_key`` (or, when that is ``null``,
    the first record's). Each record's ``subject_id`` must be the document's.

    Args:
        doc: the decoded JSON document.
        public_key: a device key obtained from a trusted place; when given, the document's
            key must be this one (else a ``wrong_key`` problem) and the chain is checked
            against it.

    Returns:
        A :class:`ChainReport` (see :func:`verify_chain`).

    Raises:
        ConsentError: *doc* is not an export document of :data:`EXPORT_FORMAT` (not an
            object, another ``format``, ``records`` not a list, ``subject_id`` not a string,
            ``public_key`` neither a string nor null).
    """
    if not isinstance(doc, Mapping):
        raise ConsentError("the document is not a JSON object")
    if doc.get("format") != EXPORT_FORMAT:
        raise ConsentError(f"the document is not a consent records export "
                           f"('format' must be '{EXPORT_FORMAT}')")
    records = doc.get("records")
    if not isinstance(records, list):
        raise ConsentError("the document's 'records' must be a list")
    subject_id = doc.get("subject_id")
    if not isinstance(subject_id, str):
        raise ConsentError("the document's 'subject_id' must be a string")
    doc_key = doc.get("public_key")
    if doc_key is not None and not isinstance(doc_key, str):
        raise ConsentError("the document's 'public_key' must be a string or null")

    extra: list[Problem] = []
    if public_key is not None and doc_key is not None and doc_key != public_key:
        extra.append(Problem(None, None, "wrong_key",
                             "The document's public_key is not the expected device key."))
    report = verify_chain(records, public_key if public_key is not None else doc_key)
    for index, record in enumerate(records):
        if isinstance(record, Mapping) and record.get("subject_id") != subject_id:
            proof = record.get("proof")
            seq = proof.get("seq") if isinstance(proof, Mapping) else None
            extra.append(Problem(_record_id(record), seq if _is_seq(seq) else None, "malformed",
                                 "The record's subject_id is not the document's subject_id.",
                                 index + 1))
    if not extra:
        return report
    return replace(report, problems=_ordered([*extra, *report.problems]))
