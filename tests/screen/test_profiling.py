"""Risk-crowd profiling: residents' coarse attributes kept under their pseudonym only, risk groups counted
by district, age band, sex and industry with every count of 1–9 hidden (and whatever would give it away),
never a person; exact counts only for health staff, audited; a public release noised once with OpenDP."""

from __future__ import annotations

from datetime import date, timedelta

from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import World
from tests.public.helpers import an_id
from zhongtai.core import rollups
from zhongtai.core.audit import AuditEvent
from zhongtai.core.database import transaction
from zhongtai.core.pseudonym import person_subject
from zhongtai.core.rollups import RollupGauge
from zhongtai.core.settings import Settings
from zhongtai.core.types import utcnow
from zhongtai.figures import build_feeds
from zhongtai.governance.models import BaseKind, BaseRecord
from zhongtai.healthcode.models import PersonColour
from zhongtai.screen import profiling
from zhongtai.screen.models import ProfilePerson

TODAY = date(2026, 12, 7)


def _people(
    factory: sessionmaker[Session], settings: Settings, spec: list[tuple[str, str, int]]
) -> list[str]:
    """Residents in the population base (district name, industry, how many), and their subjects."""
    subjects, n = [], 0
    with transaction(factory) as session:
        for district, industry, count in spec:
            for _ in range(count):
                n += 1
                number = an_id(n, "19800101")
                data = {"name": "某人", "gender": "男" if n % 2 else "女", "birth_date": "1980-01-01",
                        "address": f"安徽省庐州市{district}幸福路{n}号", "industry": industry}  # fmt: skip
                session.add(
                    BaseRecord(
                        base=BaseKind.PERSON, key=number, data=data, provenance={}, valid_from=utcnow()
                    )
                )
                subjects.append(person_subject(settings, number))
    return subjects


def _red(factory: sessionmaker[Session], subjects: list[str]) -> None:
    with transaction(factory) as session:
        for subject in subjects:
            session.add(PersonColour(subject=subject, colour=2, rule_version=1, reasons=[], since=utcnow(),
                                     computed_at=utcnow()))  # fmt: skip


def _sweep_all(factory: sessionmaker[Session], settings: Settings) -> int:
    total = 0
    while True:
        with transaction(factory) as session:
            done = profiling.sweep(session, settings, utcnow(), limit=7)
        total += done.read
        if done.wrapped:
            return total


def test_the_sweep_keeps_coarse_attributes_under_the_pseudonym_and_follows_the_base(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    subjects = _people(factory, settings, [("蜀山区", "教育", 10), ("包河区", "制造业", 6)])
    assert _sweep_all(factory, settings) == 16
    with factory() as session:
        rows = {p.subject: p for p in session.scalars(select(ProfilePerson))}
        swept = session.scalars(
            select(AuditEvent).where(AuditEvent.event_type == "screen.profiles.swept")
        ).all()
    assert set(rows) == set(subjects)
    first = rows[subjects[0]]
    assert (first.district, first.street, first.sex, first.industry) == ("340104", "幸福路", "男", "教育")
    assert first.age_band == "40-49"
    stored = " ".join(f"{p.district}{p.street}{p.age_band}{p.sex}{p.industry}" for p in rows.values())
    assert "某人" not in stored and "1980" not in stored and "号" not in stored  # no name, birth date, house
    assert sum(e.record_count or 0 for e in swept) == 16 and all(
        e.purpose == profiling.PURPOSE for e in swept
    )
    with transaction(factory) as session:  # someone leaves the base: gone after the next full round
        record = session.get(BaseRecord, (BaseKind.PERSON, an_id(1, "19800101")))
        assert record is not None
        session.delete(record)
    _sweep_all(factory, settings)
    with factory() as session:
        assert session.get(ProfilePerson, subjects[0]) is None and session.get(ProfilePerson, subjects[1])


def test_risk_groups_are_counted_and_small_cells_hidden(
    client: TestClient, world: World, factory: sessionmaker[Session], settings: Settings
) -> None:
    shushan = _people(factory, settings, [("蜀山区", "教育", 14), ("瑶海区", "教育", 25)])
    with transaction(factory) as session:  # three more in 包河区, added after the first fourteen
        for n in range(40, 43):
            number = an_id(n, "19800101")
            data = {"gender": "女", "birth_date": "2000-05-05", "address": f"安徽省庐州市包河区和平路{n}号"}
            session.add(
                BaseRecord(base=BaseKind.PERSON, key=number, data=data, provenance={}, valid_from=utcnow())
            )
            shushan.append(person_subject(settings, number))
    _sweep_all(factory, settings)
    _red(factory, shushan)  # 14 red in 蜀山区, 25 in 瑶海区, 3 in 包河区
    with transaction(factory) as session:
        rollups.advance(session, utcnow(), build_feeds(settings))
    found = client.get("/api/v1/screen/profile", headers=world.auth("admin")).json()
    rows = {row["value"]: row["cells"] for row in found["district"]["rows"]}
    assert rows["340111"]["red"] is None  # 3: hidden, and one more beside it so that the total cannot tell
    assert [rows["340104"]["red"], rows["340102"]["red"]].count(None) == 1
    assert rows["340104"]["red"] in (None, 14) and rows["340102"]["red"] in (None, 25)
    assert found["district"]["totals"]["red"] in (None, 42)
    shown = [v for table in found.values() for row in table["rows"] for v in row["cells"].values()]
    assert all(v is None or v == 0 or v >= 10 for v in shown)
    streets = client.get("/api/v1/screen/districts/340111/streets", headers=world.auth("admin")).json()
    assert all(cell is None or cell == 0 for row in streets["rows"] for cell in row["cells"].values())
    assert client.get("/api/v1/screen/profile", headers=world.auth("consumer_a")).status_code == 403


def test_exact_figures_only_for_health_staff_and_audited(
    client: TestClient, world: World, factory: sessionmaker[Session], settings: Settings
) -> None:
    subjects = _people(factory, settings, [("包河区", "制造业", 3)])
    _sweep_all(factory, settings)
    _red(factory, subjects)
    with transaction(factory) as session:
        rollups.advance(session, utcnow(), build_feeds(settings))
    refused = client.get("/api/v1/screen/profile/export?dimension=district", headers=world.auth("admin"))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "no_grant"
    from tests.factories import PASSWORD
    from zhongtai.core.identity.models import Role
    from zhongtai.core.identity.service import create_user, issue_token
    from zhongtai.core.principal import SYSTEM

    with transaction(factory) as session:
        officer = create_user(
            session, SYSTEM, username="wjw.officer", display_name="卫健", department_code="WJW",
            roles=[Role.OFFICER], password=PASSWORD,
        )  # fmt: skip
        token, _ = issue_token(session, SYSTEM, officer, "test")
    exact = client.get(
        "/api/v1/screen/profile/export?dimension=district", headers={"Authorization": f"Bearer {token}"}
    )
    assert exact.status_code == 200 and "340111,red,3" in exact.text  # the exact 3, for health staff
    with factory() as session:
        entry = session.scalars(
            select(AuditEvent).where(AuditEvent.event_type == "screen.profile.exported")
        ).one()
    assert entry.actor_username == "wjw.officer" and entry.record_count and entry.subject is None


def test_the_public_release_is_noised_once_and_hides_small_counts(
    client: TestClient, factory: sessionmaker[Session], settings: Settings
) -> None:
    empty = client.get("/api/v1/screen/profile/public").json()
    assert empty["released_at"] is None
    subjects = _people(
        factory, settings, [("蜀山区", "教育", 200), ("瑶海区", "教育", 150), ("包河区", "制造业", 2)]
    )
    _red(factory, subjects)
    with transaction(factory) as session:  # red codes, but nobody profiled yet: the day's release waits
        rollups.advance(session, utcnow(), build_feeds(settings))
    assert client.get("/api/v1/screen/profile/public").json()["released_at"] is None
    _sweep_all(factory, settings)
    with transaction(factory) as session:  # a minute later the counts are recounted, and released
        rollups.advance(session, utcnow() + timedelta(seconds=61), build_feeds(settings))
    first = client.get("/api/v1/screen/profile/public").json()
    with transaction(factory) as session:  # a later advance the same day draws no new noise
        rollups.advance(session, utcnow() + timedelta(minutes=5), build_feeds(settings))  # counts recounted
    again = client.get("/api/v1/screen/profile/public").json()
    assert first == again and first["epsilon"] == settings.screen_public_epsilon
    red = {row["value"]: row["cells"].get("red") for row in first["tables"]["district"]["rows"]}
    # Noisy: Laplace with the scale the budget gives each table (every group of every dimension shares
    # ε), so a count may move by tens; a shown count stays within 14 scales of the truth (a bound a
    # correct release breaks about once in a million runs), and something is shown.
    scale = len(profiling.GROUPS) * len(profiling.DIMENSIONS) / settings.screen_public_epsilon
    truth = {"340104": 200, "340102": 150, "340111": 2}
    shown = {district: n for district, n in red.items() if n is not None}
    assert shown and all(abs(n - truth.get(district, 0)) < 14 * scale for district, n in shown.items())
    assert all(v is None or v >= 10 for row in first["tables"]["sex"]["rows"] for v in row["cells"].values())
    with factory() as session:
        noisy = session.scalars(
            select(RollupGauge.value).where(RollupGauge.metric == "public.district")
        ).all()
    assert all(v >= 0 and v == int(v) for v in noisy)  # whole numbers, clamped at zero


@given(
    counts=st.dictionaries(
        st.tuples(st.sampled_from(["340104", "340111", "340102"]), st.sampled_from(profiling.GROUPS)),
        st.integers(0, 40),
    )
)
def test_profile_tables_never_show_a_small_count(counts: dict[tuple[str, str], int]) -> None:
    gauges = {"profile.district": {f"{g}|{d}": float(n) for (d, g), n in counts.items()}}
    known = {"340102": "瑶海区", "340104": "蜀山区", "340111": "包河区"}
    table = profiling.suppressed(gauges, "district", known)
    for (district, group), shown in table.cells.items():
        truth = counts.get((district, group), 0)
        assert shown is None or (shown == truth and not 0 < shown < 10)


def test_age_bands_and_streets() -> None:
    assert profiling.age_band("2010-12-08", TODAY) == "0-17"
    assert profiling.age_band("1956-12-07", TODAY) == "70+"
    assert profiling.age_band("not a date", TODAY) == profiling.UNKNOWN
    assert profiling.street_of("安徽省庐州市蜀山区稻香村街道12号", "蜀山区") == "稻香村街道"
    assert profiling.street_of("安徽省庐州市某地", "蜀山区") == profiling.UNKNOWN
