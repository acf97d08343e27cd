"""Scheduled reports upstream (向省报送): once a day after its hour, the previous day's figures are pushed
signed (the receiver verifies them with the secret shown once), each day once however often the job runs;
a failing receiver is retried with backoff and then dead-lettered; deliveries are counted and audited; only
operators set reports up, with a registered producer and an allowlisted URL."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.core.test_identity import login
from tests.factories import World
from tests.sharing.test_dispatch import Subscriber, public
from zhongtai.core.audit import AuditEvent
from zhongtai.core.database import transaction
from zhongtai.core.errors import Forbidden, Invalid
from zhongtai.core.principal import Principal, platform_actor
from zhongtai.core.settings import Settings
from zhongtai.sharing import reports
from zhongtai.sharing.models import ReportDelivery

URL = "https://report.province.example/receive"


def _figures(session: Session, settings: Settings, day: date) -> dict[str, Any]:
    return {"day": day.isoformat(), "tests": day.day}


@pytest.fixture
def province(settings: Settings) -> Settings:
    reports.register_producer("test.daily", _figures)
    return settings.model_copy(
        update={"webhook_allowed_hosts": ["report.province.example"], "webhook_max_attempts": 3}
    )


def _create(factory: sessionmaker[Session], settings: Settings, hour: int = 8) -> str:
    spec = reports.ReportSpec("daily-test", "日报", "test.daily", "WJW", "省平台", URL, hour)
    with transaction(factory) as session:
        report, secret = reports.create(session, settings, platform_actor("admin", "平台"), spec)
        report.created_at = report.created_at - timedelta(days=3)  # set up days ago
    return secret


def _at(settings: Settings, day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 5, tzinfo=settings.zone)


def test_each_day_is_pushed_once_signed_after_its_hour(
    factory: sessionmaker[Session], province: Settings
) -> None:
    secret = _create(factory, province)
    receiver = Subscriber(secret)
    today = date(2026, 12, 6)
    with httpx.Client(transport=httpx.MockTransport(receiver)) as http:
        early = reports.run_due(factory, province, _at(province, today, 7), http, public)
        later = reports.run_due(factory, province, _at(province, today, 9), http, public)
        again = reports.run_due(factory, province, _at(province, today, 10), http, public)
    pushed = sorted(body["data"]["period"] for body in receiver.applied.values())
    assert pushed[-1] == "2026-12-05" and "2026-12-06" not in pushed  # yesterday, never today
    assert early == len(pushed) - 1 and later == 1 and again == 0  # after 08:00 yesterday's; nothing twice
    assert {body["data"]["figures"]["tests"] for body in receiver.applied.values()} >= {5}
    with factory() as session:
        [status] = reports.statuses(session, platform_actor("admin", "平台"))
        assert status.delivered == len(pushed) and reports.delivered_count(session, "test.daily") == len(
            pushed
        )
        events = session.scalars(select(AuditEvent).where(AuditEvent.event_type == "sharing.report.pushed"))
        assert len(list(events)) == len(pushed)


def test_a_failing_receiver_is_retried_then_dead_lettered(
    factory: sessionmaker[Session], province: Settings
) -> None:
    secret = _create(factory, province, hour=0)
    receiver = Subscriber(secret)
    receiver.fail_with = 503
    moment = _at(province, date(2026, 12, 6), 1)
    with httpx.Client(transport=httpx.MockTransport(receiver)) as http:
        assert reports.run_due(factory, province, moment, http, public) == 0
        assert reports.run_due(factory, province, moment, http, public) == 0  # backing off: not yet
        for step in range(1, 4):
            reports.run_due(factory, province, moment + timedelta(hours=step), http, public)
    with factory() as session:
        rows = list(session.scalars(select(ReportDelivery)))
    assert rows and all(r.outcome == "dead" and r.attempts == 3 for r in rows)
    receiver.fail_with = None
    with httpx.Client(transport=httpx.MockTransport(receiver)) as http:
        assert reports.run_due(factory, province, moment + timedelta(days=1), http, public) == 1  # a new day

    def wrong(request: httpx.Request) -> httpx.Response:  # a receiver holding another secret refuses it
        try:
            Webhook("whsec_" + "A" * 44).verify(request.content, dict(request.headers))
        except WebhookVerificationError:
            return httpx.Response(401)
        return httpx.Response(204)

    with httpx.Client(transport=httpx.MockTransport(wrong)) as http:
        assert reports.run_due(factory, province, moment + timedelta(days=2), http, public) == 0


def test_only_operators_set_up_reports_that_can_be_sent(
    factory: sessionmaker[Session], province: Settings
) -> None:
    officer = Principal(None, "wjw.officer", "wjw.officer", None, "WJW", frozenset())
    good = reports.ReportSpec("daily-x", "日报", "test.daily", "WJW", "省平台", URL, 8)
    cases: list[tuple[Principal, reports.ReportSpec, type[Exception]]] = [
        (officer, good, Forbidden),
        (
            platform_actor("admin", "平台"),
            reports.ReportSpec(**{**good.__dict__, "producer": "none"}),
            Invalid,
        ),
        (platform_actor("admin", "平台"), reports.ReportSpec(**{**good.__dict__, "hour": 24}), Invalid),
        (
            platform_actor("admin", "平台"),
            reports.ReportSpec(**{**good.__dict__, "url": "http://10.0.0.1/x"}),
            Invalid,
        ),
        (platform_actor("admin", "平台"), reports.ReportSpec(**{**good.__dict__, "code": "日报"}), Invalid),
    ]
    for actor, spec, error in cases:
        with pytest.raises(error), transaction(factory) as session:
            reports.create(session, province, actor, spec)


def test_a_day_is_claimed_by_one_worker_only(factory: sessionmaker[Session], province: Settings) -> None:
    """Two workers finding the same day unsent: the first inserts its row before sending; the second's
    insert fails on the unique day and it sends nothing (its transaction stays usable)."""
    _create(factory, province)
    day = date(2026, 12, 5)
    with transaction(factory) as first:
        report = first.scalars(select(reports.Report)).one()
        assert reports._claim(first, report, day) is not None
    with transaction(factory) as second:
        report = second.scalars(select(reports.Report)).one()
        assert reports._claim(second, report, day) is None
        assert reports._claim(second, report, date(2026, 12, 4)) is not None  # other days still go


def test_the_reports_page_shows_each_report_with_its_deliveries_to_whom_it_concerns(
    client: TestClient, world: World, factory: sessionmaker[Session], province: Settings
) -> None:
    secret = _create(factory, province)
    with httpx.Client(transport=httpx.MockTransport(Subscriber(secret))) as http:
        pushed = reports.run_due(factory, province, _at(province, date(2026, 12, 6), 9), http, public)
    assert pushed >= 1
    assert login(client, "consumer_c") == 303  # the health commission's own report
    assert 'href="/sharing/reports"' in client.get("/sharing").text
    page = client.get("/sharing/reports")
    assert page.status_code == 200 and "daily-test" in page.text and "省平台" in page.text
    assert f"已报送 {pushed} 次" in page.text and "2026-12-05" in page.text and "已送达" in page.text
    assert secret not in page.text  # the signing secret is shown once, at creation, never here
    other = TestClient(client.app)
    assert login(other, "officer_a") == 303  # public security: not its report
    assert "daily-test" not in other.get("/sharing/reports").text
    auditor = TestClient(client.app)
    assert login(auditor, "auditor") == 303
    assert "daily-test" in auditor.get("/sharing/reports").text
