import pytest
from hypothesis import given
from hypothesis import strategies as st

from gonghui.lib.creditcode import (
    ALPHABET,
    InvalidCreditCode,
    credit_check_char,
    make_credit_code,
    normalize_credit_code,
)

# A code printed on a real business licence, used in GB 32100 explanations.
PUBLISHED = "91350100M000100Y43"

codes = st.builds(make_credit_code, st.integers(min_value=0, max_value=10**8 - 1))
any_first17 = st.text(alphabet=ALPHABET, min_size=17, max_size=17)


def test_it_accepts_a_published_code():
    assert normalize_credit_code(PUBLISHED) == PUBLISHED


def test_it_normalises_spaces_case_and_full_width():
    assert normalize_credit_code(" 9135 0100m000100y43 ") == PUBLISHED
    assert normalize_credit_code("９１３５０１００Ｍ０００１００Ｙ４３") == PUBLISHED


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "缺少"),
        ("91350100M000100Y4", "应为 18 位，实为 17 位"),
        ("91350100M000100Y433", "应为 18 位，实为 19 位"),
        ("91350100M000100I43", "第 16 位 'I' 不是合法字符"),
        ("91350100M000100Y44", "校验位不符：应为 3，实为 4"),
    ],
)
def test_it_refuses_with_a_reason(raw, reason):
    with pytest.raises(InvalidCreditCode, match=reason):
        normalize_credit_code(raw)


def test_it_maps_a_remainder_of_zero_to_check_char_0():
    # 31 - (sum mod 31) is 31 when the sum is a multiple of 31: the check character is '0'.
    assert credit_check_char("0" * 17) == "0"


@given(codes)
def test_it_accepts_every_made_code(code):
    assert normalize_credit_code(code) == code
    assert code.startswith("91230800")


@given(any_first17)
def test_it_accepts_any_body_with_its_check_char(first17):
    code = first17 + credit_check_char(first17)
    assert normalize_credit_code(code) == code


@given(any_first17, st.integers(min_value=0, max_value=17), st.sampled_from(ALPHABET))
def test_it_refuses_any_single_substitution_inside_the_alphabet(first17, position, replacement):
    code = first17 + credit_check_char(first17)
    if code[position] == replacement:
        replacement = ALPHABET[(ALPHABET.index(replacement) + 1) % len(ALPHABET)]
    changed = code[:position] + replacement + code[position + 1 :]
    assert changed != code
    with pytest.raises(InvalidCreditCode):
        normalize_credit_code(changed)


@given(codes, st.integers(min_value=0, max_value=17), st.sampled_from("IOZSV!-_#"))
def test_it_refuses_any_single_substitution_outside_the_alphabet(code, position, replacement):
    changed = code[:position] + replacement + code[position + 1 :]
    with pytest.raises(InvalidCreditCode, match="不是合法字符"):
        normalize_credit_code(changed)
