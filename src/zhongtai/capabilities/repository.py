"""All capability-platform queries; lists only return rows the caller may see."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from zhongtai.capabilities.models import (
    App,
    AppKey,
    AppSubscription,
    Capability,
    CapabilityStatus,
    GatewayUsage,
    KeyStatus,
)
from zhongtai.core.principal import Principal

VISIBLE = (CapabilityStatus.PUBLISHED, CapabilityStatus.DEPRECATED)


class CapabilityRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def capability(self, code: str) -> Capability | None:
        return self.session.scalars(select(Capability).where(Capability.code == code)).first()

    def capability_by_id(self, capability_id: int) -> Capability:
        found = self.session.get(Capability, capability_id)
        assert found is not None
        return found

    def capabilities(self, principal: Principal, status: CapabilityStatus | None = None) -> list[Capability]:
        query: Select[tuple[Capability]] = select(Capability)
        if not principal.sees_all_departments:
            query = query.where(
                or_(
                    Capability.status.in_(VISIBLE),
                    Capability.provider_department_id == principal.department_id,
                )
            )
        if status is not None:
            query = query.where(Capability.status == status)
        return list(self.session.scalars(query.order_by(Capability.code)))

    def app(self, code: str) -> App | None:
        return self.session.scalars(select(App).where(App.code == code)).first()

    def apps(self, principal: Principal) -> list[App]:
        query: Select[tuple[App]] = select(App)
        if not principal.sees_all_departments:
            query = query.where(App.department_id == principal.department_id)
        return list(self.session.scalars(query.order_by(App.code)))

    def keys(self, app_id: int) -> list[AppKey]:
        return list(self.session.scalars(select(AppKey).where(AppKey.app_id == app_id).order_by(AppKey.id)))

    def key(self, app_id: int, key_id: str) -> AppKey | None:
        query = select(AppKey).where(AppKey.app_id == app_id, AppKey.key_id == key_id)
        return self.session.scalars(query).first()

    def key_by_id(self, key_id: str) -> AppKey | None:
        return self.session.scalars(select(AppKey).where(AppKey.key_id == key_id)).first()

    def active_keys(self, app_id: int) -> int:
        return len([k for k in self.keys(app_id) if k.status is KeyStatus.ACTIVE])

    def subscription(self, subscription_id: int) -> AppSubscription | None:
        return self.session.get(AppSubscription, subscription_id)

    def subscription_of(self, app_id: int, capability_id: int) -> AppSubscription | None:
        query = select(AppSubscription).where(
            AppSubscription.app_id == app_id, AppSubscription.capability_id == capability_id
        )
        return self.session.scalars(query).first()

    def subscriptions(
        self, *, app_id: int | None = None, provider_department_id: int | None = None
    ) -> list[AppSubscription]:
        query = select(AppSubscription).join(Capability, Capability.id == AppSubscription.capability_id)
        if app_id is not None:
            query = query.where(AppSubscription.app_id == app_id)
        if provider_department_id is not None:
            query = query.where(Capability.provider_department_id == provider_department_id)
        return list(self.session.scalars(query.order_by(AppSubscription.id.desc())))

    def usage(self, since: datetime, scope: tuple[list[str], list[str]] | None = None) -> list[GatewayUsage]:
        """Usage rows since ``since``; with ``scope`` = (apps, capabilities), rows of either."""
        query = select(GatewayUsage).where(GatewayUsage.interval_start >= since)
        if scope is not None:
            apps, capabilities = scope
            query = query.where(
                or_(GatewayUsage.app_code.in_(apps), GatewayUsage.capability_code.in_(capabilities))
            )
        return list(self.session.scalars(query))
