"""A full, realistic run of the SDK against the real stub, then what it left behind
(MASVS-STORAGE-1, MASVS-STORAGE-2, MASVS-PRIVACY-1; OBL-SEC-2, OBL-LOG-1).

One device does everything a user of the demo app does, with values made up for this run (so
nothing else in the repository can hold them): agree to the policy, register and log in with
"remember me" (a persistent cookie), give the real-name consents, submit a real name with a
middle dot, an ID number, a phone number and a face video, get a certificate and sign a
contract, ask for an access report, an export, a phone correction and an objection, write to
customer service with a phone number as contact, invite a counter-signer by phone number, with
the operation log open and the SDK's and urllib3's loggers writing DEBUG lines to a file.

Then every file under the device's data folder, and the log file, is read as bytes and none of
the values may appear in clear: as UTF-8, UTF-16 (both byte orders, as a Windows or Java layer
might write) and JSON ``\\u`` escapes; phone numbers also as E.164, without ``+``, national and
spaced; the ID number with a lower-case ``x``; the email as typed and normalised. A scan that
found nothing because nothing was written would prove nothing, so each test first checks the
run really wrote what it scans.
"""

from __future__ import annotations

import json
import logging
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from sdk import PrivacySdk, SdkConfig
from sdk.policy import load_policy
from sdk.storage.backends.passphrase import PassphraseKeystore
from sdk.testing.compliance import assert_compliant
from server_stub.testing import https_session
from tests.sdk.ids import with_check_digit

from .conftest import DEMO_POLICY_DIR

#: Uncommon Chinese characters for a name no fixture in the repository uses.
_RARE_HAN = "燚鑫淼焱垚犇骉龘靐赟翀昇晟煜"
#: Loggers whose DEBUG lines go to the run's log file: the SDK's and its HTTP client's.
_LOGGERS = ("sdk", "urllib3", "requests")


def _mobile(rng: random.Random, prefix: str) -> str:
    return prefix + "".join(rng.choice("0123456789") for _ in range(8))


def _id_number(rng: random.Random) -> str:
    body = "330106" + f"{rng.randint(1960, 1999)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    body += f"{rng.randint(100, 999)}"
    return with_check_digit(body)


@dataclass(repr=False)  # the values never show in a failure report
class Values:
    """The personal values of this run, as the user typed them."""

    email: str
    password: str
    passphrase: str
    name: str
    id_number: str
    phone: str  # real-name phone
    corrected_phone: str
    contact_phone: str  # typed with spaces into the support form
    invitee_phone: str
    support_text: str
    objection_text: str
    face: bytes
    cookie_values: list[str] = field(default_factory=list)

    @classmethod
    def make(cls) -> Values:
        rng = random.Random(uuid.uuid4().int)
        token = uuid.uuid4().hex[:12]
        name = "".join(rng.sample(_RARE_HAN, 2)) + "·" + "".join(rng.sample(_RARE_HAN, 3))
        contact = _mobile(rng, "186")
        return cls(
            email=f"Scan.{token}@Example.com",
            password=f"Pw-{uuid.uuid4().hex[:16]}-Zq!",
            passphrase=f"pass-{uuid.uuid4().hex}",
            name=name,
            id_number=_id_number(rng),
            phone=_mobile(rng, "139"),
            corrected_phone=_mobile(rng, "137"),
            contact_phone=f"{contact[:3]} {contact[3:7]} {contact[7:]}",
            invitee_phone=_mobile(rng, "135"),
            support_text=f"合同下载失败，订单号 QZ{token.upper()}，请回电。",
            objection_text=f"我反对将我的数据用于营销 OBJ{token}。",
            face=b"\x00\x00\x00\x18ftypmp42" + rng.randbytes(8192),
        )

    def needles(self) -> dict[str, list[bytes]]:
        """Every value in every form it must not appear in: description -> byte strings."""
        texts: dict[str, set[str]] = {
            "email": {self.email, self.email.lower(), self.email.split("@")[0],
                      self.email.split("@")[0].lower()},
            "password": {self.password},
            "passphrase": {self.passphrase},
            "name": {self.name, self.name.replace("·", "")},
            "id_number": {self.id_number, self.id_number.lower()},
            "support_text": {self.support_text, self.support_text.split("，")[1]},
            "objection_text": {self.objection_text, self.objection_text.split(" ")[1][:-1]},
        }
        for label, typed in (("phone", self.phone), ("corrected_phone", self.corrected_phone),
                             ("contact_phone", self.contact_phone),
                             ("invitee_phone", self.invitee_phone)):
            national = typed.replace(" ", "")
            texts[label] = {national, "+86" + national, "86" + national,
                            f"{national[:3]} {national[3:7]} {national[7:]}",
                            f"{national[:3]}-{national[3:7]}-{national[7:]}"}
        for n, value in enumerate(self.cookie_values):
            texts[f"cookie[{n}]"] = {value}
        found: dict[str, list[bytes]] = {}
        for label, forms in texts.items():
            encoded: set[bytes] = set()
            for text in forms:
                encoded.add(text.encode("utf-8"))
                encoded.add(text.encode("utf-16-le"))
                encoded.add(text.encode("utf-16-be"))
                escaped = json.dumps(text, ensure_ascii=True)[1:-1]
                encoded.add(escaped.encode("ascii"))
            found[label] = sorted(encoded)
        middle = len(self.face) // 2
        found["face_video"] = [self.face[16:48], self.face[middle:middle + 32], self.face[-32:]]
        return found


@dataclass
class Run:
    values: Values
    data_dir: Path
    log_file: Path
    manifest: Any
    reached: dict[str, Any]


def _agency_answers_at_once(stub: Any) -> None:
    with https_session(stub) as session:
        answer = session.put(f"{stub.url}/v1/dev/realname/agency", timeout=10,
                             json={"outcome": "pass", "delay_seconds": 0})
    assert answer.status_code == 200, answer.text


def _debug_log_to(path: Path) -> Any:
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    previous = {}
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        previous[name] = logger.level
        logger.setLevel(logging.DEBUG)
        logger.addHandler(handler)

    def undo() -> None:
        for name in _LOGGERS:
            logging.getLogger(name).removeHandler(handler)
            logging.getLogger(name).setLevel(previous[name])
        handler.close()

    return undo


def _leaks(data: bytes, needles: dict[str, list[bytes]]) -> list[str]:
    return sorted({label for label, forms in needles.items() for form in forms if form in data})


def _drive(privacy: PrivacySdk, stub: Any, v: Values) -> dict[str, Any]:
    """Everything a user of the demo app does; what the server answered, for the checks."""
    reached: dict[str, Any] = {}
    privacy.agree()
    privacy.register(v.email, v.password)
    privacy.login(v.email, v.password, remember_me=True)
    v.cookie_values.extend(c.value for c in privacy.cookie_jar if c.value)
    reached["persistent_cookies"] = [c.name for c in privacy.cookie_jar.list() if c.persistent]
    privacy.operation_log  # noqa: B018 - opened: the SDK's warnings go to it from now on

    realname = privacy.realname
    for scope in realname.missing_consents():
        privacy.grant(scope)
    submitted = realname.submit(v.name, v.id_number, v.phone, v.face)
    reached["verification"] = realname.wait(submitted.id, timeout_s=20, poll_interval_s=0.05).status

    for scope in ("certificate", "item:certificate_info", "recipient:ca", "item:id_number"):
        if not privacy.state(scope).granted:
            privacy.grant(scope)
    reached["certificate"] = privacy.certificate.request().common_name == v.name
    template_id = str(privacy.list_templates()[0]["id"])
    reached["signed"] = privacy.sign_contract(template_id).verified

    check = privacy.rights.verify_identity(v.password)
    reached["access_report"] = bool(privacy.rights.access_report(check).titles)
    privacy.rights.correct(check, "phone", v.corrected_phone)
    # the positive control of the scan: the export (kept in memory, never written) holds the
    # email and the corrected phone in the forms the needles look for
    reached["export_leaks"] = _leaks(privacy.rights.export(check).to_json(), v.needles())
    privacy.rights.object(check, v.objection_text)
    reached["rights_requests"] = len(privacy.rights.requests())

    privacy.support.send(v.support_text, contact=v.contact_phone)
    reached["support_messages"] = len(privacy.support.messages())
    privacy.invite_signer(template_id, v.invitee_phone, attested=True)
    reached["invitations"] = len(privacy.invitations())
    reached["oplog_entries"] = len(privacy.operation_log.entries())
    return reached


@pytest.fixture(scope="module")
def run(stub: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """The full run, once for the module; the SDK is closed before any test looks."""
    values = Values.make()
    base = tmp_path_factory.mktemp("full-run")
    data_dir, log_file = base / "device", base / "sdk-debug.log"
    policy = load_policy(DEMO_POLICY_DIR / "policy.md")
    config = SdkConfig(data_dir=data_dir, endpoint=stub.url, ca_bundle=stub.ca_path,
                       hpke_pins=stub.hpke_pins, retries=1, backoff=0.0, read_timeout=20.0)
    _agency_answers_at_once(stub)
    undo_logging = _debug_log_to(log_file)
    try:
        keystore = PassphraseKeystore(data_dir, values.passphrase)
        with PrivacySdk.open(config, policy, keystore=keystore) as privacy:
            reached = _drive(privacy, stub, values)
    finally:
        undo_logging()
    yield Run(values, data_dir, log_file, policy.manifest, reached)


def test_the_run_reached_every_part_of_the_flow(run: Run) -> None:  # MASVS-STORAGE-2
    assert run.reached["persistent_cookies"], "remember me should keep a persistent cookie"
    assert run.reached["verification"] == "verified"
    assert run.reached["certificate"] and run.reached["signed"]
    assert run.reached["access_report"]
    assert {"email", "corrected_phone"} <= set(run.reached["export_leaks"])  # the needles work
    assert run.reached["rights_requests"] >= 4  # access, export, correction, objection
    assert (run.reached["support_messages"], run.reached["invitations"]) == (1, 1)
    assert run.reached["oplog_entries"] > 0


def test_no_personal_value_is_in_clear_in_any_file_of_the_data_dir(run: Run) -> None:  # MASVS-STORAGE-1, MASVS-STORAGE-2, OBL-SEC-2
    files = sorted(p for p in run.data_dir.rglob("*") if p.is_file())
    names = {p.name for p in files}
    assert {"store.db", "oplog.db"} <= names, names  # the scan looks at what the run wrote
    needles = run.values.needles()
    leaks = {str(p.relative_to(run.data_dir)): found for p in files
             if (found := _leaks(p.read_bytes(), needles))}
    assert leaks == {}


def test_no_personal_value_is_in_the_debug_log(run: Run) -> None:  # MASVS-STORAGE-2, OBL-LOG-1
    data = run.log_file.read_bytes()
    assert b" DEBUG urllib3" in data  # DEBUG lines were really written
    assert _leaks(data, run.values.needles()) == []


def test_the_compliance_check_over_the_full_run_is_clean(run: Run) -> None:  # MASVS-PRIVACY-1, OBL-SEC-3
    assert_compliant(run.data_dir, manifest=run.manifest)
