"""Business requirements tracked to delivery: filing, triage, delivery against real links, confirmation,
refusals for the wrong party or order, and per-department statistics."""

from __future__ import annotations

from datetime import date, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import World, add_resource

API = "/api/v1/requirements"


def filed(client: TestClient, world: World, **overrides: object) -> str:
    body = {
        "kind": "data",
        "title": "公租房资格审核需要户籍信息",
        "description": "住房保障资格审核时免交户口簿复印件",
        "due_date": (date.today() + timedelta(days=30)).isoformat(),
    }
    body.update(overrides)
    made = client.post(API, json=body, headers=world.auth("consumer_c"))
    assert made.status_code == 201, made.text
    number: str = made.json()["number"]
    return number


def act(client: TestClient, world: World, who: str, number: str, **body: object) -> dict[str, object]:
    answer = client.post(f"{API}/{number}/actions", json=body, headers=world.auth(who))
    result: dict[str, object] = {"status_code": answer.status_code, **answer.json()}
    return result


def test_requirement_goes_from_filing_to_confirmed_delivery(
    client: TestClient, factory: sessionmaker[Session], world: World
) -> None:
    resource = add_resource(factory, "GAJ")
    number = filed(client, world)
    assert act(client, world, "consumer_c", number, action="assign", assignee="GAJ")["status_code"] == 403
    assigned = act(client, world, "bureau_reviewer", number, action="assign", assignee="GAJ")
    assert assigned["status"] == "assigned" and assigned["assignee"] == "GAJ"
    assert act(client, world, "officer_b", number, action="start")["status_code"] == 404  # not MZJ's
    assert act(client, world, "officer_a", number, action="start")["status"] == "in_progress"
    unlinked = act(client, world, "officer_a", number, action="deliver")
    assert unlinked["status_code"] == 422 and unlinked["error"]["field"] == "links"  # type: ignore[index]
    typo = act(client, world, "officer_a", number, action="deliver", links={"resources": ["NOPE"]})
    assert typo["status_code"] == 422
    delivered = act(client, world, "officer_a", number, action="deliver", links={"resources": [resource]})
    assert delivered["status"] == "delivered" and delivered["days_to_delivery"] is not None
    assert (
        act(client, world, "officer_a", number, action="confirm")["status_code"] == 403
    )  # the filer confirms
    reopened = act(client, world, "consumer_c", number, action="reopen", reason="缺少户籍地址")
    assert reopened["status"] == "in_progress"
    act(client, world, "officer_a", number, action="deliver")
    closed = act(client, world, "consumer_c", number, action="confirm")
    assert closed["status"] == "closed"
    assert [s["action"] for s in closed["steps"]] == [  # type: ignore[attr-defined]
        "file",
        "assign",
        "start",
        "deliver",
        "reopen",
        "deliver",
        "confirm",
    ]
    again = act(client, world, "consumer_c", number, action="confirm")
    assert again["status_code"] == 409


def test_rejection_needs_a_reason_and_statistics_count_per_department(
    client: TestClient, factory: sessionmaker[Session], world: World
) -> None:
    first, second = filed(client, world), filed(client, world, kind="technology")
    assert act(client, world, "bureau_reviewer", first, action="reject")["status_code"] == 422
    assert (
        act(client, world, "bureau_reviewer", first, action="reject", reason="重复需求")["status"]
        == "rejected"
    )
    past = client.post(
        API,
        json={"kind": "data", "title": "过期", "description": "过期需求", "due_date": "2020-01-01"},
        headers=world.auth("consumer_c"),
    )
    assert past.status_code == 422 and past.json()["error"]["field"] == "due_date"
    rows = client.get(f"{API}/statistics", headers=world.auth("admin")).json()
    assert rows == [
        {
            "department": "WJW",
            "filed": 2,
            "open": 1,
            "overdue": 0,
            "delivered": 0,
            "rejected": 1,
            "median_days_to_delivery": None,
        }
    ]
    assert client.get(API, headers=world.auth("officer_b")).json() == []  # MZJ neither filed nor was assigned
    assert client.get(f"{API}/{second}", headers=world.auth("officer_b")).status_code == 404
