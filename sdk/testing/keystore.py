"""An in-memory keystore backend for tests. **Not for production.**

:class:`MemoryKeystore` keeps its wrapping keys in a dict in this process: nothing reaches
the OS keystore, nothing survives the process, and nothing is protected. Use it to test app
code that opens an :class:`~sdk.storage.store.EncryptedStore` without a desktop keyring::

    from sdk.testing.keystore import MemoryKeystore
    store = EncryptedStore(tmp_path / "store.db", MemoryKeystore(), manifest)

It wraps exactly like the real software backends (AES key wrap, RFC 3394) and passes the
same contract (:mod:`sdk.testing.keystore_contract`), so tamper and wrong-key behaviour in
your tests is the real one.
"""

from __future__ import annotations

import threading
from typing import ClassVar

from ..storage.backends._kek import KekWrapBackend, new_kek

__all__ = ["MemoryKeystore"]


class MemoryKeystore(KekWrapBackend):
    """Wrapping keys in a dict, for tests only (see the module docstring)."""

    name: ClassVar[str] = "memory"

    def __init__(self) -> None:
        self._keks: dict[str, bytes] = {}
        self._lock = threading.Lock()

    @classmethod
    def viable(cls) -> tuple[bool, str]:
        """Always viable (it is a test fake)."""
        return True, ""

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Ids of the wrapping keys held now (handy to assert that a wipe deleted its key)."""
        with self._lock:
            return tuple(sorted(self._keks))

    def _load_kek(self, key_id: str, create: bool) -> bytes | None:
        with self._lock:
            kek = self._keks.get(key_id)
            if kek is None and create:
                kek = self._keks[key_id] = new_kek()
            return kek

    def _delete_kek(self, key_id: str) -> None:
        with self._lock:
            self._keks.pop(key_id, None)
