"""A stub whose clock the test moves (``Settings.clock``), serving the demo app's policy (its
manifest declares ``face_video`` and ``review_document`` sensitive, kept ``P30D``).

Used by the tests of upload expiry, item consent and what a withdrawal stops (issue 6)."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from sdk.transport.envelope import chunk_count, seal_chunk, sealed_stream_length
from server_stub.runner import RunningServer, start_in_thread
from server_stub.settings import Settings
from server_stub.store import Store

from .conftest import ACCOUNT_PASSWORD

REPO = Path(__file__).resolve().parents[2]
DEMO_POLICY_DIR = REPO / "demo_app" / "policy"
DAY = 24 * 3600
PURPOSE = "realname_verification"
CHUNK = 1024


class Clock:
    """Seconds since the epoch; starts at the real time and moves only on :meth:`advance`."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@contextmanager
def clocked_stub(data_dir: Path, clock: Clock, policy_dir: Path = DEMO_POLICY_DIR,
                 port: int = 0) -> Iterator[RunningServer]:
    """A dev-mode stub on *data_dir* with *clock* (start it again on the same dir to restart)."""
    settings = Settings(data_dir=data_dir, policy_dir=policy_dir, dev_mode=True, clock=clock,
                        port=port)
    with start_in_thread(settings) as server:
        yield server


def login_again(stub: RunningServer, session: requests.Session) -> None:
    """Log *session* in again (a moved clock ends sessions: 12 hours without remember-me)."""
    account_id = session.account_id  # type: ignore[attr-defined]
    account = Store(Path(stub.data_dir)).account_by_id(account_id)
    assert account is not None
    session.cookies.clear()
    answer = session.post(f"{stub.url}/v1/sessions", timeout=10,
                          json={"identifier": account.identifier, "password": ACCOUNT_PASSWORD})
    assert answer.status_code == 200, answer.text


def create_upload(person: Any, data: bytes, item: str = "face_video") -> requests.Response:
    """``POST /v1/uploads`` of *data* by *person* (tests.server.test_realname_verification's
    ``Person``) under its purpose grant, as the SDK would; the raw answer."""
    metadata = {"kid": person.key.kid, "purpose": PURPOSE, "consent": person.grant_id,
                "chunk_size": str(CHUNK), "plaintext_length": str(len(data)), "item": item,
                "content_type": "video/mp4" if item == "face_video" else "image/jpeg"}
    header = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in metadata.items())
    return person.session.post(f"{person.stub.url}/v1/uploads", timeout=10, headers={
        "Tus-Resumable": "1.0.0", "Idempotency-Key": str(uuid.uuid4()),
        "Upload-Length": str(sealed_stream_length(len(data), CHUNK, person.key.suite)),
        "Upload-Metadata": header})


def patch_upload(person: Any, upload_id: str, data: bytes, first: int, last: int) -> requests.Response:
    """``PATCH`` records *first* .. *last* - 1 of *data*'s sealed stream at their offset."""
    count = chunk_count(len(data), CHUNK)
    body = b"".join(
        seal_chunk(person.key, data[i * CHUNK:(i + 1) * CHUNK], upload_id=upload_id, index=i,
                   final=i == count - 1, purpose=PURPOSE, consent_id=person.grant_id,
                   chunk_size=CHUNK)
        for i in range(first, last))
    offset = first * (CHUNK + person.key.suite.overhead)
    return person.session.patch(f"{person.stub.url}/v1/uploads/{upload_id}", data=body, timeout=30,
                                headers={"Tus-Resumable": "1.0.0", "Upload-Offset": str(offset),
                                         "Content-Type": "application/offset+octet-stream"})


def upload_state(person: Any, upload_id: str) -> requests.Response:
    """``GET /v1/uploads/{id}``."""
    return person.session.get(f"{person.stub.url}/v1/uploads/{upload_id}", timeout=10)


def sealed_file(stub: RunningServer, upload_id: str) -> Path:
    """Where the stub keeps the upload's ciphertext."""
    return Path(stub.data_dir) / "uploads" / f"{upload_id}.sealed"
