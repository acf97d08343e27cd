"""What a citizen types, checked before anything is looked up (format only: whether such a person exists
is the identity check's answer, given the same way for "no such person" and "details do not match").
Each check names the field it refuses, in the catalog's words."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from stdnum.cn import ric, uscc

from zhongtai.core.errors import M_, Invalid

MOBILE = re.compile(r"1[3-9]\d{9}")
RELATIONS = ("child", "parent", "spouse", "grandparent", "grandchild", "other")


def _text(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip()


def id_number_of(value: str, field: str = "id_number") -> str:
    """18 characters, a real birth date and the right check digit (the region code is not checked: the
    register holds numbers of districts since renamed, which python-stdnum's region table refuses)."""
    number = _text(value).upper()
    if not _well_formed(number):
        raise Invalid(
            M_("not a valid resident ID number (18 characters, the last a check digit)"), field=field
        )
    return number


def _well_formed(number: str) -> bool:
    if len(number) != 18 or not number[:17].isdigit() or number[17] not in "0123456789X":
        return False
    try:
        date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    return ric.calc_check_digit(number) == number[17]


def name_of(value: str, field: str = "name") -> str:
    name = _text(value)
    if not name or len(name) > 50:
        raise Invalid(M_("give the name as on the ID card (at most 50 characters)"), field=field)
    return name


def mobile_of(value: str) -> str:
    mobile = re.sub(r"[\s-]", "", _text(value))
    if not MOBILE.fullmatch(mobile):
        raise Invalid(M_("not a mainland mobile number (11 digits starting with 1)"), field="mobile")
    return mobile


def code_of(value: str) -> str:
    code = _text(value)
    if not re.fullmatch(r"\d{6}", code):
        raise Invalid(M_("the code has 6 digits"), field="code")
    return code


def relation_of(value: str) -> str:
    if value not in RELATIONS:
        raise Invalid(M_("choose how the person is related to you"), field="relation")
    return value


def credit_code_of(value: str) -> str:
    """A unified social credit code (GB 32100): 18 characters with both check characters right."""
    code = _text(value).upper()
    if not uscc.is_valid(code):
        raise Invalid(M_("not a valid unified social credit code (18 characters)"), field="credit_code")
    return code
