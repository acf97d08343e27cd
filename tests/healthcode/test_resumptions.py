"""Resumption applications and the enterprise's code: an enterprise signed in applies with its site, measures
and an employee list checked against the population register; bad lists are refused naming the line; the
regulator decides (another department may not); the code follows — yellow while pending, green once
approved, red when refused or a confirmed case is among the employees; employees only as counts."""

from __future__ import annotations

import io
import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.core.test_identity import login
from tests.factories import World, add_department
from tests.public.helpers import NEIGHBOUR, WANG, WANG_CHILD, Firm, csrf, last_code, register
from zhongtai.core.database import transaction
from zhongtai.core.errors import Forbidden, Invalid
from zhongtai.core.identity.models import Role
from zhongtai.core.identity.service import create_user
from zhongtai.core.principal import SYSTEM, Principal
from zhongtai.core.pseudonym import entity_subject, person_subject
from zhongtai.core.settings import Settings
from zhongtai.core.types import utcnow
from zhongtai.healthcode import colouring, resumptions
from zhongtai.healthcode.rules import Colour, Evidence, Fact

FIRM = Firm("91340100000000001G", "王小明", WANG.id_number, WANG.mobile)
STAFF = [WANG, WANG_CHILD, NEIGHBOUR]


def _csv(rows: list[tuple[str, str]]) -> bytes:
    return ("姓名,身份证号\n" + "".join(f"{n},{i}\n" for n, i in rows)).encode("utf-8")


def test_bad_employee_lists_are_refused_naming_the_line() -> None:
    good = _csv([(p.name, p.id_number) for p in STAFF])
    assert [e.line for e in resumptions.read_employees("员工.csv", good)] == [2, 3, 4]
    cases = [
        ("员工.csv", _csv([(WANG.name, WANG.id_number), (WANG.name, WANG.id_number)]), "line 3"),
        ("员工.csv", _csv([(WANG.name, "340104199001010001")]), "line 2"),
        ("员工.csv", b"name,id\nx,y\n", "姓名"),
        ("员工.xlsx", b"not a zip", "XLSX"),
        ("员工.exe", good, "CSV or XLSX"),
    ]
    for name, data, said in cases:
        try:
            resumptions.read_employees(name, data)
        except Invalid as exc:
            assert said in str(exc), (name, str(exc))
        else:
            raise AssertionError(name)


def test_an_xlsx_list_is_read_too() -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["序号", "姓名", "身份证号"])
    sheet.append([1, WANG.name, WANG.id_number])
    out = io.BytesIO()
    book.save(out)
    assert [e.id_number for e in resumptions.read_employees("员工.xlsx", out.getvalue())] == [WANG.id_number]


def _regulator(factory: sessionmaker[Session]) -> Principal:
    with transaction(factory) as session:
        add_department(session, "SCJGJ", "市场监督管理局")
        create_user(
            session,
            SYSTEM,
            username="scjgj.officer",
            display_name="市场监管",
            department_code="SCJGJ",
            roles=[Role.OFFICER],
            password="correct horse battery staple",
        )
    return Principal(None, "scjgj.officer", "scjgj.officer", None, "SCJGJ", frozenset({Role.OFFICER}))


def test_apply_decide_and_the_code_follows(
    client: TestClient, factory: sessionmaker[Session], world: World, settings: Settings
) -> None:
    regulator = _regulator(factory)
    register(client).firms.append(FIRM)
    status = client.post(
        "/m/login/enterprise",
        data={
            "csrf_token": csrf(client, "/m/login/enterprise"),
            "credit_code": FIRM.credit_code,
            "representative": FIRM.representative,
            "representative_id": FIRM.representative_id,
            "mobile": FIRM.mobile,
        },
    )
    pending = re.search(r'name="pending" value="([^"]+)"', status.text)
    assert pending
    token = csrf(client, "/m/login/enterprise")
    client.post(
        "/m/login/code", data={"csrf_token": token, "pending": pending.group(1), "code": last_code(client)}
    )
    assert "尚未申报复工" in client.get("/m/enterprise-code").text  # yellow: no application yet
    token = csrf(client, "/m/resumption")
    strangers = _csv([(WANG.name, WANG.id_number), ("李冒名", NEIGHBOUR.id_number)])
    refused = client.post(
        "/m/resumption",
        data={
            "csrf_token": token,
            "site": "蜀山区幸福路 9 号",
            "measures": "每日两次消毒,员工每日测温并登记",
        },
        files={"employees": ("员工.csv", strangers, "text/csv")},
    )
    assert refused.status_code == 422 and "第 3 行" in refused.text
    applied = client.post(
        "/m/resumption",
        data={
            "csrf_token": token,
            "site": "蜀山区幸福路 9 号",
            "measures": "每日两次消毒,员工每日测温并登记",
        },
        files={"employees": ("员工.csv", _csv([(p.name, p.id_number) for p in STAFF]), "text/csv")},
        follow_redirects=False,
    )
    assert applied.status_code == 303
    page = client.get("/m/resumption").text
    assert "审核中" in page and WANG.name not in page and "&lt;10" in page  # counts only, suppressed
    subject = entity_subject(FIRM.credit_code)
    with transaction(factory) as session:
        assert resumptions.enterprise_colour(session, subject)[0] is Colour.YELLOW
        number = resumptions.latest(session, subject).number  # type: ignore[union-attr]
        clerk = Principal(None, "gaj.officer", "gaj.officer", None, "GAJ", frozenset({Role.OFFICER}))
        try:
            resumptions.decide(session, settings, clerk, number, "approve", "", utcnow())
        except Forbidden:
            pass
        else:
            raise AssertionError("another department decided")
        resumptions.decide(session, settings, regulator, number, "approve", "", utcnow())
        assert resumptions.enterprise_colour(session, subject) == (Colour.GREEN, ["approved"])
        positive = Evidence(Fact.POSITIVE_TEST, utcnow() - timedelta(hours=1), "WJW", "HS9")
        colouring.record_evidence(session, [(person_subject(settings, NEIGHBOUR.id_number), positive)])
        colouring.recompute(session, utcnow(), [person_subject(settings, NEIGHBOUR.id_number)])
        assert resumptions.enterprise_colour(session, subject)[0] is Colour.RED
    staff = TestClient(client.app)
    assert login(staff, "scjgj.officer", "correct horse battery staple") == 303
    assert number in staff.get("/healthcode/resumptions").text
    assert "员工中有确诊病例" in client.get("/m/enterprise-code").text
