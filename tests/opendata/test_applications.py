"""Conditionally open data: a signed-in citizen applies with a purpose, the provider department approves or
refuses, the applicant makes a key scoped to that dataset — used unmodified by ``ckanapi`` — with a daily
quota that a new key does not reset; a key of another dataset, a revoked key and no key are refused in
CKAN's envelope; every use is in the audit trail; the provider publishes by release rules from its pages,
refused while a column looks personal."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from tests.core.test_identity import login
from tests.factories import World, add_resource, build_world
from tests.opendata.helpers import governed
from tests.public.helpers import NEIGHBOUR, WANG, FakeRegister, csrf, sign_in
from tests.servers import served
from zhongtai.app import create_app
from zhongtai.core.audit import AuditEvent
from zhongtai.core.database import transaction
from zhongtai.core.principal import platform_actor
from zhongtai.core.settings import Settings
from zhongtai.core.types import utcnow
from zhongtai.opendata import applications, service
from zhongtai.opendata.models import OpenApplication

ADMIN = platform_actor("admin", "admin")
CANARY = "CANARY-5d1e"
ITEMS = [
    {"name": "单位名称", "data_type": "string", "length": 200},
    {"name": "住所", "data_type": "string", "length": 200},
    {"name": "备注", "data_type": "string", "length": 200},
]
RULES = {"单位名称": "keep", "住所": "district"}


def _conditional(factory: sessionmaker[Session], settings: Settings, name: str, rows: int) -> str:
    """A conditionally open resource of 民政局 (officer_b's department), opened with ``rows`` rows."""
    code = add_resource(factory, "MZJ", name=name, open_type="conditional", items=ITEMS, abstract=name)
    places = [
        {"单位名称": f"{name}{n}号", "住所": f"安徽省庐州市蜀山区某路{n}号", "备注": CANARY}
        for n in range(1, rows + 1)
    ]
    governed(factory, code, places)
    with transaction(factory) as session:
        return service.publish(session, settings, ADMIN, code, RULES).dataset.name


@dataclass
class Portal:
    base: str
    client: TestClient
    world: World
    factory: sessionmaker[Session]
    first: str  # the dataset applied for
    second: str  # another conditional dataset


@pytest.fixture
def portal(settings: Settings, factory: sessionmaker[Session]) -> Iterator[Portal]:
    world = build_world(factory)
    first = _conditional(factory, settings, "养老机构信息", 12)
    second = _conditional(factory, settings, "社会组织登记信息", 5)
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client, served(app) as base:
        app.state.identity = FakeRegister([WANG, NEIGHBOUR])
        yield Portal(base, client, world, factory, first, second)


def _apply(client: TestClient, name: str, purpose: str) -> httpx.Response:
    path = f"/m/open/apply/{name}"
    return client.post(
        path, data={"csrf_token": csrf(client, path), "purpose": purpose}, follow_redirects=False
    )


def _number(client: TestClient, name: str) -> str:
    found = re.search(r'id="app-(KF\d+)"', client.get("/m/open").text)
    assert found
    return found.group(1)


def _make_key(client: TestClient, number: str) -> str:
    page = client.post(
        f"/m/open/{number}", data={"csrf_token": csrf(client, "/m/open"), "action": "make-key"}
    )
    found = re.search(r'id="new-key">[^<]*<br><code>(ztod_[^<]+)</code>', page.text)
    assert found, page.text[:800]
    return found.group(1)


def _decide(portal: Portal, number: str, **body: Any) -> httpx.Response:
    return portal.client.post(
        f"/api/v1/open/applications/{number}/decision", json=body, headers=portal.world.auth("officer_b")
    )


def _approved_key(portal: Portal, name: str, quota: int) -> tuple[str, str]:
    assert _apply(portal.client, name, "研究本市养老服务设施的空间分布,用于学术论文").status_code == 303
    number = _number(portal.client, name)
    assert _decide(portal, number, approve=True, daily_quota=quota).status_code == 200
    return number, _make_key(portal.client, number)


def _csv_id(portal: Portal, name: str) -> str:
    answer = httpx.get(f"{portal.base}/api/3/action/package_show", params={"id": name}).json()
    return str(next(r["id"] for r in answer["result"]["resources"] if r["format"] == "CSV"))


def test_an_application_is_approved_and_its_key_works_in_ckanapi_within_its_quota(portal: Portal) -> None:
    ckanapi = pytest.importorskip("ckanapi")
    client = portal.client
    page = client.get(f"/open/datasets/{portal.first}")
    assert f'href="/m/open/apply/{portal.first}"' in page.text
    anonymous = ckanapi.RemoteCKAN(portal.base)
    csv_id = _csv_id(portal, portal.first)
    with pytest.raises(ckanapi.NotAuthorized):
        anonymous.action.datastore_search(resource_id=csv_id)
    assert httpx.get(f"{portal.base}/open/datasets/{portal.first}/download.csv").status_code == 403

    sign_in(client, WANG)
    short = _apply(client, portal.first, "看看")
    assert short.status_code == 422 and "10" in short.text  # the purpose's length, named on the form
    assert _apply(client, portal.first, "研究本市养老服务设施的空间分布,用于学术论文").status_code == 303
    again = _apply(client, portal.first, "研究本市养老服务设施的空间分布,用于学术论文")
    assert again.status_code == 409
    number = _number(client, portal.first)

    other = client.post(
        f"/api/v1/open/applications/{number}/decision",
        json={"approve": True},
        headers=portal.world.auth("officer_a"),  # 公安局: not the provider
    )
    assert other.status_code == 404
    queue = client.get("/api/v1/open/applications", headers=portal.world.auth("officer_b")).json()
    assert [a["number"] for a in queue] == [number] and queue[0]["status"] == "submitted"
    assert _decide(portal, number, approve=False).status_code == 422  # refusing needs reasons
    approved = _decide(portal, number, approve=True, daily_quota=3, term_days=30).json()
    assert approved["status"] == "approved" and approved["daily_quota"] == 3

    key = _make_key(client, number)
    assert key not in client.get("/m/open").text  # shown once
    holder = ckanapi.RemoteCKAN(portal.base, apikey=key)
    found = holder.action.datastore_search(resource_id=csv_id, limit=100)  # 1
    assert found["total"] == 12 and set(found["records"][0]) == {"_id", "单位名称", "住所"}
    by_key = httpx.get(
        f"{portal.base}/open/datasets/{portal.first}/download.csv", headers={"Authorization": key}
    )  # 2
    assert by_key.status_code == 200 and "养老机构信息7号" in by_key.text and CANARY not in by_key.text
    in_browser = client.get(f"/open/datasets/{portal.first}/download.json")  # 3: signed in, approved
    assert in_browser.status_code == 200 and CANARY not in in_browser.text
    with pytest.raises(ckanapi.NotAuthorized, match="quota"):
        holder.action.datastore_search(resource_id=csv_id)  # 4: over the day's quota
    fresh = _make_key(client, number)  # a new key does not start the day's count again
    with pytest.raises(ckanapi.NotAuthorized, match="quota"):
        ckanapi.RemoteCKAN(portal.base, apikey=fresh).action.datastore_search(resource_id=csv_id)
    with pytest.raises(ckanapi.NotAuthorized, match="revoked"):
        holder.action.datastore_search(resource_id=csv_id)  # the first key ended with the new one

    with portal.factory() as session:
        uses = session.scalars(
            select(AuditEvent.changes).where(
                AuditEvent.event_type == "opendata.key.used", AuditEvent.target_id == number
            )
        ).all()
    assert len(uses) == 3  # exactly the calls that returned rows


def test_a_key_of_another_dataset_and_a_revoked_key_are_refused(portal: Portal) -> None:
    client = portal.client
    sign_in(client, WANG)
    number, key = _approved_key(portal, portal.second, 100)
    first_csv, second_csv = _csv_id(portal, portal.first), _csv_id(portal, portal.second)
    search = f"{portal.base}/api/3/action/datastore_search"
    own = httpx.get(search, params={"resource_id": second_csv}, headers={"X-CKAN-API-Key": key})
    assert own.status_code == 200 and own.json()["result"]["total"] == 5
    elsewhere = httpx.get(search, params={"resource_id": first_csv}, headers={"Authorization": key})
    assert elsewhere.status_code == 403
    refusal = elsewhere.json()["error"]
    assert refusal["__type"] == "Authorization Error" and "another dataset" in refusal["message"]
    forged = httpx.get(search, params={"resource_id": second_csv}, headers={"Authorization": key + "x"})
    assert forged.status_code == 403 and forged.json()["success"] is False
    assert client.get(f"/open/datasets/{portal.first}/download.csv").status_code == 403  # not applied for

    revoked = client.post(
        f"/api/v1/open/applications/{number}/revoke",
        json={"reason": "用途与申请不符"},
        headers=portal.world.auth("officer_b"),
    )
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    after = httpx.get(search, params={"resource_id": second_csv}, headers={"Authorization": key})
    assert after.status_code == 403 and after.json()["error"]["__type"] == "Authorization Error"
    assert client.get(f"/open/datasets/{portal.second}/download.csv").status_code == 403
    mine = client.get("/m/open").text
    assert "用途与申请不符" in mine and "已撤销" in mine

    other = TestClient(client.app, raise_server_exceptions=False)
    sign_in(other, NEIGHBOUR)  # someone else cannot act on WANG's application
    token = csrf(other, "/m/open")
    assert (
        other.post(f"/m/open/{number}", data={"csrf_token": token, "action": "make-key"}).status_code == 404
    )
    with portal.factory() as session:
        events = set(
            session.scalars(select(AuditEvent.event_type).where(AuditEvent.target_id == number)).all()
        )
    assert {
        "opendata.application.submitted",
        "opendata.application.approved",
        "opendata.key.issued",
        "opendata.key.used",
        "opendata.application.revoked",
    } <= events


def test_the_provider_opens_a_resource_from_its_pages_refused_while_a_column_looks_personal(
    settings: Settings, factory: sessionmaker[Session], world: World
) -> None:
    code = add_resource(
        factory,
        "MZJ",
        name="律师执业信息",
        open_type="open",
        items=[
            {
                "name": "姓名",
                "data_type": "string",
                "length": 50,
                "data_element": "DE00001",
                "sensitive": True,
            },
            {"name": "单位名称", "data_type": "string", "length": 200},
        ],
    )
    lawyers = [
        {"姓名": f"律师{n}", "单位名称": "安徽庐州律师事务所" if n < 20 else "安徽明镜律师事务所"}
        for n in range(30)
    ]
    resource = governed(factory, code, lawyers)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        wanted = {"resource": code, "rules": {"姓名": "keep", "单位名称": "keep"}}
        other = client.post("/api/v1/open/datasets", json=wanted, headers=world.auth("officer_a"))
        assert other.status_code == 403  # 公安局 does not open 民政局's data
        personal = client.post("/api/v1/open/datasets", json=wanted, headers=world.auth("officer_b"))
        assert personal.status_code == 422
        assert personal.json()["error"]["code"] == "personal_column"
        assert personal.json()["error"]["field"] == "姓名"
        assert login(client, "officer_b") == 303
        assert code in client.get("/open/manage").text
        path = f"/open/manage/{code}"
        token = csrf(client, path)
        refused = client.post(path, data={"csrf_token": token, "rule:姓名": "keep", "rule:单位名称": "keep"})
        assert refused.status_code == 422 and "姓名" in refused.text
        counted = client.post(
            path,
            data={
                "csrf_token": token,
                "rule:姓名": "drop",
                "rule:单位名称": "count",
                "license_id": "cc0-1.0",
            },
            follow_redirects=False,
        )
        assert counted.status_code == 303
        rows = client.get(f"/open/datasets/{service.dataset_name(resource)}/download.json").json()["records"]
    assert rows == [
        {"单位名称": "安徽庐州律师事务所", "数量": 20},
        {"单位名称": "安徽明镜律师事务所", "数量": 10},
    ]
    with factory() as session:
        assert (
            session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.event_type == "opendata.released")
            )
            == 1
        )


def test_applications_are_for_the_provider_and_the_bureau_only(portal: Portal) -> None:
    sign_in(portal.client, WANG)
    assert _apply(portal.client, portal.first, "编制养老服务设施规划研究报告所需").status_code == 303
    number = _number(portal.client, portal.first)
    staff = TestClient(portal.client.app, raise_server_exceptions=False)
    assert login(staff, "officer_b") == 303
    home = staff.get("/").text  # the provider's pending work, with its deadline
    assert number in home and "开放数据申请" in home
    assert login(staff, "officer_a") == 303
    assert number not in staff.get("/").text
    for who, status in [("officer_a", 404), ("officer_b", 200), ("admin", 200), ("auditor", 200)]:
        seen = portal.client.get(f"/api/v1/open/applications/{number}", headers=portal.world.auth(who))
        assert seen.status_code == status, who
    assert (
        cast(
            list[Any],
            portal.client.get("/api/v1/open/applications", headers=portal.world.auth("officer_a")).json(),
        )
        == []
    )
    with transaction(portal.factory) as session:  # past the deadline: told to the bureau, once
        later = utcnow() + timedelta(days=10)
        assert applications.escalate_overdue(session, later) == [number]
        assert applications.escalate_overdue(session, later) == []
    overdue = portal.client.get(f"/api/v1/open/applications/{number}", headers=portal.world.auth("admin"))
    assert overdue.json()["overdue"] is False  # not yet: the deadline is 5 working days away
    assert _decide(portal, number, approve=True).status_code == 200
    again = _decide(portal, number, approve=False, reason="重复")
    assert again.status_code == 409
    key = _make_key(portal.client, number)
    csv_id = _csv_id(portal, portal.first)
    search = f"{portal.base}/api/3/action/datastore_search"
    assert (
        httpx.get(search, params={"resource_id": csv_id}, headers={"Authorization": key}).status_code == 200
    )
    with transaction(portal.factory) as session:  # the approval's term ends: its key stops working
        session.execute(
            update(OpenApplication)
            .where(OpenApplication.number == number)
            .values(expires_at=utcnow() - timedelta(minutes=1))
        )
    ended = httpx.get(search, params={"resource_id": csv_id}, headers={"Authorization": key})
    assert ended.status_code == 403 and "ended" in ended.json()["error"]["message"]
    sign_in(portal.client, NEIGHBOUR)  # a pending application can be withdrawn by its applicant
    assert _apply(portal.client, portal.second, "社会组织活动分布研究,用于课题报告").status_code == 303
    pending = _number(portal.client, portal.second)
    token = csrf(portal.client, "/m/open")
    portal.client.post(f"/m/open/{pending}", data={"csrf_token": token, "action": "withdraw"})
    assert "已撤回" in portal.client.get("/m/open").text
    # an open dataset needs no application: the form says so, nothing is written
    code = add_resource(portal.factory, "MZJ", name="地名信息", open_type="open", items=ITEMS)
    governed(portal.factory, code, [{"单位名称": "庐州大剧院", "住所": "庐州市包河区"}])
    with transaction(portal.factory) as session:
        name = service.publish(session, portal.client.app.state.settings, ADMIN, code, RULES).dataset.name
    refused = _apply(portal.client, name, "编制养老服务设施规划研究报告所需")
    assert refused.status_code == 422 and "无需申请" in refused.text
    mine = portal.client.get("/m/open").text
    assert mine.count('id="app-') == 1
