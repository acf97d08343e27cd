"""One access entry for a read or record of a person's health code data, with the person as its subject
(their pseudonym: the "who used my data" view finds it by index, nobody reading the trail learns the ID
number). Codes and reasons only, never a value of the data."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from zhongtai.core import audit

PURPOSE = "epidemic.health-code"


def person_access(
    session: Session,
    *,
    actor: str,
    event: str,
    subject: str,
    target: tuple[str, str],
    items: list[str],
    purpose: str = PURPOSE,
    department: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    audit.record_access(
        session,
        actor_username=actor,
        department_code=department,
        event_type=event,
        resource_code="-",
        items=items,
        record_count=1,
        purpose=purpose,
        grant_id=None,
        target_type=target[0],
        target_id=target[1],
        subject=subject,
        detail=detail,
    )
