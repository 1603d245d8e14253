"""`import sdk` must stay cheap: compared with an empty interpreter start."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from ._harness import Figure


def _start(code: str, runs: int = 15) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def run() -> list[Figure]:
    base = _start("pass")
    sdk = _start("import sdk")
    return [
        Figure("python -c pass", round(base, 1), 15, 0.0),
        Figure("python -c 'import sdk'", round(sdk, 1), 15, 0.0,
               note=f"+{sdk - base:.1f} ms over an empty start"),
    ]
