"""Data-subject rights and the cancellation of the account: ``privacy.rights``
(docs/rights.md; wire format in docs/protocol.md, issue #7).

PIPL chapter IV gives the user the rights to know, access and copy (art. 44, 45), to have
information corrected (art. 46) and deleted (art. 47), to object to or restrict processing
(art. 44), and to cancel the account (art. 47; the Cybersecurity Law art. 43 and GB/T
35273-2020 §8.5 ask for an easy way to do it). Each request is made after the identity is
checked again (:meth:`Rights.verify_identity`: the password; OBL-DSR-1) and is tracked by the
server with a deadline of 15 PRC working days after that check (OBL-DSR-6, OBL-DSR-8).

Every method, in this order (each step refuses before the next one runs)::

    1. validate the arguments       InvalidInput naming the field; nothing is sent or audited
    2. the identity check           IdentityCheckRequired when it is missing or expired here
    3. a session cookie             NotLoggedIn
    4. the consent gate             privacy.collect(item, purpose, feature) where a manifest
                                    item applies (evidence_request for an evidence report,
                                    login_account for a phone/email correction), else
                                    privacy.require("account")
    5. the request                  POST with Idempotency-Key and Identity-Token

Nothing here logs, stores or puts in an error message a password, a token, a value the user
typed or a part of the export. The identity token and the cancellation token live in memory
only (:class:`sdk.rights.models.IdentityCheck`, :class:`sdk.rights.models.CancellationNotice`).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ..errors import (
    AccountExists,
    CancellationTokenInvalid,
    IdentityCheckRequired,
    InvalidInput,
    RequestNotFound,
    SdkError,
    TransportError,
)
from ..oplog import redact_values
from .models import (
    DELETION_CASES,
    AccessReport,
    CancellationNotice,
    CancellationReceipt,
    ExportDocument,
    IdentityCheck,
    KeptRecord,
    Loss,
    RightsRequest,
    parse_time,
)

if TYPE_CHECKING:  # pragma: no cover
    from ..core import PrivacySdk
    from ..transport.client import ApiClient

__all__ = [
    "CORRECTABLE_FIELDS",
    "DELETION_CASES",
    "MAX_OBJECTION_LENGTH",
    "MAX_REASON_LENGTH",
    "Rights",
]

log = logging.getLogger("sdk.rights")

#: Fields :meth:`Rights.correct` takes (the real name goes to staff; phone and email at once).
CORRECTABLE_FIELDS: tuple[str, ...] = ("phone", "email", "name")
#: Longest objection text, in characters (the server's limit too).
MAX_OBJECTION_LENGTH = 2000
#: Longest reason of an evidence-report request, in characters (the server's limit too).
MAX_REASON_LENGTH = 500
#: Longest signature id accepted (a uuid is 36).
_MAX_ID_LENGTH = 128
#: Seconds before the server's expiry at which a token stops counting as valid here.
_MARGIN_S = 5.0
#: How long the server accepts an identity or cancellation token (docs/protocol.md).
_TOKEN_LIFETIME_S = 600.0

_REQUESTS = "/me/rights-requests"
_WHAT_POST = "POST /v1/me/rights-requests"


def _refusal(status: int, body: Any, what: str) -> BaseException | None:
    """The rights endpoints' own refusals (docs/protocol.md); ``None``: the generic mapping."""
    code = body.get("error") if isinstance(body, Mapping) else None
    if status == 403 and code == "identity_check_required":
        return IdentityCheckRequired(
            f"{what}: check the identity again (privacy.rights.verify_identity(password)) "
            "and retry with the new check")
    if status == 403 and code == "cancellation_token_invalid":
        return CancellationTokenInvalid(
            f"{what}: the cancellation notice expired or was already used; call "
            "privacy.rights.begin_cancellation again")
    if status == 404 and code == "request_not_found":
        return RequestNotFound(f"{what}: no such request for this account")
    if status == 422 and code == "invalid_request":
        import re

        message = body.get("message") if isinstance(body.get("message"), str) else "invalid"
        named = re.search(r"field '([a-z_]+)'", message)
        name = named.group(1) if named else "request"
        # the server's messages name fields, never values (docs/protocol.md)
        return InvalidInput(name, f"{what}: the server refused the request: {message}")
    return None


class Rights:
    """Data-subject rights and cancellation for one :class:`sdk.PrivacySdk`
    (``privacy.rights``). Safe to use from several threads.

    Args:
        privacy: the SDK whose session, consent gate and device data it uses.
    """

    def __init__(self, privacy: PrivacySdk) -> None:
        self._privacy = privacy

    # -- plumbing -------------------------------------------------------------------------

    def _api(self) -> ApiClient:
        return self._privacy._session_api()

    def _logged_in(self, what: str) -> ApiClient:
        """The session client; NotLoggedIn (no network) when no session cookie is held."""
        from .services import _logged_in

        return _logged_in(self._privacy, what,
                          f"{what}: not logged in; log in first (privacy.login)")

    def _check_identity(self, identity: Any, what: str) -> IdentityCheck:
        if not isinstance(identity, IdentityCheck):
            raise IdentityCheckRequired(
                f"{what}: pass the IdentityCheck that privacy.rights.verify_identity(password) "
                "returned")
        if not identity.valid:
            raise IdentityCheckRequired(
                f"{what}: the identity check expired (10 minutes); check the identity again "
                "with privacy.rights.verify_identity(password)")
        current = self._privacy.current_account_id()
        if identity.account_id is not None and current is not None and current != identity.account_id:
            raise IdentityCheckRequired(
                f"{what}: the identity check was made for another account; check the identity "
                "of the account logged in again")
        return identity

    def _gate(self, item: str | None, purpose: str, feature: str | None) -> None:
        """The consent gate (step 4 of the module docstring): ``collect`` when the manifest
        declares *item* for *purpose*, else ``require(purpose)``."""
        privacy = self._privacy
        declared = privacy._item_map()
        if item is not None and item in declared and purpose in tuple(declared[item].purposes):
            features = {str(f.id) for f in privacy.policy.manifest.features}
            # A right stays open after a service-ending notice (PIPL arts. 44-47).
            privacy._collect(item, purpose, feature if feature in features else None,
                             for_user_request=True)
        else:
            privacy.require(purpose)

    def _submit(self, identity: Any, body: Mapping[str, Any], *, item: str | None = None,
                purpose: str = "account", feature: str | None = None,
                refusal: Any = _refusal) -> RightsRequest:
        """Steps 2 to 5 of the module docstring for ``POST /v1/me/rights-requests``;
        *refusal* maps the server's refusals (default :func:`_refusal`)."""
        what = f"{_WHAT_POST} ({body['kind']})"
        check = self._check_identity(identity, what)
        api = self._logged_in(what)
        self._gate(item, purpose, feature)
        answer = api.request_json(
            "POST", _REQUESTS, json=dict(body), what=what, refusal=refusal,
            headers={"Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4()),
                     "Identity-Token": check.token})
        request = RightsRequest.from_answer(answer, what)
        log.info("data-subject request sent: %s, status %s", request.kind, request.status)
        return request

    # -- identity check again (OBL-DSR-1) -------------------------------------------------

    def verify_identity(self, password: str) -> IdentityCheck:
        """Check the user's identity again with the account's password (step-up) before a
        data-subject request or the cancellation (PIPL art. 50: the handler verifies who
        asks; OBL-DSR-1). ``POST /v1/me/identity-checks``.

        Args:
            password: what the user typed; sent once over TLS, never kept.

        Returns:
            an :class:`IdentityCheck`: valid 10 minutes (``.valid``, ``.expires_at``), for
            several requests; kept in memory only.

        Raises:
            InvalidInput: ``field="password"``: empty or not text (nothing sent).
            NotLoggedIn: no session (log in first).
            ConsentRequired: the user has not agreed to the policy (purpose ``account``).
            AuthenticationFailed: the password is wrong.
            LoginThrottled: too many wrong passwords; ``retry_after`` seconds.
            TransportError: the server cannot be reached, or answered something else.
        """
        what = "POST /v1/me/identity-checks"
        if not isinstance(password, str) or not password:
            raise InvalidInput("password", "password must be the account's password (non-empty "
                                           "text); ask the user to type it")
        api = self._logged_in(what)
        self._privacy._collect_account_items("password", for_user_request=True)
        answer = api.post_json("/me/identity-checks", {"password": password}, what=what)
        if isinstance(answer, Mapping):
            redact_values(answer.get("identity_token"))
        return IdentityCheck.from_answer(answer, account_id=self._privacy.current_account_id(),
                                         margin_s=_MARGIN_S)

    # -- the requests ---------------------------------------------------------------------

    def requests(self) -> list[RightsRequest]:
        """The account's data-subject requests, newest first, with status, deadline (15 PRC
        working days) and answers (``GET /v1/me/rights-requests``). No identity check needed.

        Raises:
            NotLoggedIn: no session. TransportError: unreachable or a malformed answer.
        """
        what = "GET /v1/me/rights-requests"
        body = self._logged_in(what).get_json(_REQUESTS, what=what, refusal=_refusal)
        if not isinstance(body, Mapping) or not isinstance(body.get("requests"), list):
            raise TransportError(f"{what}: the server's answer has no 'requests' list")
        return [RightsRequest.from_answer(r, what) for r in body["requests"]]

    def request(self, request_id: str) -> RightsRequest:
        """One request by its id (``GET /v1/me/rights-requests/{id}``).

        Raises:
            InvalidInput: ``field="request_id"``: not a non-empty string (nothing sent).
            RequestNotFound: no such request for this account (another account's id too).
            NotLoggedIn: no session. TransportError: unreachable or a malformed answer.
        """
        what = "GET /v1/me/rights-requests/{id}"
        if not isinstance(request_id, str) or not request_id.strip() or len(request_id) > _MAX_ID_LENGTH:
            raise InvalidInput("request_id", "request_id must be the request_id of a request "
                                             "(from privacy.rights.requests())")
        body = self._logged_in(what).get_json(f"{_REQUESTS}/{quote(request_id.strip(), safe='')}",
                                              what=what, refusal=_refusal)
        return RightsRequest.from_answer(body, what)

    def _document(self, check: IdentityCheck, what: str) -> ExportDocument:
        import re

        response = self._logged_in(what).request(
            "GET", "/me/export", what=what, refusal=_refusal,
            headers={"Identity-Token": check.token})
        try:
            disposition = response.headers.get("Content-Disposition") or ""
            try:
                data = response.json()
            except ValueError:
                raise TransportError(f"{what}: the server's answer is not JSON") from None
        finally:
            response.close()
        if not isinstance(data, Mapping):
            raise TransportError(f"{what}: the server's answer is not a JSON object")
        match = re.search(r'filename="?([A-Za-z0-9._-]{1,128})"?', disposition)
        filename = match.group(1) if match else "personal-information-export.json"
        return ExportDocument(dict(data), None, filename)

    def access_report(self, identity: IdentityCheck) -> AccessReport:
        """What the server holds about the account, to read on screen (PIPL art. 45(1);
        OBL-DSR-1, OBL-DSR-3): records an ``access`` request (completed at once), then reads
        the document (``GET /v1/me/export``) and arranges it in sections with Chinese titles
        (账号信息, 同意记录, 个人信息清单, 对外提供, 实名认证, 数字证书, 签署记录, 权利请求,
        客服沟通, 邀请记录, 通知偏好, 公告确认记录).

        Returns:
            an :class:`AccessReport` (``.sections``, ``.section(key)``, ``.request``).

        Raises:
            IdentityCheckRequired: *identity* is missing, expired or of another account.
            NotLoggedIn, ConsentRequired, TransportError: as for every request.
        """
        request = self._submit(identity, {"kind": "access"})
        document = self._document(identity, "GET /v1/me/export")
        document = ExportDocument(document.data, request, document.filename)
        return AccessReport.from_document(document, request)

    def export(self, identity: IdentityCheck) -> ExportDocument:
        """A copy of the personal information in a machine-readable form (PIPL art. 45(3);
        OBL-DSR-3): records an ``export`` request, then downloads the document. The SDK never
        writes it to a file: pass ``document.to_json()`` to the system's share sheet or to a
        file the user picks.

        Returns:
            an :class:`ExportDocument` (``.data``, ``.to_json()``, ``.filename``, ``.request``).

        Raises:
            IdentityCheckRequired, NotLoggedIn, ConsentRequired, TransportError.
        """
        request = self._submit(identity, {"kind": "export"})
        document = self._document(identity, "GET /v1/me/export")
        return ExportDocument(document.data, request, document.filename)

    def correct(self, identity: IdentityCheck, field: str, value: str) -> RightsRequest:
        """Correct the account's phone number, email address or real name (PIPL art. 46;
        OBL-DSR-1). Phone and email are applied at once (status ``completed``); when the
        account logs in with that kind of identifier, the login identifier changes too and
        the old one no longer logs in. The real name cannot be self-edited: staff check it
        against the ID document (status ``received``; answered within the deadline).

        Args:
            field: ``"phone"``, ``"email"`` or ``"name"`` (:data:`CORRECTABLE_FIELDS`).
            value: the new value: a mobile number (``13800138000``; ``+`` and the country
                code outside mainland China), an email address, or the name as printed on
                the ID document (Chinese characters, ``·`` between parts).

        Raises:
            InvalidInput: ``field`` names the problem (``field``, ``phone``, ``email`` or
                ``name``); nothing is sent. Messages never repeat the value.
            AccountExists: the new phone number or email address is already used by another
                account (``field`` is ``"phone"`` or ``"email"``); the message says to choose
                another one and never repeats it.
            IdentityCheckRequired, NotLoggedIn, ConsentRequired, TransportError.
        """
        if field not in CORRECTABLE_FIELDS:
            raise InvalidInput("field", "field must be one of phone, email, name")
        redact_values(value)  # what the user typed, never in a log line or the operation log
        normalised = _normalise_correction(field, value)
        redact_values(normalised)
        item = "login_account" if field in ("phone", "email") else None
        return self._submit(identity, {"kind": "correction", "field": field, "value": normalised},
                            item=item, purpose="account", feature="account",
                            refusal=_correction_refusal(field))

    def delete(self, identity: IdentityCheck, case: str) -> RightsRequest:
        """Ask for the deletion of the personal information (PIPL art. 47; OBL-DSR-2). The
        server deletes at once what it may and says what it keeps, why and until when
        (``request.outcome``: consent records as proof, signing records for 5 years under the
        Electronic Signature Law, operation logs for 6 months under the Cybersecurity Law).
        The account stays; to close it, cancel it (:meth:`begin_cancellation`).

        Args:
            case: one of the keys of :data:`DELETION_CASES` (PIPL art. 47's cases; show the
                Chinese labels, the values of that mapping, to the user).

        Raises:
            InvalidInput: ``field="case"``: not one of the five cases (nothing sent).
            IdentityCheckRequired, NotLoggedIn, ConsentRequired, TransportError.
        """
        if not isinstance(case, str) or case not in DELETION_CASES:
            raise InvalidInput("case", "case must be one of " + ", ".join(DELETION_CASES)
                               + " (sdk.rights.facade.DELETION_CASES has their Chinese labels)")
        return self._submit(identity, {"kind": "deletion", "case": case})

    def object(self, identity: IdentityCheck, text: str, purpose: str | None = None) -> RightsRequest:
        """Object to, or ask to restrict, processing (PIPL art. 44; OBL-DSR-6): staff answer
        within the deadline (status ``received``). To stop a consent-based purpose at once,
        withdraw the consent instead (``privacy.withdraw("purpose:<id>")``).

        Args:
            text: what the user objects to, 1 to 2000 characters.
            purpose: a purpose id of the policy manifest it is about, or ``None``.

        Raises:
            InvalidInput: ``field="text"`` (empty or too long) or ``"purpose"`` (not a purpose
                the policy declares); nothing sent.
            IdentityCheckRequired, NotLoggedIn, ConsentRequired, TransportError.
        """
        text = _bounded_text("text", text, MAX_OBJECTION_LENGTH, "what the user objects to")
        body: dict[str, Any] = {"kind": "objection", "text": text}
        if purpose is not None:
            declared = self._privacy._purpose_map()
            if not isinstance(purpose, str) or purpose not in declared:
                raise InvalidInput("purpose", "purpose must be a purpose id of the privacy "
                                              "policy: " + ", ".join(declared))
            body["purpose"] = purpose
        return self._submit(identity, body)

    def request_evidence_report(self, identity: IdentityCheck, requester_name: str,
                                requester_id_number: str, reason: str, mailbox: str,
                                signature_id: str | None = None) -> RightsRequest:
        """Ask for an evidence report (出证) about the account's signing (OBL-EVI-1): staff
        verify the requester and send the report to *mailbox* (status ``received``). Passes
        the consent gate for ``evidence_request`` under purpose ``evidence_report``.

        Args:
            requester_name: the requester's name as on the ID document.
            requester_id_number: the requester's 18-character citizen identity number.
            reason: why the report is needed, 1 to 500 characters.
            mailbox: where to send the report (an email address).
            signature_id: the signature it is about, or ``None`` for the account's signing.

        Raises:
            InvalidInput: ``field`` is ``requester_name``, ``requester_id_number``,
                ``reason``, ``mailbox`` or ``signature_id``; nothing sent or audited.
            ConsentRequired: the policy is not agreed to (purpose ``evidence_report``).
            IdentityCheckRequired, NotLoggedIn, TransportError.
        """
        from ..realname.validate import validate_id_number, validate_name

        # what the user typed, never in a log line or the operation log
        redact_values(requester_name, requester_id_number, mailbox)
        name = _renamed("requester_name", validate_name, requester_name)
        id_number = _renamed("requester_id_number", validate_id_number, requester_id_number)
        reason = _bounded_text("reason", reason, MAX_REASON_LENGTH, "why the report is needed")
        body: dict[str, Any] = {
            "kind": "evidence_report", "requester_name": name,
            "requester_id_number": str(id_number.value), "reason": reason,
            "mailbox": _email("mailbox", mailbox)}
        redact_values(name, body["requester_id_number"], body["mailbox"])
        if signature_id is not None:
            if not isinstance(signature_id, str) or not signature_id.strip() or len(
                    signature_id) > _MAX_ID_LENGTH:
                raise InvalidInput("signature_id", "signature_id must be the id of a signature "
                                                   "(signature_id of a signing record) or None")
            body["signature_id"] = signature_id.strip()
        return self._submit(identity, body, item="evidence_request", purpose="evidence_report",
                            feature="evidence_report")

    # -- cancellation (OBL-DSR-7) ---------------------------------------------------------

    def begin_cancellation(self, identity: IdentityCheck) -> CancellationNotice:
        """Step 1 of cancelling the account (PIPL art. 47; OBL-DSR-7): the server says what
        the user will lose and what it keeps, and gives a token valid 10 minutes. Nothing
        changes yet. Show :attr:`CancellationNotice.warning` and ask the user to confirm.

        Returns:
            a :class:`CancellationNotice` (``will_lose``, ``kept``, ``warning``,
            ``expires_at``); its token stays in memory only.

        Raises:
            IdentityCheckRequired, NotLoggedIn, ConsentRequired, TransportError.
        """
        what = "POST /v1/me/cancellation"
        check = self._check_identity(identity, what)
        api = self._logged_in(what)
        self._privacy.require("account")
        answer = api.request_json(
            "POST", "/me/cancellation", json={}, what=what, refusal=_refusal,
            headers={"Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4()),
                     "Identity-Token": check.token})
        return _notice(answer, what, self._privacy.current_account_id())

    def confirm_cancellation(self, notice: CancellationNotice) -> CancellationReceipt:
        """Step 2: cancel the account for good (OBL-DSR-7). The server first: it ends every
        session, anonymises the account and deletes or revokes what it may, keeping the
        signing records for 5 years. Only after it confirmed does the device forget
        everything of the account: the session cookie and the cookie jar, the encrypted
        store, certificate keys, pending uploads, the audit trail, the account's entries of
        the operation log (the account id is read before the request: the answer ends the
        session), the downloaded templates (``data_dir/downloads``), and
        the consent ledger (pending records are sent first; the server keeps the synced ones
        as proof). Afterwards ``privacy.mode`` is ``"undecided"`` (the privacy prompt shows
        again) and ``privacy.current_account_id()`` is ``None``; the old identifier no longer
        logs in and may register a new account.

        If the server refuses or cannot be reached, nothing on the device changes. After a
        :class:`TransportError` call this again with the same notice (the same
        ``Idempotency-Key``): the server answers it once.

        Args:
            notice: what :meth:`begin_cancellation` returned (within 10 minutes).

        Returns:
            a :class:`CancellationReceipt`; ``device_failures`` names wipe steps that failed.

        Raises:
            CancellationTokenInvalid: *notice* expired or was used; begin again.
            NotLoggedIn: no session (and not a retry of a confirmed cancellation).
            TransportError: nothing changed on the device; retry.
        """
        what = "POST /v1/me/cancellation/confirm"
        if not isinstance(notice, CancellationNotice):
            raise CancellationTokenInvalid(
                f"{what}: pass the CancellationNotice that privacy.rights.begin_cancellation "
                "returned")
        if not notice.valid:
            raise CancellationTokenInvalid(
                f"{what}: the cancellation notice expired (10 minutes); call "
                "privacy.rights.begin_cancellation again")
        # no local session check: after a lost answer the server replays the confirmation
        # for the same Idempotency-Key even though the session has ended
        api = self._api()
        # read now: the server's answer ends the session (its cookie expires), after which
        # current_account_id() is None and the wipe could not find the account's log entries
        account_id = self._privacy.current_account_id() or notice.account_id
        try:  # while the session lives: pending consent records reach the account as proof
            if self._privacy.pending_sync():
                self._privacy.sync()
        except SdkError as exc:
            log.warning("before the cancellation, sending consent records failed (%s)",
                        type(exc).__name__)
        answer = api.post_json("/me/cancellation/confirm",
                               {"cancellation_token": notice.token},
                               idempotency_key=notice.idempotency_key or None, what=what,
                               refusal=_refusal)
        if not isinstance(answer, Mapping):
            raise TransportError(f"{what}: the server's answer is not a JSON object")
        cancelled_at = parse_time(answer.get("cancelled_at"), what, "cancelled_at")
        kept_until = parse_time(answer.get("evidence_kept_until"), what, "evidence_kept_until",
                                optional=True)
        # the server confirmed: from here the device forgets the account
        failures = self._privacy._wipe_after_cancellation(account_id)
        log.info("account cancelled; device wiped%s",
                 "" if not failures else " except: " + ", ".join(failures))
        return CancellationReceipt(cancelled_at, kept_until, failures)  # type: ignore[arg-type]


# -- helpers ------------------------------------------------------------------------------


#: What a correction of each login field is called in an error message.
_FIELD_WORDS = {"phone": "phone number", "email": "email address", "name": "name"}


def _correction_refusal(field: str) -> Any:
    """:func:`_refusal` for a correction of *field*, with ``409 account_exists`` (the new phone
    number or email address is another account's login) as an :class:`AccountExists` that
    says so for a correction (not registration's "log in instead"), naming the field, never
    the value; ``.field`` is *field*."""

    def refusal(status: int, body: Any, what: str) -> BaseException | None:
        code = body.get("error") if isinstance(body, Mapping) else None
        if status == 409 and code == "account_exists":
            words = _FIELD_WORDS.get(field, field)
            error = AccountExists(
                f"{what}: this {words} is already used by another account; choose another "
                f"{words} (field '{field}')")
            error.field = field  # type: ignore[attr-defined]
            return error
        return _refusal(status, body, what)

    return refusal


def _renamed(field: str, validate: Any, value: Any) -> Any:
    """*validate(value)*, with a validation error re-raised naming *field* (the argument)."""
    from ..realname.validate import RealnameValidationError

    try:
        return validate(value)
    except RealnameValidationError as exc:
        raise RealnameValidationError(field, exc.reason, exc.message_zh, exc.message_en) from None


def _email(field: str, value: Any) -> str:
    """An email address, normalised by ``email-validator`` (syntax only, no DNS)."""
    from ..account.identifiers import parse_identifier
    from ..errors import InvalidIdentifier

    expect = f"{field} must be an email address, e.g. name@example.com"
    if not isinstance(value, str) or "@" not in value:
        raise InvalidIdentifier(field, expect)
    try:
        return parse_identifier(value).value
    except InvalidIdentifier:
        raise InvalidIdentifier(field, expect) from None


def _normalise_correction(field: str, value: Any) -> str:
    if field == "phone":
        from ..realname.validate import validate_phone

        return str(_renamed("phone", validate_phone, value))
    if field == "email":
        return _email("email", value)
    from ..realname.validate import validate_name

    return str(_renamed("name", validate_name, value))


def _bounded_text(field: str, value: Any, limit: int, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(field, f"{field} must be text: {what} (1 to {limit} characters)")
    text = value.strip()
    if len(text) > limit:
        raise InvalidInput(field, f"{field} is longer than {limit} characters; shorten it")
    return text


def _notice(answer: Any, what: str, account_id: str | None) -> CancellationNotice:
    if not isinstance(answer, Mapping):
        raise TransportError(f"{what}: the server's answer is not a JSON object")
    token = answer.get("cancellation_token")
    if not isinstance(token, str) or not token:
        raise TransportError(f"{what}: the server's answer has no 'cancellation_token'")
    redact_values(token)
    expires_at = parse_time(answer.get("expires_at"), what, "expires_at")
    assert expires_at is not None
    losses, kept = answer.get("will_lose"), answer.get("kept")
    if not isinstance(losses, list) or not isinstance(kept, list) or not all(
            isinstance(x, Mapping) for x in losses + kept):
        raise TransportError(f"{what}: the server's 'will_lose' and 'kept' must be lists of objects")
    will_lose = tuple(Loss(str(x.get("code", "")), str(x.get("text", ""))) for x in losses)
    kept_records = tuple(
        KeptRecord(str(x.get("item", "")),
                   parse_time(x.get("keep_until"), what, "keep_until", optional=True),
                   str(x.get("reason", ""))) for x in kept)
    # how long it counts here, on the monotonic clock: until expires_at by the device's clock,
    # at most the protocol's 10 minutes (a device clock far off falls back to those)
    import datetime as _dt

    lifetime = (expires_at - _dt.datetime.now(_dt.timezone.utc)).total_seconds()
    if not 0 < lifetime <= _TOKEN_LIFETIME_S:
        lifetime = _TOKEN_LIFETIME_S
    return CancellationNotice(token, expires_at, will_lose, kept_records,
                              cancellation_warning(will_lose, kept_records), account_id,
                              str(uuid.uuid4()), time.monotonic() + max(0.0, lifetime - _MARGIN_S))


def cancellation_warning(will_lose: tuple[Loss, ...], kept: tuple[KeptRecord, ...]) -> str:
    """The plain Chinese text of the confirmation dialog (OBL-DSR-7), one point a line: what
    is lost (the server's texts), what the server keeps, until when and why, and what happens
    on this device."""
    from .deadline import PRC_TZ

    lines = ["注销账号后无法恢复。注销后您将失去："]
    lines += [f"· {w.text or w.code}" for w in will_lose]
    if kept:
        lines.append("我们依法保留：")
    for record in kept:
        until = (record.keep_until.astimezone(PRC_TZ).strftime("%Y年%m月%d日")
                 if record.keep_until is not None else "法定期限届满")
        name = _KEPT_NAMES.get(record.item, record.item)
        reason = f"依据{record.reason}" if record.reason else ""
        lines.append(f"· {name}，保存至{until}。{reason}")
    lines.append("本设备上的登录状态、加密保存的数据、证书密钥、下载的文件、本账号的操作记录和同意记录将被清除；"
                 "之后可以用同一手机号码或邮箱重新注册新账号。")
    return "\n".join(lines)


#: Chinese names of what the server keeps after a cancellation (``kept[].item``).
_KEPT_NAMES = {"signing_record": "签署记录及其数字证书", "consent_records": "同意记录",
               "operation_log": "操作日志", "certificate_info": "数字证书信息",
               "evidence_request": "出证申请信息", "rights_requests": "尚未答复的权利请求"}
