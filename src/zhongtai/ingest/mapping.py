"""Field mapping: how one source row becomes one raw-zone record of a catalog resource.

Each rule fills one information item from a source column (with type conversion), a constant, or a
template over source columns (``{surname}{given_name}``). Rules are data, validated when a job is saved.
A chunk of rows is mapped as one Polars frame: conversion, keys, the first reason a row is rejected,
the record's JSON and its hash are all column expressions, evaluated in native code.
"""

from __future__ import annotations

import base64
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import polars as pl
from pydantic import BaseModel, Field, model_validator

from zhongtai.catalog.models import DataType
from zhongtai.core.errors import M_, Invalid
from zhongtai.ingest.convert import PROBLEMS, convert_series

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
                M_(
                    "mapping: the resource has no item %(item)r (items: %(known)s)",
                    item=rule.item,
                    known=known,
                ),
                field="mapping",
            )
        if rule.item in seen:
            raise Invalid(M_("mapping: item %(item)r is mapped twice", item=rule.item), field="mapping")
        seen.add(rule.item)
    if not rules:
        raise Invalid(M_("mapping: map at least one information item"), field="mapping")


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


HASH_SEED = 20201  # fixed, so the same record hashes the same in every run (Polars version pinned)


@dataclass(frozen=True)
class MappedChunk:
    accepted: pl.DataFrame  # source_key, row_hash, data (JSON text); one row per key, the last wins
    rejected: pl.DataFrame  # row_number, source_key, field, reason, raw


class ChunkMapper:
    """Maps chunks of rows given as sequences in ``columns`` order."""

    def __init__(
        self,
        rules: list[FieldRule],
        items: dict[str, DataType],
        key_columns: list[str],
        columns: list[str],
    ) -> None:
        self.rules = rules
        self.items = items
        self.key_columns = key_columns
        self.columns = columns
        self.constants = {
            rule.item: convert_series(
                pl.Series([rule.constant], dtype=pl.String), rule.type or items[rule.item]
            )[0]
            for rule in rules
            if rule.constant is not None
        }

    def frame(self, rows: Sequence[Sequence[Any]]) -> pl.DataFrame:
        try:
            frame = pl.DataFrame(
                rows, schema=self.columns, orient="row", infer_schema_length=None, strict=False
            )
        except (pl.exceptions.PolarsError, TypeError, ValueError, OverflowError):
            # A column mixing types (a messy spreadsheet: dates and text) is taken as text and converted
            # from text, rather than guessed.
            frame = pl.DataFrame(
                [tuple(_as_text(value) for value in row) for row in rows],
                schema=dict.fromkeys(self.columns, pl.String),
                orient="row",
            )
        nulls = [name for name, dtype in frame.schema.items() if dtype == pl.Null]
        return frame.with_columns(pl.col(nulls).cast(pl.String)) if nulls else frame

    def map(self, frame: pl.DataFrame, row_numbers: pl.Series) -> MappedChunk:
        checks: list[Check] = []
        key = self._key(frame, checks)
        values = [self._value(rule, frame, checks) for rule in self.rules]
        failed = pl.Series([False] * frame.height) if not checks else None
        for check in checks:
            failed = check.failed if failed is None else failed | check.failed
        assert failed is not None
        failed = failed.fill_null(False)
        records = pl.DataFrame(values).select(pl.struct(pl.all()).struct.json_encode().alias("data"))["data"]
        good = ~failed
        accepted = pl.DataFrame(
            {
                "source_key": key.filter(good),
                # 64 bits as a signed integer: it only tells a changed record from an unchanged one.
                "row_hash": records.filter(good).hash(seed=HASH_SEED).reinterpret(signed=True),
                "data": records.filter(good),
            }
        ).unique(subset="source_key", keep="last", maintain_order=True)
        return MappedChunk(accepted, self._rejected(frame, failed, key, checks, row_numbers))

    def _rejected(
        self, frame: pl.DataFrame, failed: pl.Series, key: pl.Series, checks: list[Check], numbers: pl.Series
    ) -> pl.DataFrame:
        positions = failed.arg_true().to_list()
        reasons: list[str] = []
        fields: list[str | None] = []
        for position in positions:  # rejected rows only: usually few, so plain Python is fine here
            check = next(c for c in checks if c.failed[position])
            fields.append(check.field)
            reasons.append(check.reason(position)[:500])
        raw = (
            frame[positions]
            .select(pl.struct(pl.col(self.columns).cast(pl.String)).struct.json_encode().alias("raw"))["raw"]
            .str.slice(0, 2000)
        )
        return pl.DataFrame(
            {
                "row_number": numbers.gather(positions),
                "source_key": key.gather(positions),
                "field": pl.Series(fields, dtype=pl.String),
                "reason": pl.Series(reasons, dtype=pl.String),
                "raw": raw,
            }
        )

    def _key(self, frame: pl.DataFrame, checks: list[Check]) -> pl.Series:
        parts = []
        for name in self.key_columns:
            text = frame[name].cast(pl.String).str.strip_chars()
            empty = text.is_null() | (text == "")
            checks.append(Check(empty, name, _says(f"source key column {name!r} is empty")))
            parts.append(text)
        key = pl.DataFrame(parts).select(pl.concat_str(pl.all(), separator=KEY_SEPARATOR))[:, 0]
        too_long = key.str.len_chars() > MAX_KEY_LENGTH
        checks.append(Check(too_long, None, _says(f"source key is longer than {MAX_KEY_LENGTH} characters")))
        return key

    def _value(self, rule: FieldRule, frame: pl.DataFrame, checks: list[Check]) -> pl.Series:
        target = rule.type or self.items[rule.item]
        if rule.constant is not None:
            value = pl.repeat(self.constants[rule.item][0], frame.height, eager=True)
        elif rule.template is not None:
            value = frame.select(_template(rule.template))[:, 0]
        else:
            original = frame[rule.source or ""]
            value, failed = convert_series(original, target)

            def reason(i: int, item: str = rule.item, shown: pl.Series = original) -> str:
                return f"{item}: '{str(shown[i])[:60]}' {PROBLEMS[target]}"

            checks.append(Check(failed, rule.item, reason))
        if rule.required:
            missing = value.is_null() | (value.cast(pl.String) == "")
            checks.append(Check(missing, rule.item, _says(f"{rule.item}: required value is missing")))
        return value.alias(rule.item)


@dataclass(frozen=True)
class Check:
    """One reason a row may be rejected: which rows fail it, for which field, and what to say."""

    failed: pl.Series
    field: str | None
    reason: Callable[[int], str]


def _says(text: str) -> Callable[[int], str]:
    """A reason that is the same for every row."""

    def reason(_row: int) -> str:
        return text

    return reason


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return str(value)


def _template(template: str) -> pl.Expr:
    parts: list[pl.Expr] = []
    fields: list[pl.Expr] = []
    for literal, name, _spec, _conversion in string.Formatter().parse(template):
        if literal:
            parts.append(pl.lit(literal))
        if name:
            text = pl.col(name).cast(pl.String).fill_null("")
            parts.append(text)
            fields.append(text != "")
    filled = pl.concat_str(parts)
    # All fields empty: the value is missing, not the template's bare punctuation.
    return pl.when(pl.any_horizontal(fields)).then(filled) if fields else filled
