"""Release rules: what an open dataset does with each item of its resource — keep it, drop it, or
generalise it (a date to its month or year, an address to its district) — and the check that refuses a
release while a column still looks personal.

The check reads the values the release would let out, with the platform's own validators (the data
elements of governance: a GB 11643 ID number, a mobile number, the credit code of an individual business —
GB 32100 codes starting 92), and the items' data elements (a person's name is known by its element, not by
its spelling). A column's name proves nothing either way: a column of valid ID numbers is refused whatever
it is called.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from zhongtai.core.suppression import suppress
from zhongtai.governance.elements import Rejected, credit_code, id_number, mobile

ACTIONS = ("keep", "drop", "month", "year", "district")
# An item counted by: its value, or its value generalised. A release with any of these is aggregated: counts
# of rows by those items, with small-cell suppression, and nothing else.
COUNTS = ("count", "count:month", "count:year", "count:district")
COUNT_COLUMN = "数量"
PERSONAL_KINDS = {"person_name", "id_number", "mobile"}  # data elements that name or reach a person
SAMPLE = 2_000  # values of each column looked at
_MONTH = re.compile(r"^(\d{4})\D?(\d{1,2})")
OTHER = "其他"


@dataclass(frozen=True)
class Finding:
    column: str
    what: str  # id_number | mobile | individual_business | person_name
    matches: int
    looked_at: int


def generalise(action: str, value: Any, districts: Iterable[str]) -> Any:
    """One value as the rule lets it out (``drop`` is handled by leaving the column out)."""
    if value is None or action == "keep":
        return value
    text = str(value)
    if action in ("month", "year"):
        found = _MONTH.match(text)
        if found is None:
            return None
        year, month = found.group(1), int(found.group(2))
        return year if action == "year" else f"{year}-{month:02d}"
    if action == "district":
        return next((name for name in districts if name in text), OTHER)
    raise ValueError(f"unknown release action {action!r}")


def is_aggregated(rules: Mapping[str, str]) -> bool:
    return any(action in COUNTS for action in rules.values())


def aggregated(
    rows: Iterable[Mapping[str, Any]], rules: Mapping[str, str], districts: Iterable[str]
) -> list[dict[str, Any]]:
    """Counts of rows by the counted items (generalised as their rules say), through small-cell and
    complementary suppression (``core.suppression``): a count of 1-9, or one that would give a hidden one
    away from a total, is released as null. Every combination with rows, and every hidden one, is listed."""
    names = tuple(districts)
    by = [(item, action.partition(":")[2] or "keep") for item, action in rules.items() if action in COUNTS]
    tally: Counter[tuple[Any, ...]] = Counter(
        tuple(generalise(how, row.get(item), names) for item, how in by) for row in rows
    )
    head = (
        [json.dumps(list(key[:-1]), ensure_ascii=False) for key in tally]
        if len(by) > 1
        else ["*"] * len(tally)
    )
    cells = {
        (h, json.dumps(key[-1], ensure_ascii=False)): n
        for h, key, n in zip(head, tally, tally.values(), strict=True)
    }
    table = suppress(cells, sorted({r for r, _ in cells}), sorted({c for _, c in cells}))
    out = []
    for (r, c), shown in sorted(table.cells.items()):
        if shown == 0 and (r, c) not in cells:
            continue  # no such combination, and nothing hidden there
        values = (json.loads(r) if len(by) > 1 else []) + [json.loads(c)]
        out.append(
            {**{item: value for (item, _), value in zip(by, values, strict=True)}, COUNT_COLUMN: shown}
        )
    return out


def released(row: Mapping[str, Any], rules: Mapping[str, str], districts: Iterable[str]) -> dict[str, Any]:
    names = tuple(districts)
    return {
        item: generalise(action, row.get(item), names) for item, action in rules.items() if action != "drop"
    }


def _is(check: Any, text: str) -> bool:
    try:
        check(text)
    except Rejected:
        return False
    return True


def _individual_business(text: str) -> bool:
    try:
        return credit_code(text).startswith("92")
    except Rejected:
        return False


CHECKS = {
    "id_number": lambda text: _is(id_number, text),
    "mobile": lambda text: _is(mobile, text),
    "individual_business": _individual_business,
}


def personal_columns(
    rows: Iterable[Mapping[str, Any]], columns: Iterable[str], element_kinds: Mapping[str, str]
) -> list[Finding]:
    """Columns that still look personal: by their data element, or by enough of their values passing a
    personal validator (three values, or one in a hundred of those looked at)."""
    columns = list(columns)
    findings = [
        Finding(column, element_kinds[column], 0, 0)
        for column in columns
        if element_kinds.get(column) in PERSONAL_KINDS
    ]
    flagged = {f.column for f in findings}
    samples: dict[str, list[str]] = {column: [] for column in columns if column not in flagged}
    for row in rows:
        for column, values in samples.items():
            value = row.get(column)
            if value not in (None, "") and len(values) < SAMPLE:
                values.append(str(value))
        if all(len(v) >= SAMPLE for v in samples.values()):
            break
    for column, values in samples.items():
        for what, check in CHECKS.items():
            matches = sum(1 for value in values if check(value))
            if matches >= 3 or (values and matches * 100 >= len(values)):
                findings.append(Finding(column, what, matches, len(values)))
                break
    return findings
