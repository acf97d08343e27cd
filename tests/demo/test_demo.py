"""The demo city: reproducible from its seed, big and varied enough to show every catalog feature."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import BACKENDS, PG_ENV, PostgresTemplate
from zhongtai.catalog import transfer
from zhongtai.core.database import build_engine, build_sessionmaker, transaction, upgrade
from zhongtai.core.identity.models import Role
from zhongtai.core.principal import SYSTEM
from zhongtai.core.settings import Settings
from zhongtai.demo.city import DEMO_PASSWORD, build_demo_city
from zhongtai.demo.registers import REGISTERS
from zhongtai.orgs.service import list_departments


@pytest.fixture(scope="module")
def demo_templates(pg_template: PostgresTemplate | None) -> Iterator[dict[str, str]]:
    """Databases holding the demo city (seed 7), built once per backend the first time a test here asks:
    backend -> SQLite file or PostgreSQL database name."""
    built: dict[str, str] = {}
    yield built
    if "postgresql" in built and pg_template is not None:
        pg_template.drop(built["postgresql"])


def _built(url: str) -> None:
    engine = build_engine(url)
    try:
        build_demo_city(build_sessionmaker(engine), seed=7)
    finally:
        engine.dispose()  # nobody connected: SQLite's log checkpointed, PostgreSQL's a template


@pytest.fixture(params=BACKENDS)
def db_url(
    request: pytest.FixtureRequest,
    demo_templates: dict[str, str],
    sqlite_template: Path,
    pg_template: PostgresTemplate | None,
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
) -> Iterator[str]:
    """A fresh database with the demo city in it, copied from one built once (building it is what
    ``test_building_twice_changes_nothing`` and ``test_same_seed_builds_the_same_catalog`` test)."""
    if request.param == "sqlite":
        if "sqlite" not in demo_templates:
            built = tmp_path_factory.mktemp("demo") / "demo.db"
            shutil.copyfile(sqlite_template, built)
            _built(f"sqlite:///{built}")
            demo_templates["sqlite"] = str(built)
        path = tmp_path / "zhongtai.db"
        shutil.copyfile(demo_templates["sqlite"], path)
        yield f"sqlite:///{path}"
        return
    if pg_template is None:
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (set by .ci/run)")
    if "postgresql" not in demo_templates:
        demo_templates["postgresql"] = pg_template.fresh()
        _built(pg_template.url_for(demo_templates["postgresql"]))
    name = pg_template.fresh(template=demo_templates["postgresql"])
    yield pg_template.url_for(name)
    pg_template.drop(name)


@pytest.fixture
def demo_factory(factory: sessionmaker[Session]) -> sessionmaker[Session]:
    return factory  # the demo city is in the database already (``db_url``)


def export(factory: sessionmaker[Session]) -> list[transfer.ResourceTransfer]:
    with transaction(factory) as session:
        return transfer.export_records(session, SYSTEM)


def test_demo_city_has_the_shape_the_issue_asks_for(demo_factory: sessionmaker[Session]) -> None:
    records = export(demo_factory)
    with transaction(demo_factory) as session:
        departments = list_departments(session)
    assert len(departments) >= 20
    assert {d.kind.value for d in departments} == {"municipal", "district", "zone"}
    assert len(records) >= 150
    assert {r.sharing_type.value for r in records} == {"unconditional", "conditional", "not_shared"}
    assert {r.classification[0] for r in records} == {"1", "2", "3"}  # base, thematic, departmental
    statuses = Counter(r.status.value for r in records)
    assert statuses["published"] > 100 and statuses["draft"] and statuses["under_review"]
    assert all(r.sharing_basis for r in records if r.sharing_type.value == "not_shared")
    assert all(r.items for r in records)


def test_same_seed_builds_the_same_catalog(demo_factory: sessionmaker[Session], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'again.db'}"
    upgrade(url)
    engine = build_engine(url)
    again = build_sessionmaker(engine)
    build_demo_city(again, seed=7)
    assert export(again) == export(demo_factory)
    engine.dispose()


def test_building_twice_changes_nothing(demo_factory: sessionmaker[Session]) -> None:
    before = export(demo_factory)
    build_demo_city(demo_factory, seed=99)
    assert export(demo_factory) == before


def test_demo_has_a_login_for_every_role(demo_factory: sessionmaker[Session], client: TestClient) -> None:
    from zhongtai.demo.organizations import DEMO_USERS

    assert {Role(r) for _, _, roles, _ in DEMO_USERS for r in roles} == set(Role)
    from tests.core.test_identity import login

    assert login(client, "wjw.consumer", DEMO_PASSWORD) == 303
    page = client.get("/catalog", params={"q": "人口"})
    assert "常住人口基本信息" in page.text


def test_demo_departments_hold_messy_data_that_flows_in(
    demo_factory: sessionmaker[Session], settings: Settings
) -> None:
    from sqlalchemy import func, select

    from zhongtai.demo.sources import build_demo_sources
    from zhongtai.ingest.models import RawRecord, RejectedRow
    from zhongtai.ingest.runner import run_job

    jobs = build_demo_sources(demo_factory, settings, seed=7, persons=800)
    assert len(jobs) == 6 + len(REGISTERS)  # six department systems, and the public registers' exports
    assert build_demo_sources(demo_factory, settings, seed=7, persons=800) == jobs  # idempotent
    health = next((settings.resolved_inbox_dir / "WJW-HSJC-FILES").glob("*.csv")).read_bytes()
    assert "样本编号".encode("gbk") in health  # GBK, as the lab system exports it
    with sqlite3.connect(settings.resolved_sources_dir / "gaj_rkxt.db") as connection:
        ids = [row[0] for row in connection.execute("SELECT gmsfhm FROM t_rk_jbxx")]
        dates = [row[0] for row in connection.execute("SELECT csrq FROM t_rk_jbxx")]
    assert any(len(i) == 15 for i in ids) and any(i.endswith("x") for i in ids)
    assert any("年" in (d or "") for d in dates) and any(d and len(d) == 8 for d in dates) and None in dates
    for job in jobs:
        outcome = run_job(demo_factory, settings, job)
        assert outcome is not None and outcome.status.value == "succeeded", (job, outcome)
        assert outcome.rows_read == outcome.rows_written + outcome.rows_rejected > 0
    with demo_factory() as session:
        assert session.scalar(select(func.count()).select_from(RawRecord)) > 1500
        reasons = [r.reason for r in session.scalars(select(RejectedRow))]
    assert any("不详" in reason for reason in reasons)  # a clerk's "unknown" birth date, kept with its reason


def test_demo_data_becomes_base_databases_with_quality_conflicts_and_problems(
    demo_factory: sessionmaker[Session], settings: Settings
) -> None:
    from sqlalchemy import func, select

    from zhongtai.core.types import utcnow
    from zhongtai.demo.governance import build_demo_governance
    from zhongtai.demo.sources import build_demo_sources
    from zhongtai.governance import service
    from zhongtai.governance.lookups import BaseLookup
    from zhongtai.governance.models import BaseKind, BaseRecord, Conflict, Problem
    from zhongtai.governance.pipeline import run_pass
    from zhongtai.governance.quality import measure
    from zhongtai.governance.repository import GovernanceRepository
    from zhongtai.ingest.runner import run_job

    jobs = build_demo_sources(demo_factory, settings, seed=7, persons=2000)
    governed = build_demo_governance(demo_factory)
    assert build_demo_governance(demo_factory) == governed and len(governed) == 6 + len(REGISTERS)
    for job in jobs:
        run_job(demo_factory, settings, job)
    for code in governed:
        outcome = run_pass(demo_factory, code, trigger="test")
        assert outcome.raw_rows == outcome.clean_rows + outcome.rejected_rows > 0, code
        with transaction(demo_factory) as session:
            resource = GovernanceRepository(session).resource(code)
            assert resource is not None
            measure(session, resource, utcnow())
    with transaction(demo_factory) as session:
        counts = GovernanceRepository(session).count_records()
        assert counts["person"] > 1500 and counts["entity"] and counts["license"] and counts["address"]
        overview = service.quality_overview(session, SYSTEM)
        assert {d.department for d in overview.departments} == {
            *("GAJ", "MZJ", "SCJGJ", "WJW", "ZRZYJ", "RSJ"),
            *("JYJ", "YJJ", "YBJ", "SWJ", "SFJ"),  # the public registers
        }
        assert all(0 < d.score <= 100 for d in overview.departments)
        conflict = session.scalars(select(Conflict).where(Conflict.open.is_(True))).first()
        assert conflict is not None and conflict.departments.count(",") >= 3  # two departments or more
        record = session.get(BaseRecord, (BaseKind.PERSON, conflict.key))
        assert record is not None and record.provenance[conflict.attribute]["department"]
        lookup = BaseLookup(session)
        with sqlite3.connect(settings.resolved_sources_dir / "scjgj_qydj.db") as connection:
            (credit_code,) = connection.execute("SELECT tyshxydm FROM qy_jbxx LIMIT 1").fetchone()
        with sqlite3.connect(settings.resolved_sources_dir / "mzj_hydj.db") as connection:
            (certificate,) = connection.execute("SELECT zsbh FROM hy_jhdj LIMIT 1").fetchone()
        entity = lookup.entity(credit_code.lower())  # looked up in its canonical form
        assert entity is not None and entity.provenance["name"]["department"] == "SCJGJ"
        licence = lookup.license(credit_code)
        assert licence is not None and licence.data["type"] == "营业执照"
        marriage = lookup.license(certificate)
        assert marriage is not None and marriage.data["type"] == "结婚证" and marriage.data["issuer"]
        gaj = GovernanceRepository(session).department("GAJ")
        assert gaj is not None
        problems = session.scalar(select(func.count()).where(Problem.department_id == gaj.id))
        assert problems  # the household registry's mistyped ID numbers, for its officer to fix


def test_demo_sharing_has_a_grant_and_every_queue_filled(
    demo_factory: sessionmaker[Session], settings: Settings
) -> None:
    """Health is granted population data by the bureau and public security; other applications wait in
    the bureau's and a provider's queue, one was returned and one refused with its reason."""
    from zhongtai.demo.sharing import build_demo_sharing
    from zhongtai.sharing.models import Application, ApplicationStatus, Grant

    assert build_demo_sharing(demo_factory, settings) == 5
    assert build_demo_sharing(demo_factory, settings) == 5  # idempotent
    with demo_factory() as session:
        statuses = sorted(a.status for a in session.scalars(select(Application)))
        grants = list(session.scalars(select(Grant)))
    assert statuses == sorted(
        [
            ApplicationStatus.GRANTED,
            ApplicationStatus.BUREAU_REVIEW,
            ApplicationStatus.PROVIDER_REVIEW,
            ApplicationStatus.RETURNED,
            ApplicationStatus.REJECTED,
        ]
    )
    assert len(grants) == 1 and grants[0].mode.value == "subscription"


def test_demo_app_calls_the_gateway_signed_and_gets_masked_granted_data(
    demo_factory: sessionmaker[Session], settings: Settings
) -> None:
    """The health-code app, keyed and subscribed by the demo, looks people up through the gateway with
    requests signed by http-message-signatures and receives only its grant's items, masked; the demo's
    requirements are delivered, in progress and waiting."""
    import json

    from zhongtai.app import create_app
    from zhongtai.capabilities.models import Capability
    from zhongtai.core.pseudonym import entity_subject
    from zhongtai.demo import backend
    from zhongtai.demo.capabilities import (
        PROXIED,
        build_demo_capabilities,
        credentials_path,
        follow_serving_address,
        sample_people,
    )
    from zhongtai.demo.governance import build_demo_governance
    from zhongtai.demo.sharing import build_demo_sharing
    from zhongtai.demo.sources import People, build_demo_sources, demo_enterprise, insured_rows
    from zhongtai.gateway.client import GatewaySigner
    from zhongtai.governance.pipeline import run_pass
    from zhongtai.ingest.runner import run_job
    from zhongtai.public.identity import GatewayIdentityCheck
    from zhongtai.requirements.models import Requirement

    jobs = build_demo_sources(demo_factory, settings, seed=7, persons=300)
    governed = build_demo_governance(demo_factory)
    for job in jobs:
        run_job(demo_factory, settings, job)
    for code in governed:
        run_pass(demo_factory, code, trigger="test")
    build_demo_sharing(demo_factory, settings)
    assert build_demo_capabilities(demo_factory, settings, "http://127.0.0.1:8000") == 7
    assert build_demo_capabilities(demo_factory, settings, "http://127.0.0.1:8000") == 7  # idempotent
    # Built with --no-serve, then served on another port: the proxied capability follows the server.
    assert follow_serving_address(demo_factory, settings, "http://127.0.0.1:8123")
    assert not follow_serving_address(demo_factory, settings, "http://127.0.0.1:8123")  # already there
    with demo_factory() as session:
        proxied = session.scalars(select(Capability).where(Capability.code == PROXIED)).one()
        assert proxied.upstream_url == "http://127.0.0.1:8123" + backend.PATH
    stored = json.loads(credentials_path(settings).read_text("utf-8"))
    signer = GatewaySigner(stored["key_id"], stored["purpose"], secret=stored["secret"])
    people = sample_people(demo_factory)
    assert people
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        found = client.get(f"/gw/person.by-id/{people[0]}", auth=signer)
        assert found.status_code == 200, found.text
        record = found.json()["record"]
        granted = {"姓名", "公民身份号码", "性别", "出生日期", "联系电话", "户号"}
        assert set(record) <= granted and "公民身份号码" in record
        assert record.get("联系电话") is None or "*" in record["联系电话"]  # masked by the provider's rule
        assert record["公民身份号码"] != people[0] and record["公民身份号码"].endswith(people[0][-4:])
        firm = demo_enterprise(7, 300)  # an enterprise signs in through entity.verify: match / no match
        assert firm is not None
        claim = {
            "统一社会信用代码": firm.credit_code,
            "法定代表人": firm.representative,
            "法定代表人身份号码": firm.representative_id,
            "联系电话": firm.mobile,
        }
        assert client.post("/gw/entity.verify", json=claim, auth=signer).json()["match"] is True
        wrong = {**claim, "法定代表人": "张冒名"}
        assert client.post("/gw/entity.verify", json=wrong, auth=signer).json()["match"] is False
        # An enterprise imports its insured staff through social.insured, page by page (the ID unmasked).
        check = GatewayIdentityCheck(settings, client.app)
        staff = asyncio.run(check.insured(firm.name, end_user=entity_subject(firm.credit_code)))
        insured = {p.id_number for r, p in insured_rows(People(7, 300)) if r["dwmc"] == firm.name}
        assert staff and {number for _, number in staff} <= insured
        assert asyncio.run(check.insured("没有这家公司", end_user="e-x")) == []
        unsigned = client.get(f"/gw/person.by-id/{people[0]}")
        assert unsigned.status_code == 401
        first = client.get("/gw/person.list", params={"page_size": 5}, auth=signer)
        assert first.status_code == 200, first.text
        assert first.json()["has_more"] and len(first.json()["records"]) == 5
        second = client.get(
            "/gw/person.list", params={"page_size": 5, "after": first.json()["next"]}, auth=signer
        )
        assert second.status_code == 200, second.text
        assert second.json()["records"] and second.json()["records"] != first.json()["records"]
        listed = first.json()["records"] + second.json()["records"]
        assert all("*" in record["公民身份号码"] for record in listed)  # masked as the grant says
    with demo_factory() as session:
        statuses = sorted(r.status.value for r in session.scalars(select(Requirement)))
    assert statuses == ["closed", "filed", "in_progress"]
    _demo_health_code(demo_factory, settings)


def _demo_health_code(demo_factory: sessionmaker[Session], settings: Settings) -> None:
    """Residents sign in through the platform, two positives in the lab's files turn red through the
    health-code app's feed, places are approved with a gate and one waits."""
    import re

    from zhongtai.app import create_app
    from zhongtai.core.pseudonym import person_subject
    from zhongtai.demo.healthcode import (
        answer_one_correction,
        build_demo_healthcode,
        corrected_resident,
        gate_file,
        residents,
    )
    from zhongtai.healthcode import service
    from zhongtai.healthcode.feeds import pull_results
    from zhongtai.healthcode.models import Place

    build_demo_healthcode(demo_factory, settings, 7, 300)
    build_demo_healthcode(demo_factory, settings, 7, 300)  # idempotent
    people = residents(7, 300)
    assert len(people) >= 5 and gate_file(settings).is_file()
    with demo_factory() as session:
        statuses = sorted(p.status.value for p in session.scalars(select(Place)))
    assert statuses == ["approved"] * 5 + ["pending"]  # the compound, the shop, three across the city
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        assert pull_results(demo_factory, settings, client) >= 2
        page = client.get("/m/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token
        first = people[0]
        body = {"csrf_token": token.group(1), "id_number": first.id_number, "name": first.name}
        signed = client.post("/m/login", data={**body, "mobile": first.mobile})
        assert signed.status_code == 200, re.findall(
            r"class=\"(?:error|field-error)\"[^>]*>([^<]+)", signed.text
        )
    with demo_factory() as session:
        colours = {
            r.number: service.current_verdict(session, person_subject(settings, r.id_number))[0].colour.label
            for r in people
        }
    assert colours[4] == colours[7] == "red" and colours[1] == "green"
    corrected = corrected_resident(7, 300)
    assert answer_one_correction(demo_factory, settings, corrected)
    assert not answer_one_correction(demo_factory, settings, corrected)  # once
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        assert pull_results(demo_factory, settings, client) == 0  # a corrected result is not pulled again
    with demo_factory() as session:
        seven = next(r for r in people if r.number == 7)
        assert (
            service.current_verdict(session, person_subject(settings, seven.id_number))[0].colour.label
            == "green"
        )
    _demo_epidemic(demo_factory, settings)


def _demo_epidemic(demo_factory: sessionmaker[Session], settings: Settings) -> None:
    """Resident 4's case traced (a close contact red), a risk area declared and lifted and one standing,
    enterprises with codes of each colour, and the daily report delivered to the province's receiver."""
    from zhongtai.app import create_app
    from zhongtai.core.pseudonym import entity_subject
    from zhongtai.demo.healthcode import residents, shop_visitors, trace_one_case
    from zhongtai.demo.province import PATH, build_demo_report, received
    from zhongtai.demo.services import build_demo_cases, build_demo_services
    from zhongtai.demo.sources import demo_enterprises
    from zhongtai.healthcode import colouring, resumptions
    from zhongtai.healthcode.models import EvidenceRow, PersonColour, RiskArea, TraceContact
    from zhongtai.sharing import reports

    assert trace_one_case(demo_factory, settings, [*residents(7, 300), *shop_visitors(7, 300)])
    build_demo_services(demo_factory, settings)
    assert build_demo_cases(demo_factory, settings, 7, 300)
    with demo_factory() as session:
        kinds = sorted(session.scalars(select(TraceContact.kind)))
        assert "close_contact" in kinds and "co_visitor" in kinds
        lifted = sorted(a.lifted_at is not None for a in session.scalars(select(RiskArea)))
        assert lifted == [False, True]
        firms = demo_enterprises(7, 300, 4)
        colours = [resumptions.enterprise_colour(session, entity_subject(f.credit_code)) for f in firms]
    assert [c.label for c, _ in colours][2:] == ["yellow", "red"]  # pending; suspended
    assert colours[0] == (colours[0][0], ["returned"]) and colours[3][1] == ["suspended"]
    assert "approved" in colours[1][1] or "employees_not_green" in colours[1][1]
    local = settings.model_copy(update={"webhook_allowed_hosts": ["127.0.0.1/32"]})
    assert build_demo_report(demo_factory, local, f"http://127.0.0.1:8000{PATH}")
    assert not build_demo_report(demo_factory, local, f"http://127.0.0.1:8000{PATH}")  # once
    with TestClient(create_app(local), raise_server_exceptions=False) as client:
        assert reports.run_due(demo_factory, local, client=client) == 1  # yesterday's, once
        assert reports.run_due(demo_factory, local, client=client) == 0
    days = received(local)
    assert len(days) == 1 and days[0]["payload"]["data"]["figures"]["city"] == "340100"  # type: ignore[index]
    with demo_factory() as session:  # what the incremental paths stored is what the rules give from scratch
        with_evidence = set(session.scalars(select(EvidenceRow.subject).distinct()))
        assert with_evidence and with_evidence <= set(session.scalars(select(PersonColour.subject)))
        assert colouring.recompute(session, datetime.now(UTC)).changed == 0
        session.rollback()
    from zhongtai.demo.healthcode import POSTER_SCANS, scan_posters
    from zhongtai.demo.sources import People

    assert scan_posters(demo_factory, settings, People(7, 300), 1) == POSTER_SCANS  # residents scan posters


def test_demo_entries_tell_a_believable_story(demo_factory: sessionmaker[Session]) -> None:
    """History and versions around the publish date, in office hours; the source system the one that
    holds such data."""
    from datetime import timedelta

    from zhongtai.catalog.models import Resource, ResourceTransition, ResourceVersion
    from zhongtai.core.types import CITY_ZONE

    with demo_factory() as session:
        published = session.scalars(select(Resource).where(Resource.publish_date.is_not(None))).all()
        assert len(published) > 100
        for resource in published:
            steps = session.scalars(
                select(ResourceTransition).where(ResourceTransition.resource_id == resource.id)
            ).all()
            approved = next(s for s in steps if s.action == "approve").occurred_at.astimezone(CITY_ZONE)
            assert approved.date() == resource.publish_date and 9 <= approved.hour <= 18
            created = next(s for s in steps if s.action == "create").occurred_at.astimezone(CITY_ZONE)
            assert timedelta(days=7) <= approved - created <= timedelta(days=22)
            versions = session.scalars(
                select(ResourceVersion).where(ResourceVersion.resource_id == resource.id)
            )
            assert all(abs(v.created_at - approved) < timedelta(days=1) for v in versions)
        from zhongtai.orgs.models import InformationSystem

        holding = select(InformationSystem.code).join(
            Resource, Resource.source_system_id == InformationSystem.id
        )
        assert session.scalar(holding.where(Resource.name == "结婚登记信息")) == "MZJ-HYDJ"
        assert session.scalar(holding.where(Resource.name == "常住人口基本信息")) == "GAJ-RKXT"


@settings(max_examples=300, deadline=None, database=None)
@given(st.integers(0, 2**32), st.sampled_from(["陈秀华", "王伟", "欧阳娜娜", "张晓明", "李"]), st.dates())
def test_the_demos_conflicting_values_belong_to_one_person(seed: int, name: str, born: date) -> None:
    """What makes the demo's conflicts: another department wrote the name with a homophone or a stray
    space, or keyed the birth date a day off — never another person's values under one ID number."""
    import random

    from zhongtai.demo.sources import slipped_birth, variant_name

    rng = random.Random(seed)
    variant = variant_name(rng, name).replace(" ", "")
    assert len(variant) == len(name) and sum(a != b for a, b in zip(variant, name, strict=True)) <= 1
    assert abs((slipped_birth(rng, born) - born).days) <= 1


def test_demo_opens_a_dozen_datasets_and_one_is_applied_for(
    demo_factory: sessionmaker[Session], settings: Settings
) -> None:
    from sqlalchemy import func

    from zhongtai.catalog.models import Resource
    from zhongtai.demo.governance import build_demo_governance
    from zhongtai.demo.opendata import DATASETS, build_demo_application, build_demo_opendata
    from zhongtai.demo.sources import build_demo_sources
    from zhongtai.governance.pipeline import run_pass
    from zhongtai.ingest.runner import run_job
    from zhongtai.opendata import service
    from zhongtai.opendata.models import OpenApplication

    jobs = build_demo_sources(demo_factory, settings, seed=7, persons=1500)
    governed = build_demo_governance(demo_factory)
    assert build_demo_opendata(demo_factory, settings) == 0  # opened, waiting for governed rows
    opened = {name for name, _rules, _tags in DATASETS}
    with demo_factory() as session:
        codes = dict(session.execute(select(Resource.name, Resource.code)).all())
    wanted = {codes[name] for name in opened}
    for job in jobs:
        run_job(demo_factory, settings, job)
    for code in governed:
        if code in wanted:
            run_pass(demo_factory, code, trigger="test")
    assert build_demo_opendata(demo_factory, settings) == len(DATASETS) >= 12
    assert build_demo_application(demo_factory, settings, seed=7, persons=1500)
    assert build_demo_application(demo_factory, settings, seed=7, persons=1500)  # idempotent
    with demo_factory() as session:
        entries = service.entries(session)
        assert len({e.department.code for e in entries}) >= 8
        by_name = {e.resource.name: e for e in entries}
        counted = by_name["律师执业信息"]  # lawyers only as counts per firm, small ones withheld
        assert counted.release is not None and counted.release.columns == ["单位名称", "数量"]
        counts = [row["数量"] for row in service.rows(session, counted.release)]
        assert None in counts and all(n is None or n >= 10 for n in counts)
        shops = by_name["个体工商户登记信息"]  # on application only, without their owners
        assert shops.dataset.access == "conditional" and shops.release is not None
        assert shops.release.columns == ["企业名称", "住所"]
        applied = session.scalars(select(OpenApplication)).all()
        assert [(a.dataset_id, a.status) for a in applied] == [(shops.dataset.id, "approved")]
        assert session.scalar(select(func.count()).select_from(OpenApplication)) == 1
