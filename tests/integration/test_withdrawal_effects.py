"""What a withdrawal stops, end to end: the SDK against the real stub over HTTPS (issue 6).

- On the device, withdrawing the consent to keep the certificate information deletes the
  certificate and its key (``privacy.certificate.forget(revoke=False)``, OBL-CERT-2), also when
  the withdrawal was made on another device of the account; the server revokes the
  certificate itself when the withdrawal record reaches it.
- On the server, the uploads no verification used lose their data (OBL-DSR-4).
- ``privacy.server_personal_information()`` lists the real-name data the server holds
  (OBL-DSR-1)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sdk import PrivacySdk, SdkConfig
from sdk.policy import Policy
from sdk.realname.certificate import CERTIFICATE_KEY_ID, STORE_NAMESPACE
from sdk.transport import ApiClient, TusUploader
from server_stub.realname_store import RealnameStore

from .devices import ID_NUMBER, NAME, User, open_logged_in
from .test_realname_flow import FACE, Device, agency

EMAIL = "carol@example.com"


@pytest.fixture
def holder(user: User) -> User:
    """Verified on the server, every certificate consent granted, a certificate on the device."""
    user.manager.request()
    assert user.privacy.store.entries(STORE_NAMESPACE)
    return user


def _server_certificate(user: User) -> Any:
    (row,) = RealnameStore(user.stub.data_dir).certificates(user.account_id)
    return row


# -- the certificate (OBL-CERT-2) ---------------------------------------------------------------


def test_withdrawing_deletes_the_certificate_and_its_key_on_the_device(holder: User) -> None:  # OBL-CERT-2
    holder.privacy.withdraw("item:certificate_info")
    assert holder.privacy.store.entries(STORE_NAMESPACE) == []
    assert CERTIFICATE_KEY_ID not in holder.keystore.key_ids
    assert holder.privacy.certificate.current() is None


def test_the_server_revokes_the_certificate_when_the_withdrawal_arrives(holder: User) -> None:  # OBL-CERT-2
    holder.privacy.withdraw("certificate")
    row = _server_certificate(holder)
    # consent_withdrawn, not user_request: the device sent no DELETE (forget(revoke=False));
    # the withdrawal record did it
    assert (row.revoked_at is not None, row.revocation_reason) == (True, "consent_withdrawn")


def test_a_withdrawal_on_another_device_deletes_the_certificate_at_the_next_sync(
        holder: User, open_user: Callable[..., User], tmp_path: Path) -> None:  # OBL-CERT-2
    tablet = open_user(register=False, data_dir=tmp_path / "tablet")
    tablet.privacy.sync()
    tablet.privacy.withdraw("certificate")
    assert holder.privacy.store.entries(STORE_NAMESPACE)  # not heard of it yet
    holder.privacy.sync()  # pulls the tablet's withdrawal
    assert holder.privacy.store.entries(STORE_NAMESPACE) == []
    assert CERTIFICATE_KEY_ID not in holder.keystore.key_ids


# -- uploads (OBL-DSR-4) ------------------------------------------------------------------------


@pytest.fixture
def uploading(stub: Any, make_config: Callable[..., SdkConfig], bundled_policy: Policy,
              tmp_path: Path) -> Iterator[tuple[PrivacySdk, TusUploader]]:
    """A logged-in device with the real-name purpose and item:face_video granted, and its
    uploader (the app's way: a client on the SDK's cookie jar, the SDK's store)."""
    config = make_config(stub, hpke_pins=stub.hpke_pins, data_dir=tmp_path / "uploader")
    privacy, _ = open_logged_in(config, bundled_policy, EMAIL)
    with privacy:
        privacy.grant("realname_verification")
        privacy.grant("item:face_video")
        with ApiClient(privacy.config, cookie_jar=privacy.cookie_jar) as api:
            yield privacy, TusUploader(api, privacy.store, chunk_size=1024)


def test_withdrawing_the_face_video_consent_deletes_the_unused_upload(stub: Any, uploading) -> None:  # OBL-DSR-4
    privacy, uploader = uploading
    consent = privacy.state("realname_verification").record.record_id
    result = uploader.upload(FACE, item="face_video", purpose="realname_verification",
                             consent_id=consent, content_type="video/mp4")
    sealed = Path(stub.data_dir) / "uploads" / f"{result.upload_id}.sealed"
    assert sealed.exists()
    privacy.withdraw("item:face_video")  # synced at once
    assert not sealed.exists()


# -- what the server lists (OBL-DSR-1) ----------------------------------------------------------


@pytest.fixture
def verified(stub: Any, make_config: Callable[..., SdkConfig], bundled_policy: Policy,
             tmp_path: Path) -> Iterator[Device]:
    """A device whose real-name verification passed through the real flow."""
    agency(stub, delay_seconds=0)
    config = make_config(stub, hpke_pins=stub.hpke_pins, data_dir=tmp_path / "verified")
    device = Device(stub, config, bundled_policy, f"dora-{uuid.uuid4().hex[:6]}@example.com")
    try:
        device.grant_all()
        assert device.realname.wait(device.submit().id, timeout_s=15, poll_interval_s=0.05).verified
        yield device
    finally:
        device.privacy.close()


def test_the_server_lists_the_realname_data_it_holds(verified: Device) -> None:  # OBL-DSR-1
    rows = {row["item"]: row for row in verified.privacy.server_personal_information()}
    assert {"real_name", "id_number", "face_video", "realname_verifications"} <= set(rows)
    assert rows["face_video"]["count"] == 1 and "ciphertext" in rows["face_video"]["held"]
    assert NAME not in str(rows) and ID_NUMBER not in str(rows)


def test_the_server_lists_the_handover_to_the_agency(verified: Device) -> None:  # OBL-DSR-1
    transfers = verified.privacy.server_third_party_transfers()
    assert [(t["recipient"], t["purpose"]) for t in transfers] == [
        ("realname_agency", "realname_verification")]
