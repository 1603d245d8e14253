"""Fault injection for QA (issue #8): a plan of rules that change how the stub answers.

A rule is one line of a mini-syntax (the same on the command line, ``--fault``, and in
``PUT /v1/dev/faults``)::

    METHOD PATH KIND [OPTION ...]

    METHOD   GET, POST, PUT, PATCH, DELETE, HEAD, ... or * (any method)
    PATH     a glob over the request path (no query string): /v1/consent-records,
             /v1/uploads/* ('*' also matches '/')

    KIND (exactly one):
    latency=MS          the answer is held back MS milliseconds (the request is handled at once)
    status=CODE         answer CODE (500-599) instead of the endpoint, which never sees the
                        request; option retry_after=SECONDS adds a Retry-After header
    drop                the endpoint handles the request, then the TCP connection is cut
                        before the first byte of the answer (the answer is lost);
                        option after=N: cut after N bytes of the answer body (an answer of N
                        bytes or fewer is cut before its last byte);
                        option request_after=N: cut once N bytes of the request body reached
                        the endpoint (it sees the client go away: a dropped upload)
    redirect_307=URL    answer 307 with Location URL (an http(s) URL, or a path starting with
                        a single '/': //host/... or /\\host/... is another host and refused)
                        instead of the endpoint, which never sees the request
    slow_read=MS        the answer body goes out in pieces of chunk=BYTES (default 16), MS
                        milliseconds apart

    OPTION (any kind):
    times=N|forever     how many requests the rule applies to (default: forever)
    probability=P       the chance (0 < P <= 1, default 1) that a matching request gets the
                        fault, drawn from the plan's seeded RNG: same seed, same requests
                        faulted, for the same sequence of requests

Rules are tried in order for each request (``/v1/dev/faults`` itself is never faulted). Every
matching ``latency`` rule that fires adds its delay; of the other kinds the first that fires
applies. A rule that does not fire (probability) does not use up one of its ``times``.

Examples::

    POST /v1/consent-records status=503 times=2
    * /v1/uploads/* drop request_after=40000 times=1
    GET /v1/policy slow_read=50 chunk=256 probability=0.5

The middleware (:func:`install_fault_injection`) wraps the whole app, outside the Data-Region
wrapper and Starlette's error middleware, so it sees every answer, 500s included. The
connection is cut through uvicorn's transport (``abort()``: no TLS close_notify, as when a
network drops), so the client sees a connection error, never an answer. Nothing about callers
is logged: a fired rule logs its number and its own text.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import re
import secrets
import threading
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from typing import Any

__all__ = [
    "CONTROL_PATH",
    "KINDS",
    "MAX_SEED",
    "SEED_RANGE",
    "SYNTAX",
    "FaultPlan",
    "FaultRule",
    "FaultRuleError",
    "install_fault_injection",
    "parse_rule",
    "parse_rules",
    "parse_seed",
]

logger = logging.getLogger("server_stub.faults")

#: The dev endpoint that controls the plan; never faulted (QA can always clear a plan).
CONTROL_PATH = "/v1/dev/faults"
KINDS = ("latency", "status", "drop", "redirect_307", "slow_read")
#: One-line summary of the syntax, for error messages and ``--help``.
SYNTAX = ("'METHOD PATH KIND [OPTION ...]', KIND one of latency=MS, status=5xx [retry_after=S], "
          "drop [after=N | request_after=N], redirect_307=URL, slow_read=MS [chunk=BYTES]; "
          "options times=N|forever, probability=P")

#: The largest seed of a plan (the same on the command line, --fault-seed, and in PUT /v1/dev/faults).
MAX_SEED = 2**63 - 1
#: What a seed may be, for error messages.
SEED_RANGE = f"a whole number from 0 to {MAX_SEED} (2**63 - 1)"

_METHOD = re.compile(r"^(?:\*|[A-Za-z]{1,16})$")
_HEADER_VALUE = re.compile(r"^[\x21-\x7e]{1,2000}$")
_DIGITS = re.compile(r"[0-9]{1,12}")  # ASCII only: \d and isdigit() take '٣' or '３'
_CHANCE = re.compile(r"[0-9]{1,6}(?:\.[0-9]{0,12})?|\.[0-9]{1,12}")  # float() also takes '٠.٥'
_URL = re.compile(r"https?://[^/\\?#@]+(?:[/?#][\x21-\x7e]*)?")  # scheme, host, the rest
_OPTIONS = {  # option -> the kinds it belongs to (None: every kind)
    "times": None, "probability": None, "retry_after": ("status",), "after": ("drop",),
    "request_after": ("drop",), "chunk": ("slow_read",),
}
_MAX_MS = 600_000  # 10 minutes
_MAX_BYTES = 1 << 30
_DEFAULT_CHUNK = 16
_CUT_WAIT = 2.0  # seconds to wait for uvicorn to notice a cut connection


class FaultRuleError(ValueError):
    """A rule does not follow the syntax; the message says what is wrong (never quoting the
    rule, which is the caller's to show)."""


@dataclass(frozen=True)
class FaultRule:
    """One parsed rule (see the module docstring). ``times`` None is forever."""

    text: str
    method: str
    path: str
    kind: str
    milliseconds: int = 0  # latency, slow_read
    status: int = 0
    retry_after: int | None = None
    after: int | None = None
    request_after: int | None = None
    location: str = ""
    chunk: int = _DEFAULT_CHUNK
    times: int | None = None
    probability: float = 1.0

    def matches(self, method: str, path: str) -> bool:
        return (self.method == "*" or self.method == method.upper()) and fnmatchcase(path, self.path)


def _integer(name: str, value: str, low: int, high: int) -> int:
    if not _DIGITS.fullmatch(value) or not low <= int(value) <= high:
        raise FaultRuleError(f"{name}= must be a whole number from {low} to {high}")
    return int(value)


def parse_seed(value: object) -> int:
    """A plan's seed from the command line (a text of ASCII digits) or JSON (an int).

    Raises:
        ValueError: not :data:`SEED_RANGE`; the message says the range.
    """
    if isinstance(value, str):
        seed = int(value) if re.fullmatch(r"[0-9]{1,19}", value) else -1
    elif isinstance(value, int) and not isinstance(value, bool):
        seed = value
    else:
        seed = -1
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"the seed must be {SEED_RANGE}")
    return seed


def parse_rule(text: str) -> FaultRule:
    """Parse one rule of the mini-syntax (module docstring).

    Raises:
        FaultRuleError: the rule is not valid; the message names the part that is wrong.
    """
    if not isinstance(text, str):
        raise FaultRuleError(f"a rule is a text: {SYNTAX}")
    tokens = text.split()
    if len(tokens) < 3:
        raise FaultRuleError(f"a rule needs a method, a path and a kind: {SYNTAX}")
    method, path, *rest = tokens
    if not _METHOD.match(method):
        raise FaultRuleError("the method must be an HTTP method such as POST, or *")
    if not (path == "*" or path.startswith("/")):
        raise FaultRuleError("the path must start with '/' (a glob such as /v1/uploads/*), or be *")
    values: dict[str, str | None] = {}
    kind = None
    for token in rest:
        name, _, value = token.partition("=")
        if name in KINDS:
            if kind is not None:
                raise FaultRuleError("a rule has exactly one kind; write one rule per kind")
            kind = name
        elif name not in _OPTIONS:
            raise FaultRuleError(f"unknown kind or option; kinds: {', '.join(KINDS)}; options: "
                                 f"{', '.join(_OPTIONS)}")
        if name in values:
            raise FaultRuleError(f"{name} is given twice")
        values[name] = value if "=" in token else None
    if kind is None:
        raise FaultRuleError(f"the rule has no kind: one of {', '.join(KINDS)}")
    for name, given in values.items():
        owners = _OPTIONS.get(name)
        if owners is not None and kind not in owners:
            raise FaultRuleError(f"{name}= belongs to {' or '.join(owners)} rules")
        if name != "drop" and given in (None, ""):
            raise FaultRuleError(f"{name} needs a value: {name}=...")
    rule = FaultRule(text=" ".join(tokens), method=method.upper(), path=path, kind=kind)
    kind_value = values[kind] or ""
    if kind == "drop" and values["drop"] is not None:
        raise FaultRuleError("drop takes no value; use drop after=N or drop request_after=N")
    if kind == "latency":
        rule = replace(rule, milliseconds=_integer("latency", kind_value, 0, _MAX_MS))
    elif kind == "slow_read":
        rule = replace(rule, milliseconds=_integer("slow_read", kind_value, 1, _MAX_MS))
    elif kind == "status":
        rule = replace(rule, status=_integer("status", kind_value, 500, 599))
    elif kind == "redirect_307":
        # "//host/x" and "/\\host/x" are protocol-relative: another host, not a path
        is_path = kind_value.startswith("/") and kind_value[1:2] not in ("/", "\\")
        if not _HEADER_VALUE.match(kind_value) or not (is_path or _URL.fullmatch(kind_value)):
            raise FaultRuleError("redirect_307= must be an http(s) URL or a path starting with a "
                                 "single '/' (not //host)")
        rule = replace(rule, location=kind_value)
    for name, value in values.items():
        if name == "times":
            rule = replace(rule, times=None if value == "forever" else _integer(
                "times", value or "", 1, 10**9))
        elif name == "probability":
            chance = float(value) if value and _CHANCE.fullmatch(value) else -1.0
            if not 0 < chance <= 1:
                raise FaultRuleError("probability= must be a number above 0 and at most 1")
            rule = replace(rule, probability=chance)
        elif name == "retry_after":
            rule = replace(rule, retry_after=_integer("retry_after", value or "", 0, 86400))
        elif name in ("after", "request_after"):
            rule = replace(rule, **{name: _integer(name, value or "", 0, _MAX_BYTES)})
        elif name == "chunk":
            rule = replace(rule, chunk=_integer("chunk", value or "", 1, 1 << 20))
    if rule.after is not None and rule.request_after is not None:
        raise FaultRuleError("drop takes after= or request_after=, not both")
    return rule


def parse_rules(texts: Iterable[str]) -> tuple[FaultRule, ...]:
    """Parse several rules; the error names the rule by its number (1 is the first)."""
    rules = []
    for number, text in enumerate(texts, 1):
        try:
            rules.append(parse_rule(text))
        except FaultRuleError as exc:
            raise FaultRuleError(f"rule {number}: {exc}") from None
    return tuple(rules)


@dataclass
class _Counters:
    matched: int = 0
    applied: int = 0
    keys: set[str] = field(default_factory=set)  # SHA-256 of the Idempotency-Keys seen


@dataclass(frozen=True)
class _Decision:
    latency: float  # seconds
    rule: FaultRule | None  # the answer-changing rule that fired, if any
    number: int = 0  # its number in the plan (1 is the first)


class FaultPlan:
    """The rules in force, their counters and the seeded RNG; thread-safe (the dev endpoints
    run in worker threads, the middleware in the event loop).

    Args:
        rules: rules in the mini-syntax.
        seed: the RNG seed for ``probability``; ``None`` picks one (shown by :meth:`describe`,
            so a run can be repeated).

    Raises:
        FaultRuleError: a rule is not valid.
    """

    def __init__(self, rules: Iterable[str] = (), seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self.replace(rules, seed)

    def replace(self, rules: Iterable[str], seed: int | None = None) -> None:
        """Put *rules* in force (counters start at 0) with a new RNG from *seed*.

        Raises:
            FaultRuleError: a rule is not valid (the plan in force is unchanged).
        """
        parsed = parse_rules(rules)
        seed = secrets.randbelow(2**31) if seed is None else int(seed)
        with self._lock:
            self._rules = parsed
            self._counters = [_Counters() for _ in parsed]
            self._seed = seed
            self._rng = random.Random(seed)

    def clear(self) -> None:
        """No rule any more (the seed stays)."""
        self.replace((), self._seed)

    @property
    def rules(self) -> tuple[FaultRule, ...]:
        return self._rules

    def __bool__(self) -> bool:
        return bool(self._rules)

    def describe(self) -> dict[str, Any]:
        """``{"seed", "rules": [{"rule", "method", "path", "kind", "times", "remaining",
        "probability", "matched", "applied", "idempotency_keys"}, ...]}``: ``matched`` counts
        the requests the rule's method and path matched, ``applied`` those that got the fault,
        ``idempotency_keys`` the distinct Idempotency-Key values among the matched requests
        (a count: the keys themselves are not kept)."""
        with self._lock:
            rules = []
            for rule, counters in zip(self._rules, self._counters):
                remaining = None if rule.times is None else rule.times - counters.applied
                rules.append({
                    "rule": rule.text, "method": rule.method, "path": rule.path,
                    "kind": rule.kind, "times": rule.times, "remaining": remaining,
                    "probability": rule.probability, "matched": counters.matched,
                    "applied": counters.applied, "idempotency_keys": len(counters.keys),
                })
            return {"seed": self._seed, "rules": rules}

    def decide(self, method: str, path: str, idempotency_key: bytes | None = None) -> _Decision | None:
        """What happens to one request; ``None``: nothing."""
        if path == CONTROL_PATH or not self._rules:
            return None
        latency = 0.0
        chosen: FaultRule | None = None
        number = 0
        with self._lock:
            for index, (rule, counters) in enumerate(zip(self._rules, self._counters), 1):
                if not rule.matches(method, path):
                    continue
                counters.matched += 1
                if idempotency_key:
                    counters.keys.add(hashlib.sha256(idempotency_key).hexdigest())
                if rule.times is not None and counters.applied >= rule.times:
                    continue
                if rule.kind != "latency" and chosen is not None:
                    continue  # one answer-changing fault per request
                if rule.probability < 1 and self._rng.random() >= rule.probability:
                    continue
                counters.applied += 1
                logger.info("fault rule %d applied: %s", index, rule.text)
                if rule.kind == "latency":
                    latency += rule.milliseconds / 1000
                else:
                    chosen, number = rule, index
        if latency == 0 and chosen is None:
            return None
        return _Decision(latency, chosen, number)


# -- the ASGI middleware ------------------------------------------------------------------------

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class _ConnectionDropped(Exception):
    """Raised to make the server close the connection when its transport cannot be reached."""


async def _cut(send: Send) -> None:
    """Cut the TCP connection of the request *send* answers (``transport.abort()``: no TLS
    close_notify), then wait until uvicorn noticed (so it neither logs nor answers 500).

    uvicorn's ``send`` is a bound method of its request cycle, which holds the transport; when
    it is not reachable (another ASGI server), raise: the server then closes the connection
    mid-body, but answers 500 when nothing was sent yet (tests/server/test_faults.py checks
    that uvicorn's transport is reached)."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None or not hasattr(transport, "abort"):
        raise _ConnectionDropped("fault injection: connection dropped")
    transport.abort()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _CUT_WAIT
    while not getattr(cycle, "disconnected", True) and loop.time() < deadline:
        await asyncio.sleep(0.005)


async def _drain(receive: Receive) -> None:
    """Read (and forget) the request body, so a short answer reaches the client."""
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return


async def _answer(send: Send, rule: FaultRule, number: int, region: bytes) -> None:
    """The answer of a ``status`` or ``redirect_307`` rule."""
    headers = [(b"data-region", region)]
    if rule.kind == "status":
        body = json.dumps({"error": "fault_injected",
                           "message": f"answered by the stub's fault rule {number} (QA)"}).encode()
        headers.append((b"content-type", b"application/json"))
        if rule.retry_after is not None:
            headers.append((b"retry-after", str(rule.retry_after).encode()))
        status = rule.status
    else:
        body = b""
        headers.append((b"location", rule.location.encode("ascii")))
        status = 307
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _faulty(inner: Callable[..., Awaitable[None]], decision: _Decision, scope: Scope,
                  receive: Receive, send: Send, region: bytes) -> None:
    rule = decision.rule
    if rule is not None and rule.kind in ("status", "redirect_307"):
        await _drain(receive)
        if decision.latency:
            await asyncio.sleep(decision.latency)
        await _answer(send, rule, decision.number, region)
        return
    state: dict[str, Any] = {"cut": False, "sent": 0, "received": 0, "held": b""}

    async def cut() -> None:
        if not state["cut"]:
            state["cut"] = True
            await _cut(send)

    async def faulty_send(message: Message) -> None:
        if state["cut"]:
            return  # the connection is gone: what the endpoint still sends goes nowhere
        if message["type"] == "http.response.start":
            if decision.latency:
                await asyncio.sleep(decision.latency)
            if rule is not None and rule.kind == "drop" and rule.after is None:
                await cut()  # before answering (or after a request shorter than request_after)
                return
            await send(message)
            return
        if message["type"] != "http.response.body" or rule is None:
            await send(message)
            return
        body = bytes(message.get("body", b""))
        more = bool(message.get("more_body", False))
        if rule.kind == "slow_read":
            for start in range(0, len(body), rule.chunk):
                await send({"type": "http.response.body", "body": body[start:start + rule.chunk],
                            "more_body": True})
                await asyncio.sleep(rule.milliseconds / 1000)
            await send({"type": "http.response.body", "body": b"", "more_body": more})
            return
        if rule.kind == "drop" and rule.after is not None:
            # the last byte seen is held back until the next message says whether more
            # follows, so an answer of `after` bytes or fewer is cut before its last byte
            data = state["held"] + body
            room = rule.after - state["sent"]
            if more and len(data) <= room:
                state["sent"] += len(data) - 1
                state["held"] = data[-1:]
                if len(data) > 1:
                    await send({"type": "http.response.body", "body": data[:-1], "more_body": True})
                return
            keep = max(0, min(room, len(data) - 1))
            if keep:
                await send({"type": "http.response.body", "body": data[:keep], "more_body": True})
            await asyncio.sleep(0.05)  # let the bytes leave before the connection is cut
            await cut()
            return
        await send(message)

    async def faulty_receive() -> Message:
        if state["cut"]:
            return {"type": "http.disconnect"}
        message = await receive()
        if rule is None or rule.request_after is None or message["type"] != "http.request":
            return message
        body = bytes(message.get("body", b""))
        room = rule.request_after - state["received"]
        if len(body) < room or not message.get("more_body", False) and len(body) <= room:
            state["received"] += len(body)
            return message
        await cut()
        if room > 0:  # the endpoint gets the bytes before the cut, then sees the client gone
            state["received"] += room
            state["cut"] = True
            return {"type": "http.request", "body": body[:room], "more_body": True}
        return {"type": "http.disconnect"}

    await inner(scope, faulty_receive if rule is not None and rule.request_after is not None
                else receive, faulty_send)


def install_fault_injection(app: Any, plan: FaultPlan, region: str) -> None:
    """Wrap the whole middleware stack of the FastAPI *app* with *plan*'s faults.

    Install it after every other wrapper of ``build_middleware_stack`` (the Data-Region one):
    it must be outermost, to receive uvicorn's own ``send`` (the way to the connection). Its
    own answers (``status``, ``redirect_307``) carry ``Data-Region: <region>`` like every
    answer of the stub."""
    build = app.build_middleware_stack
    region_value = region.encode("ascii")

    def build_with_faults() -> Any:
        inner = build()

        async def with_faults(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http" or not plan:
                await inner(scope, receive, send)
                return
            key = dict(scope.get("headers") or ()).get(b"idempotency-key")
            decision = plan.decide(scope["method"], scope["path"], key)
            if decision is None:
                await inner(scope, receive, send)
                return
            await _faulty(inner, decision, scope, receive, send, region_value)

        return with_faults

    app.build_middleware_stack = build_with_faults
