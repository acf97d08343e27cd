"""Colours on columns decide exactly as the reference rules do, for the people they take: colour and the
stored reasons text, byte for byte, over arbitrary evidence, moments and rule sets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.healthcode.test_rules import RULE_SETS
from zhongtai.healthcode import columns
from zhongtai.healthcode.rules import SWITCHES, Evidence, Fact, RuleSet, colour_of, reasons_json

T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)

EVIDENCE = st.builds(
    Evidence,
    st.sampled_from(sorted(SWITCHES)),
    st.integers(-40 * 86_400_000_000, 40 * 86_400_000_000).map(lambda us: T0 + timedelta(microseconds=us)),
    st.sampled_from(["WJW", "GAJ", "卫健委"]),
    st.text(max_size=12),
    st.one_of(st.none(), st.text(max_size=12)),
)
PEOPLE = st.dictionaries(
    st.text(min_size=1, max_size=8), st.lists(EVIDENCE, min_size=1, max_size=6), max_size=8
)


@given(PEOPLE, RULE_SETS, st.integers(-10 * 86_400, 50 * 86_400))
@settings(max_examples=300, deadline=None, database=None)
def test_columns_decide_as_the_reference_does(
    people: dict[str, list[Evidence]], rules: RuleSet, seconds: int
) -> None:
    now = T0 + timedelta(seconds=seconds)
    decided = columns.decide(people, rules, now)
    expected = []
    for subject, facts in people.items():
        verdict = colour_of(facts, rules, now)
        expected.append((subject, int(verdict.colour), reasons_json(verdict.reasons)))
    assert decided == expected


def test_facts_that_need_the_reference_path_are_refused() -> None:
    stay = Evidence(Fact.RISK_AREA_STAY, T0, "WJW", "area-1/visit-1", "场所")
    assert columns.decide({"p-1": [stay]}, RuleSet(), T0)[0][1] == 1
    for other in (
        Evidence(Fact.CHECKIN_NORMAL, T0, "SELF", "c-1"),
        Evidence(Fact.GATE_TEMPERATURE, T0, "GAJ", "g"),
    ):
        with pytest.raises(ValueError, match="switch-rule"):
            columns.decide({"p-1": [stay, other]}, RuleSet(), T0)
