"""The big screen's figures: who may see them, that they follow events through the rollups, that one
computation serves every open screen, that the stream delivers an update after an event and refuses
screens over its bound, and that kiosk links open it until they expire or are revoked."""

from __future__ import annotations

import asyncio
import gc
import json
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.core.test_identity import login
from tests.factories import World
from tests.healthcode.test_tracing import _places
from zhongtai.core.audit import AuditEvent
from zhongtai.core.database import transaction
from zhongtai.core.errors import Unavailable
from zhongtai.core.settings import Settings
from zhongtai.core.types import utcnow
from zhongtai.figures import build_feeds
from zhongtai.healthcode.models import Visit
from zhongtai.screen import service
from zhongtai.screen.hub import Hub


def _visits(factory: sessionmaker[Session], settings: Settings, n: int, colour: int = 0) -> None:
    with transaction(factory) as session:
        found = _places(session, settings, 1) if not _place_ids(session) else [(_place_ids(session)[0], 0)]
        place = found[0][0]
        for i in range(n):
            session.add(Visit(place_id=place, subject=f"p-{colour}-{i}", at=utcnow(), colour=colour))


def _place_ids(session: Session) -> list[int]:
    from sqlalchemy import select

    from zhongtai.healthcode.models import Place

    return list(session.scalars(select(Place.id)))


def test_only_the_bureau_auditors_health_staff_and_screen_accounts_see_it(
    client: TestClient, world: World
) -> None:
    assert client.get("/api/v1/screen/figures").status_code == 401
    refused = client.get("/api/v1/screen/figures", headers=world.auth("consumer_a"))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "missing_role"
    for who in ("admin", "auditor", "consumer_c"):  # consumer_c is the health commission's
        assert client.get("/api/v1/screen/figures", headers=world.auth(who)).status_code == 200, who


def test_figures_follow_events_and_the_totals_stand_beside_the_reference_city(
    client: TestClient, world: World, factory: sessionmaker[Session], settings: Settings
) -> None:
    _visits(factory, settings, 14)
    client.app.state.screen.computed_at = -1e9  # type: ignore[attr-defined]
    found = client.get("/api/v1/screen/figures", headers=world.auth("admin")).json()
    assert found["health"]["scans_today"] == 14
    assert found["map"]["scans"]["340104"] == 14  # the test places are in 蜀山区
    totals = {t["key"]: t for t in found["totals"]}
    assert totals["catalog.published"]["reference"] == 4_829
    assert totals["orgs.systems"]["value"] == 2  # the test world's two systems
    assert "p-0-" not in json.dumps(found)  # no person in the figures
    profile = found["profile"]["district"]
    assert profile["groups"] == ["red", "yellow", "arrival", "contact"]


def test_one_computation_per_interval_serves_every_reader(
    client: TestClient, world: World, factory: sessionmaker[Session], settings: Settings
) -> None:
    hub: Hub = client.app.state.screen  # type: ignore[attr-defined]
    hub.interval = 3600.0
    before = hub.computations
    for _ in range(20):
        assert client.get("/api/v1/screen/figures", headers=world.auth("admin")).status_code == 200
    assert hub.computations - before <= 1


def test_the_stream_delivers_an_update_after_an_event(
    factory: sessionmaker[Session], settings: Settings, world: World
) -> None:
    hub = Hub(factory, settings, build_feeds(settings))
    hub.interval = 0.2

    async def watch() -> tuple[dict[str, Any], dict[str, Any]]:
        stream = hub.admit()
        figures: list[dict[str, Any]] = []
        async for chunk in stream:
            if chunk.startswith(b"id: "):
                figures.append(json.loads(chunk.split(b"data: ", 1)[1]))
                if len(figures) == 1:
                    await asyncio.to_thread(_visits, factory, settings, 3, 1)
                elif figures[-1]["health"]["scans_today"] == 3:
                    break
        await stream.aclose()
        await hub.close()
        return figures[0], figures[-1]

    first, last = asyncio.run(asyncio.wait_for(watch(), 30))
    assert first["health"]["scans_today"] == 0 and last["health"]["scans_today"] == 3
    gc.collect()
    assert hub.streams == 0  # the closed stream gave its slot back


def test_screens_over_the_bound_are_refused_with_retry_after(
    client: TestClient, world: World, settings: Settings, factory: sessionmaker[Session]
) -> None:
    hub: Hub = client.app.state.screen  # type: ignore[attr-defined]
    hub.limit = 0  # as if the server were full
    refused = client.get("/api/v1/screen/stream", headers=world.auth("admin"))
    assert refused.status_code == 503 and refused.headers["retry-after"] == "10"
    assert refused.json()["error"]["code"] == "too_many_screens"
    hub.limit = settings.screen_max_streams


def test_a_stream_that_never_started_gives_its_slot_back(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    """A client gone before its response started leaves an admitted stream nobody iterates: the slot must
    come back, or a screen reconnecting for days would fill the server."""
    hub = Hub(factory, settings.model_copy(update={"screen_max_streams": 1}), build_feeds(settings))

    async def knock() -> None:
        stream = hub.admit()
        with pytest.raises(Unavailable):
            hub.admit()  # full
        del stream  # the response was dropped before its body was read
        gc.collect()
        again = hub.admit()  # the slot is back
        del again
        await hub.close()

    asyncio.run(knock())


def test_a_kiosk_link_opens_the_screen_until_it_expires_or_is_revoked(
    client: TestClient, world: World, factory: sessionmaker[Session]
) -> None:
    refused = client.post(
        "/api/v1/screen/links", headers=world.auth("auditor"), json={"label": "x", "days": 3}
    )
    assert refused.status_code == 403
    made = client.post(
        "/api/v1/screen/links", headers=world.auth("admin"), json={"label": "指挥中心北墙", "days": 3}
    ).json()
    wall = TestClient(client.app)  # nobody signed in
    page = wall.get(made["path"])
    assert page.status_code == 200 and 'data-kiosk="1"' in page.text and "指挥中心" not in page.text
    assert wall.get(made["path"] + "/districts/340104").status_code == 200
    assert wall.get(made["path"] + "/districts/999999").status_code == 404
    wrong = wall.get("/screen/k/not-a-token")
    assert wrong.status_code == 401 and "<html" in wrong.text.lower()
    assert wall.get("/screen/k/not-a-token/stream").json()["error"]["code"] == "kiosk_link_invalid"
    with transaction(factory) as session:  # a month later
        from zhongtai.screen.models import KioskLink

        link = session.get(KioskLink, made["id"])
        assert link is not None
        link.expires_at = utcnow() - timedelta(seconds=1)
    assert wall.get(made["path"]).status_code == 401
    assert wall.get(made["path"] + "/stream").json()["error"]["code"] == "kiosk_link_expired"
    again = client.post(
        "/api/v1/screen/links", headers=world.auth("admin"), json={"label": "大厅", "days": 30}
    ).json()
    revoked = client.post(f"/api/v1/screen/links/{again['id']}/revoke", headers=world.auth("admin"))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert wall.get(again["path"] + "/stream").json()["error"]["code"] == "kiosk_link_revoked"
    listed = client.get("/api/v1/screen/links", headers=world.auth("admin")).json()
    assert all("path" not in link and "token" not in str(link) for link in listed)
    with factory() as session:
        from sqlalchemy import select

        kinds = set(
            session.scalars(select(AuditEvent.event_type).where(AuditEvent.target_type == "kiosk_link"))
        )
    assert kinds == {"screen.link.created", "screen.link.revoked"}


def test_bad_input_gets_a_clear_answer(client: TestClient, world: World) -> None:
    admin = world.auth("admin")
    assert client.get("/api/v1/screen/districts/999999/streets", headers=admin).status_code == 404
    assert client.get("/api/v1/screen/districts/abc/streets", headers=admin).status_code == 422
    assert client.post("/api/v1/screen/links", headers=admin, json={"days": 0}).status_code == 422
    assert client.post("/api/v1/screen/links/999/revoke", headers=admin).status_code == 404
    assert client.get("/api/v1/screen/profile/export?dimension=name", headers=admin).status_code == 422


def test_the_screen_page_for_staff_and_a_screen_account(client: TestClient, world: World) -> None:
    staff = TestClient(client.app)
    assert login(staff, "admin") == 303
    page = staff.get("/screen")
    assert page.status_code == 200 and 'id="c-map"' in page.text and "/static/screen.js" in page.text
    assert '"type": "FeatureCollection"' in page.text or '"type":"FeatureCollection"' in page.text
    other = TestClient(client.app)
    assert login(other, "consumer_a") == 303
    assert other.get("/screen").status_code == 403


def test_the_district_map_is_ours_and_covers_every_district(client: TestClient, world: World) -> None:
    shapes = client.get("/api/v1/screen/districts", headers=world.auth("admin")).json()
    codes = [f["properties"]["code"] for f in shapes["features"]]
    assert "340104" in codes and "340101" not in codes  # 市辖区 is an office, not a place
    for feature in shapes["features"]:
        ring = feature["geometry"]["coordinates"][0]
        assert ring[0] == ring[-1] and len(ring) >= 4


def test_compose_shows_no_panel_figure_that_is_not_in_the_rollups(settings: Settings) -> None:
    from zhongtai.core.rollups import Rollups

    empty = Rollups(utcnow(), 0, {}, {}, {})
    found = service.compose(empty, settings)
    assert found["alerts"] == [] and found["health"]["colours"] == {"green": 0, "yellow": 0, "red": 0}
    assert all(t["value"] == 0 for t in found["totals"])
