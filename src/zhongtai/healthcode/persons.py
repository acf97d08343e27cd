"""Health staff reading one person's colour and reasons: the health commission's own officers and
reviewers (it is their data), anyone else only under a live grant of their department on the catalog
resource 安康码赋码信息; every read is an access entry with the person as its subject and the grant named."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from zhongtai.core import audit
from zhongtai.core.crypto import SecretBox
from zhongtai.core.errors import M_, Forbidden
from zhongtai.core.identity.models import Role
from zhongtai.core.principal import Principal
from zhongtai.core.pseudonym import person_subject
from zhongtai.core.settings import Settings
from zhongtai.healthcode import service
from zhongtai.healthcode.models import ColourChange
from zhongtai.healthcode.rules import Colour
from zhongtai.public.models import Citizen, FamilyMember
from zhongtai.sharing import service as sharing
from zhongtai.sharing.masking import mask_id_number, mask_name

RESOURCE = "安康码赋码信息"


@dataclass(frozen=True)
class StaffView:
    masked_id: str
    colour: Colour
    rule_version: int
    reasons: list[dict[str, Any]]
    since: datetime | None
    history: list[ColourChange]
    grant_id: int | None


def may_look_up(actor: Principal) -> bool:
    """Who sees the look-up form at all (the read itself checks the grant)."""
    return actor.has(Role.OFFICER, Role.REVIEWER, Role.CONSUMER) or actor.is_operator


def look_up(
    session: Session, settings: Settings, actor: Principal, id_number: str, now: datetime
) -> StaffView:
    own = actor.department_code == settings.healthcode_department and actor.has(Role.OFFICER, Role.REVIEWER)
    grant = None if own else sharing.live_grant_on(session, actor, RESOURCE, settings.healthcode_department)
    if not own and grant is None:
        raise Forbidden(
            M_("a person's reasons are shown only under your department's grant on %(name)s", name=RESOURCE),
            code="no_grant",
        )
    subject = person_subject(settings, id_number)
    verdict, reasons, since = service.current_verdict(session, subject)
    audit.record_access(
        session,
        actor_username=actor.username,
        actor_user_id=actor.user_id,
        department_code=actor.department_code,
        event_type="healthcode.reasons.read",
        resource_code="-",
        items=["colour", "reasons", "history"],
        record_count=1,
        purpose=grant.purpose if grant else "epidemic.health-code",
        grant_id=grant.id if grant else None,
        target_type="person_code",
        target_id=subject,
        subject=subject,
    )
    history = service.colour_history(session, subject)
    return StaffView(
        mask_id_number(id_number),
        verdict.colour,
        verdict.rule_version,
        reasons,
        since,
        history,
        grant.id if grant else None,
    )


def masked_labels(session: Session, settings: Settings, subjects: list[str]) -> dict[str, str]:
    """The masked name and ID number (王*明 3401**********1234) of the persons among ``subjects`` that the
    public side knows — citizens signed in, family members they added; the others are absent (shown by
    pseudonym). For worklists: health staff see whom to call without the full identity."""
    box = SecretBox(settings)
    found: dict[str, str] = {}
    for start in range(0, len(subjects), 500):
        chunk = subjects[start : start + 500]
        for model in (Citizen, FamilyMember):
            query = select(model.subject, model.name, model.id_number_sealed).where(model.subject.in_(chunk))
            for subject, name, sealed in session.execute(query):
                found.setdefault(subject, f"{mask_name(name)} {mask_id_number(box.open(sealed))}")
    return found
