"""Subscription events through the real NATS JetStream server (CI): two dispatchers share the work,
events of a subscription arrive in order and once, a dispatcher that dies holding a message leaves it
to the other, and a relay that publishes again is de-duplicated."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from nats.js.api import ConsumerConfig
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import World
from tests.sharing.helpers import person
from tests.sharing.test_dispatch import Subscriber, change_rows, public, subscribed
from zhongtai.app import create_app
from zhongtai.core.database import transaction
from zhongtai.core.outbox import OutboxEvent
from zhongtai.core.settings import Settings
from zhongtai.sharing import jetstream
from zhongtai.sharing.models import Subscription

NATS_ENV = "ZHONGTAI_TEST_NATS_URL"
pytestmark = pytest.mark.skipif(
    not os.environ.get(NATS_ENV), reason=f"NATS tests need {NATS_ENV} (set by .ci/run)"
)


@pytest.fixture
def nats_settings(settings: Settings) -> Iterator[Settings]:
    configured = settings.model_copy(
        update={
            "webhook_allowed_hosts": ["hook.wjw.example"],
            "nats_url": os.environ.get(NATS_ENV),
            "nats_prefix": f"zt{uuid.uuid4().hex[:10]}",
            "webhook_timeout_seconds": 0.5,  # ack_wait 1.5 s: a dead dispatcher's message returns soon
        }
    )
    yield configured

    async def drop() -> None:
        client, stream = await jetstream.connect(configured)
        await stream.delete_stream(jetstream.Names(configured.nats_prefix).stream)
        await client.close()

    asyncio.run(drop())


def test_two_dispatchers_share_a_subscription_in_order_once_and_survive_a_death(
    world: World, factory: sessionmaker[Session], nats_settings: Settings
) -> None:
    with TestClient(create_app(nats_settings), raise_server_exceptions=False) as client:
        resource, job, _, subscription_id, secret = subscribed(client, world, factory, nats_settings)
    subscriber = Subscriber(secret)
    change_rows(factory, resource, job, {f"n{n}": person(100 + n) for n in range(5)})
    with factory() as session:
        expected = list(session.scalars(select(OutboxEvent.event_id).order_by(OutboxEvent.id)))
    assert len(expected) == 5

    async def scenario() -> None:
        one, stream_one = await jetstream.connect(nats_settings)
        two, stream_two = await jetstream.connect(nats_settings)
        assert await jetstream.relay(factory, nats_settings, stream_one) == 5
        with transaction(factory) as session:  # the relay crashed before recording its progress
            session.execute(update(Subscription).values(relayed=0))
        assert await jetstream.relay(factory, nats_settings, stream_two) == 5  # published again…
        info = await stream_one.stream_info(jetstream.Names(nats_settings.nats_prefix).stream)
        assert info.state.messages == 5  # …and de-duplicated by the server

        # Dispatcher one takes the first message and dies without acknowledging it.
        names = jetstream.Names(nats_settings.nats_prefix)
        held = await stream_one.pull_subscribe(
            names.subject(subscription_id),
            durable=names.consumer(subscription_id),
            stream=names.stream,
            config=ConsumerConfig(max_ack_pending=1, ack_wait=1.5),
        )
        assert len(await held.fetch(1, timeout=2)) == 1
        await one.close()
        with httpx.Client(transport=httpx.MockTransport(subscriber)) as http:
            empty = await jetstream.work(factory, nats_settings, stream_two, http, public)
            assert empty.delivered == 0  # the dead dispatcher's message is still out
            await asyncio.sleep(1.7)
            for _ in range(12):
                await jetstream.work(factory, nats_settings, stream_two, http, public, wait=0.5)
                if len(subscriber.applied) == 5:
                    break
        await two.close()

    asyncio.run(scenario())
    assert subscriber.received == expected  # in order, each once
