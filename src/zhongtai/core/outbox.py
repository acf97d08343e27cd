"""The transactional outbox: changes of shared rows, written in the same transaction as the change.

Governance writes the clean zone; when a resource is *fed* (some subscription wants its changes) each
created, updated or deleted clean row also becomes an :class:`OutboxEvent` in the governance pass's own
transaction — a rolled-back pass emits nothing and a committed one never loses an event. Sharing reads
the outbox and delivers (``zhongtai.sharing.dispatch``); this module knows nothing of grants.

Events carry an opaque record id (a salted hash of the row's key, salt per feed), never the key values,
because a key is often an ID number and the event's consumer may only be granted it masked.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, insert, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from zhongtai.core.database import Base
from zhongtai.core.types import UTCDateTime, utcnow

CREATED, UPDATED, DELETED = "created", "updated", "deleted"


class OutboxFeed(Base):
    """A resource whose changes are wanted, with the salt of its record ids."""

    __tablename__ = "outbox_feeds"

    resource_id: Mapped[int] = mapped_column(
        ForeignKey("catalog_resources.id", ondelete="CASCADE"), primary_key=True
    )
    salt: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OutboxEvent(Base):
    __tablename__ = "outbox_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(40), unique=True)
    resource_id: Mapped[int] = mapped_column(
        ForeignKey("catalog_resources.id", ondelete="CASCADE"), index=True
    )
    record_id: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(8))
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    batch_id: Mapped[int | None] = mapped_column(Integer)


@dataclass(frozen=True)
class Change:
    key: str  # the row's key inside the resource (job id and source key); hashed before it is stored
    kind: str
    data: Mapping[str, Any] | None


def feed(session: Session, resource_id: int) -> OutboxFeed:
    """Start (or keep) recording the resource's changes."""
    found = session.get(OutboxFeed, resource_id)
    if found is None:
        found = OutboxFeed(resource_id=resource_id, salt=secrets.token_hex(16), created_at=utcnow())
        session.add(found)
        session.flush()
    return found


def fed(session: Session, resource_id: int) -> OutboxFeed | None:
    return session.get(OutboxFeed, resource_id)


def record_id(salt: str, key: str) -> str:
    return hashlib.sha256(f"{salt}\x00{key}".encode()).hexdigest()[:32]


def diff_rows(
    before: Mapping[str, Mapping[str, Any]], after: Mapping[str, Mapping[str, Any]], removed: Sequence[str]
) -> list[Change]:
    """Changes from rows as they were (key -> data) to rows written now and keys removed now."""
    changes = [
        Change(key, CREATED if key not in before else UPDATED, data)
        for key, data in after.items()
        if before.get(key) != data
    ]
    changes += [Change(key, DELETED, None) for key in removed if key in before]
    return changes


def emit(session: Session, resource_id: int, changes: Sequence[Change], batch_id: int | None = None) -> int:
    """Write the changes of a fed resource as events; returns how many (none when nobody is fed)."""
    if not changes:
        return 0
    # Locking the feed row orders the events of one resource by commit: a dispatcher reading past its
    # cursor can never skip an event that a slower transaction commits later with a smaller id.
    found = session.scalars(
        select(OutboxFeed).where(OutboxFeed.resource_id == resource_id).with_for_update()
    ).first()
    if found is None:
        return 0
    now = utcnow()
    rows = [
        {
            "event_id": f"evt_{uuid.uuid4().hex}",
            "resource_id": resource_id,
            "record_id": record_id(found.salt, change.key),
            "kind": change.kind,
            "data": dict(change.data) if change.data is not None else None,
            "occurred_at": now,
            "batch_id": batch_id,
        }
        for change in changes
    ]
    session.execute(insert(OutboxEvent), rows)
    return len(rows)


def last_event_id(session: Session) -> int:
    return session.scalar(select(OutboxEvent.id).order_by(OutboxEvent.id.desc()).limit(1)) or 0
