"""The demo city's public registers: the lists departments keep of places, institutions and licences —
地名, 养老机构, 医疗机构 and 医师, 学校, 应急避难场所, 定点医药机构, 纳税信用 A 级纳税人, 食品经营许可,
律师, 个体工商户 — exported as CSV files to the platform's inbox, some GBK-encoded, with the mess clerks
leave (credit codes in lower case or with spaces, dates in several spellings, a blank key now and then).
They are gathered and governed like every other source, and opened by ``demo/opendata.py``: most as they
are, the lawyers and doctors only as counts per firm or hospital, the individual businesses without their
owners and on application only.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stdnum.cn import uscc

if TYPE_CHECKING:
    from zhongtai.demo.sources import People

DISTRICTS = [
    ("340102", "瑶海区", 117.31, 31.86),
    ("340103", "庐阳区", 117.26, 31.88),
    ("340104", "蜀山区", 117.22, 31.85),
    ("340111", "包河区", 117.30, 31.79),
    ("340121", "长丰县", 117.17, 32.48),
    ("340122", "肥东县", 117.47, 31.89),
    ("340123", "肥西县", 117.16, 31.71),
    ("340181", "巢湖市", 117.87, 31.60),
]
Row = dict[str, Any]


@dataclass(frozen=True)
class Register:
    """One department's exported list: the catalog resource it fills, its file prefix and key column."""

    department: str
    system: str  # the department's information system the export comes from
    code: str  # the source's and job's code stem
    resource_name: str
    source_name: str
    prefix: str  # files are <prefix>_<date>.csv
    key: str  # the item that identifies a row
    headers: dict[str, str]  # item -> the file's column
    rows: Callable[[People], Iterator[Row]]
    encoding: str = "utf-8"


def credit(prefix: str, number: int) -> str:
    stem = f"{prefix}{number:0{17 - len(prefix)}d}"[:17]
    return stem + uscc.calc_check_digit(stem)


def _messy_credit(rng: random.Random, code: str) -> str:
    roll = rng.random()
    if roll < 0.03:
        return code.lower()
    if roll < 0.05:
        return f"{code[:8]} {code[8:]}"
    return code


def _messy_day(rng: random.Random, day: date) -> str:
    return rng.choice([f"{day:%Y-%m-%d}", f"{day:%Y/%m/%d}", f"{day.year}年{day.month}月{day.day}日"])


def _place(rng: random.Random, people: People) -> tuple[str, str, str, float, float]:
    """An address in a district: (division code, district, address, longitude, latitude)."""
    code, district, lon, lat = rng.choice(DISTRICTS)
    street = rng.choice(people.streets)
    address = f"安徽省庐州市{district}{street}{rng.randint(1, 400)}号"
    return (
        code,
        district,
        address,
        round(lon + rng.uniform(-0.06, 0.06), 6),
        round(lat + rng.uniform(-0.05, 0.05), 6),
    )


def place_names(people: People) -> Iterator[Row]:
    rng = random.Random(people.seed + 101)
    seen: set[str] = set()
    for _ in range(240):
        code, _district, address, lon, lat = _place(rng, people)
        if address in seen:
            continue
        seen.add(address)
        yield {"标准地址": address, "行政区划代码": code, "经度": lon, "纬度": lat}


def elderly_homes(people: People) -> Iterator[Row]:
    rng = random.Random(people.seed + 102)
    for n in range(1, 61):
        _code, district, address, _lon, _lat = _place(rng, people)
        kind = rng.choice(["颐养院", "老年公寓", "敬老院", "养老服务中心"])
        yield {
            "单位名称": f"庐州市{district}{rng.choice(people.streets)}{kind}",
            "统一社会信用代码": _messy_credit(rng, credit("52340100", n)),
            "住所": address,
            "许可证号": f"皖民养证{2018 + n % 7}第{n:04d}号",
        }


HOSPITALS = [
    "庐州市第一人民医院", "庐州市第二人民医院", "庐州市中医院", "庐州市妇幼保健院", "庐州市儿童医院",
    "庐州市口腔医院", "庐州市传染病医院", "蜀山区社区卫生服务中心", "包河区人民医院", "瑶海区人民医院",
    "长丰县人民医院", "肥东县人民医院", "肥西县人民医院", "巢湖市人民医院", "庐阳区仁和诊所",
]  # fmt: skip


def hospitals(people: People) -> Iterator[Row]:
    rng = random.Random(people.seed + 103)
    for n, name in enumerate(HOSPITALS, start=1):
        yield {
            "单位名称": name,
            "统一社会信用代码": _messy_credit(rng, credit("12340100", n)),
            "许可证号": f"PDY{n:05d}34010017A1001",
            "有效期至": _messy_day(rng, date(2027, 1, 1) + timedelta(days=rng.randint(0, 1500))),
        }


def doctors(people: People) -> Iterator[Row]:
    """医师执业注册: the big hospitals have hundreds, a clinic a handful (its count is withheld)."""
    rng = random.Random(people.seed + 104)
    weights = [9, 7, 5, 4, 4, 2, 2, 2, 3, 3, 2, 2, 2, 2, 0.05]
    for n in range(1, 1201):
        yield {
            "姓名": rng.choice(people.names),
            "证照编号": f"1103401{n:08d}",
            "单位名称": rng.choices(HOSPITALS, weights)[0],
        }


def schools(people: People) -> Iterator[Row]:
    rng = random.Random(people.seed + 105)
    kinds = ["小学"] * 5 + ["初级中学"] * 2 + ["高级中学", "幼儿园", "幼儿园", "职业技术学校"]
    for n in range(1, 131):
        _code, district, address, _lon, _lat = _place(rng, people)
        yield {
            "学校名称": f"庐州市{district}第{n}{rng.choice(kinds)}"
            if n % 3
            else f"庐州市{rng.choice(people.streets)}小学",
            "统一社会信用代码": _messy_credit(rng, credit("12340100", 1000 + n)),
            "住所": address,
        }


def shelters(people: People) -> Iterator[Row]:
    rng = random.Random(people.seed + 106)
    for _ in range(50):
        _code, district, address, lon, lat = _place(rng, people)
        kind = rng.choice(["公园", "广场", "体育场", "中学操场"])
        yield {
            "单位名称": f"{district}{rng.choice(people.streets)}{kind}应急避难场所",
            "标准地址": address,
            "经度": lon,
            "纬度": lat,
        }


def pharmacies(people: People) -> Iterator[Row]:
    rng = random.Random(people.seed + 107)
    for n in range(1, 161):
        _code, district, address, _lon, _lat = _place(rng, people)
        brand = rng.choice(["国胜大药房", "百姓缘大药房", "益丰大药房", "社区卫生服务站", "诊所"])
        yield {
            "单位名称": f"{district}{rng.choice(people.streets)}{brand}",
            "统一社会信用代码": _messy_credit(rng, credit("91340100", 50_000 + n)),
            "住所": address,
        }


def _registered(people: People) -> Iterator[tuple[str, str]]:
    """The enterprise registry's credit codes and names, the way ``sources._enterprises`` makes them."""
    from zhongtai.demo.sources import enterprise_rows

    for row in enterprise_rows(people):
        yield str(row[0]), str(row[1])


def taxpayers(people: People) -> Iterator[Row]:
    """纳税信用 A 级纳税人名单: a fifth of the registered enterprises."""
    rng = random.Random(people.seed + 108)
    for code, name in _registered(people):
        if rng.random() < 0.2:
            yield {
                "纳税人识别号": _messy_credit(rng, code),
                "企业名称": name,
                "纳税信用等级": rng.choice("AAAAB"),
            }


def food_licences(people: People) -> Iterator[Row]:
    rng = random.Random(people.seed + 109)
    scopes = [
        "预包装食品销售",
        "热食类食品制售",
        "冷食类食品制售",
        "保健食品销售",
        "特殊医学用途配方食品销售",
    ]
    for n, (code, name) in enumerate(_registered(people), start=1):
        if rng.random() < 0.15:
            yield {
                "企业名称": name,
                "统一社会信用代码": _messy_credit(rng, code),
                "许可证号": f"JY{rng.choice(DISTRICTS)[0]}{n:08d}",
                "许可范围": rng.choice(scopes),
                "有效期至": _messy_day(rng, date(2026, 1, 1) + timedelta(days=rng.randint(0, 1800))),
            }


FIRM_WORDS = "承义 天禾 徽商 庐州 明镜 大成 金亚太 华人 卓泰 淮河 同力 正和 众城"
LAW_FIRMS = [f"安徽{word}律师事务所" for word in FIRM_WORDS.split()]


def lawyers(people: People) -> Iterator[Row]:
    rng = random.Random(people.seed + 110)
    weights = [30, 24, 18, 12, 10, 8, 6, 4, 3, 2, 1, 1, 0.5]
    for n in range(1, 421):
        yield {
            "姓名": rng.choice(people.names),
            "证照编号": f"13401{2005 + n % 20}1{n:07d}",
            "单位名称": rng.choices(LAW_FIRMS, weights)[0],
        }


def individual_businesses(people: People) -> Iterator[Row]:
    """个体工商户: the owner is the business (its credit code starts 92, its name often the owner's)."""
    rng = random.Random(people.seed + 111)
    trades = ["便利店", "面馆", "水果店", "理发店", "五金店", "早餐店", "汽车修理部", "副食店", "小吃店"]
    for n in range(1, max(60, people.count // 100) + 1):
        owner = people.person(rng.randint(1, people.count))
        _code, district, address, _lon, _lat = _place(rng, people)
        yield {
            "企业名称": f"{district}{owner.name[0]}记{rng.choice(trades)}",
            "统一社会信用代码": credit("92340100", n),
            "法定代表人": owner.name,
            "法定代表人身份号码": owner.id_number,
            "住所": address,
        }


REGISTERS: list[Register] = [
    Register(
        "MZJ",
        "MZJ-DMDZ",
        "MZJ-DMXX",
        "地名信息",
        "地名地址库导出(文件)",
        "dmxx",
        "标准地址",
        {"标准地址": "标准地址", "行政区划代码": "行政区划代码", "经度": "经度", "纬度": "纬度"},
        place_names,
    ),
    Register(
        "MZJ",
        "MZJ-YLFW",
        "MZJ-YLJG",
        "养老机构信息",
        "养老机构备案导出(文件)",
        "yljg",
        "统一社会信用代码",
        {
            "单位名称": "机构名称",
            "统一社会信用代码": "统一社会信用代码",
            "住所": "地址",
            "许可证号": "备案编号",
        },
        elderly_homes,
        "gbk",
    ),
    Register(
        "WJW",
        "WJW-YZGL",
        "WJW-YLJG",
        "医疗机构执业许可信息",
        "医疗机构执业登记导出(文件)",
        "yljgzy",
        "统一社会信用代码",
        {
            "单位名称": "机构名称",
            "统一社会信用代码": "统一社会信用代码",
            "许可证号": "登记号",
            "有效期至": "有效期至",
        },
        hospitals,
    ),
    Register(
        "WJW",
        "WJW-YZGL",
        "WJW-YSZC",
        "医师执业注册信息",
        "医师执业注册导出(文件)",
        "yszc",
        "证照编号",
        {"姓名": "姓名", "证照编号": "执业证书编码", "单位名称": "执业机构"},
        doctors,
    ),
    Register(
        "JYJ",
        "JYJ-XJ",
        "JYJ-XX",
        "学校基本信息",
        "学校名录导出(文件)",
        "xxml",
        "统一社会信用代码",
        {"学校名称": "学校名称", "统一社会信用代码": "统一社会信用代码", "住所": "学校地址"},
        schools,
        "gbk",
    ),
    Register(
        "YJJ",
        "YJJ-AQSC",
        "YJJ-BNCS",
        "应急避难场所信息",
        "应急避难场所台账(文件)",
        "bncs",
        "单位名称",
        {"单位名称": "场所名称", "标准地址": "地址", "经度": "经度", "纬度": "纬度"},
        shelters,
    ),
    Register(
        "YBJ",
        "YBJ-YBJS",
        "YBJ-DDJG",
        "定点医药机构信息",
        "定点医药机构名单(文件)",
        "ddjg",
        "统一社会信用代码",
        {"单位名称": "机构名称", "统一社会信用代码": "统一社会信用代码", "住所": "地址"},
        pharmacies,
    ),
    Register(
        "SWJ",
        "SWJ-JS",
        "SWJ-NSXY",
        "纳税信用等级信息",
        "纳税信用评价结果(文件)",
        "nsxy",
        "纳税人识别号",
        {"纳税人识别号": "纳税人识别号", "企业名称": "纳税人名称", "纳税信用等级": "评价结果"},
        taxpayers,
    ),
    Register(
        "SCJGJ",
        "SCJGJ-XYGS",
        "SCJGJ-SPJY",
        "食品经营许可证信息",
        "食品经营许可导出(文件)",
        "spjy",
        "许可证号",
        {
            "企业名称": "经营者名称",
            "统一社会信用代码": "社会信用代码",
            "许可证号": "许可证编号",
            "许可范围": "经营项目",
            "有效期至": "有效期至",
        },
        food_licences,
    ),
    Register(
        "SFJ",
        "SFJ-LSGL",
        "SFJ-LSZY",
        "律师执业信息",
        "律师执业管理系统导出(文件)",
        "lszy",
        "证照编号",
        {"姓名": "姓名", "证照编号": "执业证号", "单位名称": "执业机构"},
        lawyers,
    ),
    Register(
        "SCJGJ",
        "SCJGJ-QYDJ",
        "SCJGJ-GTH",
        "个体工商户登记信息",
        "个体工商户登记导出(文件)",
        "gtgsh",
        "统一社会信用代码",
        {
            "企业名称": "字号名称",
            "统一社会信用代码": "统一社会信用代码",
            "法定代表人": "经营者",
            "法定代表人身份号码": "经营者身份证号",
            "住所": "经营场所",
        },
        individual_businesses,
    ),
]


def write(register: Register, people: People, inbox: Path) -> int:
    """The register's export, one file dated today (a blank key now and then, as exports have)."""
    inbox.mkdir(parents=True, exist_ok=True)
    rng = random.Random(people.seed + len(register.prefix))
    path = inbox / f"{register.prefix}_{date.today():%Y%m%d}.csv"
    count = 0
    with path.open("w", encoding=register.encoding, errors="replace", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(list(register.headers.values()))
        for row in register.rows(people):
            if rng.random() < 0.01:
                row = {**row, register.key: ""}  # rejected by the key's required rule
            writer.writerow(["" if row.get(item) is None else row.get(item) for item in register.headers])
            count += 1
    return count
