"""Governance rules as data: their schema, and the engine that applies a rule set to raw rows.

A rule set is a list of rules run in order on each row. Standardizing rules rewrite a value to its data
element's canonical form and record what they changed; checking rules refuse the row with a reason.
The first refusal rejects the row; every row ends up either kept (clean) or rejected, never lost.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from stdnum.exceptions import ValidationError

from zhongtai.governance.columns import COLUMN_FORMS, standardize_many
from zhongtai.governance.elements import Rejected, Standardizer, id_birth_date, id_gender, standardizer

RuleId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_\-]{1,48}$")]
ItemName = Annotated[str, Field(min_length=1, max_length=100)]
Bound = Annotated[str, Field(max_length=64)] | int | float


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    id: RuleId
    item: ItemName


OnFail = Literal["reject", "clear"]


class StandardizeRule(_Rule):
    """Rewrite the item to its data element's canonical form. A value that has none rejects the row, or
    with ``on_fail: clear`` is emptied (the row is kept; the cleared value is recorded as a change)."""

    kind: Literal["standardize"]
    element: str | None = Field(None, max_length=16, description="defaults to the item's data element")
    on_fail: OnFail = "reject"


class CheckRule(_Rule):
    """Refuse values that are not valid for the data element, without changing them."""

    kind: Literal["check"]
    element: str | None = Field(None, max_length=16)
    on_fail: OnFail = "reject"


class RequiredRule(_Rule):
    kind: Literal["required"]


class RangeRule(_Rule):
    """Numbers compare as numbers; anything else (ISO dates) as text."""

    kind: Literal["range"]
    min: Bound | None = None
    max: Bound | None = None


class EnumRule(_Rule):
    kind: Literal["enum"]
    values: list[Annotated[str, Field(max_length=200)]] = Field(min_length=1, max_length=1000)


class CrossRule(_Rule):
    """Two items that must agree: the birth date or gender an ID number encodes."""

    kind: Literal["cross"]
    check: Literal["birth_date_matches_id", "gender_matches_id"]
    id_item: ItemName


class UniqueRule(_Rule):
    """No two clean rows of the resource share the item's value; later duplicates are refused."""

    kind: Literal["unique"]


RuleSpec = Annotated[
    StandardizeRule | CheckRule | RequiredRule | RangeRule | EnumRule | CrossRule | UniqueRule,
    Field(discriminator="kind"),
]
RULES = TypeAdapter(list[RuleSpec])
Step = Callable[[dict[str, Any], dict[str, Any]], None]


class RawRow(NamedTuple):  # a tuple: millions are made a pass, and a frozen dataclass costs 3x to make
    job_id: int
    source_key: str
    batch_id: int
    data: dict[str, Any]


@dataclass(slots=True)
class Refusal:
    row: RawRow
    rule_id: str
    item: str | None
    reason: str


@dataclass(slots=True)
class Kept:
    row: RawRow
    data: dict[str, Any]
    changes: dict[str, Any] | None


@dataclass
class Outcome:
    kept: list[Kept] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    changed_values: int = 0
    raw_rows: int = 0


def missing(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


MEMO_SIZE = 200_000


class _Memo:
    """Per-pass cache of a standardizer's answers and refusals: names, dates and codes repeat across
    millions of rows. Each page's distinct values are decided on columns first where the kind has a
    column form (``columns``); the rest, and every refusal, by the function itself."""

    def __init__(self, function: Standardizer, kind: str) -> None:
        self.function = function
        self.kind = kind
        self.cache: dict[str, str | Rejected] = {}

    def decide_on_columns(self, values: Iterable[Any]) -> None:
        cache = self.cache
        if len(cache) >= MEMO_SIZE:
            cache.clear()  # the same dict: the compiled steps hold its ``get``
        # blank values are never standardized (rules skip them), so the cache never holds one
        fresh = {value for value in values if type(value) is str and value not in cache and value.strip()}
        cache.update(standardize_many(self.kind, list(fresh)))

    def compute(self, text: str) -> str | Rejected:
        """The standardizer's answer (or refusal) for a value not in the cache, kept while there is room."""
        try:
            result: str | Rejected = self.function(text)
        except Rejected as exc:
            # kept without its traceback: that would hold the frames that raised it, and through their
            # callers the whole pass (a cycle only a full collection breaks)
            result = Rejected(exc.reason)
        if len(self.cache) < MEMO_SIZE:
            self.cache[text] = result
        return result


class RuleEngine:
    """Applies one version of a rule set. ``element_kinds`` maps element codes to their kinds and
    ``item_elements`` items to the element their catalog entry references."""

    def __init__(
        self,
        rules: Sequence[RuleSpec],
        version: int,
        element_kinds: dict[str, str],
        item_elements: dict[str, str | None],
    ) -> None:
        self.rules = list(rules)
        self.version = version
        self.memos: dict[str, _Memo] = {}
        self.on_columns: dict[str, str] = {}  # rule id -> item, for rules whose kind has a column form
        self.element_codes: set[str] = set()  # the data elements this version of the rules uses
        # item -> element kind, for items every kept row has in that kind's canonical form (or empty)
        self.canonical: dict[str, str] = {}
        for rule in self.rules:
            if isinstance(rule, StandardizeRule | CheckRule):
                code = rule.element or item_elements.get(rule.item)
                if code is None or code not in element_kinds:
                    raise ValueError(f"rule {rule.id}: no data element for item {rule.item}")
                self.element_codes.add(code)
                kind = element_kinds[code]
                self.memos[rule.id] = _Memo(standardizer(kind), kind)
                if kind in COLUMN_FORMS:
                    self.on_columns[rule.id] = rule.item
                if isinstance(rule, StandardizeRule):
                    self.canonical[rule.item] = element_kinds[code]

        # the row rules compiled, in order (unique rules run per chunk afterwards)
        self.steps: list[tuple[RuleSpec, Step]] = [
            (rule, step) for rule in self.rules if (step := self._compile(rule)) is not None
        ]
        # unique rules: item -> {value: source key holding it}, across every chunk of a pass
        self.seen: dict[str, dict[str, str]] = {
            rule.item: {} for rule in self.rules if isinstance(rule, UniqueRule)
        }

    @property
    def has_unique(self) -> bool:
        return bool(self.seen)

    def hold(self, item: str, values: dict[str, str]) -> None:
        """Values of clean rows outside the pass that unique rules must not see again."""
        self.seen[item].update(values)

    def apply(self, rows: Iterable[RawRow]) -> Outcome:
        """Apply the rules to one chunk of rows (in source-key order); call again for the next chunk."""
        outcome = self.apply_rows(rows)
        self.finish(outcome)
        return outcome

    def apply_rows(self, rows: Iterable[RawRow]) -> Outcome:
        """Every rule but the unique ones, which ``finish`` applies (chunk by chunk, in key order). Each
        row goes through every rule in turn: the reference the frame path (``frames``) is held to, and
        the way of pages that path does not take."""
        outcome = Outcome()
        rows = list(rows)
        for rule_id, item in self.on_columns.items():
            self.memos[rule_id].decide_on_columns(row.data.get(item) for row in rows)
        for row in rows:
            self._apply_row(row, outcome)
        return outcome

    def finish(self, outcome: Outcome) -> None:
        """The unique rules on a chunk's kept rows: a value's first holder in key order keeps it."""
        self._unique(outcome)

    def _apply_row(self, row: RawRow, outcome: Outcome) -> None:
        values = dict(row.data)
        changes: dict[str, Any] = {}
        rule: RuleSpec | None = None
        try:
            for rule, step in self.steps:  # noqa: B007 - the except clause names the refusing rule
                step(values, changes)
        except Rejected as exc:
            assert rule is not None
            outcome.refused.append(Refusal(row, rule.id, rule.item, exc.reason))
            return
        outcome.changed_values += len(changes)
        outcome.kept.append(Kept(row, values, changes or None))

    def _compile(self, rule: RuleSpec) -> Step | None:
        """The rule as one function of (values, changes) that raises ``Rejected``; unique rules work on a
        whole chunk instead (``_unique``)."""
        item = rule.item
        if isinstance(rule, UniqueRule):
            return None
        if isinstance(rule, RequiredRule):

            def required(values: dict[str, Any], changes: dict[str, Any]) -> None:
                if missing(values.get(item)):
                    raise Rejected(f"{item} is required")

            return required
        if isinstance(rule, StandardizeRule | CheckRule):
            return self._standardizing(rule)
        check: Callable[[Any, dict[str, Any]], None]
        if isinstance(rule, RangeRule):
            check = partial(_in_range, rule)
        elif isinstance(rule, EnumRule):
            check = partial(_one_of, rule)
        else:
            check = partial(_agrees, rule)

        def checked(values: dict[str, Any], changes: dict[str, Any]) -> None:
            value = values.get(item)
            if not missing(value):
                check(value, values)

        return checked

    def _standardizing(self, rule: StandardizeRule | CheckRule) -> Step:
        item, rule_id, memo = rule.item, rule.id, self.memos[rule.id]
        rewrite, clear = isinstance(rule, StandardizeRule), rule.on_fail == "clear"
        cached, compute = memo.cache.get, memo.compute

        # Runs once per rule per row (tens of millions of times in a big pass): the memo's lookup and
        # ``missing`` are spelled out here rather than called.
        def standardize(values: dict[str, Any], changes: dict[str, Any]) -> None:
            value = values.get(item)
            if value is None:
                return
            if type(value) is str:
                if not value.strip():
                    return
                text = value
            else:
                text = str(value)
            canonical = cached(text)
            if canonical is None:
                canonical = compute(text)
            if isinstance(canonical, Rejected):
                if not clear:
                    # a fresh refusal each time: the cached one raised would keep this raise's traceback
                    # (and through it the pass's frames) for as long as the cache lives
                    raise Rejected(canonical.reason)
                changes[item] = {"from": value, "rule": rule_id, "reason": canonical.reason}
                values[item] = None
                return
            if rewrite and canonical != value:
                changes[item] = {"from": value, "rule": rule_id}
                values[item] = canonical

        return standardize

    def _unique(self, outcome: Outcome) -> None:
        for rule in self.rules:
            if not isinstance(rule, UniqueRule):
                continue
            seen = self.seen[rule.item]
            still: list[Kept] = []
            for kept in outcome.kept:
                value = kept.data.get(rule.item)
                if missing(value):
                    still.append(kept)
                    continue
                holder = seen.setdefault(str(value), kept.row.source_key)
                if holder != kept.row.source_key:
                    reason = f"{rule.item} is the same as in record {holder}"
                    outcome.refused.append(Refusal(kept.row, rule.id, rule.item, reason))
                    outcome.changed_values -= len(kept.changes or {})
                else:
                    still.append(kept)
            outcome.kept = still


def as_number(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _one_of(rule: EnumRule, value: Any, values: dict[str, Any]) -> None:
    if str(value) not in rule.values:
        raise Rejected(f"{rule.item} {str(value)[:40]!r} is not one of the allowed values")


def _in_range(rule: RangeRule, value: Any, values: dict[str, Any]) -> None:
    reason = range_refusal(rule, value)
    if reason is not None:
        raise Rejected(reason)


def range_refusal(rule: RangeRule, value: Any) -> str | None:
    bounds = [b for b in (rule.min, rule.max) if b is not None]
    numeric = all(as_number(b) is not None for b in bounds)
    if numeric:
        number = as_number(value)
        if number is None or not number.is_finite():
            return f"{rule.item} is not a number"
        if rule.min is not None and number < Decimal(str(rule.min)):
            return f"{rule.item} {value} is below {rule.min}"
        if rule.max is not None and number > Decimal(str(rule.max)):
            return f"{rule.item} {value} is above {rule.max}"
        return None
    text = str(value)
    if rule.min is not None and text < str(rule.min):
        return f"{rule.item} {text[:40]} is before {rule.min}"
    if rule.max is not None and text > str(rule.max):
        return f"{rule.item} {text[:40]} is after {rule.max}"
    return None


def _agrees(rule: CrossRule, value: Any, values: dict[str, Any]) -> None:
    reason = disagreement(rule, value, values.get(rule.id_item))
    if reason is not None:
        raise Rejected(reason)


def disagreement(rule: CrossRule, value: Any, number: Any) -> str | None:
    if missing(number) or not isinstance(number, str) or len(number) != 18:
        return None  # the ID number's own rules speak for it
    try:
        expected = id_birth_date(number) if rule.check == "birth_date_matches_id" else id_gender(number)
    except (ValueError, ValidationError):
        return None  # not a canonical number: the ID number's own rules speak for it
    if str(value) != expected:
        return f"{rule.item} {str(value)[:20]} does not match {rule.id_item} ({expected})"
    return None
