"""实名认证, 数字证书 and 签署合同 in the real demo app (issue #6): the app under Xvfb with a
script of taps, against a real stub over HTTPS; the outcome is checked where it is kept (the
server's database, the device's ledger and audit trail).

The camera is the synthetic one, the permission prompts come from the scripted backend, and
the app uses the passphrase keystore (Xvfb has no OS keyring; the encrypted store holds the
verification id, the upload state and the certificate). The stub's end-to-end encryption keys
are pinned with ``--hpke-pins``. Each test checks one behaviour.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from demo_app.autopilot import (
    DEMO_BAD_ID_NUMBER,
    DEMO_ID_NUMBER,
    DEMO_PASSWORD,
    DEMO_PHONE,
    DEMO_REAL_NAME,
    REALNAME_CONSENTS,
)

from .conftest import (
    PASSPHRASE,
    REGISTERED,
    REPO,
    AppRun,
    agree_to,
    db_rows,
    run_demo_app,
)

#: The synthetic camera and no permission override from outside, for every test.
pytestmark = pytest.mark.usefixtures("synthetic_devices")

PERMISSIONS = "camera=granted; photos=granted"

TO_REALNAME = [{"press": "realname_verify"}, {"wait_screen": "realname"}]


CONSENTED = REGISTERED + TO_REALNAME + agree_to(REALNAME_CONSENTS) + [{"wait_enabled": "rn_next"}]


def form(id_number: str = DEMO_ID_NUMBER) -> list[dict]:
    return [{"type": ["rn_name", DEMO_REAL_NAME]}, {"type": ["rn_id_number", id_number]},
            {"type": ["rn_phone", DEMO_PHONE]}, {"press": "rn_next"}]


#: The form, the camera rationale, the face video, the upload: the server's answer follows.
SUBMITTED = CONSENTED + form() + [{"wait_dialog": "rationale:camera"},
                                  {"press": "rationale_continue"}]
CERTIFICATE = [{"press": "rn_to_certificate"}, {"wait_screen": "certificate"},
               {"press": "cert_request"}, {"wait_text": ["cert_status", "有效"]},
               {"probe": "certificate"}]


@pytest.fixture
def run(run_app, stub, passphrase_file):
    """The demo app against the test's stub, with its pins, the passphrase keystore and the
    scripted permission backend."""

    def start(steps: list[dict], *extra: str) -> AppRun:
        return run_app(steps, "--passphrase-file", str(passphrase_file), "--hpke-pins",
                       str(Path(stub.data_dir) / "hpke-pins.txt"), "--permissions-script",
                       PERMISSIONS, *extra, timeout=180)

    start.data_dir = run_app.data_dir
    return start


@pytest.fixture
def run_with_wrong_pins(run_app, passphrase_file, tmp_path):
    """The demo app against the test's stub with a pin that is not the stub's key (well
    formed, so the app starts): the same keystore and permission backend as :func:`run`."""
    pins = tmp_path / "wrong-hpke-pins.txt"
    pins.write_text("sha256:" + "0" * 64 + "\n", encoding="utf-8")

    def start(steps: list[dict]) -> AppRun:
        return run_app(steps, "--passphrase-file", str(passphrase_file), "--hpke-pins",
                       str(pins), "--permissions-script", PERMISSIONS, timeout=180)

    start.data_dir = run_app.data_dir
    return start


@pytest.fixture
def run_embedded(display, tmp_path, passphrase_file):
    """The demo app with its embedded stub (in ``data_dir/stub``), e.g. with
    ``--realname-outcome``."""
    data_dir = tmp_path / "embedded"

    def start(steps: list[dict], *extra: str) -> AppRun:
        return run_demo_app(display, data_dir, tmp_path, "embedded", steps, "--passphrase-file",
                            str(passphrase_file), "--permissions-script", PERMISSIONS, *extra,
                            timeout=180)

    start.data_dir = data_dir
    return start


# -- what the server and the device kept ----------------------------------------------------


def _server(stub_dir: Path) -> dict[str, list[tuple]]:
    db = stub_dir / "stub.db"
    return {
        "verifications": db_rows(db, "SELECT kind, status, reason, document_kind, previous_id, "
                                   "verification_id FROM realname_verifications ORDER BY rowid"),
        "certificates": db_rows(db, "SELECT serial, common_name, revoked_at FROM user_certificates"),
        "signatures": db_rows(db, "SELECT signature_id, template_id, certificate_serial "
                                "FROM signing_records"),
        "uploads": db_rows(stub_dir / "uploads.db", "SELECT COUNT(*) FROM uploads"),
    }


def _device(data_dir: Path):
    """(collections, transfers, ledger decisions by scope) the app left on the device."""
    from demo_app.policy import MANIFEST_PATH, POLICY_PATH
    from sdk import PrivacySdk, SdkConfig
    from sdk.policy import load_policy

    policy = load_policy(POLICY_PATH, MANIFEST_PATH)
    with PrivacySdk.open(SdkConfig(data_dir=data_dir / "sdk"), policy) as sdk:
        collected = [(e.item, e.outcome, e.feature) for e in sdk.audit.entries("collect")]
        shared = {row["recipient"]: row["transfers"] for row in sdk.third_party_sharing()}
        states = {scope: sdk.state(scope).status for scope in REALNAME_CONSENTS}
    return collected, shared, states


def _device_certificate(data_dir: Path) -> str | None:
    """The certificate PEM in the device's encrypted store (opened with the passphrase)."""
    from demo_app.policy import MANIFEST_PATH, POLICY_PATH
    from sdk import PrivacySdk, SdkConfig
    from sdk.policy import load_policy
    from sdk.storage.backends.passphrase import PassphraseKeystore

    keystore = PassphraseKeystore(data_dir / "sdk", PASSPHRASE)
    policy = load_policy(POLICY_PATH, MANIFEST_PATH)
    with PrivacySdk.open(SdkConfig(data_dir=data_dir / "sdk"), policy, keystore=keystore) as sdk:
        return sdk.store.get_text("certificate", "certificate")


def _realname_collections(collected) -> list[tuple]:
    """The collections of real-name signing (the account's own are not part of it)."""
    return [c for c in collected if c[2] in ("realname_signing", "face_signing", "manual_review")
            or c[0] in ("real_name", "id_number", "phone", "face_video", "certificate_info")]


def _nothing_typed_in(run: AppRun) -> None:
    text = json.dumps(run.report, ensure_ascii=False) + run.stderr
    for value in (DEMO_REAL_NAME, DEMO_ID_NUMBER, DEMO_BAD_ID_NUMBER, DEMO_PHONE, DEMO_PASSWORD):
        assert value not in text


# -- the tests --------------------------------------------------------------------------------


def test_the_full_flow_ends_verified_with_a_certificate_and_a_signed_contract(run, stub):  # OBL-RN-1 OBL-CERT-1
    steps = SUBMITTED + [
        {"wait_text": ["rn_upload_status", "上传完成"]},
        {"wait_text": ["rn_result", "已通过"]}, {"probe": "verified"}, *CERTIFICATE,
        {"press": "cert_to_contract"}, {"wait_screen": "contract"}, {"wait_widgets": "list"},
        {"press_template": 0}, {"wait_document": "body"}, {"press": "contract_sign"},
        {"wait_text": ["contract_result", "服务器已验证"]}, {"probe": "signed"}, {"quit": 0}]
    app = run(steps)
    assert app.code == 0, app.stderr
    probes = app.report["probes"]
    verified = probes["verified"]
    assert (verified["result_status"], verified["result_label"]) == ("verified", "已通过")
    assert verified["upload_value"] == 100 and "上传完成：100%" in verified["upload_text"]
    assert "KB/s" in verified["upload_text"] or "MB/s" in verified["upload_text"]
    assert verified["typed_chars"] == {"real_name": 0, "id_number": 0, "phone": 0}  # not kept
    assert verified["permission_prompts"] == [["camera", "granted"]]
    assert verified["results"]["clip"]["frames"] > 0

    certificate = probes["certificate"]
    assert certificate["has_certificate"] and certificate["certificate_status"] == "valid"
    assert certificate["certificate_status_text"] == "有效"
    assert certificate["common_name_chars"] == len(DEMO_REAL_NAME)
    assert certificate["not_before_shown"] and certificate["not_after_shown"]
    assert certificate["not_before"] < certificate["not_after"]

    receipt = probes["signed"]["receipt"]
    assert receipt["verified"] is True and probes["signed"]["contract_error"] == ""

    server = _server(Path(stub.data_dir))
    assert [(v[0], v[1]) for v in server["verifications"]] == [("automatic", "verified")]
    assert server["certificates"] == [(certificate["serial"], DEMO_REAL_NAME, None)]
    assert server["signatures"] == [(receipt["signature_id"], receipt["template_id"],
                                     certificate["serial"])]
    collected, shared, _states = _device(run.data_dir)
    for item in ("real_name", "id_number", "phone", "face_video"):
        assert (item, "allowed", "realname_signing") in collected
    assert shared["realname_agency"] == 4 and shared["ca"] == 2
    _nothing_typed_in(app)
    for path in run.data_dir.rglob("*"):  # the face video was uploaded sealed, never kept
        if path.is_file():
            assert path.read_bytes()[4:8] != b"ftyp", path


def test_refusing_a_consent_blocks_only_realname_signing(run, stub):  # OBL-RN-3
    scopes = list(REALNAME_CONSENTS)
    refused = scopes.index("item:face_video")
    steps = REGISTERED + TO_REALNAME + agree_to(scopes[:refused]) + [
        {"wait_dialog": scopes[refused]}, {"press": "separate_disagree"},
        {"wait_text": ["rn_consent_status", "实名认证无法使用"]}, {"sleep": 0.3},
        {"probe": "refused"},
        # the rest of the app works: templates (read and download), the account, the centre
        {"press": "back"}, {"wait_screen": "home"}, {"wait_text": ["account", "已登录"]},
        {"press": "templates"}, {"wait_screen": "templates"}, {"wait_widgets": "list"},
        {"press_template": 0}, {"wait_screen": "template"}, {"wait_document": "body"},
        {"press": "download"}, {"wait_status": "已下载"}, {"press": "back"},
        {"wait_screen": "templates"}, {"press": "back"}, {"wait_screen": "home"},
        {"press": "privacy_centre"}, {"wait_screen": "privacy"}, {"press": "back"},
        {"wait_screen": "home"},
        # and the features that need a verified name say why they cannot run
        {"press": "certificate"}, {"wait_screen": "certificate"},
        {"wait_text": ["cert_message", "尚未通过实名认证"]}, {"probe": "certificate"},
        {"quit": 0}]
    app = run(steps)
    assert app.code == 0, app.stderr
    probe = app.report["probes"]["refused"]
    assert probe["stage"] == "consent" and probe["consent_refused"] is True
    assert "其他功能不受影响" in probe["consent_text"]
    assert probe["form_enabled"] is False and probe["dialogs"] == []
    assert probe["consent_results"] == {**{s: "granted" for s in scopes[:refused]},
                                        scopes[refused]: "denied"}
    assert probe["permission_prompts"] == []  # the camera was never asked
    assert app.report["probes"]["certificate"]["has_certificate"] is False
    collected, shared, states = _device(run.data_dir)
    assert _realname_collections(collected) == []
    assert all(count == 0 for count in shared.values())
    assert states[scopes[refused]] == "denied"
    assert all(states[s] == "not_asked" for s in scopes[refused + 1:])  # never asked
    server = _server(Path(stub.data_dir))
    assert server["verifications"] == [] and server["uploads"] in ([], [(0,)])


def test_a_bad_id_number_is_shown_under_its_field_and_nothing_is_sent(run, stub):  # OBL-RN-1
    from sdk.realname import RealnameValidationError, validate_id_number

    with pytest.raises(RealnameValidationError) as expected:
        validate_id_number(DEMO_BAD_ID_NUMBER)
    steps = CONSENTED + form(DEMO_BAD_ID_NUMBER) + [
        {"wait_text": ["rn_id_number_error", expected.value.message_zh]}, {"sleep": 0.5},
        {"probe": "form"}, {"quit": 0}]
    app = run(steps)
    assert app.code == 0, app.stderr
    probe = app.report["probes"]["form"]
    assert probe["field_errors"] == {"real_name": "", "id_number": expected.value.message_zh,
                                     "phone": ""}
    assert probe["stage"] == "form" and "未发送" in probe["form_status"]
    assert probe["dialogs"] == [] and probe["permission_prompts"] == []  # nothing captured
    assert probe["typed_chars"]["id_number"] == len(DEMO_BAD_ID_NUMBER)  # kept to be corrected
    collected, shared, _states = _device(run.data_dir)
    assert _realname_collections(collected) == []
    assert all(count == 0 for count in shared.values())
    server = _server(Path(stub.data_dir))
    assert server["verifications"] == [] and server["uploads"] in ([], [(0,)])
    _nothing_typed_in(app)


def test_a_failed_check_shows_the_reason_and_leads_to_manual_review(run_embedded):  # OBL-RN-2
    """With the embedded stub told to fail (``--realname-outcome fail:face_mismatch``): the
    reason, then 申请人工审核 with a passport, its number and the bundled sample photo."""
    steps = SUBMITTED + [
        {"wait_text": ["rn_result", "未通过"]}, {"probe": "failed"}, {"press": "rn_manual"},
        {"wait_enabled": "rn_doc_submit"}, {"press": "rn_doc_submit"},
        {"wait_text": ["rn_doc_kind_error", "请选择证件类型"]}, {"press": "doc_passport"},
        {"type": ["rn_doc_number", "E1234567"]}, {"press": "rn_doc_submit"},
        {"wait_text": ["rn_doc_number_error", "护照"]}, {"probe": "bad_number"},
        {"type": ["rn_doc_number", "E12345678"]}, {"press": "rn_doc_pick"},
        *agree_to(["item:review_document"]), {"wait_dialog": "rationale:photos"},
        {"press": "rationale_continue"}, {"wait_dialog": "sample_picker"},
        {"press": "picker_use"}, {"wait_text": ["rn_doc_image", "已选择证件照片"]},
        {"press": "rn_doc_submit"}, {"wait_text": ["rn_result", "人工审核"]},
        {"probe": "review"}, {"quit": 0}]
    app = run_embedded(steps, "--realname-outcome", "fail:face_mismatch")
    assert app.code == 0, app.stderr
    probes = app.report["probes"]
    failed = probes["failed"]
    assert (failed["result_status"], failed["reason"]) == ("failed", "face_mismatch")
    assert failed["result_label"] == "未通过：人脸与身份证件照片不一致（face_mismatch）"
    assert failed["reviewable"] is True
    assert probes["bad_number"]["document_errors"]["number"]  # checked on the device first
    review = probes["review"]
    assert (review["result_status"], review["verification_kind"]) == ("manual_review",
                                                                      "manual_review")
    assert review["permission_prompts"] == [["camera", "granted"], ["photos", "granted"]]
    server = _server(run_embedded.data_dir / "stub")
    first, second = server["verifications"]
    assert first[:3] == ("automatic", "failed", "face_mismatch")
    assert second[0:2] == ("manual_review", "manual_review")
    assert second[3] == "passport" and second[4] == first[5]  # reviews the failed one
    _nothing_typed_in(app)


def test_signing_is_refused_once_the_certificate_consent_is_withdrawn(run, stub):  # OBL-CERT-2
    steps = SUBMITTED + [{"wait_text": ["rn_result", "已通过"]}, *CERTIFICATE,
        # the user withdraws the consent to keep the certificate information
        {"press": "back"}, {"wait_screen": "home"}, {"press": "privacy_centre"},
        {"wait_screen": "privacy"}, {"press": "withdraw_item_certificate_info"},
        {"wait_dialog": "confirm"}, {"press": "confirm_ok"}, {"wait_text": ["status", "已撤回"]},
        {"press": "back"}, {"wait_screen": "home"}, {"press": "sign_contract"},
        {"wait_screen": "contract"}, {"wait_widgets": "list"}, {"press_template": 0},
        {"wait_document": "body"}, {"press": "contract_sign"},
        {"wait_text": ["contract_error", "撤回"]}, {"sleep": 1.0}, {"probe": "refused"},
        {"quit": 0}]
    app = run(steps)
    assert app.code == 0, app.stderr
    refused = app.report["probes"]["refused"]
    assert refused["contract_error_kind"] == "CertificateConsentRequired"
    assert "数字证书信息" in refused["contract_error"] and refused["contract_offer"] == "consent"
    assert refused["signed"] is False and refused["receipt"] is None
    serial = app.report["probes"]["certificate"]["serial"]
    server = _server(Path(stub.data_dir))
    assert server["signatures"] == []  # nothing was sent to be signed
    # the app forgot the certificate: revoked on the server, gone from the device
    revoked = [(s, at is not None) for s, _cn, at in server["certificates"]]
    assert revoked == [(serial, True)]
    assert _device_certificate(run.data_dir) is None


def test_with_pins_that_do_not_match_the_camera_is_never_opened(run_with_wrong_pins, stub):  # OBL-SEC-3
    """下一步 runs ``realname.preflight()`` before the camera: the server's key is not pinned,
    so no permission is asked, nothing is recorded, and the line is the one the submission
    would have shown."""
    from demo_app.screens.realname import sealing_problem
    from sdk.errors import KeyPinMismatch

    says = sealing_problem(KeyPinMismatch("not_pinned", "not pinned"))
    steps = CONSENTED + form() + [{"wait_text": ["rn_form_status", "不在应用信任的指纹列表中"]},
                                  {"sleep": 1.0}, {"probe": "refused"}, {"quit": 0}]
    app = run_with_wrong_pins(steps)
    assert app.code == 0, app.stderr
    probe = app.report["probes"]["refused"]
    assert probe["stage"] == "form" and probe["form_status"] == says
    assert probe["results"] == {"preflight_error": "KeyPinMismatch"}  # no camera, no clip
    assert probe["permission_prompts"] == [] and probe["dialogs"] == []  # no camera rationale
    collected, shared, _states = _device(run_with_wrong_pins.data_dir)
    assert _realname_collections(collected) == []  # the camera's gate never ran
    assert all(count == 0 for count in shared.values())
    server = _server(Path(stub.data_dir))
    assert server["verifications"] == [] and server["uploads"] in ([], [(0,)])
    _nothing_typed_in(app)


def test_a_tls_error_is_logged_with_the_sdks_message_for_qa(tmp_path, caplog):
    """The user sees one sentence; the demo's log holds the SDK's message (host, CA file and
    the fix; no personal data), here from a real stub whose certificate does not name the
    address connected to (as tests/integration/test_cert_names.py)."""
    import logging

    from demo_app.screens.base import describe_error
    from sdk import SdkConfig, TlsError
    from sdk.transport import ApiClient
    from server_stub.runner import start_in_thread
    from server_stub.settings import Settings

    address = "127.0.0.2"
    settings = Settings(data_dir=tmp_path / "stub", policy_dir=REPO / "demo_app" / "policy",
                        host=address)
    with start_in_thread(settings) as server:
        config = SdkConfig(data_dir=tmp_path / "device", endpoint=server.url,
                           ca_bundle=server.ca_path, retries=0, backoff=0.0)
        with ApiClient(config) as client, pytest.raises(TlsError) as caught:
            client.health()
    with caplog.at_level(logging.WARNING, logger="demo_app"):
        shown = describe_error(caught.value)
    assert shown == "无法验证服务器的安全证书，请检查网络或稍后再试"
    (line,) = [r.getMessage() for r in caplog.records if r.name == "demo_app"]
    assert line == str(caught.value)
    assert f"does not name {address}" in line and f"--cert-name {address}" in line


def test_upload_progress_reads_percent_rate_and_time_left():
    from demo_app.screens.realname import progress_text, status_label

    assert progress_text(512 * 1024, 2 * 1024 * 1024, 256 * 1024) == (
        "已上传 25%（512.0 KB / 2.0 MB） · 256.0 KB/s · 剩余约 6 秒")
    assert progress_text(3 * 1024 * 1024, 4 * 1024 * 1024, 1.5 * 1024 * 1024).endswith(
        "· 1.5 MB/s · 剩余不到 1 秒")
    assert "正在计算速度" in progress_text(0, 1000, 0.0)
    assert [status_label(s) for s in ("pending", "verified", "manual_review", "timed_out")] == [
        "审核中", "已通过", "人工审核", "超时"]
    assert status_label("failed", "face_mismatch") == (
        "未通过：人脸与身份证件照片不一致（face_mismatch）")
    assert status_label("failed", "some_new_reason") == "未通过：some_new_reason"


def test_the_finished_upload_line_shows_the_average_rate_over_the_time_it_shows():
    """Size, rate and time agree (screenshot 40 said "24.8 KB, 4.0 MB/s, 用时 0.3 秒": the
    SDK's last rate, which counts only the PATCH, beside the whole step's time)."""
    from demo_app.screens.realname import finished_text

    total = int(24.8 * 1024)
    text = finished_text(total, 0.3)
    assert text.startswith("上传完成：100%（24.8 KB），用时 0.3 秒（含加密和提交，平均 82.7 KB/s）")
    assert "MB/s" not in text
    assert "平均 2.0 MB/s" in finished_text(4 * 1024 * 1024, 2.0)
    assert "用时 0.0 秒" in finished_text(1024, 0.0)  # no division by zero


def test_the_finished_upload_line_ignores_the_sdks_last_rate(monkeypatch):
    """_end_upload builds the line from the size and the elapsed time only."""
    from types import SimpleNamespace

    from demo_app.screens import realname

    monkeypatch.setattr(realname.time, "monotonic", lambda: 100.5)
    screen = SimpleNamespace(uploading=True, _cancel=None, upload_value=0, upload_text="",
                             _upload_started=100.0,
                             _last_progress=(25395, 25395, 4.0 * 1024 * 1024))
    realname.RealnameScreen._end_upload(screen, ok=True)
    assert screen.upload_value == 100 and "4.0 MB/s" not in screen.upload_text
    assert "用时 0.5 秒" in screen.upload_text and "平均 49.6 KB/s" in screen.upload_text


def test_the_certificate_screen_says_the_server_keeps_the_public_information():  # OBL-CERT-1
    """Not "证书信息只保存在本机": the service keeps the certificate's public information for
    signing; the private key stays on the device under whichever keystore is in use."""
    from demo_app.screens import certificate

    kv = (REPO / "demo_app" / "screens" / "certificate.kv").read_text(encoding="utf-8")
    source = kv + Path(certificate.__file__).read_text(encoding="utf-8")
    assert "只保存在本机" not in source and "系统密钥库" not in source
    assert "content: STORAGE_NOTE" in kv
    note = certificate.STORAGE_NOTE
    assert "私钥受密钥库保护" in note and "不会离开本机" in note
    assert "本机的加密存储" in note and "服务器保存证书的公开信息" in note
    assert "姓名" in note and "假名" in note and "序列号" in note and "不含身份证号码本身" in note
    issued = certificate.ISSUED_TEXT
    assert "本机的加密存储" in issued and "服务器保存证书的公开信息" in issued


@pytest.mark.parametrize("args, says", [
    (["--realname-outcome", "maybe"], "--realname-outcome maybe"),
    (["--hpke-pins", "pins.txt"], "--hpke-pins is only used with --server"),
    (["--realname-outcome", "pass", "--server", "https://127.0.0.1:9", "--ca", "ca.pem"],
     "--realname-outcome sets the embedded stub"),
])
def test_the_realname_options_are_checked_before_anything_starts(tmp_path, args, says):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    proc = subprocess.run([sys.executable, "-m", "demo_app", "--data-dir", str(tmp_path / "data"),
                           *args], env=env, capture_output=True, text=True, timeout=90,
                          cwd=tmp_path, check=False)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and says in proc.stderr
    assert not (tmp_path / "data").exists()


def test_a_tls_error_in_the_background_sync_is_logged_with_the_sdks_message(caplog):
    """The demo's automatic sync logs the SDK's TlsError message too (host, CA file, fix), not
    only the error's type, so QA can tell a wrong CA from a certificate naming another host."""
    import logging
    from types import SimpleNamespace

    from demo_app.app import DemoApp
    from sdk import TlsError

    message = ("POST /v1/consent-records: the server's TLS certificate does not name 127.0.0.2, "
               "the host of SdkConfig.endpoint; ... --cert-name 127.0.0.2")
    shown = []
    app = SimpleNamespace(_syncing=True, _show_sync_state=lambda: shown.append(True))
    with caplog.at_level(logging.WARNING, logger="demo_app"):
        DemoApp._sync_failed(app, TlsError(message, reason="name_mismatch"))
    (line,) = [r.getMessage() for r in caplog.records if r.name == "demo_app"]
    assert message in line and app._syncing is False and shown == [True]
