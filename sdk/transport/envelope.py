"""End-to-end encryption of personal data to the server: HPKE envelopes (RFC 9180).

Real-name data (names, ID numbers, phone numbers, face videos, review documents) is sealed on
the device to the server's published HPKE public key, so TLS-terminating proxies, logs and
upload spools never hold it in clear (docs/protocol.md, "End-to-end encryption").

- *Mode*: HPKE base mode, single-shot (RFC 9180 §6.1 ``SealBase`` / ``OpenBase``), empty
  ``aad``; every sealed unit has its own encapsulation. Computed by ``cryptography``'s
  ``hazmat.primitives.hpke`` (never by hand).
- *Suites* (IANA HPKE registry codepoints): KEM ``0x647A`` MLKEM768-X25519 ("X-Wing",
  draft-connolly-cfrg-xwing-kem / draft-ietf-hpke-pq; the default) or ``0x0020``
  DHKEM(X25519, HKDF-SHA256); KDF ``0x0001`` HKDF-SHA256; AEAD ``0x0002`` AES-256-GCM. Nothing
  else is accepted (no downgrade).
- *Public key encoding*: X25519: the raw 32 bytes (RFC 7748). MLKEM768-X25519: the ML-KEM-768
  encapsulation key (1184 bytes, FIPS 203) followed by the raw X25519 key (32 bytes), 1216
  bytes, as X-Wing's ``pk = pk_M || pk_X``.
- *Fingerprint*: ``"sha256:" + hex(SHA-256(kem_id as 2 bytes big-endian || public key))``,
  what ``SdkConfig.hpke_pins`` holds.
- *Sealed unit*: ``enc || ciphertext`` (``enc`` 1120 bytes for MLKEM768-X25519, 32 for X25519;
  the AES-256-GCM ciphertext is the plaintext length + 16 bytes of tag).
- *Info* (what a sealed unit is bound to): the RFC 8785 canonical JSON (UTF-8) of
  :func:`chunk_info` or :func:`field_info`. A byte flipped anywhere, a chunk moved to another
  index, another upload or another consent, or a final flag changed, fails to open.

The device (:func:`seal_chunk`, :func:`seal_field`) and the server (:func:`open_chunk`,
:func:`open_field`) build the info with the same two functions of this module.

*Availability*: a build can only seal to a KEM its ``cryptography`` can compute. HPKE needs
``cryptography`` >= 47 (``hazmat.primitives.hpke``); MLKEM768-X25519 also needs ML-KEM from the
backend (``cryptography`` >= 48 built against OpenSSL >= 3.5, or AWS-LC / BoringSSL).
:func:`supported_kems` says which KEMs this build can use; sealing to any other raises
``EnvelopeError("suite_unavailable")`` before anything is sent (docs/permissions.md, "Packaging
for Android and iOS").

``cryptography`` and ``rfc8785`` are imported on first use, so importing this module is cheap.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ..errors import EnvelopeError, KeyPinMismatch

if TYPE_CHECKING:  # pragma: no cover
    from .client import ApiClient

__all__ = [
    "AEAD_AES_256_GCM",
    "DEFAULT_SUITE",
    "ENVELOPE_VERSION",
    "KDF_HKDF_SHA256",
    "KEM_MLKEM768_X25519",
    "KEM_X25519",
    "KEYS_PATH",
    "SUITE_MLKEM768_X25519",
    "SUITE_X25519",
    "TAG_LENGTH",
    "EnvelopeKey",
    "EnvelopePrivateKey",
    "HpkeSuite",
    "b64url_decode",
    "b64url_encode",
    "check_pinned",
    "require_pins",
    "chunk_count",
    "chunk_info",
    "chunk_plaintext_length",
    "fetch_current_key",
    "field_info",
    "fingerprint",
    "open_chunk",
    "open_field",
    "parse_key_list",
    "seal_chunk",
    "seal_field",
    "sealed_size",
    "sealed_stream_length",
    "select_current_key",
    "supported_kems",
]

#: ``"v"`` of every info object; a new envelope format gets a new number.
ENVELOPE_VERSION = 1

#: IANA HPKE KEM identifier of DHKEM(X25519, HKDF-SHA256) (RFC 9180 §7.1).
KEM_X25519 = 0x0020
#: IANA HPKE KEM identifier of MLKEM768-X25519 / X-Wing (draft-ietf-hpke-pq).
KEM_MLKEM768_X25519 = 0x647A
#: IANA HPKE KDF identifier of HKDF-SHA256 (RFC 9180 §7.2).
KDF_HKDF_SHA256 = 0x0001
#: IANA HPKE AEAD identifier of AES-256-GCM (RFC 9180 §7.3).
AEAD_AES_256_GCM = 0x0002
#: Bytes of AES-256-GCM tag at the end of every ciphertext.
TAG_LENGTH = 16

#: Path (under ``/v1``) where the server publishes its keys.
KEYS_PATH = "/keys/hpke"

_MLKEM768_PUBLIC = 1184
_X25519_PUBLIC = 32
_SECRET_LENGTH = 32
_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")
_PIN = re.compile(r"^sha256:[0-9a-f]{64}$")
_MAX_SAFE_INT = 2**53 - 1

# kem id -> (name, enc length, public key length)
_KEMS: dict[int, tuple[str, int, int]] = {
    KEM_MLKEM768_X25519: ("MLKEM768-X25519", 1120, _MLKEM768_PUBLIC + _X25519_PUBLIC),
    KEM_X25519: ("DHKEM(X25519, HKDF-SHA256)", 32, _X25519_PUBLIC),
}


# --------------------------------------------------------------------------------------
# Suites and keys
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HpkeSuite:
    """One HPKE ciphersuite, by IANA codepoints.

    Attributes:
        kem: ``KEM_MLKEM768_X25519`` (0x647A) or ``KEM_X25519`` (0x0020).
        kdf: ``KDF_HKDF_SHA256`` (0x0001), the only KDF accepted.
        aead: ``AEAD_AES_256_GCM`` (0x0002), the only AEAD accepted.

    Raises:
        EnvelopeError: ``code == "bad_suite"`` for any other combination.
    """

    kem: int
    kdf: int = KDF_HKDF_SHA256
    aead: int = AEAD_AES_256_GCM

    def __post_init__(self) -> None:
        if (
            isinstance(self.kem, bool) or self.kem not in _KEMS
            or self.kdf != KDF_HKDF_SHA256 or self.aead != AEAD_AES_256_GCM
        ):
            raise EnvelopeError(
                "bad_suite",
                "unsupported HPKE suite; supported: KEM 0x647A (MLKEM768-X25519) or 0x0020 "
                "(X25519) with KDF 0x0001 (HKDF-SHA256) and AEAD 0x0002 (AES-256-GCM)",
            )

    @property
    def name(self) -> str:
        """E.g. ``"MLKEM768-X25519/HKDF-SHA256/AES-256-GCM"``."""
        return f"{_KEMS[self.kem][0]}/HKDF-SHA256/AES-256-GCM"

    @property
    def enc_length(self) -> int:
        """Bytes of the KEM encapsulation at the start of each sealed unit (1120 or 32)."""
        return _KEMS[self.kem][1]

    @property
    def public_key_length(self) -> int:
        """Bytes of an encoded public key (1216 or 32)."""
        return _KEMS[self.kem][2]

    @property
    def overhead(self) -> int:
        """Bytes a sealed unit adds to its plaintext: ``enc_length + 16``."""
        return self.enc_length + TAG_LENGTH

    def _hpke(self) -> Any:
        from cryptography.hazmat.primitives import hpke

        kem = hpke.KEM.MLKEM768_X25519 if self.kem == KEM_MLKEM768_X25519 else hpke.KEM.X25519
        return hpke.Suite(kem, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)


#: MLKEM768-X25519 / HKDF-SHA256 / AES-256-GCM: post-quantum hybrid, the default.
SUITE_MLKEM768_X25519 = HpkeSuite(KEM_MLKEM768_X25519)
#: DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / AES-256-GCM.
SUITE_X25519 = HpkeSuite(KEM_X25519)
#: The suite new keys use unless told otherwise.
DEFAULT_SUITE = SUITE_MLKEM768_X25519


def fingerprint(kem: int, public_key: bytes) -> str:
    """``"sha256:" + hex(SHA-256(kem as 2 bytes big-endian || public_key))``: what a pin holds."""
    return "sha256:" + hashlib.sha256(int(kem).to_bytes(2, "big") + bytes(public_key)).hexdigest()


def b64url_encode(data: bytes) -> str:
    """Base64url (RFC 4648 §5) without padding (the consent proofs' encoding)."""
    from ..consent.proof import _b64encode

    return _b64encode(bytes(data))


def b64url_decode(text: str, what: str = "value") -> bytes:
    """Decode base64url with or without padding.

    Raises:
        EnvelopeError: ``code == "bad_encoding"``; the message names *what*, never the text.
    """
    if not isinstance(text, str) or not _B64URL.match(text.rstrip("=")):
        raise EnvelopeError("bad_encoding", f"{what} is not base64url text")
    stripped = text.rstrip("=")
    try:
        return base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))
    except (binascii.Error, ValueError) as exc:
        raise EnvelopeError("bad_encoding", f"{what} is not valid base64url") from exc


@dataclass(frozen=True)
class EnvelopeKey:
    """A server's HPKE public key as published at ``GET /v1/keys/hpke``.

    Attributes:
        kid: the server's key id (opaque text, at most 64 characters).
        suite: the :class:`HpkeSuite` the key is for.
        public_key: the encoded public key (1216 bytes for MLKEM768-X25519, 32 for X25519).
        status: ``"current"`` (seal new data to it) or ``"retired"`` (the server still opens
            what was sealed to it, e.g. an upload in flight).

    On a build that cannot use the suite's KEM (not in :func:`supported_kems`) only the kid,
    the length and the status are checked, so a key list that still names such a key (e.g. a
    retired MLKEM768-X25519 key next to a current X25519 one) can be read; sealing to the key
    raises ``EnvelopeError("suite_unavailable")``.

    Raises:
        EnvelopeError: ``code == "bad_key"`` when the kid or the key length is wrong, or the
            bytes are not a valid key of the suite.
    """

    kid: str
    suite: HpkeSuite
    public_key: bytes = field(repr=False)
    status: str = "current"

    def __post_init__(self) -> None:
        if not isinstance(self.kid, str) or not 0 < len(self.kid) <= 64 or not self.kid.isprintable():
            raise EnvelopeError("bad_key", "an HPKE key id must be 1 to 64 printable characters")
        if not isinstance(self.public_key, (bytes, bytearray)) or len(self.public_key) != self.suite.public_key_length:
            raise EnvelopeError(
                "bad_key",
                f"an HPKE public key for {_KEMS[self.suite.kem][0]} must be "
                f"{self.suite.public_key_length} bytes",
            )
        object.__setattr__(self, "public_key", bytes(self.public_key))
        if self.status not in ("current", "retired"):
            raise EnvelopeError("bad_key", "an HPKE key's status must be 'current' or 'retired'")
        if self.suite.kem in supported_kems():
            self._hpke_public  # noqa: B018 - parse now: a bad key fails here, not when sealing

    @property
    def fingerprint(self) -> str:
        """``"sha256:<hex>"`` of the KEM id and the public key (see :func:`fingerprint`)."""
        return fingerprint(self.suite.kem, self.public_key)

    @cached_property
    def _hpke_public(self) -> Any:
        _require_kem(self.suite.kem)
        try:
            return _public_from_bytes(self.suite.kem, self.public_key)
        except ValueError as exc:
            raise EnvelopeError("bad_key", "the HPKE public key is not a valid key of its suite") from exc

    def to_json(self) -> dict[str, Any]:
        """The entry of ``GET /v1/keys/hpke``: ``{"kid", "kem", "kdf", "aead", "public_key"
        (base64url, no padding), "fingerprint", "status"}``."""
        return {
            "kid": self.kid,
            "kem": self.suite.kem,
            "kdf": self.suite.kdf,
            "aead": self.suite.aead,
            "public_key": b64url_encode(self.public_key),
            "fingerprint": self.fingerprint,
            "status": self.status,
        }

    @classmethod
    def from_json(cls, entry: Mapping[str, Any]) -> EnvelopeKey:
        """Parse one entry of ``GET /v1/keys/hpke`` (the shape of :meth:`to_json`).

        The ``fingerprint`` given must equal the one computed from ``kem`` and
        ``public_key``.

        Raises:
            EnvelopeError: ``code == "bad_key"`` (or ``"bad_suite"``) when a field is missing
                or wrong; the message names the field.
        """
        if not isinstance(entry, Mapping):
            raise EnvelopeError("bad_key", "an HPKE key entry must be a JSON object")
        for name, kind in (("kid", str), ("kem", int), ("kdf", int), ("aead", int),
                           ("public_key", str), ("fingerprint", str), ("status", str)):
            value = entry.get(name)
            if not isinstance(value, kind) or isinstance(value, bool):
                raise EnvelopeError("bad_key", f"HPKE key entry: field '{name}' is missing or not a {kind.__name__}")
        suite = HpkeSuite(entry["kem"], entry["kdf"], entry["aead"])
        key = cls(entry["kid"], suite, b64url_decode(entry["public_key"], "public_key"), entry["status"])
        if key.fingerprint != entry["fingerprint"].lower():
            raise EnvelopeError(
                "bad_key", "HPKE key entry: 'fingerprint' does not match the key it comes with"
            )
        return key


class EnvelopePrivateKey:
    """An HPKE private key with its id (the server's side; tests use it on the device).

    The secret is 32 bytes: for X25519 the raw private key (RFC 7748); for MLKEM768-X25519 the
    X-Wing seed, expanded with SHAKE-256 to 96 bytes: ML-KEM-768 seed ``d || z`` (64 bytes,
    FIPS 203) then the X25519 private key (32 bytes), as draft-connolly-cfrg-xwing-kem does.
    The secret never appears in ``repr``.

    Args:
        kid: key id (1 to 64 printable characters).
        suite: the :class:`HpkeSuite`.
        secret: 32 bytes (see above).
        status: ``"current"`` or ``"retired"``.

    Raises:
        EnvelopeError: ``code == "bad_key"`` when the secret is not 32 bytes or the kid is bad;
            ``"suite_unavailable"`` when this build cannot use the suite's KEM
            (:func:`supported_kems`).
    """

    def __init__(self, kid: str, suite: HpkeSuite, secret: bytes, status: str = "current") -> None:
        if not isinstance(secret, (bytes, bytearray)) or len(secret) != _SECRET_LENGTH:
            raise EnvelopeError("bad_key", f"an HPKE private key secret must be {_SECRET_LENGTH} bytes")
        _require_kem(suite.kem)
        self.kid = kid
        self.suite = suite
        self.status = status
        self._secret = bytes(secret)
        private, public_bytes = _expand(suite, self._secret)
        self._private = private
        self._public = EnvelopeKey(kid, suite, public_bytes, status)

    @classmethod
    def generate(cls, kid: str, suite: HpkeSuite = DEFAULT_SUITE) -> EnvelopePrivateKey:
        """A new random key (32 bytes from ``os.urandom``)."""
        return cls(kid, suite, os.urandom(_SECRET_LENGTH))

    @property
    def secret(self) -> bytes:
        """The 32-byte secret (to store it; keep it owner-only)."""
        return self._secret

    def public_key(self) -> EnvelopeKey:
        """The matching :class:`EnvelopeKey` (same kid and status)."""
        return self._public

    @property
    def fingerprint(self) -> str:
        """The public key's fingerprint."""
        return self._public.fingerprint

    def with_status(self, status: str) -> EnvelopePrivateKey:
        """The same key with another status (``"current"`` / ``"retired"``)."""
        return EnvelopePrivateKey(self.kid, self.suite, self._secret, status)

    def __repr__(self) -> str:
        return f"EnvelopePrivateKey(kid={self.kid!r}, suite={self.suite.name!r}, status={self.status!r})"


def _expand(suite: HpkeSuite, secret: bytes) -> tuple[Any, bytes]:
    """(cryptography private key for HPKE, encoded public key) from a 32-byte secret.

    ML-KEM is imported only for MLKEM768-X25519, so X25519 works on a build without it."""
    from cryptography.hazmat.primitives.asymmetric import x25519

    if suite.kem == KEM_X25519:
        private = x25519.X25519PrivateKey.from_private_bytes(secret)
        return private, private.public_key().public_bytes_raw()
    from cryptography.hazmat.primitives import hpke
    from cryptography.hazmat.primitives.asymmetric import mlkem

    expanded = hashlib.shake_256(secret).digest(96)
    mlkem_key = mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[:64])
    x25519_key = x25519.X25519PrivateKey.from_private_bytes(expanded[64:])
    public = mlkem_key.public_key().public_bytes_raw() + x25519_key.public_key().public_bytes_raw()
    return hpke.MLKEM768X25519PrivateKey(mlkem_key, x25519_key), public


def _public_from_bytes(kem: int, data: bytes) -> Any:
    """The cryptography public key for HPKE of an encoded public key (see :class:`EnvelopeKey`).

    Raises:
        ValueError: the bytes are not a valid key of the KEM.
    """
    from cryptography.hazmat.primitives.asymmetric import x25519

    if kem == KEM_X25519:
        return x25519.X25519PublicKey.from_public_bytes(data)
    from cryptography.hazmat.primitives import hpke
    from cryptography.hazmat.primitives.asymmetric import mlkem

    return hpke.MLKEM768X25519PublicKey(
        mlkem.MLKEM768PublicKey.from_public_bytes(data[:_MLKEM768_PUBLIC]),
        x25519.X25519PublicKey.from_public_bytes(data[_MLKEM768_PUBLIC:]),
    )


# --------------------------------------------------------------------------------------
# What this build can do
# --------------------------------------------------------------------------------------


def supported_kems() -> frozenset[int]:
    """The HPKE KEMs this build can seal to and open with.

    Each KEM of the accepted suites is tried once per process, with the SDK's own code: a
    throwaway key is made, its public key parsed from its encoding, and a few bytes are sealed
    and opened (RFC 9180 §6.1 ``SealBase`` / ``OpenBase``, the suite's HKDF-SHA256 and
    AES-256-GCM). The answer is cached for the life of the process (a few milliseconds, on the
    first envelope use).

    What a build can do depends on its ``cryptography``: HPKE
    (``cryptography.hazmat.primitives.hpke``) is in 47.0.0 and later; MLKEM768-X25519 also needs
    ML-KEM-768 (FIPS 203) from the backend: ``cryptography`` 48.0.0 or later built against
    OpenSSL 3.5 or later (or AWS-LC / BoringSSL). The PyPI wheels of 48+ have both; a
    python-for-android build has what its ``cryptography`` and ``openssl`` recipes give
    (docs/permissions.md, "Packaging for Android and iOS").

    Returns:
        IANA HPKE KEM ids out of ``{KEM_MLKEM768_X25519 (0x647A), KEM_X25519 (0x0020)}``, e.g.
        ``frozenset({0x647A, 0x0020})`` on a full build, ``frozenset({0x0020})`` without
        ML-KEM, empty without HPKE.

    Raises:
        nothing: a KEM the build cannot compute is left out. Sealing to it, or loading a
        private key of it, raises ``EnvelopeError("suite_unavailable")`` naming the suite, the
        ``cryptography`` and OpenSSL versions found and the fix; nothing is sealed or sent.
    """
    return frozenset(kem for kem, why in _kem_support().items() if why is None)


@functools.cache
def _kem_support() -> dict[int, str | None]:
    """KEM id -> ``None`` when this build seals and opens with it, else why not (probed once)."""
    return {kem: _probe(kem) for kem in _KEMS}


def _probe(kem: int) -> str | None:
    """``None`` when a throwaway key of *kem* seals and opens a few bytes; else the reason."""
    try:
        from cryptography.exceptions import UnsupportedAlgorithm
    except ImportError as exc:
        return f"ImportError: {_first_clause(exc)}"
    suite = HpkeSuite(kem)
    try:
        private, public_bytes = _expand(suite, os.urandom(_SECRET_LENGTH))
        hpke_suite = suite._hpke()
        sealed = hpke_suite.encrypt(b"probe", _public_from_bytes(kem, public_bytes),
                                    info=b"supported_kems")
        if hpke_suite.decrypt(sealed, private, info=b"supported_kems") != b"probe":
            return "a sealed probe did not open to what was sealed"
    except UnsupportedAlgorithm as exc:
        return f"UnsupportedAlgorithm: {_first_clause(exc)}"
    except (ImportError, AttributeError) as exc:  # a cryptography without hpke / mlkem
        return f"{type(exc).__name__}: {_first_clause(exc)}"
    return None


def _first_clause(exc: BaseException) -> str:
    """The exception's text up to a parenthesised file path, without a trailing full stop."""
    return str(exc).split(" (/")[0].strip().rstrip(".")


def _crypto_versions() -> str:
    """E.g. ``"cryptography 50.0.2 with OpenSSL 3.5.4 30 Sep 2025"``."""
    try:
        import cryptography
    except ImportError:
        return "cryptography is not installed"
    try:
        from cryptography.hazmat.backends.openssl.backend import backend

        library = backend.openssl_version_text()
    except (ImportError, AttributeError):
        library = "an unknown OpenSSL"
    return f"cryptography {cryptography.__version__} with {library}"


def _require_kem(kem: int) -> None:
    """Raise ``EnvelopeError("suite_unavailable")`` unless this build can use *kem*."""
    why = _kem_support().get(kem)
    if why is None:
        return
    name = _KEMS[kem][0]
    if _kem_support().get(KEM_X25519) is not None:  # no HPKE at all (cryptography < 47)
        lacks = "has no HPKE"
        fix = ("use cryptography >= 48 built against OpenSSL >= 3.5 (HPKE came in 47.0.0, "
               "ML-KEM with OpenSSL in 48.0.0; python-for-android: pin its cryptography and "
               "openssl recipes in the requirements, as name==version)")
    else:  # HPKE, but no ML-KEM from the backend
        lacks = "has no ML-KEM"
        fix = ("build cryptography >= 48 against OpenSSL >= 3.5 (python-for-android: pin its "
               "cryptography and openssl recipes in the requirements, as name==version), or "
               "have the server make an X25519 key (KEM 0x0020) current and pin it (the stub: "
               "python -m server_stub --hpke-kem X25519 on a new data dir, or "
               "Settings(hpke_kem='X25519'))")
    raise EnvelopeError(
        "suite_unavailable",
        f"this build cannot use HPKE KEM {name} (0x{kem:04X}): {_crypto_versions()} {lacks} "
        f"({why}); nothing was sealed or sent. Fix: {fix}",
    )


# --------------------------------------------------------------------------------------
# Info: what a sealed unit is bound to (one definition for both sides)
# --------------------------------------------------------------------------------------


def _text(name: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise EnvelopeError("bad_info", f"envelope info: '{name}' must be a non-empty string")
    return value


def _count(name: str, value: object, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= _MAX_SAFE_INT:
        raise EnvelopeError("bad_info", f"envelope info: '{name}' must be an integer >= {minimum}")
    return value


def _canonical(obj: Mapping[str, Any]) -> bytes:
    from ..consent.proof import canonical

    try:
        return canonical(obj)
    except ValueError as exc:  # a lone surrogate in a string
        raise EnvelopeError("bad_info", "envelope info cannot be put in canonical JSON form") from exc


def chunk_info(*, upload_id: str, index: int, final: bool, kid: str, purpose: str,
               consent_id: str, chunk_size: int) -> bytes:
    """The HPKE ``info`` of one upload chunk: RFC 8785 canonical JSON (UTF-8) of

    ``{"v": 1, "type": "chunk", "upload": upload_id, "index": index, "final": final,
    "kid": kid, "purpose": purpose, "consent": consent_id, "chunk_size": chunk_size}``.

    Args:
        upload_id: the server's upload id (from the tus ``Location``).
        index: 0-based position of the chunk in the upload.
        final: ``True`` for the last chunk only.
        kid: id of the key the chunk is sealed to.
        purpose: purpose id of the policy manifest (e.g. ``"realname_verification"``).
        consent_id: ``record_id`` of the consent record the upload relies on.
        chunk_size: plaintext bytes of every chunk but the last (the last has 0 to
            ``chunk_size``).

    Raises:
        EnvelopeError: ``code == "bad_info"`` when a value has the wrong type.
    """
    if not isinstance(final, bool):
        raise EnvelopeError("bad_info", "envelope info: 'final' must be true or false")
    return _canonical({
        "v": ENVELOPE_VERSION,
        "type": "chunk",
        "upload": _text("upload", upload_id),
        "index": _count("index", index),
        "final": final,
        "kid": _text("kid", kid),
        "purpose": _text("purpose", purpose),
        "consent": _text("consent", consent_id),
        "chunk_size": _count("chunk_size", chunk_size, 1),
    })


def field_info(*, field: str, submission: str, kid: str, purpose: str, consent_id: str) -> bytes:
    """The HPKE ``info`` of one sealed form field: RFC 8785 canonical JSON (UTF-8) of

    ``{"v": 1, "type": "field", "field": field, "submission": submission, "kid": kid,
    "purpose": purpose, "consent": consent_id}``.

    Args:
        field: the field's name in the request, e.g. ``"id_number"``.
        submission: a uuid4 the device makes per submission (so a field cannot be replayed
            into another one).
        kid, purpose, consent_id: as for :func:`chunk_info`.

    Raises:
        EnvelopeError: ``code == "bad_info"`` when a value has the wrong type.
    """
    return _canonical({
        "v": ENVELOPE_VERSION,
        "type": "field",
        "field": _text("field", field),
        "submission": _text("submission", submission),
        "kid": _text("kid", kid),
        "purpose": _text("purpose", purpose),
        "consent": _text("consent", consent_id),
    })


# --------------------------------------------------------------------------------------
# Sizes
# --------------------------------------------------------------------------------------


def sealed_size(plaintext_length: int, suite: HpkeSuite = DEFAULT_SUITE) -> int:
    """Bytes of one sealed unit of *plaintext_length* bytes: ``enc_length + n + 16``."""
    return suite.overhead + _count("plaintext_length", plaintext_length)


def chunk_count(total_plaintext: int, chunk_size: int) -> int:
    """How many chunks an upload of *total_plaintext* bytes has: ``ceil(total / chunk_size)``,
    at least 1 (an empty source is one empty final chunk)."""
    _count("total_plaintext", total_plaintext)
    _count("chunk_size", chunk_size, 1)
    return max(1, math.ceil(total_plaintext / chunk_size))


def chunk_plaintext_length(index: int, total_plaintext: int, chunk_size: int) -> int:
    """Plaintext bytes of chunk *index*: ``chunk_size``, or the rest for the last chunk.

    Raises:
        EnvelopeError: ``code == "bad_info"`` when *index* is past the last chunk.
    """
    count = chunk_count(total_plaintext, chunk_size)
    if not 0 <= index < count:
        raise EnvelopeError("bad_info", f"chunk index {index} is outside the upload's {count} chunks")
    if index < count - 1:
        return chunk_size
    return total_plaintext - chunk_size * (count - 1)


def sealed_stream_length(total_plaintext: int, chunk_size: int,
                         suite: HpkeSuite = DEFAULT_SUITE) -> int:
    """Bytes of the sealed stream of an upload (its tus ``Upload-Length``):
    ``total_plaintext + chunk_count * (enc_length + 16)``."""
    return total_plaintext + chunk_count(total_plaintext, chunk_size) * suite.overhead


# --------------------------------------------------------------------------------------
# Seal and open
# --------------------------------------------------------------------------------------


def _seal(key: EnvelopeKey, plaintext: bytes, info: bytes) -> bytes:
    if not isinstance(key, EnvelopeKey):
        raise EnvelopeError("bad_key", "seal needs an EnvelopeKey (from fetch_current_key)")
    _require_kem(key.suite.kem)
    return key.suite._hpke().encrypt(plaintext, key._hpke_public, info=info)


def _open(private_key_lookup: Callable[[str], EnvelopePrivateKey | None], sealed: bytes,
          kid: str, info: bytes, what: str) -> bytes:
    from cryptography.exceptions import InvalidTag

    private = private_key_lookup(kid)
    if private is None:
        raise EnvelopeError("unknown_key", f"{what} is sealed to a key this server does not hold")
    suite = private.suite
    if len(sealed) < suite.overhead:
        raise EnvelopeError("wrong_length", f"{what} is shorter than an HPKE envelope")
    try:
        return suite._hpke().decrypt(bytes(sealed), private._private, info=info)
    except (InvalidTag, ValueError) as exc:
        raise EnvelopeError(
            "open_failed",
            f"{what} did not open: altered, moved to another place or upload, or sealed for "
            "another consent, key or final flag",
        ) from exc


def _bytes(value: object, what: str) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise EnvelopeError("bad_input", f"{what} must be bytes (or text for a field)")


def seal_chunk(key: EnvelopeKey, plaintext: bytes, *, upload_id: str, index: int, final: bool,
               purpose: str, consent_id: str, chunk_size: int) -> bytes:
    """Seal one upload chunk to *key* (HPKE base mode, RFC 9180 §6.1).

    Args:
        key: the pinned server key (:func:`fetch_current_key`).
        plaintext: the chunk, exactly *chunk_size* bytes unless *final* (then 0 to
            *chunk_size*).
        upload_id, index, final, purpose, consent_id, chunk_size: bound through
            :func:`chunk_info`.

    Returns:
        ``enc || ciphertext``: :func:`sealed_size` ``(len(plaintext))`` bytes.

    Raises:
        EnvelopeError: ``code == "wrong_length"`` for a chunk of the wrong size;
            ``"bad_info"`` for a bad argument; ``"suite_unavailable"`` when this build cannot
            use the key's KEM (:func:`supported_kems`).
    """
    data = _bytes(plaintext, "a chunk")
    if len(data) > chunk_size or (not final and len(data) != chunk_size):
        raise EnvelopeError(
            "wrong_length", "every chunk but the final one must be exactly chunk_size bytes"
        )
    info = chunk_info(upload_id=upload_id, index=index, final=final, kid=key.kid,
                      purpose=purpose, consent_id=consent_id, chunk_size=chunk_size)
    return _seal(key, data, info)


def open_chunk(private_key_lookup: Callable[[str], EnvelopePrivateKey | None], sealed: bytes, *,
               kid: str, upload_id: str, index: int, final: bool, purpose: str,
               consent_id: str, chunk_size: int) -> bytes:
    """Open one sealed upload chunk (the server's side of :func:`seal_chunk`).

    Args:
        private_key_lookup: kid -> :class:`EnvelopePrivateKey`, or ``None`` when unknown.
        sealed: ``enc || ciphertext``.
        kid, upload_id, index, final, purpose, consent_id, chunk_size: what the server
            expects at this place of this upload; any difference fails.

    Returns:
        the plaintext chunk.

    Raises:
        EnvelopeError: ``code`` ``"unknown_key"``, ``"wrong_length"`` (too short, or a
            non-final chunk not of *chunk_size* bytes) or ``"open_failed"`` (tampered,
            reordered, from another upload, other consent / final flag / key).
    """
    info = chunk_info(upload_id=upload_id, index=index, final=final, kid=kid,
                      purpose=purpose, consent_id=consent_id, chunk_size=chunk_size)
    plain = _open(private_key_lookup, sealed, kid, info, f"chunk {index}")
    if len(plain) > chunk_size or (not final and len(plain) != chunk_size):
        raise EnvelopeError("wrong_length", f"chunk {index} has the wrong length")
    return plain


def seal_field(key: EnvelopeKey, plaintext: bytes | str, *, field: str, submission: str,
               purpose: str, consent_id: str) -> bytes:
    """Seal one form field (text as UTF-8, byte-identical) to *key*.

    Returns:
        ``enc || ciphertext``; send it base64url (:func:`b64url_encode`) with the ``kid``.

    Raises:
        EnvelopeError: ``code == "bad_info"`` / ``"bad_input"`` for a bad argument;
            ``"suite_unavailable"`` when this build cannot use the key's KEM
            (:func:`supported_kems`).
    """
    info = field_info(field=field, submission=submission, kid=key.kid, purpose=purpose,
                      consent_id=consent_id)
    return _seal(key, _bytes(plaintext, "a field"), info)


def open_field(private_key_lookup: Callable[[str], EnvelopePrivateKey | None], sealed: bytes, *,
               kid: str, field: str, submission: str, purpose: str, consent_id: str) -> bytes:
    """Open one sealed form field (the server's side of :func:`seal_field`).

    Returns:
        the plaintext bytes (decode UTF-8 for text).

    Raises:
        EnvelopeError: ``code`` ``"unknown_key"``, ``"wrong_length"`` or ``"open_failed"``.
    """
    info = field_info(field=field, submission=submission, kid=kid, purpose=purpose,
                      consent_id=consent_id)
    return _open(private_key_lookup, sealed, kid, info, f"field '{field}'")


# --------------------------------------------------------------------------------------
# The server's key list and pinning
# --------------------------------------------------------------------------------------


def parse_key_list(body: Any) -> list[EnvelopeKey]:
    """The keys of a ``GET /v1/keys/hpke`` answer ``{"keys": [...]}``.

    Raises:
        EnvelopeError: ``code == "bad_key"`` when the answer or an entry is malformed.
    """
    if not isinstance(body, Mapping) or not isinstance(body.get("keys"), list):
        raise EnvelopeError("bad_key", "GET /v1/keys/hpke: the answer has no 'keys' list")
    return [EnvelopeKey.from_json(entry) for entry in body["keys"]]


def require_pins(pins: Iterable[str]) -> set[str]:
    """The valid pins of *pins*, lower-cased (``sha256:<64 hex>``).

    Raises:
        KeyPinMismatch: ``code == "no_pins"`` when there is none (configure
            ``SdkConfig.hpke_pins``): checked before anything is sent.
    """
    pinned = {p.lower() for p in pins if isinstance(p, str) and _PIN.match(p.lower())}
    if not pinned:
        raise KeyPinMismatch(
            "no_pins",
            "no HPKE key is pinned: set SdkConfig(hpke_pins=(...)) to the fingerprints the "
            "backend publishes (the stub writes them to <data-dir>/hpke-pins.txt); nothing "
            "is sent without a pinned key",
        )
    return pinned


def check_pinned(key: EnvelopeKey, pins: Iterable[str]) -> EnvelopeKey:
    """Return *key* when its fingerprint is one of *pins*.

    Raises:
        KeyPinMismatch: ``code == "no_pins"`` when *pins* is empty (:func:`require_pins`);
            ``"not_pinned"`` when the key is not pinned.
    """
    if key.fingerprint not in require_pins(pins):
        raise KeyPinMismatch(
            "not_pinned",
            f"the server's encryption key {key.fingerprint} (kid '{key.kid}') is not in "
            "SdkConfig.hpke_pins; nothing was sent. If the backend rotated its key, ship the "
            "new fingerprint in the app's pins; otherwise something is intercepting the "
            "connection",
            fingerprint=key.fingerprint,
        )
    return key


def select_current_key(keys: Iterable[EnvelopeKey], pins: Iterable[str]) -> EnvelopeKey:
    """The key marked ``current``, checked against *pins* (:func:`check_pinned`), then
    against what this build can seal to (:func:`supported_kems`).

    Raises:
        EnvelopeError: ``code == "no_current_key"`` when no key (or more than one) is current;
            ``"suite_unavailable"`` when the current key is pinned but its KEM is one this
            build cannot use (e.g. MLKEM768-X25519 without ML-KEM in ``cryptography``).
        KeyPinMismatch: as :func:`check_pinned`.
    """
    current = [k for k in keys if k.status == "current"]
    if len(current) != 1:
        raise EnvelopeError(
            "no_current_key",
            f"GET /v1/keys/hpke lists {len(current)} current keys; exactly one is expected",
        )
    key = check_pinned(current[0], pins)
    _require_kem(key.suite.kem)
    return key


def fetch_current_key(api: ApiClient, pins: Iterable[str] | None = None) -> EnvelopeKey:
    """``GET /v1/keys/hpke`` (anonymous) and return the current key if it is pinned.

    Args:
        api: the client for the backend.
        pins: fingerprints to accept; ``None`` uses ``SdkConfig.hpke_pins`` of *api*.

    Raises:
        KeyPinMismatch: no pins (raised before any request), or the current key is not
            pinned (only the key list was fetched).
        EnvelopeError: the answer is malformed or names no single current key; or
            ``code == "suite_unavailable"``: this build cannot seal to the current key's KEM
            (:func:`supported_kems`; only the key list was fetched).
        TransportError: the request failed (TLS, unreachable, error answer).
    """
    pins = api.config.hpke_pins if pins is None else tuple(pins)
    require_pins(pins)  # no_pins: nothing is sent
    body = api.get_json(KEYS_PATH, anonymous=True)
    return select_current_key(parse_key_list(body), pins)
