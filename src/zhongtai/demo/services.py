"""The demo city's services (一网通办): five service items whose materials the platform fetches (saved by
their departments, reviewed by the bureau — one mapping left waiting for review), and, once the registers
are governed, licences issued and cases in every state: housing-security review finished with five of six
materials fetched, another waiting on civil affairs' co-handling answer, a notary application returned, a
newborn's registration whose birth certificate the source lacks (an upload, and a data-quality problem for
the health commission), and an enterprise's food-licence change using its electronic business licence."""

from __future__ import annotations

import contextlib
import threading
import time
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from zhongtai.catalog.models import Resource
from zhongtai.core.database import transaction
from zhongtai.core.principal import platform_actor
from zhongtai.core.pseudonym import entity_subject, person_subject
from zhongtai.core.settings import Settings
from zhongtai.core.types import utcnow
from zhongtai.core.uploads import CheckedFile
from zhongtai.demo.healthcode import Resident, residents
from zhongtai.demo.sharing import principals
from zhongtai.demo.sources import People, demo_enterprise, demo_enterprises, insured_rows
from zhongtai.healthcode import resumptions
from zhongtai.licences import service as licences
from zhongtai.services import cases, handling, service
from zhongtai.services.models import (
    ApplicantKind,
    Case,
    CaseMaterial,
    Material,
    MaterialOutcome,
    MaterialSource,
    Review,
)
from zhongtai.services.schemas import Decision, ItemWrite, ReviewWrite, TaskAnswer, TaskCreate
from zhongtai.sharing import casegrants

DEMO = platform_actor("demo", "demo builder")
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"  # a (tiny) scanned document

ID_CARD = ["姓名", "公民身份号码", "性别", "出生日期"]


def _data(name: str, resource: str, items: list[str], key: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "source": "data", "resource": resource, "items": items, "key_item": key, **extra}


def _upload(name: str) -> dict[str, Any]:
    return {"name": name, "source": "upload"}


def item_specs(codes: dict[str, str]) -> list[dict[str, Any]]:
    """The service items, naming resources by their catalog codes (``codes``: resource name → code)."""
    population, marriage = codes["常住人口基本信息"], codes["结婚登记信息"]
    applicant = {"key_from": "applicant"}
    return [
        {
            "code": "ZJJ-GZF-001",
            "name": "公共租赁住房保障资格审核",
            "department": "ZJJ",
            "applicant_kind": "person",
            "legal_basis": "《公共租赁住房管理办法》(住房和城乡建设部令第11号)第七条;"
            "《庐州市公共租赁住房管理办法》",
            "time_limit_days": 20,
            "co_departments": ["MZJ", "RSJ"],
            "trips": 3,
            "description": "申请家庭住房、收入、婚姻等情况由部门协同核验,申请人只需上传家庭收入证明。",
            "materials": [
                _data(
                    "居民身份证", population, ID_CARD, "公民身份号码", capability="person.by-id", **applicant
                ),
                _data(
                    "居民户口簿",
                    population,
                    ["姓名", "户号", "户籍地址", "行政区划代码"],
                    "公民身份号码",
                    **applicant,
                ),
                _data(
                    "婚姻状况证明",
                    marriage,
                    ["姓名", "配偶姓名", "登记日期"],
                    "公民身份号码",
                    none_is_answer=True,
                    **applicant,
                ),
                _data(
                    "不动产登记信息(住房情况)",
                    codes["不动产登记信息"],
                    ["不动产权证号", "房屋坐落", "建筑面积", "规划用途"],
                    "权利人证件号码",
                    none_is_answer=True,
                    **applicant,
                ),
                _data(
                    "社会保险参保证明",
                    codes["社会保险参保信息"],
                    ["单位名称", "参保险种", "参保状态"],
                    "公民身份号码",
                    none_is_answer=True,  # no record: not insured in the city, itself an answer
                    **applicant,
                ),
                _upload("家庭收入证明"),
            ],
        },
        {
            "code": "SFJ-GZY-001",
            "name": "公证员执业办理",
            "department": "SFJ",
            "applicant_kind": "person",
            "legal_basis": "《中华人民共和国公证法》第十八条;《公证员执业管理办法》(司法部令第102号)",
            "time_limit_days": 20,
            "co_departments": ["GAJ"],
            "trips": 2,
            "materials": [
                _data("居民身份证", population, ID_CARD, "公民身份号码", **applicant),
                _data(
                    "公证机构社会保险参保证明",
                    codes["社会保险参保信息"],
                    ["单位名称", "参保状态"],
                    "公民身份号码",
                    **applicant,
                ),
                _upload("法律职业资格证书"),
                _upload("学历学位证书"),
                _upload("公证机构推荐书"),
            ],
        },
        {
            "code": "ZRZYJ-BDC-002",
            "name": "不动产转移登记(二手房买卖)",
            "department": "ZRZYJ",
            "applicant_kind": "person",
            "legal_basis": "《不动产登记暂行条例》第十四条;《不动产登记暂行条例实施细则》第三十八条",
            "time_limit_days": 5,
            "co_departments": ["SWJ"],
            "trips": 2,
            "materials": [
                _data("居民身份证", population, ID_CARD, "公民身份号码", **applicant),
                _data(
                    "婚姻状况证明",
                    marriage,
                    ["姓名", "配偶姓名", "登记日期"],
                    "公民身份号码",
                    none_is_answer=True,
                    **applicant,
                ),
                _data(
                    "不动产权属证书",
                    codes["不动产登记信息"],
                    ["不动产单元号", "不动产权证号", "房屋坐落", "建筑面积"],
                    "不动产权证号",
                    key_from="field",
                    field_label="不动产权证号",
                ),
                _upload("契税完税凭证"),
                _upload("房屋买卖合同"),
            ],
        },
        {
            "code": "GAJ-CS-001",
            "name": "新生儿出生“一件事”(出生登记、户口登记、医保参保)",
            "department": "GAJ",
            "applicant_kind": "person",
            "legal_basis": "《中华人民共和国户口登记条例》第七条;"
            "《国务院办公厅关于加快推进“一件事一次办”的指导意见》",
            "time_limit_days": 5,
            "co_departments": ["WJW", "YBJ"],
            "trips": 4,
            "materials": [
                _data(
                    "出生医学证明",
                    codes["出生医学证明信息"],
                    ["姓名", "性别", "出生日期", "证照编号"],
                    "证照编号",
                    key_from="field",
                    field_label="出生医学证明编号",
                ),
                _data("父(母)居民身份证", population, ID_CARD, "公民身份号码", **applicant),
                _data("居民户口簿", population, ["姓名", "户号", "户籍地址"], "公民身份号码", **applicant),
                {"name": "结婚证", "source": "licence", "licence_type": "结婚证"},
                _data(
                    "医疗保险参保登记",
                    codes["医疗保险参保信息"],
                    ["姓名", "参保险种", "参保状态"],
                    "公民身份号码",
                    none_is_answer=True,
                    **applicant,
                ),
            ],
        },
        {
            "code": "SCJGJ-SPJY-003",
            "name": "食品经营许可证变更",
            "department": "SCJGJ",
            "applicant_kind": "enterprise",
            "legal_basis": "《食品经营许可和备案管理办法》(国家市场监督管理总局令第78号)第三十条",
            "time_limit_days": 10,
            "co_departments": ["WJW"],
            "trips": 2,
            "materials": [
                {"name": "营业执照", "source": "licence", "licence_type": "营业执照"},
                _data(
                    "企业登记信息",
                    codes["企业登记基本信息"],
                    ["企业名称", "法定代表人", "住所", "经营范围"],
                    "统一社会信用代码",
                    **applicant,
                ),
                _data(
                    "食品经营许可证",
                    codes["食品经营许可证信息"],
                    ["许可证号", "许可范围", "有效期至"],
                    "统一社会信用代码",
                    **applicant,
                ),
                _upload("变更申请书"),
            ],
        },
    ]


PENDING = ("GAJ-CS-001", 5)  # left for the bureau's review queue (medical-insurance mapping)
OFFICERS = {
    "ZJJ": "zjj.officer",
    "SFJ": "sfj.officer",
    "ZRZYJ": "zrzyj.officer",
    "GAJ": "gaj.officer",
    "SCJGJ": "scjgj.officer",
}


def _codes(session: Session) -> dict[str, str]:
    rows = session.execute(select(Resource.name, Resource.code).order_by(Resource.id))
    found: dict[str, str] = {}
    for name, code in rows:
        found.setdefault(name, code)
    return found


def build_demo_services(factory: sessionmaker[Session], settings: Settings) -> int:
    """Save the demo's service items (idempotent) and review their mappings; returns how many exist."""
    with transaction(factory) as session:
        if service.catalog(session):
            return len(service.catalog(session))
        users = principals(session, settings, ("reviewer", *OFFICERS.values()))
        for spec in item_specs(_codes(session)):
            officer = users[OFFICERS[spec["department"]]]
            item = service.save_item(session, officer, ItemWrite.model_validate(spec))
            for material in session.scalars(select(Material).where(Material.item_id == item.id)):
                if material.review is Review.PENDING and (item.code, material.position) != PENDING:
                    decision = ReviewWrite(decision=Review.APPROVED, comment="映射与目录一致")
                    service.review_material(
                        session, users["reviewer"], item.code, material.position, decision
                    )
        return len(service.catalog(session))


def _applicant(settings: Settings, resident: Resident) -> cases.Applicant:
    subject = person_subject(settings, resident.id_number)
    return cases.Applicant(ApplicantKind.PERSON, subject, resident.name, resident.id_number, subject)


def _ready(session: Session, resident: Resident) -> bool:
    """Whether the registers the housing review must find this resident in are governed."""
    item = service.get_item(session, "ZJJ-GZF-001")
    for material in session.scalars(select(Material).where(Material.item_id == item.id)):
        if material.source is MaterialSource.DATA and not material.none_is_answer:
            assert material.resource_code and material.key_item
            key = (material.key_item, resident.id_number)
            if not casegrants.preview(session, material.resource_code, list(material.items), key).rows:
                return False
    return True


def _upload_needed(session: Session, settings: Settings, case: Case, now: datetime) -> None:
    for entry in session.scalars(select(CaseMaterial).where(CaseMaterial.case_id == case.id)):
        if entry.outcome is MaterialOutcome.NEEDED:
            cases.upload(session, settings, case, entry.material_id, "扫描件.pdf", PDF, now)


def _filed(
    session: Session, settings: Settings, applicant: cases.Applicant, code: str, fields: dict[str, str]
) -> Case:
    now = utcnow()
    case = cases.start(session, settings, applicant, code, fields, now)
    cases.preview(session, settings, case, now)
    cases.consent(session, settings, case, now)
    _upload_needed(session, settings, case, now)
    cases.submit(session, case, now)
    return case


def build_demo_cases(factory: sessionmaker[Session], settings: Settings, seed: int, persons: int) -> bool:
    """Licences and the demo's cases, once the registers are governed (False: not yet). Once only."""
    found = residents(seed, persons)
    with transaction(factory) as session:
        if session.scalar(select(func.count()).select_from(Case)):
            return True
        licences.sync(session, settings, DEMO)
        ready = [r for r in found if _ready(session, r)]
    if len(ready) < 3:
        return False
    with transaction(factory) as session:
        staff = principals(session, settings, ("zjj.caseworker", "mzj.caseworker", "sfj.caseworker"))
        now = utcnow()
        done = _filed(session, settings, _applicant(settings, ready[0]), "ZJJ-GZF-001", {})
        handling.accept(session, staff["zjj.caseworker"], done.number, now)
        handling.fetched_data(session, settings, staff["zjj.caseworker"], done)
        question = TaskCreate(
            department="MZJ", question="请核实申请人是否为最低生活保障对象、婚姻状况是否一致", days=3
        )
        task = handling.ask(session, staff["zjj.caseworker"], done.number, question, now)
        handling.answer(
            session,
            staff["mzj.caseworker"],
            task.id,
            TaskAnswer(agrees=True, answer="经核实,婚姻状况一致,非低保对象"),
            now,
        )
        handling.decide(
            session,
            settings,
            staff["zjj.caseworker"],
            done.number,
            Decision(action="approve", reason="符合公共租赁住房保障条件,准予轮候"),
            now,
        )
        waiting = _filed(session, settings, _applicant(settings, ready[1]), "ZJJ-GZF-001", {})
        handling.accept(session, staff["zjj.caseworker"], waiting.number, now)
        asked = TaskCreate(department="MZJ", question="请核实申请家庭是否享受社会救助", days=3)
        handling.ask(session, staff["zjj.caseworker"], waiting.number, asked, now)
        returned = _filed(session, settings, _applicant(settings, ready[2]), "SFJ-GZY-001", {})
        handling.accept(session, staff["sfj.caseworker"], returned.number, now)
        reason = "公证机构推荐书未加盖公章,请补正后重新提交"
        handling.decide(
            session,
            settings,
            staff["sfj.caseworker"],
            returned.number,
            Decision(action="return", reason=reason),
            now,
        )
        _filed(
            session,
            settings,
            _applicant(settings, ready[0]),
            "GAJ-CS-001",
            {"出生医学证明编号": "R340100202612010001"},
        )
        _enterprise_case(session, settings, seed, persons)
        _resumptions(session, settings, seed, persons)
    return True


def _enterprise_case(session: Session, settings: Settings, seed: int, persons: int) -> None:
    """The demo's enterprise (the one printed for signing in) applies to change its food licence, with
    its electronic business licence."""
    found = demo_enterprise(seed, persons)
    if found is None or licences.holder_name(session, entity_subject(found.credit_code)) is None:
        return
    subject = entity_subject(found.credit_code)
    applicant = cases.Applicant(ApplicantKind.ENTERPRISE, subject, found.name, found.credit_code, subject)
    _filed(session, settings, applicant, "SCJGJ-SPJY-003", {})


# What the regulator does with each demo enterprise's application: the printed one is returned (so whoever
# tries the demo can apply again, importing its staff from social insurance), one approved, one pending, one
# approved and then suspended (red).
RESUMED: list[tuple[list[tuple[str, str]], str]] = [
    ([("return", "防控措施未写明员工返岗前核酸检测安排,请补充")], resumptions.FROM_UPLOAD),
    ([("approve", "")], resumptions.FROM_SOCIAL_INSURANCE),
    ([], resumptions.FROM_SOCIAL_INSURANCE),
    (
        [("approve", ""), ("suspend", "抽查发现未落实进出人员测温扫码,暂停复工整改")],
        resumptions.FROM_SOCIAL_INSURANCE,
    ),
]
SITES = [
    ("庐州市蜀山区黄山路 18 号", "稻香村街道"),
    ("庐州市包河区徽州大道 66 号", "芜湖路街道"),
    ("庐州市瑶海区长江东路 9 号", "明光路街道"),
    ("庐州市庐阳区阜南路 120 号", "杏林街道"),
]


def _resumptions(session: Session, settings: Settings, seed: int, persons: int) -> None:
    """Four enterprises apply to resume work: one returned (an uploaded list), one approved, one pending, one
    suspended — these three with their staff as the social insurance base lists them."""
    people = People(seed, persons)
    regulator = principals(session, settings, ("scjgj.officer",))["scjgj.officer"]
    now = utcnow()
    insured = list(insured_rows(people))
    taken: set[str] = set()  # a person insured by two of them is listed by the first only
    for index, firm in enumerate(demo_enterprises(seed, persons, len(RESUMED))):
        actions, source = RESUMED[index]
        if source == resumptions.FROM_SOCIAL_INSURANCE:
            staff = [p for r, p in insured if r["dwmc"] == firm.name and r["zt"] == "正常参保"]
        else:
            staff = [people.person(n) for n in range(30, 42)]
        unique = [p for p in {p.id_number: p for p in staff}.values() if p.id_number not in taken]
        taken.update(p.id_number for p in unique)
        listed = [resumptions.Listed(line, p.id_number, p.name) for line, p in enumerate(unique, start=2)]
        who = (entity_subject(firm.credit_code), firm.name)
        measures = "入口测温扫码,每日两次消毒,员工分时段就餐,返岗前核酸检测"
        site, street = SITES[index]
        application = resumptions.apply(
            session, settings, who, site, street, measures, listed, now, source, _plan(index)
        )
        for action, reason in actions:
            resumptions.decide(session, settings, regulator, application.number, action, reason, now)


def _plan(index: int) -> list[tuple[CheckedFile, bytes]]:
    """A prevention plan as a (tiny, made-up) PDF."""
    text = f"%PDF-1.4\n% demo prevention plan {index}\n%%EOF\n".encode()
    return resumptions.check_attachments([("疫情防控方案.pdf", text)])


def follow(
    factory: sessionmaker[Session], settings: Settings, seed: int, persons: int, every: float = 10
) -> None:
    """Wait for the registers to be governed (the worker gathers them), then build the cases."""
    for _ in range(360):
        with contextlib.suppress(Exception):
            if build_demo_cases(factory, settings, seed, persons):
                return
        time.sleep(every)


def start_services(
    factory: sessionmaker[Session], settings: Settings, seed: int, persons: int
) -> threading.Thread:
    worker = threading.Thread(
        target=follow, args=(factory, settings, seed, persons), name="demo-services", daemon=True
    )
    worker.start()
    return worker
