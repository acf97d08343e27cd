"""Who may do what with requirements.

- Any department's officers, consumers and developers file requirements for their department.
- The bureau (operators and its reviewers) triages: assigns or rejects; it may also act as assignee.
- The assigned department's officers and developers start and deliver; the filing department confirms
  or reopens a delivery. Everybody sees their own department's requirements and those assigned to it;
  the bureau and auditors see all.
"""

from __future__ import annotations

from zhongtai.core.identity.models import Role
from zhongtai.core.principal import Principal
from zhongtai.requirements.lifecycle import Party
from zhongtai.requirements.models import Requirement

FILING = (Role.OFFICER, Role.CONSUMER, Role.DEVELOPER)
DELIVERING = (Role.OFFICER, Role.DEVELOPER)


def may_file(principal: Principal) -> bool:
    return principal.department_id is not None and principal.has(*FILING)


def may_see(principal: Principal, requirement: Requirement) -> bool:
    return principal.sees_all_departments or principal.department_id in (
        requirement.department_id,
        requirement.assignee_department_id,
    )


def acts_as(principal: Principal, requirement: Requirement, party: Party) -> bool:
    if party is Party.BUREAU:
        return principal.is_platform_reviewer
    if party is Party.ASSIGNEE:
        return principal.is_operator or (
            principal.department_id == requirement.assignee_department_id and principal.has(*DELIVERING)
        )
    return principal.department_id == requirement.department_id and principal.has(*FILING)
