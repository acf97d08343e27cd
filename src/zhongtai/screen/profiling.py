"""风险人群精准画像: risk groups counted by district, street, age band, sex and industry — never a person.

Two steps, both jobs:

1. **The profile sweep** walks the population base (``governance.lookups.BaseLookup.page``) a page per
   run, wrapping round, and keeps for each resident only coarse attributes under their pseudonym
   (``screen_profiles``): the district and street of their registered address, a ten-to-twenty-year age
   band, sex, and the industry social insurance records for their employer. No name, ID number, address
   or birth date is kept; each page read is an access entry in the audit trail (purpose: epidemic risk
   profiling). People who left the base drop out when a round completes.
2. **The counts**: the health code's risk groups (``healthcode.service.risk_groups``) joined to those
   attributes, every minute, kept as rollup gauges (exact; they never leave as they are). What leaves goes
   through small-cell and complementary suppression (``core.suppression``): the screen and its API; or,
   for a public release where exact counts may not leave, discrete Laplace noise from OpenDP, drawn once
   per release (a day) so that asking again does not average the noise away.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from zhongtai.core import audit
from zhongtai.core.bulk import bulk_upsert
from zhongtai.core.pseudonym import subject_key, subject_of
from zhongtai.core.rollups import Feeds, RollupGauge
from zhongtai.core.settings import Settings
from zhongtai.core.suppression import THRESHOLD, Table, suppress
from zhongtai.core.types import utcnow
from zhongtai.governance.lookups import BaseLookup
from zhongtai.governance.models import BaseKind
from zhongtai.healthcode import service as healthcode
from zhongtai.healthcode.divisions import OTHER, district_of, districts
from zhongtai.screen.models import ProfilePerson, ScreenState

PAGE = 20_000
GROUPS = healthcode.RISK_GROUPS
DIMENSIONS = ("district", "age_band", "sex", "industry")
AGE_BANDS = ("0-17", "18-29", "30-39", "40-49", "50-59", "60-69", "70+")
UNKNOWN = "?"
PURPOSE = "epidemic.risk-profiling"
ITEMS = ["户籍地址→区/街道", "出生日期→年龄段", "性别", "所属行业"]
_STREET = re.compile(r"^([^\d０-９]{1,30}?(?:街道|镇|乡|路|街|大道|巷|道))")
SEX = {"男": "男", "女": "女", "1": "男", "2": "女"}


NOT_DISTRICTS = ("市辖区", "市区")  # codes GB/T 2260 lists for a city's own office, not places on a map


def city_districts(settings: Settings) -> dict[str, str]:
    """The districts on the map and in the profile tables."""
    return {c: n for c, n in districts(settings.city_division).items() if n not in NOT_DISTRICTS}


def age_band(birth: str | None, today: date) -> str:
    try:
        born = date.fromisoformat(str(birth)[:10])
    except (TypeError, ValueError):
        return UNKNOWN
    years = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    if years < 0:
        return UNKNOWN
    bounds = (18, 30, 40, 50, 60, 70)
    return next(
        (band for band, bound in zip(AGE_BANDS, bounds, strict=False) if years < bound), AGE_BANDS[-1]
    )


def street_of(address: str, district_name: str | None) -> str:
    """The road or street the address names after its district (the unit a drill-down shows)."""
    rest = address.split(district_name, 1)[1] if district_name and district_name in address else ""
    found = _STREET.match(rest)
    return found.group(1)[:60] if found else UNKNOWN


@dataclass(frozen=True)
class Swept:
    read: int
    wrapped: bool


def _state(session: Session, name: str) -> str:
    return session.scalar(select(ScreenState.value).where(ScreenState.name == name)) or ""


def _set_state(session: Session, name: str, value: str) -> None:
    row = session.get(ScreenState, name)
    if row is None:
        session.add(ScreenState(name=name, value=value))
    else:
        row.value = value


def profile_row(data: dict[str, Any], known: dict[str, str], today: date) -> tuple[str, str, str, str, str]:
    address = str(data.get("address") or "")
    code = str(data.get("division_code") or "")
    district = code if code in known else district_of(address, known)
    street = street_of(address, known.get(district))
    sex = SEX.get(str(data.get("gender") or ""), UNKNOWN)
    industry = str(data.get("industry") or UNKNOWN)[:60]
    return district, street, age_band(data.get("birth_date"), today), sex, industry


def sweep(session: Session, settings: Settings, now: datetime, limit: int = PAGE) -> Swept:
    """One page of the population base into the profiles (call until it wraps to cover the base)."""
    cursor = _state(session, "profiles.cursor")
    if not cursor:
        _set_state(session, "profiles.round", now.isoformat())
    views = BaseLookup(session).page(BaseKind.PERSON, cursor, limit)
    key, known, today = (
        subject_key(settings),
        districts(settings.city_division),
        now.astimezone(settings.zone).date(),
    )
    rows = [(subject_of(v.key, key), *profile_row(v.data, known, today), now) for v in views]
    columns = ("subject", "district", "street", "age_band", "sex", "industry", "seen_at")
    bulk_upsert(session.connection(), "screen_profiles", columns, ("subject",), rows)
    wrapped = len(views) < limit
    if wrapped:  # a round is complete: whoever was not seen in it has left the base
        started = datetime.fromisoformat(_state(session, "profiles.round") or now.isoformat())
        session.execute(delete(ProfilePerson).where(ProfilePerson.seen_at < started))
        _set_state(session, "profiles.completed", now.isoformat())
    _set_state(session, "profiles.cursor", "" if wrapped else views[-1].key)
    if rows:
        audit.record_access(
            session,
            actor_username="screen",
            department_code=settings.healthcode_department,
            event_type="screen.profiles.swept",
            resource_code="-",
            items=ITEMS,
            record_count=len(rows),
            purpose=PURPOSE,
            grant_id=None,
            target_type="base",
            target_id="person",
        )
    return Swept(len(rows), wrapped)


def _profiles(session: Session, subjects: Iterable[str]) -> dict[str, tuple[str, str, str, str, str]]:
    found: dict[str, tuple[str, str, str, str, str]] = {}
    wanted = list(subjects)
    columns = (
        ProfilePerson.district,
        ProfilePerson.street,
        ProfilePerson.age_band,
        ProfilePerson.sex,
        ProfilePerson.industry,
    )
    for first in range(0, len(wanted), 900):
        query = select(ProfilePerson.subject, *columns).where(
            ProfilePerson.subject.in_(wanted[first : first + 900])
        )
        found.update({row[0]: tuple(row[1:]) for row in session.execute(query)})  # type: ignore[misc]
    return found


def counts(session: Session, now: datetime) -> dict[tuple[str, str], float]:
    """The risk groups' exact counts by each dimension (gauge rows ``profile.<dimension>``, dimension
    ``group|value``; streets ``profile.street``, ``group|district|street``)."""
    groups = healthcode.risk_groups(session, now)
    everyone = set().union(*groups.values())
    found = _profiles(session, everyone)
    tally: Counter[tuple[str, str]] = Counter()
    for group, subjects in groups.items():
        for subject in subjects:
            district, street, band, sex, industry = found.get(
                subject, (OTHER, UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN)
            )
            for dimension, value in zip(DIMENSIONS, (district, band, sex, industry), strict=True):
                tally[(f"profile.{dimension}", f"{group}|{value}")] += 1
            tally[("profile.street", f"{group}|{district}|{street}")] += 1
        tally[("profile.total", group)] += 0  # every group present, even when empty
    return {key: float(n) for key, n in tally.items()}


# --- what leaves: suppressed, or noised for a public release ------------------------------------------


def exact_table(
    gauges: dict[str, dict[str, float]], dimension: str, district: str | None = None
) -> dict[tuple[str, str], int]:
    """(value, group) -> exact count from the gauge rows (streets: within ``district``)."""
    out: dict[tuple[str, str], int] = {}
    if dimension == "street":
        for dim, n in gauges.get("profile.street", {}).items():
            group, where, street = dim.split("|", 2)
            if where == district:
                out[(street, group)] = int(n)
        return out
    for dim, n in gauges.get(f"profile.{dimension}", {}).items():
        group, value = dim.split("|", 1)
        out[(value, group)] = int(n)
    return out


def ordered_rows(dimension: str, counts: dict[tuple[str, str], int], known: dict[str, str]) -> list[str]:
    values = {value for value, _ in counts}
    if dimension == "district":
        return [*known, *sorted(values - known.keys())]
    if dimension == "age_band":
        return [b for b in (*AGE_BANDS, UNKNOWN) if b in values] or list(AGE_BANDS)
    return sorted(values)


def suppressed(
    gauges: dict[str, dict[str, float]], dimension: str, known: dict[str, str], district: str | None = None
) -> Table:
    counts = exact_table(gauges, dimension, district)
    return suppress(counts, ordered_rows(dimension, counts, known), list(GROUPS))


def noisy_release(
    gauges: dict[str, dict[str, float]], epsilon: float, known: dict[str, str]
) -> dict[tuple[str, str], float] | None:
    """One public release: every table's cells with discrete Laplace noise (OpenDP), the budget ε split
    evenly over the tables. A person is in up to one cell per group of a table, so a table's L1 sensitivity
    is the number of groups. None while there is nothing to release yet."""
    import opendp.prelude as dp

    if not any(gauges.get(f"profile.{d}") for d in DIMENSIONS):
        return None
    dp.enable_features("contrib")
    per_table = epsilon / len(DIMENSIONS)
    scale = len(GROUPS) / per_table
    space = dp.vector_domain(dp.atom_domain(T=int)), dp.l1_distance(T=int)
    mechanism = space >> dp.m.then_laplace(scale=scale)
    assert mechanism.map(len(GROUPS)) <= per_table + 1e-9  # the budget each table spends, checked
    release: dict[tuple[str, str], float] = {
        ("public.meta", "epsilon"): epsilon,
        ("public.meta", "at"): utcnow().timestamp(),
    }
    for dimension in DIMENSIONS:
        counts = exact_table(gauges, dimension)
        cells = [(value, group) for value in ordered_rows(dimension, counts, known) for group in GROUPS]
        noised = mechanism([counts.get(cell, 0) for cell in cells])
        for (value, group), n in zip(cells, noised, strict=True):
            release[(f"public.{dimension}", f"{group}|{value}")] = float(max(0, n))  # clamping is free
    return release


def public_table(
    gauges: dict[str, dict[str, float]], dimension: str, known: dict[str, str]
) -> dict[str, Any]:
    """A public release's table as it is shown: noisy counts, those under the threshold as "<10"."""
    cells: dict[str, dict[str, int | None]] = defaultdict(dict)
    for dim, n in gauges.get(f"public.{dimension}", {}).items():
        group, value = dim.split("|", 1)
        cells[value][group] = int(n) if n >= THRESHOLD else None
    order = ordered_rows(dimension, {(v, g): 0 for v in cells for g in GROUPS}, known)
    return {"rows": [{"value": v, "cells": cells[v]} for v in order if v in cells]}


def read_gauges(session: Session, prefix: str) -> dict[str, dict[str, float]]:
    found: dict[str, dict[str, float]] = defaultdict(dict)
    query = select(RollupGauge.metric, RollupGauge.dim, RollupGauge.value).where(
        RollupGauge.metric.like(f"{prefix}%")
    )
    for metric, dim, value in session.execute(query):
        found[metric][dim] = float(value)
    return dict(found)


def register(feeds: Feeds, settings: Settings) -> None:
    known = city_districts(settings)

    def public(session: Session, now: datetime) -> dict[tuple[str, str], float] | None:
        if not _state(session, "profiles.completed"):  # the day's one release waits for whole profiles
            return None
        return noisy_release(read_gauges(session, "profile."), settings.screen_public_epsilon, known)

    feeds.gauge("screen.profile", counts, every_seconds=60)
    feeds.gauge("screen.public", public, every_seconds=24 * 3600)
