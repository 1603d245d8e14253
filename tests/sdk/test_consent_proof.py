"""Signed, hash-chained consent records (docs/protocol.md "Proof"): signing, verification,
export documents and the ``python -m sdk.consent`` command. Real Ed25519 keys, real files,
real subprocesses; no mocks."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from sdk.consent.ledger import ConsentLedger
from sdk.consent.proof import (
    EXPORT_FORMAT,
    GENESIS,
    PROOF_TYPE,
    ChainReport,
    DeviceKey,
    canonical,
    export_document,
    record_hash,
    verify_chain,
    verify_document,
    verify_record,
)
from sdk.consent.record import ConsentRecord, Notice
from sdk.errors import ConsentError, KeystoreError
from sdk.testing.keystore import MemoryKeystore

REPO = Path(__file__).resolve().parents[2]
SUBJECT = "3b9a5a1e-2f7d-4c1e-9a41-0c2e6f1d7b55"
NOTICE = Notice(policy_version="2026.11", sha256="ab" * 32, language="zh-CN")
CONTROLLER = "示例电子签 (Demo e-Sign Ltd.)"
WITHDRAWAL = "在「我的 → 隐私中心」关闭对应开关，或发送邮件至 privacy@demo-esign.example"

HAS_EXPORT = hasattr(ConsentLedger, "export_records")
NO_EXPORT = "ConsentLedger.export_records() does not exist yet (the lead adds it to sdk/consent/ledger.py)"


def unsigned(decision: str = "granted", scope: str = "policy", n: int = 0) -> dict[str, Any]:
    """A v2 wire record without proof, shaped like docs/protocol.md's example."""
    return ConsentRecord(
        record_id=str(uuid.uuid4()),
        subject_id=SUBJECT,
        decision=decision,  # type: ignore[arg-type]
        purposes=("customer_service", "notifications"),
        notice=NOTICE,
        controller=CONTROLLER,
        controller_contact="privacy@demo-esign.example",
        method="explicit_button",
        created_at=f"2026-11-30T03:22:{25 + n:02d}Z",
        scope=scope,
        consent_type="policy" if scope == "policy" else "purpose",
        pi_categories=("cs_message", "notification_email"),
        retention={"cs_message": "P2Y", "notification_email": "until_account_cancelled"},
        withdrawal=WITHDRAWAL,
    ).unsigned_dict()


def chain(key: DeviceKey, decisions: list[str]) -> list[dict[str, Any]]:
    """Records signed by *key* with seq 1..n, each linked to the one before."""
    records: list[dict[str, Any]] = []
    prev = GENESIS
    for n, decision in enumerate(decisions, start=1):
        scope = "policy" if decision != "withdrawn" else "purpose:notifications"
        record = key.sign(unsigned(decision, scope, n), seq=n, prev_hash=prev)
        prev = record_hash(record)
        records.append(record)
    return records


@pytest.fixture(scope="module")
def key() -> DeviceKey:
    return DeviceKey.generate()


@pytest.fixture
def records(key: DeviceKey) -> list[dict[str, Any]]:
    return chain(key, ["granted", "granted", "withdrawn", "granted"])


def kinds(report: ChainReport) -> list[str]:
    return [p.kind for p in report.problems]


# -- signing and verifying ----------------------------------------------------------------


def test_sign_then_verify_round_trip(key: DeviceKey) -> None:
    body = unsigned()
    record = key.sign(body, seq=1, prev_hash=GENESIS)
    assert verify_record(record) == []
    proof = record["proof"]
    assert set(proof) == {"type", "public_key", "seq", "prev_hash", "signature"}
    assert proof["type"] == PROOF_TYPE and proof["seq"] == 1 and proof["prev_hash"] == GENESIS
    assert proof["public_key"] == key.public_key and len(key.public_key) == 43  # 32 bytes
    assert len(proof["signature"]) == 86  # 64 bytes, base64url without padding
    assert {k: v for k, v in record.items() if k != "proof"} == body


def test_sign_returns_a_new_dict_and_leaves_the_input_alone(key: DeviceKey) -> None:
    body = unsigned()
    before = copy.deepcopy(body)
    record = key.sign(body, seq=1, prev_hash=GENESIS)
    assert body == before and "proof" not in body
    record["purposes"].append("x")
    assert body == before  # a deep copy, not shared lists


def test_signed_record_round_trips_through_consent_record(key: DeviceKey) -> None:
    record = key.sign(unsigned(), seq=1, prev_hash=GENESIS)
    assert verify_record(ConsentRecord.from_dict(record).to_dict()) == []


def test_clean_chain_verifies(key: DeviceKey, records: list[dict[str, Any]]) -> None:
    report = verify_chain(records)
    assert report.ok and report.problems == ()
    assert report.count == 4 and report.public_key == key.public_key
    assert report.head_hash == record_hash(records[-1])


def test_each_prev_hash_is_the_hash_of_the_record_before(records: list[dict[str, Any]]) -> None:
    assert records[0]["proof"]["prev_hash"] == GENESIS
    for before, after in zip(records, records[1:]):
        assert after["proof"]["prev_hash"] == record_hash(before)


def test_record_hash_covers_the_signature(key: DeviceKey) -> None:
    record = key.sign(unsigned(), seq=1, prev_hash=GENESIS)
    other = copy.deepcopy(record)
    other["proof"]["signature"] = key.sign(unsigned(), seq=1, prev_hash=GENESIS)["proof"]["signature"]
    assert record_hash(record) != record_hash(other)


def test_empty_chain_is_ok() -> None:
    report = verify_chain([])
    assert report.ok and report.count == 0 and report.public_key is None and report.head_hash is None


@pytest.mark.parametrize("kwargs", [
    {"seq": 0, "prev_hash": GENESIS},
    {"seq": True, "prev_hash": GENESIS},
    {"seq": 1, "prev_hash": "0" * 63},
    {"seq": 1, "prev_hash": "A" * 64},
])
def test_sign_refuses_a_bad_seq_or_prev_hash(key: DeviceKey, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        key.sign(unsigned(), **kwargs)


def test_sign_refuses_a_record_that_already_has_a_proof(key: DeviceKey) -> None:
    signed = key.sign(unsigned(), seq=1, prev_hash=GENESIS)
    with pytest.raises(ValueError, match="already has a 'proof'"):
        key.sign(signed, seq=2, prev_hash=record_hash(signed))


# -- tampering ----------------------------------------------------------------------------


def test_altered_field_is_a_bad_signature(records: list[dict[str, Any]]) -> None:
    records[1]["purposes"] = ["customer_service", "notifications", "marketing"]
    report = verify_chain(records)
    assert [(p.kind, p.seq, p.position) for p in report.problems if p.kind == "bad_signature"] == [
        ("bad_signature", 2, 2)]
    assert verify_record(records[1]) and "does not verify" in verify_record(records[1])[0]


def test_withdrawal_changed_to_grant_is_a_bad_signature(records: list[dict[str, Any]]) -> None:  # OBL-DSR-4
    assert records[2]["decision"] == "withdrawn"
    records[2]["decision"] = "granted"
    report = verify_chain(records)
    assert not report.ok
    assert ("bad_signature", 3) in [(p.kind, p.seq) for p in report.problems]


def test_altered_seq_is_a_bad_signature(records: list[dict[str, Any]]) -> None:
    records[3]["proof"]["seq"] = 5
    assert "bad_signature" in kinds(verify_chain(records))


def test_removed_record_is_a_gap_and_a_broken_chain(records: list[dict[str, Any]]) -> None:
    del records[1]
    report = verify_chain(records)
    assert sorted(kinds(report)) == ["broken_chain", "gap"]
    gap = next(p for p in report.problems if p.kind == "gap")
    assert gap.seq == 2 and "seq 2 is missing" in gap.message
    broken = next(p for p in report.problems if p.kind == "broken_chain")
    assert broken.seq == 3 and broken.record_id == records[1]["record_id"]


def test_removed_withdrawal_is_detected(records: list[dict[str, Any]]) -> None:  # OBL-DSR-4
    assert records[2]["decision"] == "withdrawn"
    del records[2]
    report = verify_chain(records)
    assert not report.ok
    assert {"gap", "broken_chain"} <= set(kinds(report))


def test_several_removed_records_are_one_gap_range(key: DeviceKey) -> None:
    records = chain(key, ["granted"] * 5)
    report = verify_chain([records[0], records[4]])
    gaps = [p for p in report.problems if p.kind == "gap"]
    assert len(gaps) == 1 and "seq 2 to 4 are missing" in gaps[0].message


def test_reordered_records_are_reported(records: list[dict[str, Any]]) -> None:
    records[1], records[2] = records[2], records[1]
    report = verify_chain(records)
    assert not report.ok
    assert "bad_signature" not in kinds(report)  # every record is intact, only the order is not
    assert any("out of order" in p.message for p in report.problems)
    assert kinds(report).count("broken_chain") >= 2


def test_duplicate_record_is_reported(records: list[dict[str, Any]]) -> None:
    records.insert(2, copy.deepcopy(records[1]))
    report = verify_chain(records)
    assert any(p.kind == "broken_chain" and "more than once" in p.message for p in report.problems)


def test_record_signed_by_another_key_is_wrong_key(key: DeviceKey, records: list[dict[str, Any]]) -> None:
    intruder = DeviceKey.generate()
    records.append(intruder.sign(unsigned("withdrawn"), seq=5, prev_hash=record_hash(records[-1])))
    report = verify_chain(records)
    assert kinds(report) == ["wrong_key"]  # its signature and link are fine, the key is not
    assert report.problems[0].seq == 5 and report.public_key == key.public_key


def test_chain_resigned_by_another_key_fails_against_the_trusted_key(key: DeviceKey) -> None:
    forged = chain(DeviceKey.generate(), ["granted", "withdrawn"])
    assert verify_chain(forged).ok  # self-consistent: only a trusted key can tell
    report = verify_chain(forged, public_key=key.public_key)
    assert kinds(report) == ["wrong_key", "wrong_key"] and report.public_key == key.public_key


def test_unsigned_record_is_reported_unsigned(key: DeviceKey, records: list[dict[str, Any]]) -> None:
    records.append(unsigned(n=9))
    report = verify_chain(records)
    assert kinds(report) == ["unsigned"] and report.problems[0].position == 5
    assert verify_record(unsigned()) == ["The record has no proof: it is not signed."]


def test_records_from_before_signing_are_unsigned_not_a_gap(key: DeviceKey) -> None:
    """An upgraded ledger: version 1 records (no proof) hold seq 1 and 2, signing starts at 3."""
    legacy = [{k: v for k, v in unsigned(n=n).items()
               if k not in ("scope", "consent_type", "pi_categories", "recipients", "retention",
                            "withdrawal", "guardian")} | {"schema_version": 1, "controller": CONTROLLER}
              for n in (1, 2)]
    signed = key.sign(unsigned(n=3), seq=3, prev_hash=record_hash(legacy[-1]))
    report = verify_chain([*legacy, signed])
    assert kinds(report) == ["unsigned", "unsigned"]  # reported, never trusted; but no gap
    assert [p.position for p in report.problems] == [1, 2]


def test_proof_without_signature_is_unsigned(records: list[dict[str, Any]]) -> None:
    del records[0]["proof"]["signature"]
    assert kinds(verify_chain(records)) == ["unsigned", "broken_chain"]  # its hash changed too


def test_wrong_prev_hash_is_a_broken_chain(key: DeviceKey, records: list[dict[str, Any]]) -> None:
    body = {k: v for k, v in records[2].items() if k != "proof"}
    records[2] = key.sign(body, seq=3, prev_hash="f" * 64)  # validly signed, wrongly linked
    report = verify_chain(records)
    assert kinds(report) == ["broken_chain", "broken_chain"]  # its own link, and the next one's
    assert [p.seq for p in report.problems] == [3, 4]


def test_first_record_must_link_to_genesis(key: DeviceKey) -> None:
    record = key.sign(unsigned(), seq=1, prev_hash="1" * 64)
    report = verify_chain([record])
    assert kinds(report) == ["broken_chain"] and "64 zeros" in report.problems[0].message


def test_every_problem_is_reported_not_only_the_first(key: DeviceKey) -> None:
    records = chain(key, ["granted"] * 6)
    records[1]["decision"] = "denied"                      # bad_signature
    records[3] = DeviceKey.generate().sign(                 # wrong_key
        {k: v for k, v in records[3].items() if k != "proof"}, seq=4,
        prev_hash=records[3]["proof"]["prev_hash"])
    del records[5]["proof"]                                 # unsigned
    report = verify_chain(records)
    assert {"bad_signature", "wrong_key", "unsigned", "broken_chain"} <= set(kinds(report))
    assert [p.position for p in report.problems] == sorted(p.position for p in report.problems)


@pytest.mark.parametrize("mangle", [
    lambda r: "not a record",
    lambda r: {**r, "proof": ["not", "an", "object"]},
    lambda r: {**r, "proof": {**r["proof"], "seq": "1"}},
    lambda r: {**r, "proof": {**r["proof"], "prev_hash": None}},
    lambda r: {**r, "proof": {**r["proof"], "type": "RSA"}},
    lambda r: {**r, "proof": {**r["proof"], "public_key": "not base64!"}},
    lambda r: {**r, "proof": {**r["proof"], "signature": r["proof"]["signature"] + "="}},
    lambda r: {**r, "proof": {**r["proof"], "signature": 42}},
    lambda r: {**r, "created_at": float("nan")},
    lambda r: {**r, "created_at": "\ud800"},
    lambda r: {**r, "extra": 2**60},
], ids=["not-object", "proof-list", "seq-string", "prev-hash-null", "type", "key-b64",
        "sig-padded", "sig-int", "nan", "lone-surrogate", "huge-int"])
def test_malformed_records_are_reported_never_raised(key: DeviceKey, mangle) -> None:
    record = mangle(key.sign(unsigned(), seq=1, prev_hash=GENESIS))
    assert verify_record(record)
    report = verify_chain([record])
    assert not report.ok and "malformed" in kinds(report)


def test_problem_messages_hold_no_record_values(key: DeviceKey, records: list[dict[str, Any]]) -> None:
    records[0]["controller"]["contact"] = "13800138000"
    records[1]["record_id"] = "alice@example.com"  # not a uuid: not shown either
    del records[2]
    report = verify_chain(records)
    text = "\n".join(str(p) for p in report.problems)
    assert report.problems and "13800138000" not in text and "alice@example.com" not in text
    assert CONTROLLER not in text and "customer_service" not in text
    assert records[0]["record_id"] in text  # a uuid record_id is named, to find the record


# -- canonical form -----------------------------------------------------------------------


def test_canonical_form_is_independent_of_key_order() -> None:
    one = {"b": [1, {"y": 2, "x": None}], "a": "值", "c": True}
    other = {"c": True, "a": "值", "b": [1, {"x": None, "y": 2}]}
    assert canonical(one) == canonical(other) == '{"a":"值","b":[1,{"x":null,"y":2}],"c":true}'.encode()


def test_canonical_form_keeps_chinese_as_utf8_not_escapes() -> None:
    data = canonical({"controller": CONTROLLER})
    assert CONTROLLER.encode("utf-8") in data and b"\\u" not in data


def test_signature_survives_reserialisation_with_escapes_and_another_key_order(
        records: list[dict[str, Any]]) -> None:
    text = json.dumps(records[::-1], ensure_ascii=True, indent=4, sort_keys=True)
    assert "\\u793a" in text  # 示 escaped: a different JSON text of the same records
    reparsed = json.loads(text)[::-1]
    assert [canonical(r) for r in reparsed] == [canonical(r) for r in records]
    assert verify_chain(reparsed).ok


def test_canonical_sorts_keys_by_utf16_code_units() -> None:
    # RFC 8785 3.2.3: "\U0001F600" (surrogates D83D DE00) sorts before "\uFB01" (FB01)
    assert canonical({"\ufb01": 1, "\U0001f600": 2}) == '{"\U0001f600":2,"\ufb01":1}'.encode()


# -- the device key and the keystore ------------------------------------------------------


def test_load_or_create_round_trips_with_memory_keystore() -> None:
    keystore = MemoryKeystore()
    made, blob = DeviceKey.load_or_create(keystore, None)
    assert isinstance(blob, bytes) and keystore.key_ids == ("consent-signing-v1",)
    loaded, same = DeviceKey.load_or_create(keystore, blob)
    assert same == blob and loaded.public_key == made.public_key
    record = loaded.sign(unsigned(), seq=1, prev_hash=GENESIS)
    assert verify_chain([record], public_key=made.public_key).ok


def test_load_or_create_with_a_tampered_blob_raises_keystore_error() -> None:
    keystore = MemoryKeystore()
    _, blob = DeviceKey.load_or_create(keystore, None)
    tampered = bytes([blob[0] ^ 1]) + blob[1:]
    with pytest.raises(KeystoreError):
        DeviceKey.load_or_create(keystore, tampered)


def test_load_or_create_never_replaces_a_key_whose_wrapping_key_is_gone() -> None:
    keystore = MemoryKeystore()
    _, blob = DeviceKey.load_or_create(keystore, None)
    keystore.delete("consent-signing-v1")
    with pytest.raises(KeystoreError):
        DeviceKey.load_or_create(keystore, blob)


def test_device_key_repr_shows_only_the_public_key_start(key: DeviceKey) -> None:
    assert repr(key) == f"<DeviceKey public_key={key.public_key[:16]}…>"


# -- export documents ---------------------------------------------------------------------


def document(key: DeviceKey, records: list[dict[str, Any]]) -> dict[str, Any]:
    return export_document(records, subject_id=SUBJECT, public_key=key.public_key,
                           exported_at="2026-12-01T08:00:00Z")


def test_export_document_shape(key: DeviceKey, records: list[dict[str, Any]]) -> None:  # OBL-DSR-1
    doc = document(key, records)
    assert list(doc) == ["format", "subject_id", "public_key", "exported_at", "records"]
    assert doc["format"] == EXPORT_FORMAT and doc["records"] == records
    assert doc["records"][0] is not records[0]  # copies
    assert verify_document(json.loads(json.dumps(doc, ensure_ascii=False))).ok


def test_verify_document_rejects_another_format(key: DeviceKey, records: list[dict[str, Any]]) -> None:
    for doc in ({**document(key, records), "format": "something/else"}, [1, 2],
                {**document(key, records), "records": {}}):
        with pytest.raises(ConsentError):
            verify_document(doc)  # type: ignore[arg-type]


def test_verify_document_reports_a_record_of_another_subject(
        key: DeviceKey, records: list[dict[str, Any]]) -> None:
    doc = document(key, records)
    doc["subject_id"] = str(uuid.uuid4())
    report = verify_document(doc)
    assert kinds(report) == ["malformed"] * 4 and "subject_id" in report.problems[0].message


def test_verify_document_with_a_trusted_key_rejects_a_forged_document(key: DeviceKey) -> None:
    forger = DeviceKey.generate()
    forged = document(forger, chain(forger, ["granted", "granted"]))
    assert verify_document(forged).ok  # consistent in itself
    report = verify_document(forged, public_key=key.public_key)
    assert kinds(report) == ["wrong_key"] * 3  # the document's key, then each record
    assert report.problems[0].position is None and report.public_key == key.public_key


# -- the command line ---------------------------------------------------------------------


def run(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "sdk.consent", *args], cwd=REPO,
                            capture_output=True, text=True, encoding="utf-8", timeout=60)
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    return result


def write(path: Path, doc: Any) -> Path:
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def test_cli_verify_ok_exits_0(tmp_path: Path, key: DeviceKey, records: list[dict[str, Any]]) -> None:
    result = run("verify", str(write(tmp_path / "export.json", document(key, records))))
    assert result.returncode == 0, result.stderr
    assert result.stdout == (f"OK: 4 records, chain and signatures verified, "
                             f"key {key.public_key[:16]}…\n")


def test_cli_verify_tampered_withdrawal_exits_1(  # OBL-DSR-4
        tmp_path: Path, key: DeviceKey, records: list[dict[str, Any]]) -> None:
    records[2]["decision"] = "granted"
    del records[1]
    result = run("verify", str(write(tmp_path / "export.json", document(key, records))))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert all(line.startswith("FAIL ") for line in lines)
    # the altered withdrawal, its link to the removed record, the next record's link, the gap
    assert [line.split(": ")[1] for line in lines] == [
        "bad_signature", "broken_chain", "broken_chain", "gap"]


def test_cli_verify_with_another_trusted_key_exits_1(
        tmp_path: Path, key: DeviceKey, records: list[dict[str, Any]]) -> None:
    path = write(tmp_path / "export.json", document(key, records))
    result = run("verify", str(path), "--key", DeviceKey.generate().public_key)
    assert result.returncode == 1 and "wrong_key" in result.stdout


@pytest.mark.parametrize("content", [
    None,                                       # no such file
    b"{not json",
    b"\xff\xfe garbage",
    json.dumps({"format": "other/v1", "records": []}).encode(),
    json.dumps([1, 2, 3]).encode(),
    b'{"format": "privacy-sdk/consent-records/v1", "format": "x"}',   # duplicate key
    b"[" * 100_000,                              # nesting deeper than any parser allows
], ids=["missing", "not-json", "not-utf8", "wrong-format", "not-object", "duplicate-key", "deep"])
def test_cli_verify_unusable_file_exits_2(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "export.json"
    if content is not None:
        path.write_bytes(content)
    result = run("verify", str(path))
    assert result.returncode == 2
    assert result.stdout == "" and len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("error: ")


def test_cli_verify_with_a_malformed_key_exits_2(
        tmp_path: Path, key: DeviceKey, records: list[dict[str, Any]]) -> None:
    path = write(tmp_path / "export.json", document(key, records))
    result = run("verify", str(path), "--key", "not-a-key")
    assert result.returncode == 2 and result.stderr.startswith("error: --key")


def test_cli_verify_a_folder_exits_2(tmp_path: Path) -> None:
    result = run("verify", str(tmp_path))
    assert result.returncode == 2 and "folder" in result.stderr


def test_cli_export_without_a_ledger_exits_2_and_creates_none(tmp_path: Path) -> None:  # OBL-DSR-1
    result = run("export", str(tmp_path))
    assert result.returncode == 2 and "consent.db" in result.stderr
    assert list(tmp_path.iterdir()) == []


def make_ledger(folder: Path, decisions: list[str], *, signed: bool = True) -> str:
    """A real ledger file in *folder* with one record per decision; returns its subject_id."""
    keystore = MemoryKeystore()
    with ConsentLedger(folder / "consent.db") as ledger:
        if signed:
            ledger.use_keystore(lambda: keystore)
        for decision in decisions:
            ledger.record(decision, ("customer_service",), NOTICE, CONTROLLER, "explicit_button")
        return ledger.subject_id


@pytest.mark.skipif(not HAS_EXPORT, reason=NO_EXPORT)
def test_cli_export_then_verify_round_trip(tmp_path: Path) -> None:  # OBL-DSR-1
    subject = make_ledger(tmp_path, ["granted", "withdrawn"])
    out = tmp_path / "export.json"
    result = run("export", str(tmp_path), "--out", str(out))
    assert result.returncode == 0, result.stderr
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["format"] == EXPORT_FORMAT and doc["subject_id"] == subject
    assert [r["decision"] for r in doc["records"]] == ["granted", "withdrawn"]
    verified = run("verify", str(out))
    assert verified.returncode == 0, verified.stdout
    assert verified.stdout.startswith(f"OK: 2 records, chain and signatures verified, key "
                                      f"{doc['public_key'][:16]}…")


@pytest.mark.skipif(not HAS_EXPORT, reason=NO_EXPORT)
def test_cli_export_to_stdout_is_the_document(tmp_path: Path) -> None:  # OBL-DSR-1
    make_ledger(tmp_path, ["granted"])
    result = run("export", str(tmp_path))
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["format"] == EXPORT_FORMAT and len(doc["records"]) == 1
    assert verify_document(doc).ok


@pytest.mark.skipif(not HAS_EXPORT, reason=NO_EXPORT)
def test_cli_verify_reports_records_of_a_ledger_without_keystore_as_unsigned(tmp_path: Path) -> None:
    make_ledger(tmp_path, ["granted", "withdrawn"], signed=False)
    out = tmp_path / "export.json"
    assert run("export", str(tmp_path), "--out", str(out)).returncode == 0
    result = run("verify", str(out))
    assert result.returncode == 1
    assert [line.split(": ")[1] for line in result.stdout.splitlines()] == ["unsigned", "unsigned"]


@pytest.mark.skipif(not HAS_EXPORT, reason=NO_EXPORT)
def test_cli_export_of_a_withdrawal_then_tampering_is_caught(tmp_path: Path) -> None:  # OBL-DSR-1 OBL-DSR-4
    make_ledger(tmp_path, ["granted", "withdrawn", "granted"])
    out = tmp_path / "export.json"
    assert run("export", str(tmp_path), "--out", str(out)).returncode == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    del doc["records"][1]  # hide the withdrawal
    write(out, doc)
    result = run("verify", str(out))
    assert result.returncode == 1 and "gap" in result.stdout and "broken_chain" in result.stdout
