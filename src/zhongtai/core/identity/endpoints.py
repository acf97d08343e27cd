"""The caller's own identity and API tokens."""

from __future__ import annotations

from fastapi import APIRouter

from zhongtai.core.errors import M_, NotFound
from zhongtai.core.http import ApiPrincipal, DbSession, RowId
from zhongtai.core.identity import service
from zhongtai.core.identity.models import ApiToken
from zhongtai.core.identity.repository import IdentityRepository
from zhongtai.core.identity.schemas import MeRead, TokenCreate, TokenCreated, TokenRead

router = APIRouter(prefix="/api/v1", tags=["identity"])


def token_read(token: ApiToken) -> TokenRead:
    return TokenRead(
        id=token.id,
        name=token.name,
        prefix=token.prefix,
        created_at=token.created_at,
        expires_at=token.expires_at,
        last_used_at=token.last_used_at,
        revoked_at=token.revoked_at,
    )


@router.get("/me", response_model=MeRead)
def me(principal: ApiPrincipal) -> MeRead:
    return MeRead(
        username=principal.username,
        display_name=principal.display_name,
        department=principal.department_code,
        roles=sorted(principal.roles),
    )


@router.get("/tokens", response_model=list[TokenRead])
def list_tokens(session: DbSession, principal: ApiPrincipal) -> list[TokenRead]:
    assert principal.user_id is not None
    return [token_read(t) for t in IdentityRepository(session).tokens_of(principal.user_id)]


@router.post("/tokens", response_model=TokenCreated, status_code=201)
def create_token(session: DbSession, principal: ApiPrincipal, body: TokenCreate) -> TokenCreated:
    assert principal.user_id is not None
    user = IdentityRepository(session).user_by_id(principal.user_id)
    if user is None:
        raise NotFound(M_("user not found"))
    secret, row = service.issue_token(session, principal, user, body.name, body.days)
    return TokenCreated(**token_read(row).model_dump(), token=secret)


@router.delete("/tokens/{token_id}", response_model=TokenRead)
def revoke_token(session: DbSession, principal: ApiPrincipal, token_id: RowId) -> TokenRead:
    assert principal.user_id is not None
    return token_read(service.revoke_token(session, principal, principal.user_id, token_id))
