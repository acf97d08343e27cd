"""Data capabilities, generated from catalog resources without code: lookup by key, filtered list with
paging, and verification (yes / no only). Platform capabilities: electronic licence verification.

Lookups and verifications read the base database the resource feeds (the trusted, fused values: 一数一源),
but only records the resource itself contributed (a claim by its feed): a consumer granted the household
register cannot find people the register does not hold. Nothing here checks permissions: the gateway
has decided app, subscription and grant before calling, and the grant's projection masks what leaves.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection

from zhongtai.core.crypto import OpaqueTokens
from zhongtai.core.errors import M_, Invalid, NotFound
from zhongtai.gateway.reads import HotReads
from zhongtai.gateway.state import CapabilityEntry
from zhongtai.governance.elements import KINDS, Rejected
from zhongtai.governance.lookups import standard_key
from zhongtai.governance.models import BaseKind

LOOKUP_ANY = text("SELECT r.data FROM base_records r WHERE r.base = :base AND r.key = :key")
# How a base attribute's value is compared in a verification.
ATTRIBUTE_KIND = {
    "name": "person_name",
    "holder": "text",
    "birth_date": "date",
    "gender": "gender",
    "ethnicity": "ethnicity",
    "phone": "phone",
    "address": "address",
    "division_code": "division_code",
    "holder_id": "text",
    "legal_representative": "person_name",
    "legal_representative_id": "id_number",
}
NOT_FOUND = "no record with this key is available to this app"


def canonical_key(capability: CapabilityEntry, key: str) -> str | None:
    """A lookup key in its base's canonical form; None for a key that cannot exist (or no base)."""
    return None if capability.base is None else standard_key(capability.base, key)


def record_of(capability: CapabilityEntry, canonical: str | None, found: str | None) -> dict[str, Any]:
    """The resource's row for a key (key item + the attributes its feed maps) from the record read for
    it; a key that cannot exist answers like one that does not: no oracle."""
    if found is None or canonical is None or capability.key_item is None:
        raise NotFound(NOT_FOUND, code="record_not_found")
    data = json.loads(found)
    row = {item: data.get(attribute) for attribute, item in capability.attributes.items()}
    row[capability.key_item] = canonical
    return row


def _comparable(kind: str, value: Any) -> str | None:
    if value is None:
        return None
    raw = unicodedata.normalize("NFKC", str(value)).strip()
    try:
        return KINDS[kind](raw)
    except Rejected:
        return None


def verify(reads: HotReads, capability: CapabilityEntry, claim: Mapping[str, Any]) -> bool:
    """Whether every value given belongs to the record of the given key (False when there is none)."""
    key = claim.get(capability.key_item or "")
    if not isinstance(key, str):
        raise Invalid(
            M_("%(key_item)s (a string) is required", key_item=capability.key_item), field=capability.key_item
        )
    asked = {name: value for name, value in claim.items() if name != capability.key_item}
    if not asked:
        raise Invalid(
            M_("give at least one of %(items)s to compare", items=", ".join(capability.verify_items)),
            field="body",
        )
    for name, value in asked.items():
        if name not in capability.verify_items:
            raise Invalid(M_("%(name)s cannot be verified by this capability", name=name), field=name)
        if not isinstance(value, str) or len(value) > 500:
            raise Invalid(M_("%(name)s must be a string of at most 500 characters", name=name), field=name)
    canonical = canonical_key(capability, key)
    if canonical is None or capability.base is None or capability.source_id is None:
        return False
    found = reads.claimed(capability.base.value, canonical, capability.source_id)
    if found is None:
        return False
    row = record_of(capability, canonical, found)
    item_kind = {
        item: ATTRIBUTE_KIND.get(attribute, "text") for attribute, item in capability.attributes.items()
    }
    for name, value in asked.items():
        kind = item_kind.get(name, "text")
        given, held = _comparable(kind, value), _comparable(kind, row.get(name))
        if given is None or held is None or given != held:
            return False
    return True


def license_valid(connection: Connection, claim: Mapping[str, Any], today: date) -> bool:
    """Platform service: is this licence number held by this holder, and valid today?"""
    number, holder = claim.get("number"), claim.get("holder")
    if not isinstance(number, str) or not isinstance(holder, str) or len(number) > 100 or len(holder) > 200:
        raise Invalid(M_("number and holder (strings) are required"), field="body")
    canonical = standard_key(BaseKind.LICENSE, number)
    if canonical is None:
        return False
    found = connection.execute(LOOKUP_ANY, {"base": BaseKind.LICENSE.value, "key": canonical}).first()
    if found is None:
        return False
    data = json.loads(found[0])
    holders = {_comparable("text", data.get("holder")), _comparable("text", data.get("holder_id"))} - {None}
    if _comparable("text", holder) not in holders:
        return False
    valid_from, valid_to = data.get("valid_from"), data.get("valid_to")
    iso = today.isoformat()
    return (not valid_from or str(valid_from) <= iso) and (not valid_to or iso <= str(valid_to))


Position = tuple[int, str]  # (job id, source key) of a clean row: the list's order


def page_of_records(
    connection: Connection,
    capability: CapabilityEntry,
    filters: Mapping[str, str],
    page_size: int,
    *,
    page: int = 1,
    after: Position | None = None,
) -> tuple[list[dict[str, Any]], Position | None]:
    """One page of the resource's clean rows matching equality ``filters``, by page number or after a
    position; and the position of its last row when more follow (else None)."""
    clauses = ["resource_id = :rid"]
    params: dict[str, Any] = {"rid": capability.resource_id}
    for index, (item, value) in enumerate(sorted(filters.items())):
        clauses.append(_json_equals(connection, f"p{index}", f"v{index}"))
        params[f"p{index}"] = _json_path(connection, item)
        params[f"v{index}"] = value
    if after is not None:  # keyset paging: the primary key's index finds the place, however deep
        clauses.append("(job_id > :after_job OR (job_id = :after_job AND source_key > :after_key))")
        params.update(after_job=after[0], after_key=after[1])
    sql = (
        f"SELECT job_id, source_key, data FROM clean_records WHERE {' AND '.join(clauses)} "  # noqa: S608 - fixed fragments, bound values
        "ORDER BY job_id, source_key LIMIT :limit OFFSET :offset"
    )
    query = text(sql).bindparams(bindparam("limit"), bindparam("offset"))
    offset = 0 if after is not None else (page - 1) * page_size
    rows = connection.execute(query, {**params, "limit": page_size + 1, "offset": offset}).all()
    shown = rows[:page_size]
    more = len(rows) > page_size
    last = (int(shown[-1][0]), str(shown[-1][1])) if more and shown else None
    return [json.loads(row[2]) for row in shown], last


def seal_position(tokens: OpaqueTokens, capability: CapabilityEntry, position: Position) -> str:
    """The cursor a client sends back as ``after``: sealed, so it reveals no source key (a department
    may key its rows by ID number) and cannot be forged or used on another resource."""
    return tokens.seal(json.dumps([capability.resource_id, position[0], position[1]]))


def open_position(tokens: OpaqueTokens, capability: CapabilityEntry, cursor: str) -> Position:
    opened = tokens.open(cursor) if len(cursor) <= 2000 else None
    parts = json.loads(opened) if opened is not None else None  # sealed by us: valid JSON
    if not isinstance(parts, list) or len(parts) != 3 or parts[0] != capability.resource_id:
        raise Invalid(
            M_("after is not a cursor a list of this resource gave out; start again without it"),
            code="bad_cursor",
            field="after",
        )
    return int(parts[1]), str(parts[2])


def _json_equals(connection: Connection, path: str, value: str) -> str:
    if connection.dialect.name == "postgresql":
        return f"(data::jsonb ->> :{path}) = :{value}"
    return f"CAST(json_extract(data, :{path}) AS TEXT) = :{value}"


def _json_path(connection: Connection, item: str) -> str:
    if connection.dialect.name == "postgresql":
        return item
    return '$."' + item.replace('"', "") + '"'
