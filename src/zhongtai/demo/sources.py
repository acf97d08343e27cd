"""Simulated department systems for the demo city, with the mess real government data has.

Six departments keep their own data the way they really do: public security's household registry and
civil affairs' marriage registry and market regulation's enterprise registry in their own databases,
health's test results as daily GBK-encoded CSV exports, real-estate registration as XLSX workbooks and
social security as JSON Lines. The same people and enterprises appear in several of them, sometimes with
conflicting values; ID numbers come 15-digit, with a lowercase x or in full-width digits; dates come in
every spelling. Everything is generated from the seed, streamed in batches, so ``--persons`` can be 10
million without holding them in memory.
"""

from __future__ import annotations

import csv
import json
import random
import sqlite3
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from faker import Faker
from rich.console import Console
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from stdnum.cn import ric, uscc

from zhongtai.catalog.models import Resource
from zhongtai.core.database import transaction
from zhongtai.core.principal import platform_actor
from zhongtai.core.settings import Settings
from zhongtai.demo import registers
from zhongtai.ingest import service
from zhongtai.ingest.models import Source, SourceKind
from zhongtai.ingest.schemas import JobCreate, SourceCreate

DISTRICTS = [
    ("340102", "瑶海区"),
    ("340103", "庐阳区"),
    ("340104", "蜀山区"),
    ("340111", "包河区"),
    ("340121", "长丰县"),
    ("340122", "肥东县"),
    ("340123", "肥西县"),
    ("340181", "巢湖市"),
]
OLD_DISTRICTS = ["340101", "340112"]  # abolished codes still printed on old ID cards
ETHNICITIES = ["汉族"] * 40 + ["回族", "满族", "蒙古族", "壮族", "维吾尔族", "苗族", "土家族"]
MINORITY_NAMES = ["阿依古丽·买买提", "艾力·吐尔逊", "古丽娜尔·阿不都", "买买提·艾山"]
HOMOPHONES = {"伟": "玮", "芳": "方", "静": "婧", "明": "铭", "华": "骅", "丽": "莉", "军": "君", "杰": "洁"}
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
ACTOR = platform_actor("demo", "demo city builder")
BATCH = 50_000
START = datetime(2020, 1, 1, 8, 0, 0)
HOUSEHOLD = 3  # residents numbered together share a household (户): parents, children, grandparents


@dataclass
class Person:
    number: int
    name: str
    id_number: str  # as public security holds it (correct, 18 digits)
    gender: str
    ethnicity: str
    birth: date
    district: str
    address: str
    phone: str | None
    household: str  # 户号: residents of one household share it and its address


class People:
    """The city's residents, made the same way every time from the seed."""

    def __init__(self, seed: int, count: int) -> None:
        self.seed = seed
        self.count = count
        faker = Faker("zh_CN")
        faker.seed_instance(seed)
        self.names = [faker.name() for _ in range(3000)]
        self.streets = [faker.street_name() for _ in range(600)]
        self.companies = [faker.company() for _ in range(3000)]

    def person(self, number: int) -> Person:
        rng = random.Random(self.seed * 1_000_003 + number)
        birth = date(1940, 1, 1) + timedelta(days=rng.randint(0, 29_200))
        district_code, district = rng.choice(DISTRICTS)
        male = rng.random() < 0.51
        serial = rng.randint(0, 499) * 2 + (1 if male else 0)
        stem = f"{district_code}{birth:%Y%m%d}{serial:03d}"
        name = rng.choice(MINORITY_NAMES) if rng.random() < 0.004 else rng.choice(self.names)
        street = rng.choice(self.streets)
        address = f"安徽省庐州市{district}{street}{rng.randint(1, 999)}号{rng.randint(1, 30)}栋"
        phone = None if rng.random() < 0.1 else f"1{rng.choice('3578')}{rng.randint(0, 999_999_999):09d}"
        head = number - (number - 1) % HOUSEHOLD
        if head != number:  # a household lives at its head's address, registered in its district
            first = self.person(head)
            district, address = first.district, first.address
        else:
            district = district_code
        return Person(
            number=number,
            name=name,
            id_number=stem + ric.calc_check_digit(stem + "0"),  # the function skips the last character
            gender="男" if male else "女",
            ethnicity=rng.choice(ETHNICITIES),
            birth=birth,
            district=district,
            address=address,
            phone=phone,
            household=f"{district}{head:010d}",
        )

    def each(self) -> Iterator[Person]:
        for number in range(1, self.count + 1):
            yield self.person(number)


# --- the mess ----------------------------------------------------------------------------------------


def messy_id(rng: random.Random, id_number: str) -> str:
    roll = rng.random()
    if roll < 0.02 and id_number[6:8] == "19":  # first-generation card: 15 digits, no century or check
        return id_number[:6] + id_number[8:17]
    if roll < 0.03:
        return id_number.translate(FULL_WIDTH)
    if roll < 0.034:
        return mistyped(rng, id_number)
    if id_number.endswith("X") and roll < 0.4:
        return id_number[:-1] + "x"
    return id_number


def mistyped(rng: random.Random, id_number: str) -> str:
    """One digit keyed wrong: the check digit no longer fits; only probabilistic matching finds the person."""
    position = rng.randrange(17)
    digit = str((int(id_number[position]) + rng.randint(1, 9)) % 10)
    return id_number[:position] + digit + id_number[position + 1 :]


def messy_date(rng: random.Random, day: date) -> str | None:
    roll = rng.random()
    if roll < 0.02:
        return None
    if roll < 0.12:
        return f"{day.year}/{day.month}/{day.day}"
    if roll < 0.22:
        return f"{day:%Y%m%d}"
    if roll < 0.30:
        return f"{day.year}年{day.month}月{day.day}日"
    if roll < 0.305:
        return "不详"  # what a clerk typed: rejected by the date conversion, with its reason
    return day.isoformat()


def messy_name(rng: random.Random, name: str) -> str:
    roll = rng.random()
    if roll < 0.015:
        return f" {name}"
    if roll < 0.025 and len(name) == 2:
        return f"{name[0]} {name[1]}"
    return name


def variant_name(rng: random.Random, name: str) -> str:
    """The same person as another department wrote the name: sometimes a homophone slipped in."""
    if rng.random() < 0.03:
        for original, other in HOMOPHONES.items():
            if original in name:
                return name.replace(original, other, 1)
    return messy_name(rng, name)


def slipped_birth(rng: random.Random, birth: date) -> date:
    """A birth date as another department keyed it: now and then a day off (a cross-department conflict)."""
    return birth + timedelta(days=rng.choice([-1, 1])) if rng.random() < 0.004 else birth


def stamp(rng: random.Random) -> str:
    return (START + timedelta(seconds=rng.randint(0, 86_400 * 900))).strftime("%Y-%m-%d %H:%M:%S")


# --- department systems ------------------------------------------------------------------------------


def _database(path: Path, ddl: str, insert: str, rows: Iterator[tuple[Any, ...]]) -> int:
    path.unlink(missing_ok=True)
    count = 0
    with sqlite3.connect(path) as connection:
        connection.execute(ddl)
        batch: list[tuple[Any, ...]] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= BATCH:
                connection.executemany(insert, batch)
                count += len(batch)
                batch = []
        connection.executemany(insert, batch)
        count += len(batch)
    return count


def household_registry(people: People, folder: Path) -> int:
    """公安 常住人口: one row per resident, in the registry's own pinyin-initial column names."""

    def rows() -> Iterator[tuple[Any, ...]]:
        for p in people.each():
            rng = random.Random(p.number)
            gender = p.gender if rng.random() < 0.7 else ("1" if p.gender == "男" else "2")
            district = p.district if rng.random() > 0.01 else rng.choice(OLD_DISTRICTS)
            yield (
                p.number,
                messy_name(rng, p.name),
                messy_id(rng, p.id_number),
                gender,
                p.ethnicity,
                messy_date(rng, p.birth),
                p.address,
                district,
                p.phone,
                stamp(rng),
                p.household,
            )

    return _database(
        folder / "gaj_rkxt.db",
        "CREATE TABLE t_rk_jbxx (rybh INTEGER PRIMARY KEY, xm TEXT, gmsfhm TEXT, xb TEXT, mz TEXT, "
        "csrq TEXT, hjdz TEXT, xzqh TEXT, lxdh TEXT, gxsj TEXT, hh TEXT)",
        "INSERT INTO t_rk_jbxx VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows(),
    )


def marriage_registry(people: People, folder: Path) -> int:
    """民政 结婚登记: couples drawn from the residents; names as the civil affairs clerk typed them."""

    def rows() -> Iterator[tuple[Any, ...]]:
        rng = random.Random(people.seed + 1)
        for number in range(1, max(2, people.count // 10) + 1):
            husband = people.person(rng.randint(1, people.count))
            wife = people.person(rng.randint(1, people.count))
            day = date(2000, 1, 1) + timedelta(days=rng.randint(0, 8_000))
            yield (
                f"J340100-{day.year}-{number:06d}",
                variant_name(rng, husband.name),
                messy_id(rng, husband.id_number),
                variant_name(rng, wife.name),
                messy_id(rng, wife.id_number),
                messy_date(rng, day),
                stamp(rng),
            )

    return _database(
        folder / "mzj_hydj.db",
        "CREATE TABLE hy_jhdj (zsbh TEXT PRIMARY KEY, nf_xm TEXT, nf_sfzh TEXT, nv_xm TEXT, nv_sfzh TEXT, "
        "djrq TEXT, update_time TEXT)",
        "INSERT INTO hy_jhdj VALUES (?, ?, ?, ?, ?, ?, ?)",
        rows(),
    )


def enterprise_rows(people: People) -> Iterator[tuple[Any, ...]]:
    """市场监管 企业登记's rows: capital sometimes written with its unit, as clerks do (rejected as not a
    number), the legal representative's name and ID number as messy as elsewhere."""
    return (row for row, _boss in _enterprises(people))


def _enterprises(people: People) -> Iterator[tuple[tuple[Any, ...], Person]]:
    rng = random.Random(people.seed + 2)
    for number in range(1, max(2, people.count // 20) + 1):
        stem = f"91340100{number:09d}"[:17]
        code = stem + uscc.calc_check_digit(stem)
        boss = people.person(rng.randint(1, people.count))
        capital = rng.choice([50, 100, 200, 500, 1000, 3000])
        written = f"{capital}万元" if rng.random() < 0.02 else str(capital * 10_000)
        yield (
            (
                code,
                rng.choice(people.companies),
                variant_name(rng, boss.name),
                messy_id(rng, boss.id_number),
                rng.choice(["有限责任公司", "股份有限公司", "个人独资企业", "合伙企业"]),
                written,
                messy_date(rng, date(1995, 1, 1) + timedelta(days=rng.randint(0, 10_000))),
                boss.address.replace("栋", "号楼"),
                "批发和零售业;技术服务",
                "庐州市市场监督管理局",
                boss.phone,  # the registered contact mobile (the legal representative's)
                stamp(rng),
            ),
            boss,
        )


@dataclass(frozen=True)
class DemoEnterprise:
    credit_code: str
    name: str
    representative: str
    representative_id: str
    mobile: str


def demo_enterprise(seed: int, persons: int) -> DemoEnterprise | None:
    """The first enterprise whose registry row is clean (it signs in on the public side in the demo)."""
    found = demo_enterprises(seed, persons, 1)
    return found[0] if found else None


def demo_enterprises(seed: int, persons: int, count: int) -> list[DemoEnterprise]:
    """The first ``count`` enterprises whose registry rows are clean, in registry order."""
    found = []
    for row, boss in _enterprises(People(seed, persons)):
        code, name, written_name, written_id, _, capital, *_, mobile, _ = row
        clean = written_name == boss.name and written_id == boss.id_number and capital.isdigit()
        if clean and mobile:
            found.append(DemoEnterprise(code, name, boss.name, boss.id_number, mobile))
            if len(found) == count:
                break
    return found


def enterprise_registry(people: People, folder: Path) -> int:
    """市场监管 企业登记: a registry database (``enterprise_rows``)."""
    return _database(
        folder / "scjgj_qydj.db",
        "CREATE TABLE qy_jbxx (tyshxydm TEXT PRIMARY KEY, qymc TEXT, fddbr TEXT, fddbr_zjhm TEXT, qylx TEXT, "
        "zczb TEXT, clrq TEXT, zs TEXT, jyfw TEXT, djjg TEXT, lxdh TEXT, gxsj TEXT)",
        "INSERT INTO qy_jbxx VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        enterprise_rows(people),
    )


def health_results(people: People, inbox: Path) -> int:
    """卫健 核酸检测: the lab system's daily exports of the last five days, GBK-encoded CSV with Chinese
    headers; the demo's positive residents tested positive on the last day (their codes turn red)."""
    inbox.mkdir(parents=True, exist_ok=True)
    rng = random.Random(people.seed + 3)
    total = max(3, people.count * 3 // 10)
    days = 5
    count = 0
    first = date.today() - timedelta(days=days)
    for day_index in range(days):
        day = first + timedelta(days=day_index)
        path = inbox / f"hsjc_{day:%Y%m%d}.csv"
        with path.open("w", encoding="gbk", errors="replace", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["样本编号", "姓名", "身份证号", "采样时间", "检测结果", "检测机构"])
            for _ in range(total // days):
                count += 1
                p = people.person(rng.randint(1, people.count))
                taken = datetime.combine(day, datetime.min.time()) + timedelta(minutes=rng.randint(420, 1200))
                when = (
                    taken.strftime("%Y/%m/%d %H:%M")
                    if rng.random() < 0.3
                    else taken.strftime("%Y-%m-%d %H:%M:%S")
                )
                writer.writerow(
                    [
                        f"HS{day:%Y%m%d}{count:08d}",
                        variant_name(rng, p.name),
                        messy_id(rng, p.id_number),
                        when,
                        "阴性" if rng.random() > 0.0005 else "阳性",
                        rng.choice(["庐州市第一人民医院", "庐州市疾控中心", "蜀山区社区卫生服务中心"]),
                    ]
                )
            if day_index == days - 1:
                count = _positive_residents(people, writer, day, count)
    return count


POSITIVE_RESIDENTS = (4, 7)  # demo residents whose last test was positive (see demo/healthcode.py)


def _positive_residents(people: People, writer: Any, day: date, count: int) -> int:
    for number in POSITIVE_RESIDENTS:
        if number <= people.count:
            count += 1
            p = people.person(number)
            taken = datetime.combine(day, datetime.min.time()) + timedelta(hours=9, minutes=number)
            writer.writerow(
                [f"HS{day:%Y%m%d}{count:08d}", p.name, p.id_number, f"{taken:%Y-%m-%d %H:%M:%S}", "阳性",
                 "庐州市疾控中心"]
            )  # fmt: skip
    return count


def real_estate_register(people: People, inbox: Path) -> int:
    """不动产登记: monthly XLSX workbooks (at most 200,000 rows each, well under Excel's limit)."""
    from openpyxl import Workbook

    inbox.mkdir(parents=True, exist_ok=True)
    rng = random.Random(people.seed + 4)
    total = max(2, people.count // 4)
    per_book = 200_000
    for book_index, start in enumerate(range(0, total, per_book)):
        book = Workbook(write_only=True)
        sheet = book.create_sheet("登记簿")
        sheet.append(
            ["不动产单元号", "不动产权证号", "权利人", "权利人证件号", "房屋坐落", "建筑面积", "规划用途"]
        )
        for number in range(start, min(total, start + per_book)):
            owner = people.person(rng.randint(1, people.count))
            area = round(rng.uniform(45, 180), 2)
            sheet.append(
                [
                    f"340104{number:09d}GB{number % 100000:05d}F0001",
                    f"皖(2021)庐州市不动产权第{number:07d}号",
                    variant_name(rng, owner.name),
                    messy_id(rng, owner.id_number),
                    owner.address,
                    f"{area}㎡" if rng.random() < 0.01 else area,
                    rng.choice(["住宅", "商业", "办公"]),
                ]
            )
        book.save(inbox / f"bdcdj_2021{book_index + 1:02d}.xlsx")
    return total


# 国民经济行业分类 (GB/T 4754-2017) sections an employer is filed under in social insurance records.
INDUSTRIES = [
    "制造业", "批发和零售业", "建筑业", "住宿和餐饮业", "交通运输、仓储和邮政业", "信息技术服务业",
    "金融业", "房地产业", "租赁和商务服务业", "教育", "卫生和社会工作", "公共管理和社会组织",
]  # fmt: skip


def industry_of(employer: str) -> str:
    """The industry an employer is filed under: the same for every record naming it."""
    return INDUSTRIES[zlib.crc32(employer.encode()) % len(INDUSTRIES)]


RESUMING = 4  # the first clean enterprises of the registry employ many of the insured (resumption demo)


def insured_rows(people: People) -> Iterator[tuple[dict[str, str], Person]]:
    """人社 社会保险参保's records as pushed, each with the person it is about. About 40 of the insured work
    for each of the registry's first clean enterprises (at most half of all: their resumption applications
    have staff to import); the others for firms of every name."""
    rng = random.Random(people.seed + 5)
    employer = random.Random(people.seed + 50)  # its own stream: the records' other values stay as they were
    resuming = [firm.name for firm in demo_enterprises(people.seed, people.count, RESUMING)]
    total = max(2, people.count * 4 // 10)
    share = min(0.5, RESUMING * 40 / total)
    for number in range(1, total + 1):
        p = people.person(rng.randint(1, people.count))
        record = {
            "cbbh": f"SB{number:010d}",
            "xm": variant_name(rng, p.name),
            "sfzh": messy_id(rng, p.id_number),
            "csrq": slipped_birth(rng, p.birth).isoformat(),
            "dwmc": rng.choice(people.companies),
            "xz": rng.choice(["企业职工基本养老保险", "失业保险", "工伤保险"]),
            "zt": rng.choice(["正常参保", "正常参保", "正常参保", "暂停缴费", "终止参保"]),
        }
        if resuming and employer.random() < share:
            record["dwmc"] = employer.choice(resuming)
        record["hy"] = industry_of(record["dwmc"])
        yield record, p


def social_insurance(people: People, inbox: Path) -> int:
    """人社 社会保险参保: JSON Lines pushed by the provincial system, one object per insured person."""
    inbox.mkdir(parents=True, exist_ok=True)
    total = 0
    with (inbox / "sbcb_202111.jsonl").open("w", encoding="utf-8") as handle:
        for record, _person in insured_rows(people):
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            total += 1
        handle.write("{truncated line from an interrupted push\n")  # rejected with its reason
    return total + 1


# --- sources and jobs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoJob:
    department: str
    system: str
    source_code: str
    source_name: str
    kind: str
    options: dict[str, Any]
    resource_name: str
    job: dict[str, Any]
    make: Callable[[People, Path], int]
    folder: str  # "sources" (database files) or "inbox"


def _mapping(**pairs: str) -> list[dict[str, Any]]:
    return [{"item": item, "source": column} for item, column in pairs.items()]


DEMO_JOBS = [
    DemoJob(
        "GAJ",
        "GAJ-RKXT",
        "GAJ-RKXT-DB",
        "常住人口库(前置库)",
        "database",
        {"url": "sqlite:///gaj_rkxt.db"},
        "常住人口基本信息",
        {
            "code": "GAJ-RK-JBXX",
            "name": "常住人口基本信息归集",
            "object_kind": "table",
            "source_object": "t_rk_jbxx",
            "key_columns": ["rybh"],
            "mode": "incremental",
            "watermark_column": "gxsj",
            "schedule": "*/2 * * * *",
            "mapping": _mapping(
                姓名="xm",
                公民身份号码="gmsfhm",
                性别="xb",
                民族="mz",
                出生日期="csrq",
                户籍地址="hjdz",
                行政区划代码="xzqh",
                联系电话="lxdh",
                户号="hh",
            ),
        },
        household_registry,
        "sources",
    ),
    DemoJob(
        "MZJ",
        "MZJ-HYDJ",
        "MZJ-HYDJ-DB",
        "婚姻登记库",
        "database",
        {"url": "sqlite:///mzj_hydj.db"},
        "结婚登记信息",
        {
            "code": "MZJ-JHDJ",
            "name": "结婚登记信息归集",
            "object_kind": "query",
            "source_object": "SELECT zsbh, nf_xm, nf_sfzh, nv_xm, nv_sfzh, djrq, update_time FROM hy_jhdj",
            "key_columns": ["zsbh"],
            "mode": "incremental",
            "watermark_column": "update_time",
            "schedule": "*/5 * * * *",
            "mapping": _mapping(
                证照编号="zsbh",
                姓名="nf_xm",
                公民身份号码="nf_sfzh",
                配偶姓名="nv_xm",
                配偶身份号码="nv_sfzh",
                登记日期="djrq",
            ),
        },
        marriage_registry,
        "sources",
    ),
    DemoJob(
        "SCJGJ",
        "SCJGJ-QYDJ",
        "SCJGJ-QYDJ-DB",
        "企业登记库",
        "database",
        {"url": "sqlite:///scjgj_qydj.db"},
        "企业登记基本信息",
        {
            "code": "SCJGJ-QY-JBXX",
            "name": "企业登记基本信息归集",
            "object_kind": "table",
            "source_object": "qy_jbxx",
            "key_columns": ["tyshxydm"],
            "mode": "full",
            "schedule": "0 * * * *",
            "mapping": _mapping(
                统一社会信用代码="tyshxydm",
                企业名称="qymc",
                法定代表人="fddbr",
                企业类型="qylx",
                注册资本="zczb",
                成立日期="clrq",
                住所="zs",
                经营范围="jyfw",
                登记机关="djjg",
                法定代表人身份号码="fddbr_zjhm",
                联系电话="lxdh",
            ),
        },
        enterprise_registry,
        "sources",
    ),
    DemoJob(
        "WJW",
        "WJW-HSJC",
        "WJW-HSJC-FILES",
        "核酸检测日报(文件)",
        "file",
        {"format": "csv", "encoding": "auto"},
        "核酸检测结果信息",
        {
            "code": "WJW-HSJC",
            "name": "核酸检测结果归集",
            "object_kind": "files",
            "source_object": "hsjc_*.csv",
            "key_columns": ["样本编号"],
            "mode": "incremental",
            "schedule": "*/3 * * * *",
            "mapping": _mapping(
                样本编号="样本编号",
                姓名="姓名",
                公民身份号码="身份证号",
                采样时间="采样时间",
                检测结果="检测结果",
                检测机构="检测机构",
            ),
        },
        health_results,
        "inbox",
    ),
    DemoJob(
        "ZRZYJ",
        "ZRZYJ-BDC",
        "ZRZYJ-BDC-FILES",
        "不动产登记簿(文件)",
        "file",
        {"format": "xlsx"},
        "不动产登记信息",
        {
            "code": "ZRZYJ-BDCDJ",
            "name": "不动产登记信息归集",
            "object_kind": "files",
            "source_object": "*.xlsx",
            "key_columns": ["不动产单元号"],
            "mode": "incremental",
            "schedule": "*/10 * * * *",
            "mapping": _mapping(
                不动产单元号="不动产单元号",
                不动产权证号="不动产权证号",
                权利人="权利人",
                权利人证件号码="权利人证件号",
                房屋坐落="房屋坐落",
                建筑面积="建筑面积",
                规划用途="规划用途",
            ),
        },
        real_estate_register,
        "inbox",
    ),
    DemoJob(
        "RSJ",
        "RSJ-SB",
        "RSJ-SB-FILES",
        "社保参保推送(文件)",
        "file",
        {"format": "jsonl"},
        "社会保险参保信息",
        {
            "code": "RSJ-SBCB",
            "name": "社会保险参保信息归集",
            "object_kind": "files",
            "source_object": "*.jsonl",
            "key_columns": ["cbbh"],
            "mode": "incremental",
            "schedule": "*/5 * * * *",
            "mapping": _mapping(
                姓名="xm",
                公民身份号码="sfzh",
                出生日期="csrq",
                单位名称="dwmc",
                所属行业="hy",
                参保险种="xz",
                参保状态="zt",
            ),
        },
        social_insurance,
        "inbox",
    ),
]


def _register_job(register: registers.Register) -> DemoJob:
    """A public register's export, gathered from the department's inbox folder like any file source."""
    return DemoJob(
        register.department,
        register.system,
        f"{register.code}-FILES",
        register.source_name,
        "file",
        {"format": "csv", "encoding": "auto"},
        register.resource_name,
        {
            "code": register.code,
            "name": f"{register.resource_name}归集",
            "object_kind": "files",
            "source_object": f"{register.prefix}_*.csv",
            "key_columns": [register.headers[register.key]],
            "mode": "incremental",
            "schedule": "7 * * * *",
            "mapping": [{"item": item, "source": column} for item, column in register.headers.items()],
        },
        lambda people, inbox: registers.write(register, people, inbox),
        "inbox",
    )


DEMO_JOBS += [_register_job(register) for register in registers.REGISTERS]


def build_demo_sources(
    factory: sessionmaker[Session],
    settings: Settings,
    seed: int,
    persons: int,
    console: Console | None = None,
) -> list[str]:
    """Generate the department systems' data and register their sources and jobs; returns the job codes.

    Idempotent: on a city whose sources exist already it changes nothing.
    """
    console = console or Console(quiet=True)
    with transaction(factory) as session:
        if session.scalar(select(Source.id).where(Source.code == DEMO_JOBS[0].source_code)) is not None:
            return [demo.job["code"] for demo in DEMO_JOBS]
    people = People(seed, persons)
    for demo in DEMO_JOBS:
        folder = (
            settings.resolved_sources_dir
            if demo.folder == "sources"
            else settings.resolved_inbox_dir / demo.source_code
        )
        folder.mkdir(parents=True, exist_ok=True)
        if demo.folder == "inbox":  # the demo's own inbox: files from an earlier, reset build go
            for old in folder.iterdir():
                if old.is_file():
                    old.unlink()
        with console.status(f"{demo.department}: generating {demo.source_name}"):
            rows = demo.make(people, folder)
        console.print(f"  {demo.source_name}: {rows:,} rows")
    with transaction(factory) as session:
        for demo in DEMO_JOBS:
            _register(session, settings, demo)
    return [demo.job["code"] for demo in DEMO_JOBS]


def _register(session: Session, settings: Settings, demo: DemoJob) -> None:
    service.create_source(
        session,
        settings,
        ACTOR,
        SourceCreate(
            code=demo.source_code,
            name=demo.source_name,
            system=demo.system,
            kind=SourceKind(demo.kind),
            options=demo.options,
        ),
    )
    resource = session.scalars(
        select(Resource).where(Resource.name == demo.resource_name).order_by(Resource.id)
    ).first()
    assert resource is not None, demo.resource_name
    service.create_job(
        session,
        ACTOR,
        JobCreate.model_validate({**demo.job, "source": demo.source_code, "resource": resource.code}),
    )


ACTIVITY_MARKER = ".demo-activity"


def department_activity(settings: Settings, seed: int = 2020, births: int = 20, changes: int = 10) -> int:
    """One minute of life at the household registry: new residents registered, a few records corrected.

    The demo's scheduled incremental jobs then gather just these rows. Runs only in a demo data folder
    (marked when the demo is built), so a real deployment's sources are never touched.
    """
    folder = settings.resolved_sources_dir
    registry = folder / "gaj_rkxt.db"
    if not (folder / ACTIVITY_MARKER).exists() or not registry.exists():
        return 0
    now = datetime.now().strftime("%Y-%m-%d %H:%M:%S")  # the registry keeps local time
    with sqlite3.connect(registry, timeout=30) as connection:
        highest = connection.execute("SELECT max(rybh) FROM t_rk_jbxx").fetchone()[0] or 0
        people = People(seed, highest + births)
        rng = random.Random(highest)
        rows = []
        for number in range(highest + 1, highest + births + 1):
            p = people.person(number)
            rows.append((number, p.name, p.id_number, p.gender, p.ethnicity, p.birth.isoformat(), p.address,
                         p.district, p.phone, now, p.household))  # fmt: skip
        connection.executemany("INSERT INTO t_rk_jbxx VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        moved = [
            (f"安徽省庐州市包河区徽州大道{rng.randint(1, 999)}号", now, rng.randint(1, highest))
            for _ in range(changes)
        ]
        connection.executemany("UPDATE t_rk_jbxx SET hjdz = ?, gxsj = ? WHERE rybh = ?", moved)
    return births + changes
