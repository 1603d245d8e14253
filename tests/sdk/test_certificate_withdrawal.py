"""Withdrawing the consent to keep the certificate information deletes the certificate and its
key from the device (OBL-CERT-2): ``PrivacySdk`` listens to its own consent changes and runs
``privacy.certificate.forget(revoke=False)`` when ``purpose:certificate``,
``item:certificate_info`` or the policy becomes withdrawn. Real PrivacySdk, store, keys and
certificates from the stub's user CA; the network is the recording ``Offline`` edge of
test_certificate.py (nothing may be sent: the server revokes on its own when the withdrawal
record reaches it)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from sdk import PrivacySdk, SdkConfig
from sdk.errors import StorageError
from sdk.realname.certificate import CERTIFICATE_KEY_ID, STORE_NAMESPACE
from sdk.testing.keystore import MemoryKeystore

from .clock import Clock
from .policies import demo_policy
from .test_certificate import CERT_SCOPES, NAME, Device


@pytest.fixture
def device(tmp_path: Path, clock: Clock) -> Iterator[Device]:
    made = Device(tmp_path, clock)
    yield made
    made.close()


@pytest.fixture
def holding(device: Device) -> Device:
    """A device with every certificate consent granted and a certificate installed."""
    device.consent(*CERT_SCOPES)
    device.with_certificate()
    assert device.privacy.store.entries(STORE_NAMESPACE)
    return device


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
def test_withdrawing_deletes_the_certificate_and_its_key(holding: Device, scope: str) -> None:  # OBL-CERT-2
    holding.privacy.withdraw(scope)
    assert holding.privacy.store.entries(STORE_NAMESPACE) == []
    assert CERTIFICATE_KEY_ID not in holding.keystore.key_ids
    assert holding.manager.current() is None


def test_forgetting_on_withdrawal_sends_nothing(holding: Device) -> None:  # OBL-CERT-2
    holding.privacy.withdraw("item:certificate_info")
    assert holding.edge.sent == []  # revoke=False: the server revokes when the record arrives


def test_withdrawing_another_scope_keeps_the_certificate(holding: Device) -> None:  # OBL-CERT-2
    holding.privacy.withdraw("recipient:ca")  # only issuing needs it
    assert holding.manager.current() is not None
    assert CERTIFICATE_KEY_ID in holding.keystore.key_ids


def test_a_certificate_kept_by_an_earlier_run_is_deleted(holding: Device, clock: Clock) -> None:  # OBL-CERT-2
    data_dir, keystore = holding.data_dir, holding.keystore
    holding.privacy.close()
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


def test_a_failing_deletion_never_stops_the_withdrawal(holding: Device, monkeypatch: pytest.MonkeyPatch,
                                                       caplog: pytest.LogCaptureFixture) -> None:  # OBL-CERT-2
    def broken(namespace: str, key: str) -> bool:
        raise StorageError("disk full (test)")

    monkeypatch.setattr(holding.privacy.store, "delete", broken)
    with caplog.at_level(logging.WARNING, logger="sdk.core"):
        record = holding.privacy.withdraw("item:certificate_info")
    assert record.decision == "withdrawn"
    assert holding.privacy.state("item:certificate_info").status == "withdrawn"
    assert "deleting the certificate from the device failed (StorageError)" in caplog.text
    assert NAME not in caplog.text
