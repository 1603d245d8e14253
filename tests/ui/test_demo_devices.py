"""Which camera the demo app uses, without a window (demo_app/devices.py): it gives the SDK the
camera (``privacy.camera = Camera(...)``) instead of keeping one of its own."""

from __future__ import annotations

import pytest

from tests.sdk.policies import demo_policy

pytest.importorskip("av", reason="the synthetic camera needs PyAV (extra 'synthetic')")


@pytest.fixture
def privacy(tmp_path, monkeypatch):
    from sdk import PrivacySdk, SdkConfig
    from sdk.capture.backends import opencv

    monkeypatch.delenv("PRIVACY_SDK_CAMERA", raising=False)
    monkeypatch.setattr(opencv.glob, "glob", lambda pattern: [])  # no webcam here
    with PrivacySdk.open(SdkConfig(data_dir=tmp_path / "sdk"), demo_policy()) as sdk:
        yield sdk


def test_without_a_camera_the_demo_gives_the_sdk_the_paced_synthetic_camera(privacy):
    from demo_app.devices import choose_camera

    synthetic, note = choose_camera(privacy)
    assert synthetic and "演示用合成摄像头" in note
    assert privacy.camera.backend.name == "synthetic" and privacy.camera.backend.realtime


def test_qa_forcing_the_synthetic_camera_sets_it_on_the_sdk(privacy, monkeypatch):
    from demo_app.devices import choose_camera

    monkeypatch.setenv("PRIVACY_SDK_CAMERA", "synthetic")
    synthetic, note = choose_camera(privacy)
    assert synthetic and "PRIVACY_SDK_CAMERA=synthetic" in note
    assert privacy.camera.selection.chosen_by == "app" and privacy.camera.backend.realtime
