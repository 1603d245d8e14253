"""The demo app, driven in a real Kivy window: first launch, Agree, Disagree, relaunch, crash."""

from __future__ import annotations

import signal
import time

import pytest
import requests

from .conftest import SEED_POLICY, start_app

PROMPT = [{"wait_screen": "prompt"}, {"sleep": 0.3}]


def _sdk_state(data_dir, stub):
    """(mode, subject id, records on the server) as the SDK and the server see them."""
    from demo_app.main import BUNDLED_MANIFEST, BUNDLED_POLICY
    from sdk import PrivacySdk, SdkConfig
    from sdk.policy import load_policy

    policy = load_policy(BUNDLED_POLICY, BUNDLED_MANIFEST)
    with PrivacySdk.open(SdkConfig(data_dir=data_dir / "sdk"), policy) as sdk:
        mode, subject = sdk.mode, sdk.subject_id
    answer = requests.get(f"{stub.url}/v1/consent-records", params={"subject_id": subject},
                          verify=str(stub.ca_path), timeout=10)
    answer.raise_for_status()
    return mode, subject, answer.json()["records"]


def test_first_launch_shows_the_privacy_prompt_first(run_app):
    run = run_app(PROMPT + [{"probe": "prompt"}, {"screenshot": str(run_app.tmp_path / "p.png")},
                            {"quit": 0}])
    assert run.code == 0, run.stderr
    assert run.report["screens"][0] == "prompt"
    assert len(run.report["probes"]["prompt"]["anchors"]) == 8
    assert (run_app.tmp_path / "p.png").stat().st_size > 10_000


def test_agree_records_consent_on_device_and_server_then_shows_home(run_app, stub):
    # the decision is on the device at once; the record reaches the server in the background
    run = run_app(PROMPT + [{"press": "agree"}, {"wait_screen": "home"},
                            {"wait_status": "已同步到服务器"}, {"quit": 0}])
    assert run.code == 0, run.stderr
    mode, subject, records = _sdk_state(run_app.data_dir, stub)
    assert mode == "full"
    assert [r["decision"] for r in records] == ["granted"]
    assert records[0]["subject_id"] == subject


def test_disagree_enters_basic_mode_and_sends_nothing(run_app, stub):  # OBL-ACC-2
    run = run_app(PROMPT + [{"press": "disagree"}, {"wait_screen": "templates"},
                            {"wait_widgets": "list"}, {"quit": 0}])
    assert run.code == 0, run.stderr
    mode, _subject, records = _sdk_state(run_app.data_dir, stub)
    assert mode == "basic"
    assert records == []


def test_basic_mode_views_and_downloads_a_template(run_app):  # OBL-ACC-2
    run = run_app(PROMPT + [
        {"press": "disagree"}, {"wait_screen": "templates"}, {"wait_widgets": "list"},
        {"press_template": 0}, {"wait_screen": "template"}, {"wait_document": "body"},
        {"press": "download"}, {"wait_status": "已下载"}, {"quit": 0},
    ])
    assert run.code == 0, run.stderr
    downloads = list((run_app.data_dir / "sdk" / "downloads").iterdir())
    assert len(downloads) == 1
    assert downloads[0].read_text(encoding="utf-8").startswith("# ")


@pytest.mark.parametrize("choice, landing", [("agree", "home"), ("disagree", "templates")])
def test_next_launch_does_not_ask_again(run_app, choice, landing):
    first = run_app(PROMPT + [{"press": choice}, {"wait_screen": landing}, {"quit": 0}])
    assert first.code == 0, first.stderr
    second = run_app([{"wait_screen": landing}, {"quit": 0}])
    assert second.code == 0, second.stderr
    assert "prompt" not in second.report["screens"]


def test_killing_the_app_during_the_prompt_records_nothing(display, stub, tmp_path, run_app):
    ready = tmp_path / "ready"
    proc = start_app(display, run_app.data_dir, stub,
                     PROMPT + [{"touch_file": str(ready)}, {"wait_file": str(tmp_path / "never")}],
                     tmp_path)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert ready.exists(), "the app never showed the prompt"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    mode, _subject, records = _sdk_state(run_app.data_dir, stub)
    assert (mode, records) == ("undecided", [])


def test_seed_policy_shows_all_sections_and_all_bold_passages(run_app):
    run = run_app(PROMPT + [{"probe": "seed"}, {"quit": 0}], "--policy", str(SEED_POLICY))
    assert run.code == 0, run.stderr
    probe = run.report["probes"]["seed"]
    assert probe["anchors"] == [f"privacy_{n}" for n in range(1, 9)]
    assert probe["strong_runs"] == 21


def test_seed_policy_table_of_contents_jumps_to_each_section(run_app):
    steps = list(PROMPT)
    for n in range(8, 0, -1):
        steps += [{"jump": f"privacy_{n}"}, {"sleep": 0.1}, {"probe": f"after_{n}"}]
    run = run_app(steps + [{"quit": 0}], "--policy", str(SEED_POLICY))
    assert run.code == 0, run.stderr
    for n in range(1, 9):
        probe = run.report["probes"][f"after_{n}"]
        assert f"privacy_{n}" in probe["visible_anchors"], (n, probe["visible_anchors"])
        assert probe["scroll_y"] < 1.0 or n == 1


def test_markup_characters_in_the_policy_render_as_text(run_app):
    run = run_app(PROMPT + [{"probe": "demo"}, {"quit": 0}])
    assert run.code == 0, run.stderr
    assert run.report["probes"]["demo"]["markup_ok"] is True


def test_chinese_renders_with_a_cjk_font_not_boxes(run_app):
    run = run_app(PROMPT + [{"probe": "font"}, {"quit": 0}])
    assert run.code == 0, run.stderr
    probe = run.report["probes"]["font"]
    assert probe["cjk_glyphs_distinct"] is True, probe["font"]
