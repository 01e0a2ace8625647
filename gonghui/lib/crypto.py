"""Encryption at rest and keyed hashes for personal data (PIPL), on the `cryptography` library.

- `encrypt` / `decrypt`: Fernet (AES-128-CBC + HMAC-SHA256, authenticated). `GONGHUI_DATA_KEY` may
  hold several comma-separated keys: the first encrypts, all decrypt (MultiFernet), so keys rotate.
- `keyed_hash`: HMAC-SHA256 under a key derived (HKDF) from the first data key and a purpose label,
  so equal values find each other (uniqueness, look-up) without the value being stored.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

__all__ = ["InvalidToken", "decrypt", "encrypt", "keyed_hash"]


def _keys() -> list[str]:
    return [k.strip() for k in settings.GONGHUI_DATA_KEY.split(",") if k.strip()]


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(k.encode()) for k in keys])


@lru_cache(maxsize=16)
def _hash_key(first_key: str, purpose: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"gonghui-keyed-hash", info=purpose.encode()).derive(
        first_key.encode()
    )


def encrypt(plaintext: str) -> str:
    """Ciphertext as URL-safe text; the empty string stays empty."""
    if not plaintext:
        return ""
    return _fernet(tuple(_keys())).encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    if not ciphertext:
        return ""
    return _fernet(tuple(_keys())).decrypt(ciphertext.encode()).decode()


def keyed_hash(purpose: str, value: str) -> str:
    """Hex HMAC-SHA256 of a normalised value under the purpose's key ("id_number", "phone")."""
    if not value:
        return ""
    key = _hash_key(_keys()[0], purpose)
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()
