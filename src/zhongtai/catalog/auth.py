"""Who may do what in the catalog (row scoping is in the repository)."""

from __future__ import annotations

from zhongtai.catalog.lifecycle import Actor, Transition
from zhongtai.catalog.models import Resource
from zhongtai.core.identity.models import Role
from zhongtai.core.principal import Principal


def may_register_for(principal: Principal, department_id: int) -> bool:
    if principal.is_operator:
        return True
    return principal.has(Role.OFFICER) and principal.department_id == department_id


def may_register_any(principal: Principal) -> bool:
    """Whether the caller registers resources at all (for their own department, or any as operator)."""
    return principal.is_operator or principal.has(Role.OFFICER)


def may_edit(principal: Principal, resource: Resource) -> bool:
    return may_register_for(principal, resource.provider_department_id)


def may_take(principal: Principal, transition: Transition, resource: Resource) -> bool:
    if transition.actor is Actor.REVIEWER:
        return principal.is_platform_reviewer
    return may_edit(principal, resource)
