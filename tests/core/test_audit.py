"""The audit trail is tamper-evident: every edit, deletion, reordering, truncation, or rewrite of the
tail with a re-computed chain is found by verification, which names the first bad entry."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from zhongtai.core import audit
from zhongtai.core.audit import ACCESS, ADMIN, AuditChainHead, AuditEvent, hash_of
from zhongtai.core.audit_integrity import CHECKPOINTS, checkpoint, purge, verify
from zhongtai.core.database import transaction
from zhongtai.core.principal import SYSTEM
from zhongtai.core.settings import Settings
from zhongtai.core.types import utcnow

ENTRIES = 12


def fill(factory: sessionmaker[Session], count: int = ENTRIES) -> None:
    for n in range(count):
        with transaction(factory) as session:
            audit.record(session, SYSTEM, "test.change", "thing", str(n), {"n": n, "名": "值"})
            audit.record_access(
                session,
                actor_username="u",
                department_code="WJW",
                event_type="test.read",
                resource_code="R1",
                items=["姓名"],
                record_count=n,
                purpose="测试",
                grant_id=1,
            )


def test_a_committed_change_is_chained_and_a_rolled_back_one_leaves_nothing(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    fill(factory, 3)
    with pytest.raises(RuntimeError), transaction(factory) as session:
        audit.record(session, SYSTEM, "test.change", "thing", "lost")
        raise RuntimeError("rolled back")
    with factory() as session:
        report = verify(session, settings)
        assert report.ok and report.checked == {ADMIN: 3, ACCESS: 3}
        assert session.scalar(select(AuditEvent).where(AuditEvent.target_id == "lost")) is None


def _rows(session: Session, chain: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.chain == chain).order_by(AuditEvent.seq)))


def flip(session: Session, entry: AuditEvent) -> None:
    session.execute(
        update(AuditEvent).where(AuditEvent.id == entry.id).values(target_id=entry.target_id + "x")
    )


def drop(session: Session, entry: AuditEvent) -> None:
    session.execute(delete(AuditEvent).where(AuditEvent.id == entry.id))


def swap(session: Session, entry: AuditEvent) -> None:
    """Reorder: the entry and the one after it trade places in the sequence."""
    other = session.scalar(
        select(AuditEvent).where(AuditEvent.chain == entry.chain, AuditEvent.seq == entry.seq + 1)
    )
    if other is None:
        other = session.scalar(
            select(AuditEvent).where(AuditEvent.chain == entry.chain, AuditEvent.seq == entry.seq - 1)
        )
    assert other is not None
    a, b = entry.seq, other.seq
    session.execute(update(AuditEvent).where(AuditEvent.id == entry.id).values(seq=-1))
    session.execute(update(AuditEvent).where(AuditEvent.id == other.id).values(seq=a))
    session.execute(update(AuditEvent).where(AuditEvent.id == entry.id).values(seq=b))


def truncate(session: Session, entry: AuditEvent) -> None:
    session.execute(delete(AuditEvent).where(AuditEvent.chain == entry.chain, AuditEvent.seq >= entry.seq))


def truncate_and_fix_head(session: Session, entry: AuditEvent) -> None:
    """Cut the tail and move the head back too: only the signed checkpoint remembers."""
    truncate(session, entry)
    before = session.scalar(
        select(AuditEvent).where(AuditEvent.chain == entry.chain, AuditEvent.seq == entry.seq - 1)
    )
    seq, digest = (before.seq, before.hash) if before else (0, audit.GENESIS)
    session.execute(
        update(AuditChainHead).where(AuditChainHead.chain == entry.chain).values(seq=seq, hash=digest)
    )


def rewrite_tail(session: Session, entry: AuditEvent) -> None:
    """Edit an entry and re-chain everything after it, head included: a careful forger's work."""
    rows = [r for r in _rows(session, entry.chain) if r.seq >= entry.seq]
    previous = rows[0].prev_hash
    for row in rows:
        if row.id == entry.id:
            row.outcome = "failure" if row.outcome == "success" else "success"
        row.prev_hash = previous
        row.hash = hash_of(row)
        previous = row.hash
    session.execute(
        update(AuditChainHead)
        .where(AuditChainHead.chain == entry.chain)
        .values(seq=rows[-1].seq, hash=previous)
    )
    session.flush()


MUTATIONS = [flip, drop, swap, truncate, truncate_and_fix_head, rewrite_tail]


@hsettings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    mutation=st.sampled_from(MUTATIONS),
    chain=st.sampled_from([ADMIN, ACCESS]),
    position=st.integers(min_value=1, max_value=ENTRIES),
)
def test_every_mutation_of_the_trail_is_detected(
    factory: sessionmaker[Session], settings: Settings, mutation: object, chain: str, position: int
) -> None:
    _fresh_trail(factory, settings)
    with factory() as session:
        entry = session.scalar(
            select(AuditEvent).where(AuditEvent.chain == chain, AuditEvent.seq == position)
        )
        assert entry is not None
        mutation(session, entry)  # type: ignore[operator]
        session.commit()
    with factory() as session:
        report = verify(session, settings)
    assert not report.ok, f"{mutation} at {chain} {position} went unnoticed"
    assert report.first_bad is not None and report.first_bad.chain == chain
    assert report.first_bad.seq is not None  # the first entry the verifier can prove bad
    if mutation is not rewrite_tail:  # a re-chained tail is caught at the next signed checkpoint
        assert report.first_bad.seq <= position + 1


def _fresh_trail(factory: sessionmaker[Session], settings: Settings) -> None:
    """Empty chains, then ENTRIES entries in each, checkpointed (hypothesis reuses the database)."""
    with transaction(factory) as session:
        session.execute(delete(AuditEvent))
        session.execute(
            update(AuditChainHead).values(seq=0, hash=audit.GENESIS, anchor_seq=0, anchor_hash=audit.GENESIS)
        )
    (settings.resolved_audit_dir / CHECKPOINTS).unlink(missing_ok=True)
    fill(factory)
    with factory() as session:
        assert verify(session, settings).ok
        checkpoint(session, settings)


def test_a_forged_checkpoint_is_detected(factory: sessionmaker[Session], settings: Settings) -> None:
    fill(factory, 2)
    with factory() as session:
        checkpoint(session, settings)
    path: Path = settings.resolved_audit_dir / CHECKPOINTS
    line = json.loads(path.read_text().splitlines()[0])
    line["seq"] = 1
    path.write_text(json.dumps(line) + "\n")
    with factory() as session:
        report = verify(session, settings)
    assert report.first_bad is not None and "signature" in report.first_bad.problem


def test_purge_removes_only_an_old_checkpointed_prefix_and_the_chain_stays_verifiable(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    fill(factory, 2)
    with factory() as session:
        checkpoint(session, settings)  # access chain checkpointed at seq 2
    fill(factory, 2)
    with transaction(factory) as session:
        assert purge(session, settings) == {ACCESS: 0, ADMIN: 0}  # nothing is old enough today
    later = utcnow() + timedelta(days=400)  # a year on, every access entry is past six months
    with transaction(factory) as session:
        assert purge(session, settings, later) == {ACCESS: 2, ADMIN: 0}  # up to the checkpoint only
    with factory() as session:
        assert [e.seq for e in _rows(session, ACCESS)] == [3, 4]
        assert len(_rows(session, ADMIN)) == 5  # changes are kept three years; the purge is recorded
        report = verify(session, settings)
        assert report.ok, report.first_bad


def test_concurrent_writers_never_break_or_fail_the_chain(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    """Reads that end with an access entry, from several threads at once (the dispatcher and web
    requests on one SQLite file, or several app processes on PostgreSQL)."""
    import threading

    failures: list[BaseException] = []

    def reader(worker: int) -> None:
        for n in range(25):
            try:
                with transaction(factory) as session:
                    session.execute(text("SELECT count(*) FROM departments")).scalar()
                    audit.record_access(
                        session,
                        actor_username=f"w{worker}",
                        department_code="WJW",
                        event_type="test.read",
                        resource_code="R1",
                        items=[],
                        record_count=n,
                        purpose="测试",
                        grant_id=None,
                    )
            except BaseException as exc:
                failures.append(exc)

    import sys

    threads = [threading.Thread(target=reader, args=(w,)) for w in range(4)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: interleave every step
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert failures == []
    with factory() as session:
        report = verify(session, settings)
        assert report.ok and report.checked[ACCESS] == 100, report.first_bad
