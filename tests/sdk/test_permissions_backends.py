"""Permission backends: the shipped contract for the scripted, fail and desktop backends,
selection (viability, environment override, fail backend), and each backend's own behaviour.

Android and iOS need a device and a person: here they are checked by viability only (not
viable, with a reason, and importing them imports no platform library).
"""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from sdk.errors import ConfigError, PermissionsError
from sdk.permissions import PERMISSIONS, PermissionStatus
from sdk.permissions.backend import ENV_VAR, SCRIPT_ENV_VAR, select_backend
from sdk.permissions.desktop import DesktopBackend, _probe_linux
from sdk.permissions.fail import FailBackend
from sdk.permissions.scripted import Prompt, ScriptedBackend
from sdk.policy.manifest import PERMISSIONS as MANIFEST_PERMISSIONS
from sdk.testing.permissions_contract import PermissionBackendContract

S = PermissionStatus


@pytest.fixture(autouse=True)
def _no_override(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.delenv(SCRIPT_ENV_VAR, raising=False)


class Collect:
    """A request callback that remembers what it got and on which thread."""

    def __init__(self) -> None:
        self.answers: list[dict[str, PermissionStatus]] = []
        self.threads: list[threading.Thread] = []
        self.done = threading.Event()

    def __call__(self, answers: dict[str, PermissionStatus]) -> None:
        self.answers.append(answers)
        self.threads.append(threading.current_thread())
        self.done.set()


# -- the contract ------------------------------------------------------------------------------


class TestScriptedBackendContract(PermissionBackendContract):
    @pytest.fixture
    def backend(self):
        return ScriptedBackend(threaded=True)

    def arrange_answer(self, backend, permission, answer):
        backend.script(permission, answer)
        return True


class TestFailBackendContract(PermissionBackendContract):
    @pytest.fixture
    def backend(self):
        return FailBackend({"android": "not running on Android"})


class TestDesktopBackendContract(PermissionBackendContract):
    """The desktop backend with a camera and the app's own yes/no dialog."""

    @pytest.fixture
    def backend(self):
        self.next_answers: dict[str, str] = {}

        def ask(permissions, done):
            done({p: self.next_answers.get(p, "granted") for p in permissions})

        return DesktopBackend(ask=ask, camera_probe=lambda: ("present", ""))

    def arrange_answer(self, backend, permission, answer):
        self.next_answers[permission] = answer
        return True


class TestDesktopBackendOnThisMachineContract(PermissionBackendContract):
    """The desktop backend as an app gets it: the real camera probe, no extra dialog."""

    @pytest.fixture
    def backend(self):
        return DesktopBackend()

    def arrange_answer(self, backend, permission, answer):
        return answer == "granted"  # the rationale was the app's dialog: a request grants


# -- selection -----------------------------------------------------------------------------------


def test_permission_ids_are_the_manifests() -> None:
    assert set(PERMISSIONS) == set(MANIFEST_PERMISSIONS)


def test_desktop_is_chosen_on_a_desktop() -> None:
    assert select_backend().name == "desktop"


def test_environment_variable_chooses_the_scripted_backend_with_its_script(monkeypatch) -> None:
    monkeypatch.setenv(ENV_VAR, "scripted")
    monkeypatch.setenv(SCRIPT_ENV_VAR, "camera=denied")
    backend = select_backend(preferred="desktop")
    answers = Collect()
    backend.request(["camera"], answers)
    assert backend.name == "scripted" and answers.answers == [{"camera": S.DENIED}]


def test_a_named_backend_that_is_not_viable_is_not_replaced(monkeypatch) -> None:
    monkeypatch.setenv(ENV_VAR, "android")
    backend = select_backend()
    assert isinstance(backend, FailBackend)
    with pytest.raises(PermissionsError, match="not running on Android") as info:
        backend.check("camera")
    assert ENV_VAR in str(info.value)


def test_the_fail_backend_can_be_chosen_on_purpose(monkeypatch) -> None:
    monkeypatch.setenv(ENV_VAR, "fail")
    with pytest.raises(PermissionsError, match="chose the 'fail' backend"):
        select_backend().request(["camera"], lambda answers: None)


def test_an_unknown_backend_name_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="android, ios, desktop, scripted, fail"):
        select_backend(preferred="webcam")


def test_the_permission_layer_imports_nothing_heavy_and_no_platform_library() -> None:
    probe = ("import sys\nimport sdk.permissions.facade, sdk.permissions.desktop, "
             "sdk.permissions.scripted\n"
             "heavy = ('kivy', 'requests', 'keyring', 'markdown_it', 'jnius', 'android', "
             "'pyobjus', 'AVFoundation', 'cv2', 'plyer')\n"
             "print([m for m in heavy if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("module, cls, reason", [
    ("sdk.permissions.android", "AndroidBackend", "not running on Android"),
    ("sdk.permissions.ios", "IosBackend", "not running on iOS"),
])
def test_mobile_backends_are_not_viable_here_and_say_why(module, cls, reason) -> None:
    probe = (f"import sys\nfrom {module} import {cls}\nprint({cls}.viable())\n"
             "print([m for m in ('jnius', 'android', 'pyobjus') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out == [str((False, reason)), "[]"]


# -- the scripted backend ----------------------------------------------------------------------


def test_scripted_records_the_prompts_it_shows() -> None:
    backend = ScriptedBackend({"camera": ["denied", "granted"]})
    backend.request(["camera"], Collect())
    backend.request(["camera"], Collect())
    assert [p.answer for p in backend.prompts] == ["denied", "granted"]
    assert backend.prompts[0] == Prompt("camera", "denied", threading.current_thread().name)


def test_scripted_denied_with_no_dialog_shows_no_prompt() -> None:
    backend = ScriptedBackend({"camera": "denied_no_dialog"})
    answers = Collect()
    backend.request(["camera"], answers)
    assert backend.prompts == [] and backend.requests == [("camera",)]
    assert answers.answers == [{"camera": S.PERMANENTLY_DENIED}]


def test_scripted_granted_permission_is_answered_without_a_prompt() -> None:
    backend = ScriptedBackend(initial={"camera": "granted"})
    answers = Collect()
    backend.request(["camera"], answers)
    assert backend.prompts == [] and answers.answers == [{"camera": S.GRANTED}]


def test_scripted_dismissed_prompt_gives_no_answer_and_keeps_the_status() -> None:
    backend = ScriptedBackend({"photos": "dismissed"})
    answers = Collect()
    backend.request(["photos"], answers)
    assert answers.answers == [{"photos": S.NOT_DETERMINED}]
    assert len(backend.prompts) == 1 and backend.check("photos") is S.NOT_DETERMINED


def test_scripted_delay_answers_from_another_thread() -> None:
    backend = ScriptedBackend(delay=0.05)
    answers = Collect()
    backend.request(["camera"], answers)
    assert answers.answers == []  # not yet: the answer comes later
    assert backend.wait_idle() and answers.done.is_set()
    assert answers.threads[0] is not threading.current_thread()


def test_scripted_revoke_tells_the_change_listeners() -> None:
    backend = ScriptedBackend(initial={"camera": "granted"})
    told: list[str] = []
    backend.on_change(told.append)
    backend.revoke("camera")
    assert told == ["camera"] and backend.check("camera") is S.DENIED


def test_scripted_spec_sets_answers_initial_statuses_and_timing() -> None:
    backend = ScriptedBackend.from_spec(
        "camera=denied,granted; initial.phone_state=unavailable; delay=0.01; threaded=yes")
    assert backend.check("phone_state") is S.UNAVAILABLE
    assert backend.delay == 0.01 and backend.threaded
    first, second = Collect(), Collect()
    backend.request(["camera"], first)
    backend.wait_idle()
    backend.request(["camera"], second)
    backend.wait_idle()
    assert [first.answers[0]["camera"], second.answers[0]["camera"]] == [S.DENIED, S.GRANTED]


def test_scripted_spec_that_is_malformed_says_how_to_write_it() -> None:
    with pytest.raises(ConfigError, match="camera=denied,granted"):
        ScriptedBackend.from_spec("camera=maybe")


def test_a_backend_answering_twice_is_heard_once() -> None:
    class Twice(ScriptedBackend):
        def _request(self, permissions, callback):
            callback({"camera": S.GRANTED})
            callback({"camera": S.DENIED})

    answers = Collect()
    Twice().request(["camera"], answers)
    assert answers.answers == [{"camera": S.GRANTED}]


# -- the desktop backend -----------------------------------------------------------------------


def test_desktop_without_a_camera_reports_unavailable_and_asks_nothing() -> None:
    asked: list[object] = []
    backend = DesktopBackend(ask=lambda permissions, done: asked.append(permissions),
                             camera_probe=lambda: ("absent", "no /dev/video* device"))
    answers = Collect()
    backend.request(["camera"], answers)
    assert answers.answers == [{"camera": S.UNAVAILABLE}] and asked == []


def test_desktop_camera_this_user_may_not_open_is_restricted() -> None:
    backend = DesktopBackend(camera_probe=lambda: ("no_access", "add the user to 'video'"))
    assert backend.check("camera") is S.RESTRICTED


def test_desktop_remembers_the_answer_through_the_sdk_history() -> None:
    backend = DesktopBackend(recall={"camera": "revoked", "photos": "granted"}.get,
                             camera_probe=lambda: ("present", ""))
    assert (backend.check("camera"), backend.check("photos"), backend.check("phone_state")) == (
        S.DENIED, S.GRANTED, S.NOT_DETERMINED)


def test_desktop_switch_on_the_apps_page_tells_the_facade() -> None:
    backend = DesktopBackend(camera_probe=lambda: ("present", ""))
    told: list[str] = []
    backend.on_change(told.append)
    backend.set_answer("camera", "denied")
    assert told == ["camera"] and backend.check("camera") is S.DENIED


def test_linux_probe_ignores_files_that_are_not_video_devices(tmp_path) -> None:
    (tmp_path / "video0").write_text("not a device")
    state, reason = _probe_linux(str(tmp_path / "video*"))
    assert state == "absent" and "/dev/video" in reason
