"""The demo sends pending consent records on its own (the home screen promises
「待同步 N 条（联网后自动同步）」): at start once the prompt is settled, on resume, and every
60 s while records are pending; never two syncs at once."""

from __future__ import annotations

from .conftest import run_demo_app

PROMPT = [{"wait_screen": "prompt"}, {"sleep": 0.3}]


def test_a_record_made_offline_is_synced_at_the_next_start_without_a_decision(
        display, stub, tmp_path):
    data_dir = tmp_path / "app"
    # Offline: nothing listens on port 1, so the agreement stays pending on the device.
    offline = run_demo_app(display, data_dir, tmp_path, "offline",
                           PROMPT + [{"press": "agree"}, {"wait_screen": "home"},
                                     {"wait_text": ["status", "待同步 1 条"]}, {"quit": 0}],
                           "--server", "https://127.0.0.1:1", "--ca", str(stub.ca_path),
                           timeout=120)
    assert offline.code == 0, offline.stderr

    # Online again: no tap, the home text changes from pending to synced.
    online = run_demo_app(display, data_dir, tmp_path, "online",
                          [{"wait_screen": "home"}, {"wait_text": ["status", "已同步到服务器"]},
                           {"quit": 0}],
                          "--server", stub.url, "--ca", str(stub.ca_path), timeout=120)
    assert online.code == 0, online.stderr
    from demo_app.main import BUNDLED_MANIFEST, BUNDLED_POLICY
    from sdk import PrivacySdk, SdkConfig
    from sdk.policy import load_policy

    with PrivacySdk.open(SdkConfig(data_dir=data_dir / "sdk"),
                         load_policy(BUNDLED_POLICY, BUNDLED_MANIFEST)) as sdk:
        assert sdk.pending_sync() == 0


class _FakeSdk:
    """Just what DemoApp.sync_pending / on_resume touch."""

    def __init__(self, pending: int = 1, mode: str = "full", prompt: bool = False):
        self.pending, self.mode, self.prompt = pending, mode, prompt

        class _Perms:
            def refresh(self):
                return []

        self.permissions = _Perms()

    def needs_prompt(self):
        return self.prompt

    def pending_sync(self):
        return self.pending

    def sync(self):  # pragma: no cover - run by the test's stand-in for run_off_ui
        sent, self.pending = self.pending, 0
        return sent


def _app(monkeypatch, sdk):
    import sdk.ui.kivy.common as common
    from demo_app.app import DemoApp

    started = []
    monkeypatch.setattr(common, "run_off_ui",
                        lambda work, done, failed, name="": started.append((name, work, done)))
    app = DemoApp(sdk=sdk, devices=object())
    monkeypatch.setattr(app, "check_notices", lambda *a: None)
    return app, started


def test_resume_syncs_pending_records_and_never_two_at_once(monkeypatch):
    fake = _FakeSdk(pending=2)
    app, started = _app(monkeypatch, fake)
    app.on_resume()
    app.sync_pending()  # e.g. the 60 s tick while the first sync still runs
    syncs = [s for s in started if s[0] == "demo-sync"]
    assert len(syncs) == 1
    name, work, done = syncs[0]
    done(work())
    assert fake.pending == 0 and app.pending_sync == 0
    app.sync_pending()  # nothing pending: nothing started
    assert len([s for s in started if s[0] == "demo-sync"]) == 1


def test_nothing_is_synced_before_the_prompt_is_settled_or_in_basic_mode(monkeypatch):
    for fake in (_FakeSdk(prompt=True), _FakeSdk(mode="basic")):
        app, started = _app(monkeypatch, fake)
        app.sync_pending()
        assert started == []
