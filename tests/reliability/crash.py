"""The kill campaign of the crash-safety tests: start an SDK worker, kill it with SIGKILL at a
random point of its writes, check the data dir, again and again.

Every choice (which data dir, when to kill) comes from ``random.Random(seed)`` and the
workers seed their own choices with ``(seed, run)``: ``RELIABILITY_SEED=<seed>`` replays a
campaign (the seed is printed and is in every problem found).

Rounds go in groups of :data:`ROUNDS_PER_DIR` on one data dir: the first round of a group
starts on an empty dir and is killed at a random time from its start (so kills land in the
first open: schema creation, the keystore's salt file, the store's data key, the device
signing key); the others are killed a few writes in, a random fraction of a write after an
acknowledgement. After every kill the parent checks the dir (:meth:`Campaign.check`).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sdk.consent.proof import verify_chain

from . import worker

#: Kills per campaign unless ``RELIABILITY_KILLS`` says otherwise.
DEFAULT_KILLS = 200
ROUNDS_PER_DIR = 10
#: The longest a worker may take to open and acknowledge (a hung worker fails the test).
ACK_TIMEOUT = 60.0

_CONTEXT: Any = None


def context() -> Any:
    """The ``forkserver`` multiprocessing context, with the worker module (the SDK) preloaded."""
    global _CONTEXT
    if _CONTEXT is None:
        _CONTEXT = multiprocessing.get_context("forkserver")
        _CONTEXT.set_forkserver_preload(["tests.reliability.worker"])
    return _CONTEXT


def kills_wanted() -> int:
    return int(os.environ.get("RELIABILITY_KILLS", DEFAULT_KILLS))


def seed_wanted() -> int:
    text = os.environ.get("RELIABILITY_SEED")
    return int(text) if text else random.SystemRandom().randrange(1, 2**31)


def integrity(path: Path) -> str:
    """``PRAGMA integrity_check`` of one SQLite file, joined ("ok" when sound)."""
    conn = sqlite3.connect(str(path), timeout=10)
    try:
        return "; ".join(str(row[0]) for row in conn.execute("PRAGMA integrity_check"))
    finally:
        conn.close()


@dataclass
class Round:
    """One worker's life: what it announced and acknowledged before the kill."""

    run: int
    data_dir: Path
    fresh: bool
    opened: bool = False
    acked: list[tuple[int, str, Any, Any]] = field(default_factory=list)  # (i, op, arg, result)
    in_flight: tuple[int, str, Any] | None = None  # (i, op, arg) begun, never acknowledged
    exitcode: int | None = None


@dataclass
class Campaign:
    """Runs :attr:`kills` rounds under *root* and collects every problem found."""

    root: Path
    kills: int
    seed: int
    rounds: list[Round] = field(default_factory=list)
    problems: dict[str, list[str]] = field(default_factory=lambda: {
        "integrity": [], "open": [], "store": [], "torn": [], "ledger": [], "chain": [],
        "worker": []})
    seconds: float = 0.0
    #: the parent's keystore per data dir (derives each key once, as one app process does)
    _keystores: dict[Path, Any] = field(default_factory=dict)
    #: seconds from a fresh worker's start to its first acknowledged write (last measured)
    _first_use: float | None = None

    def problem(self, kind: str, rnd: Round, text: str) -> None:
        self.problems[kind].append(f"seed={self.seed} run={rnd.run} dir={rnd.data_dir.name}: "
                                   f"{text}")

    # -- running ------------------------------------------------------------------------------

    def run(self) -> Campaign:
        rng = random.Random(self.seed)
        ctx = context()
        started = time.monotonic()
        history: list[Round] = []  # the rounds of the current data dir
        for run in range(self.kills):
            fresh = run % ROUNDS_PER_DIR == 0
            if fresh:
                history = []
            data_dir = self.root / f"dir{run // ROUNDS_PER_DIR:04d}"
            rnd = Round(run, data_dir, fresh)
            self._one(ctx, rng, rnd)
            history.append(rnd)
            self.rounds.append(rnd)
            self.check(rnd, history)
        self.seconds = time.monotonic() - started
        return self

    def _one(self, ctx: Any, rng: random.Random, rnd: Round) -> None:
        reader, writer = ctx.Pipe(duplex=False)
        warm = None if rnd.fresh else self._derived(rnd.data_dir)
        child = ctx.Process(target=worker.crash_writer,
                            args=(str(rnd.data_dir), rnd.run, self.seed, "both", writer, warm),
                            daemon=True)
        child.start()
        writer.close()
        begun = time.monotonic()
        if rnd.fresh:  # anywhere in the first open and the first writes: the window scales
            # with how long the first use took on this machine (about two kills in three land
            # before the first write returns, on a fast machine as on a loaded one)
            span = 1.5 * (self._first_use if self._first_use is not None else 0.35)
            wanted, deadline = None, begun + rng.uniform(0.0, span)
        else:  # a few writes in, then a fraction of a write later
            wanted, deadline = rng.randint(0, 8), None
        acks = 0
        try:
            while True:
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0 or not reader.poll(left):
                        break
                elif not reader.poll(ACK_TIMEOUT):
                    self.problem("worker", rnd, "no acknowledgement within "
                                 f"{ACK_TIMEOUT:.0f} s")
                    break
                message = reader.recv()
                self._note(rnd, message)
                if rnd.fresh and message[0] == "ack" and len(rnd.acked) == 1:
                    self._first_use = time.monotonic() - begun
                if message[0] == "ack" or (message[0] == "opened" and wanted == 0):
                    acks += message[0] == "ack"
                    if wanted is not None and acks >= wanted:
                        time.sleep(rng.uniform(0.0, 0.006))  # lands inside the next write
                        break
        except EOFError:
            pass
        child.kill()
        child.join(30)
        rnd.exitcode = child.exitcode
        try:  # what the worker wrote before it died is still in the pipe
            while True:
                self._note(rnd, reader.recv())
        except EOFError:
            pass
        reader.close()
        if rnd.exitcode != -9:
            self.problem("worker", rnd, f"the worker ended with {rnd.exitcode}, not SIGKILL "
                         "(it failed on its own: run it again with this seed to see why)")

    def _derived(self, data_dir: Path) -> dict[str, bytes]:
        """The wrapping keys of *data_dir*'s salt file, derived once by the parent."""
        keystore = self._keystores.setdefault(data_dir, worker.passphrase_keystore(data_dir))
        try:
            key_ids = json.loads(keystore.path.read_text(encoding="utf-8"))["keys"]
        except FileNotFoundError:
            return {}
        return {key_id: keystore._load_kek(key_id, create=False) for key_id in key_ids}

    @staticmethod
    def _note(rnd: Round, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "opened":
            rnd.opened = True
        elif kind == "begin":
            rnd.in_flight = (message[1], message[2], message[3])
        elif kind == "ack":
            assert rnd.in_flight is not None and rnd.in_flight[0] == message[1]
            i, op, arg = rnd.in_flight
            rnd.acked.append((i, op, arg, message[2]))
            rnd.in_flight = None

    # -- checking -----------------------------------------------------------------------------

    def check(self, rnd: Round, history: list[Round]) -> None:
        """After the kill of *rnd*: every SQLite file is sound, the SDK and its store open,
        and everything acknowledged on this data dir is there."""
        if not rnd.data_dir.exists():
            return  # killed before the worker created anything
        for path in sorted(rnd.data_dir.glob("*.db")):
            result = integrity(path)
            if result != "ok":
                self.problem("integrity", rnd, f"{path.name}: {result}")
        try:
            keystore = self._keystores.setdefault(rnd.data_dir, worker.passphrase_keystore(rnd.data_dir))
            sdk = worker.open_sdk(rnd.data_dir, keystore=keystore)
        except Exception as exc:  # noqa: BLE001 - reported, with its type and message
            self.problem("open", rnd, f"PrivacySdk.open: {type(exc).__name__}: {exc}")
            return
        try:
            try:
                store = sdk.store
            except Exception as exc:  # noqa: BLE001
                self.problem("open", rnd, f"the store: {type(exc).__name__}: {exc}")
                return
            self._check_store(store, rnd, history)
            self._check_ledger(sdk, rnd, history)
        finally:
            sdk.close()

    def _check_store(self, store: Any, rnd: Round, history: list[Round]) -> None:
        hot: set[str | None] = {None}  # what HOT_KEY may hold: the last acknowledged value, or
        for past in history:           # one whose put was interrupted after it
            for i, op, arg, _ in past.acked:
                if op == "put":
                    got = store.get(worker.NAMESPACE, f"{past.run}-{i}")
                    if got != worker.value(past.run, i, arg):
                        self.problem("store", rnd, f"acknowledged put {past.run}-{i} "
                                     f"({arg} bytes) reads back as "
                                     f"{'nothing' if got is None else f'{len(got)} other bytes'}")
                elif op == "hot":
                    hot = {arg}
            if past.in_flight is not None:
                i, op, arg = past.in_flight
                if op == "hot":
                    hot.add(arg)
                elif op == "put":  # the put a kill interrupted: whole or absent
                    got = store.get(worker.NAMESPACE, f"{past.run}-{i}")
                    if got not in (None, worker.value(past.run, i, arg)):
                        self.problem("torn", rnd, f"the interrupted put {past.run}-{i} is "
                                     f"partly there ({len(got)} of {arg} bytes)")
        got_hot = store.get_text(worker.NAMESPACE, worker.HOT_KEY)
        if got_hot not in hot:
            self.problem("store", rnd, f"'{worker.HOT_KEY}' holds {got_hot!r}, expected one "
                         f"of {sorted(map(str, hot))}")
        for entry in store.entries(worker.NAMESPACE):  # every row decrypts (none half-written)
            try:
                store.get(worker.NAMESPACE, entry.key)
            except Exception as exc:  # noqa: BLE001
                self.problem("torn", rnd, f"{entry.key}: {type(exc).__name__}")

    def _check_ledger(self, sdk: Any, rnd: Round, history: list[Round]) -> None:
        records = sdk.ledger.export_records()
        position = {r["record_id"]: n for n, r in enumerate(records)}
        acked = [result for past in history for _, op, _, result in past.acked
                 if op in ("agree", "decide")]
        missing = [rid for rid in acked if rid not in position]
        if missing:
            self.problem("ledger", rnd, f"{len(missing)} acknowledged decision(s) missing: "
                         f"{missing[:3]}")
        places = [position[rid] for rid in acked if rid in position]
        if places != sorted(places):
            self.problem("ledger", rnd, "acknowledged decisions are out of order")
        interrupted = sum(past.in_flight is not None and past.in_flight[1] in ("agree", "decide")
                          for past in history)
        unexplained = len(records) - len(places)
        if unexplained > interrupted:
            self.problem("ledger", rnd, f"{unexplained} record(s) nobody acknowledged, "
                         f"{interrupted} interrupted decision(s)")
        report = verify_chain(records)
        if not report.ok:
            self.problem("chain", rnd, "; ".join(str(p) for p in report.problems[:3]))
        last = next((r for r in reversed(records) if r.get("scope") == worker.SCOPE), None)
        status = sdk.state(worker.SCOPE).status
        expected = "not_asked" if last is None else last["decision"]
        if status != expected:
            self.problem("ledger", rnd, f"{worker.SCOPE} is {status}, its last record "
                         f"says {expected}")

    # -- figures ------------------------------------------------------------------------------

    def figures(self) -> dict[str, Any]:
        mid_write = sum(r.in_flight is not None for r in self.rounds)
        return {
            "seed": self.seed,
            "kills": len(self.rounds),
            "seconds": round(self.seconds, 1),
            "killed_mid_write": mid_write,
            "killed_mid_store_write": sum(r.in_flight is not None and r.in_flight[1] in
                                          ("put", "hot") for r in self.rounds),
            "killed_mid_decision": sum(r.in_flight is not None and r.in_flight[1] in
                                       ("agree", "decide") for r in self.rounds),
            "killed_in_first_use": sum(r.fresh and not r.acked for r in self.rounds),
            "acknowledged_writes": sum(len(r.acked) for r in self.rounds),
            "problems": sum(len(v) for v in self.problems.values()),
        }
