"""Fusion (数据融合): clean rows from several departments become one base record per key.

Each contributing source's latest values for a key are kept as its *claim*. A base record takes, for
each attribute, the value of the source with the best priority for that attribute (一数一源; among equal
priorities the most recent), and remembers where each value came from. Sources that disagree open a
conflict for the departments involved; nothing is overwritten silently. When a record's values change,
the version it replaces goes to the history with the period it was current.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from zhongtai.core.bulk import as_json
from zhongtai.governance.elements import KINDS, Rejected
from zhongtai.governance.models import BaseKind, BaseSource, Conflict
from zhongtai.governance.repository import ClaimRow, GovernanceRepository, RecordState
from zhongtai.governance.rules import Kept, missing

# The data element kind of each base database's key, and its standardizer.
KEY_KIND = {
    BaseKind.PERSON: "id_number",
    BaseKind.ENTITY: "credit_code",
    BaseKind.LICENSE: "text",
    BaseKind.ADDRESS: "address",
}
KEY_STANDARD = {base: KINDS[kind] for base, kind in KEY_KIND.items()}

# The attributes each base database knows, in display order.
ATTRIBUTES: dict[BaseKind, list[str]] = {
    BaseKind.PERSON: [
        "name",
        "gender",
        "birth_date",
        "ethnicity",
        "address",
        "division_code",
        "phone",
        "household",  # 户号: who lives in one household (family members are proven by it)
        "industry",  # 所属行业 of the employer social insurance records (risk-crowd profiles)
    ],
    BaseKind.ENTITY: [
        "name",
        "legal_representative",
        "type",
        "capital",
        "founded_on",
        "address",
        "scope",
        "registered_by",
        "legal_representative_id",  # with phone: how an enterprise's representative signs in
        "phone",
    ],
    BaseKind.LICENSE: [
        "type",
        "holder",
        "holder_id",
        "issuer",
        "issued_on",
        "valid_from",
        "valid_to",
        "subject",
    ],
    BaseKind.ADDRESS: ["address", "division_code", "longitude", "latitude"],
}


@dataclass(frozen=True)
class SourceSpec:
    id: int
    base: BaseKind
    key_item: str
    attributes: dict[str, str]
    constants: dict[str, str]
    priority: int
    priorities: dict[str, int]
    department: str

    @classmethod
    def of(cls, source: BaseSource, department: str) -> SourceSpec:
        return cls(
            source.id,
            source.base,
            source.key_item,
            dict(source.attributes),
            dict(source.constants),
            source.priority,
            dict(source.priorities),
            department,
        )

    def rank(self, attribute: str) -> int:
        return self.priorities.get(attribute, self.priority)


@dataclass
class FusionStats:
    unlinked: int = 0  # clean rows whose key is missing or not a valid key
    claims: int = 0
    records_written: int = 0
    conflicts_opened: int = 0
    keys: dict[BaseKind, set[str]] = field(default_factory=dict)  # base records to fuse again

    def add(self, touched: Iterable[tuple[str, str]]) -> None:
        for base, key in touched:
            self.keys.setdefault(BaseKind(base), set()).add(key)


def claim_rows(
    spec: SourceSpec, kept: Iterable[Kept], moment: datetime, stats: FusionStats, trusted: bool = False
) -> list[tuple[Any, ...]]:
    """This source's claims from a chunk of clean rows: its latest row per key wins. ``trusted``: the
    rules already standardized the key item to the base's key form, so it is taken as it is."""
    standard = KEY_STANDARD[spec.base]
    claims: dict[str, tuple[Any, ...]] = {}
    pairs = list(spec.attributes.items())
    for row in kept:
        data = row.data
        raw_key = data.get(spec.key_item)
        if missing(raw_key):
            stats.unlinked += 1
            continue
        if trusted:
            key = str(raw_key)
        else:
            try:
                key = standard(str(raw_key))
            except Rejected:
                stats.unlinked += 1
                continue
        values = {a: data[i] for a, i in pairs if not missing(data.get(i))}
        values.update(spec.constants)
        claims[key] = (
            spec.base.value,
            key,
            spec.id,
            row.row.job_id,
            row.row.source_key,
            as_json(values),
            row.row.batch_id,
            moment,
        )
    stats.claims += len(claims)
    stats.keys.setdefault(spec.base, set()).update(claims)
    return list(claims.values())


class Fuser:
    """Recomputes base records from their claims."""

    def __init__(self, repo: GovernanceRepository, specs: dict[int, SourceSpec], moment: datetime) -> None:
        self.repo = repo
        self.specs = specs
        self.moment = moment

    def fuse(self, base: BaseKind, keys: list[str], stats: FusionStats) -> None:
        for start in range(0, len(keys), 20_000):
            self._fuse_chunk(base, keys[start : start + 20_000], stats)

    def _fuse_chunk(self, base: BaseKind, keys: list[str], stats: FusionStats) -> None:
        claims = self.repo.claims(base, keys)
        current = self.repo.record_states(base, keys)
        conflicts = self.repo.conflicts_for(base, keys)
        records: list[tuple[Any, ...]] = []
        history: list[dict[str, Any]] = []
        new_conflicts: list[dict[str, Any]] = []
        for key in keys:
            before = current.get(key)
            said = [
                claim for claim in claims.get(key, []) if claim.source_id in self.specs
            ]  # disabled: silent
            if not said:  # every source withdrew: the record ends, its last version kept
                self._track_conflicts(base, key, {}, conflicts, new_conflicts)
                if before is not None:
                    history.append(_superseded(base, key, before, self.moment))
                    self.repo.drop_record(base, key)
                continue
            data, provenance, disputes = self._resolve(said)
            self._track_conflicts(base, key, disputes, conflicts, new_conflicts)
            sources = as_json(provenance)
            if before is not None and before.data == data:
                if before.provenance_json != sources:  # same values, fresher sources: no new version
                    records.append(_record(base, key, data, sources, before.version, before.valid_from))
                continue
            if before is not None:
                history.append(_superseded(base, key, before, self.moment))
            version = before.version + 1 if before is not None else 1
            records.append(_record(base, key, data, sources, version, self.moment))
            stats.records_written += 1
        self.repo.write_history(history)
        self.repo.write_records(records)
        self.repo.add_conflicts(new_conflicts)
        stats.conflicts_opened += len(new_conflicts)

    def _resolve(
        self, claims: list[ClaimRow]
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, list[dict[str, Any]]]]:
        """Each attribute's value from the best source; ``claims`` are those of enabled sources only."""
        if len(claims) == 1:  # one source: its values, nothing to weigh or dispute
            origin = self._origin(claims[0])
            return dict(claims[0].data), dict.fromkeys(claims[0].data, origin), {}
        best: dict[str, tuple[tuple[int, float, int], ClaimRow, Any]] = {}
        seen: dict[str, set[str]] = {}  # attribute -> distinct values said
        for claim in claims:
            spec = self.specs[claim.source_id]
            recency = -claim.observed_at.timestamp()
            for attribute, value in claim.data.items():
                order = (spec.rank(attribute), recency, claim.source_id)
                if attribute not in best or order < best[attribute][0]:
                    best[attribute] = (order, claim, value)
                seen.setdefault(attribute, set()).add(str(value))
        data = {attribute: value for attribute, (_, _, value) in best.items()}
        origins = {id(claim): self._origin(claim) for claim in claims}
        provenance = {attribute: origins[id(claim)] for attribute, (_, claim, _) in best.items()}
        disputed = [attribute for attribute, values in seen.items() if len(values) > 1]
        disputes = {attribute: self._voices(claims, attribute) for attribute in disputed}
        return data, provenance, disputes

    def _origin(self, claim: ClaimRow) -> dict[str, Any]:
        return {
            "source": claim.source_id,
            "department": self.specs[claim.source_id].department,
            "batch": claim.batch_id,
            "at": claim.observed_at.isoformat(),
        }

    def _voices(self, claims: list[ClaimRow], attribute: str) -> list[dict[str, Any]]:
        """Who said what about a disputed attribute (only worked out when sources disagree)."""
        return [
            {**self._origin(claim), "value": claim.data[attribute]}
            for claim in claims
            if claim.source_id in self.specs and attribute in claim.data
        ]

    def _track_conflicts(
        self,
        base: BaseKind,
        key: str,
        disputes: dict[str, list[dict[str, Any]]],
        known: dict[tuple[str, str], Conflict],
        new: list[dict[str, Any]],
    ) -> None:
        for attribute, voices in disputes.items():
            conflict = known.get((key, attribute))
            departments = "," + ",".join(sorted({v["department"] for v in voices})) + ","
            if conflict is None:
                new.append(
                    {
                        "base": base.value,
                        "key": key,
                        "attribute": attribute,
                        "claims": voices,
                        "departments": departments,
                        "open": True,
                        "opened_at": self.moment,
                        "resolved_at": None,
                    }
                )
            elif conflict.claims != voices or not conflict.open:
                conflict.claims, conflict.departments = voices, departments
                conflict.open, conflict.resolved_at = True, None
        for (conflict_key, attribute), conflict in known.items():
            if conflict_key == key and conflict.open and attribute not in disputes:
                conflict.open, conflict.resolved_at = False, self.moment  # the sources agree again


def _record(
    base: BaseKind, key: str, data: dict[str, Any], provenance_json: str | None, version: int, since: datetime
) -> tuple[Any, ...]:
    return (base.value, key, as_json(data), provenance_json, version, since)


def _superseded(base: BaseKind, key: str, state: RecordState, until: datetime) -> dict[str, Any]:
    return {
        "base": base.value,
        "key": key,
        "version": state.version,
        "data": state.data,
        "provenance": state.provenance,
        "valid_from": state.valid_from,
        "valid_to": until,
    }
