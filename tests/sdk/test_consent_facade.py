"""PrivacySdk's consent flows on a real ledger, without a server (offline or server down).

The policy here is a tiny stand-in with the attributes PrivacySdk reads from
``sdk.policy.Policy``; tests/integration/ uses the real demo policy against the real stub.
"""

from __future__ import annotations

import hashlib
import logging
import socket
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from sdk import ConfigError, ConsentError, ConsentRequired, PolicyError, PrivacySdk, SdkConfig
from sdk.consent import ConsentLedger


@dataclass(frozen=True)
class StubPurpose:
    id: str
    lawful_basis: str = "consent"
    separate_consent: bool = False


@dataclass(frozen=True)
class StubController:
    name: str = "示例电子签 (Demo e-Sign Ltd.)"


@dataclass(frozen=True)
class StubManifest:
    version: str = "2026.11"
    language: str = "zh-CN"
    controller: StubController = StubController()
    purposes: tuple[StubPurpose, ...] = (
        StubPurpose("account", lawful_basis="contract"),
        StubPurpose("esign_service"),
        StubPurpose("analytics"),
        StubPurpose("realname_verification", separate_consent=True),
    )


@dataclass(frozen=True)
class StubPolicy:
    text: str = "# 隐私政策\n\n示例。\n"
    manifest: StubManifest = StubManifest()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


def closed_port_endpoint() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


@pytest.fixture
def offline(tmp_path: Path):
    with PrivacySdk.open(SdkConfig(data_dir=tmp_path / "data"), StubPolicy()) as sdk:
        yield sdk


@pytest.fixture
def server_down(tmp_path: Path):
    config = SdkConfig(
        data_dir=tmp_path / "data", endpoint=closed_port_endpoint(), dev_mode=True, retries=1, backoff=0
    )
    with PrivacySdk.open(config, StubPolicy()) as sdk:
        yield sdk


def test_fresh_install_is_undecided_and_denies_everything(offline: PrivacySdk) -> None:
    assert offline.mode == "undecided"
    assert offline.needs_prompt() is True
    for purpose in ("account", "esign_service", "analytics", "realname_verification"):
        with pytest.raises(ConsentRequired) as info:
            offline.require(purpose)
        assert info.value.purpose == purpose
    assert offline.ledger.history() == []  # deny by default: nothing recorded until a decision


def test_agree_grants_consent_purposes_only(offline: PrivacySdk) -> None:  # PIPL-14
    record = offline.agree()
    # contract-basis purposes need no consent; separate-consent purposes are asked in context
    assert record.purposes == ("esign_service", "analytics")
    assert record.decision == "granted" and record.method == "explicit_button"
    assert record.notice.policy_version == "2026.11"
    assert record.notice.sha256 == StubPolicy().sha256
    assert record.notice.language == "zh-CN"
    assert record.controller == "示例电子签 (Demo e-Sign Ltd.)"
    assert record.subject_id == offline.subject_id
    assert offline.mode == "full" and offline.needs_prompt() is False
    offline.require("esign_service")
    offline.require("analytics")
    offline.require("account")  # contract basis: allowed once the user agreed to the policy


def test_separate_consent_is_not_granted_by_agree(offline: PrivacySdk) -> None:  # PIPL-29
    offline.agree()
    with pytest.raises(ConsentRequired) as info:
        offline.require("realname_verification")
    assert info.value.purpose == "realname_verification"


def test_undeclared_purpose_is_refused(offline: PrivacySdk) -> None:  # OBL-PURP-1
    offline.agree()
    with pytest.raises(ConsentError, match="not declared") as info:
        offline.require("advertising")
    assert not isinstance(info.value, ConsentRequired)
    assert "advertising" in str(info.value)


def test_disagree_is_basic_mode_and_local_only(server_down: PrivacySdk) -> None:  # OBL-ACC-2
    record = server_down.disagree()
    assert record.decision == "denied"
    assert server_down.mode == "basic" and server_down.needs_prompt() is False
    assert server_down.pending_sync() == 0  # a refusal is never sent
    with pytest.raises(ConsentRequired):
        server_down.require("esign_service")
    with pytest.raises(ConsentRequired):
        server_down.require("account")


def test_agree_offline_stays_pending(offline: PrivacySdk) -> None:
    offline.agree()
    assert offline.pending_sync() == 1
    with pytest.raises(ConfigError, match="endpoint"):
        offline.sync()


def test_agree_while_server_down_keeps_the_record_pending(server_down: PrivacySdk, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="sdk")
    record = server_down.agree()  # does not raise: stored first, sync failure swallowed
    assert server_down.mode == "full"
    assert server_down.pending_sync() == 1
    assert server_down.ledger.pending()[0].record_id == record.record_id
    assert "pending" in caplog.text
    assert server_down.subject_id not in caplog.text and record.record_id not in caplog.text


def test_decision_survives_restart(tmp_path: Path) -> None:
    config = SdkConfig(data_dir=tmp_path / "data")
    with PrivacySdk.open(config, StubPolicy()) as sdk:
        sdk.agree()
        subject = sdk.subject_id
    with PrivacySdk.open(config, StubPolicy()) as again:
        assert again.mode == "full"
        assert again.subject_id == subject
        assert again.pending_sync() == 1


def test_new_policy_version_asks_again(tmp_path: Path) -> None:  # OBL-UPD-2
    config = SdkConfig(data_dir=tmp_path / "data")
    with PrivacySdk.open(config, StubPolicy()) as sdk:
        sdk.agree()
    newer = StubPolicy(manifest=replace(StubManifest(), version="2027.01"))
    with PrivacySdk.open(config, newer) as sdk:
        assert sdk.mode == "undecided" and sdk.needs_prompt()
        with pytest.raises(ConsentRequired):
            sdk.require("esign_service")
        record = sdk.agree()
        assert record.notice.policy_version == "2027.01"
        assert sdk.mode == "full"


def test_agree_after_disagree(offline: PrivacySdk) -> None:
    offline.disagree()
    offline.agree()
    assert offline.mode == "full"
    assert [r.decision for r in offline.ledger.history()] == ["denied", "granted"]
    assert offline.pending_sync() == 1


def test_refresh_policy_without_endpoint_keeps_bundled(offline: PrivacySdk) -> None:
    bundled = offline.policy
    assert offline.refresh_policy() is bundled


def test_refresh_policy_server_down_keeps_bundled(server_down: PrivacySdk, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="sdk")
    bundled = server_down.policy
    assert server_down.refresh_policy() is bundled
    assert server_down.policy is bundled
    assert "keeping policy version 2026.11" in caplog.text


def test_policy_without_consent_purposes_cannot_be_agreed(tmp_path: Path) -> None:
    policy = StubPolicy(manifest=replace(StubManifest(), purposes=(StubPurpose("account", "contract"),)))
    with PrivacySdk.open(SdkConfig(data_dir=tmp_path), policy) as sdk:
        with pytest.raises(PolicyError, match="nothing for the user to agree to"):
            sdk.agree()
        assert sdk.ledger.history() == []


def test_open_checks_its_arguments(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="sdk.policy.Policy"):
        PrivacySdk.open(SdkConfig(data_dir=tmp_path), object())
    with pytest.raises(ConfigError):
        PrivacySdk.open(tmp_path, StubPolicy())  # type: ignore[arg-type]


def test_ledger_file_lives_in_data_dir(tmp_path: Path) -> None:
    with PrivacySdk.open(SdkConfig(data_dir=tmp_path / "d"), StubPolicy()) as sdk:
        sdk.agree()
    with ConsentLedger(tmp_path / "d" / "consent.db") as ledger:
        assert [r.decision for r in ledger.history()] == ["granted"]


def test_close_is_idempotent_and_final(tmp_path: Path) -> None:
    sdk = PrivacySdk.open(SdkConfig(data_dir=tmp_path), StubPolicy())
    sdk.close()
    sdk.close()
    with pytest.raises(ConfigError, match="closed"):
        sdk.agree()


def test_agree_without_sync_returns_at_once(server_down: PrivacySdk) -> None:
    record = server_down.agree(sync=False)
    assert server_down.mode == "full"
    assert server_down.ledger.pending() == [record]
