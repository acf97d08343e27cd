"""Correction requests (纠错申诉): a person disputes one reason of their code; the request goes to the
department whose record caused it (the health commission for its own declarations' channels and gates),
due within ``healthcode_correction_workdays`` working days. Upheld: the disputed evidence is withdrawn
and the code recomputed; rejected: the record stands, with the department's answer shown to the person."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from zhongtai.core.errors import M_, Conflict, Forbidden, Invalid, NotFound
from zhongtai.core.identity.models import Role
from zhongtai.core.principal import Principal
from zhongtai.core.settings import Settings
from zhongtai.healthcode import colouring
from zhongtai.healthcode.checkins import SELF
from zhongtai.healthcode.models import Correction, CorrectionStatus, EvidenceRow
from zhongtai.healthcode.trail import person_access
from zhongtai.sharing.masking import mask_name

NOT_DEPARTMENTS = ("GATE", SELF)  # evidence channels, not departments: answered by health staff


def _add_workdays(moment: datetime, days: int) -> datetime:
    left = days
    while left:
        moment += timedelta(days=1)
        if moment.weekday() < 5:
            left -= 1
    return moment


def file(
    session: Session,
    settings: Settings,
    who: tuple[int, str, str],  # citizen id, subject, name of the person the reason concerns
    record: str,
    statement: str,
    now: datetime,
) -> Correction:
    citizen_id, subject, name = who
    text = statement.strip()
    if not 5 <= len(text) <= 1000:
        raise Invalid(M_("say in 5 to 1,000 characters what is wrong"), field="statement")
    evidence = session.scalars(
        select(EvidenceRow).where(EvidenceRow.subject == subject, EvidenceRow.record == record).limit(1)
    ).first()
    if evidence is None:
        raise NotFound(M_("no such reason on this code"), code="reason_not_found")
    if evidence.department == SELF:
        raise Invalid(
            M_("a reason you declared yourself is not corrected: check in again tomorrow"), field="record"
        )
    open_one = session.scalars(
        select(Correction).where(
            Correction.subject == subject,
            Correction.record == record,
            Correction.status == CorrectionStatus.OPEN,
        )
    ).first()
    if open_one is not None:
        raise Conflict(M_("a request about this reason is already being handled"), code="correction_open")
    department = (
        settings.healthcode_department if evidence.department in NOT_DEPARTMENTS else evidence.department
    )
    correction = Correction(
        subject=subject,
        citizen_id=citizen_id,
        masked_name=mask_name(name),
        department=department,
        fact=evidence.fact,
        record=record,
        statement=text,
        filed_at=now,
        due_at=_add_workdays(now.astimezone(settings.zone), settings.healthcode_correction_workdays),
    )
    session.add(correction)
    session.flush()
    _trail(session, f"citizen:{citizen_id}", None, "healthcode.correction.filed", correction)
    return correction


def _trail(session: Session, actor: str, department: str | None, event: str, correction: Correction) -> None:
    person_access(
        session,
        actor=actor,
        event=event,
        subject=correction.subject,
        target=("correction", str(correction.id)),
        items=["reason"],
        department=department,
        detail={"status": correction.status.value},
    )


def may_answer(actor: Principal, correction: Correction) -> bool:
    return actor.is_operator or (
        actor.department_code == correction.department and actor.has(Role.OFFICER, Role.REVIEWER)
    )


def may_answer_any(actor: Principal) -> bool:
    return actor.is_operator or actor.has(Role.OFFICER, Role.REVIEWER)


def queue(session: Session, actor: Principal) -> list[Correction]:
    query = select(Correction).order_by(Correction.status != CorrectionStatus.OPEN, Correction.due_at)
    if not actor.is_operator:
        query = query.where(Correction.department == (actor.department_code or ""))
    return list(session.scalars(query.limit(200)))


def answer(
    session: Session, actor: Principal, correction_id: int, upheld: bool, text: str, now: datetime
) -> Correction:
    correction = session.get(Correction, correction_id)
    if correction is None or not may_answer(actor, correction):
        raise NotFound(M_("no such correction request"), code="correction_not_found")
    if correction.status is not CorrectionStatus.OPEN:
        raise Conflict(M_("the request was already answered"), code="correction_answered")
    if not text.strip():
        raise Invalid(M_("give the person an answer"), field="answer")
    correction.status = CorrectionStatus.UPHELD if upheld else CorrectionStatus.REJECTED
    correction.decided_by, correction.decided_at, correction.answer = actor.username, now, text.strip()[:1000]
    if upheld:  # the record was wrong: its reason goes, and the code follows
        for wrong in session.scalars(
            select(EvidenceRow).where(
                EvidenceRow.subject == correction.subject, EvidenceRow.record == correction.record
            )
        ):
            session.delete(wrong)
        session.flush()
        colouring.recompute(session, now, [correction.subject])
    _trail(session, actor.username, actor.department_code, "healthcode.correction.answered", correction)
    return correction


def mine(session: Session, citizen_id: int) -> list[Correction]:
    query = select(Correction).where(Correction.citizen_id == citizen_id).order_by(Correction.id.desc())
    return list(session.scalars(query.limit(50)))


def refuse_if_forbidden(actor: Principal) -> None:
    if not may_answer_any(actor):
        raise Forbidden(M_("only departments' officers and reviewers answer corrections"), code="forbidden")
