"""What the benchmarks share: a fresh platform database per attempt, on SQLite or a PostgreSQL server, and
a published catalog resource to load into."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from zhongtai.catalog.models import Resource
from zhongtai.catalog.schemas import ResourceCreate
from zhongtai.catalog.service import create_resource, transition
from zhongtai.core.database import build_engine, build_sessionmaker, upgrade
from zhongtai.core.principal import SYSTEM
from zhongtai.core.settings import Settings
from zhongtai.demo.city import reset_database


@dataclass(frozen=True)
class Bench:
    """A migrated platform database for one benchmark run, its settings and a session factory."""

    settings: Settings
    engine: Engine
    factory: sessionmaker[Session]


def bench_database(database_url: str | None, prefix: str) -> Bench:
    """``database_url`` emptied and migrated (PostgreSQL), or a new SQLite file in a fresh folder."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    url = database_url or f"sqlite:///{folder / 'bench.db'}"
    if database_url:
        reset_database(url)
    upgrade(url)
    settings = Settings(env="test", database_url=url, data_dir=folder, secret_key="bench-" + "x" * 40)
    engine = build_engine(url)
    return Bench(settings, engine, build_sessionmaker(engine))


@contextmanager
def platform_database(backend: str, pg_url: str | None, folder: Path, attempt: int) -> Iterator[str]:
    if backend == "sqlite":
        path = folder / f"platform-{attempt}.db"
        yield f"sqlite:///{path}"
        for leftover in folder.glob(f"platform-{attempt}.db*"):
            leftover.unlink()
        return
    assert pg_url, "--pg-url is needed for the PostgreSQL backend"
    name = f"zt_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def published_resource(session: Session, name: str, provider: str, items: list[dict[str, Any]]) -> Resource:
    """A conditionally shared (API) table resource of ``provider``, submitted and approved."""
    resource = create_resource(
        session,
        SYSTEM,
        ResourceCreate.model_validate(
            {
                "classification": "101",
                "name": name,
                "abstract": "bench",
                "provider": provider,
                "format": "table",
                "sharing_type": "conditional",
                "sharing_conditions": "bench",
                "sharing_modes": ["api"],
                "open_type": "not_open",
                "update_cycle": "daily",
                "items": items,
            }
        ),
    )
    transition(session, SYSTEM, resource.code, "submit")
    transition(session, SYSTEM, resource.code, "approve")
    return resource
