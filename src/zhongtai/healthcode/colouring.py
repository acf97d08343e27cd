"""Colours kept: the rule versions, the evidence that reaches the health code, and every person's colour
recomputed — for the people some new evidence concerns, or for everyone after a rule change — with each
change of colour kept in the person's history. Service functions: they flush, the caller commits."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from typing import Any

import polars as pl
from sqlalchemy.orm import Session

from zhongtai.core import audit
from zhongtai.core.bulk import utc_moment
from zhongtai.core.principal import Principal
from zhongtai.healthcode import columns
from zhongtai.healthcode.models import RuleVersion
from zhongtai.healthcode.repository import HealthCodeRepository
from zhongtai.healthcode.rules import FACTS, Colour, Evidence, RuleSet, colour_of, reasons_json

PAGE = 5_000  # persons recomputed per round trip


@dataclass(frozen=True, slots=True)
class Recomputed:
    persons: int
    changed: int
    rule_version: int


def current_rules(session: Session) -> RuleSet:
    """The newest saved rules; the defaults (version 1) before the first save."""
    latest = HealthCodeRepository(session).latest_rules()
    return RuleSet.model_validate({**latest.rules, "version": latest.version}) if latest else RuleSet()


def rule_history(session: Session) -> list[RuleVersion]:
    return HealthCodeRepository(session).rule_versions()


def save_rules(session: Session, actor: Principal, rules: RuleSet, comment: str = "") -> RuleSet:
    """A new version of the rules (the version given is ignored: each save is the next one)."""
    repo = HealthCodeRepository(session)
    version = repo.next_rule_version()
    saved = rules.model_copy(update={"version": version})
    body = saved.model_dump(exclude={"version"})
    session.add(RuleVersion(version=version, rules=body, saved_by=actor.username, comment=comment))
    session.flush()
    audit.record(session, actor, "healthcode.rules.saved", "healthcode_rules", str(version), {"rules": body})
    return saved


def record_evidence(session: Session, items: Sequence[tuple[str, Evidence]]) -> None:
    """Facts about persons (by subject id), as they arrive; recompute those persons after."""
    rows = [
        (subject, e.fact.value, e.at, e.department, e.record, None if e.value is None else str(e.value))
        for subject, e in items
    ]
    HealthCodeRepository(session).add_evidence(rows)


def evidence_by_subject(rows: Sequence[tuple[object, ...]]) -> Iterator[tuple[str, list[Evidence]]]:
    """Evidence rows (ordered by subject) as each person's facts."""
    for subject, group in groupby(rows, key=lambda row: row[0]):
        facts = [
            Evidence(FACTS[str(fact)], utc_moment(at), str(department), str(record), value)  # type: ignore[arg-type]
            for _, fact, at, department, record, value in group
        ]
        yield str(subject), facts


def recompute(
    session: Session, now: datetime, subjects: Sequence[str] | None = None, rules: RuleSet | None = None
) -> Recomputed:
    """Recompute the colours of ``subjects`` (everyone with evidence when None) under ``rules`` (the
    current ones by default); write the colours that changed, or were decided by another rule version,
    and keep each change of colour in the history."""
    rules = rules or current_rules(session)
    repo = HealthCodeRepository(session)
    persons = changed = 0
    for page in _pages(repo, subjects):
        done = _decide(repo, page, dict(evidence_by_subject(repo.evidence_of(page))), rules, now)
        persons, changed = persons + done[0], changed + done[1]
    return Recomputed(persons, changed, rules.version)


def facts_of(session: Session, subjects: Sequence[str]) -> dict[str, list[Evidence]]:
    """Each person's evidence on record, read page by page (for :func:`recompute_known`)."""
    repo, ordered = HealthCodeRepository(session), sorted(set(subjects))
    facts: dict[str, list[Evidence]] = {}
    for first in range(0, len(ordered), PAGE):
        facts.update(evidence_by_subject(repo.evidence_of(ordered[first : first + PAGE])))
    return facts


def recompute_known(
    session: Session, now: datetime, facts: dict[str, list[Evidence]], rules: RuleSet | None = None
) -> Recomputed:
    """:func:`recompute` for persons whose whole evidence the caller holds already (read, then added to,
    in this transaction) — the evidence is not read back."""
    rules = rules or current_rules(session)
    repo = HealthCodeRepository(session)
    persons = changed = 0
    for page in _pages(repo, list(facts)):
        done = _decide(repo, page, facts, rules, now)
        persons, changed = persons + done[0], changed + done[1]
    return Recomputed(persons, changed, rules.version)


def recompute_added(
    session: Session, now: datetime, added: dict[str, list[Evidence]], rules: RuleSet | None = None
) -> Recomputed:
    """:func:`recompute` for persons to whom the caller has just added (and written) evidence, which it
    holds: that is not read back, and the rest of a person's evidence is read only if they have a colour on
    record — every write of evidence recomputes its person, and a person decided once keeps a colour row
    (green included), so one without a row had no evidence before this transaction. ``added`` becomes each
    person's whole evidence (it is the caller's to give up)."""
    rules = rules or current_rules(session)
    repo = HealthCodeRepository(session)
    persons = changed = 0
    for page in _pages(repo, list(added)):
        stored = repo.colours_of(page)
        holders = [subject for subject in page if subject in stored]
        if holders:
            fresh = {(subject, e.record) for subject in holders for e in added[subject]}
            for subject, held in evidence_by_subject(repo.evidence_of(holders)):
                earlier = [e for e in held if (subject, e.record) not in fresh]
                added[subject] = sorted(earlier + added[subject], key=lambda e: e.at)
        done = _decide(repo, page, added, rules, now, stored)
        persons, changed = persons + done[0], changed + done[1]
    return Recomputed(persons, changed, rules.version)


def recompute_stays(
    session: Session, now: datetime, stays: pl.DataFrame, rules: RuleSet | None = None
) -> Recomputed:
    """Colours of the people whose new evidence (just written) is ``stays``, a frame of
    ``columns.SCHEMA`` with switch-rule facts only: people with a colour on record through
    :func:`recompute_added` (their other evidence read), people new to the platform decided on columns."""
    rules = rules or current_rules(session)
    repo = HealthCodeRepository(session)
    subjects: list[str] = stays.get_column("subject").unique().sort().to_list()
    holders: list[str] = []
    for first in range(0, len(subjects), PAGE):
        holders += list(repo.colours_of(subjects[first : first + PAGE]))
    done = Recomputed(0, 0, rules.version)
    if holders:
        added: defaultdict[str, list[Evidence]] = defaultdict(list)
        held = stays.filter(pl.col("subject").is_in(holders))
        for subject, fact, at, department, record, value, _ in held.iter_rows():
            added[subject].append(Evidence(FACTS[fact], at, department, record, value))
        done = recompute_added(session, now, added, rules)
    decided = columns.decide_frame(stays.filter(~pl.col("subject").is_in(holders)), rules, now)
    moment, version, changed = repo.moment(now), rules.version, 0
    for first in range(0, len(decided), PAGE):  # green is where all begin: no change written for it
        chunk = decided[first : first + PAGE]
        colours = [
            (subject, colour, version, reasons, moment, moment) for subject, (colour, reasons) in chunk
        ]
        changes = [(s, colour, None, version, moment, reasons) for s, (colour, reasons) in chunk if colour]
        repo.write_colours(colours, changes)
        changed += len(changes)
    return Recomputed(done.persons + len(decided), done.changed + changed, rules.version)


def _decide(
    repo: HealthCodeRepository,
    page: list[str],
    known: dict[str, list[Evidence]],
    rules: RuleSet,
    now: datetime,
    stored: dict[str, tuple[int, int, Any, str]] | None = None,
) -> tuple[int, int]:
    """One page's colours decided and the changed ones written; (persons decided, colours changed)."""
    stored = repo.colours_of(page) if stored is None else stored
    moment = repo.moment(now)  # as the driver takes it, once: rows need no conversion on their way out
    version = rules.version
    colours, changes = [], []
    persons = changed = 0
    for subject in page:  # one with no evidence left (an area lifted, say) is green again
        facts = known.get(subject, [])
        if not facts and subject not in stored:
            continue  # nothing known and nothing stored: green already
        verdict = colour_of(facts, rules, now)
        persons += 1
        before = stored.get(subject)
        colour, reasons = int(verdict.colour), reasons_json(verdict.reasons)
        if before is not None and (*before[:2], before[3]) == (colour, version, reasons):
            continue  # the same colour for the same reasons: nothing to write
        same = before is not None and before[0] == colour
        since = before[2] if same and before is not None else moment  # as stored, or now
        colours.append((subject, colour, version, reasons, since, moment))
        if not same:
            previous = before[0] if before else None
            if not (previous is None and colour == Colour.GREEN):  # green is where all begin
                changes.append((subject, colour, previous, version, moment, reasons))
                changed += 1
    repo.write_colours(colours, changes)
    return persons, changed


def _pages(repo: HealthCodeRepository, subjects: Sequence[str] | None) -> Iterator[list[str]]:
    if subjects is not None:
        unique = sorted(set(subjects))
        for start in range(0, len(unique), PAGE):
            yield unique[start : start + PAGE]
        return
    after = ""
    while page := repo.subjects_after(after, PAGE):
        yield page
        after = page[-1]
