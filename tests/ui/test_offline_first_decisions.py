"""Offline first in the SDK's deciding widgets: a decision fires its event as soon as the
record is on disk; the sync runs afterwards in the background and, when the server does not
answer, leaves the record pending. The host (``python -m tests.ui.test_offline_first_decisions``,
below) points the SDK at an endpoint that accepts connections and never answers, presses
同意 in the privacy prompt and then in the separate-consent dialog of marketing, and reports
how long each took and how many records were pending.
"""

from __future__ import annotations

import json
import socket
import sys
import time
from typing import Any

import pytest

from .kivy_host import host_arguments, run_host, run_steps


@pytest.fixture(scope="module")
def host(display, tmp_path_factory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("offline-first")
    out = tmp / "out"
    proc = run_host("tests.ui.test_offline_first_decisions", display, tmp / "data", out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((out / "report.json").read_text(encoding="utf-8"))


def test_the_prompt_fires_on_decided_without_waiting_for_the_server(host) -> None:  # QA: prompt frozen during sync
    assert host["prompt"]["mode"] == "full"
    assert host["prompt"]["seconds"] < 1.0


def test_the_prompts_agreement_stays_pending_when_the_server_does_not_answer(host) -> None:  # QA: offline first, nothing lost
    assert host["prompt"]["pending"] >= 1


def test_the_separate_consent_dialog_closes_without_waiting_for_the_server(host) -> None:  # QA: SeparateConsentDialog waits on the network
    assert host["separate"]["granted"] is True
    assert host["separate"]["seconds"] < 1.0


# -- the host (run in a subprocess by the fixture) -----------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = host_arguments("python -m tests.ui.test_offline_first_decisions", argv)

    silent = socket.socket()  # accepts TCP connections (the backlog) and never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    port = silent.getsockname()[1]

    from demo_app.policy import MANIFEST_PATH, POLICY_PATH
    from sdk import PrivacySdk, SdkConfig
    from sdk.policy import load_policy
    from sdk.testing.keystore import MemoryKeystore
    from sdk.ui.kivy import PrivacyPrompt, install_cjk_font
    from sdk.ui.kivy.separate_consent import SeparateConsentDialog

    install_cjk_font()
    sdk = PrivacySdk.open(
        SdkConfig(data_dir=args.data_dir / "sdk", endpoint=f"https://127.0.0.1:{port}",
                  connect_timeout=3, read_timeout=3, retries=0),
        load_policy(POLICY_PATH, MANIFEST_PATH), keystore=MemoryKeystore())

    from kivy.app import App

    report: dict[str, Any] = {}
    started: dict[str, float] = {}

    class Host(App):
        def build(self):
            self.prompt = PrivacyPrompt(sdk=sdk)
            self.prompt.bind(on_decided=self.decided)
            return self.prompt

        def decided(self, _prompt: Any, mode: str) -> None:
            report["prompt"] = {"mode": mode, "seconds": time.monotonic() - started["prompt"],
                                "pending": sdk.pending_sync()}

        def press_agree(self) -> None:
            started["prompt"] = time.monotonic()
            self.prompt.ids.agree.dispatch("on_release")

        def open_separate(self) -> bool | None:
            if "prompt" not in report:
                return False

            def done(granted: bool) -> None:
                report["separate"] = {"granted": granted,
                                      "seconds": time.monotonic() - started["separate"],
                                      "pending": sdk.pending_sync()}

            self.dialog = SeparateConsentDialog(sdk, "marketing", done)
            self.dialog.open()
            return None

        def press_separate(self) -> None:
            started["separate"] = time.monotonic()
            self.dialog.ids.separate_agree.dispatch("on_release")

        def wait_separate(self) -> bool:
            return "separate" in report

    app = Host()
    def settle() -> None:  # the prompt lays the whole policy out over its first frames
        return None

    run_steps(app, [settle, settle, settle, app.press_agree, app.open_separate, app.press_separate, app.wait_separate],
              pass_over_stuck=True)
    app.run()
    (args.out / "report.json").write_text(json.dumps(report), encoding="utf-8")
    silent.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
