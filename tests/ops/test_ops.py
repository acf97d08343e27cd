"""Health, metrics, request ids, error bodies and the migration gate."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import TEST_SECRET
from tests.factories import World
from zhongtai.app import create_app
from zhongtai.core.database import build_engine
from zhongtai.core.errors import DatabaseNotMigrated
from zhongtai.core.identity.models import ApiToken
from zhongtai.core.logging import configure_logging
from zhongtai.core.settings import Settings


def test_healthz_reports_the_database(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json()["database"] == "ok"


def test_metrics_count_requests_by_route(client: TestClient, world: World) -> None:
    client.get("/api/v1/departments", headers=world.auth("admin"))
    body = client.get("/metrics").text
    assert 'zhongtai_http_requests_total{method="GET",route="/api/v1/departments",status="200"}' in body
    assert "zhongtai_http_request_duration_seconds_bucket" in body


def test_outbound_urls_and_their_tokens_stay_out_of_the_logs(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        configure_logging("INFO", json_lines=True)
        transport = httpx.MockTransport(lambda request: httpx.Response(204))
        with httpx.Client(transport=transport) as client:  # as webhook deliveries and API sources call out
            client.post("https://hook.wjw.example/in?token=s3cret-in-the-query")
        logging.getLogger("zhongtai.sharing").info("delivered")
        logged = capsys.readouterr().err
        assert '"msg": "delivered"' in logged and "s3cret-in-the-query" not in logged
    finally:
        root.handlers[:], root.level = handlers, level


def test_every_response_has_a_request_id(client: TestClient) -> None:
    assert len(client.get("/healthz").headers["x-request-id"]) == 32
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
    assert client.get("/healthz", headers={"X-Request-ID": "bad id\n"}).headers["x-request-id"] != "bad id\n"


def test_the_request_commits_before_answering_so_a_failed_commit_is_an_error_and_nothing_is_kept(
    client: TestClient, world: World, factory: sessionmaker[Session]
) -> None:
    def tokens() -> int:
        with factory() as session:
            return session.scalar(select(func.count()).select_from(ApiToken)) or 0

    before = tokens()
    requests_sessions = client.app.state.sessionmaker  # type: ignore[attr-defined]

    def refuse(session: Session) -> None:
        raise RuntimeError("the database refused the commit")

    event.listen(requests_sessions, "before_commit", refuse)
    try:
        failed = client.post("/api/v1/tokens", json={"name": "etl"}, headers=world.auth("consumer_a"))
    finally:
        event.remove(requests_sessions, "before_commit", refuse)
    assert failed.status_code == 500 and failed.json()["error"]["code"] == "internal_error"
    assert "token" not in failed.json()  # the secret of a token that was never kept is not handed out
    assert tokens() == before
    made = client.post("/api/v1/tokens", json={"name": "etl"}, headers=world.auth("consumer_a"))
    assert made.status_code == 201 and tokens() == before + 1


def test_unknown_api_paths_give_json_errors(client: TestClient) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_openapi_and_docs_are_served_without_a_cdn(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/api/v1/resources" in spec["paths"] and "/api/v1/resources/{code}" in spec["paths"]
    docs = client.get("/docs").text
    assert "/static/swagger/swagger-ui-bundle.js" in docs and "cdn" not in docs.lower()
    assert client.get("/static/swagger/swagger-ui-bundle.js").status_code == 200


def test_app_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    settings = Settings(env="test", secret_key=TEST_SECRET, database_url=f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(DatabaseNotMigrated, match="zhongtai db upgrade"), TestClient(create_app(settings)):
        pass


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    engine = build_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()


def test_default_secret_is_refused_outside_development() -> None:
    with pytest.raises(ValueError, match="ZHONGTAI_SECRET_KEY"):
        Settings(env="production")
    assert Settings(env="development").secret_key  # the laptop default is allowed


def test_default_database_is_sqlite_under_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.resolved_database_url == f"sqlite:///{tmp_path.resolve() / 'zhongtai.db'}"


DEEP = "[" * 1000 + "]" * 1000


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/api/v1/catalog/import?format=json", "application/json"),
        ("/api/v1/catalog/import?format=json", "text/plain"),  # the import reads its body itself
        ("/api/v1/resources", "application/json"),
        ("/api/v1/resources", "application/merge-patch+json"),
    ],
)
def test_deeply_nested_json_is_refused_before_any_parser(
    client: TestClient, world: World, path: str, content_type: str
) -> None:
    headers = {**world.auth("admin"), "content-type": content_type}
    response = client.post(path, content=DEEP, headers=headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"
    shallow = client.post(path, content="[" * 10 + "]" * 10, headers=headers)
    assert shallow.status_code in (400, 415, 422) and shallow.json()["error"]["code"] != "invalid_json"


def test_json_depth_reads_brackets_outside_strings() -> None:
    from zhongtai.core.jsonsafe import json_depth

    assert json_depth(b'{"a": [1, {"b": "[[[[{{{"}]}') == 3
    assert json_depth(b'["\\"[[[", [[]]]') == 3
    assert json_depth(b"42") == 0


def test_a_chunked_body_over_the_limit_is_413_like_a_declared_one(settings: Settings, world: World) -> None:
    small = settings.model_copy(update={"max_body_bytes": 4096})
    with TestClient(create_app(small)) as client:
        chunks = (b"x" * 1024 for _ in range(16))  # no Content-Length: sent chunked
        response = client.post(
            "/api/v1/resources",
            content=chunks,
            headers={**world.auth("admin"), "content-type": "application/json"},
        )
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "payload_too_large"
        assert client.get("/healthz").status_code == 200  # the connection and the app carry on


def test_the_access_log_names_the_route_never_the_path(
    client: TestClient, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    person = "34010219900307123X"
    with caplog.at_level(logging.INFO, logger="zhongtai.access"):
        client.get(f"/api/v1/base/person/{person}", headers=world.auth("admin"))
    records = [r for r in caplog.records if r.name == "zhongtai.access"]
    assert records and all(person not in r.getMessage() + str(r.__dict__) for r in records)
    assert any(getattr(r, "route", "") == "/api/v1/base/{base}/{key}" for r in records)


def test_a_405_says_which_methods_are_allowed(client: TestClient) -> None:
    response = client.delete("/healthz")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert "GET" in response.headers["allow"]


@pytest.mark.parametrize("value", ["0.5", "1700000000", "yesterday", "12:00"])
def test_a_time_parameter_takes_iso_8601_only(client: TestClient, world: World, value: str) -> None:
    response = client.get("/api/v1/audit/events", params={"until": value}, headers=world.auth("auditor"))
    assert response.status_code == 422 and response.json()["error"]["field"] == "until"
    auditor = world.auth("auditor")
    iso = client.get("/api/v1/audit/events", params={"until": "2026-12-08T09:30"}, headers=auditor)
    assert iso.status_code == 200


def test_error_messages_follow_accept_language_and_chinese_is_the_default(
    client: TestClient, world: World
) -> None:
    path = "/api/v1/departments/NOPE"
    default = client.get(path, headers=world.auth("admin")).json()["error"]
    english = client.get(path, headers={**world.auth("admin"), "Accept-Language": "en-US,en;q=0.9"}).json()[
        "error"
    ]
    assert default["code"] == english["code"] == "department_not_found"  # machine-readable: never changes
    assert default["message"] == "没有部门 'NOPE'"
    assert english["message"] == "no department 'NOPE'"
    missing = client.get("/api/v1/departments").json()["error"]
    assert missing["code"] == "unauthenticated" and "缺少令牌" in missing["message"]
    invalid = client.get("/api/v1/audit/events", params={"limit": "x"}, headers=world.auth("auditor"))
    assert invalid.json()["error"]["message"] == "limit:必须是整数"


def test_with_a_log_file_the_terminal_keeps_warnings_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        configure_logging("INFO", json_lines=True, log_file=tmp_path / "log" / "zhongtai.log")
        logging.getLogger("zhongtai.access").info("request")
        logging.getLogger("zhongtai.sharing").warning("delivery failed")
        for handler in logging.getLogger().handlers:
            handler.flush()
        terminal = capsys.readouterr().err
        written = (tmp_path / "log" / "zhongtai.log").read_text("utf-8")
        assert '"msg": "request"' in written and '"msg": "delivery failed"' in written
        assert '"msg": "request"' not in terminal and '"msg": "delivery failed"' in terminal
    finally:
        for handler in logging.getLogger().handlers:
            handler.close()
        root.handlers[:], root.level = handlers, level
