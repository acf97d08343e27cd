"""Type conversion, column at a time: from whatever a department system hands over to an item's data type.

Each converter is a Polars expression pair: the converted value and a "could not convert" flag, so a
chunk of a million rows converts in native code, not row by row in Python. Values come out JSON-ready:
text, 64-bit integers and booleans; decimals as their exact text; dates as ``YYYY-MM-DD``; datetimes as
ISO 8601 (``YYYY-MM-DDTHH:MM:SS[.ffffff][+HH:MM]``). Full-width digits and the date spellings departments
really use (2020年3月5日, 2020/3/5, 20200305, 2020.3.5) are understood. Text items keep text as given:
cleaning it is governance's job, and the raw zone must show what the department sent.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from zhongtai.catalog.models import DataType

FULL_WIDTH = [*"０１２３４５６７８９", "，", "．", "－", "／", "：", "\u3000", "＋"]
HALF_WIDTH = [*"0123456789", ",", ".", "-", "/", ":", " ", "+"]
_YMD = r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
_CLOCK = r"(\d{1,2})\s*[:时]\s*(\d{1,2})(?:\s*[:分]\s*(\d{1,2})(?:\.(\d{1,6}))?\s*秒?)?"
DATE_PATTERN = rf"^{_YMD}(?:[T\s]+{_CLOCK})?$"
COMPACT_DATE = r"^(\d{4})(\d{2})(\d{2})$"
DATETIME_PATTERN = rf"^{_YMD}(?:[T\s]+{_CLOCK})?\s*(Z|[+-]\d{{2}}:?\d{{2}})?$"
COMPACT_DATETIME = r"^(\d{4})(\d{2})(\d{2})(?:[T\s]?(\d{2}):?(\d{2}):?(\d{2}))?$"
DECIMAL_PATTERN = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"
TRUE_WORDS = ["1", "true", "t", "yes", "y", "是", "真", "有"]
FALSE_WORDS = ["0", "false", "f", "no", "n", "否", "假", "无"]
PROBLEMS = {
    DataType.STRING: "is not text",
    DataType.INTEGER: "is not a whole number",
    DataType.DECIMAL: "is not a number",
    DataType.DATE: "is not a date",
    DataType.DATETIME: "is not a date and time",
    DataType.BOOLEAN: "is not yes/no (accepted: 是/否, true/false, 1/0, y/n)",
    DataType.BINARY: "is not binary (binary items take binary source columns only)",
}


@dataclass(frozen=True)
class Conversion:
    value: pl.Expr  # the converted value (null where missing or unconvertible)
    failed: pl.Expr  # true where a value was present but could not be converted


def clean_text(column: pl.Expr) -> pl.Expr:
    """Text with full-width digits and punctuation made half-width, stripped; empty stays empty."""
    return column.cast(pl.String).str.replace_many(FULL_WIDTH, HALF_WIDTH).str.strip_chars()


def present(text: pl.Expr) -> pl.Expr:
    return text.is_not_null() & (text != "")


def convert(column: pl.Expr, dtype: pl.DataType, target: DataType) -> Conversion:
    """Convert ``column`` (of Polars type ``dtype``) to ``target``."""
    builders = {
        DataType.STRING: _to_string,
        DataType.INTEGER: _to_integer,
        DataType.DECIMAL: _to_decimal,
        DataType.DATE: _to_date,
        DataType.DATETIME: _to_datetime,
        DataType.BOOLEAN: _to_boolean,
        DataType.BINARY: _to_binary,
    }
    return builders[target](column, dtype)


def _never(value: pl.Expr) -> Conversion:
    return Conversion(value, pl.lit(False))


def _refuse(column: pl.Expr, dtype: pl.DataType) -> Conversion:
    return Conversion(pl.lit(None, dtype=pl.String), column.is_not_null())


def _from_text(text: pl.Expr, value: pl.Expr) -> Conversion:
    return Conversion(value, present(text) & value.is_null())


def _to_string(column: pl.Expr, dtype: pl.DataType) -> Conversion:
    if dtype == pl.String:
        return _never(column)
    if dtype == pl.Date:
        return _never(column.dt.strftime("%Y-%m-%d"))
    if isinstance(dtype, pl.Datetime):
        return _never(_iso_datetime(column, dtype))
    if dtype == pl.Binary:
        return _never(column.bin.encode("base64"))
    if dtype.is_float():
        whole = column == column.round(0)
        return _never(
            pl.when(whole)
            .then(column.cast(pl.Int64, strict=False).cast(pl.String))
            .otherwise(column.cast(pl.String))
        )
    return _never(column.cast(pl.String))


def _iso_datetime(column: pl.Expr, dtype: pl.Datetime) -> pl.Expr:
    zone = "%:z" if dtype.time_zone else ""
    return (
        pl.when(column.dt.microsecond() == 0)
        .then(column.dt.strftime(f"%Y-%m-%dT%H:%M:%S{zone}"))
        .otherwise(column.dt.strftime(f"%Y-%m-%dT%H:%M:%S%.6f{zone}"))
    )


def _to_integer(column: pl.Expr, dtype: pl.DataType) -> Conversion:
    if dtype.is_integer() or dtype == pl.Boolean:
        value = column.cast(pl.Int64, strict=False)
        return Conversion(value, column.is_not_null() & value.is_null())
    if dtype.is_float() or dtype.is_decimal():
        value = pl.when(column == column.round(0)).then(column.cast(pl.Int64, strict=False))
        return Conversion(value, column.is_not_null() & value.is_null())
    if dtype != pl.String:
        return _refuse(column, dtype)
    text = clean_text(column)
    digits = text.str.replace_all(",", "").str.replace(r"\.0+$", "")
    return _from_text(text, digits.cast(pl.Int64, strict=False))


def _to_decimal(column: pl.Expr, dtype: pl.DataType) -> Conversion:
    if dtype.is_numeric():
        return _never(column.cast(pl.String))
    if dtype != pl.String:
        return _refuse(column, dtype)
    text = clean_text(column).str.replace_all(",", "")
    return _from_text(text, pl.when(text.str.contains(DECIMAL_PATTERN)).then(text))


def _padded(part: pl.Expr, default: str = "00") -> pl.Expr:
    return part.str.zfill(2).fill_null(default)


def _to_date(column: pl.Expr, dtype: pl.DataType) -> Conversion:
    if dtype == pl.Date or isinstance(dtype, pl.Datetime):
        return _never(column.dt.strftime("%Y-%m-%d"))
    if not (dtype == pl.String or dtype.is_integer()):
        return _refuse(column, dtype)
    text = clean_text(column)
    spelled = text.str.extract_groups(DATE_PATTERN)
    compact = text.str.extract_groups(COMPACT_DATE)
    iso = pl.coalesce(
        pl.concat_str(
            [spelled.struct[0], _padded(spelled.struct[1]), _padded(spelled.struct[2])], separator="-"
        ),
        pl.concat_str([compact.struct[0], compact.struct[1], compact.struct[2]], separator="-"),
    )
    valid = iso.str.strptime(pl.Date, "%Y-%m-%d", strict=False).is_not_null()
    return _from_text(text, pl.when(valid).then(iso))


def _to_datetime(column: pl.Expr, dtype: pl.DataType) -> Conversion:
    if isinstance(dtype, pl.Datetime):
        return _never(_iso_datetime(column, dtype))
    if dtype == pl.Date:
        return _never(column.dt.strftime("%Y-%m-%dT00:00:00"))
    if not (dtype == pl.String or dtype.is_integer()):
        return _refuse(column, dtype)
    text = clean_text(column)
    spelled = text.str.extract_groups(DATETIME_PATTERN)
    compact = text.str.extract_groups(COMPACT_DATETIME)

    def base(groups: pl.Expr, count: int) -> pl.Expr:
        parts = [groups.struct[i] for i in range(count)]
        return pl.concat_str(
            [parts[0], pl.lit("-"), _padded(parts[1]), pl.lit("-"), _padded(parts[2]), pl.lit("T"),
             _padded(parts[3]), pl.lit(":"), _padded(parts[4]), pl.lit(":"), _padded(parts[5])]
        )  # fmt: skip

    stem = pl.coalesce(base(spelled, 6), base(compact, 6))
    valid = stem.str.strptime(pl.Datetime, "%Y-%m-%dT%H:%M:%S", strict=False).is_not_null()
    fraction = pl.concat_str([pl.lit("."), spelled.struct[6].str.pad_end(6, "0")]).fill_null("")
    zone = spelled.struct[7]
    zone = (
        pl.when(zone == "Z")
        .then(pl.lit("+00:00"))
        .when(zone.str.len_chars() == 5)
        .then(pl.concat_str([zone.str.slice(0, 3), pl.lit(":"), zone.str.slice(3, 2)]))
        .otherwise(zone)
        .fill_null("")
    )
    return _from_text(text, pl.when(valid).then(pl.concat_str([stem, fraction, zone])))


def _to_boolean(column: pl.Expr, dtype: pl.DataType) -> Conversion:
    if dtype == pl.Boolean:
        return _never(column)
    if dtype.is_integer():
        value = pl.when(column == 1).then(pl.lit(True)).when(column == 0).then(pl.lit(False))
        return Conversion(value, column.is_not_null() & value.is_null())
    if dtype != pl.String:
        return _refuse(column, dtype)
    text = clean_text(column).str.to_lowercase()
    words = {**dict.fromkeys(TRUE_WORDS, True), **dict.fromkeys(FALSE_WORDS, False)}
    return _from_text(text, text.replace_strict(words, default=None, return_dtype=pl.Boolean))


def _to_binary(column: pl.Expr, dtype: pl.DataType) -> Conversion:
    if dtype == pl.Binary:
        return _never(column.bin.encode("base64"))
    return _refuse(column, dtype)


def _fast(column: pl.Expr, dtype: pl.DataType, target: DataType) -> Conversion | None:
    """A cheap conversion for the common, already-tidy case; rows it cannot do go the full way."""
    if dtype != pl.String:
        return None
    if target is DataType.DATE:
        parsed = column.str.strptime(pl.Date, "%Y-%m-%d", strict=False)
        return Conversion(parsed.dt.strftime("%Y-%m-%d"), column.is_not_null() & parsed.is_null())
    if target is DataType.DATETIME:
        parsed = column.str.strptime(pl.Datetime, "%Y-%m-%d %H:%M:%S", strict=False)
        return Conversion(parsed.dt.strftime("%Y-%m-%dT%H:%M:%S"), column.is_not_null() & parsed.is_null())
    if target is DataType.INTEGER:
        parsed = column.cast(pl.Int64, strict=False)
        return Conversion(parsed, column.is_not_null() & parsed.is_null())
    return None


def convert_series(series: pl.Series, target: DataType) -> tuple[pl.Series, pl.Series]:
    """(converted values, failed flags) for a whole column, trying the cheap way first.

    The full conversion (regular expressions over every spelling) runs only on the rows the cheap
    one could not handle, so tidy data costs little and messy data still converts.
    """
    frame = series.to_frame("v")
    column = pl.col("v")
    fast = _fast(column, series.dtype, target)
    full = convert(column, series.dtype, target)
    if fast is None:
        out = frame.select(full.value.alias("value"), full.failed.alias("failed"))
        return out["value"], out["failed"]
    out = frame.select(fast.value.alias("value"), fast.failed.alias("failed"))
    values, failed = out["value"], out["failed"]
    retry = failed.arg_true()
    if retry.len():
        again = frame[retry].select(full.value.alias("value"), full.failed.alias("failed"))
        values = values.scatter(retry, again["value"].cast(values.dtype))
        failed = failed.scatter(retry, again["failed"])
    return values, failed
