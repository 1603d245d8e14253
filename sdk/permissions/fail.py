"""The last resort: no permission backend. Every call raises :class:`PermissionsError` with an
actionable message: what each backend lacked and what to install or set.

As for the keystore (:mod:`sdk.storage.backends.fail`): failing loudly where a permission is
first needed beats answering ``unavailable`` and leaving a developer to wonder why the
camera never works. It only happens on a misconfigured build (e.g. an Android build without
pyjnius) or when ``PRIVACY_SDK_PERMISSIONS`` names a backend that cannot work here; a user's
refusal is never an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, NoReturn

from ..errors import PermissionsError
from .backend import ENV_VAR, AnswerCallback, PermissionBackend

__all__ = ["FailBackend"]

_WHAT_TO_DO = (
    "To fix, do one of: "
    "(1) on Android, add 'pyjnius' and 'android' to the buildozer requirements "
    "(python-for-android's 'android' recipe provides android.permissions); "
    "(2) on iOS, add 'pyobjus' to the kivy-ios build; "
    f"(3) set {ENV_VAR} to a backend that works here (desktop on Linux, macOS or Windows; "
    "scripted for tests and QA). "
    "The SDK never pretends a permission is granted."
)


class FailBackend(PermissionBackend):
    """A backend that cannot ask for anything: every method raises
    :class:`PermissionsError` (argument errors still raise ``ValueError`` first).

    Args:
        reasons: backend name -> why it is not usable here.
        chosen: the backend asked for by name, if any.
        chosen_by: who asked for it (the environment variable, or the app).
    """

    name: ClassVar[str] = "fail"
    usable: ClassVar[bool] = False

    def __init__(self, reasons: Mapping[str, str] | None = None, *,
                 chosen: str | None = None, chosen_by: str = "") -> None:
        super().__init__()
        self.reasons = dict(reasons or {})
        self.chosen = chosen
        self.chosen_by = chosen_by

    @classmethod
    def viable(cls) -> tuple[bool, str]:
        """Always "viable": it is the backend that explains why nothing else is."""
        return True, ""

    @property
    def message(self) -> str:
        """The full explanation raised by every call."""
        if self.chosen == "fail":
            head = (f"OS permissions are disabled: {self.chosen_by or ENV_VAR} chose the "
                    "'fail' backend.")
        elif self.chosen:
            head = (f"the permission backend '{self.chosen}' chosen by "
                    f"{self.chosen_by or 'configuration'} cannot be used here.")
        else:
            head = "no permission backend is usable on this machine."
        details = " ".join(
            f"[{name}] {reason.rstrip().rstrip('.')}." for name, reason in self.reasons.items())
        return " ".join(part for part in (head, details, _WHAT_TO_DO) if part)

    def _raise(self) -> NoReturn:
        raise PermissionsError(self.message)

    def _check(self, permission: str) -> NoReturn:
        self._raise()

    def _request(self, permissions: tuple[str, ...], callback: AnswerCallback) -> NoReturn:
        self._raise()

    def _should_show_rationale(self, permission: str) -> NoReturn:
        self._raise()

    def _preflight(self, permissions: tuple[str, ...]) -> NoReturn:
        self._raise()

    def _open_settings(self, permission: str | None) -> NoReturn:
        self._raise()
