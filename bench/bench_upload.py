"""Issue 6's figures: a sealed, resumable upload (HPKE + tus, ``sdk.transport.tus``) of a
large file over loopback TLS, as a ratio to a plain streaming upload of the same file to the
same server in the same run (the dev-only ``PUT /v1/dev/sink``), and the client's peak memory.

The stub runs in a subprocess (``python -m server_stub --dev``), so the client's figures are
its own and client and server do not share one interpreter lock. Size: ``BENCH_UPLOAD_MIB``
(default 256; ``--quick``: 16); ``python -m bench.bench_upload --mib 16`` for a quick run.
Each upload is timed untraced (the median of 3 runs, plain and sealed alternating; 1 with
``--quick``), then run once more under tracemalloc for the client's peak memory.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from ._harness import TRACEMALLOC, Figure

DEFAULT_MIB = 256
QUICK_MIB = 16

#: figure id -> the id of its baseline (None: no baseline)
FIGURES = {"plain_put": None, "sealed_upload": "plain_put"}
PHONE = "13800138000"
PASSWORD = "Xk9#mQ2vLp8w-river"


def _start_stub(data_dir: Path) -> tuple[subprocess.Popen[str], str, Path]:
    process = subprocess.Popen(
        [sys.executable, "-m", "server_stub", "--data-dir", str(data_dir), "--port", "0", "--dev"],
        stdout=subprocess.PIPE, text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(r"listening on (\S+)\s+\(CA: (.+)\)", line)
    if not match:
        process.terminate()
        raise RuntimeError(f"the stub did not start: {line!r}")
    return process, match.group(1), Path(match.group(2))


def _write_file(path: Path, mib: int) -> None:
    with open(path, "wb") as out:
        out.writelines(os.urandom(1024 * 1024) for _ in range(mib))


def _rss_kib() -> float:
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux


def run(quick: bool = False, mib: int | None = None, chunk_size: int | None = None) -> list[Figure]:
    from demo_app.policy import load_demo_policy
    from sdk import PrivacySdk, SdkConfig
    from sdk.testing.keystore import MemoryKeystore
    from sdk.transport import ApiClient
    from sdk.transport.tus import DEFAULT_CHUNK_SIZE, TusUploader

    mib = mib or (QUICK_MIB if quick else int(os.environ.get("BENCH_UPLOAD_MIB", DEFAULT_MIB)))
    runs = 1 if quick else 3
    chunk_size = chunk_size or DEFAULT_CHUNK_SIZE
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        source = root / "media.bin"
        _write_file(source, mib)
        process, url, ca = _start_stub(root / "stub")
        try:
            pins = tuple(line for line in (root / "stub" / "hpke-pins.txt").read_text().splitlines()
                         if line and not line.startswith("#"))
            config = SdkConfig(data_dir=root / "device", endpoint=url, ca_bundle=ca, hpke_pins=pins,
                               read_timeout=120.0)
            with PrivacySdk.open(config, load_demo_policy(), keystore=MemoryKeystore()) as privacy:
                privacy.agree()
                privacy.register(PHONE, PASSWORD)
                privacy.login(PHONE, PASSWORD)
                consent = privacy.grant("realname_verification").record_id
                privacy.grant("item:face_video")  # the server checks the item's own consent too
                with ApiClient(config, cookie_jar=privacy.cookie_jar) as api:
                    uploader = TusUploader(api, privacy.store, chunk_size=chunk_size)
                    uploader.upload(b"warm-up", item="face_video", purpose="realname_verification",
                                    consent_id=consent)  # connections, imports, key parsing

                    def plain() -> Any:
                        with open(source, "rb") as body:
                            answer = api.session.put(f"{url}/v1/dev/sink", data=body, timeout=(5, 300))
                        answer.raise_for_status()
                        return answer.json()

                    def sealed() -> Any:
                        return uploader.upload(source, item="face_video", purpose="realname_verification",
                                               consent_id=consent, content_type="application/octet-stream")

                    timings: dict[str, list[float]] = {"plain": [], "sealed": []}
                    peaks: dict[str, float] = {}
                    for run_no in range(runs):
                        for name, fn in (("plain", plain), ("sealed", sealed)):
                            rss_before = _rss_kib()
                            start = time.perf_counter()
                            result = fn()
                            timings[name].append(time.perf_counter() - start)
                            if run_no == 0:  # the peak RSS only grows: the first run tells
                                peaks[name + "_rss_growth"] = max(0.0, _rss_kib() - rss_before)
                            if name == "sealed":
                                assert result.plaintext_length == mib * 1024 * 1024
                    for name, fn in (("plain", plain), ("sealed", sealed)):  # untimed, traced
                        tracemalloc.start()
                        fn()
                        peaks[name] = tracemalloc.get_traced_memory()[1] / 1024
                        tracemalloc.stop()
        finally:
            process.terminate()
            process.wait(10)
    plain_s, sealed_s = statistics.median(timings["plain"]), statistics.median(timings["sealed"])
    chunk_mib = chunk_size / 1024 / 1024
    return [
        Figure("plain_put", f"plain streaming PUT, {mib} MiB, loopback TLS", round(plain_s * 1000, 1),
               runs, round(peaks["plain"], 1), TRACEMALLOC, note=f"{mib / plain_s:.0f} MiB/s"),
        Figure("sealed_upload", f"sealed tus upload (HPKE X-Wing, {chunk_mib:g} MiB chunks), {mib} MiB",
               round(sealed_s * 1000, 1), runs, round(peaks["sealed"], 1), TRACEMALLOC,
               note=f"{mib / sealed_s:.0f} MiB/s, peak RSS grew {peaks['sealed_rss_growth'] / 1024:.1f} MiB "
                    "in its first run"),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_upload", description=__doc__)
    parser.add_argument("--mib", type=int, default=None, help=f"file size in MiB (default {DEFAULT_MIB})")
    parser.add_argument("--chunk-kib", type=int, default=None, help="chunk size in KiB (default: the SDK's)")
    args = parser.parse_args(argv)
    figures = run(mib=args.mib, chunk_size=args.chunk_kib * 1024 if args.chunk_kib else None)
    print(f"{'benchmark':58} {'ms':>10} {'peak KiB':>9}  note")
    for figure in figures:
        print(f"{figure.name:58} {figure.median_ms:>10.1f} {figure.peak_kib:>9.1f}  {figure.note}")
    print(f"sealed / plain: {figures[1].median_ms / figures[0].median_ms:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
