"""A minimal Kivy app with the privacy SDK (docs/integration.md).

    .venv/bin/python docs/examples/minimal_app.py --data-dir /tmp/minimal \
        --server https://127.0.0.1:8443 --ca /tmp/stub/ca.pem

Where no OS keyring works (e.g. Linux under Xvfb), add --passphrase-file FILE (its first line
is the passphrase) so that the encrypted store opens.

First launch: the privacy prompt (同意 / 不同意). Then a home screen whose one feature,
客服, is gated by its consent, and 隐私中心 (switches, withdrawals, what was collected).
tests/docs/test_minimal_app.py runs this file under Xvfb against the real stub.
"""

from __future__ import annotations

import argparse
import logging
import os
import threading
from pathlib import Path

os.environ.setdefault("KIVY_NO_ARGS", "1")  # our own command line, not Kivy's
logging.getLogger("markdown_it").setLevel(logging.WARNING)  # its DEBUG lines per policy token

from kivy.app import App  # noqa: E402
from kivy.clock import mainthread  # noqa: E402
from kivy.uix.boxlayout import BoxLayout  # noqa: E402
from kivy.uix.button import Button  # noqa: E402
from kivy.uix.label import Label  # noqa: E402

from sdk import ConsentRequired, PrivacySdk, SdkConfig, SdkError  # noqa: E402
from sdk.policy import load_policy  # noqa: E402

# The app's own policy: policy.md and, beside it, manifest.toml (here: the demo's).
POLICY = Path(__file__).resolve().parents[2] / "demo_app" / "policy" / "policy.md"


class MinimalApp(App):
    title = "Minimal privacy SDK app"

    def __init__(self, config: SdkConfig, passphrase: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.sdk_config, self.passphrase = config, passphrase
        self.privacy: PrivacySdk | None = None

    def build(self):
        from sdk.ui.kivy import PrivacyPrompt, install_cjk_font

        install_cjk_font()                                   # Chinese, not boxes
        self.privacy = PrivacySdk.open(self.sdk_config, load_policy(POLICY),
                                       app_id="cn.example.minimal",
                                       passphrase=self.passphrase)  # None: the OS keystore
        self.root_box = BoxLayout()
        if self.privacy.needs_prompt():                      # first launch: nothing before it
            prompt = PrivacyPrompt(sdk=self.privacy)
            prompt.bind(on_decided=lambda _w, mode: self.show_home())
            self.root_box.add_widget(prompt)
        else:
            self.show_home()
        return self.root_box

    def show_home(self):
        from sdk.ui.kivy import show_notices, show_policy_update

        self.root_box.clear_widgets()
        home = BoxLayout(orientation="vertical", padding=16, spacing=8)
        self.status = Label(text=f"mode: {self.privacy.mode}", color=(1, 1, 1, 1))
        home.add_widget(self.status)
        home.add_widget(Button(text="客服", on_release=lambda _b: self.customer_service()))
        home.add_widget(Button(text="隐私中心", on_release=lambda _b: self.show_centre()))
        self.home = home
        self.root_box.add_widget(home)
        show_policy_update(self.privacy)                     # a new policy version, when due
        show_notices(self.privacy)                           # breach / service-ending notices
        threading.Thread(target=self.sync, daemon=True).start()   # network off the UI thread

    def customer_service(self):
        try:
            self.privacy.require("customer_service")         # the gate: consent or an error
        except ConsentRequired as exc:
            self.status.text = f"需要同意：{', '.join(exc.scopes)}"  # ask, never collect anyway
            return
        self.status.text = "客服可用"

    def show_centre(self):
        from sdk.ui.kivy import PrivacyCentre

        self.root_box.clear_widgets()
        centre = BoxLayout(orientation="vertical")
        centre.add_widget(Button(text="返回", size_hint_y=None, height=48,
                                 on_release=lambda _b: self.back_home()))
        centre.add_widget(PrivacyCentre(privacy=self.privacy))
        self.root_box.add_widget(centre)

    def back_home(self):
        self.root_box.clear_widgets()
        self.root_box.add_widget(self.home)
        self.status.text = f"mode: {self.privacy.mode}"    # a withdrawal may have changed it

    def sync(self):
        try:
            self.privacy.sync()                              # pending records, other devices'
            if self.privacy.mode == "full":
                self.privacy.notices.fetch()                 # shown at the next start
        except SdkError as exc:
            self.sync_failed(type(exc).__name__)

    @mainthread
    def sync_failed(self, reason: str):
        print(f"sync later: {reason}")                       # decisions are safe on the device

    def on_stop(self):
        if self.privacy is not None:
            self.privacy.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--server", help="https://... of the backend (default: offline)")
    parser.add_argument("--ca", type=Path, help="CA bundle (PEM) of the backend's certificate")
    parser.add_argument("--passphrase-file", type=Path,
                        help="only where no OS keyring works: its first line is the passphrase")
    args = parser.parse_args(argv)
    config = SdkConfig(data_dir=args.data_dir, endpoint=args.server, ca_bundle=args.ca)
    passphrase = None
    if args.passphrase_file:
        passphrase = args.passphrase_file.read_text(encoding="utf-8").splitlines()[0].strip()
    MinimalApp(config, passphrase).run()


if __name__ == "__main__":
    main()
