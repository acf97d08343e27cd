"""The catalog REST API: registration, search, permissions, lifecycle and version history."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import World, add_resource, resource_payload
from zhongtai.catalog.models import Resource
from zhongtai.core.audit import AuditEvent


def count(factory: sessionmaker[Session], model: type) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_officer_registers_a_resource_with_a_generated_code(client: TestClient, world: World) -> None:
    response = client.post("/api/v1/resources", json=resource_payload(), headers=world.auth("officer_a"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["code"] == "101-000001"
    assert body["provider"] == "GAJ"
    assert body["status"] == "draft"
    assert body["category"] == "base"
    assert [i["name"] for i in body["items"]] == ["姓名", "公民身份号码"]
    second = client.post(
        "/api/v1/resources", json=resource_payload(name="人口迁移"), headers=world.auth("officer_a")
    )
    assert second.json()["code"] == "101-000002"


def test_consumer_finds_population_entries_in_chinese(
    client: TestClient, world: World, factory: sessionmaker[Session]
) -> None:
    add_resource(factory, "GAJ", name="常住人口基本信息")
    add_resource(factory, "MZJ", name="婚姻登记信息", abstract="结婚登记", classification="3", items=[])
    add_resource(
        factory,
        "MZJ",
        name="救助对象",
        abstract="困难群众",
        items=[{"name": "人口数", "data_type": "integer"}],
    )
    response = client.get("/api/v1/resources", params={"q": "人口"}, headers=world.auth("consumer_c"))
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 2  # one by name, one by an item name
    assert {r["name"] for r in body["items"]} == {"常住人口基本信息", "救助对象"}


def test_search_filters_and_pages_with_stable_order(
    client: TestClient, world: World, factory: sessionmaker[Session]
) -> None:
    for n in range(7):
        add_resource(factory, "GAJ" if n % 2 else "MZJ", name=f"营业执照信息{n}")
    headers = world.auth("consumer_c")
    pages = [
        client.get(
            "/api/v1/resources", params={"q": "营业执照", "page": p, "page_size": 3}, headers=headers
        ).json()
        for p in (1, 2, 3)
    ]
    codes = [r["code"] for page in pages for r in page["items"]]
    assert pages[0]["total"] == 7
    assert codes == sorted(codes) and len(set(codes)) == 7
    only_gaj = client.get("/api/v1/resources", params={"department": "GAJ"}, headers=headers).json()
    assert only_gaj["total"] == 3 and {r["provider"] for r in only_gaj["items"]} == {"GAJ"}
    shared = client.get("/api/v1/resources", params={"sharing_type": "unconditional"}, headers=headers).json()
    assert shared["total"] == 0


def test_odd_search_strings_are_literal_and_never_fail(
    client: TestClient, world: World, factory: sessionmaker[Session]
) -> None:
    add_resource(factory, "GAJ", name="完成率100%_统计")
    headers = world.auth("consumer_c")
    for query, expected in [
        ("100%", 1),
        ("%", 1),
        ("_", 1),
        ("'", 0),
        ("\\", 0),
        ("😀", 0),
        ("率100%_统", 1),
    ]:
        response = client.get("/api/v1/resources", params={"q": query}, headers=headers)
        assert response.status_code == 200, (query, response.text)
        assert response.json()["total"] == expected, query
    for huge in ("a" * 10_240, "人" * 3_000):  # 10 KB of text
        too_long = client.get("/api/v1/resources", params={"q": huge}, headers=headers)
        assert too_long.status_code == 422
        assert too_long.json()["error"]["field"] == "q"


def test_officer_of_another_department_cannot_patch(
    client: TestClient, world: World, factory: sessionmaker[Session]
) -> None:
    code = add_resource(factory, "MZJ", name="婚姻登记信息")
    before = client.get(f"/api/v1/resources/{code}", headers=world.auth("admin")).json()
    response = client.patch(
        f"/api/v1/resources/{code}", json={"name": "篡改"}, headers=world.auth("officer_a")
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "not_your_department"
    after = client.get(f"/api/v1/resources/{code}", headers=world.auth("admin")).json()
    assert after == before


def test_consumer_cannot_register_or_edit(
    client: TestClient, world: World, factory: sessionmaker[Session]
) -> None:
    assert (
        client.post(
            "/api/v1/resources", json=resource_payload(), headers=world.auth("consumer_a")
        ).status_code
        == 403
    )
    code = add_resource(factory, "GAJ")
    assert (
        client.patch(
            f"/api/v1/resources/{code}", json={"name": "x"}, headers=world.auth("consumer_a")
        ).status_code
        == 403
    )


def test_drafts_are_hidden_from_other_departments(
    client: TestClient, world: World, factory: sessionmaker[Session]
) -> None:
    code = add_resource(factory, "GAJ", publish=False, name="草稿资源")
    assert client.get(f"/api/v1/resources/{code}", headers=world.auth("consumer_c")).status_code == 404
    assert client.get(f"/api/v1/resources/{code}", headers=world.auth("consumer_a")).status_code == 200
    assert client.get(f"/api/v1/resources/{code}", headers=world.auth("auditor")).status_code == 200
    listed = client.get("/api/v1/resources", params={"q": "草稿"}, headers=world.auth("consumer_c")).json()
    assert listed["total"] == 0
    # Patching what you cannot see says "not found", not "forbidden": nothing leaks.
    assert (
        client.patch(
            f"/api/v1/resources/{code}", json={"name": "x"}, headers=world.auth("officer_b")
        ).status_code
        == 404
    )


def test_lifecycle_is_recorded_and_published_entries_keep_versions(client: TestClient, world: World) -> None:
    officer, reviewer = world.auth("officer_a"), world.auth("bureau_reviewer")
    code = client.post("/api/v1/resources", json=resource_payload(), headers=officer).json()["code"]
    # An officer cannot approve their own entry; a department's reviewer is not the bureau.
    assert (
        client.post(
            f"/api/v1/resources/{code}/transitions", json={"action": "submit"}, headers=officer
        ).status_code
        == 200
    )
    assert (
        client.post(
            f"/api/v1/resources/{code}/transitions", json={"action": "approve"}, headers=officer
        ).status_code
        == 403
    )
    assert (
        client.post(
            f"/api/v1/resources/{code}/transitions",
            json={"action": "approve"},
            headers=world.auth("reviewer_a"),
        ).status_code
        == 403
    )
    published = client.post(
        f"/api/v1/resources/{code}/transitions", json={"action": "approve"}, headers=reviewer
    )
    assert published.json()["status"] == "published" and published.json()["version"] == 1
    assert published.json()["publish_date"] is not None
    patched = client.patch(f"/api/v1/resources/{code}", json={"abstract": "新摘要"}, headers=officer)
    assert patched.json()["version"] == 2
    versions = client.get(f"/api/v1/resources/{code}/versions", headers=officer).json()
    assert [v["version"] for v in versions] == [2, 1]
    assert versions[0]["snapshot"]["abstract"] == "新摘要"
    assert versions[1]["snapshot"]["abstract"] == "户籍人口的基本登记信息"
    history = client.get(f"/api/v1/resources/{code}/history", headers=officer).json()
    assert [(h["action"], h["actor"]) for h in history] == [
        ("create", "officer_a"),
        ("submit", "officer_a"),
        ("approve", "bureau_reviewer"),
    ]


def test_invalid_transitions_are_conflicts_and_change_nothing(
    client: TestClient, world: World, factory: sessionmaker[Session]
) -> None:
    code = add_resource(factory, "GAJ")
    admin = world.auth("admin")
    assert (
        client.post(
            f"/api/v1/resources/{code}/transitions", json={"action": "retire"}, headers=admin
        ).status_code
        == 200
    )
    response = client.post(f"/api/v1/resources/{code}/transitions", json={"action": "approve"}, headers=admin)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invalid_transition"
    assert "retired" in response.json()["error"]["message"]
    assert client.patch(f"/api/v1/resources/{code}", json={"name": "x"}, headers=admin).status_code == 409
    assert client.get(f"/api/v1/resources/{code}", headers=admin).json()["status"] == "retired"
    bogus = client.post(f"/api/v1/resources/{code}/transitions", json={"action": "publish"}, headers=admin)
    assert bogus.status_code == 422


def test_reject_needs_a_reason(client: TestClient, world: World, factory: sessionmaker[Session]) -> None:
    code = add_resource(factory, "GAJ", publish=False)
    client.post(
        f"/api/v1/resources/{code}/transitions", json={"action": "submit"}, headers=world.auth("officer_a")
    )
    reviewer = world.auth("bureau_reviewer")
    response = client.post(
        f"/api/v1/resources/{code}/transitions", json={"action": "reject"}, headers=reviewer
    )
    assert response.status_code == 422 and response.json()["error"]["field"] == "comment"
    ok = client.post(
        f"/api/v1/resources/{code}/transitions",
        json={"action": "reject", "comment": "信息项不全"},
        headers=reviewer,
    )
    assert ok.json()["status"] == "draft"


def test_not_shared_entries_must_cite_a_basis(
    client: TestClient, world: World, factory: sessionmaker[Session]
) -> None:
    client.headers["Accept-Language"] = "en"  # the English wording is asserted below
    before = count(factory, Resource)
    response = client.post(
        "/api/v1/resources",
        json=resource_payload(sharing_type="not_shared", sharing_modes=[]),
        headers=world.auth("officer_a"),
    )
    assert response.status_code == 422
    assert response.json()["error"] == {
        "code": "basis_required",
        "message": "a 'not shared' entry must cite its legal or policy basis",
        "field": "sharing_basis",
    }
    assert count(factory, Resource) == before
    cited = client.post(
        "/api/v1/resources",
        json=resource_payload(
            sharing_type="not_shared", sharing_modes=[], sharing_basis="《个人信息保护法》第二十八条"
        ),
        headers=world.auth("officer_a"),
    )
    assert cited.status_code == 201


def test_bad_references_and_overlong_fields_are_named(client: TestClient, world: World) -> None:
    admin = world.auth("admin")
    cases = [
        (resource_payload(provider="NOPE"), 422, "provider"),
        (resource_payload(classification="999"), 422, "classification"),
        (resource_payload(source_system="MZJ-HY", provider="GAJ"), 422, "source_system"),
        (resource_payload(related_codes=["101-999999"]), 422, "related_codes"),
        (resource_payload(name="名" * 201), 422, "name"),
        (
            resource_payload(
                items=[{"name": "a", "data_type": "string"}, {"name": "a", "data_type": "string"}]
            ),
            422,
            "items",
        ),
        (resource_payload(unknown_field=1), 422, "unknown_field"),
    ]
    for payload, status, field in cases:
        response = client.post("/api/v1/resources", json=payload, headers=admin)
        assert response.status_code == status, (field, response.text)
        assert response.json()["error"]["field"] == field, response.text


def test_malformed_json_body_is_a_clear_422(client: TestClient, world: World) -> None:
    response = client.post(
        "/api/v1/resources",
        content=b"{not json",
        headers={**world.auth("admin"), "content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


def test_every_change_is_audited_with_actor_and_department(
    client: TestClient, world: World, factory: sessionmaker[Session]
) -> None:
    code = client.post("/api/v1/resources", json=resource_payload(), headers=world.auth("officer_a")).json()[
        "code"
    ]
    client.patch(f"/api/v1/resources/{code}", json={"name": "新名称"}, headers=world.auth("officer_a"))
    with factory() as session:
        events = list(
            session.scalars(select(AuditEvent).where(AuditEvent.target_id == code).order_by(AuditEvent.id))
        )
    assert [e.event_type for e in events] == ["catalog.resource.created", "catalog.resource.updated"]
    assert {e.actor_username for e in events} == {"officer_a"}
    assert {e.department_code for e in events} == {"GAJ"}
    assert events[1].changes["name"] == ["常住人口基本信息", "新名称"]


def test_api_requires_a_valid_token(client: TestClient, world: World) -> None:
    assert client.get("/api/v1/resources").status_code == 401
    response = client.get("/api/v1/resources", headers={"Authorization": "Bearer zt_forged"})
    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_token"


def test_replacing_items_with_the_same_names_works(client: TestClient, world: World) -> None:
    officer = world.auth("officer_a")
    created = client.post("/api/v1/resources", json=resource_payload(), headers=officer).json()
    items = [dict(i, length=(i["length"] or 0) + 1) for i in created["items"]]
    items.reverse()
    response = client.patch(f"/api/v1/resources/{created['code']}", json={"items": items}, headers=officer)
    assert response.status_code == 200, response.text
    assert [(i["name"], i["length"]) for i in response.json()["items"]] == [
        ("公民身份号码", 19),
        ("姓名", 51),
    ]
