"""SdkConfig refuses a CA bundle that is not PEM and an endpoint carrying credentials, a bad host
(a space, not a host name or IP address, the unspecified address) or a bad port, with messages
that say how to fix it and never repeat a secret."""

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


@pytest.mark.parametrize("endpoint, says", [
    ("https://127.0.0.1:abc", "the port 'abc' is not a number"),
    ("https://127.0.0.1:99999", "the port 99999 is out of range"),
    ("https://127.0.0.1:0", "the port 0 is out of range"),
    ("https://127.0.0.1:", "has a ':' after the host but no port"),
], ids=["letters", "too-big", "zero", "empty"])
def test_an_endpoint_whose_port_is_not_1_to_65535_is_refused(tmp_path, endpoint, says):
    with pytest.raises(ConfigError) as caught:
        SdkConfig(data_dir=tmp_path, endpoint=endpoint)
    assert says in str(caught.value) and "a port from 1 to 65535" in str(caught.value)


@pytest.mark.parametrize("endpoint, says", [
    ("https://exa mple.com", "the host 'exa mple.com' contains a space"),
    ("https://:8443", "has no host"),
    ("https://a_b.example.cn", "'a_b.example.cn' is not a valid host name or IP address"),
    ("https://-api.example.cn", "'-api.example.cn' is not a valid host name or IP address"),
    ("https://api..example.cn", "'api..example.cn' is not a valid host name or IP address"),
    ("https://999.1.1.1:8443", "'999.1.1.1' is not a valid host name or IP address"),
], ids=["space", "empty", "underscore", "leading-hyphen", "empty-label", "bad-ipv4"])
def test_an_endpoint_whose_host_is_not_a_host_name_or_ip_address_is_refused(tmp_path, endpoint,
                                                                             says):
    with pytest.raises(ConfigError) as caught:
        SdkConfig(data_dir=tmp_path, endpoint=endpoint)
    assert says in str(caught.value)


@pytest.mark.parametrize("endpoint, host", [("https://0.0.0.0:8443", "0.0.0.0"),
                                            ("https://[::]:8443", "::")], ids=["ipv4", "ipv6"])
def test_an_endpoint_on_the_unspecified_address_is_refused(tmp_path, endpoint, host):
    with pytest.raises(ConfigError) as caught:
        SdkConfig(data_dir=tmp_path, endpoint=endpoint)
    assert f"{host} is the unspecified address" in str(caught.value)
    assert "nothing can connect to" in str(caught.value)


@pytest.mark.parametrize("endpoint", ["https://224.0.0.1:8443", "https://255.255.255.255:8443",
                                      "https://[ff02::1]:8443"])
def test_an_endpoint_on_a_multicast_or_broadcast_address_is_refused(tmp_path, endpoint):
    with pytest.raises(ConfigError, match="multicast or broadcast address"):
        SdkConfig(data_dir=tmp_path, endpoint=endpoint)


def test_an_ipv4_mapped_unspecified_address_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="unspecified address"):
        SdkConfig(data_dir=tmp_path, endpoint="https://[::ffff:0.0.0.0]:8443")


@pytest.mark.parametrize("endpoint", [
    "https://api.example.cn", "https://api.example.cn:1", "https://api.example.cn:65535/",
    "https://192.0.2.10:8443", "https://[2001:db8::1]:8443", "https://localhost",
    "https://例子.cn", "https://xn--fsqu00a.xn--fiqs8s",
], ids=["name", "port-1", "port-65535", "ipv4", "ipv6", "localhost", "unicode-name", "idna"])
def test_a_valid_host_and_port_are_accepted(tmp_path, endpoint):
    assert SdkConfig(data_dir=tmp_path, endpoint=endpoint).endpoint == endpoint
