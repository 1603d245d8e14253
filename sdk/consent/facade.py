"""The consent part of :class:`sdk.PrivacySdk`: scopes, states, grant / deny / withdraw,
separate consents, policy updates, minors and listeners (docs/consent.md).

:class:`ConsentMixin` is a base class of :class:`sdk.PrivacySdk`; it expects ``config``,
``policy``, ``_ledger`` and ``_closed`` from it. Everything here works offline: a decision takes
effect on the device when the method returns (the record is on disk), and is synced later.
"""

from __future__ import annotations

import datetime as _dt
import functools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from ..errors import (
    ConfigError,
    ConsentError,
    ConsentRequired,
    PolicyError,
    UndeclaredDataItem,
    UndeclaredPurpose,
)
from .record import ConsentRecord, Notice, consent_type_of

if TYPE_CHECKING:  # pragma: no cover
    from ..policy import Policy
    from ..policy.diff import PolicyDiff
    from .minors import AgeCheck

__all__ = [
    "STATUSES",
    "ConsentChange",
    "ConsentMixin",
    "ConsentState",
    "SeparateConsent",
    "Status",
]

log = logging.getLogger(__name__)

Status = Literal["not_asked", "granted", "denied", "withdrawn", "superseded"]
#: Consent states (docs/consent.md "States").
STATUSES: tuple[str, ...] = ("not_asked", "granted", "denied", "withdrawn", "superseded")

Mode = Literal["undecided", "full", "basic"]

_F = TypeVar("_F", bound=Callable[..., Any])

#: Namespace of the encrypted store holding the minors data (birth date, guardian digest key).
_MINORS_NAMESPACE = "consent.minors"


@dataclass(frozen=True)
class ConsentState:
    """The state of one scope.

    Attributes:
        scope: ``policy``, ``purpose:<id>``, ``item:<id>``, ``recipient:<id>``, ``guardian``
            or ``minors_notice``.
        status: one of :data:`STATUSES`.
        record: the deciding record (docs/consent.md), ``None`` when never asked.
        changes: for ``superseded``, the major policy changes that affect this scope.
    """

    scope: str
    status: Status
    record: ConsentRecord | None = None
    changes: tuple[Any, ...] = ()

    @property
    def granted(self) -> bool:
        return self.status == "granted"


@dataclass(frozen=True)
class ConsentChange:
    """What a listener receives: one scope whose status changed (``before`` -> ``after``)."""

    scope: str
    before: Status
    after: Status
    record: ConsentRecord | None


@dataclass(frozen=True)
class SeparateConsent:
    """The text and coverage of one separate consent (PIPL art. 14, 23, 29), for its dialog.

    Attributes:
        scope: ``purpose:<id>``, ``item:<id>`` or ``recipient:<id>``.
        title: the dialog title, e.g. ``单独同意：身份证号码``.
        body: paragraphs stating what, why, who receives it, how long, what refusing means and
            how to withdraw (policy language; from the manifest).
        purposes, items, recipients: ids the consent covers.
        retention: item id -> retention text.
    """

    scope: str
    title: str
    body: tuple[str, ...]
    purposes: tuple[str, ...]
    items: tuple[str, ...]
    recipients: tuple[str, ...]
    retention: dict[str, str] = field(default_factory=dict)


class ConsentMixin:
    """Consent services of :class:`sdk.PrivacySdk` (docs/consent.md)."""

    config: Any
    policy: Policy
    _ledger: Any
    _closed: bool

    def _init_consent(self) -> None:
        self._listeners: list[Callable[[ConsentChange], None]] = []
        #: The SDK's own listeners (sdk.core): told only of changes to ``withdrawn``, so a
        #: decision that withdraws nothing takes no snapshot of every scope for them.
        self._withdrawal_listeners: list[Callable[[ConsentChange], None]] = []
        self._listeners_lock = threading.Lock()
        self._diff_cache: dict[tuple[str, str], PolicyDiff | None] = {}
        self._birth_date: _dt.date | None = None

    # -- the manifest, by id ---------------------------------------------------------------

    def _per_policy(self, name: str, make: Callable[[], Any]) -> Any:
        """What *make* derives from the policy in force, made once per policy (the maps below
        are read several times by every ``require()``; ``refresh_policy`` swaps the policy)."""
        if getattr(self, "_cache_policy", None) is not self.policy:
            self._cache_policy, self._cache = self.policy, {}
        if name not in self._cache:
            self._cache[name] = make()
        return self._cache[name]

    def _purpose_map(self) -> dict[str, Any]:
        return self._per_policy("purposes", lambda: {
            str(p.id): p for p in self.policy.manifest.purposes})

    def _item_map(self) -> dict[str, Any]:
        return self._per_policy("items", lambda: {
            str(i.id): i for i in self.policy.manifest.data_items})

    def _recipient_map(self) -> dict[str, Any]:
        return self._per_policy("recipients", lambda: {
            str(r.id): r for r in getattr(self.policy.manifest, "recipients", ())})

    def _notice(self) -> Notice:
        manifest = self.policy.manifest
        return Notice(
            policy_version=str(manifest.version),
            sha256=str(self.policy.sha256),
            language=str(manifest.language),
            manifest_sha256=str(self.policy.manifest_sha256),
        )

    def _policy_key(self) -> str:
        """``Notice.key`` of the policy in force (text and manifest digests)."""
        return self._per_policy("key", lambda: self._notice().key)

    def consent_purposes(self) -> tuple[str, ...]:
        """Ids of the purposes :meth:`agree` grants: lawful basis ``consent`` and no separate
        consent (those, e.g. sensitive data under PIPL art. 28-29, are asked for in context)."""
        return tuple(
            str(p.id)
            for p in self.policy.manifest.purposes
            if p.lawful_basis == "consent" and not getattr(p, "separate_consent", False)
        )

    def scopes(self) -> tuple[str, ...]:
        """Every consent scope the policy in force defines: ``policy``, a ``purpose:<id>`` per
        purpose with lawful basis consent, an ``item:<id>`` per sensitive data item and a
        ``recipient:<id>`` per third-party recipient (docs/consent.md "Scopes")."""
        manifest = self.policy.manifest
        return (
            ("policy",)
            + tuple(f"purpose:{p.id}" for p in manifest.purposes if p.lawful_basis == "consent")
            + tuple(f"item:{i.id}" for i in manifest.data_items if i.sensitive)
            + tuple(f"recipient:{r.id}" for r in getattr(manifest, "recipients", ()))
        )

    def separate_scopes(self, feature: str | None = None) -> tuple[str, ...]:
        """The scopes that need separate consent (for *feature* when given: only those the
        feature needs, in the order to ask them)."""
        if feature is None:
            return tuple(s for s in self.scopes() if self._is_separate(s))
        return tuple(s for s in self._feature_scopes(feature) if self._is_separate(s))

    def _is_separate(self, scope: str) -> bool:
        if scope.startswith(("item:", "recipient:")):
            return True
        if scope.startswith("purpose:"):
            purpose = self._purpose_map().get(scope.split(":", 1)[1])
            return bool(purpose is not None and getattr(purpose, "separate_consent", False))
        return False

    def _coverage(self, scope: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
        """(purposes, items, recipients) a scope covers; raises for a scope the manifest does
        not define as a consent scope."""
        purposes, items, recipients = self._purpose_map(), self._item_map(), self._recipient_map()
        kind, _, ident = scope.partition(":")
        if scope == "policy":
            chosen = self.consent_purposes()
            return chosen, tuple(i for i, d in items.items() if set(d.purposes) & set(chosen)
                                 and not d.sensitive), ()
        if kind == "purpose":
            if ident not in purposes:
                raise UndeclaredPurpose(ident)
            if purposes[ident].lawful_basis != "consent":
                raise ConsentError(
                    f"purpose '{ident}' has lawful basis '{purposes[ident].lawful_basis}', not "
                    "consent: it needs the user's agreement to the policy, not a consent of its "
                    "own (PIPL art. 13)")
            return (ident,), tuple(i for i, d in items.items() if ident in d.purposes), ()
        if kind == "item":
            if ident not in items:
                raise UndeclaredDataItem(ident)
            if not items[ident].sensitive:
                raise ConsentError(
                    f"data item '{ident}' is not sensitive personal information; it is covered "
                    "by its purposes, not by a separate consent (PIPL art. 28-29)")
            return tuple(items[ident].purposes), (ident,), ()
        if kind == "recipient":
            if ident not in recipients:
                raise ConsentError(
                    f"recipient '{ident}' is not declared in the policy manifest; declare it "
                    "(a new recipient is a major policy change, OBL-SH-2)")
            rec = recipients[ident]
            return (str(rec.purpose),), tuple(rec.items), (ident,)
        raise ConsentError(
            f"'{scope}' is not a consent scope; use 'policy', 'purpose:<id>', 'item:<id>' or "
            "'recipient:<id>' with ids from the policy manifest")

    def _normalise(self, scope: str) -> str:
        if not isinstance(scope, str) or not scope or len(scope) > 80 or not scope.isprintable():
            raise ConsentError("scope must be a short string such as 'marketing', "
                               "'item:id_number' or 'recipient:ca' (ids from the manifest)")
        if scope in ("policy", "guardian", "minors_notice") or ":" in scope:
            return scope
        return f"purpose:{scope}"

    # -- states ---------------------------------------------------------------------------

    def _policy_diff(self, notice_key: str) -> PolicyDiff | None:
        """The diff from the policy the user saw (``Notice.key``) to the policy in force;
        ``None`` when the ledger does not have that policy (then every grant under it is
        superseded)."""
        key = (notice_key, self._policy_key())
        if key not in self._diff_cache:
            from ..policy import Policy
            from ..policy.diff import diff_policies

            data = self._ledger.notice_policy(notice_key)
            try:
                old = Policy.from_json(data, source="the consent ledger") if data else None
            except PolicyError:
                old = None
            self._diff_cache[key] = diff_policies(old, self.policy) if old is not None else None
        return self._diff_cache[key]

    def _superseding(self, record: ConsentRecord, scope: str,
                     purpose: str | None) -> tuple[Any, ...] | None:
        """The major changes that supersede a grant (``()`` for an unknown old policy), or
        ``None`` when the grant still holds."""
        if record.notice.key == self._policy_key():
            return None
        diff = self._policy_diff(record.notice.key)
        if diff is None:
            return ()
        # a purpose is hit by major changes to it; an item or recipient consent by changes to
        # that item or recipient; the policy agreement only by changes affecting everything
        hit = diff.affects(purposes=(purpose,)) if purpose is not None else diff.affects(
            scope=scope)
        if not hit:
            return None
        return tuple(c for c in diff.major)

    def state(self, scope: str) -> ConsentState:
        """The state of *scope* (a bare id means ``purpose:<id>``): see docs/consent.md.

        A purpose without separate consent is decided by the latest of the ``policy`` records
        that cover it and its own ``purpose:<id>`` records.

        Raises:
            ConsentError: the manifest does not define that scope (names it).
        """
        scope = self._normalise(scope)
        purpose = None
        if scope.startswith("purpose:") and not self._is_separate(scope):
            self._coverage(scope)
            purpose = scope.split(":", 1)[1]
        elif scope not in ("guardian", "minors_notice"):
            self._coverage(scope)
        record = self._ledger.deciding(scope, purpose=purpose)
        if record is None:
            return ConsentState(scope, "not_asked")
        if record.decision != "granted":
            return ConsentState(scope, record.decision, record)  # type: ignore[arg-type]
        changes = self._superseding(record, scope, purpose)
        if changes is not None:
            return ConsentState(scope, "superseded", record, changes)
        return ConsentState(scope, "granted", record)

    def states(self) -> dict[str, ConsentState]:
        """:meth:`state` of every scope of :meth:`scopes`, plus ``guardian`` and
        ``minors_notice``."""
        return {s: self.state(s) for s in self.scopes() + ("guardian", "minors_notice")}

    @property
    def mode(self) -> Mode:
        """``undecided``: the user has not agreed to this policy (prompt them);
        ``full``: the user agreed to the policy in force;
        ``basic``: the user declined (or withdrew), or is under 14 with no guardian consent
        recorded: only basic functions (OBL-ACC-2, OBL-MIN-1).

        A grant made under an older policy version still holds unless the policy's changes
        affect everything (controller or contact changed) or the ledger does not have the
        policy it was given under: then the user is asked again (never "continued use").
        Narrower major changes block only the processing they affect (:meth:`policy_update`).
        """
        status = self.state("policy").status
        if status == "granted":
            # a child without a guardian's consent gets basic functions only (PIPL art. 31)
            return "basic" if self._child_without_guardian() else "full"
        if status in ("not_asked", "superseded"):
            return "undecided"
        return "basic"

    def needs_prompt(self) -> bool:
        """True when the privacy prompt must be shown: no decision for this policy yet."""
        return self.mode == "undecided"

    def granted_purposes(self) -> frozenset[str]:
        """Purposes with lawful basis consent that the user has granted and that no major
        policy change supersedes (empty unless mode is full)."""
        if self.mode != "full":
            return frozenset()
        return frozenset(p for p, purpose in self._purpose_map().items()
                         if purpose.lawful_basis == "consent"
                         and self.state(f"purpose:{p}").granted)

    # -- listeners ------------------------------------------------------------------------

    def add_listener(self, listener: Callable[[ConsentChange], None]) -> Callable[[], None]:
        """Call *listener* with a :class:`ConsentChange` for every scope whose status changes
        (decisions here, records pulled from other devices). Called on the thread that made the
        change, after the record is on disk; a Kivy app moves to the UI thread with
        ``Clock.schedule_once``. Exceptions raised by a listener are logged, not propagated.

        Returns:
            a function that removes the listener.
        """
        if not callable(listener):
            raise ConfigError("listener must be callable, e.g. def on_change(change): ...")
        with self._listeners_lock:
            self._listeners.append(listener)

        def remove() -> None:
            with self._listeners_lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return remove

    def _add_withdrawal_listener(self, listener: Callable[[ConsentChange], None]) -> None:
        """Like :meth:`add_listener`, for the SDK's own reactions to a withdrawal: *listener*
        is called (before the app's listeners) only with changes whose ``after`` is
        ``withdrawn``."""
        with self._listeners_lock:
            self._withdrawal_listeners.append(listener)

    def _snapshot(self, *, withdrawal: bool = True) -> dict[str, Status]:
        """Every scope's status before a change, or ``{}`` when no listener is to be told:
        none registered, or only withdrawal listeners and the change can withdraw nothing
        (*withdrawal* False: a grant or a refusal makes no scope ``withdrawn``)."""
        if not (self._listeners or (withdrawal and self._withdrawal_listeners)):
            return {}
        return {scope: st.status for scope, st in self.states().items()}

    def _notify(self, before: dict[str, Status], record: ConsentRecord | None) -> None:
        if not before:
            return
        after = self._snapshot()
        changes = [ConsentChange(s, before.get(s, "not_asked"), after[s], record)
                   for s in after if after[s] != before.get(s, "not_asked")]
        with self._listeners_lock:
            own, listeners = list(self._withdrawal_listeners), list(self._listeners)
        for change in changes:
            for listener in (own + listeners if change.after == "withdrawn" else listeners):
                try:
                    listener(change)
                except Exception:  # a listener's bug must not undo or hide a decision
                    log.exception("a consent listener raised; the decision stands")

    # -- deciding -------------------------------------------------------------------------

    def _withdrawal_text(self) -> str:
        contact = str(getattr(self.policy.manifest.controller, "contact_email", "") or "")
        return ("在「隐私中心」关闭对应开关即可撤回；也可发送邮件至 " + contact) if contact else (
            "在「隐私中心」关闭对应开关即可撤回")

    def _record(self, decision: str, scope: str, method: str, *,
                purposes: tuple[str, ...] | None = None,
                guardian: dict[str, str] | None = None) -> ConsentRecord:
        """Store one decision for *scope* with its ISO/IEC TS 27560 fields and notify."""
        self._check_open()
        if scope in ("guardian", "minors_notice"):
            covered: tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]] = ((), (), ())
        else:
            covered = self._coverage(scope)
        chosen = purposes if purposes is not None else covered[0]
        items = self._item_map()
        before = self._snapshot(withdrawal=decision == "withdrawn")
        record = self._ledger.record(
            decision,
            chosen,
            self._notice(),
            str(self.policy.manifest.controller.name),
            method,
            scope=scope,
            consent_type=consent_type_of(scope, self._is_separate(scope)),
            pi_categories=covered[1],
            recipients=covered[2],
            retention={i: str(items[i].retention) for i in covered[1] if i in items},
            withdrawal=self._withdrawal_text(),
            controller_contact=str(getattr(self.policy.manifest.controller, "contact_email", "")),
            guardian=guardian,
            policy_json=self._policy_json(),
        )
        self._notify(before, record)
        return record

    def _check_open(self) -> None:
        if self._closed:
            raise ConfigError("this PrivacySdk is closed; open a new one with PrivacySdk.open")

    def _policy_json(self) -> str:
        """The policy in force as JSON text (kept with each record's notice), made once."""
        import json

        return self._per_policy("json", lambda: json.dumps(self.policy.to_json(),
                                                          ensure_ascii=False))

    def agree(self, method: str = "explicit_button", *, sync: bool = True) -> ConsentRecord:
        """Record that the user agreed to the policy in force (full mode): the ``policy`` scope.

        The ``granted`` record covers :meth:`consent_purposes`. It is on disk before the SDK
        tries to :meth:`sync` it. If the server cannot be reached the record stays pending and
        is synced later, exactly once. The sync can take up to the configured timeouts and
        retries: call this off the UI thread, or pass ``sync=False`` and call :meth:`sync`
        from a worker. Agreeing again after a policy update is how the user accepts it.

        Returns:
            the stored record (``synced_at`` set when the sync succeeded).

        Raises:
            PolicyError: the policy declares no purpose that needs consent.
            StorageError: the decision could not be stored; nothing was recorded.
        """
        self._check_open()
        if not self.consent_purposes():
            raise PolicyError(
                "the policy manifest declares no purpose with lawful_basis 'consent' and "
                "separate_consent false; there is nothing for the user to agree to"
            )
        record = self._record("granted", "policy", method, purposes=self.agreement_purposes())
        return self._after_decision(record, sync)

    def agreement_purposes(self) -> tuple[str, ...]:
        """The purposes :meth:`agree` grants now: :meth:`consent_purposes`, except those the
        user switched off on their own (their latest ``purpose:<id>`` record is a withdrawal or
        refusal): agreeing again, e.g. to a policy update, never undoes a narrowing
        (OBL-DSR-4). Such a purpose comes back only through its own switch (:meth:`grant`)."""
        kept = []
        for purpose in self.consent_purposes():
            own = self._ledger.deciding(f"purpose:{purpose}")
            if own is None or own.decision == "granted":
                kept.append(purpose)
        return tuple(kept)

    def disagree(self, method: str = "explicit_button", *, sync: bool = True) -> ConsentRecord:
        """Record that the user declined: basic mode.

        If the user had agreed before, this is a withdrawal (PIPL art. 15, OBL-DSR-4): see
        :meth:`withdraw` (``sync`` as there). Otherwise the refusal is stored on the device
        only; nothing is sent.

        Raises:
            StorageError: the decision could not be stored.
        """
        if self.state("policy").status in ("granted", "superseded"):
            return self.withdraw("policy", method, sync=sync)
        return self._record("denied", "policy", method)

    def grant(self, scope: str, method: str = "explicit_button", *,
              sync: bool = True) -> ConsentRecord:
        """Record the user's consent for one scope: a purpose id (``"marketing"``) or
        ``purpose:<id>``, ``item:<id>``, ``recipient:<id>``. One call grants exactly one scope
        (no bundling, PIPL art. 14, 23, 29); call it from the scope's own dialog
        (:meth:`separate_consent` gives its text).

        Raises:
            ConsentRequired: the user has not agreed to the policy yet (``scopes=("policy",)``).
            ConsentError: not a consent scope of the manifest (the message says why).
            StorageError: nothing was recorded.
        """
        scope = self._normalise(scope)
        if scope == "policy":
            return self.agree(method, sync=sync)
        self._coverage(scope)
        if self.state("policy").status != "granted":
            raise ConsentRequired(scope, f"the user must agree to the privacy policy before "
                                  f"granting '{scope}'; show the privacy prompt first", ("policy",))
        if self._child_without_guardian():
            raise ConsentRequired(scope, f"the user is under 14: a guardian must consent before "
                                  f"'{scope}' can be granted (PIPL art. 31); record it with "
                                  "record_guardian_consent", ("guardian",))
        return self._after_decision(self._record("granted", scope, method), sync)

    def deny(self, scope: str, method: str = "explicit_button", *,
             sync: bool = True) -> ConsentRecord:
        """Record that the user declined one scope (kept on the device; nothing is sent). If the
        scope was granted this is a withdrawal (:meth:`withdraw`, ``sync`` as there).

        Raises:
            ConsentError: not a consent scope of the manifest.
        """
        scope = self._normalise(scope)
        if scope == "policy":
            return self.disagree(method, sync=sync)
        if self.state(scope).status in ("granted", "superseded"):
            return self.withdraw(scope, method, sync=sync)
        return self._record("denied", scope, method)

    def withdraw(self, scope: str = "policy", method: str = "explicit_button", *,
                 sync: bool = True) -> ConsentRecord:
        """Withdraw a consent (PIPL art. 15; OBL-DSR-4): the policy agreement (default) or one
        scope. Takes effect on the device at once, offline too (:meth:`require` refuses from
        now on); the ``withdrawn`` record is then synced, exactly once. Processing done before
        stays as it was. Withdrawing the policy agreement also withdraws every separate consent
        (a record each) and ends the account session.

        Raises:
            ConsentError: that scope is not granted (nothing to withdraw).
            StorageError: the withdrawal could not be stored; nothing was recorded.
        """
        scope = self._normalise(scope)
        current = self.state(scope)
        if current.status not in ("granted", "superseded") or current.record is None:
            raise ConsentError(f"there is no consent to withdraw for '{scope}'; its state is "
                               f"{current.status}")
        purposes = tuple(current.record.purposes) if scope == "policy" else None
        record = self._record("withdrawn", scope, method, purposes=purposes)
        if scope == "policy":
            # withdrawing the agreement stops everything: the separate consents go too (one
            # record each), so agreeing again later never revives them silently
            for other in self.separate_scopes():
                if self.state(other).status in ("granted", "superseded"):
                    self._record("withdrawn", other, method)
            self._end_session()
        return self._after_decision(record, sync)

    def _after_decision(self, record: ConsentRecord, sync: bool) -> ConsentRecord:
        if sync and record.decision != "denied" and self.config.endpoint is not None:
            self._try_sync()
        return self._ledger.get(record.record_id) or record

    def _end_session(self) -> None:  # pragma: no cover - PrivacySdk overrides
        pass

    def _try_sync(self) -> None:  # pragma: no cover - PrivacySdk overrides
        pass

    # -- guards ---------------------------------------------------------------------------

    def _missing_for_purpose(self, purpose: str, *, guardian: bool = True) -> tuple[str, ...]:
        _check_id("purpose", purpose)
        declared = self._purpose_map()
        if purpose not in declared:
            raise UndeclaredPurpose(
                purpose,
                f"purpose '{purpose}' is not declared in the policy manifest; declare it "
                "(a new purpose needs a new policy version and fresh consent, OBL-PURP-1)")
        missing: list[str] = []
        if self.state("policy").status != "granted":
            missing.append("policy")
        elif guardian and self._child_without_guardian():
            missing.append("guardian")
        if declared[purpose].lawful_basis == "consent" and not self.state(
                f"purpose:{purpose}").granted:
            missing.append(f"purpose:{purpose}")
        return tuple(missing)

    def require(self, purpose: str) -> None:
        """Raise unless processing for *purpose* may go ahead (docs/consent.md "What may be
        processed"): the policy agreed to (any lawful basis), the purpose's own consent when
        its lawful basis is consent (not superseded by a major policy change), and a
        guardian's consent for a user under 14.

        Raises:
            UndeclaredPurpose: (a ``ConsentError``) *purpose* is not in the manifest (OBL-PURP-1).
            ConsentRequired: ``.purpose`` names it and ``.scopes`` what is missing.
        """
        missing = self._missing_for_purpose(purpose)
        if missing:
            raise ConsentRequired(purpose, _missing_message(purpose, missing), missing)

    def requires(self, purpose: str) -> Callable[[_F], _F]:
        """Decorator form of :meth:`require`: the wrapped function runs only when *purpose*
        may be processed, else it raises :class:`ConsentRequired` without running::

            @privacy.requires("marketing")
            def send_newsletter(): ...
        """
        self._missing_for_purpose(purpose)  # an undeclared purpose fails at decoration time

        def decorate(fn: _F) -> _F:
            @functools.wraps(fn)
            def guarded(*args: Any, **kwargs: Any) -> Any:
                self.require(purpose)
                return fn(*args, **kwargs)

            return guarded  # type: ignore[return-value]

        return decorate

    def _feature_scopes(self, feature: str) -> tuple[str, ...]:
        manifest = self.policy.manifest
        _check_id("feature", feature)
        if feature not in {str(f.id) for f in manifest.features}:
            raise ConsentError(f"feature '{feature}' is not declared in the policy manifest")
        scopes: list[str] = []
        for p in manifest.purposes:
            if feature in tuple(p.required_for) and p.lawful_basis == "consent":
                scopes.append(f"purpose:{p.id}")
        for item in manifest.data_items:
            if feature in tuple(item.required_for):
                if item.sensitive:
                    scopes.append(f"item:{item.id}")
                scopes.extend(f"recipient:{r}" for r in item.recipients)
        order = {"purpose": 0, "item": 1, "recipient": 2}
        return tuple(sorted(dict.fromkeys(scopes), key=lambda s: order[s.split(":", 1)[0]]))

    def missing_for_feature(self, feature: str) -> tuple[str, ...]:
        """The scopes *feature* still needs (``policy``, ``guardian``, purposes, sensitive
        items, recipients of its items), in the order to ask them; empty when it may run."""
        missing: list[str] = []
        for p in self.policy.manifest.purposes:
            if feature in tuple(p.required_for):
                missing.extend(self._missing_for_purpose(str(p.id)))
        missing.extend(s for s in self._feature_scopes(feature) if not self.state(s).granted)
        if not missing and self.state("policy").status != "granted":
            missing.append("policy")
        return tuple(dict.fromkeys(missing))

    def require_feature(self, feature: str) -> None:
        """Raise unless every consent *feature* (a manifest feature id, e.g.
        ``realname_signing``) needs is in place. Refusing one feature's consents blocks only
        that feature (OBL-RN-3).

        Raises:
            ConsentError: *feature* is not declared in the manifest.
            ConsentRequired: ``.purpose`` is the feature, ``.scopes`` lists what is missing.
        """
        missing = self.missing_for_feature(feature)
        if missing:
            raise ConsentRequired(feature, _missing_message(feature, missing), missing)

    # -- separate consent texts -----------------------------------------------------------

    def separate_consent(self, scope: str) -> SeparateConsent:
        """The text of the separate-consent dialog for *scope*, built from the manifest: what
        is processed, why, who receives it, how long it is kept, what refusing means and how
        to withdraw (PIPL art. 17, 23, 29-30).

        Raises:
            ConsentError: *scope* does not need separate consent.
        """
        scope = self._normalise(scope)
        if not self._is_separate(scope):
            raise ConsentError(f"'{scope}' does not need separate consent; it is covered by "
                               "the privacy policy agreement or a privacy-centre switch")
        purposes, items, recipients = self._coverage(scope)
        pmap, imap, rmap = self._purpose_map(), self._item_map(), self._recipient_map()
        kind, _, ident = scope.partition(":")
        names = "、".join(str(imap[i].name) for i in items if i in imap)
        why = "；".join(f"{pmap[p].name}：{pmap[p].description}" for p in purposes if p in pmap)
        body = []
        if kind == "item":
            title = f"单独同意：{imap[ident].name}"
            body.append(f"「{imap[ident].name}」属于敏感个人信息。我们仅为以下目的处理：{why}。")
            if ident == "face_video" or str(imap[ident].category) == "biometric":
                body.append("处理包括采集面部视频并与身份证件照片进行人脸比对。")
        elif kind == "recipient":
            r = rmap[ident]
            title = f"单独同意：向{r.name}提供个人信息"
            body.append(f"为「{pmap[str(r.purpose)].name}」，我们需要向{r.name}（联系方式："
                        f"{r.contact}）提供：{names}。传输方式：{r.transfer_method}。")
        else:
            title = f"单独同意：{pmap[ident].name}"
            body.append(f"目的：{why}。涉及的个人信息：{names or '无'}。")
        retention = {i: str(imap[i].retention) for i in items if i in imap}
        if retention and kind != "recipient":  # our retention, not the recipient's
            body.append("保存期限：" + "；".join(
                f"{imap[i].name} {_retention_text(t)}" for i, t in retention.items()))
        # exactly the features that need this scope (the ones missing_for_feature would name)
        features = [str(f.name) for f in self.policy.manifest.features
                    if scope in self._feature_scopes(str(f.id))]
        if features:
            body.append("如您不同意，仅「" + "」「".join(features)
                        + "」无法使用，其他功能不受影响。")
        else:
            body.append("如您不同意，其他功能不受影响。")
        body.append(self._withdrawal_text() + "。撤回不影响撤回前基于同意已进行的处理。")
        return SeparateConsent(scope, title, tuple(body), purposes, items, recipients, retention)

    # -- policy updates (OBL-UPD-1, OBL-UPD-2) ---------------------------------------------

    def policy_update(self) -> PolicyDiff | None:
        """What changed since the policy the user last agreed to, or ``None`` when nothing did
        (or the user never agreed). ``.major`` changes block the processing they affect until
        the user agrees again (:meth:`agree`); ``.minor`` ones are a notice only.

        When the ledger does not have the old policy (an older SDK), this is ``None`` and
        :attr:`mode` is ``undecided``: the whole policy is asked again.
        """
        record = self._ledger.deciding("policy")
        if record is None or record.decision != "granted":
            return None
        if record.notice.key == self._policy_key():
            return None
        diff = self._policy_diff(record.notice.key)
        return diff if diff else None  # e.g. only the version number changed

    def acknowledge_policy_update(self) -> None:
        """Note that the user saw a minor-change notice for the policy in force, so
        :meth:`policy_update_notice_due` turns False. Records no consent."""
        with self._ledger._transaction() as conn:  # noqa: SLF001 - ledger meta bookkeeping
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES "
                         "('update_acknowledged', ?)", (self._policy_key(),))

    def policy_update_notice_due(self) -> bool:
        """True when the policy changed since the user's agreement and the user has neither
        agreed again nor acknowledged the notice for this version."""
        if self.policy_update() is None:
            return False
        return self._ledger._meta("update_acknowledged") != self._policy_key()  # noqa: SLF001

    # -- minors (OBL-MIN-1, PIPL art. 31) --------------------------------------------------

    @property
    def age_check(self) -> AgeCheck | None:
        """The result of :meth:`check_age` on this device (``None`` before it), recomputed for
        today from the birth date kept in the encrypted store."""
        if self._birth_date is None and self._ledger._meta("age_checked") == "1":  # noqa: SLF001
            from ..errors import KeystoreError, StorageError

            try:
                text = self.store.get_text(_MINORS_NAMESPACE, "birth_date")  # type: ignore[attr-defined]
            except (KeystoreError, StorageError):
                text = None
            if text:
                self._birth_date = _dt.date.fromisoformat(text)
        if self._birth_date is None:
            return None
        from .minors import age_check_on

        return age_check_on(self._birth_date, self.config.clock().date())

    def check_age(self, id_number: str) -> AgeCheck:
        """Work out the user's age from their verified resident ID number (GB 11643 birth date)
        and apply the minors rules (OBL-MIN-1): under 14 nothing beyond basic mode until a
        guardian consents (:meth:`record_guardian_consent`), and personal information already
        collected on this device is deleted; under 18 the minors' notice is due.

        The birth date is kept only in the encrypted store (purpose ``realname_verification``);
        the ID number is not kept.

        Raises:
            InvalidIdentifier: not a valid ID number (the message never contains it).
            ConsentRequired: ``realname_verification`` has not been granted.
            KeystoreError, StorageError: the encrypted store is unavailable.
        """
        from .minors import birth_date_from_id

        # not require(): a child found earlier must be able to correct a mistyped number
        missing = self._missing_for_purpose("realname_verification", guardian=False)
        if missing:
            raise ConsentRequired("realname_verification",
                                  _missing_message("realname_verification", missing), missing)
        birth = birth_date_from_id(id_number)
        self.store.put(_MINORS_NAMESPACE, "birth_date", birth.isoformat(),  # type: ignore[attr-defined]
                       purpose="realname_verification")
        with self._ledger._transaction() as conn:  # noqa: SLF001
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('age_checked', '1')")
        self._birth_date = birth
        check = self.age_check
        assert check is not None
        if check.needs_guardian and not self.state("guardian").granted:
            self._delete_minor_data()
        return check

    def _child_without_guardian(self) -> bool:
        if self._ledger._meta("age_checked") != "1":  # noqa: SLF001 - fast path: never checked
            return False
        check = self.age_check
        return bool(check is not None and check.needs_guardian
                    and not self.state("guardian").granted)

    def needs_guardian_consent(self) -> bool:
        """True for a user under 14 without a recorded guardian consent."""
        return self._child_without_guardian()

    def needs_minors_notice(self) -> bool:
        """True for a user under 18 who has not yet been shown the minors' notice."""
        check = self.age_check
        return bool(check is not None and check.needs_minors_notice
                    and not self.state("minors_notice").granted)

    def acknowledge_minors_notice(self, method: str = "explicit_button") -> ConsentRecord:
        """Record that the user (under 18) was shown the minors' notice
        (:data:`sdk.consent.minors.MINORS_NOTICE`)."""
        return self._after_decision(self._record("granted", "minors_notice", method), True)

    def record_guardian_consent(self, guardian_id_number: str, relationship: str,
                                method: str = "guardian_form") -> ConsentRecord:
        """Record a guardian's consent for a user under 14 (PIPL art. 31). The guardian's ID
        number is checked (an adult) and kept only as a keyed digest (HMAC-SHA256 with a key
        held in the encrypted store), with the relationship.

        Raises:
            InvalidIdentifier, InvalidInput: see :func:`sdk.consent.minors.guardian_consent`.
            KeystoreError, StorageError: the encrypted store is unavailable.
        """
        import os

        from .minors import guardian_consent

        key = self.store.get(_MINORS_NAMESPACE, "guardian_key")  # type: ignore[attr-defined]
        if key is None:
            key = os.urandom(32)
            self.store.put(_MINORS_NAMESPACE, "guardian_key", key,  # type: ignore[attr-defined]
                           purpose="realname_verification")
        consent = guardian_consent(guardian_id_number, relationship, key=key,
                                   today=self.config.clock().date())
        record = self._record("granted", "guardian", method, guardian={
            "relationship": consent.relationship, "id_digest": consent.id_digest})
        return self._after_decision(record, True)

    def _delete_minor_data(self) -> None:  # pragma: no cover - PrivacySdk overrides
        pass


def _check_id(name: str, value: object) -> str:
    """A manifest id given by the app: a short string, else a ConsentError that says so
    without echoing the value (it could be anything, personal data included)."""
    if not isinstance(value, str) or not value:
        raise ConsentError(f"{name} must be an id from the policy manifest (a non-empty "
                           f"string), not {type(value).__name__}")
    if len(value) > 64 or not value.isprintable():
        raise ConsentError(f"{name} is not an id from the policy manifest (ids are short "
                           "names such as 'marketing' or 'id_number')")
    return value


def _missing_message(what: str, missing: tuple[str, ...]) -> str:
    return (f"'{what}' needs consent that is missing: {', '.join(missing)}; ask the user for "
            "each (privacy prompt for 'policy', separate-consent dialog for item:/recipient:) "
            "and retry")


def _retention_text(text: str) -> str:
    if text == "until_account_cancelled":
        return "至注销账号"
    from ..policy.manifest import parse_retention

    try:
        r = parse_retention(text)
    except ValueError:
        return text
    parts = [(r.years, "年"), (r.months, "个月"), (r.days, "天")]
    out = "".join(f"{n}{unit}" for n, unit in parts if n)
    return out or text
