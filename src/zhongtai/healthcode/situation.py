"""疫情"战况": the epidemic situation as figures — positives, codes by colour, scans in the last 24 hours by
district and colour, traces and contacts, risk areas — for health staff, the bureau and the big screen.
Aggregates only: every table by district goes through small-cell suppression (``core.suppression``), so no
cell of 1–9 people is shown or derivable; no person is ever named here.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import func, select, union_all
from sqlalchemy.orm import Session

from zhongtai.core.settings import Settings
from zhongtai.core.suppression import Table, suppress
from zhongtai.governance.elements import division_name
from zhongtai.healthcode import areas
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

COLOURS = [c.label for c in Colour]
OTHER = "other"  # a place whose address names none of the city's districts


@dataclass(frozen=True)
class Situation:
    at: datetime
    positives: int
    positives_today: int
    colours: dict[str, int]  # people the platform holds evidence for, by their code's colour
    scans: Table  # the last 24 hours, district × colour at the scan (suppressed)
    traces_open: int
    contacts: dict[str, int]  # by classification
    risk_areas: int


@cache
def districts(city: str) -> dict[str, str]:
    """The city's districts (GB/T 2260 codes under it) and their names."""
    found = {}
    for n in range(1, 100):
        code = f"{city[:4]}{n:02d}"
        name = division_name(code)
        if name:
            found[code] = name
    return found


def district_of(address: str, known: dict[str, str]) -> str:
    return next((code for code, name in known.items() if name in address), OTHER)


def situation(session: Session, settings: Settings, now: datetime) -> Situation:
    today = now.astimezone(settings.zone).replace(hour=0, minute=0, second=0, microsecond=0)
    positive = EvidenceRow.fact == Fact.POSITIVE_TEST.value
    colours = dict(
        session.execute(select(PersonColour.colour, func.count()).group_by(PersonColour.colour)).all()
    )
    contacts = dict(
        session.execute(select(TraceContact.kind, func.count()).group_by(TraceContact.kind)).all()
    )
    return Situation(
        at=now,
        positives=session.scalar(select(func.count()).where(positive)) or 0,
        positives_today=session.scalar(select(func.count()).where(positive, EvidenceRow.at >= today)) or 0,
        colours={c.label: int(colours.get(int(c), 0)) for c in Colour},
        scans=_scans(session, settings, now),
        traces_open=session.scalar(select(func.count()).where(Trace.status == TraceStatus.OPEN)) or 0,
        contacts={kind: int(n) for kind, n in contacts.items()},
        risk_areas=len(areas.active(session, now.astimezone(settings.zone).date())),
    )


def _scans(session: Session, settings: Settings, now: datetime) -> Table:
    since = now - timedelta(hours=24)
    known = districts(settings.city_division)
    where = {
        pid: district_of(address, known) for pid, address in session.execute(select(Place.id, Place.address))
    }
    visits = (
        select(Visit.place_id, Visit.colour, func.count())
        .where(Visit.at >= since)
        .group_by(Visit.place_id, Visit.colour)
    )
    passages = (
        select(Passage.place_id, Passage.colour, func.count())
        .where(Passage.at >= since, Passage.subject.is_not(None))
        .group_by(Passage.place_id, Passage.colour)
    )
    counts: Counter[tuple[str, str]] = Counter()
    result: list[Any] = list(session.execute(union_all(visits, passages)))
    rows_found = [(int(row[0]), row[1], int(row[2])) for row in result]
    for place, colour, n in rows_found:
        label = Colour(int(colour)).label if colour is not None else Colour.GREEN.label
        counts[(where.get(place, OTHER), label)] += n
    rows = [*known, OTHER] if any(k[0] == OTHER for k in counts) else list(known)
    return suppress(counts, rows, COLOURS)
