"""A partitioned governance pass: worker processes write pages of a pass, each page a transaction.

It must leave what a one-process pass leaves (the same clean zone, rejects, claims, base records and
conflicts, with unique rules and two pages speaking for one key), a worker killed mid-pass must leave
no page half-written, and the pass run again must end in the same state."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text, update
from sqlalchemy.orm import Session, sessionmaker
from stdnum.cn import ric

from tests.conftest import PostgresTemplate
from tests.factories import build_world
from tests.governance.helpers import PERSON_RULES, person_source, raw_batch
from tests.processes import alive
from zhongtai.catalog.models import Resource
from zhongtai.core.database import build_engine, build_sessionmaker, transaction
from zhongtai.core.settings import Settings
from zhongtai.governance import partitions, pipeline
from zhongtai.governance.liveness import INTERRUPTED, reap_interrupted
from zhongtai.governance.models import CleanRecord, GovernanceReject, PassStatus, RuleSet
from zhongtai.governance.partitions import Workers
from zhongtai.governance.pipeline import PassOutcome, run_pass

PAGE = 50  # small pages: a few thousand rows make dozens of them
NAMES = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "赵敏", "黄强", "周杰", "吴婷"]
KILLS = 10
ROWS = (1500, 900)
RECORDS = "SELECT base, key, data, version FROM base_records ORDER BY 1, 2"
CONFLICTS = (
    "SELECT base, key, attribute, open FROM gov_conflicts ORDER BY 1, 2, 3"  # the two departments' rows
)


def _number(n: int) -> str:
    stem = f"340104{1950 + n % 50}{1 + n % 12:02d}{1 + n % 28:02d}{n % 1000:03d}"
    return stem + ric.calc_check_digit(stem + "0")


def _rows(seed: int, count: int, persons: int, prefix: str) -> dict[str, dict[str, Any]]:
    """Rows of ``persons`` people, many of them twice (unique refusals, one key in two pages), some with a
    mistyped number or a wrong date, names and phones that differ between departments (conflicts)."""
    rng = random.Random(seed)
    rows: dict[str, dict[str, Any]] = {}
    for n in range(count):
        who = rng.randrange(persons)
        number = _number(who)
        if rng.random() < 0.03:
            number = number[:9] + str((int(number[9]) + 1) % 10) + number[10:]
        row = {
            "姓名": NAMES[(who + (rng.random() < 0.1)) % len(NAMES)],
            "公民身份号码": number.lower() if rng.random() < 0.2 else number,
            "性别": rng.choice(["男", "女", "1", "2", "不详"]),
            "出生日期": f"{1950 + who % 50}年{1 + who % 12}月{1 + who % 28}日",
            "联系电话": f"139{rng.randrange(10**8):08d}" if rng.random() < 0.5 else "",
        }
        rows[f"{prefix}{n:05d}"] = row
    return rows


def _city(factory: sessionmaker[Session], settings: Settings) -> list[str]:
    """Two departments' person resources with a batch each; returns the resource codes."""
    build_world(factory)
    police, police_job = person_source(factory, settings, "GAJ", "GAJ-RK", priority=1)
    civil, civil_job = person_source(factory, settings, "MZJ", "MZJ-HY", priority=2)
    with transaction(factory) as session:  # civil affairs has no unique rule: one person, several rows
        rules = [rule for rule in PERSON_RULES if rule["kind"] != "unique"]
        session.execute(
            update(RuleSet).where(RuleSet.resource_id == _resource_id(session, civil)), {"rules": rules}
        )
    raw_batch(factory, police_job, _rows(1, ROWS[0], 900, "p"))
    raw_batch(factory, civil_job, _rows(2, ROWS[1], 900, "m"))
    return [police, civil]


def _resource_id(session: Session, code: str) -> int:
    found = session.scalar(select(Resource.id).where(Resource.code == code))
    assert found is not None
    return found


def _state(factory: sessionmaker[Session], history: bool = True) -> list[list[Any]]:
    """What a pass leaves, without pass ids and moments (which differ between any two passes); without
    ``history``, neither the records' versions, the conflicts closed since nor the links of broken keys,
    which depend on the passes that ran before (a killed pass may leave half its claims for another
    resource's pass to fuse)."""
    queries = [
        "SELECT j.code, c.source_key, c.data, c.changes FROM clean_records c "
        "JOIN ingest_jobs j ON j.id = c.job_id ORDER BY 1, 2",
        "SELECT j.code, r.source_key, r.rule_id, r.reason, r.value FROM gov_rejects r "
        "JOIN ingest_jobs j ON j.id = r.job_id "
        "WHERE r.pass_id IN (SELECT max(id) FROM gov_passes GROUP BY resource_id) ORDER BY 1, 2",
        "SELECT c.base, c.key, j.code, c.source_key, c.data FROM base_claims c "
        "JOIN ingest_jobs j ON j.id = c.job_id ORDER BY 1, 2, 3",
        RECORDS if history else RECORDS.replace(", version", ""),
        CONFLICTS if history else CONFLICTS.replace("ORDER BY", "WHERE open = TRUE ORDER BY"),
    ]
    if history:
        queries.append("SELECT l.key, l.source_key, l.written_key FROM base_links l ORDER BY 1, 2")
    with factory() as session:
        return [[tuple(row) for row in session.execute(text(query))] for query in queries]


@pytest.fixture
def twin(
    db_url: str, sqlite_template: Path, pg_template: PostgresTemplate | None, tmp_path: Path
) -> Iterator[sessionmaker[Session]]:
    """A second fresh database on the same backend, for the one-process reference."""
    name = None
    if db_url.startswith("sqlite"):
        path = tmp_path / "twin.db"
        shutil.copyfile(sqlite_template, path)
        url = f"sqlite:///{path}"
    else:
        assert pg_template is not None
        name = pg_template.fresh()
        url = pg_template.url_for(name)
    engine = build_engine(url)
    yield build_sessionmaker(engine)
    engine.dispose()
    if name is not None and pg_template is not None:
        pg_template.drop(name)


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(pipeline, "PAGE", PAGE)
    yield
    Workers.close_all()  # the workers of this test's databases


@pytest.mark.usefixtures("small_pages")
def test_a_partitioned_pass_leaves_what_a_one_process_pass_leaves(
    factory: sessionmaker[Session], twin: sessionmaker[Session], settings: Settings
) -> None:
    for governed, workers in ((twin, 1), (factory, 2)):
        for resource in _city(governed, settings):
            outcome = run_pass(governed, resource, workers=workers)
            assert outcome.status is PassStatus.SUCCEEDED, outcome.error
            assert outcome.raw_rows == outcome.clean_rows + outcome.rejected_rows
            assert len(outcome.worker_seconds) == (2 if workers == 2 else 0)
    reference = _state(twin)
    assert all(reference), "every kind of outcome is there to compare"
    assert _state(factory) == reference


@pytest.mark.usefixtures("small_pages")
def test_pages_written_in_any_order_leave_the_claims_of_the_last_row_in_key_order(
    factory: sessionmaker[Session],
    twin: sessionmaker[Session],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Pages and fusion buckets done last to first (in this process): one person's rows in several
    pages still leave the claim a one-process pass leaves."""

    def backwards(
        self: Workers, task: Callable[[int, str], tuple[Any, ...]], starts: list[str]
    ) -> Iterator[Any]:
        partitions._start(self.url, os.getpid())
        answers = {}
        for n, after in reversed(list(enumerate(starts))):
            function, *arguments = task(n, after)
            answers[after] = function(*arguments)
        for after in starts:
            yield answers[after]

    def inline(self: Workers, n: int, task: tuple[Any, ...]) -> Future[Any]:
        done: Future[Any] = Future()
        function, *arguments = task
        done.set_result(function(*arguments))
        return done

    monkeypatch.setattr(Workers, "_in_order", backwards)
    monkeypatch.setattr(Workers, "_submit", inline)
    monkeypatch.setattr(Workers, "_start", classmethod(lambda cls, count, url: None))
    for governed, workers in ((twin, 1), (factory, 2)):
        for resource in _city(governed, settings):
            assert run_pass(governed, resource, workers=workers).status is PassStatus.SUCCEEDED
    assert _state(factory) == _state(twin)


def _kill_a_worker_during(
    factory: sessionmaker[Session], resource: str, rows: int, rng: random.Random
) -> PassOutcome:
    """Run a partitioned pass and SIGKILL one of its workers once a random number of its rows are
    written (all of them: while it fuses)."""
    done: dict[str, PassOutcome] = {}
    reached = threading.Event()
    threshold = rng.randrange(PAGE, rows + 1)

    def progress(written: int) -> None:
        if written >= threshold:
            reached.set()

    def govern() -> None:
        done["outcome"] = run_pass(factory, resource, workers=2, progress=progress)
        reached.set()

    thread = threading.Thread(target=govern)
    thread.start()
    reached.wait(timeout=120)
    url = factory.kw["bind"].url.render_as_string(hide_password=False)
    pids = Workers(2, url).pids()
    if thread.is_alive() and pids:
        with contextlib.suppress(ProcessLookupError):  # a worker of a pool already broken: gone
            os.kill(rng.choice(pids), signal.SIGKILL)
    thread.join(timeout=120)
    return done["outcome"]


def _written_by(factory: sessionmaker[Session], pass_id: int) -> set[str]:
    with factory() as session:
        written = set(session.scalars(select(CleanRecord.source_key).where(CleanRecord.pass_id == pass_id)))
        rejects = select(GovernanceReject.source_key).where(GovernanceReject.pass_id == pass_id)
        return written | set(session.scalars(rejects))


def _no_page_half_written(factory: sessionmaker[Session], pass_id: int) -> None:
    """Each page (PAGE keys in key order) has all its rows written by the failed pass, or none; and
    nothing more is written once the pass is recorded as failed."""
    with factory() as session:
        keys = sorted(session.scalars(text("SELECT DISTINCT source_key FROM raw_records")))
    written = _written_by(factory, pass_id)
    for start in range(0, len(keys), PAGE):
        page = keys[start : start + PAGE]
        assert len(written.intersection(page)) in (0, len(page)), f"page after {page[0]} half-written"
    time.sleep(0.2)
    assert _written_by(factory, pass_id) == written


@pytest.mark.usefixtures("small_pages")
def test_killing_a_worker_mid_pass_leaves_no_page_half_written_and_the_pass_reruns_to_the_same_state(
    factory: sessionmaker[Session], twin: sessionmaker[Session], settings: Settings
) -> None:
    for resource in _city(twin, settings):
        run_pass(twin, resource)  # the reference: one process
    resources = _city(factory, settings)
    rows = dict(zip(resources, ROWS, strict=True))
    rng = random.Random(20)
    killed = 0
    for _ in range(KILLS * 3):
        resource = rng.choice(resources)
        outcome = _kill_a_worker_during(factory, resource, rows[resource], rng)
        if outcome.status is PassStatus.FAILED:
            assert outcome.error is not None and "BrokenProcessPool" in outcome.error
            _no_page_half_written(factory, outcome.pass_id)
            killed += 1
        if killed == KILLS:
            break
    assert killed == KILLS, f"only {killed} passes were hit mid-way"
    for resource in resources:
        outcome = run_pass(factory, resource, workers=2)
        assert outcome.status is PassStatus.SUCCEEDED, outcome.error
    assert _state(factory, history=False) == _state(twin, history=False)
    with factory() as session:  # the failed passes say so; none is left looking as if it were running
        statuses = session.execute(text("SELECT status, count(*) FROM gov_passes GROUP BY status")).all()
    assert dict(statuses).get("running") is None and dict(statuses)["failed"] >= KILLS


def test_an_in_memory_database_governs_in_one_process(tmp_path: Path) -> None:
    """Workers cannot open a private in-memory database: the pass runs in its own process instead."""
    assert not pipeline._shared(build_sessionmaker(create_engine("sqlite://")))
    assert pipeline._shared(build_sessionmaker(build_engine(f"sqlite:///{tmp_path / 'x.db'}")))


# The pass's own process, in a process of its own: pages written slowly, so it is caught mid-way.
PASS_PROCESS = """
import sys, time
from zhongtai.core.database import build_engine, build_sessionmaker
from zhongtai.governance import pipeline
pipeline.PAGE = int(sys.argv[3])
factory = build_sessionmaker(build_engine(sys.argv[1]))
said = []
def slowly(written):
    if not said:  # its workers, once they are started
        said.append(print(*pipeline.Workers(2, sys.argv[1]).pids(), flush=True))
    time.sleep(0.3)
pipeline.run_pass(factory, sys.argv[2], workers=2, progress=slowly)
"""


def _running_with_pages(factory: sessionmaker[Session]) -> int | None:
    """The pass marked running once it has written a page, if there is one."""
    with factory() as session:
        running = session.scalar(text("SELECT id FROM gov_passes WHERE status = 'running'"))
        written = session.scalar(text("SELECT count(*) FROM clean_records"))
    return running if written else None


@pytest.mark.usefixtures("small_pages")
def test_a_pass_whose_own_process_is_killed_is_recorded_as_interrupted_and_reruns_to_the_same_state(
    factory: sessionmaker[Session], twin: sessionmaker[Session], settings: Settings
) -> None:
    for resource in _city(twin, settings):
        run_pass(twin, resource)  # the reference: one process
    resources = _city(factory, settings)
    url = factory.kw["bind"].url.render_as_string(hide_password=False)
    child = subprocess.Popen(
        [sys.executable, "-c", PASS_PROCESS, url, resources[0], str(PAGE)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    workers = [int(pid) for pid in child.stdout.readline().split()]
    try:
        deadline = time.monotonic() + 120
        while (killed := _running_with_pages(factory)) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert killed is not None, "the pass never got going"
        with factory() as session:
            resource_id = _resource_id(session, resources[0])
        assert reap_interrupted(factory, resource_id) == []  # alive: not taken for interrupted
    finally:
        child.kill()
        child.wait()
    deadline = time.monotonic() + 30
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert workers and not any(map(alive, workers)), "the killed pass's workers ended with it"
    assert reap_interrupted(factory, resource_id) == [killed]
    assert reap_interrupted(factory, resource_id) == []  # once
    for resource in resources:
        outcome = run_pass(factory, resource, workers=2)
        assert outcome.status is PassStatus.SUCCEEDED, outcome.error
    with factory() as session:
        status, error = session.execute(
            text("SELECT status, error FROM gov_passes WHERE id = :id"), {"id": killed}
        ).one()
        assert session.scalar(text("SELECT count(*) FROM gov_passes WHERE status = 'running'")) == 0
    assert (status, error) == ("failed", INTERRUPTED)
    assert _state(factory, history=False) == _state(twin, history=False)
