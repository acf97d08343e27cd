"""Colours decided on columns (Polars) for the people a sweep meets who had no evidence before it.

A risk-area declaration may concern a district's people at once, most of whom the platform knew nothing
about: their whole evidence is the stays just found. For them the rules reduce to switches and periods —
each fact of a switched-on rule is a reason until its period ends (with no check-in on record, "done"
needs none to be required), the worst reason's colour wins, reasons worst first and newest first — and
that runs on columns instead of person by person. ``rules.colour_of`` stays the reference: a property test
holds this module to it, colour and reasons text byte for byte, over arbitrary evidence and rule sets.
Values are text (a place's name); other facts (check-ins, temperatures) are refused here, and anyone with
a colour on record takes the reference path (``colouring.recompute_stays``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import polars as pl

from zhongtai.core.types import CITY_ZONE
from zhongtai.healthcode.rules import SWITCHES, Colour, Evidence, Fact, RuleSet

SCHEMA = pl.Schema(
    {
        "subject": pl.String(),
        "fact": pl.String(),
        "at": pl.Datetime("us", "UTC"),
        "department": pl.String(),
        "record": pl.String(),
        "value": pl.String(),
        "order": pl.Int64(),
    }
)


SQLITE_TIME = "%Y-%m-%d %H:%M:%S%.f"  # how the platform keeps moments on SQLite (UTC, no offset)


def stays_frame(rows: Sequence[tuple[object, ...]], fact: Fact, department: str) -> pl.DataFrame:
    """Evidence rows (subject, at, record, value) as the driver returned them — ``at`` as SQLite's UTC text
    or PostgreSQL's datetime — as a frame of ``SCHEMA``, in their order."""
    text = bool(rows) and isinstance(rows[0][1], str)
    at_type = pl.String() if text else pl.Datetime("us", "UTC")
    schema = pl.Schema({"subject": pl.String(), "at": at_type, "record": pl.String(), "value": pl.String()})
    frame = pl.DataFrame(rows, schema=schema, orient="row")
    if text:
        frame = frame.with_columns(pl.col("at").str.to_datetime(SQLITE_TIME, time_unit="us", time_zone="UTC"))
    return frame.with_columns(
        pl.lit(fact.value).alias("fact"),
        pl.lit(department).alias("department"),
        pl.int_range(pl.len(), dtype=pl.Int64).alias("order"),
    ).select(list(SCHEMA))


def decide(
    people: Mapping[str, Sequence[Evidence]], rules: RuleSet, now: datetime, zone: ZoneInfo = CITY_ZONE
) -> list[tuple[str, int, str]]:
    """(subject, colour, reasons as stored JSON) for each person, whose evidence must be switch-rule facts
    with text values; the same as ``colour_of`` and ``reasons_json`` would give."""
    decided = dict(decide_frame(pl.DataFrame(_columns(people), schema=SCHEMA), rules, now, zone))
    return [(subject, *decided[subject]) for subject in people]


def decide_frame(
    frame: pl.DataFrame, rules: RuleSet, now: datetime, zone: ZoneInfo = CITY_ZONE
) -> list[tuple[str, tuple[int, str]]]:
    """:func:`decide` on a frame of evidence (the columns of ``SCHEMA``; ``order`` breaks ties of time as
    the evidence's order does), for every subject in it, in subject order. Facts other than switch rules'
    (check-ins, temperatures) need the reference path: refused."""
    switches = [fact.value for fact in SWITCHES]
    if not frame.get_column("fact").is_in(switches).all():
        raise ValueError("only switch-rule facts are decided on columns")
    moment = now.astimezone(UTC)
    today = moment.astimezone(zone).date()
    reasons = (
        frame.join(_rule_table(rules), on="fact", how="inner")
        .filter(pl.col("at") <= moment)  # evidence from the future does not count yet
        .with_columns(pl.col("at").dt.convert_time_zone(zone.key).dt.date().alias("started"))
        .with_columns((pl.col("started") + pl.duration(days=pl.col("days"))).alias("until"))
        .filter(~((pl.lit(today) >= pl.col("until")) & (pl.col("checkins") == 0)))
        .sort(["subject", "colour", "at", "order"], descending=[False, True, True, False])
        .with_columns(_reason_json().alias("reason"))
        .group_by("subject", maintain_order=True)
        .agg(pl.col("colour").max(), pl.col("reason").str.join(","))
    )
    found = {s: (c, f"[{r}]") for s, c, r in reasons.iter_rows()}
    everyone = frame.get_column("subject").unique().sort().to_list()
    return [(s, found.get(s, (int(Colour.GREEN), "[]"))) for s in everyone]


def _columns(people: Mapping[str, Sequence[Evidence]]) -> dict[str, list[object]]:
    columns: dict[str, list[object]] = {name: [] for name in SCHEMA}
    order = 0
    for subject, facts in people.items():
        for e in facts:
            columns["subject"].append(subject)
            columns["fact"].append(e.fact.value)
            columns["at"].append(e.at)
            columns["department"].append(e.department)
            columns["record"].append(e.record)
            columns["value"].append(e.value)
            columns["order"].append(order)  # ties keep the evidence's order, as the reference's sort does
            order += 1
    return columns


def _rule_table(rules: RuleSet) -> pl.DataFrame:
    """One row per switched-on rule: its fact, colour, name, period and check-ins required."""
    rows = []
    for fact, (colour, name, on) in SWITCHES.items():
        if on(rules):
            kind = rules.red if colour is Colour.RED else rules.yellow
            rows.append((fact.value, int(colour), colour.name.lower(), name, kind.days, kind.checkins))
    columns = ["fact", "colour", "label", "rule", "days", "checkins"]
    schema = dict(zip(columns, [pl.String, pl.Int64, pl.String, pl.String, pl.Int64, pl.Int64], strict=True))
    return pl.DataFrame(rows, schema=schema, orient="row")


def _reason_json() -> pl.Expr:
    """A reason as ``reasons_json`` writes it: the same keys in the same order, times as isoformat."""
    at = pl.col("at")
    text = (
        pl.when(at.dt.microsecond() == 0)
        .then(at.dt.strftime("%Y-%m-%dT%H:%M:%S+00:00"))
        .otherwise(at.dt.strftime("%Y-%m-%dT%H:%M:%S%.6f+00:00"))
    )
    return pl.struct(
        pl.col("label").alias("colour"),
        pl.col("rule"),
        pl.col("department"),
        pl.col("record"),
        text.alias("at"),
        pl.col("value"),
        pl.col("until").dt.strftime("%Y-%m-%d").alias("until"),
    ).struct.json_encode()
