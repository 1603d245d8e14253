"""The ``android`` camera backend (sdk/capture/backends/android_camera.py) with the OS played by
fakes: ``jnius`` (``autoclass`` / ``cast`` returning recording fakes of the Android classes),
python-for-android's ``android.activity`` (``bind`` / ``unbind``, results delivered on a UI
thread while iterating the listeners, as ``PythonActivity`` does) and ``android.runnable``
(a real "UI thread"), and a fake camera app that writes through the ``content://`` URI it was
granted. Also the build files (``sdk/capture/android``) and the selection on Android.

Nothing here runs on a device: what a real camera app, Android version or pyjnius does is not
tested (docs/permissions.md, "Android: the camera through a FileProvider")."""

from __future__ import annotations

import importlib.machinery
import json
import os
import subprocess
import sys
import threading
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from sdk.capture import CameraUnavailable, CaptureInterrupted, select_backend
from sdk.capture.backend import ENV_VAR, CaptureRequest, StopSignal

from .jnius_fakes import JavaException, UiThread

PACKAGE = "org.example.app"
AUTHORITY = PACKAGE + ".fileprovider"
ACTION_IMAGE = "android.media.action.IMAGE_CAPTURE"
ACTION_VIDEO = "android.media.action.VIDEO_CAPTURE"
EXTRA_OUTPUT = "output"
EXTRA_DURATION = "android.intent.extra.durationLimit"
GRANT_READ, GRANT_WRITE = 0x1, 0x2  # Intent.FLAG_GRANT_READ/WRITE_URI_PERMISSION
JPEG = b"\xff\xd8\xff\xe0" + bytes(200)
MP4 = b"\x00\x00\x00\x18ftypmp42" + bytes(200)


# -- the OS, played by fakes -----------------------------------------------------------------------


class Uri:
    def __init__(self, authority: str, name: str) -> None:
        self.authority, self.name = authority, name

    def getScheme(self) -> str:
        return "content"

    def toString(self) -> str:
        return f"content://{self.authority}/privacy_sdk_capture/{self.name}"

    __str__ = toString


class Intent:
    FLAG_GRANT_READ_URI_PERMISSION = GRANT_READ
    FLAG_GRANT_WRITE_URI_PERMISSION = GRANT_WRITE

    def __init__(self, action: str) -> None:
        self.action = action
        self.extras: dict[str, Any] = {}
        self.flags = 0
        self.clip: Any = None
        self.data: Any = None

    def putExtra(self, key: str, value: Any) -> None:
        self.extras[key] = value

    def putExtras(self, bundle: Bundle) -> None:
        self.extras.update(bundle.values)

    def addFlags(self, flags: int) -> None:
        self.flags |= flags

    def setClipData(self, clip: Any) -> None:
        self.clip = clip

    def getData(self) -> Any:
        return self.data


class Bundle:
    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def putInt(self, key: str, value: int) -> None:
        assert isinstance(value, int)
        self.values[key] = value


class P4aActivityModule(types.ModuleType):
    """python-for-android's ``android.activity``: listeners called while iterating them, as
    ``PythonActivity.onActivityResult`` does inside ``synchronized``."""

    def __init__(self) -> None:
        super().__init__("android.activity")
        self.listeners: list[Callable[..., None]] = []
        self.bound: list[Callable[..., None]] = []
        self.unbound: list[Callable[..., None]] = []
        self._lock = threading.RLock()
        self._iterating: threading.Thread | None = None
        self.callback_threads: list[str] = []
        self.violations: list[str] = []

    def bind(self, **kwargs: Callable[..., None]) -> None:
        with self._lock:
            for event, callback in kwargs.items():
                assert event == "on_activity_result"
                self.listeners.append(callback)
                self.bound.append(callback)

    def unbind(self, **kwargs: Callable[..., None]) -> None:
        with self._lock:
            if self._iterating is threading.current_thread():
                self.violations.append("unbind from inside onActivityResult")
                raise JavaException("java.util.ConcurrentModificationException")
            for event, callback in kwargs.items():
                assert event == "on_activity_result"
                self.listeners = [c for c in self.listeners if c != callback]
                self.unbound.append(callback)

    def deliver(self, request_code: int, result_code: int, intent: Any = None) -> None:
        """``onActivityResult`` (runs on the UI thread)."""
        with self._lock:
            self._iterating = threading.current_thread()
            try:
                for listener in self.listeners:
                    self.callback_threads.append(threading.current_thread().name)
                    listener(request_code, result_code, intent)
            finally:
                self._iterating = None


class Android:
    """The device: the activity, its package manager, the FileProvider and the camera app."""

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = cache_dir
        self.ui = UiThread()
        self.p4a = P4aActivityModule()
        self.provider: SimpleNamespace | None = SimpleNamespace(
            authority=AUTHORITY, grantUriPermissions=True,
            name="androidx.core.content.FileProvider")
        self.paths_cover_scratch = True
        self.androidx = True
        self.uris: dict[str, str] = {}  # content URI -> file, as the provider maps them
        self.revoked: list[tuple[str, int]] = []
        self.started: list[tuple[Intent, int, str]] = []
        self.finished: list[int] = []
        self.casts: list[tuple[str, Any]] = []
        self.camera_app: Callable[[Android, Intent, int], None] = CameraApp.writes(JPEG)
        self.start_error: BaseException | None = None
        self.activity = SimpleNamespace(
            getPackageName=lambda: PACKAGE,
            getPackageManager=lambda: SimpleNamespace(resolveContentProvider=self._resolve),
            getCacheDir=lambda: SimpleNamespace(getAbsolutePath=lambda: str(self.cache_dir)),
            startActivityForResult=self._start,
            finishActivity=self.finished.append,
            revokeUriPermission=lambda uri, flags: self.revoked.append((str(uri), flags)),
        )

    # the package manager and androidx.core's FileProvider
    def _resolve(self, authority: str, flags: int) -> Any:
        assert flags == 0
        return self.provider if self.provider and authority == self.provider.authority else None

    def get_uri_for_file(self, context: Any, authority: str, file: SimpleNamespace) -> Uri:
        assert context is self.activity
        if self.provider is None or authority != self.provider.authority:
            raise JavaException("java.lang.IllegalArgumentException",
                                f"Couldn't find meta-data for provider with authority {authority}")
        scratch = self.cache_dir / "privacy_sdk_capture"
        if not self.paths_cover_scratch or Path(file.path).parent != scratch:
            raise JavaException("java.lang.IllegalArgumentException",
                                f"Failed to find configured root that contains {file.path}")
        uri = Uri(authority, Path(file.path).name)
        self.uris[str(uri)] = file.path
        return uri

    # the activity
    def _start(self, intent: Intent, code: int) -> None:
        self.started.append((intent, code, threading.current_thread().name))
        if self.start_error is not None:
            raise self.start_error
        threading.Thread(target=self.camera_app, args=(self, intent, code), daemon=True).start()

    def result(self, code: int, result_code: int, intent: Any = None) -> None:
        """The camera app finishes: Android delivers the result on the UI thread."""
        self.ui.post(lambda: self.p4a.deliver(code, result_code, intent))

    # pyjnius
    def autoclass(self, name: str) -> Any:
        if name == "org.kivy.android.PythonActivity":
            return SimpleNamespace(mActivity=self.activity)
        if name == "androidx.core.content.FileProvider":
            if not self.androidx:
                raise JavaException("java.lang.ClassNotFoundException", name)
            return SimpleNamespace(getUriForFile=self.get_uri_for_file)
        if name == "java.io.File":
            return lambda path: SimpleNamespace(path=path)
        if name == "android.content.Intent":
            return Intent
        if name == "android.provider.MediaStore":
            return SimpleNamespace(ACTION_IMAGE_CAPTURE=ACTION_IMAGE, ACTION_VIDEO_CAPTURE=ACTION_VIDEO,
                                   EXTRA_OUTPUT=EXTRA_OUTPUT, EXTRA_DURATION_LIMIT=EXTRA_DURATION)
        if name == "android.content.ClipData":
            return SimpleNamespace(newRawUri=lambda label, uri: ("clip", label, uri))
        if name == "android.os.Bundle":
            return Bundle
        raise JavaException("java.lang.ClassNotFoundException", name)

    def cast(self, name: str, obj: Any) -> Any:
        self.casts.append((name, obj))
        return obj

    def file_of(self, uri: Any) -> str:
        return self.uris[str(uri)]


class CameraApp:
    """Behaviours of the OS camera app (runs on its own thread, like another process)."""

    @staticmethod
    def writes(data: bytes, result_code: int = -1, returns_uri: bool = False):
        def app(android: Android, intent: Intent, code: int) -> None:
            uri = intent.extras[EXTRA_OUTPUT]
            assert intent.flags & GRANT_WRITE, "no write grant: the camera app could not write"
            assert all(str(u) != str(uri) for u, _ in android.revoked)
            Path(android.file_of(uri)).write_bytes(data)
            answer = Intent("result")
            answer.data = "content://media/external/video/1" if returns_uri else None
            android.result(code, result_code, answer)
        return app

    @staticmethod
    def answers(result_code: int):
        return lambda android, intent, code: android.result(code, result_code, None)

    @staticmethod
    def never_answers(android: Android, intent: Intent, code: int) -> None:
        pass


@pytest.fixture
def android(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Android]:
    """An Android 'device': fake jnius / android modules in sys.modules, on_android() true."""
    from sdk.capture import _platform

    device = Android(tmp_path / "cache")
    device.cache_dir.mkdir()

    def module(name: str, **attrs: Any) -> types.ModuleType:
        mod = attrs.pop("_module", None) or types.ModuleType(name)
        mod.__spec__ = importlib.machinery.ModuleSpec(name, None)
        for key, value in attrs.items():
            setattr(mod, key, value)
        monkeypatch.setitem(sys.modules, name, mod)
        return mod

    class Runnable:
        def __init__(self, func: Callable[[], None]) -> None:
            self.func = func

        def __call__(self) -> None:
            device.ui.post(self.func)

    module("jnius", autoclass=device.autoclass, cast=device.cast, JavaException=JavaException)
    runnable = module("android.runnable", Runnable=Runnable)
    config = module("android.config", ACTIVITY_CLASS_NAME="org.kivy.android.PythonActivity")
    activity = module("android.activity", _module=device.p4a)
    module("android", activity=activity, runnable=runnable, config=config)
    monkeypatch.setattr(_platform, "on_android", lambda: True)
    monkeypatch.delenv(ENV_VAR, raising=False)
    yield device
    device.ui.drain()
    device.ui.stop()
    assert device.ui.errors == [] and device.p4a.violations == []


def scratch(android: Android) -> list[str]:
    folder = android.cache_dir / "privacy_sdk_capture"
    return sorted(os.listdir(folder)) if folder.exists() else []


def capture(kind: str = "photo", stop: StopSignal | None = None, **options: Any):
    from sdk.capture.backends.android_camera import AndroidCamera

    request = CaptureRequest(kind, **{k: options.pop(k) for k in ("seconds", "max_bytes")
                                      if k in options})
    return AndroidCamera(**options).capture(request, stop or StopSignal())


# -- viability and selection ------------------------------------------------------------------------


def test_not_viable_on_a_desktop_and_no_android_library_imported() -> None:
    from sdk.capture.backends.android_camera import AndroidCamera

    ok, reason = AndroidCamera.viable()
    assert not ok and "only in an Android build" in reason
    assert "jnius" not in sys.modules and "android" not in sys.modules


def test_selection_on_a_desktop_does_not_import_the_android_backend() -> None:
    probe = ("import json, sys\nfrom sdk.capture import select_backend\nselect_backend()\n"
             "print(json.dumps([m for m in ('sdk.capture.backends.android_camera', 'jnius', "
             "'android') if m in sys.modules]))")
    env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, env=env)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_viable_when_the_file_provider_is_declared(android: Android) -> None:
    from sdk.capture.backends.android_camera import AndroidCamera

    assert AndroidCamera.viable() == (True, "")
    assert android.started == [] and scratch(android) == []  # no camera, no file


def test_without_a_provider_the_reason_names_the_buildozer_lines(android: Android) -> None:
    from sdk.capture.backends.android_camera import AndroidCamera

    android.provider = None
    ok, reason = AndroidCamera.viable()
    assert not ok and f"no FileProvider with the authority '{AUTHORITY}'" in reason
    for line in ("android.enable_androidx = True", "android.gradle_dependencies = androidx.core:core:1.",
                 "p4a.hook = ", "python -m sdk.capture.android"):
        assert line in reason


def test_a_provider_whose_paths_miss_the_scratch_folder_is_not_viable(android: Android) -> None:
    from sdk.capture.backends.android_camera import AndroidCamera

    android.paths_cover_scratch = False
    ok, reason = AndroidCamera.viable()
    assert not ok and '<cache-path name="privacy_sdk_capture" path="privacy_sdk_capture/" />' in reason
    assert str(android.cache_dir) not in reason  # the Java message (a path) is not passed on


def test_a_provider_that_grants_nothing_is_not_viable(android: Android) -> None:
    from sdk.capture.backends.android_camera import AndroidCamera

    android.provider.grantUriPermissions = False  # type: ignore[union-attr]
    ok, reason = AndroidCamera.viable()
    assert not ok and 'android:grantUriPermissions="true"' in reason


def test_without_androidx_core_the_reason_names_the_gradle_dependency(android: Android) -> None:
    from sdk.capture.backends.android_camera import AndroidCamera

    android.androidx = False
    ok, reason = AndroidCamera.viable()
    assert not ok and "androidx.core:core:1.x" in reason and "android.enable_androidx" in reason


def test_on_android_the_file_provider_backend_comes_before_plyer(android: Android) -> None:
    selection = select_backend()
    assert (selection.backend.name, selection.chosen_by, selection.message) == ("android", "auto", "")


def test_without_the_provider_plyer_is_chosen_and_the_selection_says_why(
        android: Android) -> None:
    pytest.importorskip("plyer")
    android.provider = None
    selection = select_backend()
    assert (selection.backend.name, selection.chosen_by) == ("plyer", "auto")
    assert "no FileProvider" in selection.reasons["android"]
    assert "[android]" in selection.message and "Android 11" in selection.message
    assert "plyer's file:// URI" in selection.message


def test_the_environment_variable_can_name_it_and_a_desktop_explains(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, "android")
    selection = select_backend()
    assert selection.backend.name == "fail"
    with pytest.raises(CameraUnavailable, match="only in an Android build"):
        selection.backend.check(CaptureRequest("photo"))


# -- a capture ---------------------------------------------------------------------------------------


def test_a_photo_goes_through_a_content_uri_and_the_file_is_deleted(android: Android) -> None:
    media = capture("photo")
    assert (media.data, media.media_type) == (JPEG, "image/jpeg")
    (intent, code, thread), = android.started
    assert intent.action == ACTION_IMAGE
    uri = intent.extras[EXTRA_OUTPUT]
    assert str(uri).startswith(f"content://{AUTHORITY}/") and uri.getScheme() == "content"
    assert ("android.os.Parcelable", uri) in android.casts       # putExtra(String, Parcelable)
    assert intent.clip == ("clip", "", uri)                       # the grant covers ClipData URIs
    assert intent.flags & GRANT_WRITE and intent.flags & GRANT_READ
    assert EXTRA_DURATION not in intent.extras
    assert thread == "android-ui"                                 # started on the UI thread
    assert 0x5D00 <= code < 0x5E00
    assert android.revoked == [(str(uri), GRANT_READ | GRANT_WRITE)]
    assert android.finished == []                                 # it closed itself
    assert scratch(android) == []                                 # read back and deleted


def test_a_video_asks_for_the_requested_length(android: Android) -> None:
    android.camera_app = CameraApp.writes(MP4)
    media = capture("video", seconds=2.5)
    (intent, _, _), = android.started
    assert intent.action == ACTION_VIDEO and intent.extras[EXTRA_DURATION] == 3
    assert (media.data, media.media_type) == (MP4, "video/mp4")
    assert scratch(android) == []


def test_the_result_arrives_on_another_thread_and_the_listener_is_unbound_after(
        android: Android) -> None:
    capture("photo")
    assert android.p4a.callback_threads == ["android-ui"]
    assert threading.current_thread().name not in android.p4a.callback_threads
    bound, = android.p4a.bound
    assert android.p4a.unbound == [bound] and android.p4a.listeners == []


def test_results_for_other_request_codes_are_left_to_their_owners(android: Android) -> None:
    seen: list[tuple[int, int]] = []
    android.p4a.bind(on_activity_result=lambda c, r, i: seen.append((c, r)))  # the app's own

    def app(device: Android, intent: Intent, code: int) -> None:
        device.result(1234, -1, None)                 # another request of the app, first
        device.ui.drain()                             # delivered before anything is written
        CameraApp.writes(JPEG)(device, intent, code)

    android.camera_app = app
    assert capture("photo").data == JPEG
    code = android.started[0][1]
    assert seen == [(1234, -1), (code, -1)] and len(android.p4a.listeners) == 1


def test_a_cancel_in_the_camera_app_is_a_clear_interruption(android: Android) -> None:
    android.camera_app = CameraApp.answers(0)  # RESULT_CANCELED
    with pytest.raises(CaptureInterrupted) as info:
        capture("video")
    assert info.value.reason == "cancelled" and "cancelled in the camera app" in str(info.value)
    assert scratch(android) == [] and android.p4a.listeners == []
    assert android.finished == [] and len(android.revoked) == 1


def test_an_unexpected_result_code_is_reported(android: Android) -> None:
    android.camera_app = CameraApp.answers(1)  # RESULT_FIRST_USER
    with pytest.raises(CameraUnavailable, match="result code 1"):
        capture("photo")
    assert scratch(android) == []


def test_stopped_while_the_camera_app_is_open(android: Android) -> None:
    stop = StopSignal()
    opened = threading.Event()

    def app(device: Android, intent: Intent, code: int) -> None:
        opened.set()  # the user is still framing the picture

    android.camera_app = app
    threading.Thread(target=lambda: opened.wait(5) and stop.set("permission_revoked", "camera"),
                     daemon=True).start()
    with pytest.raises(CaptureInterrupted) as info:
        capture("video", stop)
    assert info.value.reason == "permission_revoked"
    code = android.started[0][1]
    android.ui.drain()
    assert android.finished == [code]                  # the camera app is closed
    assert len(android.revoked) == 1                   # no late write through the URI
    assert scratch(android) == [] and android.p4a.listeners == []
    android.result(code, -1, None)                     # a late answer reaches nobody
    android.ui.drain()


def test_a_camera_app_that_never_answers_times_out(android: Android) -> None:
    android.camera_app = CameraApp.never_answers
    with pytest.raises(CameraUnavailable, match="did not answer within 0.3 s"):
        capture("photo", timeout=0.3)
    android.ui.drain()
    assert android.finished == [android.started[0][1]] and scratch(android) == []


def test_no_camera_app_names_the_java_class_only(android: Android) -> None:
    android.start_error = JavaException("android.content.ActivityNotFoundException",
                                        f"No Activity found to handle Intent {{ out={android.cache_dir} }}")
    with pytest.raises(CameraUnavailable, match="ActivityNotFoundException") as info:
        capture("photo")
    assert str(android.cache_dir) not in str(info.value)
    assert scratch(android) == [] and android.p4a.listeners == []


def test_a_pyjnius_error_starting_it_is_reported_too(android: Android) -> None:
    android.start_error = TypeError("no overload of startActivityForResult matches")
    with pytest.raises(CameraUnavailable, match=r"could not be started \(TypeError\)"):
        capture("photo")
    assert scratch(android) == [] and android.p4a.listeners == []


def _without_class(android: Android, monkeypatch: pytest.MonkeyPatch, name: str,
                   java_exception: str) -> None:
    """``jnius.autoclass(name)`` raises ``JavaException(java_exception)``: a class this
    Android lacks; every other class resolves as before."""
    real = android.autoclass

    def autoclass(wanted: str) -> Any:
        if wanted == name:
            raise JavaException(java_exception, wanted)
        return real(wanted)

    monkeypatch.setitem(sys.modules["jnius"].__dict__, "autoclass", autoclass)


def test_an_intent_that_cannot_be_built_starts_nothing(android: Android,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    _without_class(android, monkeypatch, "android.provider.MediaStore", "java.lang.NoClassDefFoundError")
    with pytest.raises(CameraUnavailable, match=r"intent could not be built \(java.lang.NoClassDefFoundError\)"):
        capture("photo")
    assert android.started == [] and android.p4a.bound == [] and scratch(android) == []
    assert len(android.revoked) == 1  # the URI made for it is revoked all the same


def test_without_clip_data_the_capture_still_works(android: Android,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    _without_class(android, monkeypatch, "android.content.ClipData", "java.lang.ClassNotFoundException")
    assert capture("photo").data == JPEG
    assert "without ClipData (java.lang.ClassNotFoundException)" in caplog.text


def test_success_without_a_file_says_nothing_was_taken(android: Android) -> None:
    android.camera_app = CameraApp.writes(b"", returns_uri=True)
    with pytest.raises(CameraUnavailable, match="wrote nothing") as info:
        capture("video")
    assert "gallery" in str(info.value) and scratch(android) == []


def test_media_over_the_limit_is_refused_and_deleted(android: Android) -> None:
    with pytest.raises(CameraUnavailable, match="larger than 100 bytes"):
        capture("photo", max_bytes=100)
    assert scratch(android) == []


def test_without_the_provider_a_capture_names_the_buildozer_lines(android: Android) -> None:
    android.provider = None
    with pytest.raises(CameraUnavailable, match="android.enable_androidx = True"):
        capture("photo")
    assert android.started == [] and scratch(android) == []


def test_files_left_by_a_killed_process_are_deleted_at_the_next_capture(android: Android) -> None:
    folder = android.cache_dir / "privacy_sdk_capture"
    folder.mkdir()
    (folder / "capture-left.mp4").write_bytes(b"old face video")
    capture("photo")
    assert scratch(android) == []


def test_the_scratch_folder_is_private(android: Android) -> None:
    capture("photo")
    mode = (android.cache_dir / "privacy_sdk_capture").stat().st_mode & 0o777
    assert mode == 0o700


def test_already_stopped_starts_nothing(android: Android) -> None:
    stop = StopSignal()
    stop.set("stopped")
    with pytest.raises(CaptureInterrupted):
        capture("photo", stop)
    assert android.started == [] and android.p4a.bound == []


# -- the build files ----------------------------------------------------------------------------------

TEMPLATE = """<manifest package="{{ args.package }}">
    <application android:label="@string/app_name">
        <activity android:name="org.kivy.android.PythonActivity" />
    </application>
</manifest>
"""


def dist(tmp_path: Path, template: str = TEMPLATE) -> Path:
    (tmp_path / "templates").mkdir(parents=True)
    (tmp_path / "templates" / "AndroidManifest.tmpl.xml").write_text(template, encoding="utf-8")
    return tmp_path


def test_the_hook_adds_the_provider_and_its_paths_once(tmp_path: Path) -> None:
    from sdk.capture.android import p4a_hook

    folder = dist(tmp_path)
    assert p4a_hook.install(str(folder)) == [
        os.path.join("src", "main", "res", "xml", "privacy_sdk_file_paths.xml"),
        os.path.join("templates", "AndroidManifest.tmpl.xml")]
    template = (folder / "templates" / "AndroidManifest.tmpl.xml").read_text(encoding="utf-8")
    assert template.count("<provider") == 1 and template.index("<provider") < template.index("</application>")
    assert 'android:authorities="{{ args.package }}.fileprovider"' in template
    assert (folder / "src/main/res/xml/privacy_sdk_file_paths.xml").read_bytes() == \
        Path(p4a_hook.__file__).with_name("file_paths.xml").read_bytes()
    assert p4a_hook.install(str(folder)) == []  # a second build changes nothing


def test_the_rendered_manifest_declares_the_provider_the_backend_looks_for(tmp_path: Path) -> None:
    jinja2 = pytest.importorskip("jinja2")
    import xml.etree.ElementTree as ET

    from sdk.capture.android import p4a_hook

    folder = dist(tmp_path)
    p4a_hook.install(str(folder))
    text = jinja2.Template((folder / "templates/AndroidManifest.tmpl.xml").read_text()).render(
        args=SimpleNamespace(package=PACKAGE))
    ns = "{http://schemas.android.com/apk/res/android}"
    root = ET.fromstring(text.replace("<manifest ", '<manifest xmlns:android="http://schemas.android.com/apk/res/android" ', 1))
    provider = root.find("application/provider")
    assert provider is not None
    assert provider.get(ns + "name") == "androidx.core.content.FileProvider"
    assert provider.get(ns + "authorities") == AUTHORITY
    assert (provider.get(ns + "exported"), provider.get(ns + "grantUriPermissions")) == ("false", "true")
    meta = provider.find("meta-data")
    assert meta.get(ns + "name") == "android.support.FILE_PROVIDER_PATHS"
    assert meta.get(ns + "resource") == "@xml/privacy_sdk_file_paths"


def test_the_paths_file_shares_only_the_scratch_folder() -> None:
    import xml.etree.ElementTree as ET

    from sdk.capture.android import SCRATCH_FOLDER, data_file

    root = ET.parse(data_file("file_paths.xml")).getroot()
    assert [(e.tag, e.attrib) for e in root] == [
        ("cache-path", {"name": SCRATCH_FOLDER, "path": SCRATCH_FOLDER + "/"})]


def test_the_hook_leaves_an_apps_own_file_provider_alone(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    from sdk.capture.android import p4a_hook

    own = TEMPLATE.replace("    </application>",
                           '        <provider android:name="androidx.core.content.FileProvider" />\n'
                           "    </application>")
    folder = dist(tmp_path, own)
    p4a_hook.install(str(folder))
    assert (folder / "templates/AndroidManifest.tmpl.xml").read_text() == own
    assert "privacy_sdk_capture" in capsys.readouterr().out


def test_the_hook_fails_loudly_on_an_unknown_template(tmp_path: Path) -> None:
    from sdk.capture.android import p4a_hook

    with pytest.raises(RuntimeError, match="no </application>"):
        p4a_hook.install(str(dist(tmp_path, "<manifest />")))


def test_the_hook_runs_where_python_for_android_calls_it(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """p4a loads the hook file by path and calls before_apk_build in the distribution folder;
    the hook needs nothing of the SDK there (the build machine may not have it)."""
    import importlib.util

    from sdk.capture.android import write_build_files

    copied = tmp_path / "spec-dir" / "privacy_sdk_android"
    write_build_files(copied)
    spec = importlib.util.spec_from_file_location("pythonforandroid.hook", copied / "p4a_hook.py")
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)  # type: ignore[union-attr]
    folder = dist(tmp_path / "dist")
    monkeypatch.chdir(folder)
    hook.before_apk_build(SimpleNamespace())
    assert "<provider" in (folder / "templates/AndroidManifest.tmpl.xml").read_text()


def test_the_hook_and_the_backend_agree() -> None:
    from sdk.capture import android as build
    from sdk.capture.android import p4a_hook

    assert (p4a_hook.AUTHORITY_SUFFIX, p4a_hook.PATHS_RESOURCE, p4a_hook.PROVIDER_CLASS) == (
        build.AUTHORITY_SUFFIX, build.PATHS_RESOURCE, build.PROVIDER_CLASS)


def test_the_command_writes_the_files_and_prints_the_spec_lines(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sdk.capture.android.__main__ import main

    assert main([str(tmp_path / "android")]) == 0
    assert sorted(os.listdir(tmp_path / "android")) == ["file_paths.xml", "p4a_hook.py"]
    out = capsys.readouterr().out
    assert "android.enable_androidx = True\n" in out
    assert "android.gradle_dependencies = androidx.core:core:1.12.0\n" in out
    assert f"p4a.hook = {tmp_path / 'android'}/p4a_hook.py\n" in out
    # buildozer reads a comment only on a line of its own
    assert all(" #" not in line for line in out.splitlines() if not line.startswith("#"))


def test_the_command_on_the_package_data_folder_copies_nothing_and_prints_the_lines() -> None:
    """``python -m sdk.capture.android sdk/capture/android``, as buildozer.spec and
    docs/permissions.md quote it, run from the repository root: the files are already there."""
    import sdk.capture.android as build

    root = Path(build.__file__).resolve().parents[3]
    before = {name: os.stat(build.data_file(name)).st_mtime_ns for name in build.FILES}
    proc = subprocess.run([sys.executable, "-m", "sdk.capture.android", "sdk/capture/android"],
                          cwd=root, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "sdk/capture/android already holds file_paths.xml and p4a_hook.py; nothing copied"]
    assert "p4a.hook = sdk/capture/android/p4a_hook.py\n" in proc.stdout
    assert {name: os.stat(build.data_file(name)).st_mtime_ns for name in build.FILES} == before


def test_the_command_leaves_identical_copies_as_they_are(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sdk.capture.android.__main__ import main

    assert main([str(tmp_path / "android")]) == 0
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "android").iterdir()}
    capsys.readouterr()
    assert main([str(tmp_path / "android")]) == 0
    assert "nothing copied" in capsys.readouterr().err
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "android").iterdir()} == before


def test_the_command_refuses_a_file_as_folder_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sdk.capture.android.__main__ import main

    a_file = tmp_path / "buildozer.spec"
    a_file.write_text("[app]\n", encoding="utf-8")
    assert main([str(a_file)]) == 1
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        f"python -m sdk.capture.android: {a_file} is a file, not a folder; pass a folder next "
        "to buildozer.spec (it is made if missing)"]
    assert a_file.read_text(encoding="utf-8") == "[app]\n"


def test_the_build_files_are_package_data() -> None:
    import fnmatch

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        tomllib = pytest.importorskip("tomli")
    from sdk.capture.android import FILES

    root = Path(__file__).resolve().parents[2]
    config = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["*"]
    assert all(any(fnmatch.fnmatch(name, p) for p in patterns) or name.endswith(".py")
               for name in FILES)
    assert (root / "sdk" / "capture" / "android" / "__init__.py").exists()  # a package
