"""Password strength policy: at least 10 characters and hard to guess (``zxcvbn``).

The same rules run on the device (:func:`check_password` for live feedback,
:func:`require_strong` before registering) and on the stub server, which checks again.

Reasons are short Chinese sentences the user can act on (shown as they are by the demo app).
The password itself is never logged, stored, kept in an error or echoed; only the reasons
leave this module. ``zxcvbn`` is imported on first use.

Note: ``zxcvbn`` keeps the user inputs of the last call in a module-level dictionary. Calls
here are serialised by a lock and that dictionary is emptied afterwards, so concurrent checks
(the server's thread pool) never see each other's identifiers and none stays in memory.
"""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import WeakPassword
from .identifiers import identifier_words

__all__ = [
    "PasswordCheck",
    "check_password",
    "require_strong",
    "normalize_password",
    "MIN_LENGTH",
    "MAX_LENGTH",
    "MIN_SCORE",
    "REASON_TOO_SHORT",
    "REASON_TOO_LONG",
    "REASON_IDENTIFIER",
    "REASON_COMMON",
    "REASON_SEQUENCE",
    "REASON_REPEAT",
    "REASON_DATE",
    "REASON_GUESSABLE",
]

MIN_LENGTH = 10
MAX_LENGTH = 128
#: Lowest acceptable ``zxcvbn`` score (3: "safely unguessable", about 10^8 guesses or more).
MIN_SCORE = 3
#: ``zxcvbn`` refuses longer input; a longer password is scored on its first characters.
_ZXCVBN_MAX = 72

REASON_TOO_SHORT = f"至少 {MIN_LENGTH} 个字符"
REASON_TOO_LONG = f"最多 {MAX_LENGTH} 个字符"
REASON_IDENTIFIER = "不要使用手机号或邮箱作为密码"
REASON_COMMON = "避免常见密码或键盘序列（如 password、qwerty、1qaz2wsx）"
REASON_SEQUENCE = "避免 abc、12345 这样的连续字符"
REASON_REPEAT = "避免 aaa、abcabc 这样的重复字符"
REASON_DATE = "避免使用日期或年份（如生日）"
REASON_GUESSABLE = "再加一两个不常见的词，让密码更长、更难猜"

_lock = threading.Lock()


@dataclass(frozen=True)
class PasswordCheck:
    """Result of :func:`check_password`.

    Attributes:
        ok: True when the password meets the policy.
        score: ``zxcvbn`` score, 0 (trivial) to 4 (very hard to guess).
        reasons: what to change, one short Chinese sentence each; empty when ``ok``.
    """

    ok: bool
    score: int
    reasons: tuple[str, ...]


def normalize_password(password: str) -> str:
    """NFKC form of *password* (what the server hashes), so the same password typed with a
    different input method (full-width characters, composed accents) still matches."""
    return unicodedata.normalize("NFKC", password)


def _words(user_inputs: Iterable[str]) -> tuple[str, ...]:
    words: dict[str, None] = {}
    for item in user_inputs:
        if isinstance(item, str) and item.strip():
            for word in identifier_words(item):
                words.setdefault(word, None)
    return tuple(words)


def _zxcvbn(password: str, words: tuple[str, ...]) -> dict:
    from zxcvbn import matching, zxcvbn

    with _lock:
        try:
            return zxcvbn(password[:_ZXCVBN_MAX], user_inputs=list(words))
        finally:
            matching.RANKED_DICTIONARIES["user_inputs"] = {}


def check_password(password: str, user_inputs: Iterable[str] = ()) -> PasswordCheck:
    """Check *password* against the policy.

    Args:
        password: the password as typed.
        user_inputs: the account's identifier (raw text or normalised) and anything else the
            password must not be built from; phone numbers and email addresses are expanded
            (national number, local part, ...).

    Returns:
        a :class:`PasswordCheck`; ``reasons`` are Chinese, in the order to fix them.
    """
    if not isinstance(password, str):
        return PasswordCheck(False, 0, (REASON_TOO_SHORT,))
    password = normalize_password(password)
    words = _words(user_inputs)
    reasons: dict[str, None] = {}
    if len(password) < MIN_LENGTH:
        reasons[REASON_TOO_SHORT] = None
    if len(password) > MAX_LENGTH:
        reasons[REASON_TOO_LONG] = None
    lowered = password.lower()
    if any(word in lowered for word in words):
        reasons[REASON_IDENTIFIER] = None
    if not password:
        return PasswordCheck(False, 0, tuple(reasons))
    result = _zxcvbn(password, words)
    score = int(result["score"])
    if score < MIN_SCORE:
        specific = False
        for match in result.get("sequence", ()):
            reason = _reason_for(match)
            if reason is not None:
                reasons[reason] = None
                specific = True
        if not specific and not reasons:
            reasons[REASON_GUESSABLE] = None
    return PasswordCheck(not reasons, score, tuple(reasons))


def _reason_for(match: dict) -> str | None:
    pattern = match.get("pattern")
    if pattern == "dictionary":
        if match.get("dictionary_name") == "user_inputs":
            return REASON_IDENTIFIER
        if match.get("dictionary_name") == "passwords":
            return REASON_COMMON
        return None
    if pattern == "spatial":
        return REASON_COMMON
    if pattern == "sequence":
        return REASON_SEQUENCE
    if pattern == "repeat":
        return REASON_REPEAT
    if pattern in ("date", "regex"):
        return REASON_DATE
    return None


def require_strong(password: str, user_inputs: Iterable[str] = ()) -> PasswordCheck:
    """Like :func:`check_password`, but raise when the password fails the policy.

    Raises:
        WeakPassword: ``reasons`` say what to change (the password is not in the error).
    """
    check = check_password(password, user_inputs)
    if not check.ok:
        raise WeakPassword(check.reasons)
    return check
