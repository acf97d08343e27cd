"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import enum
import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime, Dialect, Enum, Text
from sqlalchemy.types import TypeDecorator

# The city's own time: schedules are read in it, and a time given without a zone means it.
CITY_ZONE = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(moment: datetime) -> datetime:
    """A moment with its zone: one given without a zone (e.g. ``?as_of=2024-01-01T00:00``) is city time."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=CITY_ZONE)


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


# One encoder for every value: json.dumps with options builds a new encoder on each call.
_compact_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class JSONText(TypeDecorator[Any]):
    """JSON kept as UTF-8 text on every backend.

    For bulk tables the platform writes itself (the raw zone): the JSON is produced valid by the
    platform, so PostgreSQL's ``json`` input check on every inserted row (about 14% of a bulk load) buys
    nothing. Query it as JSON with ``data::jsonb`` on PostgreSQL or ``json_extract`` on SQLite.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else _compact_json(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else json.loads(value)
