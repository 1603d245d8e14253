"""The ``plyer`` camera: the OS camera app on Android (photo and video) and iOS (photo; plyer
has no iOS video), through ``plyer.camera``. plyer has no camera on Linux, macOS or Windows:
there this backend is not viable and the selection falls back (never a crash).

The OS camera app writes the media to a file; this backend gives it a fresh scratch file
(``tempfile.mkstemp`` in ``scratch_dir``, mode 0600), reads the bytes back as soon as the app
reports it, and deletes the file at once, also when the capture is stopped or fails. On
Android plyer needs the ``CAMERA`` permission (ask through ``privacy.permissions``).

**Android: plyer's ``file://`` URI** (kivy/plyer#549, also #500 and #812). plyer hands the
camera app ``Uri.parse("file://" + filename)``; an app targeting API 24+ then dies with
``FileUriExposedException`` when it starts the camera app, because StrictMode forbids
``file://`` URIs leaving the app. The workaround reported in those threads (#500) lifts that
StrictMode check for the rest of the process through a hidden method; here it goes through the
public ``StrictMode.setVmPolicy`` and is narrowed to the one call that starts
the camera app (:func:`_file_uri_allowed`): the app's VM policy is saved, replaced by
``StrictMode.VmPolicy.LAX`` while plyer calls ``startActivityForResult`` (where Android makes
the check, synchronously), and put back right after, also when the call fails. pyjnius is
imported only there, only on Android. With no ``scratch_dir`` the scratch file goes to the
app's external cache dir (``getExternalCacheDir()``): this app needs no permission for it,
and a camera app holding the storage permission may write there (Android 7-9); the app's
internal storage is closed to every other app.

Limits (docs/permissions.md, "Android: plyer's file:// URI"; none of this was run on a device):

- it only stops the crash. The camera app still writes through a plain path, with its own
  storage access: expected to work on Android 7-9 into the external cache dir when it holds
  the storage permission (system camera apps do), on Android 10 only for a camera app still on
  legacy storage; **from Android 11 other apps may not write into this app's folders on
  external storage**, so the camera app is expected to return nothing, and
  the capture then raises :class:`CameraUnavailable` saying so. What works there is a
  ``content://`` URI from an ``androidx.core.content.FileProvider`` declared in the app's
  manifest (plyer PRs #649 and #852, not merged): the ``android`` backend
  (:mod:`sdk.capture.backends.android_camera`), which the selection prefers on Android when
  the app declares the provider; this one is what remains without it;
- while the check is lifted (the few milliseconds of that call) a ``file://`` URI sent by
  another thread of the app is not caught either;
- on Android 7-10 the scratch file is readable, until it is deleted, by other apps holding
  the storage permission.

plyer reports the result through a callback from the platform's activity-result thread;
:meth:`PlyerCamera.capture` blocks until then (call it from a worker thread, not the UI
thread) and returns as soon as the capture is stopped.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

from .. import _platform
from ..backend import CameraBackend, CaptureRequest, Media, StopSignal
from ..errors import CameraUnavailable
from ._java import is_java_error as _is_java_error
from ._java import java_class as _java_class
from .file import sniff

__all__ = ["PlyerCamera"]

log = logging.getLogger(__name__)

#: Android API levels: ``FileUriExposedException`` from 24 (7.0); app folders on external
#: storage closed to other apps from 30 (11).
_API_FILE_URI_EXPOSED = 24
_API_PRIVATE_APP_FOLDERS = 30
_ACTIVITY = "org.kivy.android.PythonActivity"
#: One StrictMode change at a time (the VM policy is process-wide).
_POLICY_LOCK = threading.Lock()


class PlyerCamera(CameraBackend):
    """``plyer.camera`` (Android, iOS).

    Args:
        timeout: seconds to wait for the OS camera app (the user may take their time).
        scratch_dir: where the OS camera app writes; default: on Android the app's external
            cache dir (``Context.getExternalCacheDir()``), elsewhere ``tempfile.gettempdir()``.
    """

    name: ClassVar[str] = "plyer"
    source: ClassVar[str] = "camera"  # type: ignore[assignment]

    def __init__(self, timeout: float = 300.0, scratch_dir: str | None = None) -> None:
        self.timeout = timeout
        self.scratch_dir = scratch_dir

    @classmethod
    def viable(cls) -> tuple[bool, str]:
        where = _platform.platform()
        if where not in ("android", "ios"):
            return False, (f"plyer has no camera on this platform ({where}): its camera facade "
                           "covers Android and iOS only")
        if not _platform.has_module("plyer"):
            return False, "plyer is not in the app (add 'plyer' to the buildozer/kivy-ios requirements)"
        return True, ""

    def check(self, request: CaptureRequest) -> None:
        super().check(request)
        if request.kind == "video" and _platform.on_ios():
            raise CameraUnavailable("plyer records no video on iOS (take_video is not implemented there)")

    def capture(self, request: CaptureRequest, stop: StopSignal) -> Media:
        """Have the OS camera app take a photo or a video, and read it back.

        Returns:
            :class:`Media` with the bytes and their type (from the bytes; ``image/jpeg`` or
            ``video/mp4`` when they are not recognised); width, height, frames and duration
            ``None``.

        Raises:
            CameraUnavailable: plyer has no camera here, pyjnius is missing or StrictMode
                could not be changed (Android), the camera app could not be started, did not
                answer within :attr:`timeout` seconds, returned nothing (cancelled; on
                Android 11+ also: it could not write the scratch file, see the module
                documentation) or more than ``request.max_bytes``.
            CaptureInterrupted: *stop* was set (the scratch file is deleted).
        """
        self.check(request)
        if stop.is_set():
            raise stop.interrupted(0)
        from plyer import camera  # the platform's implementation, imported only now

        android = _platform.on_android()
        scratch_dir = self.scratch_dir
        if android and scratch_dir is None:
            scratch_dir = _android_scratch_dir()
        suffix = ".mp4" if request.kind == "video" else ".jpg"
        fd, path = tempfile.mkstemp(prefix="capture-", suffix=suffix, dir=scratch_dir)
        os.close(fd)
        done = threading.Event()

        def on_complete(_filename: str) -> bool:
            done.set()
            return stop.is_set()  # True: plyer deletes the file itself (stopped meanwhile)

        try:
            try:
                with _file_uri_allowed() if android else contextlib.nullcontext():
                    if request.kind == "video":
                        camera.take_video(filename=path, on_complete=on_complete)
                    else:
                        camera.take_picture(filename=path, on_complete=on_complete)
            except NotImplementedError as exc:
                raise CameraUnavailable("plyer has no camera implementation here") from exc
            except CameraUnavailable:
                raise
            except Exception as exc:
                if not _is_java_error(exc):
                    raise
                # e.g. ActivityNotFoundException (no camera app); the Java message may name
                # the scratch path, so only the exception's class is passed on
                raise CameraUnavailable(
                    f"the OS camera app could not be started ({_java_class(exc)}); check that "
                    "the device has a camera app and that the CAMERA permission is declared "
                    "and granted") from None
            waited = 0.0
            while not done.wait(0.1):
                if stop.is_set():
                    raise stop.interrupted(0)
                waited += 0.1
                if waited >= self.timeout:
                    raise CameraUnavailable(
                        f"the camera app did not answer within {self.timeout:g} s")
            if stop.is_set():
                raise stop.interrupted(0)
            with open(path, "rb") as handle:
                data = handle.read(request.max_bytes + 1)
            if not data:
                if android and _private_app_folders():
                    raise CameraUnavailable(
                        "the camera app returned nothing: cancelled, or (Android 11 and later) "
                        "it may not write into this app's folders through the file:// path "
                        "plyer gives it; a FileProvider content:// URI is needed there: declare "
                        "the SDK's FileProvider and the 'android' camera backend is used "
                        "(docs/permissions.md, \"Android: the camera through a FileProvider\")")
                raise CameraUnavailable("the camera app returned nothing (cancelled)")
            if len(data) > request.max_bytes:
                raise CameraUnavailable(f"the captured media is larger than {request.max_bytes} bytes")
            media_type = sniff(data[:64]) or ("video/mp4" if request.kind == "video" else "image/jpeg")
            return Media(data, media_type)
        finally:
            try:
                os.unlink(path)
            except OSError:
                pass


# -- Android: plyer's file:// URI (kivy/plyer#549; module documentation) -------------------------


def _autoclass() -> Any:
    """pyjnius' ``autoclass``; imported here, only on Android."""
    try:
        from jnius import autoclass
    except ImportError as exc:
        raise CameraUnavailable("pyjnius is not in the app: add 'pyjnius' to the buildozer "
                                "requirements") from exc
    return autoclass


def _android_api_level() -> int:
    """``Build.VERSION.SDK_INT`` (e.g. 30 for Android 11)."""
    return int(_autoclass()("android.os.Build$VERSION").SDK_INT)


def _private_app_folders() -> bool:
    """Android 11+: other apps may not write into this app's folders on external storage."""
    try:
        return _android_api_level() >= _API_PRIVATE_APP_FOLDERS
    except Exception:  # noqa: BLE001 - only picks the wording of an error already raised
        return False


def _android_scratch_dir() -> str:
    """The app's external cache dir (``Context.getExternalCacheDir()``): a folder the OS
    camera app may write through a ``file://`` path on Android 7-10, and which this app
    needs no permission for.

    Raises:
        CameraUnavailable: no external storage is mounted (``getExternalCacheDir()`` is null),
            or the activity could not be asked.
    """
    autoclass = _autoclass()
    try:
        folder = autoclass(_ACTIVITY).mActivity.getExternalCacheDir()
    except Exception as exc:  # noqa: BLE001 - jnius.JavaException: no traceback for the user
        raise CameraUnavailable("the app's external cache dir could not be found "
                                f"({type(exc).__name__}); pass PlyerCamera(scratch_dir=...)") from None
    if folder is None:
        raise CameraUnavailable("the camera app needs a folder on external storage to write "
                                "to, and none is mounted; pass PlyerCamera(scratch_dir=...)")
    return str(folder.getAbsolutePath())


@contextlib.contextmanager
def _file_uri_allowed() -> Iterator[None]:
    """While the block runs (plyer starting the camera app), Android's StrictMode lets the
    ``file://`` URI plyer builds leave the app; the app's own VM policy is put back when the
    block ends, also on an error. Nothing changes below API 24, where there is no such check.

    Source: kivy/plyer#549 and #500 (lifting the StrictMode check), narrowed here to this one
    call; ``StrictMode.VmPolicy.LAX`` is Android's documented policy that detects nothing.

    Raises:
        CameraUnavailable: pyjnius is missing, or StrictMode could not be read or changed
            (the camera app is then not started, since Android would end the app).
    """
    autoclass = _autoclass()
    with _POLICY_LOCK:
        try:
            if int(autoclass("android.os.Build$VERSION").SDK_INT) < _API_FILE_URI_EXPOSED:
                strict, saved = None, None
            else:
                strict = autoclass("android.os.StrictMode")
                saved = strict.getVmPolicy()
                strict.setVmPolicy(autoclass("android.os.StrictMode$VmPolicy").LAX)
        except Exception as exc:  # noqa: BLE001 - jnius.JavaException, or a class this Android lacks
            raise CameraUnavailable(
                "the camera app cannot be given a file:// URI here: Android's StrictMode "
                f"could not be changed ({type(exc).__name__})") from None
        try:
            yield
        finally:
            if strict is not None:
                try:
                    strict.setVmPolicy(saved)
                except Exception as exc:  # noqa: BLE001 - logged; the capture carries on
                    log.warning("the app's StrictMode policy could not be put back (%s)",
                                type(exc).__name__)
