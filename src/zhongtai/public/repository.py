"""Every query of the public side's tables."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from zhongtai.public.models import (
    Citizen,
    CitizenSession,
    FamilyMember,
    SentMessage,
    SignInAttempt,
    SignInCode,
)


class PublicRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def failures_since(self, keys: Sequence[str], since: datetime) -> dict[str, tuple[int, datetime]]:
        """Per key: failures since ``since`` and the latest one."""
        rows = self.session.execute(
            select(SignInAttempt.key, func.count(), func.max(SignInAttempt.at))
            .where(SignInAttempt.key.in_(list(keys)), SignInAttempt.at >= since)
            .group_by(SignInAttempt.key)
        )
        return {key: (count, latest) for key, count, latest in rows}

    def add_failures(self, keys: Sequence[str], at: datetime) -> None:
        self.session.add_all(SignInAttempt(key=key, at=at) for key in keys)
        self.session.flush()

    def forget_failures_before(self, before: datetime) -> None:
        self.session.execute(delete(SignInAttempt).where(SignInAttempt.at < before))

    def latest_code_for(self, subject: str) -> SignInCode | None:
        return self.session.scalars(
            select(SignInCode).where(SignInCode.subject == subject).order_by(SignInCode.id.desc()).limit(1)
        ).first()

    def pending_code(self, token_hash: str) -> SignInCode | None:
        return self.session.scalars(select(SignInCode).where(SignInCode.token_hash == token_hash)).first()

    def citizen_by_subject(self, subject: str) -> Citizen | None:
        return self.session.scalars(select(Citizen).where(Citizen.subject == subject)).first()

    def citizen(self, citizen_id: int) -> Citizen | None:
        return self.session.get(Citizen, citizen_id)

    def web_session(self, token_hash: str) -> CitizenSession | None:
        return self.session.scalars(
            select(CitizenSession).where(CitizenSession.token_hash == token_hash)
        ).first()

    def end_session(self, token_hash: str) -> None:
        self.session.execute(delete(CitizenSession).where(CitizenSession.token_hash == token_hash))

    def family(self, citizen_id: int) -> list[FamilyMember]:
        return list(
            self.session.scalars(
                select(FamilyMember).where(FamilyMember.citizen_id == citizen_id).order_by(FamilyMember.id)
            )
        )

    def family_member(self, citizen_id: int, member_id: int) -> FamilyMember | None:
        return self.session.scalars(
            select(FamilyMember).where(FamilyMember.citizen_id == citizen_id, FamilyMember.id == member_id)
        ).first()

    def inbox(self, since: datetime, limit: int = 30) -> list[SentMessage]:
        return list(
            self.session.scalars(
                select(SentMessage)
                .where(SentMessage.sent_at >= since)
                .order_by(SentMessage.id.desc())
                .limit(limit)
            )
        )
