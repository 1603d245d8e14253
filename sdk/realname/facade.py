"""The real-name verification flow on the device: ``privacy.realname`` (issue #6 part E;
OBL-RN-1, OBL-RN-2, OBL-RN-3; docs/realname.md "Verification flow", wire format in
docs/protocol.md "Real-name verification").

:meth:`Realname.submit` does, in this order (each step refuses before the next one runs)::

    1. require_feature("realname_signing")   every consent real-name signing needs (purpose,
                                              ID number, face video, the agency, the CA, ...)
                                              or ConsentRequired: nothing captured, checked,
                                              kept or sent (refusing blocks only this, OBL-RN-3)
    2. validate                               sdk.realname.validate: errors the user can act on;
                                              the media (_media: the Capture's item, a regular
                                              file, the sniffed type, the size limit)
    3. the encrypted store (its keystore),    KeystoreError / StorageError, KeyPinMismatch,
       the server's key, checked against      EnvelopeError("suite_unavailable") before
       SdkConfig.hpke_pins and the suite      anything is collected or sent
    4. collect(item, "realname_verification") the audited gate, once per item; a stale pending
                                              upload of the item is discarded
    5. the face video: a resumable upload     sealed chunk by chunk (sdk.transport.tus)
       the fields: seal_field                 bound to field, submission, key, purpose, consent
    6. share("realname_agency", items)        the gate for the hand-off to the agency
       POST /v1/realname/verifications        Idempotency-Key = the submission id
    7. the device keeps the verification id and status only (encrypted store)

:meth:`Realname.preflight` runs steps 1 and 3 (and the login) *before* the face video is
captured, as they do not depend on it: no face video is recorded for a submission that would
fail anyway. :meth:`Realname.submit` checks them again.

The answer only says ``pending``: **only the server's answer counts** (:meth:`Realname.status`,
:meth:`Realname.wait`); the device never decides "verified" by itself. A failed (or timed-out,
or referred) verification can go to manual review with another document
(:meth:`Realname.submit_for_manual_review`, OBL-RN-2).

Nothing here logs, stores or puts in an error message the name, the ID number, the phone
number, the document number or the media. ``cryptography``, ``requests``, ``python-stdnum`` and
``phonenumbers`` are imported on first use.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Union
from urllib.parse import quote

from ..errors import (
    ConsentRequired,
    InvalidInput,
    NotLoggedIn,
    SdkError,
    TransportError,
)
from ..oplog import redact_values

if TYPE_CHECKING:  # pragma: no cover
    from ..storage.store import EncryptedStore
    from ..transport.client import ApiClient
    from ..transport.envelope import EnvelopeKey
    from ..transport.tus import TusUploader

__all__ = [
    "AGENCY_ITEMS",
    "FEATURE",
    "MAX_FACE_VIDEO_BYTES",
    "MAX_REVIEW_IMAGES",
    "MAX_REVIEW_IMAGE_BYTES",
    "PURPOSE",
    "REVIEW_FEATURE",
    "Media",
    "Realname",
    "Verification",
    "VerificationError",
    "VerificationNotFound",
    "VerificationRefused",
    "VerificationStatus",
]

log = logging.getLogger("sdk.realname")

#: The manifest feature real-name signing is, and the one of manual review (OBL-RN-2).
FEATURE = "realname_signing"
REVIEW_FEATURE = "manual_review"
#: The purpose every item of the flow is collected, sealed and uploaded for.
PURPOSE = "realname_verification"
#: The manifest recipient (the verification agency) and what it receives.
AGENCY = "realname_agency"
AGENCY_ITEMS: tuple[str, ...] = ("real_name", "id_number", "phone", "face_video")
#: Most images one manual review takes (the server's limit too).
MAX_REVIEW_IMAGES = 10
#: Largest face video accepted on the device (bytes; 64 MiB: about a minute of phone video).
MAX_FACE_VIDEO_BYTES = 64 * 1024 * 1024
#: Largest review image accepted on the device (bytes; 20 MiB, the file picker's photo limit).
MAX_REVIEW_IMAGE_BYTES = 20 * 1024 * 1024
#: Encrypted-store namespace and key of the latest verification (id and status only).
STORE_NAMESPACE = "realname"
_LATEST = "verification"
_PATH = "/realname/verifications"

VerificationStatus = Literal["pending", "verified", "failed", "manual_review", "timed_out"]
_STATUSES = ("pending", "verified", "failed", "manual_review", "timed_out")
_FINAL = frozenset({"verified", "failed", "timed_out"})

#: What the face video or a review image may be: bytes in memory, a file path, or an
#: :class:`sdk.capture.Capture` (in memory or in the file it names).
Media = Union[bytes, bytearray, memoryview, str, "os.PathLike[str]", Any]


# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------


class VerificationError(SdkError):
    """The verification could not be submitted or read (besides validation, consent and
    transport errors, which keep their own types)."""


class VerificationRefused(VerificationError):
    """The server refused the submission for a reason the user or app can fix.

    Attributes:
        code: the server's ``error`` code, e.g. ``verification_not_reviewable`` (the
            verification is verified, or still pending), ``upload_incomplete``,
            ``upload_not_found``, ``wrong_upload``, ``upload_empty``, ``upload_unreadable``,
            ``field_unreadable``, ``unknown_key``; or the SDK's own ``no_verification``
            (manual review before any verification on this device).
    """

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


class VerificationNotFound(VerificationError):
    """The server knows no such verification for this account (``404``)."""


# --------------------------------------------------------------------------------------
# The server's answer
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    """The server's answer about one verification; the only result that counts.

    Attributes:
        id: the server's verification id (uuid4).
        status: ``pending`` (the agency has not answered), ``verified``, ``failed``,
            ``manual_review`` (a person decides; OBL-RN-2), ``timed_out`` (the agency never
            answered: submit again or ask for manual review).
        reason: why, for ``failed`` / ``timed_out`` / ``manual_review`` (a code such as
            ``face_mismatch``, ``agency_timeout``, ``agency_referred``, ``superseded``), else
            ``None``.
        updated_at: when the server last changed it (RFC 3339 UTC).
        kind: ``automatic`` or ``manual_review``.
    """

    id: str
    status: VerificationStatus
    reason: str | None
    updated_at: str
    kind: str = "automatic"

    @property
    def verified(self) -> bool:
        """True when the server said ``verified``."""
        return self.status == "verified"

    @property
    def decided(self) -> bool:
        """True when the status will not change any more (``verified``, ``failed``,
        ``timed_out``)."""
        return self.status in _FINAL

    @property
    def reviewable(self) -> bool:
        """True when another document may be submitted for manual review (OBL-RN-2)."""
        return self.status in ("failed", "timed_out", "manual_review")

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "reason": self.reason,
                "updated_at": self.updated_at, "kind": self.kind}

    @classmethod
    def from_answer(cls, body: Any, what: str) -> Verification:
        """Parse the server's answer (or the stored copy).

        Raises:
            TransportError: the answer is not a verification.
        """
        if not isinstance(body, Mapping):
            raise TransportError(f"{what}: the server's answer is not a JSON object")
        for name in ("id", "status", "updated_at"):
            if not isinstance(body.get(name), str) or not body[name]:
                raise TransportError(f"{what}: the server's answer has no '{name}' string")
        if body["status"] not in _STATUSES:
            raise TransportError(f"{what}: the server's answer has an unknown status")
        reason = body.get("reason")
        kind = body.get("kind")
        return cls(id=body["id"], status=body["status"],
                   reason=reason if isinstance(reason, str) and reason else None,
                   updated_at=body["updated_at"],
                   kind=kind if isinstance(kind, str) and kind else "automatic")


# --------------------------------------------------------------------------------------
# Media sources
# --------------------------------------------------------------------------------------


def _media(value: Any, field: str, kind: Literal["video", "photo"]) -> tuple[Any, str, int]:
    """``(source for TusUploader.upload, content type, size)`` of the face video
    (*kind* ``video``) or a review image (``photo``), checked on the device: a
    :class:`~sdk.capture.Capture` must be one of *field*; a file must be a regular file (not
    a symlink, folder, FIFO or device; the file picker's own check,
    :func:`sdk.capture.backends.file.open_regular`); not empty; at most
    :data:`MAX_FACE_VIDEO_BYTES` / :data:`MAX_REVIEW_IMAGE_BYTES`; and its first bytes must be
    an accepted video / image format (:func:`sdk.capture.backends.file.sniff`; the content
    type sent is the one found, never a name's). InvalidInput otherwise: the message names
    the field, never a path or a value."""
    from ..capture.backends.file import PHOTO_TYPES, VIDEO_TYPES, open_regular, sniff
    from ..capture.errors import InvalidMedia
    from ..capture.media import Capture

    what = "video" if kind == "video" else "image"
    accepted = VIDEO_TYPES if kind == "video" else PHOTO_TYPES
    limit = MAX_FACE_VIDEO_BYTES if kind == "video" else MAX_REVIEW_IMAGE_BYTES
    if isinstance(value, Capture):
        if value.item != field:
            raise InvalidInput(field, f"this capture was made for another data item, not the "
                               f"{field}; capture the {field} for it")
        if value.discarded:
            raise InvalidInput(field, f"the {field} capture was discarded; capture it again")
        value = value.path if value.path is not None else value.buffer
    if isinstance(value, (bytes, bytearray, memoryview)):
        try:
            view = memoryview(value).cast("B")
        except TypeError:
            raise InvalidInput(field, f"the {field} must be contiguous bytes") from None
        size, head, source = view.nbytes, bytes(view[:64]), value
    elif isinstance(value, (str, os.PathLike)):
        try:
            fd = open_regular(value, limit)
        except InvalidMedia as exc:
            raise InvalidInput(field, f"the {field} cannot be used: {exc}; capture or choose "
                               "it again") from None
        try:
            size, head = os.fstat(fd).st_size, os.read(fd, 64)
        except OSError:
            raise InvalidInput(field, f"the {field} file cannot be read; capture or choose it "
                               "again") from None
        finally:
            os.close(fd)
        source = Path(os.fspath(value))
    else:
        raise InvalidInput(field, f"{field} must be bytes, a file path or an sdk.capture.Capture")
    if size == 0:
        raise InvalidInput(field, f"the {field} is empty; capture or choose it again")
    if size > limit:
        raise InvalidInput(field, f"the {field} is larger than {limit // (1024 * 1024)} MiB; "
                           "record or choose a smaller one")
    content_type = sniff(head)
    if content_type not in accepted:
        raise InvalidInput(field, f"the {field} is not a {what} in an accepted format "
                           f"({', '.join(sorted(accepted))})")
    return source, content_type, size


# --------------------------------------------------------------------------------------
# The facade
# --------------------------------------------------------------------------------------


class Realname:
    """Real-name verification for one :class:`sdk.PrivacySdk` (``privacy.realname``).

    Args:
        privacy: the SDK (its public gates are used: ``require_feature``,
            ``missing_for_feature``, ``collect``, ``share``, ``state``, ``sync``, ``store``,
            ``config``; the API client of ``privacy.api`` when it has one, else the SDK's own
            connection, which carries the login cookie).
        api: another :class:`~sdk.transport.client.ApiClient` to use (tests, custom sessions).
        uploader: another :class:`~sdk.transport.tus.TusUploader` (e.g. a smaller
            ``chunk_size``); default: one on the same client and encrypted store.
        clock: monotonic seconds for :meth:`wait` (tests); sleep: how :meth:`wait` waits.

    Safe to share between threads; one submission at a time.
    """

    def __init__(self, privacy: Any, *, api: ApiClient | None = None,
                 uploader: TusUploader | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.privacy = privacy
        self._api_override = api
        self._uploader = uploader
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"<Realname feature={FEATURE!r}>"

    # -- plumbing -------------------------------------------------------------------------

    @property
    def api(self) -> ApiClient:
        """The client the flow talks through (with the SDK's cookie jar, so the login)."""
        if self._api_override is not None:
            return self._api_override
        api = getattr(self.privacy, "api", None)
        if api is not None and not callable(api):
            return api  # type: ignore[no-any-return]
        return self.privacy._session_api()  # type: ignore[no-any-return]

    @property
    def store(self) -> EncryptedStore:
        return self.privacy.store  # type: ignore[no-any-return]

    @property
    def uploader(self) -> TusUploader:
        """The resumable uploader (made on first use)."""
        with self._lock:
            if self._uploader is None:
                from ..transport.tus import TusUploader

                self._uploader = TusUploader(self.api, self.store)
            return self._uploader

    def _consent_id(self) -> str:
        """``record_id`` of the grant of ``purpose:realname_verification`` in force."""
        state = self.privacy.state(f"purpose:{PURPOSE}")
        if not state.granted or state.record is None:
            raise ConsentRequired(PURPOSE, "real-name verification needs the user's separate "
                                  "consent to purpose realname_verification; ask for it first",
                                  (f"purpose:{PURPOSE}",))
        return str(state.record.record_id)

    def _logged_in(self) -> ApiClient:
        """The client, when it holds a session cookie and the configuration pins an HPKE key
        (both checked before any item is collected, so the audit trail never says "collected"
        for data that could not be sent).

        Raises:
            NotLoggedIn: no session on this device.
            KeyPinMismatch: ``code == "no_pins"``: ``SdkConfig.hpke_pins`` is empty.
        """
        from ..transport.envelope import require_pins

        api = self.api
        if not api.has_cookie():
            raise NotLoggedIn("real-name verification needs a logged-in account; log in first")
        require_pins(api.config.hpke_pins)
        return api

    def _key(self, api: ApiClient) -> EnvelopeKey:
        """The consent records on the server, then the server's pinned key: before anything
        personal leaves the device.

        Raises:
            KeyPinMismatch, EnvelopeError, TransportError.
        """
        from ..transport.envelope import fetch_current_key

        if self.privacy.pending_sync():
            self.privacy.sync()  # the server checks the consents from its own copy
        return fetch_current_key(api, self.privacy.config.hpke_pins)

    # -- consent ----------------------------------------------------------------------------

    def missing_consents(self) -> tuple[str, ...]:
        """The consent scopes real-name signing still needs, in the order to ask them
        (``ask_for_feature(privacy, "realname_signing", ...)`` asks exactly these); empty
        when :meth:`submit` may run."""
        return tuple(self.privacy.missing_for_feature(FEATURE))

    # -- before capturing -----------------------------------------------------------------

    def preflight(self) -> EnvelopeKey:
        """Check, before the face video is captured, what :meth:`submit` needs that capturing
        cannot change, so that no face video is recorded for a submission that would fail
        anyway (PIPL art. 6: collect nothing before it can be used). Call it when the user
        starts (e.g. at 下一步), then open the camera only if it returns.

        In this order, each raising before the next runs: the consents of
        ``realname_signing``; a session cookie on this device and non-empty
        ``SdkConfig.hpke_pins``; the encrypted store where :meth:`submit` keeps the face
        video's resumable upload state (opened here: the keystore must give its wrapping key);
        then ``GET /v1/keys/hpke`` (anonymous): the current key must be pinned and this build
        must be able to seal to its suite (:func:`sdk.transport.envelope.supported_kems`).

        Nothing is collected, audited as collected, kept or sent but that one anonymous
        request; consent records are not synced (:meth:`submit` does that). A key that passes
        now can still be rotated before :meth:`submit`, which checks it again; the login is
        checked on the device only (the server checks it at :meth:`submit`).

        Returns:
            the server's current :class:`~sdk.transport.envelope.EnvelopeKey` (``kid``,
            ``suite``, ``fingerprint``), for information: :meth:`submit` fetches it again.

        Raises:
            ConsentRequired: a consent real-name signing needs is missing (``.scopes``).
            NotLoggedIn: no session on this device.
            KeyPinMismatch: ``code == "no_pins"``: ``SdkConfig.hpke_pins`` is empty (nothing
                sent); ``"not_pinned"``: the server's current key is not one of them.
            KeystoreError: the keystore cannot give the encrypted store's wrapping key
                (locked, missing, wrong passphrase); StorageError: the store cannot be opened.
            EnvelopeError: ``code == "suite_unavailable"``: this build cannot seal to the
                current key's KEM (the message names the versions found and the fix);
                ``"no_current_key"`` / ``"bad_key"``: the server's key list is unusable.
            TransportError: the key list could not be fetched (``TlsError``,
                ``ServerUnavailable``, ``ServerError``).
        """
        from ..transport.envelope import fetch_current_key

        self.privacy.require_feature(FEATURE)
        api = self._logged_in()
        self._store_ready()
        return fetch_current_key(api, self.privacy.config.hpke_pins)

    def _store_ready(self) -> None:
        """Open the encrypted store the upload state is kept in (KeystoreError, StorageError),
        before any item is collected: the audit trail never says "collected" for data that
        could not be kept for its upload."""
        _ = self.store

    # -- submitting -------------------------------------------------------------------------

    def submit(self, name: str, id_number: str, phone: str, face_video: Media, *,
               on_progress: Callable[[int, int, float], None] | None = None,
               cancel: threading.Event | None = None) -> Verification:
        """Submit the real-name items for automatic verification (OBL-RN-1).

        Call :meth:`preflight` before capturing *face_video*: it raises the errors below that
        do not depend on the capture (consent, login, pins, keystore, the server's key and
        suite) while nothing has been recorded yet.

        Args:
            name: the real name as on the ID document (a middle dot ``·`` stays the character
                it is, byte for byte).
            id_number: the 18-character citizen identity number (or residence permit).
            phone: a mobile number (``+`` country code outside mainland China).
            face_video: the face video: an :class:`sdk.capture.Capture`, bytes, or a file
                path. It is read, not discarded: discard the capture afterwards.
            on_progress: ``(sealed bytes sent, sealed total, bytes per second)`` during the
                face video's upload.
            cancel: set it to stop the upload (``UploadCancelled``; nothing is submitted).

        Returns:
            the server's :class:`Verification`, ``pending`` until the agency answers: poll
            :meth:`status` or :meth:`wait`.

        Raises:
            ConsentRequired: a consent real-name signing needs is missing (``.scopes``);
                raised first: nothing was captured, checked, kept or sent (OBL-RN-3).
            RealnameValidationError: a field is invalid on the device or on the server
                (``field``, ``reason``, the Chinese and English message).
            InvalidInput: the face video is empty or cannot be read.
            NotLoggedIn: log in first.
            KeyPinMismatch: the server's key is not pinned: nothing was sent.
            KeystoreError, StorageError: the encrypted store that keeps the upload's state
                cannot be opened; raised before anything is collected or sent.
            EnvelopeError: ``code == "suite_unavailable"``: this build cannot seal to the
                server's key (nothing was sent).
            ConsentRequired: also when the server's own records lack a consent the upload
                needs (``.scopes`` from the server; e.g. a grant never synced).
            UploadRejected, UploadCancelled, UploadError: the face video's upload.
            VerificationRefused: the server refused the submission (``code``).
            TransportError: as for every request.
        """
        # what the user typed, never in a log line or the operation log (kept in memory only)
        redact_values(name, id_number, phone)
        self.privacy.require_feature(FEATURE)
        from .validate import validate_id_number, validate_name, validate_phone

        name = validate_name(name)
        number = validate_id_number(id_number).value
        phone = validate_phone(phone)
        redact_values(name, number, phone)
        source, content_type, _ = _media(face_video, "face_video", "video")
        api = self._logged_in()
        self._store_ready()
        with self._lock:
            key = self._key(api)  # pinned, before any item is collected (audit trail)
            for item in AGENCY_ITEMS:
                self.privacy.collect(item, PURPOSE, feature=FEATURE)
            consent_id = self._consent_id()
            self._discard_stale("face_video", source)
            with _consent_refusals():
                upload = self.uploader.upload(source, item="face_video", purpose=PURPOSE,
                                              consent_id=consent_id, content_type=content_type,
                                              on_progress=on_progress, cancel=cancel)
            submission = str(uuid.uuid4())
            body = {
                "submission": submission, "kid": key.kid, "consent": consent_id,
                "fields": {field: _seal(key, value, field, submission, consent_id)
                           for field, value in (("real_name", name), ("id_number", number),
                                                ("phone", phone))},
                "face_upload": upload.upload_id,
            }
            del name, number, phone
            try:
                self.privacy.share(AGENCY, AGENCY_ITEMS, feature=FEATURE)
            except ConsentRequired:  # withdrawn meanwhile: the face video is of no use now
                _terminate(api, [upload.upload_id])
                raise
            return self._post(api, body, submission, [upload.upload_id])

    def submit_for_manual_review(self, kind: str, number: str, images: Sequence[Media], *,
                                 verification_id: str | None = None,
                                 on_progress: Callable[[int, int, float], None] | None = None,
                                 cancel: threading.Event | None = None) -> Verification:
        """Ask for manual review with another document (OBL-RN-2): its number and images.

        Args:
            kind: ``passport``, ``hk_macao_travel_permit``, ``taiwan_travel_permit`` or
                ``resident_id`` (:data:`sdk.realname.DOCUMENT_KINDS`).
            number: the document's number as typed.
            images: 1 to :data:`MAX_REVIEW_IMAGES` photos of the document (captures, bytes or
                file paths); uploaded sealed, one by one.
            verification_id: the verification to review; default the latest one this device
                submitted (it must be the account's latest, and ``failed``, ``timed_out`` or
                ``manual_review``).
            on_progress: called per image as for :meth:`submit`; cancel: as for :meth:`submit`.

        Returns:
            the server's :class:`Verification`: status ``manual_review`` until a person decides.

        Raises:
            ConsentRequired: the consent for the review material (``item:review_document``)
                or the purpose is missing; raised first, nothing checked or sent.
            RealnameValidationError: the kind or the number is invalid (device or server).
            InvalidInput: no image, too many, or one is empty or unreadable.
            VerificationRefused: ``no_verification`` (none on this device: submit first),
                ``verification_not_reviewable`` (it is verified, or still pending), ...
            VerificationNotFound: *verification_id* is no verification of this account.
            ValueError: *verification_id* is not of the shape the server gives (nothing sent).
            NotLoggedIn, KeyPinMismatch, KeystoreError, StorageError, EnvelopeError,
                UploadError, TransportError: as for :meth:`submit`.
        """
        redact_values(number)  # typed by the user: never in a log line or the operation log
        self.privacy.require_feature(REVIEW_FEATURE)
        from .validate import validate_document

        document = validate_document(kind, number)
        redact_values(document.value)
        if isinstance(images, (bytes, bytearray, memoryview, str, os.PathLike)) or not isinstance(
                images, Iterable):
            raise InvalidInput("images", "images must be a list of document photos")
        sources = [_media(image, "review_document", "photo") for image in images]
        if not 1 <= len(sources) <= MAX_REVIEW_IMAGES:
            raise InvalidInput("images", f"add 1 to {MAX_REVIEW_IMAGES} photos of the document")
        if verification_id is not None:
            _check_verification_id(verification_id)
        previous = verification_id or self._latest_id()
        api = self._logged_in()
        self._store_ready()
        with self._lock:
            key = self._key(api)  # pinned, before the item is collected (audit trail)
            self.privacy.collect("review_document", PURPOSE, feature=REVIEW_FEATURE)
            consent_id = self._consent_id()
            self._discard_stale("review_document", None)
            uploads: list[str] = []
            try:
                for source, content_type, _ in sources:
                    with _consent_refusals():
                        uploads.append(self.uploader.upload(
                            source, item="review_document", purpose=PURPOSE,
                            consent_id=consent_id, content_type=content_type,
                            on_progress=on_progress, cancel=cancel).upload_id)
            except Exception:  # the images already sent are of no use without the rest
                _terminate(api, uploads)
                raise
            submission = str(uuid.uuid4())
            body = {
                "submission": submission, "kid": key.kid, "consent": consent_id,
                "previous": previous,
                "document": {"kind": document.kind,
                             "number": _seal(key, document.value, "document_number", submission,
                                             consent_id),
                             "uploads": uploads},
            }
            del document
            return self._post(api, body, submission, uploads)

    def _discard_stale(self, item: str, source: Any) -> None:
        """Before a new upload of *item*: the pending (interrupted) uploads of it for
        real-name verification are of no use any more; their state and sealed spool are
        deleted (and the server's copy, best effort). A pending upload of the very file
        *source* is kept: the tus uploader resumes it when the file is unchanged."""
        keep = str(source.resolve()) if isinstance(source, Path) else None
        try:
            self.uploader.discard(items=(item,), purposes=(PURPOSE,), keep_path=keep)
        except Exception as exc:  # noqa: BLE001 - a stale upload never blocks a new one
            log.info("a stale upload could not be discarded (%s)", type(exc).__name__)

    def discard_pending_uploads(self) -> int:
        """Cancel the pending (interrupted) uploads of the face video and the review images:
        state and sealed spool deleted from the device; a tus ``DELETE`` of the server's copy
        when online (best effort, never raises for it). Returns how many. :meth:`forget` and
        withdrawing ``item:face_video``, ``item:review_document``, the purpose or the policy
        do this too."""
        items = ("face_video", "review_document")
        try:
            return self.uploader.discard(items=items, purposes=(PURPOSE,))
        except Exception as exc:  # noqa: BLE001 - no endpoint: the device's part only
            log.info("pending uploads removed on the device only (%s)", type(exc).__name__)
            from ..transport.tus import discard_local

            return discard_local(self.store, self.privacy.config.data_dir, items=items,
                                 purposes=(PURPOSE,))

    def _latest_id(self) -> str:
        latest = self.latest()
        if latest is None:
            raise VerificationRefused(
                "no_verification", "this device has submitted no real-name verification; "
                "submit one first (manual review is for a verification that did not pass)")
        return latest.id

    def _post(self, api: ApiClient, body: dict[str, Any], submission: str,
              uploads: Sequence[str] = ()) -> Verification:
        """POST the submission; when the server refuses it for good, the media uploaded for
        it are deleted from the server (tus termination, best effort): nothing is left there
        that no verification uses."""
        what = f"POST /v1{_PATH}"
        try:
            answer = _send(api, "POST", _PATH, what, body=body, headers={
                "Content-Type": "application/json", "Idempotency-Key": submission})
        except (ConsentRequired, InvalidInput, VerificationRefused, VerificationNotFound):
            _terminate(api, uploads)
            raise
        verification = Verification.from_answer(answer, what)
        self._remember(verification)
        return verification

    # -- the server's answer ------------------------------------------------------------------

    def status(self, verification_id: str | None = None) -> Verification:
        """Ask the server (``GET /v1/realname/verifications/{id}``); the answer is kept on the
        device (id and status only). Default: the latest verification this device knows of
        for the logged-in account; on a device that knows none (e.g. the account's second
        phone), the account's newest verification on the server
        (``GET /v1/realname/verifications``), so it learns it is verified.

        Raises:
            VerificationRefused: ``no_verification`` when the account has none.
            VerificationNotFound: the server knows no such verification for this account.
            NotLoggedIn, TransportError: as for every request.
        """
        if verification_id is None and self.latest() is None:
            return self._newest_on_server()
        verification_id = verification_id or self._latest_id()
        _check_verification_id(verification_id)
        what = "GET /v1/realname/verifications/{id}"
        answer = _send(self.api, "GET", f"{_PATH}/{quote(verification_id, safe='')}", what)
        verification = Verification.from_answer(answer, what)
        self._remember(verification)
        return verification

    def _newest_on_server(self) -> Verification:
        what = "GET /v1/realname/verifications"
        answer = _send(self.api, "GET", _PATH, what)
        listed = answer.get("verifications") if isinstance(answer, Mapping) else None
        if not isinstance(listed, list):
            raise TransportError(f"{what}: the answer has no 'verifications' list")
        if not listed:
            raise VerificationRefused(
                "no_verification", "this account has no real-name verification; submit one "
                "first (manual review is for a verification that did not pass)")
        verification = Verification.from_answer(listed[0], what)
        self._remember(verification)
        return verification

    def wait(self, verification_id: str | None = None, timeout_s: float = 60.0,
             poll_interval_s: float = 1.0) -> Verification:
        """Poll :meth:`status` until it is no longer ``pending`` or *timeout_s* passed.

        Returns:
            the last answer: still ``pending`` when the time ran out (poll again later; the
            server marks it ``timed_out`` at the agency's deadline).

        Raises:
            ValueError: *timeout_s* < 0 or *poll_interval_s* <= 0.
            the errors of :meth:`status`.
        """
        if not timeout_s >= 0 or not poll_interval_s > 0:
            raise ValueError("timeout_s must be >= 0 and poll_interval_s > 0 (seconds)")
        end = self._clock() + timeout_s
        while True:
            verification = self.status(verification_id)
            left = end - self._clock()
            if verification.status != "pending" or left <= 0:
                return verification
            self._sleep(min(poll_interval_s, left))

    # -- what the device keeps -------------------------------------------------------------------

    def _latest_key(self) -> str | None:
        """The store key of the kept verification of the account logged in
        (``verification:<h>``, *h* a hash of the account id): per account, so on a shared
        device one account never sees another's. ``None`` when no account is known (nothing
        is read or kept). A ``privacy`` without accounts (``current_account_id``) keeps one."""
        current = getattr(self.privacy, "current_account_id", None)
        if current is None:
            return _LATEST
        account_id = current()
        if not account_id:
            return None
        from .certificate import account_scope

        return f"{_LATEST}:{account_scope(account_id)}"

    def _remember(self, verification: Verification) -> None:
        """Keep the latest answer of this account: id, status, reason, time; nothing personal."""
        key = self._latest_key()
        if key is None:
            log.info("verification not kept on the device: the account logged in is not known")
            return
        self.store.put(STORE_NAMESPACE, key, json.dumps(verification.to_json()), purpose=PURPOSE)

    def latest(self) -> Verification | None:
        """The last answer the server gave this device for the account logged in (no
        network), or ``None`` (also when logged out: the kept answer is the account's)."""
        key = self._latest_key()
        if key is None:
            return None
        text = self.store.get_text(STORE_NAMESPACE, key)
        if text is None:
            return None
        try:
            return Verification.from_answer(json.loads(text), "stored verification")
        except (ValueError, TransportError):
            self.store.delete(STORE_NAMESPACE, key)
            return None

    def is_verified(self) -> bool:
        """True when the server's last answer to this device was ``verified`` (no network;
        for :class:`sdk.realname.CertificateManager`'s ``is_verified``). The server checks
        again before issuing or signing."""
        latest = self.latest()
        return latest is not None and latest.verified

    def forget(self) -> bool:
        """Delete the kept verification id and status of the account logged in from the
        device, and the pending (interrupted) uploads of the real-name media with their sealed
        spools; True when there was a verification."""
        self.discard_pending_uploads()
        key = self._latest_key()
        return key is not None and bool(self.store.delete(STORE_NAMESPACE, key))


def _check_verification_id(verification_id: Any) -> None:
    """The id's shape, on the device (no request for an id the server cannot have given)."""
    if not isinstance(verification_id, str) or not verification_id or "/" in verification_id \
            or len(verification_id) > 64 or not verification_id.isprintable():
        raise ValueError("verification_id must be the id the server gave the verification")


def _seal(key: EnvelopeKey, value: str, field: str, submission: str, consent_id: str) -> str:
    from ..transport.envelope import b64url_encode, seal_field

    return b64url_encode(seal_field(key, value, field=field, submission=submission,
                                    purpose=PURPOSE, consent_id=consent_id))


def _terminate(api: ApiClient, uploads: Iterable[str]) -> None:
    """tus ``DELETE`` of each upload (best effort: failures are logged by type only)."""
    for upload_id in uploads:
        try:
            api.request("DELETE", f"/uploads/{quote(upload_id, safe='')}",
                         headers={"Tus-Resumable": "1.0.0"}, what="DELETE /v1/uploads/{id}").close()
        except SdkError as exc:
            log.info("an unused upload could not be deleted on the server (%s)", type(exc).__name__)


@contextmanager
def _consent_refusals() -> Iterator[None]:
    """An upload the server refused for a missing consent is the same refusal as the
    verification's own: :class:`ConsentRequired` with the server's ``scopes``."""
    from ..errors import UploadRejected

    try:
        yield
    except UploadRejected as exc:
        if exc.code != "consent_required":
            raise
        raise ConsentRequired(PURPOSE, f"the server's records lack a consent the upload needs: "
                              f"{', '.join(exc.scopes) or 'see privacy.missing_for_feature'}; "
                              "ask for it and sync, then submit again", exc.scopes) from exc


def _send(api: ApiClient, method: str, path: str, what: str, *, body: Any = None,
          headers: Mapping[str, str] | None = None) -> Any:
    """One request through the client (its TLS, retries, cookies and timeouts); the JSON
    answer, or the SDK error for the refusal (:func:`_refusal` reads the fields the generic
    mapping drops: ``scopes``, ``field``, ``reason``)."""
    return api.request_json(method, path, json=body, headers=headers, what=what,
                            refusal=_refusal)


def _refusal(status: int, body: Any, what: str) -> SdkError | None:
    """The SDK error for a refusal of the verification endpoints (docs/protocol.md
    "Real-name verification"), or None for the client's generic mapping."""
    if not isinstance(body, Mapping) or not isinstance(body.get("error"), str):
        return None
    code, message = body["error"], f"{what}: {body.get('message') or 'refused'}"
    if status == 403 and code == "realname_consent_required":
        scopes = tuple(str(s) for s in body.get("scopes") or () if isinstance(s, str))
        return ConsentRequired(PURPOSE, message, scopes)
    if status == 422 and code == "realname_invalid":
        from .validate import RealnameValidationError

        return RealnameValidationError(str(body.get("field") or "unknown"),
                                       str(body.get("reason") or "invalid"),
                                       str(body.get("message_zh") or ""),
                                       str(body.get("message_en") or message))
    if status == 404 and code == "verification_not_found":
        return VerificationNotFound(
            f"{what}: the server knows no such verification for this account; submit a new one")
    if status in (409, 422) and code not in ("invalid_request", "idempotency_key_reused"):
        return VerificationRefused(code, message)
    return None
