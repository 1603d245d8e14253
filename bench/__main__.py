"""Run every benchmark, print a table, write ``bench/results/latest.json``."""

from __future__ import annotations

import json
import logging
import os
import platform
import sys
import time
from pathlib import Path

from . import bench_consent, bench_import, bench_policy, bench_storage, bench_store_10k, bench_upload

SUITES = {"import": bench_import, "policy": bench_policy, "storage": bench_storage,
          "store_10k": bench_store_10k, "consent": bench_consent, "upload": bench_upload}


def main() -> int:
    os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")  # Kivy must not turn on DEBUG logging
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    logging.basicConfig(level=logging.WARNING)
    results: dict = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                     "python": platform.python_version(), "machine": platform.machine(),
                     "figures": {}}
    print(f"{'benchmark':58} {'median ms':>10} {'peak KiB':>9}  note")
    for suite, module in SUITES.items():
        figures = module.run()
        results["figures"][suite] = [f.as_dict() for f in figures]
        for f in figures:
            print(f"{f.name:58} {f.median_ms:>10.3f} {f.peak_kib:>9.1f}  {f.note}")
    out = Path(__file__).resolve().parent / "results" / "latest.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"\nwritten: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
