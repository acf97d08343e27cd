"""The health commission edits the colour rules on a page: each save a new version, everyone recomputed in
the background under it (a fever at 37.5 °C is no longer yellow once the line moves to 37.6); others may
not; a value out of range is named."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.core.test_identity import login
from tests.healthcode.test_areas import _health_officer
from zhongtai.core.database import transaction
from zhongtai.core.settings import Settings
from zhongtai.core.types import utcnow
from zhongtai.healthcode import colouring, service
from zhongtai.healthcode.rules import Evidence, Fact

FORM = {
    "red.positive_test": "on",
    "red.days": "14",
    "red.checkins": "14",
    "yellow.risk_area": "on",
    "yellow.symptoms": "on",
    "yellow.days": "7",
    "yellow.checkins": "7",
    "red.close_contact": "on",
    "yellow.co_visitor": "on",
    "yellow.secondary_contact": "on",
    "tracing.close_minutes": "30",
    "tracing.lookback_days": "14",
    "tracing.half_day": "on",
}


def _save(staff: TestClient, **fields: str) -> int:
    token = re.search(r'name="csrf_token" value="([^"]+)"', staff.get("/healthcode/rules").text)
    assert token
    body = {"csrf_token": token.group(1), **FORM, "yellow.fever_celsius": "37.3", **fields}
    return staff.post("/healthcode/rules", data=body, follow_redirects=False).status_code


def test_a_saved_version_recomputes_everyone(
    client: TestClient,
    world,
    factory: sessionmaker[Session],
    settings: Settings,  # type: ignore[no-untyped-def]
) -> None:
    with transaction(factory) as session:
        now = utcnow()
        colouring.record_evidence(
            session,
            [("p-feverish", Evidence(Fact.GATE_TEMPERATURE, now - timedelta(hours=1), "GATE", "g/1", 37.5))],
        )
        colouring.recompute(session, now, ["p-feverish"])
    staff = _health_officer(client, world, factory)
    assert _save(staff, **{"yellow.fever_celsius": "37.6"}, comment="发热标准调整") == 303
    page = staff.get("/healthcode/rules")
    assert "发热标准调整" in page.text and "37.6" in page.text
    with factory() as session:
        verdict, _, _ = service.current_verdict(session, "p-feverish")
    assert verdict.colour.label == "green" and verdict.rule_version == 2


def test_others_may_not_and_bad_values_are_named(client: TestClient, world, factory) -> None:  # type: ignore[no-untyped-def]
    other = TestClient(client.app)
    assert login(other, "reviewer_a") == 303
    assert other.get("/healthcode/rules").status_code == 403
    staff = _health_officer(client, world, factory)
    assert _save(staff, **{"yellow.fever_celsius": "50"}) == 422
    assert _save(staff, **{"red.days": "many"}) == 422
