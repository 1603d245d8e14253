"""Notices to every user: personal-information breach (OBL-BR-1) and service ending
(OBL-END-1) (issue #7; docs/protocol.md, "Customer service, notifications, invitations,
notices, data region").

- ``GET /v1/notices``: no session needed (a notice is for everyone, logged in or not) →
  ``{"notices": [...]}``, newest first. ``acknowledged`` is true when the session's account
  (any of its install ids), or the install id given as ``?subject_id=``, acknowledged it;
  with a session, an install id linked to another account is ignored (OBL-SEC-2).
  A breach notice carries the parts PIPL art. 57 requires (``what_happened``, ``impact``,
  ``actions_taken``, ``how_to_protect``, ``remedies``); a service-ending notice
  ``ends_at`` and ``data_handling``.
- ``POST /v1/notices/{notice_id}/acknowledgements`` ``{"subject_id": uuid4}`` (Idempotency-Key;
  session optional: the account is recorded when present) → 201 ``{"notice_id",
  "acknowledged_at"}``; the same subject acknowledging again → 200 with the first
  ``acknowledged_at`` (nothing new is stored); 404 ``notice_not_found``; 409
  ``subject_linked_elsewhere`` when a session sends an install id linked to another account.

Dev mode only (``Settings.dev_mode``, left out of ``/openapi.json``): ``POST /v1/dev/notices``
publishes a notice (QA); ``python -m server_stub --notice breach|service-ending`` publishes
a sample (:func:`publish_sample`) at start.
"""

from __future__ import annotations

import datetime as _dt
import re
import sqlite3
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from ..deps import (
    IdempotencyKey,
    OptionalAccount,
    RawBody,
    SettingsDep,
    StoreDep,
    require_dev_mode,
)
from ..errors import ApiError, decode_json_object
from ..models import UUID4_PATTERN, NoticeAcknowledgement, NoticeList, Uuid4Str
from ..responses import NO_STORE, REPLAY_DOC, error_doc, run_idempotent_json
from ..services_store import NOTICE_KINDS, NOTICE_PARTS, ServicesStore, for_app
from ..settings import Settings
from ..store import parse_time, rfc3339
from .consent import fingerprint

__all__ = ["SAMPLE_KINDS", "publish_sample", "router", "sample_notice"]

router = APIRouter(tags=["notices"])

ACK_ENDPOINT = "POST /v1/notices/{notice_id}/acknowledgements"
DEV_PUBLISH_ENDPOINT = "POST /v1/dev/notices"
_MAX_TITLE = 200
_MAX_PART = 4000

_UUID4 = re.compile(UUID4_PATTERN)

#: The samples ``--notice`` publishes (command-line spelling -> notice kind).
SAMPLE_KINDS = {"breach": "breach", "service-ending": "service_ending"}

#: How long before the service ends the service-ending sample is published.
SAMPLE_NOTICE_PERIOD = _dt.timedelta(days=30)


def _now(settings: Settings) -> _dt.datetime:
    return _dt.datetime.fromtimestamp(settings.clock(), _dt.timezone.utc)


def sample_notice(kind: str, now: _dt.datetime) -> tuple[str, dict[str, str]]:
    """``(title, parts)`` of a realistic sample notice of *kind* (``breach`` or
    ``service_ending``), in Chinese; the service-ending sample ends 30 days after *now*.

    Raises:
        ValueError: unknown kind.
    """
    if kind == "breach":  # the parts PIPL art. 57 requires
        return "关于部分用户个人信息可能泄露的通知", {
            "what_happened": (
                "近日，我们在安全巡检中发现，一台用于检索客服工单的服务器因访问控制配置错误，"
                "曾在约 6 小时内可从互联网访问。可能涉及的信息为：部分用户的手机号码、客服留言"
                "内容及留言时间。身份证号码、密码、人脸信息和已签署的合同文件不存放在该服务器上，"
                "未受影响。"),
            "impact": (
                "您可能收到冒充本公司客服、或以合同签署和退款为名的诈骗电话或短信。截至目前，"
                "我们未发现上述信息被滥用。"),
            "actions_taken": (
                "发现当日，我们已关闭该服务器的互联网访问并修正配置，排查全部访问日志，"
                "对同类服务器逐一复查，并已向网信部门等主管部门报告。"),
            "how_to_protect": (
                "请警惕自称本公司客服、要求您提供短信验证码、转账或下载其他应用的来电和短信；"
                "本公司不会向您索要验证码或密码。如有疑问，请通过应用内「客服」核实。"),
            "remedies": (
                "如您因本事件遭受损失，请通过应用内「客服」留言说明，我们将逐一核实并依法承担"
                "相应责任。个人信息保护负责人联系邮箱：privacy@example.com。"),
        }
    if kind == "service_ending":
        ends_at = (now + SAMPLE_NOTICE_PERIOD).replace(microsecond=0)
        return "关于「示例电子签」停止运营的公告", {
            "ends_at": rfc3339(ends_at),
            "data_handling": (
                "自本公告发布之日起，我们停止收集新的个人信息，并停止新用户注册和新的签署。"
                "服务终止前，您可以在「我的 > 个人信息」中导出您的数据、下载已签署的合同。"
                "服务终止后，我们将删除或匿名化处理您的个人信息；依照《中华人民共和国电子签名法》"
                "须保存的签署记录及相应的数字证书信息，保存至法定期限届满后删除，其间仅用于依法"
                "出具证明，不作其他用途。"),
        }
    raise ValueError(f"kind must be one of {', '.join(NOTICE_KINDS)}")


def publish_sample(services: ServicesStore, kind: str, now: _dt.datetime) -> dict[str, Any]:
    """Publish the sample notice of *kind* (``breach`` / ``service_ending``), once: when a
    notice of that kind with the sample's title exists already, that one is answered.

    Returns:
        the notice, wire form.
    """
    title, parts = sample_notice(kind, now)
    existing = services.find_notice(kind, title)
    return existing if existing is not None else services.publish_notice(kind, title, parts, now)


def _linked_elsewhere(request: Request, subject_id: str, account_id: str) -> bool:
    """True when *subject_id* is linked to an account other than *account_id*: a session
    never reads or writes another account's acknowledgements (OBL-SEC-2)."""
    from ..realname_store import for_app as realname_for_app

    owner = realname_for_app(request.app).subject_account(subject_id)
    return owner is not None and owner != account_id


# -- GET /v1/notices -----------------------------------------------------------------------


@router.get(
    "/notices",
    response_model=NoticeList,
    summary="Breach and service-ending notices, for everyone (newest first)",
    responses={**error_doc(422, "invalid_request: subject_id is not a uuid4")},
)
def list_notices(
    request: Request, account: OptionalAccount,
    subject_id: Annotated[
        Uuid4Str | None,
        Query(description="an install id: its acknowledgements count in 'acknowledged'"),
    ] = None,
) -> JSONResponse:
    """``{"notices": [{"notice_id", "kind", "published_at", "title", <the kind's parts>,
    "acknowledged"}]}``. No session needed; with one, ``acknowledged`` covers every install
    id of the account."""
    if account is not None and subject_id is not None and _linked_elsewhere(
            request, subject_id, account.account_id):
        subject_id = None  # another account's install id tells nothing (OBL-SEC-2)
    notices = for_app(request.app).notices(
        account.account_id if account is not None else None, subject_id)
    return JSONResponse({"notices": notices}, headers=NO_STORE)


# -- POST /v1/notices/{notice_id}/acknowledgements ------------------------------------------


@router.post(
    "/notices/{notice_id}/acknowledgements",
    status_code=201,
    response_model=NoticeAcknowledgement,
    summary="Acknowledge a notice for an install id (idempotent; session optional)",
    responses={
        201: {"model": NoticeAcknowledgement, "description": "recorded"},
        200: {"model": NoticeAcknowledgement,
              "description": "this subject had acknowledged the notice already (the first "
                             "acknowledged_at), or a replay (header Idempotent-Replayed: true)"},
        **error_doc(400, "Idempotency-Key missing or invalid"),
        **error_doc(404, "notice_not_found"),
        **error_doc(409, "idempotency_key_reused, or subject_linked_elsewhere: with a session, "
                         "the install id is linked to another account"),
        **error_doc(413, "body over 64 KiB"),
        **error_doc(422, "invalid_request: subject_id missing or not a uuid4, or an unknown field"),
    },
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["subject_id"], "additionalProperties": False,
        "properties": {"subject_id": {"type": "string", "format": "uuid",
                                      "description": "the install id (uuid4)"}},
    }}}}},
)
def acknowledge_notice(
    key: IdempotencyKey, body: RawBody, request: Request, account: OptionalAccount,
    store: StoreDep, settings: SettingsDep,
    notice_id: Annotated[str, Path(description="the notice's id")],
) -> JSONResponse:
    """Record the acknowledgement of ``subject_id`` (and of the session's account, when there
    is one). The same subject again keeps its first acknowledgement."""
    data = decode_json_object(body, "invalid_request")
    if any(name != "subject_id" for name in data):
        raise ApiError(422, "invalid_request",
                       "unknown field: only subject_id is accepted (nothing else is collected)")
    subject_id = data.get("subject_id")
    if subject_id is None:
        raise ApiError(422, "invalid_request", "field 'subject_id' is required")
    if not isinstance(subject_id, str) or not _UUID4.match(subject_id):
        raise ApiError(422, "invalid_request",
                       "field 'subject_id' must be a uuid4 in lowercase canonical form")
    if account is not None and _linked_elsewhere(request, subject_id, account.account_id):
        raise ApiError(409, "subject_linked_elsewhere",
                       "this subject_id is linked to another account; acknowledge with the "
                       "install id of this device")
    services = for_app(request.app)
    account_id = account.account_id if account is not None else None
    now = _now(settings)

    def record(conn: sqlite3.Connection) -> tuple[int, dict[str, Any]]:
        if not services.notice_exists(conn, notice_id):
            raise ApiError(404, "notice_not_found",
                           "no notice has this id; GET /v1/notices lists them")
        created, acknowledged_at = services.acknowledge(conn, notice_id, subject_id, account_id, now)
        return (201 if created else 200), {"notice_id": notice_id, "acknowledged_at": acknowledged_at}

    return run_idempotent_json(
        store, key, ACK_ENDPOINT,
        fingerprint({"notice_id": notice_id, "subject_id": subject_id, "account_id": account_id}),
        record, account_id=account_id)


# -- POST /v1/dev/notices (dev mode only) --------------------------------------------------


def _notice_body(body: bytes) -> tuple[str, str, dict[str, str]]:
    """``(kind, title, parts)`` of a dev publish body; ``ends_at`` normalised to RFC 3339 UTC.

    Raises:
        ApiError: 422 ``invalid_request`` naming the field.
    """
    data = decode_json_object(body, "invalid_request")
    kind = data.get("kind")
    if kind not in NOTICE_PARTS:
        raise ApiError(422, "invalid_request",
                       f"field 'kind' must be one of {', '.join(NOTICE_KINDS)}")
    expected = ("title", *NOTICE_PARTS[kind])
    if any(name not in ("kind", *expected) for name in data):
        raise ApiError(422, "invalid_request",
                       f"unknown field: a {kind} notice has only kind, {', '.join(expected)}")
    for name in expected:
        value = data.get(name)
        if not isinstance(value, str) or not value.strip():
            raise ApiError(422, "invalid_request", f"field '{name}' must be a non-empty string")
        if len(value) > (_MAX_TITLE if name == "title" else _MAX_PART):
            raise ApiError(422, "invalid_request", f"field '{name}' is too long")
    parts = {name: data[name] for name in NOTICE_PARTS[kind]}
    if "ends_at" in parts:
        when = parse_time(parts["ends_at"])
        if when is None or when.tzinfo is None:
            raise ApiError(422, "invalid_request",
                           "field 'ends_at' must be an RFC 3339 time with offset, e.g. "
                           "2027-01-01T00:00:00Z")
        parts["ends_at"] = rfc3339(when)
    return kind, data["title"], parts


@router.post(
    "/dev/notices",
    status_code=201,
    include_in_schema=False,
    dependencies=[Depends(require_dev_mode)],
    responses={**REPLAY_DOC},
)
def dev_publish_notice(key: IdempotencyKey, body: RawBody, request: Request, store: StoreDep,
                       settings: SettingsDep) -> JSONResponse:
    """Publish a notice (QA plays the operator): ``{"kind": "breach", "title", "what_happened",
    "impact", "actions_taken", "how_to_protect", "remedies"}`` or ``{"kind":
    "service_ending", "title", "ends_at", "data_handling"}`` → 201 the notice."""
    kind, title, parts = _notice_body(body)
    services = for_app(request.app)
    now = _now(settings)

    def publish(conn: sqlite3.Connection) -> tuple[int, dict[str, Any]]:
        return 201, services.publish_notice(kind, title, parts, now, conn)

    return run_idempotent_json(
        store, key, DEV_PUBLISH_ENDPOINT, fingerprint({"kind": kind, "title": title, **parts}),
        publish)
