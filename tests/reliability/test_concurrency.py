"""Concurrency (issue #8 "Reliability suite"): the UI thread and upload workers writing at
once, through one PrivacySdk and from a second process on the same data dir: no write fails
("database is locked" or any other error) and none is lost (rows counted at the end).
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sdk import PrivacySdk
from sdk.consent.proof import verify_chain

from . import worker
from .crash import context

PUTS = 150  # per upload worker
DECISIONS = 40  # per deciding thread
COLLECTS = 150  # audit entries per collecting thread
UI_SCOPE, OTHER_SCOPE, CHILD_SCOPE = worker.SCOPE, "purpose:certificate", "purpose:realname_verification"


@dataclass
class Outcome:
    """What a concurrent run did: the errors raised, and the rows expected afterwards."""

    sdk: PrivacySdk
    errors: list[str] = field(default_factory=list)
    puts: int = 0
    decisions: int = 0
    collects: int = 0
    child: subprocess.CompletedProcess[str] | None = None


def run_threads(sdk: PrivacySdk, outcome: Outcome, jobs: dict[str, Callable[[], None]],
                before_join: Callable[[], None] = lambda: None) -> None:
    """Start one thread per job behind a barrier; every exception is kept (type: message)."""
    barrier = threading.Barrier(len(jobs))

    def body(name: str, job: Callable[[], None]) -> None:
        try:
            barrier.wait(30)
            job()
        except Exception as exc:  # noqa: BLE001 - reported by the test
            outcome.errors.append(f"{name}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=body, args=item, name=item[0]) for item in jobs.items()]
    for thread in threads:
        thread.start()
    before_join()
    for thread in threads:
        thread.join(90)
    assert not any(thread.is_alive() for thread in threads), "a writer thread hangs"


def jobs_for(sdk: PrivacySdk, tag: str) -> dict[str, Callable[[], None]]:
    """The UI thread (decisions on two scopes), two upload workers (store puts) and the
    collection gate (audit entries), all through *sdk*."""
    def ui() -> None:
        for _ in range(DECISIONS):
            worker.toggle(sdk, UI_SCOPE)

    def settings() -> None:
        for _ in range(DECISIONS):
            worker.toggle(sdk, OTHER_SCOPE)

    def upload(n: int) -> Callable[[], None]:
        def put() -> None:
            for i in range(PUTS):
                sdk.store.put(worker.NAMESPACE, f"{tag}{n}-{i}", f"{tag}{n} {i}" * 20,
                              purpose=worker.PURPOSE)
        return put

    def collect() -> None:
        for _ in range(COLLECTS):
            sdk.collect(worker.AUDIT_ITEM, worker.AUDIT_PURPOSE)

    return {"ui": ui, "settings": settings, "upload0": upload(0), "upload1": upload(1),
            "collect": collect}


@pytest.fixture(scope="module")
def one_sdk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    """Five threads writing at once through one PrivacySdk."""
    data_dir = tmp_path_factory.mktemp("threads") / "device"
    with worker.open_sdk(data_dir) as sdk:
        sdk.agree(sync=False)
        outcome = Outcome(sdk, puts=2 * PUTS, decisions=2 * DECISIONS, collects=COLLECTS)
        run_threads(sdk, outcome, jobs_for(sdk, "t"))
        yield outcome


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    """The same five threads, while a second process (a fresh interpreter) opens the SDK on
    the same data dir and writes to the same three files."""
    data_dir = tmp_path_factory.mktemp("processes") / "device"
    with worker.open_sdk(data_dir) as sdk:
        sdk.agree(sync=False)
        sdk.store.put(worker.NAMESPACE, "first", "made before the second process starts",
                      purpose=worker.PURPOSE)
        outcome = Outcome(sdk, puts=2 * PUTS + 1 + PUTS, decisions=2 * DECISIONS + PUTS,
                          collects=COLLECTS + PUTS)
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.worker", str(data_dir), "p", str(PUTS),
             CHILD_SCOPE], cwd=worker.REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)

        def wait_for_child() -> None:
            out, err = child.communicate(timeout=120)
            outcome.child = subprocess.CompletedProcess(child.args, child.returncode, out, err)

        run_threads(sdk, outcome, jobs_for(sdk, "t"), before_join=wait_for_child)
        yield outcome


def count_problems(outcome: Outcome) -> list[str]:
    sdk = outcome.sdk
    problems = []
    stored = len(sdk.store.entries(worker.NAMESPACE))
    if stored != outcome.puts:
        problems.append(f"store: {stored} values, {outcome.puts} put")
    records = sdk.ledger.export_records()
    if len(records) != 1 + outcome.decisions:
        problems.append(f"ledger: {len(records)} records, {1 + outcome.decisions} decided")
    audited = len(sdk.audit.entries("collect"))
    if audited != outcome.collects:
        problems.append(f"audit: {audited} entries, {outcome.collects} collected")
    return problems


def test_threads_writing_through_one_sdk_never_fail(one_sdk: Outcome) -> None:  # issue #8 concurrency
    assert one_sdk.errors == []


def test_threads_writing_through_one_sdk_lose_no_write(one_sdk: Outcome) -> None:  # issue #8 concurrency
    assert count_problems(one_sdk) == []


def test_threads_deciding_at_once_keep_one_consent_chain(one_sdk: Outcome) -> None:  # issue #8 concurrency, docs/protocol.md "Proof"
    report = verify_chain(one_sdk.sdk.ledger.export_records())
    assert report.ok, report.problems[:3]


def test_a_second_process_on_the_same_data_dir_never_fails(two_processes: Outcome) -> None:  # issue #8 concurrency
    child = two_processes.child
    assert child is not None and child.returncode == 0, child and child.stderr[-2000:]
    assert "locked" not in child.stderr
    assert two_processes.errors == []


def test_a_second_process_on_the_same_data_dir_loses_no_write(two_processes: Outcome) -> None:  # issue #8 concurrency
    assert count_problems(two_processes) == []
    for i in range(0, PUTS, 13):  # the other process's values read back here
        assert two_processes.sdk.store.get_text(worker.NAMESPACE, f"p-{i}") == f"p {i}"


def test_two_processes_deciding_at_once_keep_one_consent_chain(two_processes: Outcome) -> None:  # issue #8 concurrency, docs/protocol.md "Proof"
    report = verify_chain(two_processes.sdk.ledger.export_records())
    assert report.ok, report.problems[:3]


def first_use_race(root: Path, first: str, second: str, rounds: int = 4) -> list[Path]:
    """*rounds* fresh installs, each first used by two processes at the same moment (*first*
    and *second*: ``agree`` or ``put``, see :func:`worker.first_use`); their data dirs."""
    ctx = context()
    dirs = []
    for n in range(rounds):
        data_dir = root / f"install{n}"
        go = ctx.Event()
        children = [ctx.Process(target=worker.first_use, args=(str(data_dir), what, go))
                    for what in (first, second)]
        for child in children:
            child.start()
        time.sleep(0.2)  # both have opened the SDK
        go.set()
        for child in children:
            child.join(60)
            assert child.exitcode == 0, f"a first-use process ended with {child.exitcode}"
        dirs.append(data_dir)
    return dirs


def test_two_processes_deciding_first_at_once_sign_with_one_device_key(tmp_path: Path) -> None:  # issue #8 concurrency, docs/protocol.md "Proof"
    """Found by this suite: each process made its own signing key and the second overwrote the
    first's, so the chain held records of two keys (wrong_key) from the first day."""
    for data_dir in first_use_race(tmp_path, "agree", "agree"):
        with worker.open_sdk(data_dir) as sdk:
            records = sdk.ledger.export_records()
            assert len(records) == 2
            report = verify_chain(records)
            assert report.ok, [str(p) for p in report.problems]
            assert report.public_key == sdk.ledger.public_key


def test_two_processes_making_keys_at_once_keep_both_wrapping_keys(tmp_path: Path) -> None:  # issue #8 concurrency, OBL-SEC-2
    """Found by this suite: the passphrase keystore's salt file was read, changed and written
    by both processes, so one wrapping key was lost and with it the store ("no wrapping key
    with id 'store-v1'")."""
    for data_dir in first_use_race(tmp_path, "agree", "put"):
        with worker.open_sdk(data_dir) as sdk:
            assert len(sdk.store.entries(worker.NAMESPACE)) == 1
            assert verify_chain(sdk.ledger.export_records()).ok
