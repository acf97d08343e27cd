"""Who may do what in sharing.

- A department's officers and consumers apply for other departments' resources and use their own
  department's grants; nobody uses another department's grant.
- The bureau (operators and its reviewers) checks every application; the provider department's officers
  and reviewers decide conditional sharing of their own resources — never another department's queue.
- Nobody decides an application they filed themselves.
- Providers and the bureau revoke and renew grants; providers set their items' masking.
- Auditors read applications, grants and the audit trail; they receive no data.
"""

from __future__ import annotations

from zhongtai.core.errors import M_, Forbidden
from zhongtai.core.identity.models import Role
from zhongtai.core.principal import Principal
from zhongtai.sharing.lifecycle import Actor
from zhongtai.sharing.models import Application, Grant

APPLYING = (Role.OFFICER, Role.CONSUMER)
USING = (Role.OFFICER, Role.CONSUMER, Role.DEVELOPER, Role.CASEWORKER)  # caseworkers: case grants
DECIDING = (Role.OFFICER, Role.REVIEWER)


def may_apply(principal: Principal) -> bool:
    return principal.department_id is not None and principal.has(*APPLYING)


def may_see_application(principal: Principal, application: Application) -> bool:
    return principal.sees_all_departments or principal.department_id in (
        application.consumer_department_id,
        application.provider_department_id,
    )


def may_see_grant(principal: Principal, grant: Grant) -> bool:
    return principal.sees_all_departments or principal.department_id in (
        grant.consumer_department_id,
        grant.provider_department_id,
    )


def may_act(principal: Principal, application: Application, actor: Actor) -> bool:
    if actor is Actor.BUREAU:
        return principal.is_platform_reviewer
    if actor is Actor.PROVIDER:
        return principal.department_id == application.provider_department_id and principal.has(*DECIDING)
    return principal.department_id == application.consumer_department_id and principal.has(*APPLYING)


def check_act(principal: Principal, application: Application, actor: Actor) -> None:
    if not may_act(principal, application, actor):
        who = {Actor.BUREAU: "the data resource bureau", Actor.PROVIDER: "the providing department"}
        raise Forbidden(
            M_("this step belongs to %(value)s", value=who.get(actor, "the applying department")),
            code="not_your_queue",
        )
    if (
        actor is not Actor.APPLICANT
        and principal.user_id is not None
        and (principal.user_id == application.applicant_user_id)
    ):
        raise Forbidden(M_("nobody decides an application they filed"), code="own_application")


def may_use_grant(principal: Principal, grant: Grant) -> bool:
    """Receive the data: the consumer department's own people, nobody else (not even the bureau)."""
    return principal.department_id == grant.consumer_department_id and principal.has(*USING)


def may_manage_grant(principal: Principal, grant: Grant) -> bool:
    if principal.is_platform_reviewer:
        return True
    return principal.department_id == grant.provider_department_id and principal.has(*DECIDING)


def may_set_policy(principal: Principal, provider_department_id: int) -> bool:
    if principal.is_operator:
        return True
    return principal.department_id == provider_department_id and principal.has(Role.OFFICER)
