"""The epidemic situation: aggregates only, by district, suppressed — a district with a handful of red
scans shows "<10" (and whatever would give it away), the rest true; no person named; staff only."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.core.test_identity import login
from tests.factories import World
from tests.healthcode.test_tracing import _places
from zhongtai.core.database import transaction
from zhongtai.core.settings import Settings
from zhongtai.core.types import utcnow
from zhongtai.healthcode.models import Visit


def test_scans_by_district_are_suppressed_and_nobody_is_named(
    client: TestClient, factory: sessionmaker[Session], world: World, settings: Settings
) -> None:
    now = utcnow()
    with transaction(factory) as session:
        (place, _), _ = _places(session, settings, 2)  # both in 蜀山区 (340104)
        for n in range(40):
            session.add(Visit(place_id=place, subject=f"p-green-{n}", at=now - timedelta(hours=1), colour=0))
        for n in range(3):
            session.add(Visit(place_id=place, subject=f"p-red-{n}", at=now - timedelta(hours=2), colour=2))
        for n in range(12):
            session.add(Visit(place_id=place, subject=f"p-yellow-{n}", at=now - timedelta(hours=2), colour=1))
        session.add(Visit(place_id=place, subject="p-old", at=now - timedelta(hours=30), colour=2))  # too old
    assert client.get("/api/v1/healthcode/situation").status_code == 401
    found = client.get("/api/v1/healthcode/situation", headers=world.auth("officer_a")).json()
    shushan = next(row for row in found["scans_24h"] if row["district"] == "340104")
    assert shushan["name"] == "蜀山区" and shushan["cells"]["red"] is None  # 3 red scans: not shown
    assert found["scans_24h_by_colour"]["red"] is None  # nor derivable from the colour's total
    shown = [v for row in found["scans_24h"] for v in row["cells"].values() if v is not None]
    assert all(not 0 < v < 10 for v in shown)
    assert "p-" not in str(found)
    staff = TestClient(client.app)
    assert login(staff, "officer_a") == 303
    page = staff.get("/healthcode/situation")
    assert page.status_code == 200 and "&lt;10" in page.text and "蜀山区" in page.text
