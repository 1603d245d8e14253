"""Offline and flaky network (issue #8 "Reliability suite"): consent decisions made while the
server is away reach it exactly once, also when the app is killed in the middle of a sync.

The real stub over HTTPS (tests/integration/conftest.py); a sync sends each record with its
``record_id`` as ``Idempotency-Key``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sdk import PrivacySdk, SdkConfig
from sdk.transport import ApiClient
from tests.integration.conftest import restart

from . import worker
from .crash import context, seed_wanted

SCOPE = worker.SCOPE
DENIED_SCOPE = "purpose:certificate"  # refused: stays on the device, never sent


def server_ids(config: SdkConfig, subject_id: str) -> list[str]:
    with ApiClient(config) as client:
        return [r["record_id"] for r in client.list_consent_records(subject_id)]


def sendable_ids(sdk: PrivacySdk) -> list[str]:
    """The device's granted/withdrawn records, in the order made (what must reach the server)."""
    return [r.record_id for r in sdk.ledger.history() if r.decision != "denied"]


def decide_offline(sdk: PrivacySdk, times: int) -> None:
    """*times* decisions on :data:`SCOPE` (each one's sync attempt fails: nobody answers)."""
    for _ in range(times):
        if sdk.state(SCOPE).status == "granted":
            sdk.withdraw(SCOPE)
        else:
            sdk.grant(SCOPE)


def test_decisions_made_offline_reach_the_server_exactly_once(
        stub: Any, make_config: Callable[..., SdkConfig], device_dir: Path) -> None:  # issue #8 offline, PIPL-14
    """Two offline periods: decisions made while the stub is stopped, then the stub starts
    again and the app syncs twice; a refusal made offline stays on the device."""
    config = make_config(stub)
    stub.stop()
    with worker.open_sdk(device_dir, endpoint=config.endpoint, ca_bundle=config.ca_bundle,
                         retries=1, backoff=0.0, connect_timeout=5.0) as sdk:
        for period, made in enumerate((6, 5)):
            if period == 0:
                sdk.agree()  # each decision tries to sync at once and finds nobody
                sdk.deny(DENIED_SCOPE)
            decide_offline(sdk, 5)
            assert sdk.pending_sync() == made
            with restart(stub):
                assert sdk.sync() == made
                assert sdk.sync() == 0
                assert sdk.pending_sync() == 0 and sdk.ledger.rejected() == []
                assert server_ids(config, sdk.subject_id) == sendable_ids(sdk)
                assert len(sendable_ids(sdk)) == len(sdk.ledger.history()) - 1  # the refusal


def test_a_sync_killed_midway_delivers_every_record_exactly_once(
        stub: Any, make_config: Callable[..., SdkConfig], device_dir: Path) -> None:  # issue #8 offline, PIPL-14
    """The app is killed (SIGKILL) at a random moment of a sync of several records, again and
    again; after each, the app starts again and syncs: the server holds every record once and
    the device has none pending and none set aside as refused (a resent record was taken as
    the same one, not refused as a duplicate)."""
    seed = seed_wanted()
    rng = random.Random(seed)
    config = make_config(stub)
    settings: dict[str, Any] = {"endpoint": config.endpoint, "ca_bundle": config.ca_bundle,
                                "retries": 1, "backoff": 0.0, "connect_timeout": 5.0}
    ahead = 0  # kills that fell after the server stored a record and before the device knew
    with worker.open_sdk(device_dir, **settings) as sdk:
        sdk.agree(sync=False)
    for round_ in range(8):
        with worker.open_sdk(device_dir, **settings) as sdk:
            for _ in range(6):
                (sdk.withdraw if sdk.state(SCOPE).status == "granted" else sdk.grant)(
                    SCOPE, sync=False)
            subject = sdk.subject_id
        reader, writer = context().Pipe(duplex=False)
        child = context().Process(target=worker.sync_forever, daemon=True, args=(
            str(device_dir), config.endpoint, str(config.ca_bundle), writer))
        child.start()
        writer.close()
        assert reader.poll(60) and reader.recv()[0] == "opened"
        time.sleep(rng.uniform(0.0, 0.4))
        child.kill()
        child.join(30)
        reader.close()
        assert child.exitcode == -9, f"seed={seed} round={round_}: the sync ended on its own"
        with worker.open_sdk(device_dir, **settings) as sdk:
            on_server = server_ids(config, subject)
            ahead += len(set(on_server) & {r.record_id for r in sdk.ledger.pending()})
            sdk.sync()
            assert sdk.pending_sync() == 0, f"seed={seed} round={round_}"
            assert sdk.ledger.rejected() == [], f"seed={seed} round={round_}"
            on_server = server_ids(config, subject)
            assert len(on_server) == len(set(on_server)), f"seed={seed} round={round_}"
            assert on_server == sendable_ids(sdk), f"seed={seed} round={round_}"
    print(f"\nkilled sync: seed={seed}, 8 kills, {ahead} record(s) stored on the server "
          "before the device marked them synced, each sent again and stored once")
