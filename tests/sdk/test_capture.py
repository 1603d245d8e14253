"""Capture behind the consent + permission gate (OBL-PERM-1..3): the demo policy, real SQLite
files, the in-memory keystore, the scripted permission backend (sdk/permissions/scripted.py)
and the synthetic camera, whose clips are decoded back with PyAV."""

from __future__ import annotations

import io
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from sdk import ConfigError, ConsentRequired, PrivacySdk, SdkConfig
from sdk.capture import (
    Camera,
    CameraUnavailable,
    CaptureError,
    CaptureInterrupted,
    InvalidMedia,
    PermissionNotGranted,
)
from sdk.capture.backend import ENV_VAR
from sdk.capture.backends import opencv as opencv_module
from sdk.capture.backends.synthetic import SyntheticCamera
from sdk.permissions.facade import Permissions
from sdk.permissions.scripted import ScriptedBackend
from sdk.testing.compliance import assert_compliant
from sdk.testing.keystore import MemoryKeystore

from .clock import Clock
from .policies import demo_policy

av = pytest.importorskip("av", reason="PyAV ('av', extra 'synthetic') is needed to decode clips")


@pytest.fixture
def privacy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PrivacySdk]:
    """The user agreed to the policy; the camera is the synthetic one (as in the headless demo)."""
    monkeypatch.setenv(ENV_VAR, "synthetic")
    config = SdkConfig(data_dir=tmp_path / "data", clock=Clock())
    with PrivacySdk.open(config, demo_policy(), keystore=MemoryKeystore()) as sdk:
        sdk.agree()
        yield sdk


@pytest.fixture
def phone(privacy: PrivacySdk) -> ScriptedBackend:
    """The scripted permission backend: every prompt is answered "allow" unless scripted."""
    backend = ScriptedBackend()
    privacy.permissions = Permissions(privacy, backend)
    return backend


def consent_to(privacy: PrivacySdk, feature: str) -> None:
    for scope in privacy.missing_for_feature(feature):
        privacy.grant(scope)


def ask(privacy: PrivacySdk, permission: str, feature: str) -> str:
    """The app asks through the facade (rationale accepted); returns the answer."""
    results: list = []
    privacy.permissions.request(permission, feature=feature, on_result=results.append,
                                rationale=lambda rationale, proceed: proceed(True),
                                user_initiated=True)
    return str(results[0].status)


@pytest.fixture
def ready(privacy: PrivacySdk, phone: ScriptedBackend) -> PrivacySdk:
    """Face signing consented and the camera granted."""
    consent_to(privacy, "face_signing")
    assert ask(privacy, "camera", "face_signing") == "granted"
    return privacy


def frames_in(data: bytes) -> int:
    with av.open(io.BytesIO(data)) as container:
        return sum(1 for _ in container.decode(video=0))


def collections(privacy: PrivacySdk, item: str = "face_video") -> list:
    return [e for e in privacy.audit.entries("collect") if e.item == item]


# -- the happy path ---------------------------------------------------------------------------------


def test_a_granted_capture_gives_a_decodable_clip_in_memory(ready: PrivacySdk) -> None:  # OBL-PERM-1
    with ready.camera.record_video(feature="face_signing", seconds=2) as clip:
        assert (clip.item, clip.backend, clip.media_type, clip.path) == (
            "face_video", "synthetic", "video/mp4", None)
        assert frames_in(clip.data) == clip.frames == 30


def test_a_capture_is_audited_as_a_collection_in_its_feature(ready: PrivacySdk) -> None:  # OBL-PERM-1
    clip = ready.camera.record_video(feature="face_signing")
    [entry] = collections(ready)
    assert (entry.purpose, entry.feature, entry.outcome, entry.seq) == (
        "realname_verification", "face_signing", "allowed", clip.audit_seq)


def test_the_caller_may_give_a_temp_path_written_0600_when_complete(ready: PrivacySdk,
                                                                    tmp_path: Path) -> None:
    dest = tmp_path / "upload" / "face.mp4"
    dest.parent.mkdir()
    clip = ready.camera.record_video(feature="face_signing", dest=dest)
    assert clip.path == dest and frames_in(dest.read_bytes()) == 30
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600


def test_discarding_a_capture_zeroes_it_and_deletes_the_callers_file(ready: PrivacySdk,
                                                                     tmp_path: Path) -> None:
    clip = ready.camera.record_video(feature="face_signing", dest=tmp_path / "face.mp4")
    clip.discard()
    assert not (tmp_path / "face.mp4").exists()
    with pytest.raises(CaptureError, match="discarded"):
        _ = clip.data


def test_a_capture_in_memory_leaves_no_file_behind(ready: PrivacySdk, tmp_path: Path) -> None:
    before = {p for p in tmp_path.rglob("*")}
    ready.camera.record_video(feature="face_signing").discard()
    new = {p for p in tmp_path.rglob("*")} - before
    assert all(b"ftyp" not in p.read_bytes() for p in new if p.is_file())


def test_the_capture_bytes_never_show_in_its_repr(ready: PrivacySdk) -> None:
    clip = ready.camera.record_video(feature="face_signing")
    assert "ftyp" not in repr(clip) and "bytes in memory" in repr(clip)


def test_the_full_flow_leaves_nothing_for_the_compliance_check(ready: PrivacySdk) -> None:  # OBL-PERM-1
    ready.camera.record_video(feature="face_signing").discard()
    assert_compliant(ready)


# -- refused: consent, permission, feature --------------------------------------------------------


def test_without_consent_the_capture_is_refused_and_audited(privacy: PrivacySdk,
                                                            phone: ScriptedBackend) -> None:  # OBL-PERM-1
    with pytest.raises(ConsentRequired) as info:
        privacy.camera.record_video(feature="face_signing")
    assert "purpose:realname_verification" in info.value.scopes
    [entry] = collections(privacy)
    assert (entry.outcome, entry.reason) == ("refused", "consent_required")
    assert phone.requests == []  # the camera permission was not even looked at


def test_without_the_permission_nothing_is_opened_and_nothing_listed_as_collected(
        privacy: PrivacySdk, phone: ScriptedBackend) -> None:  # OBL-PERM-1
    consent_to(privacy, "face_signing")
    phone.script("camera", "denied")
    assert ask(privacy, "camera", "face_signing") == "denied"
    with pytest.raises(PermissionNotGranted) as info:
        privacy.camera.record_video(feature="face_signing")
    assert (info.value.permission, info.value.status) == ("camera", "denied")
    assert collections(privacy) == []
    assert [e.outcome for e in privacy.audit.permission_events("camera")] == ["requested", "denied"]


def test_the_camera_never_prompts_by_itself(privacy: PrivacySdk, phone: ScriptedBackend) -> None:  # OBL-PERM-1
    consent_to(privacy, "face_signing")
    with pytest.raises(PermissionNotGranted, match="not_determined"):
        privacy.camera.record_video(feature="face_signing")
    assert phone.prompts == [] and privacy.audit.permission_events() == []


def test_permanently_denied_points_to_the_settings(privacy: PrivacySdk,
                                                   phone: ScriptedBackend) -> None:  # OBL-PERM-1
    consent_to(privacy, "face_signing")
    phone.script("camera", "permanently_denied")
    ask(privacy, "camera", "face_signing")
    with pytest.raises(PermissionNotGranted, match="open_settings"):
        privacy.camera.record_video(feature="face_signing")


def test_the_camera_is_used_only_in_the_features_that_need_it(ready: PrivacySdk) -> None:  # OBL-PERM-1
    with pytest.raises(ConfigError, match="OBL-PERM-1"):
        ready.camera.record_video(feature="account")
    assert collections(ready) == []


def test_a_document_from_the_photo_library_needs_the_photos_permission(
        ready: PrivacySdk, tmp_path: Path) -> None:  # OBL-PERM-2
    consent_to(ready, "manual_review")
    photo = tmp_path / "document.jpg"
    photo.write_bytes(ready.camera.take_photo("face_video", feature="face_signing").data)
    with pytest.raises(PermissionNotGranted) as info:  # the camera grant is not enough
        ready.camera.pick(photo, feature="manual_review")
    assert info.value.permission == "photos"


def test_a_document_from_the_photo_library_once_photos_is_granted(ready: PrivacySdk,
                                                                  tmp_path: Path) -> None:  # OBL-PERM-2
    consent_to(ready, "manual_review")
    assert ask(ready, "photos", "manual_review") == "granted"
    photo = tmp_path / "document.jpg"
    photo.write_bytes(ready.camera.take_photo("face_video", feature="face_signing").data)
    document = ready.camera.pick(photo, feature="manual_review")
    assert (document.item, document.backend, document.media_type) == (
        "review_document", "file", "image/jpeg")
    assert collections(ready, "review_document")[-1].feature == "manual_review"


# -- revocation while capturing (OBL-PERM-3) -------------------------------------------------------


def test_a_revocation_during_capture_stops_it_at_once(ready: PrivacySdk, phone: ScriptedBackend,
                                                      tmp_path: Path) -> None:  # OBL-PERM-3
    dest = tmp_path / "face.mp4"
    taken: list[int] = []

    def at_frame(n: int) -> None:
        taken.append(n)
        if n == 5:
            phone.revoke("camera")  # switched off in the system settings

    with pytest.raises(CaptureInterrupted) as info:
        ready.camera.record_video(feature="face_signing", dest=dest, on_frame=at_frame)
    assert (info.value.reason, info.value.frames) == ("permission_revoked", 5)
    assert taken == [1, 2, 3, 4, 5] and not dest.exists()


def test_a_revocation_during_capture_is_in_the_audit_trail(ready: PrivacySdk,
                                                           phone: ScriptedBackend) -> None:  # OBL-PERM-3
    def at_frame(n: int) -> None:
        if n == 3:
            phone.revoke("camera")

    with pytest.raises(CaptureInterrupted):
        ready.camera.record_video(feature="face_signing", on_frame=at_frame)
    assert ready.audit.permission_events("camera")[-1].outcome == "revoked"


def test_what_was_captured_before_a_revocation_stays_as_it_was(ready: PrivacySdk,
                                                               phone: ScriptedBackend,
                                                               tmp_path: Path) -> None:  # OBL-PERM-3
    earlier = ready.camera.record_video(feature="face_signing", dest=tmp_path / "earlier.mp4")
    kept = earlier.path.read_bytes()
    phone.revoke("camera")
    with pytest.raises(PermissionNotGranted):
        ready.camera.record_video(feature="face_signing")
    assert earlier.path.read_bytes() == kept and earlier.data == kept
    assert [e.outcome for e in collections(ready)] == ["allowed"]


def test_a_revocation_from_another_thread_stops_a_running_capture(ready: PrivacySdk,
                                                                  phone: ScriptedBackend) -> None:  # OBL-PERM-3
    ready.camera.backend.realtime = True  # frames at camera pace: 2 s for the whole clip
    started = threading.Event()
    ready_to_revoke = threading.Thread(target=lambda: started.wait(5) and phone.revoke("camera"))
    ready_to_revoke.start()
    with pytest.raises(CaptureInterrupted) as info:
        ready.camera.record_video(feature="face_signing", seconds=2,
                                  on_frame=lambda n: n == 3 and started.set())
    ready_to_revoke.join(5)
    assert info.value.reason == "permission_revoked" and info.value.frames < 30


def test_a_revocation_nobody_announced_is_found_before_the_clip_is_handed_out(
        ready: PrivacySdk, phone: ScriptedBackend) -> None:  # OBL-PERM-3
    queued: list = []
    ready.permissions.dispatcher = queued.append  # a UI thread that has not run the listener yet

    def at_frame(n: int) -> None:
        if n == 29:
            phone.revoke("camera")

    with pytest.raises(CaptureInterrupted, match="revoked"):
        ready.camera.record_video(feature="face_signing", on_frame=at_frame)
    assert ready.audit.permission_events("camera")[-1].outcome == "revoked"


def test_the_app_can_stop_a_capture(ready: PrivacySdk) -> None:
    camera = ready.camera
    with pytest.raises(CaptureInterrupted) as info:
        camera.record_video(feature="face_signing", on_frame=lambda n: n == 2 and camera.stop())
    assert info.value.reason == "stopped"


# -- a desktop without a camera --------------------------------------------------------------------


def test_a_desktop_without_a_camera_falls_back_with_a_clear_message_not_a_crash(
        ready: PrivacySdk, monkeypatch: pytest.MonkeyPatch) -> None:  # OBL-PERM-1
    monkeypatch.delenv(ENV_VAR)
    monkeypatch.setattr(opencv_module.glob, "glob", lambda pattern: [])
    camera = Camera(ready)
    assert camera.selection.fallback and camera.backend.name == "file"
    with pytest.raises(CameraUnavailable, match="pass its path as source="):
        camera.record_video(feature="face_signing")
    assert "no camera is usable here" in camera.selection.message
    assert collections(ready) == []  # refused before the gate: nothing listed as collected


def test_the_synthetic_camera_can_be_the_desktop_fallback(ready: PrivacySdk,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR)
    monkeypatch.setattr(opencv_module.glob, "glob", lambda pattern: [])
    camera = Camera(ready, fallback="synthetic")
    assert frames_in(camera.record_video(feature="face_signing", seconds=1).data) == 15


def test_one_capture_at_a_time(ready: PrivacySdk) -> None:
    camera = Camera(ready, backend=SyntheticCamera())
    errors: list[Exception] = []

    def again(n: int) -> None:
        if n == 1:
            try:
                camera.record_video(feature="face_signing")
            except CaptureError as exc:
                errors.append(exc)

    camera.record_video(feature="face_signing", on_frame=again)
    assert "already running" in str(errors[0])


# -- with the real desktop permission backend ------------------------------------------------------


def desktop(privacy: PrivacySdk, camera: str) -> None:
    from sdk.permissions.desktop import DesktopBackend

    privacy.permissions = Permissions(
        privacy, DesktopBackend(camera_probe=lambda: (camera, "probed by the test")))


def test_a_desktop_without_a_camera_refuses_the_capture_clearly(privacy: PrivacySdk) -> None:  # OBL-PERM-1
    desktop(privacy, "absent")
    consent_to(privacy, "face_signing")
    with pytest.raises(PermissionNotGranted, match="no such capability here") as info:
        privacy.camera.record_video(feature="face_signing")
    assert info.value.status == "unavailable" and collections(privacy) == []


def test_on_a_desktop_the_apps_own_dialog_grants_the_camera(privacy: PrivacySdk) -> None:  # OBL-PERM-1
    desktop(privacy, "present")
    consent_to(privacy, "face_signing")
    assert ask(privacy, "camera", "face_signing") == "granted"
    assert frames_in(privacy.camera.record_video(feature="face_signing", seconds=1).data) == 15


# -- review of issue #5: the file fallback, QA, consent withdrawal, picked files -----------------


def a_clip(privacy: PrivacySdk, path: Path) -> Path:
    with Camera(privacy, backend=SyntheticCamera()).record_video(feature="face_signing",
                                                                 seconds=1) as clip:
        path.write_bytes(clip.data)
    return path


def test_a_file_picked_on_a_desktop_without_a_camera_needs_no_camera_permission(
        ready: PrivacySdk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # OBL-PERM-1
    chosen = a_clip(ready, tmp_path / "chosen.mp4")
    desktop(ready, "absent")  # the desktop permission backend: camera unavailable
    monkeypatch.delenv(ENV_VAR)
    monkeypatch.setattr(opencv_module.glob, "glob", lambda pattern: [])
    camera = Camera(ready)  # falls back to the file source
    with camera.record_video(feature="face_signing", source=chosen) as clip:
        assert (clip.backend, clip.media_type) == ("file", "video/mp4")
    assert collections(ready)[-1].outcome == "allowed"


def test_a_picked_file_still_needs_the_items_consent(privacy: PrivacySdk, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:  # OBL-PERM-1
    chosen = tmp_path / "chosen.mp4"
    chosen.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(64))
    desktop(privacy, "absent")
    monkeypatch.delenv(ENV_VAR)
    monkeypatch.setattr(opencv_module.glob, "glob", lambda pattern: [])
    with pytest.raises(ConsentRequired):
        Camera(privacy).record_video(feature="face_signing", source=chosen)
    assert [e.outcome for e in collections(privacy)] == ["refused"]


def test_qa_on_a_headless_machine_sets_only_the_camera_variable(
        privacy: PrivacySdk, monkeypatch: pytest.MonkeyPatch) -> None:  # OBL-PERM-1
    from sdk.permissions import desktop as desktop_module
    from sdk.permissions.desktop import DesktopBackend

    monkeypatch.setattr(desktop_module.glob, "glob", lambda pattern: [])  # no /dev/video*
    privacy.permissions = Permissions(privacy, DesktopBackend())  # its own probe
    consent_to(privacy, "face_signing")  # PRIVACY_SDK_CAMERA=synthetic is set by the fixture
    assert ask(privacy, "camera", "face_signing") == "granted"
    assert frames_in(privacy.camera.record_video(feature="face_signing", seconds=1).data) == 15


@pytest.mark.parametrize("scope", ["item:face_video", None])
def test_a_consent_withdrawal_during_capture_stops_it(ready: PrivacySdk, tmp_path: Path,
                                                      scope: str | None) -> None:  # OBL-PERM-3
    dest = tmp_path / "face.mp4"

    def at_frame(n: int) -> None:
        if n == 5:
            ready.withdraw(scope) if scope else ready.withdraw()

    with pytest.raises(CaptureInterrupted) as info:
        ready.camera.record_video(feature="face_signing", dest=dest, on_frame=at_frame)
    assert info.value.reason == "consent_withdrawn" and info.value.frames == 5
    assert not dest.exists()


@pytest.fixture
def library(ready: PrivacySdk) -> PrivacySdk:
    """Manual review consented and photos granted: pick() gets to the file."""
    consent_to(ready, "manual_review")
    assert ask(ready, "photos", "manual_review") == "granted"
    return ready


def test_picking_a_fifo_does_not_hang(library: PrivacySdk, tmp_path: Path) -> None:  # OBL-PERM-2
    import os

    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    errors: list[BaseException] = []

    def pick() -> None:
        try:
            library.camera.pick(fifo, feature="manual_review")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    worker = threading.Thread(target=pick, daemon=True)
    worker.start()
    worker.join(3)
    assert not worker.is_alive(), "pick() hangs on a FIFO"
    assert isinstance(errors[0], InvalidMedia) and not library.camera.capturing


def _rejected(tmp_path: Path, case: str) -> Path:
    path = tmp_path / f"{case}.jpg"
    if case == "too_large":
        with path.open("wb") as handle:
            handle.write(b"\xff\xd8\xff")
            handle.truncate(21 * 1024 * 1024)
    elif case == "wrong_type":
        path.write_bytes(b"%PDF-1.7\n" + bytes(100))
    elif case == "empty":
        path.write_bytes(b"")
    elif case == "directory":
        path.mkdir()
    elif case == "symlink":
        target = tmp_path / "real.jpg"
        target.write_bytes(b"\xff\xd8\xff" + bytes(100))
        path.symlink_to(target)
    return path  # "missing": not created


@pytest.mark.parametrize("case", ["too_large", "wrong_type", "empty", "missing", "directory",
                                  "symlink"])
def test_a_rejected_picked_file_writes_no_allowed_entry(library: PrivacySdk, tmp_path: Path,
                                                        case: str) -> None:  # OBL-PERM-2
    with pytest.raises(InvalidMedia):
        library.camera.pick(_rejected(tmp_path, case), feature="manual_review")
    assert collections(library, "review_document") == []


def test_a_bad_dest_is_refused_before_anything_is_recorded(ready: PrivacySdk,
                                                           tmp_path: Path) -> None:  # OBL-PERM-1
    frames: list[int] = []
    with pytest.raises(CaptureError, match="dest folder does not exist"):
        ready.camera.record_video(feature="face_signing", dest=tmp_path / "no" / "face.mp4",
                                  on_frame=frames.append)
    assert frames == [] and collections(ready) == []


@pytest.mark.parametrize("source", [123, b"/tmp/document.jpg"])
def test_a_source_that_is_no_path_is_a_clear_sdk_error(library: PrivacySdk, source) -> None:  # OBL-PERM-1
    with pytest.raises(ConfigError, match="source must be a path"):
        library.camera.pick(source, feature="manual_review")


def test_a_folder_as_source_is_invalid_media(library: PrivacySdk, tmp_path: Path) -> None:  # OBL-PERM-1
    with pytest.raises(InvalidMedia, match="folder"):
        library.camera.pick(tmp_path, feature="manual_review")


def test_seconds_that_are_no_number_is_a_clear_sdk_error(ready: PrivacySdk) -> None:  # OBL-PERM-1
    with pytest.raises(ConfigError, match="seconds must be a number"):
        ready.camera.record_video(feature="face_signing", seconds="2")


# -- an app's own camera: privacy.camera = Camera(...) ----------------------------------------------


def test_an_assigned_camera_is_the_one_privacy_camera_captures_with(ready: PrivacySdk) -> None:
    camera = Camera(ready, backend=SyntheticCamera(width=64, height=48))
    ready.camera = camera
    assert ready.camera is camera
    with ready.camera.record_video(feature="face_signing", seconds=0.2) as clip:
        assert (clip.backend, clip.width, clip.height) == ("synthetic", 64, 48)


def test_an_assigned_camera_passes_the_same_permission_gate(privacy: PrivacySdk,
                                                            phone: ScriptedBackend) -> None:  # OBL-PERM-1
    consent_to(privacy, "face_signing")
    privacy.camera = Camera(privacy, backend=SyntheticCamera())
    with pytest.raises(PermissionNotGranted):
        privacy.camera.record_video(feature="face_signing", seconds=0.2)
    assert collections(privacy) == [] and phone.prompts == []


@pytest.mark.parametrize("value", [None, SyntheticCamera(), "synthetic"])
def test_assigning_something_that_is_not_a_camera_is_a_config_error(privacy: PrivacySdk,
                                                                     value) -> None:
    with pytest.raises(ConfigError, match="must be an sdk.capture.Camera"):
        privacy.camera = value


def test_a_camera_made_for_another_sdk_is_refused(privacy: PrivacySdk, tmp_path: Path) -> None:
    config = SdkConfig(data_dir=tmp_path / "other", clock=Clock())
    with (PrivacySdk.open(config, demo_policy(), keystore=MemoryKeystore()) as other,
          pytest.raises(ConfigError, match="made for another PrivacySdk")):
        privacy.camera = Camera(other, backend=SyntheticCamera())


def test_the_camera_is_not_replaced_while_it_captures(ready: PrivacySdk) -> None:
    running = ready.camera
    refused: list[BaseException] = []

    def at_frame(n: int) -> None:
        if n == 2:
            try:
                ready.camera = Camera(ready, backend=SyntheticCamera())
            except CaptureError as exc:
                refused.append(exc)

    running.record_video(feature="face_signing", seconds=0.5, on_frame=at_frame)
    assert "stop() it" in str(refused[0]) and ready.camera is running


# -- a picked file's size (pixels) ------------------------------------------------------------------


def test_a_picked_document_reports_its_size_in_pixels(library: PrivacySdk) -> None:  # OBL-PERM-2
    from demo_app.samples import SAMPLE_DOCUMENT

    with library.camera.pick(SAMPLE_DOCUMENT, feature="manual_review") as document:
        assert (document.media_type, document.width, document.height) == ("image/png", 640, 400)
