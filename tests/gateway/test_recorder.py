"""Audit groups: on SQLite committed on the loop's thread when the write lock is free, in a worker thread
when another connection holds it — never waiting on the loop, never answering before the commit; on
PostgreSQL through an asyncio connection that is replaced when the server drops it."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, make_url, select, text
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import World
from tests.gateway.helpers import answering, call
from zhongtai.core import audit_integrity
from zhongtai.core.audit import ACCESS, AuditEvent
from zhongtai.core.settings import Settings
from zhongtai.gateway.reads import HotReads
from zhongtai.gateway.recorder import (
    APPLICATION_NAME,
    CallRecord,
    LoopWriter,
    Recorder,
    ServerWriter,
    _entries,
)

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # its write lock and WAL
POSTGRES_ONLY = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # the asyncio writer


def _sqlite_file(url: str) -> Path:
    database = make_url(url).database
    assert database
    return Path(database)


def _calls(count: int) -> list[CallRecord]:
    return [
        CallRecord(
            "app-a",
            "WJW",
            "person.by-id",
            "101001-000001",
            ["姓名"],
            1,
            "test",
            None,
            "success",
            200,
            "key-a",
            f"request-{n}",
            subject=f"S{n:020d}",
        )
        for n in range(count)
    ]


def _access_count(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return len(session.scalars(select(AuditEvent.id).where(AuditEvent.chain == ACCESS)).all())


def _answered_and_recorded(
    answer: Any, factory: sessionmaker[Session], settings: Settings, entries_before: int
) -> None:
    """The call answered 200 with exactly one new access entry, and the chain still verifies."""
    assert answer.status_code == 200, answer.text
    assert _access_count(factory) == entries_before + 1
    with factory() as session:
        assert audit_integrity.verify(session, settings).first_bad is None


@SQLITE_ONLY
def test_loop_writer_gives_way_at_once_to_a_held_write_lock(
    engine: Engine, factory: sessionmaker[Session], db_url: str
) -> None:
    """A lock held elsewhere: the loop's writer reports it and writes nothing, without waiting for the
    lock (the holder lets go only after the writer has answered, or after five seconds)."""
    holder = sqlite3.connect(_sqlite_file(db_url), isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    answered = threading.Event()
    releaser = threading.Thread(target=lambda: (answered.wait(5), holder.execute("COMMIT")))
    releaser.start()
    reads = HotReads(engine)
    writer = LoopWriter(reads)
    try:
        written = writer.write(_entries(_calls(3)))
        answered.set()
    finally:
        releaser.join()
    assert written is False
    assert _access_count(factory) == 0
    assert writer.write(_entries(_calls(3))) is True  # the lock is free again
    assert _access_count(factory) == 3
    reads.close()
    holder.close()


@SQLITE_ONLY
def test_a_call_waits_for_a_held_lock_off_the_loop_and_answers_once_recorded(
    client: TestClient, factory: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """While a CLI job holds SQLite's write lock, a gateway call's entry waits in a worker thread: the
    loop serves other requests meanwhile, and the call answers only after its entry is committed."""
    path_to_file = _sqlite_file(settings.database_url)
    setup, path = answering(client, factory, settings, world)
    recorder: Recorder = client.app.state.gateway.recorder  # type: ignore[attr-defined]
    in_thread = threading.Event()
    write_in_thread = recorder._write

    def spied(calls: list[CallRecord]) -> None:
        in_thread.set()
        write_in_thread(calls)

    recorder._write = spied  # type: ignore[method-assign]
    before = _access_count(factory)
    holder = sqlite3.connect(path_to_file, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    answers: list[Any] = []
    caller = threading.Thread(target=lambda: answers.append(call(client, setup.credentials, "GET", path)))
    caller.start()
    try:
        assert in_thread.wait(30), "the group never reached the worker thread"
        assert client.get("/healthz").status_code == 200  # the loop is not waiting for the lock
        assert answers == []  # no answer before the entry is committed
    finally:
        holder.execute("COMMIT")
        caller.join(30)
    holder.close()
    assert answers, "the call never answered"
    _answered_and_recorded(answers[0], factory, settings, before)


@SQLITE_ONLY
def test_checkpoints_are_the_recorders_not_the_loop_writers(
    engine: Engine, factory: sessionmaker[Session], db_url: str
) -> None:
    """The loop's writer never copies the WAL into the database file (that syncs files, on the loop);
    the recorder's checkpoint, in a worker thread, does."""
    database = _sqlite_file(db_url)
    reads = HotReads(engine)
    recorder = Recorder(factory, reads)
    assert recorder.on_loop is not None
    asyncio.run(recorder.checkpoint())
    size = database.stat().st_size
    for _ in range(20):
        assert recorder.on_loop.write(_entries(_calls(200)))
    assert database.stat().st_size == size  # 4,000 entries, all still in the WAL
    asyncio.run(recorder.checkpoint())
    assert database.stat().st_size > size
    assert _access_count(factory) == 4_000
    reads.close()


@POSTGRES_ONLY
def test_server_writer_replaces_a_connection_the_server_dropped(
    client: TestClient, factory: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """The audit connection killed between calls (a restarted server, an administrator): the next call
    is recorded on a fresh connection and answered, and the chain still verifies."""
    setup, path = answering(client, factory, settings, world)
    before = _access_count(factory)
    with factory() as session:
        killed = session.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :name"),
            {"name": APPLICATION_NAME},
        ).all()
    assert killed == [(True,)]
    _answered_and_recorded(call(client, setup.credentials, "GET", path), factory, settings, before)


@POSTGRES_ONLY
def test_server_writer_fails_a_group_closed_and_leaves_nothing_half_written(
    engine: Engine, factory: sessionmaker[Session], db_url: str
) -> None:
    """A group whose rows the database refuses: the writer raises, no entry and no moved head remain,
    and the next group is written on a fresh connection."""
    writer = ServerWriter(engine)
    broken = _entries(_calls(3))
    broken[1]["event_type"] = None  # NOT NULL: the insert fails after BEGIN and the head's lock

    async def attempt() -> None:
        with pytest.raises(psycopg.Error):
            await writer.write(broken)
        await writer.write(_entries(_calls(2)))
        await writer.close()

    head = _head(factory)
    asyncio.run(attempt())
    assert _access_count(factory) == 2 and _head(factory) == head + 2


@SQLITE_ONLY
def test_loop_writer_fails_a_group_closed_and_leaves_nothing_half_written(
    engine: Engine, factory: sessionmaker[Session], db_url: str
) -> None:
    """SQLite's writer, the same way: a refused row rolls the whole group back, the head stays, and the
    next group is written on the same connection."""
    reads = HotReads(engine)
    writer = LoopWriter(reads)
    broken = _entries(_calls(3))
    broken[1]["event_type"] = None
    head = _head(factory)
    with pytest.raises(sqlite3.IntegrityError):
        writer.write(broken)
    assert _access_count(factory) == 0 and _head(factory) == head
    assert writer.write(_entries(_calls(2))) is True
    assert _access_count(factory) == 2 and _head(factory) == head + 2
    reads.close()


def _head(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        seq = session.execute(text("SELECT seq FROM audit_chain_heads WHERE chain = 'access'")).scalar()
    assert isinstance(seq, int)
    return seq
