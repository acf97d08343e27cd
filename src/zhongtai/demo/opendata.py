"""The demo city's open data: a dozen datasets of nine departments, opened by their release rules —
plain registers (the enterprise registry without its people, 地名, schools, hospitals, pharmacies, shelters,
elderly homes, A-level taxpayers, food licences), counts from personal registers (doctors per hospital,
lawyers per firm, small counts withheld), and the individual businesses without their owners, open on
application only. The demo enterprise has applied for those with a purpose and 市场监管局's officer has
approved it. Released when the registers' rows are governed (at once with ``--no-serve``, after the first
governance passes when serving)."""

from __future__ import annotations

import contextlib
import threading
import time

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from zhongtai.catalog.models import Resource
from zhongtai.core.database import transaction
from zhongtai.core.errors import NotFound
from zhongtai.core.identity.repository import IdentityRepository
from zhongtai.core.identity.service import principal_for
from zhongtai.core.principal import platform_actor
from zhongtai.core.pseudonym import entity_subject
from zhongtai.core.settings import Settings
from zhongtai.core.types import utcnow
from zhongtai.demo.sources import demo_enterprise
from zhongtai.opendata import applications, service
from zhongtai.opendata.models import OpenApplication

ACTOR = platform_actor("demo", "demo city builder")
KEEP_ALL = "*"
DATASETS: list[tuple[str, dict[str, str], list[str]]] = [
    (
        "企业登记基本信息",
        {
            "企业名称": "keep",
            "统一社会信用代码": "keep",
            "企业类型": "keep",
            "注册资本": "keep",
            "成立日期": "month",
            "住所": "district",
            "经营范围": "keep",
            "登记机关": "keep",
        },
        ["企业", "市场主体", "登记"],
    ),
    ("地名信息", {KEEP_ALL: "keep"}, ["地名", "地址", "坐标"]),
    ("养老机构信息", {KEEP_ALL: "keep"}, ["养老", "民生"]),
    ("医疗机构执业许可信息", {KEEP_ALL: "keep"}, ["医疗机构", "许可"]),
    ("医师执业注册信息", {"单位名称": "count"}, ["医师", "统计"]),
    ("学校基本信息", {KEEP_ALL: "keep"}, ["教育", "学校"]),
    ("应急避难场所信息", {KEEP_ALL: "keep"}, ["应急", "避难场所", "坐标"]),
    ("定点医药机构信息", {KEEP_ALL: "keep"}, ["医保", "药店"]),
    ("纳税信用等级信息", {KEEP_ALL: "keep"}, ["纳税信用", "信用"]),
    ("食品经营许可证信息", {KEEP_ALL: "keep"}, ["食品安全", "许可"]),
    ("律师执业信息", {"单位名称": "count"}, ["律师", "统计"]),
    ("个体工商户登记信息", {"企业名称": "keep", "住所": "district"}, ["个体工商户", "市场主体"]),
]
APPLIED_FOR = "个体工商户登记信息"
PURPOSE = (
    "研究本市个体工商户的行业与区域分布,为小微商户普惠金融产品设计提供依据;数据仅用于内部分析,不对外提供。"
)
APPROVER = "scjgj.officer"


def _rules(resource: Resource, wanted: dict[str, str]) -> dict[str, str]:
    if KEEP_ALL in wanted:
        return {item.name: wanted[KEEP_ALL] for item in resource.items}
    return wanted


def build_demo_opendata(factory: sessionmaker[Session], settings: Settings) -> int:
    """Open the demo's datasets (idempotent: unchanged rows make no new version); how many are released."""
    listed = 0
    for name, wanted, tags in DATASETS:
        with transaction(factory) as session:
            resource = session.scalars(
                select(Resource).where(Resource.name == name).order_by(Resource.id)
            ).first()
            if resource is None:
                continue
            rules = _rules(resource, wanted)
            published = service.publish(session, settings, ACTOR, resource.code, rules, tags=tags)
            listed += published.release is not None
    return listed


def build_demo_application(
    factory: sessionmaker[Session], settings: Settings, seed: int, persons: int
) -> bool:
    """The demo enterprise's approved application for the individual businesses (False: that dataset has
    no release yet). Idempotent."""
    enterprise = demo_enterprise(seed, persons)
    if enterprise is None:
        return True
    applicant = applications.Applicant(entity_subject(enterprise.credit_code), "enterprise", enterprise.name)
    with transaction(factory) as session:
        dataset = service.dataset_name_of(session, APPLIED_FOR)
        if dataset is None:
            return False
        done = session.scalar(
            select(OpenApplication.id).where(OpenApplication.applicant == applicant.subject).limit(1)
        )
        if done is not None:
            return True
        try:
            application = applications.apply(session, applicant, dataset, PURPOSE, utcnow())
        except NotFound:
            return False  # not released yet
        officer = IdentityRepository(session).user_by_username(APPROVER)
        assert officer is not None
        approver = principal_for(officer, settings)
        applications.decide(
            session, approver, application.number, True, "用途明确,符合最小必要原则", utcnow(), 1000, 180
        )
    return True


def follow(
    factory: sessionmaker[Session], settings: Settings, seed: int, persons: int, every: float = 10
) -> None:
    """Wait for the individual businesses to be governed and released (the worker does both), then apply."""
    for _ in range(360):
        with contextlib.suppress(Exception):
            if build_demo_application(factory, settings, seed, persons):
                return
        time.sleep(every)


def start_open_data(
    factory: sessionmaker[Session], settings: Settings, seed: int, persons: int
) -> threading.Thread:
    worker = threading.Thread(
        target=follow, args=(factory, settings, seed, persons), name="demo-open-data", daemon=True
    )
    worker.start()
    return worker
