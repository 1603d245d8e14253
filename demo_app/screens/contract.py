"""签署合同 (issue #6; OBL-CERT-1, OBL-CERT-2; docs/realname.md "Signing").

The template list (``privacy.list_templates()``), one template's text, then 签署:
``privacy.sign_contract(template_id, content)`` with **the exact bytes shown** (the template's
Markdown as UTF-8). The SDK signs them with the certificate key (ECDSA P-256 / SHA-256) and the
server verifies the signature and records it; the receipt shows the signature id, the time and
服务器已验证.

Refusals are said in words, with the way out: not verified (去实名认证), no certificate, expired
or revoked (去数字证书), the certificate consent missing or withdrawn (逐项同意; OBL-CERT-2: then
nothing is sent).
"""

from __future__ import annotations

from typing import Any

from kivy.factory import Factory
from kivy.properties import BooleanProperty, ObjectProperty, StringProperty

from sdk.ui.kivy.common import format_time, run_off_ui

from .base import BaseScreen, describe_error
from .certificate import scope_names, serial_text

FEATURE = "realname_signing"

#: SignatureRejected.code in words.
REJECTED = {
    "template_mismatch": "签署的内容与服务器上的合同模板不一致，请重新打开合同后再签署。",
    "signature_invalid": "签名未通过服务器验证，请重新申请数字证书后再签署。",
}


class ContractScreen(BaseScreen):
    stage = StringProperty("list")      # list | read
    status = StringProperty("")
    readiness = StringProperty("")
    ready = BooleanProperty(False)
    title_text = StringProperty("")
    document = ObjectProperty(None, allownone=True)
    busy = BooleanProperty(False)
    error = StringProperty("")
    offer = StringProperty("")          # "" | realname | certificate | consent | login
    signed = BooleanProperty(False)
    receipt_title = StringProperty("")
    receipt_id = StringProperty("")
    receipt_time = StringProperty("")
    receipt_serial = StringProperty("")
    receipt_digest = StringProperty("")
    # 邀请签署方 (issue #7; OBL-PHONE-1)
    invite_shown = BooleanProperty(False)
    invite_busy = BooleanProperty(False)
    invite_phone_error = StringProperty("")
    invite_attest_error = StringProperty("")
    invite_result = StringProperty("")
    invite_ok = BooleanProperty(True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.template_id = ""
        self._content: bytes | None = None
        self.receipt = None
        self.error_kind = ""
        self.consent_run = None
        self.invitation = None
        self.invite_error_kind = ""

    # -- the list ---------------------------------------------------------------------------
    def on_pre_enter(self, *args) -> None:
        self.show_list()
        self._check_ready()

    def back(self) -> None:
        self.app.go("home")

    def show_list(self) -> None:
        self.stage = "list"
        self.status = "正在加载合同模板…"
        self.run_in_background(self.app.sdk.list_templates, self._listed,
                               lambda message: setattr(self, "status",
                                                       f"无法加载合同模板：{message}"))

    def _listed(self, templates) -> None:
        box = self.ids.list
        box.clear_widgets()
        for tpl in templates:
            button = Factory.TemplateButton(
                text=f"{tpl['title']}\n[size=13sp]{tpl.get('summary', '')}[/size]")
            button.template_id = tpl["id"]
            button.bind(on_release=lambda b: self.open(b.template_id))
            box.add_widget(button)
        self.status = "请选择要签署的合同：" if templates else "暂无合同模板"

    def _check_ready(self) -> None:
        """What signing needs, from what the device knows (the SDK checks again at 签署)."""
        from sdk.realname.certificate import SIGN_SCOPES

        sdk = self.app.sdk

        def work():
            missing = [s for s in SIGN_SCOPES if not sdk.state(s).granted]
            return sdk.realname.is_verified(), sdk.certificate.current(), missing

        def done(result) -> None:
            verified, info, missing = result
            parts = [f"实名认证{'已通过' if verified else '未完成'}",
                     f"数字证书{'已申请' if info is not None else '未申请'}",
                     f"数字证书相关同意{'未给出或已撤回' if missing else '已给出'}"]
            self.ready = verified and info is not None and not missing
            self.readiness = "签署前需要：" + "；".join(parts) + ("。" if self.ready else
                                                          "。未满足时签署会被拒绝，并说明原因。")

        run_off_ui(work, done, lambda exc: setattr(self, "readiness", ""), name="contract-ready")

    # -- one contract -----------------------------------------------------------------------
    def open(self, template_id: str) -> None:
        self.template_id = template_id
        self.stage = "read"
        self._clear_invite(hide=True)
        self.document = None
        self._content = None
        self._clear_result()
        self.title_text = "正在加载…"
        self.run_in_background(lambda: self.app.sdk.get_template(template_id), self._opened,
                               lambda message: setattr(self, "error", f"无法加载合同：{message}"))

    def _opened(self, template) -> None:
        from sdk.policy.document import parse_policy

        self.title_text = template["title"]
        # the exact bytes shown are the ones signed (the server compares them with its file)
        self._content = template["body"].encode("utf-8")
        self.document = parse_policy(template["body"])

    def _clear_result(self) -> None:
        self.error = self.offer = self.error_kind = ""
        self.signed = False
        self.receipt = None
        self.receipt_title = self.receipt_id = self.receipt_time = ""
        self.receipt_serial = self.receipt_digest = ""

    def sign(self) -> None:
        """签署."""
        if self.busy or self._content is None:
            return
        self._clear_result()
        self.busy = True
        content, template_id = self._content, self.template_id
        run_off_ui(lambda: self.app.sdk.sign_contract(template_id, content), self._signed,
                   self._refused, name="contract-sign")

    def _signed(self, receipt: Any) -> None:
        self.busy = False
        self.receipt = receipt
        self.signed = True
        self.receipt_title = self.title_text
        self.receipt_id = receipt.signature_id
        self.receipt_time = format_time(receipt.signed_at)
        self.receipt_serial = serial_text(receipt.certificate_serial)
        self.receipt_digest = receipt.sha256[:16] + "…"

    def _refused(self, exc: BaseException) -> None:
        from sdk.errors import NotLoggedIn
        from sdk.realname import (
            CertificateConsentRequired,
            CertificateExpired,
            CertificateRequired,
            CertificateRevoked,
            RealnameRequired,
            SignatureRejected,
        )

        self.busy = False
        self.error_kind = type(exc).__name__
        if isinstance(exc, CertificateConsentRequired):  # OBL-CERT-2
            self.error = (f"您已撤回（或尚未给出）数字证书所需的同意：{scope_names(self.app.sdk, exc.scopes)}。"
                          "没有这些同意，不能使用数字证书签署合同，本次未发送任何内容。如需签署，请点击"
                          "「逐项同意」，再到「数字证书」重新申请证书。")
            self.offer = "consent"
        elif isinstance(exc, RealnameRequired):
            self.error = "尚未通过实名认证，不能签署合同。请先完成实名认证，再申请数字证书。"
            self.offer = "realname"
        elif isinstance(exc, CertificateRevoked):
            self.error = "您的数字证书已被吊销，已从本机删除。请到「数字证书」重新申请后再签署。"
            self.offer = "certificate"
        elif isinstance(exc, CertificateExpired):
            self.error = "您的数字证书已过期或尚未生效，请到「数字证书」重新申请后再签署。"
            self.offer = "certificate"
        elif isinstance(exc, CertificateRequired):
            self.error = "本机没有可用的数字证书：请先到「数字证书」申请，再签署合同。"
            self.offer = "certificate"
        elif isinstance(exc, SignatureRejected):
            self.error = REJECTED.get(exc.code, f"服务器未接受签名（{exc.code}）。")
        elif isinstance(exc, NotLoggedIn):
            self.error = "请先登录账号，再签署合同。"
            self.offer = "login"
        else:
            self.error = f"签署未完成：{describe_error(exc)}"

    def fix(self) -> None:
        """The way out the error offers."""
        if self.offer == "consent":
            from sdk.ui.kivy import ask_for_feature

            self.consent_run = ask_for_feature(self.app.sdk, FEATURE, self._consented)
            return
        target = {"realname": "realname", "certificate": "certificate", "login": "account"}
        if self.offer in target:
            self.app.go(target[self.offer])

    def _consented(self, granted: bool) -> None:
        if granted:
            self.error = "已同意。请到「数字证书」重新申请证书，然后再签署。"
            self.offer = "certificate"
            self._check_ready()

    # -- 邀请签署方: the counter-signer's phone number needs their consent (OBL-PHONE-1) -----
    def _clear_invite(self, hide: bool = False) -> None:
        self.invite_phone_error = self.invite_attest_error = self.invite_result = ""
        self.invite_ok = True
        self.invitation = None
        self.invite_error_kind = ""
        if hide:
            self.invite_shown = False
            self.ids.invite_phone.text = ""
            self.ids.invite_attest.active = False

    def toggle_invite(self) -> None:
        self.invite_shown = not self.invite_shown
        if not self.invite_shown:
            self._clear_invite(hide=True)

    def invite(self) -> None:
        """发送邀请: ``privacy.invite_signer`` with the checkbox as the attestation; the SDK
        refuses (nothing sent) when it is not ticked, and the refusal is said under it."""
        if self.invite_busy:
            return
        phone = self.ids.invite_phone.text
        attested = bool(self.ids.invite_attest.active)
        template_id = self.template_id
        self._clear_invite()
        self.invite_busy = True
        sdk = self.app.sdk
        run_off_ui(lambda: sdk.invite_signer(template_id, phone, attested=attested),
                   self._invited, self._invite_refused, name="contract-invite")

    def _invited(self, invitation: Any) -> None:
        self.invite_busy = False
        self.invitation = invitation
        self.ids.invite_phone.text = ""
        self.ids.invite_attest.active = False
        self.invite_ok = True
        self.invite_result = (f"已向 {invitation.phone_masked} 发送签署邀请；"
                              f"您确认已取得对方同意的时间：{format_time(invitation.attested_at)}。")

    def _invite_refused(self, exc: BaseException) -> None:
        from sdk.errors import ConsentRequired, InvalidInput, ServerError

        self.invite_busy = False
        self.invite_error_kind = type(exc).__name__
        self.invite_ok = False
        if isinstance(exc, InvalidInput) and exc.field == "attested":
            from sdk.rights.services import ATTESTATION_MESSAGE

            # the SDK's own refusal, its Chinese half (it also says it in English)
            self.invite_attest_error = ATTESTATION_MESSAGE.split("(", 1)[0].strip()
        elif isinstance(exc, InvalidInput) and exc.field == "phone":
            self.invite_phone_error = "请输入对方的手机号码，如 13900139000"
        elif isinstance(exc, ConsentRequired):
            self.invite_result = ("邀请签署方需要您同意「邀请签署方」用途；您已撤回或尚未同意，未发送任何内容。"
                                  "可在「隐私中心」开启。")
        elif isinstance(exc, ServerError) and exc.status == 404:
            self.invite_result = "找不到这份合同模板，请返回列表重新选择。"
        else:
            self.invite_result = f"邀请未发送：{describe_error(exc)}"

    def probe_facts(self) -> dict:
        receipt = self.receipt
        return {
            "contract_stage": self.stage,
            "templates": len(self.ids.list.children),
            "template_id": self.template_id,
            "readiness": self.readiness,
            "signed": self.signed,
            "receipt": None if receipt is None else {
                "signature_id": receipt.signature_id, "signed_at": receipt.signed_at,
                "verified": receipt.verified, "sha256": receipt.sha256,
                "certificate_serial": receipt.certificate_serial,
                "template_id": receipt.template_id},
            "contract_error": self.error,
            "contract_error_kind": self.error_kind,
            "contract_offer": self.offer,
            "invite_shown": self.invite_shown,
            "invite_phone_error": self.invite_phone_error,
            "invite_attest_error": self.invite_attest_error,
            "invite_result_ok": self.invite_ok and bool(self.invite_result),
            "invite_error_kind": self.invite_error_kind,
            "invitation": None if self.invitation is None else {
                "invitation_id": self.invitation.invitation_id,
                # the masked number stays on screen; the probe says only that it is masked
                "phone_is_masked": "****" in self.invitation.phone_masked,
                "attested_at": self.invitation.attested_at},
        }

