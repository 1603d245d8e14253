"""Withdrawing the consent to keep the certificate information deletes the certificate and its
key from the device (OBL-CERT-2): ``PrivacySdk`` listens to its own consent changes and runs
``privacy.certificate.forget(revoke=False)`` when ``purpose:certificate``,
``item:certificate_info`` or the policy becomes withdrawn. Real PrivacySdk, store, keys and
certificates from the stub's user CA; the network is the recording ``Offline`` edge of
tests/sdk/certificates.py (nothing may be sent: the server revokes on its own when the withdrawal
record reaches it)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from sdk import PrivacySdk, SdkConfig
from sdk.errors import StorageError
from sdk.realname.certificate import CERTIFICATE_KEY_ID, STORE_NAMESPACE
from sdk.testing.keystore import MemoryKeystore

from .certificates import NAME, Device
from .clock import Clock
from .policies import demo_policy


class SpyKeystore(MemoryKeystore):
    """A memory keystore that records the key ids it was asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[str] = []

    def _load_kek(self, key_id: str, create: bool) -> bytes | None:
        self.asked.append(key_id)
        return super()._load_kek(key_id, create)

    def _delete_kek(self, key_id: str) -> None:
        self.asked.append(key_id)
        super()._delete_kek(key_id)


@pytest.mark.parametrize("scope", ["certificate", "item:certificate_info", "policy"])
def test_withdrawing_deletes_the_certificate_and_its_key(certified: Device, scope: str) -> None:  # OBL-CERT-2
    certified.privacy.withdraw(scope)
    assert certified.privacy.store.entries(STORE_NAMESPACE) == []
    assert CERTIFICATE_KEY_ID not in certified.keystore.key_ids
    assert certified.manager.current() is None


def test_forgetting_on_withdrawal_sends_nothing(certified: Device) -> None:  # OBL-CERT-2
    certified.privacy.withdraw("item:certificate_info")
    assert certified.edge.sent == []  # revoke=False: the server revokes when the record arrives


def test_withdrawing_another_scope_keeps_the_certificate(certified: Device) -> None:  # OBL-CERT-2
    certified.privacy.withdraw("recipient:ca")  # only issuing needs it
    assert certified.manager.current() is not None
    assert CERTIFICATE_KEY_ID in certified.keystore.key_ids


def test_a_certificate_kept_by_an_earlier_run_is_deleted(certified: Device, clock: Clock) -> None:  # OBL-CERT-2
    data_dir, keystore = certified.data_dir, certified.keystore
    certified.privacy.close()
    with PrivacySdk.open(SdkConfig(data_dir=data_dir, clock=clock), demo_policy(),
                         keystore=keystore) as again:  # a restart: the store is not open yet
        again.withdraw("certificate")
        assert again.store.entries(STORE_NAMESPACE) == []
    assert CERTIFICATE_KEY_ID not in keystore.key_ids


def test_without_a_certificate_neither_store_nor_keystore_is_opened(tmp_path: Path, clock: Clock) -> None:  # OBL-CERT-2
    keystore = SpyKeystore()
    with PrivacySdk.open(SdkConfig(data_dir=tmp_path / "device", clock=clock), demo_policy(),
                         keystore=keystore) as privacy:
        privacy.agree()
        privacy.grant("certificate")
        privacy.grant("item:certificate_info")
        privacy.withdraw("certificate")
        privacy.withdraw()  # the policy too
        assert privacy._store is None
    assert not (tmp_path / "device" / "store.db").exists()
    assert set(keystore.asked) <= {"consent-signing-v1"}  # the consent records' own key only


def test_a_failing_deletion_never_stops_the_withdrawal(certified: Device, monkeypatch: pytest.MonkeyPatch,
                                                       caplog: pytest.LogCaptureFixture) -> None:  # OBL-CERT-2
    def broken(namespace: str, key: str) -> bool:
        raise StorageError("disk full (test)")

    monkeypatch.setattr(certified.privacy.store, "delete", broken)
    with caplog.at_level(logging.WARNING, logger="sdk.core"):
        record = certified.privacy.withdraw("item:certificate_info")
    assert record.decision == "withdrawn"
    assert certified.privacy.state("item:certificate_info").status == "withdrawn"
    assert "deleting the certificate from the device failed (StorageError)" in caplog.text
    assert NAME not in caplog.text
