"""Who reads the audit trail: auditors (inspection / security office) and the bureau's operators."""

from __future__ import annotations

from zhongtai.core.errors import M_, Forbidden
from zhongtai.core.identity.models import Role
from zhongtai.core.principal import Principal


def may_read_audit(principal: Principal) -> bool:
    return principal.is_operator or principal.has(Role.AUDITOR)


def check_read_audit(principal: Principal) -> None:
    if not may_read_audit(principal):
        raise Forbidden(M_("the audit trail is for auditors and the bureau's operators"), code="missing_role")
