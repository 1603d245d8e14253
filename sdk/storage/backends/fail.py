"""The last resort: no keystore. Every call raises :class:`KeystoreUnavailable` with an
actionable message: what each backend lacked and what to install or set.

Modelled on ``keyring.backends.fail``: failing loudly where the key is first needed beats
returning nothing (or, worse, a plaintext key file) and failing later.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, NoReturn

from ...errors import KeystoreUnavailable
from ..keystore import ENV_VAR, KeystoreBackend

__all__ = ["FailKeystore"]

_WHAT_TO_DO = (
    "To fix, do one of: "
    "(1) on a desktop, install and unlock an OS keyring: a Secret Service keyring such as "
    "'gnome-keyring' (apt install gnome-keyring; it needs a D-Bus session and an unlocked "
    "'login' keyring) or KWallet, plus the Python package 'keyring'; "
    "(2) have the app opt into the passphrase backend by passing a passphrase to "
    "select_backend(..., passphrase=...), e.g. asked from the user; "
    f"(3) set {ENV_VAR} to a backend that works here "
    "(keyring, android, ios, or passphrase when the app passes one). "
    "The SDK never falls back to storing the key in a plaintext file."
)


class FailKeystore(KeystoreBackend):
    """A backend that cannot keep keys: every method raises :class:`KeystoreUnavailable`.

    Args:
        reasons: backend name -> why it is not usable here.
        chosen: the backend that was asked for by name, if any.
        chosen_by: who asked for it (the environment variable, or the app).
    """

    name: ClassVar[str] = "fail"

    def __init__(
        self,
        reasons: Mapping[str, str] | None = None,
        *,
        chosen: str | None = None,
        chosen_by: str = "",
    ) -> None:
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
            head = f"the keystore is disabled: {self.chosen_by or ENV_VAR} chose the 'fail' backend."
        elif self.chosen:
            head = (
                f"the keystore backend '{self.chosen}' chosen by "
                f"{self.chosen_by or 'configuration'} cannot be used here."
            )
        else:
            head = "no keystore backend is usable on this machine, so data cannot be encrypted at rest."
        details = " ".join(
            f"[{name}] {reason.rstrip().rstrip('.')}." for name, reason in self.reasons.items()
        )
        return " ".join(part for part in (head, details, _WHAT_TO_DO) if part)

    def _raise(self) -> NoReturn:
        raise KeystoreUnavailable(self.message)

    def _wrap(self, key_id: str, data_key: bytes) -> bytes:
        self._raise()

    def _unwrap(self, key_id: str, blob: bytes) -> bytes:
        self._raise()

    def _delete(self, key_id: str) -> None:
        self._raise()
