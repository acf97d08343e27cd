"""Who used my data: a citizen sees exactly the accesses that name them (their code shown, a gateway
lookup of their record) and nobody else's; objects to one, an auditor answers; objections are limited."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.core.test_identity import login
from tests.public.helpers import NEIGHBOUR, WANG, csrf, register, sign_in
from zhongtai.core.audit import AuditEvent
from zhongtai.core.pseudonym import person_subject
from zhongtai.core.settings import Settings


def test_a_citizen_sees_exactly_their_accesses(
    client: TestClient, factory: sessionmaker[Session], settings: Settings
) -> None:
    register(client)
    sign_in(client, NEIGHBOUR)
    client.get("/m/code")  # the neighbour's code shown: an access naming the neighbour
    client.cookies.clear()
    sign_in(client, WANG)
    for _ in range(3):
        client.get("/m/code")
    with factory() as session:
        mine = session.scalars(
            select(AuditEvent.id).where(AuditEvent.subject == person_subject(settings, WANG.id_number))
        ).all()
    page = client.get("/m/my-data")
    listed = re.findall(r'action="/m/my-data/(\d+)/objection"', page.text)
    assert sorted(int(i) for i in listed) == sorted(mine) and len(mine) == 3
    assert "安康码·出示" in page.text


def test_an_objection_goes_to_the_auditor_and_is_answered(
    client: TestClient,
    world,
    factory: sessionmaker[Session],
    settings: Settings,  # type: ignore[no-untyped-def]
) -> None:
    register(client)
    sign_in(client, WANG)
    client.get("/m/code")
    page = client.get("/m/my-data")
    event = re.search(r'action="/m/my-data/(\d+)/objection"', page.text)
    assert event
    filed = client.post(
        f"/m/my-data/{event.group(1)}/objection",
        data={"csrf_token": csrf(client, "/m/my-data"), "text": "我没有在这个时间出示过安康码"},
        follow_redirects=False,
    )
    assert filed.status_code == 303
    again = client.post(
        f"/m/my-data/{event.group(1)}/objection",
        data={"csrf_token": csrf(client, "/m/my-data"), "text": "我没有在这个时间出示过安康码"},
    )
    assert again.status_code == 409
    other = client.post(
        "/m/my-data/999999/objection", data={"csrf_token": csrf(client, "/m/my-data"), "text": "不是我的记录"}
    )
    assert other.status_code == 404
    auditor = TestClient(client.app)
    assert login(auditor, "auditor") == 303
    queue = auditor.get("/audit/objections")
    assert "我没有在这个时间出示过安康码" in queue.text
    found = re.search(r"/audit/objections/(\d+)/answer", queue.text)
    token = re.search(r'name="csrf_token" value="([^"]+)"', queue.text)
    assert found and token
    answered = auditor.post(
        f"/audit/objections/{found.group(1)}/answer",
        data={"csrf_token": token.group(1), "answer": "经核查,系您本人登录后出示"},
        follow_redirects=False,
    )
    assert answered.status_code == 303
    assert "经核查,系您本人登录后出示" in client.get("/m/my-data").text
    staff = TestClient(client.app)
    assert login(staff, "officer_a") == 303
    assert staff.get("/audit/objections").status_code == 403


def test_objections_are_limited_per_day(
    client: TestClient, factory: sessionmaker[Session], settings: Settings
) -> None:
    register(client)
    sign_in(client, WANG)
    for _ in range(6):
        client.get("/m/code")
    ids = re.findall(r'action="/m/my-data/(\d+)/objection"', client.get("/m/my-data").text)
    statuses = [
        client.post(
            f"/m/my-data/{i}/objection", data={"csrf_token": csrf(client, "/m/my-data"), "text": "请说明用途"}
        ).status_code
        for i in ids[:6]
    ]
    assert statuses[:5] == [200] * 5 and statuses[5] == 429
