"""Classification and resource codes.

Classification (类/项/目/细目) grows by 1, 2, 3 and 3 digits: ``1``, ``101``, ``101001``, ``101001001``.
A resource code is the classification code (前段码) and a six-digit sequence within it (后段码). The
guide writes them with ``/``; Zhongtai joins them with ``-`` so a code is one URL path segment.
"""

from __future__ import annotations

import re

from zhongtai.catalog.models import CATEGORY_BY_DIGIT, Category

CLASSIFICATION_RE = re.compile(r"^[1-3](?:\d{2}(?:\d{3}(?:\d{3})?)?)?$")
RESOURCE_CODE_RE = re.compile(r"^([1-3](?:\d{2}(?:\d{3}(?:\d{3})?)?)?)-(\d{6})$")
MAX_SEQUENCE = 999_999
LEVEL_BY_LENGTH = {1: 1, 3: 2, 6: 3, 9: 4}


def is_classification_code(code: str) -> bool:
    return bool(CLASSIFICATION_RE.fullmatch(code))


def classification_level(code: str) -> int:
    return LEVEL_BY_LENGTH[len(code)]


def parent_classification(code: str) -> str | None:
    level = classification_level(code)
    return {1: None, 2: code[:1], 3: code[:3], 4: code[:6]}[level]


def category_of(classification_code: str) -> Category:
    return CATEGORY_BY_DIGIT[classification_code[0]]


def format_resource_code(classification_code: str, sequence: int) -> str:
    if not is_classification_code(classification_code):
        raise ValueError(f"not a classification code: {classification_code!r}")
    if not 1 <= sequence <= MAX_SEQUENCE:
        raise ValueError(f"sequence must be 1..{MAX_SEQUENCE}, got {sequence}")
    return f"{classification_code}-{sequence:06d}"


def parse_resource_code(code: str) -> tuple[str, int]:
    match = RESOURCE_CODE_RE.fullmatch(code)
    if match is None or int(match.group(2)) == 0:
        raise ValueError(f"not a resource code: {code!r} (expected e.g. 101001-000001)")
    return match.group(1), int(match.group(2))
