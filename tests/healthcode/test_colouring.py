"""Colours kept in the database: recomputed for new evidence and in bulk after a rule change, every
change in the person's history, each colour naming its rule version; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.healthcode.test_rules import T0, fact
from zhongtai.core.audit import AuditEvent
from zhongtai.core.database import transaction
from zhongtai.core.principal import SYSTEM
from zhongtai.healthcode import colouring
from zhongtai.healthcode.models import ColourChange, PersonColour
from zhongtai.healthcode.rules import Colour, Fact, RuleSet, YellowRules


def stored(factory: sessionmaker[Session]) -> dict[str, PersonColour]:
    with factory() as session:
        return {c.subject: c for c in session.scalars(select(PersonColour))}


def history(factory: sessionmaker[Session], subject: str) -> list[tuple[int | None, int, int]]:
    with factory() as session:
        rows = session.scalars(
            select(ColourChange).where(ColourChange.subject == subject).order_by(ColourChange.id)
        )
        return [(row.previous, row.colour, row.rule_version) for row in rows]


def test_new_evidence_recomputes_its_person_with_reasons_and_history(factory: sessionmaker[Session]) -> None:
    with transaction(factory) as session:
        colouring.record_evidence(
            session,
            [("p-1", fact(Fact.POSITIVE_TEST, value="阳性")), ("p-2", fact(Fact.CHECKIN_NORMAL))],
        )
        done = colouring.recompute(session, T0 + timedelta(hours=1), ["p-1", "p-2"])
    assert done.persons == 2 and done.changed == 1 and done.rule_version == 1
    colours = stored(factory)
    assert colours["p-1"].colour == Colour.RED and colours["p-2"].colour == Colour.GREEN
    reason = colours["p-1"].reasons[0]
    assert reason["rule"] == "red.positive_test" and reason["department"] == "WJW" and reason["record"]
    assert history(factory, "p-1") == [(None, Colour.RED, 1)] and history(factory, "p-2") == []

    with transaction(factory) as session:  # fourteen days and check-ins later: green again, in the history
        colouring.record_evidence(session, [("p-1", fact(Fact.CHECKIN_NORMAL, d)) for d in range(1, 15)])
        colouring.recompute(session, T0 + timedelta(days=14), ["p-1"])
    assert stored(factory)["p-1"].colour == Colour.GREEN
    assert history(factory, "p-1") == [(None, Colour.RED, 1), (Colour.RED, Colour.GREEN, 1)]


def test_a_rule_change_is_a_new_version_and_a_bulk_recompute_applies_it(
    factory: sessionmaker[Session],
) -> None:
    with transaction(factory) as session:
        colouring.record_evidence(
            session,
            [
                (f"p-{n:05d}", fact(Fact.GATE_TEMPERATURE, value=37.5 if n % 2 else 36.6))
                for n in range(12_000)
            ],
        )
        first = colouring.recompute(session, T0 + timedelta(minutes=5))
    assert first.persons == 12_000 and first.changed == 6_000  # pages of 5,000: every person reached
    with transaction(factory) as session:
        saved = colouring.save_rules(
            session, SYSTEM, RuleSet(yellow=YellowRules(fever_celsius=37.6)), "放宽发热线"
        )
        assert saved.version == 2 and colouring.current_rules(session).yellow.fever_celsius == 37.6
        again = colouring.recompute(session, T0 + timedelta(minutes=10))
    assert again.rule_version == 2 and again.changed == 6_000
    colours = stored(factory)
    assert all(c.colour == Colour.GREEN and c.rule_version == 2 for c in colours.values())
    assert history(factory, "p-00001") == [(None, Colour.YELLOW, 1), (Colour.YELLOW, Colour.GREEN, 2)]
    with factory() as session:
        saved_event = session.scalars(
            select(AuditEvent).where(AuditEvent.event_type == "healthcode.rules.saved")
        )
        assert json.dumps(saved_event.one().changes, ensure_ascii=False).count("37.6") == 1


def test_recomputing_without_news_writes_nothing(factory: sessionmaker[Session]) -> None:
    with transaction(factory) as session:
        colouring.record_evidence(session, [("p-1", fact(Fact.SYMPTOMS))])
        colouring.recompute(session, T0 + timedelta(hours=1))
        again = colouring.recompute(session, T0 + timedelta(hours=2))
    assert again.persons == 1 and again.changed == 0
    assert history(factory, "p-1") == [(None, Colour.YELLOW, 1)]
