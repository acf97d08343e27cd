"""Who may change information systems."""

from __future__ import annotations

from zhongtai.core.identity.models import Role
from zhongtai.core.principal import Principal


def may_register_systems(principal: Principal) -> bool:
    """Whether the caller registers systems at all (for their own department, or any as operator)."""
    return principal.is_operator or principal.has(Role.OFFICER)


def may_register_system_for(principal: Principal, department_id: int) -> bool:
    if principal.is_operator:
        return True
    return principal.has(Role.OFFICER) and principal.department_id == department_id
