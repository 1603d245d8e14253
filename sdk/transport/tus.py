"""Resumable upload of sealed media: a tus 1.0.0 client (core + creation + termination +
checksum, https://tus.io/protocols/resumable-upload) over the SDK's HTTPS session.

What travels is a *sealed stream* (docs/protocol.md, "Resumable upload"): the source is cut
into chunks of ``chunk_size`` bytes (the last one shorter, an empty source is one empty chunk)
and each chunk is sealed with HPKE to the server's pinned key, bound to the upload, its index,
the final flag, the purpose and the consent (:func:`sdk.transport.envelope.seal_chunk`).
The server keeps only whole records that open, so an interrupted upload resumes on a record
boundary. What is sent again is what the server had not kept, often more than one chunk
(docs/upload.md, "What happens", step 5): after a dropped connection, the records in flight
(network and socket buffers, and what the server's HTTP layer buffered without handing it to
the application: uvicorn discards up to a few hundred KiB; about 1 to 3.6 MiB measured with
1 MiB chunks on the stub); after the server dies mid-PATCH (``kill -9``), the whole PATCH in
flight, up to ``patch_size`` (the offset moves only once a PATCH's body is fsynced); with
``checksum="sha256"``, one record (one PATCH).

- **Memory** is bounded by one chunk (the source is read chunk by chunk, never whole).
- **Streamed PATCHes**: each PATCH carries whole records (up to ``patch_size`` bytes), sealed
  as they are read; each record is authenticated by its AEAD tag. With ``checksum="sha256"``
  each PATCH carries one record and a tus ``Upload-Checksum`` instead.
- **Retries**: connection errors, 5xx, ``409`` (offset mismatch: ``HEAD`` then continue),
  ``423`` (a broken PATCH still finishing on the server) and ``460`` (checksum mismatch) are
  retried with exponential backoff and full jitter, ``max_attempts`` times in a row without
  progress; then :class:`~sdk.errors.UploadError` ``code == "interrupted"`` (the upload is
  kept; :meth:`TusUploader.resume` it later).
- **Restarts**: the state of every unfinished upload is in the encrypted store
  (:class:`sdk.storage.store.EncryptedStore`, namespace ``"uploads"``, stored for the upload's
  purpose): the upload URL, the key, the sizes and the source's identity (path, size,
  modification time, SHA-256 of its first and last chunk). Uploading the same file again
  resumes; :meth:`TusUploader.resume_pending` lists what can be resumed. An in-memory source
  (``bytes``) is sealed into ``<data_dir>/uploads/<local_id>.sealed`` first (**ciphertext
  only**; deleted when the upload ends or is cancelled), so it resumes after a restart too.
- **Refusals**: the server answers a record that does not open, a consent that is missing or
  withdrawn, or an unknown key by deleting the whole upload: :class:`~sdk.errors.UploadRejected`
  (``code`` says why); the local state is removed.
- **Pinning**: nothing is sent unless the key's fingerprint is in ``SdkConfig.hpke_pins``
  (:class:`~sdk.errors.KeyPinMismatch`), for a new upload and for a resumed one alike.

The caller is the gate for the data: pass the ``record_id`` of the user's granted consent for
the purpose (``privacy.state(scope).record.record_id``, synced to the server); the server
checks it again. ``requests`` and ``cryptography`` are imported on first use.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import json
import logging
import os
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NoReturn, Union

from ..errors import (
    NotLoggedIn,
    ServerUnavailable,
    TransportError,
    UploadCancelled,
    UploadError,
    UploadRejected,
    UploadSourceChanged,
)
from . import envelope as _env

if TYPE_CHECKING:  # pragma: no cover
    import requests

    from ..storage.store import EncryptedStore
    from .client import ApiClient

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "STATE_NAMESPACE",
    "TUS_VERSION",
    "PendingUpload",
    "TusUploader",
    "UploadResult",
    "backoff_delay",
    "encode_metadata",
]

logger = logging.getLogger("sdk.transport")

TUS_VERSION = "1.0.0"
#: Plaintext bytes per chunk unless the uploader is told otherwise.
DEFAULT_CHUNK_SIZE = 1024 * 1024
#: Sealed bytes streamed per PATCH (whole records) unless the uploader is told otherwise.
DEFAULT_PATCH_SIZE = 32 * 1024 * 1024
#: Smallest and largest chunk sizes the protocol allows (docs/protocol.md).
MIN_CHUNK_SIZE = 1024
MAX_CHUNK_SIZE = 16 * 1024 * 1024
#: Namespace of the upload states in the encrypted store.
STATE_NAMESPACE = "uploads"
#: Folder (under ``SdkConfig.data_dir``) of the sealed spools of in-memory sources.
SPOOL_DIR = "uploads"
_STATE_VERSION = 1
_OFFSET_TYPE = "application/offset+octet-stream"
_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_MEDIA_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}$")
_LOCKED_FLOOR = 0.05  # seconds: a 423 waits at least this long (times 2**attempt)
_REJECTING = {"chunk_rejected", "consent_required", "upload_failed", "upload_not_found",
              "unknown_key", "key_retired"}

Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview]
Progress = Callable[[int, int, float], None]


def encode_metadata(values: Mapping[str, str]) -> str:
    """tus ``Upload-Metadata``: ``key base64(value)`` pairs joined by commas (standard base64,
    RFC 4648 §4, of the UTF-8 value)."""
    return ",".join(
        f"{key} {base64.b64encode(str(value).encode('utf-8')).decode('ascii')}"
        for key, value in values.items()
    )


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Seconds to wait before retry *attempt* (0-based): full jitter, uniformly drawn from
    ``[0, min(cap, base * 2**attempt)]``."""
    ceiling = min(cap, base * (2 ** max(0, attempt)))
    return (rng or random).uniform(0, ceiling) if ceiling > 0 else 0.0


@dataclass(frozen=True)
class UploadResult:
    """A finished upload.

    Attributes:
        upload_id: the server's id of the upload (what the verification request names).
        item: data item id of the manifest, e.g. ``"face_video"``.
        purpose: purpose id, e.g. ``"realname_verification"``.
        kid: the HPKE key the chunks were sealed to.
        length: sealed bytes (the tus ``Upload-Length``).
        plaintext_length: bytes of the source.
        sent_bytes: sealed bytes this call sent in PATCH bodies (a resend included).
        resumed: True when this call continued an upload begun earlier.
    """

    upload_id: str
    item: str
    purpose: str
    kid: str
    length: int
    plaintext_length: int
    sent_bytes: int
    resumed: bool


@dataclass(frozen=True)
class PendingUpload:
    """An unfinished upload that can be resumed (:meth:`TusUploader.resume`).

    Attributes:
        local_id: the device's id of the upload (the key of its state).
        upload_id: the server's id, or ``None`` when the creation was not answered yet.
        item, purpose: ids of the manifest.
        length: sealed bytes; plaintext_length: bytes of the source.
        source: ``"file"`` (resumes from the file, which must be unchanged) or ``"spool"``
            (an in-memory source sealed to ``<data_dir>/uploads/``).
        created_at: when the upload began (aware UTC).
    """

    local_id: str
    upload_id: str | None
    item: str
    purpose: str
    length: int
    plaintext_length: int
    source: str
    created_at: _dt.datetime


@dataclass
class _State:
    """What the encrypted store keeps of an unfinished upload (JSON). The key, its suite and
    the sealed sizes are derived from the stored fields (:meth:`set_key` changes the key)."""

    local_id: str
    idempotency_key: str
    kid: str
    kem: int
    public_key: str  # base64url
    item: str
    purpose: str
    consent_id: str
    content_type: str
    chunk_size: int
    plaintext_length: int
    source: dict[str, Any]
    created_at: str
    upload_id: str | None = None
    location: str | None = None
    v: int = _STATE_VERSION

    def set_key(self, key: _env.EnvelopeKey) -> None:
        """Seal to *key* from now on (a new upload, or a key that rotated before creation)."""
        self.kid, self.kem, self.public_key = key.kid, key.suite.kem, _env.b64url_encode(key.public_key)
        self.__dict__["_key"] = key

    def key(self) -> _env.EnvelopeKey:
        """The key the records are sealed to (parsed once per state)."""
        key = self.__dict__.get("_key")
        if key is None:
            key = _env.EnvelopeKey(self.kid, _env.HpkeSuite(self.kem),
                                   _env.b64url_decode(self.public_key, "public_key"))
            self.__dict__["_key"] = key
        return key

    @property
    def suite(self) -> _env.HpkeSuite:
        return self.key().suite

    @property
    def length(self) -> int:
        """Sealed bytes of the whole upload (its tus ``Upload-Length``)."""
        return _env.sealed_stream_length(self.plaintext_length, self.chunk_size, self.suite)

    @property
    def chunks(self) -> int:
        return _env.chunk_count(self.plaintext_length, self.chunk_size)

    @property
    def record_size(self) -> int:
        return self.chunk_size + self.suite.overhead

    def record_length(self, index: int) -> int:
        return (_env.chunk_plaintext_length(index, self.plaintext_length, self.chunk_size)
                + self.suite.overhead)

    def seal(self, index: int, plain: bytes) -> bytes:
        """Record *index* of the sealed stream: chunk *index* (*plain*) sealed to the key."""
        assert self.upload_id is not None
        return _env.seal_chunk(self.key(), plain, upload_id=self.upload_id, index=index,
                               final=index == self.chunks - 1, purpose=self.purpose,
                               consent_id=self.consent_id, chunk_size=self.chunk_size)

    def to_json(self) -> str:
        return json.dumps({f.name: getattr(self, f.name) for f in fields(self)}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> _State:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("v") != _STATE_VERSION:
            raise ValueError("not an upload state of this SDK version")
        for derived in ("fingerprint", "length"):  # kept by earlier builds; derived now
            data.pop(derived, None)
        return cls(**data)

    def pending(self) -> PendingUpload:
        return PendingUpload(
            local_id=self.local_id, upload_id=self.upload_id, item=self.item,
            purpose=self.purpose, length=self.length, plaintext_length=self.plaintext_length,
            source=str(self.source.get("kind")),
            created_at=_dt.datetime.fromisoformat(self.created_at.replace("Z", "+00:00")),
        )


def _file_identity(path: Path, chunk_size: int) -> dict[str, Any]:
    """What tells the file apart cheaply: size, mtime, SHA-256 of its first and last chunk."""
    with open(path, "rb") as fh:
        st = os.fstat(fh.fileno())
        head = hashlib.sha256(fh.read(min(st.st_size, chunk_size))).hexdigest()
        count = _env.chunk_count(st.st_size, chunk_size)
        fh.seek(chunk_size * (count - 1))
        tail = hashlib.sha256(fh.read(chunk_size)).hexdigest()
    return {"kind": "file", "path": str(Path(path).resolve()), "size": st.st_size,
            "mtime_ns": st.st_mtime_ns, "head_sha256": head, "tail_sha256": tail}


class _Records:
    """Gives the sealed record *index* of an upload, from its file or its spool."""

    def __init__(self, state: _State) -> None:
        self.state = state
        kind = state.source.get("kind")
        if kind not in ("file", "spool"):
            raise UploadError("not_resumable", "this upload's in-memory source is gone (the app "
                              "was restarted before it was spooled); start it again",
                              state.upload_id)
        self.kind = kind
        path = Path(state.source["path"])
        try:
            self._fh: BinaryIO = open(path, "rb")  # noqa: SIM115 - closed by close()
        except OSError as exc:
            code = "source_changed" if kind == "file" else "spool_missing"
            raise UploadSourceChanged(code, "the upload's source file cannot be read any more "
                                      f"({exc.strerror}); start a new upload", state.upload_id) from exc

    def _check_file(self) -> None:
        st = os.fstat(self._fh.fileno())
        if (st.st_size, st.st_mtime_ns) != (self.state.source["size"], self.state.source["mtime_ns"]):
            raise UploadSourceChanged("source_changed", "the file changed while it was being "
                                      "uploaded; the upload was cancelled: upload it again",
                                      self.state.upload_id)

    def record(self, index: int) -> bytes:
        state = self.state
        if self.kind == "spool":
            self._fh.seek(state.record_size * index)
            length = state.record_length(index)
            data = self._fh.read(length)
            if len(data) != length:
                raise UploadSourceChanged("spool_damaged", "the sealed spool of this upload is "
                                          "shorter than expected; start a new upload", state.upload_id)
            return data
        self._check_file()
        plain_length = _env.chunk_plaintext_length(index, state.plaintext_length, state.chunk_size)
        self._fh.seek(state.chunk_size * index)
        plain = self._fh.read(plain_length)
        if len(plain) != plain_length:
            raise UploadSourceChanged("source_changed", "the file became shorter while it was "
                                      "being uploaded; upload it again", state.upload_id)
        return state.seal(index, plain)

    def close(self) -> None:
        self._fh.close()


def _read_state(store: EncryptedStore, local_id: str) -> _State | None:
    """The stored state *local_id*, or ``None``; an unreadable one is removed."""
    try:
        text = store.get_text(STATE_NAMESPACE, local_id)
    except ValueError:  # a malformed name: not one of ours
        return None
    if text is None:
        return None
    try:
        return _State.from_json(text)
    except (ValueError, TypeError):
        logger.warning("an upload state could not be read and was removed")
        store.delete(STATE_NAMESPACE, local_id)
        return None


def _matching_states(store: EncryptedStore, items: Iterable[str] | None = None,
                     purposes: Iterable[str] | None = None) -> list[_State]:
    """The stored upload states of *items* / *purposes* (``None``: any); unreadable states
    are removed."""
    wanted_items = None if items is None else frozenset(items)
    wanted_purposes = None if purposes is None else frozenset(purposes)
    states = []
    for entry in store.entries(STATE_NAMESPACE):
        state = _read_state(store, entry.key)
        if state is None:
            continue
        if wanted_items is not None and state.item not in wanted_items:
            continue
        if wanted_purposes is not None and state.purpose not in wanted_purposes:
            continue
        states.append(state)
    return states


def _spool_path(data_dir: Path, local_id: str) -> Path:
    return Path(data_dir) / SPOOL_DIR / f"{local_id}.sealed"


def _forget_local(store: EncryptedStore, data_dir: Path, state: _State) -> None:
    spool = _spool_path(data_dir, state.local_id)
    spool.unlink(missing_ok=True)
    spool.with_suffix(".part").unlink(missing_ok=True)
    store.delete(STATE_NAMESPACE, state.local_id)


def discard_local(store: EncryptedStore, data_dir: Path | str, *,
                  items: Iterable[str] | None = None,
                  purposes: Iterable[str] | None = None) -> int:
    """Remove the pending uploads of *items* / *purposes* (``None``: any) from the device:
    their state in the encrypted store and their sealed spools under
    ``<data_dir>/uploads/``. No network (the server's copies expire there, or are refused at
    the next PATCH once a withdrawal reached the server). With neither filter, every spool
    file left in the folder (also ones no state names) is removed too. Returns how many
    uploads were removed."""
    states = _matching_states(store, items, purposes)
    for state in states:
        _forget_local(store, Path(data_dir), state)
    if items is None and purposes is None:
        remove_spool_leftovers(data_dir)
    return len(states)


def remove_spool_leftovers(data_dir: Path | str) -> None:
    """Delete every sealed spool file under ``<data_dir>/uploads/`` (also ones no state names,
    e.g. left by an app stopped mid-write). Opens no store; no network."""
    folder = Path(data_dir) / SPOOL_DIR
    if folder.is_dir():
        for leftover in list(folder.glob("*.sealed")) + list(folder.glob("*.part")):
            leftover.unlink(missing_ok=True)


def _scopes(body: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The ``scopes`` list of a refusal's JSON body (strings only), or ``()``."""
    listed = body.get("scopes") if isinstance(body, Mapping) else None
    return tuple(s for s in listed if isinstance(s, str)) if isinstance(listed, list) else ()


class TusUploader:
    """Uploads media sealed end to end, resumably (see the module docstring).

    Args:
        api: the client for the backend (its session carries the login cookie).
        store: the encrypted store that keeps the state of unfinished uploads.
        data_dir: where spools of in-memory sources go (``<data_dir>/uploads/``); default
            ``SdkConfig.data_dir`` of *api*.
        chunk_size: plaintext bytes per chunk, 1 KiB to 16 MiB (1 MiB by default); memory
            use is about twice this.
        max_attempts: failed requests in a row (without progress) before giving up with
            ``UploadError("interrupted")``; at least 1.
        backoff: base of the exponential backoff in seconds; default ``SdkConfig.backoff``.
        max_backoff: the longest wait between two attempts, in seconds.
        pins: HPKE key fingerprints to accept; default ``SdkConfig.hpke_pins``.
        patch_size: sealed bytes streamed per PATCH (rounded down to whole records, at least
            one); 32 MiB by default. The consent is checked again by the server at every PATCH.
        checksum: ``None`` (default): records are streamed, each authenticated by its AEAD
            tag; ``"sha256"`` or ``"sha1"``: one record per PATCH with a tus
            ``Upload-Checksum`` (a corrupted body is then answered 460 and sent again, instead
            of failing the upload). Slower: one round trip per chunk.

    Run uploads off the UI thread (they block until done); one upload at a time per
    uploader, and never two of the same source at once.

    Raises:
        ConfigError: *api* has no endpoint (from ``ApiClient``).
        ValueError: *chunk_size* or *max_attempts* out of range.
    """

    def __init__(self, api: ApiClient, store: EncryptedStore, *, data_dir: Path | str | None = None,
                 chunk_size: int = DEFAULT_CHUNK_SIZE, max_attempts: int = 6,
                 backoff: float | None = None, max_backoff: float = 30.0,
                 pins: Iterable[str] | None = None, patch_size: int = DEFAULT_PATCH_SIZE,
                 checksum: str | None = None) -> None:
        if checksum not in (None, "sha1", "sha256"):
            raise ValueError("checksum must be None, 'sha1' or 'sha256'")
        if isinstance(patch_size, bool) or not isinstance(patch_size, int) or patch_size < 1:
            raise ValueError("patch_size must be a positive number of bytes")
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
            raise ValueError(f"chunk_size must be {MIN_CHUNK_SIZE} to {MAX_CHUNK_SIZE} bytes")
        if max_attempts < 1:
            raise ValueError("max_attempts must be 1 or more")
        self._api = api
        self._config = api.config
        self._store = store
        self._data_dir = Path(data_dir) if data_dir is not None else self._config.data_dir
        self.chunk_size = chunk_size
        self.patch_size = patch_size
        self.checksum = checksum
        self.max_attempts = max_attempts
        self.backoff = self._config.backoff if backoff is None else float(backoff)
        self.max_backoff = float(max_backoff)
        self._pins = tuple(pins) if pins is not None else self._config.hpke_pins
        self._rng = random.Random()

    # -- public API ---------------------------------------------------------------------------

    def upload(self, source: Source, *, item: str, purpose: str, consent_id: str,
               content_type: str = "application/octet-stream",
               on_progress: Progress | None = None,
               cancel: threading.Event | None = None) -> UploadResult:
        """Upload *source* sealed end to end; resume it if the same file was being uploaded.

        Args:
            source: a file path (read chunk by chunk; must not change meanwhile), or
                bytes-like media held in memory (sealed into a spool on disk first).
            item: data item id of the manifest, e.g. ``"face_video"``.
            purpose: purpose id the data is for, e.g. ``"realname_verification"`` (the state
                is stored for it: the manifest must declare it).
            consent_id: ``record_id`` of the user's granted consent for *purpose* (synced to
                the server); bound into every chunk.
            content_type: media type of the source, e.g. ``"video/mp4"``.
            on_progress: called as ``on_progress(bytes_done, bytes_total, rate)`` at the
                start (with what the server already holds) and after every sealed chunk sent:
                sealed bytes done (never decreasing: after an interruption it waits until the
                resumed transfer passes it), the sealed total (``Upload-Length``), and sealed
                bytes per second sent by this call. It runs on the uploading thread; an
                exception it raises stops the upload and propagates (the upload stays
                pending: resume it later).
            cancel: set it to stop: the server's copy is terminated (tus ``DELETE``), the
                local state and spool are removed, and :class:`UploadCancelled` is raised.

        Returns:
            :class:`UploadResult`.

        Raises:
            KeyPinMismatch: no pins, or the server's key (or the key a pending upload was
                sealed to) is not pinned; nothing was sent.
            UploadRejected: the server refused the upload (``code``: ``consent_required``,
                ``chunk_rejected``, ...) and deleted it; the local state is removed.
            UploadCancelled: *cancel* was set.
            UploadSourceChanged: the file changed during the upload (which was cancelled).
            UploadError: ``code == "interrupted"``: the server stayed unreachable or kept
                failing; the upload is pending, :meth:`resume` it later.
            NotLoggedIn: the session ended (the upload stays pending: log in, then resume).
            TlsError, TransportError: as for every request.
            UndeclaredPurpose: *purpose* is not declared in the manifest (nothing was sent).
            ValueError: a bad argument (the message names it, never a value).
        """
        for name, value in (("item", item), ("purpose", purpose)):
            if not isinstance(value, str) or not _ID.match(value):
                raise ValueError(f"{name} must be an id of the policy manifest (a-z, 0-9, _)")
        if not isinstance(consent_id, str) or not 0 < len(consent_id) <= 64:
            raise ValueError("consent_id must be the record_id of the consent record")
        if not isinstance(content_type, str) or not _MEDIA_TYPE.match(content_type):
            raise ValueError("content_type must be a media type such as 'video/mp4'")
        self._check_cancel(cancel, None)
        _env.require_pins(self._pins)  # KeyPinMismatch("no_pins") before anything is read
        if isinstance(source, (bytes, bytearray, memoryview)):
            data = memoryview(source).cast("B")
        else:
            path = Path(os.fspath(source))
            data = None
            try:
                identity = _file_identity(path, self.chunk_size)
            except OSError as exc:
                raise ValueError(f"source cannot be read ({exc.strerror}); pass a readable file") from exc
            pending = self._pending_for(identity, item, purpose, consent_id)
            if pending is not None:
                return self._run(pending, on_progress, cancel, resumed=True)
        key = _env.fetch_current_key(self._api, self._pins)
        state = _State(
            local_id=uuid.uuid4().hex, idempotency_key=str(uuid.uuid4()),
            kid="", kem=0, public_key="",  # set_key below
            item=item, purpose=purpose, consent_id=consent_id,
            content_type=content_type, chunk_size=self.chunk_size,
            plaintext_length=len(data) if data is not None else int(identity["size"]),
            source=identity if data is None else {"kind": "memory"},
            created_at=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        state.set_key(key)
        self._save(state)  # before the POST: a retried creation reuses its Idempotency-Key
        try:
            self._create(state, cancel)
            if data is not None:
                self._spool(state, data, cancel)
        except BaseException:
            if data is not None:  # an unspooled in-memory upload cannot resume: drop it
                self._forget(state, terminate=True)
            raise  # a file's state stays: uploading the file again resumes the creation
        return self._run(state, on_progress, cancel, resumed=False)

    def resume_pending(self) -> list[PendingUpload]:
        """The unfinished uploads that can be resumed, oldest first (no network).

        States of in-memory sources that were never spooled (the app stopped first) cannot be
        resumed: they are removed here, and their server copies are terminated when possible.
        """
        result = []
        for state in self._states():
            if state.source.get("kind") == "memory":
                self._forget(state, terminate=True)
                continue
            result.append(state.pending())
        return sorted(result, key=lambda p: p.created_at)

    def resume(self, upload: PendingUpload | str, *, on_progress: Progress | None = None,
               cancel: threading.Event | None = None) -> UploadResult:
        """Continue a pending upload (:meth:`resume_pending`) from where the server stands.

        Args:
            upload: a :class:`PendingUpload` or its ``local_id``.
            on_progress, cancel: as for :meth:`upload`.

        Raises:
            KeyError: no pending upload with this id.
            UploadSourceChanged: the file is not the one the upload began with (the upload
                was cancelled; upload the file again).
            the errors of :meth:`upload`.
        """
        local_id = upload.local_id if isinstance(upload, PendingUpload) else str(upload)
        state = self._load(local_id)
        if state is None:
            raise KeyError("no pending upload with this id")
        if state.source.get("kind") == "file":
            try:
                identity = _file_identity(Path(state.source["path"]), state.chunk_size)
            except OSError:
                identity = None
            if identity != state.source:
                self._check_pins(state)
                self._forget(state, terminate=True)
                raise UploadSourceChanged("source_changed", "the file is not the one this upload "
                                          "began with (changed, moved or deleted); the upload was "
                                          "cancelled: upload the file again", state.upload_id)
        return self._run(state, on_progress, cancel, resumed=True)

    def cancel(self, upload: PendingUpload | str) -> bool:
        """Cancel a pending upload: tus ``DELETE`` on the server (best effort), local state and
        spool removed. Returns False when there was no such pending upload."""
        local_id = upload.local_id if isinstance(upload, PendingUpload) else str(upload)
        state = self._load(local_id)
        if state is None:
            return False
        self._forget(state, terminate=True)
        return True

    def discard(self, *, items: Iterable[str] | None = None,
                purposes: Iterable[str] | None = None, keep_path: str | None = None,
                terminate: bool = True) -> int:
        """Cancel every pending upload of *items* and of *purposes* (``None``: any), e.g. after
        the consent for them was withdrawn: the local state and spool are always removed; with
        *terminate* the server's copy gets a tus ``DELETE`` (best effort: never raises for
        it). *keep_path*: a pending upload of this very file path is kept (it may resume).
        Returns how many were discarded."""
        count = 0
        for state in _matching_states(self._store, items, purposes):
            if keep_path is not None and state.source.get("kind") == "file" and \
                    state.source.get("path") == keep_path:
                continue
            try:
                self._forget(state, terminate=terminate)
            except Exception as exc:  # noqa: BLE001 - the local part must happen anyway
                logger.info("discarding an upload: %s; removed on the device only",
                            type(exc).__name__)
                _forget_local(self._store, self._data_dir, state)
            count += 1
        return count

    # -- state ------------------------------------------------------------------------------

    def _save(self, state: _State) -> None:
        self._store.put(STATE_NAMESPACE, state.local_id, state.to_json(), purpose=state.purpose)

    def _load(self, local_id: str) -> _State | None:
        return _read_state(self._store, local_id)

    def _states(self) -> list[_State]:
        return _matching_states(self._store)

    def _pending_for(self, identity: dict[str, Any], item: str, purpose: str,
                     consent_id: str) -> _State | None:
        """The pending upload of this very file (same identity and parameters), if any;
        pending uploads of the same path whose file changed are cancelled."""
        match = None
        for state in self._states():
            if state.source.get("kind") != "file" or state.source.get("path") != identity["path"]:
                continue
            if state.source == identity and (state.item, state.purpose, state.consent_id) == (item, purpose, consent_id):
                match = state
            elif state.source != identity:
                self._forget(state, terminate=True)  # stale: the file was replaced
        return match

    def _forget(self, state: _State, *, terminate: bool) -> None:
        """Remove the local state and spool; with *terminate*, DELETE the server's copy
        (best effort: errors are logged without details and ignored)."""
        if terminate and state.upload_id is not None and state.location is not None:
            try:
                response = self._call("DELETE", state.location, "DELETE /v1/uploads/{id}")
                response.close()
            except TransportError as exc:
                logger.info("could not terminate an upload on the server (%s)", type(exc).__name__)
        _forget_local(self._store, self._data_dir, state)

    # -- HTTP -------------------------------------------------------------------------------

    def _call(self, method: str, path: str, what: str, *, headers: Mapping[str, str] | None = None,
              data: bytes | Iterable[bytes] | None = None) -> requests.Response:
        """One tus request through the client (a cut connection is ``ServerUnavailable``,
        retried by the caller); every answer is returned for the caller to read."""
        all_headers = {"Tus-Resumable": TUS_VERSION, **(headers or {})}
        return self._api.request(method, path, headers=all_headers, data=data, what=what,
                                 check=False)

    @staticmethod
    def _answer(response: requests.Response) -> tuple[str, str, dict[str, Any]]:
        """(error code, message, body) of an answer; the body is read and the answer closed."""
        try:
            body = response.json() if response.content else {}
        except ValueError:
            body = {}
        finally:
            response.close()
        if not isinstance(body, dict):
            body = {}
        code = str(body.get("error") or f"http_{response.status_code}")
        return code, str(body.get("message") or response.reason or ""), body

    def _check_cancel(self, cancel: threading.Event | None, state: _State | None) -> None:
        if cancel is not None and cancel.is_set():
            if state is not None:
                self._forget(state, terminate=True)
            raise UploadCancelled("cancelled", "the upload was cancelled; nothing is kept",
                                  state.upload_id if state else None)

    def _wait(self, attempt: int, cancel: threading.Event | None, floor: float = 0.0) -> None:
        delay = max(backoff_delay(attempt, self.backoff, self.max_backoff, self._rng),
                    min(self.max_backoff, floor * (2 ** attempt)))
        if delay <= 0:
            return
        if cancel is not None:
            cancel.wait(delay)
        else:
            time.sleep(delay)

    def _retry(self, attempt: int, cancel: threading.Event | None, message: str,
               upload_id: str | None, cause: BaseException | None = None, floor: float = 0.0) -> int:
        """One more failed attempt: ``UploadError("interrupted", message)`` after
        ``max_attempts`` in a row, else wait out the backoff; returns the new count."""
        attempt += 1
        if attempt >= self.max_attempts:
            raise UploadError("interrupted", message, upload_id) from cause
        self._wait(attempt - 1, cancel, floor)
        return attempt

    def _reject(self, state: _State, code: str, message: str,
                body: Mapping[str, Any] | None = None) -> UploadRejected:
        self._forget(state, terminate=False)  # the server already deleted it
        return UploadRejected(code, f"the server refused the upload ({code}): {message}",
                              state.upload_id, _scopes(body))

    def _create(self, state: _State, cancel: threading.Event | None) -> None:
        """tus creation (``POST /v1/uploads``), retried with the same Idempotency-Key."""
        what = "POST /v1/uploads"
        refetched = False
        attempt = 0
        while True:
            self._check_cancel(cancel, state)
            headers = {
                "Upload-Length": str(state.length),
                "Upload-Metadata": encode_metadata({
                    "kid": state.kid, "purpose": state.purpose, "consent": state.consent_id,
                    "chunk_size": str(state.chunk_size), "plaintext_length": str(state.plaintext_length),
                    "item": state.item, "content_type": state.content_type,
                }),
                "Idempotency-Key": state.idempotency_key,
            }
            try:
                response = self._call("POST", "/v1/uploads", what, headers=headers, data=b"")
            except ServerUnavailable as exc:
                attempt = self._retry(attempt, cancel, f"{what}: the server could not be reached; "
                                      "the upload is pending: resume it later", None, exc)
                continue
            status = response.status_code
            code, message, body = self._answer(response)
            if status in (200, 201):
                upload_id, location = body.get("upload_id"), response.headers.get("Location")
                if not isinstance(upload_id, str) or not location or not location.rstrip("/").endswith(upload_id):
                    raise TransportError(f"{what}: the answer has no usable upload_id and Location")
                self._api.url(location)  # refuses another origin before it is kept
                state.upload_id, state.location = upload_id, location
                self._save(state)
                return
            if status == 401:  # the state stays: after a login, the same creation is retried
                raise NotLoggedIn(f"{what}: not logged in, or the session ended; log in again")
            if status == 422 and code in ("key_retired", "unknown_key") and not refetched:
                refetched = True  # the key rotated since it was fetched: take the new one
                state.set_key(_env.fetch_current_key(self._api, self._pins))
                state.idempotency_key = str(uuid.uuid4())
                self._save(state)
                continue
            if status >= 500:
                attempt = self._retry(attempt, cancel, f"{what}: the server kept answering {status}; "
                                      "the upload is pending: resume it later", None)
                continue
            self._forget(state, terminate=False)
            raise UploadRejected(code, f"{what}: the server refused the upload ({status} {code}): {message}",
                                 scopes=_scopes(body))

    def _spool(self, state: _State, data: memoryview, cancel: threading.Event | None) -> None:
        """Seal an in-memory source into ``<data_dir>/uploads/<local_id>.sealed`` (ciphertext
        only, mode 0600), then record the spool in the state."""
        folder = self._data_dir / SPOOL_DIR
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        final = _spool_path(self._data_dir, state.local_id)
        part = final.with_suffix(".part")
        fd = os.open(part, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                for index in range(state.chunks):
                    self._check_cancel(cancel, state)
                    start = index * state.chunk_size
                    out.write(state.seal(index, bytes(data[start:start + state.chunk_size])))
                out.flush()
                os.fsync(out.fileno())
            os.replace(part, final)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        state.source = {"kind": "spool", "path": str(final)}
        self._save(state)

    def _head(self, state: _State) -> int:
        """The server's offset (``HEAD``); raises for a refused or unknown upload."""
        assert state.location is not None
        response = self._call("HEAD", state.location, "HEAD /v1/uploads/{id}")
        if response.status_code == 200:
            response.close()
            return self._offset(state, response.headers.get("Upload-Offset"))
        if response.status_code >= 500:
            response.close()
            raise ServerUnavailable(f"HEAD /v1/uploads/{{id}}: the server answered {response.status_code}")
        self._raise_answer(state, response, "HEAD /v1/uploads/{id}")

    def _head_retrying(self, state: _State, cancel: threading.Event | None) -> int:
        """:meth:`_head`, retried like a PATCH when the server cannot be reached."""
        attempt = 0
        while True:
            try:
                return self._head(state)
            except ServerUnavailable as exc:
                attempt = self._retry(attempt, cancel, "the server could not be reached; the upload "
                                      "is pending: resume it later", state.upload_id, exc)
                self._check_cancel(cancel, state)

    def _offset(self, state: _State, header: str | None) -> int:
        if header is None or not (header.isascii() and header.isdigit()):
            raise UploadError("bad_offset", "the server's answer has no valid Upload-Offset", state.upload_id)
        offset = int(header)
        if offset > state.length or (offset != state.length and offset % state.record_size):
            raise UploadError("bad_offset", "the server's Upload-Offset is not on a record boundary",
                              state.upload_id)
        return offset

    def _raise_answer(self, state: _State, response: requests.Response, what: str) -> NoReturn:
        """Raise the error for a final (not retried) answer."""
        status = response.status_code
        code, message, body = self._answer(response)
        if status == 401:
            raise NotLoggedIn(f"{what}: not logged in, or the session ended; log in and resume")
        if status in (403, 404, 410, 422) or code in _REJECTING:
            reason = code
            if status == 410 and state.location is not None:  # HEAD has no body: ask why
                try:
                    reason = str(self._answer(self._call("GET", state.location, "GET /v1/uploads/{id}"))[2]
                                 .get("reason") or code)
                except TransportError:
                    pass
            raise self._reject(state, reason, message or "the upload was deleted", body)
        raise UploadError(code, f"{what}: the server answered {status} {code}: {message}", state.upload_id)

    def _check_pins(self, state: _State) -> None:
        _env.require_pins(self._pins)  # no_pins first, before the state's key is parsed
        _env.check_pinned(state.key(), self._pins)

    # -- the transfer -----------------------------------------------------------------------

    def _patch(self, state: _State, records: _Records, offset: int, meter: _Meter,
               cancel: threading.Event | None) -> requests.Response:
        """One PATCH from *offset*: with a checksum, one record and its digest; else whole
        records (up to ``patch_size``) streamed, sealed as they are read."""
        first = offset // state.record_size
        headers = {"Upload-Offset": str(offset), "Content-Type": _OFFSET_TYPE}
        body: bytes | _PatchBody
        if self.checksum is not None:
            body = records.record(first)
            digest = hashlib.new(self.checksum, body).digest()
            headers["Upload-Checksum"] = f"{self.checksum} {base64.b64encode(digest).decode('ascii')}"
            meter.sent += len(body)
        else:
            count = max(1, self.patch_size // state.record_size)
            body = _PatchBody(records, first, min(state.chunks, first + count), offset, meter, cancel)
        return self._call("PATCH", state.location or "", "PATCH /v1/uploads/{id}",
                          headers=headers, data=body)

    def _run(self, state: _State, on_progress: Progress | None, cancel: threading.Event | None,
             *, resumed: bool) -> UploadResult:
        self._check_pins(state)
        self._check_cancel(cancel, state)
        if state.upload_id is None:
            self._create(state, cancel)
        records = _Records(state)
        meter = _Meter(state.length, on_progress)
        try:
            offset = self._head_retrying(state, cancel) if resumed else 0
            meter.report(offset)
            attempt = 0
            while offset < state.length:
                self._check_cancel(cancel, state)
                failure: BaseException
                floor = 0.0
                try:
                    response = self._patch(state, records, offset, meter, cancel)
                except ServerUnavailable as exc:
                    failure = exc
                except UploadSourceChanged:
                    records.close()
                    self._forget(state, terminate=True)
                    raise
                except _Stopped:
                    self._check_cancel(cancel, state)
                    raise AssertionError("unreachable")  # pragma: no cover
                else:
                    status = response.status_code
                    if status == 204:
                        response.close()
                        new_offset = self._offset(state, response.headers.get("Upload-Offset"))
                        if new_offset <= offset:
                            raise UploadError("bad_offset", "the server did not move the offset",
                                              state.upload_id)
                        offset = new_offset
                        attempt = 0
                        meter.report(offset)
                        continue
                    if status not in (409, 423, 460) and status < 500:
                        self._raise_answer(state, response, "PATCH /v1/uploads/{id}")
                    code, message, _ = self._answer(response)
                    failure = UploadError(code, f"PATCH: {status} {code}: {message}", state.upload_id)
                    floor = _LOCKED_FLOOR if status == 423 else 0.0
                attempt = self._retry(attempt, cancel, "the upload stopped: the server could not "
                                      "be reached or kept failing; it is pending, resume it later",
                                      state.upload_id, failure, floor)
                self._check_cancel(cancel, state)
                try:
                    offset = self._head(state)  # where the server stands (a lost answer too)
                except ServerUnavailable:
                    pass  # keep the offset; the next PATCH tells (409) if it moved
        finally:
            records.close()
        self._forget(state, terminate=False)
        return UploadResult(
            upload_id=str(state.upload_id), item=state.item, purpose=state.purpose, kid=state.kid,
            length=state.length, plaintext_length=state.plaintext_length, sent_bytes=meter.sent,
            resumed=resumed,
        )


class _Stopped(Exception):
    """Raised from inside a PATCH body when the app cancels (not an OSError: nothing retries it)."""


class _Meter:
    """Progress: calls ``on_progress(done, total, rate)`` with *done* never decreasing."""

    def __init__(self, total: int, on_progress: Progress | None) -> None:
        self.total = total
        self.on_progress = on_progress
        self.sent = 0  # sealed bytes handed to the connection by this call
        self.done = -1
        self.started = time.monotonic()

    def report(self, done: int) -> None:
        if done <= self.done:
            return
        self.done = done
        if self.on_progress is not None:
            elapsed = time.monotonic() - self.started
            self.on_progress(done, self.total, self.sent / elapsed if self.sent and elapsed > 0 else 0.0)


class _PatchBody:
    """The body of one streamed PATCH: sealed records *first* .. *stop* - 1, sealed as they
    are read (memory: one record). Has a length (so ``Content-Length`` is sent, not chunked
    encoding) and rewinds to its start (urllib3 retries a request by seeking back)."""

    def __init__(self, records: _Records, first: int, stop: int, offset: int, meter: _Meter,
                 cancel: threading.Event | None) -> None:
        self._records = records
        self._first = first
        self._stop = stop
        self._offset = offset
        self._meter = meter
        self._cancel = cancel
        self._length = sum(records.state.record_length(i) for i in range(first, stop))
        self.seek(0)

    def __len__(self) -> int:
        return self._length

    def tell(self) -> int:
        return self._position

    def seek(self, position: int, whence: int = 0) -> int:
        if position != 0 or whence != 0:
            raise OSError("a PATCH body rewinds only to its start")
        self._index = self._first
        self._current = memoryview(b"")
        self._position = 0
        return 0

    def read(self, size: int = -1) -> bytes:
        if not self._current:
            if self._index >= self._stop:
                return b""
            if self._cancel is not None and self._cancel.is_set():
                raise _Stopped
            self._current = memoryview(self._records.record(self._index))
            self._index += 1
        size = len(self._current) if size is None or size < 0 else size
        piece = bytes(self._current[:size])
        self._current = self._current[size:]
        self._position += len(piece)
        self._meter.sent += len(piece)
        if not self._current:  # a whole record handed over
            self._meter.report(self._offset + self._position)
        return piece
