"""All queries on health code tables."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from zhongtai.healthcode.models import KeyRole, SigningKey


class HealthCodeRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def root(self) -> SigningKey | None:
        query = select(SigningKey).where(SigningKey.role == KeyRole.ROOT).order_by(SigningKey.id.desc())
        return self.session.scalars(query.limit(1)).first()

    def signers(self) -> list[SigningKey]:
        query = select(SigningKey).where(SigningKey.role == KeyRole.SIGNER).order_by(SigningKey.id)
        return list(self.session.scalars(query))

    def add(self, key: SigningKey) -> None:
        self.session.add(key)
        self.session.flush()
