"""Correction requests: a person disputes the positive test behind a red code; the health commission
(whose record it is) sees it with its deadline; upheld, the reason goes and the code is green; rejected,
the answer is shown and the code stays; another department never sees it; bad requests are named."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.core.test_identity import login
from tests.healthcode.test_areas import _health_officer
from tests.public.helpers import WANG, csrf, register, sign_in
from zhongtai.core.database import transaction
from zhongtai.core.pseudonym import person_subject
from zhongtai.core.settings import Settings
from zhongtai.core.types import utcnow
from zhongtai.healthcode import colouring
from zhongtai.healthcode.rules import Evidence, Fact


def _red(factory: sessionmaker[Session], settings: Settings, record: str = "HS00000042") -> None:
    subject = person_subject(settings, WANG.id_number)
    with transaction(factory) as session:
        now = utcnow()
        colouring.record_evidence(
            session, [(subject, Evidence(Fact.POSITIVE_TEST, now - timedelta(hours=2), "WJW", record))]
        )
        colouring.recompute(session, now, [subject])


def _file(client: TestClient, record: str, statement: str = "当天我不在庐州,没有做过核酸检测") -> int:
    body = {"csrf_token": csrf(client, "/m/code"), "record": record, "statement": statement}
    return client.post("/m/corrections", data=body, follow_redirects=False).status_code


def _answer(staff: TestClient, action: str, text: str) -> int:
    queue = staff.get("/healthcode/corrections")
    found = re.search(r"/healthcode/corrections/(\d+)/answer", queue.text)
    token = re.search(r'name="csrf_token" value="([^"]+)"', queue.text)
    assert found and token, queue.text[:800]
    body = {"csrf_token": token.group(1), "action": action, "answer": text}
    return staff.post(
        f"/healthcode/corrections/{found.group(1)}/answer", data=body, follow_redirects=False
    ).status_code


def test_an_upheld_correction_turns_the_code_green(
    client: TestClient, world, factory, settings: Settings
) -> None:  # type: ignore[no-untyped-def]
    _red(factory, settings)
    register(client)
    sign_in(client, WANG)
    assert "红码" in client.get("/m/code").text and "信息有误" in client.get("/m/code").text
    assert _file(client, "HS00000042") == 303
    assert _file(client, "HS00000042") == 409  # one open request per reason
    mine = client.get("/m/corrections")
    assert "处理中" in mine.text and "答复期限" in mine.text
    other = TestClient(client.app)
    assert login(other, "reviewer_a") == 303  # GAJ: not its record
    assert "HS00000042" not in other.get("/healthcode/corrections").text
    staff = _health_officer(client, world, factory)
    assert _answer(staff, "uphold", "样本信息录入错误,已更正") == 303
    assert "绿码" in client.get("/m/code").text
    assert "纠错成立" in client.get("/m/corrections").text


def test_a_rejected_correction_keeps_the_code_with_the_answer(
    client: TestClient, world, factory, settings: Settings
) -> None:  # type: ignore[no-untyped-def]
    _red(factory, settings)
    register(client)
    sign_in(client, WANG)
    assert _file(client, "HS00000042") == 303
    staff = _health_officer(client, world, factory)
    assert _answer(staff, "reject", "") == 422  # an answer is owed
    assert _answer(staff, "reject", "经复核,检测结果无误") == 303
    assert "红码" in client.get("/m/code").text and "经复核,检测结果无误" in client.get("/m/corrections").text


def test_bad_requests_are_named(client: TestClient, factory, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    _red(factory, settings)
    register(client)
    sign_in(client, WANG)
    assert _file(client, "HS-NOT-MINE") == 404
    assert _file(client, "HS00000042", statement="错") == 422
