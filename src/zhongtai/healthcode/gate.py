"""At a gate (卡口): what the guard is told for a scanned code — red barred, yellow restricted, green passes
— with a temperature taken there counting as evidence too (at or above the rules' fever line the person is
restricted now, and the measurement becomes a yellow reason on their code)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from zhongtai.healthcode.envelope import AK_CLAIM, Opened
from zhongtai.healthcode.rules import Colour, RuleSet


class Decision(enum.StrEnum):
    PASS = "pass"  # 通行  # noqa: S105 - a gate decision, not a password
    RESTRICTED = "restricted"  # 限制通行 (escort, registration, the place's own rule)
    BARRED = "barred"  # 禁止通行


@dataclass(frozen=True, slots=True)
class GateAnswer:
    colour: Colour
    decision: Decision
    masked_name: str
    fever: bool
    subject: str = ""  # the holder's pseudonym, for the entry record


DECISIONS = {Colour.GREEN: Decision.PASS, Colour.YELLOW: Decision.RESTRICTED, Colour.RED: Decision.BARRED}


class NotAPersonCode(ValueError):
    """A verified code that is not a person's (a place code shown at a gate, say)."""


def decide(opened: Opened, rules: RuleSet, temperature: float | None = None) -> GateAnswer:
    """The gate's answer for a verified person code, the temperature taken there counted."""
    claim = opened.claims.get(AK_CLAIM)
    if not isinstance(claim, dict) or claim.get("t") != "person":
        raise NotAPersonCode("this is not a person code: a place or enterprise code does not open a gate")
    colour = (
        Colour[str(claim.get("c", "")).upper()]
        if str(claim.get("c", "")).upper() in Colour.__members__
        else None
    )
    if colour is None:
        raise NotAPersonCode("the code names no colour")
    fever = temperature is not None and temperature >= rules.yellow.fever_celsius
    if fever:
        colour = max(colour, Colour.YELLOW)
    return GateAnswer(colour, DECISIONS[colour], str(claim.get("n", "")), fever, str(claim.get("s", "")))
