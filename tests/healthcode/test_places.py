"""Place codes and gates: a citizen applies for a place, the street office approves it, the poster's QR
opens the visit page (a repeat within a minute counted once, the owner sees numbers only); a guard's gate
link verifies person codes online — a photo of the code, a fever turning it yellow, a refused code kept as
a passage with its stage; the gate API answers the same."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.core.test_identity import login
from tests.factories import World, add_department
from tests.public.helpers import NEIGHBOUR, WANG, csrf, register, sign_in
from zhongtai.app import create_app
from zhongtai.core.database import transaction
from zhongtai.core.identity.models import Role
from zhongtai.core.identity.service import create_user
from zhongtai.core.principal import SYSTEM
from zhongtai.core.pseudonym import person_subject
from zhongtai.core.settings import Settings
from zhongtai.core.types import utcnow
from zhongtai.healthcode import service
from zhongtai.healthcode.models import Passage, Visit
from zhongtai.healthcode.qr import qr_png
from zhongtai.orgs.models import DepartmentKind
from zhongtai.public.service import Person


@pytest.fixture
def street_office(factory: sessionmaker[Session], world: World) -> str:
    with transaction(factory) as session:
        add_department(session, "SSQ", "蜀山区人民政府", DepartmentKind.DISTRICT)
        create_user(
            session,
            SYSTEM,
            username="ssq.reviewer",
            display_name="蜀山区审核员",
            department_code="SSQ",
            roles=[Role.REVIEWER],
            password="correct horse battery staple",
        )
    return "ssq.reviewer"


@pytest.fixture
def other(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as second:
        register(second)
        yield second


def _approved_place(client: TestClient, staff: TestClient, reviewer: str) -> str:
    register(client)
    sign_in(client, WANG)
    applied = client.post(
        "/m/places",
        data={
            "csrf_token": csrf(client, "/m/places"),
            "name": "老王便利店",
            "kind": "shop",
            "address": "蜀山区长江西路 100 号",
            "street": "稻香村街道",
            "office": "SSQ",
        },
        follow_redirects=False,
    )
    assert applied.status_code == 303, applied.text[:500]
    place = applied.headers["location"]
    assert login(staff, reviewer, "correct horse battery staple") == 303
    queue = staff.get("/healthcode/places")
    assert queue.status_code == 200 and "老王便利店" in queue.text
    number = re.search(r"/healthcode/places/(\d+)/decision", queue.text)
    assert number
    token = re.search(r'name="csrf_token" value="([^"]+)"', queue.text)
    assert token
    decided = staff.post(
        f"/healthcode/places/{number.group(1)}/decision",
        data={"csrf_token": token.group(1), "action": "approve", "comment": ""},
        follow_redirects=False,
    )
    assert decided.status_code == 303
    return place


def test_a_place_is_approved_and_its_poster_records_visits_once_a_minute(
    client: TestClient, other: TestClient, factory: sessionmaker[Session], world: World, street_office: str
) -> None:
    staff = TestClient(client.app)
    place = _approved_place(client, staff, street_office)
    poster = client.get(place + "/poster")
    assert poster.status_code == 200 and "<svg" in poster.text and "老王便利店" in poster.text
    link = re.search(r'id="visit-link" href="(http://testserver/m/visit\?c=[^"]+)"', poster.text)
    assert link
    url = link.group(1).replace("&amp;", "&")
    first = other.get(url, follow_redirects=True)  # signed out: sign in, then back to the visit
    assert "实名登录" in first.text
    sign_in(other, NEIGHBOUR)
    visited = other.get(url)
    assert visited.status_code == 200 and "绿码" in visited.text and "老王便利店" in visited.text
    assert other.get(url).status_code == 200  # again at once: the same visit
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Visit)) == 1
    owner_view = client.get(place)
    assert NEIGHBOUR.name not in owner_view.text and "李*" not in owner_view.text  # counts, no people
    tampered = url[:-6] + ("A" if url[-6] != "A" else "B") + url[-5:]
    assert other.get(tampered).status_code in (404, 422)


def test_a_staff_member_of_another_office_cannot_decide(
    client: TestClient, factory: sessionmaker[Session], world: World, street_office: str
) -> None:
    staff = TestClient(client.app)
    assert login(staff, "reviewer_a") == 303  # GAJ's reviewer: not this place's office
    register(client)
    sign_in(client, WANG)
    client.post(
        "/m/places",
        data={
            "csrf_token": csrf(client, "/m/places"),
            "name": "社区东门",
            "kind": "residential",
            "address": "蜀山区 1 号",
            "street": "三里庵街道",
            "office": "SSQ",
        },
    )
    assert "社区东门" not in staff.get("/healthcode/places").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', staff.get("/healthcode/places").text)
    assert token
    refused = staff.post(
        "/healthcode/places/1/decision", data={"csrf_token": token.group(1), "action": "approve"}
    )
    assert refused.status_code == 404


def _gate(client: TestClient, place: str) -> str:
    made = client.post(place + "/gates", data={"csrf_token": csrf(client, place), "name": "东门"})
    link = re.search(r'id="gate-link">(http://testserver/gate/[^<]+)<', made.text)
    assert link, made.text[:800]
    return link.group(1).replace("http://testserver", "")


def _code_of(factory: sessionmaker[Session], settings: Settings, who: Person) -> str:
    with transaction(factory) as session:
        return service.show_person_code(session, settings, who, "test", utcnow()).text


def test_a_guard_scans_a_photo_and_a_fever_turns_the_code_yellow(
    client: TestClient,
    other: TestClient,
    factory: sessionmaker[Session],
    settings: Settings,
    world: World,
    street_office: str,
) -> None:
    staff = TestClient(client.app)
    place = _approved_place(client, staff, street_office)
    gate = _gate(client, place)
    neighbour = Person(person_subject(settings, NEIGHBOUR.id_number), NEIGHBOUR.name, NEIGHBOUR.id_number)
    photo = qr_png(_code_of(factory, settings, neighbour))
    token = csrf(other, gate)
    passed = other.post(
        gate, data={"csrf_token": token, "direction": "in"}, files={"photo": ("code.png", photo, "image/png")}
    )
    assert passed.status_code == 200 and 'data-decision="pass"' in passed.text and "李*" in passed.text
    fever = other.post(
        gate,
        data={"csrf_token": token, "code": _code_of(factory, settings, neighbour), "temperature": "38.1"},
    )
    assert 'data-decision="restricted"' in fever.text
    after_fever = _code_of(factory, settings, neighbour)
    with factory() as session:
        colour = service.current_verdict(session, neighbour.subject)
    assert colour[0].colour.label == "yellow" and colour[1][0]["rule"] == "yellow.fever"
    scans, key = "/api/v1/healthcode/gate-scans", {"X-Gate-Key": gate.removeprefix("/gate/")}
    api = other.post(scans, json={"code": after_fever}, headers=key)
    assert api.status_code == 200 and api.json()["colour"] == "yellow"
    no_photo = other.post(
        gate, data={"csrf_token": token}, files={"photo": ("x.png", b"not an image", "image/png")}
    )
    assert no_photo.status_code == 422
    place_code = other.post(scans, json={"code": "AK1:XYZ"}, headers=key)
    assert place_code.status_code == 422 and place_code.json()["error"]["code"].startswith("code_")
    with factory() as session:
        refused = session.scalars(select(Passage).where(Passage.decision == "refused")).all()
        assert refused and refused[-1].refusal  # the refused scan is an entry record with its stage
    unknown = other.post(scans, json={"code": after_fever}, headers={"X-Gate-Key": "not-a-gate"})
    assert unknown.status_code == 401
    assert other.post(scans, json={"code": after_fever}).status_code == 401


def test_a_screenshot_of_a_green_code_is_refused_once_the_person_turned_red(
    client: TestClient,
    other: TestClient,
    factory: sessionmaker[Session],
    settings: Settings,
    world: World,
    street_office: str,
) -> None:
    from zhongtai.healthcode import colouring
    from zhongtai.healthcode.rules import Evidence, Fact

    staff = TestClient(client.app)
    place = _approved_place(client, staff, street_office)
    key = {"X-Gate-Key": _gate(client, place).removeprefix("/gate/")}
    gate = "/api/v1/healthcode/gate-scans"
    neighbour = Person(person_subject(settings, NEIGHBOUR.id_number), NEIGHBOUR.name, NEIGHBOUR.id_number)
    green = _code_of(factory, settings, neighbour)
    with transaction(factory) as session:
        now = utcnow()
        evidence = Evidence(Fact.POSITIVE_TEST, now - timedelta(hours=1), "WJW", "HS0001")
        colouring.record_evidence(session, [(neighbour.subject, evidence)])
        colouring.recompute(session, now, [neighbour.subject])
    refused = other.post(gate, json={"code": green}, headers=key)
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "code_revoked"
    red = other.post(gate, json={"code": _code_of(factory, settings, neighbour)}, headers=key)
    assert red.status_code == 200 and red.json()["decision"] == "barred"


def test_malformed_scans_name_the_field(client: TestClient, world: World, street_office: str) -> None:
    staff = TestClient(client.app)
    place = _approved_place(client, staff, street_office)
    key = {"X-Gate-Key": _gate(client, place).removeprefix("/gate/")}
    gate = "/api/v1/healthcode/gate-scans"
    assert (
        client.post(gate, json={"code": "AK1:X", "temperature": 99}, headers=key).json()["error"]["field"]
        == "temperature"
    )
    assert (
        client.post(gate, json={"code": "AK1:X", "direction": "up"}, headers=key).json()["error"]["field"]
        == "direction"
    )
    assert client.post(gate, json={}, headers=key).status_code == 422
