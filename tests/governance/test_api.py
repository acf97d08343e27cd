"""Governance through the API: rules as data, automatic passes after ingestion, quality problems and their
re-check, base records with provenance, conflicts, data elements; who may do what."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import World, add_resource
from tests.governance.helpers import PERSON_ITEMS, PERSON_RULES
from tests.ingest.helpers import add_job, add_source
from zhongtai.core.settings import Settings

ZHANG = "340104199001010017"
LI = "34010419851231048X"
ROWS = [
    (1, " 张 伟", "340104900101001", "男", "1990年1月1日", "+86 138 0000 1111"),
    (2, "李娜", LI.lower(), "女", "19851231", None),
    (3, "王五", "340104199001010018", "男", None, None),  # the check digit is wrong
]


def department_db(path: Path, rows: list[tuple[Any, ...]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as connection:
        connection.execute("DROP TABLE IF EXISTS rk")
        connection.execute(
            "CREATE TABLE rk (id INTEGER PRIMARY KEY, xm TEXT, sfzh TEXT, xb TEXT, csrq TEXT, lxdh TEXT)"
        )
        connection.executemany("INSERT INTO rk VALUES (?, ?, ?, ?, ?, ?)", rows)


def governed_job(factory: sessionmaker[Session], settings: Settings) -> tuple[str, str]:
    department_db(settings.resolved_sources_dir / "rk.db", ROWS)
    resource = add_resource(factory, "GAJ", name="人口信息", items=PERSON_ITEMS)
    source = add_source(factory, settings, code="GAJ-RK-DB", options={"url": "sqlite:///rk.db"})
    columns = dict(zip([i["name"] for i in PERSON_ITEMS], ["xm", "sfzh", "xb", "csrq", "lxdh"], strict=True))
    job = add_job(
        factory,
        source,
        resource,
        code="GAJ-RK",
        object_kind="table",
        source_object="rk",
        key_columns=["id"],
        mode="full",
        watermark_column=None,
        mapping=[{"item": item, "source": column} for item, column in columns.items()],
    )
    return resource, job


def put_rules(
    client: TestClient, world: World, resource: str, rules: list[dict[str, Any]], who: str = "officer_a"
):  # type: ignore[no-untyped-def]
    return client.put(f"/api/v1/resources/{resource}/rules", json={"rules": rules}, headers=world.auth(who))


def base_sources(client: TestClient, world: World, resource: str) -> None:
    body = {
        "base": "person",
        "resource": resource,
        "key_item": "公民身份号码",
        "priority": 1,
        "attributes": {"name": "姓名", "gender": "性别", "birth_date": "出生日期", "phone": "联系电话"},
    }
    response = client.put("/api/v1/governance/base-sources", json=body, headers=world.auth("admin"))
    assert response.status_code == 200, response.text


def test_rules_are_versioned_data_and_bad_rules_are_refused_with_the_reason(
    client: TestClient, world: World, factory: sessionmaker[Session], settings: Settings
) -> None:
    client.headers["Accept-Language"] = "en"  # the English wording is asserted below
    resource, _ = governed_job(factory, settings)
    bad = [
        ([{"id": "a", "kind": "required", "item": "不存在"}], "no item '不存在'"),
        (
            [
                {"id": "a", "kind": "required", "item": "姓名"},
                {"id": "a", "kind": "required", "item": "性别"},
            ],
            "used twice",
        ),
        (
            [{"id": "a", "kind": "standardize", "item": "姓名", "element": "DE99999"}],
            "no data element DE99999",
        ),
        (
            [{"id": "a", "kind": "range", "item": "出生日期", "min": "2020-01-01", "max": "2000-01-01"}],
            "min is above max",
        ),
        ([{"id": "a", "kind": "sql", "item": "姓名"}], None),
        ([{"id": "a; DROP TABLE x", "kind": "required", "item": "姓名"}], None),
    ]
    for rules, reason in bad:
        response = put_rules(client, world, resource, rules)
        assert response.status_code == 422, response.text
        if reason:
            assert reason in response.json()["error"]["message"]
    assert put_rules(client, world, resource, PERSON_RULES, who="officer_b").status_code == 404
    assert put_rules(client, world, resource, PERSON_RULES, who="consumer_a").status_code == 403
    first = put_rules(client, world, resource, PERSON_RULES[:2])
    second = put_rules(client, world, resource, PERSON_RULES)
    assert (first.json()["version"], second.json()["version"]) == (1, 2)
    versions = client.get(
        f"/api/v1/resources/{resource}/rules/versions", headers=world.auth("officer_a")
    ).json()
    assert [v["version"] for v in versions] == [2, 1] and len(versions[1]["rules"]) == 2


def test_a_gathered_batch_is_governed_measured_and_its_problems_rechecked_after_a_fix(
    client: TestClient, world: World, factory: sessionmaker[Session], settings: Settings
) -> None:
    resource, job = governed_job(factory, settings)
    assert put_rules(client, world, resource, PERSON_RULES).status_code == 200
    base_sources(client, world, resource)
    officer = world.auth("officer_a")
    assert client.post(f"/api/v1/ingest/jobs/{job}/run", headers=officer).status_code == 202  # runs inline

    passes = client.get(f"/api/v1/resources/{resource}/governance/passes", headers=officer).json()
    assert len(passes) == 1 and passes[0]["run_id"] is not None and passes[0]["trigger"] == "batch"
    assert (passes[0]["raw_rows"], passes[0]["clean_rows"], passes[0]["rejected_rows"]) == (3, 2, 1)
    rejects = client.get(f"/api/v1/governance/passes/{passes[0]['id']}/rejects", headers=officer).json()
    assert rejects["items"][0] | {"reason": "…"} == {
        "source_key": "3",
        "item": "公民身份号码",
        "rule_id": "id",
        "rule_version": 1,
        "reason": "…",
        "value": "340104199001010018",
    }
    clean = client.get(f"/api/v1/resources/{resource}/clean", headers=officer).json()["items"]
    zhang = next(row for row in clean if row["source_key"] == "1")
    assert zhang["data"] == {
        "姓名": "张伟",
        "公民身份号码": ZHANG,
        "性别": "1",
        "出生日期": "1990-01-01",
        "联系电话": "13800001111",
    }
    assert zhang["changes"]["联系电话"] == {"from": "+86 138 0000 1111", "rule": "phone"}

    quality = client.get(f"/api/v1/resources/{resource}/quality", headers=officer).json()
    assert len(quality) == 1 and abs(quality[0]["validity"] - 2 / 3) < 1e-3
    problems = client.get("/api/v1/governance/problems", headers=officer).json()["items"]
    invalid = next(p for p in problems if p["dimension"] == "validity")
    assert invalid["subject"] == "id:公民身份号码" and invalid["affected"] == 1
    assert set(invalid["actions"]) == {"assign", "fix"}
    assert client.get("/api/v1/governance/problems", headers=world.auth("officer_b")).json()["total"] == 0
    step = f"/api/v1/governance/problems/{invalid['id']}/steps"
    assert client.post(step, json={"action": "fix"}, headers=world.auth("officer_b")).status_code == 404
    assert client.post(step, json={"action": "assign"}, headers=officer).status_code == 422

    # marked fixed while the source still has the bad number: the re-check reopens it
    fixed = client.post(step, json={"action": "fix", "comment": "已核实"}, headers=officer).json()
    assert fixed["status"] == "fixed"
    again = client.get(f"/api/v1/governance/problems/{invalid['id']}", headers=officer).json()
    assert again["status"] == "open" and [e["action"] for e in again["events"]] == ["open", "fix", "reopen"]

    # the department corrects its system; the next batch is governed and the re-check closes the problem
    department_db(
        settings.resolved_sources_dir / "rk.db", [*ROWS[:2], (3, "王五", ZHANG[:-1] + "7", "男", None, None)]
    )
    client.post(f"/api/v1/ingest/jobs/{job}/run", headers=officer)
    closed = client.get(f"/api/v1/governance/problems/{invalid['id']}", headers=officer).json()
    assert closed["status"] == "closed"
    duplicate = next(
        p
        for p in client.get("/api/v1/governance/problems", headers=officer).json()["items"]
        if p["dimension"] == "uniqueness"
    )
    assert duplicate["status"] == "open"  # 王五 now carries 张伟's number: the unique rule refuses it


def test_base_records_show_provenance_to_the_bureau_only(
    client: TestClient, world: World, factory: sessionmaker[Session], settings: Settings
) -> None:
    resource, job = governed_job(factory, settings)
    put_rules(client, world, resource, PERSON_RULES)
    base_sources(client, world, resource)
    client.post(f"/api/v1/ingest/jobs/{job}/run", headers=world.auth("officer_a"))

    record = client.get(f"/api/v1/base/person/{LI.lower()}", headers=world.auth("admin"))
    assert record.status_code == 200, record.text
    body = record.json()
    assert body["key"] == LI and body["data"]["name"] == "李娜" and body["data"]["gender"] == "2"
    assert body["provenance"]["name"]["department"] == "GAJ" and body["provenance"]["name"]["batch"] >= 1
    assert len(body["claims"]) == 1 and body["history"] == []
    assert client.get(f"/api/v1/base/person/{LI}", headers=world.auth("officer_a")).status_code == 403
    assert client.get(f"/api/v1/base/person/{LI}", headers=world.auth("auditor")).status_code == 403
    missing = client.get("/api/v1/base/person/110105199001010011", headers=world.auth("admin"))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "record_not_found"
    for junk in ["x" * 300, "'; DROP TABLE base_records;--", "%00"]:
        assert client.get(f"/api/v1/base/person/{junk}", headers=world.auth("admin")).status_code in (
            404,
            422,
        )
    before = client.get(f"/api/v1/base/person/{LI}?as_of=2000-01-01T00:00:00Z", headers=world.auth("admin"))
    assert before.status_code == 404
    for moment in ["2000-01-01T00:00:00", "2000-01-01"]:  # no zone: city time, never a 500
        assert (
            client.get(f"/api/v1/base/person/{LI}?as_of={moment}", headers=world.auth("admin")).status_code
            == 404
        )
    later = client.get(f"/api/v1/base/person/{LI}?as_of=2999-01-01T00:00:00", headers=world.auth("admin"))
    assert later.status_code == 200 and later.json()["data"]["name"] == "李娜"


def test_base_sources_are_the_bureaus_and_checked_against_the_base_and_the_resource(
    client: TestClient, world: World, factory: sessionmaker[Session], settings: Settings
) -> None:
    client.headers["Accept-Language"] = "en"  # the English wording is asserted below
    resource, _ = governed_job(factory, settings)
    body: dict[str, Any] = {
        "base": "person",
        "resource": resource,
        "key_item": "公民身份号码",
        "attributes": {"name": "姓名"},
    }
    url = "/api/v1/governance/base-sources"
    assert client.put(url, json=body, headers=world.auth("officer_a")).status_code == 403
    wrong_attribute = client.put(
        url, json=body | {"attributes": {"salary": "姓名"}}, headers=world.auth("admin")
    )
    assert wrong_attribute.status_code == 422 and "no attribute 'salary'" in wrong_attribute.text
    wrong_item = client.put(url, json=body | {"key_item": "护照号"}, headers=world.auth("admin"))
    assert wrong_item.status_code == 422 and "护照号" in wrong_item.text
    assert client.put(url, json=body, headers=world.auth("admin")).status_code == 200
    changed = client.put(
        url, json=body | {"priority": 2, "priorities": {"name": 1}}, headers=world.auth("admin")
    )
    assert changed.json()["priority"] == 2 and len(client.get(url, headers=world.auth("admin")).json()) == 1
    assert changed.json()["withdrawing"] is False
    off = client.put(url, json=body | {"enabled": False}, headers=world.auth("admin")).json()
    assert off["enabled"] is False and off["withdrawing"] is True  # its claims are withdrawn (queued)
    again = client.put(url, json=body | {"enabled": False}, headers=world.auth("admin")).json()
    assert again["withdrawing"] is False


def test_data_elements_are_versioned_and_can_be_tried_on_sample_values(
    client: TestClient, world: World
) -> None:
    listed = client.get("/api/v1/governance/elements", headers=world.auth("consumer_a")).json()
    assert {"DE00002", "DE00009"} <= {e["code"] for e in listed}
    tried = client.post(
        "/api/v1/governance/elements/DE00002/standardize",
        json={"values": ["340104900101001", "123", "\x00"]},
        headers=world.auth("consumer_a"),
    )
    assert [v["canonical"] for v in tried.json()] == [ZHANG, None, None]
    assert "18" in tried.json()[1]["reason"] and "control" in tried.json()[2]["reason"]
    new = {"code": "DE00002", "name": "公民身份号码", "kind": "id_number", "standard": "GB 11643-1999"}
    assert (
        client.post("/api/v1/governance/elements", json=new, headers=world.auth("officer_a")).status_code
        == 403
    )
    saved = client.post("/api/v1/governance/elements", json=new, headers=world.auth("admin"))
    assert saved.status_code == 201 and saved.json()["version"] == 2
    versions = client.get("/api/v1/governance/elements/DE00002", headers=world.auth("admin")).json()
    assert [v["version"] for v in versions] == [2, 1]
    odd = client.post("/api/v1/governance/elements", json=new | {"kind": "eval"}, headers=world.auth("admin"))
    assert odd.status_code == 422
    assert client.get("/api/v1/governance/elements/DE77777", headers=world.auth("admin")).status_code == 404


def test_the_hourly_measurement_skips_what_was_just_measured(
    client: TestClient, world: World, factory: sessionmaker[Session], settings: Settings
) -> None:
    from datetime import timedelta

    from zhongtai.core.types import utcnow
    from zhongtai.governance.tasks import measure_due

    resource, job = governed_job(factory, settings)
    put_rules(client, world, resource, PERSON_RULES)
    client.post(f"/api/v1/ingest/jobs/{job}/run", headers=world.auth("officer_a"))  # governed and measured
    context = client.app.state.jobs  # type: ignore[attr-defined]
    assert measure_due(context, utcnow()) == []
    assert measure_due(context, utcnow() + timedelta(hours=1)) == [resource]
    series = client.get(f"/api/v1/resources/{resource}/quality", headers=world.auth("officer_a")).json()
    assert len(series) == 2
