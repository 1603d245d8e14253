"""Issue 3's figures: put/get of 10,000 small values in the encrypted store as a ratio to plain
sqlite3 (same machine, same run, same durability settings), and the time to open a store that
holds 10,000 items. Each loop is timed once untraced; its peak memory comes from a second run of
the same loop on fresh files under tracemalloc. ``--quick``: 1,000 values."""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

from ._harness import TRACEMALLOC, Figure, timed_once, traced_peak_kib

N = 10_000
QUICK_N = 1_000
VALUE = b"v" * 64

#: figure id -> the id of its baseline (None: no baseline)
FIGURES = {
    "plain_puts": None,
    "encrypted_puts": "plain_puts",
    "plain_gets": None,
    "encrypted_gets": "plain_gets",
    "encrypted_open": None,
}


def _plain(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE IF NOT EXISTS kv (ns TEXT, k TEXT, v BLOB, PRIMARY KEY (ns, k))")
    return conn


def _plain_puts(conn: sqlite3.Connection, n: int) -> None:
    for i in range(n):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT OR REPLACE INTO kv VALUES (?, ?, ?)", ("bench", f"k{i}", VALUE))
        conn.execute("COMMIT")


def _plain_gets(conn: sqlite3.Connection, n: int) -> None:
    for i in range(n):
        conn.execute("SELECT v FROM kv WHERE ns = ? AND k = ?", ("bench", f"k{i}")).fetchone()


def run(quick: bool = False) -> list[Figure]:
    from demo_app.policy import load_demo_policy
    from sdk.storage.store import EncryptedStore
    from sdk.testing.keystore import MemoryKeystore

    n = QUICK_N if quick else N
    manifest = load_demo_policy().manifest
    purpose = manifest.purposes[0].id
    ms: dict[str, float] = {}
    peak: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        conn = _plain(root / "plain.db")
        ms["plain_puts"] = timed_once(lambda: _plain_puts(conn, n))
        ms["plain_gets"] = timed_once(lambda: _plain_gets(conn, n))
        conn.close()

        keystore = MemoryKeystore()
        store = EncryptedStore(root / "store.db", keystore, manifest)

        def puts(store=store) -> None:
            for i in range(n):
                store.put("bench", f"k{i}", VALUE, purpose=purpose)

        def gets(store=store) -> None:
            for i in range(n):
                store.get("bench", f"k{i}")

        ms["encrypted_puts"] = timed_once(puts)
        ms["encrypted_gets"] = timed_once(gets)
        store.close()

        def open_first_get() -> None:
            reopened = EncryptedStore(root / "store.db", keystore, manifest)
            reopened.get("bench", "k0")
            reopened.close()

        ms["encrypted_open"] = timed_once(open_first_get)
        peak["encrypted_open"] = traced_peak_kib(open_first_get)

        # peak memory: the same loops again, untimed, on fresh files
        conn = _plain(root / "plain-traced.db")
        peak["plain_puts"] = traced_peak_kib(lambda: _plain_puts(conn, n))
        peak["plain_gets"] = traced_peak_kib(lambda: _plain_gets(conn, n))
        conn.close()
        traced = EncryptedStore(root / "store-traced.db", keystore, manifest)
        peak["encrypted_puts"] = traced_peak_kib(lambda: puts(traced))
        peak["encrypted_gets"] = traced_peak_kib(lambda: gets(traced))
        traced.close()
    names = {
        "plain_puts": f"plain sqlite3: {n} puts (one txn each)",
        "encrypted_puts": f"EncryptedStore: {n} puts",
        "plain_gets": f"plain sqlite3: {n} gets",
        "encrypted_gets": f"EncryptedStore: {n} gets",
        "encrypted_open": f"EncryptedStore: open with {n} items + first get",
    }
    return [Figure(key, names[key], round(ms[key], 1), 1, peak[key], TRACEMALLOC) for key in FIGURES]
