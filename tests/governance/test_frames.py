"""A page governed as a frame gives what the row engine gives: the same kept rows with the same clean
data and changes, the same refusals with the same rules and reasons, the same count of changed values —
for arbitrary rows and rule sets. Pages the frame path does not take are said to be so (None)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from zhongtai.core.types import from_json
from zhongtai.governance.frames import FrameOutcome, FrameRules, page_claims
from zhongtai.governance.fusion import FusionStats, SourceSpec, source_items
from zhongtai.governance.models import BaseKind
from zhongtai.governance.rules import RULES, Outcome, RawRow, RuleEngine

# rule sets drawn from these (in any order and number), over these items' values
POOL: list[dict[str, object]] = [
    {"id": "req-sfzh", "kind": "required", "item": "sfzh"},
    {"id": "std-sfzh", "kind": "standardize", "item": "sfzh"},
    {"id": "chk-sfzh", "kind": "check", "item": "sfzh"},
    {"id": "std-csrq", "kind": "standardize", "item": "csrq", "element": "BIRTH"},
    {"id": "clr-csrq", "kind": "standardize", "item": "csrq", "element": "BIRTH", "on_fail": "clear"},
    {"id": "std-xm", "kind": "standardize", "item": "xm", "element": "NAME"},
    {"id": "std-xzqh", "kind": "standardize", "item": "xzqh", "on_fail": "clear"},
    {"id": "enum-xb", "kind": "enum", "item": "xb", "values": ["男", "女"]},
    {"id": "rng-nl", "kind": "range", "item": "nl", "min": 0, "max": 120},
    {"id": "rng-csrq", "kind": "range", "item": "csrq", "min": "1900-01-01", "max": "2030-12-31"},
    {"id": "x-csrq", "kind": "cross", "item": "csrq", "check": "birth_date_matches_id", "id_item": "sfzh"},
    {"id": "x-xb", "kind": "cross", "item": "xb", "check": "gender_matches_id", "id_item": "sfzh"},
    {"id": "uniq-sfzh", "kind": "unique", "item": "sfzh"},
]
ALL_KINDS = {"ID": "id_number", "DIV": "division_code", "BIRTH": "date", "NAME": "person_name"}
ITEMS: dict[str, str | None] = {"sfzh": "ID", "xzqh": "DIV"}
VALUES = {
    "sfzh": st.one_of(
        st.sampled_from(["11010519491231002x", "110105194912310021", "12345"]), st.text(max_size=20)
    ),
    "csrq": st.one_of(
        st.sampled_from(["1949-12-31", "1949/12/31", "19491231", "2020-02-30"]), st.text(max_size=12)
    ),
    "xm": st.one_of(st.sampled_from(["张三", " 张三", "阿依·古丽"]), st.text(max_size=6)),
    "xzqh": st.sampled_from(["340102", "999999", "1"]),
    "xb": st.sampled_from(["男", "女", "1", "未知"]),
    "nl": st.one_of(st.sampled_from(["30", "-1", "121", "abc"]), st.text(max_size=4)),
}

# 18-character numbers with what Python's int() reads and Polars does not (full-width digits) at the
# gender digit, and birth dates that do or do not match them
ID_LIKE = st.text(alphabet="0123456789Xx５２ａ", min_size=17, max_size=19)
TEXTS = st.one_of(
    st.none(), st.sampled_from(["", "  ", "\u3000", "\x1f", "\x1c张三\x1d"]), st.text(max_size=8)
)


@st.composite
def text_rows(draw: st.DrawFn) -> list[RawRow]:
    """Rows of text (or null) values, some items absent, as the raw zone holds them."""
    made: list[RawRow] = []
    for n in range(draw(st.integers(0, 25))):
        data: dict[str, object] = {}
        for item, values in VALUES.items():
            if draw(st.booleans()):
                value = draw(
                    st.one_of(values, TEXTS, ID_LIKE) if item == "sfzh" else st.one_of(values, TEXTS)
                )
                data[item] = value if value is None or isinstance(value, str) else str(value)
        made.append(RawRow(1, f"{n:04d}", 1, data))
    return made


SOURCE = SourceSpec(
    7,
    BaseKind.PERSON,
    "sfzh",
    {"name": "xm", "birth_date": "csrq", "gender": "xb", "division_code": "xzqh"},
    {"household": "H1"},
    1,
    {},
    "GAJ",
)
MOMENT = datetime(2026, 12, 7, tzinfo=UTC)


def _page(rows: list[RawRow], ascii_only: bool) -> list[tuple[str, int, str]]:
    return [(r.source_key, r.batch_id, json.dumps(r.data, ensure_ascii=ascii_only)) for r in rows]


def _by_rows(outcome: Outcome) -> tuple[object, ...]:
    return (
        [(k.row.source_key, k.data, k.changes) for k in outcome.kept],
        [(r.row.source_key, r.row.data, r.rule_id, r.item, r.reason) for r in outcome.refused],
        outcome.changed_values,
    )


def _by_frame(outcome: FrameOutcome) -> tuple[object, ...]:
    kept = outcome.kept.select("source_key", "data", "changes").iter_rows()
    return (
        [(key, from_json(data), from_json(changes)) for key, data, changes in kept],
        [(r.row.source_key, r.row.data, r.rule_id, r.item, r.reason) for r in outcome.refused],
        outcome.changed_values,
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from(POOL), min_size=1, max_size=8, unique_by=lambda r: r["id"]),
    st.lists(text_rows(), min_size=1, max_size=3),
    st.booleans(),
)
@example(  # the gender digit full-width: Python's int() reads it
    [p for p in POOL if p["id"] in {"x-xb", "x-csrq"}],
    [[RawRow(1, "1", 1, {"sfzh": "1101051949123100５1", "xb": "1", "csrq": "1949-12-31"})]],
    False,
)
def test_a_page_as_a_frame_is_governed_as_row_by_row(
    chosen: list[dict[str, object]], pages: list[list[RawRow]], ascii_only: bool
) -> None:
    rules = RULES.validate_python(chosen)
    by_rows = RuleEngine(rules, 1, ALL_KINDS, ITEMS)
    on_frames = FrameRules(RuleEngine(rules, 1, ALL_KINDS, ITEMS))
    claims_by_rows, claims_on_frames = FusionStats(), FusionStats()
    for rows in pages:  # several pages: unique values and memos carry from one to the next
        expected = by_rows.apply_rows(rows)
        by_rows.finish(expected)
        page = _page(rows, ascii_only)
        outcome = on_frames.apply_rows(1, page, extra_items=source_items({SOURCE.id: SOURCE}))
        if outcome is None:  # escaped surrogates (a character beyond the BMP, \\u-escaped) only
            assert ascii_only and any(re.search(r"\\u[dD][89a-fA-F]", raw) for _, _, raw in page)
            return
        on_frames.finish(outcome)
        assert _by_frame(outcome) == _by_rows(expected)
        # and the base source's claims from the kept rows, key by key
        trusted = by_rows.canonical.get("sfzh") == "id_number"
        assert page_claims(SOURCE, outcome, MOMENT, claims_on_frames, trusted) == page_claims(
            SOURCE, expected, MOMENT, claims_by_rows, trusted
        )
    assert claims_on_frames.own == claims_by_rows.own
    assert (claims_on_frames.claims, claims_on_frames.unlinked) == (
        claims_by_rows.claims,
        claims_by_rows.unlinked,
    )


def test_a_kept_row_nothing_changed_keeps_its_raw_text() -> None:
    rules = RULES.validate_python([{"id": "std-xm", "kind": "standardize", "item": "xm", "element": "NAME"}])
    outcome = FrameRules(RuleEngine(rules, 1, ALL_KINDS, ITEMS)).apply_rows(
        1, [("1", 1, '{"xm": "张三", "note": "x"}'), ("2", 1, '{"xm":" 张三"}')]
    )
    assert outcome is not None
    assert outcome.kept.get_column("data").to_list()[0] == '{"xm": "张三", "note": "x"}'
    assert from_json(outcome.kept.get_column("data").to_list()[1]) == {"xm": "张三"}


def test_pages_with_values_that_are_not_text_go_the_row_engines_way() -> None:
    rules = RULES.validate_python([{"id": "std-xm", "kind": "standardize", "item": "xm", "element": "NAME"}])
    frames = FrameRules(RuleEngine(rules, 1, ALL_KINDS, ITEMS))
    for raw in [
        '{"xm":"张三","nl":30}',
        '{"xm":true}',
        '{"xm":["张三"]}',
        '{"a":{"b":"c"}}',
        '{"xm":"\\ud800"}',
    ]:
        assert frames.apply_rows(1, [("1", 1, '{"xm":"李四"}'), ("2", 1, raw)]) is None, raw
    assert frames.apply_rows(1, [("1", 1, r'{"xm":"说 \":5", "nl": ":0"}')]) is not None
    assert frames.apply_rows(1, [("1", 1, '{"xm":"张三","csrq":null}')]) is not None


def test_keys_the_raw_text_spells_otherwise_still_get_their_new_values() -> None:
    """An escaped key (a writer with ensure_ascii), a key's text inside another value, a new value with
    what a regular expression's replacement would read as a group: the clean data holds the new values."""
    rules = RULES.validate_python(
        [
            {"id": "std-xm", "kind": "standardize", "item": "姓名", "element": "NAME"},
            {"id": "std-bz", "kind": "standardize", "item": "备注", "element": "TEXT"},
        ]
    )
    frames = FrameRules(RuleEngine(rules, 1, {**ALL_KINDS, "TEXT": "text"}, {"姓名": "NAME", "备注": "TEXT"}))
    page = [
        ("1", 1, json.dumps({"姓名": " 张三", "备注": " $1 "}, ensure_ascii=True)),
        ("2", 1, '{"备注":"\\"姓名\\":\\" 赵六\\"","姓名":" 钱七"}'),
        ("3", 1, '{"姓名":"孙八","备注":" ${1}$$ "}'),
    ]
    outcome = frames.apply_rows(1, page)
    assert outcome is not None
    data = [from_json(text) for text in outcome.kept.get_column("data").to_list()]
    assert data == [
        {"姓名": "张三", "备注": "$1"},
        {"备注": '"姓名":" 赵六"', "姓名": "钱七"},
        {"姓名": "孙八", "备注": "${1}$$"},
    ]


# values a JSON writer escapes (quotes, backslashes, control characters) or that are blank to Python
TRICKY = st.text(alphabet=st.sampled_from('ab张"\\\x00\x1c\x1f\n \u3000\x85'), max_size=5)
PLAIN = st.sampled_from(["张三", "1", "阿依·古丽"])
SOURCES = st.sampled_from(
    [
        SOURCE,
        SourceSpec(8, BaseKind.PERSON, "sfzh", {"name": "xm", "address": "xm"}, {}, 1, {}, "RSJ"),
        # a constant where an attribute is: the constant's value in the attribute's place, or at the end
        SourceSpec(
            9, BaseKind.PERSON, "sfzh", {"name": "xm", "gender": "xb"}, {"gender": '"9\\'}, 1, {}, "WJW"
        ),
    ]
)


@settings(max_examples=150, deadline=None)
@given(
    SOURCES,
    st.lists(
        st.tuples(
            st.sampled_from(["11010519491231002X", "110105194912310021", " ", "\x1c", "", None, "12345"]),
            st.one_of(st.none(), PLAIN, TRICKY),
            st.one_of(st.none(), PLAIN, TRICKY),
        ),
        max_size=12,
    ),
    st.booleans(),
)
def test_claims_on_frames_are_the_claims_python_writes(
    source: SourceSpec, said: list[tuple[str | None, str | None, str | None]], trusted: bool
) -> None:
    """Every claim's key, row and JSON text as ``fusion.claims_of`` writes them — values JSON escapes,
    blank values left out, constants where Python's dict puts them, the last row of a key winning."""
    rows = [
        RawRow(1, f"{n:03d}", 1 + n % 2, {"sfzh": key, "xm": name, "xb": gender})
        for n, (key, name, gender) in enumerate(said)
    ]
    rules = RULES.validate_python([{"id": "rng-nl", "kind": "range", "item": "nl", "min": 0}])
    expected = RuleEngine(rules, 1, ALL_KINDS, ITEMS).apply_rows(rows)
    outcome = FrameRules(RuleEngine(rules, 1, ALL_KINDS, ITEMS)).apply_rows(
        1, _page(rows, False), extra_items=source_items({source.id: source})
    )
    assert isinstance(outcome, FrameOutcome)
    on_frames, by_rows = FusionStats(), FusionStats()
    assert page_claims(source, outcome, MOMENT, on_frames, trusted) == page_claims(
        source, expected, MOMENT, by_rows, trusted
    )
    assert (on_frames.own, on_frames.claims, on_frames.unlinked, on_frames.keys) == (
        by_rows.own,
        by_rows.claims,
        by_rows.unlinked,
        by_rows.keys,
    )
