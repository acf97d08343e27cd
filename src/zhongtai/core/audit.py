"""Audit trail of administrative changes: who, which department, when, what, outcome, what changed.

Services call :func:`record` inside the request's transaction, so a rolled-back change leaves no audit
entry and a committed one always has one. Values are stored as given; callers never pass secrets.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from zhongtai.core.context import current_request_id
from zhongtai.core.database import Base
from zhongtai.core.principal import Principal
from zhongtai.core.types import UTCDateTime, utcnow


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_username: Mapped[str] = mapped_column(String(64))
    department_code: Mapped[str | None] = mapped_column(String(32), index=True)
    event_type: Mapped[str] = mapped_column(String(64), index=True)
    target_type: Mapped[str] = mapped_column(String(48))
    target_id: Mapped[str] = mapped_column(String(64), index=True)
    outcome: Mapped[str] = mapped_column(String(16), default="success")
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    request_id: Mapped[str | None] = mapped_column(String(64))


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Field-by-field ``{"field": [old, new]}`` for the fields that changed."""
    return {key: [before.get(key), after.get(key)] for key in after if before.get(key) != after.get(key)}


def record(
    session: Session,
    actor: Principal | None,
    event_type: str,
    target_type: str,
    target_id: str,
    changes: dict[str, Any] | None = None,
    outcome: str = "success",
) -> AuditEvent:
    event = AuditEvent(
        occurred_at=utcnow(),
        actor_user_id=actor.user_id if actor and actor.user_id else None,
        actor_username=actor.username if actor else "system",
        department_code=actor.department_code if actor else None,
        event_type=event_type,
        target_type=target_type,
        target_id=target_id,
        outcome=outcome,
        changes=changes or {},
        request_id=current_request_id(),
    )
    session.add(event)
    return event
