"""Contact tracing: everyone whose entries overlapped a case's at the same place is found and classified as
the rules say — checked against a generated scenario whose truth is worked out here, independently —; their
codes change at once with a reason naming the place, never the case; a dismissal withdraws it; overlapping
traces keep one colour and both reasons; only health staff trace, and only a confirmed case."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import World
from zhongtai.core.audit import AuditEvent
from zhongtai.core.database import transaction
from zhongtai.core.errors import Forbidden, NotFound
from zhongtai.core.identity.models import Role
from zhongtai.core.principal import Principal
from zhongtai.core.pseudonym import person_subject
from zhongtai.core.settings import Settings
from zhongtai.core.types import CITY_ZONE
from zhongtai.healthcode import colouring, tracing
from zhongtai.healthcode.models import Gate, Passage, Place, PlaceStatus, Visit
from zhongtai.healthcode.repository import HealthCodeRepository
from zhongtai.healthcode.rules import Colour, Evidence, Fact, TracingRules
from zhongtai.healthcode.tracing import Entry

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)  # 20:00 in the city
RULES = TracingRules()


def _truth(case: str, entries: list[Entry], rules: TracingRules) -> dict[str, Fact]:
    """The classification worked out the slow, obvious way: every pair of entries at one place."""
    mine = [e for e in entries if e.subject == case]
    found: dict[str, Fact] = {}
    for other in entries:
        if other.subject == case:
            continue
        for own in mine:
            if own.place != other.place:
                continue
            if abs((other.at - own.at).total_seconds()) <= rules.close_minutes * 60:
                found[other.subject] = Fact.CLOSE_CONTACT
            elif found.get(other.subject) is not Fact.CLOSE_CONTACT:
                a, b = own.at.astimezone(CITY_ZONE), other.at.astimezone(CITY_ZONE)
                if a.date() == b.date() and (a.hour < 12) == (b.hour < 12):
                    found[other.subject] = Fact.CO_VISITOR
    return found


def _scenario(seed: int, persons: int = 60, places: int = 5, days: int = 3) -> list[Entry]:
    rng = random.Random(seed)
    start = NOW - timedelta(days=days)
    return [
        Entry(
            f"p-{rng.randrange(persons):04d}",
            rng.randrange(1, places + 1),
            start + timedelta(minutes=rng.randrange(days * 1440)),
        )
        for _ in range(persons * 3 * days)
    ]


@pytest.mark.parametrize("seed", range(8))
def test_classification_matches_the_generated_truth(seed: int) -> None:
    entries = _scenario(seed)
    case = entries[0].subject
    found = tracing.classify([e for e in entries if e.subject == case], entries, RULES, {case})
    truth = _truth(case, entries, RULES)
    assert {s: e.kind for s, e in found.items()} == truth  # precision and recall 1.0


# The platform: entries in the tables, a case with a positive result ----------------------------------
def _health(settings: Settings) -> Principal:
    return Principal(
        None, "wjw.officer", "wjw.officer", 4, settings.healthcode_department, frozenset({Role.OFFICER})
    )


def _places(session: Session, settings: Settings, count: int) -> list[tuple[int, int]]:
    """(place id, gate id) of ``count`` approved places of one owner, each with a gate."""
    from tests.public.helpers import WANG
    from zhongtai.public import service as public

    owner = public.enrol(session, settings, (WANG.id_number, WANG.name, WANG.mobile), NOW)
    ids = []
    for n in range(count):
        place = Place(
            owner_citizen_id=owner.id,
            name=f"场所{n}",
            kind="shop",
            address="蜀山区幸福路",
            street="稻香村街道",
            office="SSQ",
            status=PlaceStatus.APPROVED,
            code=f"P{n:05d}",
        )
        session.add(place)
        session.flush()
        gate = Gate(place_id=place.id, name="正门", token_hash=f"{n:064d}")
        session.add(gate)
        session.flush()
        ids.append((place.id, gate.id))
    return ids


def _store(factory: sessionmaker[Session], settings: Settings, entries: list[Entry], case: str) -> None:
    """The entries as place scans (even) and gate records (odd); the case's positive test on record."""
    with transaction(factory) as session:
        ids = _places(session, settings, 1 + max(e.place for e in entries))
        for n, entry in enumerate(entries):
            place, gate = ids[entry.place]
            if n % 2:
                session.add(
                    Passage(gate_id=gate, place_id=place, subject=entry.subject, at=entry.at, decision="pass")
                )
            else:
                session.add(Visit(place_id=place, subject=entry.subject, at=entry.at, colour=0))
        positive = Evidence(Fact.POSITIVE_TEST, NOW - timedelta(hours=2), "WJW", "HS0001")
        colouring.record_evidence(session, [(case, positive)])


@pytest.fixture
def scenario(factory: sessionmaker[Session], world: World, settings: Settings) -> tuple[list[Entry], str]:
    entries = _scenario(3, persons=40, places=4, days=2)
    case = entries[0].subject
    _store(factory, settings, entries, case)
    return entries, case


def test_a_trace_finds_the_truth_in_the_tables_and_changes_codes(
    factory: sessionmaker[Session], settings: Settings, scenario: tuple[list[Entry], str]
) -> None:
    entries, case = scenario
    truth = _truth(case, entries, RULES)
    with transaction(factory) as session:
        trace = tracing.start(session, settings, _health(settings), case, NOW)
        found = {c.subject: Fact(c.kind) for c in tracing.contacts(session, trace)}
        number = trace.number
    assert found == truth and truth
    with factory() as session:
        repo = HealthCodeRepository(session)
        for subject, kind in truth.items():
            colour = repo.stored_colour(subject)
            assert colour is not None
            assert colour.colour == (Colour.RED if kind is Fact.CLOSE_CONTACT else Colour.YELLOW)
            assert all(
                case not in str(r) and "HS0001" not in str(r) for r in colour.reasons
            )  # never the case
            assert any(str(r["record"]).startswith(number) for r in colour.reasons)
        named = set(
            session.scalars(
                select(AuditEvent.subject).where(AuditEvent.event_type == "healthcode.trace.contact_found")
            )
        )
        assert named == set(truth)


def test_a_dismissed_contact_is_green_again_and_overlapping_traces_keep_both_reasons(
    factory: sessionmaker[Session], settings: Settings, scenario: tuple[list[Entry], str]
) -> None:
    entries, case = scenario
    close = sorted(s for s, k in _truth(case, entries, RULES).items() if k is Fact.CLOSE_CONTACT)
    assert close
    staff = _health(settings)
    with transaction(factory) as session:
        first = tracing.start(session, settings, staff, case, NOW)
        second = tracing.start(session, settings, staff, case, NOW)
        subject = close[0]
        colour = HealthCodeRepository(session).stored_colour(subject)
        assert colour is not None and colour.colour == Colour.RED and len(colour.reasons) >= 2
        contact = next(c for c in tracing.contacts(session, first) if c.subject == subject)
        tracing.decide(
            session, settings, staff, first.number, contact.id, False, "当时不在现场(监控核实)", NOW
        )
        still = HealthCodeRepository(session).stored_colour(subject)
        assert still is not None and still.colour == Colour.RED  # the other trace still holds
        other = next(c for c in tracing.contacts(session, second) if c.subject == subject)
        tracing.decide(
            session, settings, staff, second.number, other.id, False, "当时不在现场(监控核实)", NOW
        )
        assert HealthCodeRepository(session).colour_of(subject)[0] == Colour.GREEN  # type: ignore[index]
        tracing.close(session, settings, staff, first.number, "已全部核实", NOW)


def test_only_health_staff_trace_and_only_a_confirmed_case(
    factory: sessionmaker[Session], settings: Settings, scenario: tuple[list[Entry], str]
) -> None:
    _, case = scenario
    clerk = Principal(None, "gaj.officer", "gaj.officer", 2, "GAJ", frozenset({Role.OFFICER}))
    with transaction(factory) as session:
        with pytest.raises(Forbidden):
            tracing.start(session, settings, clerk, case, NOW)
        with pytest.raises(NotFound):
            tracing.start(session, settings, _health(settings), "p-nobody", NOW)


def test_second_degree_finds_the_close_contacts_contacts(
    factory: sessionmaker[Session], settings: Settings, world: World
) -> None:
    at = NOW - timedelta(hours=30)
    entries = [
        Entry("p-case", 0, at),
        Entry("p-close", 0, at + timedelta(minutes=10)),  # met the case
        Entry("p-close", 1, at + timedelta(hours=3)),  # later, elsewhere
        Entry("p-second", 1, at + timedelta(hours=3, minutes=5)),  # met the close contact
        Entry("p-before", 1, at - timedelta(hours=3)),  # at that place before the close contact met the case
    ]
    _store(factory, settings, entries, "p-case")
    with transaction(factory) as session:
        trace = tracing.start(session, settings, _health(settings), "p-case", NOW, second_degree=True)
        found = {c.subject: (c.kind, c.degree) for c in tracing.contacts(session, trace)}
    assert found == {"p-close": ("close_contact", 1), "p-second": ("secondary_contact", 2)}


def test_health_staff_trace_from_the_page(
    client: TestClient, factory: sessionmaker[Session], world: World, settings: Settings
) -> None:
    from tests.healthcode.test_areas import _health_officer

    at = NOW - timedelta(hours=30)
    _store(
        factory, settings, [Entry("p-case", 0, at), Entry("p-near", 0, at + timedelta(minutes=5))], "p-case"
    )
    staff = _health_officer(client, world, factory)
    page = staff.get("/healthcode/traces")
    assert page.status_code == 200 and "HS0001" in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    bad = staff.post("/healthcode/traces", data={"csrf_token": token.group(1), "id_number": "12345"})
    assert bad.status_code == 422
    none = staff.post("/healthcode/traces", data={"csrf_token": token.group(1), "subject": "p-nobody"})
    assert none.status_code == 404 and "没有阳性检测记录" in none.text
    started = staff.post(
        "/healthcode/traces", data={"csrf_token": token.group(1), "subject": "p-case"}, follow_redirects=False
    )
    assert started.status_code == 303
    trace = staff.get(started.headers["location"]).text
    assert "密切接触者" in trace and "p-near"[:10] in trace
    contact = re.search(r'action="(/healthcode/traces/LD\d+/contacts/\d+)"', trace)
    assert contact
    refused = staff.post(
        contact.group(1), data={"csrf_token": token.group(1), "action": "dismiss", "reason": ""}
    )
    assert refused.status_code == 422 and "排除的理由" in refused.text
    other = TestClient(client.app)
    assert other.get("/healthcode/traces", follow_redirects=False).status_code == 303  # staff sign in first


def test_contacts_known_to_the_public_side_are_shown_masked(
    factory: sessionmaker[Session], world: World, settings: Settings
) -> None:
    from tests.public.helpers import WANG
    from zhongtai.healthcode import persons
    from zhongtai.public import service as public

    with transaction(factory) as session:
        public.enrol(session, settings, (WANG.id_number, WANG.name, WANG.mobile), NOW)
        wang = person_subject(settings, WANG.id_number)
        labels = persons.masked_labels(session, settings, [wang, "p-stranger"])
    assert set(labels) == {wang}
    assert labels[wang].startswith(WANG.name[0]) and "*" in labels[wang]
    assert WANG.name not in labels[wang] and WANG.id_number not in labels[wang]
    assert labels[wang].endswith(WANG.id_number[-4:])


def test_a_worklist_that_shows_a_masked_identity_records_whom_it_showed(
    client: TestClient, factory: sessionmaker[Session], world: World, settings: Settings
) -> None:
    from tests.healthcode.test_areas import _health_officer
    from tests.public.helpers import WANG
    from zhongtai.core.audit import AuditEvent
    from zhongtai.public import service as public

    with transaction(factory) as session:
        public.enrol(session, settings, (WANG.id_number, WANG.name, WANG.mobile), NOW)
    wang = person_subject(settings, WANG.id_number)
    at = NOW - timedelta(hours=30)
    entries = [Entry("p-case", 0, at), Entry(wang, 0, at + timedelta(minutes=5)), Entry("p-x", 0, at)]
    _store(factory, settings, entries, "p-case")
    with transaction(factory) as session:
        number = tracing.start(session, settings, _health(settings), "p-case", NOW).number
    staff = _health_officer(client, world, factory)
    shown = staff.get(f"/healthcode/traces/{number}")
    assert shown.status_code == 200 and WANG.id_number[-4:] in shown.text and WANG.name not in shown.text
    staff.get(f"/healthcode/traces/{number}")

    def viewed(subject: str) -> int:
        query = select(AuditEvent).where(
            AuditEvent.event_type == "healthcode.trace.contact_viewed", AuditEvent.subject == subject
        )
        with factory() as session:
            return len(list(session.scalars(query)))

    assert viewed(wang) == 2 and viewed("p-x") == 0  # each view of a known person; a pseudonym is no one
