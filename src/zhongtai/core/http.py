"""HTTP dependencies shared by every domain: the request's transaction and API authentication.

FastAPI runs a plain ``def`` dependency in the thread pool, and a trip there and back costs about
120 µs on the machines we measured (a thread wake-up each way). Dependencies that do no I/O are therefore
``async def`` and run on the event loop; only what touches the database goes to a thread.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from anyio import CancelScope
from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from zhongtai.core.errors import M_, Forbidden, Unauthenticated
from zhongtai.core.identity.models import Role
from zhongtai.core.identity.service import principal_from_token
from zhongtai.core.jobs import JobContext
from zhongtai.core.principal import Principal
from zhongtai.core.settings import Settings


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _session_factory(request: Request) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    return factory


async def db_session(request: Request) -> AsyncIterator[Session]:
    """The request owns the transaction: commit after the endpoint returns, roll back if it raised.

    Making a session does no I/O (it connects when first used), so it is made on the event loop; the
    commit or rollback and the close go to the thread pool together, shielded from cancellation so a
    client that hangs up cannot leave the connection checked out."""
    session = _session_factory(request)()
    try:
        yield session
    except BaseException:
        with CancelScope(shield=True):
            await run_in_threadpool(_roll_back, session)
        raise
    with CancelScope(shield=True):
        await run_in_threadpool(_commit, session)


def _commit(session: Session) -> None:
    try:
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _roll_back(session: Session) -> None:
    try:
        session.rollback()
    finally:
        session.close()


# scope="function": commit before the response is sent, so a failed commit becomes an error response.
DbSession = Annotated[Session, Depends(db_session, scope="function")]
AppSettings = Annotated[Settings, Depends(get_settings)]
# A numeric row id in a path: bounded, so an absurd number is a 422, not a database overflow.
RowId = Annotated[int, Path(ge=1, le=2**63 - 1, description="Numeric id")]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


# Declares the bearer scheme in the OpenAPI (securitySchemes, and security on every operation that needs
# it); the token itself is read by ``bearer_token``, which also takes a lower-case scheme.
_BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="An API token: `zhongtai users token NAME` or the API tokens page",
)


def api_principal(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    _declared: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
) -> Principal:
    token = bearer_token(request)
    if token is None:
        raise Unauthenticated(M_("missing bearer token: send `Authorization: Bearer <token>`"))
    principal = principal_from_token(session, settings, token)
    if principal is None:
        raise Unauthenticated(M_("invalid, expired or revoked API token"), code="invalid_token")
    request.state.principal = principal
    return principal


ApiPrincipal = Annotated[Principal, Depends(api_principal)]


def job_context(request: Request) -> JobContext:
    """The background queue built at start-up (domains enqueue through it after their commit)."""
    context: JobContext = request.app.state.jobs
    return context


async def _jobs(request: Request) -> JobContext:
    return job_context(request)


Jobs = Annotated[JobContext, Depends(_jobs)]


def require_api_roles(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """Dependency factory: the caller must hold one of ``roles``."""

    async def check(principal: ApiPrincipal) -> Principal:
        if not principal.has(*roles):
            names = ", ".join(r.value for r in roles)
            raise Forbidden(M_("this needs one of the roles: %(names)s", names=names), code="missing_role")
        return principal

    return check
