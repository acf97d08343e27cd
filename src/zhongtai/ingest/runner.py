"""Running an ingestion job: one batch (批次), all or nothing.

1. A short transaction records the run as ``running`` (so it shows in the UI at once) — or, for a
   scheduled slot another worker already claimed, records nothing.
2. One transaction does the work: it locks the job (a row lock on PostgreSQL, the write lock on
   SQLite; both vanish with a killed process), streams the source chunk by chunk, writes accepted rows
   to the raw zone and rejected rows with their reasons, then finishes the run and advances the
   watermark — and commits. Killed at any point before that commit, nothing of the batch is visible
   and the watermark has not moved; the next run repeats the window and, the raw zone being keyed,
   duplicates nothing.
3. If the work fails, a third short transaction marks the run failed with the cause.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, joinedload, sessionmaker

from zhongtai.core import audit
from zhongtai.core.crypto import SecretBox
from zhongtai.core.errors import M_, NotFound, ZhongtaiError
from zhongtai.core.principal import platform_actor
from zhongtai.core.settings import Settings
from zhongtai.core.types import utcnow
from zhongtai.ingest.mapping import ChunkMapper, FieldRule, source_columns
from zhongtai.ingest.models import Job, JobMode, RejectedRow, Run, RunStatus, SourceKind
from zhongtai.ingest.producer import ChunkPreparer, Prepared, ProducerSpec, in_process, threaded
from zhongtai.ingest.readers import (
    Reader,
    ReadPlan,
    count_rows,
    decode_watermark,
    encode_watermark,
    open_reader,
)
from zhongtai.ingest.repository import IngestRepository
from zhongtai.ingest.sources import SourceFailure, describe_failure
from zhongtai.ingest.writers import RawWriter

log = logging.getLogger("zhongtai.ingest")

Progress = Callable[[int, int, int, int], None]  # run id, rows read, written, rejected


@dataclass(frozen=True)
class RunOutcome:
    run_id: int
    status: RunStatus
    rows_read: int
    rows_written: int
    rows_rejected: int
    rows_removed: int
    watermark_after: str | None
    error: str | None
    notes: str | None = None


class JobBusy(Exception):
    """Another worker holds the job."""


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_job(
    factory: sessionmaker[Session],
    settings: Settings,
    job_code: str,
    *,
    trigger: str = "manual",
    requested_by: str = "system",
    scheduled_for: datetime | None = None,
    progress: Progress | None = None,
) -> RunOutcome | None:
    """Run ``job_code`` once. ``None`` when ``scheduled_for`` names a slot another worker has claimed."""
    opened = open_run(factory, job_code, trigger, requested_by, scheduled_for)
    if opened is None:
        return None
    run_id, job_id = opened
    try:
        return _do_run(factory, settings, run_id, job_id, progress)
    except JobBusy:
        return _close_run(factory, run_id, RunStatus.SKIPPED, "the job was already running on another worker")
    except (ZhongtaiError, SourceFailure) as exc:
        return _close_run(factory, run_id, RunStatus.FAILED, exc.message)
    except SQLAlchemyError as exc:
        log.warning("ingestion run %s failed on the platform database", run_id, exc_info=True)
        return _close_run(
            factory, run_id, RunStatus.FAILED, f"platform database error: {describe_failure(exc)}"
        )
    except Exception as exc:
        log.exception("ingestion run %s failed", run_id)
        return _close_run(factory, run_id, RunStatus.FAILED, f"internal error ({type(exc).__name__}): {exc}")


def open_run(
    factory: sessionmaker[Session],
    job_code: str,
    trigger: str,
    requested_by: str,
    scheduled_for: datetime | None,
) -> tuple[int, int] | None:
    """Record a new run; returns (run id, job id), or None when the scheduled slot was already claimed."""
    with factory() as session, session.begin():
        job = session.scalars(select(Job).where(Job.code == job_code)).first()
        if job is None:
            raise NotFound(M_("no ingestion job %(job_code)r", job_code=job_code), code="job_not_found")
        run = Run(
            job_id=job.id,
            trigger=trigger,
            scheduled_for=scheduled_for,
            requested_by=requested_by,
            status=RunStatus.RUNNING,
            worker=worker_name(),
            started_at=utcnow(),
            watermark_before=job.watermark,
        )
        session.add(run)
        try:
            session.flush()
        except IntegrityError:
            if scheduled_for is None:
                raise
            session.rollback()
            return None  # the slot is someone else's
        return run.id, job.id


def _close_run(factory: sessionmaker[Session], run_id: int, status: RunStatus, error: str) -> RunOutcome:
    with factory() as session, session.begin():
        run = session.get_one(Run, run_id)
        run.status = status
        run.error = error[:4000]
        run.finished_at = utcnow()
        # The batch was rolled back: nothing was written or rejected, whatever had been read.
        run.rows_read = run.rows_written = run.rows_rejected = run.rows_removed = 0
        run.watermark_after = run.watermark_before
        return _outcome(run)


def _outcome(run: Run) -> RunOutcome:
    return RunOutcome(
        run_id=run.id,
        status=run.status,
        rows_read=run.rows_read,
        rows_written=run.rows_written,
        rows_rejected=run.rows_rejected,
        rows_removed=run.rows_removed,
        watermark_after=run.watermark_after,
        error=run.error,
        notes=run.notes,
    )


def _lock_job(session: Session, job_id: int) -> None:
    if session.get_bind().dialect.name == "postgresql":
        locked = session.execute(
            text("SELECT id FROM ingest_jobs WHERE id = :id FOR UPDATE SKIP LOCKED"), {"id": job_id}
        ).first()
        if locked is None:
            raise JobBusy
        return
    try:  # SQLite: the first write takes the database's write lock for the whole batch
        session.execute(
            update(Job).where(Job.id == job_id).values(watermark=Job.watermark, updated_at=Job.updated_at)
        )
    except OperationalError as exc:
        raise JobBusy from exc


def _do_run(
    factory: sessionmaker[Session], settings: Settings, run_id: int, job_id: int, progress: Progress | None
) -> RunOutcome:
    with factory() as session, session.begin():
        _lock_job(session, job_id)  # first statement: on SQLite a read before it could not take the lock
        run = session.get_one(Run, run_id)
        job = session.scalars(select(Job).options(joinedload(Job.source)).where(Job.id == job_id)).one()
        session.execute(
            update(Run)
            .where(Run.job_id == job.id, Run.status == RunStatus.RUNNING, Run.id < run.id)
            .values(
                status=RunStatus.INTERRUPTED,
                finished_at=utcnow(),
                error="the worker stopped before this run committed (process killed or machine lost); "
                "nothing of it was kept and a later run repeated its window",
            )
        )
        batch = _Batch(session, settings, job, run, progress)
        batch.execute()
        return _outcome(run)


class _Batch:
    """The work of one run inside its transaction."""

    def __init__(
        self, session: Session, settings: Settings, job: Job, run: Run, progress: Progress | None
    ) -> None:
        self.session = session
        self.settings = settings
        self.job = job
        self.run = run
        self.progress = progress
        self.items = IngestRepository(session).item_types(job.resource_id)
        self.rules = [FieldRule.model_validate(rule) for rule in job.mapping]
        incremental = job.mode is JobMode.INCREMENTAL
        watermark_column = job.watermark_column if incremental else None
        self.plan = ReadPlan(
            columns=source_columns(
                self.rules, job.key_columns, [watermark_column] if watermark_column else []
            ),
            watermark_column=watermark_column,
            watermark=decode_watermark(job.watermark) if incremental else None,
            chunk_rows=settings.ingest_chunk_rows,
        )
        self.mapper = ChunkMapper(self.rules, self.items, job.key_columns, self.plan.columns)
        self.read = self.written = self.rejected = 0

    def execute(self) -> None:
        box = SecretBox(self.settings)
        if self._worth_a_process(box):
            chunks, reader = in_process(self._producer_spec())
        else:
            reader = open_reader(self.job, self.job.source, self.plan, self.settings, box)
            chunks = threaded(ChunkPreparer(self.mapper, self.run.id).chunks(reader))
        try:
            writer = RawWriter(
                self.session.connection(),
                job_id=self.job.id,
                batch_id=self.run.id,
                loaded_at=utcnow(),
                refresh_unchanged=self.job.mode is JobMode.FULL,
            )
            for prepared in chunks:
                self._store(prepared, writer)
            removed = writer.remove_unseen() if self.job.mode is JobMode.FULL else 0
        finally:
            reader.close()
        self._finish(reader, removed)

    def _worth_a_process(self, box: SecretBox) -> bool:
        """A big read from a database into SQLite: worth a second interpreter (about half a second).

        On PostgreSQL the server's own process already takes the writing off this one, and a second
        producer would only compete with it for the cores.
        """
        threshold = self.settings.ingest_process_rows
        if not threshold or self.job.source.kind is not SourceKind.DATABASE:
            return False
        if self.session.get_bind().dialect.name != "sqlite":
            return False
        return count_rows(self.job, self.job.source, self.plan, self.settings, box) >= threshold

    def _producer_spec(self) -> ProducerSpec:
        job, source = self.job, self.job.source
        return ProducerSpec(
            settings=self.settings,
            job={
                "id": job.id,
                "code": job.code,
                "object_kind": job.object_kind,
                "source_object": job.source_object,
                "mode": job.mode,
                "key_columns": list(job.key_columns),
                "watermark_column": job.watermark_column,
            },
            source={
                "code": source.code,
                "kind": source.kind,
                "options": dict(source.options),
                "secret_ciphertext": source.secret_ciphertext,
            },
            plan=self.plan,
            rules=self.rules,
            items=self.items,
            run_id=self.run.id,
        )

    def _store(self, prepared: Prepared, writer: RawWriter) -> None:
        if prepared.accepted is not None:
            writer.write(prepared.accepted)
        if prepared.rejects:
            self.session.execute(insert(RejectedRow), prepared.rejects)
        self.read += prepared.count
        self.rejected += len(prepared.rejects)
        self.written += prepared.count - len(prepared.rejects)
        if self.progress:
            self.progress(self.run.id, self.read, self.written, self.rejected)

    def _finish(self, reader: Reader, removed: int) -> None:
        run, job = self.run, self.job
        seen = reader.watermark_after[0] if reader.watermark_after else None
        if seen is not None and job.mode is JobMode.INCREMENTAL:
            previous = decode_watermark(job.watermark)
            if previous is None or _later(seen, previous):
                job.watermark = encode_watermark(seen)
        run.rows_read, run.rows_written, run.rows_rejected, run.rows_removed = (
            self.read,
            self.written,
            self.rejected,
            removed,
        )
        run.watermark_after = job.watermark
        run.status = RunStatus.SUCCEEDED
        run.finished_at = utcnow()
        run.notes = "; ".join(reader.notes)[:4000] or None
        audit.record(
            self.session,
            platform_actor(run.requested_by, run.requested_by),
            "ingest.run",
            "ingest_job",
            job.code,
            {
                "run": [None, run.id],
                "rows_read": [None, self.read],
                "rows_written": [None, self.written],
                "rows_rejected": [None, self.rejected],
                "watermark": [run.watermark_before, run.watermark_after],
            },
        )


def _later(candidate: Any, previous: Any) -> bool:
    try:
        return bool(candidate > previous)
    except TypeError:
        return str(candidate) > str(previous)
