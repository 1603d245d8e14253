"""The SDK's encrypted store and cookie jar, end to end against the stub over HTTPS."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from sdk import PrivacySdk, SdkConfig
from sdk.policy import Policy
from sdk.storage.cookies import MemoryCookieJar, PersistentCookieJar
from sdk.testing.keystore import MemoryKeystore

PHONE = "13800138000"
PASSWORD = "Xk9#mQ2vLp8w-river"


def _open(make_config: Callable[..., SdkConfig], stub: Any, policy: Policy,
          keystore: MemoryKeystore) -> PrivacySdk:
    return PrivacySdk.open(make_config(stub), policy, keystore=keystore)


def _registered(sdk: PrivacySdk) -> PrivacySdk:
    sdk.agree()
    sdk.register(PHONE, PASSWORD)
    return sdk


def test_remembered_login_survives_a_restart(stub, make_config, bundled_policy) -> None:  # OBL-CK-1
    keystore = MemoryKeystore()
    with _open(make_config, stub, bundled_policy, keystore) as first:
        _registered(first).login(PHONE, PASSWORD, remember_me=True)
        assert isinstance(first.cookie_jar, PersistentCookieJar)
    with _open(make_config, stub, bundled_policy, keystore) as second:
        assert second.me().identifier_masked == "138****8000"


def test_login_without_remember_me_does_not_survive_a_restart(stub, make_config, bundled_policy) -> None:  # OBL-SEC-4
    keystore = MemoryKeystore()
    with _open(make_config, stub, bundled_policy, keystore) as first:
        _registered(first).login(PHONE, PASSWORD)
        first.me()
    with _open(make_config, stub, bundled_policy, keystore) as second:
        from sdk import NotLoggedIn

        with pytest.raises(NotLoggedIn):
            second.me()


def test_cookie_list_shows_purpose_and_no_value(stub, make_config, bundled_policy) -> None:  # OBL-CK-2
    with _open(make_config, stub, bundled_policy, MemoryKeystore()) as sdk:
        _registered(sdk).login(PHONE, PASSWORD, remember_me=True)
        (info,) = sdk.cookie_jar.list()
        assert (info.name, info.purpose, info.secure, info.http_only) == ("sid", "account", True, True)
        assert not hasattr(info, "value")


def test_clear_local_data_logs_out_and_empties_the_store(stub, make_config, bundled_policy) -> None:  # OBL-CK-3
    keystore = MemoryKeystore()
    with _open(make_config, stub, bundled_policy, keystore) as sdk:
        _registered(sdk).login(PHONE, PASSWORD, remember_me=True)
        sdk.clear_local_data()
        assert sdk.cookie_jar.list() == []
        assert sdk.storage_entries() == []
    with _open(make_config, stub, bundled_policy, keystore) as again:
        from sdk import NotLoggedIn

        with pytest.raises(NotLoggedIn):
            again.me()


def test_without_a_keystore_cookies_stay_in_memory(stub, make_config, bundled_policy,
                                                   monkeypatch, device_dir) -> None:  # OBL-SEC-2
    monkeypatch.setenv("PRIVACY_SDK_KEYSTORE", "fail")
    with PrivacySdk.open(make_config(stub), bundled_policy) as sdk:
        _registered(sdk).login(PHONE, PASSWORD, remember_me=True)
        assert isinstance(sdk.cookie_jar, MemoryCookieJar)
        assert sdk.storage_error is not None
        assert sdk.me().identifier_masked == "138****8000"
    assert not (device_dir / "store.db").exists() or b"sid" not in (device_dir / "store.db").read_bytes()


def test_withdrawal_reaches_the_server(stub, make_config, bundled_policy) -> None:  # OBL-DSR-4
    with PrivacySdk.open(make_config(stub), bundled_policy) as sdk:
        sdk.agree()
        sdk.disagree()  # after a grant, declining is a withdrawal
        assert sdk.mode == "basic"
        answer = requests.get(f"{stub.url}/v1/consent-records", params={"subject_id": sdk.subject_id},
                              verify=str(stub.ca_path), timeout=10)
        assert [r["decision"] for r in answer.json()["records"]] == ["granted", "withdrawn"]


def test_withdrawal_offline_takes_effect_at_once_and_syncs_later(stub, make_config, bundled_policy) -> None:  # OBL-DSR-4
    with PrivacySdk.open(make_config(stub), bundled_policy) as sdk:
        sdk.agree()
        port = stub.port
        stub.stop()
        sdk.withdraw()
        assert sdk.mode == "basic" and sdk.pending_sync() == 1
        from server_stub.runner import start_in_thread
        from server_stub.settings import Settings

        with start_in_thread(Settings(data_dir=stub.data_dir, policy_dir=None, port=port)):
            assert sdk.sync() == 1
        assert sdk.pending_sync() == 0


def test_withdrawal_ends_the_session(stub, make_config, bundled_policy) -> None:  # OBL-DSR-4
    from sdk import ConsentRequired

    with _open(make_config, stub, bundled_policy, MemoryKeystore()) as sdk:
        _registered(sdk).login(PHONE, PASSWORD, remember_me=True)
        sdk.withdraw()
        assert sdk.cookie_jar.list() == []
        with pytest.raises(ConsentRequired):
            sdk.me()


def test_unknown_keystore_setting_still_lets_the_user_clear_data(stub, make_config, bundled_policy,
                                                                 monkeypatch) -> None:  # OBL-CK-3
    monkeypatch.setenv("PRIVACY_SDK_KEYSTORE", "bogus")
    with PrivacySdk.open(make_config(stub), bundled_policy) as sdk:
        assert sdk.storage_entries() == []
        sdk.clear_local_data()
        assert isinstance(sdk.cookie_jar, MemoryCookieJar)
