"""Ingestion pages: an officer registers a source and a job, tests the connection, runs it, reads results."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.core.test_identity import csrf_from, login
from tests.factories import World
from tests.ingest.helpers import PERSON_MAPPING, make_person_db, person_resource, person_row
from zhongtai.core.settings import Settings


def post_form(client: TestClient, path: str, form_page: str, data: dict[str, str]) -> object:
    token = csrf_from(client.get(form_page).text)
    return client.post(path, data={"csrf_token": token, **data}, follow_redirects=False)


def test_an_officer_sets_up_gathering_from_the_pages(
    client: TestClient, world: World, factory: sessionmaker[Session], settings: Settings
) -> None:
    make_person_db(settings.resolved_sources_dir / "persons.db", [person_row(n) for n in range(1, 31)])
    resource = person_resource(factory)
    assert login(client, "officer_a") == 303
    created = post_form(
        client,
        "/ingest/sources/new",
        "/ingest/sources/new",
        {"code": "gaj-db", "name": "人口库", "system": "GAJ-RK", "kind": "database",
         "options": json.dumps({"url": "sqlite:///persons.db"}), "secret": ""},
    )  # fmt: skip
    assert created.status_code == 303 and created.headers["location"] == "/ingest/sources/GAJ-DB"  # type: ignore[attr-defined]
    tested = post_form(client, "/ingest/sources/GAJ-DB/test", "/ingest/sources/GAJ-DB", {})
    assert tested.status_code == 303  # type: ignore[attr-defined]
    page = client.get("/ingest/sources/GAJ-DB").text
    assert "connected; 1 table(s): persons" in page
    job = post_form(
        client,
        "/ingest/jobs/new",
        "/ingest/jobs/new",
        {"code": "gaj-persons", "name": "人口归集", "source": "GAJ-DB", "resource": resource,
         "object_kind": "table", "source_object": "persons", "key_columns": "id", "mode": "incremental",
         "watermark_column": "updated_at", "mapping": json.dumps(PERSON_MAPPING, ensure_ascii=False),
         "schedule": "0 2 * * *"},
    )  # fmt: skip
    assert job.status_code == 303, job  # type: ignore[attr-defined]
    ran = post_form(client, "/ingest/jobs/GAJ-PERSONS/run", "/ingest/jobs/GAJ-PERSONS", {})
    assert ran.status_code == 303  # type: ignore[attr-defined]
    detail = client.get("/ingest/jobs/GAJ-PERSONS").text
    assert "成功" in detail and '<td class="num">30</td>' in detail
    raw = client.get(f"/catalog/{resource}/raw").text
    assert "居民7" in raw and "合肥市蜀山区7号" in raw
    overview = client.get("/ingest?lang=en").text
    assert "GAJ-PERSONS" in overview and "Succeeded" in overview


def test_bad_form_input_gets_a_page_naming_the_problem(client: TestClient, world: World) -> None:
    assert login(client, "officer_a") == 303
    response = post_form(
        client,
        "/ingest/sources/new",
        "/ingest/sources/new",
        {"code": "X-DB", "name": "x", "system": "GAJ-RK", "kind": "database", "options": "{not json"},
    )
    assert response.status_code == 422  # type: ignore[attr-defined]
    assert "不是有效的 JSON" in response.text  # type: ignore[attr-defined]
    assert client.get("/ingest/jobs/NOPE").status_code == 404
    assert client.get("/ingest/runs/999").status_code == 404


def test_an_auditor_sees_a_batch_but_not_its_rejected_rows(
    client: TestClient, world: World, factory: sessionmaker[Session], settings: Settings
) -> None:
    from tests.ingest.helpers import add_job, add_source
    from zhongtai.ingest.runner import run_job

    make_person_db(
        settings.resolved_sources_dir / "persons.db", [person_row(1), (2, "", "x", "", "", "", "")]
    )
    job = add_job(factory, add_source(factory, settings), person_resource(factory))
    outcome = run_job(factory, settings, job)
    assert outcome is not None and outcome.rows_rejected == 1
    assert login(client, "auditor") == 303
    audited = client.get(f"/ingest/runs/{outcome.run_id}")
    assert audited.status_code == 200 and 'id="rejects"' not in audited.text
    client.cookies.clear()
    assert login(client, "officer_a") == 303
    owned = client.get(f"/ingest/runs/{outcome.run_id}")
    assert (
        owned.status_code == 200
        and 'id="rejects"' in owned.text
        and "required value is missing" in owned.text
    )
