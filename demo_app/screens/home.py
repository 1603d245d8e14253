"""Home screen of full mode (the user agreed to the policy)."""

from __future__ import annotations

from kivy.properties import BooleanProperty, StringProperty

from .base import BaseScreen

#: The demo's real-name signing: the manifest feature, and what it collects and gives to whom.
REALNAME_FEATURE = "realname_signing"
REALNAME_ITEMS = ("real_name", "id_number", "phone", "face_video")
REALNAME_PURPOSE = "realname_verification"


def ending_banner(sdk) -> str:
    """The home screen's banner while a service-ending notice is in force (OBL-END-1): when
    the service ends and that collection has stopped; ``""`` when there is none."""
    from sdk.ui.kivy.common import format_time

    try:
        notice = sdk.notices.service_ending
    except Exception:  # noqa: BLE001 - the banner is best effort; collect() refuses anyway
        return ""
    if notice is None:
        return ""
    when = format_time(notice.ends_at) if notice.ends_at else ""
    return (f"服务终止公告：本服务将于 {when} 终止。" if when else "服务终止公告：本服务即将终止。") + (
        "自收到公告起，本应用已停止收集您的个人信息：实名认证、刷脸签署等需要收集信息的功能不再可用。"
        "您仍可查阅、导出您的个人信息，下载已签署的合同。")


class HomeScreen(BaseScreen):
    status = StringProperty("")
    account = StringProperty("")
    feature_status = StringProperty("")
    logged_in = BooleanProperty(False)
    ending_text = StringProperty("")

    def on_pre_enter(self, *args) -> None:
        self.refresh()
        self.account = "正在检查登录状态…"
        self.run_in_background(self.app.sdk.me, self._account, self._no_account)
        self.app.check_notices()  # back on the home screen: notices published meanwhile

    def refresh(self) -> None:
        app = self.app
        app.refresh_state()
        self.ending_text = ending_banner(app.sdk)
        version = app.sdk.policy.manifest.version
        record = app.sdk.state("policy").record
        agreed = record.notice.policy_version if record is not None else version
        sync = "已同步到服务器" if app.pending_sync == 0 else f"待同步 {app.pending_sync} 条（联网后自动同步）"
        pending = f"新版本 {version} 待您确认（见「隐私中心」）。" if agreed != version else ""
        self.status = f"您已同意隐私政策（版本 {agreed}）。{pending}同意记录：{sync}。"

    def _account(self, account) -> None:
        self.logged_in = True
        self.account = f"已登录：{account.identifier_masked}"

    def _no_account(self, _message: str) -> None:
        self.logged_in = False
        self.account = "未登录"

    def logout(self) -> None:
        self.run_in_background(self.app.sdk.logout, lambda _r: self._no_account(""),
                               lambda message: setattr(self, "account", message))

    # -- 实名签署 (a demo feature: consents are real, the data is not) ---------------------
    def realname(self) -> None:
        """Start real-name signing: ask for the separate consents it still needs (one dialog
        per scope), then simulate the collection and the transfers through the SDK's gates."""
        from sdk.errors import ConsentRequired
        from sdk.ui.kivy import ask_for_feature

        sdk = self.app.sdk
        try:
            sdk.require_feature(REALNAME_FEATURE)
        except ConsentRequired:
            self.feature_status = "实名签署需要您逐项单独同意，请阅读每一项后选择。"
            # Kept on the screen: the run answers through dialogs after this method returns.
            self.consent_run = ask_for_feature(sdk, REALNAME_FEATURE, self._consented)
            return
        self._simulate()

    def _consented(self, granted: bool) -> None:
        if granted:
            self._simulate()
            return
        if "guardian" in self.consent_run.results:
            self.feature_status = "未满 14 周岁的用户需要监护人同意后才能使用实名签署。"
            return
        self.feature_status = ("您未同意实名签署所需的全部单独同意，实名签署无法使用；浏览和下载合同模板"
                               "等其他功能不受影响。您可随时在「隐私中心」开启。")

    def _simulate(self) -> None:
        sdk = self.app.sdk
        manifest = sdk.policy.manifest
        self.feature_status = "正在模拟实名认证…"

        def work() -> None:
            # The demo never reads real values: each call is the gate an app calls right
            # before it would read the value (and is written to the audit trail).
            sdk.require_feature(REALNAME_FEATURE)
            for item in REALNAME_ITEMS:
                sdk.collect(item, REALNAME_PURPOSE, feature=REALNAME_FEATURE)
            for recipient in ("realname_agency", "ca"):
                items = manifest.recipient(recipient).items
                sdk.share(recipient, items, feature=REALNAME_FEATURE)

        def done(_result) -> None:
            names = "、".join(manifest.item(i).name for i in REALNAME_ITEMS)
            to = "和".join(manifest.recipient(r).name for r in ("realname_agency", "ca"))
            self.feature_status = (f"已模拟采集：{names}（演示不采集真实信息），并已模拟提供给{to}。"
                                   "可在「隐私中心」查看。")

        self.run_in_background(work, done,
                               lambda message: setattr(self, "feature_status",
                                                       f"实名签署未完成：{message}"))

    def probe_facts(self) -> dict:
        run = getattr(self, "consent_run", None)
        return {"feature_status": self.feature_status,
                "consent_results": dict(run.results) if run is not None else {},
                "ending_banner": self.ending_text}
