"""Encryption at rest (AES-GCM tokens, older Fernet tokens still read, key rotation), keyed hashes and masking."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from gonghui.lib.crypto import (
    TOKEN_PREFIX,
    InvalidToken,
    decrypt,
    encrypt,
    encrypt_many,
    keyed_hash,
    keyed_hasher,
    reencrypt,
)
from gonghui.lib.masking import mask_id_number, mask_name

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


@hsettings(max_examples=50)
@given(st.text(min_size=1))
def test_it_round_trips_any_text(text):
    assert decrypt(encrypt(text)) == text


def test_it_leaves_no_trace_of_the_plaintext_in_the_token():
    for value in ("230803199001011235", "13812345678"):
        assert value not in encrypt(value)


def test_it_encrypts_the_same_value_differently_each_time():
    assert encrypt("230803199001011235") != encrypt("230803199001011235")


def test_it_keeps_empty_values_empty():
    assert encrypt("") == ""
    assert decrypt("") == ""
    assert keyed_hash("phone", "") == ""


def test_it_refuses_a_token_that_was_tampered_with():
    token = encrypt("13812345678")
    tampered = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    with pytest.raises(InvalidToken):
        decrypt(tampered)


def test_it_refuses_a_token_under_a_key_it_does_not_hold(settings):
    settings.GONGHUI_DATA_KEY = OLD_KEY
    token = encrypt("13812345678")
    settings.GONGHUI_DATA_KEY = NEW_KEY
    with pytest.raises(InvalidToken):
        decrypt(token)


def test_it_rotates_keys_new_first_old_still_decrypts(settings):
    settings.GONGHUI_DATA_KEY = OLD_KEY
    old_token = encrypt("230803199001011235")

    settings.GONGHUI_DATA_KEY = f"{NEW_KEY}, {OLD_KEY}"
    assert decrypt(old_token) == "230803199001011235"  # old rows still readable
    new_token = encrypt("230803199001011235")
    rotated = reencrypt(old_token)

    settings.GONGHUI_DATA_KEY = NEW_KEY  # the old key retired
    assert decrypt(new_token) == "230803199001011235"
    assert decrypt(rotated) == "230803199001011235"
    with pytest.raises(InvalidToken):
        decrypt(old_token)


def test_it_keeps_hashes_across_rotation_when_the_hash_key_is_pinned(settings):
    settings.GONGHUI_HASH_KEY = ""
    settings.GONGHUI_DATA_KEY = OLD_KEY
    before = keyed_hash("id_number", "230803199001011235")

    settings.GONGHUI_DATA_KEY = f"{NEW_KEY},{OLD_KEY}"
    assert keyed_hash("id_number", "230803199001011235") != before  # derived from the first key...
    settings.GONGHUI_HASH_KEY = OLD_KEY
    assert keyed_hash("id_number", "230803199001011235") == before  # ...unless pinned


def test_it_still_reads_fernet_tokens_written_before_the_aead_format(settings):
    settings.GONGHUI_DATA_KEY = f"{NEW_KEY},{OLD_KEY}"
    old_token = Fernet(OLD_KEY.encode()).encrypt(b"230803199001011235").decode()
    assert decrypt(old_token) == "230803199001011235"
    moved = reencrypt(old_token)
    assert moved.startswith(TOKEN_PREFIX)
    settings.GONGHUI_DATA_KEY = NEW_KEY
    assert decrypt(moved) == "230803199001011235"
    with pytest.raises(InvalidToken):
        decrypt(old_token)


def test_it_refuses_a_token_that_is_not_base64_or_too_short():
    with pytest.raises(InvalidToken):
        decrypt(TOKEN_PREFIX + "***")
    with pytest.raises(InvalidToken):
        decrypt(TOKEN_PREFIX + "AAAA")


def test_it_encrypts_many_values_as_encrypt_does_each():
    values = ["13812345678", "", "阿依古丽·买买提", "230803199001011235"] * 3
    tokens = encrypt_many(values)
    assert [decrypt(t) for t in tokens] == values
    assert tokens[1] == ""
    assert len({t for t in tokens if t}) == 9  # a fresh nonce for every value


def test_the_bulk_hasher_hashes_as_keyed_hash_does():
    hasher = keyed_hasher("phone")
    for value in ("13812345678", "", "13812345679"):
        assert hasher(value) == keyed_hash("phone", value)


def test_it_hashes_equal_values_equal_and_purposes_apart():
    assert keyed_hash("id_number", "13812345678") == keyed_hash("id_number", "13812345678")
    assert keyed_hash("id_number", "13812345678") != keyed_hash("phone", "13812345678")
    assert keyed_hash("phone", "13812345678") != keyed_hash("phone", "13812345679")
    assert len(keyed_hash("phone", "13812345678")) == 64


def test_it_hashes_under_a_secret_key(settings):
    settings.GONGHUI_HASH_KEY = ""
    first = keyed_hash("phone", "13812345678")
    settings.GONGHUI_DATA_KEY = NEW_KEY
    assert keyed_hash("phone", "13812345678") != first  # not a plain, guessable digest


def test_it_refuses_to_work_without_a_key(settings):
    settings.GONGHUI_DATA_KEY = " , "
    with pytest.raises(ImproperlyConfigured):
        encrypt("13812345678")


def test_it_masks_an_id_number_as_the_issue_shows():
    assert mask_id_number("230803199001011234") == "230803********1234"
    assert mask_id_number("11010519491231002X") == "110105********002X"
    assert mask_id_number("") == ""


def test_it_masks_names_for_public_pages():
    assert mask_name("张三丰") == "张*丰"
    assert mask_name("张三") == "张*"
    assert mask_name("张") == "张"
