"""Sharing pages: health applies from the page, the bureau and public security approve in their queues,
the grant page shows it live and the provider revokes it; auditors read and export the trail."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.core.test_identity import login
from tests.factories import World
from tests.ingest.test_pages import csrf_from, post_form
from tests.sharing.helpers import shared_people
from zhongtai.core.settings import Settings


def test_apply_approve_and_revoke_through_the_pages(
    client: TestClient, world: World, factory: sessionmaker[Session], settings: Settings
) -> None:
    resource, _ = shared_people(factory, settings, rows=2)
    assert login(client, "consumer_c") == 303
    form = client.get(f"/sharing/apply?resource={resource}")
    assert form.status_code == 200 and "证件号(前3后4)" in form.text
    applied = client.post(
        "/sharing/apply",
        data={
            "csrf_token": csrf_from(form.text),
            "resource": resource,
            "items": ["姓名", "公民身份号码"],
            "purpose": "核酸检测结果关联居民身份",
            "basis": "《传染病防治法》第十二条",
            "mode": "api",
            "valid_until": "2027-12-31",
        },
        follow_redirects=False,
    )
    assert applied.status_code == 303, applied.text
    detail = applied.headers["location"]
    number = detail.rsplit("/", 1)[-1]
    assert "数据资源局审核中" in client.get(detail).text

    client.cookies.clear()
    assert login(client, "bureau_reviewer") == 303
    assert number in client.get("/sharing?queue=bureau").text
    approved = post_form(client, detail, detail, {"action": "bureau_approve", "comment": ""})
    assert approved.status_code == 303  # type: ignore[attr-defined]

    client.cookies.clear()
    assert login(client, "reviewer_a") == 303
    queue = client.get("/sharing?queue=provider").text
    assert number in queue and "提供部门审核中" in queue
    assert (
        post_form(client, detail, detail, {"action": "provider_approve", "comment": "同意"}).status_code
        == 303
    )  # type: ignore[attr-defined]
    page = client.get(detail).text
    assert "已授权" in page and "/sharing/grants/" in page
    grant = "/sharing/grants/" + page.split("/sharing/grants/")[1].split('"')[0]
    assert "有效" in client.get(grant).text
    no_reason = post_form(client, f"{grant}/revoke", grant, {"reason": ""})
    assert no_reason.status_code == 422  # type: ignore[attr-defined]
    assert post_form(client, f"{grant}/revoke", grant, {"reason": "专项结束"}).status_code == 303  # type: ignore[attr-defined]
    assert "已撤销" in client.get(grant).text
    assert "Revoked" in client.get(f"{grant}?lang=en").text

    client.cookies.clear()
    assert login(client, "auditor") == 303
    trail = client.get("/audit?chain=admin&event_type=sharing.grant")
    assert (
        trail.status_code == 200
        and "sharing.grant.revoked" in trail.text
        and "sharing.grant.issued" in trail.text
    )
    export = client.get("/audit/export.csv?chain=admin")
    assert export.status_code == 200 and "sharing.application.submitted" in export.content.decode("utf-8-sig")
    client.cookies.clear()
    assert login(client, "consumer_c") == 303
    assert client.get("/audit").status_code == 403


def test_the_consumer_subscribes_and_the_provider_renews_from_the_grant_page(
    client: TestClient, world: World, factory: sessionmaker[Session], settings: Settings
) -> None:
    from tests.sharing.test_api import granted

    configured = settings.model_copy(update={"webhook_allowed_hosts": ["hook.wjw.example"]})
    from zhongtai.app import create_app

    with TestClient(create_app(configured), raise_server_exceptions=False) as browser:
        resource, _ = shared_people(factory, configured, rows=1)
        grant_id = granted(browser, world, resource, mode="subscription")["grant_id"]
        grant = f"/sharing/grants/{grant_id}"
        assert login(browser, "consumer_c") == 303
        refused = post_form(
            browser, f"{grant}/subscriptions", grant, {"url": "http://127.0.0.1/x", "schedule": ""}
        )
        assert refused.status_code == 422  # type: ignore[attr-defined]
        made = post_form(
            browser, f"{grant}/subscriptions", grant, {"url": "https://hook.wjw.example/in", "schedule": ""}
        )
        assert made.status_code == 303 and made.headers["location"] == grant  # type: ignore[attr-defined]
        assert "whsec_" not in made.text  # type: ignore[attr-defined]
        shown = browser.get(grant)
        assert 'id="subscribed"' in shown.text and "whsec_" in shown.text
        assert shown.headers["cache-control"] == "no-store"
        page = browser.get(grant).text  # a reload: the secret is shown once, and no second subscription
        assert "https://hook.wjw.example/in" in page and "whsec_" not in page
        assert page.count("<code>https://hook.wjw.example/in</code>") == 1
        browser.cookies.clear()
        assert login(browser, "reviewer_a") == 303
        renewed = post_form(browser, f"{grant}/renew", grant, {"valid_until": "2028-12-31"})
        assert renewed.status_code == 303  # type: ignore[attr-defined]
        assert "2029-01-01" in browser.get(grant).text or "2028-12-31" in browser.get(grant).text


def test_audit_filters_survive_paging_and_export_links_encoded(client: TestClient, world: World) -> None:
    assert login(client, "auditor") == 303
    page = client.get("/audit", params={"event_type": "a&b=c 审计", "since": "2026-01-01T08:00"})
    assert page.status_code == 200
    assert (
        "/audit/export.csv?event_type=a%26b%3Dc+%E5%AE%A1%E8%AE%A1&amp;since=2026-01-01T08%3A00%3A00"
        in page.text
    )


def test_the_application_form_offers_only_the_modes_the_resource_supports(
    client: TestClient, world: World, factory: sessionmaker[Session]
) -> None:
    from sqlalchemy import update

    from tests.factories import add_resource
    from zhongtai.catalog.models import Resource

    by_file = add_resource(
        factory, "GAJ", name="出生医学证明", sharing_type="conditional", sharing_modes=["file"]
    )
    assert login(client, "consumer_c") == 303
    form = client.get(f"/sharing/apply?resource={by_file}").text
    assert 'value="file"' in form and 'value="api"' not in form and 'value="subscription"' not in form
    with factory.begin() as session:  # an entry from before modes were required: it offers none
        session.execute(update(Resource).where(Resource.code == by_file).values(sharing_modes=[]))
    none = client.get(f"/sharing/apply?resource={by_file}").text
    assert 'id="no-modes"' in none and 'id="apply"' not in none


def test_a_refused_application_comes_back_with_what_was_typed_and_the_error_beside_its_field(
    client: TestClient, world: World, factory: sessionmaker[Session], settings: Settings
) -> None:
    resource, _ = shared_people(factory, settings, rows=2)
    assert login(client, "consumer_c") == 303
    form = client.get(f"/sharing/apply?resource={resource}")
    refused = client.post(
        "/sharing/apply",
        data={
            "csrf_token": csrf_from(form.text),
            "resource": resource,
            "items": ["姓名"],
            "purpose": "核酸检测结果关联居民身份",
            "basis": "《传染病防治法》第十二条",
            "mode": "api",
            "valid_until": "2001-01-01",  # in the past
        },
    )
    assert refused.status_code == 422
    page = refused.text
    assert 'value="核酸检测结果关联居民身份"' in page and "《传染病防治法》第十二条</textarea>" in page
    assert 'value="姓名" aria-label="姓名" checked' in page
    assert 'id="error-valid_until"' in page and "有效期必须晚于今天" in page
    with factory() as session:
        from sqlalchemy import func, select

        from zhongtai.sharing.models import Application

        assert session.scalar(select(func.count()).select_from(Application)) == 0  # nothing half-written


def test_a_consumer_browses_its_granted_data_on_a_page_masked_and_audited(
    client: TestClient, world: World, factory: sessionmaker[Session], settings: Settings
) -> None:
    from sqlalchemy import select

    from tests.sharing.helpers import id_number
    from tests.sharing.test_api import access_entries, granted

    resource, _ = shared_people(factory, settings, rows=3)
    grant_id = granted(client, world, resource)["grant_id"]
    assert login(client, "consumer_c") == 303
    grant_page = client.get(f"/sharing/grants/{grant_id}").text
    assert f'href="/sharing/grants/{grant_id}/data"' in grant_page
    before = len(access_entries(factory))
    data = client.get(f"/sharing/grants/{grant_id}/data")
    assert data.status_code == 200
    table = data.text.split('id="granted-data"')[1].split("</table>")[0]
    assert "<th>姓名" in table and "<th>公民身份号码" in table and "性别" not in table  # granted items only
    assert id_number(0) not in table and id_number(0)[-4:] in table  # masked as the grant says
    reads = access_entries(factory)[before:]
    assert [e.event_type for e in reads] == ["sharing.records.read"] and reads[0].record_count == 3

    client.cookies.clear()
    assert login(client, "officer_b") == 303  # another department: no such grant for it, and that is audited
    assert client.get(f"/sharing/grants/{grant_id}/data").status_code == 404
    with factory() as session:
        from zhongtai.core.audit import AuditEvent

        denied = session.scalars(select(AuditEvent).where(AuditEvent.outcome == "denied")).all()
        assert any(e.actor_username == "officer_b" and e.grant_id == grant_id for e in denied)
