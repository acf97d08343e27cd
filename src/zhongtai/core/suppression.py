"""Small-cell suppression for counts that leave the platform (statistics pages, the big screen, open data).

No count of 1–9 people is shown (zero is), and no hidden count can be worked out from what is shown: a
row or column with one hidden cell gets a second one hidden (complementary suppression), and a final check
solves the table's equations — every row, column and grand total shown is a linear equation over the hidden
counts — and hides more until no hidden count is determined by them. Exact arithmetic on small tables
(districts × categories); a count shown is always the true count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

THRESHOLD = 10  # counts of 1 to THRESHOLD - 1 are never shown

Cell = tuple[str, str]
# What may be hidden: a cell, a row total ("row", r), a column total ("col", c), or the grand total.
Unknown = tuple[str, str, str]


@dataclass(frozen=True)
class Table:
    """A table as published: ``None`` is a hidden count (shown as "<10" or "—")."""

    rows: list[str]
    cols: list[str]
    cells: dict[Cell, int | None]
    row_totals: dict[str, int | None]
    col_totals: dict[str, int | None]
    total: int | None


def suppress(
    counts: Mapping[Cell, int], rows: Sequence[str], cols: Sequence[str], threshold: int = THRESHOLD
) -> Table:
    values = _values(counts, rows, cols)
    hidden = {key for key, n in values.items() if 0 < n < threshold}
    while True:
        more = _complement(values, hidden, rows, cols) or _derivable(values, hidden, rows, cols)
        if more is None:
            break
        hidden.add(more)

    def shown(key: Unknown) -> int | None:
        return None if key in hidden else values[key]

    return Table(
        list(rows),
        list(cols),
        {(r, c): shown(("cell", r, c)) for r in rows for c in cols},
        {r: shown(("row", r, "")) for r in rows},
        {c: shown(("col", "", c)) for c in cols},
        shown(("all", "", "")),
    )


def _values(counts: Mapping[Cell, int], rows: Sequence[str], cols: Sequence[str]) -> dict[Unknown, int]:
    values: dict[Unknown, int] = {("cell", r, c): int(counts.get((r, c), 0)) for r in rows for c in cols}
    for r in rows:
        values[("row", r, "")] = sum(values[("cell", r, c)] for c in cols)
    for c in cols:
        values[("col", "", c)] = sum(values[("cell", r, c)] for r in rows)
    values[("all", "", "")] = sum(values[("row", r, "")] for r in rows)
    return values


def _lines(rows: Sequence[str], cols: Sequence[str]) -> list[tuple[Unknown, list[Unknown]]]:
    """Each equation of the table: a total and the parts that add up to it."""
    lines: list[tuple[Unknown, list[Unknown]]] = []
    lines += [(("row", r, ""), [("cell", r, c) for c in cols]) for r in rows]
    lines += [(("col", "", c), [("cell", r, c) for r in rows]) for c in cols]
    lines.append((("all", "", ""), [("row", r, "") for r in rows]))
    lines.append((("all", "", ""), [("col", "", c) for c in cols]))
    return lines


def _complement(
    values: dict[Unknown, int], hidden: set[Unknown], rows: Sequence[str], cols: Sequence[str]
) -> Unknown | None:
    """A second thing to hide where an equation with its total shown has exactly one part hidden: the
    smallest positive part shown, else the total itself."""
    for total, parts in _lines(rows, cols):
        if total in hidden or sum(1 for p in parts if p in hidden) != 1:
            continue
        shown = sorted((values[p], p) for p in parts if p not in hidden and values[p] > 0)
        return shown[0][1] if shown else total
    return None


def _derivable(
    values: dict[Unknown, int], hidden: set[Unknown], rows: Sequence[str], cols: Sequence[str]
) -> Unknown | None:
    """Something more to hide while the equations still determine a hidden count: in a line with it, the
    smallest count shown (positive first); failing that, the smallest shown anywhere."""
    lines = _lines(rows, cols)
    pinned = determined(sorted(hidden), [[*parts, total] for total, parts in lines])
    if not pinned:
        return None
    target = pinned[0]
    near = {m for total, parts in lines if target in parts or target == total for m in (*parts, total)}
    for pool in (near, set(values)):
        shown = sorted((values[m] == 0, values[m], m) for m in pool if m not in hidden)
        if shown:
            return shown[0][2]
    return None


def determined(unknowns: Sequence[Unknown], equations: Sequence[Sequence[Unknown]]) -> list[Unknown]:
    """The unknowns a set of sum equations pins down (each equation: its parts minus its total, the last,
    equals what is known). An unknown is determined when its unit vector lies in the equations' row space."""
    index = {u: i for i, u in enumerate(unknowns)}
    matrix = []
    for members in equations:
        row = [Fraction(0)] * len(unknowns)
        *parts, total = members
        for p in parts:
            if p in index:
                row[index[p]] += 1
        if total in index:
            row[index[total]] -= 1
        if any(row):
            matrix.append(row)
    base = _rank(matrix)
    found = []
    for u, i in index.items():
        unit = [Fraction(1 if j == i else 0) for j in range(len(unknowns))]
        if _rank([*matrix, unit]) == base:
            found.append(u)
    return found


def _rank(matrix: list[list[Fraction]]) -> int:
    rows = [list(r) for r in matrix]
    rank, width = 0, len(rows[0]) if rows else 0
    for col in range(width):
        pivot = next((i for i in range(rank, len(rows)) if rows[i][col] != 0), None)
        if pivot is None:
            continue
        rows[rank], rows[pivot] = rows[pivot], rows[rank]
        for i in range(len(rows)):
            if i != rank and rows[i][col] != 0:
                factor = rows[i][col] / rows[rank][col]
                rows[i] = [a - factor * b for a, b in zip(rows[i], rows[rank], strict=True)]
        rank += 1
    return rank
