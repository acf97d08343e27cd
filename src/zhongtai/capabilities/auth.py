"""Who may do what on the capability platform.

- A department's officers and developers register capabilities it provides; the bureau (operators)
  registers platform capabilities and may act for any department. Publishing a proxied capability is
  the bureau's (it reviews where the gateway will send requests); the provider publishes the others.
- A department's developers and officers register apps for their own department and manage those apps'
  keys and subscriptions; nobody touches another department's app.
- The provider's officers and reviewers (or the bureau) approve subscriptions to their capabilities.
- Usage: an app's department sees its app; a provider sees calls to its capabilities; operators and
  auditors see all.
"""

from __future__ import annotations

from zhongtai.capabilities.models import App, Capability, CapabilityKind
from zhongtai.core.errors import Forbidden
from zhongtai.core.identity.models import Role
from zhongtai.core.principal import Principal

BUILDING = (Role.OFFICER, Role.DEVELOPER)
DECIDING = (Role.OFFICER, Role.REVIEWER)


def may_register_capability(principal: Principal, provider_department_id: int) -> bool:
    return principal.is_operator or (
        principal.department_id == provider_department_id and principal.has(*BUILDING)
    )


def may_manage_capability(principal: Principal, capability: Capability) -> bool:
    return may_register_capability(principal, capability.provider_department_id)


def may_publish(principal: Principal, capability: Capability) -> bool:
    if capability.kind is CapabilityKind.PROXY:
        return principal.is_operator
    return may_manage_capability(principal, capability)


def may_see_capability(principal: Principal, capability: Capability) -> bool:
    """Published and deprecated capabilities are in the portal; drafts and retired ones only for their
    provider, the bureau and auditors."""
    return capability.status.value in ("published", "deprecated") or (
        principal.sees_all_departments or principal.department_id == capability.provider_department_id
    )


def may_see_upstream(principal: Principal, capability: Capability) -> bool:
    return principal.is_operator or principal.department_id == capability.provider_department_id


def may_build_apps(principal: Principal) -> bool:
    return principal.department_id is not None and principal.has(*BUILDING)


def may_manage_app(principal: Principal, app: App) -> bool:
    return principal.department_id == app.department_id and principal.has(*BUILDING)


def may_see_app(principal: Principal, app: App) -> bool:
    return principal.sees_all_departments or principal.department_id == app.department_id


def may_decide_subscription(principal: Principal, capability: Capability) -> bool:
    return principal.is_operator or (
        principal.department_id == capability.provider_department_id and principal.has(*DECIDING)
    )


def check(allowed: bool, message: str, code: str = "forbidden") -> None:
    if not allowed:
        raise Forbidden(message, code=code)
