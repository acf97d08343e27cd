"""The job queue and the scheduler: due slots in the city's time, one run per slot however many workers tick,
and the production backend (Redis) carrying runs between processes."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import World
from tests.ingest.helpers import add_job, add_source, make_person_db, person_resource, person_row
from zhongtai.core.jobs import build_queue
from zhongtai.core.settings import Settings
from zhongtai.ingest.models import Run, RunStatus
from zhongtai.ingest.schedule import is_due, next_due
from zhongtai.ingest.tasks import enqueue_due
from zhongtai.tasks import register_all

REDIS_URL = os.environ.get("ZHONGTAI_TEST_REDIS_URL")


def test_schedules_are_read_in_the_city_time_zone() -> None:
    eight_in_hefei = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
    assert is_due("0 8 * * *", eight_in_hefei)
    assert not is_due("0 8 * * *", datetime(2026, 11, 25, 8, 0, tzinfo=UTC))
    assert is_due("*/15 * * * *", datetime(2026, 11, 25, 3, 45, tzinfo=UTC))
    assert next_due("0 8 * * 1", datetime(2026, 11, 25, 1, 0, tzinfo=UTC)) == datetime(
        2026, 11, 30, 0, 0, tzinfo=UTC
    )


@pytest.fixture
def scheduled_job(factory: sessionmaker[Session], settings: Settings, world: World) -> str:
    make_person_db(settings.resolved_sources_dir / "persons.db", [person_row(n) for n in range(1, 51)])
    return add_job(factory, add_source(factory, settings), person_resource(factory), schedule="*/15 * * * *")


def runs(factory: sessionmaker[Session]) -> list[Run]:
    with factory() as session:
        return list(session.scalars(select(Run).order_by(Run.id)))


def test_two_workers_ticking_the_same_minute_run_a_job_once(
    factory: sessionmaker[Session], settings: Settings, scheduled_job: str
) -> None:
    context = build_queue(settings, factory, register_all)  # memory:// runs each queued task at once
    slot = datetime(2026, 11, 25, 3, 45, 20, tzinfo=UTC)
    assert enqueue_due(context, slot) == [scheduled_job]
    assert enqueue_due(context, slot) == [scheduled_job]  # the second worker's tick
    assert enqueue_due(context, datetime(2026, 11, 25, 3, 46, tzinfo=UTC)) == []
    done = runs(factory)
    assert len(done) == 1 and done[0].status is RunStatus.SUCCEEDED and done[0].trigger == "schedule"


@pytest.mark.skipif(
    REDIS_URL is None, reason="Redis queue tests need ZHONGTAI_TEST_REDIS_URL (set by .ci/run)"
)
def test_runs_travel_through_redis_between_processes(
    factory: sessionmaker[Session], settings: Settings, scheduled_job: str
) -> None:
    shared = settings.model_copy(update={"queue_url": REDIS_URL})
    name = f"zhongtai-test-{uuid.uuid4().hex[:8]}"
    web = build_queue(shared, factory, register_all, name)  # the process that enqueues
    worker = build_queue(shared, factory, register_all, name)  # another process, executing
    try:
        slot = datetime(2026, 11, 25, 3, 45, tzinfo=UTC)
        enqueue_due(web, slot)
        enqueue_due(web, slot)  # a second worker's tick: queued twice, run once
        assert len(runs(factory)) == 0 and worker.queue.pending_count() == 2
        while (task := worker.queue.dequeue()) is not None:
            worker.queue.execute(task)
        done = runs(factory)
        assert [run.status for run in done] == [RunStatus.SUCCEEDED]
        assert done[0].rows_written == 50
    finally:
        web.queue.flush()
