"""Developer portal and requirement pages: a developer registers an app, makes a key (shown once),
subscribes, reads a capability's docs and tries a signed call; the provider approves from its queue;
requirements are filed and assigned from the pages."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.core.test_identity import login
from tests.factories import World
from tests.gateway.helpers import build
from tests.ingest.test_pages import post_form
from tests.sharing.helpers import id_number
from zhongtai.core.settings import Settings
from zhongtai.core.web import FLASH_COOKIE


def test_developer_registers_an_app_and_tries_a_capability(
    client: TestClient, world: World, factory: sessionmaker[Session], settings: Settings
) -> None:
    setup = build(client, factory, settings, world)
    assert login(client, "developer_c") == 303
    portal = client.get("/portal").text
    assert "person.by-id" in portal and "已发布" in portal
    created = post_form(client, "/portal/apps", "/portal/apps", {"code": "wjw-clinic", "name": "门诊系统"})
    assert created.status_code == 303  # type: ignore[attr-defined]
    keyed = post_form(
        client, "/portal/apps/wjw-clinic/keys", "/portal/apps/wjw-clinic", {"algorithm": "hmac-sha256"}
    )
    assert keyed.status_code == 303 and keyed.headers["location"] == "/portal/apps/wjw-clinic"  # type: ignore[attr-defined]
    assert "secret" not in keyed.text  # type: ignore[attr-defined]
    shown = client.get("/portal/apps/wjw-clinic")
    assert 'id="secret"' in shown.text and shown.headers["cache-control"] == "no-store"
    reloaded = client.get("/portal/apps/wjw-clinic").text
    assert 'id="secret"' not in reloaded and reloaded.count("<code>wjw-clinic.") == 1  # once; no 2nd key
    subscribed = post_form(
        client,
        "/portal/apps/wjw-clinic/subscriptions",
        "/portal/apps/wjw-clinic",
        {"capability": "person.by-id", "purpose": "clinic.registration"},
    )
    assert subscribed.status_code == 303  # type: ignore[attr-defined]
    assert "待审批" in client.get("/portal/apps/wjw-clinic").text

    client.cookies.clear()
    assert login(client, "reviewer_a") == 303
    queue = client.get("/portal/provider").text
    assert "wjw-clinic" in queue
    approved = post_form(
        client,
        "/portal/subscriptions/" + queue.split("/portal/subscriptions/")[-1].split('"')[0],
        "/portal/provider",
        {"action": "approve", "reason": ""},
    )
    assert approved.status_code == 303  # type: ignore[attr-defined]

    client.cookies.clear()
    assert login(client, "developer_c") == 303
    docs = client.get("/portal/capabilities/person.by-id").text
    assert "GET /gw/person.by-id/{key}" in docs and "X-Purpose" in docs and 'id="try"' in docs
    tried = post_form(
        client,
        "/portal/capabilities/person.by-id/try",
        "/portal/capabilities/person.by-id",
        {"app": "wjw-clinic", "path": id_number(1), "end_user": "nurse-7"},
    )
    assert tried.status_code == 200, tried.text  # type: ignore[attr-defined]
    assert "HTTP 200" in tried.text and "公民身份号码" in tried.text  # type: ignore[attr-defined]
    answer = tried.text.split('id="try-result"')[1].split("<pre>")[1]  # type: ignore[attr-defined]
    assert id_number(1) not in answer and id_number(1)[-4:] in answer  # masked by the grant
    assert setup.app in client.get("/portal/apps").text


def test_a_new_keys_secret_is_shown_to_its_maker_only(
    client: TestClient, world: World, factory: sessionmaker[Session], settings: Settings
) -> None:
    build(client, factory, settings, world)
    assert login(client, "developer_c") == 303
    post_form(client, "/portal/apps", "/portal/apps", {"code": "wjw-clinic", "name": "门诊系统"})
    post_form(client, "/portal/apps/wjw-clinic/keys", "/portal/apps/wjw-clinic", {"algorithm": "ed25519"})
    sealed = client.cookies.get(FLASH_COOKIE)
    assert sealed and "PRIVATE KEY" not in sealed  # sealed, not readable in the browser
    client.cookies.clear()
    assert login(client, "consumer_c") == 303  # same department: sees the app, did not make the key
    client.cookies.set(FLASH_COOKIE, sealed, path="/portal/apps/wjw-clinic")
    page = client.get("/portal/apps/wjw-clinic")
    assert page.status_code == 200 and "PRIVATE KEY" not in page.text and 'id="new-key"' not in page.text
    assert FLASH_COOKIE in page.headers["set-cookie"] and "Max-Age=0" in page.headers["set-cookie"]
    client.cookies.set(FLASH_COOKIE, sealed[:-4] + "AAAA", path="/portal/apps/wjw-clinic")  # forged
    assert 'id="new-key"' not in client.get("/portal/apps/wjw-clinic").text


def test_a_provider_cannot_publish_another_departments_capability_from_the_page(
    client: TestClient, world: World, factory: sessionmaker[Session], settings: Settings
) -> None:
    build(client, factory, settings, world)
    assert login(client, "developer_b") == 303
    assert 'id="lifecycle"' not in client.get("/portal/capabilities/person.by-id").text
    refused = post_form(
        client,
        "/portal/capabilities/person.by-id/actions",
        "/portal/capabilities/person.by-id",
        {"action": "retire"},
    )
    assert refused.status_code == 403  # type: ignore[attr-defined]


def test_requirements_are_filed_and_assigned_from_the_pages(client: TestClient, world: World) -> None:
    assert login(client, "consumer_c") == 303
    filed = post_form(
        client,
        "/requirements",
        "/requirements",
        {
            "kind": "collaboration",
            "title": "出生一件事联办",
            "description": "出生医学证明、户口登记、医保参保一次办",
            "due_date": "2030-01-01",
        },
    )
    assert filed.status_code == 303  # type: ignore[attr-defined]
    detail = filed.headers["location"]  # type: ignore[attr-defined]
    client.cookies.clear()
    assert login(client, "bureau_reviewer") == 303
    assert "出生一件事联办" in client.get("/requirements").text
    assigned = post_form(client, detail, detail, {"action": "assign", "assignee": "GAJ"})
    assert assigned.status_code == 303  # type: ignore[attr-defined]
    page = client.get(detail).text
    assert "已分派" in page and "GAJ" in page


def test_a_provider_registers_and_publishes_a_capability_from_the_portal(
    client: TestClient, world: World, factory: sessionmaker[Session], settings: Settings
) -> None:
    setup = build(client, factory, settings, world)
    assert login(client, "developer_a") == 303
    assert 'id="new-capability"' in client.get("/portal").text
    bad = post_form(
        client,
        "/portal/capabilities",
        "/portal",
        {
            "code": "person.check",
            "name": "核验",
            "kind": "data",
            "operation": "verify",
            "resource": setup.resource,
            "key_item": "公民身份号码",
            "verify_items": "不存在的项",
        },
    )
    assert bad.status_code == 422 and "verify_items" in bad.text  # type: ignore[attr-defined]
    made = post_form(
        client,
        "/portal/capabilities",
        "/portal",
        {
            "code": "person.check",
            "name": "姓名核验",
            "kind": "data",
            "operation": "verify",
            "resource": setup.resource,
            "key_item": "公民身份号码",
            "verify_items": "姓名",
        },
    )
    assert made.status_code == 303  # type: ignore[attr-defined]
    page = client.get("/portal/capabilities/person.check").text
    assert "草稿" in page and 'value="publish"' in page
    client.cookies.clear()
    assert login(client, "officer_a") == 303
    published = post_form(
        client,
        "/portal/capabilities/person.check/actions",
        "/portal/capabilities/person.check",
        {"action": "publish"},
    )
    assert published.status_code == 303  # type: ignore[attr-defined]
    assert "已发布" in client.get("/portal/capabilities/person.check").text
