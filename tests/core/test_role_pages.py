"""Pages show each user only what their role can do; a crafted request still gets 403, in Chinese."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.core.test_identity import login
from tests.factories import World
from tests.ingest.test_pages import csrf_from


def test_navigation_and_buttons_follow_the_role(client: TestClient, world: World) -> None:
    assert login(client, "bureau_reviewer") == 303
    assert 'href="/audit"' not in client.get("/catalog").text  # a reviewer does not read the audit trail
    client.cookies.clear()
    assert login(client, "auditor") == 303
    assert 'href="/audit"' in client.get("/catalog").text
    client.cookies.clear()
    assert login(client, "consumer_c") == 303
    ingest = client.get("/ingest").text
    assert "/ingest/sources/new" not in ingest and "/ingest/jobs/new" not in ingest
    assert "/systems/new" not in client.get("/systems").text
    client.cookies.clear()
    assert login(client, "officer_a") == 303
    assert "/ingest/sources/new" in client.get("/ingest").text
    assert "/systems/new" in client.get("/systems").text


def test_a_crafted_request_for_a_form_one_may_not_use_is_403_in_chinese(
    client: TestClient, world: World
) -> None:
    assert login(client, "consumer_c") == 303
    for path in ("/ingest/sources/new", "/ingest/jobs/new", "/systems/new"):
        response = client.get(path)
        assert response.status_code == 403, path
        assert "数据专员" in response.text and "您没有权限" in response.text


def test_the_system_form_offers_only_departments_one_may_register_for(
    client: TestClient, world: World
) -> None:
    assert login(client, "officer_a") == 303
    form = client.get("/systems/new").text
    assert 'name="department"' not in form  # one department: its own, nothing to choose
    client.cookies.clear()
    assert login(client, "admin") == 303
    assert (
        'value="GAJ"' in client.get("/systems/new").text and 'value="MZJ"' in client.get("/systems/new").text
    )


def test_a_refused_system_form_keeps_what_was_typed(client: TestClient, world: World) -> None:
    assert login(client, "officer_a") == 303
    form = client.get("/systems/new")
    data = {
        "csrf_token": csrf_from(form.text),
        "code": "GAJ-RK",
        "name": "人口信息系统二期",
        "description": "说明",
    }
    refused = client.post("/systems/new", data=data)
    assert refused.status_code == 409
    assert 'value="人口信息系统二期"' in refused.text and ">说明</textarea>" in refused.text
    assert 'id="error-code"' in refused.text and "已被占用" in refused.text
