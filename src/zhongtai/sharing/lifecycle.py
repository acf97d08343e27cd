"""The application lifecycle, declared in one place.

    submit ──► bureau_review ──approve (unconditional)──► granted
                   │  └──approve (conditional)──► provider_review ──approve──► granted
                   │                                   ├──reject──► rejected
                   ├──reject──► rejected               └──return──► returned
                   └──return──► returned ──resubmit──► bureau_review
    the applicant may withdraw while it is under review or returned.

The bureau checks compliance (2 working days by default); the provider decides conditional sharing (5).
Deadlines come from settings (``ZHONGTAI_SHARING_BUREAU_DAYS`` / ``_PROVIDER_DAYS``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from zhongtai.core.types import CITY_ZONE
from zhongtai.sharing.models import ApplicationStatus


class Actor(Enum):
    APPLICANT = "applicant"  # the consumer department's officers and consumers
    BUREAU = "bureau"  # the data resource bureau: operators and its reviewers
    PROVIDER = "provider"  # the providing department's officers and reviewers


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset[ApplicationStatus]
    target: ApplicationStatus
    actor: Actor
    needs_comment: bool = False


S = ApplicationStatus
# The bureau's approval goes to the provider for conditional sharing; the service picks the target.
BUREAU_APPROVED = {"unconditional": S.GRANTED, "conditional": S.PROVIDER_REVIEW}
TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        Transition("bureau_approve", frozenset({S.BUREAU_REVIEW}), S.PROVIDER_REVIEW, Actor.BUREAU),
        Transition(
            "bureau_reject", frozenset({S.BUREAU_REVIEW}), S.REJECTED, Actor.BUREAU, needs_comment=True
        ),
        Transition(
            "bureau_return", frozenset({S.BUREAU_REVIEW}), S.RETURNED, Actor.BUREAU, needs_comment=True
        ),
        Transition("provider_approve", frozenset({S.PROVIDER_REVIEW}), S.GRANTED, Actor.PROVIDER),
        Transition(
            "provider_reject", frozenset({S.PROVIDER_REVIEW}), S.REJECTED, Actor.PROVIDER, needs_comment=True
        ),
        Transition(
            "provider_return", frozenset({S.PROVIDER_REVIEW}), S.RETURNED, Actor.PROVIDER, needs_comment=True
        ),
        Transition("resubmit", frozenset({S.RETURNED}), S.BUREAU_REVIEW, Actor.APPLICANT),
        Transition(
            "withdraw",
            frozenset({S.BUREAU_REVIEW, S.PROVIDER_REVIEW, S.RETURNED}),
            S.WITHDRAWN,
            Actor.APPLICANT,
        ),
    )
}


def actions_from(status: ApplicationStatus) -> list[Transition]:
    return [t for t in TRANSITIONS.values() if status in t.sources]


def add_working_days(start: datetime, days: int) -> datetime:
    """``days`` working days (Monday–Friday, city time) after ``start``. Public holidays are not known to
    the platform; a bureau that needs them sets longer step times."""
    moment = start.astimezone(CITY_ZONE)
    left = days
    while left:
        moment += timedelta(days=1)
        if moment.weekday() < 5:
            left -= 1
    return moment


def due_at(
    status: ApplicationStatus, start: datetime, step_days: dict[ApplicationStatus, int]
) -> datetime | None:
    days = step_days.get(status)
    return add_working_days(start, days) if days else None
