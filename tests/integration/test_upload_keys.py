"""The SDK fetches the server's HPKE key over HTTPS and seals only to a pinned key."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from sdk import KeyPinMismatch, SdkConfig
from sdk.transport import ApiClient
from sdk.transport import envelope as e
from server_stub.hpke import KeyRing, rotate_hpke_key


def test_fetch_the_pinned_current_key(stub: Any, make_config: Callable[..., SdkConfig]) -> None:  # OBL-SEC-1
    with ApiClient(make_config(stub, hpke_pins=stub.hpke_pins)) as api:
        key = e.fetch_current_key(api)
    assert key.fingerprint == stub.hpke_pins[0]
    assert key.suite == e.DEFAULT_SUITE


def test_a_field_sealed_on_the_device_opens_on_the_server(stub: Any, make_config: Callable[..., SdkConfig]) -> None:  # OBL-RN-1
    with ApiClient(make_config(stub, hpke_pins=stub.hpke_pins)) as api:
        key = e.fetch_current_key(api)
    submission = str(uuid.uuid4())
    sealed = e.seal_field(key, "阿依古丽·买买提", field="real_name", submission=submission,
                          purpose="realname_verification", consent_id="c-1")
    opened = e.open_field(KeyRing(stub.data_dir).lookup, sealed, kid=key.kid, field="real_name",
                          submission=submission, purpose="realname_verification", consent_id="c-1")
    assert opened.decode("utf-8") == "阿依古丽·买买提"


def test_a_wrong_pin_refuses_the_key(stub: Any, make_config: Callable[..., SdkConfig]) -> None:  # OBL-SEC-1
    with ApiClient(make_config(stub, hpke_pins=("sha256:" + "0" * 64,))) as api, \
            pytest.raises(KeyPinMismatch) as caught:
        e.fetch_current_key(api)
    assert caught.value.code == "not_pinned"
    assert caught.value.fingerprint == stub.hpke_pins[0]


def test_after_a_rotation_only_the_new_pin_is_accepted(stub: Any, make_config: Callable[..., SdkConfig]) -> None:  # OBL-SEC-1
    old_pins = stub.hpke_pins
    new = rotate_hpke_key(stub.data_dir)
    with ApiClient(make_config(stub, hpke_pins=old_pins)) as api, pytest.raises(KeyPinMismatch):
        e.fetch_current_key(api)
    with ApiClient(make_config(stub, hpke_pins=(new.fingerprint,))) as api:
        assert e.fetch_current_key(api).kid == new.kid


def test_no_pins_refuses_before_any_request(make_config: Callable[..., SdkConfig]) -> None:  # OBL-SEC-1
    with socket.socket() as listener:  # a port that accepts nothing: any request would fail differently
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
    with ApiClient(make_config(endpoint=f"https://127.0.0.1:{port}")) as api, \
            pytest.raises(KeyPinMismatch) as caught:
        e.fetch_current_key(api)
    assert caught.value.code == "no_pins"
