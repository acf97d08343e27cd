"""Subscriptions: signed change events delivered at least once, in order, within the grant; retries,
dead letters, replays, revocation, crashes, and the allowlist."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.factories import World
from tests.governance.helpers import raw_batch
from tests.sharing.helpers import id_number, person, shared_people
from tests.sharing.test_api import API, granted
from zhongtai.core.outbox import OutboxEvent
from zhongtai.core.settings import Settings
from zhongtai.governance.pipeline import run_pass
from zhongtai.sharing.dispatch import DispatchStats, deliver_next, dispatch_due

PUBLIC = "93.184.216.34"  # what the subscriber's host resolves to in these tests


def public(_: str) -> list[str]:
    return [PUBLIC]


class Subscriber:
    """The consumer's endpoint: verifies each event with the standardwebhooks library, applies each
    event id once, and can be made to fail."""

    def __init__(self, secret: str = "") -> None:
        self.secret = secret
        self.applied: dict[str, dict[str, Any]] = {}
        self.received: list[str] = []
        self.fail_with: int | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.fail_with:
            return httpx.Response(self.fail_with)
        body = Webhook(self.secret).verify(request.content, dict(request.headers))
        event_id = request.headers["webhook-id"]
        self.received.append(event_id)
        self.applied.setdefault(event_id, body)
        return httpx.Response(204)


def subscribed(
    client: TestClient, world: World, factory: sessionmaker[Session], settings: Settings
) -> tuple[str, str, int, int, str]:
    """A GAJ resource with 2 rows, a WJW subscription grant and a subscription; (resource, job, grant,
    subscription, secret)."""
    resource, job = shared_people(factory, settings, rows=2)
    grant_id = granted(client, world, resource, mode="subscription")["grant_id"]
    made = client.post(
        f"{API}/grants/{grant_id}/subscriptions",
        json={"url": "https://hook.wjw.example/events"},
        headers=world.auth("consumer_c"),
    )
    assert made.status_code == 201, made.text
    assert made.json()["secret"].startswith("whsec_")
    return resource, job, int(grant_id), made.json()["id"], made.json()["secret"]  # type: ignore[arg-type]


@pytest.fixture
def hook_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"webhook_allowed_hosts": ["hook.wjw.example"], "webhook_max_attempts": 3}
    )


@pytest.fixture
def hook_client(hook_settings: Settings) -> Any:
    from zhongtai.app import create_app

    with TestClient(create_app(hook_settings), raise_server_exceptions=False) as test_client:
        yield test_client


def change_rows(
    factory: sessionmaker[Session], resource: str, job: str, rows: dict[str, dict[str, Any]]
) -> None:
    batch = raw_batch(factory, job, rows)
    assert run_pass(factory, resource, run_id=batch, trigger="test").error is None


def test_changes_reach_the_subscriber_signed_masked_and_in_order(
    hook_client: TestClient, world: World, factory: sessionmaker[Session], hook_settings: Settings
) -> None:
    resource, job, _, _, secret = subscribed(hook_client, world, factory, hook_settings)
    subscriber = Subscriber(secret)
    change_rows(factory, resource, job, {"k0": person(0, "李四"), "k1": person(1), "k9": person(9)})
    with httpx.Client(transport=httpx.MockTransport(subscriber)) as http:
        stats = dispatch_due(factory, hook_settings, http, public)
    assert stats.delivered == 2, stats  # k0 renamed (updated), k9 created; k1 unchanged emits nothing
    kinds = sorted(body["data"]["kind"] for body in subscriber.applied.values())
    assert kinds == ["created", "updated"]
    for body in subscriber.applied.values():
        record = body["data"]["record"]
        assert set(record) == {"姓名", "公民身份号码"}
        assert "*" in record["公民身份号码"] and id_number(9) not in json.dumps(body, ensure_ascii=False)
    with httpx.Client(transport=httpx.MockTransport(subscriber)) as http:
        assert dispatch_due(factory, hook_settings, http, public).delivered == 0  # nothing twice


def test_a_forged_or_replayed_signature_is_refused_by_the_consumer(
    hook_client: TestClient, world: World, factory: sessionmaker[Session], hook_settings: Settings
) -> None:
    resource, job, _, _, secret = subscribed(hook_client, world, factory, hook_settings)
    captured: list[httpx.Request] = []

    def keep(request: httpx.Request) -> httpx.Response:
        captured.append(request)
        return httpx.Response(200)

    change_rows(factory, resource, job, {"k5": person(5)})
    with httpx.Client(transport=httpx.MockTransport(keep)) as http:
        dispatch_due(factory, hook_settings, http, public)
    request = captured[0]
    Webhook(secret).verify(request.content, dict(request.headers))
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(request.content.replace(b"created", b"deleted"), dict(request.headers))
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 43).verify(request.content, dict(request.headers))
    stale = {
        **dict(request.headers),
        "webhook-timestamp": str(int(request.headers["webhook-timestamp"]) - 3600),
    }
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(request.content, stale)


def test_a_failing_subscriber_is_retried_then_dead_lettered_and_replay_delivers_again(
    hook_client: TestClient, world: World, factory: sessionmaker[Session], hook_settings: Settings
) -> None:
    resource, job, _, subscription_id, secret = subscribed(hook_client, world, factory, hook_settings)
    subscriber = Subscriber(secret)
    subscriber.fail_with = 500
    change_rows(factory, resource, job, {"k3": person(3)})
    stats = DispatchStats()
    with httpx.Client(transport=httpx.MockTransport(subscriber)) as http:
        for _ in range(3):  # webhook_max_attempts; each retry is due at once only because we force it
            with factory() as session, session.begin():
                from zhongtai.sharing.models import Subscription

                session.get(Subscription, subscription_id).next_attempt_at = None  # type: ignore[union-attr]
            deliver_next(factory, hook_settings, subscription_id, http, stats, public)
    assert (stats.failed, stats.dead) == (2, 1)
    outcomes = [
        d["outcome"]
        for d in hook_client.get(
            f"{API}/subscriptions/{subscription_id}/deliveries", headers=world.auth("consumer_c")
        ).json()
    ]
    assert outcomes == ["dead", "failed", "failed"]
    subscriber.fail_with = None
    with factory() as session:
        first = session.scalars(select(OutboxEvent).order_by(OutboxEvent.id)).first()
        assert first is not None
    replay = hook_client.post(
        f"{API}/subscriptions/{subscription_id}/replay",
        json={"since": first.occurred_at.isoformat()},
        headers=world.auth("consumer_c"),
    )
    assert replay.status_code == 200 and replay.json()["backlog"] == 1
    with httpx.Client(transport=httpx.MockTransport(subscriber)) as http:
        assert dispatch_due(factory, hook_settings, http, public).delivered == 1
    assert list(subscriber.applied) == [first.event_id]


def test_revocation_stops_delivery_at_the_next_event(
    hook_client: TestClient, world: World, factory: sessionmaker[Session], hook_settings: Settings
) -> None:
    resource, job, grant_id, _, secret = subscribed(hook_client, world, factory, hook_settings)
    subscriber = Subscriber(secret)
    change_rows(factory, resource, job, {"k4": person(4)})
    with httpx.Client(transport=httpx.MockTransport(subscriber)) as http:
        assert dispatch_due(factory, hook_settings, http, public).delivered == 1
        hook_client.post(
            f"{API}/grants/{grant_id}/revoke",
            json={"reason": "专项工作结束"},
            headers=world.auth("reviewer_a"),
        )
        change_rows(factory, resource, job, {"k6": person(6)})
        stats = dispatch_due(factory, hook_settings, http, public)
    assert stats.delivered == 0 and stats.held == 1
    assert len(subscriber.received) == 1


def test_a_crash_mid_delivery_delivers_the_same_event_id_again(
    hook_client: TestClient, world: World, factory: sessionmaker[Session], hook_settings: Settings
) -> None:
    resource, job, _, _, secret = subscribed(hook_client, world, factory, hook_settings)
    subscriber = Subscriber(secret)
    change_rows(factory, resource, job, {"k7": person(7)})

    def crash_after_receipt(request: httpx.Request) -> httpx.Response:
        subscriber(request)
        raise SystemExit("dispatcher killed after the subscriber got the event")

    with httpx.Client(transport=httpx.MockTransport(crash_after_receipt)) as http, pytest.raises(SystemExit):
        dispatch_due(factory, hook_settings, http, public)
    with httpx.Client(transport=httpx.MockTransport(subscriber)) as http:
        assert dispatch_due(factory, hook_settings, http, public).delivered == 1
    assert len(subscriber.received) == 2 and len(set(subscriber.received)) == 1  # same id, applied once
    assert len(subscriber.applied) == 1


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "https://evil.example/hook",
        "ftp://hook.wjw.example/x",
        "https://user:pw@hook.wjw.example/",
    ],
)
def test_subscriber_urls_off_the_allowlist_are_refused(
    hook_client: TestClient, world: World, factory: sessionmaker[Session], hook_settings: Settings, url: str
) -> None:
    resource, _ = shared_people(factory, hook_settings, rows=1)
    grant_id = granted(hook_client, world, resource, mode="subscription")["grant_id"]
    refused = hook_client.post(
        f"{API}/grants/{grant_id}/subscriptions", json={"url": url}, headers=world.auth("consumer_c")
    )
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "url"


def test_an_allowed_name_resolving_to_an_internal_address_or_redirecting_is_not_delivered_to(
    hook_client: TestClient, world: World, factory: sessionmaker[Session], hook_settings: Settings
) -> None:
    resource, job, _, subscription_id, _ = subscribed(hook_client, world, factory, hook_settings)
    change_rows(factory, resource, job, {"k8": person(8)})
    called: list[str] = []

    def redirect(request: httpx.Request) -> httpx.Response:
        called.append(
            f"{request.url} host={request.headers['host']} sni={request.extensions.get('sni_hostname')}"
        )
        return httpx.Response(307, headers={"location": "http://127.0.0.1:8000/admin"})

    with httpx.Client(transport=httpx.MockTransport(redirect)) as http:
        internal = dispatch_due(factory, hook_settings, http, lambda host: ["127.0.0.1"])
        assert internal.failed == 1 and called == []  # refused before any request
        from zhongtai.sharing.models import Subscription

        with factory() as session, session.begin():
            session.get(Subscription, subscription_id).next_attempt_at = None  # type: ignore[union-attr]
        redirected = dispatch_due(factory, hook_settings, http, public)
    # pinned to the address that was checked, the name kept for Host and TLS; the redirect not followed
    assert redirected.failed == 1
    assert called == [f"https://{PUBLIC}/events host=hook.wjw.example sni=hook.wjw.example"]


def test_canary_values_never_leave_outside_an_unmasked_grant(
    hook_client: TestClient,
    world: World,
    factory: sessionmaker[Session],
    hook_settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Unique planted personal values are looked for in every response, export, event, log line and
    audit row: none may show up, since no grant lets them out unmasked."""
    caplog.set_level("DEBUG")
    resource, job, grant_id, _, secret = subscribed(hook_client, world, factory, hook_settings)
    canaries = {"欧阳金丝雀", id_number(777), "13877770777"}
    planted = {**person(777, "欧阳金丝雀"), "联系电话": "13877770777"}
    subscriber = Subscriber(secret)
    change_rows(factory, resource, job, {"canary": planted})
    seen: list[str] = []
    with httpx.Client(transport=httpx.MockTransport(subscriber)) as http:
        dispatch_due(factory, hook_settings, http, public)
    seen += [json.dumps(body, ensure_ascii=False) for body in subscriber.applied.values()]
    assert subscriber.applied, "the canary's change was delivered (masked)"
    api_grant = granted(hook_client, world, resource)["grant_id"]
    file_grant = granted(hook_client, world, resource, mode="file")["grant_id"]
    seen.append(
        hook_client.get(f"{API}/grants/{api_grant}/records?limit=500", headers=world.auth("consumer_c")).text
    )
    manifest = hook_client.post(
        f"{API}/grants/{file_grant}/exports", json={"format": "csv"}, headers=world.auth("consumer_c")
    ).json()
    seen.append(
        hook_client.get(
            f"{API}/exports/{manifest['export_id']}/file", headers=world.auth("consumer_c")
        ).content.decode("utf-8-sig")
    )
    for path in (
        "/grants",
        f"/grants/{grant_id}",
        f"/grants/{grant_id}/subscriptions",
        "/applications",
        "/statistics",
    ):
        seen.append(hook_client.get(f"{API}{path}", headers=world.auth("consumer_c")).text)
    with factory() as session:
        seen += [" ".join(str(v) for v in row) for row in session.execute(text("SELECT * FROM audit_events"))]
        seen += [
            " ".join(str(v) for v in row) for row in session.execute(text("SELECT * FROM sharing_deliveries"))
        ]
    seen.append(caplog.text)
    leaks = [(canary, place[:80]) for canary in canaries for place in seen if canary in place]
    assert leaks == []


def test_the_demo_subscriber_verifies_and_applies_each_event_once(
    hook_client: TestClient, world: World, factory: sessionmaker[Session], hook_settings: Settings
) -> None:
    """The demo's health-commission system, called through the app itself as the dispatcher would."""
    from zhongtai.demo import subscriber as demo

    resource, job, _, _, secret = subscribed(hook_client, world, factory, hook_settings)
    demo.save_secret(hook_settings, secret)
    change_rows(factory, resource, job, {"k2": person(2, "王五")})

    def through_the_app(request: httpx.Request) -> httpx.Response:
        answer = hook_client.post(demo.PATH, content=request.content, headers=dict(request.headers))
        return httpx.Response(answer.status_code)

    with httpx.Client(transport=httpx.MockTransport(through_the_app)) as http:
        assert dispatch_due(factory, hook_settings, http, public).delivered == 1
    events = demo.received(hook_settings)
    assert len(events) == 1 and events[0]["payload"]["data"]["record"]["姓名"] == "王*"  # type: ignore[index]
    forged = hook_client.post(
        demo.PATH,
        content=b"{}",
        headers={"webhook-id": "x", "webhook-timestamp": "1", "webhook-signature": "v1,AAAA"},
    )
    assert forged.status_code == 401
    again = events[0]
    body = json.dumps(again["payload"], ensure_ascii=False, separators=(",", ":"))
    from zhongtai.core.types import utcnow
    from zhongtai.sharing.webhooks import sign

    replay = hook_client.post(
        demo.PATH, content=body.encode(), headers=sign(secret, str(again["event_id"]), utcnow(), body)
    )
    assert replay.status_code == 204 and len(demo.received(hook_settings)) == 1  # same id: applied once
    from tests.core.test_identity import login

    assert login(hook_client, "consumer_c") == 303
    assert "王*" in hook_client.get(demo.PATH).text


def test_the_database_going_away_mid_dispatch_loses_nothing(
    hook_client: TestClient,
    world: World,
    factory: sessionmaker[Session],
    hook_settings: Settings,
    db_url: str,
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("a database server going away needs PostgreSQL (SQLite lives in the process)")
    from sqlalchemy import create_engine
    from sqlalchemy.exc import OperationalError

    resource, job, _, _, secret = subscribed(hook_client, world, factory, hook_settings)
    subscriber = Subscriber(secret)
    change_rows(factory, resource, job, {"k1": person(1, "赵六")})
    admin = create_engine(db_url, isolation_level="AUTOCOMMIT")

    def then_the_database_goes(request: httpx.Request) -> httpx.Response:
        answer = subscriber(request)
        with admin.connect() as connection:  # every other session of this database is cut off
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        return answer

    with (
        httpx.Client(transport=httpx.MockTransport(then_the_database_goes)) as http,
        pytest.raises(OperationalError),
    ):
        dispatch_due(factory, hook_settings, http, public)
    admin.dispose()
    with httpx.Client(transport=httpx.MockTransport(subscriber)) as http:
        assert dispatch_due(factory, hook_settings, http, public).delivered == 1
    assert len(subscriber.received) == 2 and len(subscriber.applied) == 1  # redelivered, same event id


def test_a_scheduled_subscription_reports_in_batches_at_its_moments(
    hook_client: TestClient, world: World, factory: sessionmaker[Session], hook_settings: Settings
) -> None:
    """Reporting upstream (e.g. the provincial platform) daily: changes wait for the scheduled moment."""
    from zhongtai.sharing.models import Subscription

    resource, _ = shared_people(factory, hook_settings, rows=1)
    grant_id = granted(hook_client, world, resource, mode="subscription")["grant_id"]
    bad = hook_client.post(
        f"{API}/grants/{grant_id}/subscriptions",
        json={"url": "https://hook.wjw.example/p", "schedule": "0 25 * * *"},
        headers=world.auth("consumer_c"),
    )
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "schedule"
    made = hook_client.post(
        f"{API}/grants/{grant_id}/subscriptions",
        json={"url": "https://hook.wjw.example/p", "schedule": "0 2 * * *"},
        headers=world.auth("consumer_c"),
    )
    assert made.status_code == 201 and made.json()["next_attempt_at"] is not None
    subscriber = Subscriber(made.json()["secret"])
    job = "GAJ-JOB"
    change_rows(factory, resource, job, {"k7": person(7), "k8": person(8)})
    with httpx.Client(transport=httpx.MockTransport(subscriber)) as http:
        assert dispatch_due(factory, hook_settings, http, public).delivered == 0  # not yet 02:00
        with factory() as session, session.begin():  # the clock reaches the scheduled moment
            session.get(Subscription, made.json()["id"]).next_attempt_at = None  # type: ignore[union-attr]
        assert dispatch_due(factory, hook_settings, http, public).delivered == 2
        with factory() as session:
            waiting = session.get(Subscription, made.json()["id"])
            assert waiting is not None and waiting.next_attempt_at is not None  # asleep until the next one


def test_a_slow_subscriber_times_out_and_is_retried(
    hook_client: TestClient, world: World, factory: sessionmaker[Session], hook_settings: Settings
) -> None:
    resource, job, _, subscription_id, secret = subscribed(hook_client, world, factory, hook_settings)
    change_rows(factory, resource, job, {"k3": person(3)})

    def too_slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("the subscriber took too long", request=request)

    with httpx.Client(transport=httpx.MockTransport(too_slow)) as http:
        stats = dispatch_due(factory, hook_settings, http, public)
    assert stats.failed == 1 and "ReadTimeout" in stats.errors[0]
    deliveries = hook_client.get(
        f"{API}/subscriptions/{subscription_id}/deliveries", headers=world.auth("consumer_c")
    ).json()
    assert deliveries[0]["outcome"] == "failed" and "ReadTimeout" in deliveries[0]["error"]
    subscriber = Subscriber(secret)
    from zhongtai.sharing.models import Subscription

    with factory() as session, session.begin():
        session.get(Subscription, subscription_id).next_attempt_at = None  # type: ignore[union-attr]
    with httpx.Client(transport=httpx.MockTransport(subscriber)) as http:
        assert dispatch_due(factory, hook_settings, http, public).delivered == 1


def test_old_events_are_purged_only_once_every_subscription_has_them(
    hook_client: TestClient, world: World, factory: sessionmaker[Session], hook_settings: Settings
) -> None:
    from datetime import timedelta

    from zhongtai.core.database import transaction
    from zhongtai.core.types import utcnow
    from zhongtai.sharing.service import purge_outbox

    resource, job, _, _, secret = subscribed(hook_client, world, factory, hook_settings)
    change_rows(factory, resource, job, {"k5": person(5), "k6": person(6)})
    later = utcnow() + timedelta(days=60)
    with transaction(factory) as session:
        assert purge_outbox(session, later) == 0  # not yet delivered: kept however old
    seen = Subscriber(secret)
    with httpx.Client(transport=httpx.MockTransport(seen)) as http:
        assert dispatch_due(factory, hook_settings, http, public).delivered == 2
    with transaction(factory) as session:
        assert purge_outbox(session, utcnow() - timedelta(days=30)) == 0  # delivered but young
        assert purge_outbox(session, later) == 2
    with factory() as session:
        assert session.scalar(select(OutboxEvent.id)) is None


def test_each_delivered_row_names_its_person_for_who_used_my_data(
    hook_client: TestClient, world: World, factory: sessionmaker[Session], hook_settings: Settings
) -> None:
    from zhongtai.core.audit import AuditEvent
    from zhongtai.core.pseudonym import person_subject

    resource, job, _, _, secret = subscribed(hook_client, world, factory, hook_settings)
    subscriber = Subscriber(secret)
    subscriber.fail_with = 500
    change_rows(factory, resource, job, {"k9": person(9)})
    with httpx.Client(transport=httpx.MockTransport(subscriber)) as http:
        assert dispatch_due(factory, hook_settings, http, public).failed == 1
    subscriber.fail_with = None
    with httpx.Client(transport=httpx.MockTransport(subscriber)) as http:
        dispatch_due(factory, hook_settings, http, public)  # after the back-off: nothing yet
    with factory() as session:
        session.execute(text("UPDATE sharing_subscriptions SET next_attempt_at = NULL"))
        session.commit()
    with httpx.Client(transport=httpx.MockTransport(subscriber)) as http:
        assert dispatch_due(factory, hook_settings, http, public).delivered == 1
    with factory() as session:
        entries = session.execute(
            select(AuditEvent.outcome, AuditEvent.subject).where(
                AuditEvent.event_type == "sharing.event.delivered"
            )
        ).all()
    assert sorted(entries, key=str) == sorted(
        [("failure", None), ("success", person_subject(hook_settings, id_number(9)))], key=str
    )
