"""A citizen signs in by real name: ID number, name and mobile checked against the household register,
then a one-time code; the same answer for an unknown person and mismatched details; lockout."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.public.helpers import NEIGHBOUR, WANG, WANG_CHILD, an_id, csrf, last_code, register, sign_in, start
from zhongtai.app import create_app
from zhongtai.core.audit import AuditEvent
from zhongtai.core.settings import Settings
from zhongtai.public.models import Citizen, SignInAttempt


def test_a_citizen_signs_in_and_sees_their_own_code(client: TestClient) -> None:
    register(client)
    sign_in(client, WANG)
    page = client.get("/m/code")
    assert page.status_code == 200
    assert "绿码" in page.text and "王**" in page.text and "<svg" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert WANG.id_number not in page.text  # the page never shows the number in full


def test_staff_and_citizen_sessions_are_apart(client: TestClient) -> None:
    register(client)
    sign_in(client, WANG)
    assert client.get("/", follow_redirects=False).status_code == 303  # a citizen is not staff
    assert "zt_session" not in client.cookies and "zt_citizen" in client.cookies


def test_unknown_person_and_wrong_mobile_get_the_same_answer(client: TestClient) -> None:
    register(client)
    unknown_status, unknown = start(client, WANG, id_number=an_id(77))
    wrong_status, wrong = start(client, WANG, mobile="13999999999")
    assert unknown_status == wrong_status == 401

    def message(text: str) -> str:
        found = re.search(r'<p class="error"[^>]*>([^<]+)</p>', text)
        assert found
        return found.group(1)

    assert message(unknown) == message(wrong)
    assert "验证码 " not in client.get("/m/inbox").text  # nothing was sent (a message reads "验证码 123456")


def test_malformed_input_names_the_field(client: TestClient) -> None:
    register(client)
    status, text = start(client, WANG, id_number="34010419900101001X")
    assert status == 422 and 'id="error-id_number"' in text
    status, text = start(client, WANG, mobile="12345")
    assert status == 422 and 'id="error-mobile"' in text


def test_repeated_failures_lock_sign_in_for_that_person(
    client: TestClient, factory: sessionmaker[Session]
) -> None:
    fake = register(client)
    for _ in range(5):
        assert start(client, WANG, mobile="13999999999")[0] == 401
    status, text = start(client, WANG)  # now even the right details are refused for a while
    assert status == 429 and "锁定" in text
    calls = fake.calls
    start(client, WANG)
    assert fake.calls == calls  # locked: the register is not even asked
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(SignInAttempt)) >= 5


def test_a_wrong_code_is_refused_and_voids_after_attempts(client: TestClient) -> None:
    register(client)
    status, text = start(client, NEIGHBOUR)
    pending = re.search(r'name="pending" value="([^"]+)"', text)
    assert status == 200 and pending
    real = last_code(client)
    wrong = f"{(int(real) + 1) % 1_000_000:06d}"
    for _ in range(4):
        answer = client.post(
            "/m/login/code", data={"csrf_token": csrf(client), "pending": pending.group(1), "code": wrong}
        )
        assert answer.status_code == 422
    answer = client.post(
        "/m/login/code", data={"csrf_token": csrf(client), "pending": pending.group(1), "code": wrong}
    )
    assert answer.status_code in (422, 429)
    late = client.post(
        "/m/login/code", data={"csrf_token": csrf(client), "pending": pending.group(1), "code": real}
    )
    assert late.status_code in (422, 429)  # void (or locked): a guessed code never signs in
    assert "zt_citizen" not in client.cookies


def test_a_second_code_within_a_minute_is_refused(client: TestClient) -> None:
    register(client)
    assert start(client, WANG)[0] == 200
    status, _ = start(client, WANG)
    assert status == 429


def test_family_member_in_the_household_is_added_and_shown(
    client: TestClient, factory: sessionmaker[Session]
) -> None:
    register(client)
    sign_in(client, WANG)
    assert client.get("/m/code").status_code == 200
    token = csrf(client, "/m/family")
    added = client.post(
        "/m/family",
        data={
            "csrf_token": token,
            "id_number": WANG_CHILD.id_number,
            "name": WANG_CHILD.name,
            "relation": "child",
        },
    )
    assert added.status_code == 200 and "王乐乐" in added.text
    member = re.search(r'href="/m/code/family/(\d+)"', added.text)
    assert member
    code = client.get(f"/m/code/family/{member.group(1)}")
    assert code.status_code == 200 and "王**" in code.text
    with factory() as session:
        subjects = set(session.scalars(select(AuditEvent.subject).where(AuditEvent.subject.is_not(None))))
        assert len(subjects) >= 2  # the citizen's and the child's code views, each under its person


def test_a_person_outside_the_household_is_refused(client: TestClient) -> None:
    register(client)
    sign_in(client, WANG)
    token = csrf(client, "/m/family")
    refused = client.post(
        "/m/family",
        data={
            "csrf_token": token,
            "id_number": NEIGHBOUR.id_number,
            "name": NEIGHBOUR.name,
            "relation": "parent",
        },
    )
    assert refused.status_code == 401 and "同一户" in refused.text
    assert client.get("/m/code/family/999").status_code == 404


def test_another_citizens_family_member_is_not_reachable(client: TestClient) -> None:
    register(client)
    sign_in(client, WANG)
    token = csrf(client, "/m/family")
    client.post(
        "/m/family",
        data={
            "csrf_token": token,
            "id_number": WANG_CHILD.id_number,
            "name": WANG_CHILD.name,
            "relation": "child",
        },
    )
    client.post("/m/logout", data={"csrf_token": csrf(client, "/m/family")})
    client.cookies.clear()
    sign_in(client, NEIGHBOUR)
    assert client.get("/m/code/family/1").status_code == 404


def test_signed_out_pages_go_to_sign_in(client: TestClient, factory: sessionmaker[Session]) -> None:
    answer = client.get("/m/code", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/m/login?next=%2Fm%2Fcode"
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Citizen)) == 0


def test_production_has_no_demo_inbox(settings: Settings) -> None:
    production = settings.model_copy(update={"env": "production"})
    with TestClient(create_app(production), raise_server_exceptions=False) as client:
        assert client.get("/m/inbox").status_code == 404
        assert "/m/inbox" not in client.get("/m/login").text
