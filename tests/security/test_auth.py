"""Authentication (MASVS-AUTH-1; OBL-SEC-2).

Session rotation, throttling and cross-user access are covered by tests/server/test_accounts.py,
tests/server/test_authorisation_sweep.py and tests/integration/test_account_flow.py (see
docs/security.md). This adds session fixation: a session id chosen by someone else (planted in
the client's cookie jar before the login) is never adopted by the server, so whoever planted it
cannot ride the user's login.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from server_stub.testing import https_session

PASSWORD = "Fx8#plum-Harbor-Lantern-31"


def test_a_planted_session_id_is_never_adopted_at_login(stub: Any) -> None:  # MASVS-AUTH-1, OBL-SEC-2
    identifier = f"fixation.{uuid.uuid4().hex[:10]}@example.com"
    planted = secrets.token_urlsafe(32)
    with https_session(stub) as victim:
        created = victim.post(f"{stub.url}/v1/accounts", timeout=10,
                              json={"identifier": identifier, "password": PASSWORD},
                              headers={"Idempotency-Key": str(uuid.uuid4())})
        assert created.status_code == 201, created.text
        victim.cookies.set("sid", planted, domain="127.0.0.1", path="/")
        login = victim.post(f"{stub.url}/v1/sessions", timeout=10,
                            json={"identifier": identifier, "password": PASSWORD})
        assert login.status_code == 200, login.text
        assert f"sid={planted}" in login.request.headers.get("Cookie", "")  # it was sent
        issued = login.cookies.get("sid")
        assert issued and issued != planted
        assert victim.get(f"{stub.url}/v1/me", timeout=10,
                          headers={"Cookie": f"sid={issued}"}).status_code == 200
    with https_session(stub) as attacker:
        answer = attacker.get(f"{stub.url}/v1/me", headers={"Cookie": f"sid={planted}"}, timeout=10)
    assert answer.status_code == 401
