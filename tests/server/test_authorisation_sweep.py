"""Authorisation sweep: a user reaches only their own records (issue #7, "Authorisation on the
stub"; OBL-SEC-2 cross-user access).

A real stub over real HTTPS (dev mode off) holds two accounts. A creates one of every kind of
record through the real flows (consent records of a linked install id, sealed tus uploads, a
real-name verification, a certificate, a signature, a rights request, a support message, an
invitation, a notification email, a notice acknowledgement, identity and cancellation tokens).
Then B, logged in to its own account, calls **every operation of the stub's OpenAPI document**
naming A's ids (path parameters, bodies, A's Idempotency-Keys and tokens) as :data:`SWEEP`
says, and every answer must have an expected status and hold none of A's identifiers or values
(body and headers). Public operations are in the same table with the reason they are public.

An operation of the OpenAPI document without an entry fails (``test_every_operation_is_swept``
and its own parametrised case), so a new endpoint cannot skip the sweep. The development-only
endpoints (left out of the document) must answer 404 when dev mode is off.

One stub and one pair of accounts serve the whole module (its own ``tmp_path_factory`` folder):
building A's records takes a few seconds and every case reads the same world.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from sdk.transport.envelope import (
    EnvelopeKey,
    b64url_encode,
    chunk_count,
    seal_chunk,
    seal_field,
    sealed_stream_length,
)
from server_stub.content import load_templates
from server_stub.realname_store import RealnameStore
from server_stub.runner import RunningServer, start_in_thread
from server_stub.testing import SigningDevice, https_session

from .conftest import module_stub_settings, openapi_operations, throwaway_app

PASSWORD_A = "Xk9#mQ2vLp8w-river"
PASSWORD_B = "Tq7$wN4rHs6z-delta"
NAME_A = "阿依古丽·买买提"
ID_NUMBER_A = "11010519491231002X"
PHONE_A = "13800138000"  # handed to the agency, never stored
NAME_B = "欧阳娜娜"
ID_NUMBER_B = "110101199003070134"
TEMPLATE = "lease"
PURPOSE = "realname_verification"
CHUNK = 1024
FACE = bytes(range(256)) * 8
REALNAME_SCOPES = ("purpose:realname_verification", "item:id_number", "item:face_video",
                   "recipient:realname_agency", "item:review_document")
CERTIFICATE_SCOPES = ("purpose:certificate", "item:certificate_info", "recipient:ca")


# -- the operations, read from the stub's own OpenAPI document at collection ----------------


def _throwaway_app_routes() -> tuple[list[str], list[str]]:
    """``(operations of app.openapi(), dev-only operations)`` as ``"METHOD /path"``, from an
    app built in a temporary folder (nothing is served)."""
    try:  # FastAPI >= 0.16x includes routers lazily: app.routes holds the included routers
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: app.routes is already flat
        def iter_route_contexts(routes: Any) -> Any:
            return iter(routes)

    with throwaway_app() as app:
        operations = openapi_operations(app)
        dev = sorted({f"{method} {route.path}" for route in iter_route_contexts(app.routes)
                      if str(getattr(route, "path", "")).startswith("/v1/dev/")
                      for method in (getattr(route, "methods", None) or ())})
    return operations, dev


OPERATIONS, DEV_OPERATIONS = _throwaway_app_routes()


# -- A's world --------------------------------------------------------------------------------


def _key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def _csr(key: ec.EllipticCurvePrivateKey) -> str:
    request = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([]))
    return request.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass
class User:
    """One account: its logged-in HTTPS session, device and what it made (``ids``)."""

    url: str
    session: requests.Session
    identifier: str
    password: str
    account_id: str = ""
    device: SigningDevice = field(default_factory=SigningDevice)
    ids: dict[str, str] = field(default_factory=dict)
    grants: dict[str, str] = field(default_factory=dict)  # scope -> record_id
    key: Any = None  # the certificate key (B)

    def post(self, path: str, body: Any, headers: dict[str, str] | None = None) -> requests.Response:
        return self.session.post(f"{self.url}{path}", json=body, timeout=30,
                                 headers={**_key(), **(headers or {})})

    def ok(self, answer: requests.Response, *statuses: int) -> Any:
        assert answer.status_code in (statuses or (200, 201)), answer.text
        return answer.json() if answer.content else None

    def decide(self, scope: str) -> str:
        record = self.device.record(scope=scope, decision="granted",
                                    consent_type="policy" if scope == "policy" else "separate")
        answer = self.session.post(f"{self.url}/v1/consent-records", json=record, timeout=30,
                                   headers={"Idempotency-Key": record["record_id"]})
        self.ok(answer, 201)
        self.grants[scope] = record["record_id"]
        return str(record["record_id"])


def _register(url: str, session: requests.Session, name: str, password: str) -> User:
    identifier = f"{name}-{uuid.uuid4().hex[:10]}@{name}.example"
    created = session.post(f"{url}/v1/accounts", json={"identifier": identifier, "password": password},
                           headers=_key(), timeout=30)
    assert created.status_code == 201, created.text
    login = session.post(f"{url}/v1/sessions", json={"identifier": identifier, "password": password},
                         timeout=30)
    assert login.status_code == 200, login.text
    return User(url, session, identifier, password, account_id=created.json()["account_id"])


class Uploader:
    """Sealed tus uploads of *user* with the server's current HPKE key."""

    def __init__(self, user: User) -> None:
        keys = user.session.get(f"{user.url}/v1/keys/hpke", timeout=30).json()["keys"]
        self.user = user
        self.key = EnvelopeKey.from_json(next(k for k in keys if k["status"] == "current"))

    def metadata(self, data: bytes, item: str) -> dict[str, str]:
        consent = self.user.grants["purpose:realname_verification"]
        meta = {"kid": self.key.kid, "purpose": PURPOSE, "consent": consent,
                "chunk_size": str(CHUNK), "plaintext_length": str(len(data)), "item": item,
                "content_type": "video/mp4" if item == "face_video" else "image/jpeg"}
        return {"Tus-Resumable": "1.0.0",
                "Upload-Length": str(sealed_stream_length(len(data), CHUNK, self.key.suite)),
                "Upload-Metadata": ",".join(f"{k} {base64.b64encode(v.encode()).decode()}"
                                            for k, v in meta.items())}

    def create(self, data: bytes, item: str) -> tuple[str, dict[str, str]]:
        """``(upload id, the POST's headers)`` of a new upload, nothing sent yet."""
        headers = {**_key(), **self.metadata(data, item)}
        created = self.user.session.post(f"{self.user.url}/v1/uploads", headers=headers, timeout=30)
        assert created.status_code == 201, created.text
        return str(created.json()["upload_id"]), headers

    def sealed(self, upload_id: str, data: bytes) -> list[bytes]:
        """The sealed records of *data*, as the SDK sends them."""
        count = chunk_count(len(data), CHUNK)
        consent = self.user.grants["purpose:realname_verification"]
        return [seal_chunk(self.key, data[i * CHUNK:(i + 1) * CHUNK], upload_id=upload_id, index=i,
                           final=i == count - 1, purpose=PURPOSE, consent_id=consent,
                           chunk_size=CHUNK) for i in range(count)]

    def patch(self, upload_id: str, body: Any) -> requests.Response:
        return self.user.session.patch(
            f"{self.user.url}/v1/uploads/{upload_id}", data=body, timeout=30,
            headers={"Tus-Resumable": "1.0.0", "Upload-Offset": "0",
                     "Content-Type": "application/offset+octet-stream"})

    def upload(self, data: bytes, item: str, *, complete: bool = True) -> tuple[str, dict[str, str]]:
        """``(upload id, the POST's headers)``; all of *data* sent, or its first record only."""
        upload_id, headers = self.create(data, item)
        sealed = self.sealed(upload_id, data)
        sent = self.patch(upload_id, b"".join(sealed if complete else sealed[:1]))
        assert sent.status_code == 204, sent.text
        return upload_id, headers

    def seal(self, value: str, name: str, submission: str) -> str:
        return b64url_encode(seal_field(self.key, value, field=name, submission=submission,
                                        purpose=PURPOSE,
                                        consent_id=self.user.grants["purpose:realname_verification"]))


def _build_a(server: RunningServer, a: User) -> dict[str, Any]:
    """A's records of every kind, through the real flows; returns what B later names."""
    url = server.url
    a.ids["subject_id"] = a.device.subject_id
    a.decide("policy")
    for scope in (*REALNAME_SCOPES, *CERTIFICATE_SCOPES):
        a.decide(scope)
    a.ids["consent_record_id"] = a.grants["purpose:realname_verification"]
    uploader = Uploader(a)
    a.ids["upload_id"], upload_headers = uploader.upload(FACE, "face_video")
    a.ids["open_upload_id"], _ = uploader.upload(b"\xff\xd8 page " * 300, "review_document",
                                                 complete=False)
    # real-name verification (the agency stand-in answers at once)
    submission = str(uuid.uuid4())
    verification = {
        "submission": submission, "kid": uploader.key.kid, "consent": a.ids["consent_record_id"],
        "fields": {"real_name": uploader.seal(NAME_A, "real_name", submission),
                   "id_number": uploader.seal(ID_NUMBER_A, "id_number", submission),
                   "phone": uploader.seal(PHONE_A, "phone", submission)},
        "face_upload": a.ids["upload_id"],
    }
    answer = a.ok(a.session.post(f"{url}/v1/realname/verifications", json=verification, timeout=30,
                                 headers={"Idempotency-Key": submission}), 201)
    a.ids["verification_id"] = answer["id"]
    deadline = time.monotonic() + 15
    while True:
        status = a.ok(a.session.get(f"{url}/v1/realname/verifications/{answer['id']}", timeout=30), 200)
        if status["status"] != "pending" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert status["status"] == "verified", status
    # certificate and signature
    key = ec.generate_private_key(ec.SECP256R1())
    certificate_key = str(uuid.uuid4())
    certificate_body = {"csr": _csr(key)}
    issued = a.ok(a.post("/v1/certificates", certificate_body, {"Idempotency-Key": certificate_key}), 201)
    a.ids["serial"] = issued["serial"]
    data = load_templates()[TEMPLATE].data
    signature_key = str(uuid.uuid4())
    signature_body = {"template_id": TEMPLATE, "sha256": hashlib.sha256(data).hexdigest(),
                      "signature": _b64url(key.sign(data, ec.ECDSA(hashes.SHA256()))),
                      "certificate_serial": a.ids["serial"]}
    signed = a.ok(a.post("/v1/signatures", signature_body, {"Idempotency-Key": signature_key}), 201)
    a.ids["signature_id"] = signed["signature_id"]
    # identity check, a rights request (objection: its text stays with the request)
    check = a.ok(a.post("/v1/me/identity-checks", {"password": a.password}), 200)
    a.ids["identity_token"] = check["identity_token"]
    objection_text = f"alice objects {uuid.uuid4().hex}"
    rights_key = str(uuid.uuid4())
    rights_body = {"kind": "objection", "text": objection_text, "purpose": "marketing"}
    made = a.ok(a.post("/v1/me/rights-requests", rights_body,
                       {"Idempotency-Key": rights_key, "Identity-Token": a.ids["identity_token"]}), 201)
    a.ids["request_id"] = made["request_id"]
    # support message, invitation, notification email
    support_key = str(uuid.uuid4())
    support_body = {"text": f"alice needs help {uuid.uuid4().hex}", "contact": "+8613912345678"}
    message = a.ok(a.post("/v1/me/support-messages", support_body, {"Idempotency-Key": support_key}), 201)
    a.ids["message_id"] = message["message_id"]
    invitation_key = str(uuid.uuid4())
    invitation_body = {"template_id": TEMPLATE, "phone": "+8613698765432",
                       "authorisation_attested": True}
    invitation = a.ok(a.post("/v1/me/invitations", invitation_body,
                             {"Idempotency-Key": invitation_key}), 201)
    a.ids["invitation_id"] = invitation["invitation_id"]
    notify_email = f"alice.notify-{uuid.uuid4().hex[:8]}@alice.example"
    a.ok(a.session.put(f"{url}/v1/me/notification-preference", timeout=30,
                       json={"channel": "email", "email": notify_email}), 200)
    # a notice (published as the operator would: dev mode is off) that A acknowledges
    from server_stub.routes.notices import publish_sample
    from server_stub.services_store import ServicesStore

    notice = publish_sample(ServicesStore(server.data_dir), "breach", dt.datetime.now(dt.timezone.utc))
    a.ids["notice_id"] = notice["notice_id"]
    acknowledged = a.ok(a.post(f"/v1/notices/{notice['notice_id']}/acknowledgements",
                               {"subject_id": a.ids["subject_id"]}), 201)
    # cancellation step 1 only (A stays): its token
    begun = a.ok(a.post("/v1/me/cancellation", {}, {"Identity-Token": a.ids["identity_token"]}), 200)
    a.ids["cancellation_token"] = begun["cancellation_token"]
    me = a.ok(a.session.get(f"{url}/v1/me", timeout=30), 200)
    records = a.ok(a.session.get(f"{url}/v1/me/consent-records", timeout=30), 200)["records"]
    realname = RealnameStore(server.data_dir)
    markers = {
        "A's account_id": a.account_id, "A's identifier": a.identifier,
        "A's masked identifier": me["identifier_masked"], "A's sid": a.session.cookies["sid"],
        "A's real name": NAME_A, "A's ID number": ID_NUMBER_A,
        "A's ID pseudonym": realname.pseudonym(ID_NUMBER_A), "A's phone": PHONE_A,
        "A's objection text": objection_text, "A's support text": support_body["text"],
        "A's support contact": support_body["contact"], "A's invitee phone": invitation_body["phone"],
        "A's masked invitee phone": invitation["phone_masked"], "A's notification email": notify_email,
        "A's certificate": issued["certificate"].splitlines()[1],
        # the notice itself is public: its id is no marker
        **{f"A's {name}": value for name, value in a.ids.items() if name != "notice_id"},
        **{f"A's consent record {r['record_id']}": r["record_id"] for r in records},
        "A's device key": a.device.public_key,
    }
    return {
        "markers": markers,
        "acknowledged_at": acknowledged["acknowledged_at"],
        "upload_headers": upload_headers,
        "verification": verification,
        "certificate": (certificate_key, certificate_body),
        "signature": (signature_key, signature_body),
        "rights": (rights_key, rights_body),
        "support": (support_key, support_body),
        "invitation": (invitation_key, invitation_body),
    }


def _build_b(server: RunningServer, b: User) -> None:
    """B: its own linked device, consents, a verified identity (set through the store, as
    in test_certificates.py: B is not under test), a certificate and an identity token, so
    B's calls get past "not verified" / "no consent" to the ownership checks."""
    b.decide("policy")
    for scope in (*REALNAME_SCOPES, *CERTIFICATE_SCOPES):
        b.decide(scope)
    realname = RealnameStore(server.data_dir)
    realname.set_status(b.account_id, "verified", verification_id=str(uuid.uuid4()),
                        real_name=NAME_B, id_pseudonym=realname.pseudonym(ID_NUMBER_B))
    b.key = ec.generate_private_key(ec.SECP256R1())
    issued = b.ok(b.post("/v1/certificates", {"csr": _csr(b.key)}), 201)
    b.ids["serial"] = issued["serial"]
    b.ids["identity_token"] = b.ok(b.post("/v1/me/identity-checks", {"password": b.password}),
                                   200)["identity_token"]
    keys = b.session.get(f"{b.url}/v1/keys/hpke", timeout=30).json()["keys"]
    b.ids["kid"] = next(k for k in keys if k["status"] == "current")["kid"]


@dataclass
class World:
    server: RunningServer
    a: User
    b: User
    a_made: dict[str, Any]
    sessions: list[requests.Session]

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def ids(self) -> dict[str, str]:
        return self.a.ids

    @property
    def markers(self) -> dict[str, str]:
        return dict(self.a_made["markers"])

    def fresh(self) -> requests.Session:
        """A new HTTPS session without a cookie (closed with the world)."""
        session = https_session(self.server)
        self.sessions.append(session)
        return session

    def b_again(self) -> requests.Session:
        """A second session of B (its own login)."""
        session = self.fresh()
        login = session.post(f"{self.url}/v1/sessions", timeout=30,
                             json={"identifier": self.b.identifier, "password": self.b.password})
        assert login.status_code == 200, login.text
        return session


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("authorisation-sweep")
    settings = module_stub_settings(tmp)
    sessions: list[requests.Session] = []
    with start_in_thread(settings) as server:
        try:
            session_a, session_b = https_session(server), https_session(server)
            sessions += [session_a, session_b]
            a = _register(server.url, session_a, "alice", PASSWORD_A)
            b = _register(server.url, session_b, "bob", PASSWORD_B)
            made = _build_a(server, a)
            _build_b(server, b)
            yield World(server, a, b, made, sessions)
        finally:
            for session in sessions:
                session.close()


# -- the table --------------------------------------------------------------------------------

Call = Callable[[World], "requests.Response | list[requests.Response]"]


@dataclass(frozen=True)
class Entry:
    """How B calls one operation, and what is acceptable.

    Attributes:
        expect: the statuses acceptable for every answer of ``call``.
        call: B's request(s) naming A's ids.
        why: why this answer is right (shown when the status is wrong).
        public: the reason the operation is public (anyone may call it; no A data either way).
        check: more assertions on each answer (e.g. nothing says A acknowledged).
        after: assertions on A's state afterwards (B changed nothing of A's).
    """

    expect: tuple[int, ...]
    call: Call
    why: str
    public: str | None = None
    check: Callable[[World, requests.Response], None] | None = None
    after: Callable[[World], None] | None = None


def _get(path: str, params: dict[str, str] | None = None) -> Call:
    """B's GET of *path*; ``{name}`` in the path and in param values are A's ids."""
    return lambda w: w.b.session.get(
        f"{w.url}{path.format(**w.ids)}", timeout=30,
        params={k: v.format(**w.ids) for k, v in (params or {}).items()} or None)


def _mine(path: str) -> Entry:
    """A "me"-style read: B gets 200 with B's own data only."""
    return Entry((200,), _get(path), "B's own data, nothing of A's")


def _a_still(path: str, predicate: Callable[[Any], bool], what: str) -> Callable[[World], None]:
    def after(w: World) -> None:
        answer = w.a.session.get(f"{w.url}{path.format(**w.ids)}", timeout=30)
        assert answer.status_code == 200, answer.text
        assert predicate(answer.json()), f"B's call changed A's {what}"
    return after


def _a_logged_in(w: World) -> None:
    assert w.a.session.get(f"{w.url}/v1/me", timeout=30).status_code == 200, "A's session ended"


def _a_certificate_valid(w: World) -> None:
    _a_still("/v1/certificates", lambda body: any(
        c["serial"] == w.ids["serial"] and c["status"] == "valid" for c in body["certificates"]),
        "certificate")(w)


def _a_upload_kept(w: World) -> None:
    for name in ("upload_id", "open_upload_id"):
        answer = w.a.session.get(f"{w.url}/v1/uploads/{w.ids[name]}", timeout=30)
        assert answer.status_code == 200, f"B's call removed A's upload: {answer.text}"


def _nothing_acknowledged(w: World, answer: requests.Response) -> None:
    if answer.status_code == 200:
        assert not any(n["acknowledged"] for n in answer.json()["notices"]), \
            "B's answer tells that A's install id acknowledged a notice"


def _not_as_a(w: World, answer: requests.Response) -> None:
    if answer.content:
        assert answer.json().get("acknowledged_at") != w.a_made["acknowledged_at"], \
            "B learnt when A's install id acknowledged the notice"


def _no_records(w: World, answer: requests.Response) -> None:
    assert answer.json() == {"records": []}, "B got the records of A's install id"


def _b_record_for_a_subject(w: World) -> requests.Response:
    intruder = SigningDevice(subject_id=w.ids["subject_id"])  # B's own key, A's install id
    record = intruder.record(decision="withdrawn")
    return w.b.session.post(f"{w.url}/v1/consent-records", json=record, timeout=30,
                            headers={"Idempotency-Key": record["record_id"]})


def _b_signs_with_a_serial(w: World) -> requests.Response:
    data = load_templates()[TEMPLATE].data
    key: ec.EllipticCurvePrivateKey = w.b.key
    body = {"template_id": TEMPLATE, "sha256": hashlib.sha256(data).hexdigest(),
            "signature": _b64url(key.sign(data, ec.ECDSA(hashes.SHA256()))),
            "certificate_serial": w.ids["serial"]}
    return w.b.post("/v1/signatures", body)


def _b_replays(name: str, path: str, extra: dict[str, str] | None = None) -> Call:
    """B sends A's exact body under A's Idempotency-Key: never A's stored answer."""
    def call(w: World) -> requests.Response:
        key, body = w.a_made[name]
        return w.b.post(path, body, {"Idempotency-Key": key, **(extra or {})})
    return call


def _b_reviews_a_verification(w: World) -> list[requests.Response]:
    submission = str(uuid.uuid4())
    review = {"submission": submission, "kid": w.b.ids["kid"],
              "consent": w.b.grants["purpose:realname_verification"],
              "previous": w.ids["verification_id"],
              "document": {"kind": "passport", "number": "c2VhbGVk", "uploads": [w.ids["upload_id"]]}}
    replay = w.a_made["verification"]
    return [w.b.post("/v1/realname/verifications", review, {"Idempotency-Key": submission}),
            w.b.post("/v1/realname/verifications", replay, {"Idempotency-Key": replay["submission"]})]


def _b_uploads(w: World) -> list[requests.Response]:
    headers = w.a_made["upload_headers"]  # A's Idempotency-Key and metadata (A's consent id)
    return [w.b.session.post(f"{w.url}/v1/uploads", headers=headers, timeout=30)]


def _tus(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {"Tus-Resumable": "1.0.0", **(extra or {})}


def _b_patches(w: World) -> list[requests.Response]:
    return [w.b.session.patch(f"{w.url}/v1/uploads/{w.ids[name]}", data=b"\x00" * 64, timeout=30,
                              headers=_tus({"Upload-Offset": "0",
                                            "Content-Type": "application/offset+octet-stream"}))
            for name in ("upload_id", "open_upload_id")]


def _on_uploads(method: str) -> Call:
    return lambda w: [w.b.session.request(method, f"{w.url}/v1/uploads/{w.ids[name]}", timeout=30,
                                          headers=_tus())
                      for name in ("upload_id", "open_upload_id")]


def _b_rights(w: World) -> list[requests.Response]:
    body = {"kind": "evidence_report", "requester_name": NAME_B, "requester_id_number": ID_NUMBER_B,
            "reason": "a court case", "mailbox": "bob@bob.example",
            "signature_id": w.ids["signature_id"]}
    return [
        # A's identity token with B's session
        w.b.post("/v1/me/rights-requests", {"kind": "access"},
                 {"Identity-Token": w.ids["identity_token"]}),
        # B's own token, naming A's signature
        w.b.post("/v1/me/rights-requests", body, {"Identity-Token": w.b.ids["identity_token"]}),
        # A's Idempotency-Key and body with B's own token
        _b_replays("rights", "/v1/me/rights-requests",
                   {"Identity-Token": w.b.ids["identity_token"]})(w),
    ]


SWEEP: dict[str, Entry] = {
    # -- public: no account, nothing of anyone's -------------------------------------------
    "GET /v1/health": Entry((200,), _get("/v1/health"), "liveness", public="liveness and version"),
    "GET /v1/policy": Entry((200,), _get("/v1/policy"), "the policy",
                            public="the privacy policy is shown before any account exists"),
    "GET /v1/templates": Entry((200,), _get("/v1/templates"), "the templates",
                               public="contract templates work without an account (OBL-ACC-2)"),
    "GET /v1/templates/{template_id}": Entry(
        (200,), _get(f"/v1/templates/{TEMPLATE}"), "a template",
        public="contract templates work without an account (OBL-ACC-2)"),
    "GET /v1/templates/{template_id}/download": Entry(
        (200,), _get(f"/v1/templates/{TEMPLATE}/download"), "a template file",
        public="contract templates work without an account (OBL-ACC-2)"),
    "GET /v1/client-ip": Entry((200,), _get("/v1/client-ip"), "the caller's own address",
                               public="answers the caller's own address only (OBL-DEV-1)"),
    "GET /v1/keys/hpke": Entry((200,), _get("/v1/keys/hpke"), "public keys",
                               public="the server's HPKE public keys"),
    "OPTIONS /v1/uploads": Entry(
        (204,), lambda w: w.b.session.options(f"{w.url}/v1/uploads", timeout=30), "capabilities",
        public="tus capabilities (versions, extensions, limits)"),
    "GET /v1/notices": Entry(
        (200,), _get("/v1/notices", params={"subject_id": "{subject_id}"}),
        "notices are for everyone; 'acknowledged' must not tell B about A's install id",
        public="breach and service-ending notices are for everyone (OBL-BR-1, OBL-END-1)",
        check=_nothing_acknowledged),
    # -- accounts and sessions -----------------------------------------------------------
    "POST /v1/accounts": Entry(
        (409,), lambda w: w.fresh().post(f"{w.url}/v1/accounts", headers=_key(), timeout=30,
                                         json={"identifier": w.a.identifier, "password": PASSWORD_B}),
        "account_exists, without A's account id"),
    "POST /v1/sessions": Entry(
        (401,), lambda w: w.fresh().post(f"{w.url}/v1/sessions", timeout=30,
                                         json={"identifier": w.a.identifier, "password": PASSWORD_B}),
        "invalid_credentials: A's identifier with another password logs nobody in",
        after=_a_logged_in),
    "DELETE /v1/sessions/current": Entry(
        (204,), lambda w: w.b_again().delete(f"{w.url}/v1/sessions/current", timeout=30),
        "ends only the caller's own session", after=_a_logged_in),
    "GET /v1/me": _mine("/v1/me"),
    "PUT /v1/me/subjects/{subject_id}": Entry(
        (409,), lambda w: w.b.session.put(f"{w.url}/v1/me/subjects/{w.ids['subject_id']}", timeout=30),
        "subject_linked_elsewhere (an install id belongs to one account; docs/protocol.md)",
        after=_a_still("/v1/me/personal-information", lambda body: any(
            i["item"] == "install_ids" and i["count"] == 1 for i in body["items"]), "install ids")),
    "GET /v1/me/consent-records": _mine("/v1/me/consent-records"),
    "GET /v1/me/personal-information": _mine("/v1/me/personal-information"),
    "GET /v1/me/third-party-transfers": _mine("/v1/me/third-party-transfers"),
    # -- consent records -----------------------------------------------------------------
    "POST /v1/consent-records": Entry(
        (409,), _b_record_for_a_subject,
        "subject_key_mismatch: B's key cannot write into A's install id's history",
        after=_a_still("/v1/me/consent-records", lambda body: all(
            r["decision"] == "granted" for r in body["records"]), "consent records")),
    "GET /v1/consent-records": Entry(
        (200,), _get("/v1/consent-records", params={"subject_id": "{subject_id}"}),
        "an install id linked to another account answers like an unknown one: no records",
        check=_no_records),
    # -- uploads -------------------------------------------------------------------------
    "POST /v1/uploads": Entry(
        (403, 409), _b_uploads, "consent_required: A's consent record is not B's"),
    "HEAD /v1/uploads/{upload_id}": Entry((404,), _on_uploads("HEAD"), "upload_not_found",
                                          after=_a_upload_kept),
    "GET /v1/uploads/{upload_id}": Entry((404,), _on_uploads("GET"), "upload_not_found"),
    "PATCH /v1/uploads/{upload_id}": Entry((404,), _b_patches, "upload_not_found",
                                           after=_a_upload_kept),
    "DELETE /v1/uploads/{upload_id}": Entry((404,), _on_uploads("DELETE"), "upload_not_found",
                                            after=_a_upload_kept),
    # -- certificates and signing --------------------------------------------------------
    "POST /v1/certificates": Entry(
        (409,), _b_replays("certificate", "/v1/certificates"),
        "idempotency_key_reused: A's key never replays A's certificate to B",
        after=_a_certificate_valid),
    "GET /v1/certificates": _mine("/v1/certificates"),
    "DELETE /v1/certificates/{serial}": Entry(
        (404,), lambda w: w.b.session.delete(f"{w.url}/v1/certificates/{w.ids['serial']}", timeout=30),
        "certificate_not_found", after=_a_certificate_valid),
    "POST /v1/signatures": Entry(
        (404,), lambda w: [_b_signs_with_a_serial(w), _b_replays("signature", "/v1/signatures")(w)],
        "certificate_not_found: A's serial is not a certificate of B's"),
    # -- real-name verification ----------------------------------------------------------
    "POST /v1/realname/verifications": Entry(
        (403, 404), _b_reviews_a_verification,
        "verification_not_found for a review of A's verification; realname_consent_required "
        "for A's body (A's consent record id) under A's submission id"),
    "GET /v1/realname/verifications": _mine("/v1/realname/verifications"),
    "GET /v1/realname/verifications/{verification_id}": Entry(
        (404,), _get("/v1/realname/verifications/{verification_id}"), "verification_not_found"),
    # -- issue #7: rights, export, cancellation ------------------------------------------
    "POST /v1/me/identity-checks": Entry(
        (401,), lambda w: w.b.post("/v1/me/identity-checks", {"password": PASSWORD_A}),
        "invalid_credentials: A's password checks nothing for B"),
    "POST /v1/me/rights-requests": Entry(
        (403, 409, 422), _b_rights,
        "identity_check_required with A's token; invalid_request for A's signature_id; "
        "idempotency_key_reused for A's key",
        after=_a_still("/v1/me/rights-requests", lambda body: len(body["requests"]) == 1,
                       "rights requests")),
    "GET /v1/me/rights-requests": _mine("/v1/me/rights-requests"),
    "GET /v1/me/rights-requests/{request_id}": Entry(
        (404,), _get("/v1/me/rights-requests/{request_id}"), "request_not_found"),
    "GET /v1/me/export": Entry(
        (200, 403), lambda w: [
            w.b.session.get(f"{w.url}/v1/me/export", timeout=30,
                            headers={"Identity-Token": w.ids["identity_token"]}),
            w.b.session.get(f"{w.url}/v1/me/export", timeout=30,
                            headers={"Identity-Token": w.b.ids["identity_token"]})],
        "403 identity_check_required with A's token; with B's own: B's export, nothing of A's",
        check=lambda w, answer: None if answer.status_code == 403 else
        _assert_eq(answer.json()["account"]["account_id"], w.b.account_id)),
    "POST /v1/me/cancellation": Entry(
        (403,), lambda w: w.b.post("/v1/me/cancellation", {},
                                   {"Identity-Token": w.ids["identity_token"]}),
        "identity_check_required: A's identity token is A's"),
    "POST /v1/me/cancellation/confirm": Entry(
        (403,), lambda w: w.b.post("/v1/me/cancellation/confirm",
                                   {"cancellation_token": w.ids["cancellation_token"]}),
        "cancellation_token_invalid: A's token cancels nobody for B", after=_a_logged_in),
    # -- issue #7: support, notifications, invitations, notices --------------------------
    "POST /v1/me/support-messages": Entry(
        (409,), _b_replays("support", "/v1/me/support-messages"),
        "idempotency_key_reused: A's key never replays A's message to B"),
    "GET /v1/me/support-messages": _mine("/v1/me/support-messages"),
    "GET /v1/me/notification-preference": _mine("/v1/me/notification-preference"),
    "PUT /v1/me/notification-preference": Entry(
        (200,), lambda w: w.b.session.put(f"{w.url}/v1/me/notification-preference", timeout=30,
                                          json={"channel": "sms"}),
        "changes B's own preference only",
        after=_a_still("/v1/me/notification-preference",
                       lambda body: body["channel"] == "email", "notification preference")),
    "POST /v1/me/invitations": Entry(
        (409,), _b_replays("invitation", "/v1/me/invitations"),
        "idempotency_key_reused: A's key never replays A's invitation to B"),
    "GET /v1/me/invitations": _mine("/v1/me/invitations"),
    "POST /v1/notices/{notice_id}/acknowledgements": Entry(
        (403, 404, 409), lambda w: w.b.post(f"/v1/notices/{w.ids['notice_id']}/acknowledgements",
                                            {"subject_id": w.ids["subject_id"]}),
        "A's install id is linked to A: B cannot acknowledge for it, nor learn when A did",
        check=_not_as_a),
}


def _assert_eq(got: Any, expected: Any) -> None:
    assert got == expected, (got, expected)


# -- the checks --------------------------------------------------------------------------------


def _leaks(w: World, answer: requests.Response) -> list[str]:
    """Names of A's markers found in *answer*'s body or headers."""
    text = answer.content.decode("utf-8", "replace")
    try:  # JSON escapes non-ASCII (a real name) unless ensure_ascii=False: check both spellings
        text += json.dumps(answer.json(), ensure_ascii=False)
    except ValueError:
        pass
    headers = "\n".join(f"{k}: {v}" for k, v in answer.headers.items())
    return [name for name, value in w.markers.items() if value and (value in text or value in headers)]


def test_every_operation_is_swept(world: World) -> None:  # OBL-SEC-2 cross-user access; issue #7 authorisation
    document = world.b.session.get(f"{world.url}/openapi.json", timeout=30).json()
    served = {f"{method.upper()} {path}" for path, item in document["paths"].items() for method in item}
    missing = sorted(served - set(SWEEP))
    assert not missing, (
        f"operations of the OpenAPI document without an entry in SWEEP "
        f"(tests/server/test_authorisation_sweep.py): {missing}; say how another user calls "
        "each with this user's ids and what answer is acceptable")
    assert not sorted(set(SWEEP) - served), "SWEEP names operations the stub no longer serves"


@pytest.mark.parametrize("operation", OPERATIONS)
def test_another_users_session_reaches_nothing(world: World, operation: str) -> None:  # OBL-SEC-2 cross-user access; issue #7 authorisation
    entry = SWEEP.get(operation)
    assert entry is not None, (
        f"{operation} is in the OpenAPI document but has no entry in SWEEP "
        "(tests/server/test_authorisation_sweep.py): add how another user calls it with this "
        "user's ids and what answer is acceptable, or list it as public with the reason")
    result = entry.call(world)
    answers = result if isinstance(result, list) else [result]
    for answer in answers:
        where = f"{operation}: {answer.request.method} {answer.request.path_url}"
        assert answer.status_code in entry.expect, (
            f"{where} answered {answer.status_code}, expected {entry.expect} ({entry.why}): "
            f"{answer.text[:300]}")
        leaks = _leaks(world, answer)
        assert not leaks, f"{where}: B's answer holds {leaks}"
        if entry.check is not None:
            entry.check(world, answer)
    if entry.after is not None:
        entry.after(world)


def test_the_dev_endpoints_were_found() -> None:  # OBL-SEC-2; issue #7 authorisation
    """The dev sweep below is not silently empty (e.g. after a FastAPI routing change)."""
    assert "POST /v1/dev/rights-requests/{request_id}/answer" in DEV_OPERATIONS, DEV_OPERATIONS


@pytest.mark.parametrize("operation", DEV_OPERATIONS)
def test_dev_endpoints_are_not_served_with_dev_mode_off(world: World, operation: str) -> None:  # OBL-SEC-2; issue #7 authorisation
    method, path = operation.split(" ", 1)
    names = {"request_id": world.ids["request_id"], "verification_id": world.ids["verification_id"]}
    filled = path
    for part in path.split("/"):
        if part.startswith("{") and part.endswith("}"):
            filled = filled.replace(part, names.get(part[1:-1], str(uuid.uuid4())))
    answer = world.b.session.request(method, f"{world.url}{filled}", json={}, headers=_key(), timeout=30)
    assert answer.status_code == 404, f"{operation} answered {answer.status_code} with dev mode off"
    assert not _leaks(world, answer)


def test_the_sweep_covers_each_kind_of_record(world: World) -> None:  # OBL-SEC-2; issue #7 authorisation
    """The world really holds A's records of each kind (a sweep over nothing proves nothing)."""
    export = world.a.session.get(f"{world.url}/v1/me/export", timeout=30,
                                 headers={"Identity-Token": world.ids["identity_token"]})
    assert export.status_code == 200, export.text
    body = export.json()
    for section in ("consent_records", "certificates", "signing_records", "rights_requests",
                    "support_messages", "invitations", "notice_acknowledgements"):
        assert body[section], f"A has no {section}"
    assert body["realname"]["verifications"] and body["realname"]["real_name"] == NAME_A
    assert body["notification_preference"]["email"]


@pytest.mark.parametrize("method", ["HEAD", "PATCH"])
def test_another_user_cannot_stop_a_running_upload(world: World, method: str) -> None:  # OBL-SEC-2 cross-user access; issue #7 authorisation
    """B naming A's upload while A's PATCH is still sending gets 404 and leaves A's PATCH
    alone (a HEAD or PATCH of the owner asks a running PATCH to stop: tus resumption)."""
    import threading

    uploader = Uploader(world.a)
    data = bytes(range(256)) * 12
    upload_id, _ = uploader.create(data, "face_video")
    records = uploader.sealed(upload_id, data)
    gate, answers = threading.Event(), []

    def slow_body() -> Iterator[bytes]:
        yield records[0]
        gate.wait(20)
        yield from records[1:]

    sending = threading.Thread(target=lambda: answers.append(uploader.patch(upload_id, slow_body())))
    sending.start()
    try:
        time.sleep(0.5)  # A's PATCH is running on the server, waiting for more bytes
        stranger = world.b.session.request(
            method, f"{world.url}/v1/uploads/{upload_id}", timeout=30, data=b"" if method == "PATCH" else None,
            headers=_tus({"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}))
        assert stranger.status_code == 404
    finally:
        gate.set()
        sending.join(30)
    assert answers and answers[0].status_code == 204, answers and answers[0].text
    assert answers[0].headers["Upload-Offset"] == str(sum(len(r) for r in records))
