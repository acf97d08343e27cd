"""Small-cell suppression, property-tested: no count of 1–9 is shown, every count shown is true, and no
hidden count can be worked out from the totals shown (checked here by a nullspace computed independently:
a hidden count is free when some solution of the table's equations moves it)."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from zhongtai.core.suppression import THRESHOLD, Table, suppress

counts = st.integers(min_value=0, max_value=60).map(lambda n: n if n % 3 else n // 6)  # many small ones


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[str], list[str], dict[tuple[str, str], int]]:
    rows = [f"r{i}" for i in range(draw(st.integers(1, 5)))]
    cols = [f"c{j}" for j in range(draw(st.integers(1, 4)))]
    return rows, cols, {(r, c): draw(counts) for r in rows for c in cols}


def _shown(table: Table) -> dict[tuple[str, str, str], int | None]:
    found: dict[tuple[str, str, str], int | None] = {("cell", r, c): v for (r, c), v in table.cells.items()}
    found |= {("row", r, ""): v for r, v in table.row_totals.items()}
    found |= {("col", "", c): v for c, v in table.col_totals.items()}
    found[("all", "", "")] = table.total
    return found


def _free(table: Table) -> set[tuple[str, str, str]]:
    """Hidden counts some solution of the table's equations can move (the nullspace touches them)."""
    shown = _shown(table)
    hidden = sorted(k for k, v in shown.items() if v is None)
    at = {k: i for i, k in enumerate(hidden)}
    equations = [([("cell", r, c) for c in table.cols], ("row", r, "")) for r in table.rows]
    equations += [([("cell", r, c) for r in table.rows], ("col", "", c)) for c in table.cols]
    equations += [([("row", r, "") for r in table.rows], ("all", "", ""))]
    equations += [([("col", "", c) for c in table.cols], ("all", "", ""))]
    matrix = []
    for parts, total in equations:
        row = [Fraction(0)] * len(hidden)
        for p in parts:
            if p in at:
                row[at[p]] += 1
        if total in at:
            row[at[total]] -= 1
        matrix.append(row)
    # reduced row echelon form, then one nullspace vector per free column
    pivots: list[int] = []
    r = 0
    for c in range(len(hidden)):
        p = next((i for i in range(r, len(matrix)) if matrix[i][c] != 0), None)
        if p is None:
            continue
        matrix[r], matrix[p] = matrix[p], matrix[r]
        matrix[r] = [x / matrix[r][c] for x in matrix[r]]
        for i in range(len(matrix)):
            if i != r and matrix[i][c] != 0:
                matrix[i] = [a - matrix[i][c] * b for a, b in zip(matrix[i], matrix[r], strict=True)]
        pivots.append(c)
        r += 1
    moved: set[tuple[str, str, str]] = set()
    for free in (c for c in range(len(hidden)) if c not in pivots):
        moved.add(hidden[free])
        for i, pivot in enumerate(pivots):
            if matrix[i][free] != 0:
                moved.add(hidden[pivot])
    return moved


@settings(max_examples=300, deadline=None)
@given(tables())
def test_nothing_small_is_shown_nothing_shown_is_false_and_nothing_hidden_is_derivable(
    table: tuple[list[str], list[str], dict[tuple[str, str], int]],
) -> None:
    rows, cols, truth = table
    published = suppress(truth, rows, cols)
    exact = {("cell", r, c): n for (r, c), n in truth.items()}
    exact |= {("row", r, ""): sum(truth[(r, c)] for c in cols) for r in rows}
    exact |= {("col", "", c): sum(truth[(r, c)] for r in rows) for c in cols}
    exact[("all", "", "")] = sum(truth.values())
    shown = _shown(published)
    for key, value in shown.items():
        if value is not None:
            assert value == exact[key]  # what is shown is true
            assert not 0 < value < THRESHOLD  # and never a small count
    hidden = {k for k, v in shown.items() if v is None}
    assert hidden <= _free(published)  # every hidden count can still move


def test_in_a_two_by_two_table_one_small_cell_hides_the_block_and_the_totals_stay() -> None:
    truth = {("蜀山区", "红码"): 3, ("蜀山区", "绿码"): 40, ("包河区", "红码"): 25, ("包河区", "绿码"): 50}
    table = suppress(truth, ["蜀山区", "包河区"], ["红码", "绿码"])
    assert set(table.cells.values()) == {None}  # any one shown would give away the 3
    assert table.row_totals == {"蜀山区": 43, "包河区": 75} and table.total == 118
