"""A permission backend whose answers are written in advance: for tests, and for QA of a real
app build (``PRIVACY_SDK_PERMISSIONS=scripted``, answers in ``PRIVACY_SDK_PERMISSIONS_SCRIPT``).

It behaves like a phone: a prompt is shown only for a permission whose status still allows
one (``not_determined`` or ``denied``); a granted, permanently denied, restricted or
unavailable permission is answered at once with no prompt. It keeps a record of what it was
asked (:attr:`ScriptedBackend.requests`) and of the prompts it actually showed
(:attr:`ScriptedBackend.prompts`), so a test can assert "no system prompt was shown".

Answers (per permission, used in order; the last one repeats; default ``granted``):

``granted`` / ``limited``
    a prompt is shown and the user allows (all / selected photos).
``denied``
    a prompt is shown and the user refuses; a prompt can be shown again.
``permanently_denied``
    a prompt is shown and the user refuses for good ("don't ask again").
``denied_no_dialog``
    **no** prompt is shown and the answer is ``permanently_denied``: what Android does after
    a second refusal, and what iOS does after any refusal.
``dismissed``
    a prompt is shown and closed without an answer (back button, or an interrupted
    request): the answer is ``not_determined`` and the status does not change.

Timing: ``delay`` seconds before the answer, and ``threaded=True`` answers from another
thread (as python-for-android and iOS do); a delay always answers from another thread.
While the app runs, :meth:`ScriptedBackend.revoke` switches a permission off "in the
settings" and :meth:`ScriptedBackend.set_status` sets any status; both tell the facade
(:meth:`~sdk.permissions.backend.PermissionBackend.on_change`), which records and announces it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from ..errors import ConfigError
from .backend import AnswerCallback, PermissionBackend
from .status import PERMISSIONS, PermissionStatus, check_permission, to_status

__all__ = ["ANSWERS", "Prompt", "ScriptedBackend"]

S = PermissionStatus

#: Scripted answers (module documentation) -> (prompt shown, resulting status).
ANSWERS: Mapping[str, tuple[bool, PermissionStatus | None]] = {
    "granted": (True, S.GRANTED),
    "limited": (True, S.LIMITED),
    "denied": (True, S.DENIED),
    "permanently_denied": (True, S.PERMANENTLY_DENIED),
    "denied_no_dialog": (False, S.PERMANENTLY_DENIED),
    "dismissed": (True, None),
}


@dataclass(frozen=True)
class Prompt:
    """One system prompt the scripted backend showed.

    Attributes:
        permission: the permission prompted for.
        answer: the scripted answer used (a key of :data:`ANSWERS`).
        thread: name of the thread that called ``request``.
    """

    permission: str
    answer: str
    thread: str


class ScriptedBackend(PermissionBackend):
    """Scripted answers (module documentation). Thread-safe.

    Args:
        answers: permission -> an answer or a list of answers (used in order, the last one
            repeats); permissions left out answer ``granted``.
        initial: permission -> status at start (default ``not_determined``), e.g.
            ``{"camera": "unavailable"}`` for a device without a camera.
        delay: seconds before each answer (then from another thread).
        threaded: answer from another thread even without a delay.
        rationale: permission -> the platform's rationale hint; by default ``True`` when the
            status is ``denied`` (as on Android).

    Raises:
        ValueError: an unknown permission, answer or status.
    """

    name: ClassVar[str] = "scripted"
    reports_prompts: ClassVar[bool] = True

    def __init__(self, answers: Mapping[str, str | Sequence[str]] | None = None, *,
                 initial: Mapping[str, str] | None = None, delay: float = 0.0,
                 threaded: bool = False, rationale: Mapping[str, bool] | None = None) -> None:
        super().__init__()
        self._lock = threading.RLock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0
        self._answers: dict[str, list[str]] = {}
        for permission, script in (answers or {}).items():
            self.script(permission, script)
        self._status = {p: S.NOT_DETERMINED for p in PERMISSIONS}
        for permission, status in (initial or {}).items():
            self._status[check_permission(permission)] = to_status(status)
        if delay < 0:
            raise ValueError("delay must be 0 or more seconds")
        self.delay = float(delay)
        self.threaded = bool(threaded)
        self._rationale = {check_permission(p): bool(v) for p, v in (rationale or {}).items()}
        #: Every ``request`` received: the permissions asked, in order.
        self.requests: list[tuple[str, ...]] = []
        #: Every system prompt shown (a request for a granted or permanently denied
        #: permission, or answered ``denied_no_dialog``, shows none).
        self.prompts: list[Prompt] = []
        #: Every ``open_settings`` call: the permission named, or ``None``.
        self.settings_opened: list[str | None] = []

    @classmethod
    def viable(cls) -> tuple[bool, str]:
        """Always viable (it asks nobody)."""
        return True, ""

    @classmethod
    def from_spec(cls, spec: str) -> ScriptedBackend:
        """A backend from a one-line script, as ``PRIVACY_SDK_PERMISSIONS_SCRIPT`` holds it for
        QA: ``;``-separated ``key=value`` pairs, e.g.
        ``camera=denied,granted; photos=denied_no_dialog; initial.phone_state=unavailable;
        delay=1.5; threaded=yes``.

        Keys: a permission (its answers, comma-separated), ``initial.<permission>`` (a
        status), ``delay`` (seconds), ``threaded`` (yes/no). An empty spec grants everything.

        Raises:
            ConfigError: the spec is malformed (the message names the part).
        """
        answers: dict[str, list[str]] = {}
        initial: dict[str, str] = {}
        delay, threaded = 0.0, False
        try:
            for part in filter(None, (p.strip() for p in spec.split(";"))):
                key, sep, value = (x.strip() for x in part.partition("="))
                if not sep or not value:
                    raise ValueError(f"'{part}' is not key=value")
                if key == "delay":
                    delay = float(value)
                elif key == "threaded":
                    threaded = value.lower() in ("1", "yes", "true", "on")
                elif key.startswith("initial."):
                    initial[key.removeprefix("initial.")] = value
                else:
                    answers[key] = [a.strip() for a in value.split(",") if a.strip()]
            return cls(answers, initial=initial, delay=delay, threaded=threaded)
        except ValueError as exc:
            raise ConfigError(
                f"PRIVACY_SDK_PERMISSIONS_SCRIPT is malformed: {exc}; write e.g. "
                "'camera=denied,granted; photos=denied_no_dialog; delay=1'") from None

    # -- scripting, while the app runs ---------------------------------------------------

    def script(self, permission: str, answers: str | Sequence[str]) -> None:
        """Set the answers for *permission*'s next prompts (replaces the earlier script).

        Raises:
            ValueError: unknown permission or answer.
        """
        check_permission(permission)
        listed = [answers] if isinstance(answers, str) else list(answers)
        unknown = [a for a in listed if a not in ANSWERS]
        if not listed or unknown:
            raise ValueError(f"scripted answers must be among {', '.join(ANSWERS)}; "
                             f"got {listed!r}")
        with self._lock:
            self._answers[permission] = listed

    def set_status(self, permission: str, status: str) -> None:
        """Set *permission*'s status as if the user changed it in the system settings (or the
        hardware changed), and tell the facade."""
        check_permission(permission)
        with self._lock:
            self._status[permission] = to_status(status)
        self._changed(permission)

    def revoke(self, permission: str) -> None:
        """The user switches *permission* off in the system settings while the app runs:
        the status becomes ``denied``, and the facade is told."""
        self.set_status(permission, S.DENIED)

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until every answer scheduled on another thread was delivered.

        Returns:
            ``False`` if some were still pending after *timeout* seconds.
        """
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    # -- the backend hooks ---------------------------------------------------------------

    def _check(self, permission: str) -> PermissionStatus:
        with self._lock:
            return self._status[permission]

    def _should_show_rationale(self, permission: str) -> bool:
        with self._lock:
            if permission in self._rationale:
                return self._rationale[permission]
            return self._status[permission] is S.DENIED

    def _open_settings(self, permission: str | None) -> bool:
        with self._lock:
            self.settings_opened.append(permission)
        return True

    def _next_answer(self, permission: str) -> str:
        script = self._answers.get(permission, ["granted"])
        answer = script[0]
        if len(script) > 1:
            script.pop(0)
        return answer

    def _apply(self, changes: dict[str, PermissionStatus]) -> None:
        with self._lock:
            self._status.update(changes)

    def _request(self, permissions: tuple[str, ...], callback: AnswerCallback) -> None:
        thread = threading.current_thread().name
        answers: dict[str, PermissionStatus] = {}
        changes: dict[str, PermissionStatus] = {}
        with self._lock:
            self.requests.append(permissions)
            planned: list[tuple[str, str]] = []
            for permission in permissions:
                current = self._status[permission]
                if not current.promptable:
                    answers[permission] = current
                    continue
                planned.append((permission, self._next_answer(permission)))
            notify = getattr(callback, "before_prompt", None)
            if notify is not None:  # may raise: then nothing is shown
                notify([p for p, a in planned if ANSWERS[a][0]])
            for permission, answer in planned:
                shown, status = ANSWERS[answer]
                if shown:
                    self.prompts.append(Prompt(permission, answer, thread))
                answers[permission] = status if status is not None else S.NOT_DETERMINED
                if status is not None:
                    changes[permission] = status
            later = self.delay > 0 or self.threaded
            if later:
                self._pending += 1
        if not later:
            self._apply(changes)
            callback(answers)
            return

        def deliver() -> None:
            try:
                if self.delay:
                    time.sleep(self.delay)
                self._apply(changes)  # the status changes when the user answers
                callback(answers)
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

        threading.Thread(target=deliver, name="scripted-permission-answer", daemon=True).start()
