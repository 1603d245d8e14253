"""Nonce and key misuse (MASVS-CRYPTO-1, MASVS-CRYPTO-2; OBL-SEC-2).

Tampering, wrong keys and wrong info are covered at length in tests/sdk/test_envelope.py,
tests/sdk/test_store.py and tests/sdk/test_consent_proof.py (docs/security.md lists them);
these add what they leave out: no encapsulation, nonce or ciphertext ever repeats for the same
plaintext, a unit cannot be opened under the other suite's key of the same id, a private key
cannot be used to seal, and a value sealed under one store's data key does not open in another
store at the very same place.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from sdk.errors import EnvelopeError, IntegrityError
from sdk.policy.manifest import load_manifest
from sdk.storage.backends.passphrase import PassphraseKeystore
from sdk.storage.store import EncryptedStore
from sdk.transport import envelope as e

from .conftest import DEMO_POLICY_DIR

FIELD = {"field": "id_number", "submission": "2f1d7a0e-3c4b-4d5e-8f90-a1b2c3d4e5f6",
         "purpose": "realname_verification", "consent_id": "c0ffee00-0000-4000-8000-000000000001"}
SUITES = [e.SUITE_MLKEM768_X25519, e.SUITE_X25519]
MANIFEST = load_manifest(DEMO_POLICY_DIR / "manifest.toml")


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name.split("/")[0])
def test_sealing_the_same_field_never_repeats_an_encapsulation_or_a_ciphertext(suite: e.HpkeSuite) -> None:  # MASVS-CRYPTO-1
    key = e.EnvelopePrivateKey.generate("k-1", suite).public_key()
    sealed = [e.seal_field(key, "11010519491231002X", **FIELD) for _ in range(64)]
    encs = {unit[: suite.enc_length] for unit in sealed}
    bodies = {unit[suite.enc_length:] for unit in sealed}
    assert len(encs) == len(bodies) == 64


def test_a_unit_sealed_for_one_suite_does_not_open_with_the_other_suites_key_of_the_same_kid() -> None:  # MASVS-CRYPTO-2
    x25519 = e.EnvelopePrivateKey.generate("k-1", e.SUITE_X25519)
    xwing = e.EnvelopePrivateKey("k-1", e.SUITE_MLKEM768_X25519, x25519.secret)  # same secret too
    for sealer, opener in ((x25519, xwing), (xwing, x25519)):
        sealed = e.seal_field(sealer.public_key(), b"secret", **FIELD)
        with pytest.raises(EnvelopeError) as caught:
            e.open_field({opener.kid: opener}.get, sealed, kid=opener.kid, **FIELD)
        assert caught.value.code in ("open_failed", "wrong_length")


def test_a_private_key_cannot_be_used_to_seal() -> None:  # MASVS-CRYPTO-2
    private = e.EnvelopePrivateKey.generate("k-1", e.SUITE_X25519)
    with pytest.raises(EnvelopeError) as caught:
        e.seal_field(private, b"secret", **FIELD)  # type: ignore[arg-type]
    assert caught.value.code == "bad_key"


def _rows(path: Path) -> list[tuple[bytes, bytes]]:
    with sqlite3.connect(path) as conn:
        return [(bytes(n), bytes(c)) for n, c in conn.execute("SELECT nonce, ciphertext FROM items")]


@pytest.fixture
def keystore(tmp_path: Path) -> PassphraseKeystore:
    return PassphraseKeystore(tmp_path / "keys", "crypto-misuse-passphrase")


def test_the_store_never_repeats_a_nonce_for_the_same_value_and_place(tmp_path: Path, keystore) -> None:  # MASVS-CRYPTO-1, OBL-SEC-2
    path = tmp_path / "store.db"
    seen: list[tuple[bytes, bytes]] = []
    with EncryptedStore(path, keystore, MANIFEST) as store:
        for _ in range(32):
            store.put("profile", "phone", "+8613900139000", purpose="account")
            seen.extend(_rows(path))
    nonces = {nonce for nonce, _ in seen}
    ciphertexts = {ciphertext for _, ciphertext in seen}
    assert len(seen) == 32 and len(nonces) == len(ciphertexts) == 32
    assert all(len(nonce) == 12 for nonce in nonces)


def test_a_value_sealed_under_another_stores_key_does_not_open_in_its_place(tmp_path: Path, keystore) -> None:  # MASVS-CRYPTO-2, OBL-SEC-2
    first, second = tmp_path / "first.db", tmp_path / "second.db"
    for path, value in ((first, "+8613900139000"), (second, "+8613700137000")):
        with EncryptedStore(path, keystore, MANIFEST) as store:
            store.put("profile", "phone", value, purpose="account")
    [(nonce, ciphertext)] = _rows(first)
    # same namespace, key, version, purpose and (no) expiry: the associated data is the same,
    # only the data key differs
    with sqlite3.connect(second) as conn:
        conn.execute("UPDATE items SET nonce = ?, ciphertext = ?", (nonce, ciphertext))
    with EncryptedStore(second, keystore, MANIFEST) as store, pytest.raises(IntegrityError):
        store.get("profile", "phone")
