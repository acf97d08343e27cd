"""Delivery of the outbox to subscribers: at least once, in order, signed, retried, dead-lettered.

Each subscription has a cursor (the last outbox event it is done with). A dispatcher takes a due
subscription, locks its row (PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so several dispatchers on several
machines share the subscriptions and never deliver one subscription's events out of order), delivers the
next event and, in the same transaction, moves the cursor. If the dispatcher dies mid-delivery or the
database goes away, the transaction never commits: the cursor stays and the same event, with the same
event id, is delivered again — consumers apply each event id once.

The grant is read afresh for every event: a revoked or expired grant stops delivery at the next event.
Each attempt is a data access and gets one access-audit entry. A failed attempt waits (exponential
back-off, capped at an hour) and after ``webhook_max_attempts`` the event is dead-lettered (recorded as
a ``dead`` delivery) so the subscription is not stuck forever; dead letters can be replayed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker
from stdnum.cn import ric, uscc

from zhongtai.core.crypto import SecretBox
from zhongtai.core.database import transaction
from zhongtai.core.errors import ZhongtaiError
from zhongtai.core.outbox import OutboxEvent
from zhongtai.core.principal import Principal
from zhongtai.core.pseudonym import entity_subject, person_subject
from zhongtai.core.settings import Settings
from zhongtai.core.types import utcnow
from zhongtai.ingest.schedule import next_due
from zhongtai.sharing.models import Delivery, Grant, GrantStatus, Subscription
from zhongtai.sharing.repository import SharingRepository
from zhongtai.sharing.service import identifying_items, projection, record_grant_access
from zhongtai.sharing.webhooks import Allowlist, Resolver, pinned, sign

log = logging.getLogger("zhongtai.sharing.dispatch")
MAX_BACKOFF = timedelta(hours=1)
EVENTS_PER_TURN = 1_000  # a subscription yields to the others after this many events


@dataclass
class DispatchStats:
    delivered: int = 0
    failed: int = 0
    dead: int = 0
    held: int = 0  # subscriptions waiting on a revoked or expired grant
    errors: list[str] = field(default_factory=list)


def backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=2 ** min(attempts, 20)), MAX_BACKOFF)


def dispatch_due(
    factory: sessionmaker[Session],
    settings: Settings,
    client: httpx.Client | None = None,
    resolve: Resolver | None = None,
) -> DispatchStats:
    """One round over every due subscription."""
    stats = DispatchStats()
    with factory() as session:
        due = SharingRepository(session).due_subscriptions(utcnow())
    own = client is None
    http = client or httpx.Client(timeout=settings.webhook_timeout_seconds, follow_redirects=False)
    try:
        for subscription_id in due:
            for _ in range(EVENTS_PER_TURN):
                if not deliver_next(factory, settings, subscription_id, http, stats, resolve):
                    break
    finally:
        if own:
            http.close()
    return stats


def deliver_next(
    factory: sessionmaker[Session],
    settings: Settings,
    subscription_id: int,
    http: httpx.Client,
    stats: DispatchStats,
    resolve: Resolver | None = None,
) -> bool:
    """Deliver the subscription's next event; True if it moved on (so the next one may follow)."""
    with transaction(factory) as session:
        repo = SharingRepository(session)
        postgres = session.get_bind().dialect.name == "postgresql"
        subscription = repo.lock_subscription(subscription_id, postgres)
        now = utcnow()
        if subscription is None or (subscription.next_attempt_at and subscription.next_attempt_at > now):
            return False
        grant = repo.grant(subscription.grant_id)
        assert grant is not None
        event = repo.next_event(grant.resource_id, subscription.cursor)
        if event is None:
            if subscription.schedule:  # the batch is out: wait for the next scheduled moment
                subscription.next_attempt_at = next_due(subscription.schedule, now)
            return False
        if not grant.live(now):
            _hold(session, subscription, grant, event, stats)
            return False
        return _attempt(session, settings, subscription, grant, event, http, stats, resolve)


def _hold(
    session: Session, subscription: Subscription, grant: Grant, event: OutboxEvent, stats: DispatchStats
) -> None:
    """The grant no longer allows delivery: nothing is sent; the refusal is logged once."""
    reason = "grant revoked" if grant.status is GrantStatus.REVOKED else "grant expired"
    stats.held += 1
    if subscription.last_error == reason:
        return
    subscription.last_error = reason
    _log_delivery(session, subscription, event, "held", None, reason)
    _audit(session, subscription, grant, event, "denied", {"reason": reason})


def _attempt(
    session: Session,
    settings: Settings,
    subscription: Subscription,
    grant: Grant,
    event: OutboxEvent,
    http: httpx.Client,
    stats: DispatchStats,
    resolve: Resolver | None,
) -> bool:
    body = _body(session, grant, event)
    secret = SecretBox(settings).open(subscription.secret_sealed)
    status, error = send_signed(settings, subscription.url, event.event_id, body, secret, http, resolve)
    if status is not None and 200 <= status < 300:
        subscription.cursor, subscription.attempts = event.id, 0
        subscription.next_attempt_at, subscription.last_error = None, ""
        _log_delivery(session, subscription, event, "delivered", status, "")
        named: list[str | None] = [*subjects_of(session, settings, grant, event)]
        for subject in named or [None]:
            _audit(session, subscription, grant, event, "success", {}, subject)
        stats.delivered += 1
        return True
    subscription.attempts += 1
    subscription.last_error = error[:500]
    if subscription.attempts >= settings.webhook_max_attempts:
        subscription.cursor, subscription.attempts, subscription.next_attempt_at = event.id, 0, None
        _log_delivery(session, subscription, event, "dead", status, error)
        stats.dead += 1
        outcome = "dead"
    else:
        subscription.next_attempt_at = utcnow() + backoff(subscription.attempts)
        _log_delivery(session, subscription, event, "failed", status, error)
        stats.failed += 1
        outcome = "failure"
    _audit(session, subscription, grant, event, outcome, {"status": status, "error": error[:120]})
    stats.errors.append(f"subscription {subscription.id}: {error}")
    return outcome == "dead"


def _body(session: Session, grant: Grant, event: OutboxEvent) -> str:
    """The Standard Webhooks payload: only the granted items, masked as the grant says."""
    project = projection(session, grant)
    resource = SharingRepository(session).resource_by_id(grant.resource_id)
    payload: dict[str, Any] = {
        "type": f"record.{event.kind}",
        "timestamp": event.occurred_at.isoformat(),
        "data": {
            "event_id": event.event_id,
            "resource": resource.code,
            "record_id": event.record_id,
            "kind": event.kind,
            "record": project(event.data) if event.data is not None else None,
        },
    }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def send_signed(
    settings: Settings,
    url: str,
    event_id: str,
    body: str,
    secret: str,
    http: httpx.Client,
    resolve: Resolver | None,
) -> tuple[int | None, str]:
    """POST a Standard Webhooks-signed body to an allowlisted URL, pinned to the checked address; the
    status (None when nothing answered) and an error ("" on 2xx)."""
    allowlist = Allowlist(settings.webhook_allowed_hosts)
    try:
        address = allowlist.check_addresses(allowlist.check_url(url), resolve)
    except ZhongtaiError as exc:
        return None, exc.message
    target, host, extensions = pinned(url, address)
    headers = {"content-type": "application/json", **host, **sign(secret, event_id, utcnow(), body)}
    try:
        response = http.post(target, content=body.encode(), headers=headers, extensions=extensions)
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:300]
    if response.is_redirect:
        return response.status_code, "redirects are not followed"
    return response.status_code, "" if response.is_success else f"HTTP {response.status_code}"


def _log_delivery(
    session: Session,
    subscription: Subscription,
    event: OutboxEvent,
    outcome: str,
    status: int | None,
    error: str,
) -> None:
    session.add(
        Delivery(
            subscription_id=subscription.id,
            outbox_id=event.id,
            event_id=event.event_id,
            attempt=subscription.attempts,
            outcome=outcome,
            status_code=status,
            error=error[:500],
            occurred_at=utcnow(),
        )
    )


def _audit(
    session: Session,
    subscription: Subscription,
    grant: Grant,
    event: OutboxEvent,
    outcome: str,
    detail: dict[str, Any],
    subject: str | None = None,
) -> None:
    repo = SharingRepository(session)
    dispatcher = Principal(
        user_id=None,
        username="dispatcher",
        display_name="dispatcher",
        department_id=grant.consumer_department_id,
        department_code=repo.department_code(grant.consumer_department_id),
    )
    record_grant_access(
        session,
        dispatcher,
        grant,
        repo.resource_by_id(grant.resource_id).code,
        list(grant.items),
        1 if outcome == "success" else 0,
        "sharing.event.delivered",
        {"event_id": event.event_id, **detail},
        outcome,
        ("subscription", str(subscription.id)),
        subject,
    )


def subjects_of(session: Session, settings: Settings, grant: Grant, event: OutboxEvent) -> list[str]:
    """Whose data a delivered row is — each person or enterprise it names by ID number or credit code
    (a marriage record names two): one delivery entry per subject, so each finds it in "who used my
    data". Only delivered rows name anyone: a refused or failed attempt let nothing out."""
    if not event.data:
        return []
    resource = SharingRepository(session).resource_by_id(grant.resource_id)
    found = []
    for item, kind in identifying_items(session, resource).items():
        value = str(event.data.get(item) or "")
        if kind == "id_number" and ric.is_valid(value):
            found.append(person_subject(settings, value))
        elif kind == "credit_code" and uscc.is_valid(value):
            found.append(entity_subject(value))
    return list(dict.fromkeys(found))


def run_forever(
    factory: sessionmaker[Session],
    settings: Settings,
    interval: float = 1.0,
    stop: Callable[[], bool] = lambda: False,
) -> None:
    """The dispatcher loop of ``zhongtai sharing dispatch --loop``."""
    import time

    while not stop():
        try:
            dispatch_due(factory, settings)
        except Exception:  # a database outage must not end the dispatcher; the next round retries
            log.exception("dispatch round failed")
        time.sleep(interval)
