"""Producing a batch's chunks — read from the source, then mapped — beside the writer.

Small batches read and map in a thread: Polars and the database drivers release the GIL for much of
their work. A big batch from a database reads and maps in a separate *process*, because on two cores
the GIL otherwise serialises reading, mapping and writing; chunks come back as Polars frames. Either way
the writer (the run's transaction) stays in the calling thread, and an error in the producer surfaces
there, so a failed read still fails — and rolls back — the whole batch.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import polars as pl

from zhongtai.catalog.models import DataType
from zhongtai.core.crypto import SecretBox
from zhongtai.core.settings import Settings
from zhongtai.ingest.mapping import ChunkMapper, FieldRule
from zhongtai.ingest.models import Job, Source
from zhongtai.ingest.readers import BadRow, Reader, ReadPlan, open_reader
from zhongtai.ingest.sources import SourceFailure

_DONE = object()
PUT_TIMEOUT = 1.0


@dataclass(frozen=True)
class Prepared:
    """One mapped chunk: how many rows were read, the accepted records, the rejects as table rows."""

    count: int
    accepted: pl.DataFrame | None
    rejects: list[dict[str, Any]]


class ChunkPreparer:
    def __init__(self, mapper: ChunkMapper, run_id: int) -> None:
        self.mapper = mapper
        self.run_id = run_id

    def chunks(self, reader: Reader) -> Iterator[Prepared]:
        first = 1
        for chunk in reader.chunks:
            yield self.prepare(chunk.rows, chunk.label, first)
            first += len(chunk.rows)

    def prepare(self, rows: list[Any], label: str, first: int) -> Prepared:
        rejects: list[dict[str, Any]] = []
        good: list[Any] = rows
        numbers = pl.int_range(first, first + len(rows), eager=True)
        if any(type(row) is BadRow for row in rows):  # only file and API readers hand these over
            good, kept = [], []
            for number, row in enumerate(rows, start=first):
                if type(row) is BadRow:
                    rejects.append(self._bad_row(number, _where(label, row.reason), row.raw))
                else:
                    good.append(row)
                    kept.append(number)
            numbers = pl.Series(kept, dtype=pl.Int64)
        accepted = None
        if good:
            chunk = self.mapper.map(self.mapper.frame(good), numbers)
            accepted = chunk.accepted
            if chunk.rejected.height:
                prefix = f"{label}: " if label else ""
                rejects.extend(
                    chunk.rejected.with_columns(
                        pl.lit(self.run_id).alias("run_id"),
                        (pl.lit(prefix) + pl.col("reason")).str.slice(0, 500).alias("reason"),
                    ).to_dicts()
                )
        return Prepared(len(rows), accepted, rejects)

    def _bad_row(self, number: int, reason: str, raw: str) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "row_number": number,
            "source_key": None,
            "field": None,
            "reason": reason[:500],
            "raw": raw,
        }


def _where(label: str, reason: str) -> str:
    return f"{label}: {reason}" if label else reason


def threaded(chunks: Iterator[Prepared], depth: int = 2) -> Iterator[Prepared]:
    """Produce the next chunks in a thread while the caller writes this one."""
    handoff: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for prepared in chunks:
                if not _put(handoff, prepared, stop.is_set):
                    return
            handoff.put(_DONE)
        except BaseException as exc:  # handed to the caller, which re-raises it
            handoff.put(exc)

    thread = threading.Thread(target=produce, name="ingest-reader", daemon=True)
    thread.start()
    try:
        while (item := handoff.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


def _put(handoff: Any, item: Any, abandoned: Any) -> bool:
    """Hand ``item`` over, unless the consumer is gone; False means stop producing."""
    while not abandoned():
        try:
            handoff.put(item, timeout=PUT_TIMEOUT)
            return True
        except queue.Full:
            continue
    return False


# --- a producer process ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProducerSpec:
    """Everything the producer process needs, as plain picklable data (no ORM session crosses over)."""

    settings: Settings
    job: dict[str, Any]
    source: dict[str, Any]
    plan: ReadPlan
    rules: list[FieldRule]
    items: dict[str, DataType]
    run_id: int


def in_process(spec: ProducerSpec, depth: int = 2) -> tuple[Iterator[Prepared], Reader]:
    """Chunks produced by a child process, and a reader whose notes and watermark fill in at the end."""
    context = multiprocessing.get_context("spawn")  # a clean interpreter: no inherited connections
    handoff: Any = context.Queue(maxsize=depth)
    child = context.Process(
        target=_produce, args=(spec, handoff, os.getpid()), name="ingest-reader", daemon=True
    )
    summary = Reader(columns=spec.plan.columns, chunks=iter(()))

    def consume() -> Iterator[Prepared]:
        child.start()
        try:
            while True:
                try:
                    kind, *payload = handoff.get(timeout=5)
                except queue.Empty:
                    if not child.is_alive():
                        raise SourceFailure("the reader process stopped unexpectedly") from None
                    continue
                if kind == "chunk":
                    yield payload[0]
                elif kind == "end":
                    summary.notes[:], summary.watermark_after[:] = payload
                    return
                else:
                    raise payload[0]
        finally:
            if child.is_alive():
                child.terminate()
            child.join(timeout=10)

    return consume(), summary


def _produce(spec: ProducerSpec, handoff: Any, parent: int) -> None:
    def orphaned() -> bool:  # the parent was killed: stop instead of waiting on a queue nobody reads
        return os.getppid() != parent

    job = Job(**spec.job)
    source = Source(**spec.source)
    try:
        reader = open_reader(job, source, spec.plan, spec.settings, SecretBox(spec.settings))
        try:
            mapper = ChunkMapper(spec.rules, spec.items, list(spec.job["key_columns"]), spec.plan.columns)
            for prepared in ChunkPreparer(mapper, spec.run_id).chunks(reader):
                if not _put(handoff, ("chunk", prepared), orphaned):
                    return
            _put(handoff, ("end", reader.notes, reader.watermark_after), orphaned)
        finally:
            reader.close()
    except Exception as exc:
        _put(handoff, ("error", exc), orphaned)
    finally:
        if orphaned():
            # Nobody will read what is still buffered: exit without waiting to flush it into the pipe.
            handoff.cancel_join_thread()
