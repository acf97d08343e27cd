"""The gate's rule: red barred, yellow restricted, green passes; a fever at the gate restricts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.healthcode.test_envelope import NOW, SIGNER, TRUST, person_claims
from zhongtai.healthcode.envelope import AK_CLAIM, open_code, seal
from zhongtai.healthcode.gate import Decision, NotAPersonCode, decide
from zhongtai.healthcode.rules import Colour, RuleSet

RULES = RuleSet()
LATER = NOW + timedelta(minutes=1)


@pytest.mark.parametrize(
    ("colour", "decision"),
    [("green", Decision.PASS), ("yellow", Decision.RESTRICTED), ("red", Decision.BARRED)],
)
def test_each_colour_gets_its_rule(colour: str, decision: Decision) -> None:
    opened = open_code(seal(person_claims(c=colour), SIGNER), TRUST, LATER)
    answer = decide(opened, RULES)
    assert answer.decision is decision and answer.masked_name == "王*" and not answer.fever


def test_a_fever_at_the_gate_restricts_a_green_code_but_never_lightens_a_red_one() -> None:
    green = open_code(seal(person_claims(), SIGNER), TRUST, LATER)
    assert decide(green, RULES, 37.3).decision is Decision.RESTRICTED
    assert decide(green, RULES, 37.2).decision is Decision.PASS
    red = open_code(seal(person_claims(c="red"), SIGNER), TRUST, LATER)
    assert decide(red, RULES, 38.5).colour is Colour.RED


def test_a_place_code_does_not_open_a_gate() -> None:
    claims = person_claims()
    claims[AK_CLAIM] = {**claims[AK_CLAIM], "t": "place"}
    with pytest.raises(NotAPersonCode):
        decide(open_code(seal(claims, SIGNER), TRUST, LATER), RULES)
