"""Who is acting: the authenticated user as the rest of the code sees it (no ORM object)."""

from __future__ import annotations

from dataclasses import dataclass, field

from zhongtai.core.identity.models import Role


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: int | None
    username: str
    display_name: str
    department_id: int | None
    department_code: str | None
    roles: frozenset[Role] = field(default_factory=frozenset)
    is_platform_department: bool = False

    def has(self, *roles: Role) -> bool:
        return any(role in self.roles for role in roles)

    @property
    def is_operator(self) -> bool:
        return Role.OPERATOR in self.roles

    @property
    def is_platform_reviewer(self) -> bool:
        """The bureau's reviewers and operators review catalog entries city-wide."""
        return self.is_operator or (Role.REVIEWER in self.roles and self.is_platform_department)

    @property
    def sees_all_departments(self) -> bool:
        return self.is_operator or Role.AUDITOR in self.roles or self.is_platform_reviewer


def platform_actor(username: str, display_name: str) -> Principal:
    """A non-human operator (the demo builder, the command line): full rights, recorded under its name."""
    return Principal(
        user_id=None,
        username=username,
        display_name=display_name,
        department_id=None,
        department_code=None,
        roles=frozenset({Role.OPERATOR}),
        is_platform_department=True,
    )


SYSTEM = platform_actor("system", "system")
