"""The ledger (减少材料提交): every material fetched instead of submitted is one submission and one check
saved; a case finished without a counter visit saves the trips the service took on paper (跑动次数).
One row per finished case, written in the transaction that finishes it, so totals are exact against the
cases and summing them is an indexed aggregate, never a scan of the cases."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.orm import Session

from zhongtai.core import rollups
from zhongtai.core.rollups import Count
from zhongtai.core.types import CITY_ZONE
from zhongtai.services.models import (
    Case,
    CaseMaterial,
    Material,
    MaterialOutcome,
    Saving,
    ServiceItem,
)
from zhongtai.services.repository import ServicesRepository
from zhongtai.services.schemas import Ledger, LedgerRow

REFERENCE_SUBMISSIONS = 1_370_000  # the reference city's paper submissions saved


def record(
    session: Session,
    case: Case,
    item: ServiceItem,
    materials: list[tuple[CaseMaterial, Material]],
    now: datetime,
) -> Saving:
    """The finished case's savings (once: a second call returns the row already written)."""
    found = ServicesRepository(session).saving(case.id)
    if found is not None:
        return found
    fetched = sum(1 for entry, _m in materials if entry.outcome is MaterialOutcome.FETCHED)
    saving = Saving(
        case_id=case.id,
        item_id=item.id,
        department_id=case.department_id,
        day=now.astimezone(CITY_ZONE).date(),
        submissions=fetched,
        checks=fetched,
        trips=item.trips if case.counter_visits == 0 else 0,
    )
    session.add(saving)
    session.flush()
    rollups.add(
        session,
        [
            Count("services.cases", "", now, 1),
            Count("services.saved", "", now, saving.submissions),
            Count("services.trips", "", now, saving.trips),
        ],
    )
    return saving


def totals(session: Session, since: date | None = None) -> Ledger:
    repo = ServicesRepository(session)
    cases, submissions, checks, trips = repo.totals()
    items = {item.id: (item.code, item.name) for item in repo.items()}
    departments = repo.department_names()

    def rows(column: object, names: dict[object, tuple[str, str]] | None) -> list[LedgerRow]:
        found = repo.totals_by(column, since)
        return [
            LedgerRow(
                key=names.get(key, (str(key), ""))[0] if names else str(key),
                name=names.get(key, ("", str(key)))[1] if names else str(key),
                cases=n,
                submissions=s,
                checks=c,
                trips=t,
            )
            for key, n, s, c, t in found
        ]

    return Ledger(
        cases=cases,
        submissions=submissions,
        checks=checks,
        trips=trips,
        reference_submissions=REFERENCE_SUBMISSIONS,
        by_service=rows(Saving.item_id, items),  # type: ignore[arg-type]
        by_department=rows(Saving.department_id, departments),  # type: ignore[arg-type]
        by_day=rows(Saving.day, None),
    )
