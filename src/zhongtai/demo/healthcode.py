"""The demo city's health code: the platform's root and first signing key, so the trust list is served
and codes can be issued and verified offline from the start."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from zhongtai.core.database import transaction
from zhongtai.core.principal import platform_actor
from zhongtai.core.settings import Settings
from zhongtai.core.types import utcnow
from zhongtai.healthcode import service

DEMO = platform_actor("demo", "demo builder")


def build_demo_healthcode(factory: sessionmaker[Session], settings: Settings) -> None:
    with transaction(factory) as session:
        service.ensure_keys(session, settings, DEMO, utcnow())
