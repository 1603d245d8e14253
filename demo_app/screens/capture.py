"""刷脸签署（演示）and 人工审核材料: the camera and the photo library asked just in time, inside
the feature that needs them (OBL-PERM-1, OBL-PERM-2), and never nagging (OBL-PERM-4).

Each action, when the user taps it:

1. ``require_feature``; missing consents are asked one dialog each (``ask_for_feature``);
2. ``privacy.permissions.request`` with the SDK's :class:`~sdk.ui.kivy.RationaleDialog` as the
   rationale: only its 继续 leads to the system prompt. ``user_initiated=True`` because the
   user tapped, except right after a refusal: then the tap gets the stored answer with no
   prompt (the 48-hour quiet window), and 重新申请 is the explicit way to be asked again.
   Permanently denied offers 去设置 instead;
3. the capture: ``camera.record_video(feature="face_signing")`` on a worker thread (a 3 s clip;
   the synthetic camera when there is no real one, said on screen), or the sample picker then
   ``camera.pick(..., feature="manual_review")``. The media stays in memory: the screen shows
   what was captured (frames, duration, size) and discards it at once. Nothing is uploaded
   and no file is written.

A camera revoked during the recording stops it (the SDK raises ``CaptureInterrupted``); the
screen says so, and the permissions page shows the new status. A refusal never ends the app
or blocks anything else.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from kivy.clock import mainthread
from kivy.properties import BooleanProperty, StringProperty

from sdk.ui.kivy.common import SdkDialog, format_time, run_off_ui
from sdk.ui.kivy.permissions import ANSWER_TEXT, permission_name

from .base import BaseScreen, describe_error, format_size

FACE, REVIEW = "face_signing", "manual_review"
#: The permission each action needs, and where its messages go.
PERMISSION = {FACE: "camera", REVIEW: "photos"}
PREFIX = {FACE: "face", REVIEW: "review"}
ACTION = {FACE: "开始刷脸", REVIEW: "选择审核材料"}
FEATURE_NAME = {FACE: "刷脸签署", REVIEW: "人工审核"}


def camera_rationale(app: Any, *, on_error, on_decided):
    """The ``rationale=`` callback for a permission request of this demo: the SDK's
    :class:`~sdk.ui.kivy.RationaleDialog` with a last line saying what 继续 leads to with the
    permission backend in use. Shared by 刷脸签署, 人工审核材料 and 实名认证."""
    from sdk.ui.kivy import rationale_dialog

    backend = getattr(app.sdk.permissions.backend, "name", "")
    if backend == "desktop":
        note = ("桌面系统没有系统授权框：点击「继续」即允许本应用使用，"
                "可随时在「权限管理」中关闭。")
    elif backend == "scripted":
        note = "QA 脚本权限后端：点击「继续」后，系统授权框按脚本作答。"
    else:
        note = "点击「继续」后，系统会询问您是否允许。"
    return rationale_dialog(note=note, on_error=on_error, on_decided=on_decided)


def refusal_text(app: Any, permission: str, fname: str, action: str, status: str,
                 reason: str) -> tuple[str, bool, str]:
    """What a screen says when *permission* is not usable for the feature named *fname*
    (started with the button *action*): ``(text, ok, offer)``, offer ``""`` | ``"ask_again"``
    | ``"settings"``. Never an exit, never a block of another feature (OBL-PERM-4)."""
    name = permission_name(permission)
    others = "其他功能不受影响。"
    if reason == "rationale_declined":
        text = (f"您选择了「暂不」：未申请{name}权限，{fname}暂不可用；{others}"
                f"需要时可再次点击「{action}」。")
        return text, False, ""
    if status == "permanently_denied":
        text = (f"{name}权限已被拒绝，系统不会再询问。如需使用{fname}，请点击「去设置」在系统设置中"
                f"开启{name}权限；{others}")
        return text, False, "settings"
    if status == "restricted":
        return (f"{name}权限受限制（家长控制、设备管理或系统账户权限），本应用无法申请；{others}",
                False, "")
    if status == "unavailable":
        return (f"本设备没有可用的{name}，{fname}无法使用；{others}", False, "")
    if reason == "in_progress":
        return ("系统授权框正在显示，请先在其中作出选择。", False, "")
    if reason == "consent_missing":
        return (f"{fname}所需的同意已被撤回，未申请{name}权限。", False, "")
    if reason == "backend_error":
        return (f"无法申请{name}权限（系统权限接口出错，已记录日志）；{others}", False, "")
    if reason == "compliance_rule":
        return (f"现在申请{name}权限会违反隐私规则，未弹出授权框；{others}", False, "")
    state = app.sdk.permissions.status(permission)
    if reason == "reask_window":
        answer = ANSWER_TEXT.get(state.last_answer or "", "拒绝")
        when = format_time(state.last_answer_at)
        until = format_time(state.quiet_until.isoformat()) if state.quiet_until else ""
        from sdk.permissions.backend import settings_place_of

        # a desktop has no system settings for the app's own grant: only asking again
        settings = settings_place_of(app.sdk.permissions.backend) == "system"
        text = (f"您已于 {when} {answer}了{name}权限（已记录您的选择）。为避免打扰，"
                f"{until} 前本应用不会再弹出系统授权框。如需现在使用{fname}，请点击"
                f"「重新申请{name}权限」{'，或到系统设置中开启' if settings else ''}；{others}")
        return text, False, "ask_again"
    if status == "denied":
        return (f"您拒绝了{name}权限，{fname}无法使用；{others}", False, "ask_again")
    return (f"您没有作出选择，未获得{name}权限；需要时可再次点击「{action}」。",
            False, "")


class SamplePicker(SdkDialog):
    """The demo's stand-in for the system photo picker: the bundled sample image, 取消 /
    使用此图片. ``on_done(path or None)``."""

    source = StringProperty("")
    caption = StringProperty("")

    def __init__(self, on_done, **kwargs: Any) -> None:
        from ..samples import SAMPLES

        path, caption = SAMPLES[0]
        kwargs.setdefault("dialog_name", "sample_picker")
        super().__init__(source=str(path), caption=caption, **kwargs)
        self.path = path
        self._on_done = on_done
        self._answered = False

    def choose(self, use: bool) -> None:
        if self._answered:
            return
        self._answered = True
        self.dismiss()
        self._on_done(self.path if use else None)


class CaptureScreen(BaseScreen):
    camera_note = StringProperty("")
    face_status = StringProperty("")
    face_ok = BooleanProperty(False)
    face_offer = StringProperty("")     # "" | "ask_again" | "settings"
    review_status = StringProperty("")
    review_ok = BooleanProperty(False)
    review_offer = StringProperty("")
    busy = BooleanProperty(False)       # a flow runs (dialogs, recording, reading)
    recording = BooleanProperty(False)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        #: feature -> what happened (permission status and reason, clip or document facts).
        self.results: dict[str, dict] = {}
        self.consent_run = None
        self.picker = None

    def on_pre_enter(self, *args) -> None:
        self.camera_note = self.app.devices.camera_note

    def on_leave(self, *args) -> None:
        camera = self.app.sdk.camera
        if camera.capturing:
            camera.stop()  # leaving the screen cancels the recording; nothing is kept

    def back(self) -> None:
        self.app.go(self.app.landing_screen())

    # -- messages -----------------------------------------------------------------------
    def _say(self, feature: str, text: str, ok: bool = False, offer: str = "") -> None:
        prefix = PREFIX[feature]
        setattr(self, f"{prefix}_status", text)
        setattr(self, f"{prefix}_ok", ok)
        setattr(self, f"{prefix}_offer", offer)

    # -- the two actions ----------------------------------------------------------------
    def start_face(self) -> None:
        """开始刷脸."""
        self._start(FACE, again=False)

    def pick_document(self) -> None:
        """选择审核材料."""
        self._start(REVIEW, again=False)

    def ask_again(self, feature: str) -> None:
        """重新申请: the user asks on purpose to be prompted again (within the quiet window)."""
        self._start(feature, again=True)

    def _start(self, feature: str, again: bool) -> None:
        from sdk.errors import ConsentRequired
        from sdk.ui.kivy import ask_for_feature

        if self.busy:
            return
        sdk = self.app.sdk
        self.busy = True
        try:
            sdk.require_feature(feature)
        except ConsentRequired as exc:
            if "policy" in tuple(exc.scopes):
                self._say(feature, "请先同意隐私政策。")
                self.busy = False
                return
            name = "刷脸签署" if feature == FACE else "人工审核"
            self._say(feature, f"{name}需要您逐项单独同意，请阅读每一项后选择。")
            # Kept on the screen: the run answers through dialogs after this returns.
            self.consent_run = ask_for_feature(sdk, feature,
                                               partial(self._consented, feature, again))
            return
        self._ask_permission(feature, again)

    def _consented(self, feature: str, again: bool, granted: bool) -> None:
        if granted:
            self._ask_permission(feature, again)
            return
        self.busy = False
        name = "刷脸签署" if feature == FACE else "人工审核"
        self._say(feature, f"您未同意{name}所需的全部单独同意，{name}无法使用；其他功能不受影响。"
                           "您可随时在「隐私中心」开启。")

    def _rationale(self, feature: str):
        return camera_rationale(self.app, on_error=lambda _d, exc: self._failed(feature, exc),
                                on_decided=lambda _d, go: self._continued(feature, go))

    def _continued(self, feature: str, go: bool) -> None:
        if go:  # the system prompt follows; its answer replaces this line
            self._say(feature, f"请在系统授权框中选择是否允许使用{permission_name(PERMISSION[feature])}。")

    def _failed(self, feature: str, exc: BaseException) -> None:
        """The request could not be made (e.g. no permission backend works here)."""
        self.busy = False
        name = permission_name(PERMISSION[feature])
        self._say(feature, f"无法申请{name}权限：{describe_error(exc)}；其他功能不受影响。")

    def _ask_permission(self, feature: str, again: bool) -> None:
        from sdk.errors import SdkError

        perms = self.app.sdk.permissions
        permission = PERMISSION[feature]
        try:
            state = perms.status(permission)
            # The user tapped: that is starting the action on purpose, unless they refused
            # within the quiet window; then only 重新申请 (again=True) may prompt again.
            user_initiated = again or state.quiet_until is None
            self._say(feature, "")
            perms.request(permission, feature=feature, rationale=self._rationale(feature),
                          on_result=partial(self._answered, feature),
                          user_initiated=user_initiated)
        except SdkError as exc:
            self._failed(feature, exc)

    def _answered(self, feature: str, result: Any) -> None:
        permission = PERMISSION[feature]
        status = str(result.statuses[permission])
        reason = result.reasons[permission]
        self.results[feature] = {"status": status, "reason": reason,
                                 "prompted": list(result.prompted)}
        if result.granted:
            if feature == FACE:
                self._record()
            else:
                self._pick()
            return
        self.busy = False
        self._say(feature, *self._refusal_text(feature, status, reason))

    def _refusal_text(self, feature: str, status: str, reason: str) -> tuple[str, bool, str]:
        """What the screen says when the permission is not usable: (text, ok, offer)."""
        return refusal_text(self.app, PERMISSION[feature], FEATURE_NAME[feature], ACTION[feature],
                            status, reason)

    def open_settings(self, permission: str) -> None:
        from sdk.errors import SdkError

        feature = FACE if permission == "camera" else REVIEW
        name = permission_name(permission)
        try:
            opened = self.app.sdk.permissions.open_settings(permission)
        except SdkError as exc:
            self._say(feature, f"无法打开系统设置：{describe_error(exc)}", offer="settings")
            return
        if opened and self.app.devices.scripted:
            self._say(feature, "已打开系统设置（QA 脚本权限后端：只记录了此操作，没有真正打开）。",
                      offer="settings")
        elif opened:
            self._say(feature, f"已打开系统设置：开启{name}权限后返回本应用，再点击「{ACTION[feature]}」。",
                      offer="settings")
        else:
            self._say(feature, f"本系统没有可直接打开的应用权限设置页面，请在系统的隐私设置中开启{name}。",
                      offer="settings")

    # -- 刷脸签署: record, show, discard -------------------------------------------------
    def _record(self) -> None:
        camera = self.app.sdk.camera
        seconds = _clip_seconds()
        source = "演示用合成摄像头" if self.app.devices.synthetic else "摄像头"
        self.recording = True
        self._say(FACE, f"录制中…（{source}，{seconds:g} 秒）")

        def on_frame(n: int) -> None:  # on the capturing thread
            if n % 5 == 0:
                self._progress(n, source)

        def work() -> dict:
            # In memory only: leaving the with block zeroes and drops the bytes.
            with camera.record_video(feature=FACE, seconds=seconds, on_frame=on_frame) as clip:
                return {"frames": clip.frames, "duration": clip.duration, "size": clip.size,
                        "media_type": clip.media_type, "width": clip.width,
                        "height": clip.height, "backend": clip.backend,
                        "discarded_after": True}

        run_off_ui(work, self._recorded, self._record_failed, name="face-capture")

    @mainthread
    def _progress(self, frames: int, source: str) -> None:
        if self.recording:
            self._say(FACE, f"录制中…（已采集 {frames} 帧，{source}）")

    def _recorded(self, info: dict) -> None:
        self.recording = False
        self.busy = False
        self.results.setdefault(FACE, {})["clip"] = info
        source = "演示用合成摄像头" if info["backend"] == "synthetic" else "摄像头"
        size = f"{info['width']}×{info['height']}，" if info.get("width") else ""
        duration = f"{info['duration']:.1f} 秒" if info.get("duration") else "时长未知"
        self._say(FACE, f"录制完成：{info['frames']} 帧，{duration}，{size}{info['media_type']}，"
                        f"{format_size(info['size'])}（{source}）。演示不上传：视频只在内存中，显示结果后"
                        "已丢弃，未写入任何文件。", ok=True)

    def _record_failed(self, exc: BaseException) -> None:
        from sdk.capture import (
            CameraUnavailable,
            CaptureInterrupted,
            PermissionNotGranted,
        )
        from sdk.errors import ConsentRequired

        self.recording = False
        self.busy = False
        self.results.setdefault(FACE, {})["error"] = type(exc).__name__
        if isinstance(exc, CaptureInterrupted):
            self.results[FACE]["interrupted"] = exc.reason
            if exc.reason == "permission_revoked":
                self._say(FACE, f"录制已停止：相机权限在录制过程中被关闭。本次录制的 {exc.frames} 帧已全部"
                                "丢弃，之前已完成的记录不受影响。新的权限状态见「权限管理」。")
            elif exc.reason == "consent_withdrawn":
                self._say(FACE, "录制已停止：刷脸签署所需的同意在录制过程中被撤回，本次录制未保留任何内容。")
            elif exc.reason == "unavailable":
                self._say(FACE, "录制已停止：摄像头不可用了，本次录制未保留任何内容。")
            else:
                self._say(FACE, "录制已取消，本次录制未保留任何内容。")
        elif isinstance(exc, PermissionNotGranted):
            self._say(FACE, *self._refusal_text(FACE, str(exc.status), "not_granted"))
        elif isinstance(exc, CameraUnavailable):
            self._say(FACE, "本机没有可用的摄像头，无法录制（可设置 PRIVACY_SDK_CAMERA=synthetic "
                            "使用演示用合成摄像头）；其他功能不受影响。")
        elif isinstance(exc, ConsentRequired):
            self._say(FACE, "刷脸签署所需的同意已被撤回，未录制。")
        else:
            self._say(FACE, f"录制未完成：{describe_error(exc)}")

    def stop_capture(self) -> None:
        """停止录制: the user cancels; nothing of the clip is kept."""
        self.app.sdk.camera.stop()

    # -- 人工审核材料: the picker, read, show, discard ---------------------------------------
    def _pick(self) -> None:
        self._say(REVIEW, "请选择一张图片。")
        self.picker = SamplePicker(self._picked)
        self.picker.open()

    def _picked(self, path) -> None:
        self.picker = None
        if path is None:
            self.busy = False
            self._say(REVIEW, "您没有选择图片，未读取任何内容。")
            return
        camera = self.app.sdk.camera

        def work() -> dict:
            with camera.pick(path, feature=REVIEW) as doc:  # in memory; discarded on leaving
                return {"media_type": doc.media_type, "size": doc.size, "width": doc.width,
                        "height": doc.height, "backend": doc.backend}

        run_off_ui(work, self._read, self._read_failed, name="review-pick")

    def _read(self, info: dict) -> None:
        self.busy = False
        self.results.setdefault(REVIEW, {})["document"] = info
        size = f"{info['width']}×{info['height']}，" if info.get("width") else ""
        self._say(REVIEW, f"已读取人工审核材料：{size}{info['media_type']}，{format_size(info['size'])}"
                          "（内置样例图片）。演示不上传：内容只在内存中，显示结果后已丢弃；原图未被修改。",
                  ok=True)

    def _read_failed(self, exc: BaseException) -> None:
        from sdk.capture import InvalidMedia, PermissionNotGranted

        self.busy = False
        self.results.setdefault(REVIEW, {})["error"] = type(exc).__name__
        if isinstance(exc, PermissionNotGranted):
            self._say(REVIEW, *self._refusal_text(REVIEW, str(exc.status), "not_granted"))
        elif isinstance(exc, InvalidMedia):
            self._say(REVIEW, "这不是可用的图片（格式或大小不符），请选择其他图片。")
        else:
            self._say(REVIEW, f"未能读取图片：{describe_error(exc)}")

    def probe_facts(self) -> dict:
        return {
            "face_status": self.face_status, "face_offer": self.face_offer,
            "review_status": self.review_status, "review_offer": self.review_offer,
            "recording": self.recording, "synthetic_camera": self.app.devices.synthetic,
            "camera_backend": self.app.sdk.camera.backend.name,
            "results": dict(getattr(self, "results", {})),
        }


def _clip_seconds() -> float:
    from ..devices import CLIP_SECONDS

    return CLIP_SECONDS
