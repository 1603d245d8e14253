"""TLS trust and the policy in force, against the real stub over HTTPS."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from sdk import PrivacySdk, TlsError
from sdk.transport import ApiClient

from .conftest import restart


def test_health_over_https(stub, make_config) -> None:  # OBL-SEC-1
    assert stub.url.startswith("https://")
    with ApiClient(make_config(stub)) as client:
        assert client.health()["status"] == "ok"


def test_wrong_ca_is_tls_error(stub, make_config, tmp_path: Path, bundled_policy) -> None:  # OBL-SEC-1
    from server_stub.ca import ensure_dev_ca

    other_ca = ensure_dev_ca(tmp_path / "other-ca").ca_path
    config = make_config(stub, ca_bundle=other_ca)
    with ApiClient(config) as client, pytest.raises(TlsError, match="ca_bundle"):
        client.health()
    # a consent decision still takes effect locally and waits for a trustworthy server
    with PrivacySdk.open(config, bundled_policy) as sdk:
        sdk.agree()
        assert sdk.mode == "full" and sdk.pending_sync() == 1
        with pytest.raises(TlsError):
            sdk.sync()


def test_system_trust_store_does_not_trust_the_dev_ca(stub, make_config) -> None:  # OBL-SEC-1
    with ApiClient(make_config(stub, ca_bundle=None)) as client, pytest.raises(TlsError):
        client.health()


def test_environment_cannot_change_trust(stub, make_config, tmp_path: Path, monkeypatch) -> None:  # OBL-SEC-1
    from server_stub.ca import ensure_dev_ca

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "missing.pem"))
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    with ApiClient(make_config(stub)) as client:
        assert client.health()["status"] == "ok"
    # nor can it make an untrusted server trusted
    other_ca = ensure_dev_ca(tmp_path / "other-ca").ca_path
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(stub.ca_path))
    with ApiClient(make_config(stub, ca_bundle=other_ca)) as client, pytest.raises(TlsError):
        client.health()


def test_refresh_policy_gets_the_servers_version(
    stub, make_config, bundled_policy, newer_policy_dir: Path
) -> None:  # OBL-UPD-1
    config = make_config(stub)
    stub.stop()
    with restart(stub, policy_dir=newer_policy_dir):
        with PrivacySdk.open(config, bundled_policy) as sdk:
            sdk.agree()  # to the bundled version
            assert sdk.mode == "full"
            policy = sdk.refresh_policy()
            assert policy is sdk.policy
            assert policy.manifest.version == "2099.01" != bundled_policy.manifest.version
            # only the version number changed: nothing the user agreed to changed, so nothing is
            # blocked and nothing asked (tests/sdk/test_consent_facade.py covers real changes)
            assert sdk.mode == "full" and sdk.policy_update() is None
            record = sdk.agree()
            assert record.notice.policy_version == "2099.01"
            assert record.notice.sha256 == policy.sha256
            assert sdk.mode == "full" and record.is_synced


def test_refresh_policy_same_version(privacy: PrivacySdk, bundled_policy) -> None:  # OBL-UPD-1
    policy = privacy.refresh_policy()
    assert policy.manifest.version == bundled_policy.manifest.version
    assert policy.sha256 == bundled_policy.sha256


def test_refresh_policy_falls_back_when_server_down(
    stub, make_config, bundled_policy, caplog
) -> None:  # OBL-UPD-1
    config = make_config(stub)
    stub.stop()
    caplog.set_level(logging.WARNING, logger="sdk")
    with PrivacySdk.open(config, bundled_policy) as sdk:
        assert sdk.refresh_policy() is bundled_policy
        assert sdk.policy is bundled_policy
        assert sdk.subject_id not in caplog.text
    assert "keeping policy version" in caplog.text
