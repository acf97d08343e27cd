"""Who may do what in services.

- A department's officers maintain its own service items (the bureau's operators any); the bureau's
  reviewers approve or return each data-to-material mapping, never the department that wrote it.
- A department's caseworkers handle the cases of its services, and nobody else (not the bureau, not an
  auditor) sees a case's fetched data; a co-handling department's caseworkers and officers see the case
  summary and answer the question put to them.
- Applicants act on their own cases and those they filed for their household.
"""

from __future__ import annotations

from zhongtai.core.identity.models import Role
from zhongtai.core.principal import Principal
from zhongtai.services.models import Case, CaseTask


def may_maintain(principal: Principal, department_id: int) -> bool:
    return principal.is_operator or (principal.department_id == department_id and principal.has(Role.OFFICER))


def may_review(principal: Principal) -> bool:
    return principal.is_platform_reviewer


def may_handle(principal: Principal, case: Case) -> bool:
    return principal.department_id == case.department_id and principal.has(Role.CASEWORKER)


def may_answer(principal: Principal, task: CaseTask) -> bool:
    return principal.department_id == task.department_id and principal.has(Role.CASEWORKER, Role.OFFICER)
