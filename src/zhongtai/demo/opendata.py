"""The demo city's open data: the enterprise registry opened without its people — the legal
representative's name, ID number and the contact number dropped, the address to its district, the founding
date to its month. Released when the registry's rows are governed (at once with ``--no-serve``, after the
first governance pass when serving)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from zhongtai.catalog.models import Resource
from zhongtai.core.database import transaction
from zhongtai.core.principal import platform_actor
from zhongtai.core.settings import Settings
from zhongtai.opendata import service

ACTOR = platform_actor("demo", "demo city builder")
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
]


def build_demo_opendata(factory: sessionmaker[Session], settings: Settings) -> int:
    """Open the demo's datasets (idempotent: unchanged rows make no new version); how many are listed."""
    listed = 0
    for name, rules, tags in DATASETS:
        with transaction(factory) as session:
            code = session.scalar(select(Resource.code).where(Resource.name == name).order_by(Resource.id))
            if code is None:
                continue
            published = service.publish(session, settings, ACTOR, code, rules, tags=tags)
            listed += published.release is not None
    return listed
