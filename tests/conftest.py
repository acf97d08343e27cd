"""Test databases built by the migrations, on SQLite always and on PostgreSQL when
``ZHONGTAI_TEST_DATABASE_URL`` is set. Each test gets a fresh database copied from a migrated template,
so tests see real commits and rollbacks, exactly as in production."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import World, build_world
from zhongtai.app import create_app
from zhongtai.core.database import build_engine, build_sessionmaker, upgrade
from zhongtai.core.settings import Settings

# No per-example deadline: a loaded CI machine (xdist workers, servers) makes wall-clock limits flaky, and
# tests assert behaviour, not timings (benchmarks measure speed).
hypothesis_settings.register_profile("zhongtai", deadline=None)
hypothesis_settings.load_profile("zhongtai")

PG_ENV = "ZHONGTAI_TEST_DATABASE_URL"
TEST_SECRET = "test-secret-" + "x" * 40
BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing() -> Iterator[None]:
    """Tests build eight users per test; argon2id at the production cost (~0.1 s each) would dominate
    the suite. Still argon2id, just with a tiny memory and time cost; the product's parameters are
    unchanged (``zhongtai.core.security``)."""
    from argon2 import PasswordHasher

    from zhongtai.core import security

    production = security._hasher
    security._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    security._hasher = production


@pytest.fixture(scope="session")
def worker_tag(worker_id: str) -> str:  # worker_id comes from pytest-xdist ("master" without it)
    return f"{worker_id}_{os.getpid()}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    return path


class PostgresTemplate:
    def __init__(self, admin_url: str, tag: str) -> None:
        self.admin_url = make_url(admin_url)
        self.template = f"zt_tpl_{tag}".lower()
        self.admin: Engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{self.template}"'))
        upgrade(self.url_for(self.template))

    def url_for(self, name: str) -> str:
        return self.admin_url.set(database=name).render_as_string(hide_password=False)

    def fresh(self, template: str | None = None) -> str:
        """A new database copied from the migrated template (or from ``template``, a database made by
        ``fresh`` that no one is connected to)."""
        name = f"zt_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template or self.template}"'))
        return name

    def drop(self, name: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def close(self) -> None:
        self.drop(self.template)
        self.admin.dispose()


@pytest.fixture(scope="session")
def pg_template(worker_tag: str) -> Iterator[PostgresTemplate | None]:
    url = os.environ.get(PG_ENV)
    if not url:
        yield None
        return
    template = PostgresTemplate(url, worker_tag)
    yield template
    template.close()


@pytest.fixture(params=BACKENDS)
def db_url(
    request: pytest.FixtureRequest,
    sqlite_template: Path,
    pg_template: PostgresTemplate | None,
    tmp_path: Path,
) -> Iterator[str]:
    """A fresh, migrated database on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "zhongtai.db"
        shutil.copyfile(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    if pg_template is None:
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (set by .ci/run)")
    name = pg_template.fresh()
    yield pg_template.url_for(name)
    pg_template.drop(name)


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        env="test",
        database_url=db_url,
        secret_key=TEST_SECRET,
        data_dir=tmp_path,
        cookie_secure=False,
        log_json=False,
        queue_url="memory://",  # jobs run inline, so a test sees their effect at once
    )


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = build_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return build_sessionmaker(engine)


@pytest.fixture
def world(factory: sessionmaker[Session]) -> World:
    """Two departments, the bureau, and a user with a token for each role that matters."""
    return build_world(factory)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client
