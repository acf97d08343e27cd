"""Who may do what in governance.

A department's officers keep their own resources' rules, run passes, and work their quality problems;
the bureau's operators do all of it city-wide and alone define data elements and base-database sources.
Governed rows, fused base records and conflicts hold personal data: the department concerned and the
bureau read them, auditors do not (they audit access, minimum necessary). Other departments reach base
data only through sharing grants, never through these interfaces.
"""

from __future__ import annotations

from zhongtai.core.identity.models import Role
from zhongtai.core.principal import Principal
from zhongtai.ingest.auth import may_manage, may_read_raw

may_govern = may_manage  # rules, passes, measurements and problems of a department's resources
may_read_governed = may_read_raw  # clean rows, rejects, quality details


def may_define(principal: Principal) -> bool:
    """Data elements and base-database sources are the bureau's standards."""
    return principal.is_operator


def may_read_base(principal: Principal) -> bool:
    return principal.is_operator or principal.is_platform_reviewer


def may_see_quality(principal: Principal, department_id: int) -> bool:
    return principal.sees_all_departments or principal.department_id == department_id


def may_work_problem(principal: Principal, department_id: int) -> bool:
    if principal.is_operator:
        return True
    return principal.department_id == department_id and principal.has(Role.OFFICER)
