"""The quality problem lifecycle (数据质量问题反馈), declared in one place.

open → assigned (the department's officer hands it to someone) → fixed (the department says so) →
closed by the platform's re-check when the problem is no longer found, or reopened when it still is.
A problem that disappears on its own is closed by the re-check from any state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from zhongtai.core.errors import M_, Conflict
from zhongtai.governance.models import Problem, ProblemEvent, ProblemStatus

S = ProblemStatus


@dataclass(frozen=True)
class Step:
    action: str
    sources: frozenset[ProblemStatus]
    target: ProblemStatus
    by_department: bool  # taken by the department's people; otherwise only by the platform's re-check


STEPS: dict[str, Step] = {
    s.action: s
    for s in (
        Step("open", frozenset(), S.OPEN, by_department=False),
        Step("assign", frozenset({S.OPEN, S.ASSIGNED}), S.ASSIGNED, by_department=True),
        Step("fix", frozenset({S.OPEN, S.ASSIGNED}), S.FIXED, by_department=True),
        Step("reopen", frozenset({S.FIXED}), S.OPEN, by_department=False),
        Step("close", frozenset({S.OPEN, S.ASSIGNED, S.FIXED}), S.CLOSED, by_department=False),
    )
}


def department_actions(status: ProblemStatus) -> list[str]:
    return [s.action for s in STEPS.values() if s.by_department and status in s.sources]


def record_step(
    session: Session, problem: Problem, action: str, actor: str, comment: str, now: datetime
) -> None:
    """Move ``problem`` by ``action`` and record the step; refuses a step its state does not allow."""
    step = STEPS[action]
    before = problem.status if action != "open" else None
    if before is not None and before not in step.sources:
        raise Conflict(
            M_("a %(before)s problem cannot be %(action)sed", before=before.value, action=action),
            code="invalid_transition",
        )
    problem.status = step.target
    problem.updated_at = now
    session.add(
        ProblemEvent(
            problem_id=problem.id,
            action=action,
            from_status=before.value if before else None,
            to_status=step.target.value,
            actor=actor,
            comment=comment[:2000],
            occurred_at=now,
        )
    )
