"""The case lifecycle, declared in one place.

(applicant) submit ──► submitted ──accept──► in_review ──approve──► approved
                             ▲                   ├──refuse──► refused
                             └──resubmit── returned ◄──return──┘
the applicant may withdraw (and with it their consent) until a decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from zhongtai.services.models import CaseStatus


class Actor(Enum):
    APPLICANT = "applicant"
    CASEWORKER = "caseworker"


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset[CaseStatus]
    target: CaseStatus
    actor: Actor
    needs_reason: bool = False


S = CaseStatus
TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        Transition("submit", frozenset({S.DRAFT}), S.SUBMITTED, Actor.APPLICANT),
        Transition("accept", frozenset({S.SUBMITTED}), S.IN_REVIEW, Actor.CASEWORKER),
        Transition("return", frozenset({S.IN_REVIEW}), S.RETURNED, Actor.CASEWORKER, needs_reason=True),
        Transition("resubmit", frozenset({S.RETURNED}), S.SUBMITTED, Actor.APPLICANT),
        Transition("approve", frozenset({S.IN_REVIEW}), S.APPROVED, Actor.CASEWORKER),
        Transition("refuse", frozenset({S.IN_REVIEW}), S.REFUSED, Actor.CASEWORKER, needs_reason=True),
        Transition(
            "withdraw",
            frozenset({S.DRAFT, S.SUBMITTED, S.IN_REVIEW, S.RETURNED}),
            S.WITHDRAWN,
            Actor.APPLICANT,
        ),
    )
}


def allowed(status: CaseStatus, actor: Actor) -> list[str]:
    return [t.action for t in TRANSITIONS.values() if status in t.sources and t.actor is actor]
