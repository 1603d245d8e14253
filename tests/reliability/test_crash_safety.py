"""Crash safety (issue #8 "Reliability suite"): SDK processes killed with SIGKILL at random
points of their writes to the encrypted store and the consent ledger.

One campaign per test session (``RELIABILITY_KILLS`` kills, 200 by default; the seed is
printed and ``RELIABILITY_SEED`` replays it): see :mod:`tests.reliability.crash`. Each test
below asserts one property over every kill of the campaign.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from .crash import Campaign, kills_wanted, seed_wanted

KILLS = kills_wanted()
# the campaign runs in the first test's setup: ~0.3 s a kill on a busy 2-core machine
pytestmark = pytest.mark.timeout(max(120, int(KILLS * 0.6) + 60))


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Campaign]:
    root: Path = tmp_path_factory.mktemp("crash")
    done = Campaign(root, KILLS, seed_wanted()).run()
    print(f"\ncrash campaign: {json.dumps(done.figures())} (replay: RELIABILITY_SEED={done.seed})")
    yield done


def test_every_worker_died_of_the_kill(campaign: Campaign) -> None:  # issue #8 crash safety
    """The workers only ever stop when killed: a worker that failed on its own would make
    every other check vacuous."""
    assert campaign.problems["worker"] == [], campaign.figures()


def test_kills_land_inside_writes_and_inside_the_first_open(campaign: Campaign) -> None:  # issue #8 crash safety
    figures = campaign.figures()
    assert figures["kills"] == KILLS
    assert figures["killed_mid_store_write"] >= KILLS // 10, figures
    assert figures["killed_mid_decision"] >= KILLS // 40, figures
    # on an empty data dir, before the first write returned: schema, salt file, data key
    assert figures["killed_in_first_use"] >= KILLS // 40, figures


def test_every_sqlite_file_passes_integrity_check_after_a_kill(campaign: Campaign) -> None:  # issue #8 crash safety
    assert campaign.problems["integrity"] == []


def test_the_sdk_and_its_store_open_after_a_kill(campaign: Campaign) -> None:  # issue #8 crash safety, OBL-SEC-2
    assert campaign.problems["open"] == []


def test_every_acknowledged_store_put_is_there_after_a_kill(campaign: Campaign) -> None:  # issue #8 crash safety
    assert campaign.problems["store"] == []


def test_a_put_interrupted_by_a_kill_is_whole_or_absent(campaign: Campaign) -> None:  # issue #8 crash safety
    assert campaign.problems["torn"] == []


def test_every_acknowledged_decision_is_in_the_ledger_after_a_kill(campaign: Campaign) -> None:  # issue #8 crash safety, OBL-DSR-4
    assert campaign.problems["ledger"] == []


def test_the_consent_chain_verifies_after_a_kill(campaign: Campaign) -> None:  # issue #8 crash safety, docs/protocol.md "Proof"
    assert campaign.problems["chain"] == []
