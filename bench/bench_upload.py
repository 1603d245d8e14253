"""Issue 6's figures: a sealed, resumable upload (HPKE + tus, ``sdk.transport.tus``) of a
large file over loopback TLS, as a ratio to a plain streaming upload of the same file to the
same server in the same run (the dev-only ``PUT /v1/dev/sink``), and the client's peak memory.

The stub runs in a subprocess (``python -m server_stub --dev``), so the client's figures are
its own and client and server do not share one interpreter lock. Size: ``BENCH_UPLOAD_MIB``
(default 256); ``python -m bench.bench_upload --mib 16`` for a quick run.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from ._harness import Figure

DEFAULT_MIB = 256
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


def run(mib: int | None = None, chunk_size: int | None = None) -> list[Figure]:
    from demo_app.policy import load_demo_policy
    from sdk import PrivacySdk, SdkConfig
    from sdk.testing.keystore import MemoryKeystore
    from sdk.transport import ApiClient
    from sdk.transport.tus import DEFAULT_CHUNK_SIZE, TusUploader

    mib = mib or int(os.environ.get("BENCH_UPLOAD_MIB", DEFAULT_MIB))
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

                    timings: dict[str, float] = {}
                    peaks: dict[str, float] = {}
                    for name, fn in (("plain", plain), ("sealed", sealed)):
                        rss_before = _rss_kib()
                        tracemalloc.start()
                        start = time.perf_counter()
                        result = fn()
                        timings[name] = time.perf_counter() - start
                        peaks[name] = tracemalloc.get_traced_memory()[1] / 1024
                        tracemalloc.stop()
                        peaks[name + "_rss_growth"] = max(0.0, _rss_kib() - rss_before)
                    assert result.plaintext_length == mib * 1024 * 1024
        finally:
            process.terminate()
            process.wait(10)
    rate = lambda seconds: mib / seconds
    chunk_mib = chunk_size / 1024 / 1024
    return [
        Figure(f"plain streaming PUT, {mib} MiB, loopback TLS", round(timings["plain"] * 1000, 1), 1,
               round(peaks["plain"], 1), note=f"{rate(timings['plain']):.0f} MiB/s"),
        Figure(f"sealed tus upload (HPKE X-Wing, {chunk_mib:g} MiB chunks), {mib} MiB",
               round(timings["sealed"] * 1000, 1), 1, round(peaks["sealed"], 1),
               note=f"{timings['sealed'] / timings['plain']:.2f}x plain, {rate(timings['sealed']):.0f} MiB/s, "
                    f"RSS growth {peaks['sealed_rss_growth'] / 1024:.1f} MiB"),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_upload", description=__doc__)
    parser.add_argument("--mib", type=int, default=None, help=f"file size in MiB (default {DEFAULT_MIB})")
    parser.add_argument("--chunk-kib", type=int, default=None, help="chunk size in KiB (default: the SDK's)")
    args = parser.parse_args(argv)
    print(f"{'benchmark':58} {'ms':>10} {'peak KiB':>9}  note")
    for figure in run(args.mib, args.chunk_kib * 1024 if args.chunk_kib else None):
        print(f"{figure.name:58} {figure.median_ms:>10.1f} {figure.peak_kib:>9.1f}  {figure.note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
