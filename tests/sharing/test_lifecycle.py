"""The application state machine: every action from every status, allowed exactly where declared."""

from __future__ import annotations

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import World
from tests.sharing.helpers import apply_body, shared_people
from zhongtai.core.database import transaction
from zhongtai.core.errors import Conflict
from zhongtai.core.identity.repository import IdentityRepository
from zhongtai.core.identity.service import principal_for
from zhongtai.core.principal import Principal
from zhongtai.core.settings import Settings
from zhongtai.sharing import service
from zhongtai.sharing.lifecycle import BUREAU_APPROVED, TRANSITIONS, Actor, add_working_days
from zhongtai.sharing.models import Application, ApplicationStatus
from zhongtai.sharing.schemas import ApplicationCreate

ACTING = {Actor.APPLICANT: "consumer_c", Actor.BUREAU: "bureau_reviewer", Actor.PROVIDER: "reviewer_a"}


def principal(session: Session, settings: Settings, username: str) -> Principal:
    user = IdentityRepository(session).user_by_username(username)
    assert user is not None
    return principal_for(user, settings)


@pytest.mark.parametrize("status", list(ApplicationStatus))
@pytest.mark.parametrize("action", list(TRANSITIONS))
def test_every_action_from_every_status(
    world: World, factory: sessionmaker[Session], settings: Settings, status: ApplicationStatus, action: str
) -> None:
    resource, _ = shared_people(factory, settings, rows=1)
    transition = TRANSITIONS[action]
    with transaction(factory) as session:
        applicant = principal(session, settings, "consumer_c")
        number = service.apply(
            session, settings, applicant, ApplicationCreate.model_validate(apply_body(resource))
        ).number
        session.execute(update(Application).where(Application.number == number).values(status=status))
    with transaction(factory) as session:
        actor = principal(session, settings, ACTING[transition.actor])
        if status in transition.sources:
            moved = service.act(session, settings, actor, number, action, "理由")
            expected = BUREAU_APPROVED["conditional"] if action == "bureau_approve" else transition.target
            assert moved.status is expected
        else:
            with pytest.raises(Conflict):
                service.act(session, settings, actor, number, action, "理由")


def test_deadlines_count_working_days_in_city_time() -> None:
    from datetime import datetime

    from zhongtai.core.types import CITY_ZONE

    friday = datetime(2026, 11, 27, 16, 0, tzinfo=CITY_ZONE)
    assert add_working_days(friday, 2).date().isoformat() == "2026-12-01"  # Monday, Tuesday
    assert add_working_days(friday, 5).date().isoformat() == "2026-12-04"


def test_an_overdue_step_is_escalated_once_and_shows_in_the_queue(
    world: World, factory: sessionmaker[Session], settings: Settings
) -> None:
    from datetime import timedelta

    from zhongtai.core.audit import AuditEvent
    from zhongtai.core.types import utcnow

    resource, _ = shared_people(factory, settings, rows=1)
    with transaction(factory) as session:
        applicant = principal(session, settings, "consumer_c")
        application = service.apply(
            session, settings, applicant, ApplicationCreate.model_validate(apply_body(resource))
        )
        number = application.number
        due = application.step_due_at
    assert due is not None and timedelta(days=2) <= due - application.created_at <= timedelta(days=4)
    with transaction(factory) as session:
        assert service.escalate_overdue(session, utcnow()) == []  # not due yet
        session.execute(
            update(Application)
            .where(Application.number == number)
            .values(step_due_at=utcnow() - timedelta(hours=1))
        )
    with transaction(factory) as session:
        assert service.escalate_overdue(session, utcnow()) == [number]
    with transaction(factory) as session:
        assert service.escalate_overdue(session, utcnow()) == []  # once
        viewer = principal(session, settings, "bureau_reviewer")
        view = service.application_view(session, viewer, service.visible_application(session, viewer, number))
        assert view["overdue"] is True and view["escalated_at"] is not None
        stats = {row["department"]: row for row in service.statistics(session)}
        assert stats["WJW"]["overdue"] == 1
    with factory() as session:
        from sqlalchemy import select

        events = list(session.scalars(select(AuditEvent.event_type).where(AuditEvent.target_id == number)))
    assert events.count("sharing.application.escalated") == 1
