"""Running jobs: what lands in the raw zone, what is rejected and why, watermarks, idempotency."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import World
from tests.ingest.helpers import (
    add_job,
    add_source,
    make_person_db,
    person_resource,
    person_row,
    raw_count,
)
from zhongtai.core.settings import Settings
from zhongtai.ingest.models import RawRecord, RejectedRow, Run, RunStatus
from zhongtai.ingest.runner import run_job


@pytest.fixture
def person_job(factory: sessionmaker[Session], settings: Settings, world: World) -> str:
    make_person_db(settings.resolved_sources_dir / "persons.db", [person_row(n) for n in range(1, 201)])
    return add_job(factory, add_source(factory, settings), person_resource(factory))


def test_a_run_gathers_every_row_with_mapping_and_conversion(
    factory: sessionmaker[Session], settings: Settings, person_job: str
) -> None:
    outcome = run_job(factory, settings, person_job)
    assert outcome is not None and outcome.status is RunStatus.SUCCEEDED, outcome
    assert (outcome.rows_read, outcome.rows_written, outcome.rows_rejected) == (200, 200, 0)
    with factory() as session:
        record = session.scalars(select(RawRecord).where(RawRecord.source_key == "7")).one()
    assert record.batch_id == outcome.run_id
    assert record.data == {
        "姓名": "居民7",
        "公民身份号码": person_row(7)[2],
        "出生日期": "1990-08-08",
        "户籍地址": "合肥市蜀山区7号",
        "更新时间": "2026-01-01T08:07:00",
    }


def test_rerunning_and_overlapping_windows_never_duplicate(
    factory: sessionmaker[Session], settings: Settings, person_job: str
) -> None:
    first = run_job(factory, settings, person_job)
    assert first is not None and first.watermark_after == "str:2026-01-01 11:20:00"
    # 10 rows change, 5 new ones arrive, at and after the watermark (the window overlaps the last one).
    db = settings.resolved_sources_dir / "persons.db"
    changed = [
        (*person_row(n)[:1], f"改名{n}", *person_row(n)[2:6], "2026-01-01 11:20:00") for n in range(1, 11)
    ]
    make_person_db(db, changed + [person_row(n) for n in range(201, 206)])
    second = run_job(factory, settings, person_job)
    assert second is not None and second.status is RunStatus.SUCCEEDED
    assert second.rows_read == 16  # the 15 rows above plus row 200, which sits on the old watermark
    assert raw_count(factory, person_job) == 205
    with factory() as session:
        renamed = session.scalars(select(RawRecord).where(RawRecord.source_key == "3")).one()
    assert renamed.data["姓名"] == "改名3" and renamed.batch_id == second.run_id
    third = run_job(factory, settings, person_job)
    assert third is not None and raw_count(factory, person_job) == 205


def test_bad_rows_are_rejected_with_their_reason_and_counted(
    factory: sessionmaker[Session], settings: Settings, person_job: str
) -> None:
    db = settings.resolved_sources_dir / "persons.db"
    with sqlite3.connect(db) as connection:
        connection.execute(
            "INSERT INTO persons VALUES (901, '', '340101', '1990-02-30', 'a', 'b', '2026-01-01')"
        )
        connection.execute(
            "INSERT INTO persons VALUES (902, '李四', '3401', '1990年2月3日', '', NULL, '2026/1/1 9:00')"
        )
        connection.execute("INSERT INTO persons VALUES (903, '王五', '3401', '二〇二〇', NULL, NULL, 'y')")
    outcome = run_job(factory, settings, person_job)
    assert outcome is not None
    assert outcome.rows_read == outcome.rows_written + outcome.rows_rejected == 203
    with factory() as session:
        rejects = {r.source_key: r for r in session.scalars(select(RejectedRow))}
    assert set(rejects) == {"901", "903"}
    assert rejects["901"].reason == "姓名: required value is missing"
    assert "is not a date" in rejects["903"].reason and rejects["903"].field == "出生日期"
    assert "王五" in rejects["903"].raw
    with factory() as session:
        kept = session.scalars(select(RawRecord).where(RawRecord.source_key == "902")).one()
    assert kept.data["出生日期"] == "1990-02-03" and kept.data["户籍地址"] is None


def test_schema_drift_fails_the_run_naming_the_column_and_keeps_the_watermark(
    factory: sessionmaker[Session], settings: Settings, person_job: str
) -> None:
    first = run_job(factory, settings, person_job)
    assert first is not None
    db = settings.resolved_sources_dir / "persons.db"
    with sqlite3.connect(db) as connection:
        connection.execute("ALTER TABLE persons RENAME COLUMN birth TO birthday")
        connection.execute("INSERT INTO persons VALUES (999, 'n', 'i', '1990-01-01', 'a', 'b', '2027-01-01')")
    failed = run_job(factory, settings, person_job)
    assert failed is not None and failed.status is RunStatus.FAILED
    assert failed.error is not None and "birth" in failed.error and "birthday" in failed.error
    assert failed.watermark_after == first.watermark_after
    assert (failed.rows_read, failed.rows_written, failed.rows_rejected) == (0, 0, 0)
    assert raw_count(factory, person_job) == 200


def test_full_mode_removes_rows_gone_from_the_source(
    factory: sessionmaker[Session], settings: Settings, world: World
) -> None:
    db = make_person_db(settings.resolved_sources_dir / "persons.db", [person_row(n) for n in range(1, 51)])
    job = add_job(
        factory, add_source(factory, settings), person_resource(factory), mode="full", watermark_column=None
    )
    run_job(factory, settings, job)
    with sqlite3.connect(db) as connection:
        connection.execute("DELETE FROM persons WHERE id > 40")
    outcome = run_job(factory, settings, job)
    assert outcome is not None and outcome.rows_removed == 10
    assert raw_count(factory, job) == 40


def test_an_unreachable_database_fails_the_run_with_the_cause(
    factory: sessionmaker[Session], settings: Settings, world: World
) -> None:
    source = add_source(
        factory, settings, options={"url": "postgresql://reader@127.0.0.1:1/nowhere"}, secret="s3cret-pw"
    )
    job = add_job(factory, source, person_resource(factory))
    outcome = run_job(factory, settings, job)
    assert outcome is not None and outcome.status is RunStatus.FAILED
    assert outcome.error is not None and "cannot connect" in outcome.error
    assert "s3cret-pw" not in outcome.error


def test_a_scheduled_slot_runs_once_whatever_the_number_of_workers(
    factory: sessionmaker[Session], settings: Settings, person_job: str
) -> None:
    from datetime import UTC, datetime

    slot = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    first = run_job(factory, settings, person_job, trigger="schedule", scheduled_for=slot)
    second = run_job(factory, settings, person_job, trigger="schedule", scheduled_for=slot)
    assert first is not None and second is None
    with factory() as session:
        assert len(list(session.scalars(select(Run)))) == 1


def test_a_key_repeated_across_chunks_keeps_its_last_row(
    factory: sessionmaker[Session], settings: Settings, world: World
) -> None:
    make_person_db(settings.resolved_sources_dir / "persons.db", [person_row(n) for n in range(1, 21)])
    query = (
        "SELECT * FROM persons UNION ALL "
        "SELECT id, '重复' || name, id_number, birth, city, street, updated_at FROM persons"
    )
    job = add_job(
        factory,
        add_source(factory, settings),
        person_resource(factory),
        object_kind="query",
        source_object=query,
    )
    small = settings.model_copy(update={"ingest_chunk_rows": 7})  # the repeats land in later chunks
    outcome = run_job(factory, small, job)
    assert outcome is not None and outcome.status is RunStatus.SUCCEEDED, outcome
    assert (outcome.rows_read, outcome.rows_written) == (40, 40)
    assert raw_count(factory, job) == 20
    with factory() as session:
        names = {r.data["姓名"] for r in session.scalars(select(RawRecord))}
    assert names == {f"重复居民{n}" for n in range(1, 21)}


def test_big_batches_read_in_a_second_process_give_the_same_result(
    factory: sessionmaker[Session], settings: Settings, person_job: str, db_url: str
) -> None:
    forked = settings.model_copy(update={"ingest_process_rows": 1, "ingest_chunk_rows": 30})
    outcome = run_job(factory, forked, person_job)
    assert outcome is not None and outcome.status is RunStatus.SUCCEEDED, outcome
    assert (outcome.rows_read, outcome.rows_written) == (200, 200)
    assert outcome.watermark_after == "str:2026-01-01 11:20:00"
    assert raw_count(factory, person_job) == 200
    db = settings.resolved_sources_dir / "persons.db"
    with sqlite3.connect(db) as connection:  # SQLite lets a department put bytes among the timestamps
        connection.execute("INSERT INTO persons VALUES (900, 'n', 'i', '1990-01-01', 'a', 'b', X'00ff')")
    failed = run_job(factory, forked, person_job)
    assert failed is not None and failed.status is RunStatus.FAILED
    assert failed.error is not None and "mixes types" in failed.error  # raised mid-read, named in the parent
    assert raw_count(factory, person_job) == 200
