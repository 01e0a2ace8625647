"""Mainland China mobile numbers: one canonical 11-digit form, so equal numbers hash equal.

Error messages never repeat the number itself: they end up in import reports and logs.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["InvalidPhone", "normalize_mobile"]

_MOBILE = re.compile(r"^1[3-9]\d{9}$")
# Separators people type inside a number: spaces (any width), hyphens and dashes, dots, brackets.
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212.()]+")
_LEADING_QUOTES = "'\u2018\u2019`"


class InvalidPhone(ValueError):
    """Not a mainland mobile number (11 digits starting 13-19)."""


def normalize_mobile(raw: str) -> str:
    """The 11-digit mobile number in `raw`, without +86/0086/86, separators or full-width digits."""
    text = unicodedata.normalize("NFKC", raw or "").strip().lstrip(_LEADING_QUOTES)
    text = _SEPARATORS.sub("", text)
    if not text:
        raise InvalidPhone("手机号为空")
    if text.startswith("+86"):
        text = text[3:]
    elif text.startswith("0086"):
        text = text[4:]
    elif text.startswith("86") and len(text) == 13:
        text = text[2:]
    if not text.isascii() or not text.isdigit():
        raise InvalidPhone("手机号只能由数字组成（可带+86前缀）")
    if len(text) != 11:
        raise InvalidPhone(f"手机号应为11位，实为{len(text)}位")
    if not _MOBILE.match(text):
        raise InvalidPhone("手机号应以13至19开头")
    return text
