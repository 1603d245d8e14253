"""实名认证 (issue #6; OBL-RN-1, OBL-RN-2, OBL-RN-3; docs/realname.md "Verification flow").

The screen walks through ``privacy.realname`` one step at a time (``stage``):

``consent``  the separate consents of ``realname_signing`` first (``ask_for_feature``: one
             dialog each), before anything is typed and kept or captured. Refusing one shows a
             clear line and blocks only this feature (and the certificate and signing, which
             need a verified name): the templates, the account and the rest keep working
             (OBL-RN-3). The form stays greyed out.
``form``     真实姓名, 身份证号码, 手机号码, each checked on the device with the SDK's own
             functions (``sdk.realname.validate``); an error is shown under its field, from
             ``RealnameValidationError.message_zh``, and nothing is captured or sent. Then the
             login, and ``realname.preflight()`` (the consents, the pins, the keystore, the
             server's key and a suite this build can seal to) before the camera is opened: a
             build or server that could not take the face video is told here, with the same
             line as at the submission, and no face video is recorded (PIPL art. 6).
``capture``  the face video through ``privacy.camera`` with the same permission flow as
             刷脸签署 (rationale, then the system prompt; after a refusal the stored answer,
             重新申请, 去设置; a 3 s clip, the synthetic camera when there is no real one).
``upload``   ``realname.submit``: the face video sealed and uploaded (tus), with a progress bar,
             percent, rate and time left, and 取消上传; the three fields are sealed one by one.
             The clip is discarded right after; the typed values are cleared once submitted.
``result``   the server's answer, polled every second (审核中 / 已通过 / 未通过：<reason> /
             人工审核 / 超时). Only the server's answer counts.
``review``   manual review (OBL-RN-2) when the check failed, timed out or was referred: one of
             the four documents, its number (checked on the device too), a photo through the
             demo's picker (the bundled sample), then ``submit_for_manual_review``.

Nothing typed is logged, put in a report (``probe_facts`` gives lengths and messages only) or
written to a file by the demo.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

from kivy.clock import Clock, mainthread
from kivy.properties import BooleanProperty, NumericProperty, StringProperty

from sdk.ui.kivy.common import run_off_ui
from sdk.ui.kivy.secure import SecureWindow, SensitiveContent

from .base import BaseScreen, describe_error, format_size
from .capture import SamplePicker, camera_rationale, refusal_text

FEATURE = "realname_signing"
REVIEW_FEATURE = "manual_review"
#: Seconds between two status requests while the server says "pending".
POLL_SECONDS = 1.0

#: The form's fields: the SDK's field name -> the widget id of its input.
FIELDS = {"real_name": "rn_name", "id_number": "rn_id_number", "phone": "rn_phone"}
FIELD_NAMES = {"real_name": "真实姓名", "id_number": "身份证号码", "phone": "手机号码"}

#: The four documents manual review accepts (sdk.realname.DOCUMENT_KINDS), as the picker shows them.
DOCUMENT_NAMES = {
    "resident_id": "居民身份证",
    "passport": "护照",
    "hk_macao_travel_permit": "港澳居民来往内地通行证",
    "taiwan_travel_permit": "台湾居民来往大陆通行证",
}
DOCUMENT_HINTS = {
    "resident_id": "18 位身份证号码（或居住证号码）",
    "passport": "护照号码，如 E12345678",
    "hk_macao_travel_permit": "通行证号码，如 H12345678",
    "taiwan_travel_permit": "通行证号码：8 位或 10 位数字",
}

#: The server's statuses as the screen names them.
STATUS_LABELS = {"pending": "审核中", "verified": "已通过", "failed": "未通过",
                 "manual_review": "人工审核", "timed_out": "超时"}
#: Reason codes of the server (and of the agency's stand-in) in words; others are shown as sent.
REASONS = {
    "face_mismatch": "人脸与身份证件照片不一致",
    "not_verified": "身份信息核验未通过",
    "id_mismatch": "姓名与身份证号码不一致",
    "phone_mismatch": "手机号码不是本人实名登记的号码",
    "superseded": "已被您之后提交的认证取代",
    "agency_timeout": "核验机构未在规定时间内答复",
    "agency_referred": "核验机构将您的认证转交人工审核",
    "document_unreadable": "证件照片无法辨认",
}


def reason_text(code: str | None) -> str:
    """A reason code in words, with the code for QA (``人脸与身份证件照片不一致（face_mismatch）``)."""
    if not code:
        return "未说明原因"
    return f"{REASONS[code]}（{code}）" if code in REASONS else code


def status_label(status: str, reason: str | None = None) -> str:
    """审核中 / 已通过 / 未通过：<reason> / 人工审核 / 超时."""
    label = STATUS_LABELS.get(status, status)
    return f"{label}：{reason_text(reason)}" if status == "failed" else label


def format_rate(bytes_per_second: float) -> str:
    """KB/s below 1 MB/s, else MB/s."""
    if bytes_per_second >= 1024 * 1024:
        return f"{bytes_per_second / 1024 / 1024:.1f} MB/s"
    return f"{bytes_per_second / 1024:.1f} KB/s"


def format_time_left(seconds: float) -> str:
    if seconds < 1:
        return "剩余不到 1 秒"
    whole = math.ceil(seconds)
    if whole < 60:
        return f"剩余约 {whole} 秒"
    return f"剩余约 {whole // 60} 分 {whole % 60} 秒"


def progress_text(sent: int, total: int, rate: float, verb: str = "上传") -> str:
    """``已上传 45%（11.2 KB / 24.8 KB）· 1.2 MB/s · 剩余约 1 秒``."""
    percent = 100 * sent / total if total else 0
    speed = format_rate(rate) if rate > 0 else "正在计算速度"
    left = format_time_left((total - sent) / rate) if rate > 0 else "正在估算剩余时间"
    return (f"已{verb} {percent:.0f}%（{format_size(sent)} / {format_size(total)}）"
            f" · {speed} · {left}")


def finished_text(total: int, elapsed: float) -> str:
    """The line once the upload is done: the size, the time since 上传 was pressed and the
    average rate over that time, so that the three agree (size = rate x time).

    Not the SDK's last ``rate``: that counts only the bytes handed to the connection since
    its PATCH began, so for a small file (all of it fits in the socket buffers at once) it
    says MB/s while the whole step, sealing the fields, creating the upload, the PATCH and
    the submission, takes a few tenths of a second (screenshot 40 said "24.8 KB, 4.0 MB/s,
    用时 0.3 秒").
    """
    elapsed = max(elapsed, 0.001)
    return (f"上传完成：100%（{format_size(total)}），用时 {elapsed:.1f} 秒"
            f"（含加密和提交，平均 {format_rate(total / elapsed)}）。内容在本机加密，只有服务器能解密。")


def sealing_problem(exc: BaseException) -> str:
    """The line under 下一步 when the data could not be sealed to the server's key: pins
    missing or not matching, a suite this build lacks, another envelope error; ``""`` for any
    other error. The same at the pre-flight (before the camera) and at the submission."""
    from sdk.errors import EnvelopeError, KeyPinMismatch

    if isinstance(exc, KeyPinMismatch) and exc.code == "no_pins":
        return ("应用没有配置可信任的服务器加密公钥指纹（QA：--hpke-pins），为保护您的信息，"
                "未发送任何内容。")
    if isinstance(exc, KeyPinMismatch):
        return ("服务器的加密公钥不在应用信任的指纹列表中，为保护您的信息，未发送任何内容。"
                "请确认连接的是正确的服务器。")
    if isinstance(exc, EnvelopeError) and exc.code == "suite_unavailable":
        return f"{describe_error(exc)}。"  # retrying would not help
    if isinstance(exc, EnvelopeError):
        return f"端到端加密失败（{exc.code}），未发送任何个人信息，请稍后重试。"
    return ""


def mask_name(name: str) -> str:
    """The first character, the rest starred (for a summary on screen)."""
    return name[:1] + "*" * max(len(name) - 1, 1)


def mask_phone(e164: str) -> str:
    """``+86 138****8000``."""
    if e164.startswith("+86") and len(e164) == 14:
        return f"+86 {e164[3:6]}****{e164[-4:]}"
    return e164[:4] + "*" * max(len(e164) - 8, 1) + e164[-4:]


class RealnameScreen(SensitiveContent, BaseScreen):
    """Shows the typed real name and ID number: kept out of screenshots and the recents
    thumbnail while shown (:class:`sdk.ui.kivy.secure.SensitiveContent`; MASVS-PLATFORM-3)."""

    stage = StringProperty("consent")   # consent | form | capture | upload | result | review
    busy = BooleanProperty(False)       # a step runs (a request, the camera, an upload)
    consent_text = StringProperty("")
    consent_refused = BooleanProperty(False)
    real_name_error = StringProperty("")
    id_number_error = StringProperty("")
    phone_error = StringProperty("")
    form_status = StringProperty("")
    login_needed = BooleanProperty(False)
    summary = StringProperty("")
    camera_note = StringProperty("")
    face_status = StringProperty("")
    face_ok = BooleanProperty(False)
    face_offer = StringProperty("")     # "" | "ask_again" | "settings"
    recording = BooleanProperty(False)
    uploading = BooleanProperty(False)
    upload_value = NumericProperty(0)   # percent
    upload_text = StringProperty("")
    result_status = StringProperty("")  # the server's status
    result_label = StringProperty("")   # 审核中 / 已通过 / 未通过：… / 人工审核 / 超时
    result_text = StringProperty("")
    reviewable = BooleanProperty(False)
    review_kind = StringProperty("")
    document_kind_error = StringProperty("")
    document_number_error = StringProperty("")
    review_image_text = StringProperty("")
    review_status = StringProperty("")
    review_offer = StringProperty("")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.consent_run = None
        self.picker = None
        self.verification = None      # the server's last answer (sdk.realname.Verification)
        self._review_image = None     # the picked document photo (a Capture, in memory)
        self._cancel: threading.Event | None = None
        self._poll_event = None
        self._polling = False
        self._upload_started = 0.0
        self._last_progress: tuple[int, int, float] | None = None
        self.results: dict[str, Any] = {}

    # -- entering and leaving -----------------------------------------------------------
    def on_pre_enter(self, *args) -> None:
        self.camera_note = self.app.devices.camera_note

    def on_enter(self, *args) -> None:
        if self.busy:
            return  # a step is running (e.g. back from the permissions page): leave it be
        if self.app.sdk.realname.missing_consents():
            self.ask_consent()
            return
        self._ready()

    def on_leave(self, *args) -> None:
        self._stop_polling()
        camera = self.app.sdk.camera
        if camera.capturing:
            camera.stop()  # leaving cancels the recording; nothing is kept

    def back(self) -> None:
        self.app.go("home")

    # -- consent first (OBL-RN-3) ---------------------------------------------------------
    def ask_consent(self) -> None:
        """Ask each separate consent real-name signing still needs, one dialog each."""
        from sdk.ui.kivy import ask_for_feature

        self.stage = "consent"
        self.consent_refused = False
        self.consent_text = "实名认证需要您逐项单独同意，请阅读每一项后选择。同意之前，本页不会保存您输入的内容，也不会使用相机。"
        # Kept on the screen: the run answers through dialogs after this method returns.
        self.consent_run = ask_for_feature(self.app.sdk, FEATURE, self._consented)

    def _consented(self, granted: bool) -> None:
        if granted:
            self.consent_text = ""
            self._ready()
            return
        self.consent_refused = True
        if "guardian" in self.consent_run.results:
            self.consent_text = "未满 14 周岁的用户需要监护人同意后才能使用实名认证。"
            return
        self.consent_text = ("您未同意实名认证所需的全部单独同意，实名认证无法使用，数字证书和签署合同也因此"
                             "无法使用；浏览和下载合同模板、账号等其他功能不受影响。您可随时点击「逐项同意」"
                             "或在「隐私中心」开启。")

    def _ready(self) -> None:
        """Consents in place: the form, or the latest verification of this device."""
        def work():
            return self.app.sdk.realname.latest()

        def done(latest) -> None:
            if latest is None:
                self.stage = "form"
                return
            self._show(latest)
            self.stage = "result"
            if latest.status in ("pending", "manual_review"):
                self._start_polling(latest.id)

        def failed(exc: BaseException) -> None:
            self.stage = "form"
            self.form_status = f"无法读取上次的认证结果：{describe_error(exc)}"

        run_off_ui(work, done, failed, name="realname-latest")

    # -- the form -------------------------------------------------------------------------
    def _values(self) -> dict[str, str]:
        return {field: self.ids[wid].text for field, wid in FIELDS.items()}

    def _clear_errors(self) -> None:
        for field in FIELDS:
            setattr(self, f"{field}_error", "")
        self.form_status = ""
        self.login_needed = False

    def next_step(self) -> None:
        """下一步: check the fields on the device; then the login; then the face video."""
        from sdk.realname import (
            RealnameValidationError,
            validate_id_number,
            validate_name,
            validate_phone,
        )

        if self.busy:
            return
        self._clear_errors()
        if self.app.sdk.realname.missing_consents():
            self.ask_consent()  # withdrawn meanwhile: ask again before anything is kept
            return
        values = self._values()
        checks = {"real_name": validate_name, "id_number": validate_id_number,
                  "phone": validate_phone}
        shown = {}
        for field, check in checks.items():
            try:
                shown[field] = check(values[field])
            except RealnameValidationError as exc:
                setattr(self, f"{field}_error", exc.message_zh)
        if len(shown) < len(checks):
            self.form_status = "请按提示修改后再继续；信息未保存，也未发送。"
            return
        if not self.app.sdk.config.hpke_pins:  # nothing could be sealed: do not film for nothing
            self.form_status = ("应用没有配置可信任的服务器加密公钥指纹（QA：--hpke-pins），无法加密上传，"
                                "因此不录制面部视频，也不发送任何内容。")
            return
        self.summary = (f"真实姓名 {mask_name(shown['real_name'])} · 身份证号码 "
                        f"{shown['id_number'].masked} · 手机号码 {mask_phone(shown['phone'])}")
        del shown, values
        self.busy = True
        self.form_status = "正在检查登录状态…"
        run_off_ui(self.app.sdk.me, lambda _account: self._logged_in(), self._not_logged_in,
                   name="realname-me")

    def _logged_in(self) -> None:
        self._preflight(again=False)

    def _preflight(self, again: bool) -> None:
        """Before the camera: ``realname.preflight()`` (the consents, the pins, the keystore,
        the server's key and its suite), so that no face video is recorded for an upload that
        could not be sealed or kept (PIPL art. 6)."""
        self.busy = True
        self.form_status = "正在检查加密上传的条件…"
        realname = self.app.sdk.realname
        run_off_ui(realname.preflight, lambda _key: self._preflight_passed(again),
                   self._preflight_failed, name="realname-preflight")

    def _preflight_passed(self, again: bool) -> None:
        self.busy = False
        self.form_status = ""
        self._start_camera(again=again)

    def _preflight_failed(self, exc: BaseException) -> None:
        from sdk.errors import ConsentRequired, NotLoggedIn

        self.busy = False
        self.stage = "form"
        self._say_face("")
        self.results["preflight_error"] = type(exc).__name__
        sealing = sealing_problem(exc)
        if sealing:
            self.form_status = sealing
        elif isinstance(exc, ConsentRequired):
            self._consent_withdrawn()
        elif isinstance(exc, NotLoggedIn):
            self._not_logged_in(exc)
        else:
            self.form_status = f"未录制面部视频：{describe_error(exc)}"

    def _not_logged_in(self, exc: BaseException) -> None:
        from sdk.errors import NotLoggedIn

        self.busy = False
        if isinstance(exc, NotLoggedIn):
            self.login_needed = True
            self.form_status = "实名认证需要先登录账号：请点击「登录 / 注册」，登录后回到本页继续。"
        else:
            self.form_status = f"无法确认登录状态：{describe_error(exc)}"

    def go_login(self) -> None:
        self.app.go("account")

    def edit_again(self) -> None:
        """重新填写 / 重新认证: back to the form."""
        if self.busy:
            return
        self._stop_polling()
        self._discard_review_image()
        self.face_status = ""
        self.face_offer = ""
        self.upload_text = ""
        self.upload_value = 0
        self.stage = "form"

    # -- the face video: the permission, then the clip --------------------------------------
    def _say_face(self, text: str, ok: bool = False, offer: str = "") -> None:
        self.face_status, self.face_ok, self.face_offer = text, ok, offer

    def _start_camera(self, again: bool) -> None:
        from sdk.errors import SdkError

        self.stage = "capture"
        self.busy = True
        self._say_face("")
        perms = self.app.sdk.permissions
        try:
            state = perms.status("camera")
            # A tap on 下一步 starts the action on purpose, unless the user refused within the
            # quiet window: then only 重新申请 (again=True) may prompt again (OBL-PERM-4).
            user_initiated = again or state.quiet_until is None
            perms.request("camera", feature=FEATURE, on_result=self._camera_answered,
                          rationale=camera_rationale(
                              self.app, on_error=lambda _d, exc: self._camera_failed(exc),
                              on_decided=lambda _d, go: go and self._say_face(
                                  "请在系统授权框中选择是否允许使用相机。")),
                          user_initiated=user_initiated)
        except SdkError as exc:
            self._camera_failed(exc)

    def _camera_failed(self, exc: BaseException) -> None:
        self.busy = False
        self.stage = "form"  # the message stays under 下一步, which tries again
        self._say_face(f"无法申请相机权限：{describe_error(exc)}；其他功能不受影响。")

    def _camera_answered(self, result: Any) -> None:
        status = str(result.statuses["camera"])
        reason = result.reasons["camera"]
        self.results["camera"] = {"status": status, "reason": reason,
                                  "prompted": list(result.prompted)}
        if result.granted:
            self._record()
            return
        self.busy = False
        self.stage = "form"  # the message stays under 下一步, which tries again
        self._say_face(*refusal_text(self.app, "camera", "实名认证", "下一步", status, reason))

    def ask_camera_again(self) -> None:
        """重新申请相机权限: asked again on purpose (rationale, then the prompt), after the
        same pre-flight as 下一步."""
        if self.busy:
            return
        self._preflight(again=True)

    def open_camera_settings(self) -> None:
        from sdk.errors import SdkError

        try:
            opened = self.app.sdk.permissions.open_settings("camera")
        except SdkError as exc:
            self._say_face(f"无法打开系统设置：{describe_error(exc)}", offer="settings")
            return
        self._say_face("已打开系统设置：开启相机权限后返回本应用，再点击「重新申请相机权限」。"
                       if opened else "本系统没有可直接打开的应用权限设置页面，请在系统的隐私设置中开启相机。",
                       offer="settings")

    def _record(self) -> None:
        from ..devices import CLIP_SECONDS

        camera = self.app.sdk.camera
        source = "演示用合成摄像头" if self.app.devices.synthetic else "摄像头"
        self.recording = True
        self._say_face(f"请正对屏幕，录制中…（{source}，{CLIP_SECONDS:g} 秒）")

        def on_frame(n: int) -> None:  # on the capturing thread
            if n % 5 == 0:
                self._frames(n, source)

        def work():
            # In memory only (no dest): the upload reads it, then it is discarded.
            return camera.record_video(feature=FEATURE, seconds=CLIP_SECONDS, on_frame=on_frame)

        run_off_ui(work, self._recorded, self._record_failed, name="realname-capture")

    @mainthread
    def _frames(self, frames: int, source: str) -> None:
        if self.recording:
            self._say_face(f"请正对屏幕，录制中…（已采集 {frames} 帧，{source}）")

    def stop_recording(self) -> None:
        """停止录制: nothing of the clip is kept."""
        self.app.sdk.camera.stop()

    def _recorded(self, clip: Any) -> None:
        self.recording = False
        self.results["clip"] = {"frames": clip.frames, "size": clip.size,
                                "media_type": clip.media_type, "backend": clip.backend}
        self._say_face(f"录制完成：{clip.frames} 帧，{format_size(clip.size)}。正在加密上传…", ok=True)
        self._upload(clip)

    def _record_failed(self, exc: BaseException) -> None:
        from sdk.capture import (
            CameraUnavailable,
            CaptureInterrupted,
            PermissionNotGranted,
        )
        from sdk.errors import ConsentRequired

        self.recording = False
        self.busy = False
        self.stage = "form"  # the message stays under 下一步, which tries again
        self.results["capture_error"] = type(exc).__name__
        if isinstance(exc, CaptureInterrupted):
            texts = {
                "permission_revoked": "录制已停止：相机权限在录制过程中被关闭，本次录制的内容已全部丢弃。",
                "consent_withdrawn": "录制已停止：实名认证所需的同意在录制过程中被撤回，本次录制未保留任何内容。",
                "unavailable": "录制已停止：摄像头不可用了，本次录制未保留任何内容。",
            }
            self._say_face(texts.get(exc.reason, "录制已取消，本次录制未保留任何内容。"))
        elif isinstance(exc, PermissionNotGranted):
            self._say_face(*refusal_text(self.app, "camera", "实名认证", "下一步",
                                         str(exc.status), "not_granted"))
        elif isinstance(exc, CameraUnavailable):
            self._say_face("本机没有可用的摄像头，无法录制面部视频；其他功能不受影响。")
        elif isinstance(exc, ConsentRequired):
            self._say_face("实名认证所需的同意已被撤回，未录制。")
        else:
            self._say_face(f"录制未完成：{describe_error(exc)}")

    # -- the upload and the submission ------------------------------------------------------
    def _begin_upload(self, what: str) -> threading.Event:
        self.uploading = True
        self.upload_value = 0
        self.upload_text = f"正在加密并上传{what}…"
        self._upload_started = time.monotonic()
        self._last_progress = None
        self._cancel = threading.Event()
        return self._cancel

    def _on_progress(self, sent: int, total: int, rate: float) -> None:  # on the worker thread
        self._progress(sent, total, rate)

    @mainthread
    def _progress(self, sent: int, total: int, rate: float) -> None:
        if not self.uploading:
            return
        self._last_progress = (sent, total, rate)
        self.upload_value = 100 * sent / total if total else 0
        self.upload_text = progress_text(sent, total, rate)

    def _end_upload(self, ok: bool) -> None:
        self.uploading = False
        self._cancel = None
        if not ok:
            return
        elapsed = time.monotonic() - self._upload_started
        if self._last_progress is not None:
            _sent, total, _rate = self._last_progress
            self.upload_value = 100
            self.upload_text = finished_text(total, elapsed)

    def cancel_upload(self) -> None:
        """取消上传: the server's partial copy is deleted; nothing is submitted."""
        if self._cancel is not None:
            self._cancel.set()
            self.upload_text = "正在取消上传…"

    def _upload(self, clip: Any) -> None:
        self.stage = "upload"
        cancel = self._begin_upload("面部视频")
        values = self._values()  # read on the UI thread; never logged or stored by the demo
        realname = self.app.sdk.realname

        def work():
            try:
                return realname.submit(values["real_name"], values["id_number"], values["phone"],
                                       clip, on_progress=self._on_progress, cancel=cancel)
            finally:
                clip.discard()  # zeroes the bytes: nothing of the video stays on the device
                values.clear()

        run_off_ui(work, self._submitted, self._submit_failed, name="realname-submit")

    def _submitted(self, verification: Any) -> None:
        self.busy = False
        self._end_upload(ok=True)
        for wid in FIELDS.values():  # submitted: the device keeps no copy of what was typed
            self.ids[wid].text = ""
        self.face_status = ""
        self._show(verification)
        self.stage = "result"
        self._start_polling(verification.id)

    def _submit_failed(self, exc: BaseException) -> None:
        from sdk.errors import (
            ConsentRequired,
            InvalidInput,
            NotLoggedIn,
            UploadCancelled,
            UploadRejected,
        )
        from sdk.realname import RealnameValidationError, VerificationRefused

        self.busy = False
        self._end_upload(ok=False)
        self.results["submit_error"] = type(exc).__name__
        self.upload_text = ""
        self.face_status = ""
        self.stage = "form"
        sealing = sealing_problem(exc)
        if isinstance(exc, RealnameValidationError) and exc.field in FIELDS:
            setattr(self, f"{exc.field}_error", exc.message_zh)
            self.form_status = "服务器检查未通过，请按提示修改后再提交。"
        elif isinstance(exc, ConsentRequired):
            self._consent_withdrawn()
        elif isinstance(exc, UploadCancelled):
            self.form_status = "已取消上传：服务器上已收到的部分已删除，面部视频未保留。可再次点击「下一步」。"
        elif isinstance(exc, NotLoggedIn):
            self.login_needed = True
            self.form_status = "登录已失效：请重新登录后再提交；未提交任何内容。"
        elif sealing:
            self.form_status = sealing
        elif isinstance(exc, UploadRejected):
            self.form_status = f"服务器拒绝了面部视频的上传（{exc.code}），已全部丢弃，请重新录制。"
        elif isinstance(exc, VerificationRefused):
            self.form_status = f"服务器未接受这次提交（{exc.code}），请重试。"
        elif isinstance(exc, InvalidInput):
            self.form_status = "面部视频为空或无法读取，请重新录制。"
        else:
            self.form_status = f"提交未完成：{describe_error(exc)}"

    def _consent_withdrawn(self) -> None:
        self.stage = "consent"
        self.consent_refused = True
        self.consent_text = ("实名认证所需的同意已被撤回，未提交任何内容。如需继续，请点击「逐项同意」；"
                             "其他功能不受影响。")

    # -- the server's answer ------------------------------------------------------------------
    def _show(self, verification: Any) -> None:
        self.verification = verification
        status, reason = verification.status, verification.reason
        self.result_status = status
        self.result_label = status_label(status, reason)
        self.reviewable = status in ("failed", "timed_out") or (
            status == "manual_review" and verification.kind == "automatic")
        texts = {
            "pending": "核验机构正在核验您的信息，请稍候；本页每秒向服务器查询一次结果。",
            "verified": "实名认证已通过（以服务器的结果为准）。现在可以申请数字证书，然后签署合同。",
            "failed": "可以重新认证，或提交其他有效证件申请人工审核。",
            "manual_review": ("已转人工审核：请提交其他有效证件供审核人员核对。" if self.reviewable else
                              "人工审核中：审核人员会核对您提交的证件，结果出来后点击「刷新状态」查看。"),
            "timed_out": f"{reason_text(reason)}。可以重新认证，或提交其他有效证件申请人工审核。",
        }
        self.result_text = texts.get(status, "")

    def _start_polling(self, verification_id: str) -> None:
        self._stop_polling()
        if self.result_status != "pending":
            return
        self._poll_event = Clock.schedule_interval(lambda _dt: self._poll(verification_id),
                                                   POLL_SECONDS)

    def _stop_polling(self) -> None:
        if self._poll_event is not None:
            self._poll_event.cancel()
            self._poll_event = None

    def _poll(self, verification_id: str) -> None:
        if self._polling:
            return
        self._polling = True
        realname = self.app.sdk.realname
        run_off_ui(lambda: realname.status(verification_id), self._polled, self._poll_failed,
                   name="realname-status")

    def _polled(self, verification: Any) -> None:
        self._polling = False
        if self.verification is not None and verification.id != self.verification.id:
            return  # an older verification's late answer
        self._show(verification)
        if verification.status != "pending":
            self._stop_polling()

    def _poll_failed(self, exc: BaseException) -> None:
        self._polling = False
        self.result_text = f"暂时无法查询结果：{describe_error(exc)}；稍后自动重试，或点击「刷新状态」。"

    def refresh_status(self) -> None:
        """刷新状态: ask the server now."""
        if self.verification is None or self._polling:
            return
        self._poll(self.verification.id)
        if self.result_status == "pending" and self._poll_event is None:
            self._start_polling(self.verification.id)

    def go_certificate(self) -> None:
        self.app.go("certificate")

    # -- manual review (OBL-RN-2) ---------------------------------------------------------
    def start_review(self) -> None:
        """申请人工审核."""
        self._stop_polling()
        self.review_kind = ""
        self.document_kind_error = self.document_number_error = ""
        self.review_status = self.review_offer = ""
        self._discard_review_image()
        self.ids.rn_doc_number.text = ""
        for kind in DOCUMENT_NAMES:
            self.ids[f"doc_{kind}"].state = "normal"
        self.stage = "review"

    def choose_kind(self, kind: str) -> None:
        self.review_kind = kind
        self.document_kind_error = ""
        for other in DOCUMENT_NAMES:  # a group of four, exactly one chosen
            self.ids[f"doc_{other}"].state = "down" if other == kind else "normal"

    @staticmethod
    def document_hint(kind: str) -> str:
        return DOCUMENT_HINTS.get(kind, "请先选择证件类型")

    def cancel_review(self) -> None:
        if self.busy:
            return
        self._discard_review_image()
        self.ids.rn_doc_number.text = ""
        self.stage = "result"

    def _discard_review_image(self) -> None:
        if self._review_image is not None:
            self._review_image.discard()
            self._review_image = None
        self.review_image_text = ""

    def pick_review_image(self) -> None:
        """选择证件照片: the consents of manual review, the photos rationale, the picker."""
        from sdk.errors import ConsentRequired
        from sdk.ui.kivy import ask_for_feature

        if self.busy:
            return
        sdk = self.app.sdk
        try:
            sdk.require_feature(REVIEW_FEATURE)
        except ConsentRequired:
            self.review_status = "人工审核需要您逐项单独同意，请阅读每一项后选择。"
            self.consent_run = ask_for_feature(sdk, REVIEW_FEATURE, self._review_consented)
            return
        self._ask_photos(again=False)

    def _review_consented(self, granted: bool) -> None:
        if granted:
            self._ask_photos(again=False)
        else:
            self.review_status = ("您未同意人工审核所需的单独同意，无法选择证件照片；其他功能不受影响。"
                                  "您可随时在「隐私中心」开启。")

    def ask_photos_again(self) -> None:
        self._ask_photos(again=True)

    def _ask_photos(self, again: bool) -> None:
        from sdk.errors import SdkError

        perms = self.app.sdk.permissions
        self.review_status = self.review_offer = ""
        self.busy = True
        try:
            user_initiated = again or perms.status("photos").quiet_until is None
            perms.request("photos", feature=REVIEW_FEATURE, on_result=self._photos_answered,
                          rationale=camera_rationale(
                              self.app, on_error=lambda _d, exc: self._photos_failed(exc),
                              on_decided=lambda _d, _go: None),
                          user_initiated=user_initiated)
        except SdkError as exc:
            self._photos_failed(exc)

    def _photos_failed(self, exc: BaseException) -> None:
        self.busy = False
        self.review_status = f"无法申请相册权限：{describe_error(exc)}；其他功能不受影响。"

    def _photos_answered(self, result: Any) -> None:
        status, reason = str(result.statuses["photos"]), result.reasons["photos"]
        if result.granted:
            self.picker = SamplePicker(self._picked)
            self.picker.open()
            return
        self.busy = False
        text, _ok, offer = refusal_text(self.app, "photos", "人工审核", "选择证件照片", status, reason)
        self.review_status, self.review_offer = text, offer

    def open_photos_settings(self) -> None:
        from sdk.errors import SdkError

        try:
            self.app.sdk.permissions.open_settings("photos")
            self.review_status = "已打开系统设置：开启相册权限后返回本应用，再点击「选择证件照片」。"
        except SdkError as exc:
            self.review_status = f"无法打开系统设置：{describe_error(exc)}"

    def _picked(self, path) -> None:
        self.picker = None
        if path is None:
            self.busy = False
            self.review_status = "您没有选择图片。"
            return
        camera = self.app.sdk.camera

        def work():  # in memory (no dest); discarded once submitted or cancelled
            return camera.pick(path, feature=REVIEW_FEATURE)

        run_off_ui(work, self._image_read, self._image_failed, name="review-pick")

    def _image_read(self, image: Any) -> None:
        self.busy = False
        self._discard_review_image()
        self._review_image = image
        size = f"{image.width}×{image.height}，" if getattr(image, "width", None) else ""
        self.review_image_text = (f"已选择证件照片：{size}{image.media_type}，{format_size(image.size)}"
                                  "（内置样例图片），只在内存中，提交后即丢弃。")
        self.results["review_image"] = {"media_type": image.media_type, "size": image.size}

    def _image_failed(self, exc: BaseException) -> None:
        from sdk.capture import InvalidMedia

        self.busy = False
        self.review_status = ("这不是可用的图片（格式或大小不符），请选择其他图片。"
                              if isinstance(exc, InvalidMedia) else f"未能读取图片：{describe_error(exc)}")

    def submit_review(self) -> None:
        """提交人工审核: the kind and number checked on the device first."""
        from sdk.realname import RealnameValidationError, validate_document

        if self.busy:
            return
        self.document_kind_error = self.document_number_error = self.review_status = ""
        if not self.review_kind:
            self.document_kind_error = "请选择证件类型。"
            return
        number = self.ids.rn_doc_number.text
        try:
            masked = validate_document(self.review_kind, number).masked
        except RealnameValidationError as exc:
            if exc.field == "document_kind":
                self.document_kind_error = exc.message_zh
            else:
                self.document_number_error = exc.message_zh
            return
        if self._review_image is None:
            self.review_status = "请先选择证件照片。"
            return
        image, kind = self._review_image, self.review_kind
        self._review_image = None
        self.summary = f"人工审核材料：{DOCUMENT_NAMES[kind]} {masked} · 证件照片 1 张"
        self.busy = True
        cancel = self._begin_upload("证件照片")
        realname = self.app.sdk.realname
        previous = self.verification.id if self.verification is not None else None

        def work():
            try:
                return realname.submit_for_manual_review(kind, number, [image],
                                                         verification_id=previous,
                                                         on_progress=self._on_progress,
                                                         cancel=cancel)
            finally:
                image.discard()

        run_off_ui(work, self._review_submitted, self._review_failed, name="review-submit")

    def _review_submitted(self, verification: Any) -> None:
        self.busy = False
        self._end_upload(ok=True)
        self.ids.rn_doc_number.text = ""
        self.review_image_text = ""
        self._show(verification)
        self.stage = "result"
        self._start_polling(verification.id)

    def _review_failed(self, exc: BaseException) -> None:
        from sdk.errors import ConsentRequired, UploadCancelled
        from sdk.realname import RealnameValidationError, VerificationRefused

        self.busy = False
        self._end_upload(ok=False)
        self.upload_text = ""
        self.review_image_text = ""
        self.results["review_error"] = type(exc).__name__
        if isinstance(exc, RealnameValidationError):
            self.document_number_error = exc.message_zh
            self.review_status = "服务器检查未通过，请按提示修改，并重新选择证件照片。"
        elif isinstance(exc, ConsentRequired):
            self.review_status = "人工审核所需的同意已被撤回，未提交任何内容。"
        elif isinstance(exc, UploadCancelled):
            self.review_status = "已取消上传：服务器上已收到的部分已删除。请重新选择证件照片。"
        elif isinstance(exc, VerificationRefused):
            self.review_status = f"服务器未接受这次人工审核申请（{exc.code}）。"
        else:
            self.review_status = f"提交未完成：{describe_error(exc)}"

    # -- for the autopilot's probe (never a typed value) ------------------------------------
    def probe_facts(self) -> dict:
        verification = self.verification
        return {
            "stage": self.stage,
            "consent_text": self.consent_text,
            "consent_refused": self.consent_refused,
            "consent_results": dict(self.consent_run.results) if self.consent_run else {},
            "form_enabled": not self.ids.rn_id_number.disabled,
            "field_errors": {f: getattr(self, f"{f}_error") for f in FIELDS},
            "typed_chars": {f: len(self.ids[w].text) for f, w in FIELDS.items()},
            "form_status": self.form_status,
            "face_status": self.face_status,
            "face_offer": self.face_offer,
            "upload_value": round(self.upload_value, 1),
            "upload_text": self.upload_text,
            "result_status": self.result_status,
            "result_label": self.result_label,
            "result_text": self.result_text,
            "verification_id": verification.id if verification is not None else None,
            "verification_kind": verification.kind if verification is not None else None,
            "reason": verification.reason if verification is not None else None,
            "reviewable": self.reviewable,
            "review_kind": self.review_kind,
            "document_errors": {"kind": self.document_kind_error,
                                "number": self.document_number_error},
            "review_status": self.review_status,
            "review_image": self.review_image_text,
            "results": dict(self.results),
            "screen_protection": SecureWindow.get().status().as_dict(),
        }
