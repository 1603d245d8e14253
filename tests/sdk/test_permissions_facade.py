"""The permission facade (``privacy.permissions``) on the demo policy, real SQLite files in a
fresh data dir, the in-memory keystore and the scripted backend (the OS edge): the rules of
docs/permissions.md, the history in the audit trail, revocation, the dispatcher.
"""

from __future__ import annotations

import datetime as dt
import queue
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from sdk import ConfigError, ConsentError, ConsentRequired, PrivacySdk, SdkConfig
from sdk.compliance import REASK_WINDOW
from sdk.permissions import (
    PermissionChange,
    PermissionResult,
    PermissionStatus,
    Rationale,
)
from sdk.permissions.backend import ENV_VAR, SCRIPT_ENV_VAR
from sdk.permissions.desktop import DesktopBackend
from sdk.permissions.facade import Permissions
from sdk.permissions.scripted import ScriptedBackend
from sdk.policy import load_policy
from sdk.testing.compliance import assert_compliant
from sdk.testing.keystore import MemoryKeystore

from .clock import Clock

S = PermissionStatus
REPO = Path(__file__).resolve().parents[2]
POLICY = REPO / "demo_app" / "policy" / "policy.md"


@pytest.fixture(scope="module")
def policy():
    return load_policy(POLICY)


@pytest.fixture(autouse=True)
def _no_override(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.delenv(SCRIPT_ENV_VAR, raising=False)


def open_sdk(data_dir: Path, clock: Clock, policy, backend=None, **config) -> PrivacySdk:
    privacy = PrivacySdk.open(SdkConfig(data_dir=data_dir, clock=clock, **config), policy,
                              keystore=MemoryKeystore())
    if backend is not None:
        privacy.permissions = Permissions(privacy, backend)
    return privacy


@pytest.fixture
def backend() -> ScriptedBackend:
    return ScriptedBackend()


@pytest.fixture
def privacy(tmp_path, clock, policy, backend):
    with open_sdk(tmp_path / "data", clock, policy, backend) as sdk:
        yield sdk


def consent_to(privacy: PrivacySdk, feature: str) -> None:
    """The user agrees to the policy and to every consent *feature* needs."""
    if privacy.mode != "full":
        privacy.agree(sync=False)
    for scope in privacy.missing_for_feature(feature):
        privacy.grant(scope, sync=False)


def accept(rationale: Rationale, proceed) -> None:
    proceed(True)


def decline(rationale: Rationale, proceed) -> None:
    proceed(False)


def ask(privacy: PrivacySdk, permission: str = "camera", feature: str = "face_signing",
        rationale=accept, user_initiated: bool = False) -> PermissionResult:
    """One request with the default dispatcher; its result."""
    results: list[PermissionResult] = []
    privacy.permissions.request(permission, feature=feature, rationale=rationale,
                                on_result=results.append, user_initiated=user_initiated)
    assert len(results) == 1
    return results[0]


def events(privacy: PrivacySdk, permission: str = "camera") -> list[tuple]:
    return [(e.outcome, e.feature, e.reason) for e in privacy.audit.permission_events(permission)]


# -- OBL-PERM-1: never before consent; only inside a feature that needs it; rationale first ----


def test_no_request_before_the_privacy_consent(privacy, backend) -> None:  # OBL-PERM-1
    with pytest.raises(ConsentRequired) as info:
        ask(privacy)
    assert info.value.scopes == ("policy",)
    assert backend.requests == [] and events(privacy) == []


def test_no_request_after_the_user_declined_the_policy(privacy, backend) -> None:  # OBL-PERM-1
    privacy.disagree()
    with pytest.raises(ConsentRequired):
        ask(privacy)
    assert backend.requests == []


def test_no_request_in_a_feature_that_does_not_need_it(privacy, backend) -> None:  # OBL-PERM-1
    consent_to(privacy, "manual_review")
    with pytest.raises(ConsentError, match="realname_signing, face_signing"):
        ask(privacy, "camera", "manual_review")
    assert backend.requests == [] and events(privacy) == []


def test_no_request_in_an_undeclared_feature(privacy, backend) -> None:  # OBL-PERM-1
    privacy.agree(sync=False)
    with pytest.raises(ConsentError, match="not declared"):
        ask(privacy, "camera", "video_chat")
    assert backend.requests == []


def test_a_permission_no_feature_needs_is_never_asked(privacy, backend) -> None:  # OBL-PERM-1
    consent_to(privacy, "face_signing")
    with pytest.raises(ConsentError, match="none"):
        ask(privacy, "phone_state", "face_signing")
    assert backend.requests == []


def test_the_features_consents_come_first(privacy, backend) -> None:  # OBL-PERM-1
    privacy.agree(sync=False)
    missing = privacy.missing_for_feature("face_signing")
    with pytest.raises(ConsentRequired) as info:
        ask(privacy)
    assert info.value.scopes == missing and "item:face_video" in missing
    assert backend.requests == []


def test_the_rationale_states_the_purpose_before_any_prompt(privacy, backend) -> None:  # OBL-PERM-1
    consent_to(privacy, "face_signing")
    seen: list[tuple[Rationale, int]] = []

    def rationale(r: Rationale, proceed) -> None:
        seen.append((r, len(backend.prompts)))
        proceed(True)

    ask(privacy, rationale=rationale)
    [(shown, prompts_then)] = seen
    assert prompts_then == 0 and len(backend.prompts) == 1
    assert shown.title == "「刷脸签署」需要使用相机"
    assert "面部视频" in shown.text and "实名认证" in shown.text
    assert "其他功能不受影响" in shown.text
    assert shown.items == ("face_video",) and shown.purposes == ("realname_verification",)


def test_a_declined_rationale_shows_no_prompt(privacy, backend) -> None:  # OBL-PERM-1
    consent_to(privacy, "face_signing")
    result = ask(privacy, rationale=decline)
    assert result.reasons == {"camera": "rationale_declined"} and result.prompted == ()
    assert backend.prompts == [] and events(privacy) == []


def test_the_prompt_and_its_answer_are_written_with_the_feature(privacy) -> None:  # OBL-PERM-1
    consent_to(privacy, "face_signing")
    result = ask(privacy, user_initiated=True)
    assert result.granted and result.prompted == ("camera",)
    assert events(privacy) == [("requested", "face_signing", "user_initiated"),
                               ("granted", "face_signing", "user_initiated")]


def test_consent_withdrawn_while_the_rationale_shows_stops_the_prompt(privacy, backend) -> None:  # OBL-PERM-1
    consent_to(privacy, "face_signing")

    def withdraw_then_continue(r: Rationale, proceed) -> None:
        privacy.withdraw("item:face_video", sync=False)
        proceed(True)

    result = ask(privacy, rationale=withdraw_then_continue)
    assert result.reasons == {"camera": "consent_missing"}
    assert backend.requests == [] and events(privacy) == []


# -- OBL-PERM-2: photos handled like the camera, for manual review ------------------------------


def test_photos_are_asked_in_manual_review_like_the_camera(privacy, backend) -> None:  # OBL-PERM-2
    consent_to(privacy, "manual_review")
    shown: list[Rationale] = []
    result = ask(privacy, "photos", "manual_review",
                 rationale=lambda r, proceed: (shown.append(r), proceed(True)))
    assert result.granted and [p.permission for p in backend.prompts] == ["photos"]
    assert shown[0].title == "「人工审核」需要使用相册" and "人工审核材料" in shown[0].text
    assert events(privacy, "photos") == [("requested", "manual_review", "app_initiated"),
                                         ("granted", "manual_review", "app_initiated")]


def test_photos_are_not_asked_outside_manual_review(privacy, backend) -> None:  # OBL-PERM-2
    consent_to(privacy, "face_signing")
    with pytest.raises(ConsentError, match="manual_review"):
        ask(privacy, "photos", "face_signing")
    assert backend.requests == []


def test_photos_need_the_manual_review_consents_first(privacy, backend) -> None:  # OBL-PERM-2
    privacy.agree(sync=False)
    with pytest.raises(ConsentRequired) as info:
        ask(privacy, "photos", "manual_review")
    assert "item:review_document" in info.value.scopes and backend.requests == []


def test_limited_photo_access_is_usable_and_recorded_as_a_grant(privacy, backend) -> None:  # OBL-PERM-2
    consent_to(privacy, "manual_review")
    backend.script("photos", "limited")
    result = ask(privacy, "photos", "manual_review")
    assert result.status is S.LIMITED and result.granted
    assert privacy.permissions.status("photos").last_answer == "granted"


# -- OBL-PERM-3: revocation is recorded and announced; nothing is deleted ------------------------


def test_refresh_on_resume_records_a_revocation_and_notifies(tmp_path, clock, policy) -> None:  # OBL-PERM-3
    with open_sdk(tmp_path, clock, policy, ScriptedBackend()) as privacy:
        consent_to(privacy, "face_signing")
        ask(privacy)
    clock.tick(3600)  # the user switched the camera off; the OS ended the app; it starts again
    with open_sdk(tmp_path, clock, policy, ScriptedBackend(initial={"camera": "denied"})) as privacy:
        heard: list[PermissionChange] = []
        privacy.permissions.add_listener(heard.append)
        changes = privacy.permissions.refresh()
        assert [(c.permission, c.before, c.after, c.revoked) for c in changes] == [
            ("camera", S.GRANTED, S.DENIED, True)]
        assert heard == changes and changes[0].entry.outcome == "revoked"
        assert events(privacy)[-1] == ("revoked", None, "user_initiated")


def test_revocation_while_running_is_announced_at_once(privacy, backend) -> None:  # OBL-PERM-3
    consent_to(privacy, "face_signing")
    ask(privacy)
    heard: list[PermissionChange] = []
    privacy.permissions.add_listener(heard.append)
    backend.revoke("camera")  # in the settings, while a capture runs
    assert [(c.before, c.after, c.revoked) for c in heard] == [(S.GRANTED, S.DENIED, True)]
    assert privacy.permissions.status("camera").last_answer == "revoked"


def test_revocation_deletes_nothing_collected_before(privacy, backend) -> None:  # OBL-PERM-3
    consent_to(privacy, "face_signing")
    ask(privacy)
    privacy.collect("face_video", "realname_verification", feature="face_signing")
    privacy.store.put("capture", "clip-1", b"uploaded before", purpose="realname_verification")
    before = privacy.collected_personal_information()
    backend.revoke("camera")
    assert privacy.collected_personal_information() == before
    assert privacy.store.get("capture", "clip-1") == b"uploaded before"
    assert privacy.audit.entries("deletion") == []


def test_refresh_without_a_change_records_nothing(privacy, backend) -> None:  # OBL-PERM-3
    consent_to(privacy, "face_signing")
    ask(privacy)
    written = len(privacy.audit.entries())
    assert privacy.permissions.refresh() == []
    assert len(privacy.audit.entries()) == written


def test_a_grant_in_the_settings_is_recorded_on_refresh(privacy, backend) -> None:  # OBL-PERM-3
    backend.set_status("photos", "granted")
    assert events(privacy, "photos") == [("granted", None, "user_initiated")]
    assert backend.prompts == []


def test_the_desktop_grant_is_remembered_in_the_sdk_history(tmp_path, clock, policy) -> None:  # OBL-PERM-4
    present = {"camera_probe": lambda: ("present", "")}
    with open_sdk(tmp_path, clock, policy, DesktopBackend(**present)) as privacy:
        consent_to(privacy, "face_signing")
        assert ask(privacy).granted
    with open_sdk(tmp_path, clock, policy, DesktopBackend(**present)) as privacy:
        assert privacy.permissions.status("camera").status is S.GRANTED
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix not in (".db", ".db-wal",
                                                                          ".db-shm")) == []


def test_a_second_proceed_is_ignored(privacy, backend) -> None:  # OBL-PERM-4
    consent_to(privacy, "face_signing")
    results: list[PermissionResult] = []

    def double_click(r: Rationale, proceed) -> None:
        proceed(True)
        proceed(True)

    privacy.permissions.request("camera", feature="face_signing", rationale=double_click,
                                on_result=results.append)
    assert len(results) == 1 and len(backend.prompts) == 1


def test_a_camera_that_disappears_is_announced_but_not_revoked(tmp_path, clock, policy) -> None:  # OBL-PERM-3
    camera = {"state": ("present", "")}
    backend = DesktopBackend(camera_probe=lambda: camera["state"], probe_ttl=0)
    with open_sdk(tmp_path, clock, policy, backend) as privacy:
        consent_to(privacy, "face_signing")
        ask(privacy)
        privacy.permissions.refresh()
        camera["state"] = ("absent", "unplugged")
        [change] = privacy.permissions.refresh()
        assert (change.before, change.after, change.revoked, change.entry) == (
            S.GRANTED, S.UNAVAILABLE, True, None)
        assert events(privacy)[-1][0] == "granted"


# -- OBL-PERM-4: no nagging -------------------------------------------------------------------


def test_a_refusal_then_another_request_at_once_shows_no_prompt(privacy, backend) -> None:  # OBL-PERM-4
    consent_to(privacy, "face_signing")
    backend.script("camera", ["denied", "granted"])
    first = ask(privacy)
    second = ask(privacy)
    assert first.status is S.DENIED and second.status is S.DENIED
    assert second.reasons == {"camera": "reask_window"} and second.prompted == ()
    assert len(backend.prompts) == 1 and len(backend.requests) == 1
    assert [e[0] for e in events(privacy)] == ["requested", "denied"]


def test_the_user_starting_the_action_again_may_be_prompted(privacy, backend) -> None:  # OBL-PERM-4
    consent_to(privacy, "face_signing")
    backend.script("camera", ["denied", "granted"])
    ask(privacy)
    again = ask(privacy, user_initiated=True)
    assert again.granted and len(backend.prompts) == 2
    assert events(privacy)[-2:] == [("requested", "face_signing", "user_initiated"),
                                    ("granted", "face_signing", "user_initiated")]


def test_the_app_may_prompt_again_after_48_hours(privacy, backend, clock) -> None:  # OBL-PERM-4
    consent_to(privacy, "face_signing")
    backend.script("camera", ["denied", "granted"])
    ask(privacy)
    clock.tick(int(REASK_WINDOW.total_seconds()) - 1)
    assert ask(privacy).reasons == {"camera": "reask_window"}
    clock.tick(1)
    assert ask(privacy).granted and len(backend.prompts) == 2


def test_the_quiet_window_is_configurable(tmp_path, clock, policy) -> None:  # OBL-PERM-4
    backend = ScriptedBackend({"camera": ["denied", "granted"]})
    with open_sdk(tmp_path, clock, policy, backend,
                  permission_reask_after=dt.timedelta(hours=72)) as privacy:
        consent_to(privacy, "face_signing")
        ask(privacy)
        clock.tick(60 * 3600)
        assert ask(privacy).reasons == {"camera": "reask_window"}
        clock.tick(12 * 3600)
        assert ask(privacy).granted and len(backend.prompts) == 2


def test_a_quiet_window_shorter_than_48_hours_is_refused(tmp_path) -> None:  # OBL-PERM-4
    with pytest.raises(ConfigError, match="at least 48 hours"):
        SdkConfig(data_dir=tmp_path, permission_reask_after=dt.timedelta(hours=24))
    with pytest.raises(ConfigError, match="timedelta"):
        SdkConfig(data_dir=tmp_path, permission_reask_after=48)  # type: ignore[arg-type]


def test_status_shows_when_asked_the_answer_and_the_quiet_window(privacy, backend, clock) -> None:  # OBL-PERM-4
    consent_to(privacy, "face_signing")
    backend.script("camera", "denied")
    ask(privacy)
    state = privacy.permissions.status("camera")
    assert (state.status, state.last_answer) == (S.DENIED, "denied")
    assert state.last_asked_at == "2026-12-01T08:00:00Z"
    assert state.quiet_until == clock.now + dt.timedelta(hours=48)
    assert state.features == ("realname_signing", "face_signing") and "实名认证" in state.purpose


def test_permanently_denied_shows_no_prompt_and_offers_settings(privacy, backend) -> None:  # OBL-PERM-4
    consent_to(privacy, "face_signing")
    backend.script("camera", "permanently_denied")
    ask(privacy)
    again = ask(privacy, user_initiated=True)
    assert again.settings_needed and again.reasons == {"camera": "settings_needed"}
    assert len(backend.prompts) == 1
    assert privacy.permissions.open_settings("camera") is True
    assert backend.settings_opened == ["camera"]


def test_denied_with_no_dialog_is_recorded_and_leads_to_settings(privacy, backend) -> None:  # OBL-PERM-4
    consent_to(privacy, "face_signing")
    backend.script("camera", "denied_no_dialog")
    result = ask(privacy, user_initiated=True)
    assert result.settings_needed and backend.prompts == []
    # no dialog was shown, so no "requested": the answer only
    assert [e[0] for e in events(privacy)] == ["permanently_denied"] and result.prompted == ()


def test_no_sign_either_way_after_a_refusal_reads_as_permanently_denied(privacy, backend) -> None:  # OBL-PERM-4
    consent_to(privacy, "face_signing")
    backend.script("camera", "denied")
    ask(privacy)
    # Android reports "don't ask again" as it reports "never asked": not granted, no hint
    backend.set_status("camera", "not_determined")
    assert privacy.permissions.status("camera").status is S.PERMANENTLY_DENIED
    assert ask(privacy, user_initiated=True).reasons == {"camera": "settings_needed"}


def test_a_refusal_blocks_no_other_feature(privacy, backend) -> None:  # OBL-PERM-4
    consent_to(privacy, "face_signing")
    consent_to(privacy, "manual_review")
    backend.script("camera", "permanently_denied")
    ask(privacy)
    assert ask(privacy, "photos", "manual_review").granted
    privacy.collect("review_document", "realname_verification", feature="manual_review")


# -- threads and the dispatcher ----------------------------------------------------------------


def test_an_answer_from_another_thread_reaches_the_dispatcher(tmp_path, clock, policy) -> None:
    backend = ScriptedBackend(threaded=True)
    jobs: queue.Queue = queue.Queue()
    callers: list[threading.Thread] = []

    def dispatcher(fn) -> None:  # like Clock.schedule_once: run later, on the UI thread
        callers.append(threading.current_thread())
        jobs.put(fn)

    with open_sdk(tmp_path, clock, policy) as privacy:
        privacy.permissions = Permissions(privacy, backend, dispatcher=dispatcher)
        consent_to(privacy, "face_signing")
        results: list[tuple[PermissionResult, threading.Thread]] = []
        privacy.permissions.request(
            "camera", feature="face_signing", rationale=accept,
            on_result=lambda r: results.append((r, threading.current_thread())))
        job = jobs.get(timeout=5)
        assert results == []  # nothing ran on the backend's thread
        job()
        [(result, ran_on)] = results
        assert result.granted and ran_on is threading.main_thread()
        assert callers and all(t is not threading.main_thread() for t in callers)


def test_listeners_are_called_through_the_dispatcher(privacy, backend) -> None:
    consent_to(privacy, "face_signing")
    ask(privacy)
    jobs: list = []
    privacy.permissions.dispatcher = jobs.append
    heard: list[PermissionChange] = []
    privacy.permissions.add_listener(heard.append)
    backend.revoke("camera")
    assert heard == [] and len(jobs) == 1
    jobs[0]()
    assert heard[0].revoked


def test_a_second_request_while_a_prompt_shows_gets_no_second_prompt(tmp_path, clock, policy) -> None:  # OBL-PERM-4
    backend = ScriptedBackend(delay=0.2)
    with open_sdk(tmp_path, clock, policy, backend) as privacy:
        consent_to(privacy, "face_signing")
        results: list[PermissionResult] = []
        for _ in range(2):  # a double tap
            privacy.permissions.request("camera", feature="face_signing", rationale=accept,
                                        on_result=results.append, user_initiated=True)
        assert backend.wait_idle()
        assert sorted(r.reasons["camera"] for r in results) == ["answered", "in_progress"]
        assert len(backend.prompts) == 1


def test_the_dispatcher_must_be_callable(privacy) -> None:
    with pytest.raises(ConfigError, match="dispatcher must be callable"):
        privacy.permissions.dispatcher = "main thread"


def test_kivy_dispatcher_runs_a_callback_from_another_thread_on_the_main_thread(tmp_path) -> None:
    probe = (
        "import threading\n"
        "from sdk.ui.kivy.permissions import kivy_dispatcher\n"
        "from kivy.clock import Clock\n"
        "ran = []\n"
        "worker = threading.Thread(target=kivy_dispatcher, args=(\n"
        "    lambda: ran.append(threading.current_thread() is threading.main_thread()),))\n"
        "worker.start(); worker.join()\n"
        "before = list(ran)\n"
        "Clock.tick()\n"
        "print(before, ran)\n")
    env = {"KIVY_NO_ARGS": "1", "KIVY_NO_CONSOLELOG": "1", "KIVY_HOME": str(tmp_path),
           "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, cwd=REPO, env=env, timeout=60).stdout
    assert out.strip().splitlines()[-1] == "[] [True]"


# -- the PrivacySdk property -------------------------------------------------------------------


def test_the_facade_is_made_on_first_use_with_the_selected_backend(tmp_path, clock, policy,
                                                                   monkeypatch) -> None:
    monkeypatch.setenv(ENV_VAR, "scripted")
    with open_sdk(tmp_path, clock, policy) as privacy:
        assert privacy.permissions is privacy.permissions
        assert privacy.permissions.backend.name == "scripted"


def test_a_facade_made_for_another_sdk_is_refused(tmp_path, clock, policy) -> None:
    with (open_sdk(tmp_path / "a", clock, policy) as one,
          open_sdk(tmp_path / "b", clock, policy) as two,
          pytest.raises(ConfigError, match="made for this PrivacySdk")):
        one.permissions = Permissions(two, ScriptedBackend())


def test_a_closed_sdk_has_no_facade(tmp_path, clock, policy) -> None:
    privacy = open_sdk(tmp_path, clock, policy)
    privacy.close()
    with pytest.raises(ConfigError, match="closed"):
        privacy.permissions  # noqa: B018


# -- the whole flow ------------------------------------------------------------------------------


def test_a_full_scripted_flow_leaves_nothing_for_the_compliance_check(tmp_path, clock, policy) -> None:  # OBL-PERM-1 OBL-PERM-2 OBL-PERM-3 OBL-PERM-4
    backend = ScriptedBackend({"camera": ["granted"], "photos": ["denied", "granted"]},
                              threaded=True)
    with open_sdk(tmp_path, clock, policy, backend, strict=True) as privacy:
        with pytest.raises(ConsentRequired):  # the app tries too early: refused, nothing asked
            ask(privacy)
        privacy.agree(sync=False)
        clock.tick()
        results: queue.Queue = queue.Queue()

        def request(permission: str, feature: str, user_initiated: bool = False) -> PermissionResult:
            privacy.permissions.request(permission, feature=feature, rationale=accept,
                                        on_result=results.put, user_initiated=user_initiated)
            return results.get(timeout=5)

        consent_to(privacy, "face_signing")
        assert request("camera", "face_signing", user_initiated=True).granted
        privacy.collect("face_video", "realname_verification", feature="face_signing")
        consent_to(privacy, "manual_review")
        assert request("photos", "manual_review").status is S.DENIED
        assert request("photos", "manual_review").reasons == {"photos": "reask_window"}
        clock.tick(3600)
        assert request("photos", "manual_review", user_initiated=True).granted
        privacy.collect("review_document", "realname_verification", feature="manual_review")
        backend.revoke("camera")
        clock.tick(49 * 3600)
        privacy.permissions.refresh()
        assert backend.wait_idle()
        assert [e.outcome for e in privacy.audit.permission_events()] == [
            "requested", "granted", "requested", "denied", "requested", "granted", "revoked"]
        assert len(backend.prompts) == 3
        assert_compliant(privacy)


# -- review of issue #5: one rationale at a time, re-checks after it, robust edges --------------


class Held:
    """A rationale dialog that stays open until the test answers it."""

    def __init__(self) -> None:
        self.shown: list[Rationale] = []
        self.proceeds: list = []

    def __call__(self, rationale: Rationale, proceed) -> None:
        self.shown.append(rationale)
        self.proceeds.append(proceed)


def test_a_second_request_while_the_rationale_is_open_gets_in_progress(privacy, backend) -> None:  # OBL-PERM-4
    consent_to(privacy, "face_signing")
    held, results = Held(), []
    for _ in range(2):  # a double tap on "scan face"
        privacy.permissions.request("camera", feature="face_signing", rationale=held,
                                    on_result=results.append, user_initiated=True)
    assert len(held.shown) == 1  # no second rationale
    assert [r.reasons["camera"] for r in results] == ["in_progress"]
    held.proceeds[0](True)
    assert [r.reasons["camera"] for r in results] == ["in_progress", "answered"]
    assert len(backend.prompts) == 1


def test_the_status_is_checked_again_after_the_rationale(privacy, backend) -> None:  # OBL-PERM-4
    consent_to(privacy, "face_signing")
    held, results = Held(), []
    privacy.permissions.request("camera", feature="face_signing", rationale=held,
                                on_result=results.append, user_initiated=True)
    backend.set_status("camera", "permanently_denied")  # changed while the rationale was up
    held.proceeds[0](True)
    assert [r.reasons["camera"] for r in results] == ["settings_needed"]
    assert backend.requests == [] and "requested" not in [e[0] for e in events(privacy)]


def test_a_refusal_while_the_rationale_was_open_starts_the_quiet_window(privacy, backend) -> None:  # OBL-PERM-4
    consent_to(privacy, "face_signing")
    held, results = Held(), []
    privacy.permissions.request("camera", feature="face_signing", rationale=held,
                                on_result=results.append)  # the app's own request
    backend.set_status("camera", "denied")  # refused meanwhile (the app's own code asked)
    privacy.record_permission("camera", "face_signing", "denied")
    held.proceeds[0](True)
    assert [r.reasons["camera"] for r in results] == ["reask_window"]
    assert backend.prompts == []


def test_strict_mode_never_raises_from_proceed_after_half_done_work(tmp_path, clock, policy) -> None:  # OBL-PERM-4
    backend = ScriptedBackend()
    with open_sdk(tmp_path, clock, policy, backend, strict=True) as privacy:
        consent_to(privacy, "face_signing")
        held, results = Held(), []
        privacy.permissions.request("camera", feature="face_signing", rationale=held,
                                    on_result=results.append)
        privacy.record_permission("camera", "face_signing", "denied")
        held.proceeds[0](True)  # must not raise ComplianceViolation into the button handler
        assert len(results) == 1 and not results[0].granted
        assert [e[0] for e in events(privacy)] == ["denied"]  # no "requested" written
        assert_compliant(privacy)


@pytest.mark.parametrize("bad", [None, 5, b"camera"])
def test_a_request_for_no_permission_id_is_a_clear_sdk_error(privacy, bad) -> None:  # OBL-PERM-4
    from sdk import SdkError

    consent_to(privacy, "face_signing")
    with pytest.raises(SdkError, match="permission id"):
        privacy.permissions.request(bad, feature="face_signing", rationale=accept,
                                    on_result=lambda r: None)


class NotADict(ScriptedBackend):
    def _request(self, permissions, callback) -> None:
        callback(["granted"])  # a backend bug: a list, not a dict


def test_a_backend_answering_with_no_dict_still_gives_one_result(tmp_path, clock, policy) -> None:  # OBL-PERM-4
    with open_sdk(tmp_path, clock, policy, NotADict()) as privacy:
        consent_to(privacy, "face_signing")
        first = ask(privacy, user_initiated=True)
        assert first.reasons == {"camera": "answered"} and not first.granted
        # not stuck "in progress" for ten minutes
        assert ask(privacy, user_initiated=True).reasons == {"camera": "answered"}


class Broken(ScriptedBackend):
    reports_prompts = False

    def _request(self, permissions, callback) -> None:
        raise RuntimeError("the platform call failed")


def test_a_backend_that_raises_gives_a_result_with_a_reason(tmp_path, clock, policy) -> None:  # OBL-PERM-4
    with open_sdk(tmp_path, clock, policy, Broken()) as privacy:
        consent_to(privacy, "face_signing")
        result = ask(privacy, user_initiated=True)  # proceed() does not raise
        assert result.reasons == {"camera": "backend_error"} and not result.granted
        assert ask(privacy, user_initiated=True).reasons == {"camera": "backend_error"}


class Undeclared(ScriptedBackend):
    def _preflight(self, permissions) -> None:
        from sdk.errors import PermissionsError

        raise PermissionsError("CAMERA is not declared in the manifest")


def test_a_set_up_problem_is_raised_by_request_before_any_rationale(tmp_path, clock, policy) -> None:  # OBL-PERM-4
    from sdk.errors import PermissionsError

    with open_sdk(tmp_path, clock, policy, Undeclared()) as privacy:
        consent_to(privacy, "face_signing")
        held = Held()
        with pytest.raises(PermissionsError, match="not declared"):
            privacy.permissions.request("camera", feature="face_signing", rationale=held,
                                        on_result=lambda r: None)
        assert held.shown == [] and events(privacy) == []
