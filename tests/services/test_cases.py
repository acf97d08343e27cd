"""Cases: the applicant previews and consents; the platform fetches under a grant for the case alone
(purpose the service, items what the materials need, masked, usable by nobody else and nowhere else);
what remains is uploaded; the caseworker reads under the grant, co-handling answers come in, the decision
ends the grants and writes the ledger. Withdrawn consent stops any further read; a source with no record
falls back to an upload and becomes the source department's problem."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import World
from tests.public.helpers import NEIGHBOUR, WANG
from tests.services.helpers import PDF, SERVICE, City, applicant_for, build_city
from zhongtai.core.audit import AuditEvent
from zhongtai.core.database import transaction
from zhongtai.core.errors import Conflict, Forbidden, Invalid, NotFound, PayloadTooLarge, TooManyAttempts
from zhongtai.core.pseudonym import person_subject
from zhongtai.core.settings import Settings
from zhongtai.core.types import utcnow
from zhongtai.governance.models import Problem
from zhongtai.services import cases, handling, ledger, service
from zhongtai.services.models import Case, CaseMaterial, CaseStatus, MaterialOutcome, Saving
from zhongtai.services.schemas import Decision, TaskAnswer, TaskCreate
from zhongtai.sharing import casegrants
from zhongtai.sharing import service as sharing
from zhongtai.sharing.models import Grant


@pytest.fixture
def city(factory: sessionmaker[Session], world: World, settings: Settings) -> City:
    return build_city(factory, world, settings)


def _submitted(factory: sessionmaker[Session], settings: Settings, person: object = WANG) -> str:
    with transaction(factory) as session:
        now = utcnow()
        case = cases.start(session, settings, applicant_for(settings, person), SERVICE, {}, now)
        cases.consent(session, settings, case, now)
        income = next(
            e
            for e in session.scalars(select(CaseMaterial).where(CaseMaterial.case_id == case.id))
            if e.outcome is MaterialOutcome.NEEDED
        )
        cases.upload(session, settings, case, income.material_id, "收入证明.pdf", PDF, now)
        cases.submit(session, case, now)
        return case.number


def test_preview_shows_what_will_be_fetched_masked_and_nothing_is_fetched_before_consent(
    factory: sessionmaker[Session], settings: Settings, city: City
) -> None:
    with transaction(factory) as session:
        case = cases.start(session, settings, applicant_for(settings, WANG), SERVICE, {}, utcnow())
        shown = cases.preview(session, settings, case, utcnow())
        assert [p.material.name for p in shown] == ["居民户口簿", "婚姻状况证明", "家庭收入证明"]
        assert shown[0].rows == [{"姓名": "王**", "户号": "***"}]  # masked as the catalog requires
        assert shown[1].rows[0]["配偶姓名"] == "李*"
        assert shown[2].note.startswith("upload")
        assert session.scalars(select(Grant)).all() == []  # previewing issues no grant
        number = case.number
    with factory() as session:
        subject = person_subject(settings, WANG.id_number)
        previews = session.scalars(
            select(AuditEvent).where(
                AuditEvent.subject == subject, AuditEvent.event_type == "services.case.previewed"
            )
        ).all()
        assert {e.target_id for e in previews} == {number} and len(previews) == 2


def test_consent_fetches_under_a_grant_for_this_case_alone(
    factory: sessionmaker[Session], settings: Settings, city: City
) -> None:
    number = _submitted(factory, settings)
    with transaction(factory) as session:
        grants = session.scalars(select(Grant).where(Grant.case_ref == number)).all()
        assert len(grants) == 2
        assert {tuple(g.items) for g in grants} == {("姓名", "户号"), ("姓名", "配偶姓名", "登记日期")}
        assert all(
            g.purpose == "公共租赁住房保障资格审核(ZJJ-GZF-001)" and g.unmasked_items == [] for g in grants
        )
        caseworker = city.staff["caseworker_z"]
        with pytest.raises(Forbidden) as refused:  # not through the records API, not by anyone
            sharing.read_records(session, caseworker, grants[0].id, 0, 10)
        assert refused.value.code == "case_grant"
        with pytest.raises(Forbidden):  # another department's caseworker
            handling.handled_case(session, city.staff["caseworker_g"], number)
        case = handling.accept(session, caseworker, number, utcnow())
        data = handling.fetched_data(session, settings, caseworker, case)
        assert [r["姓名"] for read in data.values() for r in read.rows] == ["王**", "王**"]


def test_the_decision_ends_the_grants_and_writes_the_ledger(
    factory: sessionmaker[Session], settings: Settings, city: City
) -> None:
    number = _submitted(factory, settings)
    caseworker, civil = city.staff["caseworker_z"], city.staff["caseworker_m"]
    with transaction(factory) as session:
        handling.accept(session, caseworker, number, utcnow())
        task = handling.ask(
            session, caseworker, number, TaskCreate(department="MZJ", question="是否低保对象"), utcnow()
        )
        with pytest.raises(Conflict):  # an answer is awaited
            handling.decide(session, settings, caseworker, number, Decision(action="approve"), utcnow())
    with transaction(factory) as session:
        handling.answer(session, civil, task.id, TaskAnswer(agrees=True, answer="非低保对象"), utcnow())
        handling.decide(
            session, settings, caseworker, number, Decision(action="approve", reason="符合条件"), utcnow()
        )
    with transaction(factory) as session:
        case = session.scalars(select(Case).where(Case.number == number)).one()
        assert case.status is CaseStatus.APPROVED
        with pytest.raises(Forbidden) as expired:  # the grant ended with the case
            handling.fetched_data(session, settings, caseworker, case)
        assert expired.value.code == "grant_expired"
        saving = session.get(Saving, case.id)
        assert saving is not None and (saving.submissions, saving.checks, saving.trips) == (2, 2, 3)
        assert ledger.totals(session).submissions == 2


def test_withdrawn_consent_stops_every_further_read(
    factory: sessionmaker[Session], settings: Settings, city: City
) -> None:
    number = _submitted(factory, settings)
    caseworker = city.staff["caseworker_z"]
    with transaction(factory) as session:
        case = handling.accept(session, caseworker, number, utcnow())
        assert cases.withdraw_consent(session, case, utcnow()) == 2
        assert case.status is CaseStatus.RETURNED
        outcomes = [
            e.outcome for e in session.scalars(select(CaseMaterial).where(CaseMaterial.case_id == case.id))
        ]
        assert outcomes.count(MaterialOutcome.NEEDED) == 2
    with transaction(factory) as session:
        case = session.scalars(select(Case).where(Case.number == number)).one()
        assert handling.fetched_data(session, settings, caseworker, case) == {}  # nothing fetched any more
        for grant in session.scalars(select(Grant).where(Grant.case_ref == number)):
            with pytest.raises(Forbidden) as ended:  # and the grants themselves refuse a read
                casegrants.read(
                    session,
                    caseworker,
                    grant_id=grant.id,
                    case_ref=number,
                    key=("公民身份号码", WANG.id_number),
                    subject="p-x",
                    event="services.case.viewed",
                )
            assert ended.value.code == "grant_expired"
        with pytest.raises(Conflict):  # nothing can be submitted until the fetched materials are uploaded
            cases.submit(session, case, utcnow())


def test_a_source_without_the_record_falls_back_to_an_upload_and_tells_its_department(
    factory: sessionmaker[Session], settings: Settings, city: City
) -> None:
    with transaction(factory) as session:  # nobody of that number is in the register
        stranger = cases.Applicant(
            applicant_for(settings, NEIGHBOUR).kind, "p-x", "赵五", "340104199001019999", "p-x"
        )
        case = cases.start(session, settings, stranger, SERVICE, {}, utcnow())
        cases.consent(session, settings, case, utcnow())
        entries = list(session.scalars(select(CaseMaterial).where(CaseMaterial.case_id == case.id)))
        register = entries[0]
        assert register.outcome is MaterialOutcome.NEEDED and register.fallback_reason == "no_record|GAJ"
        assert entries[1].outcome is MaterialOutcome.FETCHED  # no marriage record is itself the answer
        problem = session.get(Problem, register.problem_id)
        assert problem is not None and problem.dimension == "service" and "340104" not in problem.description


def test_uploads_must_be_what_they_say_and_small_enough(
    factory: sessionmaker[Session], settings: Settings, city: City
) -> None:
    with transaction(factory) as session:
        case = cases.start(session, settings, applicant_for(settings, WANG), SERVICE, {}, utcnow())
        cases.consent(session, settings, case, utcnow())
        income = next(
            e
            for e in session.scalars(select(CaseMaterial).where(CaseMaterial.case_id == case.id))
            if e.outcome is MaterialOutcome.NEEDED
        )
        fetched = next(
            e
            for e in session.scalars(select(CaseMaterial).where(CaseMaterial.case_id == case.id))
            if e.outcome is MaterialOutcome.FETCHED
        )
        with pytest.raises(Invalid) as renamed:
            cases.upload(
                session, settings, case, income.material_id, "收入证明.pdf", b"MZ\x90\x00 not a pdf", utcnow()
            )
        assert renamed.value.code == "file_content"
        with pytest.raises(Invalid):
            cases.upload(session, settings, case, income.material_id, "收入证明.exe", PDF, utcnow())
        with pytest.raises(PayloadTooLarge):
            cases.upload(
                session,
                settings,
                case,
                income.material_id,
                "a.pdf",
                PDF + b"0" * cases.MAX_FILE_BYTES,
                utcnow(),
            )
        with pytest.raises(Conflict):
            cases.upload(session, settings, case, fetched.material_id, "a.pdf", PDF, utcnow())
        with pytest.raises(Conflict) as missing:
            cases.submit(session, case, utcnow())
        assert "家庭收入证明" in str(missing.value)


def test_an_applicant_sees_only_their_own_cases(
    factory: sessionmaker[Session], settings: Settings, city: City
) -> None:
    number = _submitted(factory, settings)
    with factory() as session:
        mine = [person_subject(settings, WANG.id_number)]
        assert cases.applicant_case(session, mine, number).number == number
        with pytest.raises(NotFound):
            cases.applicant_case(session, [person_subject(settings, NEIGHBOUR.id_number)], number)


def test_the_ledger_counts_exactly_what_finished_cases_fetched(
    factory: sessionmaker[Session], settings: Settings, city: City
) -> None:
    caseworker = city.staff["caseworker_z"]
    outcomes = ["approve", "refuse", "return", None, "approve"]
    for n, action in enumerate(outcomes):
        number = _submitted(factory, settings, WANG if n % 2 == 0 else NEIGHBOUR)
        if action is None:
            continue
        with transaction(factory) as session:
            handling.accept(session, caseworker, number, utcnow())
            handling.decide(
                session, settings, caseworker, number, Decision(action=action, reason="理由已说明"), utcnow()
            )
    with factory() as session:
        finished = session.scalars(
            select(Case).where(Case.status.in_([CaseStatus.APPROVED, CaseStatus.REFUSED]))
        ).all()
        fetched = session.scalars(
            select(CaseMaterial).where(
                CaseMaterial.case_id.in_([c.id for c in finished]),
                CaseMaterial.outcome == MaterialOutcome.FETCHED,
            )
        ).all()
        totals = ledger.totals(session)
        assert totals.cases == len(finished) == 3
        assert totals.submissions == totals.checks == len(fetched) == 6
        assert totals.trips == 3 * 3
        assert [r.key for r in totals.by_service] == [SERVICE]


def test_starting_cases_is_limited_per_person_and_a_day(
    factory: sessionmaker[Session], settings: Settings, city: City
) -> None:
    with transaction(factory) as session:
        for _ in range(cases.CASES_PER_DAY):
            cases.start(session, settings, applicant_for(settings, WANG), SERVICE, {}, utcnow())
        with pytest.raises(TooManyAttempts):
            cases.start(session, settings, applicant_for(settings, WANG), SERVICE, {}, utcnow())
        cases.start(session, settings, applicant_for(settings, NEIGHBOUR), SERVICE, {}, utcnow())  # another


def test_the_work_waiting_for_each_desk(
    factory: sessionmaker[Session], settings: Settings, city: City
) -> None:
    number = _submitted(factory, settings)
    with transaction(factory) as session:
        waiting = service.pending_for(session, city.staff["caseworker_z"])
        assert [(w.reference, w.action) for w in waiting] == [(number, "svc.accept")]
        assert service.pending_for(session, city.staff["caseworker_g"]) == []
        handling.accept(session, city.staff["caseworker_z"], number, utcnow())
        handling.ask(
            session,
            city.staff["caseworker_z"],
            number,
            TaskCreate(department="MZJ", question="是否低保"),
            utcnow(),
        )
        asked = service.pending_for(session, city.staff["caseworker_m"])
        assert [(w.reference, w.action) for w in asked] == [(number, "svc.answer")]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_who_used_my_data_lists_exactly_the_accesses_made(
    factory: sessionmaker[Session], settings: Settings, city: City, seed: int
) -> None:
    """A generated run of previews, consents and caseworkers' reads for three people, recorded here as
    they are made; each person's list holds exactly theirs."""
    import random
    from collections import Counter

    from tests.public.helpers import WANG_CHILD
    from zhongtai.auditing.mydata import accesses_of

    rng = random.Random(seed)
    people = [WANG, WANG_CHILD, NEIGHBOUR]
    made: dict[str, Counter[str]] = {person_subject(settings, p.id_number): Counter() for p in people}
    submitted: list[tuple[str, str]] = []
    for _ in range(12):
        person = rng.choice(people)
        subject = person_subject(settings, person.id_number)
        step = rng.choice(["preview", "file", "read"])
        with transaction(factory) as session:
            if step == "preview":
                case = cases.start(session, settings, applicant_for(settings, person), SERVICE, {}, utcnow())
                cases.preview(session, settings, case, utcnow())
                made[subject]["services.case.previewed"] += 2  # two data materials
            elif step == "file" or not submitted:
                submitted.append((_submitted(factory, settings, person), subject))
                made[subject]["services.case.fetched"] += 2
            else:
                number, whose = rng.choice(submitted)
                case = session.scalars(select(Case).where(Case.number == number)).one()
                if case.status is CaseStatus.SUBMITTED:
                    handling.accept(session, city.staff["caseworker_z"], number, utcnow())
                handling.fetched_data(session, settings, city.staff["caseworker_z"], case)
                made[whose]["services.case.viewed"] += 2
    with factory() as session:
        for subject, expected in made.items():
            listed = Counter(a.event_type for a in accesses_of(session, subject, limit=500))
            assert listed == expected, subject
