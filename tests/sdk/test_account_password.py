"""Password strength policy: length, zxcvbn score, no identifier inside; reasons in Chinese."""

from __future__ import annotations

import logging
import threading

import pytest

from sdk.account import MIN_LENGTH, PasswordCheck, check_password, require_strong
from sdk.account import password as pw
from sdk.errors import InvalidInput, WeakPassword

STRONG = "Xk9#mQ2vLp8w-river"


@pytest.mark.parametrize("password", [STRONG, "correct horse battery staple", "Tr0ub4dor&3x-plum"])
def test_strong_passwords_pass(password: str) -> None:  # OBL-SEC-4
    check = check_password(password, ("13800138000",))
    assert check == PasswordCheck(ok=True, score=check.score, reasons=())
    assert check.score >= pw.MIN_SCORE
    assert require_strong(password) == check


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("Ab3$xyz!", pw.REASON_TOO_SHORT),
        ("", pw.REASON_TOO_SHORT),
        ("password123", pw.REASON_COMMON),
        ("qwertyuiop", pw.REASON_COMMON),
        ("1qaz2wsx3edc", pw.REASON_COMMON),
        ("abcdefghijkl", pw.REASON_SEQUENCE),
        ("aaaaaaaaaaaa", pw.REASON_REPEAT),
        ("1990-01-01ab", pw.REASON_DATE),
        ("x" * (pw.MAX_LENGTH + 1), pw.REASON_TOO_LONG),
    ],
)
def test_weak_passwords_have_an_actionable_reason(password: str, reason: str) -> None:  # OBL-SEC-4
    check = check_password(password)
    assert not check.ok
    assert reason in check.reasons
    with pytest.raises(WeakPassword) as info:
        require_strong(password)
    assert reason in info.value.reasons
    assert info.value.field == "password"
    if password:
        assert password not in str(info.value)


def test_the_length_reason_says_ten_characters() -> None:
    assert MIN_LENGTH == 10
    assert pw.REASON_TOO_SHORT == "至少 10 个字符"
    assert check_password("Q7!z" * 2).reasons[0] == "至少 10 个字符"


@pytest.mark.parametrize(
    ("password", "user_input"),
    [
        ("13800138000", "13800138000"),
        ("13800138000", "+86 138 0013 8000"),  # raw text as typed in the form
        ("Kq!8" + "13800138000", "138-0013-8000"),  # hidden in an otherwise random password
        ("river-00138000-Kq", "13800138000"),  # the last 8 digits
        ("alice.zhang@example.com", "Alice.Zhang@example.com"),
        ("Pz!alice.zhang9", "alice.zhang@example.com"),  # the email's local part
    ],
)
def test_the_identifier_must_not_be_in_the_password(password: str, user_input: str) -> None:  # OBL-SEC-4
    check = check_password(password, (user_input,))
    assert not check.ok
    assert pw.REASON_IDENTIFIER in check.reasons
    assert pw.REASON_IDENTIFIER == "不要使用手机号或邮箱作为密码"


def test_reasons_are_chinese_sentences_without_duplicates() -> None:
    check = check_password("aaa")
    assert len(check.reasons) == len(set(check.reasons))
    for reason in (pw.REASON_TOO_SHORT, pw.REASON_COMMON, pw.REASON_IDENTIFIER, pw.REASON_GUESSABLE):
        assert any("\u4e00" <= ch <= "\u9fff" for ch in reason)


def test_long_passwords_are_scored_not_refused_by_zxcvbn() -> None:
    long = "Kq8!river-" * 10  # 100 characters: more than zxcvbn's 72
    check = check_password(long)
    assert check.ok, check.reasons


def test_nfkc_forms_are_checked_alike() -> None:
    assert pw.normalize_password("ＡＢＣ１２３") == "ABC123"
    assert check_password("ｐａｓｓｗｏｒｄ１２３").reasons == check_password("password123").reasons


def test_not_a_string_is_weak() -> None:
    assert not check_password(None).ok  # type: ignore[arg-type]


def test_weak_password_is_an_invalid_input() -> None:
    with pytest.raises(InvalidInput):
        require_strong("short")


def test_user_inputs_do_not_leak_between_checks() -> None:
    """zxcvbn keeps user inputs in a module dictionary: it is emptied after each check, and
    concurrent checks (the server's thread pool) do not see each other's inputs."""
    from zxcvbn import matching

    check_password(STRONG, ("13800138000",))
    assert matching.RANKED_DICTIONARIES["user_inputs"] == {}
    errors: list[str] = []

    def worker(phone: str) -> None:
        for _ in range(20):
            if check_password(phone, (phone,)).ok:
                errors.append("identifier accepted as password")
            if not check_password(STRONG, (phone,)).ok:
                errors.append("strong password refused")

    threads = [threading.Thread(target=worker, args=(f"1380013800{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_the_password_is_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    check_password(STRONG, ("13800138000",))
    with pytest.raises(WeakPassword):
        require_strong("password123")
    assert STRONG not in caplog.text and "password123" not in caplog.text
