"""Customer service, the notification channel, counter-signer invitations and notices end to
end: the SDK (``privacy.support``, ``.notifications``, ``.invite_signer``, ``.notices``)
against the real stub over HTTPS with its real SQLite (OBL-CS-1, OBL-MAIL-1, OBL-PHONE-1,
OBL-BR-1, OBL-END-1)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from sdk import (
    ConsentRequired,
    InvalidInput,
    PrivacySdk,
    ServerError,
    ServiceEnded,
)
from server_stub.testing import https_session

from .conftest import restart
from .devices import EMAIL, PASSWORD

PHONE = "13900139000"
NOTIFY_EMAIL = "Notify.Me@Example.com"
BREACH = {"kind": "breach", "title": "关于个人信息安全事件的告知",
          "what_happened": "部分账号的登录记录被未经授权访问。",
          "impact": "可能泄露登录账号和最近登录时间。",
          "actions_taken": "已修复漏洞并向主管部门报告。",
          "how_to_protect": "请修改登录密码，警惕诈骗短信。",
          "remedies": "如有损失请通过客服联系我们。"}
ENDING = {"kind": "service_ending", "title": "服务终止公告", "ends_at": "2027-01-31T16:00:00Z",
          "data_handling": "服务终止后 30 日内删除或匿名化您的个人信息。"}


def publish(stub: Any, notice: dict[str, str]) -> str:
    """QA publishes a notice (dev mode); its id."""
    with https_session(stub) as session:
        answer = session.post(f"{stub.url}/v1/dev/notices", json=notice, timeout=10,
                              headers={"Idempotency-Key": str(uuid.uuid4())})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["notice_id"])


@pytest.fixture
def device(open_device: Callable[..., PrivacySdk]) -> PrivacySdk:
    return open_device()


def a_template(privacy: PrivacySdk) -> str:
    return str(privacy.list_templates()[0]["id"])


# -- customer service (OBL-CS-1) ----------------------------------------------------------------


def test_a_support_message_is_kept_with_its_normalised_contact(device) -> None:  # OBL-CS-1
    sent = device.support.send("合同无法下载，请帮忙查看。", contact="139 0013 9000")
    [kept] = device.support.messages()
    assert kept.message_id == sent.message_id
    assert (kept.text, kept.contact, kept.answer) == ("合同无法下载，请帮忙查看。",
                                                      "+8613900139000", None)


def test_a_support_message_without_the_consent_never_reaches_the_server(device) -> None:  # OBL-CS-1
    device.withdraw("customer_service")
    with pytest.raises(ConsentRequired):
        device.support.send("合同无法下载")
    assert device.support.messages() == []


def test_a_support_message_never_appears_in_its_repr(device) -> None:  # OBL-CS-1
    sent = device.support.send("我的身份证号码是 11010519491231002X", contact=PHONE)
    assert "身份证" not in repr(sent) and "139" not in repr(sent)


# -- notification channel (OBL-MAIL-1) ------------------------------------------------------------


def test_sms_is_the_default_channel_without_an_email(device) -> None:  # OBL-MAIL-1
    preference = device.notifications.get()
    assert (preference.channel, preference.email) == ("sms", None)


def test_choosing_email_keeps_the_normalised_address(device) -> None:  # OBL-MAIL-1
    chosen = device.notifications.set("email", NOTIFY_EMAIL)
    assert (chosen.channel, chosen.email) == ("email", "notify.me@example.com")
    assert device.notifications.get().email_masked == "n***@example.com"


def test_going_back_to_sms_deletes_the_email_and_no_consent_changes(device) -> None:  # OBL-MAIL-1
    device.notifications.set("email", NOTIFY_EMAIL)
    before = [r.record_id for r in device.ledger.history()]
    device.notifications.set("sms")
    assert device.notifications.get().email is None
    assert [r.record_id for r in device.ledger.history()] == before
    assert device.state("notifications").granted


def test_every_service_works_without_an_email(device) -> None:  # OBL-MAIL-1
    device.withdraw("notifications")  # the user refused to give an email at all
    device.support.send("合同无法下载")
    device.invite_signer(a_template(device), PHONE, attested=True)
    assert device.notifications.get().channel == "sms"


# -- invitations (OBL-PHONE-1) ------------------------------------------------------------------


def test_an_attested_invitation_is_recorded_with_the_number_masked(device) -> None:  # OBL-PHONE-1
    invitation = device.invite_signer(a_template(device), PHONE, attested=True)
    assert invitation.phone_masked == "139****9000" and invitation.attested_at
    assert invitation.attestation and "已取得对方同意" in invitation.attestation
    [listed] = device.invitations()
    assert (listed.invitation_id, listed.phone_masked) == (invitation.invitation_id,
                                                           "139****9000")


def test_the_app_lists_the_invitations_through_the_public_api(device) -> None:  # OBL-PHONE-1
    assert device.invitations() == []
    made = device.invite_signer(a_template(device), PHONE, attested=True)
    assert [i.invitation_id for i in device.invitations()] == [made.invitation_id]


def test_an_invitation_without_the_attestation_sends_nothing(device) -> None:  # OBL-PHONE-1
    with pytest.raises(InvalidInput) as info:
        device.invite_signer(a_template(device), PHONE, attested=False)
    assert info.value.field == "attested"
    assert device.invitations() == []
    assert not any(e.item == "counter_signer_phone" for e in device.audit.entries())


def test_an_invitation_for_an_unknown_template_is_refused(device) -> None:  # OBL-PHONE-1
    with pytest.raises(ServerError) as info:
        device.invite_signer("no-such-template", PHONE, attested=True)
    assert (info.value.status, info.value.code) == (404, "template_not_found")


# -- breach notices (OBL-BR-1) ------------------------------------------------------------------


def test_a_breach_notice_arrives_with_its_five_parts(stub, device) -> None:  # OBL-BR-1
    publish(stub, BREACH)
    [notice] = device.notices.fetch()
    assert notice.kind == "breach" and notice.title == BREACH["title"]
    assert [text for _, text in notice.parts] == [
        BREACH[k] for k in ("what_happened", "impact", "actions_taken", "how_to_protect",
                            "remedies")]


def test_a_fetched_notice_waits_to_be_acknowledged(stub, device) -> None:  # OBL-BR-1
    notice_id = publish(stub, BREACH)
    device.notices.fetch()
    assert [n.notice_id for n in device.notices.unacknowledged()] == [notice_id]


def test_acknowledging_a_notice_is_recorded_on_the_server(stub, device) -> None:  # OBL-BR-1
    publish(stub, BREACH)
    [notice] = device.notices.fetch()
    ack = device.notices.acknowledge(notice)
    assert ack.sent is True
    assert [n.acknowledged for n in device.notices.fetch()] == [True]
    assert device.notices.unacknowledged() == []


def test_the_accounts_other_device_sees_the_acknowledgement(stub, open_device) -> None:  # OBL-BR-1
    publish(stub, BREACH)
    first = open_device()
    first.notices.acknowledge(first.notices.fetch()[0])
    second = open_device(register=False)
    assert [n.acknowledged for n in second.notices.fetch()] == [True]


def test_an_acknowledgement_made_offline_is_sent_by_the_next_fetch(stub, open_device) -> None:  # OBL-BR-1
    publish(stub, BREACH)
    device = open_device()
    [notice] = device.notices.fetch()
    stub.stop()
    assert device.notices.acknowledge(notice).sent is False
    assert device.notices.unacknowledged() == []  # shown once: the device remembers
    with restart(stub):
        assert [n.acknowledged for n in device.notices.fetch()] == [True]


def test_notices_are_offered_in_basic_mode_without_an_identifier(stub, privacy) -> None:  # OBL-BR-1
    publish(stub, BREACH)
    privacy.disagree()
    [notice] = privacy.notices.fetch()
    assert privacy.notices.acknowledge(notice).sent is False  # kept on the device only
    assert privacy.notices.unacknowledged() == []


# -- the end of the service (OBL-END-1) -----------------------------------------------------------


def test_a_service_ending_notice_stops_collection_at_once(stub, device) -> None:  # OBL-END-1
    publish(stub, ENDING)
    device.notices.fetch()
    with pytest.raises(ServiceEnded):
        device.collect("device_ip", "device_security")


def test_after_a_service_ending_notice_nothing_more_reaches_the_server(stub, device) -> None:  # OBL-END-1
    publish(stub, ENDING)
    device.notices.fetch()
    with pytest.raises(ServiceEnded):
        device.support.send("合同无法下载")
    with pytest.raises(ServiceEnded):
        device.invite_signer(a_template(device), PHONE, attested=True)
    assert device.support.messages() == []
    assert device.invitations() == []


def test_collection_stays_stopped_after_a_restart_offline(stub, make_config, bundled_policy,
                                                          tmp_path) -> None:  # OBL-END-1
    publish(stub, ENDING)
    config = make_config(stub, data_dir=tmp_path / "device")
    with PrivacySdk.open(config, bundled_policy) as privacy:
        privacy.agree(sync=False)
        privacy.notices.fetch()
    stub.stop()
    with PrivacySdk.open(config, bundled_policy) as privacy:  # the server is gone
        with pytest.raises(ServiceEnded):
            privacy.collect("device_ip", "device_security")
        assert privacy.notices.service_ending.data_handling == ENDING["data_handling"]


def test_a_service_ending_notice_is_offered_to_the_app(stub, device) -> None:  # OBL-END-1
    assert device.notices.service_ending is None
    notice_id = publish(stub, ENDING)
    device.notices.fetch()
    ending = device.notices.service_ending
    assert (ending.notice_id, ending.ends_at) == (notice_id, ENDING["ends_at"])


def test_the_user_can_still_remove_the_notification_email_after_the_end(stub, device) -> None:  # OBL-END-1
    device.notifications.set("email", NOTIFY_EMAIL)
    publish(stub, ENDING)
    device.notices.fetch()
    device.notifications.set("sms")  # collects nothing: allowed
    assert device.notifications.get().email is None


def test_after_a_service_ending_notice_the_user_can_still_log_in_and_export(stub, device) -> None:  # OBL-END-1
    # Collection stops, but the user keeps their rights until the service ends (PIPL arts.
    # 44-47): logging in again and exporting their data still work.
    publish(stub, ENDING)
    device.notices.fetch()
    device.logout()
    device.login(EMAIL, PASSWORD)
    document = device.rights.export(device.rights.verify_identity(PASSWORD))
    assert document.data["account"]["account_id"] == device.current_account_id()
    with pytest.raises(ServiceEnded):  # and new collection is still refused
        device.support.send("合同无法下载")
