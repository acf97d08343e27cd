"""Every query of sharing. Listing queries take the caller and only return rows the caller may see."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, func, or_, select, text
from sqlalchemy.orm import Session

from zhongtai.catalog.models import InformationItem, Resource
from zhongtai.core.outbox import OutboxEvent, OutboxFeed
from zhongtai.core.principal import Principal
from zhongtai.governance.models import CleanRecord
from zhongtai.orgs.models import Department
from zhongtai.sharing.models import (
    Application,
    ApplicationStatus,
    ApplicationStep,
    Delivery,
    Grant,
    GrantStatus,
    ItemPolicy,
    Subscription,
)

STREAM_PAGE = 5_000
# An item name as it may appear inside SQL text (the key index's expression must be literal to be used):
# letters (any script), digits, spaces, and a few marks; never a quote or a backslash.
SAFE_ITEM = re.compile(r"[\w\s()()·.-]{1,100}")


def key_expression(dialect: str, item: str) -> str:
    """The SQL expression of an item's value in a clean row, the same in the index and the query."""
    if not SAFE_ITEM.fullmatch(item):
        raise ValueError(f"item name not usable as a key: {item!r}")
    if dialect == "postgresql":
        return f"(data::jsonb ->> '{item}')"
    return f"json_extract(data, '$.\"{item}\"')"


def _visible(principal: Principal, consumer: Any, provider: Any) -> ColumnElement[bool] | None:
    if principal.sees_all_departments:
        return None
    return or_(consumer == principal.department_id, provider == principal.department_id)


class SharingRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # Catalog and departments ------------------------------------------------------------------------
    def resource(self, code: str) -> Resource | None:
        return self.session.scalars(select(Resource).where(Resource.code == code)).first()

    def resource_by_id(self, resource_id: int) -> Resource:
        found = self.session.get(Resource, resource_id)
        assert found is not None
        return found

    def department_codes(self) -> dict[int, str]:
        return {row[0]: row[1] for row in self.session.execute(select(Department.id, Department.code))}

    def department_code(self, department_id: int) -> str:
        """One department's code (from the session's identity map after the first call)."""
        found = self.session.get(Department, department_id)
        return found.code if found else "?"

    def department_by_code(self, code: str) -> Department | None:
        return self.session.scalars(select(Department).where(Department.code == code)).first()

    # Item policies --------------------------------------------------------------------------------
    def resources_items(self, ids: list[int]) -> dict[int, tuple[str, list[tuple[str, str | None, bool]]]]:
        """Resources' codes and items (name, data element, sensitive) as plain rows, by resource id."""
        found: dict[int, tuple[str, list[tuple[str, str | None, bool]]]] = {
            row[0]: (row[1], [])
            for row in self.session.execute(select(Resource.id, Resource.code).where(Resource.id.in_(ids)))
        }
        query = (
            select(
                InformationItem.resource_id,
                InformationItem.name,
                InformationItem.data_element,
                InformationItem.sensitive,
            )
            .where(InformationItem.resource_id.in_(ids))
            .order_by(InformationItem.resource_id, InformationItem.position)
        )
        for rid, name, element, sensitive in self.session.execute(query):
            found[rid][1].append((name, element, bool(sensitive)))
        return found

    def policies_of(self, ids: list[int]) -> dict[int, dict[str, ItemPolicy]]:
        found: dict[int, dict[str, ItemPolicy]] = {}
        for policy in self.session.scalars(select(ItemPolicy).where(ItemPolicy.resource_id.in_(ids))):
            found.setdefault(policy.resource_id, {})[policy.item] = policy
        return found

    def policies(self, resource_id: int) -> dict[str, ItemPolicy]:
        query = select(ItemPolicy).where(ItemPolicy.resource_id == resource_id)
        return {p.item: p for p in self.session.scalars(query)}

    # Applications -------------------------------------------------------------------------------
    def next_application_number(self, year: int) -> str:
        prefix = f"SQ{year}"
        last = self.session.scalar(
            select(func.max(Application.number)).where(Application.number.like(f"{prefix}%"))
        )
        sequence = int(last[len(prefix) :]) + 1 if last else 1
        return f"{prefix}{sequence:06d}"

    def application(self, number: str) -> Application | None:
        return self.session.scalars(select(Application).where(Application.number == number)).first()

    def count_by_status(self) -> dict[ApplicationStatus, int]:
        query = select(Application.status, func.count()).group_by(Application.status)
        return {status: count for status, count in self.session.execute(query).all()}

    def applications(
        self,
        principal: Principal,
        *,
        status: ApplicationStatus | None = None,
        role: str | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[list[Application], int]:
        """``role``: ``applied`` (my department's), ``provider`` (for my data), ``bureau`` (the bureau's
        queue) — or every application the caller may see."""
        query: Select[Application] = select(Application)
        scope = _visible(principal, Application.consumer_department_id, Application.provider_department_id)
        if scope is not None:
            query = query.where(scope)
        if role == "applied":
            query = query.where(Application.consumer_department_id == principal.department_id)
        elif role == "provider":
            query = query.where(Application.provider_department_id == principal.department_id)
        elif role == "bureau":
            query = query.where(Application.status == ApplicationStatus.BUREAU_REVIEW)
        if status is not None:
            query = query.where(Application.status == status)
        total = self.session.scalar(select(func.count()).select_from(query.subquery())) or 0
        ordered = query.order_by(Application.created_at.desc(), Application.id.desc())
        return list(self.session.scalars(ordered.offset(offset).limit(limit)).all()), total

    def steps(self, application_id: int) -> list[ApplicationStep]:
        query = (
            select(ApplicationStep)
            .where(ApplicationStep.application_id == application_id)
            .order_by(ApplicationStep.id)
        )
        return list(self.session.scalars(query))

    def overdue(self, now: datetime) -> list[Application]:
        query = select(Application).where(
            Application.step_due_at < now,
            Application.escalated_at.is_(None),
            Application.status.in_([ApplicationStatus.BUREAU_REVIEW, ApplicationStatus.PROVIDER_REVIEW]),
        )
        return list(self.session.scalars(query))

    def all_applications(self) -> list[Application]:
        return list(self.session.scalars(select(Application)))

    # Grants --------------------------------------------------------------------------------------
    def grant(self, grant_id: int) -> Grant | None:
        return self.session.get(Grant, grant_id)

    def live_grant_on(
        self, department_id: int, resource_name: str, provider: str, now: datetime
    ) -> Grant | None:
        query = (
            select(Grant)
            .join(Resource, Resource.id == Grant.resource_id)
            .join(Department, Department.id == Resource.provider_department_id)
            .where(
                Resource.name == resource_name,
                Department.code == provider,
                Grant.consumer_department_id == department_id,
                Grant.case_ref.is_(None),
                Grant.status == GrantStatus.ACTIVE,
                Grant.expires_at > now,
            )
            .order_by(Grant.id.desc())
        )
        return self.session.scalars(query.limit(1)).first()

    def grants_by_id(self, ids: list[int]) -> list[Grant]:
        return list(self.session.scalars(select(Grant).where(Grant.id.in_(ids)))) if ids else []

    def case_grants(self, case_ref: str) -> list[Grant]:
        return list(self.session.scalars(select(Grant).where(Grant.case_ref == case_ref).order_by(Grant.id)))

    def records_where(self, resource_id: int, item: str, value: str, limit: int) -> list[dict[str, Any]]:
        """The resource's clean rows whose ``item`` equals ``value``, found by the key index of that item
        (``ensure_key_index``) where it exists, else by scanning the resource's rows."""
        connection = self.session.connection()
        expression = key_expression(connection.dialect.name, item)
        query = text(
            f"SELECT data FROM clean_records WHERE resource_id = :rid AND {expression} = :value "  # noqa: S608 - a checked item name
            "ORDER BY job_id, source_key LIMIT :limit"
        )
        rows = connection.execute(query, {"rid": resource_id, "value": value, "limit": limit})
        return [json.loads(row[0]) if isinstance(row[0], str) else row[0] for row in rows]

    def ensure_key_index(self, item: str) -> None:
        """An index on (resource, the item's value) over the clean zone, made once per item used to find
        a person's or an enterprise's records (a service's key): a lookup, not a scan, at any size."""
        connection = self.session.connection()
        name = "ix_clean_key_" + hashlib.sha256(item.encode()).hexdigest()[:16]
        expression = key_expression(connection.dialect.name, item)
        connection.execute(
            text(f"CREATE INDEX IF NOT EXISTS {name} ON clean_records (resource_id, ({expression}))")
        )

    def grant_of(self, application_id: int) -> Grant | None:
        return self.session.scalars(select(Grant).where(Grant.application_id == application_id)).first()

    def grants(self, principal: Principal, offset: int = 0, limit: int = 50) -> tuple[list[Grant], int]:
        query: Select[Grant] = select(Grant)
        scope = _visible(principal, Grant.consumer_department_id, Grant.provider_department_id)
        if scope is not None:
            query = query.where(scope)
        total = self.session.scalar(select(func.count()).select_from(query.subquery())) or 0
        return list(
            self.session.scalars(query.order_by(Grant.id.desc()).offset(offset).limit(limit)).all()
        ), total

    # Shared rows: the resource's clean zone -------------------------------------------------------
    def records_page(self, resource_id: int, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        base = select(CleanRecord.data).where(CleanRecord.resource_id == resource_id)
        total = self.session.scalar(
            select(func.count()).select_from(CleanRecord).where(CleanRecord.resource_id == resource_id)
        )
        rows = self.session.scalars(
            base.order_by(CleanRecord.job_id, CleanRecord.source_key).offset(offset).limit(limit)
        )
        return list(rows), total or 0

    def stream_records(self, resource_id: int) -> Iterator[list[dict[str, Any]]]:
        """The resource's clean rows in pages (keyset), for exports of any size."""
        after: tuple[int, str] = (-1, "")
        while True:
            query = (
                select(CleanRecord.job_id, CleanRecord.source_key, CleanRecord.data)
                .where(
                    CleanRecord.resource_id == resource_id,
                    or_(
                        CleanRecord.job_id > after[0],
                        (CleanRecord.job_id == after[0]) & (CleanRecord.source_key > after[1]),
                    ),
                )
                .order_by(CleanRecord.job_id, CleanRecord.source_key)
                .limit(STREAM_PAGE)
            )
            rows = self.session.execute(query).all()
            if not rows:
                return
            after = (rows[-1][0], rows[-1][1])
            yield [row[2] for row in rows]

    # Subscriptions and the outbox ---------------------------------------------------------------
    def subscription(self, subscription_id: int) -> Subscription | None:
        return self.session.get(Subscription, subscription_id)

    def subscriptions_of(self, grant_id: int) -> list[Subscription]:
        query = select(Subscription).where(Subscription.grant_id == grant_id).order_by(Subscription.id)
        return list(self.session.scalars(query))

    def subscriptions_of_resource(self, resource_id: int) -> list[Subscription]:
        query = (
            select(Subscription)
            .join(Grant, Grant.id == Subscription.grant_id)
            .where(Grant.resource_id == resource_id)
        )
        return list(self.session.scalars(query))

    def due_subscriptions(self, now: datetime) -> list[int]:
        """Active subscriptions whose next attempt is due (or not waiting), with events past the cursor."""
        waiting = or_(Subscription.next_attempt_at.is_(None), Subscription.next_attempt_at <= now)
        pending = (
            select(OutboxEvent.id)
            .join(Grant, Grant.resource_id == OutboxEvent.resource_id)
            .where(Grant.id == Subscription.grant_id, OutboxEvent.id > Subscription.cursor)
            .exists()
        )
        query = select(Subscription.id).where(Subscription.active.is_(True), waiting, pending)
        return list(self.session.scalars(query.order_by(Subscription.id)))

    def lock_subscription(self, subscription_id: int, postgres: bool) -> Subscription | None:
        """The subscription, locked for this dispatcher (others skip it) until the transaction ends."""
        query = select(Subscription).where(Subscription.id == subscription_id, Subscription.active.is_(True))
        if postgres:
            query = query.with_for_update(skip_locked=True)
        return self.session.scalars(query).first()

    def next_event(self, resource_id: int, after: int) -> OutboxEvent | None:
        query = (
            select(OutboxEvent)
            .where(OutboxEvent.resource_id == resource_id, OutboxEvent.id > after)
            .order_by(OutboxEvent.id)
            .limit(1)
        )
        return self.session.scalars(query).first()

    def backlog(self, resource_id: int, after: int) -> int:
        query = select(func.count()).where(OutboxEvent.resource_id == resource_id, OutboxEvent.id > after)
        return self.session.scalar(query) or 0

    def event_before(self, resource_id: int, since: datetime) -> int:
        """The cursor that replays every event of the resource from ``since`` on."""
        first = self.session.scalar(
            select(func.min(OutboxEvent.id)).where(
                OutboxEvent.resource_id == resource_id, OutboxEvent.occurred_at >= since
            )
        )
        if first is None:
            return self.session.scalar(select(func.max(OutboxEvent.id))) or 0
        return first - 1

    def deliveries(self, subscription_id: int, limit: int = 100) -> list[Delivery]:
        query = (
            select(Delivery)
            .where(Delivery.subscription_id == subscription_id)
            .order_by(Delivery.id.desc())
            .limit(limit)
        )
        return list(self.session.scalars(query))

    def fed_resources(self) -> list[int]:
        return list(self.session.scalars(select(OutboxFeed.resource_id)))

    def drop_events(self, resource_id: int, before: datetime, up_to: int | None) -> int:
        """Events of the resource older than ``before`` (and, if given, with ids up to ``up_to``)."""
        query = delete(OutboxEvent).where(
            OutboxEvent.resource_id == resource_id, OutboxEvent.occurred_at < before
        )
        if up_to is not None:
            query = query.where(OutboxEvent.id <= up_to)
        return int(self.session.execute(query).rowcount or 0)  # type: ignore[attr-defined]
