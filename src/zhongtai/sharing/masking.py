"""Masking (脱敏) in the platform's fixed formats, and the projection of a row onto a grant.

Formats (GB/T 35273 practice, ``DOMAIN.md``): ID number first 3 + last 4 (``340***********1234``, the
birth date hidden) · mobile ``138****5678`` · name: surname visible (``张*``, ``欧阳*``) · address down to
the district · bank card last 4 · ``full``: nothing of the value. Every mask is idempotent: masking a
masked value gives it back unchanged, so data masked upstream can pass through again safely.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from typing import Any

STAR = "*"
HIDDEN = "***"


class Masking(enum.StrEnum):
    NONE = "none"
    ID_NUMBER = "id_number"
    MOBILE = "mobile"
    NAME = "name"
    ADDRESS = "address"
    BANK_CARD = "bank_card"
    FULL = "full"


class Sensitivity(enum.StrEnum):
    """Levels of an information item (GB/T 35273 / provincial grading practice)."""

    PUBLIC = "L1"  # may be opened to the public
    INTERNAL = "L2"  # government use, no personal data
    SENSITIVE = "L3"  # personal information
    HIGHLY_SENSITIVE = "L4"  # sensitive personal information (ID numbers, health, finances)


# Two-character surnames (复姓) common enough to matter; everything else keeps its first character.
COMPOUND_SURNAMES = frozenset(
    [
        "欧阳",
        "司马",
        "上官",
        "诸葛",
        "东方",
        "皇甫",
        "尉迟",
        "公孙",
        "慕容",
        "长孙",
        "宇文",
        "司徒",
        "令狐",
        "夏侯",
        "轩辕",
        "端木",
        "西门",
        "南宫",
        "独孤",
        "呼延",
        "闻人",
        "太史",
        "申屠",
        "澹台",
        "公冶",
        "万俟",
        "钟离",
        "赫连",
        "淳于",
        "单于",
    ]
)


def _keep_ends(value: str, head: int, tail: int) -> str:
    if len(value) <= head + tail:
        return STAR * len(value)
    return value[:head] + STAR * (len(value) - head - tail) + value[len(value) - tail :]


def mask_id_number(value: str) -> str:
    return _keep_ends(value, 3, 4)


def mask_mobile(value: str) -> str:
    if len(value) == 11:
        return _keep_ends(value, 3, 4)
    return _keep_ends(value, 0, 4)  # landlines and odd lengths: the last four only


def mask_name(value: str) -> str:
    if not value:
        return value
    surname = value[:2] if value[:2] in COMPOUND_SURNAMES else value[:1]
    if len(value) <= len(surname):
        return surname + STAR  # a lone surname still hides that something followed
    return surname + STAR * (len(value) - len(surname))


_DISTRICT_ENDS = ("区", "县", "旗")


def mask_address(value: str) -> str:
    """Keep the address down to its district (or county), hide the rest."""
    start = 0
    if "自治区" in value[:12]:  # a province-level autonomous region is not a district
        start = value.index("自治区") + 3
    cut = min((i for i in (value.find(end, start) for end in _DISTRICT_ENDS) if i >= 0), default=-1)
    if cut < 0:
        city = value.find("市", start)
        cut = city if city >= 0 else -1
    kept = value[: cut + 1] if cut >= 0 else ""
    return kept + HIDDEN if value[len(kept) :] else kept


def mask_bank_card(value: str) -> str:
    return _keep_ends(value, 0, 4)


MASKS: dict[Masking, Callable[[str], str]] = {
    Masking.NONE: lambda value: value,
    Masking.ID_NUMBER: mask_id_number,
    Masking.MOBILE: mask_mobile,
    Masking.NAME: mask_name,
    Masking.ADDRESS: mask_address,
    Masking.BANK_CARD: mask_bank_card,
    Masking.FULL: lambda value: HIDDEN,
}


def mask(rule: Masking, value: Any) -> Any:
    """The value as it may leave under ``rule``; ``None`` stays ``None``; anything else as text."""
    if value is None or rule is Masking.NONE:
        return value
    return MASKS[rule](str(value))


# Default masking by the data element's kind (governance.elements.KINDS).
MASKING_BY_KIND = {
    "id_number": Masking.ID_NUMBER,
    "mobile": Masking.MOBILE,
    "phone": Masking.MOBILE,
    "landline": Masking.MOBILE,
    "person_name": Masking.NAME,
    "address": Masking.ADDRESS,
}


def default_policy(sensitive: bool, element_kind: str | None) -> tuple[Sensitivity, Masking]:
    """What an item gets until its provider sets a policy: personal data masked by its kind."""
    if element_kind == "id_number":
        return Sensitivity.HIGHLY_SENSITIVE, Masking.ID_NUMBER
    if element_kind in MASKING_BY_KIND:
        return Sensitivity.SENSITIVE, MASKING_BY_KIND[element_kind]
    if sensitive:
        return Sensitivity.SENSITIVE, Masking.FULL
    return Sensitivity.INTERNAL, Masking.NONE


class Projection:
    """What a grant lets out of a row: only its items, each masked unless the grant names it unmasked."""

    def __init__(self, items: Iterable[str], masking: Mapping[str, Masking], unmasked: Iterable[str]) -> None:
        plain = set(unmasked)
        self.rules = {
            item: Masking.NONE if item in plain else masking.get(item, Masking.FULL) for item in items
        }

    def __call__(self, row: Mapping[str, Any]) -> dict[str, Any]:
        return {item: mask(rule, row.get(item)) for item, rule in self.rules.items()}

    @property
    def items(self) -> list[str]:
        return list(self.rules)
