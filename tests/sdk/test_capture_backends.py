"""Camera backends and their selection: the synthetic camera's real clips (decoded back with
PyAV), the file source's checks, and the fallback on a desktop without a camera."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from sdk import ConfigError
from sdk.capture import (
    CameraUnavailable,
    CaptureInterrupted,
    InvalidMedia,
    select_backend,
)
from sdk.capture.backend import ENV_VAR, CaptureRequest, StopSignal
from sdk.capture.backends import opencv as opencv_module
from sdk.capture.backends.file import FileSource
from sdk.capture.backends.synthetic import COMMENT, SyntheticCamera

from .jnius_fakes import JavaException

av = pytest.importorskip("av", reason="PyAV ('av', extra 'synthetic') is needed to decode clips")

POLICY = Path(__file__).resolve().parents[2] / "demo_app" / "policy" / "policy.md"


@pytest.fixture(autouse=True)
def _no_camera_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)


@pytest.fixture
def no_webcam(monkeypatch: pytest.MonkeyPatch) -> None:
    """A desktop without a camera device (whether or not OpenCV is installed)."""
    monkeypatch.setattr(opencv_module.glob, "glob", lambda pattern: [])


def decode(data: bytes) -> tuple[int, str, float]:
    """Frames, codec name and duration (s) of a clip, decoded with PyAV."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return frames, stream.codec_context.name, float(container.duration or 0) / 1_000_000


# -- synthetic ----------------------------------------------------------------------------------


def test_synthetic_camera_records_a_decodable_clip() -> None:
    media = SyntheticCamera(fps=15).capture(CaptureRequest("video", 2.0), StopSignal())
    frames, codec, duration = decode(media.data)
    assert (media.media_type, media.frames) == ("video/mp4", 30)
    assert frames == 30 and codec in ("h264", "mpeg4") and duration == pytest.approx(2.0, abs=0.1)


def test_synthetic_clip_says_it_is_generated() -> None:
    media = SyntheticCamera().capture(CaptureRequest("video", 0.5), StopSignal())
    with av.open(io.BytesIO(media.data)) as container:
        assert container.metadata.get("comment") == COMMENT


def test_synthetic_photo_is_a_jpeg_of_the_frame_size() -> None:
    media = SyntheticCamera(width=64, height=48).capture(CaptureRequest("photo"), StopSignal())
    assert media.media_type == "image/jpeg" and media.data[:3] == b"\xff\xd8\xff"
    with av.open(io.BytesIO(media.data)) as container:
        frame = next(container.decode(video=0))
    assert (frame.width, frame.height) == (64, 48)


def test_synthetic_camera_stops_at_the_frame_the_signal_is_set() -> None:
    stop = StopSignal()

    def at_frame(n: int) -> None:
        if n == 5:
            stop.set("permission_revoked", "camera")

    with pytest.raises(CaptureInterrupted) as info:
        SyntheticCamera().capture(CaptureRequest("video", 2.0, on_frame=at_frame), stop)
    assert (info.value.reason, info.value.frames) == ("permission_revoked", 5)


def test_synthetic_camera_never_touches_the_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    SyntheticCamera().capture(CaptureRequest("video", 0.5), StopSignal())
    assert list(tmp_path.iterdir()) == []


# -- selection ----------------------------------------------------------------------------------


def test_desktop_without_a_camera_falls_back_to_the_file_source_and_says_why(no_webcam: None) -> None:  # OBL-PERM-1
    selection = select_backend()
    assert selection.fallback and selection.backend.name == "file"
    assert "[plyer] plyer has no camera on this platform" in selection.message
    assert "[opencv]" in selection.message and "privacy-sdk[webcam]" in selection.message
    assert f"{ENV_VAR}=synthetic" in selection.message


def test_the_fallback_can_be_the_synthetic_camera(no_webcam: None) -> None:
    selection = select_backend(fallback="synthetic")
    assert selection.fallback and selection.backend.name == "synthetic"
    assert "QA and headless demo only" in selection.message


def test_the_synthetic_camera_is_never_chosen_automatically(no_webcam: None) -> None:
    assert select_backend().backend.name != "synthetic"


def test_the_environment_variable_chooses_the_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, "synthetic")
    selection = select_backend(preferred="file")
    assert (selection.backend.name, selection.chosen_by) == ("synthetic", "environment")


def test_a_named_backend_that_cannot_work_is_not_swapped_but_explained(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, "plyer")
    selection = select_backend()
    assert selection.backend.name == "fail"
    with pytest.raises(CameraUnavailable, match=f"'plyer' chosen by the environment variable {ENV_VAR}"):
        selection.backend.check(CaptureRequest("video"))


def test_an_unknown_backend_name_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown camera backend 'webcam'"):
        select_backend(preferred="webcam")


def test_selection_and_the_accessors_import_no_camera_library() -> None:
    import json
    import subprocess
    import sys

    probe = ("import json, sys, tempfile, pathlib\n"
             "from sdk import PrivacySdk, SdkConfig\n"
             "from sdk.policy import load_policy\n"
             "from sdk.capture import select_backend\n"
             "select_backend()\n"
             f"p = PrivacySdk.open(SdkConfig(data_dir=pathlib.Path(tempfile.mkdtemp())), "
             f"load_policy({str(POLICY)!r}))\n"
             "p.camera, p.device\n"
             "print(json.dumps([m for m in ('av', 'cv2', 'plyer', 'numpy', 'jnius') "
             "if m in sys.modules]))")
    env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, env=env)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


# -- the file source ----------------------------------------------------------------------------


def jpeg(tmp_path: Path) -> Path:
    media = SyntheticCamera(width=32, height=32).capture(CaptureRequest("photo"), StopSignal())
    path = tmp_path / "chosen.jpg"
    path.write_bytes(media.data)
    return path


def test_file_source_reads_the_chosen_image_and_leaves_it_as_it_was(tmp_path: Path) -> None:
    path = jpeg(tmp_path)
    before = (path.read_bytes(), os.stat(path).st_mtime_ns)
    media = FileSource().capture(CaptureRequest("photo", source=path), StopSignal())
    assert media.media_type == "image/jpeg" and media.data == before[0]
    assert (path.read_bytes(), os.stat(path).st_mtime_ns) == before


def test_file_source_takes_the_type_from_the_bytes_not_the_name(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    path.write_text("not an image", encoding="utf-8")
    with pytest.raises(InvalidMedia, match="not an accepted photo"):
        FileSource().capture(CaptureRequest("photo", source=path), StopSignal())


def test_file_source_refuses_a_video_where_a_photo_is_asked(tmp_path: Path) -> None:
    clip = SyntheticCamera().capture(CaptureRequest("video", 0.2), StopSignal())
    path = tmp_path / "clip.jpg"
    path.write_bytes(clip.data)
    with pytest.raises(InvalidMedia, match="not an accepted photo"):
        FileSource().capture(CaptureRequest("photo", source=path), StopSignal())


def test_file_source_refuses_a_file_over_the_limit(tmp_path: Path) -> None:
    path = jpeg(tmp_path)
    with pytest.raises(InvalidMedia, match="larger than 100 bytes"):
        FileSource().capture(CaptureRequest("video", source=path, max_bytes=100), StopSignal())


def test_file_source_refuses_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    path.touch()
    with pytest.raises(InvalidMedia, match="empty"):
        FileSource().capture(CaptureRequest("video", source=path), StopSignal())


def test_file_source_without_a_chosen_file_says_what_to_pass() -> None:
    with pytest.raises(CameraUnavailable, match="pass its path as source="):
        FileSource().check(CaptureRequest("video"))


def test_file_source_error_never_names_the_users_path(tmp_path: Path) -> None:
    path = tmp_path / "张三的身份证.txt"
    path.write_text("x", encoding="utf-8")
    with pytest.raises(InvalidMedia) as info:
        FileSource().capture(CaptureRequest("photo", source=path), StopSignal())
    assert "张三" not in str(info.value)


# -- plyer (Android / iOS), with plyer.camera played by a fake OS camera app ------------------------


class FakeCameraApp:
    """Stands in for plyer.camera: "the OS camera app" writes *data* to the file it is given."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.files: list[str] = []

    def take_video(self, filename: str, on_complete) -> None:  # noqa: ANN001 - plyer's signature
        self.files.append(filename)
        Path(filename).write_bytes(self.data)
        on_complete(filename)

    take_picture = take_video


class FakeJava:
    """pyjnius at the OS edge: ``autoclass`` returns recording fakes of the Android classes the
    plyer backend uses. ``policy`` is the app's StrictMode VM policy; Android's own, for an
    app targeting API 24+, carries the death penalty for file:// URIs."""

    def __init__(self, sdk_int: int = 33, external_cache: Path | None = None) -> None:
        self.sdk_int, self.external_cache = sdk_int, external_cache
        self.policy = "app-policy"
        self.classes: list[str] = []
        self.set_policies: list[str] = []
        self.fail_set_policy = False

    def autoclass(self, name: str):  # a Java class stand-in
        from types import SimpleNamespace

        self.classes.append(name)
        if name == "android.os.Build$VERSION":
            return SimpleNamespace(SDK_INT=self.sdk_int)
        if name == "android.os.StrictMode":
            return SimpleNamespace(getVmPolicy=lambda: self.policy, setVmPolicy=self._set_policy)
        if name == "android.os.StrictMode$VmPolicy":
            return SimpleNamespace(LAX="LAX")
        if name == "org.kivy.android.PythonActivity":
            folder = (None if self.external_cache is None else
                      SimpleNamespace(getAbsolutePath=lambda: str(self.external_cache)))
            return SimpleNamespace(mActivity=SimpleNamespace(getExternalCacheDir=lambda: folder))
        raise JavaException("java.lang.ClassNotFoundException", name)

    def _set_policy(self, policy: str) -> None:
        if self.fail_set_policy:
            raise JavaException("java.lang.SecurityException", "denied")
        self.set_policies.append(policy)
        self.policy = policy


@pytest.fixture
def java(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> FakeJava:
    """A fake ``jnius`` module in sys.modules (Android 13, an external cache dir)."""
    import sys
    import types

    fake = FakeJava(external_cache=tmp_path_factory.mktemp("external-cache"))
    module = types.ModuleType("jnius")
    module.autoclass = fake.autoclass  # type: ignore[attr-defined]
    module.JavaException = JavaException  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "jnius", module)
    return fake


@pytest.fixture
def on_android(monkeypatch: pytest.MonkeyPatch, java: FakeJava) -> FakeJava:
    from sdk.capture import _platform

    monkeypatch.setattr(_platform, "on_android", lambda: True)
    return java


def test_plyer_is_not_viable_on_a_desktop() -> None:
    from sdk.capture.backends.plyer_camera import PlyerCamera

    ok, reason = PlyerCamera.viable()
    assert not ok and "plyer has no camera on this platform" in reason


def test_plyer_reads_the_camera_apps_file_and_deletes_it(on_android: None, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import plyer

    from sdk.capture.backends.plyer_camera import PlyerCamera

    clip = SyntheticCamera().capture(CaptureRequest("video", 0.2), StopSignal()).data
    app = FakeCameraApp(clip)
    monkeypatch.setattr(plyer, "camera", app)
    assert PlyerCamera.viable() == (True, "")
    media = PlyerCamera(scratch_dir=str(tmp_path)).capture(CaptureRequest("video"), StopSignal())
    assert media.data == clip and media.media_type == "video/mp4"
    assert Path(app.files[0]).parent == tmp_path and list(tmp_path.iterdir()) == []


def test_plyer_capture_stopped_while_the_camera_app_is_open(on_android: None, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import plyer

    from sdk.capture.backends.plyer_camera import PlyerCamera

    stop = StopSignal()

    class NeverReturns:
        def take_video(self, filename: str, on_complete) -> None:  # noqa: ANN001
            stop.set("permission_revoked", "camera")

    monkeypatch.setattr(plyer, "camera", NeverReturns())
    with pytest.raises(CaptureInterrupted):
        PlyerCamera(scratch_dir=str(tmp_path)).capture(CaptureRequest("video"), stop)
    assert list(tmp_path.iterdir()) == []


# -- plyer on Android: the file:// URI workaround (kivy/plyer#549), pyjnius played by FakeJava ----


class RecordingCameraApp(FakeCameraApp):
    """The OS camera app, noting the app's StrictMode policy when plyer starts it."""

    def __init__(self, data: bytes, java: FakeJava) -> None:
        super().__init__(data)
        self.java = java
        self.policies: list[str] = []

    def take_video(self, filename: str, on_complete) -> None:  # plyer's signature
        self.policies.append(self.java.policy)
        super().take_video(filename, on_complete)

    take_picture = take_video


def _plyer_capture(monkeypatch: pytest.MonkeyPatch, app, kind: str = "photo", **options):
    import plyer

    from sdk.capture.backends.plyer_camera import PlyerCamera

    monkeypatch.setattr(plyer, "camera", app)
    return PlyerCamera(**options).capture(CaptureRequest(kind), StopSignal())


def test_on_android_the_camera_app_starts_with_the_file_uri_check_lifted(
        on_android: FakeJava, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = RecordingCameraApp(b"\xff\xd8\xff" + bytes(100), on_android)
    _plyer_capture(monkeypatch, app, scratch_dir=str(tmp_path))
    assert app.policies == ["LAX"]  # StrictMode.VmPolicy.LAX while plyer starts the activity


def test_on_android_the_apps_strictmode_policy_is_put_back_at_once(
        on_android: FakeJava, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = RecordingCameraApp(b"\xff\xd8\xff" + bytes(100), on_android)
    _plyer_capture(monkeypatch, app, scratch_dir=str(tmp_path))
    assert on_android.set_policies == ["LAX", "app-policy"] and on_android.policy == "app-policy"


def test_the_policy_is_put_back_when_the_camera_app_cannot_start(
        on_android: FakeJava, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class NoCameraApp:
        def take_picture(self, filename: str, on_complete) -> None:
            raise JavaException("android.content.ActivityNotFoundException",
                                f"No Activity found to handle Intent {{ out={filename} }}")

    with pytest.raises(CameraUnavailable, match="ActivityNotFoundException") as info:
        _plyer_capture(monkeypatch, NoCameraApp(), scratch_dir=str(tmp_path))
    assert on_android.policy == "app-policy"
    assert str(tmp_path) not in str(info.value) and list(tmp_path.iterdir()) == []


def test_a_strictmode_that_cannot_be_changed_starts_no_camera_app(
        on_android: FakeJava, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    on_android.fail_set_policy = True
    app = RecordingCameraApp(b"\xff\xd8\xff" + bytes(100), on_android)
    with pytest.raises(CameraUnavailable, match="StrictMode could not be changed"):
        _plyer_capture(monkeypatch, app, scratch_dir=str(tmp_path))
    assert app.files == [] and list(tmp_path.iterdir()) == []


def test_before_android_7_strictmode_is_left_alone(on_android: FakeJava, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    on_android.sdk_int = 23  # Android 6: no FileUriExposedException
    app = RecordingCameraApp(b"\xff\xd8\xff" + bytes(100), on_android)
    _plyer_capture(monkeypatch, app, scratch_dir=str(tmp_path))
    assert "android.os.StrictMode" not in on_android.classes and on_android.set_policies == []


def test_on_android_the_scratch_file_is_in_the_external_cache_dir(
        on_android: FakeJava, monkeypatch: pytest.MonkeyPatch) -> None:
    app = RecordingCameraApp(b"\xff\xd8\xff" + bytes(100), on_android)
    media = _plyer_capture(monkeypatch, app)
    assert media.media_type == "image/jpeg"
    assert Path(app.files[0]).parent == on_android.external_cache
    assert list(on_android.external_cache.iterdir()) == []  # read back and deleted


def test_without_external_storage_the_capture_says_what_to_pass(
        on_android: FakeJava, monkeypatch: pytest.MonkeyPatch) -> None:
    on_android.external_cache = None  # getExternalCacheDir() returns null
    app = RecordingCameraApp(b"\xff\xd8\xff" + bytes(100), on_android)
    with pytest.raises(CameraUnavailable, match="scratch_dir="):
        _plyer_capture(monkeypatch, app)
    assert app.files == []


def test_on_android_11_a_camera_app_that_wrote_nothing_names_the_likely_cause(
        on_android: FakeJava, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    on_android.sdk_int = 30
    app = RecordingCameraApp(b"", on_android)  # could not write into this app's folder
    with pytest.raises(CameraUnavailable, match="Android 11 and later") as info:
        _plyer_capture(monkeypatch, app, scratch_dir=str(tmp_path))
    assert "FileProvider" in str(info.value)


def test_on_ios_the_plyer_camera_uses_no_pyjnius(java: FakeJava, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from sdk.capture import _platform

    monkeypatch.setattr(_platform, "on_ios", lambda: True)
    app = RecordingCameraApp(b"\xff\xd8\xff" + bytes(100), java)
    _plyer_capture(monkeypatch, app, scratch_dir=str(tmp_path))
    assert java.classes == [] and app.files


# -- the file source: width and height (pixels) ---------------------------------------------------


def encoded_png(width: int, height: int) -> bytes:
    """A PNG of *width* x *height* encoded by FFmpeg (PyAV), not written by hand."""
    from fractions import Fraction

    codec = av.CodecContext.create("png", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "rgb24"
    codec.time_base = Fraction(1, 1)
    frame = av.VideoFrame(width, height, "rgb24")
    return b"".join(bytes(p) for p in list(codec.encode(frame)) + list(codec.encode()))


def picked(path: Path, kind: str = "photo"):
    return FileSource().capture(CaptureRequest(kind, source=path), StopSignal())


def test_the_bundled_sample_reads_as_640_by_400_pixels() -> None:
    from demo_app.samples import SAMPLE_DOCUMENT

    media = picked(SAMPLE_DOCUMENT)
    assert (media.media_type, media.width, media.height) == ("image/png", 640, 400)


def test_a_generated_jpeg_reads_with_its_size(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    path.write_bytes(SyntheticCamera(width=48, height=32).capture(
        CaptureRequest("photo"), StopSignal()).data)
    assert (picked(path).width, picked(path).height) == (48, 32)


def test_a_generated_png_reads_with_its_size(tmp_path: Path) -> None:
    path = tmp_path / "scan.png"
    path.write_bytes(encoded_png(50, 30))
    media = picked(path)
    assert (media.media_type, media.width, media.height) == ("image/png", 50, 30)


def test_a_picked_video_reads_with_its_frame_size(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(SyntheticCamera(width=160, height=96).capture(
        CaptureRequest("video", 0.2), StopSignal()).data)
    media = picked(path, "video")
    assert (media.media_type, media.width, media.height) == ("video/mp4", 160, 96)


def test_without_pyav_a_picked_image_has_no_size_and_is_still_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    path = tmp_path / "scan.png"
    path.write_bytes(encoded_png(50, 30))
    monkeypatch.setitem(sys.modules, "av", None)  # as if PyAV were not installed
    media = picked(path)
    assert media.data == path.read_bytes() and (media.width, media.height) == (None, None)


def test_a_picture_over_the_pixel_limit_is_not_decoded_for_its_size(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sdk.capture.backends import _av

    path = tmp_path / "large.png"
    path.write_bytes(encoded_png(50, 30))
    monkeypatch.setattr(_av, "MAX_PROBE_PIXELS", 50 * 30 - 1)
    assert (picked(path).width, picked(path).height) == (None, None)


def test_a_damaged_image_with_a_valid_signature_has_no_size_and_no_error(tmp_path: Path) -> None:
    path = tmp_path / "damaged.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not a png at all" * 8)
    media = picked(path)
    assert media.media_type == "image/png" and (media.width, media.height) == (None, None)
