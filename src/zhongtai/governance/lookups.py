"""Point lookups on the base databases: the one interface sharing and the gateway call.

``BaseLookup.get(base, key)`` standardizes the key the way the base database stores it (so a lowercase
x, a 15-digit number or full-width digits still find the person), reads one row by primary key on both
backends, and returns the fused values with their provenance. It checks no permission: callers hold the
grant logic (sharing, gateway) and must apply it before calling.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from zhongtai.core.types import aware
from zhongtai.governance.elements import Rejected
from zhongtai.governance.fusion import KEY_STANDARD
from zhongtai.governance.models import BaseKind
from zhongtai.governance.repository import GovernanceRepository


@dataclass(frozen=True)
class BaseView:
    base: BaseKind
    key: str
    data: dict[str, Any]
    provenance: dict[str, Any]


class BaseLookup:
    def __init__(self, session: Session) -> None:
        self.repo = GovernanceRepository(session)

    def get(self, base: BaseKind, key: str) -> BaseView | None:
        """The current record for ``key``, or None when there is none (or the key cannot be one)."""
        canonical = standard_key(base, key)
        if canonical is None:
            return None
        found = self.repo.lookup(base, canonical)
        if found is None:
            return None
        return BaseView(base, canonical, json.loads(found[0]), json.loads(found[1]))

    def as_of(self, base: BaseKind, key: str, moment: datetime) -> BaseView | None:
        """What the record said at ``moment`` (None if it did not exist yet); no zone means city time."""
        moment = aware(moment)
        canonical = standard_key(base, key)
        if canonical is None:
            return None
        record = self.repo.record(base, canonical)
        if record is not None and record.valid_from <= moment:
            return BaseView(base, canonical, record.data, record.provenance)
        old = self.repo.version_at(base, canonical, moment)
        return None if old is None else BaseView(base, canonical, old.data, old.provenance)

    def page(self, base: BaseKind, after: str, limit: int) -> list[BaseView]:
        """The base's records after key ``after``, in key order (for a job walking a whole base)."""
        return [
            BaseView(base, r.key, r.data, r.provenance) for r in self.repo.records_after(base, after, limit)
        ]

    def person(self, id_number: str) -> BaseView | None:
        return self.get(BaseKind.PERSON, id_number)

    def entity(self, credit_code: str) -> BaseView | None:
        return self.get(BaseKind.ENTITY, credit_code)

    def license(self, number: str) -> BaseView | None:
        return self.get(BaseKind.LICENSE, number)


# Keys already in the form the base stores them skip the standardizer: a canonical-looking key that is
# not a valid one is simply not in the base, so the answer is the same (and lookups stay cheap).
CANONICAL = {
    BaseKind.PERSON: re.compile(r"[1-9][0-9]{16}[0-9X]"),
    BaseKind.ENTITY: re.compile(r"[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}"),
}


def standard_key(base: BaseKind, key: str) -> str | None:
    if len(key) > 200:
        return None
    canonical = CANONICAL.get(base)
    if canonical is not None and canonical.fullmatch(key):
        return key
    try:
        return KEY_STANDARD[base](key)
    except Rejected:
        return None
