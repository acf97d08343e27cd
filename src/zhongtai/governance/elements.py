"""Data element kinds (数据元): how each standard value is recognised, checked and written canonically.

Every kind is a function from the text a department sent to the element's canonical form, raising
``Rejected`` with a reason a data officer can act on. Canonical forms are fixed points: standardizing a
canonical value returns it unchanged (property-tested). Codes python-stdnum covers (GB 11643 ID numbers,
GB 32100 credit codes, GB/T 2260 divisions with their history) are checked by python-stdnum.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import lru_cache

from stdnum import numdb
from stdnum.cn import ric, uscc
from stdnum.exceptions import (
    InvalidChecksum,
    InvalidFormat,
    InvalidLength,
    ValidationError,
)


class Rejected(ValueError):
    """A value that cannot be standardized; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


Standardizer = Callable[[str], str]

EARLIEST_BIRTH = date(1880, 1, 1)
EXCEL_EPOCH = date(1899, 12, 30)  # serial 1 = 1900-01-01 (Excel's 1900 leap-year bug included)
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
SPACES = re.compile(r"\s+")
SPACES_AND_DASHES = re.compile(r"[\s\-]")
HAN = r"\u3400-\u4dbf\u4e00-\u9fff\U00020000-\U0003134f〇"
SPACE_BETWEEN_HAN = re.compile(rf"(?<=[{HAN}])\s+(?=[{HAN}])")
NAME_DOTS = re.compile(r"\s*[.·•‧・･⋅∙]\s*")
HAN_NAME = re.compile(rf"^[{HAN}]+(·[{HAN}]+)*$")
LATIN_NAME = re.compile(r"^[A-Za-z]+([ '\-·][A-Za-z]+)*$")
MAX_NAME = 50
MAX_ADDRESS = 200


def normalize_width(text: str) -> str:
    """Full-width letters, digits and punctuation become half-width (NFKC), ideographic space a space."""
    return unicodedata.normalize("NFKC", text)


def _no_control(text: str) -> None:
    if CONTROL.search(text):
        raise Rejected("contains control characters")


def _compact(text: str) -> str:
    if text.isascii() and text.isalnum():  # most codes already are: nothing to widen, strip or refuse
        return text
    _no_control(text)
    return SPACES_AND_DASHES.sub("", normalize_width(text))


# --- codes -------------------------------------------------------------------------------------------


def id_number(text: str) -> str:
    """Resident ID number (GB 11643): 18 characters, upper-case X; first-generation 15-digit numbers
    are upgraded (century 19 inserted, check digit computed). Checks the check digit, the birth date
    (a real, past date) and the birthplace code (known in GB/T 2260 in the birth year)."""
    number = _compact(text).upper()
    if len(number) == 15:
        if not number.isdigit():
            raise Rejected("a 15-digit ID number must be all digits")
        stem = number[:6] + "19" + number[6:]
        number = stem + ric.calc_check_digit(stem + "0")
    if len(number) != 18:
        raise Rejected(f"has {len(number)} characters; an ID number has 18 (15 on first-generation cards)")
    if not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        raise Rejected("an ID number is 17 digits and a check digit (0-9 or X)")
    expected = ric.calc_check_digit(number)
    if number[17] != expected:
        raise Rejected(f"check digit is {number[17]}, expected {expected}")
    born = _id_birth_date(number)
    if born > date.today() or born < EARLIEST_BIRTH:
        raise Rejected(f"birth date {born.isoformat()} in the number is impossible")
    if not _assigned_since(number[:6], born.year):
        raise Rejected(f"birthplace code {number[:6]} was abolished before {born.year} or never existed")
    return number


@lru_cache(maxsize=65536)  # a few thousand codes x birth years; asked once per ID number governed
def _assigned_since(code: str, year: int) -> bool:
    """Whether the division code existed at some time from ``year`` on. A number is assigned when a
    person is first registered, at or after birth (cards began in 1984), with the code of that time; so
    only a code abolished before the birth year is inconsistent. (python-stdnum's ``get_birth_place``
    insists on the birth year itself, which refuses most people born before their district was
    created.)"""
    periods = _periods(code)
    return any(end is None or end >= year for end in periods)


@lru_cache(maxsize=8192)
def _periods(code: str) -> tuple[int | None, ...]:
    """End years of the periods a code was in use (None: still in use); empty if it never existed."""
    parts = numdb.get("cn/loc").info(code)
    info = {k: v for _, props in parts for k, v in props.items()}
    names = info.get("county") or (info.get("province") if code.endswith("0000") else None)
    if not names:
        return ()
    ends: list[int | None] = []
    for name in names.split(","):
        if not name.startswith("["):
            ends.append(None)
            continue
        end = name[1:].split("]")[0].split("-")[1]
        ends.append(int(end) if end else None)
    return tuple(ends)


def _id_birth_date(number: str) -> date:
    try:
        return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise Rejected(f"birth date {number[6:14]} in the number is not a date") from None


def id_birth_date(number: str) -> str:
    """Birth date of a canonical ID number, ISO (``YYYY-MM-DD`` is the number's digits 7-14)."""
    return f"{number[6:10]}-{number[10:12]}-{number[12:14]}"


def id_gender(number: str) -> str:
    """GB/T 2261.1 gender of a canonical ID number: odd sequence = 1 (male), even = 2 (female)."""
    return "1" if int(number[16]) % 2 else "2"


def credit_code(text: str) -> str:
    """Unified social credit code (GB 32100), checked by python-stdnum."""
    code = _compact(text).upper()
    try:
        return str(uscc.validate(code))
    except InvalidLength:
        raise Rejected(f"has {len(code)} characters; a credit code has 18") from None
    except InvalidFormat:
        raise Rejected("a credit code uses digits and A-Z without I, O, S, V, Z") from None
    except InvalidChecksum:
        raise Rejected("check character does not match") from None
    except ValidationError:
        raise Rejected("is not a valid unified social credit code") from None


@lru_cache(maxsize=8192)
def division_name(code: str) -> str | None:
    """Latest name of a GB/T 2260 division code, current or historical; None when it never existed."""
    parts = numdb.get("cn/loc").info(code)
    info = {k: v for _, props in parts for k, v in props.items()}
    names = info.get("county") or (info.get("province") if code.endswith("0000") else None)
    return names.split(",")[-1].split("]")[-1] if names else None


def division_code(text: str) -> str:
    """Administrative division code (GB/T 2260): six digits, current or abolished (old ID cards and
    records keep the code of their time)."""
    code = _compact(text)
    if len(code) == 12 and code.isdigit() and code.endswith("000000"):
        code = code[:6]  # statistical 12-digit codes of county level
    if len(code) != 6 or not code.isdigit():
        raise Rejected("a division code is six digits")
    if division_name(code) is None:
        raise Rejected(f"{code} is not a GB/T 2260 division code, current or historical")
    return code


def mobile(text: str) -> str:
    """Mobile number: 11 digits starting 1[3-9]; +86, spaces, dashes and full-width digits removed."""
    number = re.sub(r"[()（）]", "", _compact(text))
    number = re.sub(r"^(\+86|0086|86)(?=1\d{10}$)", "", number)
    if not re.fullmatch(r"\d+", number):
        raise Rejected("a phone number has digits only")
    if not re.fullmatch(r"1[3-9]\d{9}", number):
        raise Rejected("a mobile number is 11 digits starting with 13-19")
    return number


def landline(text: str) -> str:
    """Landline: area code, 7-8 digit local number, optional extension: ``0551-62345678`` or
    ``010-12345678-123``. Beijing (010) and 02x have three-digit area codes, the rest four."""
    _no_control(text)
    number = re.sub(r"[\s()（）]", "", normalize_width(text))
    number = re.sub(r"^(\+86|0086)-?", "0", number)
    match = re.fullmatch(r"(0[12]\d|0[3-9]\d{2})-?(\d{3,4})-?(\d{4})(?:[-转#](\d{1,6}))?", number)
    if not match:
        raise Rejected("a landline is an area code (0xx or 0xxx), 7-8 digits and an optional extension")
    area, head, tail, extension = match.groups()
    return f"{area}-{head}{tail}" + (f"-{extension}" if extension else "")


def phone(text: str) -> str:
    """A contact number: a mobile number, else a landline."""
    try:
        return mobile(text)
    except Rejected:
        pass
    try:
        return landline(text)
    except Rejected:
        raise Rejected("is neither a mobile number nor a landline with its area code") from None


# --- dates -------------------------------------------------------------------------------------------

_YMD = r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
_CLOCK = r"(\d{1,2})\s*[:时]\s*(\d{1,2})(?:\s*[:分]\s*(\d{1,2})(?:\.\d{1,6})?\s*秒?)?"
DATE_FORMS = re.compile(rf"{_YMD}(?:[T\s]+{_CLOCK})?")
COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})(?:[T\s]?(\d{2}):?(\d{2}):?(\d{2})?)?")
EXCEL_SERIAL = re.compile(r"([1-9]\d{3,4})(?:\.(\d+))?")


def _moment(text: str) -> tuple[date, tuple[int, int, int] | None]:
    _no_control(text)
    value = normalize_width(text).strip()
    match = DATE_FORMS.fullmatch(value) or COMPACT.fullmatch(value)
    if match:
        year, month, day, hour, minute, second = (*match.groups()[:5], match.group(6))
        moment = _calendar(int(year), int(month), int(day))
        clock = None if hour is None else (int(hour), int(minute), int(second or 0))
        if clock and (clock[0] > 23 or clock[1] > 59 or clock[2] > 59):
            raise Rejected(f"{value!r} has an impossible time of day")
        return moment, clock
    serial = EXCEL_SERIAL.fullmatch(value)
    if serial and int(serial.group(1)) <= 73050:  # Excel serials, 4-5 digits: 1902-09-26 to 2099-12-31
        moment = EXCEL_EPOCH + timedelta(days=int(serial.group(1)))
        seconds = round(float("0." + (serial.group(2) or "0")) * 86400)
        clock = (seconds // 3600, seconds // 60 % 60, seconds % 60) if serial.group(2) else None
        return moment, clock
    raise Rejected("is not a date (accepted: 2020-03-05, 2020/3/5, 2020.3.5, 20200305, 2020年3月5日)")


def _calendar(year: int, month: int, day: int) -> date:
    if not 1800 <= year <= 2100:
        raise Rejected(f"year {year} is out of range")
    try:
        return date(year, month, day)
    except ValueError:
        raise Rejected(f"{year}-{month:02d}-{day:02d} is not a day of the calendar") from None


def calendar_date(text: str) -> str:
    """A date in any spelling departments use, written ``YYYY-MM-DD``."""
    return _moment(text)[0].isoformat()


def date_time(text: str) -> str:
    """A date and time (Beijing time), written ``YYYY-MM-DDTHH:MM:SS``; a bare date means midnight."""
    day, clock = _moment(text)
    hour, minute, second = clock or (0, 0, 0)
    return datetime(day.year, day.month, day.day, hour, minute, second).isoformat()


# --- coded values ------------------------------------------------------------------------------------

GENDERS = {
    "0": "0",
    "未知": "0",
    "未知的性别": "0",
    "1": "1",
    "男": "1",
    "男性": "1",
    "m": "1",
    "male": "1",
    "2": "2",
    "女": "2",
    "女性": "2",
    "f": "2",
    "female": "2",
    "9": "9",
    "未说明": "9",
    "未说明的性别": "9",
}
GENDER_NAMES = {"0": "未知的性别", "1": "男", "2": "女", "9": "未说明的性别"}


def gender(text: str) -> str:
    """GB/T 2261.1 code: 0 unknown, 1 male, 2 female, 9 unspecified."""
    _no_control(text)
    code = GENDERS.get(normalize_width(text).strip().lower())
    if code is None:
        raise Rejected("is not a gender (GB/T 2261.1: 0, 1 男, 2 女, 9)")
    return code


ETHNIC_GROUPS = [
    "汉",
    "蒙古",
    "回",
    "藏",
    "维吾尔",
    "苗",
    "彝",
    "壮",
    "布依",
    "朝鲜",
    "满",
    "侗",
    "瑶",
    "白",
    "土家",
    "哈尼",
    "哈萨克",
    "傣",
    "黎",
    "傈僳",
    "佤",
    "畲",
    "高山",
    "拉祜",
    "水",
    "东乡",
    "纳西",
    "景颇",
    "柯尔克孜",
    "土",
    "达斡尔",
    "仫佬",
    "羌",
    "布朗",
    "撒拉",
    "毛南",
    "仡佬",
    "锡伯",
    "阿昌",
    "普米",
    "塔吉克",
    "怒",
    "乌孜别克",
    "俄罗斯",
    "鄂温克",
    "德昂",
    "保安",
    "裕固",
    "京",
    "塔塔尔",
    "独龙",
    "鄂伦春",
    "赫哲",
    "门巴",
    "珞巴",
    "基诺",
]
ETHNICITY_NAMES = {f"{n:02d}": f"{name}族" for n, name in enumerate(ETHNIC_GROUPS, start=1)}
ETHNICITY_NAMES |= {"97": "其他未识别民族", "98": "外国血统中国籍人士"}
_ETHNICITY_CODES = {name: code for code, name in ETHNICITY_NAMES.items()}
_ETHNICITY_CODES |= {name[:-1]: code for code, name in ETHNICITY_NAMES.items() if name.endswith("族")}


def ethnicity(text: str) -> str:
    """GB/T 3304 two-digit code, from the code (1 or 01) or the name (汉, 汉族)."""
    _no_control(text)
    value = normalize_width(text).strip()
    if value.isdigit() and len(value) <= 2 and f"{int(value):02d}" in ETHNICITY_NAMES:
        return f"{int(value):02d}"
    code = _ETHNICITY_CODES.get(value)
    if code is None:
        raise Rejected("is not an ethnic group of GB/T 3304")
    return code


# --- text --------------------------------------------------------------------------------------------


def person_name(text: str) -> str:
    """A personal name: half-width, no stray or inner spaces in Chinese names, one middle dot (·) between
    the parts of minority and foreign names, at most 50 characters. Digits, symbols, emoji and names
    mixing Chinese and Latin letters are refused."""
    _no_control(text)
    value = SPACES.sub(" ", normalize_width(text)).strip()
    if len(value) > MAX_NAME:
        raise Rejected(f"is {len(value)} characters long; a name has at most {MAX_NAME}")
    value = SPACE_BETWEEN_HAN.sub("", NAME_DOTS.sub("·", value)).strip("·")
    if HAN_NAME.fullmatch(value) or LATIN_NAME.fullmatch(value):
        return value
    if re.search(rf"[{HAN}]", value) and re.search(r"[A-Za-z]", value):
        raise Rejected("mixes Chinese characters and Latin letters")
    raise Rejected("contains characters a name cannot have (digits, symbols or emoji)")


def address(text: str) -> str:
    """An address: half-width, whitespace collapsed (none between Chinese characters), at most 200
    characters."""
    _no_control(text)
    value = SPACE_BETWEEN_HAN.sub("", SPACES.sub(" ", normalize_width(text)).strip())
    if not value:
        raise Rejected("is empty")
    if len(value) > MAX_ADDRESS:
        raise Rejected(f"is {len(value)} characters long; an address has at most {MAX_ADDRESS}")
    return value


def plain_text(text: str) -> str:
    """Any text: no control characters, surrounding whitespace removed."""
    _no_control(text)
    return text.strip()


KINDS: dict[str, Standardizer] = {
    "id_number": id_number,
    "credit_code": credit_code,
    "division_code": division_code,
    "mobile": mobile,
    "landline": landline,
    "phone": phone,
    "date": calendar_date,
    "datetime": date_time,
    "gender": gender,
    "ethnicity": ethnicity,
    "person_name": person_name,
    "address": address,
    "text": plain_text,
}


def standardizer(kind: str) -> Standardizer:
    return KINDS[kind]
