"""The daily check-in (健康打卡): a person (or a citizen for a family member) declares symptoms or none,
once a day in city time. Symptoms are a yellow reason; normal check-ins are what red and yellow codes need
to turn green again. Recorded as evidence from the person themselves and recomputed at once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from zhongtai.core.errors import M_, Conflict, Invalid
from zhongtai.core.settings import Settings
from zhongtai.healthcode import colouring
from zhongtai.healthcode.repository import HealthCodeRepository
from zhongtai.healthcode.rules import Evidence, Fact
from zhongtai.healthcode.trail import person_access

SYMPTOMS = ("fever", "cough", "fatigue", "sore_throat", "diarrhoea", "smell_taste")
SELF = "SELF"  # the department a declaration comes from: the person themselves


def check_in(
    session: Session, settings: Settings, subject: str, symptoms: list[str], actor: str, now: datetime
) -> Fact:
    """Record today's check-in; a second one the same day is refused (409)."""
    unknown = [s for s in symptoms if s not in SYMPTOMS]
    if unknown:
        raise Invalid(M_("unknown symptom %(name)s", name=unknown[0]), field="symptoms")
    record = f"checkin-{now.astimezone(settings.zone):%Y-%m-%d}"
    repo = HealthCodeRepository(session)
    for fact in (Fact.CHECKIN_NORMAL, Fact.SYMPTOMS):
        if (subject, record) in repo.recorded([subject], fact.value):
            raise Conflict(M_("already checked in today"), code="checked_in_today")
    fact = Fact.SYMPTOMS if symptoms else Fact.CHECKIN_NORMAL
    value = ",".join(symptoms) or None
    colouring.record_evidence(session, [(subject, Evidence(fact, now, SELF, record, value))])
    colouring.recompute(session, now, [subject])
    person_access(
        session,
        actor=actor,
        event="healthcode.checkin.recorded",
        subject=subject,
        target=("person_code", subject),
        items=["symptoms"],
    )
    return fact


def checked_in_today(session: Session, settings: Settings, subject: str, now: datetime) -> bool:
    record = f"checkin-{now.astimezone(settings.zone):%Y-%m-%d}"
    repo = HealthCodeRepository(session)
    return any(
        (subject, record) in repo.recorded([subject], f.value) for f in (Fact.CHECKIN_NORMAL, Fact.SYMPTOMS)
    )
