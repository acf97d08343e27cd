"""Field mapping: how one source row becomes one raw-zone record of a catalog resource.

Each rule fills one information item from a source column (with type conversion), a constant, or a
template over source columns (``{surname}{given_name}``). Rules are data, validated when a job is saved
and compiled once per run into plain functions, because they run for every row.
"""

from __future__ import annotations

import hashlib
import json
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field, model_validator

from zhongtai.catalog.models import DataType
from zhongtai.core.errors import Invalid
from zhongtai.ingest.convert import CONVERTERS, ConversionError, to_string

MAX_KEY_LENGTH = 200
KEY_SEPARATOR = "|"


class FieldRule(BaseModel):
    """One information item and where its value comes from."""

    item: str = Field(min_length=1, max_length=100, description="Catalog information item name.")
    source: str | None = Field(None, max_length=100, description="Source column the value is read from.")
    constant: str | None = Field(None, max_length=500, description="A fixed value for every row.")
    template: str | None = Field(
        None, max_length=500, description="Text built from source columns, e.g. `{surname}{given_name}`."
    )
    type: DataType | None = Field(None, description="Conversion target; default is the item's data type.")
    required: bool = Field(False, description="Reject the row when the value is missing.")

    @model_validator(mode="after")
    def _exactly_one_origin(self) -> FieldRule:
        given = [name for name in ("source", "constant", "template") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"item {self.item!r}: give exactly one of source, constant, template")
        if self.template is not None:
            template_fields(self.template)
        return self


def template_fields(template: str) -> list[str]:
    """Column names a template uses; only plain ``{name}`` fields (no attribute access or formatting)."""
    names: list[str] = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"template {template!r}: {exc}") from None
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if not name or spec or conversion or any(ch in name for ch in ".[]"):
            raise ValueError(f"template {template!r}: use plain {{column}} fields only")
        names.append(name)
    return names


def check_rules(rules: list[FieldRule], items: dict[str, DataType]) -> None:
    """Every rule names an item of the resource, once."""
    seen: set[str] = set()
    for rule in rules:
        if rule.item not in items:
            known = ", ".join(items) or "none"
            raise Invalid(
                f"mapping: the resource has no item {rule.item!r} (items: {known})", field="mapping"
            )
        if rule.item in seen:
            raise Invalid(f"mapping: item {rule.item!r} is mapped twice", field="mapping")
        seen.add(rule.item)
    if not rules:
        raise Invalid("mapping: map at least one information item", field="mapping")


def source_columns(rules: list[FieldRule], key_columns: list[str], extra: Sequence[str] = ()) -> list[str]:
    """The source columns a job needs, in a stable order."""
    needed: list[str] = []
    for name in [*key_columns, *extra]:
        if name not in needed:
            needed.append(name)
    for rule in rules:
        names = [rule.source] if rule.source else template_fields(rule.template) if rule.template else []
        for name in names:
            if name and name not in needed:
                needed.append(name)
    return needed


class RowRejected(Exception):
    def __init__(self, field: str | None, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class MappedRow:
    key: str
    row_hash: str
    data_json: str


class RowMapper:
    """Compiled mapping for rows given as sequences in ``columns`` order."""

    def __init__(
        self,
        rules: list[FieldRule],
        items: dict[str, DataType],
        key_columns: list[str],
        columns: list[str],
    ) -> None:
        position = {name: index for index, name in enumerate(columns)}
        self._key_positions = [(name, position[name]) for name in key_columns]
        self._fields = [self._compile(rule, items, position) for rule in rules]

    @staticmethod
    def _compile(
        rule: FieldRule, items: dict[str, DataType], position: dict[str, int]
    ) -> tuple[str, bool, Callable[[Sequence[Any]], Any]]:
        if rule.constant is not None:
            constant = CONVERTERS[rule.type or items[rule.item]](rule.constant)
            return rule.item, rule.required, lambda _row: constant
        if rule.template is not None:
            template = rule.template
            names = [(name, position[name]) for name in template_fields(template)]

            def fill(row: Sequence[Any]) -> Any:
                values = {name: row[index] for name, index in names}
                if all(value is None or value == "" for value in values.values()):
                    return None
                return template.format_map({k: "" if v is None else to_string(v) for k, v in values.items()})

            return rule.item, rule.required, fill
        index = position[rule.source or ""]
        convert = CONVERTERS[rule.type or items[rule.item]]
        return rule.item, rule.required, lambda row: convert(row[index])

    def key_of(self, row: Sequence[Any]) -> str:
        parts: list[str] = []
        for name, index in self._key_positions:
            value = row[index]
            text = "" if value is None else to_string(value).strip()
            if not text:
                raise RowRejected(name, f"source key column {name!r} is empty")
            parts.append(text)
        key = KEY_SEPARATOR.join(parts)
        if len(key) > MAX_KEY_LENGTH:
            raise RowRejected(None, f"source key is longer than {MAX_KEY_LENGTH} characters")
        return key

    def map(self, row: Sequence[Any]) -> MappedRow:
        key = self.key_of(row)
        data: dict[str, Any] = {}
        for item, required, produce in self._fields:
            try:
                value = produce(row)
            except ConversionError as exc:
                raise RowRejected(item, f"{item}: {exc}") from None
            if required and (value is None or value == ""):
                raise RowRejected(item, f"{item}: required value is missing")
            data[item] = value
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        return MappedRow(key, hashlib.blake2b(text.encode(), digest_size=16).hexdigest(), text)


def describe_row(columns: list[str], row: Sequence[Any]) -> str:
    """The rejected row as JSON for the reject log (truncated: a row can be huge)."""
    text = json.dumps(dict(zip(columns, row, strict=False)), ensure_ascii=False, default=str)
    return text if len(text) <= 2000 else text[:1997] + "..."
