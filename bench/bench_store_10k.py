"""Issue 3's figures: put/get of 10,000 small values in the encrypted store as a ratio to plain
sqlite3 (same machine, same run, same durability settings), and the time to open a store that
holds 10,000 items."""

from __future__ import annotations

import sqlite3
import tempfile
import time
from pathlib import Path

from ._harness import Figure

N = 10_000
VALUE = b"v" * 64


def _plain_sqlite(path: Path) -> tuple[float, float]:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE kv (ns TEXT, k TEXT, v BLOB, PRIMARY KEY (ns, k))")
    start = time.perf_counter()
    for i in range(N):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT OR REPLACE INTO kv VALUES (?, ?, ?)", ("bench", f"k{i}", VALUE))
        conn.execute("COMMIT")
    put = time.perf_counter() - start
    start = time.perf_counter()
    for i in range(N):
        conn.execute("SELECT v FROM kv WHERE ns = ? AND k = ?", ("bench", f"k{i}")).fetchone()
    get = time.perf_counter() - start
    conn.close()
    return put, get


def run() -> list[Figure]:
    from demo_app.policy import load_demo_policy
    from sdk.storage.store import EncryptedStore
    from sdk.testing.keystore import MemoryKeystore

    manifest = load_demo_policy().manifest
    purpose = manifest.purposes[0].id
    with tempfile.TemporaryDirectory() as tmp:
        base_put, base_get = _plain_sqlite(Path(tmp) / "plain.db")
        keystore = MemoryKeystore()
        store = EncryptedStore(Path(tmp) / "store.db", keystore, manifest)
        start = time.perf_counter()
        for i in range(N):
            store.put("bench", f"k{i}", VALUE, purpose=purpose)
        put = time.perf_counter() - start
        start = time.perf_counter()
        for i in range(N):
            store.get("bench", f"k{i}")
        get = time.perf_counter() - start
        store.close()
        start = time.perf_counter()
        reopened = EncryptedStore(Path(tmp) / "store.db", keystore, manifest)
        reopened.get("bench", "k0")
        opened = time.perf_counter() - start
        reopened.close()
    return [
        Figure(f"plain sqlite3: {N} puts (one txn each)", round(base_put * 1000, 1), 1, 0.0),
        Figure(f"EncryptedStore: {N} puts", round(put * 1000, 1), 1, 0.0,
               note=f"{put / base_put:.2f}x plain sqlite3"),
        Figure(f"plain sqlite3: {N} gets", round(base_get * 1000, 1), 1, 0.0),
        Figure(f"EncryptedStore: {N} gets", round(get * 1000, 1), 1, 0.0,
               note=f"{get / base_get:.2f}x plain sqlite3"),
        Figure(f"EncryptedStore: open with {N} items + first get", round(opened * 1000, 1), 1, 0.0),
    ]
