"""Who may see what of the big screen.

- The screen itself (aggregates, small cells suppressed): the bureau's staff (operators, its reviewers),
  auditors, health staff, and the read-only screen role (a wall display's account); a kiosk link opens it
  without an account, until it expires or is revoked.
- Kiosk links: operators create, list and revoke them.
- The exact risk-crowd figures (nothing suppressed): health staff only, under their department's grant
  or as the health commission itself; each export is an access entry.
"""

from __future__ import annotations

from zhongtai.core.identity.models import Role
from zhongtai.core.principal import Principal
from zhongtai.core.settings import Settings


def may_watch(principal: Principal, settings: Settings) -> bool:
    return (
        principal.is_platform_reviewer
        or principal.has(Role.AUDITOR, Role.SCREEN)
        or principal.department_code == settings.healthcode_department
    )


def may_manage_links(principal: Principal) -> bool:
    return principal.is_operator


def is_health_staff(principal: Principal, settings: Settings) -> bool:
    return principal.department_code == settings.healthcode_department and principal.has(
        Role.OFFICER, Role.REVIEWER
    )


def screen_only(principal: Principal) -> bool:
    """A wall display's account: its pages are the screen alone."""
    return principal.roles == frozenset({Role.SCREEN})
