"""Governance passes: rules make the clean zone, fusion makes base records with provenance and history."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session, sessionmaker
from stdnum.cn import ric

from tests.factories import World
from tests.governance.helpers import person_source, raw_batch
from zhongtai.core.database import transaction
from zhongtai.core.settings import Settings
from zhongtai.governance.liveness import PassHold
from zhongtai.governance.matching import nearby_numbers
from zhongtai.governance.models import (
    BaseClaim,
    BaseHistory,
    BaseKind,
    BaseLink,
    BaseRecord,
    BaseSource,
    CleanRecord,
    Conflict,
    GovernancePass,
    GovernanceReject,
    PassStatus,
)
from zhongtai.governance.pipeline import run_pass, withdraw_source
from zhongtai.governance.repository import GovernanceRepository
from zhongtai.ingest.models import RawRecord

ZHANG = "340104199001010017"  # valid, male
LI = "34010419851231048X"  # valid, female


def test_a_batch_is_standardized_and_every_row_is_kept_or_rejected_with_its_rule(
    factory: sessionmaker[Session], settings: Settings, world: World
) -> None:
    resource, job = person_source(factory, settings, "GAJ", "GAJ-RK", priority=1)
    batch = raw_batch(
        factory,
        job,
        {
            "1": {
                "姓名": " 张 三",
                "公民身份号码": "340104900101001",
                "性别": "男",
                "出生日期": "1990年1月1日",
            },
            "2": {
                "姓名": "李四",
                "公民身份号码": LI.lower(),
                "性别": "2",
                "出生日期": "19851231",
                "联系电话": "+86 138-0000-1111",
            },
            "3": {"姓名": "王五", "公民身份号码": "340104199001010018", "性别": "男"},  # bad check digit
            "4": {"姓名": "赵六", "公民身份号码": ZHANG, "性别": "男"},  # same number as row 1
            "5": {"姓名": "钱七", "性别": "女"},  # no number
            "6": {"姓名": "孙八", "公民身份号码": "340104202002300010", "性别": "男"},  # 2020-02-30
            "7": {"姓名": "周九", "公民身份号码": LI, "出生日期": "1985-12-30"},  # disagrees with the number
            "8": {"姓名": "'; DROP TABLE x;--", "公民身份号码": ZHANG},
        },
    )
    outcome = run_pass(factory, resource, run_id=batch, trigger="test")

    assert outcome.status is PassStatus.SUCCEEDED
    assert outcome.raw_rows == 8 == outcome.clean_rows + outcome.rejected_rows
    with factory() as session:
        clean = {r.source_key: r for r in session.scalars(select(CleanRecord))}
        rejects = {r.source_key: r for r in session.scalars(select(GovernanceReject))}
    assert set(clean) | set(rejects) == {str(n) for n in range(1, 9)}
    assert not set(clean) & set(rejects)
    first = clean["1"]
    assert first.data == {"姓名": "张三", "公民身份号码": ZHANG, "性别": "1", "出生日期": "1990-01-01"}
    assert first.changes is not None and first.changes["公民身份号码"] == {
        "from": "340104900101001",
        "rule": "id",
    }
    assert first.rule_version == 1
    assert clean["2"].data["联系电话"] == "13800001111" and clean["2"].data["公民身份号码"] == LI
    assert rejects["3"].rule_id == "id" and "check digit" in rejects["3"].reason
    assert rejects["4"].rule_id == "id-unique" and "record 1" in rejects["4"].reason
    assert rejects["5"].rule_id == "id-required"
    assert rejects["6"].rule_id == "id" and "not a date" in rejects["6"].reason
    assert rejects["7"].rule_id == "birth-id"
    assert rejects["8"].rule_id == "name" and rejects["8"].value == "'; DROP TABLE x;--"
    assert all(r.rule_version == 1 for r in rejects.values())


def test_rerunning_a_pass_gives_the_same_clean_zone(
    factory: sessionmaker[Session], settings: Settings, world: World
) -> None:
    resource, job = person_source(factory, settings, "GAJ", "GAJ-RK", priority=1)
    batch = raw_batch(factory, job, {"1": {"姓名": "张三", "公民身份号码": ZHANG}, "2": {"姓名": "x1"}})
    first = run_pass(factory, resource, run_id=batch)
    second = run_pass(factory, resource)  # the whole resource, on demand
    assert (first.clean_rows, first.rejected_rows) == (second.clean_rows, second.rejected_rows) == (1, 1)
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(CleanRecord)) == 1
        assert session.scalar(select(func.count()).select_from(BaseRecord)) == 1


def test_fusion_takes_each_value_from_the_priority_source_and_records_conflicts_and_history(
    factory: sessionmaker[Session], settings: Settings, world: World
) -> None:
    police, police_job = person_source(factory, settings, "GAJ", "GAJ-RK", priority=1)
    civil, civil_job = person_source(factory, settings, "MZJ", "MZJ-HY", priority=2)
    run_pass(
        factory,
        civil,
        run_id=raw_batch(
            factory,
            civil_job,
            {
                "m1": {"姓名": "张玮", "公民身份号码": ZHANG, "联系电话": "13900001111"},
            },
        ),
    )
    run_pass(
        factory,
        police,
        run_id=raw_batch(
            factory,
            police_job,
            {
                "p1": {"姓名": "张伟", "公民身份号码": ZHANG, "性别": "1", "出生日期": "1990-01-01"},
            },
        ),
    )

    with factory() as session:
        repo = GovernanceRepository(session)
        record = repo.record(BaseKind.PERSON, ZHANG)
        assert record is not None
        # the household registry wins the name; the phone only civil affairs knows is kept, with its source
        assert record.data == {
            "name": "张伟",
            "gender": "1",
            "birth_date": "1990-01-01",
            "phone": "13900001111",
        }
        assert record.provenance["name"]["department"] == "GAJ"
        assert record.provenance["phone"]["department"] == "MZJ"
        assert record.version == 2
        history = repo.history(BaseKind.PERSON, ZHANG)
        assert [h.data["name"] for h in history] == ["张玮"]  # what the record said before
        assert repo.version_at(BaseKind.PERSON, ZHANG, history[0].valid_from + timedelta(microseconds=1))
        conflict = session.scalar(select(Conflict))
        assert conflict is not None and conflict.open and conflict.attribute == "name"
        assert {c["value"] for c in conflict.claims} == {"张伟", "张玮"}
        assert conflict.departments == ",GAJ,MZJ,"

    # civil affairs corrects the name: the conflict closes, the record keeps its value and version
    run_pass(
        factory,
        civil,
        run_id=raw_batch(
            factory,
            civil_job,
            {
                "m1": {"姓名": "张伟", "公民身份号码": ZHANG, "联系电话": "13900001111"},
            },
        ),
    )
    with factory() as session:
        conflict = session.scalar(select(Conflict))
        assert conflict is not None and not conflict.open and conflict.resolved_at is not None
        record = GovernanceRepository(session).record(BaseKind.PERSON, ZHANG)
        assert record is not None and record.version == 2
        assert session.scalar(select(func.count()).select_from(BaseHistory)) == 1


def test_a_record_fused_again_to_the_same_values_in_another_order_keeps_its_version(
    factory: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """Fusion compares a record's stored text first; text written another way (attributes in another
    order, as by an earlier release) still holds the same values, and no version is made of it."""
    resource, job = person_source(factory, settings, "GAJ", "GAJ-RK", priority=1)
    row = {"姓名": "张伟", "公民身份号码": ZHANG, "性别": "1", "出生日期": "1990-01-01"}
    run_pass(factory, resource, run_id=raw_batch(factory, job, {"p1": row}))
    with transaction(factory) as session:
        stored = session.execute(select(BaseRecord.data).where(BaseRecord.key == ZHANG)).scalar_one()
        reordered = dict(reversed(list(stored.items())))
        session.execute(update(BaseRecord).where(BaseRecord.key == ZHANG).values(data=reordered))
    run_pass(factory, resource, run_id=raw_batch(factory, job, {"p1": row}))
    with factory() as session:
        record = GovernanceRepository(session).record(BaseKind.PERSON, ZHANG)
        assert record is not None and record.version == 1 and record.data == stored
        assert session.scalar(select(func.count()).select_from(BaseHistory)) == 0
    # and a value that did change still makes a version, with the one it replaces in the history
    run_pass(factory, resource, run_id=raw_batch(factory, job, {"p1": {**row, "姓名": "张玮"}}))
    with factory() as session:
        record = GovernanceRepository(session).record(BaseKind.PERSON, ZHANG)
        assert record is not None and record.version == 2 and record.data["name"] == "张玮"
        history = GovernanceRepository(session).history(BaseKind.PERSON, ZHANG)
        assert [h.data for h in history] == [stored]


def test_a_mistyped_id_number_is_linked_to_its_person_by_probabilistic_matching(
    factory: sessionmaker[Session], settings: Settings, world: World
) -> None:
    police, police_job = person_source(factory, settings, "GAJ", "GAJ-RK", priority=1)
    civil, civil_job = person_source(factory, settings, "MZJ", "MZJ-HY", priority=2)
    run_pass(
        factory,
        police,
        run_id=raw_batch(
            factory,
            police_job,
            {
                "p1": {"姓名": "张伟", "公民身份号码": ZHANG, "出生日期": "1990-01-01"},
                "p2": {"姓名": "李娜", "公民身份号码": LI},
                "p3": {
                    "姓名": "王芳",
                    "公民身份号码": "340104199001010025",
                },  # one keystroke from 张伟's typo below
            },
        ),
    )
    typo = ZHANG[:9] + "1" + ZHANG[10:]  # 3401041991…: one digit wrong, check digit now fails
    swapped = LI[:12] + LI[13] + LI[12] + LI[14:]  # two digits swapped
    outcome = run_pass(
        factory,
        civil,
        run_id=raw_batch(
            factory,
            civil_job,
            {
                "m1": {"姓名": "张伟", "公民身份号码": typo},
                "m2": {"姓名": "李 娜", "公民身份号码": swapped},
                "m3": {
                    "姓名": "赵六",
                    "公民身份号码": ZHANG[:-2] + "9" + ZHANG[-1],
                },  # a stranger's name: not linked
            },
        ),
    )

    assert outcome.rejected_rows == 3  # the rows stay refused until civil affairs corrects them
    with factory() as session:
        links = {link.source_key: link for link in session.scalars(select(BaseLink))}
        governed = session.get(GovernancePass, outcome.pass_id)
    assert set(links) == {"m1", "m2"} and governed is not None and governed.linked_rows == 2
    assert (links["m1"].key, links["m1"].written_key) == (ZHANG, typo)
    assert links["m2"].key == LI and links["m1"].probability >= 0.9
    # governing the batch again replaces its links rather than adding more
    run_pass(factory, civil)
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(BaseLink)) == 2


@given(st.integers(0, 16), st.integers(1, 9))
def test_the_true_number_is_among_those_near_a_mistyped_one(position: int, shift: int) -> None:
    wrong = ZHANG[:position] + str((int(ZHANG[position]) + shift) % 10) + ZHANG[position + 1 :]
    near = nearby_numbers(wrong)
    assert ZHANG in near and wrong not in near
    assert all(n[-1] == ZHANG[-1] and len(n) == 18 for n in near)


def test_a_row_that_is_refused_later_withdraws_its_claim(
    factory: sessionmaker[Session], settings: Settings, world: World
) -> None:
    police, police_job = person_source(factory, settings, "GAJ", "GAJ-RK", priority=1)
    civil, civil_job = person_source(factory, settings, "MZJ", "MZJ-HY", priority=2)
    run_pass(
        factory, police, run_id=raw_batch(factory, police_job, {"p": {"姓名": "张伟", "公民身份号码": ZHANG}})
    )
    run_pass(
        factory,
        civil,
        run_id=raw_batch(
            factory,
            civil_job,
            {
                "m": {"姓名": "张伟", "公民身份号码": ZHANG, "联系电话": "13900001111"},
                "n": {"姓名": "李娜", "公民身份号码": LI},
            },
        ),
    )
    # civil affairs' rows change: one now fails its rules, the other is gone from the source (full mode)
    run_pass(
        factory, civil, run_id=raw_batch(factory, civil_job, {"m": {"姓名": "张伟2", "公民身份号码": ZHANG}})
    )
    with factory() as session:
        session.execute(delete(RawRecord).where(RawRecord.source_key == "n"))
        session.commit()
    run_pass(factory, civil)

    with factory() as session:
        repo = GovernanceRepository(session)
        zhang = repo.record(BaseKind.PERSON, ZHANG)
        assert zhang is not None and "phone" not in zhang.data  # civil affairs no longer vouches for it
        assert [c.source_id for c in repo.claims_of(BaseKind.PERSON, ZHANG)] == [
            zhang.provenance["name"]["source"]
        ]
        assert repo.record(BaseKind.PERSON, LI) is None  # no source claims her any more
        assert [h.data["name"] for h in repo.history(BaseKind.PERSON, LI)] == ["李娜"]  # what it said is kept


def test_a_source_switched_off_no_longer_speaks_for_any_record(
    factory: sessionmaker[Session], settings: Settings, world: World
) -> None:
    police, police_job = person_source(factory, settings, "GAJ", "GAJ-RK", priority=1)
    civil, civil_job = person_source(factory, settings, "MZJ", "MZJ-HY", priority=2)
    run_pass(
        factory,
        civil,
        run_id=raw_batch(
            factory,
            civil_job,
            {
                "m": {"姓名": "张伟", "公民身份号码": ZHANG, "联系电话": "13900001111"},
                "n": {"姓名": "李娜", "公民身份号码": LI},
            },
        ),
    )
    with factory() as session:
        civil_source = _source_of(session, civil)
        session.execute(update(BaseSource).where(BaseSource.id == civil_source).values(enabled=False))
        session.commit()
    assert withdraw_source(factory, civil_source) == 2  # what the API queues when a source is switched off
    run_pass(
        factory, police, run_id=raw_batch(factory, police_job, {"p": {"姓名": "张伟", "公民身份号码": ZHANG}})
    )
    run_pass(factory, civil)  # civil affairs' rows are governed again, but its source stays silent

    with factory() as session:
        repo = GovernanceRepository(session)
        zhang = repo.record(BaseKind.PERSON, ZHANG)
        assert zhang is not None and zhang.data == {
            "name": "张伟"
        }  # the phone only civil affairs gave is gone
        assert repo.record(BaseKind.PERSON, LI) is None


def _source_of(session: Session, resource_code: str) -> int:
    from zhongtai.catalog.models import Resource

    resource_id = session.scalar(select(Resource.id).where(Resource.code == resource_code))
    source_id = session.scalar(select(BaseSource.id).where(BaseSource.resource_id == resource_id))
    assert source_id is not None
    return source_id


def test_a_first_load_inserts_only_where_nothing_is_yet_and_never_beside_a_running_pass(
    factory: sessionmaker[Session], settings: Settings, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pass writes a job's clean rows and a source's claims by insert only when the job's clean zone
    and the source's claims are empty as it begins, and not while another pass of the resource is
    recorded running (a partitioned pass's workers write in their own transactions); a second load
    merges. Either way the rows end as they would."""
    inserted: list[str] = []
    for name in ("insert_claims", "write_clean", "write_records"):
        original = getattr(GovernanceRepository, name)

        def spy(
            self: GovernanceRepository,
            rows: Any,
            *,
            _name: str = name,
            _original: Any = original,
            **options: Any,
        ) -> None:
            if _name == "insert_claims" or options.get("new"):
                inserted.append(_name)
            _original(self, rows, **options)

        monkeypatch.setattr(GovernanceRepository, name, spy)
    resource, job_code = person_source(factory, settings, "GAJ", "GAJ-RK", priority=1)
    first = raw_batch(factory, job_code, {"1": {"姓名": "张三", "公民身份号码": ZHANG}})
    assert run_pass(factory, resource, run_id=first).status is PassStatus.SUCCEEDED
    assert sorted(set(inserted)) == ["insert_claims", "write_clean", "write_records"]

    inserted.clear()
    second = raw_batch(factory, job_code, {"2": {"姓名": "李四", "公民身份号码": LI}})
    assert run_pass(factory, resource, run_id=second).status is PassStatus.SUCCEEDED
    assert inserted == []  # the job has clean rows, the source claims, the base records: all merged

    with transaction(factory) as session:  # the resource emptied, and a pass of it running elsewhere
        for table in (BaseRecord, BaseClaim, CleanRecord):
            session.execute(delete(table))
        found = GovernanceRepository(session).resource(resource)
        assert found is not None
        running = GovernancePass(resource_id=found.id, trigger="test", requested_by="t")
        session.add(running)
        session.flush()
        hold = PassHold(factory.kw["bind"])
        hold.take(running.id)  # alive: held as its process holds it
    with hold:
        assert run_pass(factory, resource).status is PassStatus.SUCCEEDED
    assert set(inserted) <= {"write_records"}  # records: the base had none, under the fusion lock
    with factory() as session:
        assert set(session.scalars(select(CleanRecord.source_key))) == {"1", "2"}
        assert set(session.scalars(select(BaseRecord.key))) == {ZHANG, LI}


def test_fusion_refreshes_the_planners_statistics_only_of_tables_it_believes_far_smaller(
    factory: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """PostgreSQL: before fusion reads, ANALYZE the tables the planner believes empty or a tenth of what
    the pass wrote; a table it knows at about its size is left alone."""
    if factory.kw["bind"].dialect.name != "postgresql":
        pytest.skip("planner statistics are PostgreSQL's")
    resource, job_code = person_source(factory, settings, "GAJ", "GAJ-RK", priority=1)
    batch = raw_batch(factory, job_code, {"1": {"姓名": "张三", "公民身份号码": ZHANG}})
    assert run_pass(factory, resource, run_id=batch).status is PassStatus.SUCCEEDED
    believed = "SELECT reltuples FROM pg_class WHERE oid = to_regclass('base_claims')"
    with transaction(factory) as session:
        claim = session.scalars(select(BaseClaim)).one()
        rows = [
            (
                "person",
                f"k{n:05d}",
                claim.source_id,
                claim.job_id,
                f"s{n}",
                "{}",
                claim.batch_id,
                claim.observed_at,
            )
            for n in range(999)
        ]
        GovernanceRepository(session).insert_claims(rows)
        session.execute(text("ANALYZE base_claims"))  # the planner knows 1,000 claims
        GovernanceRepository(session).insert_claims(
            [(*row[:1], f"m{n:05d}", *row[2:]) for n, row in enumerate(rows)]
        )
    with transaction(factory) as session:
        repo = GovernanceRepository(session)
        repo.refresh_statistics(10_000)  # 1,000 is a tenth of 10,000: left alone
        assert session.scalar(text(believed)) == 1_000
        repo.refresh_statistics(10_001)
        assert session.scalar(text(believed)) == 1_999


def _persons(count: int) -> dict[str, dict[str, Any]]:
    """``count`` rows of valid, distinct persons (and one refused row in every ten)."""
    rows: dict[str, dict[str, Any]] = {}
    for n in range(count):
        body = f"340104{1950 + n % 50}{1 + n % 12:02d}{1 + n % 28:02d}{n % 1000:03d}"
        number = body + ric.calc_check_digit(body + "0")
        rows[f"{n:05d}"] = {"姓名": _name(n), "公民身份号码": number} if n % 10 else {"姓名": "x"}
    return rows


def _name(n: int) -> str:
    surnames, given = "王李张刘陈杨黄赵吴周", "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平"
    return surnames[n % 10] + given[n % 20] + given[n // 20 % 20]


def _state(factory: sessionmaker[Session]) -> tuple[Any, ...]:
    with factory() as session:
        return (
            sorted(tuple(row) for row in session.execute(select(CleanRecord.source_key, CleanRecord.data))),
            sorted(
                tuple(row)
                for row in session.execute(select(GovernanceReject.source_key, GovernanceReject.reason))
            ),
            sorted(
                tuple(row)
                for row in session.execute(select(BaseClaim.key, BaseClaim.source_key, BaseClaim.data))
            ),
            sorted(
                tuple(row)
                for row in session.execute(select(BaseRecord.key, BaseRecord.data, BaseRecord.version))
            ),
        )


@pytest.mark.parametrize("failing", ["write", "compute"])
def test_pages_computed_while_the_last_is_written_leave_one_page_s_state_or_nothing(
    factory: sessionmaker[Session],
    settings: Settings,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    failing: str,
) -> None:
    """A pass computes a page while another thread writes the one before: in many small pages it leaves
    what one page leaves; a write failing on a later page, or a page failing to compute while the one
    before is being written, fails the pass with nothing of it kept."""
    from zhongtai.governance import paging, pipeline

    resource, job_code = person_source(factory, settings, "GAJ", "GAJ-RK", priority=1)
    batch = raw_batch(factory, job_code, _persons(60))
    assert run_pass(factory, resource, run_id=batch).status is PassStatus.SUCCEEDED
    one_page = _state(factory)
    assert len(one_page[0]) == 54 and len(one_page[1]) == 6 and len(one_page[3]) == 54

    with transaction(factory) as session:  # the same rows again, from nothing, in pages of 7 rows
        for table in (BaseRecord, BaseClaim, CleanRecord, GovernanceReject, BaseHistory):
            session.execute(delete(table))
    monkeypatch.setattr(pipeline, "PAGE", 7)
    assert run_pass(factory, resource, run_id=batch).status is PassStatus.SUCCEEDED
    assert _state(factory) == one_page

    with transaction(factory) as session:
        for table in (BaseRecord, BaseClaim, CleanRecord, GovernanceReject, BaseHistory):
            session.execute(delete(table))
    calls = {"n": 0}
    target, name = (paging, "store") if failing == "write" else (pipeline, "apply_page")
    original = getattr(target, name)

    def third_fails(*args: Any, **options: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full")
        return original(*args, **options)

    monkeypatch.setattr(target, name, third_fails)
    outcome = run_pass(factory, resource, run_id=batch)
    assert outcome.status is PassStatus.FAILED and "disk full" in (outcome.error or "")
    assert _state(factory) == ([], [], [], [])
