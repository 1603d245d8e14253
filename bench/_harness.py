"""A tiny harness: time a callable N times (median), then measure its peak memory in a
separate, untimed run, so the tracing never slows the timed runs.

Every benchmark module ``bench/bench_*.py`` declares ``FIGURES`` (each figure's id, mapped to
the id of its baseline in the same module, or ``None``) and ``run(quick=False)``, which returns
one :class:`Figure` per declared id. ``python -m bench`` checks the two agree and works out
each figure's ratio to its baseline (``bench/__main__.py``).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
import tracemalloc
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

#: How ``peak_kib`` was measured.
TRACEMALLOC = "tracemalloc"  # peak of Python allocations during one extra, untimed run
CHILD_RSS = "child_peak_rss"  # the child's peak resident set size (VmHWM), in one extra run


@dataclass
class Figure:
    """One figure. ``id`` is the key in the module's ``FIGURES`` (``python -m bench`` prefixes
    the suite: ``store_10k.encrypted_puts``); ``name`` says what was measured, with its sizes."""

    id: str
    name: str
    median_ms: float | None
    runs: int
    peak_kib: float | None
    memory: str = TRACEMALLOC
    note: str = ""

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def skipped(cls, id: str, name: str, why: str) -> Figure:
        """A declared figure that could not be measured in this checkout (e.g. a file outside
        the repository is missing); reported, never silently left out."""
        return cls(id, name, None, 0, None, memory="", note=f"skipped: {why}")


def traced_peak_kib(fn: Callable[[], object]) -> float:
    """Peak Python allocations (KiB) during one call of *fn*, by tracemalloc."""
    tracemalloc.start()
    try:
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return round(peak / 1024, 1)


def measure(id: str, name: str, fn: Callable[[], object], runs: int = 15,
            note: str = "") -> Figure:
    """Median of *runs* timed calls (after one warm-up call), and the peak memory of one more
    call under tracemalloc."""
    fn()  # warm-up (imports, caches)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return Figure(id, name, round(statistics.median(times), 3), runs, traced_peak_kib(fn),
                  TRACEMALLOC, note)


def timed_once(fn: Callable[[], object]) -> float:
    """Milliseconds of one call of *fn* (for work too long to repeat: 10,000 writes, 256 MiB)."""
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


_HWM = """
for _line in open("/proc/self/status"):
    if _line.startswith("VmHWM:"):
        import sys as _sys
        _sys.stderr.write("\\nbench-vmhwm-kib " + _line.split()[1] + "\\n")
"""


def child(id: str, name: str, code: str, runs: int, cwd: Path | None = None,
          note: str = "") -> Figure:
    """Median wall time of *runs* ``python -c CODE`` processes, and the peak RSS of one more,
    untimed run (its ``VmHWM`` read at the end; Linux only, else ``None``).

    Not ``ru_maxrss`` from ``wait4``: Linux carries the parent's high-water mark across the
    ``vfork``/``exec`` that :mod:`subprocess` uses, so it reports the benchmark's own size."""
    argv = [sys.executable, "-c", code]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, cwd=cwd, check=True)
        times.append((time.perf_counter() - start) * 1000)
    peak = None
    if Path("/proc/self/status").exists():
        done = subprocess.run([*argv[:-1], code + "\n" + _HWM], cwd=cwd, check=True,
                              stderr=subprocess.PIPE, text=True)
        found = [line.split()[1] for line in done.stderr.splitlines()
                 if line.startswith("bench-vmhwm-kib ")]
        peak = float(found[-1]) if found else None
    return Figure(id, name, round(statistics.median(times), 1), runs, peak, CHILD_RSS, note)
