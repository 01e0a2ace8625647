"""Encryption at rest and keyed hashes for personal data (PIPL), on the `cryptography` library.

- `encrypt` / `decrypt`: Fernet (AES-128-CBC + HMAC-SHA256, authenticated). `GONGHUI_DATA_KEY` may
  hold several comma-separated keys: the first encrypts, all decrypt (MultiFernet), so keys rotate.
  `reencrypt` moves a ciphertext to the first key (MultiFernet.rotate) once a new key is put first.
- `keyed_hash`: HMAC-SHA256 under a key derived (HKDF) from a root key and a purpose label, so equal
  values find each other (uniqueness, look-up) without the value being stored. The root is
  `GONGHUI_HASH_KEY` when set, otherwise the first data key. Rotating the data key therefore changes
  the hashes unless `GONGHUI_HASH_KEY` is set to the old first key before the new key is put first.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

__all__ = ["InvalidToken", "decrypt", "encrypt", "keyed_hash", "reencrypt"]


def _keys() -> list[str]:
    keys = [k.strip() for k in (settings.GONGHUI_DATA_KEY or "").split(",") if k.strip()]
    if not keys:
        raise ImproperlyConfigured("GONGHUI_DATA_KEY is empty: personal data cannot be encrypted")
    return keys


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(k.encode()) for k in keys])


@lru_cache(maxsize=16)
def _hash_key(root_key: str, purpose: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"gonghui-keyed-hash", info=purpose.encode()
    ).derive(root_key.encode())


def encrypt(plaintext: str) -> str:
    """Ciphertext as URL-safe text; the empty string stays empty."""
    if not plaintext:
        return ""
    return _fernet(tuple(_keys())).encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    if not ciphertext:
        return ""
    return _fernet(tuple(_keys())).decrypt(ciphertext.encode()).decode()


def reencrypt(ciphertext: str) -> str:
    """The same plaintext encrypted under the first key (for key rotation); empty stays empty."""
    if not ciphertext:
        return ""
    return _fernet(tuple(_keys())).rotate(ciphertext.encode()).decode()


def _hash_root() -> str:
    return (getattr(settings, "GONGHUI_HASH_KEY", "") or "").strip() or _keys()[0]


def keyed_hash(purpose: str, value: str) -> str:
    """Hex HMAC-SHA256 of a normalised value under the purpose's key ("id_number", "phone")."""
    if not value:
        return ""
    key = _hash_key(_hash_root(), purpose)
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()
