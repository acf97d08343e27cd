"""The home page: each user's pending work with its deadline, recent activity and the key figures."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.core.test_identity import login
from tests.factories import World
from tests.sharing.helpers import apply_body, shared_people
from zhongtai.core.settings import Settings

API = "/api/v1/sharing"


def pending(page: str) -> list[str]:
    """The pending-work rows' text, tags dropped."""
    rows = re.findall(r'<tr class="work-item">(.*?)</tr>', page, re.S)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip() for row in rows]


def test_home_lists_each_reviewers_own_pending_work_with_its_deadline(
    client: TestClient, world: World, factory: sessionmaker[Session], settings: Settings
) -> None:
    resource, _ = shared_people(factory, settings, rows=2)
    applied = client.post(f"{API}/applications", json=apply_body(resource), headers=world.auth("consumer_c"))
    assert applied.status_code == 201, applied.text
    number = applied.json()["number"]

    assert login(client, "bureau_reviewer") == 303
    bureau = pending(client.get("/").text)
    assert any(number in row and "去审批" in row and "个工作日" in row for row in bureau), bureau
    client.cookies.clear()
    assert login(client, "reviewer_a") == 303  # the provider's reviewer: nothing until the bureau passes it
    assert not any(number in row for row in pending(client.get("/").text))

    passed = client.post(
        f"{API}/applications/{number}/actions",
        json={"action": "bureau_approve", "comment": ""},
        headers=world.auth("bureau_reviewer"),
    )
    assert passed.status_code == 200, passed.text
    provider = pending(client.get("/").text)
    assert any(number in row and "去审批" in row for row in provider), provider
    client.cookies.clear()
    assert login(client, "bureau_reviewer") == 303
    assert not any(number in row for row in pending(client.get("/").text))  # done on their side


def test_home_shows_my_recent_actions_and_the_key_figures(
    client: TestClient, world: World, factory: sessionmaker[Session], settings: Settings
) -> None:
    shared_people(factory, settings, rows=2)
    assert login(client, "consumer_c") == 303
    page = client.get("/").text
    activity = page.split('id="activity"')[1].split("</section>")[0]
    assert "consumer_c" in activity and "登录" in activity and "admin" not in activity  # only my own actions
    figures = page.split('id="figures"')[1]
    assert "已发布目录" in figures and "4,829" in figures  # ours beside the reference city's, with separators
    assert client.get("/", follow_redirects=False).status_code == 200
    client.cookies.clear()
    assert client.get("/", follow_redirects=False).headers["location"].startswith("/login")
