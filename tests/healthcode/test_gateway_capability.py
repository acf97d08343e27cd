"""Departments' gate apps verify codes through the gateway capability ``healthcode.verify``, signed like
every gateway call: a live code answers valid with the gate's decision and masked name; a tampered one
answers not valid naming the stage; an unsigned call is refused; each call is audited."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import World
from tests.gateway.helpers import CAP, PURPOSE, call, new_app, new_key
from zhongtai.core.audit import AuditEvent
from zhongtai.core.database import transaction
from zhongtai.core.settings import Settings
from zhongtai.core.types import utcnow
from zhongtai.healthcode import service
from zhongtai.public.service import Person

NUMBER = "34010419900101001X"


def test_gate_apps_verify_through_the_gateway(
    client: TestClient, factory: sessionmaker[Session], settings: Settings, world: World
) -> None:
    made = client.post(
        CAP,
        json={
            "code": "healthcode.verify",
            "name": "安康码核验",
            "kind": "platform",
            "operation": "healthcode_verify",
            "provider": "SJZYJ",
        },
        headers=world.auth("admin"),
    )
    assert made.status_code == 201, made.text
    client.post(f"{CAP}/healthcode.verify/actions", json={"action": "publish"}, headers=world.auth("admin"))
    app = new_app(client, world, code="gaj-gate", who="developer_a")
    subscribed = client.post(
        f"/api/v1/apps/{app}/subscriptions",
        json={"capability": "healthcode.verify", "purpose": PURPOSE},
        headers=world.auth("developer_a"),
    ).json()
    if subscribed["status"] == "pending":
        client.post(
            f"/api/v1/capability-subscriptions/{subscribed['id']}/actions",
            json={"action": "approve"},
            headers=world.auth("admin"),
        )
    key = new_key(client, world, app, who="developer_a")
    with transaction(factory) as session:
        holder = Person("p-gate-test", "王小明", NUMBER)
        code = service.show_person_code(session, settings, holder, "test", utcnow()).text

    live = call(client, key, "POST", "/gw/healthcode.verify", {"code": code})
    assert live.status_code == 200, live.text
    assert live.json() == {
        "valid": True,
        "decision": "pass",
        "colour": "green",
        "masked_name": "王**",
        "fever": False,
    }
    tampered = code[:-3] + ("A" if code[-3] != "A" else "B") + code[-2:]
    refused = call(client, key, "POST", "/gw/healthcode.verify", {"code": tampered})
    assert refused.status_code == 200 and refused.json()["valid"] is False and refused.json()["stage"]
    assert call(client, key, "POST", "/gw/healthcode.verify", {"temperature": 36.5}).status_code == 422
    unsigned = client.post("/gw/healthcode.verify", content=json.dumps({"code": code}))
    assert unsigned.status_code == 401
    with factory() as session:
        calls = session.scalars(
            select(AuditEvent).where(AuditEvent.event_type == "gateway.call", AuditEvent.app == "gaj-gate")
        ).all()
    assert len(calls) >= 3 and "p-gate-test" in {c.subject for c in calls}  # whose code, by pseudonym
