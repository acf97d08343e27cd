"""Classification and resource codes (property-based)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zhongtai.catalog import codes
from zhongtai.catalog.models import Category

digits = st.text("0123456789", min_size=1, max_size=1)


@st.composite
def classification_codes(draw: st.DrawFn) -> str:
    """类 (1 digit), then optionally 项 (2), 目 (3) and 细目 (3)."""
    code = draw(st.sampled_from("123"))
    for width in draw(st.sampled_from([(), (2,), (2, 3), (2, 3, 3)])):
        code += "".join(draw(digits) for _ in range(width))
    return code


sequences = st.integers(min_value=1, max_value=codes.MAX_SEQUENCE)


@given(classification_codes(), sequences)
def test_resource_codes_parse_back_to_their_parts(classification: str, sequence: int) -> None:
    code = codes.format_resource_code(classification, sequence)
    assert codes.parse_resource_code(code) == (classification, sequence)
    assert code.startswith(classification + "-") and len(code) == len(classification) + 7


@given(classification_codes(), sequences, sequences)
def test_different_sequences_give_different_codes_that_sort_by_sequence(c: str, a: int, b: int) -> None:
    code_a, code_b = codes.format_resource_code(c, a), codes.format_resource_code(c, b)
    assert (code_a == code_b) == (a == b)
    assert (code_a < code_b) == (a < b)


@given(classification_codes())
def test_category_follows_the_first_digit(classification: str) -> None:
    assert (
        codes.category_of(classification)
        == {"1": Category.BASE, "2": Category.THEMATIC, "3": Category.DEPARTMENTAL}[classification[0]]
    )


@given(st.text(max_size=20))
def test_parse_rejects_anything_that_is_not_a_code(text: str) -> None:
    try:
        classification, sequence = codes.parse_resource_code(text)
    except ValueError:
        return
    assert codes.format_resource_code(classification, sequence) == text


@pytest.mark.parametrize("bad", ["4", "10", "1011", "101-0", "101-000000", "101/000001", "x"])
def test_malformed_codes_are_rejected(bad: str) -> None:
    if "-" in bad or "/" in bad or bad == "x":
        with pytest.raises(ValueError):
            codes.parse_resource_code(bad)
    else:
        assert not codes.is_classification_code(bad)


def test_sequence_bounds() -> None:
    with pytest.raises(ValueError):
        codes.format_resource_code("101", 0)
    with pytest.raises(ValueError):
        codes.format_resource_code("101", codes.MAX_SEQUENCE + 1)
