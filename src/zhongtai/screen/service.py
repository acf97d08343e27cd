"""What the big screen shows, composed from the rollup rows alone (``core.rollups.read``): the platform's
totals beside the reference city's, live flows, the health code, governance, alerts, the map's measures
and the risk crowd — aggregates only, every person-derived table through small-cell suppression.

Everything here is a pure function of the rollups (plus the alerts only this process knows, such as its
gateway's open breakers), so one computation per interval serves every open screen.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from hashlib import sha256
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from zhongtai.capabilities.figures import LATENCY_BOUNDS_MS
from zhongtai.core import audit
from zhongtai.core.errors import M_, Forbidden, Invalid, NotFound, Unauthenticated
from zhongtai.core.principal import Principal
from zhongtai.core.rollups import Feeds, Rollups
from zhongtai.core.settings import Settings
from zhongtai.core.suppression import Table, suppress
from zhongtai.core.types import utcnow
from zhongtai.healthcode.persons import RESOURCE as CODE_RESOURCE
from zhongtai.home.service import REFERENCE
from zhongtai.screen import auth, profiling
from zhongtai.screen.models import KioskLink, ProfilePerson
from zhongtai.sharing import service as sharing

STEP_MINUTES = 10  # the trend lines' resolution over 24 hours
RATE_MINUTES = 5  # "per second" figures average the last five minutes
COLOURS = ("green", "yellow", "red")
# The platform's totals, in the order the screen shows them (labels ``home.figure.<key>``).
TOTALS = (
    "orgs.systems",
    "ingest.records",
    "ingest.records_today",
    "catalog.published",
    "governance.tables",
    "sharing.applications",
    "sharing.granted",
    "capabilities.published",
    "capabilities.calls_today",
    "requirements.all",
    "requirements.delivered",
    "exchange.records",
    "services.saved",
)
MEASURES = ("scans", "red", "yellow", "contact", "arrival", "resumed")

LocalAlerts = Callable[[], list[dict[str, Any]]]


def _midnight(now: datetime, settings: Settings) -> datetime:
    return datetime.combine(now.astimezone(settings.zone).date(), time(), settings.zone)


def totals(r: Rollups, midnight: datetime) -> list[dict[str, Any]]:
    streams = {
        "ingest.records": r.total("ingest.rows"),
        "ingest.records_today": r.count_since("ingest.rows", midnight),
        "capabilities.calls_today": r.count_since("gateway.calls", midnight),
        "exchange.records": r.total("exchange.records"),
        "services.saved": r.total("services.saved"),
    }
    out = []
    for key in TOTALS:
        value = streams.get(key)
        if value is None:
            value = int(sum(r.gauge(f"total.{key}").values()))
        out.append({"key": key, "value": value, "reference": REFERENCE.get(key)})
    return out


def percentile(buckets: Sequence[int], share: float) -> float | None:
    """The upper bound (ms) of the latency bucket holding the ``share`` quantile; None without calls."""
    total = sum(buckets)
    if not total:
        return None
    running = 0
    for index, n in enumerate(buckets):
        running += n
        if running >= share * total:
            bound = LATENCY_BOUNDS_MS[min(index, len(LATENCY_BOUNDS_MS) - 1)]
            return None if bound == float("inf") else bound
    return None


def flows(r: Rollups, now: datetime, midnight: datetime) -> dict[str, Any]:
    recent = now - timedelta(minutes=RATE_MINUTES)
    hour = now - timedelta(hours=1)
    day = now - timedelta(hours=24)
    seconds = RATE_MINUTES * 60
    latency = r.by_dim_since("gateway.latency", hour)
    buckets = [latency.get(str(i), 0) for i in range(len(LATENCY_BOUNDS_MS))]
    deliveries = r.by_dim_since("sharing.deliveries", midnight)
    return {
        "ingest": {
            "rows_per_second": round(r.count_since("ingest.rows", recent) / seconds, 1),
            "per_department": {d: round(n / 3600, 2) for d, n in r.by_dim_since("ingest.rows", hour).items()},
            "series": r.series("ingest.rows", day, STEP_MINUTES, now),
        },
        "gateway": {
            "calls_per_second": round(r.count_since("gateway.calls", recent) / seconds, 2),
            "errors_per_second": round(r.count_since("gateway.errors", recent) / seconds, 2),
            "p50": percentile(buckets, 0.5),
            "p95": percentile(buckets, 0.95),
            "p99": percentile(buckets, 0.99),
            "series": r.series("gateway.calls", day, STEP_MINUTES, now),
            "errors": r.series("gateway.errors", day, STEP_MINUTES, now),
        },
        "deliveries": {
            "today": deliveries,
            "series": r.series("sharing.deliveries", day, STEP_MINUTES, now),
        },
        "failed_batches": {
            "today": r.count_since("ingest.failed", midnight),
            "per_department": r.by_dim_since("ingest.failed", midnight),
        },
    }


def _level_trend(r: Rollups, colour: str, now: datetime, hours: int = 24) -> list[int]:
    """The number of codes of a colour at the end of each of the last ``hours`` hours: today's level
    less the net changes since (the rollups keep net changes per minute)."""
    level = r.totals.get("hc.colour", {}).get(colour, 0)
    start = now - timedelta(hours=hours) + timedelta(minutes=1)
    per_hour = r.series("hc.colour", start, 60, now, dim=colour)  # the net change within each hour
    out, after = [0] * len(per_hour), 0
    for index in range(len(per_hour) - 1, -1, -1):  # the level at each hour's end: what came after undone
        out[index] = level - after
        after += per_hour[index]
    return out


def health(r: Rollups, now: datetime, midnight: datetime, known: dict[str, str]) -> dict[str, Any]:
    levels = {c: max(0, r.totals.get("hc.colour", {}).get(c, 0)) for c in ("yellow", "red")}
    population = int(sum(r.gauge("screen.population").values()))
    day = now - timedelta(hours=24)
    scans_by_district = {district: r.series("hc.scans", day, 60, now, dim=district) for district in known}
    return {
        "colours": {"green": max(0, population - levels["yellow"] - levels["red"]), **levels},
        "population": population,
        "trend": {c: _level_trend(r, c, now) for c in ("yellow", "red")},
        "scans_per_hour": r.series("hc.scans", day, 60, now),
        "scans_by_district": scans_by_district,
        "scans_today": r.count_since("hc.scans", midnight),
        "refused_today": r.count_since("hc.refused", midnight),
        "positives": r.total("hc.positives"),
        "positives_today": r.count_since("hc.positives", midnight),
        "traces_open": int(sum(r.gauge("hc.traces_open").values())),
        "traces_today": r.count_since("hc.traces", midnight),
        "contacts": {k: int(v) for k, v in r.gauge("hc.contacts").items()},
        "enterprises": {k: int(v) for k, v in r.gauge("hc.enterprises").items()},
        "risk_areas": int(sum(r.gauge("hc.risk_areas").values())),
    }


def governance(r: Rollups) -> dict[str, Any]:
    quality = sorted(r.gauge("governance.quality").items(), key=lambda item: item[1])
    return {
        "quality": [{"department": d, "score": round(s, 1)} for d, s in quality],
        "tables": int(sum(r.gauge("total.governance.tables").values())),
        "problems_open": int(sum(r.gauge("total.governance.open_problems").values())),
        "conflicts_open": int(sum(r.gauge("governance.conflicts_open").values())),
    }


def alerts(r: Rollups, now: datetime, local: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if r.gauge("alert.audit_chain").get("", 0) > 0:
        found.append({"kind": "audit_chain", "level": "critical", "count": 1, "detail": []})
    failed = r.by_dim_since("ingest.failed", now - timedelta(hours=24))
    if sum(failed.values()):
        found.append(
            {
                "kind": "batch_failed",
                "level": "warning",
                "count": sum(failed.values()),
                "detail": sorted(d for d, n in failed.items() if n),
            }
        )
    dead = r.by_dim_since("sharing.deliveries", now - timedelta(hours=24)).get("dead", 0)
    if dead:
        found.append({"kind": "delivery_dead", "level": "warning", "count": dead, "detail": []})
    overdue = int(r.gauge("alert.applications_overdue").get("", 0))
    if overdue:
        found.append({"kind": "applications_overdue", "level": "warning", "count": overdue, "detail": []})
    return found + local


def one_way(values: dict[str, int], rows: list[str]) -> dict[str, int | None]:
    """A single column of person counts (a district map) through the same suppression as tables."""
    table = suppress({(row, "n"): values.get(row, 0) for row in rows}, rows, ["n"])
    return {row: table.cells[(row, "n")] for row in rows}


def table_json(table: Table) -> dict[str, Any]:
    return {
        "rows": [
            {"value": row, "cells": {c: table.cells[(row, c)] for c in table.cols}} for row in table.rows
        ],
        "groups": table.cols,
        "totals": table.col_totals,
    }


def map_measures(r: Rollups, now: datetime, known: dict[str, str]) -> dict[str, dict[str, int | None]]:
    rows = list(known)
    by_district = profiling.exact_table(r.gauges, "district")
    measures: dict[str, dict[str, int | None]] = {
        # scans are people at places: a district with a handful shows "<10", as on the situation page
        "scans": one_way(r.by_dim_since("hc.scans", now - timedelta(hours=24)), rows),
        "resumed": one_way({d: int(v) for d, v in r.gauge("hc.resumed").items()}, rows),
    }
    for group in profiling.GROUPS:
        measures[group] = one_way({d: n for (d, g), n in by_district.items() if g == group}, rows)
    return measures


def profile(r: Rollups, known: dict[str, str]) -> dict[str, Any]:
    return {d: table_json(profiling.suppressed(r.gauges, d, known)) for d in profiling.DIMENSIONS}


def compose(r: Rollups, settings: Settings, local: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Every panel's figures from one read of the rollups."""
    now = r.at
    midnight = _midnight(now, settings)
    known = profiling.city_districts(settings)
    return {
        "at": now.isoformat(),
        "districts": known,
        "totals": totals(r, midnight),
        "flows": flows(r, now, midnight),
        "health": health(r, now, midnight, known),
        "governance": governance(r),
        "alerts": alerts(r, now, local or []),
        "map": map_measures(r, now, known),
        "profile": profile(r, known),
        "step_minutes": STEP_MINUTES,
    }


# --- drill-down, exact export and the public release ---------------------------------------------------


def district_streets(session: Session, settings: Settings, district: str) -> dict[str, Any]:
    """The risk groups by street within one district, suppressed (a street of fewer than ten hidden)."""
    known = profiling.city_districts(settings)
    if district not in known:
        raise NotFound(M_("no district %(code)r in this city", code=district), code="district_not_found")
    gauges = profiling.read_gauges(session, "profile.street")
    return {
        "district": district,
        "name": known[district],
        **table_json(profiling.suppressed(gauges, "street", known, district)),
    }


def exact_export(session: Session, settings: Settings, actor: Principal, dimension: str) -> list[list[str]]:
    """The exact counts of one dimension (nothing suppressed) for health staff — their own department,
    or another under a live grant on the health code resource — recorded as an access entry."""
    if dimension not in (*profiling.DIMENSIONS, "street"):
        raise NotFound(M_("no dimension %(code)r", code=dimension), code="dimension_not_found")
    grant = None
    if not auth.is_health_staff(actor, settings):
        grant = sharing.live_grant_on(session, actor, CODE_RESOURCE, settings.healthcode_department)
        if grant is None:
            raise Forbidden(
                M_(
                    "exact risk-crowd figures are for health staff under a grant on %(name)s",
                    name=CODE_RESOURCE,
                ),
                code="no_grant",
            )
    gauges = profiling.read_gauges(session, f"profile.{dimension}")
    rows = [
        ["dimension", "group", "count"] if dimension != "street" else ["district", "street", "group", "count"]
    ]
    for dim, n in sorted(gauges.get(f"profile.{dimension}", {}).items()):
        group, value = dim.split("|", 1)
        rows.append(
            [*value.split("|", 1), group, str(int(n))]
            if dimension == "street"
            else [value, group, str(int(n))]
        )
    audit.record_access(
        session,
        actor_username=actor.username,
        actor_user_id=actor.user_id,
        department_code=actor.department_code,
        event_type="screen.profile.exported",
        resource_code="-",
        items=[f"risk groups by {dimension}"],
        record_count=len(rows) - 1,
        purpose=grant.purpose if grant else profiling.PURPOSE,
        grant_id=grant.id if grant else None,
        target_type="profile",
        target_id=dimension,
    )
    return rows


def public_release(session: Session, settings: Settings) -> dict[str, Any]:
    gauges = profiling.read_gauges(session, "public.")
    known = profiling.city_districts(settings)
    meta = gauges.get("public.meta", {})
    released = meta.get("at")
    return {
        "released_at": datetime.fromtimestamp(released, settings.zone).isoformat() if released else None,
        "epsilon": meta.get("epsilon"),
        "mechanism": "discrete Laplace (OpenDP), one release a day; counts under 10 shown as null",
        "tables": {d: profiling.public_table(gauges, d, known) for d in profiling.DIMENSIONS},
    }


def population(session: Session, now: datetime) -> dict[tuple[str, str], float]:
    return {("screen.population", ""): session.scalar(select(func.count()).select_from(ProfilePerson)) or 0}


# --- kiosk links -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewLink:
    link: KioskLink
    token: str


def _hash(token: str) -> str:
    return sha256(token.encode()).hexdigest()


def create_link(session: Session, actor: Principal, label: str, days: int) -> NewLink:
    if not auth.may_manage_links(actor):
        raise Forbidden(M_("only the platform's operators make kiosk links"), code="missing_role")
    if not 1 <= days <= 366:
        raise Invalid(M_("a kiosk link lasts 1 to 366 days, not %(value)s", value=days), field="expires")
    token = secrets.token_urlsafe(32)
    link = KioskLink(
        token_hash=_hash(token),
        label=label.strip()[:100] or "kiosk",
        created_by=actor.username,
        expires_at=utcnow() + timedelta(days=days),
    )
    session.add(link)
    session.flush()
    audit.record(
        session, actor, "screen.link.created", "kiosk_link", str(link.id), {"label": link.label, "days": days}
    )
    return NewLink(link, token)


def revoke_link(session: Session, actor: Principal, link_id: int) -> KioskLink:
    if not auth.may_manage_links(actor):
        raise Forbidden(M_("only the platform's operators revoke kiosk links"), code="missing_role")
    link = session.get(KioskLink, link_id)
    if link is None:
        raise NotFound(M_("no kiosk link %(link_id)s", link_id=link_id), code="link_not_found")
    if link.revoked_at is None:
        link.revoked_at, link.revoked_by = utcnow(), actor.username
        audit.record(session, actor, "screen.link.revoked", "kiosk_link", str(link.id), {"label": link.label})
    return link


def links(session: Session, actor: Principal) -> list[KioskLink]:
    if not auth.may_manage_links(actor):
        raise Forbidden(M_("only the platform's operators see kiosk links"), code="missing_role")
    return list(session.scalars(select(KioskLink).order_by(KioskLink.id.desc()).limit(200)))


def kiosk(session: Session, token: str, now: datetime) -> KioskLink:
    """The live link a token opens; a wrong, expired or revoked one is refused with the reason."""
    link = session.scalar(select(KioskLink).where(KioskLink.token_hash == _hash(token))) if token else None
    if link is None:
        raise Unauthenticated(M_("this kiosk link is not valid"), code="kiosk_link_invalid")
    if link.revoked_at is not None:
        raise Unauthenticated(M_("this kiosk link was revoked"), code="kiosk_link_revoked")
    if link.expires_at <= now:
        raise Unauthenticated(M_("this kiosk link has expired"), code="kiosk_link_expired")
    if link.last_seen_at is None or now - link.last_seen_at > timedelta(minutes=10):
        link.last_seen_at = now
    return link


def register(feeds: Feeds, settings: Settings) -> None:
    profiling.register(feeds, settings)
    feeds.gauge("screen.population", population, every_seconds=60)
