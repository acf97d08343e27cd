"""Fusion (数据融合): clean rows from several departments become one base record per key.

Each contributing source's latest values for a key are kept as its *claim*. A base record takes, for
each attribute, the value of the source with the best priority for that attribute (一数一源; among equal
priorities the most recent), and remembers where each value came from. Sources that disagree open a
conflict for the departments involved; nothing is overwritten silently. When a record's values change,
the version it replaces goes to the history with the period it was current.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

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


def source_items(specs: dict[int, SourceSpec]) -> list[str]:
    """The items base sources read, in a stable order."""
    return list(
        dict.fromkeys(i for spec in specs.values() for i in [spec.key_item, *spec.attributes.values()])
    )


# Claims a pass keeps in memory for its fusion (the pass wrote them, so reading them back is waste); a
# bigger pass forgets them and fusion reads them back (memory stays bounded at ~0.5 GB).
REMEMBERED_CLAIMS = 1_000_000


class TouchedKeys(Protocol):
    """What a page written elsewhere reports for fusion."""

    @property
    def keys(self) -> dict[BaseKind, list[str]]: ...
    @property
    def claims(self) -> int: ...
    @property
    def unlinked(self) -> int: ...


@dataclass
class FusionStats:
    unlinked: int = 0  # clean rows whose key is missing or not a valid key
    claims: int = 0
    records_written: int = 0
    conflicts_opened: int = 0
    keys: dict[BaseKind, set[str]] = field(default_factory=dict)  # base records to fuse again
    # the pass's own sources per base, and the claims they made in it: base -> key -> source -> claim
    own_sources: dict[BaseKind, set[int]] = field(default_factory=dict)
    own: dict[BaseKind, dict[str, dict[int, ClaimRow]]] = field(default_factory=dict)
    remembering: bool = True
    # the last page's claims (``claimed``): on keys new to the pass, and on keys it touched before
    new_claims: list[tuple[Any, ...]] = field(default_factory=list)
    repeated_claims: list[tuple[Any, ...]] = field(default_factory=list)

    def claimed(self, base: BaseKind, claims: list[tuple[Any, ...]]) -> None:
        """A page's claims (in key order) touch their keys; ``new_claims`` are those on keys the pass had
        not touched before (a pass inserts them where its source had no claim when it began)."""
        touched = self.keys.setdefault(base, set())
        self.new_claims, self.repeated_claims = [], []
        for claim in claims:
            (self.repeated_claims if claim[1] in touched else self.new_claims).append(claim)
        touched.update(claim[1] for claim in self.new_claims)

    def add(self, touched: Iterable[tuple[str, str]]) -> None:
        for base, key in touched:
            self.keys.setdefault(BaseKind(base), set()).add(key)

    def absorb(self, page: TouchedKeys) -> None:
        """A page written by a worker (``partitions.PageStats``): the keys it touched, its figures."""
        for base, keys in page.keys.items():
            self.keys.setdefault(base, set()).update(keys)
        self.claims += page.claims
        self.unlinked += page.unlinked

    def remember(self, spec: SourceSpec, claims: dict[str, ClaimRow]) -> None:
        """The claims just written by ``spec``; later pages overwrite earlier ones, as the upsert does."""
        self.own_sources.setdefault(spec.base, set()).add(spec.id)
        if not self.remembering:
            return
        if self.claims > REMEMBERED_CLAIMS:
            self.remembering, self.own = False, {}
            return
        own = self.own.setdefault(spec.base, {})
        for key, claim in claims.items():
            own.setdefault(key, {})[spec.id] = claim


def claim_rows(
    spec: SourceSpec, kept: Iterable[Kept], moment: datetime, stats: FusionStats, trusted: bool = False
) -> list[tuple[Any, ...]]:
    """This source's claims from a chunk of clean rows: its latest row per key wins. ``trusted``: the
    rules already standardized the key item to the base's key form, so it is taken as it is."""
    items = list(spec.attributes.values())
    said = (
        (
            row.data.get(spec.key_item),
            row.row.job_id,
            row.row.source_key,
            row.row.batch_id,
            [row.data.get(item) for item in items],
        )
        for row in kept
    )
    return claims_of(spec, said, moment, stats, trusted)


Said = tuple[Any, int, str, int, list[Any]]  # (key value, job id, source key, batch id, attribute values)


def claims_of(
    spec: SourceSpec, rows: Iterable[Said], moment: datetime, stats: FusionStats, trusted: bool = False
) -> list[tuple[Any, ...]]:
    """``claim_rows`` for rows given as their key value and their attribute items' values (in the order
    of ``spec.attributes``)."""
    standard = KEY_STANDARD[spec.base]
    claims: dict[str, tuple[Any, ...]] = {}
    remembered: dict[str, ClaimRow] = {}
    attributes = list(spec.attributes)
    for raw_key, job_id, source_key, batch_id, said in rows:
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
        values = {a: v for a, v in zip(attributes, said, strict=True) if not missing(v)}
        values.update(spec.constants)
        text = as_json(values)
        claims[key] = (spec.base.value, key, spec.id, job_id, source_key, text, batch_id, moment)
        remembered[key] = ClaimRow(spec.id, values, batch_id, moment, text)
    stats.claims += len(claims)
    ordered = sorted(claims.values(), key=_by_key)  # in key order: the claims' index takes them in sequence
    stats.claimed(spec.base, ordered)
    stats.remember(spec, remembered)
    return ordered


def _by_key(claim: tuple[Any, ...]) -> str:
    return str(claim[1])


def fuse_keys(repo: GovernanceRepository, stats: FusionStats, moment: datetime) -> None:
    """Fuse the base records of ``stats.keys`` again, in the caller's transaction (which holds the
    fusion lock: ``repository.prepare_fusion``)."""
    labels = repo.source_labels()
    specs = {s.id: SourceSpec.of(s, labels[s.id][0]) for s in repo.base_sources()}
    fuser = Fuser(repo, specs, moment)
    for base, keys in stats.keys.items():
        fuser.fuse(base, sorted(keys), stats)


def bucket_of(key: str, buckets: int) -> int:
    """The fusion bucket of a key: stable across processes and runs (Python's ``hash`` of text is not)."""
    return zlib.crc32(key.encode()) % buckets


class Fuser:
    """Recomputes base records from their claims."""

    def __init__(self, repo: GovernanceRepository, specs: dict[int, SourceSpec], moment: datetime) -> None:
        self.repo = repo
        self.specs = specs
        self.moment = moment
        self._provenance: dict[tuple[Any, ...], str | None] = {}  # one source's provenance, as JSON
        self._origins: dict[tuple[int, int, datetime], dict[str, Any]] = {}  # never changed once made
        self._plans: dict[tuple[Any, ...], _Plan] = {}  # claims' shape -> how they resolve

    def fuse(self, base: BaseKind, keys: list[str], stats: FusionStats) -> None:
        own_sources = sorted(stats.own_sources.get(base, set()))
        # Reads a first load does not need: nobody else's claims, no records, no conflicts yet.
        others = self.repo.has_claims(base, except_sources=own_sources)
        records = self.repo.has_records(base)
        conflicts = self.repo.has_conflicts(base)
        for start in range(0, len(keys), 20_000):
            chunk = keys[start : start + 20_000]
            claims = self._claims(base, chunk, stats, own_sources, others)
            current = self.repo.record_states(base, chunk) if records else {}
            known = self.repo.conflicts_for(base, chunk) if conflicts else {}
            # no record of the base at all (under the fusion lock): this chunk's records are inserted
            self._fuse_chunk(base, chunk, stats, claims, current, known, new=not records)

    def _claims(
        self, base: BaseKind, keys: list[str], stats: FusionStats, own_sources: list[int], others: bool
    ) -> dict[str, list[ClaimRow]]:
        """Each key's claims, in source order: the pass's own from memory where it has them all, the
        other sources' (and any the pass does not remember) read in bulk."""
        own = stats.own.get(base, {}) if stats.remembering else {}
        complete = len(own_sources)
        remembered = [key for key in keys if len(own.get(key, ())) == complete] if own else []
        forgotten = [key for key in keys if len(own.get(key, ())) != complete] if own else keys
        found = self.repo.claims(base, forgotten) if forgotten else {}
        if remembered and others:
            found.update(self.repo.claims(base, remembered, except_sources=own_sources))
        for key in remembered:
            said = {claim.source_id: claim for claim in found.get(key, ())}
            said.update(own[key])
            found[key] = [said[source] for source in sorted(said)]
        for key in forgotten:  # in source order too: a record's attributes come out in one order
            claims = found.get(key)
            if claims is not None and len(claims) > 1:
                claims.sort(key=lambda claim: claim.source_id)
        return found

    def _fuse_chunk(
        self,
        base: BaseKind,
        keys: list[str],
        stats: FusionStats,
        claims: dict[str, list[ClaimRow]],
        current: dict[str, RecordState],
        conflicts: dict[tuple[str, str], Conflict],
        *,
        new: bool,
    ) -> None:
        records: list[tuple[Any, ...]] = []
        history: list[dict[str, Any]] = []
        new_conflicts: list[dict[str, Any]] = []
        known: dict[str, dict[str, Conflict]] = {}  # key -> attribute -> conflict
        for (conflict_key, attribute), conflict in conflicts.items():
            known.setdefault(conflict_key, {})[attribute] = conflict
        for key in keys:
            before = current.get(key)
            said = [
                claim for claim in claims.get(key, []) if claim.source_id in self.specs
            ]  # disabled: silent
            if not said:  # every source withdrew: the record ends, its last version kept
                self._track_conflicts(base, key, {}, known.get(key, {}), new_conflicts)
                if before is not None:
                    history.append(_superseded(base, key, before, self.moment))
                    self.repo.drop_record(base, key)
                continue
            data, sources, disputes = self._resolve(said)
            if disputes or key in known:
                self._track_conflicts(base, key, disputes, known.get(key, {}), new_conflicts)
            written = _written(said, data)
            # the same text is the same values; another text may still be (attributes in another order)
            if before is not None and (before.data_json == written or before.data == data):
                if before.provenance_json != sources:  # same values, fresher sources: no new version
                    records.append(_record(base, key, written, sources, before.version, before.valid_from))
                continue
            if before is not None:
                history.append(_superseded(base, key, before, self.moment))
            version = before.version + 1 if before is not None else 1
            records.append(_record(base, key, written, sources, version, self.moment))
            stats.records_written += 1
        self.repo.write_history(history)
        self.repo.write_records(records, new=new)
        self.repo.add_conflicts(new_conflicts)
        stats.conflicts_opened += len(new_conflicts)

    def _resolve(
        self, claims: list[ClaimRow]
    ) -> tuple[dict[str, Any], str | None, dict[str, list[dict[str, Any]]]]:
        """Each attribute's value from the best source, with its provenance as JSON; ``claims`` are those
        of enabled sources only."""
        if len(claims) == 1:  # one source: its values, nothing to weigh or dispute
            return dict(claims[0].data), self._single_provenance(claims[0]), {}
        # Which claim wins each attribute, and the provenance, depend only on the claims' sources,
        # batches, moments and attribute names: worked out once per such shape (a pass has few).
        shape = tuple((c.source_id, c.batch_id, c.observed_at, *c.data) for c in claims)
        plan = self._plans.get(shape)
        if plan is None:
            plan = self._plan(claims)
            if len(self._plans) < 10_000:
                self._plans[shape] = plan
        data = {attribute: claims[index].data[attribute] for attribute, index in plan.winners}
        disputes = {
            attribute: self._voices(claims, attribute)
            for attribute, indexes in plan.shared
            if len({str(claims[index].data[attribute]) for index in indexes}) > 1
        }
        return data, plan.provenance, disputes

    def _plan(self, claims: list[ClaimRow]) -> _Plan:
        """For claims of one shape: each attribute's winning claim (best priority, then the most recent,
        then the lowest source id), in the order attributes first appear; the attributes several claims
        speak to; the provenance as JSON."""
        best: dict[str, tuple[tuple[int, float, int], int]] = {}
        speakers: dict[str, list[int]] = {}
        for index, claim in enumerate(claims):
            spec = self.specs[claim.source_id]
            recency = -claim.observed_at.timestamp()
            for attribute in claim.data:
                order = (spec.rank(attribute), recency, claim.source_id)
                held = best.get(attribute)
                if held is None or order < held[0]:
                    best[attribute] = (order, index)
                speakers.setdefault(attribute, []).append(index)
        winners = [(attribute, index) for attribute, (_, index) in best.items()]
        provenance = {attribute: self._origin(claims[index]) for attribute, index in winners}
        shared = [(attribute, indexes) for attribute, indexes in speakers.items() if len(indexes) > 1]
        return _Plan(winners, shared, as_json(provenance))

    def _single_provenance(self, claim: ClaimRow) -> str | None:
        """Every attribute from one source: the same text for all the keys a batch of a source speaks for
        with the same attributes, so it is made once."""
        memo = (tuple(claim.data), claim.source_id, claim.batch_id, claim.observed_at)
        text = self._provenance.get(memo)
        if text is None:
            text = as_json(dict.fromkeys(claim.data, self._origin(claim)))
            if len(self._provenance) < 10_000:
                self._provenance[memo] = text
        return text

    def _origin(self, claim: ClaimRow) -> dict[str, Any]:
        """Where a claim's values came from (one dict per source, batch and moment: treat as read-only)."""
        memo = (claim.source_id, claim.batch_id, claim.observed_at)
        origin = self._origins.get(memo)
        if origin is None:
            origin = {
                "source": claim.source_id,
                "department": self.specs[claim.source_id].department,
                "batch": claim.batch_id,
                "at": claim.observed_at.isoformat(),
            }
            if len(self._origins) < 10_000:
                self._origins[memo] = origin
        return origin

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
        known: dict[str, Conflict],
        new: list[dict[str, Any]],
    ) -> None:
        """Open, update or close the key's conflicts; ``known``: its conflicts by attribute."""
        for attribute, voices in disputes.items():
            conflict = known.get(attribute)
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
        for attribute, conflict in known.items():
            if conflict.open and attribute not in disputes:
                conflict.open, conflict.resolved_at = False, self.moment  # the sources agree again


@dataclass(frozen=True)
class _Plan:
    winners: list[tuple[str, int]]  # attribute -> index of the claim whose value it takes
    shared: list[tuple[str, list[int]]]  # attributes more than one claim speaks to, and those claims
    provenance: str | None


def _written(said: list[ClaimRow], data: dict[str, Any]) -> str | None:
    """A record's data as JSON: one claim's data is the record's, and its text is reused when at hand."""
    if len(said) == 1 and said[0].text is not None:
        return said[0].text
    return as_json(data)


def _record(
    base: BaseKind,
    key: str,
    data_json: str | None,
    provenance_json: str | None,
    version: int,
    since: datetime,
) -> tuple[Any, ...]:
    return (base.value, key, data_json, provenance_json, version, since)


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
