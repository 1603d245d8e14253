"""The permission facade: :class:`Permissions`, reached as ``privacy.permissions``.

It enforces the rules of docs/permissions.md (OBL-PERM-1..4) in front of a backend
(:mod:`sdk.permissions.backend`), keeps the per-permission history in the audit trail (every
prompt asked for and every answer, ``revoked`` when the user switched a permission off), and
delivers answers and changes through a dispatcher the app chooses (a Kivy app passes
:func:`sdk.ui.kivy.permissions.kivy_dispatcher`, so callbacks run on the UI thread).

Sources of the rules:

- 工信部信管函〔2020〕164号 (MIIT, "纵深推进APP侵害用户权益专项整治行动"): no permission
  requests before the privacy policy is agreed to, none unrelated to the current service
  scenario, no repeated requests after a clear refusal (频繁申请权限), and a refusal never
  closes the app. The 48-hour figure is how that "repeated" is tested in practice (it is not
  in the notice's text), and the SDK's compliance check (:mod:`sdk.compliance`) uses it.
- 《App违法违规收集使用个人信息行为认定方法》(国信办秘字〔2019〕191号): asking for a
  permission without stating its purpose at the same time counts as not stating the rules.
- GB/T 35273-2020 §5.3 and Annex C: permissions asked when the user uses the feature that
  needs them, with the purpose stated; refusing an extended feature's permission does not
  affect the basic functions.
- Android "Request runtime permissions" and Apple's AVFoundation / Photos authorization
  documentation: what each platform reports (:mod:`sdk.permissions.status`).
"""

from __future__ import annotations

import datetime as _dt
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..compliance import features_needing
from ..errors import ConfigError, ConsentError, ConsentRequired, SdkError
from .backend import PermissionBackend, select_backend, settings_place_of
from .status import (
    PERMISSIONS,
    InvalidPermission,
    PermissionChange,
    PermissionResult,
    PermissionState,
    PermissionStatus,
    Rationale,
    check_permission,
)

if TYPE_CHECKING:  # pragma: no cover
    from ..core import PrivacySdk

__all__ = ["Dispatcher", "Permissions", "call_now"]

log = logging.getLogger(__name__)

S = PermissionStatus

#: Runs a callback for the app: ``dispatcher(fn)`` calls ``fn()`` now or later, on the
#: thread the app wants (the UI thread for a Kivy app).
Dispatcher = Callable[[Callable[[], None]], None]

#: Answers on record that are a refusal (they start the quiet window). ``revoked`` is one
#: too here: after switching a permission off in the settings the user is not prompted
#: again by the app on its own either (stricter than sdk.compliance, which counts only
#: ``denied`` / ``permanently_denied``).
_REFUSALS = ("denied", "permanently_denied", "revoked")
_ANSWERS = ("granted", *_REFUSALS)
#: An answer -> what is written to the audit trail (``limited`` is a grant of selected photos).
_OUTCOME = {S.GRANTED: "granted", S.LIMITED: "granted", S.DENIED: "denied",
            S.PERMANENTLY_DENIED: "permanently_denied"}
#: A prompt that never came back (the activity died) stops blocking new requests after this.
_INFLIGHT_STALE = 600.0

#: Display names of the permissions in the policy's language (the demo's, zh-CN).
_NAMES = {"camera": "相机", "photos": "相册", "phone_state": "电话（设备信息）"}


def call_now(fn: Callable[[], None]) -> None:
    """The default dispatcher: call *fn* at once, on the thread that delivers it (for an
    answer from python-for-android or iOS, *their* thread)."""
    fn()


@dataclass(frozen=True)
class _History:
    last_asked_at: str | None = None
    last_answer: str | None = None
    last_answer_at: str | None = None
    refused_at: str | None = None  # the last refusal with no grant after it


def _parse(text: str) -> _dt.datetime:
    return _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


class Permissions:
    """OS permissions behind the consent rules (docs/permissions.md). Get it as
    ``privacy.permissions``; build one yourself only to choose the backend::

        privacy.permissions = Permissions(privacy, ScriptedBackend({"camera": "denied"}))

    Thread-safe: ``request`` and ``refresh`` may be called from any thread; answers arrive
    on the backend's thread and reach the app through the dispatcher.

    Args:
        privacy: the :class:`sdk.PrivacySdk` (its consent state, manifest, audit trail and
            ``config.permission_reask_after``).
        backend: the backend; ``None`` chooses one on first use with
            :func:`sdk.permissions.backend.select_backend` (``PRIVACY_SDK_PERMISSIONS``
            overrides).
        dispatcher: runs ``on_result`` callbacks and listeners (default :func:`call_now`).
        preferred: a backend name for the automatic choice.
    """

    def __init__(self, privacy: PrivacySdk, backend: PermissionBackend | None = None, *,
                 dispatcher: Dispatcher | None = None, preferred: str | None = None) -> None:
        self._privacy = privacy
        self._preferred = preferred
        self._lock = threading.RLock()
        self._listeners: list[Callable[[PermissionChange], None]] = []
        self._cache: dict[str, PermissionStatus] = {}
        #: permission -> (the request's token, monotonic time): a rationale or a prompt is open
        self._inflight: dict[str, tuple[object, float]] = {}
        self._backend: PermissionBackend | None = None
        self._dispatcher: Dispatcher = call_now
        if dispatcher is not None:
            self.dispatcher = dispatcher
        if backend is not None:
            self._attach(backend)

    # -- configuration -------------------------------------------------------------------

    @property
    def privacy(self) -> PrivacySdk:
        """The :class:`sdk.PrivacySdk` this facade belongs to."""
        return self._privacy

    @property
    def backend(self) -> PermissionBackend:
        """The backend, chosen on first use (see the class documentation)."""
        with self._lock:
            if self._backend is None:
                self._attach(select_backend(self._preferred, recall=self._recall))
            assert self._backend is not None
            return self._backend

    def _attach(self, backend: PermissionBackend) -> None:
        if not isinstance(backend, PermissionBackend):
            raise ConfigError("backend must be an sdk.permissions.backend.PermissionBackend, "
                              f"got {type(backend).__name__}")
        self._backend = backend
        backend.use_history(self._recall)
        backend.on_change(self._backend_changed)

    @property
    def dispatcher(self) -> Dispatcher:
        """Runs every callback the app receives (``on_result``, listeners):
        ``dispatcher(fn)``. Settable, e.g. ``privacy.permissions.dispatcher =
        kivy_dispatcher``."""
        return self._dispatcher

    @dispatcher.setter
    def dispatcher(self, dispatcher: Dispatcher) -> None:
        if not callable(dispatcher):
            raise ConfigError("dispatcher must be callable: dispatcher(fn) runs fn(), e.g. "
                              "sdk.ui.kivy.permissions.kivy_dispatcher")
        self._dispatcher = dispatcher

    # -- history (the audit trail) -------------------------------------------------------

    def _history(self, permission: str) -> _History:
        asked_at = answer = answer_at = refused_at = None
        for event in self._privacy.audit.permission_events(permission):
            if event.outcome == "requested":
                asked_at = event.time
            elif event.outcome in _ANSWERS:
                answer, answer_at = event.outcome, event.time
                refused_at = event.time if event.outcome in _REFUSALS else None
        return _History(asked_at, answer, answer_at, refused_at)

    def _recall(self, permission: str) -> str | None:
        """The last answer on record (the desktop backend's memory)."""
        try:
            return self._history(permission).last_answer
        except SdkError:  # closed, or the trail cannot be read: nothing remembered
            return None

    def _quiet_until(self, history: _History) -> _dt.datetime | None:
        """Until when the app may not prompt on its own, or ``None`` (not now)."""
        if history.refused_at is None:
            return None
        until = _parse(history.refused_at) + self._privacy.config.permission_reask_after
        return until if until > self._privacy.config.clock() else None

    @staticmethod
    def _resolve(raw: PermissionStatus, history: _History) -> PermissionStatus:
        """The backend's status read with the history: ``not_determined`` after a refusal on
        record is Android's "don't ask again" (no sign either way), i.e. permanently denied."""
        if raw is S.NOT_DETERMINED and history.last_answer in ("denied", "permanently_denied"):
            return S.PERMANENTLY_DENIED
        return raw

    # -- reading -------------------------------------------------------------------------

    def status(self, permission: str) -> PermissionState:
        """The state of *permission* now, for the app's permissions page and for the code
        about to use it (``privacy.permissions.status("camera").granted``). Shows nothing and
        writes nothing; works in every consent mode.

        Raises:
            ValueError: unknown permission.
            PermissionsError: no backend works here (the message says what to do).
            StorageError: the audit trail cannot be read.
        """
        check_permission(permission)
        history = self._history(permission)
        status = self._resolve(self.backend.check(permission), history)
        return PermissionState(
            permission, status, history.last_asked_at, history.last_answer,
            history.last_answer_at, self._quiet_until(history),
            self._purpose_text(permission), self._features(permission))

    def statuses(self) -> dict[str, PermissionState]:
        """:meth:`status` of every permission the SDK knows, in :data:`PERMISSIONS` order."""
        return {p: self.status(p) for p in PERMISSIONS}

    def should_show_rationale(self, permission: str) -> bool:
        """The platform's hint that the user refused before and may still be asked (Android
        ``shouldShowRequestPermissionRationale``): show a fuller explanation. :meth:`request`
        shows a rationale before every system prompt anyway (rule 4).

        Raises:
            ValueError: unknown permission. PermissionsError: no backend works here.
        """
        return self.backend.should_show_rationale(permission)

    def _features(self, permission: str) -> tuple[str, ...]:
        needing = features_needing(self._privacy.policy.manifest, permission)
        return tuple(str(f.id) for f in self._privacy.policy.manifest.features
                     if str(f.id) in needing)

    def _purpose_text(self, permission: str) -> str:
        manifest = self._privacy.policy.manifest
        items = [i for i in manifest.data_items if i.permission == permission]
        name = _NAMES[permission]
        if not items:
            return f"{name}：本应用不使用"
        purposes = {str(p.id): str(p.name) for p in manifest.purposes}
        why = "、".join(dict.fromkeys(purposes.get(p, p) for i in items for p in i.purposes))
        what = "、".join(str(i.name) for i in items)
        fnames = {str(f.id): str(f.name) for f in manifest.features}
        features = self._features(permission)
        if features:
            where = "，仅在「" + "」「".join(fnames[f] for f in features) + "」中申请"
        else:
            where = "，不会向您申请"
        return f"{name}：用于{why}（{what}）{where}"

    def rationale(self, permissions: str | Sequence[str], feature: str) -> Rationale:
        """The rationale for asking *permissions* in *feature*, from the manifest: what is
        collected with it and why, that it is used only there, what refusing means.

        Raises:
            ValueError: unknown permission. ConsentError: unknown feature.
        """
        asked = _as_tuple(permissions)
        manifest = self._privacy.policy.manifest
        fnames = {str(f.id): str(f.name) for f in manifest.features}
        if feature not in fnames:
            raise ConsentError(f"feature '{feature}' is not declared in the policy manifest")
        fname = fnames[feature]
        purposes = {str(p.id): p for p in manifest.purposes}
        items = [i for i in manifest.data_items
                 if i.permission in asked and feature in tuple(i.required_for)]
        body = []
        for permission in asked:
            mine = [i for i in items if i.permission == permission]
            what = "、".join(str(i.name) for i in mine) or "本功能所需信息"
            why = "；".join(f"{purposes[p].name}（{purposes[p].description}）"
                           for p in dict.fromkeys(p for i in mine for p in i.purposes)
                           if p in purposes)
            body.append(f"{_NAMES[permission]}：用于获取{what}" + (f"，目的是{why}" if why else "")
                        + "。")
        body.append(f"仅在您使用「{fname}」时使用，不会在其他场景或后台调用。")
        if settings_place_of(self._backend) == "app":
            # a desktop: the grant is the app's own dialog; the app's page switches it off
            where = (f"您可随时在本应用内的权限管理中关闭该权限，之后再次使用「{fname}」时"
                     "会重新征求您的同意。")
        else:
            where = "您可随时在系统设置中开启或关闭该权限。"
        body.append(f"如您拒绝，仅「{fname}」无法使用，其他功能不受影响；{where}")
        return Rationale(
            permissions=asked, feature=feature, feature_name=fname,
            title=f"「{fname}」需要使用" + "、".join(_NAMES[p] for p in asked),
            body=tuple(body), items=tuple(str(i.id) for i in items),
            purposes=tuple(dict.fromkeys(str(p) for i in items for p in i.purposes)))

    # -- asking --------------------------------------------------------------------------

    def _check_rules(self, asked: tuple[str, ...], feature: str) -> None:
        """Rules 1-3: consent first, the feature needs it, the feature's consents given."""
        privacy = self._privacy
        if privacy.mode != "full":
            raise ConsentRequired(
                feature if isinstance(feature, str) else "policy",
                "OS permissions are asked only after the user agreed to the privacy policy "
                "(OBL-PERM-1; MIIT 164号文); show the privacy prompt first",
                ("policy",))
        manifest = privacy.policy.manifest
        if not isinstance(feature, str) or feature not in {str(f.id) for f in manifest.features}:
            raise ConsentError(f"feature {feature!r} is not declared in the policy manifest; a "
                               "permission is asked only inside a feature that needs it")
        for permission in asked:
            needing = self._features(permission)
            if feature not in needing:
                where = ", ".join(needing) or "none (no data item of the manifest needs it)"
                raise ConsentError(
                    f"feature '{feature}' does not need permission '{permission}' (OBL-PERM-1: "
                    f"ask only inside a feature that needs it); features that need it: {where}")
        missing = privacy.missing_for_feature(feature)
        if missing:
            raise ConsentRequired(
                feature, f"feature '{feature}' needs consent that is missing: "
                f"{', '.join(missing)}; ask for it first (e.g. sdk.ui.kivy.ask_for_feature), "
                "then ask for the permission", missing)

    def request(self, permissions: str | Sequence[str], *, feature: str,
                rationale: Callable[[Rationale, Callable[[bool], None]], None],
                on_result: Callable[[PermissionResult], None],
                user_initiated: bool = False) -> None:
        """Ask for *permissions* inside *feature*, by the rules of docs/permissions.md.

        Before anything is shown, rules 1-3 are checked (they raise). Then, per permission:
        already usable, ``permanently_denied`` (offer :meth:`open_settings`), ``restricted``
        or ``unavailable``: no prompt; refused less than ``SdkConfig.permission_reask_after``
        ago and not *user_initiated*: no prompt (``quiet_until``); a prompt already showing:
        no second one. If any permission is left, *rationale* is called (on this thread)
        with a :class:`Rationale` and ``proceed(bool)``; only ``proceed(True)`` leads to the
        system prompt, and each prompt and answer is written to the audit trail
        (``privacy.record_permission``). A refusal is an answer, never an error.

        Args:
            permissions: a permission id or several (one rationale, one request).
            feature: the manifest feature asking (e.g. ``"face_signing"``).
            rationale: ``rationale(r, proceed)``: show ``r.title`` / ``r.body`` and call
                ``proceed(True)`` when the user continues, ``proceed(False)`` when not.
            on_result: receives one :class:`PermissionResult`, through the dispatcher, exactly
                once: at once when no prompt is needed, else after the answer (which may
                come on another thread).
            user_initiated: the user started this action on purpose (tapped "scan face"),
                which may prompt again within the quiet window (rule 5).

        Raises:
            ValueError: unknown permission or none.
            ConfigError: *rationale* or *on_result* is not callable.
            ConsentRequired: the user has not agreed to the policy (``.scopes == ("policy",)``),
                or the feature's consents are missing (``.scopes`` names them).
            ConsentError: *feature* is not declared, or does not need the permission.
            PermissionsError: no backend works here, or the app is not set up for the
                permission (raised by the backend, when ``proceed(True)`` is called).
        """
        asked = _as_tuple(permissions)
        if not callable(rationale) or not callable(on_result):
            raise ConfigError("rationale and on_result must be callable: "
                              "rationale(r, proceed), on_result(result)")
        self._check_rules(asked, feature)
        statuses: dict[str, PermissionStatus] = {}
        reasons: dict[str, str] = {}
        token = object()  # this request: owns its in-flight marks
        with self._lock:
            candidates = self._screen(asked, user_initiated, statuses, reasons)
            if candidates:
                self.backend.preflight(candidates)  # set-up problems raise here, not later
                now = time.monotonic()
                # the rationale is open from now on: a second request (a double tap) gets
                # in_progress, not a second rationale (rule 8)
                self._inflight.update({p: (token, now) for p in candidates})
        if not candidates:
            self._deliver(on_result, _result(statuses, reasons, (), feature))
            return
        decided: list[bool] = []
        decided_lock = threading.Lock()

        def proceed(go: bool = True) -> None:
            with decided_lock:
                if decided:
                    return  # a second click
                decided.append(bool(go))
            self._proceed(bool(go), tuple(candidates), feature, user_initiated, statuses,
                          reasons, on_result, token)

        try:
            text = self.rationale(tuple(candidates), feature)
            rationale(text, proceed)
        except BaseException:
            if not decided:
                self._release(candidates, token)
            raise

    def _screen(self, asked: Sequence[str], user_initiated: bool,
                statuses: dict[str, PermissionStatus], reasons: dict[str, str],
                token: object = None) -> list[str]:
        """Rules 5, 6 and 8 for each permission (under the lock): the ones a prompt may still
        be shown for; the others get their status and reason in *statuses* / *reasons*."""
        candidates: list[str] = []
        for permission in asked:
            history = self._history(permission)
            status = self._resolve(self.backend.check(permission), history)
            statuses[permission] = status
            reason = self._no_prompt_reason(permission, status, history, user_initiated, token)
            if reason is None:
                candidates.append(permission)
            else:
                reasons[permission] = reason
        return candidates

    def _no_prompt_reason(self, permission: str, status: PermissionStatus, history: _History,
                          user_initiated: bool, token: object = None) -> str | None:
        if status.usable:
            return "already_granted"
        if status is S.PERMANENTLY_DENIED:
            return "settings_needed"
        if status is S.RESTRICTED:
            return "restricted"
        if status is S.UNAVAILABLE:
            return "unavailable"
        if self._busy(permission, token):
            return "in_progress"
        if not user_initiated and self._quiet_until(history) is not None:
            return "reask_window"
        return None

    def _busy(self, permission: str, token: object = None) -> bool:
        """A rationale or a prompt for *permission* is open, for another request than
        *token*'s (a mark older than ``_INFLIGHT_STALE`` no longer counts)."""
        mark = self._inflight.get(permission)
        if mark is None or mark[0] is token:
            return False
        return time.monotonic() - mark[1] < _INFLIGHT_STALE

    def _release(self, permissions: Sequence[str], token: object) -> None:
        with self._lock:
            for permission in permissions:
                mark = self._inflight.get(permission)
                if mark is not None and mark[0] is token:
                    del self._inflight[permission]

    def _would_break_a_rule(self, permission: str, feature: str, user_initiated: bool) -> bool:
        """What ``record_permission(.., "requested")`` would find (sdk.compliance, as strict
        mode checks it), found *before* anything is written or shown."""
        from .. import compliance
        from ..audit import AuditEntry

        privacy = self._privacy
        earlier = privacy.audit.permission_events(permission)
        entry = AuditEntry(
            seq=(earlier[-1].seq + 1) if earlier else 1 << 62,
            time=privacy.config.clock().astimezone(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            item="", purpose="", lawful_basis=None, outcome="requested",
            reason="user_initiated" if user_initiated else "app_initiated",
            kind="permission", feature=feature, subject=permission)
        found = compliance.findings_for(entry, privacy.ledger, earlier=earlier,
                                        manifest=privacy.policy.manifest)
        if found:
            log.warning("no prompt for %s: it would break a privacy rule (%s)", permission,
                        found[0].kind)
        return bool(found)

    def _proceed(self, go: bool, candidates: tuple[str, ...], feature: str, user_initiated: bool,
                 statuses: dict[str, PermissionStatus], reasons: dict[str, str],
                 on_result: Callable[[PermissionResult], None], token: object) -> None:
        """After the rationale: never raises into the app's button handler; ``on_result`` is
        called exactly once, whatever happens."""
        prompt: tuple[str, ...] = ()
        try:
            prompt = self._before_prompt(go, candidates, feature, user_initiated, statuses,
                                         reasons, token)
        except Exception as exc:  # noqa: BLE001  # set-up or storage problem: an answer
            log.error("no permission prompt: %s: %s", type(exc).__name__, exc)
            reasons.update({p: "backend_error" for p in candidates if p not in reasons})
            prompt = ()
        finally:
            if not prompt:
                self._release(candidates, token)
        if not prompt:
            self._deliver(on_result, _result(statuses, reasons, (), feature))
            return
        shown: list[str] | None = None
        hook = None
        if self.backend.reports_prompts:
            shown = []

            def hook(permissions: Sequence[str]) -> None:
                # the backend is about to show a system prompt: only now is it "requested"
                for permission in permissions:
                    self._privacy.record_permission(permission, feature, "requested",
                                                    user_initiated=user_initiated)
                    shown.append(permission)

        try:
            self.backend.request(
                prompt, lambda answers: self._answered(prompt, feature, user_initiated, answers,
                                                       statuses, reasons, on_result, token,
                                                       shown),
                before_prompt=hook)
        except Exception as exc:  # noqa: BLE001  # the backend failed before answering
            log.error("the permission backend failed to prompt: %s: %s",
                      type(exc).__name__, exc)
            with self._lock:
                answered = all(reasons.get(p) == "answered" for p in prompt)
            if not answered:  # its callback never ran: deliver once here
                self._release(prompt, token)
                reasons.update({p: "backend_error" for p in prompt})
                self._deliver(on_result, _result(statuses, reasons, prompt, feature))

    def _before_prompt(self, go: bool, candidates: tuple[str, ...], feature: str,
                       user_initiated: bool, statuses: dict[str, PermissionStatus],
                       reasons: dict[str, str], token: object) -> tuple[str, ...]:
        """Everything that may stop the prompt, checked before ``requested`` is written; the
        permissions to prompt for (empty: none, *reasons* say why)."""
        if not go:
            reasons.update({p: "rationale_declined" for p in candidates})
            return ()
        try:  # the rationale may have been up for a while: consent can have changed
            self._check_rules(candidates, feature)
        except ConsentError:
            reasons.update({p: "consent_missing" for p in candidates})
            return ()
        with self._lock:
            # ... and so can the status, the quiet window, another request (rules 5, 6, 8)
            screened = self._screen(candidates, user_initiated, statuses, reasons, token)
            prompt = []
            for permission in screened:
                if self._would_break_a_rule(permission, feature, user_initiated):
                    reasons[permission] = "compliance_rule"
                else:
                    prompt.append(permission)
            if not prompt:
                return ()
            self.backend.preflight(prompt)
            if not self.backend.reports_prompts:  # else written when the prompt shows
                for permission in prompt:
                    self._privacy.record_permission(permission, feature, "requested",
                                                    user_initiated=user_initiated)
        return tuple(prompt)

    def _answered(self, prompt: tuple[str, ...], feature: str, user_initiated: bool,
                  answers: dict[str, PermissionStatus], statuses: dict[str, PermissionStatus],
                  reasons: dict[str, str],
                  on_result: Callable[[PermissionResult], None], token: object,
                  shown: list[str] | None = None) -> None:
        """The backend's answer, on whatever thread it came: record, cache, announce."""
        changes: list[PermissionChange] = []
        try:
            with self._lock:
                for permission in prompt:
                    status = answers.get(permission, S.NOT_DETERMINED)
                    entry = None
                    if status is S.NOT_DETERMINED:  # no answer (dismissed, interrupted)
                        status = self._current(permission, statuses[permission])
                    elif status in _OUTCOME:
                        entry = self._record(permission, feature, _OUTCOME[status],
                                             user_initiated)
                    before = self._cache.get(permission, statuses[permission])
                    self._cache[permission] = status
                    statuses[permission] = status
                    reasons[permission] = "answered"
                    if before is not status:
                        changes.append(PermissionChange(permission, before, status, entry))
        finally:
            self._release(prompt, token)
            self._notify(changes)
            prompted = prompt if shown is None else tuple(p for p in prompt if p in shown)
            self._deliver(on_result, _result(statuses, reasons, prompted, feature))

    def _current(self, permission: str, fallback: PermissionStatus) -> PermissionStatus:
        """The status now, read with the history; *fallback* if it cannot be read."""
        try:
            return self._resolve(self.backend.check(permission), self._history(permission))
        except SdkError:
            return fallback

    def _record(self, permission: str, feature: str | None, outcome: str,
                user_initiated: bool) -> Any:
        """Write an answer; on a backend's thread a failure is logged, not raised."""
        try:
            return self._privacy.record_permission(permission, feature, outcome,
                                                   user_initiated=user_initiated)
        except SdkError as exc:
            log.warning("permission answer not recorded (%s)", type(exc).__name__)
            return None

    # -- afterwards ----------------------------------------------------------------------

    def refresh(self, permissions: str | Sequence[str] | None = None) -> list[PermissionChange]:
        """Re-check permissions (call it when the app resumes; the backend's own change events
        call it too). A permission granted on record and not usable now was switched off in
        the settings: ``revoked`` is written to the audit trail and the listeners are told at
        once (a running capture stops). Nothing already collected or uploaded is touched: a
        revocation stops processing from now on (OBL-PERM-3). A permission granted in the
        settings is written as ``granted``. A camera that disappeared is announced
        (``granted`` -> ``unavailable``) but not recorded: the permission still stands.

        Returns:
            the changes (also delivered to the listeners).

        Raises:
            ValueError: unknown permission. PermissionsError: no backend works here.
            StorageError: the audit trail cannot be read or written.
        """
        asked = PERMISSIONS if permissions is None else _as_tuple(permissions)
        changes: list[PermissionChange] = []
        try:
            with self._lock:
                for permission in asked:
                    if self._busy(permission):
                        continue  # its answer is on its way and will be recorded with it
                    change = self._refresh_one(permission)
                    if change is not None:
                        changes.append(change)
        finally:
            self._notify(changes)
        return changes

    def _refresh_one(self, permission: str) -> PermissionChange | None:
        history = self._history(permission)
        after = self._resolve(self.backend.check(permission), history)
        cached = self._cache.get(permission)
        entry = None
        before: PermissionStatus | None = cached
        if history.last_answer == "granted" and not after.usable and after is not S.UNAVAILABLE:
            entry = self._privacy.record_permission(
                permission, None, "revoked",
                user_initiated=after in (S.DENIED, S.PERMANENTLY_DENIED))
            before = cached or S.GRANTED
        elif after.usable and history.last_answer != "granted":
            entry = self._privacy.record_permission(permission, None, "granted",
                                                    user_initiated=True)
            before = cached or _on_record(history.last_answer)
        self._cache[permission] = after
        if before is None or before is after:
            return None
        return PermissionChange(permission, before, after, entry)

    def _backend_changed(self, permission: str) -> None:
        try:
            self.refresh(permission)
        except SdkError as exc:
            log.warning("permission change not recorded (%s)", type(exc).__name__)

    def open_settings(self, permission: str | None = None) -> bool:
        """Open the settings screen for *permission* (or the app's): what the app offers for
        ``permanently_denied``. Call :meth:`refresh` when the app resumes.

        Returns:
            ``True`` when a screen was opened.

        Raises:
            ValueError: unknown permission. PermissionsError: no backend works here.
        """
        return self.backend.open_settings(permission)

    # -- listeners -----------------------------------------------------------------------

    def add_listener(self, listener: Callable[[PermissionChange], None]) -> Callable[[], None]:
        """Call *listener* with a :class:`PermissionChange` for every status change the SDK
        sees (answers, :meth:`refresh`, the backend's own events), through the dispatcher.
        The capture module listens to stop a capture when the camera is revoked
        (``change.revoked``). Exceptions raised by a listener are logged.

        Returns:
            a function that removes the listener.
        """
        if not callable(listener):
            raise ConfigError("listener must be callable, e.g. def on_change(change): ...")
        with self._lock:
            self._listeners.append(listener)

        def remove() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return remove

    def _notify(self, changes: list[PermissionChange]) -> None:
        if not changes:
            return
        with self._lock:
            listeners = list(self._listeners)
        for change in changes:
            for listener in listeners:
                self._deliver(listener, change)

    def _deliver(self, fn: Callable[[Any], None], value: Any) -> None:
        def run() -> None:
            try:
                fn(value)
            except Exception:  # an app callback's bug must not break the SDK's thread
                log.exception("a permission callback raised")

        try:
            self._dispatcher(run)
        except Exception:
            log.exception("the permission dispatcher raised; the callback did not run")


def _as_tuple(permissions: str | Sequence[str]) -> tuple[str, ...]:
    if isinstance(permissions, str):
        listed: list[object] = [permissions]
    elif isinstance(permissions, (list, tuple, set, frozenset)):
        listed = list(permissions)
    else:
        raise InvalidPermission(
            f"permissions must be a permission id or a list of them, e.g. 'camera', not a "
            f"{type(permissions).__name__}; the SDK knows {', '.join(PERMISSIONS)}")
    if not listed:
        raise InvalidPermission("name at least one permission, e.g. 'camera'")
    return tuple(dict.fromkeys(check_permission(p) for p in listed))


def _result(statuses: dict[str, PermissionStatus], reasons: dict[str, str],
            prompted: tuple[str, ...], feature: str) -> PermissionResult:
    return PermissionResult(dict(statuses), dict(reasons), prompted, feature)


def _on_record(answer: str | None) -> PermissionStatus:
    """The status an answer on record stands for."""
    if answer == "granted":
        return S.GRANTED
    if answer == "permanently_denied":
        return S.PERMANENTLY_DENIED
    if answer in ("denied", "revoked"):
        return S.DENIED
    return S.NOT_DETERMINED
