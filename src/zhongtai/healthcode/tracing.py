"""流调 (contact tracing): a confirmed case's entries — place-code scans and gate records — over the rules'
lookback, and everyone whose entries overlap them at the same place: a close contact within
``tracing.close_minutes`` (red), a co-visitor in the same half day (yellow); optionally the close contacts'
own close contacts (second degree, yellow). Each contact's code changes at once, by evidence naming the
place and the time of their own entry — never the case. Health staff confirm or dismiss each contact with
a reason (a dismissal withdraws the evidence) and close the trace. Every step is in the audit trail; each
contact's finding is an access entry with them as subject.

``classify`` is the rule itself, a pure function over entries (the tests hold it against a generated truth).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CompoundSelect, select, union_all
from sqlalchemy.orm import Session

from zhongtai.core import audit
from zhongtai.core.bulk import utc_moment
from zhongtai.core.errors import M_, Conflict, Forbidden, Invalid, NotFound
from zhongtai.core.principal import Principal
from zhongtai.core.settings import Settings
from zhongtai.core.types import CITY_ZONE
from zhongtai.healthcode import areas, colouring
from zhongtai.healthcode.models import (
    ContactStatus,
    EvidenceRow,
    Passage,
    Place,
    Trace,
    TraceContact,
    TraceStatus,
    Visit,
)
from zhongtai.healthcode.rules import Evidence, Fact, TracingRules
from zhongtai.healthcode.trail import person_access

STRENGTH = {Fact.CLOSE_CONTACT: 3, Fact.CO_VISITOR: 2, Fact.SECONDARY_CONTACT: 1}
PURPOSE = "epidemic.contact-tracing"


@dataclass(frozen=True, slots=True)
class Entry:
    """Someone at a place at a moment (a place scan or a gate record)."""

    subject: str
    place: int
    at: datetime


@dataclass(frozen=True, slots=True)
class Encounter:
    """The strongest overlap of one person with the traced entries: how, where, when (their entry)."""

    subject: str
    kind: Fact
    place: int
    at: datetime


def _half_day(moment: datetime) -> tuple[object, bool]:
    local = moment.astimezone(CITY_ZONE)
    return local.date(), local.hour < 12


def classify(
    traced: Sequence[Entry], others: Iterable[Entry], rules: TracingRules, exclude: set[str]
) -> dict[str, Encounter]:
    """Everyone in ``others`` whose entry overlaps one of ``traced`` at the same place: close within the
    minutes, else a co-visitor in the same half day (when the rules say so); one encounter per person,
    the strongest (then the earliest). ``exclude``: people never classified (the case itself)."""
    close = timedelta(minutes=rules.close_minutes)
    by_place: dict[int, list[Entry]] = {}
    for entry in traced:
        by_place.setdefault(entry.place, []).append(entry)
    found: dict[str, Encounter] = {}
    for other in others:
        if other.subject in exclude:
            continue
        for mine in by_place.get(other.place, ()):
            if abs(other.at - mine.at) <= close:
                kind = Fact.CLOSE_CONTACT
            elif rules.half_day and _half_day(other.at) == _half_day(mine.at):
                kind = Fact.CO_VISITOR
            else:
                continue
            _keep(found, Encounter(other.subject, kind, other.place, other.at))
    return found


def _keep(found: dict[str, Encounter], encounter: Encounter) -> None:
    current = found.get(encounter.subject)
    if current is None or (STRENGTH[encounter.kind], -encounter.at.timestamp()) > (
        STRENGTH[current.kind],
        -current.at.timestamp(),
    ):
        found[encounter.subject] = encounter


# Reading entries ----------------------------------------------------------------------------------------
def entries_of(session: Session, subject: str, since: datetime, until: datetime) -> list[Entry]:
    """A person's own entries in the period: place scans and gate records (refused scans name nobody)."""
    visits = select(Visit.subject, Visit.place_id, Visit.at).where(
        Visit.subject == subject, Visit.at >= since, Visit.at <= until
    )
    passages = select(Passage.subject, Passage.place_id, Passage.at).where(
        Passage.subject == subject, Passage.at >= since, Passage.at <= until
    )
    return _entries(session, union_all(visits, passages))


def entries_near(session: Session, traced: Sequence[Entry]) -> list[Entry]:
    """Everyone's entries at the traced places on the traced entries' half days (indexed by place and
    time): the only rows a trace reads beyond the case's own."""
    found: list[Entry] = []
    for place, start, end in _windows(traced):
        visits = select(Visit.subject, Visit.place_id, Visit.at).where(
            Visit.place_id == place, Visit.at >= start, Visit.at < end
        )
        passages = select(Passage.subject, Passage.place_id, Passage.at).where(
            Passage.place_id == place, Passage.at >= start, Passage.at < end, Passage.subject.is_not(None)
        )
        found.extend(_entries(session, union_all(visits, passages)))
    return found


def _entries(session: Session, query: CompoundSelect[Any]) -> list[Entry]:
    rows: list[tuple[Any, ...]] = [tuple(row) for row in session.execute(query)]
    return [Entry(str(subject), int(place), utc_moment(at)) for subject, place, at in rows]


def _windows(traced: Sequence[Entry]) -> set[tuple[int, datetime, datetime]]:
    """(place, start, end) of each traced entry's half day in city time (which covers the close window:
    the minutes around an entry near noon or midnight are added too)."""
    windows = set()
    for entry in traced:
        local = entry.at.astimezone(CITY_ZONE)
        start = local.replace(hour=0 if local.hour < 12 else 12, minute=0, second=0, microsecond=0)
        windows.add(
            (
                entry.place,
                start.astimezone(entry.at.tzinfo),
                (start + timedelta(hours=12)).astimezone(entry.at.tzinfo),
            )
        )
        margin = timedelta(minutes=240)  # at most the rules' close window, either side
        windows.add((entry.place, entry.at - margin, entry.at + margin))
    return windows


# The trace -------------------------------------------------------------------------------------------------
def may_trace(actor: Principal, settings: Settings) -> bool:
    return areas.may_declare(actor, settings)  # the health commission's staff


def _check(actor: Principal, settings: Settings) -> None:
    if not may_trace(actor, settings):
        raise Forbidden(M_("only the health commission's staff trace contacts"), code="forbidden")


def start(
    session: Session,
    settings: Settings,
    actor: Principal,
    case_subject: str,
    now: datetime,
    second_degree: bool = False,
) -> Trace:
    """Trace a confirmed case (a positive test on record): find, classify and mark its contacts."""
    _check(actor, settings)
    positive = session.scalars(
        select(EvidenceRow)
        .where(EvidenceRow.subject == case_subject, EvidenceRow.fact == Fact.POSITIVE_TEST.value)
        .order_by(EvidenceRow.at.desc())
    ).first()
    if positive is None:
        raise NotFound(M_("no positive test is on record for this person: nothing to trace"), code="no_case")
    rules = colouring.current_rules(session)
    since = now - timedelta(days=rules.tracing.lookback_days)
    serial = session.scalar(select(Trace.id).order_by(Trace.id.desc()).limit(1)) or 0
    trace = Trace(
        number=f"LD{now.astimezone(CITY_ZONE):%Y%m%d}{serial + 1:05d}",
        case_subject=case_subject,
        case_record=positive.record,
        rule_version=rules.version,
        since=since,
        until=now,
        second_degree=second_degree,
        created_by=actor.username,
        created_at=now,
    )
    session.add(trace)
    session.flush()
    traced = entries_of(session, case_subject, since, now)
    person_access(
        session,
        actor=actor.username,
        event="healthcode.trace.case_read",
        subject=case_subject,
        target=("trace", trace.number),
        items=["place", "time"],
        purpose=PURPOSE,
        department=actor.department_code,
    )
    found = classify(traced, entries_near(session, traced), rules.tracing, {case_subject})
    if second_degree:
        found.update(_second_degree(session, found, rules.tracing, {case_subject, *found}, now))
    _mark(session, settings, actor, trace, list(found.values()), now)
    audit.record(
        session,
        actor,
        "healthcode.trace.opened",
        "trace",
        trace.number,
        {"entries": len(traced), "contacts": len(found), "second_degree": second_degree},
    )
    return trace


def _second_degree(
    session: Session, first: dict[str, Encounter], rules: TracingRules, exclude: set[str], now: datetime
) -> dict[str, Encounter]:
    """Close contacts of the close contacts, from their encounter on: yellow, second degree."""
    found: dict[str, Encounter] = {}
    closeness = rules.model_copy(update={"half_day": False})
    for contact in first.values():
        if contact.kind is not Fact.CLOSE_CONTACT:
            continue
        theirs = entries_of(session, contact.subject, contact.at, now)
        for encounter in classify(theirs, entries_near(session, theirs), closeness, exclude).values():
            _keep(found, Encounter(encounter.subject, Fact.SECONDARY_CONTACT, encounter.place, encounter.at))
    return found


def place_names(session: Session, ids: set[int]) -> dict[int, str]:
    rows = session.execute(select(Place.id, Place.name).where(Place.id.in_(ids)))
    return {int(row[0]): str(row[1]) for row in rows}


def _mark(
    session: Session,
    settings: Settings,
    actor: Principal,
    trace: Trace,
    found: list[Encounter],
    now: datetime,
) -> None:
    places = place_names(session, {e.place for e in found})
    contacts = []
    for encounter in found:
        contact = TraceContact(
            trace_id=trace.id,
            subject=encounter.subject,
            degree=2 if encounter.kind is Fact.SECONDARY_CONTACT else 1,
            kind=encounter.kind.value,
            place_id=encounter.place,
            at=encounter.at,
        )
        session.add(contact)
        contacts.append(contact)
    session.flush()
    evidence = [
        (
            c.subject,
            Evidence(
                Fact(c.kind),
                c.at,
                settings.healthcode_department,
                evidence_record(trace, c),
                places.get(c.place_id, ""),
            ),
        )
        for c in contacts
    ]
    facts = colouring.facts_of(session, [c.subject for c in contacts])  # read once, not read back
    colouring.record_evidence(session, evidence)
    for subject, fact in evidence:
        facts.setdefault(subject, []).append(fact)
    for contact in contacts:
        person_access(
            session,
            actor=actor.username,
            event="healthcode.trace.contact_found",
            subject=contact.subject,
            target=("trace", trace.number),
            items=["place", "time"],
            purpose=PURPOSE,
            department=actor.department_code,
            detail={"kind": contact.kind},
        )
    colouring.recompute_known(session, now, {c.subject: facts[c.subject] for c in contacts})


def evidence_record(trace: Trace, contact: TraceContact) -> str:
    """What the contact's reason names: the trace and the contact's own number in it — not the case."""
    return f"{trace.number}-{contact.id}"


def visible_trace(session: Session, settings: Settings, actor: Principal, number: str) -> Trace:
    _check(actor, settings)
    trace = session.scalars(select(Trace).where(Trace.number == number)).first()
    if trace is None:
        raise NotFound(M_("no trace %(number)s", number=number), code="trace_not_found")
    return trace


def worklist_shown(session: Session, actor: Principal, trace: Trace, shown: list[str]) -> None:
    """Health staff were shown these contacts' masked names and ID numbers on the trace's worklist: one
    access each, so each finds it on their "who used my data" page."""
    for subject in shown:
        person_access(
            session,
            actor=actor.username,
            event="healthcode.trace.contact_viewed",
            subject=subject,
            target=("trace", trace.number),
            items=["name (masked)", "id_number (masked)"],
            purpose=PURPOSE,
            department=actor.department_code,
        )


def contacts(session: Session, trace: Trace) -> list[TraceContact]:
    query = select(TraceContact).where(TraceContact.trace_id == trace.id)
    return list(session.scalars(query.order_by(TraceContact.degree, TraceContact.at)))


def traces(session: Session, settings: Settings, actor: Principal) -> list[Trace]:
    _check(actor, settings)
    return list(session.scalars(select(Trace).order_by(Trace.id.desc()).limit(100)))


def decide(
    session: Session,
    settings: Settings,
    actor: Principal,
    number: str,
    contact_id: int,
    confirm: bool,
    reason: str,
    now: datetime,
) -> TraceContact:
    """Confirm a contact, or dismiss it with a reason (its evidence withdrawn, its colour recomputed)."""
    trace = visible_trace(session, settings, actor, number)
    contact = session.get(TraceContact, contact_id)
    if contact is None or contact.trace_id != trace.id:
        raise NotFound(M_("trace %(number)s has no such contact", number=number), code="contact_not_found")
    if trace.status is TraceStatus.CLOSED or contact.status is not ContactStatus.FOUND:
        raise Conflict(M_("this contact has been decided, or its trace closed"), code="decided")
    words = reason.strip()
    if not confirm and len(words) < 2:
        raise Invalid(M_("say why the contact is dismissed"), field="reason")
    contact.status = ContactStatus.CONFIRMED if confirm else ContactStatus.DISMISSED
    contact.reason, contact.decided_by, contact.decided_at = words, actor.username, now
    if not confirm:
        record = evidence_record(trace, contact)
        for row in session.scalars(
            select(EvidenceRow).where(EvidenceRow.subject == contact.subject, EvidenceRow.record == record)
        ):
            session.delete(row)
        session.flush()
        colouring.recompute(session, now, [contact.subject])
    audit.record(
        session,
        actor,
        "healthcode.trace.contact_confirmed" if confirm else "healthcode.trace.contact_dismissed",
        "trace",
        trace.number,
        {"contact": contact.id, "reason": words[:200]},
    )
    return contact


def close(
    session: Session, settings: Settings, actor: Principal, number: str, note: str, now: datetime
) -> Trace:
    trace = visible_trace(session, settings, actor, number)
    if trace.status is TraceStatus.CLOSED:
        raise Conflict(M_("trace %(number)s is closed already", number=number), code="closed")
    trace.status, trace.closed_by, trace.closed_at, trace.close_note = (
        TraceStatus.CLOSED,
        actor.username,
        now,
        note.strip(),
    )
    session.flush()
    audit.record(session, actor, "healthcode.trace.closed", "trace", trace.number, {"note": note[:200]})
    return trace


def positives(session: Session, settings: Settings, actor: Principal, limit: int = 50) -> list[EvidenceRow]:
    """Cases one may trace: the newest positive results on record (by pseudonym)."""
    _check(actor, settings)
    query = select(EvidenceRow).where(EvidenceRow.fact == Fact.POSITIVE_TEST.value)
    return list(session.scalars(query.order_by(EvidenceRow.at.desc()).limit(limit)))
