"""A page of raw rows governed as a Polars frame: a rule at a time over columns, with Python only for
each distinct value a rule decides, the rows a rule changed and the rows it refused.

The row engine (``RuleEngine.apply_rows``) stays the reference: a page governed here gives the same
clean rows, changes, refusals and reasons, and the same claims (``tests/governance/test_frames.py``
holds the two to each other on arbitrary rows and rule sets). A page this path does not take — a value
that is not text, an escaped surrogate — goes the row engine's way; the choice is made a page at a time
and changes nothing but the speed.

What it saves is per-row Python: the raw JSON is decoded by Polars; a rule touches each row only in
Rust (its Python runs once per distinct value); a kept row nothing changed keeps its raw JSON text as its
clean data (the same values read back), a changed one gets its raw text with the new values put in, and
its changes are written as JSON by Polars. Measured on the benchmark's pages (``bench/govern.py``): the
rules with the clean rows' JSON take about three quarters of the row engine's time — Polars' work per
operation on a 20,000-row page is not nothing, and the standardizers' own Python per distinct value
(most ID numbers are distinct) is the same either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
import polars as pl

from zhongtai.core.bulk import as_json
from zhongtai.core.types import from_json
from zhongtai.governance.elements import Rejected
from zhongtai.governance.fusion import KEY_STANDARD, FusionStats, SourceSpec, claim_rows, claims_of
from zhongtai.governance.repository import ClaimRow
from zhongtai.governance.rules import (
    CheckRule,
    CrossRule,
    EnumRule,
    Outcome,
    RangeRule,
    RawRow,
    Refusal,
    RequiredRule,
    RuleEngine,
    RuleSpec,
    StandardizeRule,
    UniqueRule,
    disagreement,
    missing,
    range_refusal,
)

# What Python's ``str.strip()`` strips (Polars' own idea of white space leaves out e.g. U+001C-U+001F).
WHITESPACE = "".join(chr(c) for c in range(0x110000) if chr(c).isspace())
# A page is governed as a frame when every row is a flat object of text or null values (a number,
# true/false, a list or an object sends it the row engine's way) with no escaped surrogate (Python keeps
# a lone one, Polars does not). The grammar of such an object, as one regular expression:
_TEXT = r'"(?:[^"\\]|\\.)*"'
_PAIR = rf"{_TEXT}\s*:\s*(?:{_TEXT}|null)\s*"
FLAT_TEXT_OBJECT = rf"^\s*\{{\s*(?:{_PAIR}(?:,\s*{_PAIR})*)?\}}\s*$"
ESCAPED_SURROGATE = r"\\u[dD][89a-fA-F]"
RawPage = Sequence[tuple[str, int, str]]  # (source key, batch id, raw JSON text), in key order


@dataclass
class FrameOutcome:
    """A page's outcome as frames: ``kept`` has a row per kept row in key order — ``source_key``,
    ``batch_id``, ``data`` and ``changes`` (JSON text, as the clean zone keeps them) and a column per item
    the rules or the base sources read, with its governed value."""

    job_id: int
    kept: pl.DataFrame
    refused: list[Refusal] = field(default_factory=list)
    changed_values: int = 0
    raw_rows: int = 0

    def kept_values(self, items: Sequence[str]) -> list[tuple[str, dict[str, Any]]]:
        """(source key, {item: value}) of each kept row, in key order."""
        keys = self.kept.get_column("source_key").to_list()
        columns = [self.kept.get_column(item).to_list() for item in items]
        return [
            (key, dict(zip(items, values, strict=True))) for key, *values in zip(keys, *columns, strict=True)
        ]

    def refuse_kept(self, refusals: dict[str, tuple[str, str, str]]) -> None:
        """Kept rows refused after all (unique rules): source key -> (rule id, item, reason)."""
        if not refusals:
            return
        refused = self.kept.filter(pl.col("source_key").is_in(list(refusals)))
        for key, batch, raw, changes in refused.select(
            "source_key", "batch_id", "raw", "changes"
        ).iter_rows():
            rule_id, item, reason = refusals[key]
            row = RawRow(self.job_id, key, batch, from_json(raw))
            self.refused.append(Refusal(row, rule_id, item, reason))
            self.changed_values -= len(from_json(changes) or {})
        self.kept = self.kept.filter(~pl.col("source_key").is_in(list(refusals)))


class FrameRules:
    """A rule engine's rules applied to a page as a frame. It shares the engine's memos and unique
    values, so pages governed either way in one pass make one pass."""

    def __init__(self, engine: RuleEngine) -> None:
        self.engine = engine
        items: list[str] = []
        for rule in engine.rules:
            items.append(rule.item)
            if isinstance(rule, CrossRule):
                items.append(rule.id_item)
        self.rule_items = list(dict.fromkeys(items))

    def apply_rows(self, job_id: int, page: RawPage, extra_items: Sequence[str] = ()) -> FrameOutcome | None:
        """Every rule but the unique ones (``finish``); None when the page is not one this path takes.
        The outcome has a column for every item the rules read and for each of ``extra_items``."""
        items = list(dict.fromkeys([*self.rule_items, *extra_items]))
        head = pl.DataFrame(
            page, schema={"source_key": pl.String, "batch_id": pl.Int64, "raw": pl.String}, orient="row"
        )
        raw = head.get_column("raw")
        if head.height and not _plain(raw):
            return None
        # the rules work on a frame of the items' values only (the raw text is not carried through them)
        if head.height:
            frame = raw.str.json_decode(pl.Struct({item: pl.String for item in items})).struct.unnest()
        else:
            frame = pl.DataFrame(schema={item: pl.String for item in items})
        frame = frame.with_columns(_refused_by=pl.lit(None, pl.Int32), _reason=pl.lit(None, pl.String))
        changing: list[tuple[int, StandardizeRule | CheckRule]] = []
        for number, rule in enumerate(self.engine.rules):
            if isinstance(rule, StandardizeRule | CheckRule):
                frame = self._standardize(frame, number, rule)
                if isinstance(rule, StandardizeRule) or rule.on_fail == "clear":
                    changing.append((number, rule))
            elif isinstance(rule, RequiredRule):
                frame = _refuse(
                    frame, number, _alive() & _blank(rule.item), pl.lit(f"{rule.item} is required")
                )
            elif not isinstance(rule, UniqueRule):
                frame = self._check(frame, number, rule)
        return self._outcome(job_id, pl.concat([head, frame], how="horizontal"), changing, items)

    def finish(self, outcome: FrameOutcome) -> None:
        """The unique rules on a page's kept rows, in key order (as ``RuleEngine.finish``)."""
        for rule in self.engine.rules:
            if not isinstance(rule, UniqueRule):
                continue
            seen = self.engine.seen[rule.item]
            refusals: dict[str, tuple[str, str, str]] = {}
            kept = outcome.kept.select("source_key", rule.item)
            for key, value in kept.iter_rows():
                if value is None or not value.strip():
                    continue
                holder = seen.setdefault(value, key)
                if holder != key:
                    refusals[key] = (rule.id, rule.item, f"{rule.item} is the same as in record {holder}")
            outcome.refuse_kept(refusals)

    # --- rules -----------------------------------------------------------------------------------------

    def _standardize(
        self, frame: pl.DataFrame, number: int, rule: StandardizeRule | CheckRule
    ) -> pl.DataFrame:
        """Each distinct value asked of the memo once (decided on columns first, as the row engine does);
        the answers joined back; refusals, rewrites and clears where the row is still alive."""
        item, memo = rule.item, self.engine.memos[rule.id]
        asked = _alive() & ~_blank(item)
        distinct = frame.select(pl.col(item).filter(asked).unique()).to_series().to_list()
        if rule.id in self.engine.on_columns:
            memo.decide_on_columns(distinct)
        canonical: list[str | None] = []
        reasons: list[str | None] = []
        for value in distinct:
            answer = memo.cache.get(value)
            if answer is None:
                answer = memo.compute(value)
            if isinstance(answer, str):
                canonical.append(answer)
                reasons.append(None)
            else:
                canonical.append(None)
                reasons.append(answer.reason)
        answers = pl.DataFrame(
            {item: distinct, "_canonical": canonical, "_why": reasons},
            schema={item: pl.String, "_canonical": pl.String, "_why": pl.String},
        )
        answered = frame.select(item).join(answers, on=item, how="left", maintain_order="left")
        frame = frame.with_columns(answered.get_column("_canonical"), answered.get_column("_why"))
        refused = asked & pl.col("_why").is_not_null()
        clear = rule.on_fail == "clear"
        if not clear:
            frame = _refuse(frame, number, refused, pl.col("_why"))
        if isinstance(rule, StandardizeRule):
            rewritten = asked & pl.col("_why").is_null() & (pl.col("_canonical") != pl.col(item))
        else:
            rewritten = pl.lit(False)
        cleared = refused if clear else pl.lit(False)
        changed = rewritten | cleared
        return frame.with_columns(
            pl.when(changed).then(pl.col(item)).otherwise(None).alias(f"_from{number}"),
            pl.when(cleared).then(pl.col("_why")).otherwise(None).alias(f"_cleared{number}"),
            pl.when(rewritten)
            .then(pl.col("_canonical"))
            .when(cleared)
            .then(None)
            .otherwise(pl.col(item))
            .alias(item),
        ).drop("_canonical", "_why")

    def _check(
        self, frame: pl.DataFrame, number: int, rule: RangeRule | EnumRule | CrossRule
    ) -> pl.DataFrame:
        """A check's reason worked out once per distinct value (or value and ID number) asked."""
        asked = _alive() & ~_blank(rule.item)
        if isinstance(rule, CrossRule):
            frame = _cross_objections(frame, rule, asked)
        else:
            distinct = frame.select(pl.col(rule.item).filter(asked).unique()).to_series().to_list()
            objection = [_objection(rule, value) for value in distinct]
            frame = frame.with_columns(
                _objection=pl.when(asked).then(
                    pl.col(rule.item).replace_strict(
                        distinct, objection, default=None, return_dtype=pl.String
                    )
                )
            )
        frame = _refuse(frame, number, pl.col("_objection").is_not_null(), pl.col("_objection"))
        return frame.drop("_objection")

    # --- the outcome -----------------------------------------------------------------------------------

    def _outcome(
        self,
        job_id: int,
        frame: pl.DataFrame,
        changing: list[tuple[int, StandardizeRule | CheckRule]],
        items: list[str],
    ) -> FrameOutcome:
        outcome = FrameOutcome(job_id, frame.head(0), raw_rows=frame.height)
        refused = frame.filter(pl.col("_refused_by").is_not_null())
        rules = self.engine.rules
        for key, batch, raw, by, reason in refused.select(
            "source_key", "batch_id", "raw", "_refused_by", "_reason"
        ).iter_rows():
            rule: RuleSpec = rules[by]
            outcome.refused.append(
                Refusal(RawRow(job_id, key, batch, from_json(raw)), rule.id, rule.item, reason)
            )
        kept = frame.filter(pl.col("_refused_by").is_null())
        # each item's change made once, as a column; everything after reads the columns
        made = _changes(changing)
        kept = kept.with_columns(made[item].alias(f"_change:{item}") for item in made)
        changes = {item: pl.col(f"_change:{item}") for item in made}
        kept = kept.with_columns(
            changes=_changes_json(changes),
            _changed=pl.sum_horizontal(change.is_not_null() for change in changes.values())
            if changes
            else pl.lit(0),
        )
        outcome.changed_values = int(kept.get_column("_changed").sum())
        kept = _patched(kept, changes)
        kept = self._respell(kept, list(changes))
        outcome.kept = kept.select("source_key", "batch_id", "raw", "data", "changes", *items)
        return outcome

    def _respell(self, kept: pl.DataFrame, items: list[str]) -> pl.DataFrame:
        """Kept rows whose changed items the raw text spells otherwise than ``as_json`` would (an escaped
        key): their clean data made by Python, the raw data with the new values."""
        odd = kept.with_row_index("_i").filter(pl.col("data").is_null() & pl.col("changes").is_not_null())
        if not odd.height:
            return kept.with_columns(data=pl.coalesce("data", "raw"))
        fixed: list[str | None] = [None] * kept.height
        changed = {item: odd.get_column(item).to_list() for item in items}
        for n, (i, raw, change) in enumerate(odd.select("_i", "raw", "changes").iter_rows()):
            values = from_json(raw)
            for item in from_json(change):
                values[item] = changed[item][n]
            fixed[i] = as_json(values)
        return kept.with_columns(data=pl.coalesce(pl.Series(fixed, dtype=pl.String), "data", "raw"))


def _changes(changing: list[tuple[int, StandardizeRule | CheckRule]]) -> dict[str, pl.Expr]:
    """item -> its change as JSON (``"item":{"from":…,"rule":…}``), null where no rule changed it: the
    last rule that changed it speaks, as in the row engine's ``changes[item] = …``."""
    by_item: dict[str, list[tuple[int, StandardizeRule | CheckRule]]] = {}
    for number, rule in changing:
        by_item.setdefault(rule.item, []).append((number, rule))
    changes: dict[str, pl.Expr] = {}
    for item, rules in by_item.items():
        change: Any = None
        for number, rule in rules:  # later rules first in the when-chain
            was, reason = pl.col(f"_from{number}"), pl.col(f"_cleared{number}")
            said = pl.concat_str(
                pl.lit(f'{_json(item)}:{{"from":'),
                _json_text(was),
                pl.lit(f',"rule":{_json(rule.id)}'),
                pl.when(reason.is_not_null())
                .then(pl.concat_str(pl.lit(',"reason":'), _json_text(reason)))
                .otherwise(pl.lit("")),
                pl.lit("}"),
            )
            change = pl.when(was.is_not_null()).then(said).otherwise(change if change is not None else None)
        changes[item] = change
    return changes


def _changes_json(changes: dict[str, pl.Expr]) -> pl.Expr:
    if not changes:
        return pl.lit(None, pl.String)
    listed = pl.concat_str(list(changes.values()), separator=",", ignore_nulls=True)
    return pl.when(pl.any_horizontal(c.is_not_null() for c in changes.values())).then(
        pl.concat_str(pl.lit("{"), listed, pl.lit("}"))
    )


def _patched(kept: pl.DataFrame, changes: dict[str, pl.Expr]) -> pl.DataFrame:
    """The clean data of each changed row: its raw text with each changed item's value replaced where
    the text spells the key as ``as_json`` would; null where it does not (``_respell``) and for rows
    nothing changed (their raw text is their clean data). An item at a time, each made once. (A key is
    in a raw row once: the raw zone is written from mappings.)"""
    kept = kept.with_columns(data=pl.col("raw"), _unsure=pl.lit(False))
    for item, change in changes.items():
        pair = f'"{_literal(_json(item)[1:-1])}"\\s*:\\s*(?:{_TEXT}|null)'
        value = pl.concat_str(
            pl.lit(_json(item).replace("$", "$$") + ":"),
            _json_text(pl.col(item)).str.replace_all("$", "$$", literal=True),
        )
        changed = change.is_not_null()
        patched = pl.col("data").str.replace(pair, value)
        # a change that left the text as it was: the key is spelled otherwise (or the rules put the
        # value back as it came, which ``_respell`` makes right too)
        kept = kept.with_columns(
            data=pl.when(changed).then(patched).otherwise(pl.col("data")),
            _unsure=pl.col("_unsure") | (changed & (patched == pl.col("data"))),
        )
    return kept.with_columns(
        data=pl.when(pl.col("_unsure") | pl.col("changes").is_null()).then(None).otherwise(pl.col("data"))
    )


def _json(text: str) -> str:
    return as_json(text) or "null"


def _json_text(column: pl.Expr) -> pl.Expr:
    """A text column as JSON values (quoted and escaped; null as ``null``)."""
    wrapped = pl.struct(column.alias("v")).struct.json_encode()  # {"v":…}
    return wrapped.str.slice(5, wrapped.str.len_chars() - 6)


def _literal(text: str) -> str:
    """``text`` as a regular expression matching just it (the regex crate's meta characters escaped)."""
    return "".join("\\" + c if c in "\\.+*?()|[]{}^$#&-~" else c for c in text)


def _plain(raw: pl.Series) -> bool:
    """Whether every row is a flat object of text or null values with no escaped surrogate."""
    return bool(raw.str.contains(FLAT_TEXT_OBJECT).all()) and not raw.str.contains(ESCAPED_SURROGATE).any()


def _alive() -> pl.Expr:
    return pl.col("_refused_by").is_null()


def _blank(item: str) -> pl.Expr:
    return pl.col(item).is_null() | (pl.col(item).str.strip_chars(WHITESPACE) == "")


def _refuse(frame: pl.DataFrame, number: int, where: pl.Expr, reason: pl.Expr) -> pl.DataFrame:
    """The rule refuses the rows ``where`` holds that no earlier rule refused."""
    now = _alive() & where
    return frame.with_columns(
        _refused_by=pl.when(now).then(pl.lit(number, pl.Int32)).otherwise(pl.col("_refused_by")),
        _reason=pl.when(now).then(reason).otherwise(pl.col("_reason")),
    )


def _cross_objections(frame: pl.DataFrame, rule: CrossRule, asked: pl.Expr) -> pl.DataFrame:
    """``rules.disagreement`` on columns for ID numbers whose 17th character is an ASCII digit (what the
    check reads of the number is then plain slicing); any other 18-character number by the function."""
    number, value = pl.col(rule.id_item), pl.col(rule.item)
    eligible = asked & ~_blank(rule.id_item) & (number.str.len_chars() == 18)
    plain = number.str.slice(16, 1).str.contains(r"^[0-9]$")
    if rule.check == "birth_date_matches_id":
        expected = pl.concat_str(
            number.str.slice(6, 4), number.str.slice(10, 2), number.str.slice(12, 2), separator="-"
        )
    else:
        expected = (
            pl.when(number.str.slice(16, 1).cast(pl.Int32, strict=False) % 2 == 1)
            .then(pl.lit("1"))
            .otherwise(pl.lit("2"))
        )
    said = pl.concat_str(
        pl.lit(f"{rule.item} "),
        value.str.slice(0, 20),
        pl.lit(f" does not match {rule.id_item} ("),
        expected,
        pl.lit(")"),
    )
    frame = frame.with_columns(
        _objection=pl.when(eligible & plain & (value != expected)).then(said).otherwise(None),
    )
    odd = frame.filter(eligible & ~plain).select(rule.item, rule.id_item).unique()
    if odd.height:  # e.g. a full-width digit, which Python's int() reads and Polars does not
        found = [(v, n, disagreement(rule, v, n)) for v, n in odd.iter_rows()]
        objections = pl.DataFrame(
            [row for row in found if row[2] is not None],
            schema={rule.item: pl.String, rule.id_item: pl.String, "_odd": pl.String},
            orient="row",
        )
        frame = frame.join(objections, on=[rule.item, rule.id_item], how="left", maintain_order="left")
        frame = frame.with_columns(
            _objection=pl.when(eligible & ~plain).then(pl.col("_odd")).otherwise(pl.col("_objection"))
        ).drop("_odd")
    return frame


def _objection(rule: RangeRule | EnumRule, value: str) -> str | None:
    if isinstance(rule, RangeRule):
        return range_refusal(rule, value)
    if value in rule.values:
        return None
    return f"{rule.item} {value[:40]!r} is not one of the allowed values"


# --- a page either way ---------------------------------------------------------------------------------

PageOutcome = Outcome | FrameOutcome


def apply_page(
    rules: FrameRules, job_id: int, page: RawPage, *, extra_items: Sequence[str] = ()
) -> PageOutcome:
    """A page through every rule but the unique ones: as a frame where it can be, else row by row."""
    outcome = rules.apply_rows(job_id, page, extra_items)
    if outcome is not None:
        return outcome
    by_rows = rules.engine.apply_rows(
        [RawRow(job_id, key, batch, from_json(raw)) for key, batch, raw in page]
    )
    by_rows.raw_rows = len(page)
    return by_rows


def finish_page(rules: FrameRules, outcome: PageOutcome) -> None:
    """The unique rules, in key order across the pass's pages."""
    if isinstance(outcome, FrameOutcome):
        rules.finish(outcome)
    else:
        rules.engine.finish(outcome)


def kept_count(outcome: PageOutcome) -> int:
    return outcome.kept.height if isinstance(outcome, FrameOutcome) else len(outcome.kept)


def kept_data(outcome: PageOutcome) -> dict[str, dict[str, Any]]:
    """source key -> clean data of each kept row (for the outbox, which sends each row's change)."""
    if isinstance(outcome, FrameOutcome):
        return {key: from_json(data) for key, data in outcome.kept.select("source_key", "data").iter_rows()}
    return {kept.row.source_key: kept.data for kept in outcome.kept}


def kept_values(outcome: PageOutcome, items: Sequence[str]) -> list[tuple[str, dict[str, Any]]]:
    """(source key, {item: value}) of each kept row, in key order (what the unique rules look at)."""
    if isinstance(outcome, FrameOutcome):
        return outcome.kept_values(items)
    return [(kept.row.source_key, {item: kept.data.get(item) for item in items}) for kept in outcome.kept]


def refuse_kept(outcome: PageOutcome, refusals: dict[str, tuple[str, str, str]]) -> None:
    """Kept rows refused after all (unique rules decided elsewhere): source key -> (rule, item, reason)."""
    if isinstance(outcome, FrameOutcome):
        outcome.refuse_kept(refusals)
        return
    still = []
    for kept in outcome.kept:
        refusal = refusals.get(kept.row.source_key)
        if refusal is None:
            still.append(kept)
            continue
        rule_id, item, reason = refusal
        outcome.refused.append(Refusal(kept.row, rule_id, item, reason))
        outcome.changed_values -= len(kept.changes or {})
    outcome.kept = still


def clean_rows(
    outcome: PageOutcome, job_id: int, resource_id: int, pass_id: int, rule_version: int | None
) -> list[tuple[Any, ...]]:
    """The clean zone's rows of a page: (job, source key, resource, pass, batch, rule version, data,
    changes), JSON as text."""
    if isinstance(outcome, FrameOutcome):
        kept = outcome.kept.select("source_key", "batch_id", "data", "changes")
        return [
            (job_id, key, resource_id, pass_id, batch, rule_version, data, changes)
            for key, batch, data, changes in kept.iter_rows()
        ]
    return [
        (
            job_id,
            kept.row.source_key,
            resource_id,
            pass_id,
            kept.row.batch_id,
            rule_version,
            as_json(kept.data),
            as_json(kept.changes),
        )
        for kept in outcome.kept
    ]


def page_claims(
    spec: SourceSpec, outcome: PageOutcome, moment: datetime, stats: FusionStats, trusted: bool
) -> list[tuple[Any, ...]]:
    """A base source's claims from a page's kept rows (as ``fusion.claims_of`` makes them)."""
    if not isinstance(outcome, FrameOutcome):
        return claim_rows(spec, outcome.kept, moment, stats, trusted)
    if set(spec.constants) & set(spec.attributes):  # a constant in an attribute's place: Python's way
        return _claims_in_python(spec, outcome, moment, stats, trusted)
    said = outcome.kept.select(
        _claim_key(spec, outcome.kept, trusted).alias("_key"),
        "source_key",
        "batch_id",
        _said(spec).alias("_said"),
        _needs_escape(list(spec.attributes.values())).alias("_escaped"),
        *dict.fromkeys(spec.attributes.values()),
    )
    stats.unlinked += said.get_column("_key").null_count()
    latest = (  # a source's claim on a key is its last row in key order
        said.filter(pl.col("_key").is_not_null())
        .unique("_key", keep="last", maintain_order=True)
        .sort("_key")
    )
    texts = latest.get_column("_said").to_list()
    if latest.get_column("_escaped").any():
        _escape_in_python(spec, latest, texts)
    keys = latest.get_column("_key").to_list()
    batches = latest.get_column("batch_id").to_list()
    base, job_id = spec.base.value, outcome.job_id
    claims = [
        (base, key, spec.id, job_id, source_key, text, batch, moment)
        for key, source_key, text, batch in zip(
            keys, latest.get_column("source_key").to_list(), texts, batches, strict=True
        )
    ]
    stats.claims += len(claims)
    stats.claimed(spec.base, claims)
    remembered = (  # text values only, written here: orjson reads them as the stdlib would
        {
            key: ClaimRow(spec.id, orjson.loads(text), batch, moment, text)
            for key, text, batch in zip(keys, texts, batches, strict=True)
        }
        if stats.remembering
        else {}
    )
    stats.remember(spec, remembered)
    return claims


def _claim_key(spec: SourceSpec, kept: pl.DataFrame, trusted: bool) -> pl.Expr:
    """The base key each row claims, or null (no key, or one the key's standardizer refuses)."""
    given = pl.when(~_blank(spec.key_item)).then(pl.col(spec.key_item))
    if trusted:  # the rules already wrote it in the key's canonical form
        return given
    standard = KEY_STANDARD[spec.base]
    canonical: dict[str, str | None] = {}
    for value in kept.select(given.drop_nulls().unique()).to_series().to_list():
        try:
            canonical[value] = standard(value)
        except Rejected:
            canonical[value] = None
    return given.replace_strict(canonical, default=None, return_dtype=pl.String)


def _said(spec: SourceSpec) -> pl.Expr:
    """What a row says as the JSON object ``as_json`` writes: its attributes with a value, in the
    source's order, then the source's constants. (Values that JSON escapes are redone in Python.)"""
    fragments = [
        pl.when(~_blank(item)).then(pl.lit(f'{as_json(attribute)}:"') + pl.col(item) + pl.lit('"'))
        for attribute, item in spec.attributes.items()
    ]
    constants = [pl.lit(f"{as_json(name)}:{as_json(value)}") for name, value in spec.constants.items()]
    if not fragments and not constants:
        return pl.lit("{}")
    return (
        pl.lit("{") + pl.concat_str([*fragments, *constants], separator=",", ignore_nulls=True) + pl.lit("}")
    )


# What JSON writes escaped: a quote, a backslash, a control character below U+0020.
JSON_ESCAPED = r'["\\\x00-\x1f]'


def _needs_escape(items: list[str]) -> pl.Expr:
    if not items:
        return pl.lit(False)
    return pl.any_horizontal([pl.col(item).str.contains(JSON_ESCAPED).fill_null(False) for item in items])


def _escape_in_python(spec: SourceSpec, latest: pl.DataFrame, texts: list[Any]) -> None:
    """The claims whose values JSON escapes, written by ``as_json`` (in place in ``texts``)."""
    escaped = latest.get_column("_escaped").to_list()
    columns = {item: latest.get_column(item).to_list() for item in dict.fromkeys(spec.attributes.values())}
    for row, needed in enumerate(escaped):
        if needed:
            values = {
                attribute: columns[item][row]
                for attribute, item in spec.attributes.items()
                if not missing(columns[item][row])
            }
            values.update(spec.constants)
            texts[row] = as_json(values)


def _claims_in_python(
    spec: SourceSpec, outcome: FrameOutcome, moment: datetime, stats: FusionStats, trusted: bool
) -> list[tuple[Any, ...]]:
    kept = outcome.kept
    items = list(spec.attributes.values())
    keys = kept.get_column(spec.key_item).to_list()
    source_keys = kept.get_column("source_key").to_list()
    batches = kept.get_column("batch_id").to_list()
    values = [kept.get_column(item).to_list() for item in items]
    job_id = outcome.job_id
    said = (
        (key, job_id, source_key, batch, list(row))
        for key, source_key, batch, *row in zip(keys, source_keys, batches, *values, strict=True)
    )
    return claims_of(spec, said, moment, stats, trusted)
