"""The camera facade: :class:`Camera` (``privacy.camera``).

Every capture passes the consent + permission gate (:mod:`sdk.capture._gate`) before a camera
is opened or a file read, stops at once when the permission is revoked during it, and hands
the media out in memory or in a file the caller named (:class:`~sdk.capture.media.Capture`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import ConfigError, SdkError
from . import _gate
from .backend import (
    CameraBackend,
    CaptureRequest,
    Selection,
    StopSignal,
    select_backend,
)
from .errors import CaptureError
from .media import Capture, check_dest, write_private

__all__ = ["Camera"]

log = logging.getLogger(__name__)

#: Which permission -> which source: the camera, or an existing file (the photo library).
_SOURCE_OF_PERMISSION = {"camera": "camera", "photos": "library"}


class Camera:
    """Capture images and videos of the manifest's camera and photo-library data items.

    Args:
        privacy: the :class:`sdk.PrivacySdk` (its gate, audit trail and manifest).
        backend: a backend instance, or a backend name (``PRIVACY_SDK_CAMERA`` still wins);
            ``None`` selects one (:func:`sdk.capture.select_backend`).
        fallback: when no camera is viable: ``file`` (default), ``synthetic`` (headless demo,
            QA) or ``fail``.
        permissions: the permission facade; default ``privacy.permissions``.
        library: the source of photo-library items (default: the ``file`` source).

    Attributes:
        selection: how the camera backend was chosen (``.message`` explains a fallback).
    """

    def __init__(self, privacy: Any, *, backend: CameraBackend | str | None = None,
                 fallback: str = "file", permissions: Any = None,
                 library: CameraBackend | None = None) -> None:
        self._privacy = privacy
        self._permissions = permissions
        if backend is None or isinstance(backend, str):
            self.selection = select_backend(backend, fallback=fallback)
        else:
            self.selection = Selection(backend, "app")
        if library is None:
            from .backends.file import FileSource

            library = FileSource()
        self.library = library
        #: Seconds between polls of the permission while recording (besides the listener).
        self.poll_interval = 0.25
        self._lock = threading.Lock()
        self._stop: StopSignal | None = None

    @property
    def privacy(self) -> Any:
        """The :class:`sdk.PrivacySdk` this camera collects for (its gate, audit trail and
        manifest)."""
        return self._privacy

    @property
    def backend(self) -> CameraBackend:
        """The camera backend (for items that need the ``camera`` permission)."""
        return self.selection.backend

    @property
    def permissions(self) -> Any:
        """The permission facade: the one given, else ``privacy.permissions`` (looked up at
        each capture, so an app may assign another one later)."""
        if self._permissions is not None:
            return self._permissions
        return _gate.permissions_of(self._privacy)

    # -- the public calls -------------------------------------------------------------------

    def record_video(self, *, feature: str, item: str = "face_video", purpose: str | None = None,
                     seconds: float = 2.0, dest: Path | str | None = None,
                     source: Path | str | None = None,
                     on_frame: Callable[[int], None] | None = None) -> Capture:
        """Record a video of *item* (default ``face_video``) for *feature*.

        See :meth:`capture` for the gate, the arguments and the errors.
        """
        return self.capture(item, purpose, feature=feature, kind="video", seconds=seconds,
                            dest=dest, source=source, on_frame=on_frame)

    def take_photo(self, item: str, *, feature: str, purpose: str | None = None,
                   dest: Path | str | None = None, source: Path | str | None = None) -> Capture:
        """Take a photo of *item* for *feature* (see :meth:`capture`)."""
        return self.capture(item, purpose, feature=feature, kind="photo", dest=dest, source=source)

    def pick(self, source: Path | str, *, feature: str, item: str = "review_document",
             purpose: str | None = None, kind: str = "photo",
             dest: Path | str | None = None) -> Capture:
        """Take the image (or video) the user chose from the photo library as *item* (default
        ``review_document``, which needs the ``photos`` permission). See :meth:`capture`."""
        return self.capture(item, purpose, feature=feature, kind=kind, source=source, dest=dest)

    def capture(self, item: str, purpose: str | None = None, *, feature: str,
                kind: str = "video", seconds: float = 2.0, dest: Path | str | None = None,
                source: Path | str | None = None,
                on_frame: Callable[[int], None] | None = None,
                max_bytes: int = 100 * 1024 * 1024) -> Capture:
        """Capture *item* for *purpose* inside *feature*: the one way to the camera.

        In order: the request is checked (item, feature, backend; nothing read); the consent
        gate (:meth:`sdk.PrivacySdk.collect`, refusals audited); the OS permission the
        manifest declares for the item (``camera`` for ``face_video``, ``photos`` for
        ``review_document``) must be granted already (this never prompts); the gate writes the
        ``allowed`` audit entry; then the camera opens (or the chosen file is read). Items
        needing ``camera`` use :attr:`backend`; items needing ``photos`` use :attr:`library`
        (an existing file, ``source=``).

        While it runs, a change of that permission to anything but ``granted`` (announced by
        ``privacy.permissions``, e.g. its ``refresh()`` on resume, which also writes
        ``revoked`` to the audit trail) stops it at once: no further frame is taken or
        written, nothing of it is handed out or written to *dest*, and
        :class:`CaptureInterrupted` is raised. Earlier captures are left as they were.

        Blocks until the capture ends: call it from a worker thread in a UI app.

        Args:
            item: a manifest data item whose permission is ``camera`` or ``photos``.
            purpose: a purpose the item is declared for; default: its only one.
            feature: the manifest feature collecting it; must be one the item is required
                for (OBL-PERM-1: the camera only inside the features that need it).
            kind: ``video`` or ``photo``.
            seconds: video length.
            dest: a temp path of the caller's to receive the media (mode 0600, written only
                when complete); default: memory only.
            source: the file the user chose (``file`` source / photo library).
            on_frame: progress callback (frame number), on the capturing thread.
            max_bytes: the largest media accepted.

        Returns:
            the :class:`Capture` (hand it to the upload step, then ``discard()`` it).

        Raises:
            ConfigError: the item is not a camera/photo-library item, or the feature or
                purpose does not fit it.
            CameraUnavailable: no camera here (the message says why and what to do), or the
                source is missing; InvalidMedia: the chosen file is not accepted.
            ConsentRequired (and the other ConsentErrors): the gate refused (audited).
            PermissionNotGranted: the permission is not granted (nothing opened).
            CaptureInterrupted: stopped by a revocation or :meth:`stop`.
            CaptureError: another capture is running, or *dest* cannot be written.
        """
        permission, purpose = self._check_item(item, purpose, feature)
        if kind not in ("video", "photo"):
            raise ConfigError("kind must be 'video' or 'photo'")
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
            raise ConfigError(f"seconds must be a number, not a {type(seconds).__name__}")
        if not 0 < seconds <= 120:
            raise ConfigError("seconds must be more than 0 and at most 120")
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes <= 0:
            raise ConfigError("max_bytes must be a positive whole number of bytes")
        source_path = _path_argument("source", source)
        dest_path = _path_argument("dest", dest)
        backend = self.backend if _SOURCE_OF_PERMISSION[permission] == "camera" else self.library
        if backend.source == "library" and permission == "camera":
            # the user picks an existing file (the desktop fallback): the camera is not used,
            # so its permission is not needed; consent and the item's gate still are
            permission = None
        permissions = self.permissions if permission is not None else None
        stop = StopSignal()
        last_poll = [time.monotonic()]

        def frame_hook(n: int) -> None:
            if on_frame is not None:
                on_frame(n)
            if not stop.is_set() and time.monotonic() - last_poll[0] >= self.poll_interval:
                last_poll[0] = time.monotonic()
                self._still_allowed(permissions, permission, item, purpose, stop)

        request = CaptureRequest(kind, float(seconds), source_path, max_bytes,
                                 frame_hook)  # type: ignore[arg-type]
        # everything that needs no personal data is checked before the gate, so an
        # ``allowed`` entry is written only when the capture really follows
        backend.check(request)
        if dest_path is not None:
            check_dest(dest_path)
        if not self._lock.acquire(blocking=False):
            raise CaptureError("a capture is already running; stop() it or wait for it to end")
        self._stop = stop
        removers: list[Callable[[], None]] = []
        try:
            removers.append(self._listen_consent(item, purpose, stop))
            if permissions is not None:
                removers.append(self._listen(permissions, permission, stop))
        except BaseException:
            for remove in removers:
                remove()
            self._stop = None
            self._lock.release()
            raise
        try:
            entry = _gate.gate(self._privacy, permissions, item, purpose, feature, permission)
            media = backend.capture(request, stop)
            if not stop.is_set():
                self._still_allowed(permissions, permission, item, purpose, stop)
            if stop.is_set():
                raise stop.interrupted(media.frames or 0)
            if dest_path is not None:
                write_private(dest_path, media.data)
            return Capture(media, item=item, purpose=purpose, feature=feature, kind=kind,
                           backend=backend.name, audit_seq=getattr(entry, "seq", None),
                           path=dest_path)
        finally:
            for remove in removers:
                remove()
            self._stop = None
            self._lock.release()

    def stop(self) -> bool:
        """Stop the running capture (the user cancelled); it raises
        ``CaptureInterrupted(reason="stopped")``. Returns whether one was running."""
        stop = self._stop
        if stop is None:
            return False
        stop.set("stopped")
        return True

    @property
    def capturing(self) -> bool:
        """Whether a capture is running on this camera."""
        return self._stop is not None

    # -- plumbing -------------------------------------------------------------------------

    def _check_item(self, item: str, purpose: str | None, feature: str) -> tuple[str, str]:
        manifest = self._privacy.policy.manifest
        items = {str(i.id): i for i in manifest.data_items}
        declared = items.get(item)
        if declared is None:
            raise ConfigError(f"data item '{item}' is not declared in the policy manifest")
        permission = declared.permission
        if permission not in _SOURCE_OF_PERMISSION:
            raise ConfigError(
                f"data item '{item}' is not taken with the camera or from the photo library "
                f"(its manifest permission is {permission or 'none'}; camera or photos is needed)")
        features = {str(f.id) for f in manifest.features}
        if feature not in features:
            raise ConfigError(f"feature '{feature}' is not declared in the policy manifest")
        needs = tuple(declared.required_for)
        if needs and feature not in needs:
            raise ConfigError(
                f"'{item}' is collected only in the features that need it ({', '.join(needs)}), "
                f"not in '{feature}' (OBL-PERM-1)")
        purposes = tuple(str(p) for p in declared.purposes)
        if purpose is None:
            if len(purposes) != 1:
                raise ConfigError(f"name the purpose for '{item}': one of {', '.join(purposes)}")
            purpose = purposes[0]
        return str(permission), purpose

    def _still_allowed(self, permissions: Any, permission: str | None, item: str,
                       purpose: str, stop: StopSignal) -> None:
        """The poll while capturing and before the hand-out: the consent, then the
        permission (listener calls may come late or not at all)."""
        if _gate.consent_missing(self._privacy, item, purpose):
            stop.set("consent_withdrawn")
            return
        if permission is not None:
            self._still_usable(permissions, permission, stop)

    def _listen_consent(self, item: str, purpose: str, stop: StopSignal) -> Callable[[], None]:
        """Stop *stop* when a consent the capture needs is withdrawn (``withdraw()`` of the
        policy, of ``purpose:<p>`` or of ``item:<id>``); return the unsubscribe call."""
        scopes = {"policy", f"purpose:{purpose}", f"item:{item}"}
        add = getattr(self._privacy, "add_listener", None)
        if not callable(add):
            return lambda: None

        def on_change(change: Any) -> None:
            scope = str(getattr(change, "scope", ""))
            if scope in scopes and str(getattr(change, "after", "")) != "granted":
                stop.set("consent_withdrawn")

        remove = add(on_change)
        return remove if callable(remove) else (lambda: None)  # type: ignore[no-any-return]

    @staticmethod
    def _still_usable(permissions: Any, permission: str, stop: StopSignal) -> None:
        """Poll the permission (for dispatchers that deliver listener calls later, e.g. on a
        busy UI thread); when it is no longer usable, stop, and let the facade record and
        announce it (``refresh`` writes ``revoked``)."""
        status = _gate.permission_status(permissions, permission)
        if _gate.usable(status):
            return
        stop.set(_stop_reason(status), permission)
        try:
            permissions.refresh(permission)
        except SdkError as exc:
            log.warning("permission change not recorded (%s)", type(exc).__name__)

    @staticmethod
    def _listen(permissions: Any, permission: str, stop: StopSignal) -> Callable[[], None]:
        """Stop *stop* when *permission* stops being usable; return the unsubscribe call."""

        def on_change(change: Any) -> None:
            after = getattr(change, "after", "")
            if str(getattr(change, "permission", "")) == permission and not _gate.usable(after):
                stop.set(_stop_reason(after), permission)

        remove = permissions.add_listener(on_change)
        if callable(remove):
            return remove  # type: ignore[no-any-return]
        remover = getattr(permissions, "remove_listener", None)
        return (lambda: remover(on_change)) if callable(remover) else (lambda: None)

    def __repr__(self) -> str:
        return f"<Camera backend={self.backend.name!r} chosen_by={self.selection.chosen_by!r}>"


def _path_argument(name: str, value: Any) -> Path | None:
    """*value* (``str`` or ``os.PathLike`` of ``str``) as a Path; a ConfigError otherwise."""
    if value is None:
        return None
    if isinstance(value, Path):
        return value
    if isinstance(value, str) or (isinstance(value, os.PathLike)
                                  and isinstance(os.fspath(value), str)):
        if not os.fspath(value):
            raise ConfigError(f"{name} must name a file, not an empty path")
        return Path(value)
    raise ConfigError(f"{name} must be a path (str or pathlib.Path), not a "
                      f"{type(value).__name__}")


def _stop_reason(status: Any) -> str:
    """``unavailable`` when the camera went away (unplugged), else ``permission_revoked``."""
    return "unavailable" if _gate.status_text(status) == "unavailable" else "permission_revoked"
