"""The unified social credit code (统一社会信用代码, GB 32100-2015).

Eighteen characters from a 31-character alphabet (the digits and the capitals without I, O, Z,
S and V): registration authority (1), organisation type (1), GB/T 2260 region (6), organisation
code (9, GB 11714) and a check character. The check character makes the weighted sum of all
eighteen values a multiple of 31; because 31 is prime and every weight is non-zero modulo 31,
any single wrong character is caught.
"""

from __future__ import annotations

import unicodedata

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
LENGTH = 18


class InvalidCreditCode(ValueError):
    """A string that is not a valid unified social credit code; the message says why, in Chinese."""


def credit_check_char(first17: str) -> str:
    """The GB 32100 check character for the first 17 characters (already upper-case, half-width)."""
    if len(first17) != LENGTH - 1:
        raise InvalidCreditCode(f"统一社会信用代码本体应为 17 位，实为 {len(first17)} 位")
    total = 0
    for position, (ch, weight) in enumerate(zip(first17, WEIGHTS, strict=True), start=1):
        if ch not in _VALUE:
            raise InvalidCreditCode(f"统一社会信用代码第 {position} 位 {ch!r} 不是合法字符")
        total += _VALUE[ch] * weight
    return ALPHABET[(31 - total % 31) % 31]


def normalize_credit_code(raw: str) -> str:
    """The canonical form of `raw` (no spaces, upper-case, half-width), or InvalidCreditCode.

    Checks length, alphabet and the check character.
    """
    if raw is None:
        raise InvalidCreditCode("缺少统一社会信用代码")
    # NFKC turns full-width letters, digits and the ideographic space into their ASCII forms.
    code = "".join(unicodedata.normalize("NFKC", str(raw)).split()).upper()
    if not code:
        raise InvalidCreditCode("缺少统一社会信用代码")
    if len(code) != LENGTH:
        raise InvalidCreditCode(f"统一社会信用代码应为 18 位，实为 {len(code)} 位")
    for position, ch in enumerate(code, start=1):
        if ch not in _VALUE:
            raise InvalidCreditCode(
                f"统一社会信用代码第 {position} 位 {ch!r} 不是合法字符（不含 I、O、Z、S、V）"
            )
    expected = credit_check_char(code[:17])
    if code[17] != expected:
        raise InvalidCreditCode(f"统一社会信用代码校验位不符：应为 {expected}，实为 {code[17]}")
    return code


def is_valid_credit_code(raw: str) -> bool:
    try:
        normalize_credit_code(raw)
    except InvalidCreditCode:
        return False
    return True


def _org_code_check_char(first8: str) -> str:
    """The GB 11714 check character of a 9-character organisation code (digits here)."""
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(ch) * w for ch, w in zip(first8, weights, strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def make_credit_code(seed: int, region_code: str = "230800") -> str:
    """A valid code for an enterprise (registration 9, type 1) in `region_code`, distinct per seed.

    For the demo city and tests: the embedded organisation code also carries its own GB 11714
    check character, so the result looks like a real business licence number.
    """
    region = str(region_code)[:6]
    if len(region) != 6 or not region.isdigit():
        raise InvalidCreditCode(f"行政区划代码 {region_code!r} 应为 6 位数字")
    body = f"{seed % 10**8:08d}"
    first17 = f"91{region}{body}{_org_code_check_char(body)}"
    return first17 + credit_check_char(first17)
