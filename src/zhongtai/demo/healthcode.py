"""The demo city's health code: the platform's keys; the health commission's test-results capability its
health-code app pulls positives through (two residents tested positive: red); the gate capability for
departments' gate apps; residents who sign in by real name (logins printed, one-time codes on the demo
inbox page), one household of three for family codes; places approved by Shushan district with posters,
one application waiting; a compound's gate whose simulated guard scans a resident's code every few
seconds (one with a fever: yellow, with that reason)."""

from __future__ import annotations

import contextlib
import itertools
import json
import random
import threading
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from zhongtai.capabilities import service as capabilities
from zhongtai.capabilities.models import Capability
from zhongtai.capabilities.schemas import CapabilityCreate, SubscriptionCreate
from zhongtai.catalog.models import Resource
from zhongtai.core.database import transaction
from zhongtai.core.principal import Principal, platform_actor
from zhongtai.core.pseudonym import person_subject
from zhongtai.core.settings import Settings
from zhongtai.core.types import CITY_ZONE, utcnow
from zhongtai.demo.capabilities import APP, PURPOSE
from zhongtai.demo.sharing import principals
from zhongtai.demo.sources import People
from zhongtai.healthcode import areas, corrections, feeds, places, service, tracing
from zhongtai.healthcode.models import Correction, EvidenceRow, Place, PlaceStatus, Trace, Visit
from zhongtai.orgs.models import Department
from zhongtai.public import service as public
from zhongtai.public.service import Person

DEMO = platform_actor("demo", "demo builder")
RESIDENTS = (1, 2, 3, 4, 5, 6, 7)  # 1–3 one household; 4 and 7 tested positive (7's corrected); 6 fever
FEVERISH = 6
GATE_FILE = "gate.json"


@dataclass(frozen=True)
class Resident:
    number: int  # in the household register
    id_number: str
    name: str
    mobile: str


def residents(seed: int, persons: int) -> list[Resident]:
    """The demo residents with a mobile on record (they can sign in), as the household register holds them."""
    people = People(seed, persons)
    found = [people.person(n) for n in RESIDENTS if n <= persons]
    return [Resident(p.number, p.id_number, p.name.replace(" ", ""), p.phone) for p in found if p.phone]


def build_demo_healthcode(
    factory: sessionmaker[Session], settings: Settings, seed: int, persons: int
) -> None:
    with transaction(factory) as session:
        service.ensure_keys(session, settings, DEMO, utcnow())
        if session.scalars(select(Capability).where(Capability.code == feeds.RESULTS)).first() is None:
            _capabilities(session, settings)
        if session.scalars(select(Place).limit(1)).first() is None:
            _places(session, settings, residents(seed, persons))


def _capabilities(session: Session, settings: Settings) -> None:
    users = principals(session, settings, ("wjw.officer", "wjw.developer", "admin"))
    results = session.scalars(
        select(Resource)
        .join(Department, Department.id == Resource.provider_department_id)
        .where(Resource.name == "核酸检测结果信息", Department.code == "WJW")
    ).first()
    gate_capability = {
        "code": "healthcode.verify",
        "name": "安康码核验",
        "kind": "platform",
        "operation": "healthcode_verify",
        "provider": "SJZYJ",
        "description": "卡口应用在线核验安康码:签名、有效期、持码人当前颜色,返回通行规则与脱敏姓名。",
    }
    specs = [(users["admin"], gate_capability)]
    if results is not None:
        feed = {
            "code": feeds.RESULTS,
            "name": "核酸检测结果分页查询",
            "kind": "data",
            "operation": "list",
            "resource": results.code,
            "description": "本委健康码应用按检测结果筛选、翻页读取已治理的检测结果。",
        }
        specs.append((users["wjw.officer"], feed))
    for actor, body in specs:
        made = capabilities.register(session, actor, CapabilityCreate.model_validate(body))
        capabilities.act_on_capability(session, users["admin"], made.code, "publish")
        subscription = capabilities.subscribe(
            session, users["wjw.developer"], APP, SubscriptionCreate(capability=made.code, purpose=PURPOSE)
        )
        if subscription.status.value == "pending":
            capabilities.decide(session, users["admin"], subscription.id, "approve", "")


# Shops elsewhere in the city, approved by the platform's operators: residents scan their posters.
CITY_PLACES = [
    ("瑶海万达广场", "shop", "安徽省庐州市瑶海区长江东路 1088 号", "明光路街道", "YHQ"),
    ("逍遥津公园东门", "other", "安徽省庐州市庐阳区寿春路 15 号", "逍遥津街道", "LYQ"),
    ("滨湖银泰城", "shop", "安徽省庐州市包河区徽州大道 4872 号", "方兴社区", "BHQ"),
]
POSTER_SCANS = 4  # poster scans by residents across the city each turn of the simulation


def _places(session: Session, settings: Settings, found: list[Resident]) -> None:
    if not found:
        return
    now = utcnow()
    owner = public.enrol(session, settings, (found[0].id_number, found[0].name, found[0].mobile), now)
    reviewer = principals(session, settings, ("ssq.reviewer",))["ssq.reviewer"]
    specs = [
        ("蜀山花园小区东门", "residential", "安徽省庐州市蜀山区长江西路 669 号", "稻香村街道", True),
        ("老王便利店", "shop", "安徽省庐州市蜀山区黄山路 18 号", "三里庵街道", True),
        ("翡翠湖社区卫生服务站", "hospital", "安徽省庐州市蜀山区翡翠路 2 号", "南岗镇", None),
    ]
    for name, kind, address, street, approve in specs:
        data = places.PlaceApplication(name, kind, address, street, "SSQ")
        place = places.apply(session, owner.id, data, now)
        if approve:
            places.decide(session, settings, reviewer, place.id, True, "同意赋码", now)
        if kind == "residential":
            _, token = places.add_gate(session, place, "东门岗亭")
            path = gate_file(settings)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"place": name, "token": token}), "utf-8")
            path.chmod(0o600)
    operator = principals(session, settings, ("admin",))["admin"]
    for name, kind, address, street, office in CITY_PLACES:  # the big screen's map: scans across the city
        data = places.PlaceApplication(name, kind, address, street, office)
        place = places.apply(session, owner.id, data, now)
        places.decide(session, settings, operator, place.id, True, "同意赋码", now)


def gate_file(settings: Settings) -> Path:
    return settings.data_dir / "demo" / GATE_FILE


def gate_link(settings: Settings, base_url: str) -> str | None:
    path = gate_file(settings)
    if not path.is_file():
        return None
    return f"{base_url}/gate/{json.loads(path.read_text('utf-8'))['token']}"


def simulate(
    factory: sessionmaker[Session],
    settings: Settings,
    base_url: str,
    found: list[Resident],
    corrected: Resident,
    every: float = 5,
    visitors: tuple[Resident, ...] = (),
    people: People | None = None,
) -> None:
    """The compound's guard at work: a resident's code scanned every few seconds through the gate API
    (the feverish one once with 38.2 °C), residents scanning place posters across the city, and the
    health-code app pulling new positive results."""
    path = gate_file(settings)
    if not path.is_file() or not found:
        return
    key = {"X-Gate-Key": json.loads(path.read_text("utf-8"))["token"]}
    feverish = next((r for r in found if r.number == FEVERISH), None)
    with httpx.Client(base_url=base_url, timeout=10) as client:
        for turn in itertools.count():
            resident = found[turn % len(found)]
            if turn % 6 == 0:
                with contextlib.suppress(Exception):  # the feed waits for the results to be governed
                    feeds.pull_results(factory, settings, client)
                    answer_one_correction(factory, settings, corrected)
                    trace_one_case(factory, settings, [*found, *visitors])
            if people is not None:
                with contextlib.suppress(Exception):  # a busy database: the next turn scans again
                    scan_posters(factory, settings, people, turn)
            with contextlib.suppress(httpx.HTTPError):
                client.post(
                    "/api/v1/healthcode/gate-scans",
                    json={
                        "code": _code(factory, settings, resident),
                        **_temperature(resident, feverish, turn),
                    },
                    headers=key,
                )
            time.sleep(every)


def scan_posters(factory: sessionmaker[Session], settings: Settings, people: People, turn: int) -> int:
    """A few residents, different each turn, scan the posters of the city's approved places (扫码登记)
    with the colour their code shows now."""
    rng = random.Random(turn)
    with transaction(factory) as session:
        approved = list(session.scalars(select(Place).where(Place.status == PlaceStatus.APPROVED)))
        if not approved:
            return 0
        scanned = 0
        for _ in range(POSTER_SCANS):
            person = people.person(rng.randint(1, people.count))
            subject = person_subject(settings, person.id_number)
            verdict, _reasons, _since = service.current_verdict(session, subject)
            scanned += places.visit(session, rng.choice(approved), subject, verdict.colour, utcnow())
    return scanned


CORRECTED = 7  # the resident whose positive result turns out to be a clerk's slip


def corrected_resident(seed: int, persons: int) -> Resident:
    """Resident 7 as the register holds them (with or without a mobile on record)."""
    p = People(seed, persons).person(CORRECTED)
    return Resident(p.number, p.id_number, p.name.replace(" ", ""), p.phone or "")


def answer_one_correction(factory: sessionmaker[Session], settings: Settings, resident: Resident) -> bool:
    """Once the positives are in: resident 7 disputes theirs and the health commission upholds it (the
    sample was keyed to the wrong person), so the demo shows one correction answered. Once only."""
    subject = person_subject(settings, resident.id_number)
    with transaction(factory) as session:
        if session.scalars(select(Correction).limit(1)).first() is not None:
            return False
        record = session.scalars(
            select(EvidenceRow.record).where(
                EvidenceRow.subject == subject, EvidenceRow.fact == "positive_test"
            )
        ).first()
        if record is None:
            return False  # not pulled yet
        now = utcnow()
        citizen = public.enrol(session, settings, (resident.id_number, resident.name, resident.mobile), now)
        filed = corrections.file(
            session,
            settings,
            (citizen.id, subject, resident.name),
            record,
            "当天我在外地出差,没有在庐州采样",
            now,
        )
        officer = principals(session, settings, ("wjw.officer",))["wjw.officer"]
        corrections.answer(
            session, officer, filed.id, True, "经核实为采样点录入身份证号错误,已更正,安康码恢复绿码", now
        )
    return True


TRACED = 4  # the resident whose positive result the health commission traces
VISITORS = (21, 22, 23)  # at the shop near the case's visit (not among the gate's residents)


def shop_visitors(seed: int, persons: int) -> list[Resident]:
    people = People(seed, persons)
    found = [people.person(n) for n in VISITORS if n <= persons]
    return [Resident(p.number, p.id_number, p.name.replace(" ", ""), p.phone or "") for p in found]


def trace_one_case(factory: sessionmaker[Session], settings: Settings, found: list[Resident]) -> bool:
    """Once resident 4's positive is in: their visit to the corner shop two days ago, with others there
    (one within minutes: a close contact, red; one that afternoon: a co-visitor, yellow; one the next
    morning: nobody), then the health commission's trace. Once only."""
    case = next((r for r in found if r.number == TRACED), None)
    others = [r for r in found if r.number in VISITORS]
    if case is None or len(others) < len(VISITORS):
        return False
    subject = person_subject(settings, case.id_number)
    with transaction(factory) as session:
        if session.scalars(select(Trace).limit(1)).first() is not None:
            return False
        positive = session.scalars(
            select(EvidenceRow).where(EvidenceRow.subject == subject, EvidenceRow.fact == "positive_test")
        ).first()
        shop = session.scalars(select(Place).where(Place.name == "老王便利店")).first()
        if positive is None or shop is None:
            return False  # not pulled yet
        day = utcnow().astimezone(CITY_ZONE).replace(hour=15, minute=20, second=0, microsecond=0) - timedelta(
            days=2
        )
        visits = [
            (case, day),
            (others[0], day + timedelta(minutes=12)),
            (others[1], day + timedelta(hours=2)),
        ]
        visits.append((others[2], day + timedelta(hours=19)))  # the next morning: no contact
        for resident, at in visits:
            session.add(
                Visit(place_id=shop.id, subject=person_subject(settings, resident.id_number), at=at, colour=0)
            )
        session.flush()
        officer = principals(session, settings, ("wjw.officer",))["wjw.officer"]
        tracing.start(session, settings, officer, subject, utcnow())
        _risk_areas(session, settings, officer, day.date())
    return True


def _risk_areas(session: Session, settings: Settings, officer: Principal, day: date) -> None:
    """The shop's street was a medium-risk area on the day of the case's visit (its visitors turned yellow
    for it), lifted once the trace was in (recomputed); a high-risk area in 瑶海区 stands from today."""
    spec = ("medium", "340104", "三里庵街道", day, day)
    lifted = areas.declare(session, settings, officer, spec, utcnow())
    areas.lift(session, settings, officer, lifted.id, utcnow())
    today = utcnow().astimezone(CITY_ZONE).date()
    areas.declare(session, settings, officer, ("high", "340102", "明光路街道", today, None), utcnow())


def _temperature(resident: Resident, feverish: Resident | None, turn: int) -> dict[str, float]:
    if resident == feverish and turn < len(RESIDENTS):
        return {"temperature": 38.2}
    return {"temperature": 36.5}


def _code(factory: sessionmaker[Session], settings: Settings, resident: Resident) -> str:
    holder = Person(person_subject(settings, resident.id_number), resident.name, resident.id_number)
    with transaction(factory) as session:
        return service.show_person_code(session, settings, holder, "citizen:demo-phone", utcnow()).text


def start_simulation(
    factory: sessionmaker[Session], settings: Settings, base_url: str, seed: int, persons: int
) -> threading.Thread:
    found, corrected = residents(seed, persons), corrected_resident(seed, persons)
    visitors = tuple(shop_visitors(seed, persons))
    worker = threading.Thread(
        target=simulate,
        args=(factory, settings, base_url, found, corrected, 5, visitors, People(seed, persons)),
        name="demo-gate",
        daemon=True,
    )
    worker.start()
    return worker
