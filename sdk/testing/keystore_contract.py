"""The contract every keystore backend passes (pytest), in the spirit of
``keyring.testing.backend.BackendBasicTests``.

Subclass :class:`KeystoreContract` in a ``test_*.py`` file under a name starting with
``Test`` and provide a ``backend`` fixture returning a fresh, usable backend::

    import pytest
    from sdk.testing.keystore_contract import KeystoreContract

    class TestMyBackend(KeystoreContract):
        @pytest.fixture
        def backend(self, tmp_path):
            return MyBackend(tmp_path)

Every backend must: round-trip a data key; never return garbage for a blob that was
altered, truncated, or made under another key id; make ``delete`` final (and idempotent);
keep key ids independent; and report its viability as ``(bool, str)``.
"""

from __future__ import annotations

import os

import pytest

from ..errors import KeystoreError
from ..storage.keystore import KeystoreBackend

__all__ = ["KeystoreContract"]


def _flip(blob: bytes, index: int) -> bytes:
    data = bytearray(blob)
    data[index] ^= 0x01
    return bytes(data)


class KeystoreContract:
    """Contract tests; the subclass provides the ``backend`` fixture."""

    key_id = "contract-a"
    other_key_id = "contract-b"

    @pytest.fixture
    def backend(self) -> KeystoreBackend:  # pragma: no cover - provided by the subclass
        raise NotImplementedError("provide a 'backend' fixture in your KeystoreContract subclass")

    @pytest.fixture
    def data_key(self) -> bytes:
        return os.urandom(32)

    def test_viable_reports_a_bool_and_a_reason(self, backend: KeystoreBackend) -> None:
        ok, reason = type(backend).viable()
        assert isinstance(ok, bool) and isinstance(reason, str)
        assert ok or reason, "a backend that is not viable must say why"
        assert isinstance(backend.name, str) and backend.name

    def test_wrap_unwrap_round_trip(self, backend: KeystoreBackend, data_key: bytes) -> None:
        blob = backend.wrap(self.key_id, data_key)
        assert isinstance(blob, bytes)
        assert backend.unwrap(self.key_id, blob) == data_key

    def test_blob_does_not_contain_the_data_key(
        self, backend: KeystoreBackend, data_key: bytes
    ) -> None:
        blob = backend.wrap(self.key_id, data_key)
        assert data_key not in blob

    def test_same_key_id_wraps_many_data_keys(self, backend: KeystoreBackend) -> None:
        keys = [os.urandom(32) for _ in range(3)]
        blobs = [backend.wrap(self.key_id, k) for k in keys]
        assert [backend.unwrap(self.key_id, b) for b in blobs] == keys

    def test_tampered_blob_raises(self, backend: KeystoreBackend, data_key: bytes) -> None:
        blob = backend.wrap(self.key_id, data_key)
        for index in (0, 1, len(blob) // 2, len(blob) - 1):
            with pytest.raises(KeystoreError):
                backend.unwrap(self.key_id, _flip(blob, index))

    def test_truncated_blob_raises(self, backend: KeystoreBackend, data_key: bytes) -> None:
        blob = backend.wrap(self.key_id, data_key)
        for cut in (b"", blob[:1], blob[:-8], blob[:-1]):
            with pytest.raises(KeystoreError):
                backend.unwrap(self.key_id, cut)

    def test_wrong_key_id_fails(self, backend: KeystoreBackend, data_key: bytes) -> None:
        blob = backend.wrap(self.key_id, data_key)
        with pytest.raises(KeystoreError):  # a key id that was never created
            backend.unwrap("contract-never-created", blob)
        backend.wrap(self.other_key_id, os.urandom(32))
        with pytest.raises(KeystoreError):  # a key id that exists, with another key
            backend.unwrap(self.other_key_id, blob)

    def test_delete_then_unwrap_raises(self, backend: KeystoreBackend, data_key: bytes) -> None:
        blob = backend.wrap(self.key_id, data_key)
        backend.delete(self.key_id)
        with pytest.raises(KeystoreError):
            backend.unwrap(self.key_id, blob)

    def test_delete_is_final_even_if_the_key_id_is_reused(
        self, backend: KeystoreBackend, data_key: bytes
    ) -> None:
        old = backend.wrap(self.key_id, data_key)
        backend.delete(self.key_id)
        fresh = os.urandom(32)
        new = backend.wrap(self.key_id, fresh)
        assert backend.unwrap(self.key_id, new) == fresh
        with pytest.raises(KeystoreError):
            backend.unwrap(self.key_id, old)

    def test_delete_unknown_key_id_is_a_no_op(self, backend: KeystoreBackend) -> None:
        backend.delete("contract-never-created")
        backend.delete("contract-never-created")

    def test_distinct_key_ids_are_independent(self, backend: KeystoreBackend) -> None:
        a, b = os.urandom(32), os.urandom(32)
        blob_a = backend.wrap(self.key_id, a)
        blob_b = backend.wrap(self.other_key_id, b)
        backend.delete(self.key_id)
        assert backend.unwrap(self.other_key_id, blob_b) == b
        with pytest.raises(KeystoreError):
            backend.unwrap(self.key_id, blob_a)

    def test_rejects_malformed_arguments(self, backend: KeystoreBackend) -> None:
        with pytest.raises(ValueError):
            backend.wrap("", os.urandom(32))
        with pytest.raises(ValueError):
            backend.wrap(self.key_id, b"short")
        with pytest.raises(ValueError):
            backend.wrap(self.key_id, "not bytes")  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            backend.unwrap(self.key_id, "not bytes")  # type: ignore[arg-type]
