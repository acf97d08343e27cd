"""Colour rules: each rule with its reasons, the way back to green, versions, and invariants over arbitrary
evidence."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from zhongtai.core.types import as_json
from zhongtai.healthcode.rules import (
    Colour,
    Evidence,
    Fact,
    RuleSet,
    YellowRules,
    colour_of,
    reason_view,
    reasons_json,
)

T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 10:00 Beijing time
RULES = RuleSet(version=3)


def fact(kind: Fact, days: float = 0, value: float | str | None = None, department: str = "WJW") -> Evidence:
    return Evidence(kind, T0 + timedelta(days=days), department, f"{kind.value}-{days}", value)


def checkins(first_day: int, last_day: int) -> list[Evidence]:
    return [fact(Fact.CHECKIN_NORMAL, d) for d in range(first_day, last_day + 1)]


def test_nothing_known_is_green_without_reasons() -> None:
    verdict = colour_of([], RULES, T0)
    assert verdict.colour is Colour.GREEN and verdict.reasons == () and verdict.rule_version == 3


def test_a_positive_test_is_red_with_its_source_as_the_reason() -> None:
    verdict = colour_of([fact(Fact.POSITIVE_TEST, value="阳性")], RULES, T0 + timedelta(hours=1))
    assert verdict.colour is Colour.RED
    shown = reason_view(verdict.reasons[0])
    assert shown["rule"] == "red.positive_test" and shown["department"] == "WJW" and shown["record"]
    assert shown["until"] == "2026-12-15"


def test_red_needs_fourteen_days_and_fourteen_normal_checkins() -> None:
    evidence = [fact(Fact.POSITIVE_TEST), *checkins(1, 13)]
    assert colour_of(evidence, RULES, T0 + timedelta(days=15)).colour is Colour.RED  # 13 check-ins only
    evidence += checkins(14, 14)
    assert colour_of(evidence, RULES, T0 + timedelta(days=13)).colour is Colour.RED  # not 14 days yet
    assert colour_of(evidence, RULES, T0 + timedelta(days=14)).colour is Colour.GREEN


def test_yellow_from_fever_risk_area_or_symptoms_and_back_after_seven_consecutive_checkins() -> None:
    for trigger in (
        fact(Fact.GATE_TEMPERATURE, value=37.3, department="GAJ"),
        fact(Fact.RISK_AREA_STAY, value="瑶海区明光路街道"),
        fact(Fact.SYMPTOMS, value="发热、咳嗽"),
    ):
        assert colour_of([trigger], RULES, T0 + timedelta(hours=1)).colour is Colour.YELLOW
        broken = [trigger, *checkins(1, 3), *checkins(5, 8)]  # a missed day breaks the run
        assert colour_of(broken, RULES, T0 + timedelta(days=8)).colour is Colour.YELLOW
        unbroken = [trigger, *checkins(1, 7)]
        assert colour_of(unbroken, RULES, T0 + timedelta(days=7, hours=5)).colour is Colour.GREEN


def test_a_normal_temperature_or_an_unreadable_one_is_no_reason() -> None:
    for value in (36.8, 37.29, "未测", None):
        assert colour_of([fact(Fact.GATE_TEMPERATURE, value=value)], RULES, T0).colour is Colour.GREEN


def test_red_outranks_yellow_and_every_active_trigger_is_a_reason() -> None:
    evidence = [fact(Fact.SYMPTOMS), fact(Fact.POSITIVE_TEST, 1)]
    verdict = colour_of(evidence, RULES, T0 + timedelta(days=2))
    assert verdict.colour is Colour.RED
    assert [r.rule for r in verdict.reasons] == ["red.positive_test", "yellow.symptoms"]


def test_the_rule_version_changes_the_colour_and_is_named() -> None:
    lenient = RuleSet(version=4, yellow=YellowRules(fever_celsius=38.0))
    evidence = [fact(Fact.GATE_TEMPERATURE, value=37.6)]
    assert colour_of(evidence, RULES, T0).colour is Colour.YELLOW
    verdict = colour_of(evidence, lenient, T0)
    assert verdict.colour is Colour.GREEN and verdict.rule_version == 4


FACTS = st.builds(
    fact,
    st.sampled_from(list(Fact)),
    st.floats(min_value=-30, max_value=30, allow_nan=False),
    st.one_of(st.none(), st.floats(min_value=35, max_value=41, allow_nan=False), st.just("阴性")),
)


@settings(max_examples=300, deadline=None, database=None)
@given(st.lists(FACTS, max_size=25), st.floats(min_value=-10, max_value=40, allow_nan=False))
def test_green_exactly_when_no_trigger_is_active_and_reasons_come_from_the_evidence(
    evidence: list[Evidence], day: float
) -> None:
    verdict = colour_of(evidence, RULES, T0 + timedelta(days=day))
    assert (verdict.colour is Colour.GREEN) == (verdict.reasons == ())
    assert all(reason.evidence in evidence for reason in verdict.reasons)
    assert all(reason.evidence.fact is not Fact.CHECKIN_NORMAL for reason in verdict.reasons)
    assert verdict.colour == max((r.colour for r in verdict.reasons), default=Colour.GREEN)


@settings(max_examples=300, deadline=None, database=None)
@given(
    st.lists(FACTS, max_size=20), st.floats(min_value=-10, max_value=40, allow_nan=False), st.floats(-30, 30)
)
def test_more_bad_news_never_makes_a_code_greener(evidence: list[Evidence], day: float, when: float) -> None:
    now = T0 + timedelta(days=day)
    before = colour_of(evidence, RULES, now).colour
    after = colour_of([*evidence, fact(Fact.POSITIVE_TEST, when)], RULES, now).colour
    assert after >= before


# The rules read plainly, as colour_of first implemented them: its fast paths (no evidence, nothing checked
# in since, one reason) must decide exactly as this does.
PLAIN_RULES: list[tuple[Fact, Colour, str, Callable[[RuleSet], bool]]] = [
    (Fact.POSITIVE_TEST, Colour.RED, "red.positive_test", lambda r: r.red.positive_test),
    (Fact.CLOSE_CONTACT, Colour.RED, "red.close_contact", lambda r: r.red.close_contact),
    (Fact.CO_VISITOR, Colour.YELLOW, "yellow.co_visitor", lambda r: r.yellow.co_visitor),
    (Fact.SECONDARY_CONTACT, Colour.YELLOW, "yellow.secondary_contact", lambda r: r.yellow.secondary_contact),
    (Fact.RISK_AREA_STAY, Colour.YELLOW, "yellow.risk_area", lambda r: r.yellow.risk_area),
    (Fact.SYMPTOMS, Colour.YELLOW, "yellow.symptoms", lambda r: r.yellow.symptoms),
]


def plain_colour(
    evidence: list[Evidence], rules: RuleSet, now: datetime
) -> tuple[Colour, list[tuple[str, str]]]:
    zone = ZoneInfo("Asia/Shanghai")
    today = now.astimezone(zone).date()
    checked = {e.at.astimezone(zone).date() for e in evidence if e.fact is Fact.CHECKIN_NORMAL}
    found: list[tuple[Colour, datetime, str, str, date]] = []
    for item in evidence:
        matched = [(c, name) for f, c, name, on in PLAIN_RULES if item.fact is f and on(rules)]
        fever = item.fact is Fact.GATE_TEMPERATURE and isinstance(item.value, float)
        if fever and item.value >= rules.yellow.fever_celsius:  # type: ignore[operator]
            matched = [(Colour.YELLOW, "yellow.fever")]
        if not matched or item.at > now:
            continue
        colour, name = matched[0]
        started = item.at.astimezone(zone).date()
        kind = rules.red if colour is Colour.RED else rules.yellow
        if colour is Colour.RED:
            done = sum(1 for d in checked if started < d <= today) >= kind.checkins
        else:
            day, run = (today if today in checked else today - timedelta(days=1)), 0
            while day > started and day in checked:
                run, day = run + 1, day - timedelta(days=1)
            done = run >= kind.checkins
        ends = started + timedelta(days=kind.days)
        if not (today >= ends and done):
            found.append((colour, item.at, name, item.record, ends))
    found.sort(key=lambda r: (-r[0], -r[1].timestamp()))
    return (found[0][0] if found else Colour.GREEN), [(name, record) for _, _, name, record, _ in found]


RULE_SETS = st.builds(
    lambda on, red_days, red_checkins, yellow_days, yellow_checkins: RuleSet.model_validate(
        {
            "red": {
                "positive_test": on[0],
                "close_contact": on[1],
                "days": red_days,
                "checkins": red_checkins,
            },
            "yellow": {
                "risk_area": on[2],
                "symptoms": on[3],
                "co_visitor": on[4],
                "secondary_contact": on[5],
                "days": yellow_days,
                "checkins": yellow_checkins,
            },
        }
    ),
    st.lists(st.booleans(), min_size=6, max_size=6),
    st.integers(1, 20),
    st.integers(0, 20),
    st.integers(1, 10),
    st.integers(0, 10),
)


@given(st.lists(FACTS, max_size=20), RULE_SETS, st.floats(min_value=-10, max_value=40, allow_nan=False))
@settings(max_examples=300)
def test_colour_of_decides_as_the_rules_read_plainly(
    evidence: list[Evidence], rules: RuleSet, day: float
) -> None:
    now = T0 + timedelta(days=day)
    verdict = colour_of(evidence, rules, now)
    colour, reasons = plain_colour(evidence, rules, now)
    assert verdict.colour is colour
    assert [(r.rule, r.evidence.record) for r in verdict.reasons] == reasons


@given(st.lists(FACTS, max_size=12), st.floats(min_value=-10, max_value=40, allow_nan=False))
@settings(max_examples=300, deadline=None, database=None)
def test_the_stored_reasons_are_the_reasons_shown(evidence: list[Evidence], day: float) -> None:
    verdict = colour_of(evidence, RULES, T0 + timedelta(days=day))
    assert reasons_json(verdict.reasons) == as_json([reason_view(r) for r in verdict.reasons])
