"""A tiny harness: run a callable N times, report the median and peak memory."""

from __future__ import annotations

import statistics
import time
import tracemalloc
from dataclasses import asdict, dataclass
from typing import Callable


@dataclass
class Figure:
    name: str
    median_ms: float
    runs: int
    peak_kib: float
    note: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def measure(name: str, fn: Callable[[], object], runs: int = 15, note: str = "") -> Figure:
    fn()  # warm-up (imports, caches)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return Figure(name, round(statistics.median(times), 3), runs, round(peak / 1024, 1), note)
