"""The requirement lifecycle, declared in one place.

    filed ──assign (bureau)──► assigned ──start (assignee)──► in_progress ──deliver──► delivered
      └──reject (bureau, reason)──► rejected                                   │         │
                                      in_progress ◄──reopen (filing dept, reason)─┘   confirm (filing dept)
                                                                                        ▼
                                                                                      closed
Delivering needs at least one link to what fulfils it (catalog entry, sharing application, capability).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from zhongtai.requirements.models import RequirementStatus


class Party(enum.Enum):
    BUREAU = "bureau"  # the data resource bureau (operators, its reviewers)
    ASSIGNEE = "assignee"  # the department assigned to deliver (or the bureau)
    FILER = "filer"  # the department that filed it


@dataclass(frozen=True)
class Step:
    sources: frozenset[RequirementStatus]
    target: RequirementStatus
    party: Party
    needs_reason: bool = False


R = RequirementStatus
STEPS: dict[str, Step] = {
    "assign": Step(frozenset({R.FILED}), R.ASSIGNED, Party.BUREAU),
    "reject": Step(frozenset({R.FILED}), R.REJECTED, Party.BUREAU, needs_reason=True),
    "start": Step(frozenset({R.ASSIGNED}), R.IN_PROGRESS, Party.ASSIGNEE),
    "deliver": Step(frozenset({R.ASSIGNED, R.IN_PROGRESS}), R.DELIVERED, Party.ASSIGNEE),
    "reopen": Step(frozenset({R.DELIVERED}), R.IN_PROGRESS, Party.FILER, needs_reason=True),
    "confirm": Step(frozenset({R.DELIVERED}), R.CLOSED, Party.FILER),
}
OPEN = frozenset({R.FILED, R.ASSIGNED, R.IN_PROGRESS})
