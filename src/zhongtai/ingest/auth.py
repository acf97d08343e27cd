"""Who may do what with sources, jobs, runs and raw data.

A department's officers manage the sources and jobs of their own department's systems; the bureau's
operators manage all. Connection settings are visible to the owning department and the bureau only.
Raw data is read by the resource's own department and the bureau.
"""

from __future__ import annotations

from zhongtai.core.identity.models import Role
from zhongtai.core.principal import Principal


def may_manage_any(principal: Principal) -> bool:
    """Whether the caller registers sources and jobs at all (their department's, or any as operator)."""
    return principal.is_operator or principal.has(Role.OFFICER)


def may_manage(principal: Principal, department_id: int) -> bool:
    if principal.is_operator:
        return True
    return principal.has(Role.OFFICER) and principal.department_id == department_id


def may_read_raw(principal: Principal, department_id: int) -> bool:
    return _reads_data(principal, principal.department_id == department_id)


def may_read_raw_of(principal: Principal, department_code: str) -> bool:
    """``may_read_raw`` for a row that names its department by code (a page deciding whether to link)."""
    return _reads_data(principal, principal.department_code == department_code)


def _reads_data(principal: Principal, own_department: bool) -> bool:
    # Auditors see who accessed what, not the personal data itself (minimum necessary).
    return principal.is_operator or principal.is_platform_reviewer or own_department
