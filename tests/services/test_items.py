"""Service items: a department saves its own; a mapping that cannot be fetched is refused at save, naming the
material and the problem; a changed mapping waits for the bureau's review; the bureau approves or returns."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import World, add_resource
from tests.services.helpers import SERVICE, City, build_city, item_spec
from zhongtai.core.database import transaction
from zhongtai.core.principal import SYSTEM
from zhongtai.core.settings import Settings

URL = f"/api/v1/services/items/{SERVICE}"


@pytest.fixture
def city(factory: sessionmaker[Session], world: World, settings: Settings) -> City:
    return build_city(factory, world, settings)


def _with_material(city: City, position: int, **changes: Any) -> dict[str, Any]:
    spec = item_spec(city)
    spec["materials"][position] = {**spec["materials"][position], **changes}
    return spec


def test_the_catalog_says_what_each_material_is_replaced_by(
    client: TestClient, world: World, city: City
) -> None:
    found = client.get(URL, headers=world.auth("officer_z")).json()
    assert [(m["name"], m["source"], m["provider"], m["review"]) for m in found["materials"]] == [
        ("居民户口簿", "data", "GAJ", "approved"),
        ("婚姻状况证明", "data", "MZJ", "approved"),
        ("家庭收入证明", "upload", None, "approved"),
    ]


@pytest.mark.parametrize(
    ("change", "code", "said"),
    [
        ({"items": ["姓名", "存款余额"]}, "unknown_item", "存款余额"),
        ({"key_item": "护照号码"}, "unknown_item", "护照号码"),
        ({"resource": "999-999999"}, "bad_mapping", "999-999999"),
        ({"capability": "no.such"}, "capability_not_found", "no.such"),
    ],
)
def test_a_mapping_that_cannot_be_fetched_is_refused_naming_the_material(
    client: TestClient, world: World, city: City, change: dict[str, Any], code: str, said: str
) -> None:
    answer = client.put(URL, json=_with_material(city, 0, **change), headers=world.auth("officer_z"))
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == code and "居民户口簿" in error["message"] and said in error["message"]
    assert error["field"].startswith("materials[0].")


def test_retired_and_unshared_resources_are_refused(
    client: TestClient, factory: sessionmaker[Session], world: World, city: City
) -> None:
    from zhongtai.catalog import service as catalog

    with transaction(factory) as session:
        catalog.transition(session, SYSTEM, city.marriage, "retire", "停止维护")
    retired = client.put(URL, json=item_spec(city), headers=world.auth("officer_z"))
    assert retired.status_code == 422 and retired.json()["error"]["code"] == "resource_not_published"
    secret = add_resource(
        factory,
        "GAJ",
        name="重点人员管控信息",
        sharing_type="not_shared",
        sharing_conditions="",
        sharing_basis="《个人信息保护法》第二十八条",
    )
    refused = client.put(URL, json=_with_material(city, 0, resource=secret), headers=world.auth("officer_z"))
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "not_shared"


def test_only_the_responsible_department_maintains_and_only_the_bureau_reviews(
    client: TestClient, world: World, city: City
) -> None:
    assert client.put(URL, json=item_spec(city), headers=world.auth("officer_a")).status_code == 403
    changed = _with_material(city, 1, items=["姓名", "登记日期"])
    saved = client.put(URL, json=changed, headers=world.auth("officer_z"))
    assert saved.status_code == 200
    assert [m["review"] for m in saved.json()["materials"]] == ["approved", "pending", "approved"]
    review = f"{URL}/materials/2/review"
    assert (
        client.post(review, json={"decision": "approved"}, headers=world.auth("officer_z")).status_code == 403
    )
    no_reason = client.post(review, json={"decision": "returned"}, headers=world.auth("admin"))
    assert no_reason.status_code == 422
    returned = client.post(
        review, json={"decision": "returned", "comment": "缺配偶姓名"}, headers=world.auth("admin")
    )
    assert returned.status_code == 200 and returned.json()["review"] == "returned"


def test_malformed_items_are_refused_before_anything_is_saved(
    client: TestClient, world: World, city: City
) -> None:
    no_resource = _with_material(city, 0, resource=None)
    answer = client.put(URL, json=no_resource, headers=world.auth("officer_z"))
    assert answer.status_code == 422
    bad_licence = _with_material(city, 2, source="licence", licence_type="护照")
    refused = client.put(URL, json=bad_licence, headers=world.auth("officer_z"))
    assert refused.status_code == 422 and "护照" in refused.json()["error"]["message"]
    assert client.get(URL, headers=world.auth("officer_z")).json()["materials"][2]["source"] == "upload"
