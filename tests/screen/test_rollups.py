"""Rollups equal a full recount of the same data, whatever order the events commit in, however often the
rollups advance, and with ids skipped by a transaction that commits late."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.healthcode.test_tracing import _places
from zhongtai.core import rollups
from zhongtai.core.database import transaction
from zhongtai.core.rollups import RollupCount, RollupGauge, RollupMark
from zhongtai.core.settings import Settings
from zhongtai.core.types import utcnow
from zhongtai.figures import build_feeds
from zhongtai.healthcode.models import ColourChange, Gate, Passage, Place, Visit
from zhongtai.healthcode.rules import Colour

START = utcnow().replace(second=0, microsecond=0) - timedelta(hours=3)
LABEL = {int(c): c.label for c in Colour}

# One event: a scan (place index, colour or None for a refused gate scan, minutes after START) or a colour
# change of a person (person index, new colour).
scans = st.tuples(st.integers(0, 2), st.sampled_from([0, 1, 2, None]), st.integers(0, 170))
changes = st.tuples(st.integers(0, 5), st.sampled_from([0, 1, 2]))
# Batches of events, each committed and then possibly followed by an advance; an id gap (a transaction
# still open when the rollups advance) is filled by a later batch.
batches = st.lists(
    st.tuples(st.lists(scans, max_size=6), st.lists(changes, max_size=4), st.booleans(), st.booleans()),
    min_size=1,
    max_size=6,
)


def _reset(session: Session) -> None:
    for table in (Visit, Passage, ColourChange, RollupCount, RollupGauge, RollupMark):
        session.execute(delete(table))


def _recount_scans(session: Session, district: dict[int, str]) -> tuple[Counter[Any], Counter[Any]]:
    by_minute: Counter[tuple[str, int]] = Counter()
    refused: Counter[str] = Counter()
    for place, at in session.execute(select(Visit.place_id, Visit.at)):
        by_minute[(district[place], rollups.minute_of(at))] += 1
    for place, subject, at in session.execute(select(Passage.place_id, Passage.subject, Passage.at)):
        if subject is None:
            refused[district[place]] += 1
        else:
            by_minute[(district[place], rollups.minute_of(at))] += 1
    return by_minute, refused


@settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(plan=batches)
def test_rollups_equal_a_recount(
    factory: sessionmaker[Session], settings: Settings, plan: list[tuple[Any, Any, bool, bool]]
) -> None:
    feeds = build_feeds(settings)
    with transaction(factory) as session:  # hypothesis runs every example on the same database
        _reset(session)
        places = list(session.scalars(select(Place.id).order_by(Place.id)))
        places = places or [p for p, _ in _places(session, settings, 3)]
    district = dict.fromkeys(places, "340104")  # the test places are in 蜀山区
    colour_now: dict[int, int | None] = {99: 1}
    next_id = {"visit": 1_000, "passage": 1_000, "change": 1_000}
    with transaction(factory) as session:  # what was there before the rollups first ran
        _gates(session, places)
        session.add(Visit(id=1_000, place_id=places[0], subject="p-0", at=START, colour=0))
        session.add(
            ColourChange(
                id=1_000, subject="p-99", colour=1, previous=None, rule_version=1, at=START, reasons=[]
            )
        )
    with transaction(factory) as session:
        rollups.advance(session, utcnow(), feeds)
    held_back: list[Any] = []  # rows written with lower ids, committed after an advance
    for batch_scans, batch_changes, hold, advance in plan:
        rows: list[Any] = []
        for place, colour, minute in batch_scans:
            at = START + timedelta(minutes=minute)
            table = "passage" if colour is None or minute % 2 else "visit"
            next_id[table] += 1
            if colour is None:
                rows.append(
                    Passage(
                        id=next_id[table],
                        gate_id=1,
                        place_id=places[place],
                        subject=None,
                        at=at,
                        colour=None,
                        decision="refused",
                    )
                )
            elif minute % 2:
                rows.append(
                    Passage(
                        id=next_id[table],
                        gate_id=1,
                        place_id=places[place],
                        subject="p-x",
                        at=at,
                        colour=colour,
                        decision="pass",
                    )
                )
            else:
                rows.append(
                    Visit(id=next_id[table], place_id=places[place], subject="p-x", at=at, colour=colour)
                )
        for person, colour in batch_changes:
            previous = colour_now.get(person)
            if previous == colour or (previous is None and colour == 0):
                continue  # no change (green is where everyone begins)
            next_id["change"] += 1
            rows.append(
                ColourChange(
                    id=next_id["change"],
                    subject=f"p-{person}",
                    colour=colour,
                    previous=previous,
                    rule_version=1,
                    at=START,
                    reasons=[],
                )
            )
            colour_now[person] = colour
        if hold and rows:  # this batch's first row commits only after the next advance
            held_back.append(rows.pop(0))
        with transaction(factory) as session:
            _gates(session, places)
            session.add_all(rows)
        if advance:
            with transaction(factory) as session:
                rollups.advance(session, utcnow(), feeds)
            with transaction(factory) as session:
                session.add_all(held_back)
            held_back = []
    with transaction(factory) as session:
        session.add_all(held_back)
    for _ in range(2):  # advancing again changes nothing
        with transaction(factory) as session:
            rollups.advance(session, utcnow(), feeds)
    with factory() as session:
        found = rollups.read(session, utcnow(), hours=6)
        by_minute, refused = _recount_scans(session, district)
    counted = Counter(
        {(d, m): n for d, per in found.minutes.get("hc.scans", {}).items() for m, n in per.items() if n}
    )
    assert counted == +by_minute
    assert found.total("hc.scans") == sum(by_minute.values())
    assert found.totals.get("hc.refused", {}) == {k: v for k, v in refused.items() if v}
    levels = Counter(LABEL[c] for c in colour_now.values() if c is not None and c > 0)
    for colour in ("yellow", "red"):
        assert found.totals.get("hc.colour", {}).get(colour, 0) == levels[colour]


def _gates(session: Session, places: list[int]) -> None:
    if session.scalar(select(func.count()).select_from(Gate).where(Gate.id == 1)) == 0:
        session.add(Gate(id=1, place_id=places[0], name="正门", token_hash="f" * 64))
        session.flush()


def test_a_row_committed_late_below_the_mark_is_counted_once(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    feeds = build_feeds(settings)
    now = utcnow()
    with transaction(factory) as session:
        ((place, _gate),) = _places(session, settings, 1)
        session.add(Visit(id=1, place_id=place, subject="p-a", at=now, colour=0))
        session.add(Visit(id=3, place_id=place, subject="p-b", at=now, colour=1))
    with transaction(factory) as session:
        rollups.advance(session, now, feeds)
        mark = session.get(RollupMark, "healthcode.visits")
        assert mark is not None and mark.position == 3 and [i for i, _ in mark.pending] == [2]
    with transaction(factory) as session:  # the transaction that had taken id 2 commits now
        session.add(Visit(id=2, place_id=place, subject="p-c", at=now, colour=2))
    for _ in range(3):
        with transaction(factory) as session:
            rollups.advance(session, now, feeds)
    with factory() as session:
        found = rollups.read(session, now)
        assert found.total("hc.scans") == 3
        assert found.totals["hc.scan_colour"] == {"green": 1, "yellow": 1, "red": 1}
        assert session.get(RollupMark, "healthcode.visits").pending == []  # type: ignore[union-attr]


def test_gauges_are_replaced_and_periodic_ones_wait_their_turn(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    calls: list[datetime] = []
    feeds = rollups.Feeds()

    def level(session: Session, now: datetime) -> dict[tuple[str, str], float]:
        calls.append(now)
        return {("t.level", str(len(calls))): 1.0}

    feeds.gauge("t.level", level, every_seconds=60)
    now = utcnow()
    for offset in (0, 10, 59, 61):
        with transaction(factory) as session:
            rollups.advance(session, now + timedelta(seconds=offset), feeds)
    assert len(calls) == 2  # at 0 s and at 61 s
    with factory() as session:
        assert rollups.read(session, now).gauge("t.level") == {"2": 1.0}  # the first run's rows replaced
