"""Validation of the real-name items (OBL-RN-1) and of manual-review documents (OBL-RN-2).

Used on the device before anything is sealed or sent, and again by the stub server (which
never trusts the client), so both apply exactly the same rules (docs/realname.md,
"Validation"):

- :func:`validate_name`: a name as printed on a Chinese ID document: Chinese characters, and the
  middle dot between the parts of a transliterated name (``阿依古丽·买买提``). The value comes
  back exactly as given (only surrounding whitespace removed): the dot is never normalised;
- :func:`validate_id_number`: the 18-character citizen identity number (GB 11643-1999) through
  python-stdnum's :mod:`stdnum.cn.ric`, without its address-code check, which refuses historic
  codes and the residence permits for Hong Kong, Macao and Taiwan residents (``810000``,
  ``820000``, ``830000``); :mod:`sdk.consent.minors` uses the same function;
- :func:`validate_phone`: a mobile number, E.164, by the account parser
  (:func:`sdk.account.parse_identifier`: one phone parser in the SDK);
- :func:`validate_document`: the number of a document for manual review: resident ID, PRC
  passport, Mainland Travel Permit for Hong Kong and Macao residents, or for Taiwan residents.

Errors are :class:`RealnameValidationError` (an :class:`sdk.InvalidInput`): ``field`` names the
input, ``reason`` is a machine-readable code, the message says in Chinese, then English, what is
wrong and how to fix it, and never contains the value (nor do the ``repr`` of
:class:`IdNumber` and :class:`DocumentNumber`). ``python-stdnum`` and ``phonenumbers`` are
imported on first use, so importing this module is cheap.
"""

from __future__ import annotations

import datetime
import itertools
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal, get_args

from ..errors import InvalidIdentifier, InvalidInput

__all__ = [
    "DOCUMENT_KINDS",
    "MAX_AGE_YEARS",
    "MAX_NAME_LENGTH",
    "DocumentKind",
    "DocumentNumber",
    "IdNumber",
    "IdNumberKind",
    "RealnameValidationError",
    "validate_document",
    "validate_id_number",
    "validate_name",
    "validate_phone",
]

IdNumberKind = Literal["resident_id", "hk_macao_residence_permit", "taiwan_residence_permit"]
DocumentKind = Literal["resident_id", "passport", "hk_macao_travel_permit", "taiwan_travel_permit"]

#: The documents accepted for manual review (OBL-RN-2), in the order a picker shows them.
DOCUMENT_KINDS: tuple[DocumentKind, ...] = get_args(DocumentKind)

#: A birth date further back than this many years is refused as impossible (a mistyped year).
MAX_AGE_YEARS = 150

#: Longest name accepted, in characters: a cap against pasted garbage, not a rule of a standard
#: (transliterated names of three or four parts reach about 20 characters).
MAX_NAME_LENGTH = 50

#: The middle dot of transliterated names (GB/T 15834-2011 间隔号): code point A1A4 of GB 2312,
#: the ID card's character set. GBK/GB 18030 map it to U+00B7 MIDDLE DOT, the Unicode
#: Consortium's GB 2312 table (and Python's ``gb2312`` codec) to U+30FB KATAKANA MIDDLE DOT, so
#: both are the same character on the card; either is accepted and returned unchanged.
NAME_DOTS = frozenset("\u00b7\u30fb")

#: Characters typed in place of the middle dot: refused with a message that asks for "·",
#: never replaced silently. Every character that Unicode's confusables.txt (UTS #39) maps to
#: U+00B7 MIDDLE DOT, except U+30FB (the same ID-card character, see :data:`NAME_DOTS`):
#: U+0387 GREEK ANO TELEIA, U+1427 CANADIAN SYLLABICS FINAL MIDDLE DOT, U+16EB RUNIC SINGLE
#: PUNCTUATION, U+2022 BULLET, U+2027 HYPHENATION POINT, U+2219 BULLET OPERATOR, U+22C5 DOT
#: OPERATOR, U+2E31 WORD SEPARATOR MIDDLE DOT, U+A78F LATIN LETTER SINOLOGICAL DOT, U+FF65
#: HALFWIDTH KATAKANA MIDDLE DOT, U+10101 AEGEAN WORD SEPARATOR DOT. Then the full stops
#: (U+002E, U+3002 ideographic, U+FF0E full-width, U+FE52 small, U+2024 one dot leader), and
#: dots that some input methods and fonts show like "·": U+318D HANGUL LETTER ARAEA (the dot key
#: of Korean keyboards), U+0384 GREEK TONOS, U+2E33 RAISED DOT, U+02D1 MODIFIER LETTER HALF
#: TRIANGULAR COLON.
_DOT_LOOKALIKES = frozenset(
    "\u0387\u1427\u16eb\u2022\u2027\u2219\u22c5\u2e31\ua78f\uff65\U00010101"
    ".\u3002\uff0e\ufe52\u2024"
    "\u318d\u0384\u2e33\u02d1"
)

#: Residence permits for Hong Kong, Macao and Taiwan residents: citizen identity numbers with
#: these address codes (国办发〔2018〕81号《港澳台居民居住证申领发放办法》, art. 3); only
#: ``IdNumber.kind`` depends on them.
_PERMIT_REGIONS: dict[str, IdNumberKind] = {
    "810000": "hk_macao_residence_permit",
    "820000": "hk_macao_residence_permit",
    "830000": "taiwan_residence_permit",
}

#: Document number formats for manual review, on the normalised (upper-case, no spaces) number;
#: sources in docs/realname.md ("Manual-review documents").
_DOCUMENT_FORMATS: dict[str, re.Pattern[str]] = {
    # PRC ordinary passport: E + 8 digits (electronic, since 2012), E + letter + 7 digits (the
    # E series continued), G + 8 digits (the earlier ordinary passport).
    "passport": re.compile(r"(?:E[0-9]{8}|E[A-Z][0-9]{7}|G[0-9]{8})"),
    # 港澳居民来往内地通行证 (card, since 2013): H (Hong Kong) or M (Macao) + 8 digits, optionally
    # followed by the 2-digit issue count printed beside it.
    "hk_macao_travel_permit": re.compile(r"[HM][0-9]{8}(?:[0-9]{2})?"),
    # 台湾居民来往大陆通行证: 8 digits (card, since 2015), 10 digits (the earlier booklet).
    "taiwan_travel_permit": re.compile(r"[0-9]{8}(?:[0-9]{2})?"),
}

_DOCUMENT_NAMES = {
    "passport": ("护照号码", "passport number"),
    "hk_macao_travel_permit": ("港澳居民来往内地通行证号码",
                               "Mainland Travel Permit for Hong Kong and Macao Residents number"),
    "taiwan_travel_permit": ("台湾居民来往大陆通行证号码",
                             "Mainland Travel Permit for Taiwan Residents number"),
}

_DOCUMENT_HINTS = {
    "passport": ("中国护照号码为 E 加 8 位数字、E 加 1 个字母和 7 位数字，或 G 加 8 位数字（见护照资料页）",
                 ("a PRC passport number is E + 8 digits, E + a letter + 7 digits, or G + 8 "
                  "digits (see the data page)")),
    "hk_macao_travel_permit": ("应为 H（香港）或 M（澳门）加 8 位数字，可带证件上的 2 位换证次数",
                               ("it is H (Hong Kong) or M (Macao) + 8 digits, optionally followed "
                                "by the 2-digit issue count")),
    "taiwan_travel_permit": ("应为 8 位数字（卡式证件）或 10 位数字（本式证件）",
                             "it is 8 digits (card) or 10 digits (booklet)"),
}

#: Longer input is refused before any parser sees it.
_MAX_NUMBER_INPUT = 64


class RealnameValidationError(InvalidInput):
    """A real-name item or a manual-review document number is invalid.

    ``str(error)`` is the Chinese message followed by its English gloss; it says what is wrong
    and how to fix it, and never contains the value.

    Attributes:
        field: ``real_name``, ``id_number``, ``phone``, ``document_kind`` or ``document_number``.
        reason: machine-readable code: ``type`` (any field: the value is not a ``str``, e.g.
            ``None``, a number or bytes), ``empty``, ``length``, ``characters``, ``space``,
            ``dot_position``, ``double_dot``, ``dot_lookalike``, ``encoding`` (name);
            ``first_generation``, ``format``, ``check_digit``, ``birth_date``,
            ``birth_date_future``, ``birth_date_too_old`` (ID number); ``invalid`` (ID number,
            phone, document number); ``unknown_kind`` (document kind).
        message_zh, message_en: the two halves of the message, for a UI that shows one language.
    """

    def __init__(self, field: str, reason: str, message_zh: str, message_en: str) -> None:
        self.reason = reason
        self.message_zh = message_zh
        self.message_en = message_en
        super().__init__(field, f"{message_zh} {message_en}")


@dataclass(frozen=True, repr=False)
class IdNumber:
    """A valid citizen identity number (resident ID card or residence permit).

    Attributes:
        value: the 18 characters, upper-case ``X`` (``11010519491231002X``). Never in ``repr``.
        kind: ``resident_id``, ``hk_macao_residence_permit`` (address code 810000 or 820000)
            or ``taiwan_residence_permit`` (830000).
        birth_date: the birth date the number encodes (GB 11643: digits 7-14; stdnum notes it
            may rarely be the registration date). Never in ``repr``.
    """

    value: str
    kind: IdNumberKind
    birth_date: datetime.date

    @property
    def masked(self) -> str:
        """For display: the first and last characters, the rest starred (``1****************X``)."""
        return _mask(self.value)

    def __repr__(self) -> str:  # never put the number (or the birth date) in a log or traceback
        return f"IdNumber(kind={self.kind!r}, value=<hidden>)"


@dataclass(frozen=True, repr=False)
class DocumentNumber:
    """The number of a document submitted for manual review (OBL-RN-2).

    Attributes:
        kind: one of :data:`DOCUMENT_KINDS`.
        value: the normalised number: upper-case, without spaces. Never in ``repr``.
    """

    kind: DocumentKind
    value: str

    @property
    def masked(self) -> str:
        """For display: the first and last characters, the rest starred."""
        return _mask(self.value)

    def __repr__(self) -> str:
        return f"DocumentNumber(kind={self.kind!r}, value=<hidden>)"


def _mask(value: str) -> str:
    return value[:1] + "*" * (len(value) - 2) + value[-1:]


# --- names ---------------------------------------------------------------------------------


def validate_name(text: str) -> str:
    """Check a real name as printed on the user's Chinese ID document.

    Accepted: Chinese characters (any CJK Unified Ideographs block, so rare characters in the
    extension blocks pass, and ``〇``), and the middle dot ``·`` (U+00B7, or U+30FB ``・``: the
    same ID-card character, see :data:`NAME_DOTS`) between two parts of the name. Latin
    letters, digits, spaces, other symbols and control characters are refused: the name must be
    entered in Chinese characters as on the resident ID card or residence permit.

    Args:
        text: what the user typed.

    Returns:
        *text* with surrounding whitespace removed and nothing else changed (same code points,
        so the same UTF-8 bytes after any round trip; the dot is never replaced).

    Raises:
        RealnameValidationError: ``field="real_name"``; ``reason`` is ``type`` (not a
            ``str``), ``empty``, ``length``
            (more than :data:`MAX_NAME_LENGTH` characters), ``characters`` (checked first),
            ``dot_lookalike`` (a bullet or full stop instead of ``·``), ``space``,
            ``dot_position`` (a dot at the start or end), ``double_dot`` or ``encoding`` (a
            character in a form NFC would change, e.g. a CJK compatibility ideograph pasted from
            another system).
    """
    _require_text(text, "real_name", "姓名", "name")
    name = text.strip()
    if not name:
        raise _name_error("empty", "请填写姓名，与身份证件上的一致。",
                          "Enter your name as it appears on your ID document.")
    if len(name) > MAX_NAME_LENGTH:
        raise _name_error("length", f"姓名过长（最多 {MAX_NAME_LENGTH} 个字），请按身份证件填写。",
                          f"The name is too long (at most {MAX_NAME_LENGTH} characters); enter it "
                          "as on your ID document.")
    others = [ch for ch in name if ch not in NAME_DOTS and not _is_han(ch)]
    if any(not ch.isspace() and ch not in _DOT_LOOKALIKES for ch in others):
        raise _name_error("characters",
                          "姓名只能包含汉字和间隔号“·”，不能有字母、数字或其他符号，请按身份证件填写。",
                          "A name may contain only Chinese characters and the middle dot '·' (no "
                          "letters, digits or other symbols); enter it as on your ID document.")
    if any(ch in _DOT_LOOKALIKES for ch in others):
        raise _name_error("dot_lookalike",
                          "姓名中的间隔号请使用“·”（与身份证件上的相同），不要使用“•”“.”等形似的符号。",
                          "Use the middle dot '·' as on your ID card, not a bullet, full stop or "
                          "other look-alike.")
    if others:  # only whitespace is left
        raise _name_error("space", "姓名中不能有空格，请删除空格；少数民族姓名各部分之间用“·”隔开。",
                          "Remove the spaces from the name; separate the parts of a "
                          "transliterated name with '·'.")
    if name[0] in NAME_DOTS or name[-1] in NAME_DOTS:
        raise _name_error("dot_position", "间隔号“·”只能用在姓名中间，请删除开头或结尾的“·”。",
                          "The middle dot '·' goes only between parts of the name; remove it from "
                          "the start or end.")
    if any(a in NAME_DOTS and b in NAME_DOTS for a, b in itertools.pairwise(name)):
        raise _name_error("double_dot", "姓名中不能有连续的间隔号，各部分之间只用一个“·”。",
                          "Use a single '·' between two parts of the name.")
    if not unicodedata.is_normalized("NFC", name):
        raise _name_error("encoding",
                          "姓名中有字符的编码形式不标准（常见于从其他系统复制的文字），请用输入法重新输入姓名。",
                          "A character of the name is in a non-standard encoded form (often text "
                          "copied from another system); type the name again with the keyboard.")
    return name


def _require_text(value: object, field: str, what_zh: str, what_en: str) -> None:
    """Refuse a value that is not a ``str`` (``None``, a number, bytes) with reason ``type``.

    A programming error of the caller rather than something the user typed, so the message
    says that text is expected instead of asking the user to fill the field in; it names only
    the type, never the value.
    """
    if not isinstance(value, str):
        raise RealnameValidationError(
            field, "type", f"{what_zh}应为文本（字符串），收到的是 {type(value).__name__}。",
            f"The {what_en} must be text (a str), not {type(value).__name__}.")


def _is_han(ch: str) -> bool:
    """A Chinese character: a CJK (unified or compatibility) ideograph, or ``〇``.

    Code points of planes 2 and 3 that this Python's Unicode database does not know yet are
    accepted too: those planes are allocated to CJK ideographs only (newer extension blocks).
    """
    if ch == "\u3007":
        return True
    try:
        return unicodedata.name(ch).startswith(("CJK UNIFIED IDEOGRAPH-",
                                                "CJK COMPATIBILITY IDEOGRAPH-"))
    except ValueError:
        code = ord(ch)
        return 0x20000 <= code <= 0x3FFFF and code & 0xFFFE != 0xFFFE


def _name_error(reason: str, zh: str, en: str) -> RealnameValidationError:
    return RealnameValidationError("real_name", reason, zh, en)


# --- ID numbers ----------------------------------------------------------------------------


def validate_id_number(text: str, *, today: datetime.date | None = None) -> IdNumber:
    """Check a citizen identity number (GB 11643-1999): a resident ID card or a residence permit.

    python-stdnum's ``stdnum.cn.ric`` checks the length, the characters, the check digit
    (ISO 7064 MOD 11-2) and the birth date; the birth date must also not be after *today* nor
    more than :data:`MAX_AGE_YEARS` years before it. stdnum's address-code check is not applied
    (the same rule as :mod:`sdk.consent.minors`, which uses this function): the code is where the
    number was first registered and stays on valid cards after the area is renamed, but stdnum's
    list misses such historic codes (python-stdnum#442) and refuses the codes of the residence
    permits for Hong Kong, Macao and Taiwan residents (810000, 820000 only for births after 1997
    and 1999, 830000 always); refusing them would lock real holders out.

    Args:
        text: what the user typed; full-width characters, spaces and a lower-case ``x`` are
            accepted.
        today: the day the birth date is checked against; the local date when not given.

    Returns:
        an :class:`IdNumber` with the 18 characters, upper-case, and its kind from the address
        code.

    Raises:
        RealnameValidationError: ``field="id_number"``; ``reason`` is ``type`` (not a
            ``str``), ``empty``,
            ``first_generation`` (a 15-digit number), ``length``, ``format``, ``check_digit``,
            ``birth_date`` (not a real date), ``birth_date_future``, ``birth_date_too_old`` or
            ``invalid``. The message never contains the number or any part of it.
    """
    return _id_number(text, "id_number", datetime.date.today() if today is None else today)


def _id_number(text: str, field: str, today: datetime.date) -> IdNumber:
    def fail(reason: str, zh: str, en: str) -> RealnameValidationError:
        return RealnameValidationError(field, reason, zh, en)

    _require_text(text, field, "身份证号码", "ID number")
    if not text.strip():
        raise fail("empty", "请填写身份证号码。", "Enter your ID number.")
    if len(text) > _MAX_NUMBER_INPUT:
        raise fail("length", *_ID_LENGTH)
    from stdnum import exceptions
    from stdnum.cn import ric
    from stdnum.util import isdigits

    try:
        # Full-width characters from a Chinese IME become ASCII; "x" becomes "X".
        number = "".join(ric.compact(unicodedata.normalize("NFKC", text)).split())
    except exceptions.ValidationError:
        raise fail("format", *_ID_FORMAT) from None
    if len(number) == 15 and isdigits(number):
        raise fail("first_generation",
                   "15 位的第一代身份证号码已停止使用，请填写第二代身份证或居住证上的 18 位号码。",
                   "15-digit first-generation ID numbers are no longer valid; enter the "
                   "18-character number on your current ID card or residence permit.")
    if len(number) != 18:
        raise fail("length", *_ID_LENGTH)
    if not isdigits(number[:-1]) or not (isdigits(number[-1]) or number[-1] == "X"):
        raise fail("format", *_ID_FORMAT)
    try:
        ric.validate(number)
    except exceptions.InvalidChecksum:
        raise fail("check_digit", "身份证号码校验位不正确，请检查最后一位，以及其他数字是否输错。",
                   "The ID number's check digit does not match: check the last character and "
                   "the other digits for typing errors.") from None
    except exceptions.InvalidComponent:
        # Either the birth date is not a date, or stdnum does not know the address code for the
        # birth year, which is not applied (see the docstring).
        try:
            ric.get_birth_date(number)
        except (exceptions.ValidationError, ValueError):
            raise fail("birth_date", "身份证号码第 7 至 14 位的出生日期不是有效日期，请对照证件检查。",
                       "Characters 7 to 14 of the ID number, the birth date (YYYYMMDD), are not "
                       "a real date; compare them with the ID card.") from None
        try:
            ric.get_birth_place(number)
        except exceptions.InvalidComponent:
            pass  # an address code stdnum does not know for that year: accepted
        else:
            raise fail("invalid", *_ID_INVALID) from None  # another component: refuse
    except KeyError:
        # stdnum's address look-up knows the province of the code but no county entry (e.g.
        # 119900) and fails with KeyError 'county'; the check digit and the birth date have
        # passed by then, and the address code is not applied (see the docstring): accepted.
        pass
    except exceptions.ValidationError:  # anything newer
        raise fail("invalid", *_ID_INVALID) from None
    birth_date = ric.get_birth_date(number)
    if birth_date > today:
        raise fail("birth_date_future", "身份证号码第 7 至 14 位的出生日期晚于今天，请对照证件检查。",
                   "Characters 7 to 14 of the ID number, the birth date (YYYYMMDD), are in the "
                   "future; compare them with the ID card.")
    from ..consent.minors import age_on

    if age_on(birth_date, today) > MAX_AGE_YEARS:
        raise fail("birth_date_too_old",
                   f"身份证号码第 7 至 14 位的出生日期早于 {MAX_AGE_YEARS} 年前，请对照证件检查。",
                   "Characters 7 to 14 of the ID number, the birth date (YYYYMMDD), are more "
                   f"than {MAX_AGE_YEARS} years ago; compare them with the ID card.")
    return IdNumber(number, _PERMIT_REGIONS.get(number[:6], "resident_id"), birth_date)


_ID_LENGTH = ("身份证号码应为 18 位（17 位数字，最后一位是数字或 X），请检查是否多输或少输。",
              ("An ID number has 18 characters (17 digits, then a digit or X); check for a "
               "missing or extra one."))
_ID_FORMAT = ("身份证号码只能包含数字，最后一位可以是 X，请删除其中的字母或其他符号。",
              ("An ID number has only digits, and the last character may be X; remove letters "
               "and other symbols."))
_ID_INVALID = ("身份证号码不正确，请对照证件检查。",
               "The ID number is not valid; compare it with the ID card.")


# --- phone ---------------------------------------------------------------------------------


def validate_phone(text: str, region: str = "CN") -> str:
    """Check a mobile phone number for real-name verification.

    Parsed by :func:`sdk.account.parse_identifier` (``phonenumbers``; the same rules as an
    account's phone: full-width digits, spaces and dashes accepted, must be a valid *mobile*
    number: a landline cannot receive the verification SMS).

    Args:
        text: what the user typed.
        region: ISO 3166 region for a number written without ``+`` country code.

    Returns:
        the number in E.164, e.g. ``+8613800138000``.

    Raises:
        RealnameValidationError: ``field="phone"``, ``reason`` ``type`` (not a ``str``),
            ``empty`` or ``invalid``; the
            message never contains the number.
    """
    from ..account.identifiers import parse_identifier

    _require_text(text, "phone", "手机号码", "mobile number")
    if not text.strip():
        raise RealnameValidationError("phone", "empty", "请填写手机号码。", "Enter your mobile number.")
    if "@" in text:  # parse_identifier would read it as an email address
        raise _phone_invalid()
    try:
        return parse_identifier(text, region).value
    except InvalidIdentifier:
        raise _phone_invalid() from None


def _phone_invalid() -> RealnameValidationError:
    return RealnameValidationError(
        "phone", "invalid",
        "请填写有效的手机号码，例如 13800138000；中国大陆以外的号码请加 + 和国家或地区代码；不能使用固定电话。",
        "Enter a valid mobile number, e.g. 13800138000; numbers outside mainland China need + "
        "and the country code; landlines cannot be used.")


# --- manual-review documents ---------------------------------------------------------------


def validate_document(kind: str, number: str) -> DocumentNumber:
    """Check the number of a document submitted for manual review (OBL-RN-2).

    Args:
        kind: one of :data:`DOCUMENT_KINDS`: ``resident_id`` (checked by
            :func:`validate_id_number`, so residence permits pass), ``passport`` (PRC
            ordinary passport), ``hk_macao_travel_permit``, ``taiwan_travel_permit``.
        number: what the user typed; full-width characters, spaces and lower case accepted.

    Returns:
        a :class:`DocumentNumber` with the number upper-case, without spaces.

    Raises:
        RealnameValidationError: ``field="document_kind"`` (``unknown_kind``) or
            ``field="document_number"`` (``type``, ``empty`` or ``invalid``; for ``resident_id`` the
            reasons of :func:`validate_id_number`). The message never contains the number.
    """
    if kind not in DOCUMENT_KINDS:
        raise RealnameValidationError(
            "document_kind", "unknown_kind",
            "请选择证件类型：居民身份证、护照、港澳居民来往内地通行证或台湾居民来往大陆通行证。",
            "Choose the document type: resident ID card, passport, Mainland Travel Permit for "
            "Hong Kong and Macao Residents, or for Taiwan Residents "
            f"({', '.join(DOCUMENT_KINDS)}).")
    if kind == "resident_id":
        today = datetime.date.today()
        return DocumentNumber("resident_id", _id_number(number, "document_number", today).value)
    name_zh, name_en = _DOCUMENT_NAMES[kind]
    _require_text(number, "document_number", name_zh, name_en)
    if not number.strip():
        raise RealnameValidationError("document_number", "empty", f"请填写{name_zh}。",
                                      f"Enter the {name_en}.")
    value = ("".join(unicodedata.normalize("NFKC", number).split()).upper()
             if len(number) <= _MAX_NUMBER_INPUT else "")
    if not _DOCUMENT_FORMATS[kind].fullmatch(value):
        hint_zh, hint_en = _DOCUMENT_HINTS[kind]
        raise RealnameValidationError("document_number", "invalid",
                                      f"{name_zh}格式不正确：{hint_zh}，请对照证件检查。",
                                      f"The {name_en} is not valid: {hint_en}; check it "
                                      "against the document.")
    return DocumentNumber(kind, value)  # type: ignore[arg-type]  # kind checked above
