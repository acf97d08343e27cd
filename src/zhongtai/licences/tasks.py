"""Background job of licences: ``licences.sync`` — issue, update and revoke from the licence base
(idempotent: an unchanged record is left alone), after each governance pass of a licence source."""

from __future__ import annotations

import logging

from zhongtai.core.database import transaction
from zhongtai.core.jobs import JobContext
from zhongtai.core.principal import SYSTEM
from zhongtai.licences import service

log = logging.getLogger("zhongtai.licences.tasks")
SYNC = "licences.sync"


def register(context: JobContext) -> None:
    @context.queue.task(name=SYNC)  # type: ignore[untyped-decorator]
    def sync() -> int:
        with transaction(context.factory) as session:
            done = service.sync(session, context.settings, SYSTEM)
        log.info("licences synced", extra=done.__dict__)
        return done.issued + done.updated + done.revoked

    context.tasks[SYNC] = sync
    context.after_pass.append(lambda _resource: sync())  # a register changed: licences follow
