"""HTTP JSON APIs with paging, and PostgreSQL / MariaDB department databases over real connections."""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import World
from tests.ingest.helpers import add_job, add_source, person_resource, person_row, raw_count
from zhongtai.core.settings import Settings
from zhongtai.ingest.models import RunStatus
from zhongtai.ingest.runner import run_job
from zhongtai.ingest.sources import DRIVERS

PEOPLE = [
    {"id": n, "name": f"居民{n}", "id_number": f"34010119900101{n:04d}", "ts": f"2026-01-0{1 + n % 9}"}
    for n in range(1, 24)
]
HTTP_MAPPING = [
    {"item": "姓名", "source": "name", "required": True},
    {"item": "公民身份号码", "source": "id_number"},
    {"item": "更新时间", "source": "ts"},
]


class Api(BaseHTTPRequestHandler):
    calls: list[str] = []  # noqa: RUF012 - shared by the test and the server thread

    def do_GET(self) -> None:
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        Api.calls.append(self.path)
        if self.headers.get("Authorization") != "Bearer api-token-1":
            self._send(401, b'{"error":"unauthorized"}')
            return
        if url.path == "/broken":
            self._send(500, b"oops")
            return
        if url.path == "/garbage":
            self._send(200, b"<html>not json</html>")
            return
        page, size = int(query.get("page", 1)), int(query.get("size", 10))
        since = query.get("since")
        people = [p for p in PEOPLE if since is None or p["ts"] >= since]
        chunk = people[(page - 1) * size : page * size]
        self._send(200, json.dumps({"data": {"list": chunk, "total": len(people)}}).encode())

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def api_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Api.calls.clear()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def http_job(factory: sessionmaker[Session], settings: Settings, api_url: str, endpoint: str) -> str:
    options = {"url": api_url, "items_path": "data.list", "page_size": 10, "watermark_param": "since"}
    source = add_source(factory, settings, code="GAJ-API", kind="http", options=options, secret="api-token-1")
    return add_job(
        factory,
        source,
        person_resource(factory),
        object_kind="endpoint",
        source_object=endpoint,
        watermark_column="ts",
        mapping=HTTP_MAPPING,
    )


def test_an_api_is_read_page_by_page_and_incrementally(
    factory: sessionmaker[Session], settings: Settings, world: World, api_url: str
) -> None:
    job = http_job(factory, settings, api_url, "/people")
    outcome = run_job(factory, settings, job)
    assert outcome is not None and outcome.status is RunStatus.SUCCEEDED, outcome.error if outcome else None
    assert outcome.rows_read == 23 and raw_count(factory, job) == 23
    assert len(Api.calls) == 3  # 10 + 10 + 3: the short page ends it
    assert outcome.watermark_after == "str:2026-01-09"
    Api.calls.clear()
    again = run_job(factory, settings, job)
    assert again is not None and again.rows_read == 2  # only rows at or after the watermark
    assert "since=2026-01-09" in Api.calls[0]


@pytest.mark.parametrize(("endpoint", "cause"), [("/broken", "HTTP 500"), ("/garbage", "not JSON")])
def test_an_api_that_fails_fails_the_run_with_the_cause(
    factory: sessionmaker[Session], settings: Settings, world: World, api_url: str, endpoint: str, cause: str
) -> None:
    job = http_job(factory, settings, api_url, endpoint)
    outcome = run_job(factory, settings, job)
    assert outcome is not None and outcome.status is RunStatus.FAILED
    assert outcome.error is not None and cause in outcome.error
    assert raw_count(factory, job) == 0


# --- real department databases ---------------------------------------------------------------------

SERVERS = {
    "postgresql": os.environ.get("ZHONGTAI_TEST_DATABASE_URL"),
    "mariadb": os.environ.get("ZHONGTAI_TEST_MARIADB_URL"),
}
PERSONS_DDL = (
    "CREATE TABLE {t} (id INTEGER PRIMARY KEY, name VARCHAR(50), id_number VARCHAR(20), birth VARCHAR(20), "
    "city VARCHAR(20), street VARCHAR(50), updated_at TIMESTAMP NULL)"
)


@pytest.fixture(params=list(SERVERS))
def department_db(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """A persons table in a real PostgreSQL or MariaDB, standing for a department's own database."""
    url = SERVERS[request.param]
    if not url:
        pytest.skip(f"{request.param} source tests need its server URL (set by .ci/run)")
    engine = create_engine(make_url(url).set(drivername=DRIVERS[make_url(url).drivername]))
    table = f"persons_{uuid.uuid4().hex[:8]}"
    with engine.begin() as connection:
        connection.execute(text(PERSONS_DDL.format(t=table)))
        rows = [
            dict(
                zip(
                    ["id", "name", "id_number", "birth", "city", "street", "updated_at"],
                    person_row(n),
                    strict=True,
                )
            )
            for n in range(1, 301)
        ]
        connection.execute(
            text(f"INSERT INTO {table} VALUES (:id, :name, :id_number, :birth, :city, :street, :updated_at)"),  # noqa: S608
            rows,
        )
    yield url, table
    with engine.begin() as connection:
        connection.execute(text(f"DROP TABLE {table}"))
    engine.dispose()


def test_a_real_department_database_is_gathered_over_its_connection(
    factory: sessionmaker[Session], settings: Settings, world: World, department_db: tuple[str, str]
) -> None:
    url, table = department_db
    parsed = make_url(url)
    source = add_source(
        factory, settings, options={"url": parsed.render_as_string(hide_password=False)}, secret=None
    )
    job = add_job(factory, source, person_resource(factory), source_object=table)
    outcome = run_job(factory, settings, job)
    assert outcome is not None and outcome.status is RunStatus.SUCCEEDED, outcome.error if outcome else None
    assert (outcome.rows_read, outcome.rows_written) == (300, 300)
    assert outcome.watermark_after is not None and outcome.watermark_after.startswith(
        "datetime:2026-01-01T13:00"
    )
    assert run_job(factory, settings, job) is not None
    assert raw_count(factory, job) == 300


def test_wrong_credentials_are_reported_without_echoing_them(
    factory: sessionmaker[Session], settings: Settings, world: World, department_db: tuple[str, str]
) -> None:
    url, table = department_db
    wrong = make_url(url).set(username="nobody_here", password="Wr0ngPassw0rd")
    source = add_source(factory, settings, options={"url": wrong.render_as_string(hide_password=False)})
    job = add_job(factory, source, person_resource(factory), source_object=table)
    outcome = run_job(factory, settings, job)
    assert outcome is not None and outcome.status is RunStatus.FAILED
    assert outcome.error is not None and "cannot connect" in outcome.error
    assert "Wr0ngPassw0rd" not in outcome.error


@pytest.mark.parametrize("department_db", ["postgresql"], indirect=True)  # nextval: a read that writes
def test_a_job_query_cannot_change_the_department_database(
    factory: sessionmaker[Session], settings: Settings, world: World, department_db: tuple[str, str]
) -> None:
    url, table = department_db
    source = add_source(
        factory, settings, options={"url": make_url(url).render_as_string(hide_password=False)}
    )
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f"CREATE SEQUENCE {table}_seq"))
    sneaky = f"SELECT p.*, nextval('{table}_seq') AS n FROM {table} p"  # noqa: S608 - a read that writes
    job = add_job(factory, source, person_resource(factory), object_kind="query", source_object=sneaky)
    outcome = run_job(factory, settings, job)
    assert outcome is not None and outcome.status is RunStatus.FAILED
    assert outcome.error is not None and "read-only transaction" in outcome.error
    with engine.begin() as connection:
        assert connection.execute(text(f"SELECT is_called FROM {table}_seq")).scalar() is False  # noqa: S608
        connection.execute(text(f"DROP SEQUENCE {table}_seq"))
    engine.dispose()
