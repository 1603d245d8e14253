"""Consent decisions with a long ledger (issue #4): cold start to the first consent decision
in a fresh process with 10,000 ledger entries, as a ratio to ``python -c pass`` measured in the
same run, and the in-process cost of one consent check."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ._harness import Figure, measure

ENTRIES = 10_000
ROOT = Path(__file__).resolve().parents[1]
POLICY = ROOT / "demo_app" / "policy" / "policy.md"

_COLD = f"""
import sdk
from sdk.policy import load_policy
privacy = sdk.PrivacySdk.open(sdk.SdkConfig(data_dir={{data!r}}), load_policy({str(POLICY)!r}))
assert privacy.state("customer_service").status in ("granted", "withdrawn")
"""


def _fill(data_dir: Path) -> None:
    """A ledger with ENTRIES real records: the policy agreement, then per-purpose toggles."""
    from sdk import PrivacySdk, SdkConfig
    from sdk.policy import load_policy
    from sdk.testing.keystore import MemoryKeystore

    with PrivacySdk.open(SdkConfig(data_dir=data_dir), load_policy(POLICY),
                         keystore=MemoryKeystore()) as privacy:
        privacy.agree(sync=False)
        scopes = ("customer_service", "notifications", "marketing")
        for n in range(ENTRIES - 1):
            scope = scopes[n % 3]
            if privacy.state(scope).granted:
                privacy.withdraw(scope, sync=False)
            else:
                privacy.grant(scope, sync=False)


def _wall(code: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def run() -> list[Figure]:
    base_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # setup only: fsyncs are cheap
    tmp = Path(tempfile.mkdtemp(prefix="bench-consent-", dir=base_dir))
    try:
        fill_start = time.perf_counter()
        _fill(tmp / "data")
        fill_s = time.perf_counter() - fill_start
        runs = 10
        empty = _wall("pass", runs)
        cold = _wall(_COLD.format(data=str(tmp / "data")), runs)

        from sdk import PrivacySdk, SdkConfig
        from sdk.policy import load_policy

        with PrivacySdk.open(SdkConfig(data_dir=tmp / "data"), load_policy(POLICY)) as privacy:
            privacy.grant("customer_service", sync=False) if not privacy.state(
                "customer_service").granted else None
            check = measure(f"require('customer_service'), {ENTRIES} entries",
                            lambda: privacy.require("customer_service"), runs=200)
            state = measure(f"state('item:id_number'), {ENTRIES} entries",
                            lambda: privacy.state("item:id_number"), runs=200)
        return [
            Figure("python -c pass (same run)", round(empty, 1), runs, 0.0),
            Figure(f"cold start to first decision, {ENTRIES} entries", round(cold, 1), runs, 0.0,
                   note=f"{cold / empty:.1f}x python -c pass; ledger filled in {fill_s:.0f} s"),
            check,
            state,
        ]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
