"""The catalog entry lifecycle, declared in one place: draft → under review → published → retired."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from zhongtai.catalog.models import ResourceStatus


class Actor(Enum):
    EDITOR = "editor"  # the provider department's officer, or an operator
    REVIEWER = "reviewer"  # the bureau: operators and its reviewers


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset[ResourceStatus]
    target: ResourceStatus
    actor: Actor
    needs_comment: bool = False


S = ResourceStatus
TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        Transition("submit", frozenset({S.DRAFT}), S.UNDER_REVIEW, Actor.EDITOR),
        Transition("withdraw", frozenset({S.UNDER_REVIEW}), S.DRAFT, Actor.EDITOR),
        Transition("approve", frozenset({S.UNDER_REVIEW}), S.PUBLISHED, Actor.REVIEWER),
        Transition("reject", frozenset({S.UNDER_REVIEW}), S.DRAFT, Actor.REVIEWER, needs_comment=True),
        Transition("retire", frozenset({S.PUBLISHED}), S.RETIRED, Actor.EDITOR),
    )
}


def actions_from(status: ResourceStatus) -> list[Transition]:
    return [t for t in TRANSITIONS.values() if status in t.sources]
