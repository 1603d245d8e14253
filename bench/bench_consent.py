"""Consent decisions with a long ledger (issue #4): cold start to the first consent decision
in a fresh process with 10,000 ledger entries, as a ratio to ``python -c pass`` measured in the
same run, and the in-process cost of one consent check. ``--quick``: 1,000 entries."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from ._harness import Figure, child, measure

ENTRIES = 10_000
QUICK_ENTRIES = 1_000
ROOT = Path(__file__).resolve().parents[1]
POLICY = ROOT / "demo_app" / "policy" / "policy.md"

#: figure id -> the id of its baseline (None: no baseline)
FIGURES = {"python_pass": None, "cold_decision": "python_pass", "require": None, "state": None}

_COLD = f"""
import sdk
from sdk.policy import load_policy
privacy = sdk.PrivacySdk.open(sdk.SdkConfig(data_dir={{data!r}}), load_policy({str(POLICY)!r}))
assert privacy.state("customer_service").status in ("granted", "withdrawn")
"""


def _fill(data_dir: Path, entries: int) -> None:
    """A ledger with *entries* real records: the policy agreement, then per-purpose toggles."""
    from sdk import PrivacySdk, SdkConfig
    from sdk.policy import load_policy
    from sdk.testing.keystore import MemoryKeystore

    with PrivacySdk.open(SdkConfig(data_dir=data_dir), load_policy(POLICY),
                         keystore=MemoryKeystore()) as privacy:
        privacy.agree(sync=False)
        scopes = ("customer_service", "notifications", "marketing")
        for n in range(entries - 1):
            scope = scopes[n % 3]
            if privacy.state(scope).granted:
                privacy.withdraw(scope, sync=False)
            else:
                privacy.grant(scope, sync=False)


def run(quick: bool = False) -> list[Figure]:
    entries = QUICK_ENTRIES if quick else ENTRIES
    base_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # setup only: fsyncs are cheap
    tmp = Path(tempfile.mkdtemp(prefix="bench-consent-", dir=base_dir))
    try:
        fill_start = time.perf_counter()
        _fill(tmp / "data", entries)
        fill_s = time.perf_counter() - fill_start
        runs = 3 if quick else 10
        empty = child("python_pass", "python -c pass (same run)", "pass", runs, cwd=ROOT)
        cold = child("cold_decision", f"cold start to first decision, {entries} entries",
                     _COLD.format(data=str(tmp / "data")), runs, cwd=ROOT,
                     note=f"ledger filled in {fill_s:.0f} s")

        from sdk import PrivacySdk, SdkConfig
        from sdk.policy import load_policy

        with PrivacySdk.open(SdkConfig(data_dir=tmp / "data"), load_policy(POLICY)) as privacy:
            if not privacy.state("customer_service").granted:
                privacy.grant("customer_service", sync=False)
            check = measure("require", f"require('customer_service'), {entries} entries",
                            lambda: privacy.require("customer_service"), runs=200)
            state = measure("state", f"state('item:id_number'), {entries} entries",
                            lambda: privacy.state("item:id_number"), runs=200)
        return [empty, cold, check, state]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
