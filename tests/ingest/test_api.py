"""The ingestion API: secrets never shown, department scoping, test connection, upload, run now, raw data."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import World
from tests.ingest.helpers import PERSON_MAPPING, make_person_db, person_resource, person_row
from zhongtai.core.audit import AuditEvent
from zhongtai.core.settings import Settings
from zhongtai.ingest.models import Source

SECRET = "Db-Passw0rd-Never-Shown"


def create_source(client: TestClient, world: World, who: str = "officer_a", **overrides: object) -> dict:
    payload = {
        "code": "GAJ-RK-DB",
        "name": "人口库",
        "system": "GAJ-RK",
        "kind": "database",
        "options": {"url": "sqlite:///persons.db"},
    }
    payload.update(overrides)
    response = client.post("/api/v1/ingest/sources", json=payload, headers=world.auth(who))
    return {"status": response.status_code, **response.json()}


def test_a_password_in_the_url_is_sealed_and_never_shown_or_logged(
    client: TestClient, world: World, factory: sessionmaker[Session]
) -> None:
    created = create_source(client, world, options={"url": f"postgresql://reader:{SECRET}@10.1.2.3/rk"})
    assert created["status"] == 201, created
    assert created["has_secret"] is True and SECRET not in str(created)
    listed = client.get("/api/v1/ingest/sources", headers=world.auth("officer_a")).text
    assert SECRET not in listed
    with factory() as session:
        source = session.scalars(select(Source)).one()
        assert SECRET not in str(source.options) and SECRET not in (source.secret_ciphertext or "")
        audit_text = " ".join(str(e.changes) for e in session.scalars(select(AuditEvent)))
    assert SECRET not in audit_text and "(set)" in audit_text


def test_departments_manage_only_their_own_sources(client: TestClient, world: World) -> None:
    assert create_source(client, world, who="officer_b")["status"] == 403
    assert create_source(client, world, who="consumer_a")["status"] == 403
    assert create_source(client, world)["status"] == 201
    assert client.get("/api/v1/ingest/sources/GAJ-RK-DB", headers=world.auth("officer_b")).status_code == 404
    assert client.get("/api/v1/ingest/sources/GAJ-RK-DB", headers=world.auth("admin")).status_code == 200
    patch = client.patch(
        "/api/v1/ingest/sources/GAJ-RK-DB", json={"name": "x"}, headers=world.auth("consumer_a")
    )
    assert patch.status_code == 403


def test_bad_source_settings_get_a_clear_error(client: TestClient, world: World, settings: Settings) -> None:
    client.headers["Accept-Language"] = "en"  # the English wording is asserted below
    cases = [
        ({"options": {"url": "oracle://x@y/z"}}, "unsupported database"),
        ({"options": {"url": "sqlite:////etc/passwd"}}, "must live under"),
        ({"options": {"url": "not a url"}}, "not a database URL"),
        ({"kind": "http", "options": {"url": "ftp://x"}}, "http:// or https://"),
        ({"system": "NOPE"}, "no information system"),
    ]
    for overrides, message in cases:
        body = create_source(client, world, **overrides)
        assert body["status"] == 422, (overrides, body)
        assert message in body["error"]["message"]


def test_test_connection_reports_success_and_failure(
    client: TestClient, world: World, settings: Settings
) -> None:
    create_source(client, world)
    failed = client.post("/api/v1/ingest/sources/GAJ-RK-DB/test", headers=world.auth("officer_a")).json()
    assert failed["ok"] is False and "does not exist" in failed["message"]
    make_person_db(settings.resolved_sources_dir / "persons.db", [person_row(1)])
    passed = client.post("/api/v1/ingest/sources/GAJ-RK-DB/test", headers=world.auth("officer_a")).json()
    assert passed["ok"] is True and "persons" in passed["message"]
    shown = client.get("/api/v1/ingest/sources/GAJ-RK-DB", headers=world.auth("officer_a")).json()
    assert shown["last_test_ok"] is True


def make_job(client: TestClient, world: World, target: str, **overrides: object) -> dict:
    payload = {
        "code": "GAJ-PERSONS",
        "name": "人口归集",
        "source": "GAJ-RK-DB",
        "resource": target,
        "object_kind": "table",
        "source_object": "persons",
        "key_columns": ["id"],
        "mode": "incremental",
        "watermark_column": "updated_at",
        "mapping": PERSON_MAPPING,
        "schedule": "*/15 * * * *",
    }
    payload.update(overrides)
    response = client.post("/api/v1/ingest/jobs", json=payload, headers=world.auth("officer_a"))
    return {"status": response.status_code, **response.json()}


def test_jobs_are_validated_when_saved(
    client: TestClient, world: World, factory: sessionmaker[Session]
) -> None:
    client.headers["Accept-Language"] = "en"  # the English wording is asserted below
    create_source(client, world)
    resource = person_resource(factory)
    cases = [
        ({"schedule": "every day"}, "five fields"),
        ({"schedule": "61 * * * *"}, "schedule"),
        ({"mapping": [{"item": "不存在", "source": "x"}]}, "no item '不存在'"),
        ({"mapping": [{"item": "姓名", "source": "a", "constant": "b"}]}, "exactly one of"),
        ({"mapping": [{"item": "姓名", "template": "{a.__class__}"}]}, "plain {column}"),
        ({"watermark_column": None}, "need a watermark column"),
        ({"object_kind": "endpoint"}, "can be read as"),
        ({"resource": "999-000001"}, "no catalog resource"),
    ]
    for overrides, message in cases:
        body = make_job(client, world, resource, **overrides)
        assert body["status"] == 422, (overrides, body)
        assert message in body["error"]["message"], body
    other = person_resource(factory, provider="MZJ")
    assert make_job(client, world, other)["status"] == 403


def test_run_now_gathers_and_the_raw_zone_is_browsable_by_the_department_only(
    client: TestClient, world: World, factory: sessionmaker[Session], settings: Settings
) -> None:
    make_person_db(settings.resolved_sources_dir / "persons.db", [person_row(n) for n in range(1, 121)])
    create_source(client, world)
    resource = person_resource(factory)
    job = make_job(client, world, resource)
    assert job["status"] == 201 and job["next_run_at"] is not None
    queued = client.post("/api/v1/ingest/jobs/GAJ-PERSONS/run", headers=world.auth("officer_a"))
    assert queued.status_code == 202
    runs = client.get("/api/v1/ingest/jobs/GAJ-PERSONS/runs", headers=world.auth("officer_a")).json()
    assert runs[0]["status"] == "succeeded" and runs[0]["rows_written"] == 120
    page = client.get(
        f"/api/v1/resources/{resource}/raw?limit=50&offset=100", headers=world.auth("officer_a")
    )
    assert page.status_code == 200
    body = page.json()
    assert body["total"] == 120 and len(body["items"]) == 20
    assert body["items"][0]["data"]["姓名"].startswith("居民")
    assert client.get(f"/api/v1/resources/{resource}/raw", headers=world.auth("admin")).status_code == 200
    for outsider in ("officer_b", "consumer_c", "auditor"):
        assert (
            client.get(f"/api/v1/resources/{resource}/raw", headers=world.auth(outsider)).status_code == 404
        )
    assert (
        client.post("/api/v1/ingest/jobs/GAJ-PERSONS/run", headers=world.auth("consumer_a")).status_code
        == 403
    )
    assert client.get("/api/v1/ingest/jobs/GAJ-PERSONS", headers=world.auth("officer_b")).status_code == 404


def test_files_are_uploaded_into_the_inbox_whole(
    client: TestClient, world: World, settings: Settings
) -> None:
    created = create_source(client, world, code="GAJ-FILES", kind="file", options={})
    assert created["status"] == 201
    url = "/api/v1/ingest/sources/GAJ-FILES/files"
    content = "编号,姓名\n1,张三\n".encode("gbk")
    done = client.post(url, params={"name": "2026-11.csv"}, content=content, headers=world.auth("officer_a"))
    assert done.status_code == 201 and done.json()["bytes"] == len(content)
    assert (settings.resolved_inbox_dir / "GAJ-FILES" / "2026-11.csv").read_bytes() == content
    again = client.post(url, params={"name": "2026-11.csv"}, content=content, headers=world.auth("officer_a"))
    assert again.status_code == 409
    for bad in ("../escape.csv", ".hidden", "a/b.csv"):
        response = client.post(url, params={"name": bad}, content=content, headers=world.auth("officer_a"))
        assert response.status_code == 422, bad
    assert not list(settings.resolved_inbox_dir.glob("GAJ-FILES/.upload-*"))


def test_absurd_ids_and_offsets_are_refused_not_crashed_on(client: TestClient, world: World) -> None:
    huge = "99999999999999999999"
    for path in (
        f"/api/v1/ingest/runs/{huge}",
        f"/api/v1/ingest/runs/{huge}/rejects",
        "/api/v1/ingest/runs/0",
    ):
        response = client.get(path, headers=world.auth("admin"))
        assert response.status_code == 422 and response.json()["error"]["field"] == "run_id", path
    assert client.delete(f"/api/v1/tokens/{huge}", headers=world.auth("admin")).status_code == 422
