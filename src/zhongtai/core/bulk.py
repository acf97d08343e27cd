"""Bulk inserts and upserts for tables the platform fills fast (clean zone, claims, base records, the
gateway's access trail).

Rows go straight to the driver, not through per-row ORM or SQLAlchemy parameter processing: SQLite gets
one ``executemany``; PostgreSQL gets ``COPY`` (for an upsert into a temporary twin of the table, then one
``INSERT … SELECT … ON CONFLICT``). Callers give each key at most once per call.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection

from zhongtai.core.types import as_json, from_json

__all__ = [
    "as_json",
    "bulk_insert",
    "bulk_upsert",
    "driver_sql",
    "from_json",
    "key_list",
    "moment_param",
    "select_rows",
    "utc_moment",
]


def utc_moment(value: datetime | str) -> datetime:
    """A timestamp as the driver returns it (text on SQLite, an aware datetime on PostgreSQL), in UTC."""
    if isinstance(value, str):
        moment = datetime.fromisoformat(value)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    if value.tzinfo is UTC:  # PostgreSQL's, mostly: nothing to convert
        return value
    return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)


def select_rows(connection: Connection, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """A read straight through the driver, in the caller's transaction, for queries that return many
    rows: no result processing per value. ``sql`` uses ``?`` placeholders (``%s`` on PostgreSQL) and
    ``IN_KEYS`` for a key list given as one parameter made by ``key_list``."""
    raw = connection.connection.driver_connection
    assert raw is not None
    cursor = raw.cursor()
    try:
        cursor.execute(driver_sql(connection, sql), tuple(params))
        return list(cursor.fetchall())
    finally:
        cursor.close()


def driver_sql(connection: Connection, sql: str) -> str:
    """``sql`` written with ``?`` placeholders (and ``IN_KEYS``) as this connection's driver takes it:
    ``%s`` for psycopg, ``?`` for sqlite3."""
    postgres = connection.dialect.name == "postgresql"
    sql = sql.replace("IN_KEYS", "= ANY(?)" if postgres else "IN (SELECT value FROM json_each(?))")
    return sql.replace("?", "%s") if postgres else sql


def key_list(connection: Connection, keys: Sequence[str] | Sequence[int]) -> Any:
    """A list of keys as one parameter: an array on PostgreSQL, a JSON array for SQLite's json_each."""
    return list(keys) if connection.dialect.name == "postgresql" else as_json(list(keys))


def moment_param(connection: Connection, value: datetime) -> Any:
    """A moment as a parameter of :func:`select_rows`: as stored on SQLite (UTC text, so comparisons hold)."""
    return value if connection.dialect.name == "postgresql" else _sqlite_text(value)


def _sqlite_text(value: datetime) -> str:
    """``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC (isoformat: a quarter of strftime's time)."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def sqlite_rows(rows: Sequence[Sequence[Any]]) -> list[Sequence[Any]]:
    """Datetimes as the text SQLAlchemy's DateTime keeps on SQLite (UTC); only their columns are touched."""
    moments = [i for i, value in enumerate(rows[0]) if isinstance(value, datetime)]
    if not moments:
        return list(rows)
    converted: list[Sequence[Any]] = []
    # Rows written together often share a moment (now): format it once. Keyed by identity, which the rows
    # hold alive here: hashing an aware datetime asks its zone for the offset, as slow as formatting it.
    texts: dict[int, str] = {}
    for row in rows:
        values = list(row)
        for i in moments:
            value = values[i]
            if isinstance(value, datetime):
                text = texts.get(id(value))
                if text is None:
                    text = texts[id(value)] = _sqlite_text(value)
                values[i] = text
        converted.append(values)
    return converted


def bulk_upsert(
    connection: Connection,
    table: str,
    columns: Sequence[str],
    keys: Sequence[str],
    rows: Sequence[Sequence[Any]],
    only_if: str = "",
) -> None:
    """Insert ``rows`` (values in ``columns`` order, JSON already as text), replacing the other columns
    of rows whose ``keys`` exist (where the condition ``only_if`` holds: SQL comparing ``table``'s row
    with ``excluded``). Table, column names and the condition are the caller's constants, never input."""
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in keys)
    condition = f" WHERE {only_if}" if only_if else ""
    _write(
        connection,
        table,
        columns,
        rows,
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}{condition}",
        keys,
    )


def bulk_insert(
    connection: Connection, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert ``rows`` (values in ``columns`` order, JSON already as text) in the caller's transaction."""
    _write(connection, table, columns, rows, "")


def _write(
    connection: Connection,
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    conflict: str,
    keys: Sequence[str] = (),
) -> None:
    if not rows:
        return
    names = ", ".join(columns)
    raw = connection.connection.driver_connection
    assert raw is not None
    if connection.dialect.name != "postgresql":
        marks = ", ".join("?" for _ in columns)
        raw.executemany(
            f"INSERT INTO {table} ({names}) VALUES ({marks}) {conflict}",  # noqa: S608 - constants only
            sqlite_rows(rows),
        )
        return
    staging = f"bulk_{table}"
    with raw.cursor() as cursor:
        if not conflict:  # nothing to merge: straight into the table
            with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DROP"
        )
        with cursor.copy(f"COPY {staging} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        # In key order: two transactions upserting overlapping keys then lock them in the same order and
        # one waits for the other, where any other order can deadlock.
        cursor.execute(
            f"INSERT INTO {table} ({names}) SELECT {names} FROM {staging} "  # noqa: S608
            f"ORDER BY {', '.join(keys)} {conflict}"
        )
        cursor.execute(f"TRUNCATE {staging}")
