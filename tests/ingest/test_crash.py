"""Kill -9 the ingesting process at random points: nothing lost, nothing duplicated, nothing half-visible."""

from __future__ import annotations

import hashlib
import json
import os
import random
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import TEST_SECRET
from tests.factories import World
from tests.ingest.helpers import add_job, add_source, make_person_db, person_resource, person_row
from zhongtai.core.settings import Settings
from zhongtai.ingest.models import Job, RawRecord, Run, RunStatus

KILLS = 20
FIRST_BATCH = 4_000
BATCH_GROWTH = 2_000
UPDATES = 50
ROOT = Path(__file__).resolve().parents[2]


def source_checksum(db: Path) -> tuple[int, str]:
    """Row count and a checksum of the sorted rows as the mapping should render them."""
    with sqlite3.connect(db) as connection:
        rows = connection.execute(
            "SELECT id, name, id_number, birth, city || street, updated_at FROM persons ORDER BY id"
        ).fetchall()
    rendered = [
        json.dumps([str(i), n, idn, b, addr, u.replace(" ", "T")], ensure_ascii=False)
        for i, n, idn, b, addr, u in rows
    ]
    return len(rendered), hashlib.sha256("\n".join(sorted(rendered)).encode()).hexdigest()


def raw_checksum(factory: sessionmaker[Session], job_code: str) -> tuple[int, str]:
    with factory() as session:
        job_id = session.scalar(select(Job.id).where(Job.code == job_code))
        records = session.execute(
            select(RawRecord.source_key, RawRecord.data).where(RawRecord.job_id == job_id)
        )
        rendered = [
            json.dumps(
                [key, d["姓名"], d["公民身份号码"], d["出生日期"], d["户籍地址"], d["更新时间"]],
                ensure_ascii=False,
            )
            for key, d in records
        ]
    return len(rendered), hashlib.sha256("\n".join(sorted(rendered)).encode()).hexdigest()


def child_env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "ZHONGTAI_ENV": "test",
        "ZHONGTAI_SECRET_KEY": TEST_SECRET,
        "ZHONGTAI_DATABASE_URL": settings.resolved_database_url,
        "ZHONGTAI_DATA_DIR": str(settings.data_dir),
        "ZHONGTAI_INGEST_CHUNK_ROWS": "500",  # many chunks in one batch
        "ZHONGTAI_INGEST_PROCESS_ROWS": "1",  # SQLite platform: the reader runs in its own process too
        "ZHONGTAI_LOG_JSON": "false",
    }


def start_child(job: str, env: dict[str, str]) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.ingest.crash_worker", job],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    return child


def test_killed_runs_lose_nothing_and_duplicate_nothing(
    factory: sessionmaker[Session], settings: Settings, world: World
) -> None:
    rng = random.Random(2020)
    db = make_person_db(
        settings.resolved_sources_dir / "persons.db", [person_row(n) for n in range(1, FIRST_BATCH + 1)]
    )
    job = add_job(factory, add_source(factory, settings), person_resource(factory))
    env = child_env(settings)

    child = start_child(job, env)
    go = time.perf_counter()
    assert child.stdin is not None and child.stdout is not None
    child.stdin.write("go\n")
    child.stdin.flush()
    assert child.stdout.readline().strip() == "succeeded"
    child.wait()
    full_run = time.perf_counter() - go
    assert raw_checksum(factory, job) == source_checksum(db)  # the uninterrupted run times the kills

    # Kills land anywhere from before the first read to after the commit of each window's batch.
    window = full_run * (BATCH_GROWTH + UPDATES) / FIRST_BATCH
    next_id = FIRST_BATCH + 1
    for _ in range(KILLS):
        # The source keeps changing between attempts: new rows and updates after the watermark.
        new_rows = [person_row(n, minutes=30_000 + n) for n in range(next_id, next_id + BATCH_GROWTH)]
        stamp = person_row(next_id + BATCH_GROWTH, minutes=30_000 + next_id + BATCH_GROWTH)[6]
        updated = [
            (*person_row(n)[:1], f"更名{n}", *person_row(n)[2:6], stamp)
            for n in rng.sample(range(1, next_id), UPDATES)
        ]
        make_person_db(db, new_rows + updated)
        next_id += BATCH_GROWTH
        before = raw_checksum(factory, job)
        child = start_child(job, env)
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
        time.sleep(rng.uniform(0, window * 1.3))
        child.kill()
        child.wait()
        after = raw_checksum(factory, job)
        # All or nothing: the raw zone shows either the last committed state or the whole new batch.
        assert after in (before, source_checksum(db))

    child = start_child(job, env)
    assert child.stdin is not None and child.stdout is not None
    child.stdin.write("go\n")
    child.stdin.flush()
    assert child.stdout.readline().strip() == "succeeded"
    child.wait()
    assert raw_checksum(factory, job) == source_checksum(db)
    with factory() as session:
        statuses = [run.status for run in session.scalars(select(Run).order_by(Run.id))]
    assert statuses[-1] is RunStatus.SUCCEEDED
    assert RunStatus.RUNNING not in statuses  # killed runs were found and marked interrupted
    assert statuses.count(RunStatus.INTERRUPTED) >= 1
    assert no_orphaned_readers(), "a reader process outlived the killed ingesting process"


def no_orphaned_readers(wait: float = 10.0) -> bool:
    """Reader processes of killed batches notice their parent is gone and exit."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        orphans = []
        for status in Path("/proc").glob("[0-9]*/status"):
            try:
                parent = next(line for line in status.read_text().splitlines() if line.startswith("PPid:"))
                command = (status.parent / "cmdline").read_bytes()
            except (OSError, StopIteration):
                continue
            if parent.split()[1] == "1" and b"spawn_main" in command:
                orphans.append(status.parent.name)
        if not orphans:
            return True
        time.sleep(0.5)
    return False
