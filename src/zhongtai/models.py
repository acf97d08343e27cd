"""Imports every ORM model so ``Base.metadata`` is complete (for Alembic and mapper configuration).

It lives beside the app factory, not in ``core``: ``core`` imports no domain."""

from zhongtai.auditing import models as auditing_models
from zhongtai.capabilities import models as capability_models
from zhongtai.catalog import models as catalog_models
from zhongtai.core import audit, outbox, rollups
from zhongtai.core.database import Base
from zhongtai.core.identity import models as identity_models
from zhongtai.governance import models as governance_models
from zhongtai.healthcode import models as healthcode_models
from zhongtai.ingest import models as ingest_models
from zhongtai.licences import models as licence_models
from zhongtai.opendata import models as opendata_models
from zhongtai.orgs import models as org_models
from zhongtai.public import models as public_models
from zhongtai.requirements import models as requirement_models
from zhongtai.screen import models as screen_models
from zhongtai.services import models as service_models
from zhongtai.sharing import models as sharing_models

__all__ = [
    "Base",
    "audit",
    "auditing_models",
    "capability_models",
    "catalog_models",
    "governance_models",
    "healthcode_models",
    "identity_models",
    "ingest_models",
    "licence_models",
    "opendata_models",
    "org_models",
    "outbox",
    "public_models",
    "requirement_models",
    "rollups",
    "screen_models",
    "service_models",
    "sharing_models",
]
