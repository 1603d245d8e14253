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
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .config import SdkConfig
from .consent.ledger import LEDGER_FILENAME, ConsentLedger
from .consent.facade import _MINORS_NAMESPACE, ConsentMixin, _check_id, _missing_message
from .errors import (
    ConfigError,
    ConsentError,
    ConsentRequired,
    KeystoreError,
    PolicyError,
    SdkError,
    ServerError,
    StorageError,
    TransportError,
)

if TYPE_CHECKING:  # pragma: no cover
    from .account.client import Account, AccountClient, SessionInfo
    from .policy import Policy
    from .realname.certificate import CertificateManager
    from .realname.facade import Realname
    from .realname.signing import SignatureReceipt
    from .storage.keystore import KeystoreBackend
    from .storage.store import EncryptedStore
    from .transport.client import ApiClient

__all__ = ["PrivacySdk", "Mode"]

log = logging.getLogger(__name__)

Mode = Literal["undecided", "full", "basic"]

#: Server answers that mean "this record will never be accepted" (not worth retrying).
_REFUSED_FOR_GOOD = frozenset({400, 409, 413, 422})

#: Sub-folder of ``data_dir`` that receives downloaded templates.
DOWNLOADS_DIRNAME = "downloads"
#: ``sdk.transport.tus.STATE_NAMESPACE`` (not imported here: keeps ``import sdk`` cheap).
_UPLOADS_NAMESPACE = "uploads"


class PrivacySdk(ConsentMixin):
    """Consent, policy and basic-mode services for one app.

    Create it with :meth:`open`; close it with :meth:`close` or use it as a context manager.
    Safe to use from several threads (e.g. the UI thread and a sync worker).

    Attributes:
        config: the :class:`sdk.SdkConfig` it was opened with.
        policy: the privacy policy in force: the app's bundled copy, or the server's after a
            successful :meth:`refresh_policy`.
        storage_error: why the cookie jar (:attr:`cookie_jar`) is an in-memory one (a
            :class:`sdk.errors.KeystoreError`, :class:`sdk.errors.StorageError` or
            :class:`sdk.errors.ConfigError`: nothing persists, the user logs in again after a
            restart); ``None`` when it persists or has not been opened yet.
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
        self._keystore_backend: KeystoreBackend | None = None
        self._init_consent()
        self._init_realname()
        ledger.use_keystore(self._signing_keystore)

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

    def _session_api(self) -> ApiClient:
        """:meth:`_api` with the SDK's (persistent) cookie jar attached: the login session
        (for the account, the real-name flow and the certificate)."""
        self.cookie_jar  # noqa: B018 - attaches the jar to the client on first use
        return self._api()

    @property
    def ledger(self) -> ConsentLedger:
        """The on-device consent ledger (read it for the privacy centre's history)."""
        return self._ledger

    @property
    def subject_id(self) -> str:
        """The pseudonymous install id (random uuid4) that consent records carry."""
        return self._ledger.subject_id

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
        finally:
            self._set_account_id(None)

    def _try_sync(self) -> None:
        from .errors import RegionMismatch

        try:
            self.sync()
        except (TransportError, RegionMismatch) as exc:  # RegionMismatch: nothing was sent
            log.warning("consent stored on the device; sending it failed (%s), it stays pending",
                        type(exc).__name__)

    # -- sync -----------------------------------------------------------------------------

    def pending_sync(self) -> int:
        """How many records wait to be sent to the server."""
        return self._ledger.pending_count()

    def sync(self) -> int:
        """Send pending records to the server, oldest first, and mark each one synced; then,
        when the user is logged in, pull the records made on the user's other devices and apply
        them (latest wins; a withdrawal wins a tie; docs/consent.md "Sync").

        Safe to call repeatedly and from several threads: a record is sent with its
        ``record_id`` as ``Idempotency-Key``, so the server stores it once even when an answer
        was lost and the record is sent again.

        Returns:
            how many records were sent by this call.

        Raises:
            ConfigError: no endpoint is configured.
            TransportError: sending failed; that record and the ones after it stay pending.
            RegionMismatch: the endpoint stores data in another region than
                ``SdkConfig.region`` (OBL-RES-1); nothing was sent.
        """
        from .errors import RegionMismatch

        api = self._api()
        try:
            synced = self._sync(api)
        except (TransportError, RegionMismatch) as exc:
            self._log_sync_failure(exc)
            raise
        if synced:
            self._log_operation("service", "sync_succeeded", sent=synced)
        return synced

    def _sync(self, api: ApiClient) -> int:
        synced = 0
        with self._sync_lock:
            for record in self._ledger.pending():
                try:
                    answer = api.post_consent_record(record.to_dict())
                except ServerError as exc:
                    if exc.status not in _REFUSED_FOR_GOOD:
                        raise
                    # the server will never take this record: set it aside so the ones after
                    # it (a withdrawal above all) still go out; it keeps its effect here
                    self._ledger.mark_rejected(record.record_id, exc.code)
                    log.warning("the server refused a consent record for good (%s); set aside, "
                                "the next records are sent", exc.code)
                    continue
                received_at = answer.get("received_at")
                self._ledger.mark_synced(
                    record.record_id, str(received_at) if received_at is not None else None
                )
                synced += 1
            self._pull_remote(api)
        return synced

    def _pull_remote(self, api: ApiClient) -> None:
        """Apply the records of the account's other devices (only with a session cookie)."""
        from .errors import NotLoggedIn

        if not api.has_cookie():
            return
        try:
            records, cursor = api.my_consent_records(after=self._ledger.remote_cursor)
        except NotLoggedIn:
            return
        if records or cursor is not None:
            before = self._snapshot()
            added = self._ledger.add_remote(records, cursor)
            if added:
                self._notify(before, added[-1])

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

    def _keystore_or_select(self) -> KeystoreBackend:
        """The keystore given to :meth:`open`, else the one :func:`select_backend` picks (once)."""
        with self._storage_lock:
            if self._keystore_backend is None:
                from .storage.keystore import select_backend

                self._keystore_backend = self._keystore or select_backend(
                    self._app_id, self.config.data_dir, passphrase=self._passphrase)
            return self._keystore_backend

    def _signing_keystore(self) -> KeystoreBackend:
        """Where the consent ledger's device signing key is kept (docs/protocol.md "Proof")."""
        return self._keystore_or_select()

    @property
    def store(self) -> EncryptedStore:
        """The encrypted on-device store (``data_dir/store.db``), opened on first use.

        Raises:
            KeystoreError: no keystore can give the wrapping key (the message says what to do).
            StorageError: the store file cannot be opened.
        """
        with self._storage_lock:
            if self._store is None:
                self._check_open()
                from .storage.store import EncryptedStore

                keystore = self._keystore_or_select()
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
        encrypted store and its keys (also the sealed spools of pending uploads and the keystore
        keys of the certificates). The consent ledger stays (it records the user's choices)."""
        jar = self.cookie_jar
        jar.clear()
        self._account_id = None
        with self._storage_lock:
            if self._store is not None:
                self._forget_local_media_and_keys(self._store)
                self._store.wipe()
                self._jar = None  # a new jar on the wiped store next time

    def _forget_local_media_and_keys(self, store: EncryptedStore) -> None:
        """Before the store is wiped: the sealed spools of pending uploads (files outside the
        store) and the keystore keys that wrap the certificate keys. Best effort, no network."""
        try:
            from .transport.tus import discard_local

            discard_local(store, self.config.data_dir)
        except Exception as exc:  # noqa: BLE001 - clearing goes on
            log.warning("pending uploads could not be removed (%s)", type(exc).__name__)
        try:
            if store.entries(self._CERTIFICATE_NAMESPACE):
                self._forget_certificates_on_device(store)
        except Exception as exc:  # noqa: BLE001 - clearing goes on
            log.warning("certificate keys could not be removed (%s)", type(exc).__name__)

    @property
    def account(self) -> AccountClient:
        """The :class:`sdk.account.AccountClient` on this SDK's connection (and cookie jar).

        Use it for what the four methods below do not cover, e.g.
        ``privacy.account.use_cookie_jar(jar)`` to keep the session in a persistent jar.
        """
        from .account.client import AccountClient

        return AccountClient(self._session_api(), default_region=self.config.region)

    def register(self, identifier: str, password: str) -> Account:
        """Create an account from a phone number or an email address and a password.

        Needs the user's agreement to the policy (purpose ``account``): no account in basic
        mode (OBL-ACC-2). See :meth:`sdk.account.AccountClient.register` for the errors.

        Raises:
            ConsentRequired: the user has not agreed to the policy in force.
        """
        self._collect_account_items("login_account", "password")
        return self.account.register(identifier, password)

    def login(self, identifier: str, password: str, remember_me: bool = False) -> SessionInfo:
        """Log in. ``remember_me`` is off by default and is not for shared devices: show
        :data:`sdk.account.REMEMBER_ME_WARNING` next to it (OBL-SEC-4).
        See :meth:`sdk.account.AccountClient.login`.

        Raises:
            ConsentRequired: the user has not agreed to the policy in force.
        """
        # After a service-ending notice a user may still log in to reach their own data.
        self._collect_account_items("login_account", "password", "cookies", for_user_request=True)
        self._set_account_id(None)  # unknown until this login succeeds (shared devices)
        try:
            session = self.account.login(identifier, password, remember_me=remember_me)
        except SdkError as exc:  # OBL-LOG-1: the outcome, never the identifier
            self._log_operation("operation", "login_failed", error=type(exc).__name__)
            raise
        self._set_account_id(session.account.account_id)
        self._log_operation("operation", "login_succeeded", remember_me=bool(remember_me))
        try:  # link this install to the account, so consent made elsewhere reaches it
            self._api().link_subject(self.subject_id)
            self.sync()
        except TransportError as exc:
            log.warning("logged in; linking consent records to the account failed (%s)",
                        type(exc).__name__)
        return session

    def _collect_account_items(self, *items: str, for_user_request: bool = False) -> None:
        """Pass the account's data items through the gate (audited, listed in "personal
        information collected"); items the manifest does not declare are skipped, so an app
        with its own manifest keeps working. Raises ConsentRequired like :meth:`require`.
        *for_user_request*: see :meth:`_collect`."""
        self.require("account")
        declared = self._item_map()
        for item in items:
            if item in declared and "account" in tuple(declared[item].purposes):
                self._collect(item, "account", "account", for_user_request=for_user_request)

    def logout(self) -> bool:
        """Log out on the server and forget the session cookie here (even when offline).
        Returns True when the server confirmed. See :meth:`sdk.account.AccountClient.logout`.

        Afterwards :meth:`current_account_id` is ``None``: the real-name state and the
        certificate of the account stay on the device, keyed by the account, but nothing of
        them is shown or used until the same account logs in again (shared devices)."""
        confirmed = False
        try:
            confirmed = self.account.logout()
            return confirmed
        finally:
            self._log_operation("operation", "logout", confirmed=confirmed)  # OBL-LOG-1
            self._set_account_id(None)

    # -- which account the device's per-account data belongs to (shared devices) -------------

    #: Encrypted-store namespace/key of the id of the account logged in (purpose ``account``).
    _ACCOUNT_NAMESPACE = "session"
    _ACCOUNT_KEY = "account_id"
    _account_id: str | None = None

    def _set_account_id(self, account_id: str | None) -> None:
        """Remember (or forget, ``None``) the account logged in: in memory, and in the
        encrypted store so a "remember me" session keeps it across restarts. Best effort on the
        store (a failure only means the per-account state is hidden until the next login)."""
        self._account_id = account_id
        if self._operation_log is not None:
            self._operation_log.account_id = account_id
        try:
            store = self.store
            if account_id is None:
                store.delete(self._ACCOUNT_NAMESPACE, self._ACCOUNT_KEY)
            else:
                store.put(self._ACCOUNT_NAMESPACE, self._ACCOUNT_KEY, account_id, purpose="account")
        except Exception as exc:  # noqa: BLE001 - see the docstring
            log.info("the logged-in account could not be kept in the store (%s)",
                     type(exc).__name__)

    def current_account_id(self) -> str | None:
        """The id of the account logged in on this device (from :meth:`login`), or ``None``
        when no session cookie is held or the account is not known (e.g. a login made through
        ``privacy.account`` directly). No network. The real-name state and the certificate are
        kept per account under this id; ``None`` means: no such state is shown or used."""
        try:
            if not self._session_api().has_cookie():  # a remembered session counts
                return None
            if self._account_id is None:
                self._account_id = self.store.get_text(self._ACCOUNT_NAMESPACE, self._ACCOUNT_KEY)
        except Exception:  # noqa: BLE001 - no endpoint, no store: no account known
            return None
        return self._account_id

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

    # -- the operation log (OBL-LOG-1, Cybersecurity Law art. 21) ------------------------------

    _operation_log: Any = None
    _oplog_handler: Any = None

    @property
    def operation_log(self) -> Any:
        """The operation log (``data_dir/oplog.db``, an :class:`sdk.oplog.OperationLog`),
        opened on first use with the retention of the manifest's data item ``operation_log``
        (``P6M`` when absent). Opening it also redacts the SDK's log lines
        (:func:`sdk.oplog.install_log_redaction`) and copies their WARNING and above into it
        (:class:`sdk.oplog.RedactingHandler`) while purpose ``operation_log`` is allowed.

        Raises:
            ConfigError: the SDK is closed.
            ValueError: the manifest's retention for ``operation_log`` is under six months.
            StorageError: the log cannot be opened.
        """
        with self._storage_lock:
            if self._operation_log is None:
                if self._closed:
                    raise ConfigError(
                        "this PrivacySdk is closed; open a new one with PrivacySdk.open")
                from .oplog import (
                    OPLOG_FILENAME,
                    OperationLog,
                    RedactingHandler,
                    install_log_redaction,
                    retention_from_manifest,
                )

                oplog = OperationLog(self.config.data_dir / OPLOG_FILENAME,
                                     retention=retention_from_manifest(self.policy.manifest),
                                     clock=self.config.clock)
                oplog.account_id = self._account_id
                install_log_redaction("sdk")
                handler = RedactingHandler(oplog, allowed=self._oplog_allowed)
                logging.getLogger("sdk").addHandler(handler)
                self._operation_log, self._oplog_handler = oplog, handler
            return self._operation_log

    def _oplog_allowed(self, item: str = "operation_log") -> bool:
        """Whether *item* may be recorded for purpose ``operation_log`` now (declared, and
        the policy agreed to); no audit entry is written."""
        try:
            declared = self._item_map().get(item)
            if declared is None or "operation_log" not in tuple(declared.purposes):
                return False
            return not self._missing_for_purpose("operation_log")
        except SdkError:
            return False

    def _log_operation(self, category: str, event: str, **detail: Any) -> None:
        """Best effort: one operation-log entry (codes only, no values) when purpose
        ``operation_log`` is allowed; a failure is logged (by type) and never raised."""
        if self._closed or not self._oplog_allowed():
            return
        try:
            self.operation_log.write(category, event, **detail)
        except Exception as exc:  # noqa: BLE001 - the log must never break the app
            log.info("operation log entry not written (%s)", type(exc).__name__)

    def _log_sync_failure(self, exc: SdkError) -> None:
        from .errors import ServerUnavailable

        if not isinstance(exc, ServerUnavailable):
            self._log_operation("service", "sync_failed", error=type(exc).__name__)
            return
        network: dict[str, str] = {}
        if self._oplog_allowed("network_info"):
            try:  # the gate for network_info (audited) right before reading it
                self.collect("network_info", "operation_log")
                from .oplog import network_status

                network = network_status()
            except SdkError:
                network = {}
        self._log_operation("network", "server_unreachable", during="sync", **network)

    def collect(self, item_id: str, purpose: str, feature: str | None = None) -> Any:
        """The one gate in front of personal data: call it right before reading the value, e.g.
        ``privacy.collect("device_ip", "device_security")``; never pass it the value.

        Allowed when *item_id* and *purpose* are declared in the manifest, the item is declared
        for that purpose, and :meth:`require` allows the purpose (the policy agreed to; the
        purpose's own consent when its lawful basis is consent; a guardian's consent for a
        child), and, for sensitive personal information, the item's separate consent
        (``item:<id>``, PIPL art. 29). Every outcome, refusals too, is written to :attr:`audit`
        before this returns or raises.

        Args:
            item_id, purpose: manifest ids.
            feature: the manifest feature (scenario) collecting it, shown in the
                "personal information collected" list.

        Returns:
            the :class:`sdk.audit.AuditEntry` written (``lawful_basis`` says on which basis).

        Raises:
            UndeclaredPurpose: the manifest declares no such purpose (OBL-PURP-1).
            UndeclaredDataItem: (a ``ConsentError``) no such data item (OBL-SEC-3).
            ConsentError: the item is not declared for that purpose (OBL-PURP-1).
            ConsentRequired: ``.scopes`` names the consent still missing.
            ServiceEnded: a service-ending notice was received (OBL-END-1); nothing
                more is collected or shared, whatever the consents.
            StorageError: the audit entry could not be written; do not collect.
        """
        return self._collect(item_id, purpose, feature, for_user_request=False)

    def _collect(self, item_id: str, purpose: str, feature: str | None, *,
                 for_user_request: bool) -> Any:
        """:meth:`collect`. ``for_user_request=True`` is for what the data subject asks for
        themselves (logging in to reach their data, a rights request): it still passes every
        consent check and is audited, but is not stopped by a service-ending notice, since the
        user keeps their rights until the service ends (PIPL arts. 44-47, OBL-END-1)."""
        from .errors import UndeclaredDataItem, UndeclaredPurpose

        self._check_open()
        if not for_user_request:
            self._refuse_when_service_ended()  # OBL-END-1
        _check_id("item_id", item_id)
        _check_id("purpose", purpose)
        if feature is not None:
            _check_id("feature", feature)
        trail = self.audit
        declared = self._purpose_map()
        items = self._item_map()
        basis = str(declared[purpose].lawful_basis) if purpose in declared else None
        error: ConsentError | None = None
        reason = "consent_granted" if basis == "consent" else "lawful_basis"
        if purpose not in declared:
            reason, error = "undeclared_purpose", UndeclaredPurpose(purpose)
        elif item_id not in items:
            reason, error = "undeclared_item", UndeclaredDataItem(item_id)
        elif purpose not in tuple(items[item_id].purposes):
            reason, error = "item_not_for_purpose", ConsentError(
                f"data item '{item_id}' is not declared for purpose '{purpose}'; declared "
                f"purposes: {', '.join(items[item_id].purposes)} (OBL-PURP-1)")
        else:
            missing = self._missing_for_purpose(purpose)
            if items[item_id].sensitive and not self.state(f"item:{item_id}").granted:
                missing += (f"item:{item_id}",)
            if missing:
                reason = _refusal_reason(missing)
                error = ConsentRequired(purpose, _missing_text(item_id, purpose, basis, missing),
                                        missing)
        entry = trail.record(item_id, purpose, basis,
                             "refused" if error is not None else "allowed", reason,
                             feature=feature)
        if error is not None:
            raise error
        self._check_compliance(entry)
        return entry

    def record_permission(self, permission: str, feature: str | None, outcome: str, *,
                          user_initiated: bool = False) -> Any:
        """Write an OS permission event to the audit trail: each system prompt shown
        (``requested``) and its answer (``granted``, ``denied``, ``permanently_denied``), and
        ``revoked`` when the user switched it off in settings (OBL-PERM-1..4). The permission
        facade calls this; apps with their own permission code should too.

        The event is checked at once against the scanners' rules (:mod:`sdk.compliance`:
        before the privacy consent, outside a feature that needs the permission, asked again
        within 48 h of a refusal). With ``SdkConfig(strict=True)`` a violation raises after the
        event is written; otherwise it is logged as a warning (kind only, no personal data).

        Returns:
            the :class:`sdk.audit.AuditEntry` written.

        Raises:
            ValueError: *outcome* is not a permission outcome, or *permission* is empty.
            ComplianceViolation: strict mode, and the event breaks a rule (``.finding``).
            StorageError: the event could not be written.
        """
        self._check_open()
        entry = self.audit.record_permission(permission, feature, outcome,
                                             user_initiated=user_initiated)
        self._check_compliance(entry)
        return entry

    # -- OS permissions (issue #5: sdk/permissions/, docs/permissions.md) -- begin ----------

    _permissions: Any = None

    @property
    def permissions(self) -> Any:
        """The :class:`sdk.permissions.Permissions` facade (camera, photos, phone state
        behind the consent rules, OBL-PERM-1..4), created on first use with the backend
        :func:`sdk.permissions.backend.select_backend` picks (``PRIVACY_SDK_PERMISSIONS``
        overrides). Assign a ``Permissions(privacy, backend, dispatcher=...)`` to choose.

        Raises:
            ConfigError: the SDK is closed, or the assigned facade is for another SDK.
        """
        with self._storage_lock:
            if self._permissions is None:
                if self._closed:
                    raise ConfigError(
                        "this PrivacySdk is closed; open a new one with PrivacySdk.open")
                from .permissions.facade import Permissions

                self._permissions = Permissions(self)
            return self._permissions

    @permissions.setter
    def permissions(self, facade: Any) -> None:
        from .permissions.facade import Permissions

        if not isinstance(facade, Permissions) or facade.privacy is not self:
            raise ConfigError("assign an sdk.permissions.Permissions made for this PrivacySdk: "
                              "Permissions(privacy, backend, dispatcher=...)")
        with self._storage_lock:
            self._permissions = facade

    # -- OS permissions -- end -------------------------------------------------------------

    def _check_compliance(self, entry: Any) -> None:
        """Strict mode raises :class:`ComplianceViolation` for an entry that breaks a rule of
        :mod:`sdk.compliance`; otherwise a permission event that does is logged."""
        if not self.config.strict and entry.kind != "permission":
            return  # the gates refuse what the rules forbid; only strict mode re-checks them
        from . import compliance

        found = compliance.violation(entry, self.audit, self._ledger,
                                     manifest=self.policy.manifest)
        if found is None:
            return
        if self.config.strict:
            from .errors import ComplianceViolation

            raise ComplianceViolation(found)
        log.warning("privacy rule broken: %s (%s)", found.kind, found.subject or found.item)

    def share(self, recipient: str, items: Iterable[str], feature: str | None = None) -> list[Any]:
        """The gate in front of giving personal information to a third party (PIPL art. 23;
        OBL-SH-1): call it right before the transfer, never with the values.

        Allowed when *recipient* is declared, receives each of *items* according to the
        manifest, the user agreed to the policy, granted the recipient's separate consent
        (``recipient:<id>``), the purpose's consent and, for sensitive items, ``item:<id>``.
        All or nothing: one item refused refuses the transfer. Each item's outcome is written
        to :attr:`audit` (kind ``transfer``) before this returns or raises; allowed transfers
        appear in :meth:`third_party_sharing`.

        Returns:
            the audit entries written, one per item.

        Raises:
            ConsentError: the recipient is not declared, or an item is not declared for it.
            ConsentRequired: ``.scopes`` names the consents still missing.
            ServiceEnded: a service-ending notice was received (OBL-END-1); nothing
                more is collected or shared, whatever the consents.
            StorageError: the audit entries could not be written; do not transfer.
        """
        self._check_open()
        self._refuse_when_service_ended()  # OBL-END-1
        _check_id("recipient", recipient)
        if isinstance(items, str) or not isinstance(items, Iterable):
            raise ConsentError("items must be a list of data item ids, e.g. ['real_name']")
        wanted = tuple(dict.fromkeys(_check_id("item", i) for i in items))
        if not wanted:
            raise ConsentError("items must name at least one data item to share")
        trail = self.audit
        target = self._recipient_map().get(recipient)
        purpose = str(target.purpose) if target is not None else ""
        basis = str(self._purpose_map()[purpose].lawful_basis) if target is not None else None
        error: ConsentError | None = None
        reason = "consent_granted"
        if target is None:
            reason, error = "undeclared_recipient", ConsentError(
                f"recipient '{recipient}' is not declared in the policy manifest; declare it "
                "(a new recipient is a major policy change needing fresh consent, OBL-SH-2)")
        elif any(i not in tuple(target.items) for i in wanted):
            odd = [i for i in wanted if i not in tuple(target.items)]
            reason, error = "item_not_for_recipient", ConsentError(
                f"recipient '{recipient}' is not declared to receive {', '.join(odd)}; it "
                f"receives {', '.join(target.items)} (OBL-SH-1)")
        else:
            missing = self._missing_for_purpose(purpose)
            missing += tuple(s for s in [f"recipient:{recipient}"] + [
                f"item:{i}" for i in wanted if self._item_map()[i].sensitive]
                if not self.state(s).granted)
            if missing:
                reason = _refusal_reason(missing)
                if reason == "consent_required" and missing[0].startswith("recipient:"):
                    reason = "separate_consent_required"
                error = ConsentRequired(purpose, _missing_message(
                    f"sharing with {recipient}", missing), missing)
        outcome = "refused" if error is not None else "allowed"
        entries = [trail.record_transfer(recipient, i, purpose, outcome, reason,
                                         lawful_basis=basis, feature=feature) for i in wanted]
        if error is not None:
            raise error
        for entry in entries:
            self._check_compliance(entry)
        return entries

    # == BEGIN capture and device information (issue #5: sdk/capture, sdk/device.py) =========
    _camera: Any = None
    _device: Any = None

    @property
    def camera(self) -> Any:
        """The camera (:class:`sdk.capture.Camera`), created on first use with the backend
        :func:`sdk.capture.select_backend` picks (``PRIVACY_SDK_CAMERA`` overrides); choosing
        it opens no camera and reads nothing. Every capture passes :meth:`collect` and the OS
        permission first (docs/permissions.md, "Camera capture"). Assign a
        ``Camera(privacy, backend=...)`` to choose the backend yourself.
        """
        with self._storage_lock:
            if self._camera is None:
                from .capture.facade import Camera

                self._camera = Camera(self)
            return self._camera

    @camera.setter
    def camera(self, camera: Any) -> None:
        """Use *camera* from now on, e.g. ``privacy.camera = Camera(privacy,
        backend=SyntheticCamera(realtime=True))`` for a headless demo. It passes the same gate
        as the one the SDK makes (consent, permission, :meth:`collect`).

        Raises:
            ConfigError: *camera* is not an :class:`sdk.capture.Camera`, or was made for
                another PrivacySdk.
            CaptureError: the camera in use is capturing; ``stop()`` it (or let it end) first,
                so that ``privacy.camera.stop()`` always reaches the running capture.
        """
        from .capture.facade import Camera

        if not isinstance(camera, Camera):
            raise ConfigError(
                f"privacy.camera must be an sdk.capture.Camera, not a {type(camera).__name__}; "
                "assign Camera(privacy, backend=...)")
        if camera.privacy is not self:
            raise ConfigError("this Camera was made for another PrivacySdk; assign "
                              "Camera(privacy, backend=...) made with this one")
        with self._storage_lock:
            current = self._camera
            if current is not None and current is not camera and current.capturing:
                from .capture.errors import CaptureError

                raise CaptureError("a capture is running on the camera in use; stop() it or "
                                   "let it end before assigning another camera")
            self._camera = camera

    @property
    def device(self) -> Any:
        """The device-information collectors (:class:`sdk.device.DeviceInfo`); nothing is read
        until one is called, each through :meth:`collect` (OBL-DEV-1)."""
        with self._storage_lock:
            if self._device is None:
                from .device import DeviceInfo

                self._device = DeviceInfo(self)
            return self._device
    # == END capture and device information ==================================================

    # == BEGIN real-name verification, certificate, signing (issue #6: sdk/realname) ==========
    _realname: Any = None
    _certificate: Any = None

    #: Withdrawing one of these scopes takes back the permission to keep the certificate
    #: information (OBL-CERT-2): the device deletes its certificate and key at once.
    _CERTIFICATE_SCOPES = frozenset({"policy", "purpose:certificate", "item:certificate_info"})
    #: Encrypted-store namespace of the certificate and its wrapped key
    #: (``sdk.realname.certificate.STORE_NAMESPACE``; not imported here: it loads x509).
    _CERTIFICATE_NAMESPACE = "certificate"

    def _init_realname(self) -> None:
        """Setup (from ``__init__``): forget the certificate and the pending uploads a
        withdrawal covers. Withdrawal listeners: a decision that withdraws nothing costs them
        nothing (:meth:`_add_withdrawal_listener`)."""
        self._add_withdrawal_listener(self._forget_certificate_on_withdrawal)
        self._add_withdrawal_listener(self._discard_uploads_on_withdrawal)

    def _discard_uploads_on_withdrawal(self, change: Any) -> None:
        """Withdrawal listener: when ``item:X``, ``purpose:P`` or the policy becomes
        ``withdrawn``, the pending (interrupted) uploads of item X / purpose P / every upload
        are cancelled on the device: state and sealed spool deleted
        (:func:`sdk.transport.tus.discard_local`; no network). Never raises, and opens no
        store when no upload is pending."""
        scope = str(change.scope)
        if scope == "policy":
            items = purposes = None
        elif scope.startswith("item:"):
            items, purposes = (scope[5:],), None
        elif scope.startswith("purpose:"):
            items, purposes = None, (scope[8:],)
        else:
            return
        try:
            if not self._namespace_on_device(_UPLOADS_NAMESPACE):
                if scope == "policy":  # spools no state names (the app stopped mid-write)
                    from .transport.tus import remove_spool_leftovers

                    remove_spool_leftovers(self.config.data_dir)
                return
            from .transport.tus import discard_local

            removed = discard_local(self.store, self.config.data_dir, items=items,
                                    purposes=purposes)
            if removed:
                log.info("%d pending upload(s) removed from the device after the withdrawal of %s",
                         removed, scope)
        except Exception as exc:  # noqa: BLE001 - a withdrawal must stand whatever happens here
            log.warning("pending uploads could not be removed after a withdrawal (%s)",
                        type(exc).__name__)

    def _forget_certificate_on_withdrawal(self, change: Any) -> None:
        """Withdrawal listener (OBL-CERT-2): when ``purpose:certificate``,
        ``item:certificate_info`` or the policy becomes ``withdrawn`` (here, or pulled from the
        account's other devices), the certificates and keys of every account on this device
        are deleted (``CertificateManager.forget_all_on_device``; the consent is the
        device's). The server revokes the certificate itself when the withdrawal reaches it,
        so nothing is sent from here.

        Never raises (a withdrawal must stand whatever happens here) and opens neither the
        encrypted store nor the keystore when no certificate was ever kept on this device.
        """
        if change.scope not in self._CERTIFICATE_SCOPES:
            return
        try:
            if not self._namespace_on_device(self._CERTIFICATE_NAMESPACE):
                return
            # the consent is the device's: every account's certificate on it goes
            self._forget_certificates_on_device(self.store)
            log.info("certificate and its key deleted from the device after the withdrawal of %s",
                     change.scope)
        except Exception as exc:  # noqa: BLE001 - see the docstring
            log.warning("the consent to keep the certificate was withdrawn, but deleting the "
                        "certificate from the device failed (%s); it can no longer be used to "
                        "sign (the consent check refuses)", type(exc).__name__)

    def _forget_certificates_on_device(self, store: EncryptedStore) -> int:
        """Every account's certificate and key deleted from the device, no network
        (``CertificateManager.forget_all_on_device``): through :attr:`certificate` when it was
        made (its lock), else a manager without a connection."""
        with self._storage_lock:
            manager = self._certificate
        if manager is None:
            from .realname.certificate import CertificateManager

            manager = CertificateManager(
                None, store, self._keystore_or_select(),  # type: ignore[arg-type]
                consent=self, is_verified=lambda: False, clock=self.config.clock)
        return manager.forget_all_on_device()  # type: ignore[no-any-return]

    def _namespace_on_device(self, namespace: str) -> bool:
        """Whether the encrypted store holds anything in *namespace* (e.g. a certificate or
        its key), without opening the store or the keystore when the store is not open yet:
        then only the file's unencrypted index of namespaces is read (no file: nothing kept)."""
        with self._storage_lock:
            store = self._store
        if store is not None:
            return bool(store.entries(namespace))
        import sqlite3

        path = self.config.data_dir / "store.db"
        if not path.exists():
            return False
        try:
            conn = sqlite3.connect(path, timeout=5.0)
            try:
                has_items = conn.execute(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'items'").fetchone()
                return bool(has_items) and conn.execute(
                    "SELECT 1 FROM items WHERE namespace = ? LIMIT 1",
                    (namespace,)).fetchone() is not None
            finally:
                conn.close()
        except sqlite3.Error:
            return True  # cannot tell: try to forget it (the caller never raises)

    @property
    def realname(self) -> Realname:
        """Real-name verification (:class:`sdk.realname.Realname`, docs/realname.md): validate,
        seal end to end (HPKE, RFC 9180), upload the face video (tus 1.0) and poll the
        server's answer, only after the separate consents of ``realname_signing``
        (OBL-RN-1..3). Created on first use; nothing is read or sent until a method is called.
        """
        with self._storage_lock:
            if self._realname is None:
                from .realname.facade import Realname

                self._realname = Realname(self)
            return self._realname

    @property
    def certificate(self) -> CertificateManager:
        """The signing certificate (:class:`sdk.realname.CertificateManager`): a P-256 key made
        on the device and kept wrapped by the keystore, a CSR (RFC 2986) to the CA once the
        server has verified the real name, the issued X.509 certificate kept in the encrypted
        store (OBL-CERT-1). Created on first use.
        """
        with self._storage_lock:
            if self._certificate is None:
                from .realname.certificate import CertificateManager

                self._certificate = CertificateManager(
                    self._session_api(), self.store, self._keystore_or_select(), consent=self,
                    is_verified=lambda: self.realname.is_verified(), clock=self.config.clock,
                    account=self.current_account_id)
            return self._certificate

    def sign_contract(self, template_id: str, content: bytes | None = None) -> SignatureReceipt:
        """Sign a contract template with the device's certificate key (ECDSA P-256, SHA-256,
        detached) and have the server verify it.

        Args:
            template_id: an id from :meth:`templates`.
            content: the exact bytes the user was shown; ``None`` downloads the template.

        Returns:
            :class:`sdk.realname.SignatureReceipt` (``signature_id``, ``signed_at``, ...).

        Raises:
            RealnameRequired: the server has not verified the real name.
            CertificateRequired: no valid certificate on this device (request one first).
            CertificateConsentRequired: the consent to keep the certificate information is
                missing or withdrawn (OBL-CERT-2).
            SignatureRejected: the server refused the signature (``.code`` says why).
        """
        from .realname.signing import ContractSigner

        return ContractSigner(self.certificate).sign(template_id, content)
    # == END real-name verification, certificate, signing ====================================

    # == BEGIN data-subject rights, account lifecycle, other promises (issue #7) ==============

    _rights: Any = None
    _services: Any = None

    @property
    def rights(self) -> Any:
        """Data-subject rights and cancellation (:class:`sdk.rights.facade.Rights`,
        docs/rights.md): identity check again, access report, export, correction, deletion,
        objection, evidence reports, two-step cancellation; each request tracked with a
        deadline of 15 PRC working days (OBL-DSR-1..8, OBL-EVI-1). Created on first use."""
        with self._storage_lock:
            if self._rights is None:
                from .rights.facade import Rights

                self._rights = Rights(self)
            return self._rights

    def _service_facades(self) -> Any:
        """The issue-7 services (support, notifications, notices, invitations), made once."""
        with self._storage_lock:
            if self._services is None:
                from .rights.services import Services

                self._services = Services(self)
            return self._services

    @property
    def support(self) -> Any:
        """Messages to customer service (:class:`sdk.rights.services.Support`, OBL-CS-1)."""
        return self._service_facades().support

    @property
    def notifications(self) -> Any:
        """The notification channel, SMS or an optional email
        (:class:`sdk.rights.services.Notifications`, OBL-MAIL-1)."""
        return self._service_facades().notifications

    @property
    def notices(self) -> Any:
        """Breach and service-ending notices (:class:`sdk.rights.services.Notices`,
        OBL-BR-1, OBL-END-1)."""
        return self._service_facades().notices

    def invite_signer(self, template_id: str, phone: str, *, attested: bool) -> Any:
        """Invite a counter-signer by phone number; *attested* must be True: the user confirms
        they have that person's authorisation, and the attestation is recorded with the invite
        (OBL-PHONE-1). See :meth:`sdk.rights.services.Services.invite_signer`."""
        return self._service_facades().invite_signer(template_id, phone, attested=attested)

    def invitations(self) -> list[Any]:
        """The account's invitations to counter-signers, as the server lists them
        (``GET /v1/me/invitations``; see :meth:`sdk.rights.services.Services.invitations`).

        Returns:
            a list of :class:`sdk.rights.services.Invitation`, each with ``invitation_id``,
            ``phone_masked`` (e.g. ``139****9000``: never the whole number), ``attested_at``
            (RFC 3339, when the user attested to the invitee's authorisation),
            ``template_id`` and ``attestation`` (the statement attested to); empty when none.

        Raises:
            NotLoggedIn: no session; log in first. TransportError: as for every call.
        """
        return self._service_facades().invitations()

    #: The service-ending notice kept on the device (OBL-END-1): ``None`` until read from
    #: ``data_dir``, ``False`` when there is none, else the notice (set by ``privacy.notices``).
    _service_ending: Any = None

    def _kept_service_ending(self) -> Any:
        """The service-ending notice kept in ``data_dir`` (read once per run; no network), or
        ``None`` when none was received."""
        ending = self._service_ending
        if ending is None:
            from .rights.services import load_service_ending

            ending = self._service_ending = load_service_ending(self.config.data_dir) or False
        return ending or None

    def _refuse_when_service_ended(self) -> None:
        """Raise :class:`ServiceEnded` once a service-ending notice was received (kept in
        ``data_dir``, read once per run; no network): collection and sharing stop (OBL-END-1)."""
        ending = self._kept_service_ending()
        if ending is not None:
            from .errors import ServiceEnded

            raise ServiceEnded(ending.notice_id, ending.ends_at)

    # -- account cancellation, the device side (OBL-DSR-7; sdk/rights/facade.py) -------------

    def _wipe_after_cancellation(self, account_id: str | None = None) -> tuple[str, ...]:
        """The device side of the account's cancellation (OBL-DSR-7), called by
        :meth:`sdk.rights.facade.Rights.confirm_cancellation` only after the server confirmed
        it: the session cookie and the whole cookie jar, the encrypted store with the sealed
        spools of pending uploads and the certificate keys (:meth:`clear_local_data`), the
        audit trail (its file), the operation log's entries of the account
        (:meth:`sdk.oplog.OperationLog.forget_account`), the downloaded templates
        (:attr:`downloads_dir`), and the consent ledger back to no
        decisions with a new install id
        (:meth:`sdk.consent.ledger.ConsentLedger.forget_all_decisions`; records still pending
        are sent first, best effort: the server keeps synced records as proof). Afterwards
        :attr:`mode` is ``"undecided"`` and :meth:`current_account_id` is ``None``. The app's
        consent listeners hear of every scope that goes back to ``not_asked``.

        Every step is tried even when one fails; no network besides the consent sync.

        Args:
            account_id: the id of the cancelled account, read before the confirmation was
                sent (the server's answer ends the session, so :meth:`current_account_id` is
                ``None`` by now); ``None``: :meth:`current_account_id`, then the id kept in
                memory or in the store.

        Returns:
            the names of the steps that failed (``"local_data"``, ``"audit_trail"``,
            ``"operation_log"``, ``"downloads"``, ``"consent_ledger"``); empty when the
            device is clean.
        """
        failed: list[str] = []
        if account_id is None:
            account_id = self.current_account_id() or self._account_id
        if account_id is None:
            try:  # the session cookie is gone: the id the login kept in the store
                account_id = self.store.get_text(self._ACCOUNT_NAMESPACE, self._ACCOUNT_KEY)
            except Exception:  # noqa: BLE001 - no store: no id known
                account_id = None
        try:
            self.clear_local_data()
        except Exception as exc:  # noqa: BLE001 - the other steps still run
            failed.append("local_data")
            log.warning("after the cancellation, clearing the device's data failed (%s)",
                        type(exc).__name__)
        self._set_account_id(None)  # the operation log stops writing the account's id
        try:
            if self._ledger.pending_count():
                self._try_sync()  # the session is gone: the records still reach the server
        except Exception as exc:  # noqa: BLE001 - best effort; the reset goes on
            log.warning("after the cancellation, sending pending consent records failed (%s)",
                        type(exc).__name__)
        with self._storage_lock:
            audit, self._audit = self._audit, None
            self._realname = self._certificate = None
        try:
            if audit is not None:
                audit.close()
            _delete_sqlite_files(self.config.data_dir / "audit.db")
        except Exception as exc:  # noqa: BLE001 - the other steps still run
            failed.append("audit_trail")
            log.warning("after the cancellation, deleting the audit trail failed (%s)",
                        type(exc).__name__)
        try:
            if account_id is not None and (self._operation_log is not None or (
                    self.config.data_dir / "oplog.db").exists()):
                self.operation_log.forget_account(account_id)
        except Exception as exc:  # noqa: BLE001 - the other steps still run
            failed.append("operation_log")
            log.warning("after the cancellation, deleting the account's operation log entries "
                        "failed (%s)", type(exc).__name__)
        try:  # templates downloaded on this device: nothing of the account stays
            import shutil

            shutil.rmtree(self.downloads_dir)
        except FileNotFoundError:
            pass
        except Exception as exc:  # noqa: BLE001 - the other steps still run
            failed.append("downloads")
            log.warning("after the cancellation, deleting the downloaded files failed (%s)",
                        type(exc).__name__)
        try:
            before = self._snapshot(withdrawal=False)
            self._ledger.forget_all_decisions()
            self._birth_date = None
            self._diff_cache.clear()
            self._notify(before, None)
        except Exception as exc:  # noqa: BLE001 - reported to the caller
            failed.append("consent_ledger")
            log.warning("after the cancellation, resetting the consent ledger failed (%s)",
                        type(exc).__name__)
        return tuple(failed)
    # == END issue #7 ========================================================================

    # -- the two lists users can open (privacy centre), and the controller's contact -----------

    @property
    def controller(self) -> Any:
        """The personal information handler and its contact (name, ``contact_email``,
        ``address``) from the policy manifest, for the privacy centre (OBL-CON-1)."""
        return self.policy.manifest.controller

    def collected_personal_information(self) -> list[dict[str, Any]]:
        """"Personal information collected" on this device, from the audit trail (never the
        values): one row per data item and purpose, in manifest order.

        Returns:
            ``[{"item", "item_name", "purpose", "purpose_name", "scenarios" (feature names),
            "count", "last_at" (RFC 3339 UTC)}]``; empty when nothing was collected.
        """
        try:
            rows = self.audit.collected_summary()
        except StorageError:
            return []
        items, purposes = self._item_map(), self._purpose_map()
        features = {str(f.id): str(f.name) for f in self.policy.manifest.features}
        order = {i: n for n, i in enumerate(items)}
        return [
            {"item": r.item, "item_name": str(items[r.item].name) if r.item in items else r.item,
             "purpose": r.purpose,
             "purpose_name": str(purposes[r.purpose].name) if r.purpose in purposes else r.purpose,
             "scenarios": tuple(features.get(f, f) for f in r.features),
             "count": r.count, "last_at": r.last_at}
            for r in sorted(rows, key=lambda r: (order.get(r.item, len(order)), r.purpose))
        ]

    def third_party_sharing(self) -> list[dict[str, Any]]:
        """"Shared with third parties": every recipient the manifest declares (name, contact,
        items, purpose, transfer method), the state of its separate consent, and the transfers
        actually made from this device (from the audit trail).

        Returns:
            ``[{"recipient", "name", "contact", "purpose", "purpose_name", "items",
            "item_names", "method", "consent" (a status), "transfers" (items given: one per
            item per :meth:`share`), "last_at"}]``.
        """
        try:
            rows = self.audit.transfer_summary()
        except StorageError:
            rows = []
        items, purposes = self._item_map(), self._purpose_map()
        out = []
        for rid, r in self._recipient_map().items():
            mine = [row for row in rows if row.recipient == rid]
            out.append({
                "recipient": rid, "name": str(r.name), "contact": str(r.contact),
                "purpose": str(r.purpose),
                "purpose_name": str(purposes[str(r.purpose)].name),
                "items": tuple(r.items),
                "item_names": tuple(str(items[i].name) for i in r.items if i in items),
                "method": str(r.transfer_method),
                "consent": self.state(f"recipient:{rid}").status,
                "transfers": sum(row.count for row in mine),
                "last_at": max((row.last_at for row in mine), default=None),
            })
        return out

    def server_personal_information(self) -> list[dict[str, Any]]:
        """What the server holds for the logged-in account (``GET /v1/me/personal-information``).

        Raises:
            NotLoggedIn: no session; TransportError: the server cannot be reached.
        """
        return self._api().my_personal_information()

    def server_third_party_transfers(self) -> list[dict[str, Any]]:
        """Transfers the server made for the account (``GET /v1/me/third-party-transfers``).

        Raises:
            NotLoggedIn: no session; TransportError: the server cannot be reached.
        """
        return self._api().my_third_party_transfers()

    def _delete_minor_data(self) -> None:
        """OBL-MIN-1: personal information collected from a child without a guardian's consent
        is deleted: the session ends and the encrypted store is emptied, except the birth date
        that keeps the rule in force; each deletion is written to the audit trail."""
        self._end_session()
        store = self.store
        for entry in store.entries():
            if entry.namespace == _MINORS_NAMESPACE:
                continue
            store.delete(entry.namespace, entry.key)
            self.audit.record_deletion(entry.namespace, entry.purpose, "guardian_consent_missing")

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
            oplog, self._operation_log = self._operation_log, None
            handler, self._oplog_handler = self._oplog_handler, None
        if store is not None:
            store.close()
        if audit is not None:
            audit.close()
        if handler is not None:
            logging.getLogger("sdk").removeHandler(handler)
        if oplog is not None:
            oplog.close()
        self._ledger.close()

    def __enter__(self) -> PrivacySdk:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _delete_sqlite_files(path: Path) -> None:
    """Delete an SQLite file and its ``-wal`` / ``-shm`` files (missing ones are fine)."""
    for candidate in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        candidate.unlink(missing_ok=True)


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


def _refusal_reason(missing: tuple[str, ...]) -> str:
    """The audit reason code for the first missing scope (sdk.audit.REASONS)."""
    first = missing[0]
    if first == "policy":
        return "policy_not_accepted"
    if first == "guardian":
        return "guardian_consent_required"
    if first.startswith("item:"):
        return "separate_consent_required"
    return "consent_required"


def _missing_text(item_id: str, purpose: str, basis: str | None, missing: tuple[str, ...]) -> str:
    if missing[0] == "policy":
        return (f"purpose '{purpose}' (lawful basis {basis}) needs the user to agree to the "
                "privacy policy first; show the privacy prompt and retry after they agree")
    return (f"collecting '{item_id}' for '{purpose}' needs consent that is missing: "
            f"{', '.join(missing)}; ask the user for each and retry")
