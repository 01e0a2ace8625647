"""How personal data is shown: masked, everywhere, unless a permitted and logged unmask."""

from __future__ import annotations


def mask_id_number(id_number: str) -> str:
    """`230803199001011234` -> `230803********1234` (first 6, last 4)."""
    if not id_number:
        return ""
    if len(id_number) <= 10:
        return "*" * len(id_number)
    return id_number[:6] + "*" * (len(id_number) - 10) + id_number[-4:]


def mask_phone(phone: str) -> str:
    """`13812345678` -> `138****5678` (first 3, last 4)."""
    if not phone:
        return ""
    if len(phone) <= 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def mask_name(name: str) -> str:
    """`张三丰` -> `张*丰`, `张三` -> `张*`: for pages anyone can open (card checks)."""
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]
