"""Register, log in and out, and the cookies page, in the real demo app (OBL-ACC-1, OBL-CK-3)."""

from __future__ import annotations

import pytest

from demo_app.autopilot import DEMO_PASSWORD, DEMO_PHONE

AGREED = [{"wait_screen": "prompt"}, {"press": "agree"}, {"wait_screen": "home"},
          {"wait_text": ["account", "未登录"]}]
REGISTER = [{"press": "login"}, {"wait_screen": "account"}, {"press": "switch_mode"},
            {"type": ["identifier", DEMO_PHONE]}, {"type": ["password", DEMO_PASSWORD]},
            {"press": "submit"}, {"wait_screen": "home"}, {"wait_text": ["account", "已登录"]}]


def test_register_asks_only_identifier_and_password_and_logs_in(run_app):  # OBL-ACC-1
    run = run_app(AGREED + REGISTER + [{"probe": "home"}, {"quit": 0}])
    assert run.code == 0, run.stderr
    assert run.report["screens"][-1] == "home"


def test_weak_password_is_refused_with_a_reason(run_app):  # OBL-SEC-4
    run = run_app(AGREED + [
        {"press": "login"}, {"wait_screen": "account"}, {"press": "switch_mode"},
        {"type": ["identifier", DEMO_PHONE]}, {"type": ["password", "123456"]},
        {"wait_text": ["strength", "至少 10 个字符"]}, {"press": "submit"},
        {"wait_text": ["status", "密码强度不足"]}, {"quit": 0},
    ])
    assert run.code == 0, run.stderr
    assert run.report["screens"][-1] == "account"


def test_logout_from_home(run_app):  # OBL-SEC-4
    run = run_app(AGREED + REGISTER + [{"press": "login"}, {"wait_text": ["account", "未登录"]},
                                       {"quit": 0}])
    assert run.code == 0, run.stderr


@pytest.mark.parametrize("answer, expected", [("confirm_cancel", "已登录"), ("confirm_ok", "未登录")])
def test_clearing_cookies_asks_first_and_then_signs_out(run_app, answer, expected):  # OBL-CK-3
    run = run_app(AGREED + REGISTER + [
        {"press": "storage"}, {"wait_screen": "storage"},
        {"press": "clear_cookies"}, {"press": answer}, {"press": "back"}, {"wait_screen": "home"},
        {"wait_text": ["account", expected]}, {"quit": 0},
    ])
    assert run.code == 0, run.stderr


def test_remembered_login_survives_a_restart_with_the_passphrase_keystore(run_app):  # OBL-CK-1
    secret = run_app.tmp_path / "passphrase.txt"
    secret.write_text("correct horse battery staple\n", encoding="utf-8")
    login = AGREED + REGISTER[:-3] + [{"press": "remember"}, *REGISTER[-3:], {"quit": 0}]
    first = run_app(login, "--passphrase-file", str(secret))
    assert first.code == 0, first.stderr
    again = run_app([{"wait_screen": "home"}, {"wait_text": ["account", "已登录"]}, {"quit": 0}],
                    "--passphrase-file", str(secret))
    assert again.code == 0, again.stderr
    store = (run_app.data_dir / "sdk" / "store.db").read_bytes()
    assert DEMO_PHONE.encode() not in store and DEMO_PASSWORD.encode() not in store
