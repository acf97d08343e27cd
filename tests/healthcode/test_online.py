"""Online verification at a gate: the platform's own trust, a code refused once its holder's colour
changed (a screenshot stops working), the gate's rule; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.healthcode.test_codes import KEY, an_id
from tests.healthcode.test_rules import T0, fact
from zhongtai.core.database import transaction
from zhongtai.core.principal import SYSTEM
from zhongtai.core.pseudonym import subject_of
from zhongtai.core.settings import Settings
from zhongtai.healthcode import colouring, service
from zhongtai.healthcode.codes import person_claims, place_claims
from zhongtai.healthcode.envelope import EnvelopeError, Stage
from zhongtai.healthcode.gate import Decision, NotAPersonCode
from zhongtai.healthcode.rules import Fact, colour_of

NOW = T0 + timedelta(hours=1)


def issued_for(session: Session, settings: Settings, subject: str, number: str) -> str:
    """A person code for someone nothing is known about yet: green."""
    verdict = colour_of([], colouring.current_rules(session), NOW)
    return service.issue(
        session, settings, person_claims(subject, "王小明", number, verdict, settings, NOW), NOW
    )


def test_a_green_code_passes_until_its_holder_turns_red(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    number = an_id(3)
    subject = subject_of(number, KEY)
    with transaction(factory) as session:
        service.ensure_keys(session, settings, SYSTEM, NOW)
        green = issued_for(session, settings, subject, number)
        answer = service.verify_online(session, settings, green, NOW + timedelta(minutes=1))
        assert answer.decision is Decision.PASS and answer.masked_name == "王**"
        assert (
            service.verify_online(session, settings, green, NOW, temperature=37.8).decision
            is Decision.RESTRICTED
        )
    with transaction(factory) as session:  # a positive result arrives: the same (screenshot) code is refused
        colouring.record_evidence(session, [(subject, fact(Fact.POSITIVE_TEST, value="阳性"))])
        colouring.recompute(session, NOW, [subject])
    with transaction(factory) as session, pytest.raises(EnvelopeError) as refused:
        service.verify_online(session, settings, green, NOW + timedelta(minutes=1))
    assert refused.value.stage is Stage.REVOKED and "red" in refused.value.reason


def test_a_place_code_or_a_foreign_code_is_refused_at_a_gate(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    with transaction(factory) as session:
        service.ensure_keys(session, settings, SYSTEM, NOW)
        place = service.issue(session, settings, place_claims("CS-1", "菜市场", settings, NOW), NOW)
        with pytest.raises(NotAPersonCode):
            service.verify_online(session, settings, place, NOW)
        with pytest.raises(EnvelopeError) as dcc:
            service.verify_online(session, settings, "HC1:" + place[4:], NOW)
        assert dcc.value.stage is Stage.PREFIX
