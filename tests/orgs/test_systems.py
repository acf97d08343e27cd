"""Departments and information systems: listing and department-scoped editing."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import World


def test_departments_are_listed_for_any_signed_in_user(client: TestClient, world: World) -> None:
    response = client.get("/api/v1/departments", headers=world.auth("consumer_c"))
    assert response.status_code == 200
    codes = [d["code"] for d in response.json()]
    assert codes == sorted(codes) and {"GAJ", "MZJ", "SJZYJ", "WJW"} <= set(codes)
    gaj = next(d for d in response.json() if d["code"] == "GAJ")
    assert gaj["system_count"] == 1 and gaj["kind"] == "municipal"
    assert client.get("/api/v1/departments/NOPE", headers=world.auth("consumer_c")).status_code == 404


def test_officer_registers_and_edits_only_own_systems(client: TestClient, world: World) -> None:
    officer = world.auth("officer_a")
    created = client.post(
        "/api/v1/systems", json={"code": "GAJ-CRJ", "name": "出入境管理系统"}, headers=officer
    )
    assert created.status_code == 201 and created.json()["department"] == "GAJ"
    foreign = client.post(
        "/api/v1/systems", json={"code": "MZJ-NEW", "name": "x", "department": "MZJ"}, headers=officer
    )
    assert foreign.status_code == 403
    assert client.patch("/api/v1/systems/MZJ-HY", json={"name": "篡改"}, headers=officer).status_code == 403
    assert client.get("/api/v1/systems/MZJ-HY", headers=officer).json()["name"] == "婚姻登记系统"
    edited = client.patch("/api/v1/systems/GAJ-CRJ", json={"status": "retired"}, headers=officer)
    assert edited.json()["status"] == "retired"


def test_system_registration_errors_are_named(client: TestClient, world: World) -> None:
    admin = world.auth("admin")
    duplicate = client.post("/api/v1/systems", json={"code": "GAJ-RK", "name": "x"}, headers=admin)
    assert duplicate.status_code == 409 and duplicate.json()["error"]["field"] == "code"
    unknown = client.post(
        "/api/v1/systems", json={"code": "X-1", "name": "x", "department": "NOPE"}, headers=admin
    )
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "unknown_department"
    bad_code = client.post("/api/v1/systems", json={"code": "lower case", "name": "x"}, headers=admin)
    assert bad_code.status_code == 422 and bad_code.json()["error"]["field"] == "code"
    assert client.patch("/api/v1/systems/NOPE", json={"name": "x"}, headers=admin).status_code == 404
