"""Every domain's figure feeds for ``core.rollups`` (which imports no domain): the web process and the
worker both advance the rollups, so both build the same feeds. It lives beside the app factory,
like ``zhongtai.tasks``."""

from __future__ import annotations

from zhongtai.auditing import figures as audit_figures
from zhongtai.capabilities import figures as capability_figures
from zhongtai.catalog import figures as catalog_figures
from zhongtai.core.rollups import Feeds
from zhongtai.core.settings import Settings
from zhongtai.governance import figures as governance_figures
from zhongtai.healthcode import figures as healthcode_figures
from zhongtai.ingest import figures as ingest_figures
from zhongtai.orgs import figures as org_figures
from zhongtai.requirements import figures as requirement_figures
from zhongtai.screen import service as screen
from zhongtai.sharing import figures as sharing_figures


def build_feeds(settings: Settings) -> Feeds:
    """Every domain's feeds, for one application or worker (built at start-up, never at import)."""
    feeds = Feeds()
    ingest_figures.register(feeds)
    capability_figures.register(feeds)
    sharing_figures.register(feeds)
    catalog_figures.register(feeds)
    governance_figures.register(feeds)
    org_figures.register(feeds)
    requirement_figures.register(feeds)
    audit_figures.register(feeds, settings)
    healthcode_figures.register(feeds, settings)
    screen.register(feeds, settings)
    return feeds
