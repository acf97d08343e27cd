"""Standardizers on columns: the shapes that cover nearly all real values, worked out in native code.

A governance pass hands each standardizing rule the distinct values of a page at once. For the data
element kinds with many distinct values (ID numbers, dates, names, phone numbers, addresses, text), the
column form below gives the canonical value of every value written in one of the shapes it knows, as
Polars expressions, and null for the rest. The nulls go to the reference standardizer in ``elements``,
one by one, which also gives every refusal and its reason: a column form only ever accepts, so a refused
value is refused by the reference itself, with the reference's reason. That both agree (the column form
never accepts a value the reference refuses, and gives the reference's canonical value when it accepts)
is property-tested over arbitrary text for every kind.

The shapes are strict on purpose: ASCII digits only (``\\d`` in Rust's regex would take any script's
digits, which the reference widens first), no surrounding spaces, no characters that Unicode
normalization (NFKC) would change. Anything else is simply not the column form's business.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

import polars as pl

from zhongtai.governance.elements import EARLIEST_BIRTH, MAX_ADDRESS, MAX_NAME, _assigned_since

ColumnForm = Callable[[pl.Series], pl.Series]
ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]  # GB 11643's weights of digits 1-17
ID_CHECK = "10X98765432"  # the check character for each remainder of the weighted sum modulo 11
HAN = r"\x{4e00}-\x{9fff}"  # CJK Unified Ideographs: no compatibility forms, NFKC leaves them alone
CONTROL = r"[\x00-\x08\x0b-\x1f\x7f-\x9f]"
NAME = rf"^[{HAN}]+(·[{HAN}]+)*$"
ADDRESS = rf"^[{HAN}A-Za-z0-9#\-]+$"
TEXT_ENDS = r"^[\p{Han}A-Za-z0-9](?s:.*)[\p{Han}A-Za-z0-9]$|^[\p{Han}A-Za-z0-9]$"
YMD = r"^([0-9]{4})(?:[-/.年]([0-9]{1,2})[-/.月]([0-9]{1,2})日?|([0-9]{2})([0-9]{2}))$"
YMD_CLOCK = r"^([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2}):([0-9]{2}):([0-9]{2})$"


def standardize_many(kind: str, values: Sequence[str]) -> dict[str, str]:
    """The canonical value of each value the column form of ``kind`` covers; the others are left out
    (the reference standardizer decides them). Empty for kinds without a column form."""
    form = COLUMN_FORMS.get(kind)
    if form is None or not values:
        return {}
    given = pl.Series("v", values, dtype=pl.String)
    canonical = form(given)
    frame = pl.DataFrame({"v": given, "c": canonical}).filter(pl.col("c").is_not_null())
    return dict(zip(frame["v"].to_list(), frame["c"].to_list(), strict=True))


def _on(values: pl.Series, expression: pl.Expr) -> pl.Series:
    return values.to_frame("v").select(expression.alias("c"))["c"]


def _id_number(values: pl.Series) -> pl.Series:
    """18 ASCII characters, 17 digits and a check character that matches; a real, past birth date; a
    birthplace code in use in or after the birth year (asked once per code and year)."""
    number = pl.col("v").str.to_uppercase()
    weighted = pl.sum_horizontal(
        number.str.slice(i, 1).cast(pl.Int32, strict=False) * weight for i, weight in enumerate(ID_WEIGHTS)
    )
    check = pl.lit(ID_CHECK).str.slice(weighted % 11, 1)
    born = number.str.slice(6, 8).str.to_date("%Y%m%d", strict=False)
    frame = values.to_frame("v").with_columns(
        n=number,
        born=born,
        shaped=pl.col("v").str.contains(r"^[0-9]{17}[0-9Xx]$"),
    )
    frame = frame.with_columns(
        plausible=pl.col("shaped")
        & (pl.col("n").str.slice(17, 1) == check)
        & pl.col("born").is_between(pl.lit(EARLIEST_BIRTH), pl.lit(date.today())),
        place=pl.col("n").str.slice(0, 6) + ":" + pl.col("born").dt.year().cast(pl.String),
    )
    places = frame.filter(pl.col("plausible"))["place"].unique().to_list()
    known = [place for place in places if _assigned_since(place[:6], int(place[7:]))]
    accepted = pl.col("plausible") & pl.col("place").is_in(known)
    return frame.select(pl.when(accepted).then(pl.col("n")).alias("c"))["c"]


def _calendar_parts(values: pl.Series) -> pl.DataFrame:
    """Year, month and day of dates written 2020-03-05, 2020/3/5, 2020.3.5, 2020年3月5日 or 20200305,
    and whether they make a day of the calendar within the years the reference accepts."""
    parts = pl.col("v").str.extract_groups(YMD)
    frame = values.to_frame("v").with_columns(
        y=parts.struct.field("1").cast(pl.Int32, strict=False),
        m=pl.coalesce(parts.struct.field("2"), parts.struct.field("4")).cast(pl.Int32, strict=False),
        d=pl.coalesce(parts.struct.field("3"), parts.struct.field("5")).cast(pl.Int32, strict=False),
    )
    iso = pl.format(
        "{}-{}-{}",
        pl.col("y").cast(pl.String).str.zfill(4),
        pl.col("m").cast(pl.String).str.zfill(2),
        pl.col("d").cast(pl.String).str.zfill(2),
    )
    day = iso.str.to_date("%Y-%m-%d", strict=False)
    return frame.with_columns(iso=pl.when(day.is_not_null() & pl.col("y").is_between(1800, 2100)).then(iso))


def _calendar_date(values: pl.Series) -> pl.Series:
    dated = _calendar_parts(values)["iso"]
    return dated.zip_with(dated.is_not_null(), _clocked(values).str.slice(0, 10))


def _clocked(values: pl.Series) -> pl.Series:
    """``YYYY-MM-DDTHH:MM:SS`` (or a space for the T) with a real day and time of day, canonical."""
    parts = pl.col("v").str.extract_groups(YMD_CLOCK)
    field = parts.struct.field
    iso = pl.format("{}-{}-{}", field("1"), field("2"), field("3"))
    day = iso.str.to_date("%Y-%m-%d", strict=False)
    clock_ok = (
        (field("4").cast(pl.Int32, strict=False) <= 23)
        & (field("5").cast(pl.Int32, strict=False) <= 59)
        & (field("6").cast(pl.Int32, strict=False) <= 59)
    )
    year_ok = field("1").cast(pl.Int32, strict=False).is_between(1800, 2100)
    text = pl.format("{}T{}:{}:{}", iso, field("4"), field("5"), field("6"))
    return _on(values, pl.when(day.is_not_null() & clock_ok & year_ok).then(text))


def _date_time(values: pl.Series) -> pl.Series:
    clocked = _clocked(values)
    return clocked.zip_with(clocked.is_not_null(), _calendar_parts(values)["iso"] + "T00:00:00")


def _where(pattern: str, longest: int | None = None) -> ColumnForm:
    """Values already canonical when they match ``pattern`` (and are at most ``longest`` characters)."""

    def form(values: pl.Series) -> pl.Series:
        accepted = pl.col("v").str.contains(pattern)
        if longest is not None:
            accepted = accepted & (pl.col("v").str.len_chars() <= longest)
        return _on(values, pl.when(accepted).then(pl.col("v")))

    return form


def _plain_text(values: pl.Series) -> pl.Series:
    """Text with no control characters that starts and ends with a letter or digit is kept as it is."""
    accepted = pl.col("v").str.contains(TEXT_ENDS) & ~pl.col("v").str.contains(CONTROL)
    return _on(values, pl.when(accepted).then(pl.col("v")))


COLUMN_FORMS: dict[str, ColumnForm] = {
    "id_number": _id_number,
    "date": _calendar_date,
    "datetime": _date_time,
    "person_name": _where(NAME, MAX_NAME),
    "address": _where(ADDRESS, MAX_ADDRESS),
    "mobile": _where(r"^1[3-9][0-9]{9}$"),
    "phone": _where(r"^1[3-9][0-9]{9}$"),
    "text": _plain_text,
}
