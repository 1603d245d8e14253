"""Customer service, the notification channel, counter-signer invitations and notices
(issue #7; docs/rights.md "Customer service, notifications, invitations and notices").

Reached through the facade, never built by the app::

    privacy.support.send("合同无法下载", contact="13800138000")   # OBL-CS-1
    privacy.notifications.set("sms")                                # OBL-MAIL-1: email optional
    privacy.invite_signer("lease-2026", "13900139000", attested=True)   # OBL-PHONE-1
    for notice in privacy.notices.fetch():                          # OBL-BR-1, OBL-END-1
        ...
    privacy.notices.unacknowledged()   # what to show at start (also offline)

Every value the user gives passes the consent gate :meth:`sdk.PrivacySdk.collect` with the
manifest's ids (``cs_message``/``customer_service``, ``notification_email``/``notifications``,
``counter_signer_phone``/``invite_signer``) after it is validated and before it is sent.

Notices hold no personal data (the operator's text for everyone), so the last fetched list, the
acknowledgements made on this device and a received service-ending notice are kept as small
JSON files in ``SdkConfig.data_dir`` (:data:`NOTICES_FILENAME`, :data:`SERVICE_ENDING_FILENAME`).
Once a ``service_ending`` notice is received, :meth:`sdk.PrivacySdk.collect` and
:meth:`~sdk.PrivacySdk.share` raise :class:`sdk.ServiceEnded` from then on, also after a
restart and offline (PIPL art. 47(1)2; OBL-END-1).

Only the standard library is imported here (the consent gate loads this module).
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from .._files import write_atomically
from .._time import format_time
from ..errors import (
    ConfigError,
    ConsentRequired,
    InvalidInput,
    NotLoggedIn,
    ServerError,
    TransportError,
)

if TYPE_CHECKING:  # pragma: no cover
    from ..core import PrivacySdk
    from ..transport.client import ApiClient

__all__ = [
    "ATTESTATION_MESSAGE",
    "MAX_MESSAGE_LENGTH",
    "NOTICES_FILENAME",
    "SERVICE_ENDING_FILENAME",
    "Acknowledgement",
    "Invitation",
    "Notice",
    "Notices",
    "NotificationPreference",
    "Notifications",
    "Services",
    "Support",
    "SupportMessage",
    "load_service_ending",
]

log = logging.getLogger(__name__)

#: Longest message to customer service, in characters (the server's limit too).
MAX_MESSAGE_LENGTH = 2000
#: File in ``data_dir`` with the last fetched notices and this device's acknowledgements.
NOTICES_FILENAME = "notices.json"
#: File in ``data_dir`` whose presence means a service-ending notice was received (OBL-END-1).
SERVICE_ENDING_FILENAME = "service_ending.json"

#: The refusal of :meth:`Services.invite_signer` when *attested* is not True (OBL-PHONE-1).
ATTESTATION_MESSAGE = (
    "请先确认您已取得对方同意，可以向我们提供其手机号码用于邀请签署，然后再发送邀请。"
    "(attested must be True: the user confirms they have the counter-signer's authorisation "
    "to give their phone number; nothing was sent)"
)

Channel = Literal["sms", "email"]
_CHANNELS = ("sms", "email")

#: Parts of a breach notice (PIPL art. 57), with the headings the dialogs show.
BREACH_PARTS: tuple[tuple[str, str], ...] = (
    ("what_happened", "发生了什么"),
    ("impact", "可能造成的影响"),
    ("actions_taken", "我们已采取的措施"),
    ("how_to_protect", "您可以如何保护自己"),
    ("remedies", "补救措施与联系方式"),
)
#: Parts of a service-ending notice (PIPL art. 47(1)2).
SERVICE_ENDING_PARTS: tuple[tuple[str, str], ...] = (
    ("ends_at", "服务终止时间"),
    ("data_handling", "您的个人信息将如何处理"),
)
_KINDS = {"breach": BREACH_PARTS, "service_ending": SERVICE_ENDING_PARTS}


# -- values ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SupportMessage:
    """A message to customer service (``POST/GET /v1/me/support-messages``, OBL-CS-1).

    ``text``, ``contact`` and ``answer`` are personal data: left out of ``repr``.

    Attributes:
        message_id: the server's id (uuid4).
        received_at: RFC 3339 time the server received it.
        text: the message (1 to 2000 characters).
        contact: the normalised phone number (E.164) or email address left for the answer,
            or ``None``.
        answer: customer service's answer, ``None`` until answered.
    """

    message_id: str
    received_at: str
    text: str = field(repr=False)
    contact: str | None = field(default=None, repr=False)
    answer: str | None = field(default=None, repr=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SupportMessage:
        return cls(str(data["message_id"]), str(data["received_at"]), str(data.get("text", "")),
                   _opt(data.get("contact")), _opt(data.get("answer")))


@dataclass(frozen=True)
class NotificationPreference:
    """Where service notifications go (``GET/PUT /v1/me/notification-preference``, OBL-MAIL-1).

    Attributes:
        channel: ``"sms"`` (the default) or ``"email"``.
        email: the notification email address, or ``None`` (never in ``repr``; show
            :attr:`email_masked`).
    """

    channel: Channel
    email: str | None = field(default=None, repr=False)

    @property
    def email_masked(self) -> str | None:
        """``a***@example.com`` for display, or ``None``."""
        if not self.email:
            return None
        local, _, domain = self.email.rpartition("@")
        return f"{local[:1]}***@{domain}"

    def __repr__(self) -> str:
        return f"NotificationPreference(channel={self.channel!r}, email={self.email_masked!r})"


@dataclass(frozen=True)
class Invitation:
    """An invitation sent to a counter-signer (``POST /v1/me/invitations``, OBL-PHONE-1).

    Attributes:
        invitation_id: the server's id.
        phone_masked: the invited number for display, e.g. ``139****9000``.
        attested_at: RFC 3339 time the server recorded the user's attestation.
        template_id: the contract template to sign.
        attestation: the versioned statement the user attested to (the server's text).
    """

    invitation_id: str
    phone_masked: str
    attested_at: str
    template_id: str | None = None
    attestation: str | None = None


@dataclass(frozen=True)
class Notice:
    """A notice from the operator (``GET /v1/notices``): a personal-information breach
    (PIPL art. 57; OBL-BR-1) or the end of the service (PIPL art. 47(1)2; OBL-END-1). It holds
    no personal data.

    Attributes:
        notice_id, kind (``"breach"`` or ``"service_ending"``), published_at (RFC 3339), title.
        what_happened, impact, actions_taken, how_to_protect, remedies: the five parts of a
            breach notice (``""`` for other kinds).
        ends_at: RFC 3339 time the service ends; data_handling: what happens to the user's
            personal information (service_ending only).
        acknowledged: the server's record says this account or install acknowledged it.
    """

    notice_id: str
    kind: str
    published_at: str
    title: str
    what_happened: str = ""
    impact: str = ""
    actions_taken: str = ""
    how_to_protect: str = ""
    remedies: str = ""
    ends_at: str | None = None
    data_handling: str = ""
    acknowledged: bool = False

    @property
    def parts(self) -> list[tuple[str, str]]:
        """``[(heading, text)]`` in reading order: the five parts of a breach notice, or the
        end time (local ``YYYY-MM-DD HH:MM``) and the data handling of a service-ending one."""
        out = []
        for name, heading in _KINDS.get(self.kind, ()):
            value = getattr(self, name) or ""
            if name == "ends_at":
                value = format_time(value)
            out.append((heading, str(value)))
        return out

    @classmethod
    def from_json(cls, data: Any) -> Notice:
        """Build from a wire (or cached) object.

        Raises:
            TransportError: a field the kind needs is missing or not text (names the field).
        """
        what = "GET /v1/notices"
        if not isinstance(data, Mapping):
            raise TransportError(f"{what}: a notice is not an object")
        for key in ("notice_id", "kind", "published_at", "title"):
            if not isinstance(data.get(key), str) or not data.get(key):
                raise TransportError(f"{what}: a notice has no '{key}' text")
        kind = str(data["kind"])
        values: dict[str, Any] = {}
        for name, _heading in _KINDS.get(kind, ()):
            if not isinstance(data.get(name), str):
                raise TransportError(f"{what}: a {kind} notice has no '{name}' text")
            values[name] = data[name]
        return cls(str(data["notice_id"]), kind, str(data["published_at"]), str(data["title"]),
                   acknowledged=bool(data.get("acknowledged", False)), **values)

    def to_json(self) -> dict[str, Any]:
        """The wire shape (what :meth:`from_json` reads)."""
        data: dict[str, Any] = {"notice_id": self.notice_id, "kind": self.kind,
                                "published_at": self.published_at, "title": self.title,
                                "acknowledged": self.acknowledged}
        for name, _heading in _KINDS.get(self.kind, ()):
            data[name] = getattr(self, name)
        return data


@dataclass(frozen=True)
class Acknowledgement:
    """The user's "我已知悉" for a notice.

    Attributes:
        notice_id: the notice acknowledged.
        acknowledged_at: RFC 3339 UTC time on this device.
        sent: the server recorded it; ``False`` while it waits on the device (offline, or
            basic mode, where no identifier is sent: OBL-ACC-2); pending ones are sent by the
            next :meth:`Notices.fetch`.
    """

    notice_id: str
    acknowledged_at: str
    sent: bool


# -- helpers --------------------------------------------------------------------------------


def _opt(value: Any) -> str | None:
    return None if value is None else str(value)


def _rfc3339(moment: _dt.datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.timezone.utc)
    return moment.astimezone(_dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _read_json(path: Path) -> Any:
    """The JSON in *path*, ``None`` when there is no such file.

    Raises:
        ValueError, OSError: unreadable or not JSON.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    return json.loads(text)


def _write_json(path: Path, data: Any) -> None:
    """Write *data* to *path* atomically (a temporary file in the same folder, fsync, rename)."""
    write_atomically(path, json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8"))


def load_service_ending(data_dir: Path | str) -> Notice | None:
    """The service-ending notice kept in *data_dir*, or ``None`` when none was received.

    The file exists only once a notice arrived: when it cannot be read, collection stays
    stopped (fail closed) with a notice id of ``"unknown"``, and a warning is logged.
    No network; the consent gate calls it once per run (OBL-END-1).
    """
    path = Path(data_dir) / SERVICE_ENDING_FILENAME
    try:
        data = _read_json(path)
        if data is None:
            return None
        return Notice.from_json(data)
    except (OSError, ValueError, TransportError) as exc:
        log.warning("the kept service-ending notice cannot be read (%s); collection stays "
                    "stopped", type(exc).__name__)
        return Notice("unknown", "service_ending", "", "服务终止", ends_at=None)


def _field_refusal(status: int, body: Any, what: str) -> BaseException | None:
    """422 answers naming a field become :class:`InvalidInput` (the field, never a value)."""
    if status != 422 or not isinstance(body, Mapping):
        return None
    import re

    code = str(body.get("error") or "invalid_request")
    message = str(body.get("message") or "the server refused the input")
    named = {"email_required": "email", "attestation_required": "attested"}.get(code)
    quoted = re.search(r"field '([a-z_]{1,40})'", message)
    where = str(body.get("field") or named or (quoted.group(1) if quoted else "request"))
    return InvalidInput(where, f"{what}: {code}: {message}")


def _check_text(name: str, value: Any, longest: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(name, f"{name} must be text of 1 to {longest} characters; it is empty")
    if len(value) > longest:
        raise InvalidInput(name, f"{name} must be at most {longest} characters; shorten it")
    return value


def _gate(privacy: PrivacySdk, item: str, purpose: str, feature: str | None,
          action: str) -> None:
    """:meth:`PrivacySdk.collect`; a missing consent is re-raised saying what *action* needs."""
    try:
        privacy.collect(item, purpose, feature=feature)
    except ConsentRequired as exc:
        purposes = {str(p.id): p for p in privacy.policy.manifest.purposes}
        name = str(purposes[purpose].name) if purpose in purposes else purpose
        if "policy" in exc.scopes:
            how = "the user must agree to the privacy policy first (show the privacy prompt)"
        else:
            how = (f"ask the user to switch on '{name}' in the privacy centre, i.e. "
                   f"privacy.grant('{purpose}')")
        raise ConsentRequired(
            purpose,
            f"{action} needs consent for purpose '{purpose}' ({name}, lawful basis consent, "
            f"PIPL art. 13(1)1); missing: {', '.join(exc.scopes)}; {how}, then retry. "
            "Nothing was sent.",
            exc.scopes,
        ) from exc


# -- the services ---------------------------------------------------------------------------


class Support:
    """Messages to customer service (OBL-CS-1). Use ``privacy.support``.

    Messages are kept by the server for 2 years (manifest item ``cs_message``, ``P2Y``) to
    answer the user; a deletion request (docs/rights.md) deletes them.
    """

    def __init__(self, privacy: PrivacySdk) -> None:
        self._privacy = privacy

    def send(self, text: str, contact: str | None = None) -> SupportMessage:
        """Send a message to customer service (``POST /v1/me/support-messages``).

        Args:
            text: the message, 1 to 2000 characters (not only spaces).
            contact: optional phone number (CN numbers need no +86) or email address to be
                answered on; normalised (E.164, lower-case address) before it is sent.

        Returns:
            the stored :class:`SupportMessage`.

        Raises:
            InvalidInput: ``field`` ``"text"`` (empty, longer than 2000) or ``"contact"``
                (not a phone number or email address); nothing was sent or collected.
            NotLoggedIn: no session; log in first.
            ConsentRequired: the purpose ``customer_service`` (lawful basis consent, granted
                with the policy agreement or its own switch) is not granted; ``.scopes`` says
                what to ask; nothing was sent.
            ServiceEnded: the service is ending (OBL-END-1).
            TransportError: the server cannot be reached or refused.
        """
        text = _check_text("text", text, MAX_MESSAGE_LENGTH)
        body: dict[str, Any] = {"text": text}
        if contact is not None:
            from ..oplog import redact_values

            redact_values(contact)  # typed by the user: never in a log line or the oplog
            body["contact"] = _contact(contact)
            redact_values(body["contact"])
        _gate(self._privacy, "cs_message", "customer_service", None,
              "sending a message to customer service")
        api = _logged_in(self._privacy, "sending a message to customer service")
        answer = api.post_json("/me/support-messages", body, refusal=_field_refusal,
                               what="POST /v1/me/support-messages")
        return _build(SupportMessage, answer, "POST /v1/me/support-messages")

    def messages(self) -> list[SupportMessage]:
        """The account's messages and their answers, as the server lists them.

        Raises:
            NotLoggedIn: no session. TransportError: as for every call.
        """
        what = "GET /v1/me/support-messages"
        body = self._privacy._session_api().get_json("/me/support-messages", what=what)
        return [_build(SupportMessage, m, what) for m in _list(body, "messages", what)]


class Notifications:
    """The notification channel: SMS (default) or an email address the user chooses to give
    (OBL-MAIL-1: email is optional and used only for notifications; refusing it changes
    nothing else). Use ``privacy.notifications``."""

    def __init__(self, privacy: PrivacySdk) -> None:
        self._privacy = privacy

    def get(self) -> NotificationPreference:
        """``GET /v1/me/notification-preference``.

        Raises:
            NotLoggedIn: no session. TransportError: as for every call.
        """
        what = "GET /v1/me/notification-preference"
        body = self._privacy._session_api().get_json("/me/notification-preference", what=what)
        return _preference(body, what)

    def set(self, channel: str, email: str | None = None) -> NotificationPreference:
        """Choose the channel (``PUT /v1/me/notification-preference``).

        ``set("sms")`` without an email deletes a stored notification email; it needs no
        consent (no personal data is collected) and changes nothing else: every feature
        works without an email (OBL-MAIL-1). An email is sent only when given; it passes the
        consent gate for ``notification_email`` under purpose ``notifications`` first.

        Args:
            channel: ``"sms"`` or ``"email"``.
            email: the address; required when *channel* is ``"email"``.

        Raises:
            InvalidInput: ``field`` ``"channel"`` (not sms/email) or ``"email"`` (missing
                for the email channel, or not an email address); nothing was sent.
            ConsentRequired: an email was given and purpose ``notifications`` is not granted.
            NotLoggedIn: no session. ServiceEnded: the service is ending (with an email).
            TransportError: as for every call.
        """
        if channel not in _CHANNELS:
            raise InvalidInput("channel", "channel must be 'sms' or 'email'")
        if channel == "email" and email is None:
            raise InvalidInput("email", "the email channel needs an email address "
                                        "(e.g. name@example.com); or choose 'sms'")
        body: dict[str, Any] = {"channel": channel}
        if email is not None:
            from ..oplog import redact_values

            redact_values(email)  # typed by the user: never in a log line or the oplog
            body["email"] = _identifier(email, "email")
            redact_values(body["email"])
        if email is not None:
            _gate(self._privacy, "notification_email", "notifications", "notifications",
                  "giving an email address for notifications")
        api = _logged_in(self._privacy, "choosing the notification channel")
        what = "PUT /v1/me/notification-preference"
        answer = api.request_json("PUT", "/me/notification-preference", json=body,
                                  refusal=_field_refusal, what=what)
        return _preference(answer, what)


class Notices:
    """Breach (OBL-BR-1) and service-ending (OBL-END-1) notices. Use ``privacy.notices``.

    Show :meth:`unacknowledged` at start (e.g. with :class:`sdk.ui.kivy.NoticeDialog`); its
    我已知悉 button calls :meth:`acknowledge`.
    """

    def __init__(self, privacy: PrivacySdk) -> None:
        self._privacy = privacy
        self._lock = threading.RLock()
        self._dir = Path(privacy.config.data_dir)

    # state file ---------------------------------------------------------------------------

    def _state(self) -> dict[str, Any]:
        try:
            data = _read_json(self._dir / NOTICES_FILENAME)
        except (OSError, ValueError) as exc:
            log.warning("the kept notices cannot be read (%s); starting afresh",
                        type(exc).__name__)
            data = None
        if not isinstance(data, dict):
            data = {}
        data.setdefault("format", "privacy-sdk.notices/1")
        data.setdefault("notices", [])
        data.setdefault("acknowledged", {})
        return data

    def _save(self, state: Mapping[str, Any]) -> None:
        _write_json(self._dir / NOTICES_FILENAME, state)

    # API ----------------------------------------------------------------------------------

    def fetch(self) -> list[Notice]:
        """``GET /v1/notices``: the notices in force (with a session, ``acknowledged`` says
        whether this account acknowledged each). Sends pending acknowledgements first (best
        effort), keeps the list for :meth:`unacknowledged`, and when a ``service_ending``
        notice is among them keeps it: from then on :meth:`sdk.PrivacySdk.collect` and
        :meth:`~sdk.PrivacySdk.share` raise :class:`sdk.ServiceEnded`, also after a restart
        and offline (OBL-END-1).

        Works in every mode; in basic mode no cookie is sent (OBL-ACC-2).

        Raises:
            ConfigError: no endpoint configured.
            TransportError: the server cannot be reached, or an answer is malformed.
        """
        with self._lock:
            self._send_pending()
            what = "GET /v1/notices"
            full = self._privacy.mode == "full"
            api = self._privacy._session_api() if full else self._privacy._api()
            # in full mode the install id asks for this install's acknowledgements too; in
            # basic mode nothing identifies the device (OBL-ACC-2)
            params = {"subject_id": self._privacy.subject_id} if full else None
            body = api.get_json("/notices", what=what, anonymous=not full, params=params)
            notices = [Notice.from_json(n) for n in _list(body, "notices", what)]
            state = self._state()
            state["notices"] = [n.to_json() for n in notices]
            self._save(state)
            ending = next((n for n in notices if n.kind == "service_ending"), None)
            if ending is not None:
                self._keep_service_ending(ending)
            return notices

    def acknowledge(self, notice: Notice | str) -> Acknowledgement:
        """The user read *notice* (我已知悉): recorded on this device at once, then sent
        (``POST /v1/notices/{id}/acknowledgements`` with ``privacy.subject_id``, the session
        when logged in). Offline, or in basic mode (no identifier leaves the device,
        OBL-ACC-2), it stays pending: ``sent`` is False and :meth:`fetch` sends it later.

        Raises:
            InvalidInput: ``field`` ``"notice"``: not a Notice or a notice id.
            ServerError: the server refused it for good (e.g. 404 unknown notice); the local
                record is removed.
        """
        notice_id = notice.notice_id if isinstance(notice, Notice) else notice
        if not isinstance(notice_id, str) or not notice_id or len(notice_id) > 200:
            raise InvalidInput("notice", "notice must be a Notice from privacy.notices.fetch() "
                                         "or its notice_id")
        with self._lock:
            state = self._state()
            record = state["acknowledged"].get(notice_id)
            if record is None:
                record = {"acknowledged_at": _rfc3339(self._privacy.config.clock()),
                          "sent": False, "key": str(uuid.uuid4())}
                state["acknowledged"][notice_id] = record
                self._save(state)
            if not record["sent"]:
                self._send(notice_id, record)
            return Acknowledgement(notice_id, str(record["acknowledged_at"]), bool(record["sent"]))

    def unacknowledged(self) -> list[Notice]:
        """The notices of the last :meth:`fetch` (kept on the device: also offline, after a
        restart) that neither the server's record nor this device says were acknowledged,
        in the server's order. No network."""
        with self._lock:
            state = self._state()
            done = set(state["acknowledged"])
            out = []
            for data in state["notices"]:
                try:
                    notice = Notice.from_json(data)
                except TransportError:
                    continue
                if not notice.acknowledged and notice.notice_id not in done:
                    out.append(notice)
            return out

    @property
    def service_ending(self) -> Notice | None:
        """The service-ending notice received (kept on the device), or ``None``. While it is
        set, collection and sharing are refused with :class:`sdk.ServiceEnded` (OBL-END-1)."""
        return self._privacy._kept_service_ending()  # type: ignore[no-any-return]

    # internals ----------------------------------------------------------------------------

    def _keep_service_ending(self, notice: Notice) -> None:
        path = self._dir / SERVICE_ENDING_FILENAME
        if not path.exists():
            _write_json(path, notice.to_json())
            log.warning("service-ending notice received: collection and sharing stop now")
        self._privacy._service_ending = notice

    def _send_pending(self) -> None:
        state = self._state()
        for notice_id, record in list(state["acknowledged"].items()):
            if not record.get("sent"):
                try:
                    self._send(notice_id, record)
                except ServerError:
                    pass  # refused for good: removed by _send, the others go on

    def _send(self, notice_id: str, record: dict[str, Any]) -> None:
        """Send one acknowledgement; mark it sent on success, keep it pending on a transport
        failure, remove it on a refusal for good (then raise)."""
        if self._privacy.mode != "full":
            return  # basic mode: no identifier leaves the device (OBL-ACC-2)
        what = "POST /v1/notices/{notice_id}/acknowledgements"
        try:
            api = self._privacy._session_api()
            api.post_json(f"/notices/{quote(notice_id, safe='')}/acknowledgements",
                          {"subject_id": self._privacy.subject_id},
                          idempotency_key=str(record["key"]), what=what)
        except ServerError as exc:
            if exc.status >= 500 or exc.status == 429:
                log.warning("acknowledgement kept on the device; sending failed (%s)", exc.code)
                return
            self._forget(notice_id)
            raise
        except (TransportError, ConfigError) as exc:
            log.warning("acknowledgement kept on the device; sending failed (%s)",
                        type(exc).__name__)
            return
        record["sent"] = True
        state = self._state()
        state["acknowledged"][notice_id] = record
        self._save(state)

    def _forget(self, notice_id: str) -> None:
        state = self._state()
        state["acknowledged"].pop(notice_id, None)
        self._save(state)


class Services:
    """The issue-7 services of one :class:`sdk.PrivacySdk`, made on first use by the facade
    (``privacy.support``, ``privacy.notifications``, ``privacy.notices``,
    ``privacy.invite_signer``)."""

    def __init__(self, privacy: PrivacySdk) -> None:
        self.privacy = privacy
        self.support = Support(privacy)
        self.notifications = Notifications(privacy)
        self.notices = Notices(privacy)

    def invite_signer(self, template_id: str, phone: str, *, attested: bool) -> Invitation:
        """Invite a counter-signer by phone number (``POST /v1/me/invitations``).

        Giving someone else's phone number needs that person's authorisation (PIPL art. 13,
        OBL-PHONE-1): the user attests to it (a checkbox left unticked by default); the server
        records the attestation, its statement version and time with the invitation.

        Args:
            template_id: the contract template to sign (an id from ``privacy.list_templates``).
            phone: the counter-signer's mobile number (CN numbers need no +86).
            attested: must be exactly ``True``.

        Returns:
            :class:`Invitation` (``invitation_id``, ``phone_masked``, ``attested_at``).

        Raises:
            InvalidInput: ``field`` ``"attested"`` (not True; checked first, before anything is
                validated, collected or sent), ``"template_id"`` or ``"phone"``.
            ConsentRequired: purpose ``invite_signer`` is not granted; nothing was sent.
            NotLoggedIn: no session. ServiceEnded: the service is ending.
            ServerError: 404 for an unknown template. TransportError: as for every call.
        """
        if attested is not True:
            raise InvalidInput("attested", ATTESTATION_MESSAGE)
        if not isinstance(template_id, str) or not template_id.strip() or len(template_id) > 200:
            raise InvalidInput("template_id", "template_id must be a template id from "
                                              "privacy.list_templates()")
        from ..oplog import redact_values

        redact_values(phone)  # someone else's number: never in a log line or the oplog
        number = _identifier(phone, "phone")
        redact_values(number)
        _gate(self.privacy, "counter_signer_phone", "invite_signer", "invite_signer",
              "inviting a counter-signer")
        api = _logged_in(self.privacy, "inviting a counter-signer")
        what = "POST /v1/me/invitations"
        answer = api.post_json("/me/invitations", {"template_id": template_id, "phone": number,
                                                   "authorisation_attested": True},
                               refusal=_field_refusal, what=what)
        return _invitation(answer, what)

    def invitations(self) -> list[Invitation]:
        """The account's invitations (``GET /v1/me/invitations``), numbers masked.

        Raises:
            NotLoggedIn: no session. TransportError: as for every call.
        """
        what = "GET /v1/me/invitations"
        body = self.privacy._session_api().get_json("/me/invitations", what=what)
        return [_invitation(i, what) for i in _list(body, "invitations", what)]


# -- answers and inputs -----------------------------------------------------------------------


def _identifier(value: Any, kind: str) -> str:
    """*value* parsed as a *kind* (``"phone"``/``"email"``) identifier: the normalised text.

    Raises:
        InvalidInput: ``field`` *kind*; the message never repeats the value.
    """
    from ..account.identifiers import parse_identifier
    from ..errors import InvalidIdentifier

    expect = ("a mobile phone number, e.g. 13800138000" if kind == "phone"
              else "an email address, e.g. name@example.com")
    try:
        parsed = parse_identifier(value)
    except InvalidIdentifier as exc:
        raise InvalidInput(kind, f"{kind} must be {expect}") from exc
    if parsed.kind != kind:
        raise InvalidInput(kind, f"{kind} must be {expect}")
    return parsed.value


def _contact(value: Any) -> str:
    from ..account.identifiers import parse_identifier
    from ..errors import InvalidIdentifier

    try:
        return parse_identifier(value).value
    except InvalidIdentifier as exc:
        raise InvalidInput("contact", "contact must be a mobile phone number (e.g. 13800138000) "
                                      "or an email address (e.g. name@example.com), or None"
                           ) from exc


def _logged_in(privacy: PrivacySdk, action: str, message: str | None = None) -> ApiClient:
    """The session client; :class:`NotLoggedIn` (*message*, by default "*action* needs a
    logged-in account") before anything is collected when the device holds no session
    cookie. :class:`sdk.rights.facade.Rights` uses it too."""
    api = privacy._session_api()
    if not api.has_cookie():
        raise NotLoggedIn(message or f"{action} needs a logged-in account; log in first")
    return api


def _list(body: Any, key: str, what: str) -> list[Any]:
    if not isinstance(body, Mapping) or not isinstance(body.get(key), list):
        raise TransportError(f"{what}: the server's answer has no '{key}' list")
    return list(body[key])


def _build(cls: Any, data: Any, what: str) -> Any:
    try:
        return cls.from_json(data)
    except (KeyError, TypeError, AttributeError) as exc:
        raise TransportError(f"{what}: the server's answer is not a {cls.__name__}") from exc


def _preference(body: Any, what: str) -> NotificationPreference:
    if not isinstance(body, Mapping) or body.get("channel") not in _CHANNELS:
        raise TransportError(f"{what}: the server's answer has no 'channel' sms/email")
    return NotificationPreference(body["channel"], _opt(body.get("email")))


def _invitation(body: Any, what: str) -> Invitation:
    if not isinstance(body, Mapping):
        raise TransportError(f"{what}: the server's answer is not an invitation")
    for key in ("invitation_id", "attested_at"):
        if not isinstance(body.get(key), str):
            raise TransportError(f"{what}: the server's answer has no '{key}' text")
    masked = body.get("phone_masked")
    if not isinstance(masked, str):
        from ..account.identifiers import mask_identifier

        phone = body.get("phone")
        masked = mask_identifier("phone", phone) if isinstance(phone, str) else ""
    return Invitation(body["invitation_id"], masked, body["attested_at"],
                      _opt(body.get("template_id")), _opt(body.get("attestation")))
