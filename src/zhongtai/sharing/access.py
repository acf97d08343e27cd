"""A data access through a grant, from the API or a page: a refusal is rolled back and then recorded on its
own (committed, so the request's rollback does not erase it) before it is raised."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.orm import Session

from zhongtai.core.errors import ZhongtaiError
from zhongtai.core.principal import Principal
from zhongtai.sharing import service

T = TypeVar("T")


def audited(
    session: Session, principal: Principal, grant_id: int | None, event: str, read: Callable[[], T]
) -> T:
    """Run a data access; a refusal is rolled back and then recorded on its own before it is raised."""
    try:
        return read()
    except ZhongtaiError as exc:
        session.rollback()
        service.record_denied(session, principal, grant_id, event, f"{exc.code}: {exc.message}")
        session.commit()
        raise
