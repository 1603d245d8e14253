"""Issue #6 fresh-user review, against the real stub over HTTPS: the real-name state and the
certificate are per account on a shared device (H1), interrupted uploads leave nothing behind
(M1), a wrong pin collects nothing (L3), the media are checked on the device (M5), a review of
another account's verification is VerificationNotFound (L13)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from sdk import InvalidInput, KeyPinMismatch
from sdk.capture.backend import Media
from sdk.capture.media import Capture
from sdk.realname import VerificationNotFound
from sdk.realname import facade as realname_facade

from . import test_realname_flow as _flow
from .devices import NAME, PASSWORD
from .test_realname_flow import FACE, PASSPORT_PAGE

open_device = _flow.open_device  # the fixtures of the flow's tests
choose = _flow.choose

BIG_FACE = FACE[:12] + os.urandom(3 * 1024 * 1024)  # three chunks: the upload can stop midway


class _Stop(Exception):
    pass


def _stop_at_start(done: int, total: int, rate: float) -> None:
    raise _Stop()  # the upload stays pending, its sealed spool on the device


def _spools(device: Any) -> list[Path]:
    return list(Path(device.privacy.config.data_dir).rglob("*.sealed"))


def _interrupted_upload(device: Any) -> None:
    with pytest.raises(_Stop):
        device.realname.submit(NAME, "11010519491231002X", "13800138000", BIG_FACE,
                               on_progress=_stop_at_start)
    assert device.realname.uploader.resume_pending() and _spools(device)


def _realname_items(device: Any) -> set[str]:
    return {r["item"] for r in device.privacy.collected_personal_information()
            if r["purpose"] == "realname_verification"}


# -- H1: per-account real-name state and certificate on a shared device ---------------------


def test_another_account_on_the_same_device_sees_nothing_of_the_first(open_device) -> None:
    alice = open_device().grant_all()
    privacy = alice.privacy
    verified = alice.realname.wait(alice.submit().id, timeout_s=15, poll_interval_s=0.05)
    assert verified.verified
    assert privacy.certificate.request().common_name == NAME

    privacy.logout()
    assert privacy.realname.latest() is None and not privacy.realname.is_verified()
    assert privacy.certificate.current() is None
    assert privacy.current_account_id() is None

    privacy.register("bob@example.com", PASSWORD)
    privacy.login("bob@example.com", PASSWORD)
    assert privacy.realname.latest() is None and not privacy.realname.is_verified()
    assert privacy.certificate.current() is None
    assert privacy.realname.forget() is False  # nothing of Bob's; Alice's stays
    assert privacy.certificate.forget(revoke=False) is False

    privacy.logout()
    privacy.login("alice@example.com", PASSWORD)
    assert privacy.realname.latest() == verified and privacy.realname.is_verified()
    current = privacy.certificate.current()
    assert current is not None and current.common_name == NAME


def test_withdrawing_the_certificate_consent_still_deletes_it(open_device) -> None:
    alice = open_device().grant_all()
    alice.realname.wait(alice.submit().id, timeout_s=15, poll_interval_s=0.05)
    alice.privacy.certificate.request()
    alice.privacy.withdraw("item:certificate_info")
    assert alice.privacy.certificate.current() is None
    assert not [e for e in alice.privacy.storage_entries() if e.namespace == "certificate"]


# -- M1: interrupted uploads of in-memory media --------------------------------------------


@pytest.mark.parametrize("scope", ["item:face_video", "purpose:realname_verification", "policy"])
def test_withdrawal_removes_an_interrupted_upload_and_its_spool(open_device, scope) -> None:
    alice = open_device().grant_all()
    _interrupted_upload(alice)
    alice.privacy.withdraw(scope)
    assert _spools(alice) == []
    assert not [e for e in alice.privacy.storage_entries() if e.namespace == "uploads"]


def test_forget_and_clear_local_data_remove_interrupted_uploads(open_device) -> None:
    alice = open_device().grant_all()
    _interrupted_upload(alice)
    alice.realname.forget()
    assert _spools(alice) == [] and alice.realname.uploader.resume_pending() == []
    _interrupted_upload(alice)
    alice.privacy.clear_local_data()
    assert _spools(alice) == []


def test_a_new_submit_discards_the_stale_upload(open_device) -> None:
    alice = open_device().grant_all()
    _interrupted_upload(alice)
    stale = _spools(alice)
    alice.submit()
    assert not any(path.exists() for path in stale)
    assert alice.realname.uploader.resume_pending() == [] and _spools(alice) == []


# -- L3: the pin is checked before anything is collected -----------------------------------


def test_a_wrong_pin_collects_nothing(open_device) -> None:
    alice = open_device(hpke_pins=("sha256:" + "0" * 64,)).grant_all()
    with pytest.raises(KeyPinMismatch):
        alice.submit()
    alice.privacy.grant("item:review_document")
    with pytest.raises(KeyPinMismatch):
        alice.realname.submit_for_manual_review("passport", "E12345678", [PASSPORT_PAGE],
                                                verification_id=str(uuid.uuid4()))
    assert _realname_items(alice) == set()


# -- M5: the media are checked on the device -----------------------------------------------


def test_a_capture_of_another_item_is_refused(open_device) -> None:
    alice = open_device().grant_all()
    photo = Capture(Media(PASSPORT_PAGE, "image/jpeg"), item="review_document",
                    purpose="realname_verification", feature="manual_review", kind="photo",
                    backend="file", audit_seq=None)
    with pytest.raises(InvalidInput) as caught:
        alice.submit(face_video=photo)
    assert caught.value.field == "face_video"
    assert _realname_items(alice) == set()


def test_a_symlink_a_non_video_and_a_too_large_video_are_refused(open_device, tmp_path,
                                                                  monkeypatch) -> None:
    alice = open_device().grant_all()
    link = tmp_path / "secret-name-face.mp4"
    target = tmp_path / "real.mp4"
    target.write_bytes(FACE)
    link.symlink_to(target)
    text = tmp_path / "notes.mp4"
    text.write_bytes(b"root:x:0:0:root:/root:/bin/bash\n" * 10)
    for bad in (link, text, b"root:x:0:0:root" * 100, PASSPORT_PAGE, tmp_path):
        with pytest.raises(InvalidInput) as caught:
            alice.submit(face_video=bad)
        assert caught.value.field == "face_video"
        assert "secret-name" not in str(caught.value) and str(tmp_path) not in str(caught.value)
        assert "root:" not in str(caught.value)
    monkeypatch.setattr(realname_facade, "MAX_FACE_VIDEO_BYTES", len(FACE) - 1)
    with pytest.raises(InvalidInput, match="larger than"):
        alice.submit()
    with pytest.raises(InvalidInput, match="larger than"):
        alice.submit(face_video=target)
    assert _realname_items(alice) == set()
    assert realname_facade.MAX_REVIEW_IMAGE_BYTES == 20 * 1024 * 1024


def test_review_images_must_be_images(open_device, choose) -> None:
    choose(outcome="fail:face_mismatch")
    alice = open_device().grant_all()
    alice.privacy.grant("item:review_document")
    alice.realname.wait(alice.submit().id, timeout_s=15, poll_interval_s=0.05)
    with pytest.raises(InvalidInput) as caught:
        alice.realname.submit_for_manual_review("passport", "E12345678", [FACE])
    assert caught.value.field == "review_document"


# -- L13: a review of an unknown verification ----------------------------------------------


def test_a_review_of_an_unknown_verification_is_not_found(open_device, choose) -> None:
    choose(outcome="fail:face_mismatch")
    alice = open_device().grant_all()
    alice.privacy.grant("item:review_document")
    alice.realname.wait(alice.submit().id, timeout_s=15, poll_interval_s=0.05)
    with pytest.raises(VerificationNotFound):
        alice.realname.submit_for_manual_review("passport", "E12345678", [PASSPORT_PAGE],
                                                verification_id=str(uuid.uuid4()))
    with pytest.raises(ValueError):
        alice.realname.submit_for_manual_review("passport", "E12345678", [PASSPORT_PAGE],
                                                verification_id="../me")
