"""The SDK processes the reliability suite kills, and what they share with the parent test.

A worker is a real process that opens the SDK the way an app does (``PrivacySdk.open`` on a
data dir, the passphrase keystore, whose key lives in a file of the data dir and so survives
a kill) and writes until the parent kills it with SIGKILL. Before each call it announces what
it is about to do (``("begin", i, op, arg)``) and after the call returns it acknowledges it
(``("ack", i, result)``), each message written to the pipe at once, so the parent knows
which writes were acknowledged and which one, if any, was in flight when it struck.

Workers are forked from a ``multiprocessing`` fork server that has already imported this
module (and with it the SDK, never Kivy): a worker then starts in milliseconds, where a
fresh interpreter needs ~0.2 s of imports (see :func:`crash_writer` for the keystore).
"""

from __future__ import annotations

import os
import random
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from sdk import PrivacySdk, SdkConfig
from sdk.policy import Policy, load_policy
from sdk.storage.backends.passphrase import PassphraseKeystore

REPO = Path(__file__).resolve().parents[2]
DEMO_POLICY = REPO / "demo_app" / "policy" / "policy.md"
PASSPHRASE = "reliability suite"
#: The separate consent the workers switch on and off (a purpose of the demo manifest).
SCOPE = "purpose:marketing"
#: The store namespace and purpose of the workers' values.
NAMESPACE = "crash"
PURPOSE = "account"
#: The key every worker overwrites again and again (its version counter and row must agree).
HOT_KEY = "hot"
#: What the workers pass through the collection gate (one audit entry each).
AUDIT_ITEM, AUDIT_PURPOSE = "device_ip", "device_security"

_POLICY: Policy | None = None


def policy() -> Policy:
    """The demo app's bundled policy (parsed once per process)."""
    global _POLICY
    if _POLICY is None:
        _POLICY = load_policy(DEMO_POLICY)
    return _POLICY


def passphrase_keystore(data_dir: Path) -> PassphraseKeystore:
    """The keystore every process of the suite uses on *data_dir* (its salt file is there)."""
    return PassphraseKeystore(data_dir, PASSPHRASE)


def open_sdk(data_dir: Path, keystore: PassphraseKeystore | None = None,
             **config: Any) -> PrivacySdk:
    """``PrivacySdk.open`` on *data_dir* with the suite's keystore (*config*: SdkConfig fields)."""
    return PrivacySdk.open(SdkConfig(data_dir=data_dir, **config), policy(),
                           keystore=keystore or passphrase_keystore(data_dir))


def value(run: int, i: int, size: int) -> bytes:
    """The value of numbered key ``run-i``: its name repeated up to *size* bytes (so a value
    that ends up under another key, or cut short, is seen)."""
    unit = f"{run}-{i}|".encode()
    return (unit * (size // len(unit) + 1))[:size]


def crash_writer(data_dir: str, run: int, seed: int, mix: str, acks: Connection,
                 warm: dict[str, bytes] | None = None) -> None:
    """Open the SDK on *data_dir* and write until killed.

    *warm*: wrapping keys the parent already derived from this data dir's salt file, put in
    the keystore's in-process cache (which still checks each one against the salt file before
    use), so the worker skips the ~0.1 s scrypt per key and the kills land in writes rather
    than in key derivation; ``None`` (the first round on a data dir): derived as an app does.

    *mix*: ``store`` (numbered puts and overwrites of :data:`HOT_KEY`), ``ledger`` (grant /
    withdraw :data:`SCOPE`) or ``both`` (either, chosen at random). The choices come from a
    RNG seeded with ``(seed, run)``, so a run can be replayed.
    """
    rng = random.Random(f"{seed}/{run}")
    keys = passphrase_keystore(Path(data_dir))
    keys._keks.update(warm or {})  # the cache PassphraseKeystore._load_kek checks first
    sdk = open_sdk(Path(data_dir), keystore=keys)

    def send(*message: Any) -> None:
        acks.send(message)

    send("opened", os.getpid())
    if sdk.needs_prompt():
        send("begin", 0, "agree", "granted")
        send("ack", 0, sdk.agree(sync=False).record_id)
    i = 1
    while True:
        op = mix if mix != "both" else rng.choice(("store", "store", "ledger"))
        if mix == "both" and i <= 2:  # both keys derived early: later kills land in writes
            op = ("store", "ledger")[i - 1]
        if op == "store" and i > 1 and rng.random() < 0.25:
            marker = f"{run}-{i}"
            send("begin", i, "hot", marker)
            sdk.store.put(NAMESPACE, HOT_KEY, marker, purpose=PURPOSE)
            send("ack", i, marker)
        elif op == "store":
            # mostly small values, sometimes several pages (overflow pages in the same commit)
            size = rng.choice((16, 200, 900, 5000, 20000))
            send("begin", i, "put", size)
            sdk.store.put(NAMESPACE, f"{run}-{i}", value(run, i, size), purpose=PURPOSE)
            send("ack", i, size)
        else:
            granted = sdk.state(SCOPE).status == "granted"
            decision = "withdrawn" if granted else "granted"
            send("begin", i, "decide", decision)
            if granted:
                record = sdk.withdraw(SCOPE, sync=False)
            else:
                record = sdk.grant(SCOPE, sync=False)
            send("ack", i, record.record_id)
        i += 1


def sync_forever(data_dir: str, endpoint: str, ca_bundle: str, acks: Connection) -> None:
    """Open the SDK on *data_dir* against the stub and sync until killed (``("synced", n)``
    after each call); for the kill during a sync."""
    sdk = open_sdk(Path(data_dir), endpoint=endpoint, ca_bundle=Path(ca_bundle), retries=1,
                   backoff=0.0, connect_timeout=5.0, read_timeout=10.0)
    acks.send(("opened", os.getpid()))
    while True:
        acks.send(("synced", sdk.sync()))
        time.sleep(0.001)


def toggle(sdk: PrivacySdk, scope: str) -> Any:
    """Grant *scope* when it is not granted, else withdraw it (no sync)."""
    if sdk.state(scope).status == "granted":
        return sdk.withdraw(scope, sync=False)
    return sdk.grant(scope, sync=False)


def concurrent_writer(data_dir: str, tag: str, count: int, scope: str) -> None:
    """A second app process on *data_dir*: *count* store puts (keys ``tag-i``), audit entries
    and decisions on *scope*, interleaved; exits 0 when every one returned."""
    sdk = open_sdk(Path(data_dir))
    for i in range(count):
        sdk.store.put(NAMESPACE, f"{tag}-{i}", f"{tag} {i}", purpose=PURPOSE)
        sdk.collect(AUDIT_ITEM, AUDIT_PURPOSE)
        toggle(sdk, scope)
    sdk.close()


def first_use(data_dir: str, what: str, go: Any) -> None:
    """A fresh install's first write, started together with another process's (*go*: a
    multiprocessing Event): ``agree`` (makes the device signing key) or ``put`` (makes the
    store's data key). Both make a wrapping key in the keystore's salt file."""
    sdk = open_sdk(Path(data_dir))
    if not go.wait(60):
        raise SystemExit(3)
    if what == "agree":
        sdk.agree(sync=False)
    else:
        sdk.store.put(NAMESPACE, f"first-{os.getpid()}", "first", purpose=PURPOSE)
    sdk.close()


policy()  # parsed once, in the fork server, rather than in every worker


if __name__ == "__main__":  # python -m tests.reliability.worker DATA_DIR TAG COUNT SCOPE
    concurrent_writer(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
