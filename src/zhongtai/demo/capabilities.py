"""The demo city's capability platform: public security serves its household register as lookup and
verification capabilities, the bureau offers licence verification, public security's residence
certificate system sits behind the gateway; the health commission's 健康码 app is granted, subscribed
and keyed, and calls them with requests signed by ``http-message-signatures``; departments' business
requirements are tracked to delivery. Built through the same services as the API.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from zhongtai.capabilities import service as capabilities
from zhongtai.capabilities.models import Capability
from zhongtai.capabilities.schemas import (
    AppCreate,
    CapabilityCreate,
    CapabilityUpdate,
    KeyCreate,
    SubscriptionCreate,
)
from zhongtai.catalog.models import Resource, ResourceStatus
from zhongtai.core.database import transaction
from zhongtai.core.principal import Principal
from zhongtai.core.settings import Settings
from zhongtai.core.types import CITY_ZONE, utcnow
from zhongtai.demo import backend
from zhongtai.demo.sharing import POPULATION, principals
from zhongtai.gateway.client import GatewaySigner
from zhongtai.governance.models import BaseClaim, BaseKind, BaseSource
from zhongtai.orgs.models import Department
from zhongtai.requirements import service as requirements
from zhongtai.requirements.schemas import Links, RequirementAction, RequirementCreate
from zhongtai.sharing import service as sharing
from zhongtai.sharing.schemas import ApplicationCreate

APP = "wjw-health-code"
PURPOSE = "epidemic.health-code"
CREDENTIALS = "wjw-health-code.json"
USERS = (
    "admin",
    "reviewer",
    "gaj.officer",
    "gaj.reviewer",
    "scjgj.officer",
    "wjw.consumer",
    "wjw.developer",
    "zjj.consumer",
    "rsj.officer",
    "rsj.reviewer",
)
REGISTRY = "企业登记基本信息"
ENTITY_VERIFY = "entity.verify"
INSURANCE = "社会保险参保信息"
INSURED = "social.insured"


def credentials_path(settings: Settings) -> Path:
    return settings.data_dir / "demo" / CREDENTIALS


def build_demo_capabilities(factory: sessionmaker[Session], settings: Settings, base_url: str) -> int:
    """Play it once; returns how many capabilities the demo holds."""
    with transaction(factory) as session:
        existing = session.scalar(select(func.count()).select_from(Capability)) or 0
        if existing:
            return existing
        users = principals(session, settings, USERS)
        population = session.scalars(
            select(Resource)
            .join(Department, Department.id == Resource.provider_department_id)
            .where(Resource.name == POPULATION, Department.code == "GAJ")
        ).first()
        if population is None:  # a seed without the household register: nothing to serve
            return 0
        application = _grant_api(session, settings, users, population)
        registry = _registry_grant(session, settings, users)
        _register(session, users, population, base_url)
        if registry is not None:
            _entity_verify(session, users, registry)
        insured = _insured(session, settings, users)
        key = _app(session, settings, users, insured)
        _requirements(session, users, population, application)
        _save_credentials(settings, key.key_id, key.secret or "")
        return session.scalar(select(func.count()).select_from(Capability)) or 0


def _grant_api(
    session: Session, settings: Settings, users: dict[str, Principal], population: Resource
) -> str:
    """The health commission's API grant on the household register (the gateway serves under it)."""
    population.sharing_modes = sorted({*population.sharing_modes, "api"})
    items = [
        item.name
        for item in population.items
        if item.name in ("姓名", "公民身份号码", "性别", "出生日期", "联系电话", "户号")
    ]
    application = sharing.apply(
        session,
        settings,
        users["wjw.consumer"],
        ApplicationCreate(
            resource=population.code,
            items=items,
            purpose="健康码申领时核验居民身份与手机号码、家庭成员同户关系,免交身份证与户口簿复印件",
            basis="《中华人民共和国传染病防治法》第十二条;市疫情防控指挥部通知",
            mode="api",
            valid_until=utcnow().astimezone(CITY_ZONE).date().replace(month=12, day=31),
        ),
    )
    sharing.act(session, settings, users["reviewer"], application.number, "bureau_approve", "")
    sharing.act(
        session, settings, users["gaj.reviewer"], application.number, "provider_approve", "限健康码核验使用"
    )
    return application.number


def _registry_grant(session: Session, settings: Settings, users: dict[str, Principal]) -> Resource | None:
    """The health commission's API grant on the enterprise registry: enterprises sign in on the public side
    by their legal representative and registered mobile (unconditional sharing: the bureau approves)."""
    registry = session.scalars(
        select(Resource)
        .join(Department, Department.id == Resource.provider_department_id)
        .where(
            Resource.name == REGISTRY, Department.code == "SCJGJ", Resource.status == ResourceStatus.PUBLISHED
        )
    ).first()
    if registry is None:
        return None
    registry.sharing_modes = sorted({*registry.sharing_modes, "api"})
    application = sharing.apply(
        session,
        settings,
        users["wjw.consumer"],
        ApplicationCreate(
            resource=registry.code,
            items=["企业名称", "统一社会信用代码", "法定代表人", "法定代表人身份号码", "联系电话"],
            purpose="企业实名登录时核验统一社会信用代码、法定代表人与登记手机号码",
            basis="《优化营商环境条例》第三十七条",
            mode="api",
            valid_until=utcnow().astimezone(CITY_ZONE).date().replace(month=12, day=31),
        ),
    )
    sharing.act(session, settings, users["reviewer"], application.number, "bureau_approve", "")
    return registry


def _entity_verify(session: Session, users: dict[str, Principal], registry: Resource) -> None:
    body = {
        "code": ENTITY_VERIFY,
        "name": "企业法定代表人核验",
        "kind": "data",
        "operation": "verify",
        "resource": registry.code,
        "key_item": "统一社会信用代码",
        "verify_items": ["法定代表人", "法定代表人身份号码", "联系电话"],
        "description": "只回答“一致 / 不一致”:企业实名登录核验法定代表人姓名、身份证号与登记手机号码。",
    }
    capability = capabilities.register(session, users["scjgj.officer"], CapabilityCreate.model_validate(body))
    capabilities.act_on_capability(session, users["admin"], capability.code, "publish")


PROXIED = "gaj.residence-certificate"  # the demo's proxied capability, served by this process's backend


def follow_serving_address(factory: sessionmaker[Session], settings: Settings, base_url: str) -> bool:
    """Point the demo's proxied capability at the demo backend of the process about to serve ``base_url``:
    a demo built with ``--no-serve`` and served on another port must never call someone else's process.
    Only an upstream that is the demo backend on this machine is moved. True when it was."""
    wanted = base_url.rstrip("/") + backend.PATH
    with transaction(factory) as session:
        capability = session.scalars(select(Capability).where(Capability.code == PROXIED)).first()
        current = capability.upstream_url if capability is not None else None
        if not current or current == wanted or not _is_local_demo_backend(current):
            return False
        admin = principals(session, settings, ("admin",))["admin"]
        capabilities.update_capability(session, admin, PROXIED, CapabilityUpdate(upstream_url=wanted))
        return True


def _is_local_demo_backend(url: str) -> bool:
    parsed = httpx.URL(url)
    return parsed.host in ("127.0.0.1", "localhost", "::1") and parsed.path == backend.PATH


def _register(session: Session, users: dict[str, Principal], population: Resource, base_url: str) -> None:
    gaj, admin = users["gaj.officer"], users["admin"]
    specs: list[tuple[Principal, dict[str, Any]]] = [
        (
            gaj,
            {
                "code": "person.by-id",
                "name": "按身份证号查询常住人口",
                "kind": "data",
                "operation": "lookup",
                "resource": population.code,
                "key_item": "公民身份号码",
                "description": "返回授权范围内的信息项,按提供部门的脱敏规则脱敏。",
            },
        ),
        (
            gaj,
            {
                "code": "person.list",
                "name": "常住人口分页查询",
                "kind": "data",
                "operation": "list",
                "resource": population.code,
                "description": (
                    "健康码批量赋码用:按授权范围分页返回(已脱敏);翻页时把上一页的 next 作为 after 传回。"
                ),
            },
        ),
        (
            gaj,
            {
                "code": "person.verify",
                "name": "居民身份核验",
                "kind": "data",
                "operation": "verify",
                "resource": population.code,
                "key_item": "公民身份号码",
                "verify_items": ["姓名", "联系电话", "户号"],
                "description": "只回答“一致 / 不一致”,不返回任何信息项:实名登录核验姓名与手机号码,"
                "添加家庭成员核验同户。",
            },
        ),
        (
            admin,
            {
                "code": "license.verify",
                "name": "电子证照核验",
                "kind": "platform",
                "operation": "license_verify",
                "provider": "SJZYJ",
                "description": "证照编号与持证人是否一致且在有效期内。",
            },
        ),
        (
            gaj,
            {
                "code": PROXIED,
                "name": "户籍证明开具",
                "kind": "proxy",
                "operation": "proxy",
                "upstream_url": base_url + backend.PATH,
                "methods": ["GET"],
                "health_path": "/healthz",
                "masked_fields": {"phone": "mobile", "id_number": "id_number"},
                "timeout_ms": 2000,
                "description": "公安户政系统经网关开放的户籍证明接口。"
                "子路径:residence-certificates/{公民身份号码},"
                "GET 返回该居民的户籍证明(手机号、身份证号脱敏)。",
            },
        ),
    ]
    for actor, body in specs:
        capability = capabilities.register(session, actor, CapabilityCreate.model_validate(body))
        capabilities.act_on_capability(session, admin, capability.code, "publish")


def _insured(session: Session, settings: Settings, users: dict[str, Principal]) -> bool:
    """Human resources serves its social insurance base as a list by employer: an enterprise applying to
    resume work imports its own insured employees through the health-code app (a conditional resource:
    the bureau and human resources approve the grant, the ID number unmasked for that purpose)."""
    insurance = session.scalars(
        select(Resource)
        .join(Department, Department.id == Resource.provider_department_id)
        .where(
            Resource.name == INSURANCE, Department.code == "RSJ", Resource.status == ResourceStatus.PUBLISHED
        )
    ).first()
    if insurance is None:
        return False
    insurance.sharing_modes = sorted({*insurance.sharing_modes, "api"})
    application = sharing.apply(
        session,
        settings,
        users["wjw.consumer"],
        ApplicationCreate(
            resource=insurance.code,
            items=["姓名", "公民身份号码", "单位名称", "参保状态"],
            unmasked_items=["公民身份号码", "单位名称", "参保状态"],
            purpose="企业复工复产申报时导入本企业正常参保的员工,免交员工名单",
            basis="市疫情防控指挥部关于企业复工复产的通知;《社会保险法》第八十一条(依法使用)",
            mode="api",
            valid_until=utcnow().astimezone(CITY_ZONE).date().replace(month=12, day=31),
        ),
    )
    sharing.act(session, settings, users["reviewer"], application.number, "bureau_approve", "")
    sharing.act(
        session, settings, users["rsj.reviewer"], application.number, "provider_approve", "限复工复产申报使用"
    )
    body = {
        "code": INSURED,
        "name": "按单位查询正常参保人员",
        "kind": "data",
        "operation": "list",
        "resource": insurance.code,
        "description": "企业复工复产申报导入员工:按 单位名称 与 参保状态 筛选,分页返回姓名与身份证号。",
    }
    capability = capabilities.register(session, users["rsj.officer"], CapabilityCreate.model_validate(body))
    capabilities.act_on_capability(session, users["admin"], capability.code, "publish")
    return True


def _app(session: Session, settings: Settings, users: dict[str, Principal], insured: bool) -> Any:
    developer = users["wjw.developer"]
    capabilities.create_app(session, developer, AppCreate(code=APP, name="健康码", description="一人一码"))
    deciders = {ENTITY_VERIFY: users["scjgj.officer"], INSURED: users["rsj.reviewer"]}
    for code in (
        "person.by-id",
        "person.list",
        "person.verify",
        "license.verify",
        "gaj.residence-certificate",
        ENTITY_VERIFY,
        *([INSURED] if insured else []),
    ):
        subscription = capabilities.subscribe(
            session, developer, APP, SubscriptionCreate(capability=code, purpose=PURPOSE)
        )
        if subscription.status.value == "pending":
            decider = deciders.get(code, users["gaj.reviewer"])
            capabilities.decide(session, decider, subscription.id, "approve", "")
    return capabilities.create_key(session, settings, developer, APP, KeyCreate())


def _requirements(
    session: Session, users: dict[str, Principal], population: Resource, application: str
) -> None:
    """Three requirements: one delivered and confirmed, one being worked on, one waiting for triage."""
    today = utcnow().astimezone(CITY_ZONE).date()
    done = requirements.file(
        session,
        users["wjw.consumer"],
        RequirementCreate(
            kind="data",
            title="健康码赋码需核验居民身份",
            due_date=today + timedelta(days=10),
            description="健康码申领时核验姓名与身份证号一致,免交身份证复印件。",
        ),
    )
    requirements.act(
        session, users["reviewer"], done.number, RequirementAction(action="assign", assignee="GAJ")
    )
    requirements.act(
        session,
        users["gaj.officer"],
        done.number,
        RequirementAction(
            action="deliver",
            links=Links(
                resources=[population.code], applications=[application], capabilities=["person.verify"]
            ),
        ),
    )
    requirements.act(session, users["wjw.consumer"], done.number, RequirementAction(action="confirm"))
    working = requirements.file(
        session,
        users["zjj.consumer"],
        RequirementCreate(
            kind="collaboration",
            title="公租房资格审核“一件事”联办",
            due_date=today + timedelta(days=30),
            description="申请人户籍、婚姻、社保、不动产情况一次核验,不再提交证明材料。",
        ),
    )
    requirements.act(
        session, users["reviewer"], working.number, RequirementAction(action="assign", assignee="GAJ")
    )
    requirements.act(session, users["gaj.officer"], working.number, RequirementAction(action="start"))
    requirements.file(
        session,
        users["wjw.consumer"],
        RequirementCreate(
            kind="technology",
            title="健康码接口峰值扩容",
            due_date=today + timedelta(days=20),
            description="早高峰扫码核验峰值预计每秒 500 次,需评估网关限流与配额。",
        ),
    )


def _save_credentials(settings: Settings, key_id: str, secret: str) -> None:
    path = credentials_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"app": APP, "key_id": key_id, "secret": secret, "purpose": PURPOSE}), "utf-8")
    path.chmod(0o600)


def sample_people(factory: sessionmaker[Session], count: int = 3) -> list[str]:
    """ID numbers the household register contributed to the person base (empty until it is governed)."""
    with factory() as session:
        query = (
            select(BaseClaim.key)
            .join(BaseSource, BaseSource.id == BaseClaim.source_id)
            .join(Resource, Resource.id == BaseSource.resource_id)
            .where(BaseClaim.base == BaseKind.PERSON, Resource.name == POPULATION)
            .limit(count)
        )
        return list(session.scalars(query))


def call_as_the_app(
    factory: sessionmaker[Session], settings: Settings, base_url: str, wait: float = 600
) -> int:
    """The health-code app at work once the people are governed: signed lookups, two pages of the
    population list (the second by the first's cursor), a verification and a residence certificate
    through the gateway. Returns the number of answered calls."""
    stored = json.loads(credentials_path(settings).read_text("utf-8"))
    signer = GatewaySigner(
        stored["key_id"], stored["purpose"], secret=stored["secret"], end_user="demo-citizen-1"
    )
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        people = sample_people(factory)
        if people:
            with httpx.Client(base_url=base_url, auth=signer, timeout=10) as gateway:
                answers = [gateway.get(f"/gw/person.by-id/{number}") for number in people]
                first = gateway.get("/gw/person.list", params={"page_size": 20})
                answers.append(first)
                if first.status_code == 200 and first.json().get("next"):
                    answers.append(gateway.get("/gw/person.list", params={"after": first.json()["next"]}))
                answers.append(
                    gateway.post("/gw/person.verify", json={"公民身份号码": people[0], "姓名": "张三"})
                )
                answers.append(
                    gateway.get(f"/gw/gaj.residence-certificate/residence-certificates/{people[0]}")
                )
            return sum(1 for answer in answers if answer.status_code == 200)
        time.sleep(10)
    return 0


def start_app_calls(factory: sessionmaker[Session], settings: Settings, base_url: str) -> threading.Thread:
    """Run :func:`call_as_the_app` beside the server (the demo's own traffic for usage and audit)."""
    worker = threading.Thread(
        target=lambda: _quietly(call_as_the_app, factory, settings, base_url), name="demo-app", daemon=True
    )
    worker.start()
    return worker


def _quietly(function: Any, *args: Any) -> None:
    # the demo's traffic is a convenience; the server's log shows what the gateway refused
    with contextlib.suppress(httpx.HTTPError, OSError, ValueError):
        function(*args)
