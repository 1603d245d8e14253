"""The contract every permission backend passes (pytest), like
:mod:`sdk.testing.keystore_contract` for keystores.

Subclass :class:`PermissionBackendContract` in a ``test_*.py`` file under a name starting
with ``Test``, provide a ``backend`` fixture returning a fresh backend and, when the backend
can be told how the next prompt is answered, override :meth:`arrange_answer`::

    import pytest
    from sdk.permissions.scripted import ScriptedBackend
    from sdk.testing.permissions_contract import PermissionBackendContract

    class TestMyBackend(PermissionBackendContract):
        @pytest.fixture
        def backend(self):
            return ScriptedBackend()

        def arrange_answer(self, backend, permission, answer):
            backend.script(permission, answer)       # "granted" or "denied"
            return True

Every backend must: report its viability as ``(bool, str)`` with a reason when not viable;
give a :class:`~sdk.permissions.PermissionStatus` for every permission and refuse unknown
ones with ``ValueError``; answer each ``request`` **exactly once**, for exactly the
permissions asked, from whatever thread, even when requests come from several threads at
once and when the callback raises; agree with itself (an answer is what ``check`` reports
next); answer a permission that cannot be prompted for (granted, permanently denied,
restricted, unavailable) without a prompt; return a bool from ``should_show_rationale`` and
``open_settings``. A backend that cannot work here (``usable = False``: the fail backend)
instead raises :class:`~sdk.errors.PermissionsError` from every call, with a message that
says what to do.

Android and iOS backends need a device, and a person to answer the prompts; this project's
suite checks them by viability only (tests/sdk/test_permissions_backends.py).

Needs pytest.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from ..errors import PermissionsError
from ..permissions.backend import ENV_VAR, PermissionBackend
from ..permissions.status import PERMISSIONS, PermissionStatus

__all__ = ["PermissionBackendContract"]

#: Seconds to wait for an answer from another thread.
TIMEOUT = 5.0


class _Answers:
    """Collects the answers of one ``request``: how many calls, with what, on which thread."""

    def __init__(self) -> None:
        self.calls: list[dict[str, PermissionStatus]] = []
        self.threads: list[str] = []
        self.done = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, answers: dict[str, PermissionStatus]) -> None:
        with self._lock:
            self.calls.append(answers)
            self.threads.append(threading.current_thread().name)
        self.done.set()

    def wait(self) -> dict[str, PermissionStatus]:
        assert self.done.wait(TIMEOUT), "the backend never answered the request"
        return self.calls[0]


def _assert_says_what_to_do(backend: PermissionBackend) -> None:
    """An unusable backend (the fail backend) raises PermissionsError from every call, and
    the message names the way out (the environment variable among others)."""
    calls = [lambda: backend.check("camera"),
             lambda: backend.request(["camera"], lambda answers: None),
             lambda: backend.should_show_rationale("camera"),
             lambda: backend.open_settings("camera")]
    for call in calls:
        with pytest.raises(PermissionsError) as info:
            call()
        assert ENV_VAR in str(info.value)


class PermissionBackendContract:
    """Contract tests; the subclass provides the ``backend`` fixture."""

    @pytest.fixture
    def backend(self) -> PermissionBackend:  # pragma: no cover - provided by the subclass
        raise NotImplementedError(
            "provide a 'backend' fixture in your PermissionBackendContract subclass")

    def arrange_answer(self, backend: Any, permission: str, answer: str) -> bool:
        """Make the next prompt for *permission* be answered *answer* (``"granted"`` or
        ``"denied"``). Return ``False`` when this backend cannot be told (the tests that need
        it are skipped)."""
        return False

    # -- helpers -------------------------------------------------------------------------

    @staticmethod
    def _promptable(backend: PermissionBackend) -> list[str]:
        return [p for p in PERMISSIONS if backend.check(p).promptable]

    def _arranged(self, backend: PermissionBackend, answer: str) -> str:
        for permission in self._promptable(backend):
            if self.arrange_answer(backend, permission, answer):
                return permission
        pytest.skip("this backend cannot be told how a prompt is answered here")

    # -- viability and identity ----------------------------------------------------------

    def test_viable_reports_a_bool_and_a_reason(self, backend: PermissionBackend) -> None:
        ok, reason = type(backend).viable()
        assert isinstance(ok, bool) and isinstance(reason, str)
        assert ok or reason, "a backend that is not viable must say why"

    def test_name_is_a_non_empty_string(self, backend: PermissionBackend) -> None:
        assert isinstance(backend.name, str) and backend.name

    def test_every_call_works_or_says_what_to_do(self, backend: PermissionBackend) -> None:
        if not backend.usable:
            return _assert_says_what_to_do(backend)
        backend.check("camera")
        backend.should_show_rationale("camera")
        backend.open_settings("camera")

    # -- arguments -----------------------------------------------------------------------

    def test_unknown_permission_is_refused(self, backend: PermissionBackend) -> None:
        with pytest.raises(ValueError):
            backend.check("microphone")
        with pytest.raises(ValueError):
            backend.request(["microphone"], lambda answers: None)
        with pytest.raises(ValueError):
            backend.should_show_rationale("microphone")
        with pytest.raises(ValueError):
            backend.open_settings("microphone")

    def test_malformed_requests_are_refused(self, backend: PermissionBackend) -> None:
        with pytest.raises(ValueError):
            backend.request([], lambda answers: None)
        with pytest.raises(ValueError):
            backend.request("camera", lambda answers: None)  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            backend.request(["camera"], "not callable")  # type: ignore[arg-type]

    # -- the usable backend's behaviour ---------------------------------------------------

    def test_check_gives_a_status_for_every_permission(self, backend: PermissionBackend) -> None:
        if not backend.usable:
            return _assert_says_what_to_do(backend)
        for permission in PERMISSIONS:
            assert isinstance(backend.check(permission), PermissionStatus)

    def test_request_answers_once_for_exactly_the_permissions_asked(
        self, backend: PermissionBackend
    ) -> None:
        if not backend.usable:
            return _assert_says_what_to_do(backend)
        answers = _Answers()
        backend.request(list(PERMISSIONS), answers)
        got = answers.wait()
        assert set(got) == set(PERMISSIONS)
        assert all(isinstance(s, PermissionStatus) for s in got.values())
        threading.Event().wait(0.05)  # a second, late call would show up here
        assert len(answers.calls) == 1

    def test_a_grant_is_what_check_reports_next(self, backend: PermissionBackend) -> None:
        if not backend.usable:
            return _assert_says_what_to_do(backend)
        permission = self._arranged(backend, "granted")
        answers = _Answers()
        backend.request([permission], answers)
        assert answers.wait()[permission] is PermissionStatus.GRANTED
        assert backend.check(permission) is PermissionStatus.GRANTED

    def test_a_refusal_is_what_check_reports_next(self, backend: PermissionBackend) -> None:
        if not backend.usable:
            return _assert_says_what_to_do(backend)
        permission = self._arranged(backend, "denied")
        answers = _Answers()
        backend.request([permission], answers)
        answer = answers.wait()[permission]
        assert answer in (PermissionStatus.DENIED, PermissionStatus.PERMANENTLY_DENIED)
        assert backend.check(permission) is answer

    def test_a_granted_permission_is_answered_without_asking_again(
        self, backend: PermissionBackend
    ) -> None:
        if not backend.usable:
            return _assert_says_what_to_do(backend)
        permission = self._arranged(backend, "granted")
        first = _Answers()
        backend.request([permission], first)
        first.wait()
        self.arrange_answer(backend, permission, "denied")  # would show if it asked again
        again = _Answers()
        backend.request([permission], again)
        assert again.wait()[permission] is PermissionStatus.GRANTED

    def test_concurrent_requests_each_get_one_answer(self, backend: PermissionBackend) -> None:
        if not backend.usable:
            return _assert_says_what_to_do(backend)
        collectors = [_Answers() for _ in range(8)]
        threads = [threading.Thread(target=backend.request, args=(["photos"], c))
                   for c in collectors]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(TIMEOUT)
        for collector in collectors:
            assert set(collector.wait()) == {"photos"}
            assert len(collector.calls) == 1

    def test_a_raising_callback_does_not_break_the_backend(
        self, backend: PermissionBackend
    ) -> None:
        if not backend.usable:
            return _assert_says_what_to_do(backend)
        raised = threading.Event()

        def bad(answers: dict[str, PermissionStatus]) -> None:
            raised.set()
            raise RuntimeError("an app bug")

        backend.request(["photos"], bad)
        assert raised.wait(TIMEOUT)
        answers = _Answers()
        backend.request(["photos"], answers)
        assert set(answers.wait()) == {"photos"}

    def test_hints_and_settings_are_bools(self, backend: PermissionBackend) -> None:
        if not backend.usable:
            return _assert_says_what_to_do(backend)
        for permission in PERMISSIONS:
            assert isinstance(backend.should_show_rationale(permission), bool)
        assert isinstance(backend.open_settings("photos"), bool)

    def test_change_listener_can_be_removed(self, backend: PermissionBackend) -> None:
        remove = backend.on_change(lambda permission: None)
        remove()
        remove()  # idempotent
        with pytest.raises(ValueError):
            backend.on_change("not callable")  # type: ignore[arg-type]
