"""Every error the SDK raises, under one root.

Catch :class:`SdkError` to handle them all. Messages say what is wrong and how to fix it,
and never contain personal information (values are never echoed, only field names).

Tree::

    SdkError
    ├── ConfigError            SdkConfig is invalid (bad endpoint, missing CA bundle, ...)
    │   └── RegionMismatch     the endpoint stores data in another region than SdkConfig.region
    ├── PolicyError            the privacy policy text cannot be used
    │   └── ManifestError      the policy manifest (TOML) is invalid: names file, field, expectation
    ├── InvalidInput (also ValueError)   user input is malformed; ``field`` names it
    │   ├── InvalidIdentifier  not a valid phone number or email address
    │   └── WeakPassword       the password fails the strength policy; ``reasons`` say why
    ├── ConsentError
    │   ├── ConsentRequired    an action needs a consent the user has not given
    │   ├── UndeclaredPurpose  a purpose the policy manifest does not declare (OBL-PURP-1, OBL-CK-2)
    │   ├── UndeclaredDataItem a data item the policy manifest does not declare (OBL-SEC-3)
    │   ├── ComplianceViolation  strict mode: an event the compliance check reports; ``finding``
    │   └── ServiceEnded       the service is ending: collection and sharing stopped (OBL-END-1)
    ├── StorageError           the on-device store (SQLite) failed or is corrupt
    │   └── IntegrityError     a sealed value was tampered with, moved or rolled back; ``key`` names it
    ├── KeystoreError          the OS keystore cannot give the wrapping key
    │   ├── KeystoreUnavailable  no viable keystore backend; the message says what to install or set
    │   └── KeystoreTimeout    the keystore did not answer in time (e.g. a locked keyring)
    ├── PermissionsError       no OS-permission backend works here; the message says what to install or set
    ├── AccountError
    │   ├── AccountExists     the identifier is already registered
    │   ├── AuthenticationFailed  wrong identifier or password (one message for both)
    │   ├── LoginThrottled     too many failed logins; ``retry_after`` in seconds
    │   ├── NotLoggedIn        the action needs a logged-in session
    │   ├── IdentityCheckRequired  the request needs the identity checked again (the password)
    │   └── CancellationTokenInvalid  the cancellation notice expired or was used; begin again
    └── TransportError         talking to the server failed
        ├── TlsError           the server's certificate did not verify against the configured CA
        ├── ServerUnavailable  connection refused, timed out, or 5xx after the retries
        ├── ServerError        the server answered with an error; ``status`` and ``code`` tell which
        │   └── RequestNotFound  no data-subject request with that id for this account (404)
        ├── EnvelopeError      end-to-end encryption (HPKE, RFC 9180) refused or failed; ``code``
        │   └── KeyPinMismatch the server's encryption key is not pinned: nothing was sent
        └── UploadError        a resumable (tus) upload failed; ``code``, ``upload_id``
            ├── UploadRejected the server refused the upload and discarded all of it
            ├── UploadCancelled  the app cancelled the upload; nothing is kept
            └── UploadSourceChanged  the file changed since its upload began; start again

Lower-layer errors (``requests``, ``sqlite3``, ``tomllib``) are converted at one boundary each,
with ``raise ... from`` so the cause stays attached for debugging.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .compliance import Finding

__all__ = [
    "SdkError",
    "ConfigError",
    "RegionMismatch",
    "PolicyError",
    "ManifestError",
    "InvalidInput",
    "InvalidIdentifier",
    "WeakPassword",
    "ConsentError",
    "ConsentRequired",
    "UndeclaredPurpose",
    "UndeclaredDataItem",
    "ComplianceViolation",
    "ServiceEnded",
    "StorageError",
    "IntegrityError",
    "KeystoreError",
    "KeystoreUnavailable",
    "KeystoreTimeout",
    "PermissionsError",
    "AccountError",
    "AccountExists",
    "AuthenticationFailed",
    "LoginThrottled",
    "NotLoggedIn",
    "IdentityCheckRequired",
    "CancellationTokenInvalid",
    "TransportError",
    "TlsError",
    "ServerUnavailable",
    "ServerError",
    "RequestNotFound",
    "EnvelopeError",
    "KeyPinMismatch",
    "UploadError",
    "UploadRejected",
    "UploadCancelled",
    "UploadSourceChanged",
]


class SdkError(Exception):
    """Root of every error raised by the SDK."""


class ConfigError(SdkError):
    """The :class:`sdk.SdkConfig` given is invalid. The message names the setting."""


class RegionMismatch(ConfigError):
    """The endpoint declares (``Data-Region`` answer header) that it stores personal
    information in another region than the app declares (``SdkConfig.region``), or declares
    none (OBL-RES-1). :class:`sdk.transport.ApiClient` learns the region before its first
    request with a body and raises this before that body is sent; every later answer is
    checked too. The policy promises where the data is stored, and storing it elsewhere is a
    cross-border transfer (PIPL art. 38-40).

    Attributes:
        endpoint_region: the region the endpoint declared (upper-case), ``None`` when it
            declared none or something that is not a region code.
        declared_region: ``SdkConfig.region``.
    """

    def __init__(self, endpoint_region: str | None, declared_region: str,
                 message: str | None = None) -> None:
        self.endpoint_region = endpoint_region
        self.declared_region = declared_region
        where = (f"stores data in region {endpoint_region}" if endpoint_region is not None
                 else "does not declare its data region (no valid Data-Region header)")
        super().__init__(
            message
            or f"the endpoint {where}, the app declares {declared_region} (SdkConfig.region); "
            f"use an endpoint in {declared_region}, or fix SdkConfig.region"
        )


class PolicyError(SdkError):
    """The privacy policy text or its manifest cannot be used."""


class ManifestError(PolicyError):
    """The policy manifest is invalid.

    Attributes:
        file: path (or name) of the manifest, as given.
        field: dotted path of the offending field, e.g. ``data_items[2].lawful_basis``.
        expected: what the field must be.
    """

    def __init__(self, file: str, field: str, expected: str, problem: str = "") -> None:
        self.file = str(file)
        self.field = field
        self.expected = expected
        self.problem = problem
        detail = f" ({problem})" if problem else ""
        super().__init__(f"{self.file}: field '{field}' must be {expected}{detail}")


class ConsentError(SdkError):
    """Something about consent prevents the action."""


class ConsentRequired(ConsentError):
    """The action needs a consent the user has not given (PIPL art. 13(1), 14).

    Attributes:
        purpose: id of the purpose (or, from ``require_feature``, the feature) that needs consent.
        scopes: the consent scopes still missing (docs/consent.md "Scopes"), e.g.
            ``("policy",)`` or ``("item:id_number", "recipient:ca")``; ask for each in turn.
    """

    def __init__(self, purpose: str, message: str | None = None,
                 scopes: tuple[str, ...] = ()) -> None:
        self.purpose = purpose
        self.scopes = tuple(scopes)
        super().__init__(
            message
            or f"consent for purpose '{purpose}' has not been given; ask the user first "
            "(show the privacy prompt) and retry after they agree"
        )


class UndeclaredPurpose(ConsentError):
    """A purpose that the policy manifest does not declare (OBL-PURP-1, OBL-CK-2).

    Attributes:
        purpose: the undeclared purpose id.
    """

    def __init__(self, purpose: str, message: str | None = None) -> None:
        self.purpose = purpose
        super().__init__(
            message
            or f"purpose '{purpose}' is not declared in the policy manifest; declare it there "
            "(with its lawful basis) before collecting or storing anything for it"
        )


class UndeclaredDataItem(ConsentError):
    """A data item the policy manifest does not declare (OBL-SEC-3): collecting it is refused.

    Attributes:
        item: the undeclared data item id.
    """

    def __init__(self, item: str, message: str | None = None) -> None:
        self.item = item
        super().__init__(
            message
            or f"data item '{item}' is not declared in the policy manifest; declare it there "
            "(with its purposes, lawful basis and retention) before collecting it"
        )


class ComplianceViolation(ConsentError):
    """Strict mode (``SdkConfig(strict=True)``): an event just recorded in the audit trail is
    one that :mod:`sdk.compliance` reports, e.g. a permission asked for before the user agreed
    to the policy, or asked again within 48 hours of a refusal. Raised right after the audit
    entry is written, so the trail still shows what happened.

    Attributes:
        finding: the :class:`sdk.compliance.Finding` (kind, item, purpose, time, subject,
            feature; never a value).
    """

    def __init__(self, finding: Finding, message: str | None = None) -> None:
        self.finding = finding
        super().__init__(
            message
            or f"compliance violation (strict mode): {finding}; fix the app so it does not "
            "happen (see sdk.compliance for what each kind means)"
        )



class ServiceEnded(ConsentError):
    """The operator announced that the service is ending (a ``service_ending`` notice from
    ``GET /v1/notices``, kept on the device): every :meth:`sdk.PrivacySdk.collect` and
    :meth:`sdk.PrivacySdk.share` is refused from then on, also after a restart and offline
    (PIPL art. 47(1)2: the handler stops processing when it stops providing the service;
    OBL-END-1). Nothing the app can do re-enables collection.

    Attributes:
        notice_id: id of the service-ending notice.
        ends_at: when the service ends (RFC 3339 text, as published), or ``None``.
    """

    def __init__(self, notice_id: str, ends_at: str | None = None,
                 message: str | None = None) -> None:
        self.notice_id = notice_id
        self.ends_at = ends_at
        when = f" (it ends at {ends_at})" if ends_at else ""
        super().__init__(
            message
            or f"the service is ending{when}: collection of personal information has stopped "
            "and nothing more is collected or shared; show the user the service-ending notice "
            "(privacy.notices.service_ending)"
        )

class InvalidInput(SdkError, ValueError):
    """User input is malformed. The message says what is expected; it never repeats the input.

    Attributes:
        field: which input, e.g. ``"phone"``, ``"email"``, ``"password"``.
    """

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


class InvalidIdentifier(InvalidInput):
    """Not a valid phone number or email address."""


class WeakPassword(InvalidInput):
    """The password fails the strength policy (OBL-SEC-4).

    Attributes:
        reasons: what to change, one short sentence each, in the user's language.
    """

    def __init__(self, reasons: list[str] | tuple[str, ...], field: str = "password") -> None:
        self.reasons = tuple(reasons)
        super().__init__(field, "password is too weak: " + "; ".join(self.reasons))


class StorageError(SdkError):
    """The on-device store failed (disk full, corrupt file, permissions)."""


class IntegrityError(StorageError):
    """A sealed value failed authentication: tampered with, moved to another key, or rolled back.

    Attributes:
        key: ``namespace/key`` of the value (names chosen by the app, never a value).
    """

    def __init__(self, key: str, message: str | None = None) -> None:
        self.key = key
        super().__init__(
            message
            or f"stored value '{key}' failed its integrity check (tampered, moved or rolled back); "
            "delete it and store it again; other keys are unaffected"
        )


class KeystoreError(SdkError):
    """The OS keystore could not provide or use the wrapping key."""


class KeystoreUnavailable(KeystoreError):
    """No keystore backend is viable here; the message says what to install or set."""


class KeystoreTimeout(KeystoreError):
    """The keystore did not answer in time (a locked keyring can block forever)."""


class PermissionsError(SdkError):
    """The OS-permission layer cannot work here (:mod:`sdk.permissions`): no permission
    backend is usable, or the app is not set up for the permission (Android manifest, iOS
    ``Info.plist`` usage description). The message says what to install, declare or set.

    A user's refusal is never an error: it is an answer (``PermissionResult``).
    """


class AccountError(SdkError):
    """An account operation was refused."""


class AccountExists(AccountError):
    """Registration refused: an account with this identifier exists; log in instead."""


class AuthenticationFailed(AccountError):
    """Wrong identifier or password. Deliberately the same for an unknown account."""


class LoginThrottled(AccountError):
    """Too many failed logins for this account or address.

    Attributes:
        retry_after: seconds until the next attempt is allowed.
    """

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        self.retry_after = int(retry_after)
        super().__init__(message or f"too many failed logins; try again in {self.retry_after} s")


class NotLoggedIn(AccountError):
    """The action needs a logged-in session; log in first."""


class IdentityCheckRequired(AccountError):
    """A data-subject request or the cancellation needs the identity checked again
    (``privacy.rights.verify_identity(password)``): no check was made, it expired (10 minutes),
    or it belongs to another account. Server answer ``403 identity_check_required``
    (docs/rights.md, OBL-DSR-1)."""


class CancellationTokenInvalid(AccountError):
    """The cancellation notice cannot confirm the cancellation: it expired (10 minutes), was
    already used, or belongs to another account (``403 cancellation_token_invalid``). Nothing
    changed, on the server or on the device; call ``privacy.rights.begin_cancellation`` again
    (docs/rights.md "Cancelling the account", OBL-DSR-7)."""


class TransportError(SdkError):
    """Talking to the server failed."""


class TlsError(TransportError):
    """The server's TLS certificate did not verify (RFC 5280 path validation against the
    configured CA bundle, then the host name check of RFC 6125 / RFC 2818 section 3.1).

    Attributes:
        reason: ``"untrusted"``: no path to the configured CA (another CA, a leaf given as
            the CA, an expired certificate); ``"name_mismatch"``: the certificate is trusted
            but does not name the host of ``SdkConfig.endpoint``.
    """

    def __init__(self, message: str, reason: str = "untrusted") -> None:
        self.reason = reason
        super().__init__(message)


class ServerUnavailable(TransportError):
    """The server could not be reached, timed out, or kept failing after the retries."""


class ServerError(TransportError):
    """The server answered with an error.

    Attributes:
        status: HTTP status code.
        code: the machine-readable ``error`` field of the server's answer, if any.
    """

    def __init__(self, status: int, code: str, message: str) -> None:
        self.status = status
        self.code = code
        super().__init__(f"server answered {status} {code}: {message}")


class RequestNotFound(ServerError):
    """No data-subject request with that id for the logged-in account (``404
    request_not_found``; an id of another account gets the same answer)."""

    def __init__(self, message: str) -> None:
        super().__init__(404, "request_not_found", message)


class EnvelopeError(TransportError):
    """End-to-end encryption (HPKE, RFC 9180; :mod:`sdk.transport.envelope`) was refused or
    failed. Nothing sealed with a refused key leaves the device.

    Attributes:
        code: what went wrong, e.g. ``"no_pins"``, ``"not_pinned"``, ``"bad_key"``,
            ``"unknown_key"``, ``"open_failed"``, ``"wrong_length"``, ``"bad_suite"``,
            ``"suite_unavailable"`` (this build of cryptography cannot do the key's KEM, e.g.
            no ML-KEM: see ``sdk.transport.envelope.supported_kems``).
    """

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


class KeyPinMismatch(EnvelopeError):
    """The server's current encryption key is not one of ``SdkConfig.hpke_pins`` (or no pins
    are configured). Raised before anything is sealed or sent.

    Attributes:
        fingerprint: the fingerprint of the key the server offered (``"sha256:<hex>"``; a
            public value), or ``None`` when there was none to compare.
    """

    def __init__(self, code: str, message: str, fingerprint: str | None = None) -> None:
        self.fingerprint = fingerprint
        super().__init__(code, message)


class UploadError(TransportError):
    """A resumable upload (tus 1.0.0; :mod:`sdk.transport.tus`) failed.

    Attributes:
        code: machine-readable reason (the server's ``error`` code, or the SDK's own, e.g.
            ``"cancelled"``, ``"source_changed"``, ``"gave_up"``).
        upload_id: the server's upload id, or ``None`` before the upload was created.
    """

    def __init__(self, code: str, message: str, upload_id: str | None = None) -> None:
        self.code = code
        self.upload_id = upload_id
        super().__init__(message)


class UploadRejected(UploadError):
    """The server refused the upload (a chunk did not open, the consent is missing or
    withdrawn, the key is unknown, ...) and discarded everything received for it. ``code``
    says why; start a new upload after fixing the cause.

    Attributes:
        scopes: for ``code == "consent_required"``, the consent scopes the server's own
            records lack (e.g. ``("item:face_video",)``); otherwise empty.
    """

    def __init__(self, code: str, message: str, upload_id: str | None = None,
                 scopes: tuple[str, ...] = ()) -> None:
        super().__init__(code, message, upload_id)
        self.scopes = tuple(scopes)


class UploadCancelled(UploadError):
    """The upload was cancelled by the app; the server's copy was terminated and the local
    state removed."""


class UploadSourceChanged(UploadError):
    """A resumed upload's file is not the one it began with (size, time or content changed);
    the pending upload was cancelled. Start a new upload of the file."""
