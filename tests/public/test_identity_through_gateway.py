"""The real-name check goes through the platform's own capability (``person.verify``) as the health-code
app, under its grant: a match signs in, a mismatch is refused, and the gateway's access entry names the
person as its subject (the pseudonym, never the ID number)."""

from __future__ import annotations

import json
import re

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import World
from tests.gateway.helpers import (
    PURPOSE,
    data_capability,
    governed_people,
    grant_api,
    new_app,
    new_key,
    subscribe,
)
from tests.public.helpers import csrf, last_code
from tests.sharing.helpers import id_number, person
from zhongtai.core.audit import AuditEvent
from zhongtai.core.pseudonym import person_subject
from zhongtai.core.settings import Settings


def _health_code_app(
    client: TestClient, factory: sessionmaker[Session], settings: Settings, world: World
) -> None:
    resource = governed_people(factory, settings, rows=3)
    grant_api(client, world, resource, items=["姓名", "公民身份号码", "联系电话"])
    data_capability(
        client,
        world,
        resource,
        "person.verify",
        "verify",
        key_item="公民身份号码",
        verify_items=["姓名", "联系电话"],
    )
    app = new_app(client, world)
    subscribe(client, world, app, "person.verify")
    key = new_key(client, world, app)
    path = settings.resolved_identity_credentials
    assert path is not None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"key_id": key.key_id, "secret": key.secret, "purpose": PURPOSE}))


def _start(client: TestClient, number: str, name: str, mobile: str) -> int:
    body = {"csrf_token": csrf(client), "id_number": number, "name": name, "mobile": mobile}
    return client.post("/m/login", data=body).status_code


def test_sign_in_checks_the_register_through_the_gateway(
    client: TestClient, factory: sessionmaker[Session], settings: Settings, world: World
) -> None:
    _health_code_app(client, factory, settings, world)
    resident = person(1)
    assert _start(client, resident["公民身份号码"], resident["姓名"], "13900000000") == 401
    assert _start(client, id_number(1), resident["姓名"], resident["联系电话"]) == 200
    assert re.fullmatch(r"\d{6}", last_code(client))
    with factory() as session:
        calls = session.scalars(
            select(AuditEvent).where(AuditEvent.event_type == "gateway.call").order_by(AuditEvent.id)
        ).all()
    subject = person_subject(settings, id_number(1))
    assert [c.subject for c in calls][-2:] == [subject, subject]
    assert [c.outcome for c in calls][-2:] == ["success", "success"]
    assert all(id_number(1) not in json.dumps(c.changes, ensure_ascii=False) for c in calls)


def test_without_a_gateway_key_the_check_is_unavailable_not_a_crash(client: TestClient) -> None:
    resident = person(1)
    assert _start(client, resident["公民身份号码"], resident["姓名"], resident["联系电话"]) == 503
