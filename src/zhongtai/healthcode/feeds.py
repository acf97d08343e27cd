"""Evidence reaching the health code through the platform's own exchange: the health-code app (an app of
the health commission) pages through the commission's governed test results with its list capability
(``wjw.test-results``, filtered to positives), signed like any app's call, and each new positive becomes a
red reason on that person's code — recomputed at once. Resumable and idempotent: the list's cursor and the
evidence are written in one transaction, and a result already recorded is not recorded twice."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
from sqlalchemy.orm import Session, sessionmaker

from zhongtai.core.database import transaction
from zhongtai.core.errors import M_, Unavailable
from zhongtai.core.pseudonym import person_subject
from zhongtai.core.settings import Settings
from zhongtai.core.types import CITY_ZONE, utcnow
from zhongtai.gateway.client import GatewaySigner
from zhongtai.healthcode import colouring
from zhongtai.healthcode.repository import HealthCodeRepository
from zhongtai.healthcode.rules import Evidence, Fact
from zhongtai.public.identity import AppKey

log = logging.getLogger("zhongtai.healthcode.feeds")

RESULTS = "wjw.test-results"
POSITIVE = "阳性"
ID_ITEM, TAKEN_ITEM, SAMPLE_ITEM, RESULT_ITEM = "公民身份号码", "采样时间", "样本编号", "检测结果"
DEPARTMENT = "WJW"


def _positive(record: dict[str, object], settings: Settings) -> tuple[str, Evidence] | None:
    number, taken = record.get(ID_ITEM), record.get(TAKEN_ITEM)
    if record.get(RESULT_ITEM) != POSITIVE or not isinstance(number, str) or not isinstance(taken, str):
        return None
    try:
        moment = datetime.fromisoformat(taken.strip().replace("/", "-"))
    except ValueError:
        return None  # an unreadable time is not evidence (governance reports it at the source)
    at = (moment if moment.tzinfo else moment.replace(tzinfo=CITY_ZONE)).astimezone(UTC)  # the lab's clock
    sample = str(record.get(SAMPLE_ITEM) or f"{number[-4:]}@{taken}")
    return person_subject(settings, number), Evidence(Fact.POSITIVE_TEST, at, DEPARTMENT, sample)


def pull_results(
    factory: sessionmaker[Session],
    settings: Settings,
    client: httpx.Client,
    page_size: int = 100,
    clock: Callable[[], datetime] = utcnow,
) -> int:
    """Pull new positive results; returns how many became evidence."""
    key = AppKey.read(settings)
    signer = GatewaySigner(key.key_id, key.purpose, secret=key.secret)
    added = 0
    while True:
        with transaction(factory) as session:
            repo = HealthCodeRepository(session)
            after = repo.feed_position(RESULTS)
            params: dict[str, str | int] = {RESULT_ITEM: POSITIVE, "page_size": page_size}
            if after:
                params["after"] = after
            body = _page(client, signer, params)
            records = body.get("records")
            rows = [r for r in records if isinstance(r, dict)] if isinstance(records, list) else []
            found = [f for f in (_positive(r, settings) for r in rows) if f]
            fresh = _unrecorded(session, found)
            if fresh:
                colouring.record_evidence(session, fresh)
                colouring.recompute(session, clock(), [subject for subject, _ in fresh])
            if body.get("next"):
                repo.set_feed_position(RESULTS, str(body["next"]), clock())
            added += len(fresh)
        if not body.get("has_more"):
            return added


def _page(client: httpx.Client, signer: GatewaySigner, params: dict[str, str | int]) -> dict[str, object]:
    try:
        answer = client.get(f"/gw/{RESULTS}", params=params, auth=signer)
    except httpx.HTTPError as exc:
        raise Unavailable(
            M_("the test results feed is unreachable (%(detail)s)", detail=type(exc).__name__)
        ) from None
    if answer.status_code != 200:
        log.warning("test results feed refused", extra={"status": answer.status_code})
        raise Unavailable(
            M_("the test results feed answered %(status)s", status=answer.status_code), code="feed_refused"
        )
    body: dict[str, object] = answer.json()
    return body


def _unrecorded(session: Session, found: list[tuple[str, Evidence]]) -> list[tuple[str, Evidence]]:
    repo, subjects = HealthCodeRepository(session), [subject for subject, _ in found]
    known = repo.recorded(subjects, Fact.POSITIVE_TEST.value) | repo.withdrawn(
        subjects
    )  # corrected: never again
    fresh, seen = [], set(known)
    for subject, evidence in found:
        if (subject, evidence.record) not in seen:
            seen.add((subject, evidence.record))
            fresh.append((subject, evidence))
    return fresh
