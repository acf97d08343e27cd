"""Health staff read a person's reasons (their own department's data); another department's staff only
under a live grant on 安康码赋码信息; every read is an access entry with the person as subject."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.core.test_identity import login
from tests.healthcode.test_areas import _health_officer
from tests.public.helpers import WANG
from zhongtai.core.audit import AuditEvent
from zhongtai.core.database import transaction
from zhongtai.core.pseudonym import person_subject
from zhongtai.core.settings import Settings
from zhongtai.core.types import utcnow
from zhongtai.healthcode import colouring
from zhongtai.healthcode.rules import Evidence, Fact


def _look_up(staff: TestClient, number: str) -> tuple[int, str]:
    token = re.search(r'name="csrf_token" value="([^"]+)"', staff.get("/healthcode/persons").text)
    assert token
    answer = staff.post("/healthcode/persons", data={"csrf_token": token.group(1), "id_number": number})
    return answer.status_code, answer.text


def test_health_staff_read_reasons_and_the_read_is_audited_under_the_person(
    client: TestClient,
    world,
    factory: sessionmaker[Session],
    settings: Settings,  # type: ignore[no-untyped-def]
) -> None:
    subject = person_subject(settings, WANG.id_number)
    with transaction(factory) as session:
        now = utcnow()
        colouring.record_evidence(
            session, [(subject, Evidence(Fact.POSITIVE_TEST, now - timedelta(hours=3), "WJW", "HS77"))]
        )
        colouring.recompute(session, now, [subject])
    staff = _health_officer(client, world, factory)
    status, text = _look_up(staff, WANG.id_number)
    assert status == 200 and "红码" in text and "HS77" in text and WANG.id_number not in text
    with factory() as session:
        reads = session.scalars(
            select(AuditEvent).where(AuditEvent.event_type == "healthcode.reasons.read")
        ).all()
    assert [r.subject for r in reads] == [subject] and reads[0].actor_username == "wjw.officer"


def test_another_department_without_a_grant_is_refused(client: TestClient, world) -> None:  # type: ignore[no-untyped-def]
    other = TestClient(client.app)
    assert login(other, "officer_a") == 303
    status, text = _look_up(other, WANG.id_number)
    assert status == 403 and "授权" in text and re.search(r"HS\d", text) is None  # no test record named
    status, _ = _look_up(other, "12345")
    assert status == 422
