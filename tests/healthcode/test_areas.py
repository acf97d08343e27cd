"""Risk areas: the health commission declares one; a citizen declaring a stay there during its period
turns yellow with that reason; lifting the area withdraws it; others may not declare; bad input named."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient

from tests.core.test_identity import login
from tests.factories import World
from tests.public.helpers import WANG, csrf, register, sign_in
from zhongtai.core.database import transaction
from zhongtai.core.identity.models import Role
from zhongtai.core.identity.service import create_user
from zhongtai.core.principal import SYSTEM, Principal
from zhongtai.core.settings import Settings
from zhongtai.core.types import utcnow
from zhongtai.healthcode.models import Place


def _health_officer(client: TestClient, world: World, factory) -> TestClient:  # type: ignore[no-untyped-def]
    with transaction(factory) as session:
        create_user(
            session,
            SYSTEM,
            username="wjw.officer",
            display_name="卫健专员",
            department_code="WJW",
            roles=[Role.OFFICER],
            password="correct horse battery staple",
        )
    staff = TestClient(client.app)
    assert login(staff, "wjw.officer", "correct horse battery staple") == 303
    return staff


def _declare(staff: TestClient, settings: Settings, **fields: str) -> int:
    today = utcnow().astimezone(settings.zone).date()
    token = re.search(r'name="csrf_token" value="([^"]+)"', staff.get("/healthcode/areas").text)
    assert token
    body = {"csrf_token": token.group(1), "level": "high", "district": "340104", "street": "稻香村街道"}
    body |= {"starts_on": str(today - timedelta(days=3)), "ends_on": "", **fields}
    return staff.post("/healthcode/areas", data=body, follow_redirects=False).status_code


def test_a_declared_stay_turns_yellow_and_lifting_withdraws_it(
    client: TestClient,
    world: World,
    factory,
    settings: Settings,  # type: ignore[no-untyped-def]
) -> None:
    staff = _health_officer(client, world, factory)
    assert _declare(staff, settings) == 303
    register(client)
    sign_in(client, WANG)
    form = client.get("/m/travel")
    area = re.search(r'<option value="(\d+)">高风险 · 蜀山区稻香村街道', form.text)
    assert area, form.text[:1500]
    today = utcnow().astimezone(settings.zone).date()
    declared = client.post(
        "/m/travel", data={"csrf_token": csrf(client, "/m/travel"), "area": area.group(1), "on": str(today)}
    )
    assert declared.status_code == 200 and "黄码" in declared.text and "在风险地区停留" in declared.text
    too_old = client.post(
        "/m/travel",
        data={
            "csrf_token": csrf(client, "/m/travel"),
            "area": area.group(1),
            "on": str(today - timedelta(days=30)),
        },
    )
    assert too_old.status_code == 422
    token = re.search(r'name="csrf_token" value="([^"]+)"', staff.get("/healthcode/areas").text)
    assert token
    lifted = staff.post(f"/healthcode/areas/{area.group(1)}/lift", data={"csrf_token": token.group(1)})
    assert lifted.status_code == 200
    assert "绿码" in client.get("/m/code").text


def test_only_health_staff_declare_and_bad_input_is_named(
    client: TestClient,
    world: World,
    factory,
    settings: Settings,  # type: ignore[no-untyped-def]
) -> None:
    other = TestClient(client.app)
    assert login(other, "reviewer_a") == 303
    assert other.get("/healthcode/areas").status_code == 403
    staff = _health_officer(client, world, factory)
    assert _declare(staff, settings, district="999999") == 422
    assert _declare(staff, settings, level="low") == 422
    assert _declare(staff, settings, ends_on="2000-01-01") == 422
    assert _declare(staff, settings, starts_on="yesterday") == 422


def test_gate_records_and_place_scans_inside_an_area_turn_yellow_once_and_lifting_clears_them(
    factory,
    settings: Settings,
    world: World,  # type: ignore[no-untyped-def]
) -> None:
    from tests.healthcode.test_tracing import _places
    from zhongtai.healthcode import areas
    from zhongtai.healthcode.models import Passage, Visit
    from zhongtai.healthcode.repository import HealthCodeRepository

    now = utcnow()
    staff = Principal(
        None, "wjw.officer", "wjw.officer", 4, settings.healthcode_department, frozenset({Role.OFFICER})
    )
    with transaction(factory) as session:
        (inside, gate), (elsewhere, _) = _places(session, settings, 2)
        session.get(Place, elsewhere).street = "三里庵街道"  # type: ignore[union-attr]
        session.add(Visit(place_id=inside, subject="p-visit", at=now - timedelta(days=1), colour=0))
        session.add(
            Passage(
                gate_id=gate, place_id=inside, subject="p-gate", at=now - timedelta(hours=3), decision="pass"
            )
        )
        session.add(Visit(place_id=elsewhere, subject="p-away", at=now - timedelta(hours=3), colour=0))
        session.add(Visit(place_id=inside, subject="p-early", at=now - timedelta(days=6), colour=0))  # before
    today = now.astimezone(settings.zone).date()
    with transaction(factory) as session:
        area = areas.declare(
            session, settings, staff, ("high", "340104", "稻香村街道", today - timedelta(days=2), None), now
        )
        area_id = area.id
    with transaction(factory) as session:
        repo = HealthCodeRepository(session)
        colours = {s: repo.colour_of(s) for s in ("p-visit", "p-gate", "p-away", "p-early")}
        assert {s for s, c in colours.items() if c and c[0] == 1} == {"p-visit", "p-gate"}
        session.add(Visit(place_id=inside, subject="p-later", at=now, colour=0))
        session.flush()
        assert areas.sweep(session, settings, now) == 1  # the new scan, and nothing counted twice
        assert areas.sweep(session, settings, now) == 0
    with transaction(factory) as session:
        assert areas.lift(session, settings, staff, area_id, now) == 3
        repo = HealthCodeRepository(session)
        assert all(repo.colour_of(s)[0] == 0 for s in ("p-visit", "p-gate", "p-later"))  # type: ignore[index]


def test_a_sweep_decides_with_what_was_known_before_and_what_it_found_earlier(
    factory,
    settings: Settings,
    world: World,  # type: ignore[no-untyped-def]
) -> None:
    """The sweep reads a person's other evidence only when they have a colour on record: a positive case
    inside the area stays red with both reasons, and a second sweep keeps the first one's stay."""
    from tests.healthcode.test_tracing import _places
    from zhongtai.healthcode import areas, colouring
    from zhongtai.healthcode.models import Visit
    from zhongtai.healthcode.repository import HealthCodeRepository
    from zhongtai.healthcode.rules import Evidence, Fact

    now = utcnow()
    staff = Principal(
        None, "wjw.officer", "wjw.officer", 4, settings.healthcode_department, frozenset({Role.OFFICER})
    )
    with transaction(factory) as session:
        (inside, _), _ = _places(session, settings, 2)
        positive = Evidence(Fact.POSITIVE_TEST, now - timedelta(days=2), "WJW", "HS-1", "阳性")
        colouring.record_evidence(session, [("p-case", positive)])
        colouring.recompute(session, now - timedelta(days=2), ["p-case"])
        session.add(Visit(place_id=inside, subject="p-case", at=now - timedelta(days=1), colour=2))
        session.add(Visit(place_id=inside, subject="p-twice", at=now - timedelta(days=1), colour=0))
    today = now.astimezone(settings.zone).date()
    with transaction(factory) as session:
        spec = ("high", "340104", "稻香村街道", today - timedelta(days=2), None)
        assert areas.declare(session, settings, staff, spec, now).id
        session.add(Visit(place_id=inside, subject="p-twice", at=now, colour=1))
        session.flush()
        assert areas.sweep(session, settings, now + timedelta(minutes=1)) == 1
    with transaction(factory) as session:
        stored = HealthCodeRepository(session).colours_of(["p-case", "p-twice"])
        case_colour, _, _, case_reasons = stored["p-case"]
        assert (
            case_colour == 2
            and '"red.positive_test"' in case_reasons
            and '"yellow.risk_area"' in case_reasons
        )
        twice_colour, _, _, twice_reasons = stored["p-twice"]
        assert twice_colour == 1 and twice_reasons.count('"yellow.risk_area"') == 2
