"""The column forms of the standardizers agree with the reference functions, value by value.

A column form may leave a value to the reference (it does not know its shape) but must never accept a
value the reference refuses, and must give the reference's canonical value when it accepts."""

from __future__ import annotations

from datetime import date

from hypothesis import example, given, settings
from hypothesis import strategies as st
from stdnum.cn import ric

from zhongtai.governance.columns import COLUMN_FORMS, standardize_many
from zhongtai.governance.elements import KINDS, Rejected
from zhongtai.governance.rules import RuleEngine, StandardizeRule

AREAS = ["110105", "340102", "340104", "340111", "340121", "340181", "340100", "110000", "120101"]


def _reference(kind: str, value: str) -> str | None:
    try:
        return KINDS[kind](value)
    except Rejected:
        return None


def _agrees(kind: str, values: list[str]) -> None:
    for value, canonical in standardize_many(kind, values).items():
        assert _reference(kind, value) == canonical, (kind, value, canonical)


@st.composite
def id_numbers(draw: st.DrawFn) -> str:
    """ID numbers of every kind of mess: valid ones, a digit or the check character off, lowercase x,
    impossible birth dates, unknown birthplaces, spaces, full-width digits, other lengths."""
    born = draw(st.dates(min_value=date(1850, 1, 1), max_value=date(2030, 12, 31)))
    area = draw(st.sampled_from([*AREAS, "999999", "000000"]))
    stem = f"{area}{born:%Y%m%d}{draw(st.integers(0, 999)):03d}"
    number = stem + ric.calc_check_digit(stem + "0")
    mess = draw(st.sampled_from(["none", "lower", "digit", "check", "day", "space", "wide", "cut"]))
    if mess == "lower":
        number = number.lower()
    elif mess == "digit":
        at = draw(st.integers(0, 16))
        number = number[:at] + str((int(number[at]) + 1) % 10) + number[at + 1 :]
    elif mess == "check":
        number = number[:17] + draw(st.sampled_from("0123456789Xx"))
    elif mess == "day":
        number = number[:12] + draw(st.sampled_from(["00", "31", "32", "99"])) + number[14:]
    elif mess == "space":
        number = f" {number}"
    elif mess == "wide":
        number = number.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    elif mess == "cut":
        number = number[: draw(st.integers(0, 17))]
    return number


DATES = st.one_of(
    st.from_regex(r"[0-9]{4}[-/.年][0-9]{1,2}[-/.月][0-9]{1,2}日?", fullmatch=True),
    st.from_regex(r"[0-9]{8}", fullmatch=True),
    st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}", fullmatch=True),
    st.dates().map(lambda d: f"{d:%Y-%m-%d}"),
    st.dates().map(lambda d: f"{d.year}年{d.month}月{d.day}日"),
)
NAMES = st.one_of(
    st.from_regex(r"[\u4e00-\u9fff·]{1,60}", fullmatch=True),
    st.text(alphabet=st.sampled_from("张王李 ·.・　ＡA1\u3400\uf900"), max_size=8),
)
ADDRESSES = st.from_regex(r"[\u4e00-\u9fffA-Za-z0-9#\- （）\t]{1,220}", fullmatch=True)
PHONES = st.from_regex(r"(\+86)?1[0-9]{10}|[0-9]{11}|１[3-9][0-9]{9}", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(id_numbers(), st.text()), max_size=40))
@example(["11010519491231002x", "11010519491231002X", "110105194912310021", "110105491231002"])
def test_id_numbers_on_columns_agree_with_the_reference(values: list[str]) -> None:
    _agrees("id_number", values)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(DATES, st.text()), max_size=40))
@example(["2020-02-30", "2020-2-29", "1799-12-31", "2101-01-01", "2022-04-01T24:00:00", "2020-03-05\n"])
def test_dates_on_columns_agree_with_the_reference(values: list[str]) -> None:
    _agrees("date", values)
    _agrees("datetime", values)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(sorted(COLUMN_FORMS)),
    st.lists(st.one_of(NAMES, ADDRESSES, PHONES, DATES, st.text()), max_size=40),
)
@example("text", [" 正常 ", "a\x85", "a\u3000", "a\nb", "x\x1fy", "a\u00a0"])
@example("person_name", ["张三", "张 三", "阿依·古丽", "·张", "张" * 51, "豈"])
def test_every_column_form_agrees_with_the_reference_on_any_text(kind: str, values: list[str]) -> None:
    _agrees(kind, values)


def test_the_column_forms_take_the_shapes_real_data_comes_in() -> None:
    """Not vacuous: the common spellings are decided on columns, not left to the reference."""
    number = "340104" + "19850716" + "123"
    number += ric.calc_check_digit(number + "0")
    assert standardize_many("id_number", [number, number[:17] + "x"]) == {number: number} | (
        {number[:17] + "x": number} if number.endswith("X") else {}
    )
    assert standardize_many("date", ["1985/7/16", "19850716", "1985年7月16日"]) == dict.fromkeys(
        ["1985/7/16", "19850716", "1985年7月16日"], "1985-07-16"
    )
    assert standardize_many("person_name", ["张三", "阿依·古丽"]) == {
        "张三": "张三",
        "阿依·古丽": "阿依·古丽",
    }
    assert standardize_many("mobile", ["13905511234"]) == {"13905511234": "13905511234"}


def test_a_rule_decided_on_columns_records_the_same_change_and_refusal() -> None:
    """The engine's outcome does not depend on which path decided a value."""
    from zhongtai.governance.rules import RawRow

    rule = StandardizeRule(id="std-birth", item="出生日期", kind="standardize", element="DE_BIRTH")
    rows = [
        RawRow(1, "1", 1, {"出生日期": "1985/7/16"}),
        RawRow(1, "2", 1, {"出生日期": "1985-02-30"}),
        RawRow(1, "3", 1, {"出生日期": "1985-07-16"}),
    ]
    engine = RuleEngine([rule], 1, {"DE_BIRTH": "date"}, {})
    outcome = engine.apply(rows)
    assert [(k.row.source_key, k.data, k.changes) for k in outcome.kept] == [
        ("1", {"出生日期": "1985-07-16"}, {"出生日期": {"from": "1985/7/16", "rule": "std-birth"}}),
        ("3", {"出生日期": "1985-07-16"}, None),
    ]
    [refusal] = outcome.refused
    assert (refusal.row.source_key, refusal.rule_id) == ("2", "std-birth")
    assert refusal.reason == "1985-02-30 is not a day of the calendar"
