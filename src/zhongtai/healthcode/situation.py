"""疫情"战况": the epidemic situation as figures — tests gathered, positives, codes by colour, scans by
district (or by street within a district) and colour, traces and contacts, enterprises by resumption state,
risk areas, reports delivered to the province — live (the last 24 hours) and for a past day, for health
staff, the bureau and the big screen. The daily figures are also the producer of the daily report to the
province (``sharing.reports``, producer ``healthcode.daily``). Aggregates only: every table goes through
small-cell suppression (``core.suppression``), so no cell of 1–9 people is shown or derivable; no person is
ever named here.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select, union_all
from sqlalchemy.orm import Session

from zhongtai.catalog.models import Resource
from zhongtai.core.settings import Settings
from zhongtai.core.suppression import Table, suppress
from zhongtai.healthcode import areas, oversight
from zhongtai.healthcode.divisions import OTHER, district_of, districts
from zhongtai.healthcode.models import (
    EvidenceRow,
    Passage,
    PersonColour,
    Place,
    Trace,
    TraceContact,
    TraceStatus,
    Visit,
)
from zhongtai.healthcode.rules import Colour, Fact
from zhongtai.ingest.models import Job, Run
from zhongtai.sharing import reports

COLOURS = [c.label for c in Colour]
DAILY = "healthcode.daily"  # the producer of the daily report to the province
UNNAMED = "—"


@dataclass(frozen=True)
class Situation:
    at: datetime
    since: datetime  # the figures "today"/"in the period" count from here …
    until: datetime  # … to here
    district: str | None  # scans by street within this district; None: by district
    tests: int  # test results gathered by the platform in the period
    positives: int
    positives_today: int  # in the period
    colours: dict[str, int]  # people the platform holds evidence for, by their code's colour (now)
    scans: Table  # the period, district (or street) × colour at the scan (suppressed)
    traces_open: int
    traces_started: int  # in the period
    contacts: dict[str, int]  # by classification, all traces
    enterprises: Table  # district × state of the latest application (suppressed)
    risk_areas: int
    reports_delivered: int  # daily reports delivered upstream (向省报送)


def situation(
    session: Session, settings: Settings, now: datetime, day: date | None = None, district: str | None = None
) -> Situation:
    """Live figures (the last 24 hours; "today" since midnight) or a past day's (``day``, city time)."""
    if day is None:
        since, until = now - timedelta(hours=24), now
        midnight = now.astimezone(settings.zone).replace(hour=0, minute=0, second=0, microsecond=0)
    else:
        since = midnight = datetime.combine(day, time(), settings.zone)
        until = since + timedelta(days=1)
    positive = EvidenceRow.fact == Fact.POSITIVE_TEST.value
    colours = dict(
        session.execute(select(PersonColour.colour, func.count()).group_by(PersonColour.colour)).all()
    )
    contacts = dict(
        session.execute(select(TraceContact.kind, func.count()).group_by(TraceContact.kind)).all()
    )
    in_period = (EvidenceRow.at >= midnight, EvidenceRow.at < until)
    started = (Trace.created_at >= midnight, Trace.created_at < until)
    city = oversight.overview(session, settings, oversight.Area(None, settings.healthcode_city))
    return Situation(
        at=now,
        since=midnight,
        until=until,
        district=district,
        tests=_tests(session, settings, midnight, until),
        positives=session.scalar(select(func.count()).where(positive)) or 0,
        positives_today=session.scalar(select(func.count()).where(positive, *in_period)) or 0,
        colours={c.label: int(colours.get(int(c), 0)) for c in Colour},
        scans=_scans(session, settings, since, until, district),
        traces_open=session.scalar(select(func.count()).where(Trace.status == TraceStatus.OPEN)) or 0,
        traces_started=session.scalar(select(func.count()).select_from(Trace).where(*started)) or 0,
        contacts={kind: int(n) for kind, n in contacts.items()},
        enterprises=city.enterprises,
        risk_areas=len(
            areas.active(session, (until - timedelta(seconds=1)).astimezone(settings.zone).date())
        ),
        reports_delivered=reports.delivered_count(session, DAILY),
    )


def _tests(session: Session, settings: Settings, since: datetime, until: datetime) -> int:
    """Test results the platform gathered in the period: rows written by the batches of the test-result
    resource's jobs (a counter the ingestion keeps, not a scan of the records)."""
    query = (
        select(func.coalesce(func.sum(Run.rows_written), 0))
        .join(Job, Job.id == Run.job_id)
        .join(Resource, Resource.id == Job.resource_id)
        .where(
            Resource.name == settings.healthcode_tests_resource,
            Run.finished_at >= since,
            Run.finished_at < until,
        )
    )
    return int(session.scalar(query) or 0)


def _scans(
    session: Session, settings: Settings, since: datetime, until: datetime, district: str | None
) -> Table:
    known = districts(settings.city_division)
    where: dict[int, str] = {}
    for pid, address, street in session.execute(select(Place.id, Place.address, Place.street)):
        place_district = district_of(address, known)
        if district is None:
            where[pid] = place_district
        elif place_district == district:
            where[pid] = street or UNNAMED
    visits = (
        select(Visit.place_id, Visit.colour, func.count())
        .where(Visit.at >= since, Visit.at < until)
        .group_by(Visit.place_id, Visit.colour)
    )
    passages = (
        select(Passage.place_id, Passage.colour, func.count())
        .where(Passage.at >= since, Passage.at < until, Passage.subject.is_not(None))
        .group_by(Passage.place_id, Passage.colour)
    )
    counts: Counter[tuple[str, str]] = Counter()
    result: list[Any] = list(session.execute(union_all(visits, passages)))
    for place, colour, n in ((int(r[0]), r[1], int(r[2])) for r in result):
        if place not in where:
            continue  # a place outside the district asked for
        label = Colour(int(colour)).label if colour is not None else Colour.GREEN.label
        counts[(where[place], label)] += n
    if district is not None:
        rows = sorted({row for row, _ in counts})
    else:
        rows = [*known, OTHER] if any(k[0] == OTHER for k in counts) else list(known)
    return suppress(counts, rows, COLOURS)


def _table(table: Table, names: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "district": row,
            "name": names.get(row, row),
            "cells": {c: table.cells[(row, c)] for c in table.cols},
            "total": table.row_totals[row],
        }
        for row in table.rows
    ]


def daily_report(session: Session, settings: Settings, day: date) -> dict[str, Any]:
    """One day's figures as the province receives them (hidden cells are null)."""
    found = situation(session, settings, datetime.now(settings.zone), day)
    names = districts(settings.city_division)
    return {
        "city": settings.city_division,
        "day": day.isoformat(),
        "tests": found.tests,
        "positives": found.positives_today,
        "positives_total": found.positives,
        "colours": found.colours,
        "scans_by_district": _table(found.scans, names),
        "scans_total": found.scans.total,
        "traces_started": found.traces_started,
        "traces_open": found.traces_open,
        "contacts": found.contacts,
        "enterprises_by_district": _table(found.enterprises, names),
        "risk_areas": found.risk_areas,
        "suppression": "cells of 1-9 and cells derivable from totals are null",
    }


reports.register_producer(DAILY, daily_report)
