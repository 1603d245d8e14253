"""/v1/notices: breach (OBL-BR-1) and service-ending (OBL-END-1) notices, their
acknowledgements, the dev publish endpoint and ``--notice`` (docs/protocol.md, "Customer
service, notifications, invitations, notices, data region")."""

from __future__ import annotations

import queue
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from server_stub.runner import RunningServer, start_in_thread
from server_stub.settings import Settings
from server_stub.testing import https_session

NewAccount = Callable[[], requests.Session]
BREACH_PARTS = ("what_happened", "impact", "actions_taken", "how_to_protect", "remedies")
BREACH = {
    "kind": "breach",
    "title": "关于部分用户信息可能泄露的通知",
    "what_happened": "一台客服服务器配置错误，部分手机号码可能被访问。",
    "impact": "您可能收到诈骗电话。",
    "actions_taken": "已关闭访问并报告主管部门。",
    "how_to_protect": "请勿向任何人提供验证码。",
    "remedies": "如有损失请联系客服，我们依法承担责任。",
}
SERVICE_ENDING = {
    "kind": "service_ending",
    "title": "停止运营公告",
    "ends_at": "2027-01-31T16:00:00+00:00",
    "data_handling": "服务终止后删除或匿名化处理您的个人信息。",
}


def _publish(session: requests.Session, url: str, body: dict[str, Any]) -> requests.Response:
    return session.post(f"{url}/v1/dev/notices", json=body,
                        headers={"Idempotency-Key": str(uuid.uuid4())}, timeout=10)


def _notices(session: requests.Session, url: str, **params: str) -> list[dict[str, Any]]:
    answer = session.get(f"{url}/v1/notices", params=params or None, timeout=10)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["notices"])


def _ack(session: requests.Session, url: str, notice_id: str, subject_id: str,
         key: str | None = None) -> requests.Response:
    return session.post(f"{url}/v1/notices/{notice_id}/acknowledgements",
                        json={"subject_id": subject_id},
                        headers={"Idempotency-Key": key or str(uuid.uuid4())}, timeout=10)


def test_notices_are_listed_without_a_session(stub: RunningServer, client: requests.Session) -> None:  # OBL-BR-1, OBL-END-1
    # OBL-BR-1, OBL-END-1: a notice reaches users who are not logged in
    published = _publish(client, stub.url, BREACH)
    assert published.status_code == 201, published.text
    assert [n["notice_id"] for n in _notices(client, stub.url)] == [published.json()["notice_id"]]


def test_a_breach_notice_has_the_five_parts(stub: RunningServer, client: requests.Session) -> None:  # OBL-BR-1
    # OBL-BR-1 (PIPL art. 57)
    assert _publish(client, stub.url, BREACH).status_code == 201
    (notice,) = _notices(client, stub.url)
    assert set(notice) == {"notice_id", "kind", "published_at", "title", "acknowledged", *BREACH_PARTS}
    assert {k: notice[k] for k in ("kind", "title", *BREACH_PARTS)} == BREACH
    assert notice["acknowledged"] is False
    assert notice["published_at"].endswith("Z")


def test_a_service_ending_notice_has_ends_at(stub: RunningServer, client: requests.Session) -> None:  # OBL-END-1
    # OBL-END-1
    assert _publish(client, stub.url, SERVICE_ENDING).status_code == 201
    (notice,) = _notices(client, stub.url)
    assert set(notice) == {"notice_id", "kind", "published_at", "title", "ends_at",
                           "data_handling", "acknowledged"}
    assert notice["kind"] == "service_ending"
    assert notice["ends_at"] == "2027-01-31T16:00:00Z"
    assert notice["data_handling"] == SERVICE_ENDING["data_handling"]


def test_notices_are_listed_newest_first(stub: RunningServer, client: requests.Session) -> None:  # OBL-BR-1, OBL-END-1
    # OBL-BR-1, OBL-END-1
    first = _publish(client, stub.url, BREACH).json()
    second = _publish(client, stub.url, SERVICE_ENDING).json()
    assert [n["notice_id"] for n in _notices(client, stub.url)] == [
        second["notice_id"], first["notice_id"]]


def test_a_breach_notice_missing_a_part_is_refused(stub: RunningServer, client: requests.Session) -> None:  # OBL-BR-1
    # OBL-BR-1: a notice without every part of PIPL art. 57 is not published
    for part in BREACH_PARTS:
        body = {k: v for k, v in BREACH.items() if k != part}
        answer = _publish(client, stub.url, body)
        assert answer.status_code == 422, part
        assert f"'{part}'" in answer.json()["message"]
    assert _notices(client, stub.url) == []


def test_a_service_ending_notice_needs_an_rfc3339_ends_at(stub: RunningServer, client: requests.Session) -> None:  # OBL-END-1
    # OBL-END-1
    answer = _publish(client, stub.url, {**SERVICE_ENDING, "ends_at": "next month"})
    assert answer.status_code == 422
    assert "'ends_at'" in answer.json()["message"]


def test_an_acknowledgement_is_recorded(stub: RunningServer, client: requests.Session) -> None:  # OBL-BR-1
    # OBL-BR-1
    notice_id = _publish(client, stub.url, BREACH).json()["notice_id"]
    answer = _ack(client, stub.url, notice_id, str(uuid.uuid4()))
    assert answer.status_code == 201, answer.text
    assert set(answer.json()) == {"notice_id", "acknowledged_at"}
    assert answer.json()["notice_id"] == notice_id


def test_acknowledging_twice_is_idempotent(stub: RunningServer, client: requests.Session) -> None:  # OBL-BR-1, OBL-END-1
    # OBL-BR-1, OBL-END-1: the same subject again keeps its first acknowledgement
    notice_id = _publish(client, stub.url, BREACH).json()["notice_id"]
    subject = str(uuid.uuid4())
    first, again = _ack(client, stub.url, notice_id, subject), _ack(client, stub.url, notice_id, subject)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()


def test_a_subject_sees_its_own_acknowledgement(stub: RunningServer, client: requests.Session) -> None:  # OBL-END-1
    # OBL-END-1
    notice_id = _publish(client, stub.url, SERVICE_ENDING).json()["notice_id"]
    subject = str(uuid.uuid4())
    assert _ack(client, stub.url, notice_id, subject).status_code == 201
    assert _notices(client, stub.url, subject_id=subject)[0]["acknowledged"] is True
    assert _notices(client, stub.url, subject_id=str(uuid.uuid4()))[0]["acknowledged"] is False
    assert _notices(client, stub.url)[0]["acknowledged"] is False


def test_an_acknowledgement_with_a_session_counts_for_the_account(
    stub: RunningServer, client: requests.Session, new_account: NewAccount
) -> None:  # OBL-BR-1
    # OBL-BR-1
    notice_id = _publish(client, stub.url, BREACH).json()["notice_id"]
    owner, other = new_account(), new_account()
    assert _ack(owner, stub.url, notice_id, str(uuid.uuid4())).status_code == 201
    assert _notices(owner, stub.url)[0]["acknowledged"] is True
    assert _notices(other, stub.url)[0]["acknowledged"] is False


def test_acknowledging_an_unknown_notice_is_404(stub: RunningServer, client: requests.Session) -> None:  # OBL-BR-1
    # OBL-BR-1
    answer = _ack(client, stub.url, str(uuid.uuid4()), str(uuid.uuid4()))
    assert answer.status_code == 404
    assert answer.json()["error"] == "notice_not_found"


def test_an_acknowledgement_needs_a_uuid4_subject(stub: RunningServer, client: requests.Session) -> None:  # OBL-BR-1
    # OBL-BR-1
    notice_id = _publish(client, stub.url, BREACH).json()["notice_id"]
    for bad in ("not-an-id", str(uuid.uuid1()), str(uuid.uuid4()).upper()):
        answer = _ack(client, stub.url, notice_id, bad)
        assert answer.status_code == 422, bad
        assert "'subject_id'" in answer.json()["message"]
        assert bad not in answer.text


def test_an_acknowledgement_needs_an_idempotency_key(stub: RunningServer, client: requests.Session) -> None:  # OBL-BR-1
    # OBL-BR-1
    notice_id = _publish(client, stub.url, BREACH).json()["notice_id"]
    answer = client.post(f"{stub.url}/v1/notices/{notice_id}/acknowledgements",
                         json={"subject_id": str(uuid.uuid4())}, timeout=10)
    assert answer.status_code == 400
    assert answer.json()["error"] == "idempotency_key_required"


def test_dev_publish_is_404_outside_dev_mode(tmp_path: Path, policy_dir: Path) -> None:  # OBL-BR-1, OBL-END-1
    # OBL-BR-1, OBL-END-1: only QA publishes through the API
    settings = Settings(data_dir=tmp_path / "prod", policy_dir=policy_dir)
    with start_in_thread(settings) as server, https_session(server) as session:
        answer = _publish(session, server.url, BREACH)
        assert answer.status_code == 404
        assert answer.json()["error"] == "not_found"
        assert _notices(session, server.url) == []


def _lines(proc: subprocess.Popen[str], count: int, timeout: float = 30) -> list[str]:
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None

    def read() -> None:
        for _ in range(count):
            lines.put(proc.stdout.readline())  # type: ignore[union-attr]

    threading.Thread(target=read, daemon=True).start()
    return [lines.get(timeout=timeout).rstrip("\n") for _ in range(count)]


def test_the_command_line_publishes_sample_notices(tmp_path: Path, policy_dir: Path) -> None:  # OBL-BR-1, OBL-END-1
    # OBL-BR-1, OBL-END-1: python -m server_stub --notice breach --notice service-ending
    proc = subprocess.Popen(
        [sys.executable, "-m", "server_stub", "--data-dir", str(tmp_path / "cli"), "--port", "0",
         "--policy-dir", str(policy_dir), "--notice", "breach", "--notice", "service-ending"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        listening, *published = _lines(proc, 3)
        match = re.match(r"^server_stub listening on (\S+)  \(CA: (.+)\)$", listening)
        assert match, "listening line missing"
        assert [line.split()[2] for line in published] == ["breach", "service_ending"]
        answer = requests.get(f"{match.group(1)}/v1/notices", verify=match.group(2), timeout=10)
        notices = {n["kind"]: n for n in answer.json()["notices"]}
        assert set(notices) == {"breach", "service_ending"}
        assert all(notices["breach"][part] for part in BREACH_PARTS)
        assert "个人信息" in notices["breach"]["title"] + notices["breach"]["what_happened"]
        assert notices["service_ending"]["ends_at"].endswith("Z")
    finally:
        proc.kill()
        proc.communicate(timeout=30)
