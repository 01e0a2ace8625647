"""Resident ID numbers (GB 11643): valid ones accepted, any single-character change refused."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone
from hypothesis import assume, given
from hypothesis import strategies as st

from gonghui.lib.idcard import (
    IdInfo,
    InvalidIdNumber,
    id_check_char,
    make_id_number,
    normalize_id_number,
    parse_id_number,
)

TODAY = date(2024, 6, 30)
ALPHABET = "0123456789X"

# Real GB/T 2260 county-level codes across provinces (Jiamusi's districts first).
PLACES = ["230803", "230804", "230805", "230811", "230822", "110101", "310115", "440305", "650102", "810000"]

places = st.sampled_from(PLACES)
birth_dates = st.dates(min_value=date(1900, 1, 1), max_value=TODAY)
sequences = st.integers(min_value=0, max_value=999)
valid_ids = st.builds(make_id_number, places, birth_dates, sequences)


@given(valid_ids)
def test_it_accepts_every_number_it_builds(id_number):
    assert normalize_id_number(id_number, today=TODAY) == id_number


@given(valid_ids, st.integers(min_value=0, max_value=17), st.sampled_from(ALPHABET))
def test_it_refuses_any_single_character_change(id_number, position, replacement):
    assume(id_number[position] != replacement)  # a change, really
    changed = id_number[:position] + replacement + id_number[position + 1 :]
    assert changed != id_number
    with pytest.raises(InvalidIdNumber):
        normalize_id_number(changed, today=TODAY)


@given(valid_ids, st.integers(min_value=0, max_value=16))
def test_it_refuses_swapped_neighbouring_characters(id_number, position):
    assume(id_number[position] != id_number[position + 1])
    swapped = id_number[:position] + id_number[position + 1] + id_number[position] + id_number[position + 2 :]
    with pytest.raises(InvalidIdNumber):
        normalize_id_number(swapped, today=TODAY)


@given(places, st.dates(min_value=date(1900, 1, 1), max_value=date(1999, 12, 31)), sequences)
def test_it_converts_15_digit_numbers_to_the_18_digit_number_of_the_same_person(place, born, sequence):
    id18 = make_id_number(place, born, sequence)
    id15 = id18[:6] + id18[8:17]
    assert len(id15) == 15
    assert normalize_id_number(id15, today=TODAY) == id18


@given(places, birth_dates, sequences)
def test_it_derives_birth_date_sex_and_birthplace(place, born, sequence):
    info = parse_id_number(make_id_number(place, born, sequence))
    assert info == IdInfo(birth_date=born, sex="M" if sequence % 2 else "F", birthplace_code=place)


def test_it_computes_the_check_character_of_a_published_example():
    # The example in GB 11643-1999 Appendix A: 11010519491231002X.
    assert id_check_char("11010519491231002") == "X"
    assert normalize_id_number("11010519491231002X") == "11010519491231002X"
    assert parse_id_number("11010519491231002X") == IdInfo(date(1949, 12, 31), "F", "110105")


def test_it_converts_the_published_15_digit_example():
    # 340524800101001 is the usual textbook old number; its 18-digit form ends in check char 9.
    assert normalize_id_number("340524800101001") == "34052419800101001" + id_check_char("34052419800101001")


@pytest.mark.parametrize(
    "typed",
    [
        "11010519491231002x",  # lower-case x
        "'11010519491231002X",  # Excel's text prefix
        "\u201911010519491231002X",  # a typographic apostrophe from a word processor
        "１１０１０５１９４９１２３１００２Ｘ",  # full-width digits and X
        "１１０１０５１９４９１２３１００２ｘ",  # full-width lower-case x
        " 110105 19491231 002X ",  # spaces
        "110105\u300019491231002X\t",  # ideographic space and a tab
        "＇110105 1949 1231 002x",  # everything at once
    ],
)
def test_it_normalises_how_people_type_numbers(typed):
    assert normalize_id_number(typed) == "11010519491231002X"


@pytest.mark.parametrize(
    ("typed", "reason", "words"),
    [
        ("", "empty", "为空"),
        ("   ", "empty", "为空"),
        ("1101051949123100", "length", "长度"),
        ("1101051949123100234", "length", "长度"),
        ("2.30803E+17", "length", "长度"),
        ("11010519491231002A", "chars", "末位"),
        ("1101051949123100X2", "chars", "末位"),
        ("11010519491231A02X", "chars", "末位"),
        ("11010519491231002Y", "chars", "末位"),
        ("11010519491231003X", "check_char", "校验位"),
        ("11010519491231002X"[:17] + "1", "check_char", "校验位"),
        ("00010519491231002" + id_check_char("00010519491231002"), "region", "地区码"),
        ("99010519491231002" + id_check_char("99010519491231002"), None, None),  # foreigners' 9xxxxx
        ("11010519490231002" + id_check_char("11010519490231002"), "birth_date", "出生日期"),  # 31 Feb
        ("11010518991231002" + id_check_char("11010518991231002"), "birth_date", "出生日期"),  # before 1900
        ("11010520240701002" + id_check_char("11010520240701002"), "birth_date", "出生日期"),  # tomorrow
        ("11010549123100", "length", "长度"),
        ("11010549023000A", "chars", "15位"),
        ("110105490230002", "birth_date", "出生日期"),  # 15-digit, 30 Feb 1949
    ],
)
def test_it_says_why_a_number_is_refused(typed, reason, words):
    if reason is None:
        assert normalize_id_number(typed, today=TODAY) == typed
        return
    with pytest.raises(InvalidIdNumber) as caught:
        normalize_id_number(typed, today=TODAY)
    assert caught.value.reason == reason
    assert words in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_it_never_repeats_the_number_in_its_message():
    bad = "11010519491231003X"
    with pytest.raises(InvalidIdNumber) as caught:
        normalize_id_number(bad)
    assert bad not in str(caught.value)
    assert bad[:17] not in str(caught.value)


def test_it_accepts_someone_born_today_but_not_tomorrow():
    born_today = make_id_number("230803", TODAY, 1)
    assert normalize_id_number(born_today, today=TODAY) == born_today
    with pytest.raises(InvalidIdNumber):
        normalize_id_number(born_today, today=date(2024, 6, 29))


def test_it_builds_numbers_with_the_requested_sex():
    assert parse_id_number(make_id_number("230803", date(1990, 1, 1), 1)).sex == "M"
    assert parse_id_number(make_id_number("230803", date(1990, 1, 1), 998)).sex == "F"
    assert make_id_number("230803", date(1990, 1, 1), 7)[14:17] == "007"


@pytest.mark.parametrize(
    ("place", "sequence"), [("23080", 1), ("2308031", 1), ("23080a", 1), ("230803", -1), ("230803", 1000)]
)
def test_it_refuses_to_build_from_bad_parts(place, sequence):
    with pytest.raises(ValueError):
        make_id_number(place, date(1990, 1, 1), sequence)


def test_it_refuses_a_birth_date_after_the_sites_today_when_no_date_is_given():
    site_today = timezone.localdate()
    for days_ago in (400, 2, 1, 0):
        born = make_id_number("230803", site_today - timedelta(days=days_ago), 2)
        assert normalize_id_number(born) == born
    for days_ahead in (1, 2, 400):
        with pytest.raises(InvalidIdNumber) as caught:
            normalize_id_number(make_id_number("230803", site_today + timedelta(days=days_ahead), 2))
        assert caught.value.reason == "birth_date"
