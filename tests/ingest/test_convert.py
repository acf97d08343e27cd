"""Type conversion and the mapping invariant, property-tested: every spelling a department uses, and
rows in = rows kept + rows rejected whatever the values."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from zhongtai.catalog.models import DataType
from zhongtai.ingest.convert import convert_series
from zhongtai.ingest.mapping import ChunkMapper, FieldRule

FULL = str.maketrans("0123456789", "０１２３４５６７８９")
DATES = st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31))


def spell(day: date, style: int, full_width: bool) -> str:
    text = [
        day.isoformat(),
        f"{day.year}/{day.month}/{day.day}",
        f"{day:%Y%m%d}",
        f"{day.year}年{day.month}月{day.day}日",
        f"{day.year}.{day.month}.{day.day}",
        f" {day.year}-{day.month}-{day.day} ",
    ][style]
    return text.translate(FULL) if full_width else text


def one(value: object, target: DataType) -> tuple[object, bool]:
    values, failed = convert_series(pl.Series([value], strict=False), target)
    return values[0], bool(failed[0])


@given(DATES, st.integers(0, 5), st.booleans())
def test_every_date_spelling_becomes_iso(day: date, style: int, full_width: bool) -> None:
    assert one(spell(day, style, full_width), DataType.DATE) == (day.isoformat(), False)


@given(
    st.datetimes(min_value=datetime(1950, 1, 1), max_value=datetime(2050, 1, 1)).map(
        lambda d: d.replace(microsecond=0)
    )
)
def test_datetimes_in_common_spellings(moment: datetime) -> None:
    expected = moment.isoformat()
    for text in (
        moment.strftime("%Y-%m-%d %H:%M:%S"),
        moment.strftime("%Y/%m/%d %H:%M:%S"),
        f"{moment.year}年{moment.month}月{moment.day}日 " + moment.strftime("%H:%M:%S"),
        moment.strftime("%Y%m%d%H%M%S"),
    ):
        assert one(text, DataType.DATETIME) == (expected, False), text


@given(st.integers(-(2**63), 2**63 - 1), st.booleans())
def test_whole_numbers_in_any_width(number: int, full_width: bool) -> None:
    text = str(number).translate(FULL) if full_width else str(number)
    assert one(text, DataType.INTEGER) == (number, False)


@given(st.text(alphabet="abcxyz不详未知-/", min_size=1, max_size=12))
def test_words_are_not_dates_or_numbers(text: str) -> None:
    for target in (DataType.DATE, DataType.INTEGER, DataType.DATETIME):
        value, failed = one(text, target)
        assert value is None and failed


def test_impossible_calendar_dates_are_refused() -> None:
    for text in ("2021-02-29", "2020年13月1日", "20200431"):
        assert one(text, DataType.DATE) == (None, True)
    assert one("2020-02-29", DataType.DATE) == ("2020-02-29", False)


def test_missing_is_not_a_failure() -> None:
    for target in DataType:
        if target is DataType.STRING:
            continue
        assert one(None, target) == (None, False)
        assert one("  ", target) == (None, False) or target is DataType.BINARY


def test_yes_no_and_decimals() -> None:
    assert one("是", DataType.BOOLEAN) == (True, False)
    assert one("N", DataType.BOOLEAN) == (False, False)
    assert one("1,234.50", DataType.DECIMAL) == ("1234.50", False)
    assert one("100万元", DataType.DECIMAL) == (None, True)


ROWS = st.lists(
    st.tuples(
        st.one_of(st.none(), st.text(max_size=6)),
        st.one_of(st.none(), DATES.map(str), st.text(max_size=8)),
        st.one_of(st.none(), st.integers(-5, 5), st.text(max_size=3)),
    ),
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(ROWS)
def test_rows_in_equal_rows_kept_plus_rows_rejected(values: list[tuple[object, object, object]]) -> None:
    rows = [(n, *row) for n, row in enumerate(values)]
    mapper = ChunkMapper(
        [
            FieldRule(item="姓名", source="name", required=True),
            FieldRule(item="出生日期", source="birth"),
            FieldRule(item="人数", source="count"),
        ],
        {"姓名": DataType.STRING, "出生日期": DataType.DATE, "人数": DataType.INTEGER},
        ["id"],
        ["id", "name", "birth", "count"],
    )
    if not rows:
        return
    mapped = mapper.map(mapper.frame(rows), pl.int_range(1, len(rows) + 1, eager=True))
    assert mapped.accepted.height + mapped.rejected.height == len(rows)  # keys are unique here
    assert mapped.rejected["reason"].null_count() == 0
    assert set(mapped.accepted["source_key"]).isdisjoint(set(mapped.rejected["source_key"]))
