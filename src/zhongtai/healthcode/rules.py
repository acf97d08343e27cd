"""一码三色: a person's colour from the evidence about them and a versioned rule set kept as data.

Red (quarantine) from a positive test; it turns green after ``red.days`` days *and* ``red.checkins`` normal
daily check-ins since. Yellow (restricted) from a stay in a declared risk area during its period, a
temperature at or above ``yellow.fever_celsius`` at a gate, or symptoms declared at the daily check-in; it
turns green after ``yellow.days`` days *and* ``yellow.checkins`` consecutive normal check-ins since. The
colour is the most severe active trigger's; every active trigger is a reason naming the department, the
record and the time it came from. A pure function: the same evidence and rules always give the same
colour, so a bulk recomputation after a rule change is this function over every person.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import orjson
from pydantic import BaseModel, ConfigDict, Field

from zhongtai.core.types import CITY_ZONE, as_json


class Colour(enum.IntEnum):
    """Ordered by severity: the worst active trigger decides."""

    GREEN = 0
    YELLOW = 1
    RED = 2

    @property
    def label(self) -> str:
        return self.name.lower()


class Fact(enum.StrEnum):
    POSITIVE_TEST = "positive_test"  # 核酸/抗原阳性 (health commission)
    RISK_AREA_STAY = "risk_area_stay"  # a stay in a declared area during its period (gate, scan, travel)
    GATE_TEMPERATURE = "gate_temperature"  # measured at a gate (°C)
    SYMPTOMS = "symptoms"  # declared at the daily check-in (健康打卡)
    CHECKIN_NORMAL = "checkin_normal"  # a daily check-in without symptoms
    CLOSE_CONTACT = "close_contact"  # 密接: at a case's place within minutes of the case (a trace)
    CO_VISITOR = "co_visitor"  # 时空伴随: at a case's place in the same half day
    SECONDARY_CONTACT = "secondary_contact"  # 次密接: a close contact's close contact


FACTS: dict[str, Fact] = {fact.value: fact for fact in Fact}  # by stored value, faster than Fact(value)


# Evidence, reasons and verdicts are named tuples: immutable like frozen dataclasses, made four times as
# fast, and a recomputation makes one of each per fact and person.
class Evidence(NamedTuple):
    """One fact about a person: what, when, and where it came from (department, record)."""

    fact: Fact
    at: datetime
    department: str
    record: str
    value: float | str | None = None


class Reason(NamedTuple):
    """Why a code has its colour: the rule that fired, on which evidence."""

    colour: Colour
    rule: str  # e.g. ``red.positive_test``
    evidence: Evidence
    until: date | None  # the earliest day the trigger may end (more check-ins may still be needed)


class Verdict(NamedTuple):
    colour: Colour
    reasons: tuple[Reason, ...]
    rule_version: int


class RedRules(BaseModel):
    model_config = ConfigDict(extra="forbid")
    positive_test: bool = Field(True, description="A positive test turns the code red")
    close_contact: bool = Field(True, description="A close contact found by a trace turns the code red")
    days: int = Field(14, ge=1, le=60, description="Days of quarantine at least")
    checkins: int = Field(14, ge=0, le=60, description="Normal daily check-ins needed since the test")


class YellowRules(BaseModel):
    model_config = ConfigDict(extra="forbid")
    risk_area: bool = Field(True, description="A stay in a declared risk area during its period")
    fever_celsius: float = Field(37.3, ge=36.0, le=42.0, description="Gate temperature at or above this")
    symptoms: bool = Field(True, description="Symptoms declared at the daily check-in")
    co_visitor: bool = Field(True, description="At a case's place in the same half day (a trace)")
    secondary_contact: bool = Field(True, description="A close contact's close contact (a trace)")
    days: int = Field(7, ge=1, le=30, description="Days restricted at least")
    checkins: int = Field(7, ge=0, le=30, description="Consecutive normal daily check-ins needed since")


class TracingRules(BaseModel):
    """How a trace (流调) classifies the people whose entries overlap a case's at the same place."""

    model_config = ConfigDict(extra="forbid")
    close_minutes: int = Field(30, ge=1, le=240, description="Close contact: within this many minutes")
    lookback_days: int = Field(14, ge=1, le=30, description="The case's entries this many days back")
    half_day: bool = Field(True, description="Co-visitor: the same place in the same half day")


class RuleSet(BaseModel):
    """The colour rules as the health commission keeps them: data, each save a new version."""

    model_config = ConfigDict(extra="forbid")
    version: int = Field(1, ge=1)
    red: RedRules = Field(default_factory=RedRules)
    yellow: YellowRules = Field(default_factory=YellowRules)
    tracing: TracingRules = Field(default_factory=TracingRules)


def _day(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


# Each fact's rule: its colour, its name, and whether the rule set has it on (fever has a threshold instead).
SWITCHES: dict[Fact, tuple[Colour, str, Callable[[RuleSet], bool]]] = {
    Fact.POSITIVE_TEST: (Colour.RED, "red.positive_test", lambda rules: rules.red.positive_test),
    Fact.CLOSE_CONTACT: (Colour.RED, "red.close_contact", lambda rules: rules.red.close_contact),
    Fact.CO_VISITOR: (Colour.YELLOW, "yellow.co_visitor", lambda rules: rules.yellow.co_visitor),
    Fact.SECONDARY_CONTACT: (
        Colour.YELLOW,
        "yellow.secondary_contact",
        lambda rules: rules.yellow.secondary_contact,
    ),
    Fact.RISK_AREA_STAY: (Colour.YELLOW, "yellow.risk_area", lambda rules: rules.yellow.risk_area),
    Fact.SYMPTOMS: (Colour.YELLOW, "yellow.symptoms", lambda rules: rules.yellow.symptoms),
}


def _trigger(item: Evidence, rules: RuleSet) -> tuple[Colour, str] | None:
    """The colour and rule this fact triggers under ``rules``, if any (a dict lookup: a recomputation
    asks this for every fact of every person)."""
    if item.fact is Fact.GATE_TEMPERATURE:
        fever = _fever(item.value, rules.yellow.fever_celsius)
        return (Colour.YELLOW, "yellow.fever") if fever else None
    rule = SWITCHES.get(item.fact)
    return (rule[0], rule[1]) if rule is not None and rule[2](rules) else None


def _fever(value: float | str | None, threshold: float) -> bool:
    try:
        return value is not None and float(value) >= threshold
    except ValueError:
        return False  # an unreadable measurement is no evidence of fever


def _checkin_days(evidence: Iterable[Evidence], zone: ZoneInfo) -> set[date]:
    return {_day(e.at, zone) for e in evidence if e.fact is Fact.CHECKIN_NORMAL}


def _consecutive_after(days: set[date], start: date, today: date) -> int:
    """Normal check-in days in an unbroken run ending today or yesterday (today's may come later), all
    after ``start``."""
    day = today if today in days else today - timedelta(days=1)
    run = 0
    while day > start and day in days:
        run += 1
        day -= timedelta(days=1)
    return run


def _still_active(
    colour: Colour, item: Evidence, rules: RuleSet, checkins: set[date], today: date, zone: ZoneInfo
) -> tuple[bool, date]:
    started = _day(item.at, zone)
    kind = rules.red if colour is Colour.RED else rules.yellow
    ends = started + timedelta(days=kind.days)
    if not checkins:  # most people under a trigger have not checked in since: nothing to count
        done = kind.checkins == 0
    elif colour is Colour.RED:
        done = sum(1 for d in checkins if started < d <= today) >= kind.checkins
    else:
        done = _consecutive_after(checkins, started, today) >= kind.checkins
    return not (today >= ends and done), ends


def colour_of(
    evidence: Sequence[Evidence], rules: RuleSet, now: datetime, zone: ZoneInfo = CITY_ZONE
) -> Verdict:
    """The person's colour now, with every active trigger as a reason (worst first, newest first)."""
    if not evidence:
        return Verdict(Colour.GREEN, (), rules.version)
    today = _day(now, zone)
    checkins = _checkin_days(evidence, zone)
    reasons = []
    for item in evidence:
        trigger = _trigger(item, rules)
        if trigger is None or item.at > now:
            continue  # no rule for it, or evidence from the future (a clock off) that does not count yet
        active, ends = _still_active(trigger[0], item, rules, checkins, today, zone)
        if active:
            reasons.append(Reason(trigger[0], trigger[1], item, ends))
    if len(reasons) > 1:
        reasons.sort(key=lambda r: (-r.colour, -r.evidence.at.timestamp()))
    colour = reasons[0].colour if reasons else Colour.GREEN
    return Verdict(colour, tuple(reasons), rules.version)


def reason_view(reason: Reason) -> dict[str, Any]:
    """A reason as the person and the API see it (为什么是黄码): rule, source department, record, time."""
    return {
        "colour": reason.colour.label,
        "rule": reason.rule,
        "department": reason.evidence.department,
        "record": reason.evidence.record,
        "at": reason.evidence.at.isoformat(),
        "value": reason.evidence.value,
        "until": reason.until.isoformat() if reason.until else None,
    }


def reasons_json(reasons: Sequence[Reason]) -> str:
    """``as_json([reason_view(r) for r in reasons])``, the text a colour row keeps, made in one orjson call
    from the datetimes themselves (a recomputation makes one per person). A float value (a temperature)
    takes the general path, which spells floats as the stdlib does."""
    views = []
    for reason in reasons:
        evidence = reason.evidence
        if isinstance(evidence.value, float):
            return as_json([reason_view(r) for r in reasons]) or "[]"
        views.append(
            {
                "colour": reason.colour.name.lower(),
                "rule": reason.rule,
                "department": evidence.department,
                "record": evidence.record,
                "at": evidence.at,
                "value": evidence.value,
                "until": reason.until,
            }
        )
    return orjson.dumps(views).decode()
