"""The gate-scan path's caches and group commit: scans from many threads at once are all recorded, each
with its audit entry, and the audit chain still verifies; a withdrawn gate is refused at once (the cache
follows the gates' fingerprint); a failed commit answers no scan (fail closed)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from zhongtai.core.audit import AuditEvent
from zhongtai.core.audit_integrity import verify
from zhongtai.core.database import transaction
from zhongtai.core.errors import NotFound, Unavailable
from zhongtai.core.principal import SYSTEM
from zhongtai.core.settings import Settings
from zhongtai.core.types import utcnow
from zhongtai.healthcode import places, service
from zhongtai.healthcode.gatepath import GatePath
from zhongtai.healthcode.models import Gate, Passage
from zhongtai.public import service as public
from zhongtai.public.service import Person

NUMBER = "34010419900101001X"


def _gate_and_code(factory: sessionmaker[Session], settings: Settings) -> tuple[str, str]:
    with transaction(factory) as session:
        owner = public.enrol(session, settings, (NUMBER, "王小明", "13800001111"), utcnow())
        data = places.PlaceApplication(
            "幸福小区南门", "residential", "蜀山区幸福路 1 号", "稻香村街道", "SSQ"
        )
        place = places.apply(session, owner.id, data, utcnow())
        places.decide(session, settings, SYSTEM, place.id, True, "", utcnow())
        _, token = places.add_gate(session, place, "南门")
        code = service.show_person_code(
            session, settings, Person(owner.subject, "王小明", NUMBER), "t", utcnow()
        )
    return token, code.text


def test_concurrent_scans_are_all_recorded_and_the_chain_verifies(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    token, code = _gate_and_code(factory, settings)
    path = GatePath(factory.kw["bind"], settings)
    given = places.check_scan({"code": code})
    answers: list[str] = []

    def scanner() -> None:
        for _ in range(10):
            answers.append(path.scan(token, given, utcnow())[1]["decision"])

    threads = [threading.Thread(target=scanner) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == ["pass"] * 60
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Passage)) == 60
        scanned = (
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.event_type == "healthcode.gate.scanned")
        )
        assert session.scalar(scanned) == 60
        assert verify(session, settings).ok


def test_a_withdrawn_gate_is_refused_at_once(factory: sessionmaker[Session], settings: Settings) -> None:
    token, code = _gate_and_code(factory, settings)
    path = GatePath(factory.kw["bind"], settings)
    given = places.check_scan({"code": code})
    assert path.scan(token, given, utcnow())[1]["valid"]
    with transaction(factory) as session:
        session.execute(update(Gate).values(revoked_at=utcnow()))
    with pytest.raises(NotFound):
        path.scan(token, given, utcnow())


def test_a_failed_commit_answers_no_scan(factory: sessionmaker[Session], settings: Settings) -> None:
    token, code = _gate_and_code(factory, settings)
    path = GatePath(factory.kw["bind"], settings)

    def broken(_: object) -> None:
        raise RuntimeError("disk full")

    path._write = broken  # type: ignore[method-assign]
    with pytest.raises(Unavailable):
        path.scan(token, places.check_scan({"code": code}), utcnow())
