"""数字证书 (issue #6; OBL-CERT-1, OBL-CERT-2; docs/realname.md "Certificate and signing").

Once the server has verified the real name, 申请数字证书 calls ``privacy.certificate.request()``:
the device makes its P-256 key (kept wrapped by the keystore: the OS keystore, or the
passphrase keystore where there is none, e.g. under Xvfb) and sends a CSR with an empty
subject; the CA fills the subject from the verified identity. The screen then shows what the
device holds (``current()``): the subject's CN, the serial number, the validity period and its
status. 删除证书 (``forget()``, after a confirmation) revokes it on the server and deletes it and
its key here.

Before anything is sent the screen says why it cannot be done: real-name verification has not
passed (去实名认证), or a consent the certificate needs is missing or was withdrawn (逐项同意:
``ask_for_feature(privacy, "realname_signing", ...)``). The SDK checks both again.
"""

from __future__ import annotations

import logging
from typing import Any

from kivy.properties import BooleanProperty, StringProperty

from sdk.ui.kivy.common import format_time, run_off_ui, scope_name
from sdk.ui.kivy.secure import SecureWindow, SensitiveContent

from .base import BaseScreen, confirm, describe_error

log = logging.getLogger("demo_app")

FEATURE = "realname_signing"
#: Where the certificate and its key are kept, as the screen says it (certificate.kv). True for
#: every keystore (the OS one or the passphrase one), and for the server's side: it keeps the
#: certificate's public information for signing (OBL-CERT-1, server_stub/realname_store.py).
STORAGE_NOTE = ("数字证书由 CA 机构在实名认证通过后签发，用于签署合同。签名密钥在本机生成，私钥受密钥库保护，"
                "不会离开本机。证书保存在本机的加密存储中；服务器保存证书的公开信息（姓名、身份证号码的假名标识"
                "和证书序列号，不含身份证号码本身），供签署合同时使用。删除证书时，本机删除证书和私钥，"
                "服务器吊销这张证书。")
#: Said when the certificate has been issued.
ISSUED_TEXT = ("数字证书已签发：证书保存在本机的加密存储中，私钥不离开本机；"
               "服务器保存证书的公开信息，供签署合同时使用。")
#: CertificateInfo.status() in words.
CERT_STATUS = {"valid": "有效", "expired": "已过期", "not_yet_valid": "尚未生效"}


def serial_text(serial: str) -> str:
    """A serial (lowercase hex, as on the wire) as viewers show it (``33:99:79:CD…``), in
    groups of four bytes so that the line can wrap."""
    text = serial.upper()
    text = "0" * (len(text) % 2) + text
    pairs = [text[i:i + 2] for i in range(0, len(text), 2)]
    return " ".join(":".join(pairs[i:i + 4]) for i in range(0, len(pairs), 4))


def issuer_name(issuer: str) -> str:
    """The CN of an RFC 4514 name (the CA's name), else the whole name."""
    for part in issuer.split(","):
        if part.strip().upper().startswith("CN="):
            return part.strip()[3:]
    return issuer


def scope_names(privacy: Any, scopes) -> str:
    return "、".join(f"「{scope_name(privacy, s)}」" for s in scopes)


class CertificateScreen(SensitiveContent, BaseScreen):
    """Shows the certificate's subject (the real name): kept out of screenshots and the recents
    thumbnail while shown (:class:`sdk.ui.kivy.secure.SensitiveContent`; MASVS-PLATFORM-3)."""

    state = StringProperty("loading")   # loading | not_verified | consent | none | shown
    message = StringProperty("")
    message_ok = BooleanProperty(False)
    busy = BooleanProperty(False)
    common_name = StringProperty("")
    serial = StringProperty("")
    issuer = StringProperty("")
    not_before = StringProperty("")
    not_after = StringProperty("")
    cert_status = StringProperty("")    # valid | expired | not_yet_valid
    cert_status_text = StringProperty("")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.consent_run = None
        self.missing: list[str] = []
        self.info = None
        self._note = ""

    def on_pre_enter(self, *args) -> None:
        self.message = ""
        self.refresh()

    def back(self) -> None:
        self.app.go("home")

    # -- what the device holds, and what is missing ---------------------------------------
    def refresh(self, note: str = "") -> None:
        """Read what the device holds (and the server's answer if the verification was still
        pending); *note* is shown before the resulting message."""
        from sdk.errors import SdkError
        from sdk.realname.certificate import ISSUE_SCOPES

        sdk = self.app.sdk
        self.state = "loading"
        self._note = note

        def work():
            realname = sdk.realname
            latest = realname.latest()
            if latest is not None and latest.status == "pending":
                try:  # the answer may have come since the 实名认证 page was left
                    realname.status(latest.id)
                except SdkError as exc:  # shown from what the device knows
                    log.info("verification status not refreshed (%s)", type(exc).__name__)
            missing = [s for s in ISSUE_SCOPES if not sdk.state(s).granted]
            return realname.is_verified(), missing, sdk.certificate.current()

        run_off_ui(work, self._loaded, self._failed, name="certificate-load")

    def _loaded(self, result) -> None:
        self._show_state(*result)
        if self._note:
            self.message = f"{self._note}{self.message}"
            self._note = ""

    def _show_state(self, verified: bool, missing: list[str], info: Any) -> None:
        self.missing = list(missing)
        self._set_info(info)
        if info is not None:
            from sdk.realname.certificate import SIGN_SCOPES

            self.state = "shown"
            withdrawn = [s for s in SIGN_SCOPES if s in self.missing]
            self._say(f"您已撤回{scope_names(self.app.sdk, withdrawn)}的同意：这张证书不能再用于签署合同。"
                      if withdrawn else "")
            return
        if not verified:
            self.state = "not_verified"
            self._say("尚未通过实名认证：数字证书只在服务器确认您的实名认证通过后签发。请先完成实名认证。")
        elif missing:
            self.state = "consent"
            self._say(f"申请数字证书需要您的单独同意：{scope_names(self.app.sdk, missing)}。"
                      "这些同意未给出或已被撤回，因此不能申请、保存或使用数字证书；其他功能不受影响。")
        else:
            self.state = "none"
            self._say("您已通过实名认证，可以申请数字证书。申请时本机生成签名密钥，私钥受密钥库保护、"
                      "不离开本机；本机不发送姓名或身份证号码，证书内容由 CA 按服务器核验的身份填写。",
                      ok=True)

    def _failed(self, exc: BaseException) -> None:
        self.state = "none"
        self._say(f"无法读取数字证书：{describe_error(exc)}")

    def _say(self, text: str, ok: bool = False) -> None:
        self.message, self.message_ok = text, ok

    def _set_info(self, info: Any) -> None:
        self.info = info
        if info is None:
            self.common_name = self.serial = self.issuer = ""
            self.not_before = self.not_after = self.cert_status = self.cert_status_text = ""
            return
        data = info.to_dict()
        self.common_name = info.common_name
        self.serial = serial_text(info.serial)
        self.issuer = issuer_name(info.issuer)
        self.not_before = format_time(data["not_before"])
        self.not_after = format_time(data["not_after"])
        self.cert_status = info.status()
        self.cert_status_text = CERT_STATUS.get(self.cert_status, self.cert_status)

    # -- actions ----------------------------------------------------------------------------
    def ask_consent(self) -> None:
        from sdk.ui.kivy import ask_for_feature

        self._say("请阅读每一项后选择。")
        self.consent_run = ask_for_feature(self.app.sdk, FEATURE,
                                           lambda granted: self.refresh() if granted else self._say(
                                               "您未同意数字证书所需的全部单独同意，不能申请数字证书；"
                                               "其他功能不受影响。"))

    def go_realname(self) -> None:
        self.app.go("realname")

    def go_contract(self) -> None:
        self.app.go("contract")

    def request(self) -> None:
        """申请数字证书."""
        if self.busy:
            return
        self.busy = True
        self._say("正在生成签名密钥并向 CA 申请数字证书…", ok=True)
        run_off_ui(self.app.sdk.certificate.request, self._issued, self._refused,
                   name="certificate-request")

    def _issued(self, info: Any) -> None:
        self.busy = False
        self._set_info(info)
        self.state = "shown"
        self._say(ISSUED_TEXT, ok=True)

    def _refused(self, exc: BaseException) -> None:
        from sdk.errors import NotLoggedIn
        from sdk.realname import CertificateConsentRequired, RealnameRequired

        self.busy = False
        if isinstance(exc, CertificateConsentRequired):
            self.missing = list(exc.scopes)
            self.state = "consent"
            self._say(f"申请数字证书需要您的单独同意：{scope_names(self.app.sdk, exc.scopes)}。"
                      "这些同意未给出或已被撤回，未发送任何内容。")
        elif isinstance(exc, RealnameRequired):
            self.state = "not_verified"
            self._say("服务器尚未确认您的实名认证，未签发数字证书。请先完成实名认证。")
        elif isinstance(exc, NotLoggedIn):
            self._say("请先登录账号，再申请数字证书。")
        else:
            self._say(f"未能申请数字证书：{describe_error(exc)}")

    def forget(self) -> None:
        """删除证书, after saying what it means."""
        if self.busy or self.info is None:
            return
        confirm("删除数字证书",
                "删除后，本机的证书和签名密钥将被删除，服务器会吊销这张证书；之后签署合同需要重新申请证书。",
                "删除", self._forget)

    def _forget(self) -> None:
        self.busy = True
        run_off_ui(self.app.sdk.certificate.forget, self._forgotten, self._forget_failed,
                   name="certificate-forget")

    def _forgotten(self, revoked: bool) -> None:
        self.busy = False
        self._set_info(None)
        self.refresh("已删除：本机已删除证书和签名密钥，服务器已吊销这张证书。" if revoked else
                     "已从本机删除证书和签名密钥；暂时无法连接服务器吊销它，申请新证书时服务器会吊销旧证书。")

    def _forget_failed(self, exc: BaseException) -> None:
        self.busy = False
        self._say(f"未能删除数字证书：{describe_error(exc)}")

    def probe_facts(self) -> dict:
        return {
            "certificate_state": self.state,
            "certificate_message": self.message,
            "has_certificate": self.info is not None,
            "common_name_chars": len(self.common_name),  # the name itself stays on screen
            "serial": self.info.serial if self.info is not None else None,
            "serial_shown": self.serial,
            "issuer": self.issuer,
            "not_before": self.info.to_dict()["not_before"] if self.info is not None else None,
            "not_after": self.info.to_dict()["not_after"] if self.info is not None else None,
            "not_before_shown": self.not_before,
            "not_after_shown": self.not_after,
            "certificate_status": self.cert_status,
            "certificate_status_text": self.cert_status_text,
            "missing_consents": list(self.missing),
            "screen_protection": SecureWindow.get().status().as_dict(),
        }
