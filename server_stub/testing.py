"""Helpers for tests that need a real stub over real HTTPS (this package's and others').

Example::

    from server_stub.testing import running_stub, write_policy_dir

    def test_sync(tmp_path):
        with running_stub(tmp_path, write_policy_dir(tmp_path / "policy")) as stub:
            config = SdkConfig(data_dir=tmp_path / "sdk", endpoint=stub.url, ca_bundle=stub.ca_path)
            ...

As a pytest fixture::

    @pytest.fixture
    def stub(tmp_path):
        with running_stub(tmp_path) as server:
            yield server
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .runner import RunningServer, start_in_thread
from .settings import Settings

if TYPE_CHECKING:
    import requests

__all__ = ["running_stub", "running_stub_process", "write_policy_dir", "https_session", "SAMPLE_POLICY_TEXT", "SigningDevice"]

SAMPLE_POLICY_TEXT = """\
# 隐私政策（测试用）

本政策仅用于测试。我们只在您同意后处理个人信息。

## 我们收集的信息
- 账号信息：用于登录。
"""


@contextmanager
def running_stub(tmp_path: Path, policy_dir: Path | None = None) -> Iterator[RunningServer]:
    """Run a stub on a free port of 127.0.0.1 for the duration of a ``with`` block.

    Args:
        tmp_path: a fresh temporary folder; the server keeps its data (database, dev CA) in
            ``tmp_path / "stub-data"``.
        policy_dir: folder with ``policy.md`` and ``manifest.toml``; ``None`` serves the demo
            app's bundled policy (see :func:`write_policy_dir` for a small test one).

    Yields:
        the :class:`~server_stub.runner.RunningServer`: ``.url`` (``https://127.0.0.1:<port>``),
        ``.ca_path`` (give it to clients as the CA bundle), ``.port``. Stopped on exit.

    Raises:
        ServerStartError: the server could not start within 20 s.
    """
    settings = Settings(data_dir=Path(tmp_path) / "stub-data", policy_dir=policy_dir, dev_mode=True)
    with start_in_thread(settings) as server:
        yield server


@contextmanager
def running_stub_process(data_dir: Path, *args: str, timeout: float = 60.0) -> Iterator[Any]:
    """Run ``python -m server_stub`` in its own process on a free port of 127.0.0.1, for the
    duration of a ``with`` block: for tests whose own process plays a device that differs from
    the server (e.g. a cryptography build without ML-KEM, which must not change the server's).

    Args:
        data_dir: the stub's data dir (made if missing).
        args: more command-line options, e.g. ``"--hpke-kem", "X25519"``.
        timeout: seconds to wait for the listening line.

    Yields:
        a namespace: ``url``, ``ca_path``, ``data_dir`` (Path), ``hpke_pins`` (tuple of
        ``sha256:<hex>`` fingerprints from ``hpke-pins.txt``). Stopped with SIGTERM on exit.

    Raises:
        AssertionError: the process ended or did not listen within ``timeout`` seconds (with
            the end of its output).
    """
    import re
    import subprocess
    import sys
    import time
    from types import SimpleNamespace

    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir.parent / f"{data_dir.name}.out"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "server_stub", "--data-dir", str(data_dir),
                                 "--port", "0", *args], stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while not (found := re.search(r"listening on (https://\S+)",
                                      log.read_text(errors="replace"))):
            assert proc.poll() is None and time.monotonic() < deadline, \
                log.read_text(errors="replace")[-2000:]
            time.sleep(0.1)
        pins = tuple(line for line in (data_dir / "hpke-pins.txt").read_text(encoding="utf-8")
                     .split() if line.startswith("sha256:"))
        yield SimpleNamespace(url=found.group(1), ca_path=data_dir / "ca.pem", data_dir=data_dir,
                              hpke_pins=pins)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def write_policy_dir(
    folder: Path,
    *,
    version: str = "2026.11",
    effective_date: str = "2026-11-30",
    language: str = "zh-CN",
    text: str = SAMPLE_POLICY_TEXT,
    manifest_extra: str = "",
) -> Path:
    """Write a small policy folder (``policy.md`` + ``manifest.toml``) and return it.

    Args:
        folder: where to write; created if missing.
        version, effective_date (``YYYY-MM-DD``, written as a TOML date), language: the
            manifest's top-level keys.
        text: the Markdown policy.
        manifest_extra: TOML appended to the manifest (tables, arrays of tables).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "policy.md").write_bytes(text.encode("utf-8"))
    manifest = (
        f'version = "{version}"\n'
        f"effective_date = {effective_date}\n"
        f'language = "{language}"\n'
        f"{manifest_extra}"
    )
    (folder / "manifest.toml").write_bytes(manifest.encode("utf-8"))
    return folder


def https_session(server: RunningServer) -> requests.Session:
    """A ``requests.Session`` that trusts only the stub's CA and ignores proxy/CA env vars.

    Close it (or use it in a ``with`` block) before the server stops, so no pooled
    connection is left open.
    """
    import requests  # imported here: only tests that talk HTTP need it

    session = requests.Session()
    session.trust_env = False
    session.verify = str(server.ca_path)
    return session


class SigningDevice:
    """A device that writes signed, chained version 2 consent records for tests.

    Records are built with the SDK's own :class:`sdk.consent.record.ConsentRecord` and signed
    with :class:`sdk.consent.proof.DeviceKey` (``seq`` 1, 2, … with each ``prev_hash`` the hash
    of the record before), exactly as a device would send them.

    Args:
        subject_id: the install id; a new uuid4 when None.
        key: a ``DeviceKey``; a new one when None.

    Example::

        device = SigningDevice()
        record = device.record(decision="withdrawn")      # proof.seq 1
        client.post(url, json=record, headers={"Idempotency-Key": record["record_id"]})
    """

    def __init__(self, subject_id: str | None = None, key: Any = None) -> None:
        from sdk.consent.proof import GENESIS, DeviceKey

        self.subject_id = subject_id or str(uuid.uuid4())
        self.key = key if key is not None else DeviceKey.generate()
        self.seq = 0
        self.prev_hash = GENESIS

    @property
    def public_key(self) -> str:
        return str(self.key.public_key)

    def unsigned(self, **fields: Any) -> dict[str, Any]:
        """A valid unsigned version 2 record of this device (a ``policy`` grant by default);
        keyword arguments replace wire fields (e.g. ``decision="withdrawn"``, ``scope=...``)."""
        from sdk.consent.record import ConsentRecord, Notice

        record = ConsentRecord(
            record_id=str(uuid.uuid4()),
            subject_id=self.subject_id,
            decision="granted",
            purposes=("customer_service", "notifications"),
            notice=Notice(policy_version="2026.11", sha256="ab" * 32, language="zh-CN"),
            controller="示例电子签科技有限公司 (Demo e-Sign Co., Ltd.)",
            controller_contact="privacy@demo-esign.example",
            method="explicit_button",
            created_at="2026-11-30T03:22:25Z",
            scope="policy",
            consent_type="policy",
            pi_categories=("cs_message", "notification_email"),
            recipients=(),
            retention={"cs_message": "P2Y", "notification_email": "until_account_cancelled"},
            withdrawal="在「我的 → 隐私中心」关闭对应开关，或发送邮件至 privacy@demo-esign.example",
        ).unsigned_dict()
        record.update(fields)
        return record

    def record(self, **fields: Any) -> dict[str, Any]:
        """The device's next record, signed and chained (see :meth:`unsigned`)."""
        from sdk.consent.proof import record_hash

        signed: dict[str, Any] = self.key.sign(
            self.unsigned(**fields), seq=self.seq + 1, prev_hash=self.prev_hash
        )
        self.seq += 1
        self.prev_hash = record_hash(signed)
        return signed
