"""``/v1/uploads``: resumable uploads of sealed media, tus 1.0.0 (core + creation +
termination + checksum + expiration), docs/protocol.md "Resumable upload".

The body of an upload is a *sealed stream*: HPKE records (``sdk.transport.envelope``), one per
chunk of ``chunk_size`` plaintext bytes (the last one shorter), each bound to its upload, index,
final flag, key, purpose and consent. Every record is opened as it arrives (memory: one record)
and only its ciphertext is kept (:mod:`server_stub.uploads`). A record that does not open, or a
consent that is missing or withdrawn, fails the whole upload: everything received for it is
deleted and later requests answer ``410 upload_failed``. The consent is the purpose's grant
named by the upload and, for a sensitive item, the item's own separate consent
(``item:face_video``, ``item:review_document``), both from the account's own records.

Expiry (tus "expiration"): an unfinished upload expires 24 h after its creation
(``Upload-Expires`` on the creation, HEAD and PATCH answers), a complete one after its data
item's retention in the policy manifest, or 24 h after it completed when no verification uses
it (:mod:`server_stub.uploads`); expired uploads are
purged on start and, at most once a minute, on creation.

Endpoints::

    OPTIONS /v1/uploads          204; Tus-Version, Tus-Extension, Tus-Max-Size,
                                 Tus-Checksum-Algorithm (no session needed)
    POST    /v1/uploads          create (session cookie, Idempotency-Key, Upload-Length,
                                 Upload-Metadata) -> 201 + Location + Upload-Expires
    HEAD    /v1/uploads/{id}     200 Upload-Offset, Upload-Length (+ Upload-Expires while open)
    GET     /v1/uploads/{id}     200 {"upload_id", "status", "offset", "length", ...,
                                 "expires_at"}
    PATCH   /v1/uploads/{id}     append sealed records at Upload-Offset -> 204 Upload-Offset
                                 (+ Upload-Expires while open)
    DELETE  /v1/uploads/{id}     terminate: 204, row and bytes deleted
    PUT     /v1/dev/sink         dev mode only: stream a plain body to disk and drop it (the
                                 benchmark's baseline); not in /openapi.json
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import os
import re
import sqlite3
import tempfile
import time
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from sdk.errors import EnvelopeError
from sdk.transport.envelope import sealed_stream_length

from ..deps import (
    IdempotencyKey,
    LoggedInAccount,
    SettingsDep,
    StoreDep,
    get_key_ring,
    get_uploads,
    require_dev_mode,
)
from ..errors import ApiError
from ..responses import REPLAY_DOC, error_doc
from ..store import IdempotencyKeyReused, rfc3339
from ..uploads import (
    CONSENT_WITHDRAWN,
    RecordWriter,
    UploadRow,
    UploadStore,
    http_date,
    missing_upload_consents,
)

__all__ = [
    "CHECKSUM_ALGORITHMS",
    "MAX_CHUNK_SIZE",
    "MIN_CHUNK_SIZE",
    "TUS_EXTENSIONS",
    "TUS_VERSION",
    "dev_router",
    "parse_metadata",
    "router",
]

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,termination,checksum,expiration"
CHECKSUM_ALGORITHMS: Mapping[str, Callable[[], Any]] = {"sha1": hashlib.sha1, "sha256": hashlib.sha256}
#: A HEAD or PATCH of an upload whose PATCH is still running (its client went away and it is
#: still keeping what arrived, or the connection is half-open) waits up to this many seconds
#: for it to end; then asks it to stop (it keeps the whole records it received) and waits as
#: long again, before answering with the offset as it stands (HEAD) or 423 (PATCH).
BUSY_WAIT = 2.0
#: Seconds a PATCH waits for more body bytes before it ends as if its client went away.
BODY_IDLE_TIMEOUT = 30.0
MIN_CHUNK_SIZE = 1024
MAX_CHUNK_SIZE = 16 * 1024 * 1024
OFFSET_CONTENT_TYPE = "application/offset+octet-stream"
ENDPOINT = "POST /v1/uploads"

_REQUIRED_METADATA = ("kid", "purpose", "consent", "chunk_size", "plaintext_length", "item")
_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_MEDIA_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}$")
_METADATA_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")

router = APIRouter(tags=["uploads"])


def _tus_headers(**extra: str) -> dict[str, str]:
    return {"Tus-Resumable": TUS_VERSION, "Cache-Control": "no-store", **extra}


def _error(status: int, code: str, message: str, **headers: str) -> ApiError:
    return ApiError(status, code, message, headers=_tus_headers(**headers))


def _busy(request: Request) -> dict[str, asyncio.Event]:
    """upload id -> the stop signal of the PATCH writing to it (event loop only)."""
    busy: dict[str, asyncio.Event] = request.app.state.upload_busy
    return busy


async def _take_over(request: Request, upload_id: str) -> bool:
    """Wait for a running PATCH of *upload_id* to end (:data:`BUSY_WAIT`), then ask it to stop
    and wait again; True when none is running any more."""
    busy = _busy(request)
    for ask_to_stop in (False, True):
        stop = busy.get(upload_id)
        if stop is None:
            return True
        if ask_to_stop:
            stop.set()
        deadline = time.monotonic() + BUSY_WAIT
        while upload_id in busy and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
    return upload_id not in busy


class _Stopped(Exception):
    """The PATCH body ended early: superseded by a newer request, or idle too long."""


async def _pieces(request: Request, stop: asyncio.Event, idle: float) -> Any:
    """The body's pieces as they arrive; raises :class:`_Stopped` when *stop* is set or no
    byte came for *idle* seconds, and ``ClientDisconnect`` when the client went away."""
    stream = request.stream().__aiter__()
    stopper = asyncio.ensure_future(stop.wait())
    try:
        while True:
            following = asyncio.ensure_future(stream.__anext__())
            done, _ = await asyncio.wait({following, stopper}, timeout=idle,
                                         return_when=asyncio.FIRST_COMPLETED)
            if following not in done:
                following.cancel()
                raise _Stopped
            try:
                yield following.result()
            except StopAsyncIteration:
                return
    finally:
        stopper.cancel()


def require_tus(
    tus_resumable: Annotated[str | None, Header(alias="Tus-Resumable", description="must be 1.0.0")] = None,
) -> None:
    """412 ``tus_version_unsupported`` (with ``Tus-Version``) unless ``Tus-Resumable: 1.0.0``."""
    if tus_resumable != TUS_VERSION:
        raise _error(412, "tus_version_unsupported",
                     f"send the header Tus-Resumable: {TUS_VERSION} (the only tus version served)",
                     **{"Tus-Version": TUS_VERSION})


Tus = Annotated[None, Depends(require_tus)]


def parse_metadata(header: str | None) -> dict[str, str]:
    """tus ``Upload-Metadata``: comma-separated ``key base64(value)`` pairs (values UTF-8).

    Raises:
        ApiError: 400 ``invalid_upload_request`` naming the key that is wrong (never a value).
    """
    result: dict[str, str] = {}
    if not header:
        return result
    for part in header.split(","):
        pieces = part.strip().split(" ")
        key = pieces[0]
        if not _METADATA_KEY.match(key) or len(pieces) > 2 or key in result:
            raise _error(400, "invalid_upload_request",
                         "Upload-Metadata must be comma-separated 'key base64value' pairs with "
                         "unique keys")
        try:
            value = base64.b64decode(pieces[1], validate=True).decode("utf-8") if len(pieces) == 2 else ""
        except (binascii.Error, ValueError):
            raise _error(400, "invalid_upload_request",
                         f"Upload-Metadata: the value of '{key}' is not base64 of UTF-8 text") from None
        result[key] = value
    return result


def _int(value: str | None, name: str) -> int:
    """A non-negative decimal integer of ASCII digits (at most 15). ``str.isdigit`` alone also
    accepts other digits (``²``, ``١``) that ``int()`` refuses or reads differently."""
    if value is None or not (value.isascii() and value.isdigit()) or len(value) > 15:
        raise _error(400, "invalid_upload_request",
                     f"{name} must be a non-negative integer in ASCII digits 0-9")
    return int(value)


def _row_or_404(request: Request, upload_id: str, account_id: str) -> UploadRow:
    row = get_uploads(request).get(upload_id, account_id)
    if row is None:
        raise _error(404, "upload_not_found", "no such upload for this account")
    return row


def _gone(row: UploadRow) -> ApiError:
    return _error(410, "upload_failed",
                  f"this upload was refused ({row.public_failure}) and everything received for "
                  "it was deleted; start a new upload")


def _expires(uploads: UploadStore, row: UploadRow) -> dict[str, str]:
    """``{"Upload-Expires": <HTTP date>}`` while *row* is open (tus expiration), else ``{}``."""
    if row.status != "open":
        return {}
    when = uploads.expires_at(row)
    return {} if when is None else {"Upload-Expires": http_date(when)}


class _ConsentRefused(ApiError):
    """403 ``consent_required`` whose body adds ``"scopes"``: the missing consent scopes."""

    def __init__(self, message: str, scopes: tuple[str, ...], **headers: str) -> None:
        super().__init__(403, "consent_required", message, headers=_tus_headers(**headers))
        self.scopes = scopes

    def response(self) -> JSONResponse:
        return JSONResponse({"error": self.code, "message": self.message, "scopes": list(self.scopes)},
                            status_code=self.status, headers=self.headers)


def _missing(store: Any, uploads: UploadStore, account_id: str, consent_id: str, purpose: str,
             item: str) -> tuple[str, ...]:
    """The consent scopes an upload of the account lacks (from the server's own records)."""
    return missing_upload_consents(store.account_consent_records(account_id), consent_id,
                                   purpose, item, uploads.policy.needs_item_consent(item))


# -- OPTIONS ---------------------------------------------------------------------------------


@router.options("/uploads", status_code=204, summary="tus capabilities")
def options(settings: SettingsDep) -> Response:
    """``204`` with ``Tus-Version``, ``Tus-Extension``, ``Tus-Max-Size`` and
    ``Tus-Checksum-Algorithm``."""
    return Response(status_code=204, headers=_tus_headers(**{
        "Tus-Version": TUS_VERSION,
        "Tus-Extension": TUS_EXTENSIONS,
        "Tus-Max-Size": str(settings.upload_max_bytes),
        "Tus-Checksum-Algorithm": ",".join(CHECKSUM_ALGORITHMS),
    }))


# -- POST (creation) ------------------------------------------------------------------------


@router.post(
    "/uploads",
    status_code=201,
    response_model=None,
    summary="Create a resumable upload of a sealed stream (tus creation; idempotent)",
    responses={
        201: {"description": "created; header Location: /v1/uploads/{id}; body {\"upload_id\", \"location\"}"},
        **REPLAY_DOC,
        **error_doc(400, "idempotency_key_required, invalid_idempotency_key, invalid_upload_request"),
        **error_doc(401, "not_logged_in"),
        **error_doc(403, "consent_required: the consent is not a granted, unwithdrawn consent for the purpose of "
                    "this account, or the sensitive item's own consent (item:<id>) is not granted; "
                    "the body adds \"scopes\""),
        **error_doc(409, "idempotency_key_reused"),
        **error_doc(412, "tus_version_unsupported"),
        **error_doc(413, "upload_too_large"),
        **error_doc(422, "unknown_key or key_retired: seal to the current key of GET /v1/keys/hpke"),
    },
)
def create_upload(
    request: Request,
    _tus: Tus,
    key: IdempotencyKey,
    account: LoggedInAccount,
    store: StoreDep,
    settings: SettingsDep,
    upload_length: Annotated[str | None, Header(alias="Upload-Length", description="sealed stream length in bytes")] = None,
    upload_metadata: Annotated[str | None, Header(
        alias="Upload-Metadata",
        description="kid, purpose, consent, chunk_size, plaintext_length, item, content_type (base64 values)",
    )] = None,
) -> JSONResponse:
    """Check the declared upload and create it: ``201`` + ``Location``."""
    if request.headers.get("content-length", "0") not in ("", "0") or "transfer-encoding" in request.headers:
        raise _error(400, "invalid_upload_request",
                     "the creation request has no body (creation-with-upload is not supported)")
    length = _int(upload_length, "Upload-Length")
    meta = parse_metadata(upload_metadata)
    missing = [k for k in _REQUIRED_METADATA if not meta.get(k)]
    if missing:
        raise _error(400, "invalid_upload_request", f"Upload-Metadata lacks {', '.join(missing)}")
    chunk_size = _int(meta["chunk_size"], "metadata chunk_size")
    plaintext_length = _int(meta["plaintext_length"], "metadata plaintext_length")
    content_type = meta.get("content_type") or "application/octet-stream"
    for name in ("purpose", "item"):
        if not _ID.match(meta[name]):
            raise _error(400, "invalid_upload_request", f"metadata {name} must be a manifest id (a-z, 0-9, _)")
    if not _MEDIA_TYPE.match(content_type):
        raise _error(400, "invalid_upload_request", "metadata content_type must be a media type such as video/mp4")
    if not 0 < len(meta["consent"]) <= 64 or not meta["consent"].isprintable():
        raise _error(400, "invalid_upload_request", "metadata consent must be a consent record id")
    if not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
        raise _error(400, "invalid_upload_request",
                     f"metadata chunk_size must be {MIN_CHUNK_SIZE} to {MAX_CHUNK_SIZE} bytes")
    if length > settings.upload_max_bytes:
        raise _error(413, "upload_too_large",
                     f"Upload-Length is over this server's Tus-Max-Size ({settings.upload_max_bytes} bytes)")
    private = get_key_ring(request).lookup(meta["kid"])
    if private is None:
        raise _error(422, "unknown_key", "metadata kid is not a key of GET /v1/keys/hpke; fetch the keys again")
    if private.status != "current":
        raise _error(422, "key_retired",
                     "metadata kid names a retired key; new uploads use the current key of GET /v1/keys/hpke")
    if length != sealed_stream_length(plaintext_length, chunk_size, private.suite):
        raise _error(400, "invalid_upload_request",
                     "Upload-Length is not the sealed length of plaintext_length in chunks of "
                     "chunk_size under the key's suite (docs/protocol.md)")
    uploads = get_uploads(request)
    uploads.maybe_purge()  # the cheap trigger of expiry (at most once a minute)
    missing = _missing(store, uploads, account.account_id, meta["consent"], meta["purpose"], meta["item"])
    if missing:
        return _ConsentRefused(
            f"the account's consent records do not grant {', '.join(missing)}: metadata "
            "consent must be a granted, unwithdrawn consent record of the purpose, and a "
            "sensitive item needs its own separate consent; ask the user and sync the records "
            "first", missing).response()
    fingerprint = hashlib.sha256(json.dumps(
        {"account": account.account_id, "length": length, "metadata": meta}, sort_keys=True,
    ).encode("utf-8")).hexdigest()

    def insert(conn: sqlite3.Connection) -> tuple[int, dict[str, Any]]:
        row = uploads.create(
            account_id=account.account_id, kid=private.kid, kem=private.suite.kem,
            purpose=meta["purpose"], consent_id=meta["consent"], item=meta["item"],
            content_type=content_type, chunk_size=chunk_size, plaintext_length=plaintext_length,
            upload_length=length,
        )
        return 201, {"upload_id": row.upload_id, "location": f"/v1/uploads/{row.upload_id}"}

    try:
        answer = store.run_idempotent(key, ENDPOINT, fingerprint, insert,
                                      account_id=account.account_id)
    except IdempotencyKeyReused:
        raise _error(409, "idempotency_key_reused",
                     "this Idempotency-Key was already used with a different request; use a new "
                     "key for a new upload") from None
    headers = _tus_headers(Location=str(answer.body["location"]))
    created = uploads.get(str(answer.body["upload_id"]))
    if created is not None:
        headers.update(_expires(uploads, created))
    if answer.replayed:
        headers["Idempotent-Replayed"] = "true"
        return JSONResponse(answer.body, status_code=200, headers=headers)
    return JSONResponse(answer.body, status_code=answer.status, headers=headers)


# -- HEAD / GET ------------------------------------------------------------------------------


@router.head("/uploads/{upload_id}", summary="Offset of an upload (tus)",
             responses={**error_doc(404, "upload_not_found"), **error_doc(410, "upload_failed")})
async def head_upload(request: Request, upload_id: str, _tus: Tus, account: LoggedInAccount) -> Response:
    """``200`` with ``Upload-Offset`` (sealed bytes kept, on a record boundary) and ``Upload-Length``.

    While a PATCH of the upload is still running (say, its client went away and the records
    it sent are being kept), asks it to stop and waits up to :data:`BUSY_WAIT` seconds for it,
    so the offset answered is the one to continue from. Another account's upload id answers
    404 before that: a stranger never stops the owner's PATCH (OBL-SEC-2)."""
    await run_in_threadpool(_row_or_404, request, upload_id, account.account_id)
    await _take_over(request, upload_id)
    row = await run_in_threadpool(_row_or_404, request, upload_id, account.account_id)
    if row.status == "failed":
        raise _gone(row)
    return Response(status_code=200, headers=_tus_headers(**{
        "Upload-Offset": str(row.upload_offset), "Upload-Length": str(row.upload_length),
        **_expires(get_uploads(request), row),
    }))


@router.get("/uploads/{upload_id}", summary="State of an upload",
            responses={**error_doc(404, "upload_not_found"), **error_doc(410, "upload_failed")})
def get_upload(request: Request, upload_id: str, account: LoggedInAccount) -> JSONResponse:
    """``200 {"upload_id", "status" (open | complete), "offset", "length", "item", "purpose",
    "kid", "content_type", "created_at", "expires_at"}``; ``410 upload_failed`` (``reason``:
    why) once refused."""
    row = _row_or_404(request, upload_id, account.account_id)
    if row.status == "failed":
        gone = _gone(row)
        return JSONResponse({"error": gone.code, "message": gone.message, "reason": row.public_failure},
                            status_code=410, headers=gone.headers)
    when = get_uploads(request).expires_at(row)
    expires_at = None if when is None else rfc3339(when)
    return JSONResponse(row.to_json(expires_at), headers=_tus_headers())


# -- PATCH -----------------------------------------------------------------------------------


def _checksum(header: str | None) -> tuple[Any, bytes] | None:
    """(hash object, expected digest) from ``Upload-Checksum: <algorithm> <base64 digest>``."""
    if header is None:
        return None
    parts = header.strip().split(" ")
    if len(parts) != 2 or parts[0] not in CHECKSUM_ALGORITHMS:
        raise _error(400, "checksum_algorithm_unsupported",
                     f"Upload-Checksum must be '<algorithm> <base64 digest>' with algorithm one of "
                     f"{', '.join(CHECKSUM_ALGORITHMS)}")
    try:
        digest = base64.b64decode(parts[1], validate=True)
    except binascii.Error:
        raise _error(400, "invalid_upload_request", "Upload-Checksum: the digest is not base64") from None
    return CHECKSUM_ALGORITHMS[parts[0]](), digest


@router.patch(
    "/uploads/{upload_id}",
    status_code=204,
    summary="Append sealed records at Upload-Offset (tus)",
    responses={
        204: {"description": "accepted; header Upload-Offset: the new offset"},
        **error_doc(400, "invalid_upload_request, checksum_algorithm_unsupported, upload_length_exceeded"),
        **error_doc(403, "consent_required: the consent (the purpose's, or the sensitive item's own) was "
                    "withdrawn; the upload was deleted; the body adds \"scopes\""),
        **error_doc(404, "upload_not_found"),
        **error_doc(409, "offset_mismatch; header Upload-Offset: the server's offset"),
        **error_doc(410, "upload_failed"),
        **error_doc(415, "unsupported_media_type: Content-Type must be application/offset+octet-stream"),
        **error_doc(422, "chunk_rejected: a record did not open; the upload was deleted"),
        **error_doc(423, "upload_locked: another PATCH of this upload is running"),
        **error_doc(460, "checksum_mismatch: nothing of this request was kept"),
    },
    openapi_extra={"requestBody": {"required": True, "content": {
        OFFSET_CONTENT_TYPE: {"schema": {"type": "string", "format": "binary"}}}}},
)
async def patch_upload(
    request: Request,
    upload_id: str,
    _tus: Tus,
    account: LoggedInAccount,
    store: StoreDep,
    upload_offset: Annotated[str | None, Header(alias="Upload-Offset")] = None,
    upload_checksum: Annotated[str | None, Header(alias="Upload-Checksum")] = None,
) -> Response:
    """Append whole sealed records; each is opened before it is kept (see the module doc)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != OFFSET_CONTENT_TYPE:
        raise _error(415, "unsupported_media_type", f"Content-Type must be {OFFSET_CONTENT_TYPE}")
    offset = _int(upload_offset, "Upload-Offset")
    checksum = _checksum(upload_checksum)
    # another account's upload id: 404 before anything touches the owner's running PATCH (OBL-SEC-2)
    await run_in_threadpool(_row_or_404, request, upload_id, account.account_id)
    if not await _take_over(request, upload_id):
        raise _error(423, "upload_locked", "another PATCH of this upload is still running; retry shortly")
    busy = _busy(request)
    stop = busy[upload_id] = asyncio.Event()
    try:
        return await _patch_locked(request, get_uploads(request), store, upload_id, account.account_id,
                                   offset, checksum, stop)
    except _ConsentRefused as refused:
        return refused.response()
    finally:
        busy.pop(upload_id, None)


def _fail(uploads: UploadStore, row: UploadRow, status: int, code: str, message: str) -> ApiError:
    uploads.fail(row.upload_id, code)
    return _error(status, code, message, Connection="close")


def _refuse_for_consent(uploads: UploadStore, row: UploadRow, missing: tuple[str, ...],
                        message: str) -> _ConsentRefused:
    uploads.fail(row.upload_id, "consent_required")
    return _ConsentRefused(f"the account's consent records no longer grant {', '.join(missing)}: "
                           f"{message}", missing, Connection="close")


def _prepare(request: Request, uploads: UploadStore, store: Any, upload_id: str, account_id: str,
             offset: int) -> RecordWriter:
    """Before the body is read (one trip to the thread pool): the upload is the caller's, open,
    at *offset*, and its consent still in force; then a writer at the committed offset."""
    row = _row_or_404(request, upload_id, account_id)
    if row.status == "failed" and row.failure == CONSENT_WITHDRAWN:
        # deleted when the withdrawal arrived (UploadStore.withdraw_unused): say why once,
        # as if this PATCH had found the withdrawal itself; 410 from now on
        uploads.consent_withdrawn_seen(row.upload_id)
        raise _ConsentRefused("the consent this upload relied on was withdrawn; everything "
                              "received for the upload was deleted",
                              _missing(store, uploads, account_id, row.consent_id, row.purpose,
                                       row.item), Connection="close")
    if row.status == "failed":
        raise _gone(row)
    if offset != row.upload_offset:
        raise _error(409, "offset_mismatch",
                     "Upload-Offset is not the upload's offset; HEAD the upload and continue from there",
                     **{"Upload-Offset": str(row.upload_offset)})
    missing = _missing(store, uploads, account_id, row.consent_id, row.purpose, row.item)
    if missing:
        raise _refuse_for_consent(uploads, row, missing, "everything received for the upload was deleted")
    try:
        return RecordWriter(row, uploads.file_path(row.upload_id), get_key_ring(request).lookup)
    except FileNotFoundError:  # deleted meanwhile (a withdrawal, expiry, termination)
        again = uploads.get(upload_id, account_id)
        if again is None or again.status != "open":
            return _prepare(request, uploads, store, upload_id, account_id, offset)  # answer that
        raise _fail(uploads, again, 410, "upload_failed",
                    "the data of this upload is gone; start a new upload") from None


def _finish(uploads: UploadStore, store: Any, writer: RecordWriter, keep: bool) -> bool:
    """After the body (one trip to the thread pool): keep what was accepted (fsync, then
    commit the offset) or drop it; close the file. False when the upload vanished meanwhile.

    The consent is checked again first: a withdrawal made while the body was streaming
    fails the upload (403) before anything more is kept."""
    row = writer.row
    try:
        if not keep:
            writer.rollback()
            return True
        if writer.offset == row.upload_offset:
            return True
        missing = _missing(store, uploads, row.account_id, row.consent_id, row.purpose, row.item)
        if missing:
            writer.rollback()
            raise _refuse_for_consent(uploads, row, missing, "withdrawn while the upload was "
                                      "being sent; everything received for it was deleted")
        writer.sync()  # the bytes are on disk before the offset says so
        return uploads.commit_offset(row.upload_id, row.upload_offset, writer.offset,
                                     writer.offset == row.upload_length)
    finally:
        writer.close()


async def _patch_locked(request: Request, uploads: UploadStore, store: Any, upload_id: str,
                        account_id: str, offset: int, checksum: tuple[Any, bytes] | None,
                        stop: asyncio.Event) -> Response:
    writer = await run_in_threadpool(_prepare, request, uploads, store, upload_id, account_id, offset)
    row = writer.row
    remaining = row.upload_length - row.upload_offset
    received = 0
    disconnected = False
    finished = False
    try:
        try:
            async for piece in _pieces(request, stop, BODY_IDLE_TIMEOUT):
                if not piece:
                    continue
                received += len(piece)
                if received > remaining:
                    raise _error(400, "upload_length_exceeded",
                                 "the body goes past Upload-Length; nothing of this request was kept",
                                 Connection="close")
                if checksum is not None:
                    checksum[0].update(piece)
                for index, record in writer.feed(piece):
                    try:
                        await run_in_threadpool(writer.accept, index, record)
                    except EnvelopeError as exc:
                        raise await run_in_threadpool(
                            _fail, uploads, row, 422, "chunk_rejected",
                            f"chunk {index} was refused ({exc.code}): altered, out of order, from "
                            "another upload, or sealed for another consent, key or final flag; "
                            "everything received for the upload was deleted") from None
        except (ClientDisconnect, _Stopped):
            disconnected = True  # gone, superseded or idle: keep the whole records (no checksum)
        # without a checksum the whole records received are kept even when the client went
        # away; with one they are kept only when the whole body arrived and matches
        mismatch = checksum is not None and not disconnected and checksum[0].digest() != checksum[1]
        keep = not mismatch and not (checksum is not None and disconnected)
        finished = True
        committed = await run_in_threadpool(_finish, uploads, store, writer, keep)
    finally:
        if not finished:
            await run_in_threadpool(_finish, uploads, store, writer, False)
    if mismatch:
        raise _error(460, "checksum_mismatch",
                     "the body does not match Upload-Checksum; nothing of this request was kept: "
                     "send it again")
    if not committed:  # terminated (DELETE), failed or expired meanwhile
        after = await run_in_threadpool(uploads.get, upload_id, account_id)
        if after is not None and after.status == "failed" and after.failure == CONSENT_WITHDRAWN:
            await run_in_threadpool(uploads.consent_withdrawn_seen, upload_id)
            missing = await run_in_threadpool(_missing, store, uploads, account_id, row.consent_id,
                                              row.purpose, row.item)
            raise _ConsentRefused("the consent this upload relied on was withdrawn while it was "
                                  "being sent; everything received for it was deleted", missing,
                                  Connection="close")
        if after is not None and after.status == "failed":
            raise _gone(after)
        raise _error(404, "upload_not_found", "the upload was terminated meanwhile")
    expires = {} if writer.offset == row.upload_length else _expires(uploads, row)
    return Response(status_code=204, headers=_tus_headers(**{"Upload-Offset": str(writer.offset), **expires}))


# -- DELETE ----------------------------------------------------------------------------------


@router.delete("/uploads/{upload_id}", status_code=204, summary="Terminate an upload (tus termination)",
               responses={**error_doc(404, "upload_not_found")})
def delete_upload(request: Request, upload_id: str, _tus: Tus, account: LoggedInAccount) -> Response:
    """``204``: the upload and everything received for it are deleted; later requests 404."""
    row = _row_or_404(request, upload_id, account.account_id)
    get_uploads(request).terminate(row.upload_id)
    return Response(status_code=204, headers=_tus_headers())


# -- dev: plain sink (benchmark baseline) ----------------------------------------------------


dev_router = APIRouter(prefix="/dev", tags=["dev"], include_in_schema=False,
                       dependencies=[Depends(require_dev_mode)])


@dev_router.put("/sink", summary="Stream a plain body to disk and drop it (dev mode only)")
async def sink(request: Request) -> JSONResponse:
    """``200 {"bytes": n}``: the body was written to a temporary file in the data dir, fsynced,
    and deleted. The benchmark's unencrypted baseline (bench/bench_upload.py)."""
    settings = request.app.state.settings
    fd, name = await run_in_threadpool(tempfile.mkstemp, dir=settings.data_dir, prefix=".sink-")
    count = 0
    try:
        with os.fdopen(fd, "wb") as out:
            async for piece in request.stream():
                count += len(piece)
                out.write(piece)  # into the page cache: as quick as the upload path's appends
            await run_in_threadpool(out.flush)
            await run_in_threadpool(os.fsync, out.fileno())
    finally:
        os.unlink(name)
    return JSONResponse({"bytes": count})
