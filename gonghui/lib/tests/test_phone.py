"""Mainland mobile numbers: one canonical form, so a number typed two ways hashes the same."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gonghui.lib.masking import mask_phone
from gonghui.lib.phone import InvalidPhone, normalize_mobile


@pytest.mark.parametrize(
    "typed",
    [
        "13812345678",
        "138 1234 5678",
        "138-1234-5678",
        "+86 138 1234 5678",
        "+8613812345678",
        "(+86) 138-1234-5678",
        "008613812345678",
        "0086 138 1234 5678",
        "8613812345678",
        "１３８１２３４５６７８",  # full-width digits
        "＋８６　１３８１２３４５６７８",  # full-width plus and ideographic space
        "'13812345678",  # Excel's text prefix
        " 13812345678\n",
    ],
)
def test_it_normalises_how_people_type_a_mobile(typed):
    assert normalize_mobile(typed) == "13812345678"


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("", "为空"),
        (" - ", "为空"),
        ("1381234567", "11位"),  # ten digits
        ("138123456789", "11位"),  # twelve digits
        ("12812345678", "13至19"),  # no mobile starts 12
        ("23812345678", "13至19"),
        ("0454-8234567", "13至19"),  # a Jiamusi landline
        ("0454-823456", "11位"),
        ("1381234567a", "数字"),
        ("138１２３４５６７８x", "数字"),
        ("+8512812345678", "数字"),
        ("861381234567", "11位"),  # 86 prefix on a short number is not stripped
    ],
)
def test_it_refuses_what_is_not_a_mainland_mobile(typed, words):
    with pytest.raises(InvalidPhone) as caught:
        normalize_mobile(typed)
    assert words in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_it_keeps_a_number_that_starts_86_after_the_1():
    # 186... is a mobile; only a leading country code is stripped.
    assert normalize_mobile("18612345678") == "18612345678"
    assert normalize_mobile("+86 186 1234 5678") == "18612345678"


mobiles = st.from_regex(r"\A1[3-9][0-9]{9}\Z", fullmatch=True)


@given(mobiles, st.sampled_from(["", "+86", "0086", "86", "+86 ", "(+86)"]), st.sampled_from(["", " ", "-"]))
def test_it_finds_the_same_number_under_any_prefix_and_separator(mobile, prefix, sep):
    typed = prefix + sep.join([mobile[:3], mobile[3:7], mobile[7:]])
    assert normalize_mobile(typed) == mobile


@given(mobiles)
def test_it_masks_all_but_the_first_three_and_last_four_digits(mobile):
    masked = mask_phone(mobile)
    assert masked == mobile[:3] + "****" + mobile[-4:]


def test_it_masks_a_phone_as_the_issue_shows():
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("") == ""
