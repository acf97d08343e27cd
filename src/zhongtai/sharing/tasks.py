"""Background jobs of sharing: ``sharing.dispatch`` (deliver due subscription events; queued after every
governance pass that wrote events, and every minute for retries), ``sharing.reports`` (scheduled reports
upstream, every five minutes), ``sharing.escalate`` (mark overdue
application steps, hourly), and the audit trail's ``audit.checkpoint`` (hourly) and ``audit.purge``
(daily). Each is safe to run twice or on several workers at once."""

from __future__ import annotations

import logging
from datetime import timedelta

from huey import crontab

from zhongtai.core.audit_integrity import checkpoint, purge
from zhongtai.core.database import transaction
from zhongtai.core.jobs import JobContext
from zhongtai.core.types import utcnow
from zhongtai.sharing import reports
from zhongtai.sharing.dispatch import dispatch_due
from zhongtai.sharing.service import escalate_overdue, purge_outbox

log = logging.getLogger("zhongtai.sharing.tasks")
DISPATCH = "sharing.dispatch"


def register(context: JobContext) -> None:
    queue = context.queue

    @queue.task(name=DISPATCH)  # type: ignore[untyped-decorator]
    def dispatch() -> int:
        return deliver_or_relay(context)

    @queue.periodic_task(crontab(), name="sharing.dispatch_retries")  # type: ignore[untyped-decorator]
    def dispatch_retries() -> None:
        deliver_or_relay(context)

    @queue.periodic_task(crontab(minute="*/5"), name="sharing.reports")  # type: ignore[untyped-decorator]
    def push_reports() -> int:
        """Scheduled reports upstream (向省报送): each due day once."""
        pushed = reports.run_due(context.factory, context.settings)
        if pushed:
            log.info("reports delivered", extra={"reports": pushed})
        return pushed

    @queue.periodic_task(crontab(minute="5"), name="sharing.escalate")  # type: ignore[untyped-decorator]
    def escalate() -> None:
        with transaction(context.factory) as session:
            escalated = escalate_overdue(session, utcnow())
        if escalated:
            log.warning("applications overdue and escalated: %s", ", ".join(escalated))

    @queue.periodic_task(crontab(minute="41"), name="audit.checkpoint")  # type: ignore[untyped-decorator]
    def audit_checkpoint() -> None:
        with context.factory() as session:
            checkpoint(session, context.settings)

    @queue.periodic_task(crontab(hour="3", minute="23"), name="audit.purge")  # type: ignore[untyped-decorator]
    def audit_purge() -> None:
        with transaction(context.factory) as session:
            removed = purge(session, context.settings)
        log.info("audit purge removed %s", removed)

    @queue.periodic_task(crontab(hour="3", minute="47"), name="sharing.purge_outbox")  # type: ignore[untyped-decorator]
    def outbox_purge() -> None:
        with transaction(context.factory) as session:
            removed = purge_outbox(session, utcnow() - timedelta(days=context.settings.outbox_days))
        log.info("outbox purge removed %s events", removed)

    context.tasks[DISPATCH] = dispatch
    context.after_pass.append(lambda resource_code: dispatch())


def deliver_or_relay(context: JobContext) -> int:
    """Without NATS the worker delivers; with it, the worker only publishes and the dispatchers
    (``zhongtai sharing dispatch --loop``) deliver."""
    if context.settings.nats_url:
        import asyncio

        from zhongtai.sharing.jetstream import relay_once

        return asyncio.run(relay_once(context.factory, context.settings))
    return dispatch_due(context.factory, context.settings).delivered
