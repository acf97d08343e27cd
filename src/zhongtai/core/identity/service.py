"""Identity rules: accounts, password login with lockout, API tokens and web sessions. No HTTP here."""

from __future__ import annotations

import enum
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from zhongtai.core import audit
from zhongtai.core.errors import M_, BadRequest, Conflict, Invalid, NotFound
from zhongtai.core.identity.models import ApiToken, LoginThrottle, Role, User, UserRole, WebSession
from zhongtai.core.identity.repository import IdentityRepository
from zhongtai.core.principal import Principal
from zhongtai.core.security import (
    MIN_PASSWORD_LENGTH,
    hash_password,
    new_token,
    token_digest,
    verify_password,
)
from zhongtai.core.settings import Settings
from zhongtai.core.types import utcnow
from zhongtai.orgs.repository import OrgRepository

USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$")
TOKEN_USE_PRECISION = timedelta(minutes=1)  # how exactly a token's "last used" time is kept


class LoginResult(enum.Enum):
    OK = "ok"
    INVALID = "invalid"
    LOCKED = "locked"


@dataclass(frozen=True)
class LoginOutcome:
    result: LoginResult
    user: User | None = None


def principal_for(user: User, settings: Settings) -> Principal:
    return Principal(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        department_id=user.department_id,
        department_code=user.department.code,
        roles=frozenset(r.role for r in user.roles),
        is_platform_department=user.department.code == settings.platform_department_code,
    )


def create_user(
    session: Session,
    actor: Principal,
    *,
    username: str,
    display_name: str,
    department_code: str,
    roles: list[Role],
    password: str,
) -> User:
    if not USERNAME_PATTERN.fullmatch(username):
        raise BadRequest(
            M_("username must be 2-64 letters, digits, '.', '_' or '-' and start with a letter or digit"),
            field="username",
        )
    if len(password) < MIN_PASSWORD_LENGTH:
        raise BadRequest(
            M_(
                "password must be at least %(min_password_length)s characters",
                min_password_length=MIN_PASSWORD_LENGTH,
            ),
            field="password",
        )
    if not roles:
        raise BadRequest(M_("a user needs at least one role"), field="roles")
    department = OrgRepository(session).department_by_code(department_code)
    if department is None:
        raise Invalid(
            M_("unknown department code %(department_code)r", department_code=department_code),
            field="department",
            code="unknown_department",
        )
    repo = IdentityRepository(session)
    if repo.user_by_username(username) is not None:
        raise Conflict(
            M_("user %(username)r already exists", username=username),
            field="username",
            code="duplicate_username",
        )
    user = User(
        username=username,
        display_name=display_name or username,
        department_id=department.id,
        password_hash=hash_password(password),
        roles=[UserRole(role=role) for role in sorted(set(roles))],
    )
    user.department = department
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor,
        "identity.user.created",
        "user",
        username,
        {"department": department.code, "roles": [r.value for r in sorted(set(roles))]},
    )
    return user


def authenticate(session: Session, settings: Settings, username: str, password: str) -> LoginOutcome:
    """Check a password, counting failures per typed name whether or not the user exists."""
    now = utcnow()
    key = username.strip().lower()[:64] or "-"
    repo = IdentityRepository(session)
    throttle = repo.throttle(key)
    if throttle is not None and throttle.locked_until is not None and throttle.locked_until > now:
        return LoginOutcome(LoginResult.LOCKED)
    user = repo.user_by_username(username.strip())
    valid = verify_password(user.password_hash if user else None, password)
    if valid and user is not None and user.is_active:
        if throttle is not None:
            session.delete(throttle)
        return LoginOutcome(LoginResult.OK, user)
    _count_failure(session, settings, throttle, key, now)
    return LoginOutcome(LoginResult.INVALID)


def _count_failure(
    session: Session, settings: Settings, throttle: LoginThrottle | None, key: str, now: datetime
) -> None:
    if throttle is None:
        throttle = LoginThrottle(key=key, failures=0)
        session.add(throttle)
    throttle.failures += 1
    if throttle.failures >= settings.login_max_failures:
        throttle.locked_until = now + timedelta(minutes=settings.login_lockout_minutes)
        throttle.failures = 0
    session.flush()


def issue_token(
    session: Session, actor: Principal, user: User, name: str, days: int | None = None
) -> tuple[str, ApiToken]:
    """Create an API token; return the secret (shown once, only its hash is kept) and its row."""
    token = new_token("zt")
    expires = utcnow() + timedelta(days=days) if days else None
    row = ApiToken(
        user_id=user.id,
        name=name[:100] or "token",
        token_hash=token_digest(token),
        prefix=token[:10],
        expires_at=expires,
    )
    session.add(row)
    session.flush()
    audit.record(session, actor, "identity.token.created", "user", user.username, {"name": name})
    return token, row


def revoke_token(session: Session, actor: Principal, user_id: int, token_id: int) -> ApiToken:
    token = IdentityRepository(session).token_of(user_id, token_id)
    if token is None:
        raise NotFound(M_("no token %(token_id)s for this user", token_id=token_id), code="token_not_found")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.flush()
        audit.record(
            session, actor, "identity.token.revoked", "api_token", str(token_id), {"name": token.name}
        )
    return token


def principal_from_token(session: Session, settings: Settings, token: str) -> Principal | None:
    repo = IdentityRepository(session)
    now = utcnow()
    row = repo.active_token(token_digest(token), now)
    if row is None:
        return None
    user = repo.user_by_id(row.user_id)
    if user is None or not user.is_active:
        return None
    if row.last_used_at is None or now - row.last_used_at >= TOKEN_USE_PRECISION:
        row.last_used_at = now  # at most once a minute: a write on every call would serialize all reads
    return principal_for(user, settings)


def start_session(session: Session, settings: Settings, user: User) -> tuple[str, WebSession]:
    token = new_token("zs")
    web_session = WebSession(
        token_hash=token_digest(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        expires_at=utcnow() + timedelta(hours=settings.session_hours),
    )
    session.add(web_session)
    session.flush()
    return token, web_session


def end_session(session: Session, token: str) -> None:
    web_session = IdentityRepository(session).live_session(token_digest(token), utcnow())
    if web_session is not None:
        session.delete(web_session)
        session.flush()


def session_principal(
    session: Session, settings: Settings, token: str
) -> tuple[Principal, WebSession] | None:
    repo = IdentityRepository(session)
    web_session = repo.live_session(token_digest(token), utcnow())
    if web_session is None:
        return None
    user = repo.user_by_id(web_session.user_id)
    if user is None or not user.is_active:
        return None
    return principal_for(user, settings), web_session
