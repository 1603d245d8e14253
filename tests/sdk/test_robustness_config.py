"""SdkConfig refuses a CA bundle that is not PEM and an endpoint carrying credentials, with
messages that say how to fix it and never repeat a secret."""

from __future__ import annotations

import pytest

from sdk import SdkConfig
from sdk.errors import ConfigError


def test_ca_bundle_that_is_not_pem_is_refused(tmp_path):
    not_pem = tmp_path / "passwd"
    not_pem.write_text("root:x:0:0:root:/root:/bin/bash\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        SdkConfig(data_dir=tmp_path / "sdk", ca_bundle=not_pem)
    assert "is not a PEM CA bundle (no '-----BEGIN CERTIFICATE-----')" in str(caught.value)
    assert str(not_pem) in str(caught.value)


def test_real_pem_ca_bundle_is_accepted(tmp_path):
    from server_stub.ca import ensure_dev_ca

    ca = ensure_dev_ca(tmp_path / "ca").ca_path
    assert SdkConfig(data_dir=tmp_path / "sdk", ca_bundle=ca).ca_bundle == ca


def test_endpoint_with_user_and_password_is_refused_without_echoing_it(tmp_path):
    with pytest.raises(ConfigError) as caught:
        SdkConfig(data_dir=tmp_path, endpoint="https://alice:s3cret-pw@api.example.cn")
    message = str(caught.value)
    assert "user name or password" in message
    assert "s3cret-pw" not in message and "alice" not in message


def test_endpoint_with_only_a_user_name_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="user name or password"):
        SdkConfig(data_dir=tmp_path, endpoint="https://token123@api.example.cn")


def test_malformed_endpoint_with_at_sign_is_not_echoed(tmp_path):
    with pytest.raises(ConfigError) as caught:
        SdkConfig(data_dir=tmp_path, endpoint="alice:s3cret-pw@api.example.cn")
    assert "s3cret-pw" not in str(caught.value)


def test_unparsable_endpoint_is_a_config_error_not_a_value_error(tmp_path):
    with pytest.raises(ConfigError, match="not a valid URL"):
        SdkConfig(data_dir=tmp_path, endpoint="https://[::1")


@pytest.mark.parametrize("region", [None, "", 5, "C N", "CHN", "C", "中国", "ＣＮ", "CN\n"],
                         ids=["none", "empty", "int", "space", "alpha3", "one", "chinese",
                              "fullwidth", "newline"])
def test_a_region_that_is_not_two_ascii_letters_is_refused(tmp_path, region):  # OBL-RES-1
    with pytest.raises(ConfigError) as caught:
        SdkConfig(data_dir=tmp_path, region=region)
    assert "region" in str(caught.value) and "'CN'" in str(caught.value)


def test_a_region_is_stored_upper_case(tmp_path):  # OBL-RES-1
    assert SdkConfig(data_dir=tmp_path, region="cn").region == "CN"


@pytest.mark.parametrize("endpoint", ["https://api.example.cn/?x=1", "https://api.example.cn/#frag",
                                      "https://api.example.cn/api"])
def test_an_endpoint_with_a_path_query_or_fragment_is_refused(tmp_path, endpoint) -> None:  # QA 3: endpoint must be scheme, host and port only
    from sdk import SdkConfig
    from sdk.errors import ConfigError

    with pytest.raises(ConfigError, match="only the scheme, host and port"):
        SdkConfig(data_dir=tmp_path, endpoint=endpoint)
    SdkConfig(data_dir=tmp_path, endpoint="https://api.example.cn:8443/")  # still fine
