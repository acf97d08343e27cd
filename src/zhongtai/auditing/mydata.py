"""我的数据被谁用了: every access to a person's data, from the audit entries that name them as subject
(their pseudonym), newest first, by keyset pages — and objections (异议) to any of them, which go to the
auditors. Only the person sees their list (the public side asks with the signed-in citizen's pseudonym)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from zhongtai.auditing.auth import check_read_audit
from zhongtai.auditing.models import Objection, ObjectionStatus
from zhongtai.core import audit
from zhongtai.core.audit import AuditEvent
from zhongtai.core.bulk import select_rows, utc_moment
from zhongtai.core.errors import M_, Conflict, Invalid, NotFound, TooManyAttempts
from zhongtai.core.principal import Principal, platform_actor

PAGE = 50
OBJECTIONS_PER_DAY = 5  # per person: an objection is read by a person, not a machine
ACCESSES = (
    "SELECT id, occurred_at, actor_username, department_code, event_type, purpose, items, grant_id, outcome, "
    "app, target_type, target_id FROM audit_events WHERE subject = ? AND id < ? ORDER BY id DESC LIMIT ?"
)


@dataclass(frozen=True, slots=True)
class Access:
    id: int
    at: datetime
    actor: str
    department: str | None
    event_type: str
    purpose: str | None
    items: list[str]
    grant_id: int | None
    outcome: str
    app: str | None
    target: str


def accesses_of(session: Session, subject: str, before: int | None = None, limit: int = PAGE) -> list[Access]:
    """One page of the accesses naming ``subject`` (``before``: the last id of the previous page)."""
    rows = select_rows(session.connection(), ACCESSES, (subject, before or 2**62, limit))
    return [_access(row) for row in rows]


def _access(row: tuple[Any, ...]) -> Access:
    ident, at, actor, department, event, purpose, items, grant, outcome, app, target_type, target_id = row
    listed = json.loads(items) if isinstance(items, str) else (items or [])
    return Access(
        ident,
        utc_moment(at),
        actor,
        department,
        event,
        purpose,
        listed,
        grant,
        outcome,
        app,
        f"{target_type}:{target_id}",
    )


def object_to(session: Session, who: tuple[int, str], event_id: int, text: str, now: datetime) -> Objection:
    """An objection to one access of the person's own data; five a day per person."""
    citizen_id, subject = who
    entry = session.get(AuditEvent, event_id)
    if entry is None or entry.subject != subject:
        raise NotFound(M_("no such access to your data"), code="access_not_found")
    words = text.strip()
    if not 5 <= len(words) <= 1000:
        raise Invalid(M_("say in 5 to 1,000 characters what you object to"), field="text")
    today = select(func.count()).where(
        Objection.citizen_id == citizen_id, Objection.filed_at > now - timedelta(days=1)
    )
    if (session.scalar(today) or 0) >= OBJECTIONS_PER_DAY:
        refusal = TooManyAttempts(
            M_("at most %(n)s objections a day; try again tomorrow", n=OBJECTIONS_PER_DAY)
        )
        refusal.retry_after = 3600
        raise refusal
    open_one = select(Objection.id).where(
        Objection.event_id == event_id, Objection.status == ObjectionStatus.OPEN
    )
    if session.scalar(open_one) is not None:
        raise Conflict(M_("an objection to this access is already with the auditors"), code="objection_open")
    objection = Objection(subject=subject, citizen_id=citizen_id, event_id=event_id, text=words, filed_at=now)
    session.add(objection)
    session.flush()
    audit.record(session, platform_actor(f"citizen:{citizen_id}", "citizen"), "audit.objection.filed",
                 "objection", str(objection.id), {"event": event_id})  # fmt: skip
    return objection


def objections_of(session: Session, citizen_id: int) -> list[Objection]:
    query = select(Objection).where(Objection.citizen_id == citizen_id).order_by(Objection.id.desc())
    return list(session.scalars(query.limit(50)))


def queue(session: Session, actor: Principal) -> list[tuple[Objection, AuditEvent | None]]:
    check_read_audit(actor)
    query = select(Objection).order_by(Objection.status != ObjectionStatus.OPEN, Objection.filed_at)
    return [(o, session.get(AuditEvent, o.event_id)) for o in session.scalars(query.limit(200))]


def answer(session: Session, actor: Principal, objection_id: int, text: str, now: datetime) -> Objection:
    check_read_audit(actor)
    objection = session.get(Objection, objection_id)
    if objection is None:
        raise NotFound(M_("no such objection"), code="objection_not_found")
    if objection.status is ObjectionStatus.ANSWERED:
        raise Conflict(M_("the objection was already answered"), code="objection_answered")
    if not text.strip():
        raise Invalid(M_("give the person an answer"), field="answer")
    objection.status, objection.answer = ObjectionStatus.ANSWERED, text.strip()[:1000]
    objection.answered_by, objection.answered_at = actor.username, now
    audit.record(session, actor, "audit.objection.answered", "objection", str(objection.id))
    return objection
