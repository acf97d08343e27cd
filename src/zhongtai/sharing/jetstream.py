"""Subscription events through NATS JetStream, so several dispatchers on several machines share the work.

- The **relay** publishes each subscription's outbox events past its ``relayed`` mark to the subject
  ``<prefix>.events.<subscription id>`` of the stream ``<PREFIX>_EVENTS`` (work-queue retention), with
  ``Nats-Msg-Id`` = event id + subscription, so a relay that crashes before recording its progress and
  publishes again is de-duplicated by the server.
- Each subscription has one durable pull consumer with ``max_ack_pending = 1``: whichever dispatcher
  fetches holds the subscription's only message in flight, so events of one subscription are delivered
  in order however many dispatchers run, and different subscriptions go to different dispatchers.
- A fetched message is delivered by :func:`zhongtai.sharing.dispatch.deliver_next` — the same code,
  grant check, masking, signing, cursor and audit as without NATS. The message is acknowledged once the
  subscription's cursor has passed it (delivered or dead-lettered); otherwise it is nak'ed with the
  back-off delay. A dispatcher killed before acknowledging leaves the message to be redelivered after
  ``ack_wait``; the database cursor makes a redelivered, already delivered event a no-op.

The database outbox stays the source of truth: NATS loses nothing the relay cannot publish again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import httpx
from nats.aio.client import Client as NATS
from nats.js.api import AckPolicy, ConsumerConfig, RetentionPolicy, StreamConfig
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from zhongtai.core.database import transaction
from zhongtai.core.outbox import OutboxEvent
from zhongtai.core.settings import Settings
from zhongtai.core.types import utcnow
from zhongtai.sharing.dispatch import DispatchStats, deliver_next
from zhongtai.sharing.models import Grant, Subscription
from zhongtai.sharing.webhooks import Resolver

RELAY_BATCH = 1_000
WEEK = 7 * 24 * 3600.0


@dataclass(frozen=True)
class Names:
    prefix: str

    @property
    def stream(self) -> str:
        return f"{self.prefix.upper().replace('-', '_')}_EVENTS"

    def subject(self, subscription_id: int | str) -> str:
        return f"{self.prefix}.events.{subscription_id}"

    def consumer(self, subscription_id: int) -> str:
        return f"sub-{subscription_id}"


async def connect(settings: Settings) -> tuple[NATS, JetStreamContext]:
    assert settings.nats_url, "ZHONGTAI_NATS_URL is not set"
    client = NATS()
    await client.connect(settings.nats_url, connect_timeout=5, max_reconnect_attempts=3)
    stream = client.jetstream()
    names = Names(settings.nats_prefix)
    config = StreamConfig(
        name=names.stream,
        subjects=[names.subject(">")],
        retention=RetentionPolicy.WORK_QUEUE,
        max_age=WEEK,
        duplicate_window=120.0,
    )
    try:
        await stream.stream_info(names.stream)
    except NotFoundError:
        await stream.add_stream(config)
    return client, stream


async def relay(factory: sessionmaker[Session], settings: Settings, stream: JetStreamContext) -> int:
    """Publish every active subscription's unpublished events; returns how many were published."""
    names = Names(settings.nats_prefix)
    published = 0
    with factory() as session:
        work = [
            (row[0].id, row[0].relayed, row[1])
            for row in session.execute(
                select(Subscription, Grant.resource_id)
                .join(Grant, Grant.id == Subscription.grant_id)
                .where(Subscription.active.is_(True))
            )
        ]
    for subscription_id, relayed, resource_id in work:
        with factory() as session:
            events = [
                (row[0], row[1])
                for row in session.execute(
                    select(OutboxEvent.id, OutboxEvent.event_id)
                    .where(OutboxEvent.resource_id == resource_id, OutboxEvent.id > relayed)
                    .order_by(OutboxEvent.id)
                    .limit(RELAY_BATCH)
                )
            ]
        for outbox_id, event_id in events:
            body = json.dumps({"subscription": subscription_id, "outbox_id": outbox_id, "event_id": event_id})
            await stream.publish(
                names.subject(subscription_id),
                body.encode(),
                headers={"Nats-Msg-Id": f"{event_id}.{subscription_id}"},
            )
            published += 1
        if events:
            with transaction(factory) as session:
                found = session.get(Subscription, subscription_id)
                if found is not None and found.relayed < events[-1][0]:
                    found.relayed = events[-1][0]
    return published


async def work(
    factory: sessionmaker[Session],
    settings: Settings,
    stream: JetStreamContext,
    http: httpx.Client,
    resolve: Resolver | None = None,
    wait: float = 0.2,
) -> DispatchStats:
    """One round: take at most one message per subscription and deliver it."""
    names = Names(settings.nats_prefix)
    stats = DispatchStats()
    with factory() as session:
        subscriptions = list(session.scalars(select(Subscription.id).where(Subscription.active.is_(True))))
    for subscription_id in subscriptions:
        pull = await stream.pull_subscribe(
            names.subject(subscription_id),
            durable=names.consumer(subscription_id),
            stream=names.stream,
            config=ConsumerConfig(
                ack_policy=AckPolicy.EXPLICIT,
                max_ack_pending=1,
                ack_wait=settings.webhook_timeout_seconds
                * 3,  # a dead dispatcher's message returns after this
            ),
        )
        try:
            messages = await pull.fetch(1, timeout=wait)
        except TimeoutError:
            continue
        finally:
            await pull.unsubscribe()
        for message in messages:
            outbox_id = int(json.loads(message.data)["outbox_id"])
            while deliver_next(factory, settings, subscription_id, http, stats, resolve):
                if _cursor(factory, subscription_id) >= outbox_id:
                    break
            if _cursor(factory, subscription_id) >= outbox_id:
                await message.ack()
            else:
                await message.nak(delay=_delay(factory, subscription_id))
    return stats


def _cursor(factory: sessionmaker[Session], subscription_id: int) -> int:
    with factory() as session:
        return session.scalar(select(Subscription.cursor).where(Subscription.id == subscription_id)) or 0


def _delay(factory: sessionmaker[Session], subscription_id: int) -> float:
    with factory() as session:
        due = session.scalar(select(Subscription.next_attempt_at).where(Subscription.id == subscription_id))
    return max(1.0, (due - utcnow()).total_seconds()) if due else 30.0


async def relay_once(factory: sessionmaker[Session], settings: Settings) -> int:
    """Connect, publish what is unpublished, disconnect (the queue's dispatch job in NATS mode)."""
    client, stream = await connect(settings)
    try:
        return await relay(factory, settings, stream)
    finally:
        await client.close()


async def run_forever(factory: sessionmaker[Session], settings: Settings, interval: float = 1.0) -> None:
    """A dispatcher process (``zhongtai sharing dispatch --loop`` with ZHONGTAI_NATS_URL): relay and work,
    round after round. Run it on as many machines as needed."""
    import asyncio
    import logging

    log = logging.getLogger("zhongtai.sharing.jetstream")
    client, stream = await connect(settings)
    try:
        with httpx.Client(timeout=settings.webhook_timeout_seconds, follow_redirects=False) as http:
            while True:
                try:
                    await relay(factory, settings, stream)
                    await work(factory, settings, stream, http)
                except Exception:  # a database or broker hiccup must not end the dispatcher
                    log.exception("dispatch round failed")
                await asyncio.sleep(interval)
    finally:
        await client.close()
