"""What a citizen types is checked for form before anything is looked up: a well-formed ID number passes
(whatever its region), any single digit changed is refused, as are malformed mobiles and codes."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import ric

from zhongtai.core.errors import Invalid
from zhongtai.public.schemas import code_of, id_number_of, mobile_of

regions = st.integers(110000, 659999).map(str)
births = st.dates(date(1900, 1, 1), date(2025, 12, 31))


def _number(region: str, born: date, serial: int) -> str:
    stem = f"{region}{born:%Y%m%d}{serial:03d}"
    return stem + ric.calc_check_digit(stem + "0")


@given(regions, births, st.integers(0, 999))
def test_a_well_formed_number_passes_lowercase_and_full_width_too(
    region: str, born: date, serial: int
) -> None:
    number = _number(region, born, serial)
    assert id_number_of(number) == number
    assert (
        id_number_of(number.lower().translate(str.maketrans("0123456789", "０１２３４５６７８９"))) == number
    )


@given(regions, births, st.integers(0, 999), st.integers(0, 16), st.integers(1, 9))
def test_any_single_digit_changed_is_refused(region: str, born: date, serial: int, at: int, by: int) -> None:
    number = _number(region, born, serial)
    changed = number[:at] + str((int(number[at]) + by) % 10) + number[at + 1 :]
    with pytest.raises(Invalid) as refused:
        id_number_of(changed)
    assert refused.value.field == "id_number"


def test_impossible_birth_dates_and_wrong_lengths_are_refused() -> None:
    stem = "34010419900230001"  # 30 February
    with pytest.raises(Invalid):
        id_number_of(stem + ric.calc_check_digit(stem + "0"))
    with pytest.raises(Invalid):
        id_number_of(_number("340104", date(1990, 1, 1), 1)[:17])


@pytest.mark.parametrize("mobile", ["12345678901", "1380000111", "138000011112", "abc", ""])
def test_malformed_mobiles_are_refused(mobile: str) -> None:
    with pytest.raises(Invalid):
        mobile_of(mobile)


def test_mobiles_and_codes_are_normalised() -> None:
    assert mobile_of("138-0000 1111") == "13800001111"
    assert code_of(" ０１２３４５ ") == "012345"
    with pytest.raises(Invalid):
        code_of("12345")
