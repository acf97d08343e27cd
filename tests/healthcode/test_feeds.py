"""A positive test result reaches the health code through the platform: the health commission's governed
results, read by its own health-code app with a list capability (its own data: no grant needed, every
call signed and audited), turn the person red with a reason naming the sample; pulling again adds nothing;
a new positive later is picked up from where the feed stopped."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import World, add_resource
from tests.gateway.helpers import CAP, PURPOSE, new_app, new_key
from tests.governance.helpers import raw_batch
from tests.ingest.helpers import add_job, add_source
from tests.sharing.helpers import id_number
from zhongtai.core.audit import AuditEvent
from zhongtai.core.database import transaction
from zhongtai.core.pseudonym import person_subject
from zhongtai.core.settings import Settings
from zhongtai.governance.models import RuleSet
from zhongtai.governance.pipeline import run_pass
from zhongtai.healthcode import service
from zhongtai.healthcode.feeds import RESULTS, pull_results
from zhongtai.ingest.models import Job
from zhongtai.orgs.models import Department, InformationSystem

ITEMS = [
    {"name": "样本编号", "data_type": "string", "length": 30},
    {"name": "姓名", "data_type": "string", "length": 50, "data_element": "DE00001", "sensitive": True},
    {
        "name": "公民身份号码",
        "data_type": "string",
        "length": 18,
        "data_element": "DE00002",
        "sensitive": True,
    },
    {"name": "采样时间", "data_type": "string", "length": 30},
    {"name": "检测结果", "data_type": "string", "length": 10, "sensitive": True},
]


def _results(factory: sessionmaker[Session], settings: Settings) -> tuple[str, str]:
    with transaction(factory) as session:
        wjw = session.scalars(select(Department).where(Department.code == "WJW")).one()
        session.add(InformationSystem(code="WJW-HSJC", name="核酸检测信息系统", department_id=wjw.id))
    resource = add_resource(factory, "WJW", name="核酸检测结果信息", items=ITEMS)
    source = add_source(factory, settings, code="WJW-SRC", system="WJW-HSJC")
    job = add_job(
        factory,
        source,
        resource,
        code="WJW-JOB",
        mapping=[{"item": i["name"], "source": i["name"]} for i in ITEMS],
        key_columns=["key"],
        mode="full",
        watermark_column=None,
    )
    with transaction(factory) as session:
        resource_id = session.scalar(select(Job.resource_id).where(Job.code == job))
        rules = [{"id": "sfzh", "kind": "standardize", "item": "公民身份号码"}]
        session.add(RuleSet(resource_id=resource_id, version=1, rules=rules, created_by="test"))
    return resource, job


def _row(n: int, result: str, taken: str = "2026-12-05T09:30:00+08:00") -> dict[str, str]:
    return {
        "样本编号": f"HS{n:08d}",
        "姓名": "张三",
        "公民身份号码": id_number(n),
        "采样时间": taken,
        "检测结果": result,
    }


def _governed(
    factory: sessionmaker[Session], resource: str, job: str, rows: dict[str, dict[str, str]]
) -> None:
    run_pass(factory, resource, run_id=raw_batch(factory, job, rows), trigger="test")


def _health_code_app(client: TestClient, world: World, settings: Settings, resource: str) -> None:
    made = client.post(
        CAP,
        json={
            "code": RESULTS,
            "name": "核酸检测结果分页查询",
            "kind": "data",
            "operation": "list",
            "resource": resource,
        },
        headers=world.auth("developer_c"),
    )
    assert made.status_code == 201, made.text
    published = client.post(
        f"{CAP}/{RESULTS}/actions", json={"action": "publish"}, headers=world.auth("admin")
    )
    assert published.status_code == 200, published.text
    app = new_app(client, world)
    subscribed = client.post(
        f"/api/v1/apps/{app}/subscriptions",
        json={"capability": RESULTS, "purpose": PURPOSE},
        headers=world.auth("developer_c"),
    ).json()
    if subscribed["status"] == "pending":
        decided = client.post(
            f"/api/v1/capability-subscriptions/{subscribed['id']}/actions",
            json={"action": "approve"},
            headers=world.auth("admin"),
        )
        assert decided.status_code == 200, decided.text
    key = new_key(client, world, app)
    path = settings.resolved_identity_credentials
    assert path is not None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"key_id": key.key_id, "secret": key.secret, "purpose": PURPOSE}))


def test_a_positive_result_turns_the_person_red_through_the_platform(
    client: TestClient, factory: sessionmaker[Session], settings: Settings, world: World
) -> None:
    resource, job = _results(factory, settings)
    _governed(factory, resource, job, {f"k{n}": _row(n, "阳性" if n == 2 else "阴性") for n in range(1, 5)})
    _health_code_app(client, world, settings, resource)
    assert pull_results(factory, settings, client, page_size=2) == 1
    red = person_subject(settings, id_number(2))
    with factory() as session:
        verdict, reasons, _ = service.current_verdict(session, red)
        assert verdict.colour.label == "red"
        assert reasons[0]["department"] == "WJW" and reasons[0]["record"] == "HS00000002"
        assert (
            service.current_verdict(session, person_subject(settings, id_number(1)))[0].colour.label
            == "green"
        )
        calls = session.scalars(select(AuditEvent).where(AuditEvent.event_type == "gateway.call")).all()
        assert calls and all(c.outcome == "success" and c.app == "wjw-health-code" for c in calls)
    assert pull_results(factory, settings, client, page_size=2) == 0  # idempotent
    _governed(
        factory, resource, job, {f"k{n}": _row(n, "阳性" if n in (2, 7) else "阴性") for n in range(1, 9)}
    )
    assert pull_results(factory, settings, client, page_size=2) == 1  # only the new one
    with factory() as session:
        assert (
            service.current_verdict(session, person_subject(settings, id_number(7)))[0].colour.label == "red"
        )


def test_another_departments_app_without_a_grant_reads_nothing(
    client: TestClient, factory: sessionmaker[Session], settings: Settings, world: World
) -> None:
    resource, job = _results(factory, settings)
    _governed(factory, resource, job, {"k1": _row(1, "阳性")})
    _health_code_app(client, world, settings, resource)
    other = new_app(client, world, code="gaj-gate", who="developer_a")
    made = client.post(
        f"/api/v1/apps/{other}/subscriptions",
        json={"capability": RESULTS, "purpose": PURPOSE},
        headers=world.auth("developer_a"),
    ).json()
    client.post(
        f"/api/v1/capability-subscriptions/{made['id']}/actions",
        json={"action": "approve"},
        headers=world.auth("admin"),
    )
    key = new_key(client, world, other, who="developer_a")
    settings.resolved_identity_credentials.write_text(  # type: ignore[union-attr]
        json.dumps({"key_id": key.key_id, "secret": key.secret, "purpose": PURPOSE})
    )
    import pytest

    from zhongtai.core.errors import Unavailable

    with pytest.raises(Unavailable):
        pull_results(factory, settings, client)
