"""Resident ID numbers (公民身份号码, GB 11643-1999): normalise, check, derive, build.

An ID number is 18 characters: a 6-digit address code (GB/T 2260, the place of first
registration), an 8-digit birth date (YYYYMMDD), a 3-digit sequence (odd for men, even for
women) and a check character computed by ISO 7064 MOD 11-2 over the first 17 digits (0-9 or X).
Old 15-digit numbers (YYMMDD birth date, no check character) belong to people born in the
1900s: they convert by inserting "19" and computing the check character.

Error messages never repeat the number itself: they end up in import reports and logs.
"""

from __future__ import annotations

import operator
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta

__all__ = [
    "IdInfo",
    "InvalidIdNumber",
    "id_check_char",
    "id_info_of_canonical",
    "make_id_number",
    "normalize_id_number",
    "parse_id_number",
]

# Weight of position i is 2**(17 - i) mod 11; the check character closes the sum to 1 (mod 11).
_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
_CHECK_CHARS = "10X98765432"
_DIGIT_ZERO_SUM = ord("0") * sum(_WEIGHTS)

# First two digits of GB/T 2260 province-level codes, plus 81/82/83 for the residence permits
# of Hong Kong, Macao and Taiwan residents. The 2023 foreigners' permanent residence card starts
# with 9 followed by the province of issue.
_PROVINCES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 "
    "50 51 52 53 54 61 62 63 64 65 71 81 82 83".split()
)
_EARLIEST_BIRTH = date(1900, 1, 1)

# Text that spreadsheets and forms put around a number: Excel's leading apostrophe (straight or
# typographic) and any whitespace, including the ideographic space.
_LEADING_QUOTES = "'\u2018\u2019`"
_WHITESPACE = re.compile(r"\s+")
_SHAPE_18 = re.compile(r"^\d{17}[\dX]$")
_SHAPE_15 = re.compile(r"^\d{15}$")


class InvalidIdNumber(ValueError):
    """An ID number that is not a valid GB 11643 number; `reason` says which check failed.

    reason is one of "empty", "length", "chars", "region", "birth_date", "check_char".
    """

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class IdInfo:
    """What an ID number says about its holder."""

    birth_date: date
    sex: str  # "M" or "F", as people.models.Sex
    birthplace_code: str  # the 6-digit GB/T 2260 code of first registration


def id_check_char(first17: str) -> str:
    """The MOD 11-2 check character for the first 17 digits of an ID number."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise InvalidIdNumber("身份证号本体码应为17位数字", reason="chars")
    # The bytes of ASCII digits are the digits plus 48: one C-level pass instead of int() per digit
    # (a million-row census import checks a million numbers).
    total = sum(map(operator.mul, first17.encode(), _WEIGHTS)) - _DIGIT_ZERO_SUM
    return _CHECK_CHARS[total % 11]


def _clean(raw: str) -> str:
    text = unicodedata.normalize("NFKC", raw or "")  # full-width digits and Ｘ become ASCII
    text = _WHITESPACE.sub("", text).lstrip(_LEADING_QUOTES)
    return _WHITESPACE.sub("", text).upper()


# Any date before this is in the past whenever the check runs (today is never before the day this
# module was loaded): the common case is then decided without asking for today's date.
_SURELY_PAST = date.today() - timedelta(days=2)


def _birth_date(yyyymmdd: str, today: date | None) -> date:
    try:
        born = date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        raise InvalidIdNumber("身份证号中的出生日期不是有效日期", reason="birth_date") from None
    # Only a birth date near today needs today's date in the site's time zone (the slow part
    # when the demo seeder checks 27,000 numbers); anything older than yesterday is in the past.
    if today is None and born >= _SURELY_PAST and born >= date.today() - timedelta(days=1):
        today = _today()
    if today is not None and born > today:
        raise InvalidIdNumber("身份证号中的出生日期晚于今天", reason="birth_date")
    if born < _EARLIEST_BIRTH:
        raise InvalidIdNumber("身份证号中的出生日期早于1900年", reason="birth_date")
    return born


def _check_region(code6: str) -> None:
    if code6[:2] not in _PROVINCES and not code6.startswith("9"):
        raise InvalidIdNumber(f"身份证号地区码无效：省级代码 {code6[:2]} 不存在", reason="region")


def _today() -> date:
    from django.conf import settings

    if not settings.configured:  # a plain script without Django: the machine's date will do
        return date.today()
    from django.utils import timezone

    return timezone.localdate()


def normalize_id_number(raw: str, *, today: date | None = None) -> str:
    """The canonical 18-character upper-case form of an ID number, or `InvalidIdNumber`.

    Accepts full-width digits, spaces, a leading apostrophe and a lower-case x; converts a
    15-digit number to 18. Checks the address code's province, that the birth date is a real
    date between 1900 and `today`, and the check character.
    """
    text = _clean(raw)
    if not text:
        raise InvalidIdNumber("身份证号为空", reason="empty")
    if len(text) not in (15, 18):
        raise InvalidIdNumber(f"身份证号长度应为18位（或旧式15位），实为{len(text)}位", reason="length")
    if len(text) == 15:
        if not _SHAPE_15.match(text):
            raise InvalidIdNumber("15位身份证号只能由数字组成", reason="chars")
        first17 = text[:6] + "19" + text[6:]
        _check_region(first17[:6])
        _birth_date(first17[6:14], today)
        return first17 + id_check_char(first17)
    if not _SHAPE_18.match(text):
        raise InvalidIdNumber("身份证号前17位应为数字，末位为数字或X", reason="chars")
    _check_region(text[:6])
    _birth_date(text[6:14], today)
    if id_check_char(text[:17]) != text[17]:
        raise InvalidIdNumber("身份证号校验位错误", reason="check_char")
    return text


def parse_id_number(id18: str) -> IdInfo:
    """Birth date, sex and birthplace code of an ID number (normalised first, so raw input is fine)."""
    return id_info_of_canonical(normalize_id_number(id18))


def id_info_of_canonical(canonical: str) -> IdInfo:
    """`parse_id_number` for a number `normalize_id_number` already returned (no second check)."""
    return IdInfo(
        birth_date=date(int(canonical[6:10]), int(canonical[10:12]), int(canonical[12:14])),
        sex="M" if int(canonical[16]) % 2 else "F",
        birthplace_code=canonical[:6],
    )


def make_id_number(birthplace_code: str, birth_date: date, sequence: int) -> str:
    """A valid 18-character ID number (for the demo city and tests): odd `sequence` is a man."""
    if not re.fullmatch(r"\d{6}", birthplace_code or ""):
        raise ValueError("birthplace_code must be 6 digits")
    if not 0 <= sequence <= 999:
        raise ValueError("sequence must be between 0 and 999")
    first17 = f"{birthplace_code}{birth_date:%Y%m%d}{sequence:03d}"
    return first17 + id_check_char(first17)
