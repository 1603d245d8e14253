"""The stub's fault injection (issue #8, "Fault injection in the stub"): the rule parser, the
plan, the ASGI middleware over real HTTPS (what really reaches a client) and the dev-only
control endpoints ``GET/PUT/DELETE /v1/dev/faults``. The SDK's behaviour under each fault is
tested in tests/integration/test_faults.py."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from server_stub.__main__ import build_parser
from server_stub.faults import CONTROL_PATH, FaultPlan, FaultRuleError, parse_rule
from server_stub.runner import RunningServer, start_in_thread
from server_stub.settings import Settings
from server_stub.testing import https_session

HEALTH = "/v1/health"


def put_plan(client: requests.Session, stub: RunningServer, *rules: str, seed: int = 1) -> requests.Response:
    return client.put(f"{stub.url}{CONTROL_PATH}", json={"rules": list(rules), "seed": seed}, timeout=10)


# -- the rule parser ----------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("POST /v1/consent-records status=503 times=2",
     {"method": "POST", "path": "/v1/consent-records", "kind": "status", "status": 503, "times": 2}),
    ("* /v1/uploads/* drop request_after=40000 times=1",
     {"method": "*", "kind": "drop", "request_after": 40000, "after": None, "times": 1}),
    ("get /v1/policy slow_read=50 chunk=256 probability=0.5",
     {"method": "GET", "kind": "slow_read", "milliseconds": 50, "chunk": 256, "probability": 0.5,
      "times": None}),
    ("POST /v1/sessions status=503 retry_after=3", {"status": 503, "retry_after": 3}),
    ("POST /v1/x   drop   after=10  times=forever", {"kind": "drop", "after": 10, "times": None,
                                                    "text": "POST /v1/x drop after=10 times=forever"}),
    ("PUT /v1/x redirect_307=https://127.0.0.1:9/v1/x", {"kind": "redirect_307",
                                                         "location": "https://127.0.0.1:9/v1/x"}),
    ("GET * latency=250", {"path": "*", "kind": "latency", "milliseconds": 250}),
])
def test_the_rule_syntax_is_parsed(text: str, expected: dict) -> None:  # issue #8 faults: rule parser
    rule = parse_rule(text)
    assert {name: getattr(rule, name) for name in expected} == expected


@pytest.mark.parametrize(("text", "problem"), [
    ("POST /v1/x", "needs a method, a path and a kind"),
    ("PO-ST /v1/x status=503", "method"),
    ("POST v1/x status=503", "path must start with '/'"),
    ("POST /v1/x times=2", "no kind"),
    ("POST /v1/x status=404", "500 to 599"),
    ("POST /v1/x status=503 latency=10", "exactly one kind"),
    ("POST /v1/x drop=5", "drop takes no value"),
    ("POST /v1/x drop after=1 request_after=2", "not both"),
    ("POST /v1/x status=503 after=3", "after= belongs to drop"),
    ("POST /v1/x latency=fast", "latency= must be a whole number"),
    ("POST /v1/x latency", "needs a value"),
    ("POST /v1/x status=503 times=0", "times= must be"),
    ("POST /v1/x status=503 probability=1.5", "probability="),
    ("POST /v1/x redirect_307=ftp://elsewhere", "http(s) URL"),
    ("POST /v1/x status=503 times=1 times=2", "given twice"),
    # QA review: only ASCII digits (\\d and isdigit() took Arabic-Indic and full-width ones)
    ("POST /v1/x latency=\u0663", "latency= must be a whole number"),
    ("POST /v1/x latency=\uff13", "latency= must be a whole number"),
    ("POST /v1/x status=503 times=\u0661\u0662", "times= must be"),
    ("POST /v1/x status=\u0665\u0660\u0663", "status= must be"),
    ("POST /v1/x status=503 probability=\u0660.\u0665", "probability="),
    ("POST /v1/x status=503 probability=0.2_5", "probability="),
    # QA review: //host and /\\host are protocol-relative URLs to another host, not paths
    ("POST /v1/x redirect_307=//evil.example/", "single '/'"),
    ("POST /v1/x redirect_307=/\\evil.example/", "single '/'"),
    ("POST /v1/x redirect_307=https:///v1/x", "http(s) URL"),
    ("POST /v1/x redirect_307=https://trusted.example@evil.example/", "http(s) URL"),
])
def test_a_wrong_rule_is_refused_naming_the_part(text: str, problem: str) -> None:  # issue #8 faults: rule parser
    with pytest.raises(FaultRuleError, match=re.escape(problem)):
        parse_rule(text)


@pytest.mark.parametrize("location", ["/v1/elsewhere", "/", "/v1/x?y=//z", "http://127.0.0.1:9/",
                                      "https://example.test", "https://example.test/a//b"])
def test_a_redirect_to_a_path_or_an_http_url_is_accepted(location: str) -> None:  # issue #8 faults: rule parser
    assert parse_rule(f"POST /v1/x redirect_307={location}").location == location


def test_probability_takes_ascii_decimals() -> None:  # issue #8 faults: rule parser
    assert [parse_rule(f"GET /x status=500 probability={p}").probability
            for p in ("1", "0.5", ".25", "1.0")] == [1.0, 0.5, 0.25, 1.0]


def test_an_error_never_quotes_the_rule() -> None:  # issue #8 faults: rule parser
    with pytest.raises(FaultRuleError) as caught:
        parse_rule("POST /v1/x secret-marker-4711=1 status=503")
    assert "secret-marker-4711" not in str(caught.value)


def test_the_path_is_a_glob_and_the_method_may_be_any() -> None:  # issue #8 faults: rule parser
    rule = parse_rule("* /v1/uploads/* drop")
    assert rule.matches("PATCH", "/v1/uploads/abc") and rule.matches("head", "/v1/uploads/abc")
    assert not rule.matches("PATCH", "/v1/uploads")


# -- the plan -----------------------------------------------------------------------------------


def test_a_rule_applies_to_its_number_of_requests_only() -> None:  # issue #8 faults: times
    plan = FaultPlan(["POST /v1/x status=503 times=2"], seed=1)
    assert [plan.decide("POST", "/v1/x") is not None for _ in range(4)] == [True, True, False, False]


def test_the_same_seed_faults_the_same_requests() -> None:  # issue #8 faults: probability, seeded
    def faulted(seed: int) -> list[bool]:
        plan = FaultPlan(["GET /v1/x status=500 probability=0.5"], seed=seed)
        return [plan.decide("GET", "/v1/x") is not None for _ in range(40)]

    assert faulted(7) == faulted(7)
    assert 5 < sum(faulted(7)) < 35


def test_latencies_add_up_and_the_first_other_rule_wins() -> None:  # issue #8 faults: rule order
    plan = FaultPlan(["* * latency=100", "POST /v1/x latency=200", "POST /v1/x status=502",
                      "POST /v1/x drop"], seed=1)
    decision = plan.decide("POST", "/v1/x")
    assert decision is not None and decision.latency == pytest.approx(0.3)
    assert decision.rule is not None and decision.rule.kind == "status"
    assert [r["applied"] for r in plan.describe()["rules"]] == [1, 1, 1, 0]


def test_the_control_endpoint_is_never_faulted_by_the_plan() -> None:  # issue #8 faults: control
    plan = FaultPlan(["* * status=503"], seed=1)
    assert plan.decide("PUT", CONTROL_PATH) is None


def test_the_plan_counts_distinct_idempotency_keys_without_keeping_them() -> None:  # issue #8 faults: counters
    plan = FaultPlan(["POST /v1/x status=503 times=1"], seed=1)
    for key in (b"key-a", b"key-a", b"key-b"):
        plan.decide("POST", "/v1/x", key)
    (rule,) = plan.describe()["rules"]
    assert (rule["matched"], rule["applied"], rule["remaining"], rule["idempotency_keys"]) == (3, 1, 0, 2)
    assert "key-a" not in repr(plan.describe())


def test_settings_refuse_a_wrong_rule() -> None:  # issue #8 faults: settings
    with pytest.raises(ValueError, match="rule 2"):
        Settings(data_dir=Path("unused"), faults=("GET /v1/x latency=1", "GET /v1/x status=200"))


# -- what reaches a client over HTTPS -------------------------------------------------------------


def test_a_status_rule_answers_json_with_retry_after_and_the_data_region(
        client: requests.Session, stub: RunningServer) -> None:  # issue #8 faults: 5xx
    put_plan(client, stub, "GET /v1/health status=503 retry_after=2")
    answer = client.get(f"{stub.url}{HEALTH}", timeout=10)
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "2" and answer.headers["Data-Region"] == "CN"
    assert answer.json()["error"] == "fault_injected"


def test_a_drop_before_answering_reaches_the_client_as_a_connection_error(
        client: requests.Session, stub: RunningServer) -> None:  # issue #8 faults: drop
    put_plan(client, stub, "GET /v1/health drop times=1")
    with pytest.raises(requests.exceptions.ConnectionError):
        client.get(f"{stub.url}{HEALTH}", timeout=10)
    assert client.get(f"{stub.url}{HEALTH}", timeout=10).status_code == 200  # the server lives on


def test_a_drop_after_n_bytes_delivers_exactly_n_bytes_then_cuts(client: requests.Session,
                                                                 stub: RunningServer) -> None:  # issue #8 faults: drop mid-body
    put_plan(client, stub, "GET /v1/health drop after=7")
    answer = client.get(f"{stub.url}{HEALTH}", timeout=10, stream=True)
    assert answer.status_code == 200
    received = b""
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        for piece in answer.iter_content(1):
            received += piece
    assert len(received) == 7


def test_a_drop_mid_request_body_cuts_the_upload(client: requests.Session, stub: RunningServer) -> None:  # issue #8 faults: drop mid-request
    put_plan(client, stub, "PUT /v1/dev/sink drop request_after=1000")
    with pytest.raises(requests.exceptions.ConnectionError):
        client.put(f"{stub.url}/v1/dev/sink", data=b"x" * (4 * 1024 * 1024), timeout=10)


def test_a_cut_connection_logs_no_server_error(client: requests.Session, stub: RunningServer,
                                               caplog: pytest.LogCaptureFixture) -> None:  # issue #8 faults: drop
    put_plan(client, stub, "GET /v1/health drop after=3")
    with caplog.at_level(logging.WARNING), pytest.raises(requests.exceptions.ChunkedEncodingError):
        client.get(f"{stub.url}{HEALTH}", timeout=10)
    time.sleep(0.2)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_a_307_rule_answers_location_and_the_endpoint_never_sees_the_request(
        client: requests.Session, stub: RunningServer, make_record) -> None:  # issue #8 faults: 307
    put_plan(client, stub, "POST /v1/consent-records redirect_307=/v1/elsewhere")
    record = make_record()
    answer = client.post(f"{stub.url}/v1/consent-records", json=record, allow_redirects=False,
                         headers={"Idempotency-Key": record["record_id"]}, timeout=10)
    assert (answer.status_code, answer.headers["Location"]) == (307, "/v1/elsewhere")
    client.delete(f"{stub.url}{CONTROL_PATH}", timeout=10)
    listed = client.get(f"{stub.url}/v1/consent-records", params={"subject_id": record["subject_id"]},
                        timeout=10)
    assert listed.json()["records"] == []


def test_a_slow_read_sends_the_whole_body_in_timed_pieces(client: requests.Session,
                                                          stub: RunningServer) -> None:  # issue #8 faults: slow reads
    plain = client.get(f"{stub.url}{HEALTH}", timeout=10).content
    put_plan(client, stub, "GET /v1/health slow_read=30 chunk=8")
    started = time.monotonic()
    answer = client.get(f"{stub.url}{HEALTH}", timeout=10)
    assert answer.content == plain
    assert time.monotonic() - started >= (len(plain) // 8) * 0.03 * 0.9


def test_latency_holds_the_answer_back(client: requests.Session, stub: RunningServer) -> None:  # issue #8 faults: latency
    put_plan(client, stub, "GET /v1/health latency=400")
    started = time.monotonic()
    assert client.get(f"{stub.url}{HEALTH}", timeout=10).status_code == 200
    assert time.monotonic() - started >= 0.38


# -- the dev endpoints ----------------------------------------------------------------------------


def test_put_then_get_shows_the_plan_with_its_seed_and_counters(client: requests.Session,
                                                                stub: RunningServer) -> None:  # issue #8 faults: control endpoint
    answer = put_plan(client, stub, "GET /v1/health status=500 times=1", seed=42)
    assert answer.status_code == 200
    client.get(f"{stub.url}{HEALTH}", timeout=10)
    plan = client.get(f"{stub.url}{CONTROL_PATH}", timeout=10).json()
    assert plan["seed"] == 42
    assert [(r["rule"], r["matched"], r["applied"], r["remaining"]) for r in plan["rules"]] == [
        ("GET /v1/health status=500 times=1", 1, 1, 0)]


def test_a_wrong_rule_is_422_naming_its_number_and_the_plan_stays(client: requests.Session,
                                                                  stub: RunningServer) -> None:  # issue #8 faults: control endpoint
    put_plan(client, stub, "GET /v1/health latency=1")
    answer = put_plan(client, stub, "GET /v1/health latency=1", "GET /v1/health status=200")
    assert answer.status_code == 422
    assert answer.json()["error"] == "invalid_request" and "rule 2" in answer.json()["message"]
    assert [r["rule"] for r in client.get(f"{stub.url}{CONTROL_PATH}", timeout=10).json()["rules"]] == [
        "GET /v1/health latency=1"]


@pytest.mark.parametrize("body", [{}, {"rules": "GET * latency=1"}, {"rules": [1]},
                                  {"rules": [], "seed": "7"}, {"rules": [], "extra": 1}])
def test_a_malformed_body_is_422(client: requests.Session, stub: RunningServer, body: dict) -> None:  # issue #8 faults: control endpoint
    answer = client.put(f"{stub.url}{CONTROL_PATH}", json=body, timeout=10)
    assert answer.status_code == 422 and answer.json()["error"] == "invalid_request"


def test_the_endpoint_seed_range_is_the_command_lines(client: requests.Session,
                                                      stub: RunningServer) -> None:  # issue #8 faults: control endpoint
    assert put_plan(client, stub, seed=2**63 - 1).json()["seed"] == 2**63 - 1
    for seed in (2**63, -1, 10**23):
        answer = put_plan(client, stub, seed=seed)
        assert answer.status_code == 422, seed
        assert "from 0 to 9223372036854775807" in answer.json()["message"], seed


def test_delete_clears_the_plan(client: requests.Session, stub: RunningServer) -> None:  # issue #8 faults: control endpoint
    put_plan(client, stub, "GET /v1/health status=503")
    assert client.delete(f"{stub.url}{CONTROL_PATH}", timeout=10).status_code == 204
    assert client.get(f"{stub.url}{HEALTH}", timeout=10).status_code == 200
    assert client.get(f"{stub.url}{CONTROL_PATH}", timeout=10).json()["rules"] == []


def test_a_plan_faulting_everything_can_still_be_cleared(client: requests.Session,
                                                         stub: RunningServer) -> None:  # issue #8 faults: control endpoint
    put_plan(client, stub, "* * status=503")
    assert client.get(f"{stub.url}{HEALTH}", timeout=10).status_code == 503
    assert client.delete(f"{stub.url}{CONTROL_PATH}", timeout=10).status_code == 204


@pytest.fixture
def production(tmp_path: Path, policy_dir: Path) -> Iterator[RunningServer]:
    settings = Settings(data_dir=tmp_path / "prod", policy_dir=policy_dir, dev_mode=False)
    with start_in_thread(settings) as server:
        yield server


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_the_control_endpoint_is_404_without_dev_mode(production: RunningServer, method: str) -> None:  # issue #8 faults: dev only
    with https_session(production) as session:
        answer = session.request(method, f"{production.url}{CONTROL_PATH}", json={"rules": []}, timeout=10)
    assert answer.status_code == 404


def test_the_control_endpoint_is_not_in_the_openapi_document(client: requests.Session,
                                                             stub: RunningServer) -> None:  # issue #8 faults: dev only
    assert CONTROL_PATH not in client.get(f"{stub.url}/openapi.json", timeout=10).json()["paths"]


# -- the command line -----------------------------------------------------------------------------


def test_fault_is_repeatable_on_the_command_line() -> None:  # issue #8 faults: CLI
    args = build_parser().parse_args(["--data-dir", "x", "--fault", "POST /v1/a  status=503",
                                      "--fault", "* /v1/uploads/* drop", "--fault-seed", "9"])
    assert (args.fault, args.fault_seed) == (["POST /v1/a status=503", "* /v1/uploads/* drop"], 9)


@pytest.mark.parametrize("seed", ["0", "9223372036854775807"])
def test_the_command_line_seed_takes_the_endpoints_range(seed: str) -> None:  # issue #8 faults: CLI
    assert build_parser().parse_args(["--data-dir", "x", "--fault-seed", seed]).fault_seed == int(seed)


@pytest.mark.parametrize("seed", ["\u0663", "\uff17", "9223372036854775808", "99999999999999999999999",
                                  "-1", "+7", " 7", "7.0", ""])
def test_a_wrong_command_line_seed_is_refused_saying_the_range(
        seed: str, capsys: pytest.CaptureFixture[str]) -> None:  # issue #8 faults: CLI
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(["--data-dir", "x", "--fault-seed", seed])
    assert caught.value.code == 2
    assert "from 0 to 9223372036854775807" in capsys.readouterr().err


def test_settings_refuse_a_seed_out_of_range() -> None:  # issue #8 faults: settings
    with pytest.raises(ValueError, match="from 0 to 9223372036854775807"):
        Settings(data_dir=Path("x"), fault_seed=2**63)


def test_a_wrong_fault_on_the_command_line_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:  # issue #8 faults: CLI
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(["--data-dir", "x", "--fault", "POST /v1/a status=404"])
    assert caught.value.code == 2
    assert capsys.readouterr().err.strip().splitlines() == [(
        "python -m server_stub: error: argument --fault: invalid fault rule 'POST /v1/a status=404': "
        "status= must be a whole number from 500 to 599 (see --help)")]


def test_the_help_documents_the_rule_syntax() -> None:  # issue #8 faults: CLI
    text = " ".join(build_parser().format_help().split())
    for part in ("latency=MS", "status=CODE", "retry_after=S", "drop", "after=N", "request_after=N",
                 "redirect_307=URL", "slow_read=MS", "chunk=BYTES", "times=N|forever", "probability=P",
                 "/v1/dev/faults", "--fault 'POST /v1/consent-records status=503 times=2'"):
        assert part in text, part


def test_a_fault_given_on_the_command_line_is_served(tmp_path: Path, policy_dir: Path) -> None:  # issue #8 faults: CLI
    proc = subprocess.Popen(
        [sys.executable, "-m", "server_stub", "--data-dir", str(tmp_path / "cli"), "--port", "0",
         "--policy-dir", str(policy_dir), "--fault", "GET /v1/health status=503 times=1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        listening = proc.stdout.readline()
        match = re.match(r"^server_stub listening on (\S+)  \(CA: (.+)\)$", listening.rstrip("\n"))
        assert match, listening
        assert proc.stdout.readline().strip() == "fault rule 1: GET /v1/health status=503 times=1"
        with requests.Session() as session:
            session.trust_env, session.verify = False, match.group(2)
            statuses = [session.get(f"{match.group(1)}{HEALTH}", timeout=10).status_code for _ in range(2)]
        assert statuses == [503, 200]
    finally:
        proc.terminate()
        proc.wait(timeout=30)

