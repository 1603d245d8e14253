"""Consent ledger writes and encrypted store put/get (fsync'd SQLite on this disk)."""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

from ._harness import Figure, measure

#: figure id -> the id of its baseline (None: no baseline)
FIGURES = {"ledger_record": None, "store_put_1k": None, "store_get_1k": None}


def run(quick: bool = False) -> list[Figure]:
    from demo_app.policy import load_demo_policy
    from sdk.consent.ledger import ConsentLedger
    from sdk.storage.store import EncryptedStore
    from sdk.testing.keystore import MemoryKeystore

    figures = []
    manifest = load_demo_policy().manifest
    with tempfile.TemporaryDirectory() as tmp:
        ledger = ConsentLedger(Path(tmp) / "consent.db")
        notice = {"policy_version": "bench", "sha256": "0" * 64, "language": "zh-CN"}
        figures.append(measure("ledger_record", "ConsentLedger.record (durable)", lambda: ledger.record(
            decision="granted", purposes=["customer_service"], notice=notice,
            controller="bench", method="explicit_button"), runs=20 if quick else 50))
        ledger.close()

        store = EncryptedStore(Path(tmp) / "store.db", MemoryKeystore(), manifest)
        counter = itertools.count()
        value = b"x" * 1024
        purpose = manifest.purposes[0].id
        figures.append(measure("store_put_1k", "EncryptedStore.put 1 KiB", lambda: store.put(
            "bench", f"k{next(counter)}", value, purpose=purpose), runs=20 if quick else 50))
        store.put("bench", "fixed", value, purpose=purpose)
        figures.append(measure("store_get_1k", "EncryptedStore.get 1 KiB",
                               lambda: store.get("bench", "fixed"), runs=200))
        store.close()
    return figures
