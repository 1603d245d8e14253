"""Camera backends and their selection (modelled on :mod:`sdk.storage.keystore`).

Backends (each platform or optional library is imported only when that backend captures)::

    name        source    produces            needs
    android     camera    video, photo        Android, pyjnius, the app's FileProvider (the OS camera
                                              app with a content:// URI; sdk.capture.android)
    plyer       camera    video, photo        Android or iOS (plyer.camera; iOS: photo only)
    opencv      camera    video, photo        a webcam; extra 'webcam' (opencv-python-headless, av)
    synthetic   camera    video, photo        extra 'synthetic' (av); generated frames, QA/headless
    file        library   video, photo        an existing image or video chosen by the user
    fail        -         -                   nothing: every capture raises CameraUnavailable

Selection (:func:`select_backend`): the environment variable ``PRIVACY_SDK_CAMERA``
(``android|plyer|opencv|synthetic|file|fail``) wins; else the app's *preferred* backend; else the
first *viable* of ``android``, ``plyer``, ``opencv``; else the *fallback* (``file`` by default: the user picks an
existing image or video; ``synthetic`` for a headless demo or QA; ``fail``). A backend chosen by
name that is not viable is never swapped for another: the ``fail`` backend explains why. A
fallback is never silent: :attr:`Selection.message` names what each backend lacked, and it is
logged once. On Android, ``plyer`` chosen because ``android`` is not viable (no FileProvider
declared) is not silent either: :attr:`Selection.message` gives the reason and plyer's limits.
``android`` is imported only on Android. ``synthetic`` is never chosen automatically: a generated
face video must not reach a real verification unless someone asked for it.

Backends write nothing to disk: they return the media as bytes (the ``android`` and ``plyer``
backends let the OS camera app write a scratch file, read it and delete it at once). They stop at once when
the :class:`StopSignal` is set and then raise :class:`~sdk.capture.errors.CaptureInterrupted`.
"""

from __future__ import annotations

import abc
import importlib
import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

from ..errors import ConfigError
from . import _platform
from .errors import CaptureInterrupted

__all__ = [
    "BACKEND_NAMES",
    "ENV_VAR",
    "CameraBackend",
    "CaptureRequest",
    "Media",
    "Selection",
    "StopSignal",
    "backend_class",
    "select_backend",
]

log = logging.getLogger(__name__)

#: Environment variable that forces a backend by name (QA, CI, headless machines).
ENV_VAR = "PRIVACY_SDK_CAMERA"

Kind = Literal["video", "photo"]
Source = Literal["camera", "library", "none"]

_BACKENDS: dict[str, str] = {
    "android": "sdk.capture.backends.android_camera:AndroidCamera",
    "plyer": "sdk.capture.backends.plyer_camera:PlyerCamera",
    "opencv": "sdk.capture.backends.opencv:OpenCvCamera",
    "synthetic": "sdk.capture.backends.synthetic:SyntheticCamera",
    "file": "sdk.capture.backends.file:FileSource",
    "fail": "sdk.capture.backends.fail:FailCamera",
}

#: Backend names :func:`select_backend` knows.
BACKEND_NAMES: tuple[str, ...] = tuple(_BACKENDS)

#: Camera backends tried automatically, best first.
_AUTO_ORDER = ("android", "plyer", "opencv")
#: Backends for one platform only (Kivy's name): elsewhere not even their module is imported.
_ONLY_ON = {"android": "android"}
#: What a fallback from a platform's own backend to the next one means (``Selection.message``).
_INSTEAD = {
    ("android", "plyer"): (
        "Using plyer's camera instead, with its documented limits: it gives the camera app a "
        "file:// path, so on Android 11 and later the camera app is expected to return nothing "
        "(docs/permissions.md, \"Android: plyer's file:// URI\")."),
}
_FALLBACKS = ("file", "synthetic", "fail")


class StopSignal:
    """Set once to stop a running capture; remembers why (first reason wins)."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self.reason: str | None = None
        self.permission: str | None = None

    def set(self, reason: str = "stopped", permission: str | None = None) -> None:
        with self._lock:
            if self.reason is None:
                self.reason, self.permission = reason, permission
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._event.wait(timeout)

    def interrupted(self, frames: int = 0) -> CaptureInterrupted:
        """The error to raise now that the signal is set."""
        return CaptureInterrupted(self.reason or "stopped", frames, self.permission)


@dataclass(frozen=True)
class CaptureRequest:
    """What to capture.

    Attributes:
        kind: ``video`` or ``photo``.
        seconds: length of a video.
        source: for the ``file`` backend, the file the user chose (read, never changed).
        max_bytes: the largest media accepted.
        on_frame: called with the frame number after each video frame is encoded (progress
            for a UI; tests use it to act at a given frame). Runs on the capturing thread.
    """

    kind: Kind = "video"
    seconds: float = 2.0
    source: Path | None = None
    max_bytes: int = 100 * 1024 * 1024
    on_frame: Callable[[int], None] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, repr=False)
class Media:
    """What a backend captured: the bytes and what they are."""

    data: bytes
    media_type: str
    frames: int | None = None
    duration: float | None = None
    width: int | None = None
    height: int | None = None

    def __repr__(self) -> str:  # never the bytes
        return (f"Media(media_type={self.media_type!r}, size={len(self.data)}, "
                f"frames={self.frames}, duration={self.duration})")


class CameraBackend(abc.ABC):
    """One way to get an image or a video.

    Attributes:
        name: as accepted by ``PRIVACY_SDK_CAMERA``.
        source: ``camera`` (opens a camera: the ``camera`` permission) or ``library`` (reads
            an existing file: the photo library, the ``photos`` permission).
        kinds: what it can produce.
    """

    name: ClassVar[str] = "abstract"
    source: ClassVar[Source] = "camera"
    kinds: ClassVar[frozenset[str]] = frozenset({"video", "photo"})

    @classmethod
    @abc.abstractmethod
    def viable(cls) -> tuple[bool, str]:
        """``(True, "")`` or ``(False, one actionable sentence)``. Never raises, never blocks
        for long, never opens a camera."""

    def check(self, request: CaptureRequest) -> None:
        """Raise :class:`CameraUnavailable` or :class:`InvalidMedia` when *request* cannot be
        served, before any gate is passed or camera opened. Reads no personal data."""
        from .errors import CameraUnavailable

        if request.kind not in self.kinds:
            raise CameraUnavailable(
                f"the '{self.name}' camera backend cannot take a {request.kind}; "
                f"it takes: {', '.join(sorted(self.kinds))}")

    @abc.abstractmethod
    def capture(self, request: CaptureRequest, stop: StopSignal) -> Media:
        """Capture; check *stop* before every frame and raise ``stop.interrupted(frames)`` at
        once when it is set, writing nothing more.

        Raises:
            CameraUnavailable: the camera could not be opened or failed.
            CaptureInterrupted: *stop* was set.
        """

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"


@dataclass(frozen=True)
class Selection:
    """The outcome of :func:`select_backend`.

    Attributes:
        backend: the chosen backend.
        chosen_by: ``environment``, ``app``, ``auto`` or ``fallback``.
        reasons: backend name -> why it was not usable (empty when the first choice worked).
        message: one paragraph for logs and QA: what was chosen and why (empty when the
            platform's first camera backend was found automatically).
    """

    backend: CameraBackend
    chosen_by: str
    reasons: Mapping[str, str] = field(default_factory=dict)
    message: str = ""

    @property
    def fallback(self) -> bool:
        return self.chosen_by == "fallback"


def backend_class(name: str) -> type[CameraBackend]:
    """The backend class called *name* (imports its module, not its platform library).

    Raises:
        ConfigError: no backend has that name.
    """
    target = _BACKENDS.get(name)
    if target is None:
        raise ConfigError(f"unknown camera backend '{name}'; choose one of {', '.join(BACKEND_NAMES)}")
    module, _, cls = target.partition(":")
    return getattr(importlib.import_module(module), cls)  # type: ignore[no-any-return]


def _reasons_text(reasons: Mapping[str, str]) -> str:
    return " ".join(f"[{n}] {r.rstrip().rstrip('.')}." for n, r in reasons.items())


def what_to_do() -> str:
    """The sentence every "no camera" message ends with."""
    return ("For a desktop webcam install the extra (pip install 'privacy-sdk[webcam]') and "
            f"connect a camera; for a generated test clip (QA, headless machines) set {ENV_VAR}="
            "synthetic.")


def _fail(reasons: Mapping[str, str], head: str) -> tuple[CameraBackend, str]:
    from .backends.fail import FailCamera

    backend = FailCamera(reasons, head)
    return backend, backend.message


def select_backend(preferred: str | None = None, *, fallback: str = "file") -> Selection:
    """Choose the camera backend here (see the module docstring for the order).

    Args:
        preferred: a backend name the app prefers (the environment variable still wins).
        fallback: used when no camera backend is viable: ``file`` (default), ``synthetic``
            (headless demo, QA) or ``fail``.

    Returns:
        a :class:`Selection`; never raises for a missing camera (the ``fail`` or fallback
        backend reports it when a capture is attempted).

    Raises:
        ConfigError: an unknown backend name (environment, *preferred* or *fallback*).
    """
    if fallback not in _FALLBACKS:
        raise ConfigError(f"camera fallback must be one of {', '.join(_FALLBACKS)}, not '{fallback}'")
    forced = os.environ.get(ENV_VAR, "").strip().lower() or None
    chosen = forced or (preferred.strip().lower() if preferred else None)
    if chosen is not None:
        by = "environment" if forced else "app"
        who = f"the environment variable {ENV_VAR}" if forced else "the app (preferred=)"
        cls = backend_class(chosen)
        ok, reason = cls.viable()
        if not ok:
            reasons = {chosen: reason}
            fail, message = _fail(reasons, f"the camera backend '{chosen}' chosen by {who} "
                                           "cannot be used here.")
            log.warning("camera: %s", message)
            return Selection(fail, by, reasons, message)
        return Selection(cls(), by)

    reasons: dict[str, str] = {}
    here = _platform.platform()
    for name in _AUTO_ORDER:
        only_on = _ONLY_ON.get(name)
        if only_on is not None and only_on != here:
            reasons[name] = (f"the {only_on.capitalize()} camera backend works only in an "
                             f"{only_on.capitalize()} build; this is {here}")
            continue
        cls = backend_class(name)
        ok, reason = cls.viable()
        if ok:
            skipped = {n: r for n, r in reasons.items() if _ONLY_ON.get(n) == here}
            if not skipped:
                return Selection(cls(), "auto")
            instead = " ".join(_INSTEAD.get((n, name), f"Using the '{name}' backend instead.")
                               for n in skipped)
            message = f"{_reasons_text(skipped)} {instead}"
            log.warning("camera: %s", message)
            return Selection(cls(), "auto", skipped, message)
        reasons[name] = reason
    if fallback != "fail":
        cls = backend_class(fallback)
        ok, reason = cls.viable()
        if ok:
            what = ("the user picks an existing image or video (source=)" if fallback == "file"
                    else "a generated test clip stands in for the camera (QA and headless demo "
                    "only)")
            message = (f"no camera is usable here: {_reasons_text(reasons)} Falling back to the "
                       f"'{fallback}' backend: {what}. {what_to_do()}")
            log.info("camera: %s", message)
            return Selection(cls(), "fallback", reasons, message)
        reasons[fallback] = reason
    fail, message = _fail(reasons, "no camera is usable here, so nothing can be captured.")
    log.warning("camera: %s", message)
    return Selection(fail, "fallback", reasons, message)
