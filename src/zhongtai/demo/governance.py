"""The demo city's governance: rules for each gathered resource and the sources of its base databases.

Configured through the same services as the UI and API: each rule set is data, a first version saved by
the platform; the household registry is the population base's most trusted source, civil affairs,
social insurance and health contribute what they know with lower priority.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from zhongtai.catalog.models import Resource
from zhongtai.core.database import transaction
from zhongtai.core.principal import platform_actor
from zhongtai.governance import service
from zhongtai.governance.models import BaseKind, RuleSet
from zhongtai.governance.schemas import BaseSourceWrite, RuleSetWrite

ACTOR = platform_actor("demo", "demo city builder")


def _std(rule_id: str, item: str, **extra: Any) -> dict[str, Any]:
    return {"id": rule_id, "kind": "standardize", "item": item, **extra}


def _required(rule_id: str, item: str) -> dict[str, Any]:
    return {"id": rule_id, "kind": "required", "item": item}


RULES: dict[str, list[dict[str, Any]]] = {
    "常住人口基本信息": [
        _std("xm", "姓名"),
        _required("sfzh-required", "公民身份号码"),
        _std("sfzh", "公民身份号码"),
        _std("xb", "性别"),
        _std("mz", "民族"),
        _std("csrq", "出生日期"),
        {
            "id": "csrq-sfzh",
            "kind": "cross",
            "item": "出生日期",
            "check": "birth_date_matches_id",
            "id_item": "公民身份号码",
        },
        {
            "id": "xb-sfzh",
            "kind": "cross",
            "item": "性别",
            "check": "gender_matches_id",
            "id_item": "公民身份号码",
        },
        _std("hjdz", "户籍地址"),
        _std("xzqh", "行政区划代码", on_fail="clear"),
        _std("lxdh", "联系电话", on_fail="clear"),
        {"id": "sfzh-unique", "kind": "unique", "item": "公民身份号码"},
    ],
    "结婚登记信息": [
        _required("zsbh", "证照编号"),
        _std("xm", "姓名"),
        _std("sfzh", "公民身份号码"),
        _std("po-xm", "配偶姓名"),
        _std("po-sfzh", "配偶身份号码"),
    ],
    "企业登记基本信息": [
        _required("tyshxydm-required", "统一社会信用代码"),
        _std("tyshxydm", "统一社会信用代码"),
        _std("fddbr", "法定代表人", on_fail="clear"),
        _std("fddbr-sfzh", "法定代表人身份号码", on_fail="clear"),
        _std("lxdh", "联系电话", on_fail="clear"),
        {"id": "zczb", "kind": "range", "item": "注册资本", "min": 0},
        {
            "id": "qylx",
            "kind": "enum",
            "item": "企业类型",
            "values": ["有限责任公司", "股份有限公司", "个人独资企业", "合伙企业"],
        },
    ],
    "核酸检测结果信息": [
        _std("xm", "姓名"),
        _required("sfzh-required", "公民身份号码"),
        _std("sfzh", "公民身份号码"),
        {"id": "jcjg", "kind": "enum", "item": "检测结果", "values": ["阴性", "阳性"]},
    ],
    "不动产登记信息": [
        _required("bdcqzh", "不动产权证号"),
        _std("qlrzjh", "权利人证件号码", on_fail="clear"),
        _std("fwzl", "房屋坐落"),
        {"id": "jzmj", "kind": "range", "item": "建筑面积", "min": 1, "max": 100000},
        {"id": "ghyt", "kind": "enum", "item": "规划用途", "values": ["住宅", "商业", "办公"]},
    ],
    "社会保险参保信息": [
        _std("xm", "姓名"),
        _required("sfzh-required", "公民身份号码"),
        _std("sfzh", "公民身份号码"),
        {"id": "cbzt", "kind": "enum", "item": "参保状态", "values": ["正常参保", "暂停缴费", "终止参保"]},
    ],
    **{
        "地名信息": [
            _required("bzdz", "标准地址"),
            _std("xzqh", "行政区划代码", on_fail="clear"),
            {"id": "jd", "kind": "range", "item": "经度", "min": 115, "max": 119},
            {"id": "wd", "kind": "range", "item": "纬度", "min": 29, "max": 33},
        ],
        "养老机构信息": [_required("tyshxydm", "统一社会信用代码"), _std("tyshxydm-std", "统一社会信用代码")],
        "医疗机构执业许可信息": [
            _std("tyshxydm", "统一社会信用代码"),
            _std("yxqz", "有效期至", element="DE00010", on_fail="clear"),
        ],
        "医师执业注册信息": [_required("zsbm", "证照编号"), _std("xm", "姓名")],
        "学校基本信息": [_std("tyshxydm", "统一社会信用代码")],
        "应急避难场所信息": [
            _required("csmc", "单位名称"),
            {"id": "jd", "kind": "range", "item": "经度", "min": 115, "max": 119},
            {"id": "wd", "kind": "range", "item": "纬度", "min": 29, "max": 33},
        ],
        "定点医药机构信息": [_std("tyshxydm", "统一社会信用代码")],
        "纳税信用等级信息": [
            _std("nsrsbh", "纳税人识别号", element="DE00009"),
            {"id": "xydj", "kind": "enum", "item": "纳税信用等级", "values": ["A", "B", "M", "C", "D"]},
        ],
        "食品经营许可证信息": [
            _required("xkzh", "许可证号"),
            _std("tyshxydm", "统一社会信用代码"),
            _std("yxqz", "有效期至", element="DE00010", on_fail="clear"),
        ],
        "律师执业信息": [_required("zyzh", "证照编号"), _std("xm", "姓名")],
        "个体工商户登记信息": [
            _std("tyshxydm", "统一社会信用代码"),
            _std("jyzsfz", "法定代表人身份号码", on_fail="clear"),
        ],
    },
}

# (base, resource name, key item, attribute -> item, constants, priority)
SOURCES: list[tuple[BaseKind, str, str, dict[str, str], dict[str, str], int]] = [
    (
        BaseKind.PERSON,
        "常住人口基本信息",
        "公民身份号码",
        {
            "name": "姓名",
            "gender": "性别",
            "ethnicity": "民族",
            "birth_date": "出生日期",
            "address": "户籍地址",
            "division_code": "行政区划代码",
            "phone": "联系电话",
            "household": "户号",
        },
        {},
        1,
    ),
    (BaseKind.PERSON, "结婚登记信息", "公民身份号码", {"name": "姓名"}, {}, 3),
    (BaseKind.PERSON, "结婚登记信息", "配偶身份号码", {"name": "配偶姓名"}, {}, 3),
    (
        BaseKind.PERSON,
        "社会保险参保信息",
        "公民身份号码",
        {"name": "姓名", "birth_date": "出生日期", "industry": "所属行业"},
        {},
        3,
    ),
    (BaseKind.PERSON, "核酸检测结果信息", "公民身份号码", {"name": "姓名"}, {}, 4),
    (
        BaseKind.ENTITY,
        "企业登记基本信息",
        "统一社会信用代码",
        {
            "name": "企业名称",
            "legal_representative": "法定代表人",
            "type": "企业类型",
            "capital": "注册资本",
            "founded_on": "成立日期",
            "address": "住所",
            "scope": "经营范围",
            "registered_by": "登记机关",
            "legal_representative_id": "法定代表人身份号码",
            "phone": "联系电话",
        },
        {},
        1,
    ),
    (
        BaseKind.LICENSE,
        "企业登记基本信息",
        "统一社会信用代码",
        {"holder": "企业名称", "issuer": "登记机关", "issued_on": "成立日期", "subject": "经营范围"},
        {"type": "营业执照"},
        1,
    ),
    (
        BaseKind.LICENSE,
        "结婚登记信息",
        "证照编号",
        {"holder": "姓名", "holder_id": "公民身份号码", "issued_on": "登记日期"},
        {"type": "结婚证", "issuer": "庐州市民政局"},
        1,
    ),
    (
        BaseKind.LICENSE,
        "不动产登记信息",
        "不动产权证号",
        {"holder": "权利人", "holder_id": "权利人证件号码", "subject": "房屋坐落"},
        {"type": "不动产权证书", "issuer": "庐州市不动产登记中心"},
        1,
    ),
    (
        BaseKind.ADDRESS,
        "常住人口基本信息",
        "户籍地址",
        {"address": "户籍地址", "division_code": "行政区划代码"},
        {},
        1,
    ),
    (BaseKind.ADDRESS, "不动产登记信息", "房屋坐落", {"address": "房屋坐落"}, {}, 2),
]


def _resource(session: Session, name: str) -> Resource:
    resource = session.scalars(select(Resource).where(Resource.name == name).order_by(Resource.id)).first()
    assert resource is not None, name
    return resource


def build_demo_governance(factory: sessionmaker[Session]) -> list[str]:
    """Save the demo's rules and base sources (idempotent); returns the governed resources' codes."""
    with transaction(factory) as session:
        codes = [_resource(session, name).code for name in RULES]
        if session.scalar(select(RuleSet.id).limit(1)) is not None:
            return codes
        for name, rules in RULES.items():
            code = _resource(session, name).code
            service.save_rules(
                session,
                ACTOR,
                code,
                RuleSetWrite(rules=service.parse_rules(rules), comment="演示城市初始规则"),
            )
        for base, name, key_item, attributes, constants, priority in SOURCES:
            data = BaseSourceWrite(
                base=base,
                resource=_resource(session, name).code,
                key_item=key_item,
                attributes=attributes,
                constants=constants,
                priority=priority,
            )
            service.save_base_source(session, ACTOR, data)
    return codes
