"""Type conversion from whatever a department system hands over to a catalog item's data type.

Values come out JSON-ready: ``str``, ``int``, ``bool``, ``None``; decimals as their exact string;
dates as ``YYYY-MM-DD``; datetimes as ISO 8601. Full-width digits and the date spellings departments
really use (2020年3月5日, 2020/3/5, 20200305, 2020.3.5) are understood. Text is kept as given: cleaning
it is governance's job, and the raw zone must show what the department sent.
"""

from __future__ import annotations

import base64
import re
import unicodedata
from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from zhongtai.catalog.models import DataType

Converter = Callable[[Any], Any]

_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")
_COMPACT_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")
_TIME = re.compile(r"(\d{1,2})\s*[:时]\s*(\d{1,2})(?:\s*[:分]\s*(\d{1,2})(?:\.(\d{1,6}))?\s*秒?)?")
_ZONE = re.compile(r"(Z|[+-]\d{2}:?\d{2})$")
_INTEGER = re.compile(r"[+-]?\d+")
_TRUE = frozenset({"1", "true", "t", "yes", "y", "是", "真", "有"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "否", "假", "无"})
MAX_DIGITS = 40


class ConversionError(ValueError):
    """A value that cannot become the item's type; the message says what was wrong."""


def _text(value: Any) -> str | None:
    """NFKC-normalised, stripped text, or None when there is nothing there (full-width digits -> ASCII)."""
    text = unicodedata.normalize("NFKC", str(value)).strip()
    return text or None


def to_string(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def to_integer(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, int):  # bool included: True -> 1
        return value
    if isinstance(value, float | Decimal):
        if value != value or value in (float("inf"), float("-inf")) or value != int(value):
            raise ConversionError(f"{value!r} is not a whole number")
        return int(value)
    text = _text(value)
    if text is None:
        return None
    text = text.replace(",", "")
    if text.endswith(".0"):
        text = text[:-2]
    if not _INTEGER.fullmatch(text) or len(text) > MAX_DIGITS:
        raise ConversionError(f"{_show(value)} is not a whole number")
    return int(text)


def to_decimal(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise ConversionError(f"{value!r} is not a number")
    text = _text(value)
    if text is None:
        return None
    try:
        number = Decimal(text.replace(",", ""))
    except InvalidOperation:
        raise ConversionError(f"{_show(value)} is not a number") from None
    if not number.is_finite() or len(number.as_tuple().digits) > MAX_DIGITS:
        raise ConversionError(f"{_show(value)} is not a finite number of at most {MAX_DIGITS} digits")
    return str(number)


def _parse_date(text: str) -> tuple[date, str]:
    """The date at the start of ``text`` and what follows it."""
    match = _DATE.match(text) or _COMPACT_DATE.match(text)
    if match is None:
        raise ConversionError(f"{_show(text)} is not a date")
    year, month, day = (int(part) for part in match.groups())
    try:
        return date(year, month, day), text[match.end() :].strip()
    except ValueError:
        raise ConversionError(f"{_show(text)} is not a real calendar date") from None


def to_date(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = _text(value)
    if text is None:
        return None
    day, rest = _parse_date(text)
    if rest and not _TIME.fullmatch(rest.lstrip("T").strip()):
        raise ConversionError(f"{_show(value)} is not a date")
    return day.isoformat()


def to_datetime(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return datetime.combine(value, time()).isoformat()
    text = _text(value)
    if text is None:
        return None
    day, rest = _parse_date(text)
    zone = _ZONE.search(rest)
    clock = rest[: zone.start()] if zone else rest
    clock = clock.lstrip("T").strip()
    moment = datetime.combine(day, _parse_time(clock, value))
    suffix = ""
    if zone:
        suffix = "+00:00" if zone.group(1) == "Z" else _colon_zone(zone.group(1))
    return moment.isoformat() + suffix


def _parse_time(clock: str, original: Any) -> time:
    if not clock:
        return time()
    match = _TIME.fullmatch(clock)
    if match is None:
        raise ConversionError(f"{_show(original)} is not a date and time")
    hour, minute, second, fraction = match.groups()
    try:
        return time(int(hour), int(minute), int(second or 0), int((fraction or "0").ljust(6, "0")))
    except ValueError:
        raise ConversionError(f"{_show(original)} has an impossible time of day") from None


def _colon_zone(zone: str) -> str:
    return zone if ":" in zone else f"{zone[:3]}:{zone[3:]}"


def to_boolean(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    text = _text(value)
    if text is None:
        return None
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConversionError(f"{_show(value)} is not yes/no (accepted: 是/否, true/false, 1/0, y/n)")


def to_binary(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    raise ConversionError("binary items take binary source columns only")


CONVERTERS: dict[DataType, Converter] = {
    DataType.STRING: to_string,
    DataType.INTEGER: to_integer,
    DataType.DECIMAL: to_decimal,
    DataType.DATE: to_date,
    DataType.DATETIME: to_datetime,
    DataType.BOOLEAN: to_boolean,
    DataType.BINARY: to_binary,
}


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
