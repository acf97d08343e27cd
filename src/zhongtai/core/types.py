"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import enum
import json
import re
from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import orjson
from pydantic import BeforeValidator
from sqlalchemy import DateTime, Dialect, Enum, Text
from sqlalchemy.types import TypeDecorator

# The city's own time: schedules are read in it, and a time given without a zone means it.
CITY_ZONE = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(moment: datetime) -> datetime:
    """A moment with its zone: one given without a zone (e.g. ``?as_of=2024-01-01T00:00``) is city time."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=CITY_ZONE)


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_text_only(value: object) -> object:
    """A time given as a query value must be ISO 8601 text: pydantic would also take ``0.5`` or
    ``1700000000`` as seconds since 1970, which the API does not promise."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise ValueError("expected an ISO 8601 date-time, e.g. 2026-12-08T09:30:00+08:00")
    return value


# A date-time parameter: ISO 8601 text only, without a zone meaning city time (see ``aware``).
IsoDateTime = Annotated[datetime, BeforeValidator(_iso_text_only)]


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC; always hands back timezone-aware UTC datetimes (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use zhongtai.core.types.utcnow()")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = value
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)


def str_enum(enum_class: type[enum.StrEnum], name: str | None = None) -> Enum:
    """A portable enum column stored as its string value (a VARCHAR with a CHECK on both backends).

    ``name`` names the CHECK constraint; give one when a table has two columns of the same enum.
    """
    return Enum(
        enum_class,
        name=name or enum_class.__name__.lower(),
        native_enum=False,
        length=24,
        create_constraint=True,
        validate_strings=True,
        values_callable=lambda members: [m.value for m in members],
    )


# The stdlib's compact JSON is the reference; orjson writes and reads it several times faster (governance
# reads and writes millions of JSON values a pass), so it does the work wherever it gives the same values
# and hands over where it would not. Its text is the stdlib's but for how some floats are spelled
# (``1e-7`` for ``1e-07``), which reads back to the same number.
_compact_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_stdlib_decode = json.JSONDecoder().decode
# orjson reads integers beyond 64 bits as floats: a text read back with a float in it is checked for such
# digits (floats are rare in what the platform keeps; the check costs twice the decoding). JSON numbers are
# ASCII digits (``\d`` would also scan for every script's digits).
_LONG_DIGITS = re.compile(r"[0-9]{19}")
_PLAIN = frozenset({str, int, bool, type(None)})


def as_json(value: Any) -> str | None:
    """Compact UTF-8 JSON text, as ``JSONText`` columns hold it: the stdlib's text, floats perhaps
    spelled differently, and always the same values when read back."""
    if value is None:
        return None
    try:
        text = orjson.dumps(value)
    except TypeError:  # keys that are not text, integers beyond 64 bits, very deep nesting
        return _compact_json(value)
    if b"null" in text:  # orjson writes NaN and infinities as null; the stdlib spells them out
        return _compact_json(value)
    return text.decode()


def from_json(text: str | None) -> Any:
    """The value ``as_json`` (or any JSON writer) wrote, exactly as ``json.loads`` reads it."""
    if text is None:
        return None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:  # NaN, lone surrogates, numbers beyond a float: the stdlib's way
        return _stdlib_decode(text)
    if not plain_json(value) and _LONG_DIGITS.search(text) is not None:
        return _stdlib_decode(text)  # perhaps an integer orjson made a float of
    return value


def plain_json(value: Any) -> bool:
    """Whether ``value`` is made of text, integers, flags, nulls, lists and dicts only — no float, no
    other object (what orjson reads is always made of these and floats)."""
    if type(value) is not list and type(value) is not dict:
        return type(value) in _PLAIN
    pending = [value]
    while pending:  # not recursive: orjson reads deeper nesting than Python's recursion limit
        item = pending.pop()
        members = item.values() if type(item) is dict else item
        if _PLAIN.issuperset(map(type, members)):
            continue  # the common shape: one object of text, numbers and flags
        for member in members:
            kind = type(member)
            if kind is list or kind is dict:
                pending.append(member)
            elif kind not in _PLAIN:
                return False
    return True


class JSONText(TypeDecorator[Any]):
    """JSON kept as UTF-8 text on every backend.

    For bulk tables the platform writes itself (the raw zone): the JSON is produced valid by the
    platform, so PostgreSQL's ``json`` input check on every inserted row (about 14% of a bulk load) buys
    nothing. Query it as JSON with ``data::jsonb`` on PostgreSQL or ``json_extract`` on SQLite.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return as_json(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return from_json(value)
