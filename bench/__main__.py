"""``python -m bench``: run every benchmark module ``bench/bench_*.py``, print a table and
write one JSON file of figures (``bench/results/latest.json``; ``--quick`` writes
``bench/results/quick.json`` with smaller sizes, for trying changes, never for the docs).

Modules are discovered, not listed: a new ``bench_*.py`` runs without touching this file, and
one that does not declare ``FIGURES`` and ``run`` stops the run. Each figure with a baseline
gets ``ratio`` = its median / its baseline's median (same module, same run).

JSON (``schema_version`` 2; the files before it had none):

``schema_version``, ``when`` (UTC), ``quick``, ``machine`` (see :func:`machine_info`), and
``figures``: suite name -> list of ``{id, name, median_ms, runs, peak_kib, memory, note,
baseline, ratio}``; ``id`` and ``baseline`` are ``suite.figure``; ``memory`` says how
``peak_kib`` was measured (``tracemalloc``: peak Python allocations in one extra untimed run;
``child_peak_rss``: the child process's peak RSS, ``VmHWM``, in one extra untimed run);
``median_ms`` and ``peak_kib`` are ``null`` for a figure reported as skipped (its ``note``
says why).
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import platform
import sqlite3
import sys
import time
from pathlib import Path
from types import ModuleType

SCHEMA_VERSION = 2
HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


class BenchError(RuntimeError):
    """A benchmark module breaks the contract (``FIGURES`` and ``run``)."""


def discover(folder: Path = HERE, package: str = "bench") -> dict[str, ModuleType]:
    """Suite name (``bench_store_10k.py`` -> ``store_10k``) -> module, for every
    ``bench_*.py`` in *folder* (the package *package*), in file-name order.

    Raises:
        BenchError: a module has no ``FIGURES`` dict or no ``run``, or a baseline names a figure
            the module does not declare.
    """
    suites = {}
    for path in sorted(folder.glob("bench_*.py")):
        module = importlib.import_module(f"{package}.{path.stem}")
        figures = getattr(module, "FIGURES", None)
        runner = getattr(module, "run", None)
        if not isinstance(figures, dict) or not figures or not callable(runner):
            raise BenchError(f"{path.name} must declare FIGURES (figure id -> baseline id or None) "
                             "and run(quick=False) returning one Figure per id")
        for fid, baseline in figures.items():
            if baseline is not None and baseline not in figures:
                raise BenchError(f"{path.name}: figure '{fid}' has baseline '{baseline}', which "
                                 "FIGURES does not declare")
        suites[path.stem.removeprefix("bench_")] = module
    return suites


def figure_ids(suites: dict[str, ModuleType] | None = None) -> list[str]:
    """Every figure the suites declare, as ``suite.figure`` (no benchmark runs)."""
    suites = discover() if suites is None else suites
    return [f"{suite}.{fid}" for suite, module in suites.items() for fid in module.FIGURES]


def collect(suite: str, module: ModuleType, figures: list) -> list[dict]:
    """The JSON rows of one suite's figures, with ids prefixed and ratios worked out.

    Raises:
        BenchError: the figures returned are not exactly the ones ``FIGURES`` declares.
    """
    declared = dict(module.FIGURES)
    got = [f.id for f in figures]
    if sorted(got) != sorted(declared) or len(set(got)) != len(got):
        missing = sorted(set(declared) - set(got))
        extra = sorted(set(got) - set(declared))
        raise BenchError(f"suite '{suite}' returned figures {got}; FIGURES declares "
                         f"{list(declared)} (missing: {missing}, undeclared: {extra}, or a "
                         "duplicate)")
    medians = {f.id: f.median_ms for f in figures}
    rows = []
    for f in figures:
        row = f.as_dict()
        row["id"] = f"{suite}.{f.id}"
        base = declared[f.id]
        row["baseline"] = f"{suite}.{base}" if base else None
        ratio = None
        if base and f.median_ms is not None and medians[base]:
            ratio = round(f.median_ms / medians[base], 3)
        row["ratio"] = ratio
        rows.append(row)
    return rows


def machine_info() -> dict:
    """Where the figures come from: CPU, cores, memory, OS, Python, SQLite, and the load."""
    info: dict = {
        "arch": platform.machine(),
        "cpu": platform.processor() or "",
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_mib": None,
        "os": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "load_avg_1m_at_start": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }
    try:
        info["memory_mib"] = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2**20
    except (ValueError, OSError, AttributeError):
        pass
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return info


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smaller sizes and fewer runs (1,000 items, 16 MiB), written to "
                             "bench/results/quick.json unless --out is given")
    parser.add_argument("--only", action="append", default=None, metavar="SUITE",
                        help="run only this suite (repeatable); the JSON then holds only these")
    parser.add_argument("--out", type=Path, default=None, help="the JSON file to write")
    args = parser.parse_args(argv)
    os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")  # Kivy must not turn on DEBUG logging
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    logging.basicConfig(level=logging.WARNING)
    suites = discover()
    if args.only:
        unknown = sorted(set(args.only) - set(suites))
        if unknown:
            parser.error(f"unknown suite(s) {unknown}; suites: {', '.join(suites)}")
        suites = {name: module for name, module in suites.items() if name in args.only}
    out = args.out or RESULTS / ("quick.json" if args.quick else "latest.json")
    started = time.perf_counter()
    results: dict = {"schema_version": SCHEMA_VERSION,
                     "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                     "quick": args.quick, "machine": machine_info(), "figures": {}}
    print(f"{'benchmark':62} {'median ms':>10} {'ratio':>6} {'peak KiB':>9}  note")
    for suite, module in suites.items():
        rows = collect(suite, module, module.run(quick=args.quick))
        results["figures"][suite] = rows
        for r in rows:
            print(f"{r['name'][:62]:62} {_fmt(r['median_ms'], '10.3f'):>10} "
                  f"{_fmt(r['ratio'], '6.2f'):>6} {_fmt(r['peak_kib'], '9.1f'):>9}  {r['note']}")
    results["seconds"] = round(time.perf_counter() - started, 1)
    results["machine"]["load_avg_1m_at_end"] = (round(os.getloadavg()[0], 2)
                                                if hasattr(os, "getloadavg") else None)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nwritten: {out} ({results['seconds']} s); Markdown table: python -m bench.table {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
