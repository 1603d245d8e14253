"""The ``android`` camera: the OS camera app started with the SDK's own intent, writing into a
``content://`` URI from the app's ``FileProvider`` (Android only; no plyer).

Why: plyer's Android camera gives the camera app a ``file://`` URI (kivy/plyer#549). The
``plyer`` backend lifts StrictMode for that one call, which stops the crash on Android 7-10,
but from Android 11 the camera app may not write into this app's folders, so a capture there
is expected to return nothing. The platform's answer is a ``content://`` URI from
``androidx.core.content.FileProvider`` with a temporary write grant; plyer's PRs doing that
(#649, #852) are not merged, so this backend builds the intent itself with pyjnius.

What a capture does (:meth:`AndroidCamera.capture`; call it from a worker thread):

1. checks the provider (``PackageManager.resolveContentProvider(authority, 0)``: declared,
   ``grantUriPermissions``) and makes a scratch file (``mkstemp``, 0600) in
   ``getCacheDir()/privacy_sdk_capture/``, the app's *internal* storage: no other app can read
   it, and the camera app reaches only this one file, through the URI;
2. ``FileProvider.getUriForFile(context, "<package>.fileprovider", file)``;
3. an intent ``MediaStore.ACTION_IMAGE_CAPTURE`` or ``ACTION_VIDEO_CAPTURE`` with
   ``EXTRA_OUTPUT`` = that URI (cast to ``android.os.Parcelable``, as plyer does), the same URI
   as the intent's ClipData, ``FLAG_GRANT_WRITE_URI_PERMISSION | FLAG_GRANT_READ_URI_PERMISSION``
   (the grant covers the intent's data and ClipData URIs) and, for a video,
   ``EXTRA_DURATION_LIMIT`` (whole seconds, at least 1);
4. ``android.activity.bind(on_activity_result=...)``, then ``startActivityForResult(intent,
   code)`` on the activity's UI thread (``android.runnable.Runnable``); *code* is unique per
   capture and results with another code are ignored (the app's own requests);
5. waits for the result (``RESULT_OK`` -1: read the bytes back; ``RESULT_CANCELED`` 0:
   :class:`CaptureInterrupted` with reason ``cancelled``; anything else:
   :class:`CameraUnavailable`), for a stop (:class:`CaptureInterrupted`) or for ``timeout``;
6. always, whatever happened: ``unbind`` (from this thread: python-for-android's
   ``PythonActivity`` calls the listeners while iterating over them inside
   ``synchronized``, so a listener must not unbind itself), ``finishActivity(code)`` when the
   camera app has not answered, ``revokeUriPermission`` (no late write), and the scratch file
   is deleted. Scratch files left by an earlier process that was killed are deleted at the next
   capture.

**Selection**: before ``plyer`` on Android, when :meth:`AndroidCamera.viable` finds the
provider (declared, granting, and sharing the scratch folder: a probe ``getUriForFile`` that
fails with ``IllegalArgumentException`` means its paths do not cover it). Otherwise the reason
names the buildozer.spec lines and the selection falls back to ``plyer`` with its documented
limits (``Selection.message`` says so). pyjnius and python-for-android's ``android`` module are
imported only when it is used, only on Android; the selection does not even import this module
elsewhere.

**Build** (docs/permissions.md, "Android: the camera through a FileProvider";
:mod:`sdk.capture.android`): ``android.enable_androidx = True``,
``android.gradle_dependencies = androidx.core:core:1.x`` and ``p4a.hook`` = the SDK's
``p4a_hook.py`` (it adds ``res/xml/privacy_sdk_file_paths.xml`` and the ``<provider>``).

**Not run on a device.** ``tests/sdk/test_android_camera.py`` drives it with fake ``jnius`` and
``android`` modules; real camera apps, Android versions and pyjnius' overload choice were not
tried.

Sources checked for this module:

- python-for-android: ``android/activity.py`` (``bind(on_activity_result=cb)`` /
  ``unbind(on_activity_result=cb)``, ``cb(requestCode, resultCode, intent)``, docs "Activity
  (android.activity)"), ``android/runnable.py`` (``Runnable(f)()`` runs *f* through
  ``runOnUiThread``), ``PythonActivity.onActivityResult`` (listeners called under
  ``synchronized`` while iterating), ``toolchain.py`` (the ``before_apk_build`` hook, run in
  the distribution folder before ``build.py`` renders ``templates/AndroidManifest.tmpl.xml``),
  issues #1964 and #2965 (no option for a ``<provider>``), PR #3377
  (``--extra-manifest-application-xml``); buildozer ``default.spec`` (``p4a.hook``,
  ``android.gradle_dependencies``, ``android.enable_androidx``, ``android.add_resources``,
  ``android.res_xml``) and PR #2055 (``android.extra_manifest_application_xml``, open).
- Android reference: ``MediaStore.ACTION_IMAGE_CAPTURE`` / ``ACTION_VIDEO_CAPTURE``
  (``EXTRA_OUTPUT``; from API 21 also through ``Intent.setClipData``),
  ``MediaStore.EXTRA_DURATION_LIMIT`` (seconds), ``Intent.FLAG_GRANT_WRITE_URI_PERMISSION``,
  ``Activity.startActivityForResult`` / ``finishActivity(int)``, ``Activity.RESULT_OK`` (-1) /
  ``RESULT_CANCELED`` (0), ``Context.revokeUriPermission``,
  ``PackageManager.resolveContentProvider`` (``null`` when no provider has the authority),
  ``ProviderInfo.grantUriPermissions``; ``androidx.core.content.FileProvider``
  (``getUriForFile``; "Failed to find configured root" ``IllegalArgumentException`` for a file
  outside its paths; ``<cache-path>`` = ``Context.getCacheDir()``; meta-data
  ``android.support.FILE_PROVIDER_PATHS``).
- plyer 2.1 ``plyer/platforms/android/camera.py`` (``cast('android.os.Parcelable', uri)`` for
  ``putExtra``); kivy/plyer#549, #812, PRs #649 and #852.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Any, ClassVar

from .. import _platform
from ..android import AUTHORITY_SUFFIX, BUILDOZER_LINES, PROVIDER_CLASS, SCRATCH_FOLDER
from ..backend import CameraBackend, CaptureRequest, Media, StopSignal
from ..errors import CameraUnavailable, CaptureInterrupted
from ._java import is_java_error, java_class
from .file import sniff

__all__ = ["AndroidCamera"]

log = logging.getLogger(__name__)

#: ``android.app.Activity`` result codes (documented constant values).
RESULT_OK = -1
RESULT_CANCELED = 0
#: Request codes of this backend: 16 bits, a range of their own, a new one per capture.
_REQUEST_CODES = itertools.cycle(range(0x5D00, 0x5E00))
_REQUEST_LOCK = threading.Lock()
#: One capture through the OS camera app at a time (one camera app in front; shared folder).
_CAPTURE_LOCK = threading.Lock()
_SCRATCH_PREFIX = "capture-"

#: Where the docs explain the build set-up.
_DOCS = 'docs/permissions.md, "Android: the camera through a FileProvider"'
_SPEC_HINT = ("add to buildozer.spec: " + "; ".join(
    line for line in BUILDOZER_LINES.splitlines() if not line.startswith(("#", "requirements")))
    + " (python -m sdk.capture.android FOLDER writes the hook and its paths file; " + _DOCS + ")")


def _next_request_code() -> int:
    with _REQUEST_LOCK:
        return next(_REQUEST_CODES)


@dataclass
class _Android:
    """pyjnius, python-for-android's ``android`` module and the activity (the app's
    ``Context``), loaded when a capture or the viability check needs them."""

    autoclass: Any
    cast: Any
    activity: Any
    p4a_activity: Any
    runnable: Any

    @classmethod
    def load(cls) -> _Android:
        try:
            from jnius import autoclass, cast
        except ImportError as exc:
            raise CameraUnavailable("pyjnius is not in the app: add 'pyjnius' to the buildozer "
                                    "requirements") from exc
        try:
            from android import activity as p4a_activity
            from android.runnable import Runnable
        except ImportError as exc:
            raise CameraUnavailable("python-for-android's 'android' module is not in the app: "
                                    "add 'android' to the buildozer requirements") from exc
        from ..._android import current_activity

        activity = current_activity(autoclass)
        if activity is None:
            raise CameraUnavailable("the app's activity is not running (a service has no "
                                    "camera app to start)")
        return cls(autoclass, cast, activity, p4a_activity, Runnable)

    def on_ui_thread(self, func: Any) -> None:
        """Run *func* on the activity's UI thread (returns at once)."""
        self.runnable(func)()

    def authority(self, authority: str | None) -> str:
        return authority or str(self.activity.getPackageName()) + AUTHORITY_SUFFIX

    def scratch_folder(self) -> str:
        return os.path.join(str(self.activity.getCacheDir().getAbsolutePath()), SCRATCH_FOLDER)


def _check_provider(env: _Android, authority: str) -> None:
    """The provider is declared with *authority* and may grant URI permissions.

    Raises:
        CameraUnavailable: it is not, with the buildozer.spec lines to add.
    """
    info = env.activity.getPackageManager().resolveContentProvider(authority, 0)
    if info is None:
        raise CameraUnavailable(
            f"no FileProvider with the authority '{authority}' is declared in the app's "
            f"manifest, so the camera app cannot be given a content:// URI; {_SPEC_HINT}")
    if not bool(info.grantUriPermissions):
        raise CameraUnavailable(
            f"the provider '{authority}' does not grant URI permissions: declare it with "
            f'android:grantUriPermissions="true" ({_DOCS})')


def _content_uri(env: _Android, authority: str, path: str) -> Any:
    """``FileProvider.getUriForFile`` for *path*.

    Raises:
        CameraUnavailable: androidx.core is missing, or the provider's paths do not share the
            scratch folder (``IllegalArgumentException``), or another Java error.
    """
    try:
        provider = env.autoclass(PROVIDER_CLASS)
    except Exception as exc:  # noqa: BLE001 - jnius.JavaException: ClassNotFoundException
        raise CameraUnavailable(
            f"{PROVIDER_CLASS} is not in the app ({type(exc).__name__}): add "
            "android.enable_androidx = True and android.gradle_dependencies = "
            f"androidx.core:core:1.x to buildozer.spec ({_DOCS})") from None
    try:
        return provider.getUriForFile(env.activity, authority, env.autoclass("java.io.File")(path))
    except Exception as exc:  # jnius.JavaException; its message can name the path
        if not is_java_error(exc):
            raise
        name = java_class(exc)
        if name.endswith("IllegalArgumentException"):
            raise CameraUnavailable(
                f"the FileProvider '{authority}' does not share the SDK's scratch folder: its "
                f'paths must include <cache-path name="{SCRATCH_FOLDER}" '
                f'path="{SCRATCH_FOLDER}/" /> (sdk/capture/android/file_paths.xml; '
                f"{_DOCS})") from None
        raise CameraUnavailable(f"no content:// URI could be made for the scratch file "
                                f"({name}); {_SPEC_HINT}") from None


class _Result:
    """The camera app's answer, delivered by python-for-android on the UI thread."""

    def __init__(self, request_code: int) -> None:
        self.request_code = request_code
        self.event = threading.Event()
        self.result_code: int | None = None
        self.returned_uri = False
        self._lock = threading.Lock()

    def on_activity_result(self, request_code: Any, result_code: Any, intent: Any) -> None:
        """``android.activity`` listener: records the first answer to *our* request code.
        Never raises into the Java callback, never unbinds itself."""
        try:
            if int(request_code) != self.request_code:
                return  # another request of the app
            returned_uri = False
            try:
                returned_uri = intent is not None and intent.getData() is not None
            except Exception:  # noqa: BLE001 - only words an error message
                returned_uri = False
            with self._lock:
                if self.result_code is None:
                    self.result_code, self.returned_uri = int(result_code), returned_uri
            self.event.set()
        except Exception:  # a listener must not raise into PythonActivity
            log.exception("camera result could not be read")
            self.event.set()


class AndroidCamera(CameraBackend):
    """The OS camera app with a ``FileProvider`` ``content://`` URI (module documentation).

    Args:
        timeout: seconds to wait for the camera app (the user may take their time).
        authority: the provider's authority; default ``<package name>.fileprovider``.
        start_timeout: seconds to wait for the UI thread to start the camera app.
    """

    name: ClassVar[str] = "android"
    source: ClassVar[str] = "camera"  # type: ignore[assignment]

    def __init__(self, timeout: float = 300.0, authority: str | None = None,
                 start_timeout: float = 10.0) -> None:
        self.timeout = timeout
        self.authority = authority
        self.start_timeout = start_timeout

    @classmethod
    def viable(cls) -> tuple[bool, str]:
        """On Android with pyjnius and python-for-android's ``android`` module, and the app's
        ``<package>.fileprovider`` declared, granting, and sharing the scratch folder (a probe
        ``getUriForFile``; no file is made, no camera opened)."""
        if not _platform.on_android():
            return False, ("the Android camera backend works only in an Android build "
                           f"(python-for-android); this is {_platform.platform()}")
        if not _platform.has_module("jnius"):
            return False, "pyjnius is not in the app: add 'pyjnius' to the buildozer requirements"
        if not _platform.has_module("android"):
            return False, ("python-for-android's 'android' module is not in the app: add "
                           "'android' to the buildozer requirements")
        try:
            env = _Android.load()
            authority = env.authority(None)
            _check_provider(env, authority)
            _content_uri(env, authority, os.path.join(env.scratch_folder(), "probe.jpg"))
        except CameraUnavailable as exc:
            return False, str(exc)
        except Exception as exc:  # noqa: BLE001 - viable() never raises
            return False, f"the app's FileProvider could not be checked ({type(exc).__name__})"
        return True, ""

    def capture(self, request: CaptureRequest, stop: StopSignal) -> Media:
        """Have the OS camera app take a photo or a video into the scratch file, and read it.

        Returns:
            :class:`Media` with the bytes and their type (from the bytes; ``image/jpeg`` or
            ``video/mp4`` when not recognised); width, height, frames and duration ``None``.

        Raises:
            CameraUnavailable: not on Android, pyjnius or the ``android`` module missing, no
                usable FileProvider (the message names the buildozer.spec lines), the camera
                app could not be started (the Java class only), did not answer within
                :attr:`timeout`, ended with an unexpected result, wrote nothing, or more than
                ``request.max_bytes``; another capture through the camera app is running.
            CaptureInterrupted: *stop* was set (reason as set), or the user cancelled in the
                camera app (reason ``cancelled``).
        """
        self.check(request)
        if stop.is_set():
            raise stop.interrupted(0)
        if not _platform.on_android():
            raise CameraUnavailable(self.viable()[1])
        if not _CAPTURE_LOCK.acquire(blocking=False):
            raise CameraUnavailable("another capture is using the OS camera app; wait for it")
        try:
            try:
                env = _Android.load()
            except CameraUnavailable:
                raise
            except Exception as exc:  # noqa: BLE001 - jnius.JavaException: no traceback for the user
                raise CameraUnavailable(f"pyjnius could not reach the app's activity "
                                        f"({type(exc).__name__})") from None
            return self._capture(env, request, stop)
        finally:
            _CAPTURE_LOCK.release()

    # -- one capture ---------------------------------------------------------------------------

    def _capture(self, env: _Android, request: CaptureRequest, stop: StopSignal) -> Media:
        authority = env.authority(self.authority)
        try:
            _check_provider(env, authority)
            folder = env.scratch_folder()
        except CameraUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - jnius.JavaException
            raise CameraUnavailable(f"the app's FileProvider could not be checked "
                                    f"({type(exc).__name__})") from None
        _prepare_folder(folder)
        suffix = ".mp4" if request.kind == "video" else ".jpg"
        fd, path = tempfile.mkstemp(prefix=_SCRATCH_PREFIX, suffix=suffix, dir=folder)
        os.close(fd)
        code = _next_request_code()
        result = _Result(code)
        uri: Any = None
        bound = False
        started = False
        try:
            uri = _content_uri(env, authority, path)
            try:
                intent = self._intent(env, request, uri)
            except Exception as exc:  # noqa: BLE001 - jnius.JavaException, or pyjnius' TypeError
                raise CameraUnavailable(f"the camera intent could not be built "
                                        f"({_error_name(exc)})") from None
            if stop.is_set():
                raise stop.interrupted(0)
            env.p4a_activity.bind(on_activity_result=result.on_activity_result)
            bound = True
            started = True  # from here the camera app may be in front: finish it on the way out
            self._start(env, intent, code, stop)
            self._wait(result, stop)
            if result.result_code == RESULT_CANCELED:
                raise CaptureInterrupted("cancelled")
            if result.result_code != RESULT_OK:
                raise CameraUnavailable(
                    f"the camera app ended with the result code {result.result_code} "
                    "(neither OK nor cancelled); nothing was taken")
            return self._read(path, request, result)
        finally:
            if bound:
                try:
                    env.p4a_activity.unbind(on_activity_result=result.on_activity_result)
                except Exception as exc:  # noqa: BLE001 - logged; the capture's outcome stands
                    log.warning("camera result listener not removed (%s)", type(exc).__name__)
            if started and not result.event.is_set():
                _finish_camera_app(env, code)
            if uri is not None:
                try:
                    env.activity.revokeUriPermission(uri, _grant_flags(env))
                except Exception as exc:  # noqa: BLE001 - logged; the file is deleted anyway
                    log.warning("the camera app's URI grant not revoked (%s)", type(exc).__name__)
            try:
                os.unlink(path)
            except OSError:
                pass

    @staticmethod
    def _intent(env: _Android, request: CaptureRequest, uri: Any) -> Any:
        intent_class = env.autoclass("android.content.Intent")
        media_store = env.autoclass("android.provider.MediaStore")
        video = request.kind == "video"
        intent = intent_class(media_store.ACTION_VIDEO_CAPTURE if video
                              else media_store.ACTION_IMAGE_CAPTURE)
        intent.putExtra(media_store.EXTRA_OUTPUT, env.cast("android.os.Parcelable", uri))
        try:
            # the grant flags cover the intent's data and ClipData URIs; MediaStore's docs
            # accept the output URI as ClipData from API 21 (EXTRA_OUTPUT stays, for old apps)
            intent.setClipData(env.autoclass("android.content.ClipData").newRawUri("", uri))
        except Exception as exc:  # noqa: BLE001 - logged; EXTRA_OUTPUT is what camera apps read
            log.warning("camera intent without ClipData (%s)", _error_name(exc))
        intent.addFlags(_grant_flags(env))
        if video:
            extras = env.autoclass("android.os.Bundle")()
            extras.putInt(media_store.EXTRA_DURATION_LIMIT, max(1, math.ceil(request.seconds)))
            intent.putExtras(extras)
        return intent

    def _start(self, env: _Android, intent: Any, code: int, stop: StopSignal) -> None:
        """``startActivityForResult`` on the UI thread; its error comes back here."""
        done = threading.Event()
        failure: list[BaseException] = []

        def start() -> None:
            try:
                env.activity.startActivityForResult(intent, code)
            except BaseException as exc:  # noqa: BLE001 - handed to the capturing thread
                failure.append(exc)
            finally:
                done.set()

        env.on_ui_thread(start)
        deadline = time.monotonic() + self.start_timeout
        while not done.wait(0.05):
            if stop.is_set():
                raise stop.interrupted(0)
            if time.monotonic() >= deadline:
                raise CameraUnavailable(f"the app's UI thread did not start the camera app "
                                        f"within {self.start_timeout:g} s")
        if failure:
            exc = failure[0]
            if not isinstance(exc, Exception):
                raise exc  # KeyboardInterrupt and the like
            # e.g. ActivityNotFoundException (no camera app), SecurityException (the CAMERA
            # permission is declared but not granted); only the class: the message may
            # name the scratch path
            raise CameraUnavailable(
                f"the OS camera app could not be started ({_error_name(exc)}); check that the "
                "device has a camera app and that the CAMERA permission is declared and "
                "granted") from None

    def _wait(self, result: _Result, stop: StopSignal) -> None:
        deadline = time.monotonic() + self.timeout
        while not result.event.wait(0.1):
            if stop.is_set():
                raise stop.interrupted(0)
            if time.monotonic() >= deadline:
                raise CameraUnavailable(f"the camera app did not answer within {self.timeout:g} s")
        if stop.is_set():
            raise stop.interrupted(0)

    @staticmethod
    def _read(path: str, request: CaptureRequest, result: _Result) -> Media:
        with open(path, "rb") as handle:
            data = handle.read(request.max_bytes + 1)
        if not data:
            where = (" (it returned a URI of its own: it may have saved the media elsewhere, "
                     "e.g. in the gallery, which the SDK neither reads nor changes)"
                     if result.returned_uri else "")
            raise CameraUnavailable("the camera app reported success but wrote nothing to the "
                                    f"file it was given{where}; nothing was taken")
        if len(data) > request.max_bytes:
            raise CameraUnavailable(f"the captured media is larger than {request.max_bytes} bytes")
        media_type = sniff(data[:64]) or ("video/mp4" if request.kind == "video" else "image/jpeg")
        return Media(data, media_type)


def _error_name(exc: BaseException) -> str:
    """A Java exception's class, else the Python type's name: never the message."""
    return java_class(exc) if is_java_error(exc) else type(exc).__name__


def _grant_flags(env: _Android) -> int:
    intent = env.autoclass("android.content.Intent")
    return int(intent.FLAG_GRANT_WRITE_URI_PERMISSION) | int(intent.FLAG_GRANT_READ_URI_PERMISSION)


def _finish_camera_app(env: _Android, code: int) -> None:
    """Close the camera app this capture started (stopped, timed out or failed meanwhile).
    Queued on the UI thread after the start, so it also closes one that starts late."""

    def finish() -> None:
        try:
            env.activity.finishActivity(code)
        except Exception as exc:  # noqa: BLE001 - the user can still leave it with Back
            log.warning("the camera app could not be closed (%s)", type(exc).__name__)

    try:
        env.on_ui_thread(finish)
    except Exception as exc:  # noqa: BLE001 - as above
        log.warning("the camera app could not be closed (%s)", type(exc).__name__)


def _prepare_folder(folder: str) -> None:
    """Make the scratch folder (0700) and delete what a killed process left in it. Runs under
    :data:`_CAPTURE_LOCK`, so no other capture's file is there."""
    os.makedirs(folder, mode=0o700, exist_ok=True)
    for name in os.listdir(folder):
        if name.startswith(_SCRATCH_PREFIX):
            try:
                os.unlink(os.path.join(folder, name))
            except OSError:
                pass
