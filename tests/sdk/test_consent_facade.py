"""PrivacySdk's consent engine on a real ledger and the real demo policy, without a server
(offline, or a server that is down). tests/integration/ runs the same against the real stub."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import pytest

from sdk import ConfigError, ConsentError, ConsentRequired, PolicyError, PrivacySdk, SdkConfig
from sdk.consent import ConsentLedger
from sdk.testing.keystore import MemoryKeystore

from .policies import demo_policy

BUNDLED = ("customer_service", "notifications", "invite_signer")


def closed_port_endpoint() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def open_sdk(data_dir: Path, policy=None, **config) -> PrivacySdk:
    return PrivacySdk.open(SdkConfig(data_dir=data_dir, **config), policy or demo_policy(),
                           keystore=MemoryKeystore())


@pytest.fixture
def offline(tmp_path: Path):
    with open_sdk(tmp_path / "data") as sdk:
        yield sdk


@pytest.fixture
def agreed(offline: PrivacySdk) -> PrivacySdk:
    offline.agree()
    return offline


@pytest.fixture
def server_down(tmp_path: Path):
    with open_sdk(tmp_path / "data", endpoint=closed_port_endpoint(), dev_mode=True, retries=1,
                  backoff=0) as sdk:
        yield sdk


# -- the policy agreement (privacy prompt) ---------------------------------------------------


def test_fresh_install_is_undecided_and_denies_everything(offline: PrivacySdk) -> None:
    assert offline.mode == "undecided" and offline.needs_prompt() is True
    for purpose in ("account", "customer_service", "device_security", "realname_verification"):
        with pytest.raises(ConsentRequired) as info:
            offline.require(purpose)
        assert info.value.purpose == purpose and "policy" in info.value.scopes
    assert offline.ledger.history() == []  # deny by default: nothing recorded until a decision


def test_agree_grants_the_bundled_consent_purposes_only(offline: PrivacySdk) -> None:  # OBL-BASIS-1
    record = offline.agree()
    assert record.scope == "policy" and record.consent_type == "policy"
    assert record.purposes == BUNDLED
    for purpose in BUNDLED + ("account", "device_security"):
        offline.require(purpose)  # consent purposes granted; other bases need only the agreement
    assert offline.mode == "full" and offline.needs_prompt() is False


def test_agree_record_carries_the_27560_fields(offline: PrivacySdk) -> None:  # OBL-UPD-1
    record = offline.agree()
    policy = offline.policy
    assert record.notice.policy_version == "2026.11" and record.notice.sha256 == policy.sha256
    assert record.controller == policy.manifest.controller.name
    assert record.controller_contact == "privacy@demo-esign.example"
    assert set(record.pi_categories) == {"cs_message", "notification_email",
                                         "counter_signer_phone", "phone"}
    assert record.retention["cs_message"] == "P2Y"
    assert "隐私中心" in record.withdrawal and record.lawful_basis == "consent"
    assert record.subject_id == offline.subject_id and record.jurisdiction == "CN"


@pytest.mark.parametrize("purpose", ["realname_verification", "certificate", "marketing"])
def test_separate_consent_purposes_are_not_granted_by_agree(agreed: PrivacySdk, purpose) -> None:
    # PIPL art. 29 / OBL-DSR-5: asked in context, marketing off by default
    with pytest.raises(ConsentRequired) as info:
        agreed.require(purpose)
    assert info.value.scopes == (f"purpose:{purpose}",)


def test_undeclared_purpose_is_refused(agreed: PrivacySdk) -> None:  # OBL-PURP-1
    with pytest.raises(ConsentError, match="not declared") as info:
        agreed.require("advertising")
    assert not isinstance(info.value, ConsentRequired) and "advertising" in str(info.value)


def test_disagree_is_basic_mode_and_local_only(server_down: PrivacySdk) -> None:  # OBL-ACC-2
    record = server_down.disagree()
    assert record.decision == "denied"
    assert server_down.mode == "basic" and server_down.needs_prompt() is False
    assert server_down.pending_sync() == 0  # a refusal is never sent
    for purpose in ("customer_service", "account"):
        with pytest.raises(ConsentRequired):
            server_down.require(purpose)


def test_agree_offline_stays_pending(offline: PrivacySdk) -> None:
    offline.agree()
    assert offline.pending_sync() == 1
    with pytest.raises(ConfigError, match="endpoint"):
        offline.sync()


def test_agree_while_server_down_keeps_the_record_pending(server_down: PrivacySdk, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="sdk")
    record = server_down.agree()  # does not raise: stored first, sync failure swallowed
    assert server_down.mode == "full" and server_down.pending_sync() == 1
    assert server_down.ledger.pending()[0].record_id == record.record_id
    assert "pending" in caplog.text
    assert server_down.subject_id not in caplog.text and record.record_id not in caplog.text


def test_agree_without_sync_returns_at_once(server_down: PrivacySdk) -> None:
    record = server_down.agree(sync=False)
    assert server_down.mode == "full" and server_down.ledger.pending() == [record]


def test_decisions_survive_restart(tmp_path: Path) -> None:  # OBL-DSR-4
    with open_sdk(tmp_path / "data") as sdk:
        sdk.agree()
        sdk.withdraw("customer_service")
        subject = sdk.subject_id
    with open_sdk(tmp_path / "data") as again:
        assert again.mode == "full" and again.subject_id == subject
        assert again.state("customer_service").status == "withdrawn"
        assert again.state("notifications").status == "granted"
        assert again.pending_sync() == 2


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
    assert server_down.refresh_policy() is bundled and server_down.policy is bundled
    assert "keeping policy version 2026.11" in caplog.text


def test_open_checks_its_arguments(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="sdk.policy.Policy"):
        PrivacySdk.open(SdkConfig(data_dir=tmp_path), object())
    with pytest.raises(ConfigError):
        PrivacySdk.open(tmp_path, demo_policy())  # type: ignore[arg-type]


def test_ledger_file_lives_in_data_dir(tmp_path: Path) -> None:
    with open_sdk(tmp_path / "d") as sdk:
        sdk.agree()
    with ConsentLedger(tmp_path / "d" / "consent.db") as ledger:
        assert [r.decision for r in ledger.history()] == ["granted"]


def test_close_is_idempotent_and_final(tmp_path: Path) -> None:
    sdk = open_sdk(tmp_path)
    sdk.close()
    sdk.close()
    with pytest.raises(ConfigError, match="closed"):
        sdk.agree()


# -- per-purpose decisions (OBL-DSR-4) -----------------------------------------------------------


def test_withdrawing_one_purpose_stops_only_that_purpose(agreed: PrivacySdk) -> None:  # OBL-DSR-4
    record = agreed.withdraw("customer_service")
    assert record.scope == "purpose:customer_service" and record.decision == "withdrawn"
    with pytest.raises(ConsentRequired) as info:
        agreed.require("customer_service")
    assert info.value.scopes == ("purpose:customer_service",)
    agreed.require("notifications")
    assert agreed.mode == "full"


def test_granting_a_withdrawn_purpose_again(agreed: PrivacySdk) -> None:  # OBL-DSR-4
    agreed.withdraw("notifications")
    agreed.grant("notifications")
    agreed.require("notifications")
    assert agreed.state("purpose:notifications").status == "granted"


def test_withdrawing_what_was_never_granted_is_an_error(agreed: PrivacySdk) -> None:
    with pytest.raises(ConsentError, match="no consent to withdraw.*not_asked"):
        agreed.withdraw("marketing")


def test_withdrawing_the_policy_is_basic_mode(agreed: PrivacySdk) -> None:  # OBL-DSR-4
    agreed.withdraw()
    assert agreed.mode == "basic"
    with pytest.raises(ConsentRequired):
        agreed.require("account")


def test_deny_a_purpose_before_granting_stays_local(agreed: PrivacySdk) -> None:  # OBL-DSR-5
    record = agreed.deny("marketing")
    assert record.decision == "denied" and agreed.state("marketing").status == "denied"
    assert agreed.pending_sync() == 1  # only the policy grant


def test_a_contract_purpose_has_no_consent_of_its_own(agreed: PrivacySdk) -> None:  # OBL-BASIS-1
    with pytest.raises(ConsentError, match="lawful basis 'contract'"):
        agreed.grant("account")


# -- separate consent (PIPL art. 23, 29; OBL-SH-1, OBL-RN-1) -------------------------------------


def test_granting_before_the_policy_agreement_is_refused(offline: PrivacySdk) -> None:
    with pytest.raises(ConsentRequired) as info:
        offline.grant("item:id_number")
    assert info.value.scopes == ("policy",)
    assert offline.ledger.history() == []


def test_one_tap_grants_exactly_one_scope(agreed: PrivacySdk) -> None:  # OBL-SH-1
    record = agreed.grant("item:id_number")
    assert record.consent_type == "separate" and record.pi_categories == ("id_number",)
    assert agreed.state("item:id_number").granted
    for other in ("item:face_video", "recipient:ca", "recipient:realname_agency",
                  "purpose:realname_verification"):
        assert agreed.state(other).status == "not_asked"


def test_recipient_consent_record_names_the_recipient_and_items(agreed: PrivacySdk) -> None:  # OBL-SH-1
    record = agreed.grant("recipient:ca")
    assert record.recipients == ("ca",) and record.purposes == ("certificate",)
    assert set(record.pi_categories) == {"real_name", "id_number"}


def test_a_non_sensitive_item_has_no_separate_consent(agreed: PrivacySdk) -> None:
    with pytest.raises(ConsentError, match="not sensitive"):
        agreed.grant("item:phone")


def test_separate_consent_text_for_a_recipient(agreed: PrivacySdk) -> None:  # OBL-SH-1
    text = agreed.separate_consent("recipient:realname_agency")
    body = "".join(text.body)
    assert "示例实名核验服务中心" in text.title
    for name in ("真实姓名", "身份证号码", "手机号码", "面部视频", "HTTPS"):
        assert name in body
    assert "撤回" in body and "其他功能不受影响" in body


def test_separate_consent_text_for_face_video_covers_face_processing(agreed: PrivacySdk) -> None:
    text = agreed.separate_consent("item:face_video")
    body = "".join(text.body)
    assert "敏感个人信息" in body and "人脸比对" in body and "30天" in body


def test_separate_consent_text_is_only_for_separate_scopes(agreed: PrivacySdk) -> None:
    with pytest.raises(ConsentError, match="does not need separate consent"):
        agreed.separate_consent("customer_service")


def test_feature_lists_every_missing_scope_in_order(agreed: PrivacySdk) -> None:  # OBL-RN-1
    with pytest.raises(ConsentRequired) as info:
        agreed.require_feature("realname_signing")
    assert info.value.scopes == (
        "purpose:realname_verification", "purpose:certificate", "item:id_number",
        "item:face_video", "item:certificate_info", "recipient:ca", "recipient:realname_agency")


def test_feature_runs_once_every_scope_is_granted(agreed: PrivacySdk) -> None:  # OBL-RN-1
    for scope in agreed.missing_for_feature("realname_signing"):
        agreed.grant(scope)
    agreed.require_feature("realname_signing")
    assert agreed.missing_for_feature("realname_signing") == ()


def test_refusing_realname_blocks_only_realname_features(agreed: PrivacySdk) -> None:  # OBL-RN-3
    agreed.deny("item:id_number")
    with pytest.raises(ConsentRequired):
        agreed.require_feature("realname_signing")
    agreed.require_feature("notifications")
    agreed.require_feature("account")


# -- guard, decorator, listeners ---------------------------------------------------------------


def test_requires_decorator_runs_only_with_consent(agreed: PrivacySdk) -> None:  # OBL-DSR-4
    calls = []

    @agreed.requires("customer_service")
    def answer_ticket() -> str:
        calls.append(1)
        return "answered"

    assert answer_ticket() == "answered"
    agreed.withdraw("customer_service")
    with pytest.raises(ConsentRequired):
        answer_ticket()
    assert calls == [1]


def test_requires_decorator_rejects_an_undeclared_purpose_at_once(agreed: PrivacySdk) -> None:
    with pytest.raises(ConsentError, match="advertising"):
        agreed.requires("advertising")


def test_listener_hears_a_withdrawal(agreed: PrivacySdk) -> None:  # OBL-DSR-4
    heard = []
    agreed.add_listener(heard.append)
    agreed.withdraw("customer_service")
    assert [(c.scope, c.before, c.after) for c in heard] == [
        ("purpose:customer_service", "granted", "withdrawn")]
    assert heard[0].record.decision == "withdrawn"


def test_removed_listener_hears_nothing(agreed: PrivacySdk) -> None:
    heard = []
    remove = agreed.add_listener(heard.append)
    remove()
    agreed.grant("marketing")
    assert heard == []


def test_a_failing_listener_does_not_undo_the_decision(agreed: PrivacySdk, caplog) -> None:
    def broken(change) -> None:
        raise RuntimeError("listener bug")

    agreed.add_listener(broken)
    agreed.grant("marketing")
    assert agreed.state("marketing").granted
    assert "listener raised" in caplog.text


# -- policy updates (OBL-UPD-1, OBL-UPD-2) -------------------------------------------------------

from .policies import (  # noqa: E402
    add_purpose,
    edited_policy,
    longer_face_video_retention,
    new_contact,
    reworded_purpose,
)


def agreed_under_the_demo_policy(data_dir: Path, *grants: str) -> None:
    with open_sdk(data_dir) as sdk:
        sdk.agree()
        for scope in grants:
            sdk.grant(scope)


def test_a_minor_change_is_a_notice_and_blocks_nothing(tmp_path: Path) -> None:  # OBL-UPD-2
    agreed_under_the_demo_policy(tmp_path)
    with open_sdk(tmp_path, edited_policy(reworded_purpose)) as sdk:
        update = sdk.policy_update()
        assert update is not None and not update.is_major and update.minor
        assert sdk.mode == "full"
        sdk.require("customer_service")
        assert sdk.policy_update_notice_due()
        sdk.acknowledge_policy_update()
        assert not sdk.policy_update_notice_due()


def test_a_new_purpose_is_not_granted_by_the_old_agreement(tmp_path: Path) -> None:  # OBL-PURP-1
    agreed_under_the_demo_policy(tmp_path)
    with open_sdk(tmp_path, edited_policy(add_purpose)) as sdk:
        assert sdk.policy_update().is_major
        with pytest.raises(ConsentRequired):
            sdk.require("analytics")
        sdk.require("customer_service")  # unaffected processing goes on
        sdk.agree()  # the user agrees to the new version: affirmative action
        sdk.require("analytics")


def test_a_major_change_blocks_the_processing_it_affects(tmp_path: Path) -> None:  # OBL-UPD-2
    agreed_under_the_demo_policy(tmp_path, "item:face_video", "item:id_number")
    with open_sdk(tmp_path, edited_policy(longer_face_video_retention)) as sdk:
        assert sdk.state("item:face_video").status == "superseded"
        assert sdk.state("item:id_number").status == "granted"
        assert sdk.mode == "full"
        assert "item:face_video" in sdk.missing_for_feature("face_signing")
        sdk.grant("item:face_video")  # asked again in its own dialog
        assert sdk.state("item:face_video").granted


def test_agreeing_again_does_not_regrant_a_separate_consent(tmp_path: Path) -> None:  # OBL-UPD-2
    agreed_under_the_demo_policy(tmp_path, "item:face_video")
    with open_sdk(tmp_path, edited_policy(longer_face_video_retention)) as sdk:
        sdk.agree()
        assert sdk.state("item:face_video").status == "superseded"


def test_a_new_contact_asks_for_the_whole_policy_again(tmp_path: Path) -> None:  # OBL-CON-1
    agreed_under_the_demo_policy(tmp_path)
    with open_sdk(tmp_path, edited_policy(new_contact)) as sdk:
        assert sdk.mode == "undecided" and sdk.needs_prompt()
        with pytest.raises(ConsentRequired):
            sdk.require("account")


def test_an_agreement_to_an_unknown_older_policy_asks_again(tmp_path: Path) -> None:  # OBL-UPD-2
    with ConsentLedger(tmp_path / "consent.db") as ledger:  # an older SDK kept no policy text
        ledger.record("granted", BUNDLED, {"policy_version": "2026.10", "sha256": "ab" * 32,
                                           "language": "zh-CN"}, "c", "explicit_button")
    with open_sdk(tmp_path) as sdk:
        assert sdk.mode == "undecided"
        assert sdk.state("policy").status == "superseded"


def test_agreeing_again_keeps_a_purpose_the_user_switched_off(tmp_path: Path) -> None:  # OBL-DSR-4
    with open_sdk(tmp_path) as sdk:
        sdk.agree()
        sdk.withdraw("invite_signer")
    with open_sdk(tmp_path, edited_policy(add_purpose)) as sdk:
        record = sdk.agree()  # accepting the update
        assert "invite_signer" not in record.purposes and "analytics" in record.purposes
        assert sdk.state("invite_signer").status == "withdrawn"
        sdk.require("customer_service")


def test_a_change_made_only_in_the_manifest_is_an_update(tmp_path: Path) -> None:  # OBL-UPD-2
    from sdk.policy import Policy
    from sdk.policy.manifest import parse_manifest

    from .policies import POLICY_DIR

    agreed_under_the_demo_policy(tmp_path, "item:face_video")
    same_text = Policy.from_text(
        (POLICY_DIR / "policy.md").read_text(encoding="utf-8"),
        parse_manifest(longer_face_video_retention(
            (POLICY_DIR / "manifest.toml").read_text(encoding="utf-8"))))
    with open_sdk(tmp_path, same_text) as sdk:
        assert sdk.policy_update() is not None and sdk.policy_update().is_major
        assert sdk.state("item:face_video").status == "superseded"


def test_withdrawing_the_policy_withdraws_the_separate_consents_too(agreed: PrivacySdk) -> None:  # OBL-DSR-4
    agreed.grant("item:id_number")
    agreed.grant("recipient:ca")
    agreed.withdraw()
    assert agreed.state("item:id_number").status == "withdrawn"
    assert agreed.state("recipient:ca").status == "withdrawn"
    agreed.agree()  # agreeing again later never revives them silently
    assert not agreed.state("item:id_number").granted


def test_a_method_that_is_not_an_action_name_is_refused(agreed: PrivacySdk) -> None:
    with pytest.raises(ConsentError, match="method must name"):
        agreed.grant("marketing", method="x" * 70000)
    assert agreed.state("marketing").status == "not_asked"
