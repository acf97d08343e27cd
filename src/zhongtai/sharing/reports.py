"""定期报送: scheduled reports upstream (向省报送). A report names a producer — a function a domain registers
here that computes one period's figures (aggregates only: the health code's daily epidemic report is
suppressed like every statistic) — and a receiver's endpoint on the subscriber allowlist. Once a day, after
the report's hour (city time), the previous day's figures are pushed signed with Standard Webhooks (the
receiver verifies them with the secret shown once at creation), with a stable event id per report and day
so a receiver applies each day once. A failed push is retried with backoff, then dead-lettered; each period
is one row, so running the job twice or on two workers sends nothing twice. Every push is audited.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from zhongtai.core import audit
from zhongtai.core.crypto import SecretBox
from zhongtai.core.database import transaction
from zhongtai.core.errors import M_, Conflict, Forbidden, Invalid
from zhongtai.core.principal import Principal
from zhongtai.core.settings import Settings
from zhongtai.core.types import utcnow
from zhongtai.sharing.dispatch import backoff, send_signed
from zhongtai.sharing.models import Report, ReportDelivery
from zhongtai.sharing.webhooks import Allowlist, Resolver, new_secret

Producer = Callable[[Session, Settings, date], dict[str, Any]]
PRODUCERS: dict[str, Producer] = {}
DELIVERED, FAILED, DEAD = "delivered", "failed", "dead"
CATCH_UP_DAYS = 7  # a receiver down for a while gets the missed days, up to a week back


def register_producer(key: str, producer: Producer) -> None:
    """A domain offers figures for reports (called when the domain's module is imported)."""
    PRODUCERS[key] = producer


@dataclass(frozen=True)
class ReportSpec:
    code: str
    name: str
    producer: str
    department_code: str
    receiver: str
    url: str
    hour: int = 8


def create(session: Session, settings: Settings, actor: Principal, spec: ReportSpec) -> tuple[Report, str]:
    """A report (the platform's operators set them up); returns it and its signing secret, shown once."""
    if not actor.is_operator:
        raise Forbidden(M_("only the platform's operators set up scheduled reports"), code="forbidden")
    if spec.producer not in PRODUCERS:
        raise Invalid(M_("no report producer %(name)s", name=spec.producer[:64]), field="producer")
    if not 0 <= spec.hour <= 23:
        raise Invalid(M_("the hour is 0 to 23 (city time)"), field="hour")
    if (
        not 2 <= len(spec.code) <= 48
        or not spec.code.replace("-", "").replace(".", "").isalnum()
        or not spec.code.isascii()
    ):
        raise Invalid(M_("a report code is 2 to 48 letters, digits, dots or dashes"), field="code")
    Allowlist(settings.webhook_allowed_hosts).check_url(spec.url)
    if session.scalars(select(Report).where(Report.code == spec.code)).first() is not None:
        raise Conflict(M_("report %(code)s exists", code=spec.code), code="exists")
    secret = new_secret()
    report = Report(
        code=spec.code,
        name=spec.name[:100],
        producer=spec.producer,
        department_code=spec.department_code,
        receiver=spec.receiver[:100],
        url=spec.url,
        secret_sealed=SecretBox(settings).seal(secret),
        hour=spec.hour,
        created_by=actor.username,
    )
    session.add(report)
    session.flush()
    audit.record(session, actor, "sharing.report.created", "report", report.code, {"receiver": spec.receiver})
    return report, secret


def due_periods(report: Report, settings: Settings, now: datetime) -> list[date]:
    """The days whose report is due now: up to yesterday once the report's hour has passed today."""
    local = now.astimezone(settings.zone)
    last = local.date() - timedelta(days=1 if local.hour >= report.hour else 2)
    return [last - timedelta(days=n) for n in range(CATCH_UP_DAYS - 1, -1, -1)]


def run_due(
    factory: sessionmaker[Session],
    settings: Settings,
    now: datetime | None = None,
    client: httpx.Client | None = None,
    resolve: Resolver | None = None,
) -> int:
    """Push every due report period not yet delivered (each in its own transaction); returns how many
    were delivered."""
    moment = now or utcnow()
    with factory() as session:
        reports = [r.id for r in session.scalars(select(Report).where(Report.active.is_(True)))]
    http = client or httpx.Client(timeout=settings.webhook_timeout_seconds, follow_redirects=False)
    delivered = 0
    try:
        for report_id in reports:
            with transaction(factory) as session:
                report = session.get(Report, report_id)
                if report is None:
                    continue
                for period in due_periods(report, settings, moment):
                    delivered += _push(session, settings, report, period, moment, http, resolve)
    finally:
        if client is None:
            http.close()
    return delivered


def _push(
    session: Session,
    settings: Settings,
    report: Report,
    period: date,
    now: datetime,
    http: httpx.Client,
    resolve: Resolver | None,
) -> int:
    row = session.scalars(
        select(ReportDelivery)
        .where(ReportDelivery.report_id == report.id, ReportDelivery.period == period)
        .with_for_update()
    ).first()
    if row is not None and (row.outcome != FAILED or (row.next_attempt_at and row.next_attempt_at > now)):
        return 0
    if row is None and period < report.created_at.astimezone(settings.zone).date() - timedelta(days=1):
        return 0  # days before the report existed are not sent
    producer = PRODUCERS.get(report.producer)
    if producer is None:
        return 0
    if row is None:
        row = _claim(session, report, period)
        if row is None:
            return 0  # another worker has this day
    body = json.dumps(
        {
            "type": f"report.{report.code}",
            "timestamp": now.isoformat(),
            "data": {
                "report": report.code,
                "period": period.isoformat(),
                "figures": producer(session, settings, period),
            },
        },
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )
    secret = SecretBox(settings).open(report.secret_sealed)
    status, error = send_signed(settings, report.url, row.event_id, body, secret, http, resolve)
    row.attempts += 1
    row.status_code, row.error, row.occurred_at = status, error[:500], now
    row.body_sha256 = hashlib.sha256(body.encode()).hexdigest()
    ok = status is not None and 200 <= status < 300
    if ok:
        row.outcome, row.next_attempt_at = DELIVERED, None
    elif row.attempts >= settings.webhook_max_attempts:
        row.outcome, row.next_attempt_at = DEAD, None
    else:
        row.outcome, row.next_attempt_at = FAILED, now + backoff(row.attempts)
    session.flush()
    audit.record_access(
        session,
        actor_username="platform",
        department_code=report.department_code,
        event_type="sharing.report.pushed",
        resource_code="-",
        items=[],
        record_count=1,
        purpose=f"report.{report.code}",
        grant_id=None,
        outcome="success" if ok else "failure",
        target_type="report",
        target_id=f"{report.code}/{period.isoformat()}",
        detail={"status": status, "receiver": report.receiver, "error": error[:120]},
    )
    return 1 if ok else 0


def _claim(session: Session, report: Report, period: date) -> ReportDelivery | None:
    """The day's row, inserted before anything is sent: a second worker's insert waits for this one's
    transaction and then fails on the unique (report, period), so a day is pushed by one worker only."""
    event_id = "rpt_" + hashlib.sha256(f"{report.code}\x00{period}".encode()).hexdigest()[:32]
    row = ReportDelivery(report_id=report.id, period=period, event_id=event_id, outcome=FAILED, attempts=0)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return None
    return row


@dataclass(frozen=True)
class ReportStatus:
    report: Report
    delivered: int
    failing: int
    recent: list[ReportDelivery]


def statuses(session: Session, actor: Principal) -> list[ReportStatus]:
    """The reports the actor may see (the platform's staff and auditors: all; a department: its own), with
    their deliveries counted (向省报送 N 次) and their last ten periods."""
    counts = dict(
        session.execute(
            select(ReportDelivery.report_id, func.count())
            .where(ReportDelivery.outcome == DELIVERED)
            .group_by(ReportDelivery.report_id)
        ).all()
    )
    found = []
    query = select(Report).order_by(Report.code)
    if not actor.sees_all_departments:
        query = query.where(Report.department_code == (actor.department_code or ""))
    for report in session.scalars(query):
        recent = list(
            session.scalars(
                select(ReportDelivery)
                .where(ReportDelivery.report_id == report.id)
                .order_by(ReportDelivery.period.desc())
                .limit(10)
            )
        )
        failing = sum(1 for r in recent if r.outcome != DELIVERED)
        found.append(ReportStatus(report, int(counts.get(report.id, 0)), failing, recent))
    return found


def delivered_count(session: Session, producer: str) -> int:
    """How many periods of a producer's reports have been delivered (the figure pages quote)."""
    query = (
        select(func.count())
        .select_from(ReportDelivery)
        .join(Report, Report.id == ReportDelivery.report_id)
        .where(Report.producer == producer, ReportDelivery.outcome == DELIVERED)
    )
    return session.scalar(query) or 0
