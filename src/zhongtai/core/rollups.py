"""Rollups: the platform's figures kept incrementally, so a big screen (or a hundred of them) never scans
the raw tables to show them.

Two kinds of feed, added by the domains that own the data to a :class:`Feeds` the application builds
(``zhongtai.figures``; ``core`` imports no domain):

* a **stream** reads an append-only table past a mark — each row counted once, its counts added to
  per-minute rows (``rollup_counts``, minute = minutes since the epoch) and to the all-time row
  (minute 0). Ids a reader skipped (a transaction that committed after a later id, a rollback's gap,
  a batch still running) stay pending and are read again until they turn up final or expire, so an
  event committed out of id order is still counted once;
* a **gauge** recounts a small register (catalog entries, capabilities, open traces …: thousands of
  rows, not millions) and replaces its rows in ``rollup_gauges``.

``advance`` moves every feed in one transaction with its mark, so a crash or a second process running it
at the same moment neither loses nor double-counts anything (the mark row is locked first). ``read``
returns the rollup rows of a period: what a screen's refresh costs.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, Index, Integer, String, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from zhongtai.core.bulk import select_rows
from zhongtai.core.database import Base
from zhongtai.core.types import UTCDateTime

log = logging.getLogger("zhongtai.rollups")

ALL_TIME = 0  # the minute of the all-time row
KEEP_MINUTES = 2 * 24 * 60  # per-minute rows older than two days are removed (the screen shows 24 h)
PENDING_SECONDS = 24 * 3600  # a skipped id is looked for again for a day (a long batch, a late commit)
MAX_PENDING = 10_000
PAGE = 50_000


class RollupCount(Base):
    """A count of one metric for one dimension value in one minute (minute 0: since the beginning)."""

    __tablename__ = "rollup_counts"
    __table_args__ = (Index("ix_rollup_counts_minute", "minute"),)

    metric: Mapped[str] = mapped_column(String(48), primary_key=True)
    dim: Mapped[str] = mapped_column(String(64), primary_key=True)
    minute: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class RollupGauge(Base):
    """A level a gauge feed recounted (its rows are replaced whole on every advance)."""

    __tablename__ = "rollup_gauges"

    metric: Mapped[str] = mapped_column(String(48), primary_key=True)
    dim: Mapped[str] = mapped_column(String(64), primary_key=True)
    feed: Mapped[str] = mapped_column(String(48), index=True)
    value: Mapped[float] = mapped_column(Float)


class RollupMark(Base):
    """How far a stream has read: the highest id seen and the ids below it still to look for."""

    __tablename__ = "rollup_marks"

    feed: Mapped[str] = mapped_column(String(48), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, default=0)
    pending: Mapped[list[list[int]]] = mapped_column(JSON, default=list)  # [id, first looked for (s)]
    at: Mapped[datetime | None] = mapped_column(UTCDateTime())


@dataclass(frozen=True, slots=True)
class Count:
    metric: str
    dim: str
    at: datetime
    n: int


Key = tuple[str, str, int]  # metric, dimension, minute


@dataclass(slots=True)
class Page:
    """What a stream reader found: every id it read, those that may still change (a batch still running:
    read again next time, counted then), and the counts of the others by metric, dimension and minute."""

    ids: list[int] = field(default_factory=list)
    unfinished: list[int] = field(default_factory=list)
    counts: Counter[Key] = field(default_factory=Counter)

    def add(self, metric: str, dim: str, at: datetime, n: int = 1) -> None:
        self.counts[(metric, dim, int(at.timestamp() // 60))] += n


# (session, read ids above this, and these ids below it, at most this many) -> what it found
StreamReader = Callable[[Session, int, Sequence[int], int], Page]
# (session, now) -> levels by (metric, dimension); None: nothing to show yet (asked again next time)
GaugeReader = Callable[[Session, datetime], dict[tuple[str, str], float] | None]


@dataclass(frozen=True)
class Feeds:
    """The feeds one application (or worker) advances; the domains add theirs (``zhongtai.figures``)."""

    streams: dict[str, StreamReader] = field(default_factory=dict)
    gauges: dict[str, tuple[GaugeReader, int]] = field(default_factory=dict)  # reader, every (s)

    def stream(self, name: str, reader: StreamReader) -> None:
        self.streams[name] = reader

    def gauge(self, name: str, reader: GaugeReader, every_seconds: int = 0) -> None:
        """A gauge recounted on every advance, or at most once per ``every_seconds`` (costly ones)."""
        self.gauges[name] = (reader, every_seconds)


def minute_of(moment: datetime) -> int:
    return int(moment.timestamp() // 60)


@dataclass(frozen=True)
class Advance:
    rows: int  # event rows counted
    pending: int  # ids still looked for
    gauges: int


def advance(session: Session, now: datetime, feeds: Feeds) -> Advance:
    """Move every feed forward in the caller's transaction (commit it to keep the result)."""
    rows = pending = 0
    for name, reader in feeds.streams.items():
        counted, waiting = _advance_stream(session, name, reader, now)
        rows, pending = rows + counted, pending + waiting
    gauges = 0
    for name, (gauge, every) in feeds.gauges.items():
        if every and not _due(session, f"gauge:{name}", now, every):
            continue
        values = gauge(session, now)
        if values is None:
            continue
        if every:  # ran: not due again for ``every`` seconds
            session.execute(update(RollupMark).where(RollupMark.feed == f"gauge:{name}").values(at=now))
        _replace_gauge(session, name, values)
        gauges += 1
    cutoff = minute_of(now) - KEEP_MINUTES
    session.execute(delete(RollupCount).where(RollupCount.minute > ALL_TIME, RollupCount.minute < cutoff))
    return Advance(rows, pending, gauges)


def _locked_mark(session: Session, name: str, now: datetime) -> RollupMark:
    """The stream's mark, locked for this transaction (a second process waits, then reads past it)."""
    touch = update(RollupMark).where(RollupMark.feed == name).values(at=now)
    if session.execute(touch).rowcount == 0:  # type: ignore[attr-defined]
        fresh = _insert(session, RollupMark).values(feed=name, position=0, pending=[], at=now)
        session.execute(fresh.on_conflict_do_nothing())
        session.execute(touch)
    mark = session.execute(
        select(RollupMark).where(RollupMark.feed == name).execution_options(populate_existing=True)
    ).scalar_one()
    return mark


def _due(session: Session, name: str, now: datetime, every: int) -> bool:
    """Whether a periodic gauge is due (its mark row keeps when it last ran). The row is locked first, so
    two processes never both run it (a second noisy release must not follow the first)."""
    fresh = _insert(session, RollupMark).values(feed=name, position=0, pending=[], at=None)
    session.execute(fresh.on_conflict_do_nothing())
    session.execute(update(RollupMark).where(RollupMark.feed == name).values(position=RollupMark.position))
    last = session.scalar(select(RollupMark.at).where(RollupMark.feed == name))
    return last is None or now - last >= timedelta(seconds=every)


def _advance_stream(session: Session, name: str, reader: StreamReader, now: datetime) -> tuple[int, int]:
    mark = _locked_mark(session, name, now)
    clock = int(time.time())
    pending = {int(i): int(first) for i, first in mark.pending or []}
    position, counted = int(mark.position), 0
    totals: dict[tuple[str, str, int], int] = defaultdict(int)
    recheck: Sequence[int] = sorted(pending)
    while True:
        page = reader(session, position, recheck, PAGE)
        recheck = ()  # looked for once per advance
        unfinished = set(page.unfinished)
        for i in page.ids:
            if i in unfinished:
                pending.setdefault(i, clock)
            else:
                pending.pop(i, None)
        counted += len(page.ids) - len(unfinished)
        for (metric, dim, minute), n in page.counts.items():
            totals[(metric, dim, minute)] += n
            totals[(metric, dim, ALL_TIME)] += n
        fresh = {i for i in page.ids if i > position}
        if fresh:
            top = max(fresh)
            _look_for_gaps(name, pending, position, top, fresh, clock)
            position = top
        if len(page.ids) < PAGE:
            break
    kept = sorted((i, first) for i, first in pending.items() if clock - first < PENDING_SECONDS)
    mark.position, mark.pending = position, [[i, first] for i, first in kept[-MAX_PENDING:]]
    _add_counts(session, totals)
    return counted, len(mark.pending)


def _look_for_gaps(
    name: str, pending: dict[int, int], position: int, top: int, fresh: set[int], clock: int
) -> None:
    """Ids between the old mark and the new one that no row had: a later commit may still bring them.
    A stream's first read looks for the ids below the first it finds too, unless its table's history
    begins far up (ids purged long ago)."""
    if position == 0 and min(fresh) > MAX_PENDING:
        position = min(fresh) - 1
    gaps = top - position - len(fresh)
    if gaps > MAX_PENDING:
        log.warning("rollup gap too wide to track", extra={"feed": name, "ids": gaps})
        return
    for missing in range(position + 1, top + 1) if gaps > 0 else ():
        if missing not in fresh:
            pending.setdefault(missing, clock)


def add(session: Session, counts: Iterable[Count]) -> None:
    """Counts kept in the caller's transaction, beside the event they count (for events whose table is
    not read in id order, or too rare to be worth a stream)."""
    totals: dict[tuple[str, str, int], int] = defaultdict(int)
    for c in counts:
        totals[(c.metric, c.dim, minute_of(c.at))] += c.n
        totals[(c.metric, c.dim, ALL_TIME)] += c.n
    _add_counts(session, totals)


def _insert(session: Session, table: type[Base]) -> Any:
    dialect = session.get_bind().dialect.name
    return pg_insert(table) if dialect == "postgresql" else sqlite_insert(table)


def _add_counts(session: Session, totals: dict[tuple[str, str, int], int]) -> None:
    rows = [
        {"metric": m, "dim": d[:64], "minute": minute, "value": n} for (m, d, minute), n in totals.items()
    ]
    for start in range(0, len(rows), 5_000):
        statement = _insert(session, RollupCount).values(rows[start : start + 5_000])
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["metric", "dim", "minute"],
                set_={"value": RollupCount.value + statement.excluded.value},
            )
        )


def _replace_gauge(session: Session, feed: str, values: dict[tuple[str, str], float]) -> None:
    session.execute(delete(RollupGauge).where(RollupGauge.feed == feed))
    rows = [{"metric": m, "dim": d[:64], "feed": feed, "value": float(v)} for (m, d), v in values.items()]
    if rows:
        session.execute(_insert(session, RollupGauge).values(rows))


@dataclass
class Rollups:
    """The rollup rows of a period: all-time totals, per-minute counts since ``since`` (by dimension, and
    summed over the dimensions: what most panels want), gauges."""

    at: datetime
    since: int  # the first minute read
    totals: dict[str, dict[str, int]]
    minutes: dict[str, dict[str, dict[int, int]]]
    gauges: dict[str, dict[str, float]]
    summed: dict[str, dict[int, int]] = field(default_factory=dict)  # metric -> minute -> all dimensions

    def total(self, metric: str) -> int:
        return sum(self.totals.get(metric, {}).values())

    def count_since(self, metric: str, start: datetime) -> int:
        first = minute_of(start)
        return sum(n for minute, n in self.summed.get(metric, {}).items() if minute >= first)

    def by_dim_since(self, metric: str, start: datetime) -> dict[str, int]:
        first = minute_of(start)
        return {
            dim: sum(n for minute, n in by_minute.items() if minute >= first)
            for dim, by_minute in self.minutes.get(metric, {}).items()
        }

    def series(
        self, metric: str, start: datetime, step_minutes: int, end: datetime, dim: str | None = None
    ) -> list[int]:
        """Counts per step from ``start`` to ``end``: of all dimensions, or of one."""
        first, last = minute_of(start), minute_of(end)
        out = [0] * max(1, (last - first) // step_minutes + 1)
        found = self.summed.get(metric, {}) if dim is None else self.minutes.get(metric, {}).get(dim, {})
        for minute, n in found.items():
            if first <= minute <= last:
                out[(minute - first) // step_minutes] += n
        return out

    def gauge(self, metric: str) -> dict[str, float]:
        return self.gauges.get(metric, {})


COUNTS_SQL = "SELECT metric, dim, minute, value FROM rollup_counts WHERE minute = 0 OR minute >= ?"
GAUGES_SQL = "SELECT metric, dim, value FROM rollup_gauges"


def read(session: Session, now: datetime, hours: int = 24) -> Rollups:
    """Every rollup row a screen needs — the all-time rows, the last ``hours`` of minutes, the gauges —
    straight through the driver, grouped in one pass."""
    since = minute_of(now - timedelta(hours=hours))
    connection = session.connection()
    totals: dict[str, dict[str, int]] = {}
    minutes: dict[str, dict[str, dict[int, int]]] = {}
    summed: dict[str, dict[int, int]] = {}
    for metric, dim, minute, value in select_rows(connection, COUNTS_SQL, (since,)):
        if minute == ALL_TIME:
            totals.setdefault(metric, {})[dim] = value
            continue
        by_dim = minutes.get(metric)
        if by_dim is None:
            by_dim = minutes[metric] = {}
            summed[metric] = {}
        cell = by_dim.get(dim)
        if cell is None:
            cell = by_dim[dim] = {}
        cell[minute] = value
        total = summed[metric]
        total[minute] = total.get(minute, 0) + value
    gauges: dict[str, dict[str, float]] = {}
    for metric, dim, level in select_rows(connection, GAUGES_SQL, ()):
        gauges.setdefault(metric, {})[dim] = float(level)
    return Rollups(now, since, totals, minutes, gauges, summed)


def by_id_after(column: Any, after: int, recheck: Sequence[int]) -> Any:
    """The WHERE of a stream reader: ids past the mark, or ids still looked for."""
    past = column > after
    return past if not recheck else past | column.in_(list(recheck))


__all__ = [
    "Advance",
    "Count",
    "Feeds",
    "Page",
    "Rollups",
    "add",
    "advance",
    "by_id_after",
    "read",
]
