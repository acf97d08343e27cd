"""The health code's figures for the big screen (``core.rollups``): codes by colour (kept from the colour
history: each change adds one to its colour and takes one from the previous), scans per minute by the
place's district and by the colour shown, positive results, traces started; open traces, contacts,
enterprises resumed by district and risk areas as gauges. Counts only: no person appears here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from zhongtai.core import rollups
from zhongtai.core.rollups import Feeds, Page
from zhongtai.core.settings import Settings
from zhongtai.healthcode import areas
from zhongtai.healthcode.divisions import district_of, districts
from zhongtai.healthcode.models import (
    ColourChange,
    EvidenceRow,
    Passage,
    Place,
    Resumption,
    ResumptionStatus,
    Trace,
    TraceContact,
    TraceStatus,
    Visit,
)
from zhongtai.healthcode.rules import Colour, Fact

LABELS = {int(c): c.label for c in Colour}


def colours(session: Session, after: int, recheck: Sequence[int], limit: int) -> Page:
    query = (
        select(ColourChange.id, ColourChange.colour, ColourChange.previous, ColourChange.at)
        .where(rollups.by_id_after(ColourChange.id, after, recheck))
        .order_by(ColourChange.id)
        .limit(limit)
    )
    page = Page()
    for i, colour, previous, at in session.execute(query):
        page.ids.append(int(i))
        page.add("hc.colour", LABELS[colour], at)
        if previous is not None:
            page.add("hc.colour", LABELS[previous], at, -1)
    return page


def evidence(session: Session, after: int, recheck: Sequence[int], limit: int) -> Page:
    query = (
        select(EvidenceRow.id, EvidenceRow.fact, EvidenceRow.at)
        .where(rollups.by_id_after(EvidenceRow.id, after, recheck))
        .order_by(EvidenceRow.id)
        .limit(limit)
    )
    page = Page()
    for i, fact, at in session.execute(query):
        page.ids.append(int(i))
        if fact == Fact.POSITIVE_TEST.value:
            page.add("hc.positives", "", at)
    return page


def traces(session: Session, after: int, recheck: Sequence[int], limit: int) -> Page:
    query = (
        select(Trace.id, Trace.created_at)
        .where(rollups.by_id_after(Trace.id, after, recheck))
        .order_by(Trace.id)
        .limit(limit)
    )
    page = Page()
    for i, at in session.execute(query):
        page.ids.append(int(i))
        page.add("hc.traces", "", at)
    return page


class Scans:
    """Visits and gate passages by the district of the place and by the colour shown."""

    def __init__(self, settings: Settings) -> None:
        self.known = districts(settings.city_division)
        self.district: dict[int, str] = {}

    def _districts(self, session: Session, places: set[int]) -> None:
        missing = places - self.district.keys()
        if missing:
            query = select(Place.id, Place.address).where(Place.id.in_(missing))
            self.district.update({int(p): district_of(a, self.known) for p, a in session.execute(query)})

    def _count(self, page: Page, i: int, place: int, colour: int | None, at: datetime) -> None:
        page.ids.append(i)
        district = self.district.get(place, "-")
        if colour is None:  # a code the gate refused: counted apart
            page.add("hc.refused", district, at)
            return
        page.add("hc.scans", district, at)
        page.add("hc.scan_colour", LABELS[colour], at)

    def visits(self, session: Session, after: int, recheck: Sequence[int], limit: int) -> Page:
        query = (
            select(Visit.id, Visit.place_id, Visit.colour, Visit.at)
            .where(rollups.by_id_after(Visit.id, after, recheck))
            .order_by(Visit.id)
            .limit(limit)
        )
        rows = list(session.execute(query))
        self._districts(session, {int(r.place_id) for r in rows})
        page = Page()
        for r in rows:
            self._count(page, int(r.id), int(r.place_id), r.colour, r.at)
        return page

    def passages(self, session: Session, after: int, recheck: Sequence[int], limit: int) -> Page:
        query = (
            select(Passage.id, Passage.place_id, Passage.colour, Passage.subject, Passage.at)
            .where(rollups.by_id_after(Passage.id, after, recheck))
            .order_by(Passage.id)
            .limit(limit)
        )
        rows = list(session.execute(query))
        self._districts(session, {int(r.place_id) for r in rows})
        page = Page()
        for r in rows:
            self._count(page, int(r.id), int(r.place_id), r.colour if r.subject is not None else None, r.at)
        return page


def registers(settings: Settings, session: Session, now: datetime) -> dict[tuple[str, str], float]:
    open_traces = select(func.count()).select_from(Trace).where(Trace.status == TraceStatus.OPEN)
    contacts = (
        select(TraceContact.kind, func.count())
        .join(Trace, Trace.id == TraceContact.trace_id)
        .where(Trace.status == TraceStatus.OPEN)
        .group_by(TraceContact.kind)
    )
    values: dict[tuple[str, str], float] = {("hc.traces_open", ""): session.scalar(open_traces) or 0}
    values.update({("hc.contacts", kind): n for kind, n in session.execute(contacts)})
    latest = (
        select(Resumption.enterprise, func.max(Resumption.id).label("last"))
        .group_by(Resumption.enterprise)
        .subquery()
    )
    states = (
        select(Resumption.district, Resumption.status, func.count())
        .join(latest, latest.c.last == Resumption.id)
        .group_by(Resumption.district, Resumption.status)
    )
    for district, status, n in session.execute(states):
        values[("hc.enterprises", status.value)] = values.get(("hc.enterprises", status.value), 0) + n
        if status is ResumptionStatus.APPROVED:
            values[("hc.resumed", district or "-")] = n
    values[("hc.risk_areas", "")] = len(areas.active(session, now.astimezone(settings.zone).date()))
    return values


def register(feeds: Feeds, settings: Settings) -> None:
    scans = Scans(settings)
    feeds.stream("healthcode.colours", colours)
    feeds.stream("healthcode.evidence", evidence)
    feeds.stream("healthcode.traces", traces)
    feeds.stream("healthcode.visits", scans.visits)
    feeds.stream("healthcode.passages", scans.passages)
    feeds.gauge("healthcode.registers", lambda s, now: registers(settings, s, now))
