"""Resumption applications and the enterprise's code: an enterprise signed in applies with its site, measures
and an employee list checked against the population register; bad lists are refused naming the line; the
regulator decides (another department may not); the code follows — yellow while pending, green once
approved, red when refused or a confirmed case is among the employees; employees only as counts."""

from __future__ import annotations

import io
import re
from datetime import date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.core.test_identity import login
from tests.factories import World, add_department
from tests.public.helpers import (
    NEIGHBOUR,
    WANG,
    WANG_CHILD,
    FakeRegister,
    Firm,
    csrf,
    last_code,
    register,
    sign_in,
)
from tests.services.helpers import PDF
from zhongtai.core.database import transaction
from zhongtai.core.errors import Conflict, Forbidden, Invalid, ZhongtaiError
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


def _sign_in(client: TestClient) -> FakeRegister:
    fake = register(client)
    fake.firms.append(FIRM)
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
    return fake


def test_apply_decide_and_the_code_follows(
    client: TestClient, factory: sessionmaker[Session], world: World, settings: Settings
) -> None:
    regulator = _regulator(factory)
    _sign_in(client)
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


MEASURES = "每日两次消毒,员工每日测温并登记"


def test_employees_imported_from_social_insurance_with_attachments(
    client: TestClient, factory: sessionmaker[Session], settings: Settings
) -> None:
    """The enterprise's insured employees come from the social insurance base through the platform; each
    listed person sees it on "who used my data"; attachments are checked by content and kept for the
    regulator; a second application while one is pending is refused."""
    _regulator(factory)
    fake = _sign_in(client)
    token = csrf(client, "/m/resumption")
    form = {"csrf_token": token, "site": "蜀山区幸福路 9 号", "street": "稻香村街道", "measures": MEASURES}
    none_insured = client.post("/m/resumption", data={**form, "source": "social_insurance"})
    assert none_insured.status_code == 422 and "社会保险" in none_insured.text
    fake.staff[FIRM.credit_code] = [*STAFF, WANG]  # the base lists Wang twice (two insurance kinds)
    lying = client.post(
        "/m/resumption",
        data={**form, "source": "social_insurance"},
        files=[("attachments", ("防控方案.pdf", b"MZ\x90\x00 not a pdf", "application/pdf"))],
    )
    assert lying.status_code == 422 and "防控方案.pdf" in lying.text
    applied = client.post(
        "/m/resumption",
        data={**form, "source": "social_insurance"},
        files=[("attachments", ("防控方案.pdf", PDF, "application/pdf"))],
        follow_redirects=False,
    )
    assert applied.status_code == 303
    again = client.post("/m/resumption", data={**form, "source": "social_insurance"})
    assert again.status_code == 409
    subject = entity_subject(FIRM.credit_code)
    with transaction(factory) as session:
        application = resumptions.latest(session, subject)
        assert application is not None and application.source == "social_insurance"
        assert application.district == "340104" and application.street == "稻香村街道"
        assert len(resumptions.employees_of(session, application)) == 3  # Wang once
        assert [a["name"] for a in application.attachments] == ["防控方案.pdf"]
        sha = application.attachments[0]["sha256"]
        number = application.number
    staff = TestClient(client.app)
    assert login(staff, "scjgj.officer", "correct horse battery staple") == 303
    assert staff.get(f"/healthcode/resumptions/{number}/files/{sha}").content == PDF
    assert staff.get(f"/healthcode/resumptions/{number}/files/{'0' * 64}").status_code == 404
    sign_in(client, NEIGHBOUR)
    assert number in client.get("/m/my-data").text  # the employee sees that the enterprise listed them


def test_suspension_turns_the_code_red_and_decisions_stay_in_their_area(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    """A regulator may suspend a resumed enterprise (red) and reinstate it; a department deciding another
    department's application is refused (403); a decision out of order is a conflict; with routing by
    district, an application goes to the government of the district its site names."""
    regulator = _regulator(factory)
    subject = entity_subject(FIRM.credit_code)
    listed = [resumptions.Listed(2, WANG.id_number, WANG.name)]
    with transaction(factory) as session:
        application = resumptions.apply(
            session, settings, (subject, "小明商贸"), "蜀山区幸福路 9 号", "", MEASURES, listed, utcnow()
        )
        number = application.number
        assert application.regulator == "SCJGJ"
        for action, reason in (("suspend", "复工后未落实测温"), ("approve", ""), ("suspend", "x")):
            try:
                resumptions.decide(session, settings, regulator, number, action, reason, utcnow())
            except (Conflict, Invalid) as exc:
                assert action == "suspend", exc
        assert resumptions.enterprise_colour(session, subject)[0] is Colour.GREEN
        resumptions.decide(session, settings, regulator, number, "suspend", "复工后未落实测温", utcnow())
        assert resumptions.enterprise_colour(session, subject) == (Colour.RED, ["suspended"])
        resumptions.decide(session, settings, regulator, number, "reinstate", "整改到位", utcnow())
        assert resumptions.enterprise_colour(session, subject)[0] is Colour.GREEN
    by_district = settings.model_copy(update={"healthcode_regulator_by_district": True})
    other = entity_subject("91340100000000002E")
    with transaction(factory) as session:
        add_department(session, "SSQ", "蜀山区人民政府", kind="district")
        add_department(session, "YHQ", "瑶海区人民政府", kind="district")
        routed = resumptions.apply(
            session, by_district, (other, "乙公司"), "庐州市蜀山区黄山路 1 号", "", MEASURES, [], utcnow()
        )
        assert (routed.regulator, routed.district) == ("SSQ", "340104")
        yaohai = Principal(None, "yhq.officer", "yhq.officer", None, "YHQ", frozenset({Role.OFFICER}))
        shushan = Principal(None, "ssq.officer", "ssq.officer", None, "SSQ", frozenset({Role.OFFICER}))
        try:
            resumptions.decide(session, by_district, yaohai, routed.number, "approve", "", utcnow())
        except Forbidden as exc:
            assert exc.code == "outside_area"
        else:
            raise AssertionError("a district decided another district's application")
        assert resumptions.queue(session, by_district, yaohai) == []
        resumptions.decide(session, by_district, shushan, routed.number, "approve", "", utcnow())


def test_the_deadline_is_three_working_days(factory: sessionmaker[Session], settings: Settings) -> None:
    friday = datetime(2026, 12, 4, 9, 0, tzinfo=settings.zone)
    with transaction(factory) as session:
        application = resumptions.apply(
            session,
            settings,
            (entity_subject(FIRM.credit_code), "小明商贸"),
            "蜀山区幸福路 9 号",
            "",
            MEASURES,
            [resumptions.Listed(2, WANG.id_number, WANG.name)],
            friday,
        )
        assert application.due_on == date(2026, 12, 9)  # Mon, Tue, Wed


def test_attachments_are_what_they_say_and_few_and_small() -> None:
    assert [c.name for c, _ in resumptions.check_attachments([("方案.pdf", PDF)])] == ["方案.pdf"]
    cases = [
        ([("方案.pdf", PDF)] * 4, "at most 3"),
        ([("方案.pdf", PDF + b"0" * resumptions.MAX_ATTACHMENT_BYTES)], "5 MB"),
        ([("照片.png", PDF)], "PNG"),
        ([("方案.docx", PDF)], "PDF, JPEG or PNG"),
    ]
    for files, said in cases:
        with pytest.raises(ZhongtaiError) as refused:
            resumptions.check_attachments(files)
        assert said in str(refused.value) and refused.value.status_code in (413, 422), said
