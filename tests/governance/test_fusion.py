"""Fusion's choice of each attribute's value: the worked-out plans it reuses give what weighing every
claim afresh gives, whatever the claims' values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from zhongtai.core.types import as_json
from zhongtai.governance.fusion import Fuser, SourceSpec
from zhongtai.governance.models import BaseKind
from zhongtai.governance.repository import ClaimRow

ATTRIBUTES = ["name", "gender", "birth_date", "address", "phone"]
MOMENTS = [datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=h) for h in range(3)]


def weighed_afresh(
    specs: dict[int, SourceSpec], claims: list[ClaimRow]
) -> tuple[dict[str, Any], str | None, dict[str, list[dict[str, Any]]]]:
    """The rule itself, claim by claim: each attribute from the source with the best priority for it,
    then the most recent, then the lowest id; attributes in the order they first appear; an attribute
    disputed when its sources say different values."""

    def origin(claim: ClaimRow) -> dict[str, Any]:
        return {
            "source": claim.source_id,
            "department": specs[claim.source_id].department,
            "batch": claim.batch_id,
            "at": claim.observed_at.isoformat(),
        }

    best: dict[str, tuple[tuple[int, float, int], ClaimRow]] = {}
    said: dict[str, set[str]] = {}
    for claim in claims:
        for attribute in claim.data:
            order = (specs[claim.source_id].rank(attribute), -claim.observed_at.timestamp(), claim.source_id)
            if attribute not in best or order < best[attribute][0]:
                best[attribute] = (order, claim)
            said.setdefault(attribute, set()).add(str(claim.data[attribute]))
    data = {attribute: claim.data[attribute] for attribute, (_, claim) in best.items()}
    provenance = {attribute: origin(claim) for attribute, (_, claim) in best.items()}
    disputes = {
        attribute: [{**origin(c), "value": c.data[attribute]} for c in claims if attribute in c.data]
        for attribute, values in said.items()
        if len(values) > 1
    }
    if len(claims) == 1:
        return data, as_json(provenance), {}
    return data, as_json(provenance), disputes


sources = st.dictionaries(
    st.integers(1, 5),
    st.tuples(
        st.integers(1, 3),  # the source's priority
        st.dictionaries(st.sampled_from(ATTRIBUTES), st.integers(1, 3), max_size=2),  # per attribute
    ),
    min_size=1,
    max_size=4,
)
claim_shape = st.tuples(  # few choices of each: keys often share some of their claims' shape, not all
    st.sampled_from(MOMENTS),
    st.integers(1, 2),  # batch
    st.lists(st.sampled_from(ATTRIBUTES[:3]), min_size=1, max_size=3, unique=True),  # in this order
)
values = st.one_of(st.sampled_from(["张三", "李四", "3401"]), st.integers(0, 2), st.just(True))


@given(sources, st.data())
def test_resolving_claims_by_their_shape_gives_what_weighing_each_claim_gives(
    given_sources: dict[int, tuple[int, dict[str, int]]], data: st.DataObject
) -> None:
    specs = {
        source: SourceSpec(source, BaseKind.PERSON, "id", {}, {}, priority, priorities, f"D{source % 2}")
        for source, (priority, priorities) in given_sources.items()
    }
    fuser = Fuser(None, specs, MOMENTS[-1])  # type: ignore[arg-type]  # resolving reads no database
    for _ in range(8):  # keys one after another: a plan worked out for one is reused for the same shape
        ids = sorted(data.draw(st.sets(st.sampled_from(sorted(specs)), min_size=1)))
        shapes = {source: data.draw(claim_shape) for source in ids}
        claims = [
            ClaimRow(
                source,
                {attribute: data.draw(values) for attribute in shapes[source][2]},
                shapes[source][1],
                shapes[source][0],
            )
            for source in ids
        ]
        assert fuser._resolve(claims) == weighed_afresh(specs, claims)
