"""The last resort: no camera. Every capture raises :class:`CameraUnavailable` with what each
backend lacked and what to do (modelled on ``keyring.backends.fail`` and the keystore's)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, NoReturn

from ..backend import CameraBackend, CaptureRequest, StopSignal, what_to_do
from ..errors import CameraUnavailable

__all__ = ["FailCamera"]


class FailCamera(CameraBackend):
    """A backend that cannot capture.

    Args:
        reasons: backend name -> why it is not usable here.
        head: the first sentence (what was asked for).
    """

    name: ClassVar[str] = "fail"
    source: ClassVar[str] = "none"  # type: ignore[assignment]
    kinds: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, reasons: Mapping[str, str] | None = None,
                 head: str = "no camera is usable here.") -> None:
        self.reasons = dict(reasons or {})
        self.head = head

    @property
    def message(self) -> str:
        """The full explanation every capture raises."""
        details = " ".join(f"[{n}] {r.rstrip().rstrip('.')}." for n, r in self.reasons.items())
        return " ".join(part for part in (self.head, details, what_to_do()) if part)

    @classmethod
    def viable(cls) -> tuple[bool, str]:
        return True, ""

    def check(self, request: CaptureRequest) -> NoReturn:
        raise CameraUnavailable(self.message)

    def capture(self, request: CaptureRequest, stop: StopSignal) -> NoReturn:
        raise CameraUnavailable(self.message)
