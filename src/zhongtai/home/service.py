"""What the home page shows, put together from each domain's own service functions (no other domain's
tables or repositories are read here)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from zhongtai.auditing import service as auditing
from zhongtai.capabilities import service as capabilities
from zhongtai.catalog import service as catalog
from zhongtai.core.audit import AuditEvent
from zhongtai.core.principal import Principal
from zhongtai.core.work import WorkItem
from zhongtai.governance import service as governance
from zhongtai.ingest import service as ingest
from zhongtai.opendata import applications as open_applications
from zhongtai.orgs import service as orgs
from zhongtai.requirements import service as requirements
from zhongtai.services import service as services
from zhongtai.sharing import service as sharing

PendingSource = Callable[[Session, Principal], list[WorkItem]]
SOURCES: tuple[PendingSource, ...] = (
    sharing.pending_for,
    catalog.pending_for,
    capabilities.pending_for,
    requirements.pending_for,
    governance.pending_for,
    services.pending_for,
    open_applications.pending_for,
)
FIGURE_SOURCES: tuple[Callable[[Session], dict[str, int]], ...] = (
    orgs.figures,
    ingest.figures,
    catalog.figures,
    governance.figures,
    sharing.figures,
    capabilities.figures,
    requirements.figures,
    services.figures,
    open_applications.figures,
)
# The reference city (Hefei) beside our own figures: what a city-scale platform reaches.
REFERENCE: dict[str, int] = {
    "orgs.systems": 200,
    "ingest.records": 23_000_000_000,
    "catalog.published": 4_829,
    "governance.tables": 2_305,
    "sharing.applications": 1_859,
    "sharing.granted": 1_328,
    "capabilities.published": 1_200,
    "requirements.all": 2_000,
    "services.saved": 1_370_000,
}
FAR_FUTURE = datetime.max.replace(tzinfo=None)


@dataclass(frozen=True, slots=True)
class Figure:
    key: str  # the catalog label ``home.figure.<key>``
    value: int
    reference: int | None


def pending_work(session: Session, principal: Principal) -> list[WorkItem]:
    """Everything waiting for the user, the nearest deadline first (work without one after)."""
    work = [item for source in SOURCES for item in source(session, principal)]
    return sorted(work, key=lambda item: (item.due is None, item.due.timestamp() if item.due else 0.0))


def recent_activity(session: Session, principal: Principal) -> list[AuditEvent]:
    return auditing.recent_for(session, principal, limit=10)


def key_figures(session: Session) -> list[Figure]:
    values = {key: value for source in FIGURE_SOURCES for key, value in source(session).items()}
    return [Figure(key, value, REFERENCE.get(key)) for key, value in values.items()]
