"""The SDK facade: :class:`PrivacySdk`.

One object per app: it owns the consent ledger (SQLite in ``data_dir``), talks to the backend
through :class:`sdk.transport.ApiClient`, and holds the privacy policy in force.

Principles it implements:

- deny by default: until the user agrees, :attr:`PrivacySdk.mode` is ``"undecided"`` and
  :meth:`PrivacySdk.require` refuses every purpose;
- offline first: :meth:`agree` and :meth:`disagree` take effect locally at once (the record is on
  disk before they return); granted/withdrawn records are synced later, exactly once (the
  record id is the POST's ``Idempotency-Key``);
- a refusal stays on the device (docs/protocol.md); basic mode still offers the policy and the
  contract templates, with no identifier and no cookie (OBL-ACC-2).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .config import SdkConfig
from .consent.ledger import LEDGER_FILENAME, ConsentLedger
from .consent.record import ConsentRecord, Notice
from .errors import (
    ConfigError,
    ConsentError,
    ConsentRequired,
    KeystoreError,
    PolicyError,
    SdkError,
    StorageError,
    TransportError,
)

if TYPE_CHECKING:  # pragma: no cover
    from .account.client import Account, AccountClient, SessionInfo
    from .policy import Policy
    from .storage.keystore import KeystoreBackend
    from .storage.store import EncryptedStore
    from .transport.client import ApiClient

__all__ = ["PrivacySdk", "Mode"]

log = logging.getLogger(__name__)

Mode = Literal["undecided", "full", "basic"]

#: Sub-folder of ``data_dir`` that receives downloaded templates.
DOWNLOADS_DIRNAME = "downloads"


class PrivacySdk:
    """Consent, policy and basic-mode services for one app.

    Create it with :meth:`open`; close it with :meth:`close` or use it as a context manager.
    Safe to use from several threads (e.g. the UI thread and a sync worker).

    Attributes:
        config: the :class:`sdk.SdkConfig` it was opened with.
        policy: the privacy policy in force: the app's bundled copy, or the server's after a
            successful :meth:`refresh_policy`.
    """

    def __init__(self, config: SdkConfig, policy: Policy, ledger: ConsentLedger,
                 keystore: KeystoreBackend | None = None, *, app_id: str = "privacy-sdk",
                 passphrase: str | Callable[[], str] | None = None) -> None:
        """Use :meth:`open`; this constructor is for tests that bring their own ledger."""
        self.config = config
        self.policy = policy
        self._ledger = ledger
        self._keystore = keystore
        self._app_id = app_id
        self._passphrase = passphrase
        self._store: EncryptedStore | None = None
        self._jar: Any = None
        self._storage_lock = threading.RLock()
        self._client: ApiClient | None = None
        self._client_lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._closed = False

    @classmethod
    def open(cls, config: SdkConfig, policy: Policy, *,
             keystore: KeystoreBackend | None = None, app_id: str = "privacy-sdk",
             passphrase: str | Callable[[], str] | None = None) -> PrivacySdk:
        """Open the SDK: create ``config.data_dir`` and the consent ledger in it if needed.

        Args:
            config: the SDK settings.
            policy: the privacy policy bundled with the app (used offline, and until
                :meth:`refresh_policy` fetches the server's).
            keystore: where the encrypted store's wrapping key lives; by default the OS
                keystore chosen by :func:`sdk.storage.keystore.select_backend` (environment
                variable ``PRIVACY_SDK_KEYSTORE`` overrides). Nothing touches it until the
                store is first used, so the privacy prompt never waits on a keystore.
            app_id: names this app's entry in the OS keystore (e.g. ``"cn.example.esign"``);
                give each app its own.
            passphrase: opt into the passphrase keystore where no OS keystore is viable
                (a string, or a callable that asks the user); never stored.

        Raises:
            StorageError: the ledger cannot be opened (the message says how to fix it).
            ConfigError: ``data_dir`` cannot be created.
        """
        if not isinstance(config, SdkConfig):
            raise ConfigError("PrivacySdk.open needs an sdk.SdkConfig as its first argument")
        _check_policy(policy)
        try:
            config.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"data_dir '{config.data_dir}' cannot be created; pass a folder the app may write"
            ) from exc
        ledger = ConsentLedger(
            config.data_dir / LEDGER_FILENAME, config.clock, jurisdiction=config.region
        )
        return cls(config, policy, ledger, keystore, app_id=app_id, passphrase=passphrase)

    # -- plumbing -------------------------------------------------------------------------

    def _api(self) -> ApiClient:
        """The client for ``config.endpoint``; ``ConfigError`` when none is configured."""
        if self._closed:
            raise ConfigError("this PrivacySdk is closed; open a new one with PrivacySdk.open")
        with self._client_lock:
            if self._client is None:
                from .transport.client import ApiClient

                self._client = ApiClient(self.config)
            return self._client

    @property
    def ledger(self) -> ConsentLedger:
        """The on-device consent ledger (read it for the privacy centre's history)."""
        return self._ledger

    @property
    def subject_id(self) -> str:
        """The pseudonymous install id (random uuid4) that consent records carry."""
        return self._ledger.subject_id

    def _purposes(self) -> tuple[Any, ...]:
        return tuple(self.policy.manifest.purposes)

    def _notice(self) -> Notice:
        manifest = self.policy.manifest
        return Notice(
            policy_version=str(manifest.version),
            sha256=str(self.policy.sha256),
            language=str(manifest.language),
        )

    # -- policy ---------------------------------------------------------------------------

    def refresh_policy(self) -> Policy:
        """Fetch the server's current policy (``GET /v1/policy``) and put it in force.

        When the server cannot be reached (any :class:`TransportError`) or no endpoint is
        configured, the policy in force stays as it is (the bundled copy) and a warning is
        logged (without personal data).

        Returns:
            the policy in force afterwards.

        Raises:
            PolicyError: the server's policy is unusable (digest mismatch, invalid manifest);
                the policy in force is unchanged.
        """
        if self.config.endpoint is None:
            log.info("no endpoint configured; keeping the bundled privacy policy")
            return self.policy
        try:
            answer = self._api().get_policy()
        except TransportError as exc:
            log.warning(
                "could not fetch the privacy policy (%s); keeping policy version %s",
                type(exc).__name__,
                self.policy.manifest.version,
            )
            return self.policy
        self.policy = _policy_from_answer(answer)
        return self.policy

    # -- consent state --------------------------------------------------------------------

    @property
    def mode(self) -> Mode:
        """``undecided``: no decision for this policy version yet (prompt the user);
        ``full``: the user agreed to the policy version in force;
        ``basic``: the user declined (or withdrew): only basic functions (OBL-ACC-2).

        A ``granted`` record for an older policy version counts as undecided: the user must
        agree to the version in force (affirmative action, never "continued use"). A refusal
        stays in force across versions; the user can agree later from the privacy centre.
        """
        latest = self._ledger.latest()
        if latest is None:
            return "undecided"
        if latest.decision == "granted":
            if latest.notice.policy_version == str(self.policy.manifest.version):
                return "full"
            return "undecided"
        return "basic"

    def needs_prompt(self) -> bool:
        """True when the privacy prompt must be shown: no decision for this policy yet."""
        return self.mode == "undecided"

    def consent_purposes(self) -> tuple[str, ...]:
        """Ids of the purposes :meth:`agree` grants: lawful basis ``consent`` and no separate
        consent (those, e.g. sensitive data under PIPL art. 28-29, are asked for in context)."""
        return tuple(
            str(p.id)
            for p in self._purposes()
            if p.lawful_basis == "consent" and not getattr(p, "separate_consent", False)
        )

    def granted_purposes(self) -> frozenset[str]:
        """Purposes the user has granted for the policy in force (empty unless mode is full)."""
        latest = self._ledger.latest()
        if (
            latest is None
            or latest.decision != "granted"
            or latest.notice.policy_version != str(self.policy.manifest.version)
        ):
            return frozenset()
        return frozenset(latest.purposes)

    def agree(self, method: str = "explicit_button", *, sync: bool = True) -> ConsentRecord:
        """Record that the user agreed to the policy in force (full mode).

        The ``granted`` record covers :meth:`consent_purposes`. It is on disk before the SDK
        tries to :meth:`sync` it. If the server cannot be reached the record stays pending and
        is synced later, exactly once. The sync can take up to the configured timeouts and
        retries: call this off the UI thread, or pass ``sync=False`` and call :meth:`sync`
        from a worker.

        Returns:
            the stored record (``synced_at`` set when the sync succeeded).

        Raises:
            PolicyError: the policy declares no purpose that needs consent.
            StorageError: the decision could not be stored; nothing was recorded.
        """
        purposes = self.consent_purposes()
        if not purposes:
            raise PolicyError(
                "the policy manifest declares no purpose with lawful_basis 'consent' and "
                "separate_consent false; there is nothing for the user to agree to"
            )
        record = self._record("granted", purposes, method)
        if sync and self.config.endpoint is not None:
            self._try_sync()
        return self._ledger.get(record.record_id) or record

    def disagree(self, method: str = "explicit_button") -> ConsentRecord:
        """Record that the user declined: basic mode.

        If the user had agreed before, this is a withdrawal (PIPL art. 15, OBL-DSR-4): see
        :meth:`withdraw`. Otherwise the refusal is stored on the device only; nothing is sent.

        Raises:
            StorageError: the decision could not be stored.
        """
        latest = self._ledger.latest()
        if latest is not None and latest.decision == "granted":
            return self.withdraw(method)
        return self._record("denied", self.consent_purposes(), method)

    def withdraw(self, method: str = "explicit_button", *, sync: bool = True) -> ConsentRecord:
        """Withdraw the consent given with :meth:`agree` (PIPL art. 15; OBL-DSR-4).

        Takes effect on the device at once (mode becomes ``basic``, :meth:`require` refuses),
        offline too; the ``withdrawn`` record is then synced like a grant, exactly once.
        Processing done before the withdrawal stays as it was.

        Raises:
            ConsentError: there is no grant to withdraw.
            StorageError: the withdrawal could not be stored; nothing was recorded.
        """
        latest = self._ledger.latest()
        if latest is None or latest.decision != "granted":
            raise ConsentError("there is no consent to withdraw; the user has not agreed")
        record = self._record("withdrawn", tuple(latest.purposes), method)
        self._end_session()
        if sync and self.config.endpoint is not None:
            self._try_sync()
        return self._ledger.get(record.record_id) or record

    def _end_session(self) -> None:
        """After a withdrawal nothing more is processed for the account: forget the session
        cookie on the device at once, and end the session on the server when it is reachable."""
        if self._jar is None and self._store is None:
            return  # never logged in on this run, and no jar opened: nothing to end
        try:
            self.account.logout()
        except SdkError as exc:
            log.warning("session cookie forgotten; logging out on the server failed (%s)",
                        type(exc).__name__)

    def _try_sync(self) -> None:
        try:
            self.sync()
        except TransportError as exc:
            log.warning("consent stored on the device; sending it failed (%s), it stays pending",
                        type(exc).__name__)

    def _record(self, decision: str, purposes: tuple[str, ...], method: str) -> ConsentRecord:
        if self._closed:
            raise ConfigError("this PrivacySdk is closed; open a new one with PrivacySdk.open")
        return self._ledger.record(
            decision,
            purposes,
            self._notice(),
            str(self.policy.manifest.controller.name),
            method,
        )

    def require(self, purpose: str) -> None:
        """Raise unless processing for *purpose* may go ahead.

        Purposes with lawful basis ``consent`` need a ``granted`` record covering them for the
        policy in force. Purposes with another lawful basis (e.g. contract necessity) still
        need the user to have agreed to the policy (no processing before the user agrees,
        MIIT rules) - i.e. mode ``full``.

        Raises:
            ConsentError: *purpose* is not declared in the policy manifest (OBL-PURP-1).
            ConsentRequired: the user has not given that consent (``.purpose`` names it).
        """
        declared = {str(p.id): p for p in self._purposes()}
        if purpose not in declared:
            raise ConsentError(
                f"purpose '{purpose}' is not declared in the policy manifest; declare it "
                "(a new purpose needs a new policy version and fresh consent, OBL-PURP-1)"
            )
        granted = self.granted_purposes()
        if declared[purpose].lawful_basis == "consent":
            if purpose not in granted:
                raise ConsentRequired(purpose)
        elif not granted:
            raise ConsentRequired(purpose)

    # -- sync -----------------------------------------------------------------------------

    def pending_sync(self) -> int:
        """How many records wait to be sent to the server."""
        return self._ledger.pending_count()

    def sync(self) -> int:
        """Send pending records to the server, oldest first, and mark each one synced.

        Safe to call repeatedly and from several threads: a record is sent with its
        ``record_id`` as ``Idempotency-Key``, so the server stores it once even when an answer
        was lost and the record is sent again.

        Returns:
            how many records were synced by this call.

        Raises:
            ConfigError: no endpoint is configured.
            TransportError: sending failed; that record and the ones after it stay pending.
        """
        api = self._api()
        synced = 0
        with self._sync_lock:
            for record in self._ledger.pending():
                answer = api.post_consent_record(record.to_dict())
                received_at = answer.get("received_at")
                self._ledger.mark_synced(
                    record.record_id, str(received_at) if received_at is not None else None
                )
                synced += 1
        return synced

    # -- basic mode (OBL-ACC-2): no account, no consent, no identifier, no cookie -------------

    @property
    def downloads_dir(self) -> Path:
        """Where :meth:`download_template` puts files: ``data_dir/downloads``."""
        return self.config.data_dir / DOWNLOADS_DIRNAME

    def list_templates(self) -> list[dict[str, Any]]:
        """Contract templates offered by the server (works in every mode, OBL-ACC-2)."""
        return self._api().list_templates()

    def get_template(self, template_id: str) -> dict[str, Any]:
        """One template with its Markdown ``body`` (works in every mode, OBL-ACC-2).

        Raises:
            ServerError: ``status == 404`` / ``code == "template_not_found"`` when unknown.
        """
        return self._api().get_template(template_id)

    def download_template(self, template_id: str) -> Path:
        """Download a template file into :attr:`downloads_dir`; return its path (OBL-ACC-2)."""
        return self._api().download_template(template_id, self.downloads_dir)

    # -- accounts (OBL-ACC-1, OBL-SEC-4): thin delegation to sdk.account.AccountClient ------

    # -- encrypted storage and cookies (OBL-CK-1..3, OBL-SEC-2) -----------------------------

    @property
    def store(self) -> EncryptedStore:
        """The encrypted on-device store (``data_dir/store.db``), opened on first use.

        Raises:
            KeystoreError: no keystore can give the wrapping key (the message says what to do).
            StorageError: the store file cannot be opened.
        """
        with self._storage_lock:
            if self._store is None:
                from .storage.keystore import select_backend
                from .storage.store import EncryptedStore

                keystore = self._keystore or select_backend(
                    self._app_id, self.config.data_dir, passphrase=self._passphrase)
                self._store = EncryptedStore(self.config.data_dir / "store.db", keystore,
                                             self.policy.manifest, clock=self.config.clock)
            return self._store

    @property
    def cookie_jar(self) -> Any:
        """The cookie jar of the SDK's HTTP session: a :class:`sdk.storage.cookies.PersistentCookieJar`
        in the encrypted store, where only the session cookie (purpose ``account``) is accepted.

        When no keystore is available the jar is an in-memory one (nothing persists, the user
        logs in again after a restart) and a warning says why; ``storage_error`` holds it.
        """
        with self._storage_lock:
            if self._jar is None:
                from .storage.cookies import MemoryCookieJar, PersistentCookieJar
                from .transport.client import SESSION_COOKIE

                try:
                    self._jar = PersistentCookieJar(self.store, {SESSION_COOKIE: "account"})
                    self.storage_error = None
                except (KeystoreError, StorageError, ConfigError) as exc:
                    log.warning("cookies kept in memory only: %s", type(exc).__name__)
                    self.storage_error = exc
                    self._jar = MemoryCookieJar({SESSION_COOKIE: "account"})
                self._api().use_cookie_jar(self._jar)
            return self._jar

    storage_error: Exception | None = None

    def storage_entries(self) -> list[Any]:
        """What the encrypted store holds (namespace, key, purpose, size, dates; never values);
        empty when the store is unavailable."""
        try:
            return self.store.entries()
        except (KeystoreError, StorageError, ConfigError):
            return []

    def clear_local_data(self) -> None:
        """"Clear all data" (OBL-CK-3, OBL-SEC-4): forget the session and every cookie, wipe the
        encrypted store and its keys. The consent ledger stays (it records the user's choices)."""
        jar = self.cookie_jar
        jar.clear()
        with self._storage_lock:
            if self._store is not None:
                self._store.wipe()
                self._jar = None  # a new jar on the wiped store next time

    @property
    def account(self) -> AccountClient:
        """The :class:`sdk.account.AccountClient` on this SDK's connection (and cookie jar).

        Use it for what the four methods below do not cover, e.g.
        ``privacy.account.use_cookie_jar(jar)`` to keep the session in a persistent jar.
        """
        from .account.client import AccountClient

        self.cookie_jar  # the session cookie lives in the SDK's (persistent) jar
        return AccountClient(self._api(), default_region=self.config.region)

    def register(self, identifier: str, password: str) -> Account:
        """Create an account from a phone number or an email address and a password.

        Needs the user's agreement to the policy (purpose ``account``): no account in basic
        mode (OBL-ACC-2). See :meth:`sdk.account.AccountClient.register` for the errors.

        Raises:
            ConsentRequired: the user has not agreed to the policy in force.
        """
        self.require("account")
        return self.account.register(identifier, password)

    def login(self, identifier: str, password: str, remember_me: bool = False) -> SessionInfo:
        """Log in. ``remember_me`` is off by default and is not for shared devices: show
        :data:`sdk.account.REMEMBER_ME_WARNING` next to it (OBL-SEC-4).
        See :meth:`sdk.account.AccountClient.login`.

        Raises:
            ConsentRequired: the user has not agreed to the policy in force.
        """
        self.require("account")
        return self.account.login(identifier, password, remember_me=remember_me)

    def logout(self) -> bool:
        """Log out on the server and forget the session cookie here (even when offline).
        Returns True when the server confirmed. See :meth:`sdk.account.AccountClient.logout`."""
        return self.account.logout()

    def me(self) -> Account:
        """The logged-in account; ``NotLoggedIn`` when there is none.

        Raises:
            ConsentRequired: the user has not agreed to the policy, or withdrew (OBL-DSR-4).
        """
        self.require("account")
        return self.account.me()

    # -- the one gate for personal data, and its audit trail (OBL-PURP-1, OBL-SEC-3, OBL-BASIS-1)

    _audit: Any = None

    @property
    def audit(self) -> Any:
        """The audit trail (``data_dir/audit.db``, an :class:`sdk.audit.AuditTrail`), opened on
        first use. It records every :meth:`collect`, never the value collected.

        Raises:
            ConfigError: the SDK is closed.
            StorageError: the audit trail cannot be opened.
        """
        with self._storage_lock:
            if self._audit is None:
                if self._closed:
                    raise ConfigError(
                        "this PrivacySdk is closed; open a new one with PrivacySdk.open")
                from .audit import AUDIT_FILENAME, AuditTrail

                self._audit = AuditTrail(self.config.data_dir / AUDIT_FILENAME, self.config.clock)
            return self._audit

    def collect(self, item_id: str, purpose: str) -> Any:
        """The one gate in front of personal data: call it right before reading the value, e.g.
        ``privacy.collect("device_ip", "device_security")``; never pass it the value.

        Allowed when *item_id* and *purpose* are declared in the manifest, the item is declared
        for that purpose, and either the purpose's lawful basis is ``consent`` and the user
        granted it, or its basis is another one (contract, legal_obligation, ...) and the user
        agreed to the policy in force (mode ``full``; no processing before the user agrees).
        Every outcome, refusals too, is written to :attr:`audit` before this returns or raises.

        Returns:
            the :class:`sdk.audit.AuditEntry` written (``lawful_basis`` says on which basis).

        Raises:
            UndeclaredPurpose: the manifest declares no such purpose (OBL-PURP-1).
            UndeclaredDataItem: (a ``ConsentError``) no such data item (OBL-SEC-3).
            ConsentError: the item is not declared for that purpose (OBL-PURP-1).
            ConsentRequired: consent not granted, or the user has not agreed to the policy.
            StorageError: the audit entry could not be written; do not collect.
        """
        from .errors import UndeclaredDataItem
        from .errors import UndeclaredPurpose

        if self._closed:
            raise ConfigError("this PrivacySdk is closed; open a new one with PrivacySdk.open")
        trail = self.audit
        manifest = self.policy.manifest
        declared = {str(p.id): p for p in manifest.purposes}
        items = {str(i.id): i for i in manifest.data_items}
        basis = str(declared[purpose].lawful_basis) if purpose in declared else None
        error: ConsentError | None = None
        if purpose not in declared:
            reason, error = "undeclared_purpose", UndeclaredPurpose(purpose)
        elif item_id not in items:
            reason, error = "undeclared_item", UndeclaredDataItem(item_id)
        elif purpose not in tuple(items[item_id].purposes):
            reason, error = "item_not_for_purpose", ConsentError(
                f"data item '{item_id}' is not declared for purpose '{purpose}'; declared "
                f"purposes: {', '.join(items[item_id].purposes)} (OBL-PURP-1)")
        elif basis == "consent":
            if purpose in self.granted_purposes():
                reason = "consent_granted"
            else:
                reason, error = "consent_required", ConsentRequired(purpose)
        elif self.mode == "full":
            reason = "lawful_basis"
        else:
            reason, error = "policy_not_accepted", ConsentRequired(
                purpose, f"purpose '{purpose}' (lawful basis {basis}) needs the user to agree to "
                "the privacy policy first; show the privacy prompt and retry after they agree")
        entry = trail.record(item_id, purpose, basis,
                             "refused" if error is not None else "allowed", reason)
        if error is not None:
            raise error
        return entry

    # -- lifecycle ------------------------------------------------------------------------

    def close(self) -> None:
        """Close the network session and the ledger. Idempotent."""
        self._closed = True
        with self._client_lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()
        with self._storage_lock:
            store, self._store = self._store, None
            audit, self._audit = self._audit, None
        if store is not None:
            store.close()
        if audit is not None:
            audit.close()
        self._ledger.close()

    def __enter__(self) -> PrivacySdk:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_policy(policy: Any) -> None:
    """Fail early, naming the attribute, when *policy* does not look like ``sdk.policy.Policy``."""
    for attr in ("text", "sha256", "manifest"):
        if not hasattr(policy, attr):
            raise PolicyError(f"policy has no '{attr}'; pass an sdk.policy.Policy (load_policy)")
    for attr in ("version", "language", "controller", "purposes"):
        if not hasattr(policy.manifest, attr):
            raise PolicyError(f"policy.manifest has no '{attr}'; pass an sdk.policy.Policy")


def _policy_from_answer(answer: Mapping[str, Any]) -> Policy:
    """Build a :class:`sdk.policy.Policy` from the ``GET /v1/policy`` answer.

    ``Policy.from_json`` checks the text's sha256 and that version, date and language agree
    with the manifest, and validates the manifest.
    """
    from .policy import Policy

    policy = Policy.from_json(answer)
    _check_policy(policy)
    return policy
