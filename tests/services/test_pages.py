"""The services as people use them: a citizen applies on the phone pages (previews the fetched data masked,
consents, uploads the one remaining material, submits); the caseworker reads the data on the case page,
asks civil affairs, whose answer comes back, and approves; the ledger rises; the citizen's "who used my
data" lists exactly the accesses the case made, and nobody else sees them. Bad input answers in words."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.core.test_identity import login
from tests.factories import World
from tests.public.helpers import NEIGHBOUR, WANG, csrf, register, sign_in
from tests.services.helpers import PDF, SERVICE, build_city
from zhongtai.core.audit import AuditEvent
from zhongtai.core.pseudonym import person_subject
from zhongtai.core.settings import Settings
from zhongtai.services import ledger


def _staff(client: TestClient, who: str) -> TestClient:
    staff = TestClient(client.app)
    assert login(staff, who) == 303
    return staff


def _form_token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found
    return found.group(1)


def test_a_citizen_applies_and_a_caseworker_approves_with_civil_affairs(
    client: TestClient, factory: sessionmaker[Session], world: World, settings: Settings
) -> None:
    build_city(factory, world, settings)
    register(client)
    sign_in(client, WANG)
    assert "公共租赁住房保障资格审核" in client.get("/m/services").text
    started = client.post(
        f"/m/services/{SERVICE}", data={"csrf_token": csrf(client, "/m/services")}, follow_redirects=False
    )
    assert started.status_code == 303
    case_url = started.headers["location"]
    number = case_url.rsplit("/", 1)[1]
    preview = client.get(case_url).text
    assert "将调取的数据" in preview and "王**" in preview and WANG.name not in preview
    token = _form_token(preview)
    assert (
        client.post(f"{case_url}/consent", data={"csrf_token": token}, follow_redirects=False).status_code
        == 303
    )
    refused = client.post(f"{case_url}/submit", data={"csrf_token": token})
    assert refused.status_code == 409 and "还需上传" in refused.text
    material = re.search(r'name="material" value="(\d+)"', client.get(case_url).text)
    assert material
    bad = client.post(
        f"{case_url}/upload",
        data={"csrf_token": token, "material": material.group(1)},
        files={"file": ("收入证明.pdf", b"not a pdf at all", "application/pdf")},
    )
    assert bad.status_code == 422 and "不是 PDF 文件" in bad.text
    good = client.post(
        f"{case_url}/upload",
        data={"csrf_token": token, "material": material.group(1)},
        files={"file": ("收入证明.pdf", PDF, "application/pdf")},
        follow_redirects=False,
    )
    assert good.status_code == 303
    assert (
        client.post(f"{case_url}/submit", data={"csrf_token": token}, follow_redirects=False).status_code
        == 303
    )

    other = _staff(client, "caseworker_g")  # another department's caseworker: 403, and not in their list
    assert other.get(f"/services/cases/{number}").status_code == 403
    assert number not in other.get("/services/cases").text

    worker = _staff(client, "caseworker_z")
    assert number in worker.get("/services/cases").text
    page = worker.get(f"/services/cases/{number}").text
    for action, body in (
        ("accept", {}),
        ("ask", {"department": "MZJ", "question": "请核实是否低保对象", "days": "3"}),
    ):
        answer = worker.post(
            f"/services/cases/{number}/{action}",
            data={"csrf_token": _form_token(page), **body},
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text[:500]
        page = worker.get(f"/services/cases/{number}").text
    assert "李*" in page  # the fetched data (the spouse in the marriage record), read under the case's grant

    civil = _staff(client, "caseworker_m")
    tasks = civil.get("/services/cases").text
    assert number in tasks
    task_page = civil.get(f"/services/cases/{number}").text
    task = re.search(r"/services/tasks/(\d+)/answer", task_page)
    assert task and "李*" not in task_page  # a co-handling department sees the question, not the data
    answered = civil.post(
        f"/services/tasks/{task.group(1)}/answer",
        data={"csrf_token": _form_token(task_page), "answer": "经核实,非低保对象", "agrees": "yes"},
        follow_redirects=False,
    )
    assert answered.status_code == 303

    with factory() as session:
        before = ledger.totals(session).submissions
    page = worker.get(f"/services/cases/{number}").text
    decided = worker.post(
        f"/services/cases/{number}/decide",
        data={"csrf_token": _form_token(page), "decision": "approve", "reason": "符合保障条件"},
        follow_redirects=False,
    )
    assert decided.status_code == 303
    with factory() as session:
        assert ledger.totals(session).submissions == before + 2  # the register and the marriage record
    assert "符合保障条件" in client.get(f"{case_url}/document").text
    assert "减少材料提交" in worker.get("/services/ledger").text

    subject = person_subject(settings, WANG.id_number)
    with factory() as session:
        accesses = session.scalars(select(AuditEvent.id).where(AuditEvent.subject == subject)).all()
        kinds = set(session.scalars(select(AuditEvent.event_type).where(AuditEvent.subject == subject)))
    assert {"services.case.previewed", "services.case.fetched", "services.case.viewed"} <= kinds
    mine = client.get("/m/my-data").text
    listed = re.findall(r'action="/m/my-data/(\d+)/objection"', mine)
    assert sorted(int(i) for i in listed) == sorted(accesses)
    assert "办件·调取材料数据" in mine

    client.cookies.clear()
    sign_in(client, NEIGHBOUR)
    assert not re.findall(r'action="/m/my-data/(\d+)/objection"', client.get("/m/my-data").text)
    assert client.get(case_url).status_code == 404  # not the neighbour's case


def test_applying_for_someone_outside_the_household_is_refused(
    client: TestClient, factory: sessionmaker[Session], world: World, settings: Settings
) -> None:
    build_city(factory, world, settings)
    register(client)
    sign_in(client, WANG)
    answer = client.post(
        f"/m/services/{SERVICE}", data={"csrf_token": csrf(client, "/m/services"), "member": "999"}
    )
    assert answer.status_code == 404 and "家庭成员" in answer.text
