"""All identity queries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from zhongtai.core.identity.models import ApiToken, LoginThrottle, User, WebSession


class IdentityRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def user_by_username(self, username: str) -> User | None:
        return self.session.scalars(
            select(User).options(joinedload(User.department)).where(User.username == username)
        ).first()

    def user_by_id(self, user_id: int) -> User | None:
        return self.session.scalars(
            select(User).options(joinedload(User.department)).where(User.id == user_id)
        ).first()

    def active_token(self, token_hash: str, now: datetime) -> ApiToken | None:
        token = self.session.scalars(select(ApiToken).where(ApiToken.token_hash == token_hash)).first()
        if token is None or token.revoked_at is not None:
            return None
        if token.expires_at is not None and token.expires_at <= now:
            return None
        return token

    def tokens_of(self, user_id: int) -> list[ApiToken]:
        return list(
            self.session.scalars(
                select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id.desc())
            )
        )

    def token_of(self, user_id: int, token_id: int) -> ApiToken | None:
        return self.session.scalars(
            select(ApiToken).where(ApiToken.user_id == user_id, ApiToken.id == token_id)
        ).first()

    def live_session(self, token_hash: str, now: datetime) -> WebSession | None:
        web_session = self.session.scalars(
            select(WebSession).where(WebSession.token_hash == token_hash)
        ).first()
        if web_session is None or web_session.expires_at <= now:
            return None
        return web_session

    def throttle(self, key: str) -> LoginThrottle | None:
        return self.session.get(LoginThrottle, key)

    def users(self) -> list[User]:
        return list(
            self.session.scalars(select(User).options(joinedload(User.department)).order_by(User.username))
        )
