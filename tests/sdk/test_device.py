"""Device information (OBL-DEV-1): every collector goes through the gate (refused and audited
before consent), identifiers come back as a salted hash whose salt lives in the encrypted
store, and no value reaches a repr or a log. The demo policy, real SQLite files and the
in-memory keystore (the OS edge)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sdk import ConsentError, ConsentRequired, PrivacySdk, SdkConfig
from sdk.device import (
    SALT_NAMESPACE,
    DeviceInfo,
    _local_addresses,
    _mac_address,
    pseudonym,
)
from sdk.testing.keystore import MemoryKeystore

from .clock import Clock
from .policies import demo_policy

DEVICE_CALLS: dict[str, Callable[[DeviceInfo], Any]] = {
    "device_ip": lambda d: d.local_ip("device_security"),
    "device_mac": lambda d: d.mac_address("device_security"),
    "device_id": lambda d: d.device_id("device_security"),
    "network_info": lambda d: d.network_info("operation_log"),
}


def open_sdk(data_dir: Path) -> PrivacySdk:
    return PrivacySdk.open(SdkConfig(data_dir=data_dir, clock=Clock()), demo_policy(),
                           keystore=MemoryKeystore())


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[PrivacySdk]:
    """A device whose user has not answered the privacy prompt yet."""
    with open_sdk(tmp_path / "data") as sdk:
        yield sdk


@pytest.fixture
def privacy(fresh: PrivacySdk) -> PrivacySdk:
    """A device whose user agreed to the policy (the device items are legal obligations)."""
    fresh.agree()
    return fresh


def a_mac() -> str:
    mac = _mac_address()
    if mac is None:
        pytest.skip("this machine has no hardware MAC address to hash")
    return mac


# -- never before consent -------------------------------------------------------------------------


def test_the_collectors_read_nothing_when_created(fresh: PrivacySdk) -> None:  # OBL-DEV-1
    assert fresh.device is fresh.device  # the accessor, as an app touches it at start-up
    assert fresh.audit.entries() == []


@pytest.mark.parametrize("item", DEVICE_CALLS)
def test_each_collector_is_refused_before_the_policy_is_agreed(fresh: PrivacySdk, item: str) -> None:  # OBL-DEV-1
    with pytest.raises(ConsentRequired) as info:
        DEVICE_CALLS[item](fresh.device)
    assert info.value.scopes == ("policy",)
    [entry] = fresh.audit.entries()
    assert (entry.item, entry.outcome, entry.reason) == (item, "refused", "policy_not_accepted")


@pytest.mark.parametrize("item", ["device_ip", "device_mac", "network_info"])
def test_each_collector_is_allowed_and_audited_after_agreement(privacy: PrivacySdk, item: str) -> None:  # OBL-DEV-1
    DEVICE_CALLS[item](privacy.device)
    [entry] = privacy.audit.entries("collect")
    assert (entry.item, entry.outcome, entry.lawful_basis) == (item, "allowed", "legal_obligation")


def test_a_withdrawal_stops_collection_again(privacy: PrivacySdk) -> None:  # OBL-DEV-1
    privacy.withdraw()
    with pytest.raises(ConsentRequired):
        privacy.device.local_ip("operation_log")


def test_an_item_is_collected_only_for_its_declared_purposes(privacy: PrivacySdk) -> None:  # OBL-DEV-1
    with pytest.raises(ConsentError, match="not declared for purpose 'operation_log'"):
        privacy.device.mac_address("operation_log")
    assert privacy.audit.entries()[-1].reason == "item_not_for_purpose"


def test_the_feature_is_recorded_with_the_collection(privacy: PrivacySdk) -> None:
    privacy.device.network_info("operation_log", feature="account")
    assert privacy.audit.entries()[-1].feature == "account"


# -- minimised: a salted hash unless the purpose needs the value ----------------------------------


def test_the_mac_comes_back_hashed_never_raw(privacy: PrivacySdk) -> None:  # OBL-DEV-1
    mac = a_mac()
    result = privacy.device.mac_address("device_security")
    assert result.hashed and result.value.startswith("hmac-sha256:")
    assert mac not in result.value and mac.replace(":", "") not in result.value


def test_the_raw_mac_only_when_the_caller_says_the_purpose_needs_it(privacy: PrivacySdk) -> None:  # OBL-DEV-1
    mac = a_mac()
    result = privacy.device.mac_address("device_security", raw=True)
    assert (result.value, result.hashed) == (mac, False)


def test_the_hash_is_stable_on_one_install(privacy: PrivacySdk) -> None:
    a_mac()
    first = privacy.device.mac_address("device_security").value
    assert privacy.device.mac_address("device_security").value == first


def test_the_hash_is_not_derived_from_the_device_alone(tmp_path: Path) -> None:  # OBL-DEV-1
    mac = a_mac()
    values = []
    for name in ("one", "two"):
        with open_sdk(tmp_path / name) as sdk:
            sdk.agree()
            values.append(sdk.device.mac_address("device_security").value)
    assert values[0] != values[1]  # a random salt per install: no linking across installs
    assert pseudonym(b"", "device_mac", mac) not in values


def test_the_salt_is_in_the_encrypted_store_and_in_no_plain_file(privacy: PrivacySdk) -> None:  # OBL-DEV-1
    privacy.device.local_ip("device_security")
    [entry] = privacy.store.entries(SALT_NAMESPACE)
    assert (entry.key, entry.purpose, entry.size) == ("salt.device_security", "device_security", 32)
    salt = privacy.store.get(SALT_NAMESPACE, "salt.device_security")
    for path in privacy.config.data_dir.rglob("*"):
        if path.is_file():
            assert salt not in path.read_bytes(), path.name


def test_each_purpose_has_its_own_salt(privacy: PrivacySdk) -> None:
    addresses = _local_addresses()
    if not addresses:
        pytest.skip("no IP address on this machine")
    security = privacy.device.local_ip("device_security").addresses
    log = privacy.device.local_ip("operation_log").addresses
    assert security and set(security).isdisjoint(log)


def test_local_addresses_leave_out_loopback_and_link_local(privacy: PrivacySdk) -> None:
    result = privacy.device.local_ip("operation_log", raw=True)
    assert not any(a.startswith(("127.", "fe80:")) or a == "::1" for a in result.addresses)


def test_values_are_never_in_the_repr_or_the_log(privacy: PrivacySdk,
                                                  caplog: pytest.LogCaptureFixture) -> None:  # OBL-DEV-1
    mac = a_mac()
    caplog.set_level(logging.DEBUG)
    result = privacy.device.mac_address("device_security", raw=True)
    ips = privacy.device.local_ip("device_security", raw=True)
    assert mac not in repr(result) and mac not in caplog.text
    assert not any(a in repr(ips) or a in caplog.text for a in ips.addresses)


# -- device identifier and network type -----------------------------------------------------------


def test_the_device_id_is_unavailable_on_the_desktop_and_says_so(privacy: PrivacySdk) -> None:  # OBL-DEV-1
    result = privacy.device.device_id("device_security")
    assert not result.available and result.value is None
    assert "desktop" in result.reason and "plyer.uniqueid" in result.reason
    assert privacy.audit.entries("collect") == []  # nothing read, so nothing listed as collected


def test_the_network_type_is_one_of_the_four(privacy: PrivacySdk) -> None:
    info = privacy.device.network_info("operation_log")
    assert info.type in ("wifi", "cellular", "ethernet", "unknown")


# -- the device identifier on Android: plyer.uniqueid (ANDROID_ID), no OS permission -------------------------


@pytest.fixture
def android(privacy: PrivacySdk, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """Runs as on Android, with plyer.uniqueid giving a fixed ANDROID_ID; returns a function
    that sets the phone_state status the scripted permission backend reports."""
    import plyer

    from sdk.capture import _platform
    from sdk.permissions.facade import Permissions
    from sdk.permissions.scripted import ScriptedBackend

    monkeypatch.setattr(_platform, "on_android", lambda: True)
    monkeypatch.setattr(plyer, "uniqueid", type("Uid", (), {"id": "9774d56d682e549c"})())
    backend = ScriptedBackend()
    privacy.permissions = Permissions(privacy, backend)
    return lambda status: backend.set_status("phone_state", status)


def test_the_android_id_needs_no_os_permission(privacy: PrivacySdk, android: Callable[[str], None]) -> None:  # OBL-DEV-1
    android("denied")  # READ_PHONE_STATE refused (or never asked): ANDROID_ID needs none
    result = privacy.device.device_id("device_security")
    assert (result.kind, result.available) == ("android_id", True)
    assert privacy.audit.permission_events() == []  # no phone_state asked or checked


def test_the_android_id_comes_back_hashed_once_phone_state_is_granted(
        privacy: PrivacySdk, android: Callable[[str], None]) -> None:  # OBL-DEV-1
    android("granted")
    result = privacy.device.device_id("device_security")
    assert (result.kind, result.hashed, result.available) == ("android_id", True, True)
    assert result.value.startswith("hmac-sha256:") and "9774d56d682e549c" not in result.value
    assert privacy.audit.entries("collect")[-1].item == "device_id"


def test_android_gives_no_mac_and_the_answer_says_so(privacy: PrivacySdk,
                                                    android: Callable[[str], None]) -> None:  # OBL-DEV-1
    result = privacy.device.mac_address("device_security")
    assert not result.available and "Android 6" in result.reason


def test_no_keystore_for_the_salt_is_found_before_anything_is_read_or_audited(
        privacy: PrivacySdk, monkeypatch: pytest.MonkeyPatch) -> None:  # OBL-DEV-1
    from sdk import device as device_module
    from sdk.errors import KeystoreUnavailable

    read: list[bool] = []
    monkeypatch.setattr(device_module, "_mac_address", lambda: read.append(True) or "00:11:22:33:44:55")

    def no_keystore(purpose: str) -> bytes:
        raise KeystoreUnavailable("no keystore here")

    monkeypatch.setattr(privacy.device, "_salt", no_keystore)
    with pytest.raises(KeystoreUnavailable):
        privacy.device.mac_address("device_security")
    assert read == [] and privacy.audit.entries("collect") == []
