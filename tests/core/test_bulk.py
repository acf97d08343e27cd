"""Bulk writes and big reads straight through the driver, on both backends: what goes in by
``bulk_upsert`` comes back by ``select_rows`` with a key list as one parameter, and timestamps come back
as UTC whatever the driver hands over."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy.orm import Session, sessionmaker

from zhongtai.core.bulk import as_json, bulk_upsert, from_json, key_list, select_rows, utc_moment

COLUMNS = ["base", "key", "data", "provenance", "version", "valid_from"]
READ = "SELECT key, data, version, valid_from FROM base_records WHERE base = ? AND key IN_KEYS ORDER BY key"


def test_rows_written_in_bulk_are_read_back_by_a_key_list(factory: sessionmaker[Session]) -> None:
    moment = datetime(2024, 2, 29, 23, 59, 59, 123456, tzinfo=UTC)
    keys = [f"34010419900307{n:04d}" for n in range(3000)]  # thousands, as one parameter
    rows = [("person", key, as_json({"姓名": "张三", "n": n}), "{}", 1, moment) for n, key in enumerate(keys)]
    with factory() as session:
        connection = session.connection()
        bulk_upsert(connection, "base_records", COLUMNS, ["base", "key"], rows)
        wanted = [*keys[::2], "not-a-key", "'; DROP TABLE base_records; --"]
        found = select_rows(connection, READ, ["person", key_list(connection, wanted)])
        session.rollback()
    assert [key for key, *_ in found] == keys[::2]  # only the asked keys; hostile ones are just values
    _, data, version, valid_from = found[1]
    assert from_json(data) == {"姓名": "张三", "n": 2} and version == 1
    assert utc_moment(valid_from) == moment


def test_timestamps_come_back_in_utc_whatever_the_driver_gives() -> None:
    moment = datetime(2024, 1, 1, 0, 30, tzinfo=UTC)
    eight = timezone(timedelta(hours=8))
    for given in (
        "2024-01-01 00:30:00.000000",  # SQLite: text without a zone, written as UTC
        "2024-01-01T08:30:00+08:00",
        moment.astimezone(eight),  # PostgreSQL: an aware datetime in the session's zone
        moment.replace(tzinfo=None),
    ):
        converted = utc_moment(given)
        assert converted == moment and converted.utcoffset() == timedelta(0), given
